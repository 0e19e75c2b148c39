// The CDM's per-entry timers (engine/entry_timers.h) and stuck/orphan
// detection (engine/stuck_orphans.h) over fake inputs: engine-semantics.md §4
// "Re-send" and reconcile. No simulator.
#include <catch2/catch.hpp>

#include <limits>
#include <random>
#include <tuple>

#include "engine/entry_timers.h"
#include "engine/stuck_orphans.h"
#include "tests/engine/cdm_fakes.h"

using namespace aether::engine;
using namespace aether::engine::entry_timers;
using aether::engine::test::FakeWorld;

TEST_CASE("stuck timer: due just past stuck_multiplier x the state's timeout, and only while unchanged") {
  FakeWorld w;
  w.config.stuck_multiplier = 3;
  w.config.timeouts.loading_ns = 10;
  auto& entry = w.put("org.x:a:1.0.0", "n1", SliceState::Loading);
  entry.since_ns = 100;
  CHECK(stuck_due(entry, w.config) == std::optional<Nanos>(131));
  entry.observed->state = SliceState::Active;  // no timeout in ACTIVE
  CHECK_FALSE(stuck_due(entry, w.config));
  CHECK_FALSE(stuck_due(SliceEntry{}, w.config));
  CHECK(still_in(w.table, "org.x:a:1.0.0", "n1", 100, SliceState::Active));
  CHECK_FALSE(still_in(w.table, "org.x:a:1.0.0", "n1", 100, SliceState::Loading));
  CHECK_FALSE(still_in(w.table, "org.x:a:1.0.0", "n1", 99, SliceState::Active));
  CHECK_FALSE(still_in(w.table, "org.x:a:1.0.0", "n2", 100, SliceState::Active));
}

TEST_CASE("re-send timer: nothing once answered; waits for reachability and dependencies") {
  FakeWorld w({"n1", "n2"});
  auto& desired = w.want("org.x:web:1.0.0", 1);
  auto& entry = w.put("org.x:web:1.0.0", "n1", SliceState::Loaded);
  entry.intent = SliceState::Activate;
  desired.depends_on = {"org.x:db:1.0.0"};
  CHECK(on_resend(w.facts, "org.x:web:1.0.0", "n1", SliceState::Activate).action == Resend::Action::Rearm);
  w.put("org.x:db:1.0.0", "n2", SliceState::Active);
  CHECK(on_resend(w.facts, "org.x:web:1.0.0", "n1", SliceState::Activate).action == Resend::Action::Send);
  w.lifecycles.values["n1"] = "DRAINING";  // not eligible: an ACTIVATE waits
  CHECK(on_resend(w.facts, "org.x:web:1.0.0", "n1", SliceState::Activate).action == Resend::Action::Rearm);
  entry.observed->state = SliceState::Activating;  // answered
  CHECK(on_resend(w.facts, "org.x:web:1.0.0", "n1", SliceState::Activate).action == Resend::Action::None);
  entry.intent = SliceState::Load;  // another command recorded since
  entry.observed->state = SliceState::Loaded;
  CHECK(on_resend(w.facts, "org.x:web:1.0.0", "n1", SliceState::Activate).action == Resend::Action::None);
}

