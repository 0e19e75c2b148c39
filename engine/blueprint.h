// Blueprints: what users ask the cluster to run (engine-semantics.md §1). A
// blueprint names slices with instance counts, availability floors and
// dependencies; parsing validates the whole grammar and orders the slices
// dependencies-first. Errors carry JSON paths relative to the blueprint object
// so that scenario validation and the engine's log say exactly where.
#pragma once

#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/artifact.h"
#include "engine/kv_schema.h"
#include "engine/topology.h"

namespace aether::engine {

// How a version change of a slice is rolled out (engine-semantics.md §8.4):
// immediate (other versions unloaded at once) or rolling (at most max_surge
// new instances beyond the desired count; ACTIVE over both versions never
// taken below desired - max_unavailable by the CDM).
struct UpdatePolicy {
  bool rolling = false;
  int max_surge = 1;
  int max_unavailable = 0;
  bool operator==(const UpdatePolicy&) const = default;
};

struct SliceSpec {
  Artifact artifact;
  int instances = 1;
  int min_available = 1;
  std::vector<Artifact> depends_on;  // sorted, each a slice of the same blueprint
  // Placement (engine-semantics.md §8.1): what one instance needs, the bases
  // it never shares a node with (sorted; not its own), and zone spread.
  Resources resources{};
  std::vector<ArtifactBase> anti_affinity{};
  bool spread_zone = false;
  UpdatePolicy update{};
  bool operator==(const SliceSpec&) const = default;
};

// engine-semantics.md §8.3: `best-effort` (the default; §4's behaviour) or
// `all-or-nothing` (a fatal failure while the put is in flight rolls it back).
enum class Atomicity { BestEffort, AllOrNothing };
const char* atomicity_name(Atomicity atomicity);  // "best-effort", "all-or-nothing"

struct Blueprint {
  std::string id;
  Atomicity atomicity = Atomicity::BestEffort;
  // Dependencies first (topological order); ties by artifact string.
  std::vector<SliceSpec> slices;

  const SliceSpec* find(const ArtifactBase& base) const;
  bool lists(const ArtifactBase& base) const { return find(base) != nullptr; }
  // The slice whose base string (groupId:artifactId) is `base`, compared in
  // place; a text that is no valid base matches none (every slice's base is
  // valid, and a valid base splits at its only ':'), so this is
  // find(*parse_artifact_base(base)) without building the base.
  const SliceSpec* find_base(std::string_view base) const;
  bool operator==(const Blueprint&) const = default;
};

struct BlueprintError {
  std::string path;  // e.g. "slices[1].depends_on[0]"; "" for the object itself
  std::string message;
};

using BlueprintParse = std::variant<Blueprint, std::vector<BlueprintError>>;

// Blueprint ids: [A-Za-z0-9][A-Za-z0-9._-]{0,127} (they appear in KV keys).
bool is_valid_blueprint_id(std::string_view id);

BlueprintParse parse_blueprint(const nlohmann::json& object);
BlueprintParse parse_blueprint_text(std::string_view text);

// Round-trips through parse_blueprint; min_available is always explicit.
nlohmann::json blueprint_to_json(const Blueprint& blueprint);

// ceil(instances / 2)
inline int default_min_available(int instances) {
  return (instances + 1) / 2;
}

}  // namespace aether::engine
