// The ClusterDeploymentManager runs on every node and acts only on the one its
// LeaderManager names (engine-semantics.md §4): it turns blueprints and
// slice-targets into `slices/{node}/{artifact}` commands, watches the states
// the nodes report, and reconciles the two. Dormant, it ignores everything;
// on activation it rebuilds its whole view from the local KV replica.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "engine/config.h"
#include "engine/desired_state.h"
#include "engine/leader_manager.h"
#include "engine/node_runtime.h"

namespace aether::engine {

class ClusterDeploymentManager final : public KvListener, public TopologyListener {
 public:
  // `parses`: blueprint parses shared with other managers of the same
  // runtime factory (desired_state.h); nullptr: its own.
  ClusterDeploymentManager(const NodeServices& services, const EngineConfig& config,
                           std::shared_ptr<BlueprintParses> parses = nullptr);
  ~ClusterDeploymentManager() override;

  void on_leader_change(const LeaderChange& change);
  bool active() const { return active_ != nullptr; }
  std::optional<std::uint64_t> activation_tag() const;
  // Reconciles of the current term answered by the early-out (0 when Dormant).
  std::uint64_t reconciles_skipped() const;

  void on_kv(const KvNotification& notification) override;
  KvInterest interest() const override;
  void on_restored(std::uint64_t position) override;
  void on_topology(const TopologyEvent& event) override;
  void on_quorum(const QuorumEvent&) override {}

  class Active;  // the state of one term as leader (cluster_deployment_manager.cc)

 private:
  void deactivate();

  NodeServices services_;
  const EngineConfig& config_;
  // Decided position of each applied blueprints/* and slice-target/* value
  // (kept while Dormant too): a new leader takes a matching slice-target's
  // counts only if it is not older than its owner blueprint's value.
  std::map<std::string, std::uint64_t> positions_;
  std::shared_ptr<BlueprintParses> parses_;  // never null
  // Shared so that callbacks of a deactivated term can see it is gone.
  std::shared_ptr<Active> active_;
  // Mutation cdm-timers-survive-deactivation only: deactivated CDMs kept alive.
  std::vector<std::shared_ptr<Active>> retired_;
};

}  // namespace aether::engine
