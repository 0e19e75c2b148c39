// Each named mutation point is a real bug variant: the same story passes
// without it and shows the bug with it.
#include "engine/mutations.h"
#include "tests/engine/e2e_test_util.h"

using namespace aether::engine;
using namespace aether::engine::testing;

namespace {

// A client rewrites an ACTIVE key back to LOAD; returns the loads of held artifacts.
std::size_t reloads_after_client_load(std::optional<std::string> mutation) {
  TestWorld world(3, with_mutation(mutation));
  world.put_blueprint(one_slice_blueprint("shop", kCart, 1));
  REQUIRE(world.run_until_converged(seconds(60)));
  const NodeId holder = world.entries(kCart).begin()->first;
  world.put(slice_key(holder, kCart), encode_slice_value({SliceState::Load, std::nullopt, false}));
  world.run_for(seconds(10));
  return world.recorder.reloads.size();
}

// min_instances 3, instances lowered to 1: the live count after things settle.
int live_after_scale_below_floor(std::optional<std::string> mutation) {
  TestWorld world(5, with_mutation(mutation));
  world.put_blueprint(one_slice_blueprint("shop", kCart, 4, 3));
  REQUIRE(world.run_until_converged(seconds(60)));
  auto target = *parse_slice_target(world.cluster->canonical_store().at(slice_target_key(kCartBase)));
  target.instances = 1;
  world.put(slice_target_key(kCartBase), encode_slice_target(target));
  world.run_for(seconds(40));
  return world.live(kCart);
}

// db always fails to load fatally; how many web instances get activated.
std::size_t web_activations_without_db(std::optional<std::string> mutation) {
  TestWorld world(3, with_mutation(mutation));
  world.cluster->set_slice_failure_rule({kDb, aether::sim::FailurePhase::Load, 0, aether::sim::kPpmOne});
  world.put_blueprint(R"({"id": "shop", "slices": [
    {"artifact": "org.example:web:1.0.0", "instances": 2, "depends_on": ["org.example:db:1.0.0"]},
    {"artifact": "org.example:db:1.0.0", "instances": 1}]})");
  world.run_for(seconds(30));
  std::size_t n = 0;
  for (const auto& op : world.recorder.slice_ops)
    n += (op.artifact == kWeb && op.op == aether::sim::SliceOp::Activate);
  return n;
}

// Two clients publish two edits at once under adversarial ordering; whether
// the slice-target ends up with the count of the blueprint that won.
bool target_follows_last_blueprint(std::optional<std::string> mutation) {
  TestWorld world(4, with_mutation(mutation, [](WorldOptions& o) {
                    o.tweak = [](aether::sim::SimConfig& c) {
                      c.kv_order = aether::sim::KvOrderMode::Adversarial;
                    };
                  }));
  world.put_blueprint(one_slice_blueprint("shop", kCart, 2));
  REQUIRE(world.run_until_converged(seconds(60)));
  world.cluster->client_write("alice",
                              {KvCommand::put(blueprint_key("shop"), one_slice_blueprint("shop", kCart, 3))});
  world.cluster->client_write("bob",
                              {KvCommand::put(blueprint_key("shop"), one_slice_blueprint("shop", kCart, 1))});
  world.run_for(seconds(30));
  return cart_target_follows_shop(world);
}

// Republishing an unchanged blueprint: how many LOADs the CDM writes.
std::int64_t allocations_on_republish(std::optional<std::string> mutation) {
  TestWorld world(5, with_mutation(mutation));
  world.put_blueprint(one_slice_blueprint("shop", kCart, 2));
  REQUIRE(world.run_until_converged(seconds(60)));
  const auto before = world.recorder.counter("allocations");
  world.put_blueprint(one_slice_blueprint("shop", kCart, 2));
  world.run_for(seconds(30));
  return world.recorder.counter("allocations") - before;
}

// No node is ON_DUTY; how many entries get placed.
std::size_t placed_on_draining_nodes(std::optional<std::string> mutation) {
  TestWorld world(3, with_mutation(mutation));
  world.run_for(seconds(3));
  for (const auto& node : world.cluster->configured_nodes()) world.put(node_lifecycle_key(node), "DRAINING");
  world.run_for(seconds(2));
  world.put_blueprint(one_slice_blueprint("shop", kCart, 2));
  world.run_for(seconds(20));
  return world.entries(kCart).size();
}
}  // namespace

TEST_CASE("mutation ndm-reload-held-artifact loads what the store already holds") {
  CHECK(reloads_after_client_load(std::nullopt) == 0);
  CHECK(reloads_after_client_load(mutation::kNdmReloadHeld) > 0);
}

TEST_CASE("mutation cdm-skip-scale-down-floor goes below min_instances") {
  CHECK(live_after_scale_below_floor(std::nullopt) == 3);
  CHECK(live_after_scale_below_floor(mutation::kSkipScaleDownFloor) == 1);
}

TEST_CASE("mutation cdm-activate-before-dependencies activates without an ACTIVE dependency") {
  CHECK(web_activations_without_db(std::nullopt) == 0);
  CHECK(web_activations_without_db(mutation::kActivateBeforeDependencies) > 0);
}

TEST_CASE("mutation cdm-unserialized-writes lets an older slice-target overtake a newer one") {
  CHECK(target_follows_last_blueprint(std::nullopt));
  CHECK_FALSE(target_follows_last_blueprint(mutation::kUnserializedWrites));
}

TEST_CASE("mutation cdm-allocate-at-blueprint-put allocates again for an unchanged blueprint") {
  CHECK(allocations_on_republish(std::nullopt) == 0);
  CHECK(allocations_on_republish(mutation::kAllocateAtBlueprintPut) > 0);
}

TEST_CASE("mutation cdm-place-on-ineligible-nodes places on nodes that are not ON_DUTY") {
  CHECK(placed_on_draining_nodes(std::nullopt) == 0);
  // Entries on DRAINING nodes do not count for scale decisions (§8.2), so the
  // mutated CDM keeps placing: at least the 2 wanted, on DRAINING nodes.
  CHECK(placed_on_draining_nodes(mutation::kIgnoreEligibility) >= 2);
}
