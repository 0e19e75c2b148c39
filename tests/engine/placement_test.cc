// The round-robin allocation strategy with fake inputs (no simulator):
// engine-semantics.md §4 "Allocation".
#include <catch2/catch.hpp>

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

TEST_CASE("placement: the configured strategy is round-robin") {
  auto strategy = make_strategy(aether::engine::AllocationStrategy::RoundRobin);
  CHECK(std::string(strategy->name()) == "round-robin");
}
