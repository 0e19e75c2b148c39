#include "engine/placement.h"

namespace aether::engine::placement {

AddPlan RoundRobin::plan_add(const AddRequest& request) const {
  AddPlan plan;
  plan.cursor = request.cursor;
  std::set<NodeId> holding = request.holding;
  for (const auto& node : request.eligible) {
    if (static_cast<int>(plan.nodes.size()) == request.count) break;
    if (request.busy.count(node) || holding.count(node)) continue;
    plan.nodes.push_back(node);
    holding.insert(node);
  }
  // One pass over the sorted eligible nodes from the cursor; the cursor moves
  // past each node chosen (it is not part of the index while the pass runs).
  const std::size_t n = request.eligible.size();
  const std::size_t start = n == 0 ? 0 : request.cursor % n;
  for (std::size_t step = 0; step < n && static_cast<int>(plan.nodes.size()) < request.count; ++step) {
    const std::size_t index = (start + step) % n;
    const auto& node = request.eligible[index];
    if (holding.count(node)) continue;
    plan.nodes.push_back(node);
    holding.insert(node);
    plan.cursor = index + 1;
  }
  return plan;
}

std::vector<NodeId> RoundRobin::plan_remove(const RemoveRequest& request) const {
  std::vector<NodeId> inactive;
  std::vector<NodeId> active;
  for (const auto& entry : request.live) (entry.active ? active : inactive).push_back(entry.node);
  std::vector<NodeId> victims(inactive.rbegin(), inactive.rend());
  victims.insert(victims.end(), active.rbegin(), active.rend());
  if (request.count <= 0) return {};
  if (static_cast<int>(victims.size()) > request.count)
    victims.resize(static_cast<std::size_t>(request.count));
  return victims;
}

std::unique_ptr<AllocationStrategy> make_strategy(engine::AllocationStrategy kind) {
  switch (kind) {
    case engine::AllocationStrategy::RoundRobin:
      return std::make_unique<RoundRobin>();
  }
  return std::make_unique<RoundRobin>();
}

}  // namespace aether::engine::placement
