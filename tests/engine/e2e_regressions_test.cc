// End-to-end regressions for bugs that generated scenarios found
// (tests/properties/generated_scenarios_test.cc): each case replays the
// situation in a small world and states the behaviour the engine owes.
#include "tests/engine/e2e_test_util.h"

using namespace aether::engine;
using namespace aether::engine::testing;

namespace {

std::string single_instance_blueprint(const std::vector<std::string>& artifacts) {
  std::string slices;
  for (const auto& a : artifacts) {
    slices += std::string(slices.empty() ? "" : ", ") + R"({"artifact": ")" + a + R"(", "instances": 1})";
  }
  return R"({"id": "shop", "slices": [)" + slices + "]}";
}

}  // namespace

TEST_CASE("e2e regression: aggressive rebalancing moves single-instance artifacts make-before-break") {
  TestWorld world(3, [](WorldOptions& o) {
    o.config.reconciliation = ReconciliationStrategy::Aggressive;
    o.config.reconciliation_interval_ns = seconds(5);
  });
  const std::vector<std::string> artifacts = {"org.example:a:1.0.0", "org.example:b:1.0.0",
                                              "org.example:c:1.0.0", "org.example:d:1.0.0",
                                              "org.example:e:1.0.0"};
  world.put_blueprint(single_instance_blueprint(artifacts));
  require_converged(world, seconds(60));
  world.cluster->add_node();  // loads 2,2,1,0: a move is owed, and every artifact has min_available 1
  int lowest_active = 1;
  auto watch = [&] {
    for (const auto& a : artifacts)
      lowest_active = std::min(lowest_active, world.count_in(a, SliceState::Active));
    return world.converged();
  };
  REQUIRE(world.run_until([&] { return world.eligible_nodes().size() == 4; }, seconds(30)));
  REQUIRE(world.run_until(watch, seconds(120)));
  INFO("blocker: " << world.convergence_blocker());
  CHECK(world.converged());  // the harness requires balance under aggressive
  CHECK(world.recorder.counter("moves") >= 1);
  CHECK(lowest_active == 1);  // make-before-break: never 0 ACTIVE
  require_safe(world);
}

TEST_CASE("e2e regression: a FAILED lost entry committed before a new leader activates is unloaded") {
  TestWorld world(5, [](WorldOptions& o) {
    o.tweak = [](aether::sim::SimConfig& c) { c.failure_detection_ns = seconds(5); };
  });
  world.put_blueprint(one_slice_blueprint("shop", kCart, 4));
  require_converged(world, seconds(60));
  REQUIRE(world.entries(kCart).count("node-3") == 1);
  world.cluster->crash("node-1");  // the leader
  world.cluster->crash("node-3");
  world.run_for(millis(500));
  world.cluster->restart("node-3");  // reports its ACTIVE cart as lost before node-2 leads
  const auto key = slice_key("node-3", kCart);
  REQUIRE(world.run_until(
      [&] { return history_has(world, key, SliceState::Failed, std::string(kLostReason)); }, seconds(30)));
  CHECK(world.active_cdms().empty());  // nobody leads yet: the FAILED entry predates the new CDM
  require_converged(world, seconds(120));
  CHECK(world.leader() == std::string("node-2"));
  CHECK(history_has(world, key, SliceState::Unload));
  CHECK(world.count_in(kCart, SliceState::Active) == 4);
  CHECK(world.count_in(kCart, SliceState::Failed) == 0);
  require_safe(world);
}

TEST_CASE(
    "e2e regression: a node whose lifecycle key is removed while it is Active registers ON_DUTY again") {
  TestWorld world(3);
  world.put_blueprint(one_slice_blueprint("shop", kCart, 3));
  require_converged(world, seconds(60));
  const auto key = node_lifecycle_key("node-2");
  // What a deposed leader's late-committing batch does to a node it saw go.
  world.remove(key);
  REQUIRE(world.run_until([&] { return world.cluster->canonical_store().count(key) == 0; }, seconds(5)));
  REQUIRE(world.run_until(
      [&] {
        auto it = world.cluster->canonical_store().find(key);
        return it != world.cluster->canonical_store().end() && it->second == "ON_DUTY";
      },
      seconds(10)));
  require_converged(world, seconds(60));
  require_safe(world);
}

TEST_CASE("e2e regression: a late echo of a cancelled chain's write does not leave the key stuck") {
  TestWorld world(3);
  world.put_blueprint(one_slice_blueprint("shop", kCart, 2));
  require_converged(world, seconds(60));
  REQUIRE(world.entries(kCart).count("node-3") == 0);
  const auto key = slice_key("node-3", kCart);
  // node-3's ACTIVATE chain was cancelled by the key's removal, then its
  // ACTIVATING write committed after the removal: the key says ACTIVATING,
  // node-3 holds nothing and runs no chain for it.
  world.put(key, encode_slice_value({SliceState::Activating, {}, false}));
  REQUIRE(world.run_until([&] { return world.entries(kCart).count("node-3") == 1; }, seconds(5)));
  // Far below stuck_multiplier x activating (3m): the NDM itself moves the key on.
  require_converged(world, seconds(60));
  CHECK(history_has(world, key, SliceState::Failed));
  CHECK(world.entries(kCart).count("node-3") == 0);
  CHECK(world.count_in(kCart, SliceState::Active) == 2);
  require_safe(world);
}

