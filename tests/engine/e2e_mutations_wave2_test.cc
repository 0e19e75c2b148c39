// The mutation points that had only failing checks in tests/properties/
// (issue 12, second wave): each a schedule on which the correct engine does
// the right thing and the mutant visibly does not (so none is an equivalent
// mutant). Where a shipped scenario kills the point, the schedule mirrors it.
#include <algorithm>

#include "engine/mutations.h"
#include "engine/rollback.h"
#include "tests/engine/e2e_test_util.h"

using namespace aether::engine;
using namespace aether::engine::testing;

namespace {
using Mutation = std::optional<std::string>;

// The fewest entries of `artifacts` in `state` (summed) seen while `world`
// runs for `duration`.
int min_in_state_over(TestWorld& world, const std::vector<std::string>& artifacts, SliceState state,
                      Nanos duration) {
  auto count = [&] {
    int n = 0;
    for (const auto& artifact : artifacts) n += world.count_in(artifact, state);
    return n;
  };
  int least = count();
  world.run_until(
      [&] {
        least = std::min(least, count());
        return false;
      },
      duration);
  return least;
}

// Nodes whose canonical entries name both artifacts (any state).
int nodes_holding_both(const TestWorld& world, const std::string& a, const std::string& b) {
  const auto with_a = world.entries(a);
  int n = 0;
  for (const auto& [node, value] : world.entries(b)) n += with_a.count(node) > 0 ? 1 : 0;
  return n;
}

// As scenarios/three-clients-one-blueprint.json: three clients publish
// blueprint "shop" 1ms apart (cart 1.0.0 x2, 1.0.0 x3, 1.1.0 x4) under
// adversarial ordering. A test-local observer follows each node's applied
// position; at each CDM submit naming cart's slice-target it compares the
// target with the blueprint value that node had applied: the writes derived
// from a blueprint value the CDM had already seen replaced.
class StaleTargetWatcher : public aether::sim::WorldObserver {
 public:
  void on_decide(Nanos, std::uint64_t position, const aether::sim::BatchRecord& batch) override {
    for (const auto& command : batch.commands) {
      if (command.key != blueprint_key("shop")) continue;
      blueprint_at_[position] = command.op == KvOp::Put ? std::optional(command.value) : std::nullopt;
    }
  }
  void on_apply(Nanos, const NodeId& node, std::uint64_t position, std::uint64_t) override {
    applied_[node] = position;
  }
  void on_restore(Nanos, const NodeId& node, std::uint64_t position, std::uint64_t) override {
    applied_[node] = position;
  }
  void on_submit(Nanos, const aether::sim::BatchRecord& batch,
                 const aether::sim::Submitter& submitter) override {
    if (submitter.writer != "cdm") return;
    for (const auto& command : batch.commands) {
      if (command.key != slice_target_key(kCartBase) || command.op != KvOp::Put) continue;
      const auto target = parse_slice_target(command.value);
      const auto blueprint = applied_blueprint(submitter.node);
      if (!target || !blueprint) continue;
      const auto* slice = blueprint->find(*parse_artifact_base(kCartBase));
      ++target_writes;
      if (slice == nullptr || slice->artifact.version != target->version ||
          slice->instances != target->instances)
        ++stale_writes;
    }
  }
  int target_writes = 0;
  int stale_writes = 0;

