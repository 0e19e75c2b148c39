// End-to-end regressions for the engine bugs of issue 10 ("the engine bugs a
// hostile world exposes"): each case is red on the engine before its fix.
// Bugs reproduced with ordinary scenario files also ship as
// scenarios/regression-*.json.
#include "tests/engine/e2e_test_util.h"

using namespace aether::engine;
using namespace aether::engine::testing;

namespace {

std::optional<SliceTarget> target_of(const TestWorld& world, const std::string& base) {
  const auto& store = world.cluster->canonical_store();
  auto it = store.find(slice_target_key(base));
  if (it == store.end()) return std::nullopt;
  return parse_slice_target(it->second);
}

}  // namespace

TEST_CASE("e2e issue 10 bug 2: a rejected blueprint update changes nothing") {
  TestWorld world(3);
  world.put_blueprint(R"({"id": "shop", "slices": [
    {"artifact": "org.example:cart:1.0.0", "instances": 2},
    {"artifact": "org.example:db:1.0.0", "instances": 1}]})");
  world.put_blueprint(one_slice_blueprint("other", kWeb, 1));
  require_converged(world, seconds(60));
  // Lists web (owned by "other"): rejected as a whole.
  world.put_blueprint(R"({"id": "shop", "slices": [
    {"artifact": "org.example:cart:2.0.0", "instances": 3},
    {"artifact": "org.example:web:1.0.0", "instances": 1}]})");
  world.run_for(seconds(30));
  CHECK(world.recorder.counter("rejected-blueprints") >= 1);
  auto cart = target_of(world, kCartBase);
  REQUIRE(cart);
  CHECK(cart->owner == "shop");
  CHECK(cart->version == "1.0.0");
  CHECK(cart->instances == 2);
  auto db = target_of(world, "org.example:db");
  REQUIRE(db);
  CHECK(db->owner == "shop");
  CHECK(world.count_in(kCart, SliceState::Active) == 2);
  CHECK(world.live(kCart2) == 0);
  CHECK(world.count_in(kDb, SliceState::Active) == 1);
  CHECK(world.count_in(kWeb, SliceState::Active) == 1);
  // A new leader recovers the same from the store.
  world.cluster->crash("node-1");
  world.run_for(seconds(30));
  CHECK(world.count_in(kCart, SliceState::Active) == 2);
  CHECK(world.live(kCart2) == 0);
  CHECK(world.count_in(kDb, SliceState::Active) == 1);
  world.cluster->restart("node-1");
  world.run_for(seconds(10));
  // Once "other" is gone the value is accepted: cart moves to 2.0.0, db goes.
  world.remove_blueprint("other");
  REQUIRE(world.run_until(
      [&] {
        return world.count_in(kCart2, SliceState::Active) == 3 && world.live(kCart) == 0 &&
               world.live(kDb) == 0 && world.count_in(kWeb, SliceState::Active) == 1;
      },
      seconds(60)));
  require_safe(world);
}

TEST_CASE("e2e issue 10 bug 3: a move's break step never takes ACTIVE below min_available") {
  const std::string a = "org.example:a:1.0.0";
  const std::string b = "org.example:b:1.0.0";
  TestWorld world(3, [](WorldOptions& o) {
    o.config.reconciliation = ReconciliationStrategy::Aggressive;
    o.config.reconciliation_interval_ns = seconds(3600);
    o.tweak = [](aether::sim::SimConfig& c) {
      c.slices.load = {seconds(5), seconds(5)};
      c.slices.activate = {millis(10), millis(10)};
    };
  });
  world.put_blueprint(R"({"id": "shop", "slices": [
    {"artifact": "org.example:a:1.0.0", "instances": 3, "min_available": 3},
    {"artifact": "org.example:b:1.0.0", "instances": 3}]})");
  require_converged(world, seconds(60));
  world.cluster->add_node("node-4");  // loads 2,2,2,0: a moves from node-1 to node-4
  REQUIRE(world.run_until([&] { return world.entries(a).count("node-4") == 1; }, seconds(10)));
  world.cluster->crash("node-2");  // holds an ACTIVE a
  REQUIRE(world.run_until(
      [&] {
        auto entries = world.entries(a);
        return entries.count("node-4") && entries.at("node-4").state == SliceState::Active;
      },
      seconds(20)));
  int lowest = 3;
  world.run_until(
      [&] {
        lowest = std::min(lowest, world.count_in(a, SliceState::Active));
        return false;
      },
      seconds(10));
  CHECK(lowest == 3);
  CHECK(world.entries(a).count("node-1") == 1);  // the source stayed
  CHECK(world.recorder.counter("moves-kept-source") == 1);
  require_converged(world, seconds(60));
  require_safe(world);
}

