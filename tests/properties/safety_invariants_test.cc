// The always-on invariants of simulation.md §5 added for issue 9
// (stale-leader, key-writer, dependency-order, the widened slice-store,
// scale-floor, availability-floor): each
// fires on a planted bug (an engine mutation point, a crafted batch) and stays
// silent on the correct engine.
#include <catch2/catch.hpp>

#include <algorithm>

#include "engine/kv_schema.h"
#include "engine/mutations.h"
#include "properties/invariants.h"
#include "properties/runner.h"
#include "scenarios/loader.h"
#include "tests/properties/fake_world.h"
#include "tests/properties/scenario_builder.h"

using namespace aether;
using namespace aether::properties;
using namespace aether::properties::testing;
using engine::KvCommand;
using engine::seconds;
using engine::SliceState;

namespace {

const std::string kCart = "org.example:cart:1.0.0";
const std::string kDb = "org.example:db:1.0.0";
const std::string kWeb = "org.example:web:1.0.0";

RunResult run(const scenarios::Scenario& scenario, std::uint64_t seed = 1) {
  RunOptions options;
  options.seed = seed;
  return run_scenario(scenario, options);
}

std::string describe(const RunResult& r) {
  std::string out = std::string(verdict_name(r.verdict)) + " " + r.input_error + r.framework_error;
  for (const auto& v : r.violations) out += "\n  violation " + v.invariant + " @" + v.node + ": " + v.message;
  out += "\n  convergence owed=" + std::to_string(r.convergence.owed) +
         " held=" + std::to_string(r.convergence.held) + " " + r.convergence.blocker + " " +
         r.convergence.detail;
  return out;
}

std::size_t fired(const RunResult& r, const std::string& id) {
  return static_cast<std::size_t>(std::count_if(r.violations.begin(), r.violations.end(),
                                                [&](const Violation& v) { return v.invariant == id; }));
}

// A client names node-2 leader while node-1 leads with quorum: a correct
// node-1 adopts it and steps down; the mutated one keeps its CDM Active. The
// activation tags differ, so single-leader-per-term cannot see it.
ScenarioBuilder client_moves_leader(bool mutated) {
  ScenarioBuilder b(3);
  if (mutated) b.config({{"mutations", {engine::mutation::kDeposedLeaderKeepsActing}}});
  b.blueprint(seconds(1), "shop", kCart, 2)
      .step(seconds(10), scenarios::KvPutStep{"leader", "node-2", "default"})
      .check_convergence(false);
  b.get().run_for = seconds(30);
  return b;
}

// The shipped scenario where three clients publish one blueprint id within
// 2ms (its regression: the CDM wrote queued slice-targets derived from
// blueprint values it had already seen replaced).
scenarios::Scenario three_clients(bool mutated) {
  auto loaded =
      scenarios::load_scenario_file(AETHER_SOURCE_DIR "/scenarios/three-clients-one-blueprint.json");
  REQUIRE(loaded.errors.empty());
  auto scenario = *loaded.scenario;
  if (mutated) scenario.config["mutations"] = {engine::mutation::kStaleTargetWrites};
  return scenario;
}

// web depends on db.
ScenarioBuilder web_on_db(bool mutated) {
  ScenarioBuilder b(3);
  if (mutated) b.config({{"mutations", {engine::mutation::kActivateBeforeDependencies}}});
  nlohmann::json bp = {{"id", "shop"},
                       {"slices",
                        {{{"artifact", kDb}, {"instances", 1}},
                         {{"artifact", kWeb}, {"instances", 2}, {"depends_on", {kDb}}}}}};
  b.step(seconds(1), scenarios::BlueprintStep{bp, "default"});
  return b;
}

}  // namespace

TEST_CASE("stale-leader fires on a deposed leader that keeps its CDM Active; single-leader-per-term cannot") {
  const auto r = run(client_moves_leader(true).get());
  INFO(describe(r));
  CHECK(r.verdict == Verdict::Fail);
  CHECK(fired(r, invariant::kStaleLeader) >= 1);
  CHECK(fired(r, invariant::kSingleLeaderPerTerm) == 0);
  const auto it = std::find_if(r.violations.begin(), r.violations.end(),
                               [](const Violation& v) { return v.invariant == invariant::kStaleLeader; });
  REQUIRE(it != r.violations.end());
  CHECK(it->node == "node-1");
  CHECK(it->message.find("names node-2") != std::string::npos);
}

TEST_CASE("stale-leader is silent when a correct leader steps down for a client's leader entry") {
  const auto r = run(client_moves_leader(false).get());
  INFO(describe(r));
  CHECK(r.verdict == Verdict::Pass);
  CHECK(r.violations.empty());
}