 private:
  std::optional<Blueprint> applied_blueprint(const NodeId& node) const {
    auto at = applied_.find(node);
    if (at == applied_.end()) return std::nullopt;
    auto it = blueprint_at_.upper_bound(at->second);
    if (it == blueprint_at_.begin()) return std::nullopt;
    const auto& text = std::prev(it)->second;
    if (!text) return std::nullopt;
    auto parsed = parse_blueprint_text(*text);
    if (auto* blueprint = std::get_if<Blueprint>(&parsed)) return *blueprint;
    return std::nullopt;
  }
  std::map<std::uint64_t, std::optional<std::string>> blueprint_at_;
  std::map<NodeId, std::uint64_t> applied_;
};

int stale_target_writes(Mutation mutation, std::uint64_t seed) {
  TestWorld world(5, with_mutation(mutation, [seed](WorldOptions& o) {
                    o.seed = seed;
                    o.config.reconciliation_interval_ns = seconds(10);
                    o.tweak = [](aether::sim::SimConfig& c) {
                      c.kv_order = aether::sim::KvOrderMode::Adversarial;
                    };
                  }));
  StaleTargetWatcher watcher;
  world.cluster->add_observer(&watcher);
  world.run_for(seconds(5));
  const std::vector<std::pair<std::string, std::string>> puts = {
      {"alice", one_slice_blueprint("shop", kCart, 2)},
      {"bob", one_slice_blueprint("shop", kCart, 3)},
      {"carol", one_slice_blueprint("shop", "org.example:cart:1.1.0", 4)}};
  for (const auto& [client, value] : puts) {
    world.cluster->client_write(client, {KvCommand::put(blueprint_key("shop"), value)});
    world.run_for(millis(1));
  }
  world.run_for(seconds(60));
  INFO("seed " << seed << ": " << watcher.target_writes << " cart slice-target writes, "
               << watcher.stale_writes << " stale");
  return watcher.stale_writes;
}

// node-1 leads; a client writes `leader` = node-2. The nodes whose CDM is
// Active a while later.
std::vector<NodeId> active_after_client_names_leader(Mutation mutation) {
  TestWorld world(3, with_mutation(mutation));
  world.put_blueprint(one_slice_blueprint("shop", kCart, 2));
  require_converged(world, seconds(60));
  REQUIRE(world.leader() == std::string("node-1"));
  world.put(std::string(kLeaderKey), "node-2");
  world.run_for(seconds(20));
  return world.active_cdms();
}

// As scenarios/anti-affinity-too-few-nodes.json: 3 nodes, cache x2 and db x2
// anti-affine to cache. The nodes holding both a cache and a db entry.
int db_next_to_cache(Mutation mutation) {
  TestWorld world(
      3, with_mutation(mutation, [](WorldOptions& o) { o.config.reconciliation_interval_ns = seconds(10); }));
  world.put_blueprint(R"({"id": "shop", "slices": [
    {"artifact": "org.example:cache:1.0.0", "instances": 2},
    {"artifact": "org.example:db:1.0.0", "instances": 2, "anti_affinity": ["org.example:cache"]}]})");
  world.run_for(seconds(60));
  INFO("db entries: " << world.entries(kDb).size());
  return nodes_holding_both(world, "org.example:cache:1.0.0", kDb);
}

// As scenarios/capacity-exhausted-node-added.json: three 2000m nodes each run
// a 1000m worker; then batch (3 x 1500m) fits nowhere. The batch entries.
std::size_t batch_entries_on_full_nodes(Mutation mutation) {
  TestWorld world(3, with_mutation(mutation, [](WorldOptions& o) {
                    o.config.allocation = AllocationStrategy::ResourceAware;
                    o.config.reconciliation_interval_ns = seconds(10);
                    o.tweak = [](aether::sim::SimConfig& c) {
                      c.default_attributes.capacity = Capacity{2000, std::nullopt};
                    };
                  }));
  world.put_blueprint(R"({"id": "jobs", "slices": [
    {"artifact": "org.example:worker:1.0.0", "instances": 3, "resources": {"cpu": 1000}}]})");
  require_converged(world, seconds(30));
  world.put_blueprint(R"({"id": "batch", "slices": [
    {"artifact": "org.example:batch:1.0.0", "instances": 3, "resources": {"cpu": 1500}}]})");
  world.run_for(seconds(30));
  return world.entries("org.example:batch:1.0.0").size();
}

// cart x3 (min_available 2) on 4 nodes, slow loads; a holder is drained.
// The fewest ACTIVE cart entries while the drain runs: make-before-break
// unloads the drained entry only once its replacement is ACTIVE (the floor
// alone would allow 2).
int min_active_while_draining(Mutation mutation) {
  TestWorld world(4, with_mutation(mutation, [](WorldOptions& o) {
                    o.tweak = [](aether::sim::SimConfig& c) {
                      c.slices.load = {seconds(1), seconds(3)};
                      c.slices.activate = {millis(100), millis(500)};
                      c.slices.unload = {millis(100), seconds(1)};
                    };
                  }));
  world.put_blueprint(one_slice_blueprint("shop", kCart, 3, 2));
  require_converged(world, seconds(60));
  const NodeId holder = world.entries(kCart).begin()->first;
  world.put(node_lifecycle_key(holder), "DRAINING");
  const int least = min_in_state_over(world, {kCart}, SliceState::Active, seconds(30));
  REQUIRE(world.entries(kCart).count(holder) == 0);  // the drain finished either way
  REQUIRE(world.count_in(kCart, SliceState::Active) == 3);
  return least;
}

// As scenarios/all-or-nothing-rollback-leader-crash.json: web 1.0.0 x3, then
// an all-or-nothing put (db 2.0.0 x2, web 2.0.0 x3 on it) whose db fails
// transiently on every load; the leader crashes 2s in. 95s later: web
// 1.0.0's ACTIVE entries and whether rollback/shop is still in the store.
struct AfterRollback {
  int web1_active = 0;
  bool record_left = false;
};
AfterRollback after_leader_crash_mid_put(Mutation mutation) {
  TestWorld world(5, with_mutation(mutation, [](WorldOptions& o) {
                    o.config.reconciliation_interval_ns = seconds(10);
                    o.config.transient_retry_max = 4;
                    o.tweak = [](aether::sim::SimConfig& c) { c.failure_detection_ns = seconds(1); };
                  }));
  const std::string web1 = "org.example:web:1.0.0";
  world.put_blueprint(one_slice_blueprint("shop", web1, 3));
  require_converged(world, seconds(30));
  world.cluster->set_slice_failure_rule(
      {"org.example:db:2.0.0", aether::sim::FailurePhase::Load, aether::sim::kPpmOne, 0});
  world.put_blueprint(R"({"id": "shop", "atomicity": "all-or-nothing", "slices": [
    {"artifact": "org.example:db:2.0.0", "instances": 2},
    {"artifact": "org.example:web:2.0.0", "instances": 3, "depends_on": ["org.example:db:2.0.0"]}]})");
  world.run_for(seconds(2));
  REQUIRE(world.cluster->canonical_store().count(rollback_key("shop")) == 1);  // the put is in flight
  const auto leader = world.leader();
  REQUIRE(leader);
  world.cluster->crash(*leader);
  world.run_for(seconds(95));
  return {world.count_in(web1, SliceState::Active),
          world.cluster->canonical_store().count(rollback_key("shop")) > 0};
}

