// The deployment manager as a node hosts it: LeaderManager,
// ClusterDeploymentManager and NodeDeploymentManager wired over the node's
// services. KV listeners are registered NDM, CDM, LeaderManager (the order
// simulation.md §3 notifies in); topology listeners LeaderManager, CDM, NDM so
// that a quorum loss reaches the CDM as LeaderChange(none) before anything else.
#pragma once

#include "engine/config.h"
#include "engine/node_runtime.h"

namespace aether::engine {

NodeRuntimeFactory make_deployment_runtime_factory(EngineConfig config);

}  // namespace aether::engine