TEST_CASE("key-writer fires on slice-target writes derived from a blueprint value already replaced") {
  for (std::uint64_t seed : {1, 2, 3}) {
    const auto r = run(three_clients(true), seed);
    INFO(describe(r));
    CHECK(r.verdict == Verdict::Fail);
    CHECK(fired(r, invariant::kKeyWriter) >= 1);
  }
}

TEST_CASE("key-writer is silent on the engine that re-derives queued slice-targets at submit") {
  for (std::uint64_t seed : {1, 2, 3}) {
    const auto r = run(three_clients(false), seed);
    INFO(describe(r));
    CHECK(r.verdict == Verdict::Pass);
    CHECK(r.violations.empty());
  }
}

TEST_CASE("dependency-order fires on the mutation that activates before dependencies are ACTIVE") {
  const auto r = run(web_on_db(true).get());
  INFO(describe(r));
  CHECK(r.verdict == Verdict::Fail);
  CHECK(fired(r, invariant::kDependencyOrder) >= 1);
}

TEST_CASE("dependency-order is silent on the correct engine") {
  const auto r = run(web_on_db(false).get());
  INFO(describe(r));
  CHECK(r.verdict == Verdict::Pass);
  CHECK(r.violations.empty());
}

// ---- crafted feeds ------------------------------------------------------------------

namespace {

struct Feed {
  explicit Feed(bool consensus = true) : world(3), recorder(nullptr), suite(recorder, world, 7) {
    suite.set_rules(CheckRules{consensus, 5});
  }
  void decide(Nanos now, const sim::BatchRecord& b) { suite.on_decide(now, ++position, b); }
  // Decides `b` and has every node apply it.
  void commit(Nanos now, const sim::BatchRecord& b) {
    decide(now, b);
    for (const auto& n : {"node-1", "node-2", "node-3"}) suite.on_apply(now, n, position, digest_now());
  }
  std::uint64_t digest_now() const { return *suite.canonical().digest_at(position); }
  std::size_t fired(const std::string& id) const {
    std::size_t n = 0;
    for (const auto& v : recorder.violations()) n += v.invariant == id ? 1 : 0;
    return n;
  }

  FakeWorld world;
  ViolationRecorder recorder;
  InvariantSuite suite;
  std::uint64_t position = 0;
};

const std::string kCartBase = "org.example:cart";

sim::BatchRecord client_put(const std::string& key, const std::string& value) {
  return batch({KvCommand::put(key, value)}, {submitter("node-1", "client:alice")});
}

}  // namespace

TEST_CASE("key-writer judges each key by the roles allowed to write it") {
  Feed f;
  // Clients may write anything; an Active CDM a slice-target; an NDM its own node-lifecycle.
  f.commit(1, client_put("blueprints/shop", blueprint_value("shop", {{kCart, 2, {}}})));
  f.commit(2, batch({KvCommand::put("node-lifecycle/node-2", "ON_DUTY")}, {submitter("node-2", "ndm")}));
  f.commit(3, batch({KvCommand::put("leader", "node-1")}, {submitter("node-3", "leader-manager")}));
  f.commit(4, client_put("custom/key", "x"));
  CHECK(f.recorder.violations().empty());

  f.commit(5, batch({KvCommand::put("node-lifecycle/node-3", "ON_DUTY")}, {submitter("node-2", "ndm")}));
  CHECK(f.fired(invariant::kKeyWriter) == 1);
  f.commit(6, batch({KvCommand::put("blueprints/shop", blueprint_value("shop", {{kCart, 3, {}}}))},
                    {submitter("node-1", "cdm", {}, true, 5)}));
  CHECK(f.fired(invariant::kKeyWriter) == 2);
  f.commit(7, batch({KvCommand::remove("node-lifecycle/node-2")}, {submitter("node-1", "cdm", {}, false)}));
  CHECK(f.fired(invariant::kKeyWriter) == 3);
  f.commit(8, batch({KvCommand::put("leader", "node-3")}, {submitter("node-1", "cdm", {}, true, 5)}));
  CHECK(f.fired(invariant::kKeyWriter) == 4);
  const auto& last = f.recorder.violations().back();
  CHECK(last.message.find("Put leader") != std::string::npos);
  CHECK(last.message.find("cdm@node-1") != std::string::npos);
  // A merged batch passes if any of its submitters may write it.
  f.commit(9, batch({KvCommand::put("leader", "node-3")},
                    {submitter("node-1", "cdm", {}, true, 5), submitter("node-2", "leader-manager")}));
  CHECK(f.fired(invariant::kKeyWriter) == 4);
}

