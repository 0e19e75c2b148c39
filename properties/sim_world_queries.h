// WorldQueries answered by a running sim::SimCluster: the checks' window on
// the simulated world's ground truth during a run.
#pragma once

#include "properties/world_queries.h"
#include "sim/cluster.h"

namespace aether::properties {

class SimWorldQueries final : public WorldQueries {
 public:
  explicit SimWorldQueries(const sim::SimCluster& cluster) : cluster_(cluster) {}

  std::vector<NodeId> configured_nodes() const override;
  bool is_up(const NodeId& node) const override;
  bool is_paused(const NodeId& node) const override;
  const std::vector<NodeId>& view(const NodeId& node) const override;
  const Holdings* slice_holdings_view(const NodeId& node) const override;
  std::optional<NodeId> known_leader(const NodeId& node) const override;
  bool cdm_active(const NodeId& node) const override;
  engine::NodeAttributes attributes(const NodeId& node) const override;
  std::optional<std::uint64_t> applied_position(const NodeId& node) const override {
    if (!cluster_.is_restored(node)) return std::nullopt;
    return cluster_.applied_position(node);
  }

 private:
  const sim::SimCluster& cluster_;
};

}  // namespace aether::properties
