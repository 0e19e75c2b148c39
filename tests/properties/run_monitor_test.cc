// Windows over time: `expect` steps and the implicit convergence check, fed
// by hand-made decisions and world changes, settled at instant ends as the
// runner does.
#include <catch2/catch.hpp>

#include "properties/run_monitor.h"
#include "tests/properties/fake_world.h"

using namespace aether;
using namespace aether::properties;
using namespace aether::properties::testing;
using engine::KvCommand;
using engine::SliceHolding;
using engine::SliceState;

namespace {

const std::string kCart = "org.example:cart:1.0.0";
constexpr Nanos kQuiet = engine::seconds(10);

struct Run {
  Run()
      : world(3),
        recorder(nullptr),
        suite(recorder, world, 1),
        live(world, false),
        monitor(suite, world, live, recorder, {}, kQuiet) {}

  // Commits `commands` at `now` as a client or engine write.
  void commit(Nanos now, engine::KvBatch commands, const std::string& writer = "client:default") {
    const auto b = batch(std::move(commands), {submitter("node-1", writer)});
    suite.on_decide(now, ++position, b);
    monitor.on_decide(now, position, b);
  }
  // A converged cluster: cart x2 ACTIVE on node-1 and node-2.
  void converge(Nanos now) {
    commit(now, {KvCommand::put("blueprints/shop", blueprint_value("shop", {{kCart, 2, {}}})),
                 KvCommand::put("slice-target/org.example:cart", target_value("1.0.0", 2, 1, "shop")),
                 KvCommand::put("node-lifecycle/node-1", "ON_DUTY"),
                 KvCommand::put("node-lifecycle/node-2", "ON_DUTY"),
                 KvCommand::put("node-lifecycle/node-3", "ON_DUTY"),
                 KvCommand::put("slices/node-1/" + kCart, slice_value(SliceState::Active)),
                 KvCommand::put("slices/node-2/" + kCart, slice_value(SliceState::Active))});
    world.nodes["node-1"].held[kCart] = SliceHolding::Active;
    world.nodes["node-2"].held[kCart] = SliceHolding::Active;
  }
  void engine_write(Nanos now) { commit(now, {KvCommand::put("node-lifecycle/node-3", "ON_DUTY")}, "ndm"); }
  // An engine write submitted at `submitted` that commits at `now`.
  void engine_write_submitted(Nanos submitted, Nanos now) {
    const auto b = batch({KvCommand::put("node-lifecycle/node-3", "ON_DUTY")},
                         {submitter("node-3", "ndm", {}, false, std::nullopt, submitted)});
    suite.on_decide(now, ++position, b);
    monitor.on_decide(now, position, b);
  }

  FakeWorld world;
  ViolationRecorder recorder;
  InvariantSuite suite;
  // The fake world changes without telling observers: liveness uncached.
  LivenessCache live;
  RunMonitor monitor;
  std::uint64_t position = 0;
};

ExpectationResult only(const std::vector<ExpectationResult>& results) {
  REQUIRE(results.size() == 1);
  return results[0];
}

}  // namespace

TEST_CASE("expect converged holds when converged in the window and quiet afterwards") {
  Run r;
  r.converge(engine::seconds(1));
  r.monitor.settle(engine::seconds(1));
  r.monitor.expect_converged("steps[0]", engine::seconds(2), 0);
  r.monitor.settle(engine::seconds(2));
  r.monitor.finish(engine::seconds(2) + kQuiet);
  const auto e = only(r.monitor.results());
  INFO(e.detail);
  CHECK(e.held);
  CHECK(e.path == "steps[0]");
}

TEST_CASE("expect converged without within is judged at its instant only") {
  Run r;
  r.world.nodes["node-3"].leader.reset();
  r.monitor.expect_converged("steps[0]", engine::seconds(1), 0);
  r.monitor.settle(engine::seconds(1));
  r.world.nodes["node-3"].leader = "node-1";
  r.monitor.on_leader_change(engine::seconds(2), "node-3", NodeId("node-1"));
  r.monitor.settle(engine::seconds(2));
  r.monitor.finish(engine::seconds(1) + kQuiet);
  const auto e = only(r.monitor.results());
  CHECK_FALSE(e.held);
  CHECK(e.detail.find("no leader") != std::string::npos);
}