TEST_CASE("key-writer checks an engine slice-target's content against the reference model") {
  Feed f;
  const auto key = "slice-target/" + kCartBase;
  f.commit(1, client_put("blueprints/shop", blueprint_value("shop", {{kCart, 2, {}}})));
  auto cdm = [&](const std::string& value) {  // the writer had applied the canonical store
    return batch({KvCommand::put(key, value)},
                 {submitter("node-1", "cdm", {{key, f.suite.canonical().get(key)}}, true, 5)});
  };
  f.commit(2, cdm(target_value("1.0.0", 2, 1, "shop")));  // instances 2, min_available ceil(2/2)
  CHECK(f.recorder.violations().empty());
  f.commit(3, cdm(target_value("1.0.0", 3, 1, "shop")));  // a count it invented
  REQUIRE(f.fired(invariant::kKeyWriter) == 1);
  CHECK(f.recorder.violations().back().message.find("instances 2") != std::string::npos);
  f.commit(4, cdm(target_value("2.0.0", 2, 1, "shop")));  // a version it invented
  CHECK(f.fired(invariant::kKeyWriter) == 2);
  // A client's scale is later than the blueprint: its count is the desired one.
  f.commit(5, client_put(key, target_value("1.0.0", 4, 1, "shop")));
  f.commit(6, cdm(target_value("1.0.0", 4, 1, "shop")));
  CHECK(f.fired(invariant::kKeyWriter) == 2);
  // failed:true needs failure evidence: none yet.
  f.commit(7, cdm(target_value("1.0.0", 4, 1, "shop", true)));
  CHECK(f.fired(invariant::kKeyWriter) == 3);
  CHECK(f.recorder.violations().back().message.find("without failure evidence") != std::string::npos);
  // A fatal FAILED is evidence.
  f.commit(8, client_put(key, target_value("1.0.0", 4, 1, "shop")));
  f.commit(9, batch({KvCommand::put("slices/node-2/" + kCart, slice_value(SliceState::Failed, "boom", true))},
                    {submitter("node-2", "client:bob")}));
  f.commit(10, cdm(target_value("1.0.0", 4, 1, "shop", true)));
  CHECK(f.fired(invariant::kKeyWriter) == 3);
}

TEST_CASE("failure evidence counts transient failures as the engine does") {
  Feed f;
  const auto key = "slice-target/" + kCartBase;
  const auto slice = "slices/node-2/" + kCart;
  f.commit(1, client_put("blueprints/shop", blueprint_value("shop", {{kCart, 2, {}}})));
  auto fail = [&](Nanos t, const std::string& reason) {
    f.commit(t, batch({KvCommand::put(slice, slice_value(SliceState::Loading))},
                      {submitter("node-2", "client:c")}));
    f.commit(t, batch({KvCommand::put(slice, slice_value(SliceState::Failed, reason))},
                      {submitter("node-2", "client:c")}));
  };
  for (int i = 0; i < 4; ++i) fail(2 + i, "boom");
  fail(7, "lost");  // a restart's loss does not count
  CHECK_FALSE(f.suite.evidence().has_evidence(kCart));
  fail(8, "boom");  // the fifth transient one
  CHECK(f.suite.evidence().has_evidence(kCart));
  f.commit(9, batch({KvCommand::put(key, target_value("1.0.0", 2, 1, "shop", true))},
                    {submitter("node-1", "cdm", {{key, std::nullopt}}, true, 5)}));
  CHECK(f.recorder.violations().empty());
  // A put of the owner blueprint clears it.
  f.commit(10, client_put("blueprints/shop", blueprint_value("shop", {{kCart, 2, {}}})));
  CHECK_FALSE(f.suite.evidence().has_evidence(kCart));
}

TEST_CASE("dependency-order judges an ACTIVATE on the writer's applied state and view") {
  Feed f;
  f.commit(1, client_put("blueprints/shop", blueprint_value("shop", {{kWeb, 1, {kDb}}, {kDb, 1, {}}})));
  f.commit(2, batch({KvCommand::put("slices/node-2/" + kDb, slice_value(SliceState::Loaded))},
                    {submitter("node-2", "client:c")}));
  const auto web = "slices/node-3/" + kWeb;
  auto activate = [&] {
    return batch({KvCommand::put(web, slice_value(SliceState::Activate))},
                 {submitter("node-1", "cdm", {{web, slice_value(SliceState::Loaded)}}, true, 5)});
  };
  f.commit(3, activate());  // db only LOADED
  REQUIRE(f.fired(invariant::kDependencyOrder) == 1);
  CHECK(f.recorder.violations().back().message.find(kDb) != std::string::npos);
  f.commit(4, batch({KvCommand::put("slices/node-2/" + kDb, slice_value(SliceState::Active))},
                    {submitter("node-2", "client:c")}));
  f.commit(5, activate());
  CHECK(f.fired(invariant::kDependencyOrder) == 1);
  // The ACTIVE dependency is on a node outside the writer's view.
  f.world.cut_off("node-2");
  f.commit(6, activate());
  CHECK(f.fired(invariant::kDependencyOrder) == 2);
}