TEST_CASE("e2e issue 10 bug 12: round-robin placement over busy nodes places every instance at once") {
  TestWorld world(5, [](WorldOptions& o) { o.config.reconciliation_interval_ns = seconds(3600); });
  world.put_blueprint(one_slice_blueprint("base", "org.example:base:1.0.0", 5));
  require_converged(world, seconds(60));
  for (int instances : {4, 5}) {
    if (instances == 4) {
      world.put_blueprint(one_slice_blueprint("shop", kCart, 4));
    } else {
      REQUIRE(world.scale(kCartBase, 2));
      REQUIRE(world.run_until([&] { return world.live(kCart) == 2; }, seconds(20)));
      REQUIRE(world.scale(kCartBase, 5));
    }
    // One reconcile places them all: no wait for the periodic one (1h).
    CHECK(world.run_until([&] { return world.live(kCart) == instances; }, seconds(3)));
    require_converged(world, seconds(30));
    CHECK(world.count_in(kCart, SliceState::Active) == instances);
  }
  require_safe(world);
}

TEST_CASE("e2e issue 10 bug 8: failure accounting survives scales and counts a duplicate FAILED once") {
  SECTION("a duplicate FAILED commit is one failure") {
    TestWorld world(3, [](WorldOptions& o) { o.config.transient_retry_max = 2; });
    world.put_blueprint(one_slice_blueprint("shop", kCart, 1));
    require_converged(world, seconds(60));
    const auto node = world.entries(kCart).begin()->first;
    const auto failed = encode_slice_value({SliceState::Failed, std::string("boom"), false});
    // The same FAILED committed twice in a row (a duplicate commit).
    world.write(
        {KvCommand::put(slice_key(node, kCart), failed), KvCommand::put(slice_key(node, kCart), failed)});
    require_converged(world, seconds(60));
    CHECK(world.recorder.counter("retries") == 1);
    auto target = target_of(world, kCartBase);
    REQUIRE(target);
    CHECK_FALSE(target->failed);
    CHECK(world.count_in(kCart, SliceState::Active) == 1);
  }
  SECTION("a client scale resets neither the transient counter nor the failed flag") {
    TestWorld world(3, [](WorldOptions& o) {
      o.config.transient_retry_max = 3;
      o.tweak = [](aether::sim::SimConfig& c) { c.slices.load = {millis(100), millis(100)}; };
    });
    world.cluster->set_slice_failure_rule({kCart, aether::sim::FailurePhase::Load, aether::sim::kPpmOne, 0});
    world.put_blueprint(one_slice_blueprint("shop", kCart, 1));
    for (int i = 0; i < 8; ++i) {
      world.run_for(seconds(1));
      REQUIRE(world.scale(kCartBase, 1));
    }
    world.run_for(seconds(2));
    auto target = target_of(world, kCartBase);
    REQUIRE(target);
    CHECK(target->failed);
    // A scale that copies an unfailed target back (read before the flag
    // committed) does not clear it.
    auto cleared = *target;
    cleared.failed = false;
    cleared.instances = 2;
    world.put(slice_target_key(kCartBase), encode_slice_target(cleared));
    world.cluster->set_slice_failure_rule({kCart, aether::sim::FailurePhase::Load, 0, 0});
    world.run_for(seconds(20));
    CHECK(world.live(kCart) == 0);
    target = target_of(world, kCartBase);
    REQUIRE(target);
    CHECK(target->failed);
    CHECK(target->instances == 2);
    // A put of the owner blueprint clears it.
    world.put_blueprint(one_slice_blueprint("shop", kCart, 2));
    CHECK(world.run_until(
        [&] {
          auto t = target_of(world, kCartBase);
          return t && !t->failed;
        },
        seconds(10)));
    require_converged(world, seconds(60));
    CHECK(world.count_in(kCart, SliceState::Active) == 2);
    require_safe(world);
  }
}

