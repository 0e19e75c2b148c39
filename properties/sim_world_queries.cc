#include "properties/sim_world_queries.h"

namespace aether::properties {

std::vector<NodeId> SimWorldQueries::configured_nodes() const {
  return cluster_.configured_nodes();
}

bool SimWorldQueries::is_up(const NodeId& node) const {
  return cluster_.is_up(node);
}

bool SimWorldQueries::is_paused(const NodeId& node) const {
  return cluster_.is_paused(node);
}

const std::vector<NodeId>& SimWorldQueries::view(const NodeId& node) const {
  return cluster_.view(node);
}

const WorldQueries::Holdings* SimWorldQueries::slice_holdings_view(const NodeId& node) const {
  return cluster_.is_up(node) ? cluster_.slice_holdings_view(node) : nullptr;
}

std::optional<NodeId> SimWorldQueries::known_leader(const NodeId& node) const {
  const auto* runtime = cluster_.runtime(node);
  return runtime == nullptr ? std::nullopt : runtime->known_leader();
}

engine::NodeAttributes SimWorldQueries::attributes(const NodeId& node) const {
  return cluster_.attributes_of(node);
}

bool SimWorldQueries::cdm_active(const NodeId& node) const {
  const auto* runtime = cluster_.runtime(node);
  return runtime != nullptr && runtime->cdm_active();
}

}  // namespace aether::properties