TEST_CASE("stale-leader judges cdm submits and Active CDMs against the applied leader entry") {
  Feed f;
  f.commit(1, batch({KvCommand::put("leader", "node-1")}, {submitter("node-1", "leader-manager")}));
  f.suite.on_cdm_activated(1, "node-1", 1);
  f.suite.settle(1);
  auto b = batch({KvCommand::put("slices/node-2/" + kCart, slice_value(SliceState::Load))},
                 {submitter("node-1", "cdm", {}, true, 1)});
  f.suite.on_submit(2, b, b.submitters.back());
  CHECK(f.recorder.violations().empty());

  f.commit(3, batch({KvCommand::put("leader", "node-2")}, {submitter("node-2", "client:c")}));
  f.suite.on_submit(3, b, b.submitters.back());  // node-1 applied node-2's entry and still writes
  REQUIRE(f.fired(invariant::kStaleLeader) == 1);
  f.suite.settle(3);  // and is still Active at the end of the instant
  CHECK(f.fired(invariant::kStaleLeader) == 2);
  f.suite.settle(4);  // reported once per activation
  CHECK(f.fired(invariant::kStaleLeader) == 2);

  // A reset node is exempt until its next restore; local election is not judged.
  Feed g;
  g.commit(1, batch({KvCommand::put("leader", "node-2")}, {submitter("node-2", "leader-manager")}));
  g.suite.on_cdm_activated(1, "node-1", 1);
  g.suite.on_reset(1, "node-1");
  g.suite.settle(1);
  CHECK(g.recorder.violations().empty());
  Feed local(false);
  local.commit(1, batch({KvCommand::put("leader", "node-2")}, {submitter("node-2", "client:c")}));
  local.suite.on_cdm_activated(1, "node-1", std::nullopt);
  local.suite.settle(1);
  CHECK(local.recorder.violations().empty());
}

// ---- drain (engine-semantics.md §8.2) --------------------------------------------

TEST_CASE("drain and drain-order judge LOADs, evictions and DECOMMISSIONED on the writer's applied state") {
  Feed f;
  Nanos t = 1;
  f.commit(t++, client_put("blueprints/shop", blueprint_value("shop", {{kCart, 2, {}}})));
  for (const auto& n : {"node-1", "node-2", "node-3"})
    f.commit(t++, client_put(std::string("node-lifecycle/") + n, "ON_DUTY"));
  const auto on1 = "slices/node-1/" + kCart;
  const auto on2 = "slices/node-2/" + kCart;
  const auto on3 = "slices/node-3/" + kCart;
  f.commit(t++, client_put(on1, slice_value(SliceState::Active)));
  f.commit(t++, client_put(on3, slice_value(SliceState::Active)));
  f.commit(t++, client_put("node-lifecycle/node-3", "DRAINING"));
  auto cdm = [](const std::string& key, const std::string& value) {
    return batch({KvCommand::put(key, value)}, {submitter("node-1", "cdm", {}, true, 5)});
  };
  // A LOAD to the DRAINING node.
  f.commit(t++, cdm("slices/node-3/" + kWeb, slice_value(SliceState::Load)));
  CHECK(f.fired(invariant::kDrain) == 1);
  // An eviction with 1 ACTIVE on eligible nodes, owed min(2, 2) = 2: break before make.
  f.commit(t++, cdm(on3, slice_value(SliceState::Unload)));
  CHECK(f.fired(invariant::kDrainOrder) == 1);
  // With the replacement ACTIVE on node-2 the same eviction is right.
  f.commit(t++, client_put(on3, slice_value(SliceState::Active)));
  f.commit(t++, client_put(on2, slice_value(SliceState::Active)));
  f.commit(t++, cdm(on3, slice_value(SliceState::Unload)));
  CHECK(f.fired(invariant::kDrainOrder) == 1);
  // DECOMMISSIONED while node-3 still has keys, then once it has none.
  f.commit(t++, cdm("node-lifecycle/node-3", "DECOMMISSIONED"));
  CHECK(f.fired(invariant::kDrain) == 2);
  f.commit(t++, batch({KvCommand::remove(on3), KvCommand::remove("slices/node-3/" + kWeb)},
                      {submitter("node-2", "client:c")}));
  f.commit(t++, client_put("node-lifecycle/node-3", "DRAINING"));
  f.commit(t++, cdm("node-lifecycle/node-3", "DECOMMISSIONED"));
  CHECK(f.fired(invariant::kDrain) == 2);
}

