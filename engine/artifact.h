// The names the deployment manager deals in (engine-semantics.md §1): node ids
// and artifacts `groupId:artifactId:version`, whose base `groupId:artifactId`
// identifies a slice across versions. Matchers are hand-written so that the
// grammar is the same everywhere and needs no regex engine.
#pragma once

#include <compare>
#include <optional>
#include <string>
#include <string_view>

namespace aether::engine {

// [a-z][a-z0-9-]{0,62}
bool is_valid_node_id(std::string_view text);
// [a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)+
bool is_valid_group_id(std::string_view text);
// [a-z][a-z0-9]*(-[a-z0-9]+)*
bool is_valid_artifact_id(std::string_view text);
// \d+\.\d+\.\d+(-[A-Za-z0-9.]+)?
bool is_valid_version(std::string_view text);
// groupId:artifactId:version: whether parse_artifact(text) succeeds, without
// building the Artifact (slice keys are validated per notification).
bool is_valid_artifact(std::string_view text);

struct ArtifactBase {
  std::string group_id;
  std::string artifact_id;

  std::string to_string() const { return group_id + ":" + artifact_id; }
  // Plain string order of to_string().
  std::strong_ordering operator<=>(const ArtifactBase& other) const {
    return to_string() <=> other.to_string();
  }
  bool operator==(const ArtifactBase& other) const = default;
};

struct Artifact {
  std::string group_id;
  std::string artifact_id;
  std::string version;

  ArtifactBase base() const { return {group_id, artifact_id}; }
  std::string to_string() const { return group_id + ":" + artifact_id + ":" + version; }
  // Plain string order of to_string() (the tie-break order of the spec).
  std::strong_ordering operator<=>(const Artifact& other) const { return to_string() <=> other.to_string(); }
  bool operator==(const Artifact& other) const = default;
};

// The artifact, or nullopt with `error` saying which part is wrong.
std::optional<Artifact> parse_artifact(std::string_view text, std::string* error = nullptr);
std::optional<ArtifactBase> parse_artifact_base(std::string_view text, std::string* error = nullptr);

// The base of an artifact string ("g.x:a:1.0.0" -> "g.x:a"), without validation:
// everything before the last ':'. Used on strings already validated.
std::string base_of(std::string_view artifact);

}  // namespace aether::engine
