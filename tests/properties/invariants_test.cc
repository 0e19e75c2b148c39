// Each always-on invariant fires on a deliberately wrong, hand-made observer
// feed and stays silent on the correct one.
#include <catch2/catch.hpp>

#include <functional>
#include <vector>

#include "properties/invariants.h"
#include "sim/kv_store.h"
#include "tests/properties/fake_world.h"

using namespace aether;
using namespace aether::properties;
using namespace aether::properties::testing;
using engine::KvCommand;
using engine::SliceState;

namespace {

struct Feed {
  // Local election unless told otherwise: hand-made feeds activate CDMs
  // without `leader` entries (stale-leader has its own tests).
  explicit Feed(int nodes = 3, bool consensus = false)
      : world(nodes), recorder(nullptr), suite(recorder, world, 42) {
    suite.set_rules(CheckRules{consensus, 5});
  }

  // Decides `b` at the next position.
  void decide(Nanos now, const sim::BatchRecord& b) { suite.on_decide(now, ++position, b); }
  std::size_t fired(const std::string& id) const {
    std::size_t n = 0;
    for (const auto& v : recorder.violations()) n += v.invariant == id ? 1 : 0;
    return n;
  }
  std::int64_t reported(const std::string& counter) const {
    auto it = recorder.reported().find(counter);
    return it == recorder.reported().end() ? 0 : it->second;
  }

  FakeWorld world;
  ViolationRecorder recorder;
  InvariantSuite suite;
  std::uint64_t position = 0;
};

const std::string kKey = "slices/node-2/org.example:cart:1.0.0";

std::map<std::string, std::optional<std::string>> had(std::optional<std::string> value) {
  return {{kKey, std::move(value)}};
}

}  // namespace

TEST_CASE("invariant docs list every id once with an explanation") {
  const auto docs = invariant_docs();
  REQUIRE(docs.size() == 18);  // 10, plus drain-order, drain, capacity, anti-affinity, rollback, rolling
                               // (issue 15), scale-floor, availability-floor (issue 9)
  std::set<std::string> ids;
  for (const auto& d : docs) {
    ids.insert(d.id);
    CHECK_FALSE(d.explanation.empty());
  }
  CHECK(ids.size() == docs.size());
  CHECK(is_invariant_id("single-leader-per-term"));
  CHECK(is_invariant_id("capacity"));
  CHECK(is_invariant_id("anti-affinity"));
  CHECK(is_invariant_id("rollback"));
  CHECK(is_invariant_id("rolling"));
  CHECK_FALSE(is_invariant_id("no-such-invariant"));
}

TEST_CASE("replica-consistency is silent when every apply matches the canonical digest") {
  Feed f;
  f.decide(1, batch({KvCommand::put("a", "1"), KvCommand::put("b", "2")}, {submitter("node-1", "client:x")}));
  f.decide(2, batch({KvCommand::remove("a")}, {submitter("node-1", "client:x")}));
  const auto d1 = sim::KvStoreDigest::of({{"a", "1"}, {"b", "2"}});
  const auto d2 = sim::KvStoreDigest::of({{"b", "2"}});
  f.suite.on_apply(3, "node-2", 1, d1);
  f.suite.on_apply(4, "node-2", 2, d2);
  f.suite.on_restore(5, "node-3", 2, d2);
  f.suite.on_restore(5, "node-3", 0, 0);  // restoring the empty store at position 0
  CHECK(f.recorder.violations().empty());
}

TEST_CASE("replica-consistency fires when a node's store differs after applying") {
  Feed f;
  f.decide(1, batch({KvCommand::put("a", "1")}, {submitter("node-1", "client:x")}));
  f.suite.on_apply(3, "node-2", 1, sim::KvStoreDigest::of({{"a", "2"}}));
  REQUIRE(f.fired(invariant::kReplicaConsistency) == 1);
  CHECK(f.recorder.violations()[0].node == "node-2");
  CHECK(f.recorder.violations()[0].time == 3);
}

TEST_CASE("replica-consistency fires on a restore to a position never decided") {
  Feed f;
  f.suite.on_restore(3, "node-2", 5, 0);
  CHECK(f.fired(invariant::kReplicaConsistency) == 1);
}

