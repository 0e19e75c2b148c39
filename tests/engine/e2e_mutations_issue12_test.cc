// The mutation points of issue 12, one per component that had none: each a
// schedule on which the correct engine does the right thing and the mutant
// visibly does not (so none is an equivalent mutant).
#include "engine/mutations.h"
#include "tests/engine/e2e_test_util.h"

using namespace aether::engine;
using namespace aether::engine::testing;

namespace {
using Mutation = std::optional<std::string>;

// The leader node-1's quorum notifications are always held back (delivered
// after the next one, or 2 x failure_detection later): isolated and healed
// at once, it sees Established, then the stale Lost; the followers keep it
// as leader (leader_timeout 10s). The node whose CDM is Active a minute on.
std::optional<NodeId> leader_after_reordered_heal(Mutation mutation) {
  TestWorld world(3,
                  with_mutation(mutation, [](WorldOptions& o) { o.config.leader_timeout_ns = seconds(10); }));
  world.put_blueprint(one_slice_blueprint("shop", kCart, 3));
  REQUIRE(world.run_until_converged(seconds(60)));
  world.cluster->set_quorum_reorder("node-1", aether::sim::kPpmOne);
  world.cluster->isolate("node-1");
  world.run_for(millis(1500));
  world.cluster->heal();
  world.run_for(seconds(10));
  world.cluster->set_quorum_reorder("node-1", 0);
  world.run_for(seconds(50));
  return world.leader();
}

// Every node's first leader proposal is lost: only a retry elects one.
std::optional<NodeId> leader_after_lost_proposals(Mutation mutation) {
  TestWorld world(3, with_mutation(mutation));
  for (const auto& node : world.cluster->configured_nodes())
    world.cluster->lose_next_submit(node, "leader-manager");
  world.run_for(seconds(20));
  return world.leader();
}

// node-1 leads, is cut off (quorum lost: its CDM deactivates), node-2 takes
// over, the partition heals: the cdm batches node-1 submits afterwards.
std::size_t deposed_leader_submits(Mutation mutation) {
  TestWorld world(
      3, with_mutation(mutation, [](WorldOptions& o) { o.config.reconciliation_interval_ns = seconds(5); }));
  world.put_blueprint(one_slice_blueprint("shop", kCart, 2));
  REQUIRE(world.run_until_converged(seconds(60)));
  REQUIRE(world.leader() == std::string("node-1"));
  world.cluster->isolate("node-1");
  world.run_for(seconds(30));
  world.cluster->heal();
  const auto healed = world.cluster->now();
  world.run_for(seconds(60));
  std::size_t n = 0;
  for (const auto& s : world.recorder.submits)
    n += (s.writer == "cdm" && s.node == "node-1" && s.at > healed);
  return n;
}

// Six transient failures of one artifact (unparseable values written by a
// client), each after the instance was ACTIVE again: whether the CDM ends up
// marking it failed (transient_retry_max is 5 consecutive failures).
bool marked_failed_after_sporadic_failures(Mutation mutation) {
  TestWorld world(3, with_mutation(mutation));
  world.put_blueprint(one_slice_blueprint("shop", kCart, 1));
  REQUIRE(world.run_until_converged(seconds(60)));
  for (int i = 0; i < 6; ++i) {
    if (world.entries(kCart).empty()) break;
    const NodeId holder = world.entries(kCart).begin()->first;
    world.put(slice_key(holder, kCart), "not a slice value");
    world.run_for(seconds(5));
    world.run_until([&] { return world.count_in(kCart, SliceState::Active) == 1; }, seconds(60));
  }
  world.run_for(seconds(10));
  auto target = parse_slice_target(world.cluster->canonical_store().at(slice_target_key(kCartBase)));
  return target && target->failed;
}

// The leader and a node holding an instance crash at once: the leader
// never removes that node's keys, its successor only can (its activation
// re-check). Whether the key is still in the store a minute later.
bool departed_key_left(Mutation mutation) {
  TestWorld world(5, with_mutation(mutation));
  world.put_blueprint(one_slice_blueprint("shop", kCart, 4));
  REQUIRE(world.run_until_converged(seconds(60)));
  NodeId victim;
  for (const auto& [node, value] : world.entries(kCart))
    if (node != "node-1" && node != "node-2") victim = node;
  REQUIRE(!victim.empty());
  world.cluster->crash("node-1");
  world.cluster->crash(victim);
  world.run_for(seconds(60));
  return world.entries(kCart).count(victim) > 0;
}

// Blueprint "zeta" owns cart; "alpha", decided later, lists cart and db and
// is rejected. A client overwrites cart's slice-target with an unparseable
// value, so ownership is judged from the blueprints alone (as
// scenarios/regression-ownership-by-decided-position.json): whether "alpha"
// gets a slice-target for db.
bool later_blueprint_accepted(Mutation mutation) {
  TestWorld world(3, with_mutation(mutation));
  world.put_blueprint(one_slice_blueprint("zeta", kCart, 1));
  REQUIRE(world.run_until_converged(seconds(60)));
  world.put_blueprint(R"({"id": "alpha", "slices": [
    {"artifact": "org.example:cart:1.0.0", "instances": 2},
    {"artifact": "org.example:db:1.0.0", "instances": 1}]})");
  world.run_for(seconds(10));
  REQUIRE(world.cluster->canonical_store().count(slice_target_key("org.example:db")) == 0);
  world.put(slice_target_key(kCartBase), "not a slice-target");
  world.run_for(seconds(30));
  return world.cluster->canonical_store().count(slice_target_key("org.example:db")) > 0;
}