TEST_CASE("e2e issue 10 bug 7: node-lifecycle of a node out of the leader's view is removed once") {
  TestWorld world(5, [](WorldOptions& o) {
    o.config.reconciliation_interval_ns = seconds(3600);
    o.config.leader_timeout_ns = seconds(3 * 3600);  // node-4 keeps node-1 as its leader
  });
  world.put_blueprint(one_slice_blueprint("shop", kCart, 3));
  require_converged(world, seconds(60));
  world.cluster->link("node-1", "node-4", aether::sim::LinkRule{aether::sim::kPpmOne, 0});
  world.run_for(seconds(120));
  std::size_t lifecycle_removes = 0;
  std::size_t ndm_registrations = 0;
  for (const auto& submit : world.recorder.submits) {
    for (const auto& command : submit.commands) {
      if (command.key != node_lifecycle_key("node-4")) continue;
      if (submit.writer == "cdm" && command.op == KvOp::Remove) ++lifecycle_removes;
      if (submit.writer == "ndm" && command.op == KvOp::Put) ++ndm_registrations;
    }
  }
  CHECK(lifecycle_removes == 1);
  CHECK(ndm_registrations == 2);  // at start, and once after the removal
  CHECK(world.leader() == std::string("node-1"));
  CHECK(world.entries(kCart).count("node-4") == 0);
  world.cluster->heal();
  require_converged(world, seconds(60));
  require_safe(world);
}

TEST_CASE("e2e issue 10 bug 1: reordered quorum notifications never leave a node Dormant with quorum") {
  // node-3 runs cart; it is isolated and healed while its engine-facing
  // quorum notifications are reordered (sim fault point).
  auto run = [](bool hold_lost) {
    TestWorld world(3);
    world.put_blueprint(one_slice_blueprint("shop", kCart, 3));
    require_converged(world, seconds(60));
    if (hold_lost) world.cluster->set_quorum_reorder("node-3", aether::sim::kPpmOne);
    world.cluster->isolate("node-3");
    REQUIRE(world.run_until([&] { return !world.cluster->has_quorum("node-3"); }, seconds(5)));
    world.run_for(millis(500));
    // hold_lost: the Lost event is held and arrives after the newer
    // Established (stale). Otherwise the Established event is held and
    // arrives after the restore.
    if (!hold_lost) world.cluster->set_quorum_reorder("node-3", aether::sim::kPpmOne);
    world.cluster->heal();
    REQUIRE(world.run_until([&] { return world.cluster->has_quorum("node-3"); }, seconds(5)));
    world.cluster->set_quorum_reorder("node-3", 0);
    // node-3's cart was removed while it was cut off; it must serve again.
    require_converged(world, seconds(60));
    CHECK(world.count_in(kCart, SliceState::Active) == 3);
    CHECK(world.entries(kCart).count("node-3") == 1);
    require_safe(world);
  };
  SECTION("a stale Lost arriving after Established is ignored") {
    run(true);
  }
  SECTION("a restore arriving before its Established is recorded") {
    run(false);
  }
}

TEST_CASE("e2e issue 10 bug 1: seeds with reordered quorum notifications on every node converge") {
  for (std::uint64_t seed = 1; seed <= 8; ++seed) {
    INFO("seed " << seed);
    TestWorld world(5, [seed](WorldOptions& o) { o.seed = seed; });
    for (const auto& node : world.cluster->configured_nodes()) {
      world.cluster->set_quorum_reorder(node, aether::sim::kPpmOne / 2);
    }
    world.put_blueprint(one_slice_blueprint("shop", kCart, 4));
    world.run_for(seconds(10));
    for (const char* node : {"node-1", "node-3", "node-5", "node-2"}) {
      world.cluster->isolate(node);
      world.run_for(millis(1500 + 700 * static_cast<int>(seed % 3)));
      world.cluster->heal();
      world.run_for(seconds(3));
    }
    for (const auto& node : world.cluster->configured_nodes()) world.cluster->set_quorum_reorder(node, 0);
    require_converged(world, seconds(120));
    CHECK(world.count_in(kCart, SliceState::Active) == 4);
    require_safe(world);
  }
}

