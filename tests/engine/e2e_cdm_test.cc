// End-to-end: how the ClusterDeploymentManager places, scales and cleans up.
#include "tests/engine/e2e_test_util.h"

using namespace aether::engine;
using namespace aether::engine::testing;

TEST_CASE("e2e: scaling to 0 unloads every instance") {
  TestWorld world(3);
  world.put_blueprint(one_slice_blueprint("shop", kCart, 3));
  require_converged(world, seconds(60));
  REQUIRE(world.scale(kCartBase, 0));
  require_converged(world, seconds(60));
  CHECK(world.entries(kCart).empty());
  for (const auto& node : world.cluster->configured_nodes())
    CHECK(world.cluster->slice_holdings(node).empty());
  require_safe(world);
}

TEST_CASE("e2e: round robin puts one instance on each node before doubling up is impossible") {
  TestWorld world(4);
  world.put_blueprint(R"({"id": "shop", "slices": [
    {"artifact": "org.example:cart:1.0.0", "instances": 2},
    {"artifact": "org.example:web:1.0.0", "instances": 2}]})");
  require_converged(world, seconds(60));
  std::set<NodeId> used;
  for (const auto& artifact : {kCart, kWeb}) {
    for (const auto& [node, value] : world.entries(artifact)) used.insert(node);
  }
  CHECK(used.size() == 4);  // nodes with no entry at all are filled first
  require_safe(world);
}

TEST_CASE("e2e: 4 requested on 2 nodes places 2, and the rest when nodes join") {
  TestWorld world(2);
  world.put_blueprint(one_slice_blueprint("shop", kCart, 4));
  require_converged(world, seconds(60));
  CHECK(world.count_in(kCart, SliceState::Active) == 2);
  world.cluster->add_node();
  world.cluster->add_node();
  REQUIRE(world.run_until([&] { return world.count_in(kCart, SliceState::Active) == 4; }, seconds(60)));
  require_converged(world, seconds(60));
  require_safe(world);
}

TEST_CASE("e2e: nothing is placed without ON_DUTY nodes") {
  TestWorld world(3);
  world.run_for(seconds(3));
  for (const auto& node : world.cluster->configured_nodes()) world.put(node_lifecycle_key(node), "DRAINING");
  world.run_for(seconds(2));
  world.put_blueprint(one_slice_blueprint("shop", kCart, 2));
  world.run_for(seconds(30));
  CHECK(world.entries(kCart).empty());
  world.put(node_lifecycle_key("node-2"), "ON_DUTY");
  REQUIRE(world.run_until([&] { return world.count_in(kCart, SliceState::Active) == 1; }, seconds(30)));
  CHECK(world.entries(kCart).count("node-2") == 1);
  require_safe(world);
}

TEST_CASE("e2e: scale up adds instances") {
  TestWorld world(5);
  world.put_blueprint(one_slice_blueprint("shop", kCart, 1));
  require_converged(world, seconds(60));
  REQUIRE(world.scale(kCartBase, 4));
  require_converged(world, seconds(60));
  CHECK(world.count_in(kCart, SliceState::Active) == 4);
  require_safe(world);
}

TEST_CASE("e2e: scale down never goes below the slice-target's min_instances") {
  TestWorld world(5);
  world.put_blueprint(one_slice_blueprint("shop", kCart, 4, 3));
  require_converged(world, seconds(60));
  auto target = *parse_slice_target(world.cluster->canonical_store().at(slice_target_key(kCartBase)));
  target.instances = 1;  // min_instances stays 3
  world.put(slice_target_key(kCartBase), encode_slice_target(target));
  world.run_for(seconds(40));
  CHECK(world.live(kCart) == 3);
  CHECK(world.count_in(kCart, SliceState::Active) == 3);
  require_safe(world);
}