TEST_CASE("re-send timer: a lost UNLOAD goes again with the reason its re-check needs") {
  FakeWorld w({"n1", "n2"});
  w.want("org.x:web:1.0.0", 1);
  w.put("org.x:web:1.0.0", "n1", SliceState::Active).intent = SliceState::Unload;
  w.put("org.x:old:1.0.0", "n1", SliceState::Active).intent = SliceState::Unload;
  w.put("org.x:web:1.0.0", "n2", SliceState::Failed).intent = SliceState::Unload;
  auto resend = on_resend(w.facts, "org.x:web:1.0.0", "n1", SliceState::Unload);
  CHECK(resend.action == Resend::Action::Send);
  CHECK(resend.why == UnloadWhy::ScaleDown);
  CHECK(on_resend(w.facts, "org.x:old:1.0.0", "n1", SliceState::Unload).why == UnloadWhy::Removal);
  CHECK(on_resend(w.facts, "org.x:web:1.0.0", "n2", SliceState::Unload).why == UnloadWhy::Other);
  // A DRAINING node in the view is reachable for an UNLOAD: an eviction.
  w.lifecycles.values["n1"] = "DRAINING";
  resend = on_resend(w.facts, "org.x:web:1.0.0", "n1", SliceState::Unload);
  CHECK(resend.action == Resend::Action::Send);
  CHECK(resend.why == UnloadWhy::Eviction);
  w.lifecycles.values["n1"] = "DECOMMISSIONED";
  resend = on_resend(w.facts, "org.x:web:1.0.0", "n1", SliceState::Unload);
  CHECK(resend.action == Resend::Action::Send);
  CHECK(resend.why == UnloadWhy::Other);
  // Out of the view: waits.
  w.topology.nodes = {"n2"};
  CHECK(on_resend(w.facts, "org.x:web:1.0.0", "n1", SliceState::Unload).action == Resend::Action::Rearm);
}

TEST_CASE("cleanup: orphans unloaded then removed; a rolling slice's old versions are not orphans") {
  FakeWorld w;
  w.want("org.x:web:2.0.0", 1);
  w.put("org.x:web:1.0.0", "n1", SliceState::Active);      // an old version: orphan
  w.put("org.x:gone:1.0.0", "n1", SliceState::Unloading);  // orphan already leaving: remove the key
  w.put("org.x:gone:1.0.0", "n2", SliceState::Loaded).intent = SliceState::Unload;  // on its way
  auto cleanup = plan_cleanup(w.facts, 0);
  REQUIRE(cleanup.unload.size() == 1);
  CHECK(cleanup.unload[0].artifact == "org.x:web:1.0.0");
  CHECK(cleanup.unload[0].why == UnloadWhy::Removal);
  CHECK(cleanup.remove == std::vector<std::pair<std::string, NodeId>>{{"org.x:gone:1.0.0", "n1"}});
  w.state.desired.at("org.x:web").update.rolling = true;
  CHECK(plan_cleanup(w.facts, 0).unload.empty());
}

TEST_CASE("cleanup: stuck entries, lost UNLOADs of FAILED entries, malformed keys removed again") {
  FakeWorld w;
  w.config.stuck_multiplier = 2;
  w.config.timeouts.loading_ns = 10;
  w.config.timeouts.deactivating_ns = 10;
  w.config.write_timeout_ns = 30;
  w.want("org.x:a:1.0.0", 3);
  w.put("org.x:a:1.0.0", "n1", SliceState::Loading).since_ns = 0;
  w.put("org.x:a:1.0.0", "n2", SliceState::Deactivating).since_ns = 0;
  w.put("org.x:a:1.0.0", "n3", SliceState::Failed);
  auto& malformed = w.put("org.x:a:1.0.0", "n4", SliceState::Failed);
  malformed.malformed_remove_at = 0;
  auto cleanup = plan_cleanup(w.facts, 20);  // the bound (2 x 10) not passed yet
  CHECK(cleanup.stuck.empty());
  REQUIRE(cleanup.unload.size() == 1);  // the FAILED entry's lost UNLOAD
  CHECK(cleanup.unload[0].node == "n3");
  CHECK(cleanup.malformed_again.empty());
  cleanup = plan_cleanup(w.facts, 30);
  REQUIRE(cleanup.stuck.size() == 2);
  CHECK(cleanup.stuck[0].state == SliceState::Loading);
  CHECK(cleanup.unload.size() == 2);  // LOADING stuck: UNLOAD; DEACTIVATING stuck: the key removed
  CHECK(cleanup.malformed_again == std::vector<std::pair<std::string, NodeId>>{{"org.x:a:1.0.0", "n4"}});
  CHECK(cleanup.remove ==
        std::vector<std::pair<std::string, NodeId>>{{"org.x:a:1.0.0", "n2"}, {"org.x:a:1.0.0", "n4"}});
  // A command of its own pending: not judged stuck.
  w.table.entries["org.x:a:1.0.0"]["n1"].intent = SliceState::Unload;
  CHECK(plan_cleanup(w.facts, 30).stuck.size() == 1);
}

