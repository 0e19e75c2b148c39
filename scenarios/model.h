// A scenario file as data (product.md, "Scenario files"). The loader builds it
// from JSON after strict validation; the writer turns it back into JSON; the
// runner (properties/) plays it. Rates are parts per million; durations are
// nanoseconds. Every step keeps its JSON path ("steps[3]") so that errors found
// while running (an invalid target at that instant) can name it.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/time.h"
#include "engine/topology.h"

namespace aether::scenarios {

using engine::Nanos;
using engine::NodeId;

// Documented limits (simulation.md §1); inputs beyond them are errors.
constexpr std::size_t kMaxNodes = 2000;
constexpr std::size_t kMaxSteps = 100000;
constexpr int kMaxInstancesPerArtifact = 10000;
constexpr std::size_t kMaxBlueprints = 1000;
constexpr Nanos kMaxRunLength = 7 * 24 * engine::hours(1);
constexpr std::uint64_t kDefaultMaxEvents = 100'000'000;

struct DurationRange {
  Nanos min = 0;
  Nanos max = 0;
  bool operator==(const DurationRange&) const = default;
};

struct NetworkSettings {
  DurationRange latency{engine::millis(1), engine::millis(5)};
  std::uint32_t drop_ppm = 0;       // < 1'000'000
  std::uint32_t duplicate_ppm = 0;  // <= 1'000'000
  bool operator==(const NetworkSettings&) const = default;
};

struct SlicePhaseDurations {
  DurationRange load{engine::millis(200), engine::seconds(2)};
  DurationRange activate{engine::millis(10), engine::millis(100)};
  DurationRange deactivate{engine::millis(10), engine::millis(50)};
  DurationRange unload{engine::millis(10), engine::millis(200)};
  bool operator==(const SlicePhaseDurations&) const = default;
};

enum class KvOrder : std::uint8_t { Seeded, Adversarial };

// Stalled rounds (simulation.md §3a): {"rate": r, "for": [DUR, DUR]}.
struct StallSpec {
  std::uint32_t rate_ppm = 0;
  DurationRange length;
  bool operator==(const StallSpec&) const = default;
};

// The largest clock_drift (simulation.md §3a), in parts per million.
constexpr std::uint32_t kMaxClockDriftPpm = 200'000;

struct ClusterSpec {
  std::vector<NodeId> nodes;  // initial configured nodes, in file order
  Nanos failure_detection = engine::seconds(1);
  NetworkSettings network;
  KvOrder kv_order = KvOrder::Seeded;
  SlicePhaseDurations slices;
  // The hostile world (simulation.md §3a); the defaults keep the §3 model.
  Nanos failure_detection_max = 0;  // above failure_detection: the range ["min", "max"]
  Nanos late_commit = 0;
  StallSpec stall;  // rate 0: off
  Nanos restore_lag = 0;
  std::uint32_t clock_drift_ppm = 0;  // <= kMaxClockDriftPpm
  // Placement (engine-semantics.md §8.1): zone -> its nodes (nodes not named
  // are in zone "default"); capacity by node id or "default" (absent:
  // unlimited).
  std::map<std::string, std::vector<NodeId>> zones{};
  std::map<std::string, engine::Capacity> capacity{};
  bool operator==(const ClusterSpec&) const = default;
  // The zone and capacity the host of `node` reports (initial nodes).
  engine::NodeAttributes attributes_of(const NodeId& node) const {
    engine::NodeAttributes out;
    for (const auto& [zone, members] : zones) {
      if (std::find(members.begin(), members.end(), node) != members.end()) out.zone = zone;
    }
    if (auto it = capacity.find(node); it != capacity.end()) {
      out.capacity = it->second;
    } else if (auto fallback = capacity.find("default"); fallback != capacity.end()) {
      out.capacity = fallback->second;
    }
    return out;
  }
  // The largest failure-detection delay (leader_timeout's default).
  Nanos failure_detection_upper() const { return std::max(failure_detection, failure_detection_max); }
};

// A node target: a node id, "leader" or "random" (resolved when the step runs).
struct Target {
  enum class Kind : std::uint8_t { Node, Leader, Random };
  Kind kind = Kind::Node;
  NodeId node;  // for Kind::Node
  bool operator==(const Target&) const = default;
};

// Client writes. `client` defaults to "default".
struct BlueprintStep {
  nlohmann::json blueprint;  // validated blueprint object; written as the value of blueprints/{id}
  std::string client = "default";
  std::optional<NodeId> via = std::nullopt;  // the node the client writes through (default: any live one)
  bool operator==(const BlueprintStep&) const = default;
};
struct RemoveBlueprintStep {
  std::string id;
  std::string client = "default";
  std::optional<NodeId> via = std::nullopt;  // the node the client writes through (default: any live one)
  bool operator==(const RemoveBlueprintStep&) const = default;
};
struct ScaleStep {
  std::string base;  // "group:artifact"
  int instances = 0;
  std::string client = "default";
  std::optional<NodeId> via = std::nullopt;  // the node the client writes through (default: any live one)
  bool operator==(const ScaleStep&) const = default;
};
struct KvPutStep {
  std::string key;
  std::string value;  // raw bytes written as-is (malformed values allowed)
  std::string client = "default";
  std::optional<NodeId> via = std::nullopt;  // the node the client writes through (default: any live one)
  bool operator==(const KvPutStep&) const = default;
};
struct KvRemoveStep {
  std::string key;
  std::string client = "default";
  std::optional<NodeId> via = std::nullopt;  // the node the client writes through (default: any live one)
  bool operator==(const KvRemoveStep&) const = default;
};

// Drain (engine-semantics.md §8.2): a client write of node-lifecycle/{node},
// DRAINING (only from ON_DUTY) or, for `undrain`, ON_DUTY again (only from
// DRAINING or DECOMMISSIONED), judged on the store at the step's instant.
struct DrainStep {
  Target target;
  bool undrain = false;
  std::string client = "default";
  std::optional<NodeId> via = std::nullopt;  // the node the client writes through (default: any live one)
  bool operator==(const DrainStep&) const = default;
};

// Node faults.
struct CrashStep {
  Target target;
  bool operator==(const CrashStep&) const = default;
};
struct RestartStep {
  Target target;
  bool operator==(const RestartStep&) const = default;
};
struct PauseStep {
  Target target;
  bool operator==(const PauseStep&) const = default;
};
struct ResumeStep {
  Target target;
  bool operator==(const ResumeStep&) const = default;
};
struct AddNodeStep {
  std::optional<NodeId> id;
  std::optional<std::string> zone{};           // absent: "default"
  std::optional<engine::Capacity> capacity{};  // absent: cluster.capacity's "default"
  bool operator==(const AddNodeStep&) const = default;
};
struct RemoveNodeStep {
  Target target;
  bool operator==(const RemoveNodeStep&) const = default;
};

// Network.
struct PartitionStep {
  std::vector<std::vector<Target>> groups;
  bool operator==(const PartitionStep&) const = default;
};
struct IsolateStep {
  Target target;
  bool operator==(const IsolateStep&) const = default;
};
struct LinkStep {
  Target from;
  Target to;
  std::uint32_t loss_ppm = 0;
  Nanos delay = 0;
  bool operator==(const LinkStep&) const = default;
};
struct HealStep {
  std::optional<Target> node;  // nullopt: heal everything
  bool operator==(const HealStep&) const = default;
};
struct NetworkStep {
  std::optional<DurationRange> latency;
  std::optional<std::uint32_t> drop_ppm;
  std::optional<std::uint32_t> duplicate_ppm;
  std::optional<StallSpec> stall = std::nullopt;
  bool operator==(const NetworkStep&) const = default;
};

// Slices.
enum class FailurePhase : std::uint8_t { Load, Activate, Any };
struct SliceFailuresStep {
  std::string artifact;  // an artifact, or "*" for all
  FailurePhase phase = FailurePhase::Any;
  std::uint32_t transient_ppm = 0;
  std::uint32_t fatal_ppm = 0;
  bool operator==(const SliceFailuresStep&) const = default;
};

// Fault points (simulation.md §3a). A node of nullopt is "*" (every node);
// a writer of "*" matches every writer.
struct LoseSubmitsStep {
  std::optional<NodeId> node;
  std::string writer = "*";  // cdm | ndm | leader-manager | "*"
  std::uint32_t rate_ppm = 0;
  bool operator==(const LoseSubmitsStep&) const = default;
};
struct ReorderQuorumEventsStep {
  std::optional<NodeId> node;
  std::uint32_t rate_ppm = 0;
  bool operator==(const ReorderQuorumEventsStep&) const = default;
};

// Expectations (simulation.md §5 gives the exact meanings).
struct ExpectConverged {
  bool operator==(const ExpectConverged&) const = default;
};
struct ExpectLeader {
  NodeId node;
  bool operator==(const ExpectLeader&) const = default;
};
struct InstanceCount {
  std::optional<int> total;   // live entries
  std::optional<int> active;  // counted instances
  bool operator==(const InstanceCount&) const = default;
};
struct ExpectInstances {
  std::map<std::string, InstanceCount> by_artifact;
  bool operator==(const ExpectInstances&) const = default;
};
struct ExpectAvailable {
  std::map<std::string, int> min_active;  // artifact -> minimum counted instances
  Nanos hold_for = 0;                     // "for"
  bool operator==(const ExpectAvailable&) const = default;
};
struct ExpectNoViolations {
  bool operator==(const ExpectNoViolations&) const = default;
};
struct ExpectViolates {
  std::string invariant;
  bool operator==(const ExpectViolates&) const = default;
};
// `at_most`: live entries (total) and counted instances (active) of each
// artifact never exceed the given bounds during [at, at + for].
struct ExpectAtMost {
  std::map<std::string, InstanceCount> by_artifact;
  Nanos hold_for = 0;  // "for"
  bool operator==(const ExpectAtMost&) const = default;
};
// `writes`: at most `max` engine batches (cdm, ndm or leader-manager writers;
// a merged batch counts once) commit during [at, at + for].
struct ExpectWrites {
  int max = 0;
  Nanos hold_for = 0;  // "for", inside the writes object
  bool operator==(const ExpectWrites&) const = default;
};
struct ExpectStep {
  std::variant<ExpectConverged, ExpectLeader, ExpectInstances, ExpectAvailable, ExpectNoViolations,
               ExpectViolates, ExpectAtMost, ExpectWrites>
      what;
  std::optional<Nanos> within;
  bool operator==(const ExpectStep&) const = default;
};

using StepAction =
    std::variant<BlueprintStep, RemoveBlueprintStep, ScaleStep, KvPutStep, KvRemoveStep, CrashStep,
                 RestartStep, PauseStep, ResumeStep, AddNodeStep, RemoveNodeStep, PartitionStep, IsolateStep,
                 LinkStep, HealStep, NetworkStep, SliceFailuresStep, ExpectStep, LoseSubmitsStep,
                 ReorderQuorumEventsStep, DrainStep>;

struct Step {
  Nanos at = 0;
  StepAction action;
  std::string path;  // JSON path in the file, e.g. "steps[3]"
  bool operator==(const Step&) const = default;
};

// A client's defaults (top-level "clients": {"name": {"via": NODE}}).
struct ClientSpec {
  std::optional<NodeId> via;  // writes without their own "via" go through this node
  bool operator==(const ClientSpec&) const = default;
};

struct Scenario {
  std::string file;  // where it was loaded from ("" if built in code)
  std::string name;
  std::string description;
  std::optional<std::uint64_t> seed;  // a file without seed uses 0
  ClusterSpec cluster;
  nlohmann::json config = nlohmann::json::object();  // validated engine configuration
  std::optional<Nanos> run_for;
  std::uint64_t max_events = kDefaultMaxEvents;
  bool check_convergence = true;
  std::vector<Step> steps;
  std::map<std::string, ClientSpec> clients;  // by client name
  bool operator==(const Scenario&) const = default;
};

}  // namespace aether::scenarios
