// End-to-end: drain and undrain (engine-semantics.md §8.2) through the
// simulator, judged on the committed KV and the slice stores.
#include "tests/engine/e2e_test_util.h"

using namespace aether::engine;
using namespace aether::engine::testing;

namespace {
std::string lifecycle(const TestWorld& world, const NodeId& node) {
  const auto& store = world.cluster->canonical_store();
  auto it = store.find(node_lifecycle_key(node));
  return it == store.end() ? std::string() : it->second;
}
}  // namespace

TEST_CASE("e2e: a drain moves each instance make-before-break, then writes DECOMMISSIONED") {
  TestWorld world(4);
  world.put_blueprint(R"({"id": "shop", "slices": [
    {"artifact": "org.example:cart:1.0.0", "instances": 3, "min_available": 1},
    {"artifact": "org.example:web:1.0.0", "instances": 2, "min_available": 1}]})");
  require_converged(world, seconds(60));
  // A node holding both (cart fills 3 of the 4 nodes, web 2).
  NodeId drained;
  for (const auto& [node, value] : world.entries(kWeb)) {
    if (world.entries(kCart).count(node)) drained = node;
  }
  REQUIRE(!drained.empty());
  world.put(node_lifecycle_key(drained), "DRAINING");
  int min_cart = 3;
  int min_web = 2;
  const bool done = world.run_until(
      [&] {
        min_cart = std::min(min_cart, world.count_in(kCart, SliceState::Active));
        min_web = std::min(min_web, world.count_in(kWeb, SliceState::Active));
        return lifecycle(world, drained) == "DECOMMISSIONED";
      },
      seconds(90));
  REQUIRE(done);
  CHECK(min_cart == 3);  // the replacement was ACTIVE before the source went
  CHECK(min_web == 2);
  CHECK(world.entries(kCart).count(drained) == 0);
  CHECK(world.entries(kWeb).count(drained) == 0);
  CHECK(world.cluster->slice_holdings(drained).empty());
  CHECK(world.recorder.counter("evictions") == 2);
  CHECK(world.recorder.counter("decommissions") >= 1);
  require_converged(world, seconds(60));
  CHECK(world.count_in(kCart, SliceState::Active) == 3);
  CHECK(world.count_in(kWeb, SliceState::Active) == 2);
  require_safe(world);
}

TEST_CASE(
    "e2e: the only node drained keeps its last instance (drain blocked), and a restart keeps DRAINING") {
  TestWorld world(1);
  world.put_blueprint(one_slice_blueprint("shop", kCart, 1));
  require_converged(world, seconds(60));
  world.put(node_lifecycle_key("node-1"), "DRAINING");
  world.run_for(seconds(30));
  CHECK(world.count_in(kCart, SliceState::Active) == 1);
  CHECK(lifecycle(world, "node-1") == "DRAINING");
  CHECK(world.recorder.counter("drain-blocked") >= 1);
  // The NDM never overwrites DRAINING with ON_DUTY, restart or not (§5).
  world.cluster->crash("node-1");
  world.run_for(seconds(2));
  world.cluster->restart("node-1");
  world.run_for(seconds(30));
  // The restart lost the instance (FAILED lost, unloaded): the node is then
  // empty and DECOMMISSIONED; never ON_DUTY again.
  CHECK(lifecycle(world, "node-1") == "DECOMMISSIONED");
  for (const auto& value : world.recorder.history[node_lifecycle_key("node-1")]) {
    if (value == "DRAINING") break;
    CHECK(value == "ON_DUTY");  // only before the drain
  }
  bool drained = false;
  for (const auto& value : world.recorder.history[node_lifecycle_key("node-1")]) {
    drained = drained || value == "DRAINING";
    if (drained) CHECK(value != "ON_DUTY");
  }
  require_safe(world);
}

TEST_CASE("e2e: undrain cancels a drain; the node takes instances again") {
  TestWorld world(2);
  world.put_blueprint(one_slice_blueprint("shop", kCart, 2));
  require_converged(world, seconds(60));
  world.put(node_lifecycle_key("node-2"), "DRAINING");
  // 1 eligible node that already holds cart: evicted without a replacement.
  REQUIRE(world.run_until([&] { return lifecycle(world, "node-2") == "DECOMMISSIONED"; }, seconds(60)));
  CHECK(world.live(kCart) == 1);
  world.put(node_lifecycle_key("node-2"), "ON_DUTY");
  REQUIRE(world.run_until([&] { return world.count_in(kCart, SliceState::Active) == 2; }, seconds(60)));
  CHECK(world.entries(kCart).count("node-2") == 1);
  CHECK(lifecycle(world, "node-2") == "ON_DUTY");
  require_safe(world);
}