namespace {
bool same_plan(const Cleanup& a, const Cleanup& b) {
  auto unloads = [](const Cleanup& c) {
    std::vector<std::tuple<std::string, NodeId, UnloadWhy>> out;
    for (const auto& u : c.unload) out.emplace_back(u.artifact, u.node, u.why);
    return out;
  };
  auto stuck = [](const Cleanup& c) {
    std::vector<std::tuple<std::string, NodeId, SliceState>> out;
    for (const auto& s : c.stuck) out.emplace_back(s.artifact, s.node, s.state);
    return out;
  };
  return a.malformed_again == b.malformed_again && a.remove == b.remove && unloads(a) == unloads(b) &&
         stuck(a) == stuck(b);
}
}  // namespace

TEST_CASE("cleanup: the plan holds for every instant before steady_until and changes at it (random)") {
  // The CDM's reconcile early-out reads steady_until as "the same facts give
  // this plan until then": random tables of every state, with and without
  // intents and malformed marks, at random instants; the plan is compared at
  // now, at instants in between, just before the bound and at it.
  std::mt19937_64 rng(31);
  const SliceState states[] = {SliceState::Load,       SliceState::Loading,      SliceState::Loaded,
                               SliceState::Activate,   SliceState::Activating,   SliceState::Active,
                               SliceState::Deactivate, SliceState::Deactivating, SliceState::Unload,
                               SliceState::Unloading,  SliceState::Failed};
  int bounded = 0;
  for (int round = 0; round < 3000; ++round) {
    FakeWorld w;
    w.config.stuck_multiplier = 1 + static_cast<int>(rng() % 3);
    w.config.timeouts.loading_ns = 1 + static_cast<Nanos>(rng() % 50);
    w.config.timeouts.activating_ns = 1 + static_cast<Nanos>(rng() % 50);
    w.config.timeouts.deactivating_ns = 1 + static_cast<Nanos>(rng() % 50);
    w.config.timeouts.unloading_ns = 1 + static_cast<Nanos>(rng() % 50);
    w.config.write_timeout_ns = 1 + static_cast<Nanos>(rng() % 50);
    w.want("org.x:a:1.0.0", 2);
    for (int i = 0; i < 5; ++i) {
      const std::string artifact = rng() % 4 ? "org.x:a:1.0.0" : "org.x:b:1.0.0";  // b: an orphan
      auto& entry = w.put(artifact, "n" + std::to_string(rng() % 4), states[rng() % std::size(states)]);
      entry.since_ns = static_cast<Nanos>(rng() % 200);
      if (rng() % 4 == 0) entry.intent = SliceState::Unload;
      if (rng() % 5 == 0) entry.malformed_remove_at = static_cast<Nanos>(rng() % 200);
    }
    const Nanos now = static_cast<Nanos>(rng() % 250);
    const auto plan = plan_cleanup(w.facts, now);
    INFO("round " << round << " now " << now << " steady_until " << plan.steady_until);
    REQUIRE(plan.steady_until > now);
    if (plan.steady_until == std::numeric_limits<Nanos>::max()) {
      CHECK(same_plan(plan, plan_cleanup(w.facts, now + 100000)));
      continue;
    }
    ++bounded;
    for (Nanos at = now; at < plan.steady_until; at += 1 + static_cast<Nanos>(rng() % 7))
      REQUIRE(same_plan(plan, plan_cleanup(w.facts, at)));
    REQUIRE(same_plan(plan, plan_cleanup(w.facts, plan.steady_until - 1)));
    CHECK_FALSE(same_plan(plan, plan_cleanup(w.facts, plan.steady_until)));
  }
  CHECK(bounded > 500);
}