TEST_CASE("e2e issue 10 bug 4: a command inherited at activation is re-sent by the new leader") {
  TestWorld world(3, [](WorldOptions& o) {
    o.tweak = [](aether::sim::SimConfig& c) { c.slices.load = {seconds(5), seconds(5)}; };
  });
  world.put_blueprint(one_slice_blueprint("shop", kCart, 2));
  require_converged(world, seconds(60));
  REQUIRE(world.entries(kCart).count("node-3") == 0);
  REQUIRE(world.scale(kCartBase, 3));
  const auto key = slice_key("node-3", kCart);
  REQUIRE(world.run_until([&] { return history_has(world, key, SliceState::Loaded); }, seconds(20)));
  // node-3's NDM writes are lost from now on: it never answers the ACTIVATE.
  world.cluster->set_lost_submit_rule("node-3", "ndm", aether::sim::kPpmOne);
  REQUIRE(world.run_until([&] { return history_has(world, key, SliceState::Activate); }, seconds(5)));
  world.cluster->crash("node-1");  // the leader that wrote it
  // node-3's chain gives up after its write retries (about 94s).
  world.run_for(seconds(120));
  world.cluster->set_lost_submit_rule("node-3", "ndm", 0);
  REQUIRE(world.entries(kCart).at("node-3").state == SliceState::Activate);
  // Far below anything periodic: the new leader re-sends its inherited ACTIVATE.
  CHECK(world.run_until([&] { return world.entries(kCart).at("node-3").state == SliceState::Active; },
                        seconds(60)));
  require_converged(world, seconds(120));
  CHECK(world.count_in(kCart, SliceState::Active) == 2);  // node-1 is down
  CHECK(world.recorder.counter("resent-commands") >= 1);
  require_safe(world);
}

TEST_CASE("e2e issue 10 bug 11: the blueprint processing timeout is re-armed after a failover") {
  TestWorld world(3);
  // cart never loads: "shop" can never be fully ACTIVE.
  world.cluster->set_slice_failure_rule({kCart, aether::sim::FailurePhase::Load, aether::sim::kPpmOne, 0});
  world.put_blueprint(one_slice_blueprint("shop", kCart, 2));
  world.put_blueprint(one_slice_blueprint("fine", kWeb, 2));
  REQUIRE(world.run_until([&] { return world.count_in(kWeb, SliceState::Active) == 2; }, seconds(20)));
  world.cluster->crash("node-1");  // the leader that armed the timer
  world.run_for(seconds(5 * 60));
  CHECK(world.recorder.counter("blueprints-over-processing-timeout") == 1);  // shop only
  require_safe(world);
}

TEST_CASE("e2e issue 10 bug 10: after giving up on a write the NDM re-scans its key") {
  TestWorld world(3, [](WorldOptions& o) {
    o.tweak = [](aether::sim::SimConfig& c) { c.slices.load = {seconds(5), seconds(5)}; };
  });
  world.put_blueprint(one_slice_blueprint("shop", kCart, 2));
  require_converged(world, seconds(60));
  REQUIRE(world.entries(kCart).count("node-3") == 0);
  REQUIRE(world.scale(kCartBase, 3));
  const auto key = slice_key("node-3", kCart);
  REQUIRE(world.run_until([&] { return history_has(world, key, SliceState::Loading); }, seconds(10)));
  // The LOADED write (after the 5s load) and its retries are lost: the NDM gives up.
  world.cluster->set_lost_submit_rule("node-3", "ndm", aether::sim::kPpmOne);
  world.run_for(seconds(110));
  world.cluster->set_lost_submit_rule("node-3", "ndm", 0);
  REQUIRE(world.entries(kCart).at("node-3").state == SliceState::Loading);
  // Far below the leader's stuck bound for LOADING (3 x 2m from LOADING).
  CHECK(world.run_until([&] { return world.entries(kCart).at("node-3").state == SliceState::Active; },
                        seconds(60)));
  CHECK(world.recorder.counter("stuck-cleanups") == 0);
  require_converged(world, seconds(60));
  CHECK(world.count_in(kCart, SliceState::Active) == 3);
  require_safe(world);
}

TEST_CASE("e2e issue 10: a write the NDM drops as illegal is counted") {
  TestWorld world(3, [](WorldOptions& o) {
    o.tweak = [](aether::sim::SimConfig& c) { c.slices.deactivate = {seconds(2), seconds(2)}; };
  });
  world.put_blueprint(one_slice_blueprint("shop", kCart, 3));
  require_converged(world, seconds(60));
  CHECK(world.recorder.counter("ndm.dropped_illegal_write") == 0);
  const auto key = slice_key("node-3", kCart);
  world.put(key, encode_slice_value({SliceState::Deactivate, {}, false}));
  REQUIRE(world.run_until(
      [&] {
        auto entries = world.entries(kCart);
        return entries.count("node-3") && entries.at("node-3").state == SliceState::Deactivating;
      },
      seconds(2)));
  // A late ACTIVATING on top of DEACTIVATING: the chain's LOADED is no edge.
  world.put(key, encode_slice_value({SliceState::Activating, {}, false}));
  world.run_for(seconds(3));
  CHECK(world.recorder.counter("ndm.dropped_illegal_write") == 1);
  require_converged(world, seconds(60));
  require_safe(world);
}

