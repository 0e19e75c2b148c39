// The seam between a node's host (a real process, or the simulator's node) and
// the deployment manager running on it. The host owns the services; the
// runtime (LeaderManager + ClusterDeploymentManager + NodeDeploymentManager)
// is created over them and destroyed before them. A crash destroys the
// runtime; a restart creates a fresh one.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "engine/assertion.h"
#include "engine/clock.h"
#include "engine/kv_client.h"
#include "engine/logger.h"
#include "engine/slice_loader.h"
#include "engine/topology.h"

namespace aether::engine {

// What the engine reports about itself as it runs: leadership, CDM activation
// and counters. Production feeds metrics; the simulator feeds the trace and
// the checks. Calls are synchronous, from inside the engine.
class EngineEvents {
 public:
  virtual ~EngineEvents() = default;
  virtual void leader_changed(const std::optional<NodeId>& leader, bool local_is_leader) = 0;
  // `leader_position`: decided position of the `leader` entry that made this
  // node leader (consensus mode); nullopt in local mode.
  virtual void cdm_activated(std::optional<std::uint64_t> leader_position) = 0;
  virtual void cdm_deactivated() = 0;
  // A named counter moved (names: docs/decisions.md, "Counters").
  virtual void count(std::string_view counter, std::int64_t delta) = 0;
};

struct NodeServices {
  NodeId self;
  Clock& clock;
  KvClient& kv;
  Topology& topology;
  SliceLoader& slices;
  Logger& logger;
  AssertionSink& assertions;
  EngineEvents& events;
};

class NodeRuntime {
 public:
  virtual ~NodeRuntime() = default;
  // The leader this node currently believes in.
  virtual std::optional<NodeId> known_leader() const = 0;
  // Whether this node's ClusterDeploymentManager is Active, and the tag of
  // its activation (see EngineEvents::cdm_activated).
  virtual bool cdm_active() const = 0;
  virtual std::optional<std::uint64_t> cdm_activation_tag() const = 0;
  // Reconciles of the current CDM term answered by the early-out (a figure
  // for tests and metrics; 0 when Dormant).
  virtual std::uint64_t cdm_reconciles_skipped() const { return 0; }
};

using NodeRuntimeFactory = std::function<std::unique_ptr<NodeRuntime>(const NodeServices&)>;

}  // namespace aether::engine
