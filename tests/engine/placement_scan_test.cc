// plan_add finds its candidates once per plan and keeps them in an index
// (engine/placement.cc, issue 14 fifth pass). This test holds it to the plain
// scan it replaced, kept here as the reference: every round rebuilds the
// candidate list over all eligible nodes (holding, anti-affinity, capacity
// with the plan's own usage, the least-live zone), and the strategy scans
// that list. Random requests, both strategies: the same nodes in the same
// order, the same cursor, the same blocker.
#include <catch2/catch.hpp>

#include <algorithm>
#include <optional>
#include <random>
#include <string>
#include <utility>

#include "engine/placement.h"
#include "engine/resources.h"

using namespace aether::engine;
using namespace aether::engine::placement;

namespace {

const NodeInfo& info_of(const std::map<NodeId, NodeInfo>& nodes, const NodeId& node) {
  static const NodeInfo kDefault;
  auto it = nodes.find(node);
  return it == nodes.end() ? kDefault : it->second;
}

struct Working {
  std::set<NodeId> holding;
  std::size_t cursor = 0;
};

NodeId scan_round_robin(const std::vector<NodeId>& candidates, const AddRequest& request, Working& working) {
  for (const auto& node : candidates) {
    if (!request.busy.count(node)) return node;
  }
  const std::size_t n = request.eligible.size();
  const std::size_t start = working.cursor % n;
  for (std::size_t step = 0; step < n; ++step) {
    const std::size_t index = (start + step) % n;
    if (!std::binary_search(candidates.begin(), candidates.end(), request.eligible[index])) continue;
    working.cursor = index + 1;
    return request.eligible[index];
  }
  FAIL("a candidate that is no eligible node");
  return candidates.front();
}

NodeId scan_resource_aware(const std::vector<NodeId>& candidates, const AddRequest& request) {
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

// The plain scan (plan_add as it was before the index).
AddPlan scan_plan(const AddRequest& request, bool resource_aware) {
  AddPlan plan;
  Working working{request.holding, request.cursor};
  std::map<NodeId, Resources> used;
  for (const auto& [node, info] : request.nodes) used[node] = info.used;
  std::map<std::string, int> zone_live;
  for (const auto& node : request.live) ++zone_live[info_of(request.nodes, node).attributes.zone];
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
        const auto zone = info_of(request.nodes, node).attributes.zone;
        const std::pair<int, std::string> key{zone_live[zone], zone};
        if (!best || key < *best) best = key;
      }
      std::erase_if(candidates, [&](const NodeId& node) {
        return info_of(request.nodes, node).attributes.zone != best->second;
      });
    }
    const NodeId chosen = resource_aware ? scan_resource_aware(candidates, request)
                                         : scan_round_robin(candidates, request, working);
    plan.nodes.push_back(chosen);
    working.holding.insert(chosen);
    used[chosen].cpu += constraints.demand.cpu;
    used[chosen].memory += constraints.demand.memory;
    ++zone_live[info_of(request.nodes, chosen).attributes.zone];
  }
  plan.cursor = working.cursor;
  return plan;
}

// A random request over up to `most` nodes named so that string order is not
// numeric order ("n10" < "n2"); sets also name nodes that are not eligible.
AddRequest random_request(std::mt19937_64& rng, int most) {
  auto below = [&](int n) { return static_cast<int>(rng() % static_cast<std::uint64_t>(n)); };
  auto chance = [&](int percent) { return below(100) < percent; };
  const int universe = 1 + below(most);
  std::vector<NodeId> names;
  for (int i = 0; i < universe; ++i) names.push_back("n" + std::to_string(i));
  std::sort(names.begin(), names.end());
  const int p_eligible = 30 + below(71);
  const int p_busy = below(101);
  const int p_holding = below(60);
  const int p_forbidden = below(40);
  const int p_live = below(60);
  const int p_limited = below(101);
  const int zones = 1 + below(4);
  AddRequest request;
  for (const auto& node : names) {
    if (chance(p_eligible)) request.eligible.push_back(node);
    if (chance(p_busy)) request.busy.insert(node);
    if (chance(p_holding)) request.holding.insert(node);
    if (chance(p_forbidden)) request.constraints.forbidden.insert(node);
    if (chance(p_live)) request.live.insert(node);
    if (chance(85)) {
      NodeInfo info;
      const int zone = below(zones + 1);
      info.attributes.zone = zone == zones ? std::string(kDefaultZone) : "z" + std::to_string(zone);
      if (chance(p_limited)) info.attributes.capacity.cpu = 1000 * below(5);
      if (chance(p_limited / 2)) info.attributes.capacity.memory = 1024 * below(5);
      info.used = Resources{500 * below(6), 512 * below(6)};
      request.nodes[node] = info;
    }
  }
  request.count = below(universe + 3);
  request.cursor = static_cast<std::size_t>(below(3 * universe + 1));
  request.constraints.demand = Resources{chance(70) ? 500 * below(3) : 0, chance(40) ? 512 * below(3) : 0};
  request.constraints.spread_zone = chance(50);
  request.constraints.capacity = chance(85);
  return request;
}

}  // namespace

TEST_CASE("placement: the candidate index chooses exactly as the plain scan (random requests)") {
  std::mt19937_64 rng(20261203);
  RoundRobin round_robin;
  ResourceAware resource_aware;
  int placed = 0;
  std::set<Blocker> blockers;
  int rounds_with_cursor = 0;
  for (int i = 0; i < 4000; ++i) {
    const auto request = random_request(rng, i % 10 == 0 ? 150 : 12);
    for (const bool by_load : {false, true}) {
      const placement::AllocationStrategy& strategy =
          by_load ? static_cast<const placement::AllocationStrategy&>(resource_aware) : round_robin;
      const auto expected = scan_plan(request, by_load);
      const auto actual = strategy.plan_add(request);
      INFO("case " << i << " " << strategy.name());
      REQUIRE(actual.nodes == expected.nodes);
      REQUIRE(actual.cursor == expected.cursor);
      REQUIRE(actual.blocked == expected.blocked);
      placed += static_cast<int>(actual.nodes.size());
      blockers.insert(actual.blocked);
      rounds_with_cursor += actual.cursor != request.cursor ? 1 : 0;
    }
  }
  // The inputs reach every path: placements, each blocker, cursor moves.
  CHECK(placed > 4000);
  CHECK(blockers.size() == 4);
  CHECK(rounds_with_cursor > 400);
}