// As "a command inherited at activation is re-sent" (issue 10 bug 4): node-3
// never answers an ACTIVATE, the leader that wrote it crashes: the commands
// the new leader re-sends (the NDM's own rescan may answer meanwhile).
std::int64_t inherited_activate_resends(Mutation mutation) {
  TestWorld world(3, with_mutation(mutation, [](WorldOptions& o) {
                    o.tweak = [](aether::sim::SimConfig& c) { c.slices.load = {seconds(5), seconds(5)}; };
                  }));
  world.put_blueprint(one_slice_blueprint("shop", kCart, 2));
  REQUIRE(world.run_until_converged(seconds(60)));
  REQUIRE(world.entries(kCart).count("node-3") == 0);
  REQUIRE(world.scale(kCartBase, 3));
  const auto key = slice_key("node-3", kCart);
  REQUIRE(world.run_until([&] { return history_has(world, key, SliceState::Loaded); }, seconds(20)));
  world.cluster->set_lost_submit_rule("node-3", "ndm", aether::sim::kPpmOne);
  REQUIRE(world.run_until([&] { return history_has(world, key, SliceState::Activate); }, seconds(5)));
  world.cluster->crash("node-1");
  world.run_for(seconds(120));
  world.cluster->set_lost_submit_rule("node-3", "ndm", 0);
  world.run_for(seconds(60));
  return world.recorder.counter("resent-commands");
}

// A client rewrites an ACTIVE key to LOAD twice in a row (the second a
// "re-sent" command after the NDM answered the first): the NDM's writes that
// are not lifecycle edges from what it applied.
std::size_t ndm_illegal_writes(Mutation mutation) {
  TestWorld world(3, with_mutation(mutation, [](WorldOptions& o) {
                    o.tweak = [](aether::sim::SimConfig& c) {
                      c.slices.deactivate = {seconds(2), seconds(2)};
                    };
                  }));
  world.put_blueprint(one_slice_blueprint("shop", kCart, 1));
  REQUIRE(world.run_until_converged(seconds(60)));
  const NodeId holder = world.entries(kCart).begin()->first;
  const auto key = slice_key(holder, kCart);
  const auto load = encode_slice_value({SliceState::Load, std::nullopt, false});
  world.put(key, load);
  REQUIRE(world.run_until([&] { return world.entries(kCart).at(holder).state == SliceState::Loading; },
                          seconds(5)));
  world.put(key, load);  // re-sent while the chain deactivates
  world.run_for(seconds(30));
  return world.recorder.lifecycle_violations.size() + world.recorder.asserts.size();
}

