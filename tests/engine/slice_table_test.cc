// The CDM's slice table with fake entries (no simulator): one liveness rule.
#include <catch2/catch.hpp>

#include "engine/slice_table.h"

using namespace aether::engine;

namespace {
SliceEntry observed(SliceState state) {
  SliceEntry entry;
  entry.observed = SliceValue{state, std::nullopt, false};
  return entry;
}
}  // namespace

TEST_CASE("slice table: the CDM's intent wins over the observed state until answered") {
  auto entry = observed(SliceState::Active);
  CHECK(entry.effective() == SliceState::Active);
  CHECK(entry.live());
  CHECK(entry.settled_in(SliceState::Active));
  entry.intent = SliceState::Unload;
  CHECK(entry.effective() == SliceState::Unload);
  CHECK_FALSE(entry.live());
  CHECK_FALSE(entry.settled_in(SliceState::Active));  // a command is pending
  CHECK_FALSE(SliceEntry{}.live());
  CHECK_FALSE(SliceEntry{}.effective().has_value());
}

TEST_CASE("slice table: live excludes FAILED, UNLOAD and UNLOADING; a leaving source does not count") {
  for (auto state : {SliceState::Failed, SliceState::Unload, SliceState::Unloading}) {
    CHECK_FALSE(observed(state).live());
  }
  for (auto state :
       {SliceState::Load, SliceState::Loading, SliceState::Loaded, SliceState::Activate,
        SliceState::Activating, SliceState::Active, SliceState::Deactivate, SliceState::Deactivating}) {
    CHECK(observed(state).live());
  }
  auto leaving = observed(SliceState::Active);
  leaving.leaving = true;
  CHECK(leaving.live());
  CHECK_FALSE(leaving.counts_for_scale());
}

TEST_CASE("slice table: an entry whose applied value is live occupies its node for placement constraints") {
  // An UNLOAD recorded but the applied value still ACTIVE (the NDM's stale
  // write landed after the UNLOAD): not live for scale, still running there.
  auto entry = observed(SliceState::Active);
  entry.intent = SliceState::Unload;
  CHECK_FALSE(entry.live());
  CHECK(entry.occupies());
  entry.observed = SliceValue{SliceState::Unload, std::nullopt, false};  // the UNLOAD's own echo
  CHECK_FALSE(entry.occupies());
  SliceEntry loading;
  loading.intent = SliceState::Load;  // a LOAD not yet applied occupies by its intent
  CHECK(loading.occupies());
  CHECK_FALSE(observed(SliceState::Failed).occupies());
}

TEST_CASE("slice table: counts and holders") {
  SliceTable table;
  const std::string cart = "org.x:cart:1.0.0";
  table.entries[cart]["n1"] = observed(SliceState::Active);
  table.entries[cart]["n2"] = observed(SliceState::Loading);
  table.entries[cart]["n3"] = observed(SliceState::Failed);
  table.entries[cart]["n4"] = observed(SliceState::Active);
  table.entries[cart]["n4"].leaving = true;
  table.entries["org.x:web:1.0.0"]["n5"] = observed(SliceState::Loaded);
  CHECK(table.live_count(cart) == 2);  // n1, n2 (n3 FAILED, n4 leaving)
  CHECK(table.live_count("org.x:none:1.0.0") == 0);
  CHECK(table.active_in(cart, {"n1", "n4"}) == 2);
  CHECK(table.active_in(cart, {"n2", "n3"}) == 0);
  CHECK(table.any_active(cart));
  CHECK_FALSE(table.any_active("org.x:web:1.0.0"));
  CHECK(table.live_at(cart, "n2"));
  CHECK_FALSE(table.live_at(cart, "n3"));
  CHECK_FALSE(table.live_at(cart, "n5"));
  CHECK(table.holders(cart) == std::set<NodeId>{"n1", "n2", "n3", "n4"});
  CHECK(table.occupied_nodes() == std::set<NodeId>{"n1", "n2", "n3", "n4", "n5"});
}
