#include "engine/deployment_runtime.h"

#include <memory>

#include "engine/cluster_deployment_manager.h"
#include "engine/leader_manager.h"
#include "engine/node_deployment_manager.h"

namespace aether::engine {

namespace {

class DeploymentRuntime final : public NodeRuntime {
 public:
  DeploymentRuntime(const NodeServices& services, std::shared_ptr<const EngineConfig> config,
                    std::shared_ptr<BlueprintParses> parses)
      : config_(std::move(config)),
        services_(services),
        ndm_(services, *config_),
        cdm_(services, *config_, std::move(parses)),
        leader_(services, *config_, [this](const LeaderChange& change) {
          services_.events.leader_changed(change.leader, change.local_node_is_leader);
          cdm_.on_leader_change(change);
        }) {
    services.kv.add_listener(&ndm_);
    services.kv.add_listener(&cdm_);
    services.kv.add_listener(&leader_);
    services.topology.add_listener(&leader_);
    services.topology.add_listener(&cdm_);
    services.topology.add_listener(&ndm_);
  }

  std::optional<NodeId> known_leader() const override { return leader_.leader(); }
  bool cdm_active() const override { return cdm_.active(); }
  std::optional<std::uint64_t> cdm_activation_tag() const override { return cdm_.activation_tag(); }
  std::uint64_t cdm_reconciles_skipped() const override { return cdm_.reconciles_skipped(); }

 private:
  std::shared_ptr<const EngineConfig> config_;
  NodeServices services_;
  NodeDeploymentManager ndm_;
  ClusterDeploymentManager cdm_;
  LeaderManager leader_;
};

}  // namespace

NodeRuntimeFactory make_deployment_runtime_factory(EngineConfig config) {
  auto shared = std::make_shared<const EngineConfig>(std::move(config));
  // One blueprint parse per distinct value for every node the factory makes
  // (desired_state.h): the parse is a pure function of the value.
  auto parses = std::make_shared<BlueprintParses>();
  return [shared, parses](const NodeServices& services) -> std::unique_ptr<NodeRuntime> {
    return std::make_unique<DeploymentRuntime>(services, shared, parses);
  };
}

}  // namespace aether::engine