// A rolling update of cart 1.0.0 -> 1.1.0, 3 instances, max_surge 1,
// max_unavailable 0, on 5 nodes with slow loads: the fewest ACTIVE entries
// over both versions while it runs.
int min_active_over_rolling_update(Mutation mutation) {
  TestWorld world(5, with_mutation(mutation, [](WorldOptions& o) {
                    o.tweak = [](aether::sim::SimConfig& c) {
                      c.slices.load = {seconds(2), seconds(4)};
                      c.slices.activate = {millis(200), seconds(1)};
                    };
                  }));
  auto rolling = [](const std::string& artifact) {
    return nlohmann::json{
        {"id", "shop"},
        {"slices",
         {{{"artifact", artifact},
           {"instances", 3},
           {"update", {{"strategy", "rolling"}, {"max_surge", 1}, {"max_unavailable", 0}}}}}}}
        .dump();
  };
  const std::string cart11 = "org.example:cart:1.1.0";
  world.put_blueprint(rolling(kCart));
  require_converged(world, seconds(60));
  world.put_blueprint(rolling(cart11));
  const int least = min_in_state_over(world, {kCart, cart11}, SliceState::Active, seconds(60));
  REQUIRE(world.count_in(cart11, SliceState::Active) == 3);  // the update finished either way
  return least;
}

}  // namespace

TEST_CASE(
    "mutation cdm-stale-target-writes: a queued slice-target goes out derived from a replaced blueprint") {
  int correct = 0;
  int mutant = 0;
  for (std::uint64_t seed = 1; seed <= 8; ++seed) {
    correct += stale_target_writes(std::nullopt, seed);
    mutant += stale_target_writes(std::string(mutation::kStaleTargetWrites), seed);
  }
  INFO("stale cart slice-target writes over seeds 1..8: correct " << correct << ", mutant " << mutant);
  CHECK(correct == 0);
  CHECK(mutant > 0);
}

TEST_CASE("mutation lm-deposed-leader-keeps-acting: a leader named away by a client keeps its CDM Active") {
  CHECK(active_after_client_names_leader(std::nullopt) == std::vector<NodeId>{"node-2"});
  CHECK(active_after_client_names_leader(std::string(mutation::kDeposedLeaderKeepsActing)) ==
        std::vector<NodeId>{"node-1", "node-2"});
}

TEST_CASE("mutation cdm-placement-ignores-anti-affinity: db lands next to cache") {
  CHECK(db_next_to_cache(std::nullopt) == 0);
  CHECK(db_next_to_cache(std::string(mutation::kIgnoreAntiAffinity)) > 0);
}

TEST_CASE("mutation cdm-placement-ignores-capacity: batch lands on nodes it does not fit") {
  CHECK(batch_entries_on_full_nodes(std::nullopt) == 0);
  CHECK(batch_entries_on_full_nodes(std::string(mutation::kIgnoreCapacity)) > 0);
}

TEST_CASE(
    "mutation cdm-drain-unload-before-replacement-active: a drain unloads before its replacement is ACTIVE") {
  CHECK(min_active_while_draining(std::nullopt) == 3);
  CHECK(min_active_while_draining(std::string(mutation::kDrainBreakBeforeMake)) == 2);
}

TEST_CASE("mutation cdm-rollback-forgotten-after-failover: an all-or-nothing put is never rolled back") {
  const auto correct = after_leader_crash_mid_put(std::nullopt);
  CHECK(correct.web1_active == 3);
  CHECK_FALSE(correct.record_left);
  const auto mutant = after_leader_crash_mid_put(std::string(mutation::kRollbackForgottenAfterFailover));
  CHECK(mutant.web1_active < 3);
  CHECK(mutant.record_left);
}

TEST_CASE("mutation cdm-rolling-ignores-max-unavailable: a rolling update drops below the desired count") {
  CHECK(min_active_over_rolling_update(std::nullopt) >= 3);
  CHECK(min_active_over_rolling_update(std::string(mutation::kRollingIgnoresMaxUnavailable)) < 3);
}