// node-3 is cut off while it holds cart; the leader removes its keys; node-3
// comes back: whether it still holds the slice its keys no longer name.
bool unowned_slice_kept_after_regain(Mutation mutation) {
  TestWorld world(3, with_mutation(mutation));
  world.put_blueprint(one_slice_blueprint("shop", kCart, 3));
  REQUIRE(world.run_until_converged(seconds(60)));
  world.cluster->isolate("node-3");
  REQUIRE(world.run_until([&] { return world.entries(kCart).count("node-3") == 0; }, seconds(60)));
  REQUIRE(world.scale(kCartBase, 2));  // node-3 is not wanted back
  world.run_for(seconds(5));
  world.cluster->heal();
  world.run_for(seconds(60));
  const auto holdings = world.cluster->slice_holdings("node-3");
  auto it = holdings.find(kCart);
  return world.entries(kCart).count("node-3") == 0 && it != holdings.end() &&
         it->second != SliceHolding::NotHeld;
}
// Two clients put one blueprint 1ms apart, same version (2, then 3
// instances), under adversarial ordering: the CDM's slice-target derived from
// the first value is decided after the second. Whether the slice-target ends
// with the count of the blueprint value that committed last (the CDM's echo
// is as old as the value it was derived from).
bool target_follows_blueprint_over_stale_echo(Mutation mutation) {
  TestWorld world(4, with_mutation(mutation, [](WorldOptions& o) {
                    o.tweak = [](aether::sim::SimConfig& c) {
                      c.kv_order = aether::sim::KvOrderMode::Adversarial;
                    };
                  }));
  world.run_for(seconds(5));
  world.cluster->client_write("alice",
                              {KvCommand::put(blueprint_key("shop"), one_slice_blueprint("shop", kCart, 2))});
  world.run_for(millis(1));
  world.cluster->client_write("bob",
                              {KvCommand::put(blueprint_key("shop"), one_slice_blueprint("shop", kCart, 3))});
  world.run_for(seconds(30));
  return cart_target_follows_shop(world);
}

// As scenarios/blueprint-edit-across-failover.json: a client raises the
// count (1 -> 2) while the leader node-1 is isolated, and node-1 crashes; the
// slice-target (count 1) was decided before that blueprint value. The live
// count once the next leader has settled.
int live_after_edit_across_failover(Mutation mutation) {
  TestWorld world(5, with_mutation(mutation, [](WorldOptions& o) {
                    o.config.reconciliation_interval_ns = seconds(5);
                    o.tweak = [](aether::sim::SimConfig& c) {
                      c.failure_detection_ns = seconds(2);
                      c.kv_order = aether::sim::KvOrderMode::Adversarial;
                    };
                  }));
  world.put_blueprint(one_slice_blueprint("shop", kCart, 1));
  REQUIRE(world.run_until_converged(seconds(60)));
  REQUIRE(world.leader() == std::string("node-1"));
  world.cluster->isolate("node-1");
  world.put_blueprint(one_slice_blueprint("shop", kCart, 2));
  world.cluster->crash("node-1");
  world.run_for(millis(200));
  world.cluster->heal();
  world.cluster->restart("node-1");
  world.run_for(seconds(60));
  return world.live(kCart);
}
// As scenarios/dependency-on-paused-node.json: the leader node-1 is paused
// and node-2 crashes just before shopx1, which depends on shop0, is added.
// Polled every 10ms while node-1 is paused: whether a shopx1 entry was past
// LOADED (ACTIVATE or later) while shop0 was ACTIVE nowhere but on node-1
// and node-2 (out of every live view).
bool activated_on_dependency_out_of_view(Mutation mutation, std::uint64_t seed) {
  TestWorld world(4, with_mutation(mutation, [seed](WorldOptions& o) {
                    o.seed = seed;
                    o.config.reconciliation_interval_ns = seconds(5);
                    o.tweak = [](aether::sim::SimConfig& c) {
                      c.failure_detection_ns = seconds(2);
                      c.kv_order = aether::sim::KvOrderMode::Adversarial;
                    };
                  }));
  const std::string shop0 = "org.example:shop0:1.0.0";
  const std::string shopx1 = "org.example:shopx1:1.0.0";
  world.run_for(seconds(1));
  world.put_blueprint(one_slice_blueprint("shop", shop0, 2));
  world.run_for(seconds(9));
  world.cluster->pause("node-1");
  world.run_for(millis(38));
  world.cluster->crash("node-2");
  world.run_for(millis(348));
  world.put_blueprint(R"({"id": "shop", "slices": [
    {"artifact": "org.example:shop0:1.0.0", "instances": 2},
    {"artifact": "org.example:shopx1:1.0.0", "depends_on": ["org.example:shop0:1.0.0"], "instances": 3}]})");
  world.run_for(millis(349));
  world.cluster->heal();
  world.run_for(millis(14));
  world.cluster->restart("node-2");
  bool early = false;
  for (int i = 0; i < 800 && !early; ++i) {  // 8s, node-1 still paused
    world.run_for(millis(10));
    bool ready = false;
    for (const auto& [node, value] : world.entries(shop0))
      ready = ready || (node != "node-1" && node != "node-2" && value.state == SliceState::Active);
    for (const auto& [node, value] : world.entries(shopx1)) {
      const auto s = value.state;
      early =
          early ||
          (!ready && (s == SliceState::Activate || s == SliceState::Activating || s == SliceState::Active));
    }
  }
  return early;
}
}  // namespace

