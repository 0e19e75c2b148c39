// The pure drain planning with fake inputs (no simulator):
// engine-semantics.md §8.2.
#include <catch2/catch.hpp>

#include "engine/drain.h"

using namespace aether::engine::drain;

namespace {
// An ACTIVE entry of an owned base at its intended version.
Entry active(std::string artifact, int owed, int active_on_eligible, int other_active, int other_live) {
  Entry e;
  e.artifact = std::move(artifact);
  e.live = true;
  e.active = true;
  e.facts.owned_current = true;
  e.facts.owed = owed;
  e.facts.active_on_eligible = active_on_eligible;
  e.facts.other_active = other_active;
  e.facts.other_live = other_live;
  return e;
}
}  // namespace

TEST_CASE("drain: evict only once the owed count is ACTIVE on eligible nodes (make-before-break)") {
  // count 3, 3 eligible nodes: 2 ACTIVE elsewhere, the replacement still LOADING.
  CHECK_FALSE(may_evict(active("g.x:a:1.0.0", 3, 2, 2, 3)));
  CHECK(may_evict(active("g.x:a:1.0.0", 3, 3, 3, 3)));
  // Nowhere to go: 2 eligible nodes both hold it, owed min(3, 2) = 2.
  CHECK(may_evict(active("g.x:a:1.0.0", 2, 2, 2, 2)));
  // The mutation point drops make-before-break only.
  CHECK(may_evict(active("g.x:a:1.0.0", 3, 2, 2, 3), /*make_before_break=*/false));
}

TEST_CASE("drain: never the last ACTIVE entry while there is no other live entry") {
  // No eligible node at all: owed 0, yet the only instance stays.
  CHECK_FALSE(may_evict(active("g.x:a:1.0.0", 0, 0, 0, 0)));
  CHECK_FALSE(may_evict(active("g.x:a:1.0.0", 0, 0, 0, 0), /*make_before_break=*/false));
  // Another instance on a second draining node: this one may go.
  CHECK(may_evict(active("g.x:a:1.0.0", 0, 0, 1, 1)));
  // A non-ACTIVE entry is never "the last ACTIVE".
  auto loading = active("g.x:a:1.0.0", 0, 0, 0, 0);
  loading.active = false;
  CHECK(may_evict(loading));
}

TEST_CASE("drain: one eviction at a time per node, blocked entries listed, then DECOMMISSIONED") {
  std::vector<Entry> entries = {active("g.x:a:1.0.0", 3, 3, 3, 3), active("g.x:b:1.0.0", 3, 3, 3, 3),
                                active("g.x:c:1.0.0", 2, 1, 1, 2)};
  auto plan = plan_node(entries, false);
  REQUIRE(plan.evict == std::optional<std::string>("g.x:a:1.0.0"));
  CHECK(plan.blocked == std::vector<std::string>{"g.x:c:1.0.0"});
  CHECK_FALSE(plan.decommission);

  entries[0].unloading = true;  // its eviction is in progress: nothing else goes
  entries[0].live = false;
  plan = plan_node(entries, false);
  CHECK_FALSE(plan.evict);
  CHECK_FALSE(plan.unload_excluded);

  plan = plan_node({}, true);
  CHECK(plan.decommission);
  CHECK_FALSE(plan.evict);
}

TEST_CASE("drain: orphans and FAILED entries are left to reconcile; excluded ones go without replacement") {
  Entry orphan = active("g.x:a:1.0.0", 0, 0, 0, 0);
  orphan.facts.owned_current = false;
  Entry failed = active("g.x:b:1.0.0", 1, 1, 1, 1);
  failed.live = false;
  Entry excluded = active("g.x:c:1.0.0", 1, 0, 0, 1);  // another (LOADED) instance elsewhere
  excluded.facts.excluded = true;
  auto plan = plan_node({orphan, failed, excluded}, false);
  CHECK_FALSE(plan.evict);
  CHECK(plan.unload_excluded == std::optional<std::string>("g.x:c:1.0.0"));
  CHECK(plan.blocked.empty());
  // Its last ACTIVE entry stays even so.
  excluded.facts.other_live = 0;
  plan = plan_node({excluded}, false);
  CHECK_FALSE(plan.unload_excluded);
  CHECK(plan.blocked == std::vector<std::string>{"g.x:c:1.0.0"});
}

