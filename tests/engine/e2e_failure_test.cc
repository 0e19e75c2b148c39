// End-to-end: dependencies, slice failures, stuck states and lost writes.
#include "tests/engine/e2e_test_util.h"

using namespace aether::engine;
using namespace aether::engine::testing;

namespace {
int loads_of(const TestWorld& world, const std::string& artifact) {
  int n = 0;
  for (const auto& op : world.recorder.slice_ops)
    n += (op.artifact == artifact && op.op == aether::sim::SliceOp::Load);
  return n;
}
std::size_t cdm_writes_of(const TestWorld& world, const std::string& key, SliceState state) {
  std::size_t n = 0;
  for (const auto& submit : world.recorder.submits) {
    if (submit.writer != "cdm") continue;
    for (const auto& command : submit.commands) {
      auto value = command.op == KvOp::Put ? parse_slice_value(command.value) : std::nullopt;
      n += (command.key == key && value && value->state == state) ? 1 : 0;
    }
  }
  return n;
}
}  // namespace

TEST_CASE("e2e: LOADED is activated only once its dependencies are ACTIVE") {
  TestWorld world(3);
  int early = 0;
  int checked = 0;
  world.recorder.on_slice_start = [&](const NodeId&, const std::string& artifact, aether::sim::SliceOp op) {
    if (artifact != kWeb || op != aether::sim::SliceOp::Activate) return;
    ++checked;
    bool db_active = false;
    for (const auto& node : world.cluster->configured_nodes()) {
      auto held = world.cluster->slice_holdings(node);
      auto it = held.find(kDb);
      db_active = db_active || (it != held.end() && it->second == SliceHolding::Active);
    }
    early += db_active ? 0 : 1;
  };
  world.put_blueprint(R"({"id": "shop", "slices": [
    {"artifact": "org.example:web:1.0.0", "instances": 3, "depends_on": ["org.example:db:1.0.0"]},
    {"artifact": "org.example:db:1.0.0", "instances": 1}]})");
  require_converged(world, seconds(60));
  CHECK(checked == 3);
  CHECK(early == 0);
  require_safe(world);
}

TEST_CASE("e2e: a fatal failure stops re-placement until the blueprint is published again") {
  TestWorld world(3);
  world.cluster->set_slice_failure_rule({kCart, aether::sim::FailurePhase::Load, 0, aether::sim::kPpmOne});
  world.put_blueprint(one_slice_blueprint("shop", kCart, 2));
  world.run_for(seconds(30));
  auto target = parse_slice_target(world.cluster->canonical_store().at(slice_target_key(kCartBase)));
  REQUIRE(target);
  CHECK(target->failed);
  const int loads = loads_of(world, kCart);
  CHECK(loads >= 1);
  world.run_for(seconds(60));
  CHECK(loads_of(world, kCart) == loads);
  world.cluster->set_slice_failure_rule({kCart, aether::sim::FailurePhase::Load, 0, 0});
  world.put_blueprint(one_slice_blueprint("shop", kCart, 2));
  REQUIRE(world.run_until(
      [&] {
        auto t = parse_slice_target(world.cluster->canonical_store().at(slice_target_key(kCartBase)));
        return t && !t->failed;
      },
      seconds(30)));
  require_converged(world, seconds(60));
  CHECK(world.count_in(kCart, SliceState::Active) == 2);
  require_safe(world);
}

TEST_CASE("e2e: a transient failure retries with growing backoff and becomes fatal after the maximum") {
  TestWorld world(3, [](WorldOptions& o) { o.config.transient_retry_max = 3; });
  std::vector<Nanos> load_times;
  world.recorder.on_slice_start = [&](const NodeId&, const std::string& artifact, aether::sim::SliceOp op) {
    if (artifact == kCart && op == aether::sim::SliceOp::Load) load_times.push_back(world.cluster->now());
  };
  world.cluster->set_slice_failure_rule({kCart, aether::sim::FailurePhase::Load, aether::sim::kPpmOne, 0});
  world.put_blueprint(one_slice_blueprint("shop", kCart, 1));
  world.run_for(seconds(60));
  auto target = parse_slice_target(world.cluster->canonical_store().at(slice_target_key(kCartBase)));
  REQUIRE(target);
  CHECK(target->failed);
  REQUIRE(load_times.size() == 3);
  CHECK(load_times[1] - load_times[0] >= seconds(1));
  CHECK(load_times[2] - load_times[1] >= seconds(2));
  CHECK(world.recorder.counter("retries") == 3);
  require_safe(world);
}

TEST_CASE("e2e: a stuck LOADING is unloaded and placed again") {
  TestWorld world(3, [](WorldOptions& o) {
    o.config.timeouts.loading_ns = seconds(1);
    o.config.stuck_multiplier = 2;
    o.config.write_timeout_ns = seconds(5);
    o.config.reconciliation_interval_ns = seconds(5);
  });
  bool lost = false;
  world.recorder.on_slice_start = [&](const NodeId& node, const std::string& artifact,
                                      aether::sim::SliceOp op) {
    if (lost || artifact != kCart || op != aether::sim::SliceOp::Load) return;
    lost = true;
    world.cluster->lose_next_submit(node, "ndm");  // its LOADED never lands
  };
  world.put_blueprint(one_slice_blueprint("shop", kCart, 1));
  require_converged(world, seconds(120));
  CHECK(lost);
  CHECK(world.recorder.counter("stuck-cleanups") >= 1);
  require_safe(world);
}