TEST_CASE("an engine write inside the quiet window moves the candidate later") {
  Run r;
  r.monitor.expect_converged("steps[0]", 0, engine::seconds(30));
  r.converge(engine::seconds(1));
  r.monitor.settle(engine::seconds(1));
  r.engine_write(engine::seconds(5));  // breaks the quiet window of t=1s
  r.monitor.settle(engine::seconds(5));
  r.monitor.settle(engine::seconds(5) + kQuiet + 1);
  r.monitor.finish(engine::seconds(30) + kQuiet);
  CHECK(only(r.monitor.results()).held);
}

TEST_CASE("client writes do not break the quiet window") {
  Run r;
  r.monitor.expect_converged("steps[0]", 0, 0);
  r.converge(0);
  r.monitor.settle(0);
  r.commit(engine::seconds(2), {KvCommand::put("unrelated", "x")});
  r.monitor.settle(engine::seconds(2));
  r.monitor.finish(kQuiet);
  CHECK(only(r.monitor.results()).held);
}

TEST_CASE("blocker: write loop when converged states never stay quiet") {
  Run r;
  r.monitor.convergence_owed(0, engine::seconds(20));
  r.converge(0);
  r.monitor.settle(0);
  for (Nanos t = engine::seconds(1); t <= engine::seconds(40); t += engine::seconds(1)) {
    r.engine_write(t);
    r.monitor.settle(t);
  }
  r.monitor.finish(engine::seconds(20) + kQuiet + engine::seconds(10));
  const auto c = r.monitor.convergence();
  CHECK(c.owed);
  CHECK_FALSE(c.held);
  CHECK(c.blocker == "write loop");
}

TEST_CASE("implicit convergence reports when it converged") {
  Run r;
  r.world.nodes["node-3"].leader.reset();
  r.monitor.convergence_owed(engine::seconds(3), engine::seconds(60));
  r.monitor.settle(engine::seconds(3));
  r.world.nodes["node-3"].leader = "node-1";
  r.converge(engine::seconds(7));
  r.monitor.settle(engine::seconds(7));
  r.monitor.finish(engine::seconds(63) + kQuiet);
  const auto c = r.monitor.convergence();
  CHECK(c.held);
  REQUIRE(c.converged_at.has_value());
  CHECK(*c.converged_at == engine::seconds(7));
  CHECK(c.blocker.empty());
}

TEST_CASE("implicit convergence names the blocker of the last state in its window") {
  Run r;
  r.monitor.convergence_owed(0, engine::seconds(60));
  r.converge(0);
  r.world.nodes["node-2"].held.clear();
  r.monitor.settle(0);
  r.monitor.finish(engine::seconds(60) + kQuiet);
  CHECK(r.monitor.convergence().blocker == "ghost");
}

TEST_CASE("convergence not owed carries its reason") {
  Run r;
  r.monitor.convergence_not_owed(engine::seconds(4), "node-2 is paused");
  r.monitor.finish(engine::seconds(5));
  const auto c = r.monitor.convergence();
  CHECK(c.checked);
  CHECK_FALSE(c.owed);
  CHECK(c.not_owed_reason == "node-2 is paused");
}

TEST_CASE("expect available holds while counted instances stay at the minimum") {
  Run r;
  r.converge(0);
  r.monitor.expect_available("steps[1]", engine::seconds(1), engine::seconds(10), {{kCart, 2}});
  r.monitor.settle(engine::seconds(1));
  r.monitor.settle(engine::seconds(5));
  r.monitor.finish(engine::seconds(11));
  CHECK(only(r.monitor.results()).held);
}

TEST_CASE("expect available fails when a counted instance is lost inside the window") {
  Run r;
  r.converge(0);
  r.monitor.expect_available("steps[1]", engine::seconds(1), engine::seconds(10), {{kCart, 2}});
  r.monitor.settle(engine::seconds(1));
  r.world.nodes["node-2"].up = false;
  r.monitor.on_node_fault(engine::seconds(4), "node-2", sim::NodeFault::Crash);
  r.monitor.settle(engine::seconds(4));
  r.monitor.finish(engine::seconds(11));
  const auto e = only(r.monitor.results());
  CHECK_FALSE(e.held);
  CHECK(e.detail.find("fewer than 2") != std::string::npos);
}