// ---------------------------------------------------------------------------
// The facts the CDM gathers for the rule, and the writer's re-checks, over a
// fake world (tests/engine/cdm_fakes.h).

#include <random>

#include "engine/mutations.h"
#include "tests/engine/cdm_fakes.h"

namespace {
using aether::engine::NodeId;
using aether::engine::SliceCommand;
using aether::engine::SliceState;
using aether::engine::UnloadWhy;
using aether::engine::test::FakeWorld;

SliceCommand load(const std::string& artifact, const NodeId& node) {
  return SliceCommand{node, artifact, SliceState::Load, std::nullopt, false, UnloadWhy::Other};
}
SliceCommand eviction(const std::string& artifact, const NodeId& node) {
  return SliceCommand{node, artifact, SliceState::Unload, SliceState::Active, false, UnloadWhy::Eviction};
}
}  // namespace

TEST_CASE("drain facts: owed over the eligible nodes, ACTIVE and live elsewhere counted conservatively") {
  FakeWorld w({"n1", "n2", "n3"});
  w.lifecycles.values["n1"] = "DRAINING";
  w.want("org.x:a:1.0.0", 3);
  w.put("org.x:a:1.0.0", "n1", SliceState::Active);
  w.put("org.x:a:1.0.0", "n2", SliceState::Active);
  w.put("org.x:a:1.0.0", "n3", SliceState::Active).intent = SliceState::Unload;  // ACTIVE in the store only
  const auto e = entry_of(w.facts, "org.x:a:1.0.0", "n1");
  CHECK(e.live);
  CHECK(e.active);
  CHECK_FALSE(e.unloading);
  CHECK(e.facts.owned_current);
  CHECK(e.facts.owed == 2);  // min(3, 2 eligible)
  CHECK(e.facts.active_on_eligible == 1);
  CHECK(e.facts.other_active == 2);
  CHECK(e.facts.other_live == 1);
  // An orphan (no desired state): no facts, handled by reconcile.
  w.put("org.x:b:1.0.0", "n1", SliceState::Loaded);
  CHECK_FALSE(entry_of(w.facts, "org.x:b:1.0.0", "n1").facts.owned_current);
  CHECK(entries_on(w.facts, "n1").size() == 2);
  CHECK(entries_on(w.facts, "n9").empty());
}

TEST_CASE("drain re-check: LOADs only to ON_DUTY nodes; one eviction at a time; never the last ACTIVE") {
  FakeWorld w({"n1", "n2"});
  w.lifecycles.values["n1"] = "DRAINING";
  w.want("org.x:a:1.0.0", 1);
  w.put("org.x:a:1.0.0", "n1", SliceState::Active);
  CHECK_FALSE(command_allowed(w.facts, load("org.x:a:1.0.0", "n1")));
  CHECK(command_allowed(w.facts, load("org.x:a:1.0.0", "n2")));
  // Its last ACTIVE entry, nothing elsewhere: not even under the mutation.
  CHECK_FALSE(command_allowed(w.facts, eviction("org.x:a:1.0.0", "n1")));
  w.config.mutations.insert(aether::engine::mutation::kDrainBreakBeforeMake);
  CHECK_FALSE(command_allowed(w.facts, eviction("org.x:a:1.0.0", "n1")));
  w.config.mutations.clear();
  // The replacement is ACTIVE on n2: it may go, unless another entry of n1 is UNLOADING.
  w.put("org.x:a:1.0.0", "n2", SliceState::Active);
  CHECK(command_allowed(w.facts, eviction("org.x:a:1.0.0", "n1")));
  w.put("org.x:b:1.0.0", "n1", SliceState::Unloading);
  CHECK_FALSE(command_allowed(w.facts, eviction("org.x:a:1.0.0", "n1")));
  // Gone from the table: dropped. Undrained: an ordinary UNLOAD, allowed.
  CHECK_FALSE(command_allowed(w.facts, eviction("org.x:c:1.0.0", "n1")));
  w.lifecycles.values["n1"] = "ON_DUTY";
  CHECK(command_allowed(w.facts, eviction("org.x:c:1.0.0", "n1")));
}

