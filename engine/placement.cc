#include "engine/placement.h"

#include <algorithm>
#include <tuple>

#include "engine/resources.h"

namespace aether::engine::placement {

namespace {

const NodeInfo& info_of(const std::map<NodeId, NodeInfo>& nodes, const NodeId& node) {
  static const NodeInfo kDefault;
  auto it = nodes.find(node);
  return it == nodes.end() ? kDefault : it->second;
}

}  // namespace

const char* blocker_name(Blocker blocker) {
  switch (blocker) {
    case Blocker::None:
      return "none";
    case Blocker::Nodes:
      return "nodes";
    case Blocker::AntiAffinity:
      return "anti-affinity";
    case Blocker::Capacity:
      return "capacity";
  }
  return "none";
}

std::string zone_of(const std::map<NodeId, NodeInfo>& nodes, const NodeId& node) {
  return info_of(nodes, node).attributes.zone;
}

AddPlan AllocationStrategy::plan_add(const AddRequest& request) const {
  AddPlan plan;
  Working working{request.holding, request.cursor};
  std::map<NodeId, Resources> used;
  for (const auto& [node, info] : request.nodes) used[node] = info.used;
  std::map<std::string, int> zone_live;
  for (const auto& node : request.live) ++zone_live[zone_of(request.nodes, node)];
  const auto& constraints = request.constraints;
  while (static_cast<int>(plan.nodes.size()) < request.count) {
    std::vector<NodeId> candidates;
    bool free_node = false;
    bool allowed_node = false;
    for (const auto& node : request.eligible) {
      if (working.holding.count(node)) continue;
      free_node = true;
      if (constraints.forbidden.count(node)) continue;
      allowed_node = true;
      if (constraints.capacity &&
          !fits(info_of(request.nodes, node).attributes.capacity, used[node], constraints.demand))
        continue;
      candidates.push_back(node);
    }
    if (candidates.empty()) {
      plan.blocked = !free_node ? Blocker::Nodes : !allowed_node ? Blocker::AntiAffinity : Blocker::Capacity;
      break;
    }
    if (constraints.spread_zone) {
      std::optional<std::pair<int, std::string>> best;
      for (const auto& node : candidates) {
        const auto zone = zone_of(request.nodes, node);
        const std::pair<int, std::string> key{zone_live[zone], zone};
        if (!best || key < *best) best = key;
      }
      std::erase_if(candidates,
                    [&](const NodeId& node) { return zone_of(request.nodes, node) != best->second; });
    }
    const NodeId chosen = pick(candidates, request, working);
    plan.nodes.push_back(chosen);
    working.holding.insert(chosen);
    used[chosen].cpu += constraints.demand.cpu;
    used[chosen].memory += constraints.demand.memory;
    ++zone_live[zone_of(request.nodes, chosen)];
  }
  plan.cursor = working.cursor;
  return plan;
}

std::vector<NodeId> AllocationStrategy::plan_remove(const RemoveRequest& request) const {
  if (request.count <= 0) return {};
  std::vector<NodeId> inactive;
  std::vector<NodeId> active;
  for (const auto& entry : request.live) (entry.active ? active : inactive).push_back(entry.node);
  std::vector<NodeId> order(inactive.rbegin(), inactive.rend());
  order.insert(order.end(), active.rbegin(), active.rend());
  if (!request.spread_zone) {
    if (static_cast<int>(order.size()) > request.count) order.resize(static_cast<std::size_t>(request.count));
    return order;
  }
  auto zone = [&](const NodeId& node) {
    auto it = request.zones.find(node);
    return it == request.zones.end() ? std::string(kDefaultZone) : it->second;
  };
  std::map<std::string, int> zone_live;
  for (const auto& node : order) ++zone_live[zone(node)];
  std::vector<NodeId> victims;
  while (static_cast<int>(victims.size()) < request.count && !order.empty()) {
    // The zone with the most live entries; ties by zone name.
    std::string fullest;
    int most = -1;
    for (const auto& [name, live] : zone_live) {
      if (live > most) std::tie(most, fullest) = std::tie(live, name);
    }
    auto it =
        std::find_if(order.begin(), order.end(), [&](const NodeId& node) { return zone(node) == fullest; });
    victims.push_back(*it);
    order.erase(it);
    --zone_live[fullest];
  }
  return victims;
}

NodeId RoundRobin::pick(const std::vector<NodeId>& candidates, const AddRequest& request,
                        Working& working) const {
  // First nodes with no entry at all, in sorted order.
  for (const auto& node : candidates) {
    if (!request.busy.count(node)) return node;
  }
  // Then by the cursor over the sorted eligible nodes; it moves past the node chosen.
  const std::size_t n = request.eligible.size();
  const std::size_t start = working.cursor % n;
  for (std::size_t step = 0; step < n; ++step) {
    const std::size_t index = (start + step) % n;
    if (!std::binary_search(candidates.begin(), candidates.end(), request.eligible[index])) continue;
    working.cursor = index + 1;
    return request.eligible[index];
  }
  return candidates.front();  // unreachable: every candidate is an eligible node
}

NodeId ResourceAware::pick(const std::vector<NodeId>& candidates, const AddRequest& request,
                           Working& working) const {
  // A node this plan chose is no candidate any more, so the request's usage is
  // current for every candidate.
  (void)working;
  const NodeId* best = nullptr;
  double best_load = 0;
  for (const auto& node : candidates) {
    const auto& info = info_of(request.nodes, node);
    const double load = load_ratio(info.attributes.capacity, info.used);
    if (best == nullptr || load < best_load) {
      best = &node;
      best_load = load;
    }
  }
  return *best;
}

std::unique_ptr<AllocationStrategy> make_strategy(engine::AllocationStrategy kind) {
  switch (kind) {
    case engine::AllocationStrategy::RoundRobin:
      return std::make_unique<RoundRobin>();
    case engine::AllocationStrategy::ResourceAware:
      return std::make_unique<ResourceAware>();
  }
  return std::make_unique<RoundRobin>();
}

}  // namespace aether::engine::placement