TEST_CASE("a loss after the available window does not count") {
  Run r;
  r.converge(0);
  r.monitor.expect_available("steps[1]", engine::seconds(1), engine::seconds(2), {{kCart, 2}});
  r.monitor.settle(engine::seconds(1));
  r.world.nodes["node-2"].up = false;
  r.monitor.on_node_fault(engine::seconds(4), "node-2", sim::NodeFault::Crash);
  r.monitor.settle(engine::seconds(4));
  r.monitor.finish(engine::seconds(5));
  CHECK(only(r.monitor.results()).held);
}

TEST_CASE("expect leader holds once every live node believes it within the window") {
  Run r;
  r.world.nodes["node-3"].leader.reset();
  r.monitor.expect_leader("steps[2]", engine::seconds(1), engine::seconds(5), "node-1");
  r.monitor.settle(engine::seconds(1));
  r.world.nodes["node-3"].leader = "node-1";
  r.monitor.on_leader_change(engine::seconds(3), "node-3", NodeId("node-1"));
  r.monitor.settle(engine::seconds(3));
  r.monitor.finish(engine::seconds(6));
  CHECK(only(r.monitor.results()).held);
}

TEST_CASE("expect leader fails when the window passes without it") {
  Run r;
  r.monitor.expect_leader("steps[2]", engine::seconds(1), engine::seconds(5), "node-2");
  r.monitor.settle(engine::seconds(1));
  r.monitor.finish(engine::seconds(6));
  const auto e = only(r.monitor.results());
  CHECK_FALSE(e.held);
  CHECK(e.detail.find("node-2") != std::string::npos);
}

TEST_CASE("expect instances compares live entries and counted instances") {
  Run r;
  r.converge(0);
  r.monitor.expect_instances("steps[3]", engine::seconds(1), 0, {{kCart, {2, 2}}});
  r.monitor.expect_instances("steps[4]", engine::seconds(1), 0, {{kCart, {3, std::nullopt}}});
  r.monitor.settle(engine::seconds(1));
  r.monitor.finish(engine::seconds(1));
  const auto results = r.monitor.results();
  REQUIRE(results.size() == 2);
  CHECK(results[0].held);
  CHECK_FALSE(results[1].held);
}

TEST_CASE("expect no_violations counts violations up to its instant") {
  Run r;
  r.monitor.expect_no_violations("steps[5]", engine::seconds(2));
  r.monitor.expect_no_violations("steps[6]", engine::seconds(4));
  r.recorder.violation(invariant::kSliceStore, engine::seconds(3), "node-1", "x");
  r.monitor.settle(engine::seconds(3));
  r.monitor.settle(engine::seconds(4));
  r.monitor.finish(engine::seconds(5));
  const auto results = r.monitor.results();
  CHECK(results[0].held);
  CHECK_FALSE(results[1].held);
}

TEST_CASE("expect violates holds only if its invariant fired by the end") {
  Run r;
  r.monitor.expect_violates("steps[7]", 0, invariant::kSingleLeaderPerTerm);
  r.monitor.expect_violates("steps[8]", 0, invariant::kSliceStore);
  r.recorder.violation(invariant::kSingleLeaderPerTerm, engine::seconds(9), "node-2", "x");
  r.monitor.finish(engine::seconds(10));
  const auto results = r.monitor.results();
  CHECK(results[0].held);
  CHECK_FALSE(results[1].held);
  CHECK(r.monitor.pinned_invariants() ==
        std::vector<std::string>{invariant::kSingleLeaderPerTerm, invariant::kSliceStore});
}

TEST_CASE("a state that settles unconverged after the writes stop names its own blocker, not a write loop") {
  Run r;
  r.monitor.convergence_owed(0, engine::seconds(60));
  r.converge(0);
  r.monitor.settle(0);
  r.engine_write(engine::seconds(2));
  r.world.nodes["node-2"].held.clear();  // the KV still says ACTIVE: a ghost
  r.monitor.on_slice_op_done(engine::seconds(2), "node-2", kCart, sim::SliceOp::Unload, std::nullopt);
  r.monitor.settle(engine::seconds(2));
  r.monitor.finish(engine::seconds(60) + kQuiet);
  CHECK(r.monitor.convergence().blocker == "ghost");
}