TEST_CASE("drain-order: only UNLOADs classified as evictions when they committed are pending") {
  Feed f;
  Nanos t = 1;
  f.commit(t++, client_put("blueprints/shop",
                           blueprint_value("shop", {{kCart, 1, {}}, {kWeb, 2, {}}, {kDb, 1, {}}})));
  for (const auto& n : {"node-1", "node-2", "node-3"})
    f.commit(t++, client_put(std::string("node-lifecycle/") + n, "ON_DUTY"));
  auto on = [](const std::string& node, const std::string& artifact) {
    return "slices/" + node + "/" + artifact;
  };
  for (const auto& [node, artifact] : std::vector<std::pair<std::string, std::string>>{{"node-1", kCart},
                                                                                       {"node-3", kCart},
                                                                                       {"node-1", kWeb},
                                                                                       {"node-2", kWeb},
                                                                                       {"node-3", kWeb},
                                                                                       {"node-1", kDb},
                                                                                       {"node-3", kDb}})
    f.commit(t++, client_put(on(node, artifact), slice_value(SliceState::Active)));
  auto cdm = [](const std::string& key, const std::string& value) {
    return batch({KvCommand::put(key, value)}, {submitter("node-1", "cdm", {}, true, 5)});
  };
  // A scale-down decided while node-3 is ON_DUTY, still UNLOADING when it drains.
  f.commit(t++, cdm(on("node-3", kCart), slice_value(SliceState::Unload)));
  f.commit(t++, client_put(on("node-3", kCart), slice_value(SliceState::Unloading)));
  f.commit(t++, client_put("node-lifecycle/node-3", "DRAINING"));
  // An eviction of web (2 ACTIVE on eligible nodes, owed 2): the UNLOADING
  // cart is no pending eviction.
  f.commit(t++, cdm(on("node-3", kWeb), slice_value(SliceState::Unload)));
  CHECK(f.fired(invariant::kDrainOrder) == 0);
  // While web's eviction is pending (UNLOAD, then UNLOADING), evicting db is out of order.
  f.commit(t++, client_put(on("node-3", kWeb), slice_value(SliceState::Unloading)));
  f.commit(t++, cdm(on("node-3", kDb), slice_value(SliceState::Unload)));
  CHECK(f.fired(invariant::kDrainOrder) == 1);
  // Once web's key is gone, db's eviction is in order again.
  f.commit(t++, batch({KvCommand::remove(on("node-3", kWeb))}, {submitter("node-3", "ndm")}));
  f.commit(t++, client_put(on("node-3", kDb), slice_value(SliceState::Active)));
  f.commit(t++, cdm(on("node-3", kDb), slice_value(SliceState::Unload)));
  CHECK(f.fired(invariant::kDrainOrder) == 1);
}

TEST_CASE("drain-order: never the last ACTIVE entry while there is no other live one") {
  Feed f;
  Nanos t = 1;
  f.commit(t++, client_put("blueprints/shop", blueprint_value("shop", {{kCart, 1, {}}})));
  for (const auto& n : {"node-1", "node-2", "node-3"})
    f.commit(t++, client_put(std::string("node-lifecycle/") + n, "DRAINING"));
  const auto on1 = "slices/node-1/" + kCart;
  f.commit(t++, client_put(on1, slice_value(SliceState::Active)));
  // No eligible node: owed 0, yet this is the last ACTIVE entry.
  f.commit(t++, batch({KvCommand::put(on1, slice_value(SliceState::Unload))},
                      {submitter("node-1", "cdm", {}, true, 5)}));
  CHECK(f.fired(invariant::kDrainOrder) == 1);
}

TEST_CASE("drain-order fires on the mutation that unloads before the replacement is ACTIVE; silent without") {
  for (const bool mutated : {false, true}) {
    auto s = scenarios::load_scenario_file(AETHER_SOURCE_DIR "/scenarios/drain-during-failover.json");
    REQUIRE(s.ok());
    if (mutated) s.scenario->config["mutations"] = {engine::mutation::kDrainBreakBeforeMake};
    const auto r = run(*s.scenario, *s.scenario->seed);
    INFO(describe(r));
    CHECK((r.verdict == Verdict::Fail) == mutated);
    CHECK((fired(r, invariant::kDrainOrder) >= 1) == mutated);
  }
}

TEST_CASE("drain fires on the mutation that places on nodes that are not ON_DUTY; silent without") {
  for (const bool mutated : {false, true}) {
    // node-3 holds nothing and is drained (then DECOMMISSIONED); a scale-up
    // to 3 finds only node-3 without cart.
    ScenarioBuilder b(3);
    if (mutated) b.config({{"mutations", {engine::mutation::kIgnoreEligibility}}});
    b.blueprint(seconds(1), "shop", kCart, 2)
        .step(seconds(10), scenarios::DrainStep{node("node-3")})
        .step(seconds(20), scenarios::ScaleStep{"org.example:cart", 3, "default"});
    const auto r = run(b.get());
    INFO(describe(r));
    CHECK((r.verdict == Verdict::Fail) == mutated);
    CHECK((fired(r, invariant::kDrain) >= 1) == mutated);
  }
}

