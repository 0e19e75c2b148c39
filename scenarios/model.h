// A scenario file as data (product.md, "Scenario files"). The loader builds it
// from JSON after strict validation; the writer turns it back into JSON; the
// runner (properties/) plays it. Rates are parts per million; durations are
// nanoseconds. Every step keeps its JSON path ("steps[3]") so that errors found
// while running (an invalid target at that instant) can name it.
#pragma once

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

struct ClusterSpec {
  std::vector<NodeId> nodes;  // initial configured nodes, in file order
  Nanos failure_detection = engine::seconds(1);
  NetworkSettings network;
  KvOrder kv_order = KvOrder::Seeded;
  SlicePhaseDurations slices;
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
};
struct RemoveBlueprintStep {
  std::string id;
  std::string client = "default";
};
struct ScaleStep {
  std::string base;  // "group:artifact"
  int instances = 0;
  std::string client = "default";
};
struct KvPutStep {
  std::string key;
  std::string value;  // raw bytes written as-is (malformed values allowed)
  std::string client = "default";
};
struct KvRemoveStep {
  std::string key;
  std::string client = "default";
};

// Node faults.
struct CrashStep { Target target; };
struct RestartStep { Target target; };
struct PauseStep { Target target; };
struct ResumeStep { Target target; };
struct AddNodeStep { std::optional<NodeId> id; };
struct RemoveNodeStep { Target target; };

// Network.
struct PartitionStep { std::vector<std::vector<Target>> groups; };
struct IsolateStep { Target target; };
struct LinkStep {
  Target from;
  Target to;
  std::uint32_t loss_ppm = 0;
  Nanos delay = 0;
};
struct HealStep { std::optional<Target> node; };  // nullopt: heal everything
struct NetworkStep {
  std::optional<DurationRange> latency;
  std::optional<std::uint32_t> drop_ppm;
  std::optional<std::uint32_t> duplicate_ppm;
};

// Slices.
enum class FailurePhase : std::uint8_t { Load, Activate, Any };
struct SliceFailuresStep {
  std::string artifact;  // an artifact, or "*" for all
  FailurePhase phase = FailurePhase::Any;
  std::uint32_t transient_ppm = 0;
  std::uint32_t fatal_ppm = 0;
};

// Expectations (simulation.md §5 gives the exact meanings).
struct ExpectConverged {};
struct ExpectLeader { NodeId node; };
struct InstanceCount {
  std::optional<int> total;   // live entries
  std::optional<int> active;  // counted instances
};
struct ExpectInstances { std::map<std::string, InstanceCount> by_artifact; };
struct ExpectAvailable {
  std::map<std::string, int> min_active;  // artifact -> minimum counted instances
  Nanos hold_for = 0;                     // "for"
};
struct ExpectNoViolations {};
struct ExpectViolates { std::string invariant; };
struct ExpectStep {
  std::variant<ExpectConverged, ExpectLeader, ExpectInstances, ExpectAvailable, ExpectNoViolations,
               ExpectViolates>
      what;
  std::optional<Nanos> within;
};

using StepAction =
    std::variant<BlueprintStep, RemoveBlueprintStep, ScaleStep, KvPutStep, KvRemoveStep, CrashStep, RestartStep,
                 PauseStep, ResumeStep, AddNodeStep, RemoveNodeStep, PartitionStep, IsolateStep, LinkStep,
                 HealStep, NetworkStep, SliceFailuresStep, ExpectStep>;

struct Step {
  Nanos at = 0;
  StepAction action;
  std::string path;  // JSON path in the file, e.g. "steps[3]"
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
};

}  // namespace aether::scenarios