TEST_CASE("lifecycle is silent on the table's edges from the writer's applied state") {
  Feed f;
  f.decide(1, batch({KvCommand::put(kKey, slice_value(SliceState::Load))},
                    {submitter("node-1", "cdm", had(std::nullopt), true)}));
  f.decide(2, batch({KvCommand::put(kKey, slice_value(SliceState::Loading))},
                    {submitter("node-2", "ndm", had(slice_value(SliceState::Load)))}));
  f.decide(3, batch({KvCommand::put(kKey, slice_value(SliceState::Loaded))},
                    {submitter("node-2", "ndm", had(slice_value(SliceState::Loading)))}));
  f.decide(4, batch({KvCommand::put(kKey, slice_value(SliceState::Activate))},
                    {submitter("node-1", "cdm", had(slice_value(SliceState::Loaded)), true)}));
  f.decide(5, batch({KvCommand::put(kKey, slice_value(SliceState::Unload))},
                    {submitter("node-1", "cdm", had(slice_value(SliceState::Activate)), true)}));
  f.decide(6, batch({KvCommand::put(kKey, slice_value(SliceState::Unloading))},
                    {submitter("node-2", "ndm", had(slice_value(SliceState::Unload)))}));
  f.decide(7, batch({KvCommand::remove(kKey)},
                    {submitter("node-2", "ndm", had(slice_value(SliceState::Unloading)))}));
  CHECK(f.recorder.violations().empty());
  CHECK(f.reported(reported::kLostUpdate) == 0);
}

TEST_CASE("lifecycle fires when the CDM writes an observed state") {
  Feed f;
  f.decide(1, batch({KvCommand::put(kKey, slice_value(SliceState::Active))},
                    {submitter("node-1", "cdm", had(slice_value(SliceState::Loaded)), true)}));
  REQUIRE(f.fired(invariant::kLifecycle) == 1);
  CHECK(f.recorder.violations()[0].node == "node-2");
}

TEST_CASE("lifecycle fires when an NDM writes another node's key") {
  Feed f;
  f.decide(1, batch({KvCommand::put(kKey, slice_value(SliceState::Loading))},
                    {submitter("node-3", "ndm", had(slice_value(SliceState::Load)))}));
  CHECK(f.fired(invariant::kLifecycle) == 1);
}

TEST_CASE("lifecycle fires when the leader manager writes a slice key") {
  Feed f;
  f.decide(1, batch({KvCommand::put(kKey, slice_value(SliceState::Load))},
                    {submitter("node-1", "leader-manager", had(std::nullopt))}));
  CHECK(f.fired(invariant::kLifecycle) == 1);
}

TEST_CASE("lifecycle judges the edge from the writer's applied state and counts a lost update") {
  Feed f;
  f.decide(1, batch({KvCommand::put(kKey, slice_value(SliceState::Load))},
                    {submitter("node-1", "cdm", had(std::nullopt), true)}));
  f.decide(2, batch({KvCommand::put(kKey, slice_value(SliceState::Loading))},
                    {submitter("node-2", "ndm", had(slice_value(SliceState::Load)))}));
  // The CDM had applied LOAD only; its UNLOAD lands on LOADING: legal, a lost update.
  f.decide(3, batch({KvCommand::put(kKey, slice_value(SliceState::Unload))},
                    {submitter("node-1", "cdm", had(slice_value(SliceState::Load)), true)}));
  CHECK(f.recorder.violations().empty());
  CHECK(f.reported(reported::kLostUpdate) == 1);
}

TEST_CASE("lifecycle exempts client writes and passes a merged batch legal for any writer") {
  Feed f;
  f.decide(1, batch({KvCommand::put(kKey, slice_value(SliceState::Active))},
                    {submitter("node-1", "client:default")}));
  f.decide(2, batch({KvCommand::put(kKey, slice_value(SliceState::Unload))},
                    {submitter("node-3", "ndm", had(slice_value(SliceState::Active))),
                     submitter("node-1", "cdm", had(slice_value(SliceState::Active)), true)}));
  CHECK(f.recorder.violations().empty());
}

TEST_CASE("lifecycle judges a merged batch whole: legal command by command for different writers fails") {
  // The batch's first command is an edge only for the NDM of node-2 (LOADING
  // -> LOADED), the second only for the CDM (Remove of a key it could not
  // parse is the CDM's, not an NDM's). No single writer may write both.
  Feed f;
  const std::string other = "slices/node-2/org.example:shop:1.0.0";
  std::map<std::string, std::optional<std::string>> applied = {{kKey, slice_value(SliceState::Loading)},
                                                               {other, std::string("not json")}};
  f.decide(1, batch({KvCommand::put(kKey, slice_value(SliceState::Loaded)), KvCommand::remove(other)},
                    {submitter("node-2", "ndm", applied), submitter("node-1", "cdm", applied, true)}));
  REQUIRE(f.fired(invariant::kLifecycle) == 1);
  CHECK(f.recorder.violations()[0].message.find("any of its writers") != std::string::npos);

  // Each command alone, merged the same way, is legal for one of the writers.
  Feed g;
  g.decide(1, batch({KvCommand::put(kKey, slice_value(SliceState::Loaded))},
                    {submitter("node-2", "ndm", applied), submitter("node-1", "cdm", applied, true)}));
  g.decide(2, batch({KvCommand::remove(other)},
                    {submitter("node-2", "ndm", applied), submitter("node-1", "cdm", applied, true)}));
  CHECK(g.recorder.violations().empty());
}