TEST_CASE("e2e: an ACTIVATE whose submit never resolves is written again") {
  TestWorld world(3, [](WorldOptions& o) { o.config.write_timeout_ns = seconds(5); });
  world.put_blueprint(one_slice_blueprint("shop", kCart, 1));
  REQUIRE(world.run_until([&] { return world.count_in(kCart, SliceState::Loading) == 1; }, seconds(30)));
  const NodeId holder = world.entries(kCart).begin()->first;
  world.cluster->lose_next_submit("node-1", "cdm");
  require_converged(world, seconds(120));
  CHECK(world.recorder.counter("write-timeouts") == 1);
  CHECK(cdm_writes_of(world, slice_key(holder, kCart), SliceState::Activate) ==
        1);  // the lost one is not seen
  require_safe(world);
}

TEST_CASE("e2e: two quick blueprint edits converge to the second") {
  TestWorld world(4, [](WorldOptions& o) {
    o.tweak = [](aether::sim::SimConfig& c) { c.kv_order = aether::sim::KvOrderMode::Adversarial; };
  });
  world.put_blueprint(one_slice_blueprint("shop", kCart, 1));
  require_converged(world, seconds(60));
  world.put_blueprint(one_slice_blueprint("shop", kCart, 3));
  world.put_blueprint(one_slice_blueprint("shop", kCart2, 2));
  require_converged(world, seconds(90));
  CHECK(world.entries(kCart).empty());
  CHECK(world.count_in(kCart2, SliceState::Active) == 2);
  require_safe(world);
}

TEST_CASE("e2e: a committed ACTIVATE the node does not answer is re-sent after command_timeout") {
  TestWorld world(3, [](WorldOptions& o) {
    o.config.command_timeout_ns = seconds(10);
    o.tweak = [](aether::sim::SimConfig& c) { c.failure_detection_ns = seconds(60); };
  });
  bool paused = false;
  NodeId holder;
  world.recorder.on_slice_start = [&](const NodeId& node, const std::string& artifact,
                                      aether::sim::SliceOp op) {
    if (paused || artifact != kCart || op != aether::sim::SliceOp::Load) return;
    paused = true;
    holder = node;
  };
  world.put_blueprint(one_slice_blueprint("data", kDb, 1));  // occupies node-1, the leader
  require_converged(world, seconds(60));
  world.put_blueprint(one_slice_blueprint("shop", kCart, 1));
  REQUIRE(world.run_until([&] { return world.count_in(kCart, SliceState::Loaded) == 1; }, seconds(30)));
  REQUIRE(paused);
  REQUIRE(holder != "node-1");
  world.cluster->pause(holder);  // it will not answer the ACTIVATE the leader writes now
  REQUIRE(world.run_until([&] { return world.count_in(kCart, SliceState::Activate) == 1; }, seconds(5)));
  world.run_for(seconds(25));
  CHECK(world.recorder.counter("resent-commands") >= 1);
  world.cluster->resume(holder);
  require_converged(world, seconds(60));
  require_safe(world);
}

TEST_CASE("e2e: a node without quorum writes nothing") {
  TestWorld world(3);
  world.put_blueprint(one_slice_blueprint("shop", kCart, 3));
  require_converged(world, seconds(60));
  world.cluster->isolate("node-3");
  world.run_for(seconds(3));
  REQUIRE_FALSE(world.cluster->has_quorum("node-3"));
  const auto before = world.recorder.submits.size();
  std::size_t from_node3 = 0;
  world.run_for(seconds(30));
  for (std::size_t i = before; i < world.recorder.submits.size(); ++i) {
    from_node3 += world.recorder.submits[i].node == "node-3" ? 1 : 0;
  }
  CHECK(from_node3 == 0);
  CHECK(world.cluster->slice_holdings("node-3").size() == 1);  // it keeps what it had loaded
  world.cluster->heal();
  require_converged(world, seconds(90));
  require_safe(world);
}

TEST_CASE("e2e: a blueprint not fully ACTIVE within blueprint_processing_timeout is reported") {
  TestWorld world(3, [](WorldOptions& o) { o.config.blueprint_processing_timeout_ns = seconds(20); });
  world.cluster->set_slice_failure_rule({kDb, aether::sim::FailurePhase::Load, 0, aether::sim::kPpmOne});
  world.put_blueprint(one_slice_blueprint("data", kDb, 1));
  world.put_blueprint(one_slice_blueprint("shop", kCart, 2));
  world.run_for(seconds(40));
  CHECK(world.recorder.counter("blueprints-over-processing-timeout") == 1);  // data only
  CHECK(world.count_in(kCart, SliceState::Active) == 2);
  require_safe(world);
}

TEST_CASE("e2e: unparseable slice values count as transient failures and become fatal after the maximum") {
  TestWorld world(3, [](WorldOptions& o) { o.config.transient_retry_max = 3; });
  world.put_blueprint(one_slice_blueprint("shop", kCart, 1));
  require_converged(world, seconds(60));
  auto failed = [&] {
    auto t = parse_slice_target(world.cluster->canonical_store().at(slice_target_key(kCartBase)));
    return t && t->failed;
  };
  // Consecutive: no ACTIVE report of the artifact comes between them (an
  // ACTIVE resets the count).
  CHECK_FALSE(failed());
  for (int i = 1; i <= 3; ++i) world.put(slice_key("node-" + std::to_string(i), kCart), "garbage");
  REQUIRE(world.run_until(failed, seconds(10)));
  CHECK(world.recorder.counter("retries") == 3);
  CHECK(world.recorder.counter("malformed-values") >= 3);
  require_safe(world);
}