TEST_CASE("e2e issue 10 bug 9: a write that never resolves stalls only its own key") {
  TestWorld world(3, [](WorldOptions& o) {
    o.config.timeouts.activating_ns = seconds(5);  // stuck after 15s ACTIVATING
    o.config.reconciliation_interval_ns = seconds(5);
    o.tweak = [](aether::sim::SimConfig& c) { c.slices.activate = {seconds(5), seconds(5)}; };
  });
  world.put_blueprint(R"({"id": "shop", "slices": [
    {"artifact": "org.example:cart:1.0.0", "instances": 3},
    {"artifact": "org.example:web:1.0.0", "instances": 3}]})");
  require_converged(world, seconds(60));
  const auto web_key = slice_key("node-3", kWeb);
  const auto cart_key = slice_key("node-3", kCart);
  const auto activating_before = world.recorder.history[web_key].size();
  // web on node-3 goes through DEACTIVATE, LOADED, ACTIVATE, ACTIVATING (5s).
  world.put(web_key, encode_slice_value({SliceState::Deactivate, {}, false}));
  REQUIRE(world.run_until(
      [&] {
        const auto& h = world.recorder.history[web_key];
        return h.size() > activating_before + 2 &&
               parse_slice_value(h.back())->state == SliceState::Activating;
      },
      seconds(10)));
  // While it activates, node-3's next write (cart's DEACTIVATING) never resolves.
  world.cluster->lose_next_submit("node-3", "ndm");
  world.put(cart_key, encode_slice_value({SliceState::Deactivate, {}, false}));
  // web's ACTIVE write does not wait for cart's (30s write timeout).
  CHECK(world.run_until([&] { return world.entries(kWeb).at("node-3").state == SliceState::Active; },
                        seconds(8)));
  require_converged(world, seconds(120));
  CHECK(world.recorder.counter("stuck-cleanups") == 0);
  require_safe(world);
}

TEST_CASE("e2e issue 10 bug 5: a lost Remove of an unparseable slice value is issued again") {
  TestWorld world(3);
  world.put_blueprint(one_slice_blueprint("shop", kCart, 3));
  require_converged(world, seconds(60));
  REQUIRE(world.leader() == std::string("node-1"));
  const auto key = slice_key("node-3", kCart);
  world.cluster->lose_next_submit("node-1", "cdm");  // the leader's Remove of it
  world.put(key, "{oops");
  REQUIRE(world.run_until([&] { return world.cluster->canonical_store().at(key) == "{oops"; }, seconds(5)));
  // Write timeout (30s), then a reconcile: long before any failover.
  CHECK(world.run_until([&] { return world.cluster->canonical_store().count(key) == 0; }, seconds(60)));
  require_converged(world, seconds(60));
  CHECK(world.count_in(kCart, SliceState::Active) == 3);
  CHECK(world.leader() == std::string("node-1"));
  require_safe(world);
}

TEST_CASE("e2e issue 10 bug 6: a re-send due with the write timeout is not submitted after the revert") {
  // command_timeout == write_timeout (both 30s): the LOAD's re-send and its
  // batch's write timeout fall on the same instant.
  TestWorld world(3);
  world.put_blueprint(one_slice_blueprint("shop", kCart, 2));
  require_converged(world, seconds(60));
  REQUIRE(world.leader() == std::string("node-1"));
  const auto key = slice_key("node-3", kCart);
  world.cluster->lose_next_submit("node-1", "cdm");  // the batch with the LOAD never resolves
  REQUIRE(world.scale(kCartBase, 3));
  REQUIRE(world.run_until([&] { return world.cluster->client_writes_idle(); }, seconds(5)));
  const Nanos scaled = world.cluster->now();
  require_converged(world, seconds(120));
  // The lost batch timed out 30s after its submit and its LOAD was reverted:
  // the next LOAD submitted is the reconcile's, 5s later, tracked as its own
  // (not the re-send queued at the same instant as the timeout).
  std::vector<Nanos> loads;
  for (const auto& submit : world.recorder.submits) {
    if (submit.writer != "cdm") continue;
    for (const auto& command : submit.commands) {
      if (command.key == key && command.op == KvOp::Put &&
          parse_slice_value(command.value)->state == SliceState::Load)
        loads.push_back(submit.at);
    }
  }
  REQUIRE(loads.size() == 1);
  CHECK(loads[0] - scaled >= seconds(34));
  CHECK(world.count_in(kCart, SliceState::Active) == 3);
  require_safe(world);
}

