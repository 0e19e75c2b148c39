// End-to-end across seeds: the same story under many schedules. Each seed
// draws different latencies, slice phase times and KV decision orders.
#include "tests/engine/e2e_test_util.h"

using namespace aether::engine;
using namespace aether::engine::testing;

namespace {
const char* kShop = R"({"id": "shop", "slices": [
    {"artifact": "org.example:web:1.0.0", "instances": 3, "depends_on": ["org.example:db:1.0.0"]},
    {"artifact": "org.example:cart:1.0.0", "instances": 2},
    {"artifact": "org.example:db:1.0.0", "instances": 2}]})";

// Five nodes with short write and command timeouts, `drop_ppm` message drop,
// adversarial KV order on even seeds and aggressive reconciliation on every
// third.
std::function<void(WorldOptions&)> lossy_world(std::uint64_t seed, std::uint32_t drop_ppm) {
  return [seed, drop_ppm](WorldOptions& o) {
    o.seed = seed;
    o.config.write_timeout_ns = seconds(5);
    o.config.command_timeout_ns = seconds(10);
    if (seed % 3 == 0) o.config.reconciliation = ReconciliationStrategy::Aggressive;
    o.tweak = [seed, drop_ppm](aether::sim::SimConfig& c) {
      if (seed % 2 == 0) c.kv_order = aether::sim::KvOrderMode::Adversarial;
      c.network.drop_ppm = drop_ppm;
    };
  };
}

// CDM and NDM submits never resolve with probability `ppm` (0 stops it).
void lose_engine_submits(TestWorld& world, std::uint32_t ppm) {
  world.cluster->set_lost_submit_rule("", "cdm", ppm);
  world.cluster->set_lost_submit_rule("", "ndm", ppm);
}
}  // namespace

TEST_CASE("e2e seeds: leader crash, restart and edits converge safely under many schedules") {
  for (std::uint64_t seed = 1; seed <= 12; ++seed) {
    INFO("seed " << seed);
    TestWorld world(5, [&](WorldOptions& o) {
      o.seed = seed;
      if (seed % 2 == 0) {
        o.tweak = [](aether::sim::SimConfig& c) { c.kv_order = aether::sim::KvOrderMode::Adversarial; };
      }
    });
    world.put_blueprint(kShop);
    world.run_for(millis(1500 + 300 * static_cast<int>(seed)));
    world.cluster->crash("node-1");
    require_converged(world, seconds(120));
    world.cluster->restart("node-1");
    REQUIRE(world.scale("org.example:cart", 4));
    world.put_blueprint(one_slice_blueprint("extra", kCart2.substr(0, 0) + "org.example:extra:1.0.0", 2));
    require_converged(world, seconds(120));
    CHECK(world.count_in(kCart, SliceState::Active) == 4);
    require_safe(world);
  }
}

TEST_CASE("e2e seeds: a partitioned minority rejoins and the cluster converges") {
  for (std::uint64_t seed = 1; seed <= 8; ++seed) {
    INFO("seed " << seed);
    TestWorld world(5, [&](WorldOptions& o) { o.seed = seed; });
    world.put_blueprint(kShop);
    require_converged(world, seconds(60));
    world.cluster->partition({{"node-1", "node-2"}, {"node-3", "node-4", "node-5"}});
    world.run_for(seconds(10));
    REQUIRE(world.scale("org.example:db", 3));
    world.run_for(seconds(10));
    world.cluster->heal();
    require_converged(world, seconds(150));
    CHECK(world.count_in(kDb, SliceState::Active) == 3);
    require_safe(world);
  }
}