TEST_CASE("drain re-check: DECOMMISSIONED only for a DRAINING node with no entry and no key") {
  FakeWorld w({"n1", "n2"});
  CHECK_FALSE(decommission_allowed(w.facts, "n1", true));  // ON_DUTY
  w.lifecycles.values["n1"] = "DRAINING";
  CHECK(decommission_allowed(w.facts, "n1", true));
  CHECK_FALSE(decommission_allowed(w.facts, "n1", false));  // a key in the store
  w.put("org.x:a:1.0.0", "n1", SliceState::Unloading);
  CHECK_FALSE(decommission_allowed(w.facts, "n1", true));
}

TEST_CASE("drain progress: DECOMMISSIONED re-sent after write_timeout; blocked logged once, pruned") {
  FakeWorld w({"n1", "n2"});
  Progress progress;
  CHECK(progress.decommission_due("n1", 100, 30));
  progress.decommission_sent["n1"] = 100;
  CHECK_FALSE(progress.decommission_due("n1", 129, 30));
  CHECK(progress.decommission_due("n1", 130, 30));
  w.lifecycles.values["n1"] = "DRAINING";
  w.put("org.x:a:1.0.0", "n1", SliceState::Active);
  CHECK(progress.note_blocked("n1", "org.x:a:1.0.0"));
  CHECK_FALSE(progress.note_blocked("n1", "org.x:a:1.0.0"));
  CHECK(progress.note_blocked("n1", "org.x:gone:1.0.0"));
  progress.prune(w.facts);  // the second is not live on n1
  CHECK(progress.blocked.size() == 1);
  w.lifecycles.values["n1"] = "ON_DUTY";  // undrained
  progress.prune(w.facts);
  CHECK(progress.blocked.empty());
}

TEST_CASE("drain plan: make-before-break unless the mutation point is on") {
  FakeWorld w({"n1", "n2", "n3"});
  w.lifecycles.values["n1"] = "DRAINING";
  w.want("org.x:a:1.0.0", 2);
  w.put("org.x:a:1.0.0", "n1", SliceState::Active);
  w.put("org.x:a:1.0.0", "n2", SliceState::Active);
  w.put("org.x:a:1.0.0", "n3", SliceState::Loading);  // the replacement
  auto plan = plan_for(w.facts, entries_on(w.facts, "n1"), false);
  CHECK_FALSE(plan.evict);
  CHECK(plan.blocked == std::vector<std::string>{"org.x:a:1.0.0"});
  w.config.mutations.insert(aether::engine::mutation::kDrainBreakBeforeMake);
  plan = plan_for(w.facts, entries_on(w.facts, "n1"), false);
  CHECK(plan.evict == std::optional<std::string>("org.x:a:1.0.0"));
}

TEST_CASE("drain nodes to visit: the DRAINING and DECOMMISSIONED nodes, as the walk over every value finds") {
  // nodes_to_drain reads NodeLifecycleValues' remembered list; the plain walk
  // parses every node's value. Random values (every state, unparseable ones),
  // written and erased between the reads.
  const std::vector<std::string> values = {"JOINING",       "ON_DUTY",  "DRAINING", "DECOMMISSIONED",
                                           "SHUTTING_DOWN", "draining", "",         "DRAINING "};
  std::mt19937_64 rng(20261203);
  FakeWorld w(std::vector<NodeId>{});
  int visited = 0;
  for (int round = 0; round < 3000; ++round) {
    const auto node = "n" + std::to_string(rng() % 40);
    if (rng() % 4 == 0) {
      w.lifecycles.values.erase(node);
    } else {
      w.lifecycles.values[node] = values[rng() % values.size()];
    }
    std::vector<std::pair<aether::engine::NodeId, aether::engine::NodeLifecycle>> plain;
    for (const auto& [n, value] : w.lifecycles.values) {
      const auto state = w.lifecycles.of(n);
      if (state == aether::engine::NodeLifecycle::Draining ||
          state == aether::engine::NodeLifecycle::Decommissioned)
        plain.emplace_back(n, *state);
    }
    REQUIRE(nodes_to_drain(w.lifecycles) == plain);
    visited += static_cast<int>(plain.size());
  }
  CHECK(visited > 3000);  // the walk found DRAINING and DECOMMISSIONED nodes along the way
}