TEST_CASE("e2e: a removed node's keys are removed and its instances placed elsewhere") {
  TestWorld world(4);
  world.put_blueprint(one_slice_blueprint("shop", kCart, 3));
  require_converged(world, seconds(60));
  NodeId victim = world.entries(kCart).rbegin()->first;
  if (victim == "node-1") victim = world.entries(kCart).begin()->first;
  REQUIRE(victim != "node-1");
  world.cluster->remove_node(victim);
  require_converged(world, seconds(60));
  for (const auto& [key, value] : world.cluster->canonical_store()) {
    CHECK(key.find(victim) == std::string::npos);
  }
  CHECK(world.count_in(kCart, SliceState::Active) == 3);
  require_safe(world);
}

TEST_CASE("e2e: a blueprint replace that drops an artifact unloads it") {
  TestWorld world(3);
  world.put_blueprint(R"({"id": "shop", "slices": [
    {"artifact": "org.example:cart:1.0.0", "instances": 2},
    {"artifact": "org.example:web:1.0.0", "instances": 2}]})");
  require_converged(world, seconds(60));
  world.put_blueprint(one_slice_blueprint("shop", kCart, 2));
  require_converged(world, seconds(60));
  CHECK(world.entries(kWeb).empty());
  CHECK(world.cluster->canonical_store().count(slice_target_key("org.example:web")) == 0);
  CHECK(world.count_in(kCart, SliceState::Active) == 2);
  require_safe(world);
}

TEST_CASE("e2e: a blueprint's new version replaces the old instances") {
  TestWorld world(3);
  world.put_blueprint(one_slice_blueprint("shop", kCart, 2));
  require_converged(world, seconds(60));
  world.put_blueprint(one_slice_blueprint("shop", kCart2, 2));
  require_converged(world, seconds(60));
  CHECK(world.entries(kCart).empty());
  CHECK(world.count_in(kCart2, SliceState::Active) == 2);
  require_safe(world);
}

TEST_CASE("e2e: removing a blueprint unloads what it owned and nothing else") {
  TestWorld world(3);
  world.put_blueprint(one_slice_blueprint("shop", kCart, 2));
  world.put_blueprint(one_slice_blueprint("data", kDb, 2));
  require_converged(world, seconds(60));
  world.remove_blueprint("shop");
  require_converged(world, seconds(60));
  CHECK(world.entries(kCart).empty());
  CHECK(world.count_in(kDb, SliceState::Active) == 2);
  require_safe(world);
}

TEST_CASE("e2e: two blueprints cannot own one base") {
  TestWorld world(3);
  world.put_blueprint(one_slice_blueprint("b-shop", kCart, 2));
  require_converged(world, seconds(60));
  world.put_blueprint(one_slice_blueprint("a-shop", kCart2, 3));
  world.run_for(seconds(20));
  require_converged(world, seconds(60));
  CHECK(world.count_in(kCart, SliceState::Active) == 2);
  CHECK(world.entries(kCart2).empty());
  CHECK(world.recorder.counter("rejected-blueprints") >= 1);
  // When the owner goes, the other blueprint takes the base over.
  world.remove_blueprint("b-shop");
  REQUIRE(world.run_until([&] { return world.count_in(kCart2, SliceState::Active) == 3; }, seconds(60)));
  require_converged(world, seconds(60));
  require_safe(world);
}

TEST_CASE("e2e: a malformed blueprint is logged and the manager keeps working") {
  TestWorld world(3);
  world.put(blueprint_key("broken"), R"({"id": "broken", "slices": [{"artifact": "nope", "instances": 1}]})");
  world.put(blueprint_key("garbage"), "{not json");
  world.put_blueprint(one_slice_blueprint("shop", kCart, 2));
  require_converged(world, seconds(60));
  CHECK(world.count_in(kCart, SliceState::Active) == 2);
  CHECK(world.recorder.counter("malformed-values") >= 2);
  require_safe(world);
}

TEST_CASE("e2e: a malformed slice value is removed and the instance replaced") {
  TestWorld world(3);
  world.put_blueprint(one_slice_blueprint("shop", kCart, 3));
  require_converged(world, seconds(60));
  world.put(slice_key("node-2", kCart), "garbage");
  world.run_for(seconds(5));
  require_converged(world, seconds(90));
  CHECK(world.count_in(kCart, SliceState::Active) == 3);
  require_safe(world);
}
