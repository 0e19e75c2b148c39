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
