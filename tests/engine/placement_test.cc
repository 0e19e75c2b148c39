// The round-robin allocation strategy with fake inputs (no simulator):
// engine-semantics.md §4 "Allocation".
#include <catch2/catch.hpp>

#include <algorithm>

#include "engine/placement.h"

using namespace aether::engine;
using namespace aether::engine::placement;

namespace {
using Nodes = std::vector<NodeId>;

AddRequest add(Nodes eligible, std::set<NodeId> busy, std::set<NodeId> holding, int count,
               std::size_t cursor = 0) {
  return AddRequest{std::move(eligible), std::move(busy), std::move(holding), count, cursor};
}
}  // namespace

TEST_CASE("placement: round-robin fills nodes with no entry at all first, in sorted order") {
  RoundRobin rr;
  // n1 and n3 hold other artifacts; n2 and n4 are empty.
  auto plan = rr.plan_add(add({"n1", "n2", "n3", "n4"}, {"n1", "n3"}, {}, 2, 0));
  CHECK(plan.nodes == Nodes{"n2", "n4"});
  CHECK(plan.cursor == 0);  // the cursor moves only in the second pass
}

TEST_CASE("placement: round-robin then uses the cursor over nodes without the artifact") {
  RoundRobin rr;
  auto plan = rr.plan_add(add({"n1", "n2", "n3", "n4"}, {"n1", "n2", "n3", "n4"}, {"n2"}, 2, 1));
  // From index 1 (n2, holding: skipped) to n3, n4; the cursor moves past n4.
  CHECK(plan.nodes == Nodes{"n3", "n4"});
  CHECK(plan.cursor == 4);
  // The next plan wraps around from the cursor.
  auto next = rr.plan_add(
      add({"n1", "n2", "n3", "n4"}, {"n1", "n2", "n3", "n4"}, {"n2", "n3", "n4"}, 1, plan.cursor));
  CHECK(next.nodes == Nodes{"n1"});
  CHECK(next.cursor == 1);
}

TEST_CASE("placement: round-robin never chooses a node twice or one holding the artifact") {
  RoundRobin rr;
  // An empty node chosen in the first pass is not chosen again in the second.
  auto plan = rr.plan_add(add({"n1", "n2", "n3"}, {"n1"}, {"n1"}, 5, 0));
  CHECK(plan.nodes == Nodes{"n2", "n3"});  // fewer than asked: only what fits
  auto none = rr.plan_add(add({"n1", "n2"}, {"n1", "n2"}, {"n1", "n2"}, 1, 7));
  CHECK(none.nodes.empty());
  CHECK(none.cursor == 7);
  auto empty = rr.plan_add(add({}, {}, {}, 3, 2));
  CHECK(empty.nodes.empty());
}

TEST_CASE("placement: round-robin removes non-ACTIVE entries first, last node first") {
  RoundRobin rr;
  RemoveRequest request;
  request.live = {{"n1", true}, {"n2", false}, {"n3", true}, {"n4", false}, {"n5", true}};
  request.count = 3;
  CHECK(rr.plan_remove(request) == Nodes{"n4", "n2", "n5"});
  request.count = 10;
  CHECK(rr.plan_remove(request) == Nodes{"n4", "n2", "n5", "n3", "n1"});
  request.count = 0;
  CHECK(rr.plan_remove(request).empty());
}

TEST_CASE("placement: the configured strategy is round-robin or resource-aware") {
  auto strategy = make_strategy(aether::engine::AllocationStrategy::RoundRobin);
  CHECK(std::string(strategy->name()) == "round-robin");
  CHECK(std::string(make_strategy(aether::engine::AllocationStrategy::ResourceAware)->name()) ==
        "resource-aware");
}

namespace {
NodeInfo node_info(std::string zone, std::optional<std::int64_t> cpu, std::int64_t used_cpu = 0,
                   std::optional<std::int64_t> memory = std::nullopt, std::int64_t used_memory = 0) {
  NodeInfo info;
  info.attributes.zone = std::move(zone);
  info.attributes.capacity.cpu = cpu;
  info.attributes.capacity.memory = memory;
  info.used = Resources{used_cpu, used_memory};
  return info;
}
}  // namespace