TEST_CASE("a mid-run expect converged ignores engine writes submitted at or after the next step") {
  Run r;
  r.converge(0);
  r.monitor.expect_converged("steps[1]", engine::seconds(1), 0, engine::seconds(3));
  r.monitor.settle(engine::seconds(1));
  // The step at 3s (a crash, say) makes the engine write by design.
  r.engine_write_submitted(engine::seconds(4), engine::seconds(5));
  r.monitor.settle(engine::seconds(5));
  r.world.nodes["node-2"].held.clear();  // and the state after the step is not judged
  r.monitor.on_node_fault(engine::seconds(6), "node-2", sim::NodeFault::Crash);
  r.monitor.settle(engine::seconds(6));
  r.monitor.finish(engine::seconds(1) + kQuiet);
  const auto e = only(r.monitor.results());
  INFO(e.detail);
  CHECK(e.held);
  REQUIRE(e.met_at.has_value());
  CHECK(*e.met_at == engine::seconds(1));
}

TEST_CASE("a mid-run expect converged still fails on a write submitted before the next step") {
  Run r;
  r.converge(0);
  r.monitor.expect_converged("steps[1]", engine::seconds(1), 0, engine::seconds(3));
  r.monitor.settle(engine::seconds(1));
  r.engine_write_submitted(engine::seconds(2), engine::seconds(4));
  r.monitor.settle(engine::seconds(4));
  r.monitor.finish(engine::seconds(1) + kQuiet);
  const auto e = only(r.monitor.results());
  CHECK_FALSE(e.held);
  CHECK(e.detail.find("engine write committed at 4.000s") != std::string::npos);
  CHECK_FALSE(e.met_at.has_value());
}

TEST_CASE("without a later step the state at t + quiet is judged: a ghost without a write fails") {
  Run r;
  r.converge(0);
  r.monitor.expect_converged("steps[1]", engine::seconds(1), 0);
  r.monitor.settle(engine::seconds(1));
  r.world.nodes["node-2"].held.clear();  // the slice store loses it; nobody writes
  r.monitor.on_node_fault(engine::seconds(5), "node-2", sim::NodeFault::Crash);
  r.monitor.settle(engine::seconds(5));
  r.monitor.settle(engine::seconds(1) + kQuiet + 1);
  r.monitor.finish(engine::seconds(1) + kQuiet + 1);
  const auto e = only(r.monitor.results());
  CHECK_FALSE(e.held);
  CHECK(e.detail.find("ghost") != std::string::npos);
}

TEST_CASE("implicit convergence must still hold at the end of the run") {
  Run r;
  r.monitor.convergence_owed(0, engine::seconds(20));
  r.converge(0);
  r.monitor.settle(0);
  r.monitor.settle(kQuiet + 1);  // quiet window passed: the candidate held
  r.world.nodes["node-2"].held.clear();
  r.monitor.on_node_fault(engine::seconds(25), "node-2", sim::NodeFault::Crash);
  r.monitor.settle(engine::seconds(25));
  r.monitor.finish(engine::seconds(20) + kQuiet);
  const auto c = r.monitor.convergence();
  CHECK_FALSE(c.held);
  CHECK(c.blocker == "ghost");
  CHECK(c.detail.find("not at the end of the run") != std::string::npos);
}

TEST_CASE("expect at_most holds while counts stay at or below the limits") {
  Run r;
  r.converge(0);
  r.monitor.expect_at_most("steps[1]", engine::seconds(1), engine::seconds(10), {{kCart, {2, 2}}});
  r.monitor.settle(engine::seconds(1));
  r.monitor.finish(engine::seconds(11));
  const auto e = only(r.monitor.results());
  CHECK(e.held);
  CHECK(e.description.find("total <= 2 active <= 2") != std::string::npos);
}

TEST_CASE("expect at_most fails on over-allocation inside the window") {
  Run r;
  r.converge(0);
  r.monitor.expect_at_most("steps[1]", engine::seconds(1), engine::seconds(10), {{kCart, {2, std::nullopt}}});
  r.monitor.settle(engine::seconds(1));
  r.commit(engine::seconds(3), {KvCommand::put("slices/node-3/" + kCart, slice_value(SliceState::Load))},
           "cdm");
  r.monitor.settle(engine::seconds(3));
  r.monitor.finish(engine::seconds(11));
  const auto e = only(r.monitor.results());
  CHECK_FALSE(e.held);
  CHECK(e.detail.find("at 3.000s: org.example:cart:1.0.0 has 3 live entries") != std::string::npos);
}