// ---- placement (engine-semantics.md §8.1): capacity and anti-affinity fire on
// the engine's placement mutation points in the shipped scenarios and stay
// silent on the correct engine; convergence owes only what can be placed and
// names the constraint that blocked the rest.
namespace {
scenarios::Scenario shipped(const std::string& name, std::optional<std::string> mutation = std::nullopt) {
  auto loaded = scenarios::load_scenario_file(AETHER_SOURCE_DIR "/scenarios/" + name + ".json");
  REQUIRE(loaded.errors.empty());
  auto scenario = *loaded.scenario;
  if (mutation) scenario.config["mutations"] = {*mutation};
  return scenario;
}
std::string unplaced(const RunResult& r) {
  std::string out;
  for (const auto& u : r.convergence.unplaced) out += "\n  unplaced " + u;
  return out;
}
}  // namespace

TEST_CASE("placement scenarios pass on the correct engine, silent checks, for several seeds") {
  for (const std::string name : {"resource-aware-node-loss", "zone-spread-partition",
                                 "anti-affinity-too-few-nodes", "capacity-exhausted-node-added"}) {
    for (std::uint64_t seed : {1, 2, 3}) {
      const auto r = run(shipped(name), seed);
      INFO(name << " seed " << seed << ": " << describe(r) << unplaced(r));
      CHECK(r.verdict == Verdict::Pass);
      CHECK(r.violations.empty());
      CHECK(r.convergence.held);
    }
  }
}

TEST_CASE("convergence names the constraint that left instances unplaced") {
  const auto anti = run(shipped("anti-affinity-too-few-nodes"), 1);
  INFO(describe(anti) << unplaced(anti));
  REQUIRE(anti.convergence.unplaced.size() == 1);
  CHECK(anti.convergence.unplaced[0] == "org.example:db: 1 unplaced (anti-affinity)");
  const auto capacity = run(shipped("capacity-exhausted-node-added"), 1);
  INFO(describe(capacity) << unplaced(capacity));
  REQUIRE(capacity.convergence.unplaced.size() == 1);
  CHECK(capacity.convergence.unplaced[0] == "org.example:batch: 1 unplaced (capacity)");
}

TEST_CASE("anti-affinity fires on the mutation that ignores it") {
  const auto r = run(shipped("anti-affinity-too-few-nodes", engine::mutation::kIgnoreAntiAffinity), 1);
  INFO(describe(r) << unplaced(r));
  CHECK(r.verdict == Verdict::Fail);
  CHECK(fired(r, invariant::kAntiAffinity) >= 1);
}

TEST_CASE("capacity fires on the mutation that ignores it") {
  for (const std::string name : {"resource-aware-node-loss", "capacity-exhausted-node-added"}) {
    const auto r = run(shipped(name, engine::mutation::kIgnoreCapacity), 1);
    INFO(name << ": " << describe(r) << unplaced(r));
    CHECK(r.verdict == Verdict::Fail);
    CHECK(fired(r, invariant::kCapacity) >= 1);
  }
}
// ---- all-or-nothing rollbacks (engine-semantics.md §8.3) ----------------------------

namespace {

const std::string kCart2 = "org.example:cart:2.0.0";

std::string all_or_nothing(const std::string& best_effort_value) {
  auto json = nlohmann::json::parse(best_effort_value);
  json["atomicity"] = "all-or-nothing";
  return json.dump();
}

std::string record(const std::string& put, const std::optional<std::string>& previous) {
  nlohmann::json json = {{"put", put}, {"previous", previous ? nlohmann::json(*previous) : nlohmann::json()}};
  return json.dump();
}

sim::Submitter active_cdm() {
  return submitter("node-1", "cdm", {}, true, 5);
}

// blueprints/shop = A (best-effort, cart 1.0.0), then B (all-or-nothing,
// cart 2.0.0) by a client, then the CDM's record for B; `with_previous`
// false: no A (B is the first value).
struct RollbackFeed {
  explicit RollbackFeed(bool with_previous = true) {
    if (with_previous) f.commit(1, client_put("blueprints/shop", a));
    f.commit(2, client_put("blueprints/shop", b));
    f.commit(
        3,
        batch({KvCommand::put("rollback/shop", record(b, with_previous ? std::optional(a) : std::nullopt))},
              {active_cdm()}));
  }
  Feed f;
  const std::string a = blueprint_value("shop", {{kCart, 2, {}}});
  const std::string b = all_or_nothing(blueprint_value("shop", {{kCart2, 2, {}}}));
};

}  // namespace