TEST_CASE("placement: anti-affinity excludes nodes for every strategy and names the blocker") {
  for (auto kind :
       {aether::engine::AllocationStrategy::RoundRobin, aether::engine::AllocationStrategy::ResourceAware}) {
    auto strategy = make_strategy(kind);
    auto request = add({"n1", "n2", "n3"}, {"n1", "n2"}, {}, 2, 0);
    request.constraints.forbidden = {"n1", "n2"};
    auto plan = strategy->plan_add(request);
    INFO(strategy->name());
    CHECK(plan.nodes == Nodes{"n3"});
    CHECK(plan.blocked == Blocker::AntiAffinity);
    // Without free nodes at all the blocker is the node count.
    request.holding = {"n3"};
    request.constraints.forbidden = {};
    request.eligible = {"n3"};
    CHECK(strategy->plan_add(request).blocked == Blocker::Nodes);
  }
}

TEST_CASE("placement: an instance goes only where its resources fit, for every strategy") {
  for (auto kind :
       {aether::engine::AllocationStrategy::RoundRobin, aether::engine::AllocationStrategy::ResourceAware}) {
    auto strategy = make_strategy(kind);
    auto request = add({"n1", "n2", "n3"}, {}, {}, 3, 0);
    request.nodes = {{"n1", node_info("default", 1000, 500)},
                     {"n2", node_info("default", 4000, 3000)},
                     {"n3", node_info("default", std::nullopt, 9000)}};
    request.constraints.demand = Resources{1000, 0};
    auto plan = strategy->plan_add(request);
    INFO(strategy->name());
    CHECK(plan.nodes.size() == 2);  // n1 has 500m left: too little
    CHECK(std::find(plan.nodes.begin(), plan.nodes.end(), "n1") == plan.nodes.end());
    CHECK(plan.blocked == Blocker::Capacity);
    // The mutation point's switch: capacity not enforced.
    request.constraints.capacity = false;
    CHECK(strategy->plan_add(request).nodes.size() == 3);
  }
}

TEST_CASE("placement: resource-aware takes the least loaded node by the larger ratio, ties by NodeId") {
  ResourceAware strategy;
  auto request = add({"n1", "n2", "n3", "n4"}, {}, {}, 4, 0);
  // Larger ratios: n1 max(0.5, 0.1) = 0.5; n2 max(0.2, 0.6) = 0.6; n3 0.25; n4 unlimited = 0.
  request.nodes = {{"n1", node_info("default", 1000, 500, 1000, 100)},
                   {"n2", node_info("default", 1000, 200, 1000, 600)},
                   {"n3", node_info("default", 4000, 1000)},
                   {"n4", node_info("default", std::nullopt)}};
  CHECK(strategy.plan_add(request).nodes == Nodes{"n4", "n3", "n1", "n2"});
  // Ties (equal ratios) go by NodeId.
  auto tied = add({"n1", "n2", "n3"}, {}, {}, 3, 0);
  tied.nodes = {{"n3", node_info("default", 1000, 500)}, {"n2", node_info("default", 2000, 1000)}};
  CHECK(strategy.plan_add(tied).nodes == Nodes{"n1", "n2", "n3"});
}

TEST_CASE("placement: zone spread goes to the zone with the fewest live entries, ties by zone name") {
  RoundRobin rr;
  auto request = add({"n1", "n2", "n3", "n4", "n5"}, {}, {"n1"}, 3, 0);
  request.nodes = {{"n1", node_info("b", std::nullopt)},
                   {"n2", node_info("b", std::nullopt)},
                   {"n3", node_info("c", std::nullopt)},
                   {"n4", node_info("a", std::nullopt)},
                   {"n5", node_info("a", std::nullopt)}};
  request.live = {"n1"};  // zone b holds one
  request.constraints.spread_zone = true;
  // a (0) then c (0, after a by name), then a or b at 1: a by name.
  CHECK(rr.plan_add(request).nodes == Nodes{"n4", "n3", "n5"});
  // A zone none of whose nodes can take one is skipped.
  request.constraints.forbidden = {"n4", "n5"};
  CHECK(rr.plan_add(request).nodes == Nodes{"n3", "n2"});
}

TEST_CASE("placement: under zone spread, victims come from the zone with the most live entries") {
  RoundRobin rr;
  RemoveRequest request;
  request.live = {{"n1", true}, {"n2", true}, {"n3", true}, {"n4", false}};
  request.zones = {{"n1", "a"}, {"n2", "a"}, {"n3", "a"}, {"n4", "b"}};
  request.spread_zone = true;
  request.count = 2;
  // Zone a holds 3: its last node first (all ACTIVE), then a (2) against b (1): a again.
  CHECK(rr.plan_remove(request) == Nodes{"n3", "n2"});
  request.spread_zone = false;
  CHECK(rr.plan_remove(request) == Nodes{"n4", "n3"});
}