TEST_CASE("single-leader-per-term fires when two untagged CDMs are Active at once") {
  Feed f;
  f.suite.on_cdm_activated(1, "node-1", std::nullopt);
  f.suite.settle(1);
  f.suite.on_cdm_activated(2, "node-2", std::nullopt);
  CHECK(f.recorder.violations().empty());  // judged at the end of the instant
  f.suite.settle(2);
  REQUIRE(f.fired(invariant::kSingleLeaderPerTerm) == 1);
  CHECK(f.recorder.violations()[0].node == "node-2");
  CHECK(f.recorder.violations()[0].time == 2);
}

TEST_CASE("single-leader-per-term fires on two Active CDMs with the same tag") {
  Feed f;
  f.suite.on_cdm_activated(2, "node-1", 4);
  f.suite.on_cdm_activated(2, "node-2", 4);
  f.suite.settle(2);
  CHECK(f.fired(invariant::kSingleLeaderPerTerm) == 1);  // one pair, reported once
}

TEST_CASE("single-leader-per-term is silent when one tag is strictly greater or the first CDM stopped") {
  Feed f;
  f.suite.on_cdm_activated(1, "node-1", 3);
  f.suite.settle(1);
  f.suite.on_cdm_activated(2, "node-2", 7);
  f.suite.settle(2);
  f.suite.on_cdm_deactivated(3, "node-1");
  f.suite.on_cdm_deactivated(3, "node-2");
  f.suite.on_cdm_activated(4, "node-3", std::nullopt);
  f.suite.settle(4);
  f.suite.on_node_fault(5, "node-3", sim::NodeFault::Crash);
  f.suite.on_cdm_activated(6, "node-1", std::nullopt);
  f.suite.settle(6);
  CHECK(f.recorder.violations().empty());
}

TEST_CASE("single-leader-per-term is silent when the old leader steps down within the same instant") {
  Feed f;
  f.suite.on_cdm_activated(1, "node-1", std::nullopt);
  f.suite.settle(1);
  f.suite.on_cdm_activated(2, "node-2", std::nullopt);
  f.suite.on_cdm_deactivated(2, "node-1");  // its quorum loss, delivered later at the same instant
  f.suite.settle(2);
  CHECK(f.recorder.violations().empty());
}

TEST_CASE("single-leader-per-term ignores a paused node until it resumes still Active") {
  Feed f;
  f.suite.on_cdm_activated(1, "node-1", std::nullopt);
  f.suite.settle(1);
  f.world.nodes["node-1"].paused = true;
  f.suite.on_node_fault(2, "node-1", sim::NodeFault::Pause);
  f.suite.on_cdm_activated(3, "node-2", std::nullopt);
  f.suite.settle(3);
  CHECK(f.recorder.violations().empty());
  f.world.nodes["node-1"].paused = false;
  f.suite.on_node_fault(4, "node-1", sim::NodeFault::Resume);
  CHECK(f.recorder.violations().empty());  // judged after the resume's own topology changes
  f.suite.settle(4);
  CHECK(f.fired(invariant::kSingleLeaderPerTerm) == 1);
}

TEST_CASE("single-leader-per-term is silent when a resumed node steps down at once") {
  Feed f;
  f.suite.on_cdm_activated(1, "node-1", std::nullopt);
  f.suite.settle(1);
  f.world.nodes["node-1"].paused = true;
  f.suite.on_cdm_activated(3, "node-2", std::nullopt);
  f.suite.settle(3);
  f.world.nodes["node-1"].paused = false;
  f.suite.on_node_fault(4, "node-1", sim::NodeFault::Resume);
  f.suite.on_cdm_deactivated(4, "node-1");  // its quorum loss, delivered on resume
  f.suite.settle(4);
  CHECK(f.recorder.violations().empty());
}

TEST_CASE("command-writer fires when a command comes from an inactive CDM") {
  Feed f;
  f.decide(1, batch({KvCommand::put(kKey, slice_value(SliceState::Load))},
                    {submitter("node-3", "cdm", had(std::nullopt), false)}));
  CHECK(f.fired(invariant::kCommandWriter) == 1);
}

TEST_CASE("command-writer fires when an NDM writes a command state") {
  Feed f;
  f.decide(1, batch({KvCommand::put(kKey, slice_value(SliceState::Unload))},
                    {submitter("node-2", "ndm", had(slice_value(SliceState::Active)))}));
  CHECK(f.fired(invariant::kCommandWriter) == 1);
}