TEST_CASE("rollback and key-writer are silent on a correct record and rollback rewrite") {
  RollbackFeed r;
  CHECK(r.f.recorder.violations().empty());
  r.f.commit(
      4, batch({KvCommand::remove("rollback/shop"), KvCommand::put("blueprints/shop", r.a)}, {active_cdm()}));
  CHECK(r.f.recorder.violations().empty());

  RollbackFeed none(/*with_previous=*/false);
  CHECK(none.f.recorder.violations().empty());
  none.f.commit(
      4, batch({KvCommand::remove("rollback/shop"), KvCommand::remove("blueprints/shop")}, {active_cdm()}));
  CHECK(none.f.recorder.violations().empty());
}

TEST_CASE("rollback fires on a record with a wrong previous value or for a best-effort value") {
  RollbackFeed r;
  r.f.commit(4, batch({KvCommand::put("rollback/shop", record(r.b, std::nullopt))}, {active_cdm()}));
  REQUIRE(r.f.fired(invariant::kRollback) == 1);
  CHECK(r.f.recorder.violations().back().message.find("previous accepted value") != std::string::npos);
  // A record for a value blueprints/shop does not hold.
  r.f.commit(5, batch({KvCommand::put("rollback/shop", record(r.a, std::nullopt))}, {active_cdm()}));
  CHECK(r.f.fired(invariant::kRollback) == 2);
  // A record for a best-effort value.
  r.f.commit(6, client_put("blueprints/shop", r.a));
  r.f.commit(7, batch({KvCommand::put("rollback/shop", record(r.a, r.b))}, {active_cdm()}));
  CHECK(r.f.fired(invariant::kRollback) == 3);
  CHECK(r.f.fired(invariant::kKeyWriter) == 0);
}

TEST_CASE("rollback fires on a rewrite to anything but the previous accepted value") {
  RollbackFeed r;
  r.f.commit(
      4, batch({KvCommand::remove("rollback/shop"), KvCommand::remove("blueprints/shop")}, {active_cdm()}));
  CHECK(r.f.fired(invariant::kRollback) == 1);  // A existed: removing is wrong
  CHECK(r.f.fired(invariant::kKeyWriter) == 0);

  RollbackFeed none(/*with_previous=*/false);
  none.f.commit(4, batch({KvCommand::remove("rollback/shop"), KvCommand::put("blueprints/shop", none.a)},
                         {active_cdm()}));
  CHECK(none.f.fired(invariant::kRollback) == 1);  // nothing accepted before B: only a removal is right
}

TEST_CASE("rollback fires on a rewrite over a client value the CDM had applied") {
  RollbackFeed r;
  const std::string c = blueprint_value("shop", {{"org.example:cart:3.0.0", 1, {}}});
  r.f.commit(4, client_put("blueprints/shop", c));  // the client's edit, applied before the CDM wrote
  r.f.commit(
      5, batch({KvCommand::remove("rollback/shop"), KvCommand::put("blueprints/shop", r.a)}, {active_cdm()}));
  REQUIRE(r.f.fired(invariant::kRollback) == 1);
  CHECK(r.f.recorder.violations().back().message.find("rolls back") != std::string::npos);
}

TEST_CASE("key-writer admits a CDM's blueprints/{id} write only as a rollback") {
  RollbackFeed r;
  // Without removing the record in the same batch.
  r.f.commit(4, batch({KvCommand::put("blueprints/shop", r.a)}, {active_cdm()}));
  CHECK(r.f.fired(invariant::kKeyWriter) == 1);
  // Removing a record it had not applied (there is none for ops).
  r.f.commit(
      5, batch({KvCommand::remove("rollback/ops"), KvCommand::put("blueprints/ops", r.a)}, {active_cdm()}));
  CHECK(r.f.fired(invariant::kKeyWriter) == 2);
  // A CDM that is not Active.
  r.f.commit(6, batch({KvCommand::remove("rollback/shop"), KvCommand::put("blueprints/shop", r.a)},
                      {submitter("node-1", "cdm", {}, false)}));
  CHECK(r.f.fired(invariant::kKeyWriter) == 3);
}

namespace {

scenarios::Scenario shipped_with(const std::string& name, const std::vector<std::string>& mutations) {
  auto loaded = scenarios::load_scenario_file(AETHER_SOURCE_DIR "/scenarios/" + name + ".json");
  REQUIRE(loaded.errors.empty());
  auto scenario = *loaded.scenario;
  if (!mutations.empty()) scenario.config["mutations"] = mutations;
  return scenario;
}

}  // namespace