TEST_CASE("e2e issue 10: stuck detection runs on a per-entry timer, not only in reconcile") {
  TestWorld world(3, [](WorldOptions& o) {
    o.config.reconciliation_interval_ns = seconds(3600);
    o.config.timeouts.loading_ns = seconds(10);  // stuck after 30s LOADING
    o.tweak = [](aether::sim::SimConfig& c) { c.slices.load = {seconds(100), seconds(100)}; };
  });
  world.put_blueprint(one_slice_blueprint("shop", kCart, 1));
  const auto node = [&] { return world.entries(kCart).begin()->first; };
  REQUIRE(world.run_until(
      [&] {
        return !world.entries(kCart).empty() && world.entries(kCart).at(node()).state == SliceState::Loading;
      },
      seconds(5)));
  const Nanos loading_at = world.cluster->now();
  // Nothing else makes the leader reconcile: the entry's own timer does.
  REQUIRE(world.run_until([&] { return world.recorder.counter("stuck-cleanups") >= 1; }, seconds(45)));
  CHECK(world.cluster->now() - loading_at >= seconds(30));
  CHECK(world.cluster->now() - loading_at <= seconds(32));
  require_safe(world);
}

TEST_CASE(
    "e2e issue 10: seeds with lost engine submits and reordered quorum events converge once faults stop") {
  // 400 seeds pass (about 2s); the suite keeps 40.
  for (std::uint64_t seed = 1; seed <= 40; ++seed) {
    INFO("seed " << seed);
    TestWorld world(5, [seed](WorldOptions& o) {
      o.seed = seed;
      o.config.write_timeout_ns = seconds(5);
      o.config.command_timeout_ns = seconds(10);
      if (seed % 3 == 0) o.config.reconciliation = ReconciliationStrategy::Aggressive;
    });
    for (const auto& node : world.cluster->configured_nodes()) {
      world.cluster->set_quorum_reorder(node, aether::sim::kPpmOne / 3);
    }
    world.cluster->set_lost_submit_rule("", "cdm", 100000);
    world.cluster->set_lost_submit_rule("", "ndm", 100000);
    world.put_blueprint(R"({"id": "shop", "slices": [
      {"artifact": "org.example:web:1.0.0", "instances": 3, "depends_on": ["org.example:db:1.0.0"]},
      {"artifact": "org.example:cart:1.0.0", "instances": 2},
      {"artifact": "org.example:db:1.0.0", "instances": 2}]})");
    world.put_blueprint(one_slice_blueprint("other", "org.example:other:1.0.0", 2));
    world.run_for(seconds(8));
    world.cluster->isolate(seed % 2 == 0 ? "node-1" : "node-4");
    world.run_for(seconds(4));
    world.cluster->heal();
    // A rejected update of "shop" (it lists other's base) in the middle.
    world.put_blueprint(R"({"id": "shop", "slices": [
      {"artifact": "org.example:cart:2.0.0", "instances": 3},
      {"artifact": "org.example:other:1.0.0", "instances": 1}]})");
    world.run_for(seconds(5));
    world.cluster->crash("node-2");
    world.run_for(seconds(6));
    world.cluster->restart("node-2");
    world.run_for(seconds(10));
    world.cluster->set_lost_submit_rule("", "cdm", 0);
    world.cluster->set_lost_submit_rule("", "ndm", 0);
    for (const auto& node : world.cluster->configured_nodes()) world.cluster->set_quorum_reorder(node, 0);
    world.run_for(seconds(20));  // held quorum events are released
    require_converged(world, seconds(300));
    CHECK(world.count_in(kCart, SliceState::Active) == 2);
    CHECK(world.live(kCart2) == 0);
    CHECK(world.count_in(kDb, SliceState::Active) == 2);
    require_safe(world);
  }
}