TEST_CASE("expect at_most does not count the stale entries of a node that is down") {
  Run r;
  r.converge(0);
  r.monitor.expect_at_most("steps[1]", engine::seconds(1), engine::seconds(10), {{kCart, {2, std::nullopt}}});
  r.monitor.settle(engine::seconds(1));
  // node-2 crashes; its ACTIVE key stays until the CDM removes it, and the
  // replacement's LOAD on node-3 commits first: two instances can run, not three.
  r.world.nodes["node-2"].up = false;
  r.monitor.on_node_fault(engine::seconds(2), "node-2", sim::NodeFault::Crash);
  r.commit(engine::seconds(3), {KvCommand::put("slices/node-3/" + kCart, slice_value(SliceState::Load))},
           "cdm");
  r.monitor.settle(engine::seconds(3));
  // node-2 comes back with its stale key still there: three would run.
  r.world.nodes["node-2"].up = true;
  r.commit(engine::seconds(4), {KvCommand::put("slices/node-3/" + kCart, slice_value(SliceState::Loading))},
           "ndm");
  r.monitor.settle(engine::seconds(4));
  r.monitor.finish(engine::seconds(11));
  const auto e = only(r.monitor.results());
  CHECK_FALSE(e.held);
  CHECK(e.detail.find("at 4.000s: org.example:cart:1.0.0 has 3 live entries on nodes that are up") !=
        std::string::npos);
}

TEST_CASE("expect at_most does not look past its window") {
  Run r;
  r.converge(0);
  r.monitor.expect_at_most("steps[1]", engine::seconds(1), engine::seconds(1), {{kCart, {2, std::nullopt}}});
  r.monitor.settle(engine::seconds(1));
  r.commit(engine::seconds(3), {KvCommand::put("slices/node-3/" + kCart, slice_value(SliceState::Load))},
           "cdm");
  r.monitor.settle(engine::seconds(3));
  r.monitor.finish(engine::seconds(4));
  CHECK(only(r.monitor.results()).held);
}

TEST_CASE(
    "expect writes counts engine batches in its window; client writes and merged batches as documented") {
  Run r;
  r.converge(0);
  r.monitor.expect_writes("steps[1]", engine::seconds(1), engine::seconds(10), 2);
  r.monitor.settle(engine::seconds(1));
  r.commit(engine::seconds(2), {KvCommand::put("unrelated", "x")});  // a client: not counted
  // One batch merged from two engine submitters counts once.
  const auto merged = batch({KvCommand::put("node-lifecycle/node-3", "ON_DUTY")},
                            {submitter("node-3", "ndm"), submitter("node-1", "cdm")});
  r.suite.on_decide(engine::seconds(3), ++r.position, merged);
  r.monitor.on_decide(engine::seconds(3), r.position, merged);
  r.engine_write(engine::seconds(4));
  r.engine_write(engine::seconds(12));  // after the window
  r.monitor.finish(engine::seconds(12));
  CHECK(only(r.monitor.results()).held);
}

TEST_CASE("expect writes fails on churn and names the batches") {
  Run r;
  r.converge(0);
  r.monitor.expect_writes("steps[1]", engine::seconds(1), engine::seconds(10), 1);
  r.monitor.settle(engine::seconds(1));
  r.engine_write(engine::seconds(2));
  r.engine_write(engine::seconds(3));
  r.monitor.finish(engine::seconds(11));
  const auto e = only(r.monitor.results());
  CHECK_FALSE(e.held);
  CHECK(e.detail.find("2 engine writes by 3.000s, more than 1") != std::string::npos);
  CHECK(e.detail.find("ndm@node-1 [node-lifecycle/node-3]") != std::string::npos);
}

TEST_CASE("expect leader and instances report the instant they were met") {
  Run r;
  r.converge(0);
  r.monitor.expect_instances("steps[1]", engine::seconds(2), engine::seconds(5), {{kCart, {2, 2}}});
  r.monitor.expect_leader("steps[2]", engine::seconds(2), 0, "node-1");
  r.monitor.settle(engine::seconds(2));
  r.monitor.finish(engine::seconds(7));
  const auto results = r.monitor.results();
  REQUIRE(results.size() == 2);
  for (const auto& e : results) {
    INFO(e.path << " " << e.detail);
    CHECK(e.held);
    REQUIRE(e.met_at.has_value());
    CHECK(*e.met_at == engine::seconds(2));
  }
}