TEST_CASE("e2e regression: a load still running when its node regains quorum without its key is unloaded") {
  TestWorld world(3, [](WorldOptions& o) {
    o.tweak = [](aether::sim::SimConfig& c) { c.slices.load = {seconds(6), seconds(6)}; };
  });
  world.put_blueprint(one_slice_blueprint("shop", kCart, 2));
  require_converged(world, seconds(60));
  REQUIRE(world.entries(kCart).count("node-3") == 0);
  REQUIRE(world.scale(kCartBase, 3));
  const auto key = slice_key("node-3", kCart);
  REQUIRE(world.run_until([&] { return history_has(world, key, SliceState::Loading); }, seconds(5)));
  world.run_for(millis(100));  // node-3's store is loading cart (6s)
  world.cluster->isolate("node-3");
  // node-3 goes Dormant (its load's chain is gone); the leader removes its keys.
  REQUIRE(world.run_until([&] { return !world.cluster->has_quorum("node-3"); }, seconds(3)));
  REQUIRE(world.scale(kCartBase, 2));  // so that cart is not placed on node-3 again
  REQUIRE(world.run_until([&] { return world.cluster->canonical_store().count(key) == 0; }, seconds(2)));
  world.cluster->heal();
  // node-3 is Active again before its load completes, with no key for cart.
  REQUIRE(world.run_until([&] { return world.cluster->has_quorum("node-3"); }, seconds(3)));
  world.run_for(seconds(5));  // the load completes
  require_converged(world, seconds(60));
  CHECK(world.cluster->slice_holdings("node-3").count(kCart) == 0);
  CHECK(world.count_in(kCart, SliceState::Active) == 2);
  require_safe(world);
}

TEST_CASE(
    "e2e regression: an ACTIVE echo landing while its unload runs is reported lost once the store is idle") {
  TestWorld world(3, [](WorldOptions& o) {
    o.tweak = [](aether::sim::SimConfig& c) { c.slices.unload = {millis(500), millis(500)}; };
  });
  world.put_blueprint(one_slice_blueprint("shop", kCart, 3));
  require_converged(world, seconds(60));
  const auto key = slice_key("node-3", kCart);
  REQUIRE(world.entries(kCart).at("node-3").state == SliceState::Active);
  world.remove(key);  // node-3 starts unloading cart (500ms)
  REQUIRE(world.run_until([&] { return world.cluster->canonical_store().count(key) == 0; }, seconds(1)));
  // node-3's own ACTIVE write, committed late, on top of the removal.
  world.put(key, encode_slice_value({SliceState::Active, {}, false}));
  REQUIRE(world.run_until([&] { return world.entries(kCart).count("node-3") == 1; }, seconds(1)));
  world.run_for(seconds(1));  // the unload completes
  require_converged(world, seconds(60));
  CHECK(history_has(world, key, SliceState::Failed, std::string(kLostReason)));
  CHECK(world.count_in(kCart, SliceState::Active) == 3);
  require_safe(world);
}

TEST_CASE("e2e regression: a chain write dropped under its own late echo leaves the key served") {
  TestWorld world(3, [](WorldOptions& o) {
    o.tweak = [](aether::sim::SimConfig& c) { c.slices.deactivate = {seconds(2), seconds(2)}; };
  });
  world.put_blueprint(one_slice_blueprint("shop", kCart, 3));
  require_converged(world, seconds(60));
  const auto key = slice_key("node-3", kCart);
  world.put(key, encode_slice_value({SliceState::Deactivate, {}, false}));
  REQUIRE(world.run_until(
      [&] {
        auto entries = world.entries(kCart);
        return entries.count("node-3") && entries.at("node-3").state == SliceState::Deactivating;
      },
      seconds(2)));
  // node-3's earlier ACTIVATING, committed late, on top of its DEACTIVATING:
  // the chain's LOADED is then no edge and is dropped.
  world.put(key, encode_slice_value({SliceState::Activating, {}, false}));
  world.run_for(seconds(3));  // the deactivation completes
  // Far below stuck_multiplier x activating (3m): the NDM serves the key again.
  require_converged(world, seconds(60));
  CHECK(world.count_in(kCart, SliceState::Active) == 3);
  require_safe(world);
}

TEST_CASE(
    "e2e regression: a blueprint rewrite committed while nobody leads wins over its older slice-target") {
  // §4 Activation: a matching slice-target's count wins unless the owner
  // blueprint was put after it (the KV's decided positions say which).
  TestWorld world(5);
  world.put_blueprint(one_slice_blueprint("shop", kWeb, 2));
  require_converged(world, seconds(60));
  REQUIRE(world.leader() == std::string("node-1"));
  world.cluster->crash("node-1");
  world.run_for(millis(100));
  world.put_blueprint(one_slice_blueprint("shop", kWeb, 3));  // same version, new count
  REQUIRE(world.run_until([&] { return world.leader().has_value(); }, seconds(30)));
  require_converged(world, seconds(120));
  CHECK(world.count_in(kWeb, SliceState::Active) == 3);
  auto target = parse_slice_target(world.cluster->canonical_store().at(slice_target_key("org.example:web")));
  REQUIRE(target);
  CHECK(target->instances == 3);
  require_safe(world);
}