TEST_CASE("mutation lm-acts-on-stale-quorum-events: a stale Lost deactivates the leader for good") {
  CHECK(leader_after_reordered_heal(std::nullopt) == std::string("node-1"));
  CHECK(leader_after_reordered_heal(mutation::kStaleQuorumEvents) == std::nullopt);
}

TEST_CASE("mutation lm-no-propose-retry: lost first proposals leave the cluster without a leader") {
  CHECK(leader_after_lost_proposals(std::nullopt) == std::string("node-1"));
  CHECK(leader_after_lost_proposals(mutation::kNoProposeRetry) == std::nullopt);
}

TEST_CASE("mutation cdm-timers-survive-deactivation: a deposed leader keeps writing") {
  CHECK(deposed_leader_submits(std::nullopt) == 0);
  CHECK(deposed_leader_submits(mutation::kTimersSurviveDeactivation) > 0);
}

TEST_CASE("mutation cdm-transient-count-survives-active: sporadic transient failures add up to fatal") {
  CHECK_FALSE(marked_failed_after_sporadic_failures(std::nullopt));
  CHECK(marked_failed_after_sporadic_failures(mutation::kTransientCountSurvivesActive));
}

TEST_CASE("mutation cdm-departed-node-keys-kept: a crashed node's key stays in the store") {
  CHECK_FALSE(departed_key_left(std::nullopt));
  CHECK(departed_key_left(mutation::kDepartedNodeKeysKept));
}

TEST_CASE("mutation cdm-ownership-by-id-order: a later blueprint with a lower id takes an artifact") {
  CHECK_FALSE(later_blueprint_accepted(std::nullopt));
  CHECK(later_blueprint_accepted(mutation::kOwnershipByIdOrder));
}

TEST_CASE("mutation cdm-no-command-resend: an inherited ACTIVATE is never re-sent") {
  CHECK(inherited_activate_resends(std::nullopt) >= 1);
  CHECK(inherited_activate_resends(mutation::kNoCommandResend) == 0);
}

TEST_CASE("mutation ndm-skips-legality-recheck: the NDM commits a write that is no lifecycle edge") {
  CHECK(ndm_illegal_writes(std::nullopt) == 0);
  CHECK(ndm_illegal_writes(mutation::kNdmSkipsLegalityRecheck) > 0);
}

TEST_CASE("mutation ndm-skips-store-reconcile-on-regain: a healed node keeps a slice nobody wants") {
  CHECK_FALSE(unowned_slice_kept_after_regain(std::nullopt));
  CHECK(unowned_slice_kept_after_regain(mutation::kNdmSkipsStoreReconcileOnRegain));
}

TEST_CASE("mutation cdm-echo-counts-as-intent: the CDM's own stale echo beats a newer client blueprint") {
  CHECK(target_follows_blueprint_over_stale_echo(std::nullopt));
  CHECK_FALSE(target_follows_blueprint_over_stale_echo(mutation::kEchoCountsAsIntent));
}

TEST_CASE("mutation cdm-target-wins-over-newer-blueprint: a client's edit is lost across failover") {
  CHECK(live_after_edit_across_failover(std::nullopt) == 2);
  CHECK(live_after_edit_across_failover(mutation::kTargetWinsAtActivation) == 1);
}

TEST_CASE("mutation cdm-dependency-ready-out-of-view: a dependant activates on a dependency out of view") {
  // The seeds of the shipped scenario's sweep where the mutant activates early.
  int early = 0;
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    CHECK_FALSE(activated_on_dependency_out_of_view(std::nullopt, seed));
    early += activated_on_dependency_out_of_view(mutation::kDependencyOutOfView, seed) ? 1 : 0;
  }
  CHECK(early > 0);
}