TEST_CASE("e2e seeds: lost writes, slice failures, a pause and two crashes still converge once faults stop") {
  for (std::uint64_t seed = 1; seed <= 10; ++seed) {
    INFO("seed " << seed);
    TestWorld world(5, lossy_world(seed, 50000));
    lose_engine_submits(world, 30000);
    world.put_blueprint(R"({"id": "shop", "slices": [
    {"artifact": "org.example:web:1.0.0", "instances": 3, "depends_on": ["org.example:db:1.0.0"]},
    {"artifact": "org.example:cart:1.0.0", "instances": 2},
    {"artifact": "org.example:db:1.0.0", "instances": 2}]})");
    world.cluster->set_slice_failure_rule({"*", aether::sim::FailurePhase::Any, 100000, 0});
    world.run_for(seconds(3));
    world.cluster->crash("node-1");
    world.run_for(seconds(4));
    world.cluster->pause("node-3");
    world.run_for(seconds(3));
    world.cluster->resume("node-3");
    world.cluster->restart("node-1");
    REQUIRE(world.scale("org.example:cart", 4));
    world.run_for(seconds(20));
    world.cluster->crash("node-2");
    world.run_for(seconds(5));
    world.cluster->restart("node-2");
    world.cluster->set_slice_failure_rule({"*", aether::sim::FailurePhase::Any, 0, 0});
    lose_engine_submits(world, 0);
    const bool ok = world.run_until_converged(seconds(400));
    INFO("blocker: " << world.convergence_blocker());
    CHECK(ok);
    require_safe(world);
  }
}

TEST_CASE(
    "e2e seeds: partitions, edits, removals, a join, a pause and lossy writes converge quietly once faults "
    "stop") {
  for (std::uint64_t seed = 1; seed <= 30; ++seed) {
    INFO("seed " << seed);
    TestWorld world(5, lossy_world(seed, 100000));
    lose_engine_submits(world, 50000);
    world.cluster->set_quorum_reorder("node-2", 300000);
    world.put_blueprint(R"({"id": "shop", "slices": [
    {"artifact": "org.example:web:1.0.0", "instances": 3, "depends_on": ["org.example:db:1.0.0"]},
    {"artifact": "org.example:cart:1.0.0", "instances": 2},
    {"artifact": "org.example:db:1.0.0", "instances": 2}]})");
    world.cluster->set_slice_failure_rule({"*", aether::sim::FailurePhase::Any, 100000, 0});
    world.run_for(seconds(2 + seed % 5));
    world.cluster->partition({{"node-1", "node-2"}, {"node-2", "node-3", "node-4", "node-5"}});
    world.run_for(seconds(4));
    world.put_blueprint(R"({"id": "shop", "slices": [
    {"artifact": "org.example:web:1.0.0", "instances": 2, "depends_on": ["org.example:db:1.0.0"]},
    {"artifact": "org.example:cart:2.0.0", "instances": 3},
    {"artifact": "org.example:db:1.0.0", "instances": 2}]})");
    world.cluster->crash("node-3");
    world.run_for(seconds(3));
    world.cluster->heal();
    world.cluster->add_node();
    world.cluster->restart("node-3");
    (void)world.scale("org.example:db", 3);
    world.run_for(seconds(10));
    world.cluster->pause("node-4");
    world.run_for(seconds(2));
    world.cluster->resume("node-4");
    world.put_blueprint(one_slice_blueprint("extra", "org.example:extra:1.0.0", 2));
    world.remove_blueprint("shop");
    world.put_blueprint(R"({"id": "shop", "slices": [
    {"artifact": "org.example:web:1.0.0", "instances": 2, "depends_on": ["org.example:db:1.0.0"]},
    {"artifact": "org.example:db:1.0.0", "instances": 2}]})");
    world.run_for(seconds(5));
    world.cluster->set_slice_failure_rule({"*", aether::sim::FailurePhase::Any, 0, 0});
    lose_engine_submits(world, 0);
    const bool ok = world.run_until_converged(seconds(400));

    INFO("blocker: " << world.convergence_blocker());
    CHECK(ok);
    const auto before = world.recorder.submits_by("cdm") + world.recorder.submits_by("ndm");
    world.run_for(seconds(40));
    CHECK(world.recorder.submits_by("cdm") + world.recorder.submits_by("ndm") == before);
    CHECK(world.converged());
    require_safe(world);
  }
}