TEST_CASE("command-writer exempts clients and accepts an Active CDM") {
  Feed f;
  f.suite.on_cdm_activated(0, "node-1", 1);
  f.decide(1,
           batch({KvCommand::put(kKey, slice_value(SliceState::Load))}, {submitter("node-1", "client:ops")}));
  f.decide(2, batch({KvCommand::put(kKey, slice_value(SliceState::Unload))},
                    {submitter("node-1", "cdm", had(slice_value(SliceState::Load)), true, 1, 1)}));
  CHECK(f.recorder.violations().empty());
  CHECK(f.reported(reported::kLateCommit) == 0);
}

TEST_CASE("command-writer counts a deposed leader's late commit without failing") {
  Feed f;
  f.suite.on_cdm_activated(0, "node-1", 1);
  const auto b = batch({KvCommand::put(kKey, slice_value(SliceState::Load))},
                       {submitter("node-1", "cdm", had(std::nullopt), true, 1, 1)});
  f.suite.on_cdm_deactivated(2, "node-1");
  f.suite.on_cdm_activated(2, "node-2", 5);
  f.decide(3, b);
  CHECK(f.recorder.violations().empty());
  CHECK(f.reported(reported::kLateCommit) == 1);
}

TEST_CASE("slice-store fires when a node loads an artifact it already holds") {
  Feed f;
  f.suite.on_slice_op_start(1, "node-2", "org.example:cart:1.0.0", sim::SliceOp::Load,
                            engine::SliceHolding::Loaded);
  REQUIRE(f.fired(invariant::kSliceStore) == 1);
  CHECK(f.recorder.violations()[0].node == "node-2");
}

TEST_CASE("slice-store is silent on a first load and on other operations of held artifacts") {
  Feed f;
  const std::string a = "org.example:cart:1.0.0";
  f.suite.on_slice_op_start(1, "node-2", a, sim::SliceOp::Load, engine::SliceHolding::NotHeld);
  f.suite.on_slice_op_done(2, "node-2", a, sim::SliceOp::Load, {});
  f.suite.on_slice_op_start(2, "node-2", a, sim::SliceOp::Activate, engine::SliceHolding::Loaded);
  f.suite.on_slice_op_start(2, "node-3", a, sim::SliceOp::Load,
                            engine::SliceHolding::NotHeld);  // another node
  f.suite.on_slice_op_done(3, "node-2", a, sim::SliceOp::Activate, {});
  f.suite.on_slice_op_start(3, "node-2", a, sim::SliceOp::Unload, engine::SliceHolding::Active);
  CHECK(f.recorder.violations().empty());
}

TEST_CASE("slice-store fires on a second store operation on one artifact of a node while one runs") {
  Feed f;
  const std::string a = "org.example:cart:1.0.0";
  f.suite.on_slice_op_start(1, "node-2", a, sim::SliceOp::Load, engine::SliceHolding::NotHeld);
  f.suite.on_slice_op_start(2, "node-2", a, sim::SliceOp::Unload, engine::SliceHolding::NotHeld);
  REQUIRE(f.fired(invariant::kSliceStore) == 1);
  CHECK(f.recorder.violations()[0].message.find("still running") != std::string::npos);
  // A crash abandons the running operation: a fresh start after it is fine.
  f.suite.on_node_fault(3, "node-2", sim::NodeFault::Crash);
  f.suite.on_slice_op_start(4, "node-2", a, sim::SliceOp::Load, engine::SliceHolding::NotHeld);
  CHECK(f.fired(invariant::kSliceStore) == 1);
}

TEST_CASE("engine-assert turns an assertion into a violation carrying the seed") {
  Feed f;
  f.suite.on_engine_assert(7, "node-3", "state == Expected");
  REQUIRE(f.fired(invariant::kEngineAssert) == 1);
  const auto& v = f.recorder.violations()[0];
  CHECK(v.node == "node-3");
  CHECK(v.time == 7);
  CHECK(v.message.find("seed 42") != std::string::npos);
}

TEST_CASE("a violation carries the trace events leading to it and is itself traced") {
  sim::Trace trace;
  FakeWorld world(3);
  ViolationRecorder recorder(&trace);
  InvariantSuite suite(recorder, world, 1);
  trace.event(1, "kv.decide").u64("position", 1);
  suite.on_engine_assert(2, "node-1", "boom");
  REQUIRE(recorder.violations().size() == 1);
  REQUIRE(recorder.violations()[0].events.size() == 1);
  CHECK(recorder.violations()[0].events[0].find("kv.decide") != std::string::npos);
  CHECK(trace.recent(1)[0].find("check.violation") != std::string::npos);
}

TEST_CASE("reported counts start at zero so that every report lists them") {
  Feed f;
  CHECK(f.recorder.reported() ==
        std::map<std::string, std::int64_t>{{reported::kLateCommit, 0}, {reported::kLostUpdate, 0}});
}