TEST_CASE("convergence owes the end of an all-or-nothing put: a forgotten record is 'rollback pending'") {
  const auto correct = run(shipped_with("all-or-nothing-rollback-leader-crash", {}));
  INFO(describe(correct));
  CHECK(correct.verdict == Verdict::Pass);
  CHECK(correct.convergence.held);

  const auto mutated = run(shipped_with("all-or-nothing-rollback-leader-crash",
                                        {engine::mutation::kRollbackForgottenAfterFailover}));
  INFO(describe(mutated));
  CHECK(mutated.verdict == Verdict::Fail);
  CHECK(mutated.convergence.blocker == "rollback pending");
}

TEST_CASE("rollback and key-writer are silent on the correct engine's rollbacks") {
  for (const auto& name : {"all-or-nothing-rollback", "all-or-nothing-client-edit-races-rollback"}) {
    for (std::uint64_t seed = 1; seed <= 3; ++seed) {
      const auto r = run(shipped_with(name, {}), seed);
      INFO(name << " seed " << seed << ": " << describe(r));
      CHECK(fired(r, invariant::kRollback) == 0);
      CHECK(fired(r, invariant::kKeyWriter) == 0);
      CHECK(r.verdict == Verdict::Pass);
    }
  }
}

namespace {

// A client's raw slice-target asks for 1 instance with a floor of 3 while 4
// run: a correct CDM stops at the floor; the mutation goes down to 1.
ScenarioBuilder scale_below_floor(bool mutated) {
  ScenarioBuilder b(5);
  if (mutated) b.config({{"mutations", {engine::mutation::kSkipScaleDownFloor}}});
  b.blueprint(seconds(1), "shop", kCart, 4)
      .step(seconds(20), scenarios::KvPutStep{"slice-target/org.example:cart",
                                              target_value("1.0.0", 1, 3, "shop"), "default"});
  return b;
}

std::size_t floor_violations(const RunResult& r) {
  return fired(r, invariant::kAvailabilityFloor) + fired(r, invariant::kScaleFloor);
}

}  // namespace

TEST_CASE("scale-floor and availability-floor fire on the mutation that skips the scale-down floor") {
  const auto r = run(scale_below_floor(true).get());
  INFO(describe(r));
  CHECK(r.verdict == Verdict::Fail);
  CHECK(fired(r, invariant::kScaleFloor) >= 1);
  CHECK(fired(r, invariant::kAvailabilityFloor) >= 1);
}

TEST_CASE("scale-floor and availability-floor are silent when a correct CDM stops at the floor") {
  const auto r = run(scale_below_floor(false).get());
  INFO(describe(r));
  CHECK(r.verdict == Verdict::Pass);
  CHECK(r.violations.empty());
}

TEST_CASE("counting entries outside the view or on a DRAINING node leaves a drain's replacement unplaced") {
  // The draining node's entry counted for scale: no replacement is placed,
  // so the eviction never comes and cart stays one short (a count mismatch).
  const auto mutated = run(shipped("drain-during-failover", engine::mutation::kScaleCountsOutOfView));
  INFO(describe(mutated));
  CHECK(mutated.verdict == Verdict::Fail);
  const auto correct = run(shipped("drain-during-failover"));
  INFO(describe(correct));
  CHECK(correct.verdict == Verdict::Pass);
  // Two local-election leaders each keep the floors in their own view.
  for (const std::string name : {"regression-scale-counts-out-of-view", "local-election-split-brain"}) {
    for (std::uint64_t seed : {4, 8}) {
      const auto split = run(shipped(name), seed);
      INFO(name << " seed " << seed << ": " << describe(split));
      CHECK(split.verdict == Verdict::Pass);
      CHECK(floor_violations(split) == 0);
    }
  }
}

TEST_CASE("the floors fire when a queued scale-down UNLOAD is not re-checked at submit") {
  const auto mutated =
      run(shipped("regression-scale-down-recheck-at-submit", engine::mutation::kSkipScaleDownRecheck));
  INFO(describe(mutated));
  CHECK(floor_violations(mutated) >= 1);
  const auto correct = run(shipped("regression-scale-down-recheck-at-submit"));
  INFO(describe(correct));
  CHECK(correct.verdict == Verdict::Pass);
}

TEST_CASE("the floors fire when a queued removal goes out after its blueprint was put back") {
  const auto mutated =
      run(shipped("regression-removal-after-put-back", engine::mutation::kSkipRemovalRecheck), 2);
  INFO(describe(mutated));
  CHECK(floor_violations(mutated) >= 1);
  const auto correct = run(shipped("regression-removal-after-put-back"));
  INFO(describe(correct));
  CHECK(correct.verdict == Verdict::Pass);
}
