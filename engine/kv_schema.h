// The deployment manager's KV keys and value codecs (engine-semantics.md §2):
// `blueprints/{id}`, `slice-target/{base}`, `slices/{node}/{artifact}`,
// `node-lifecycle/{node}`, `leader`. Values are JSON except node-lifecycle and
// leader, which are plain text (a lifecycle name; a NodeId).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "engine/lifecycle.h"
#include "engine/topology.h"

namespace aether::engine {

inline constexpr std::string_view kBlueprintPrefix = "blueprints/";
inline constexpr std::string_view kSliceTargetPrefix = "slice-target/";
inline constexpr std::string_view kSlicePrefix = "slices/";
inline constexpr std::string_view kNodeLifecyclePrefix = "node-lifecycle/";
inline constexpr std::string_view kLeaderKey = "leader";
inline constexpr std::string_view kVersionRoutingPrefix = "version-routing/";

std::string blueprint_key(std::string_view id);
std::string slice_target_key(std::string_view base);
std::string slice_key(std::string_view node, std::string_view artifact);
std::string slice_node_prefix(std::string_view node);  // "slices/{node}/"
std::string node_lifecycle_key(std::string_view node);
std::string version_routing_key(std::string_view base);

// The suffix after `prefix` if `key` starts with it.
std::optional<std::string> key_suffix(std::string_view key, std::string_view prefix);

struct SliceKey {
  NodeId node;
  std::string artifact;  // grammar-checked artifact string
  bool operator==(const SliceKey&) const = default;
};
// nullopt unless `key` is `slices/{valid node}/{valid artifact}`.
std::optional<SliceKey> parse_slice_key(std::string_view key);

// `slice-target/{base}`: the desired count of one base, written by the CDM
// at blueprint put and by clients through `scale`.
struct SliceTarget {
  std::string version;
  int instances = 0;
  int min_instances = 0;
  std::string owner;  // blueprint id
  bool failed = false;
  bool operator==(const SliceTarget&) const = default;
};
std::optional<SliceTarget> parse_slice_target(std::string_view text, std::string* error = nullptr);
std::string encode_slice_target(const SliceTarget& target);

// `version-routing/{base}`: a rolling update in progress (engine-semantics.md
// §8.4), written by the CDM with the slice-target that changes the version.
struct VersionRouting {
  std::string from;  // version being replaced
  std::string to;    // version being rolled out
  bool operator==(const VersionRouting&) const = default;
};
std::optional<VersionRouting> parse_version_routing(std::string_view text, std::string* error = nullptr);
std::string encode_version_routing(const VersionRouting& routing);

// `slices/{node}/{artifact}`: command and observed state of one instance.
struct SliceValue {
  SliceState state = SliceState::Load;
  std::optional<std::string> failure_reason;
  bool fatal = false;
  bool operator==(const SliceValue&) const = default;
};
std::optional<SliceValue> parse_slice_value(std::string_view text, std::string* error = nullptr);
std::string encode_slice_value(const SliceValue& value);

enum class NodeLifecycle : std::uint8_t { Joining, OnDuty, Draining, Decommissioned, ShuttingDown };
const char* node_lifecycle_name(NodeLifecycle state);  // "ON_DUTY", ...
std::optional<NodeLifecycle> parse_node_lifecycle(std::string_view text);

// The `leader` value: a valid NodeId, or nullopt.
std::optional<NodeId> parse_leader_value(std::string_view text);

// Most instances of one artifact a blueprint or slice-target may ask for.
inline constexpr int kMaxInstances = 10000;

}  // namespace aether::engine
