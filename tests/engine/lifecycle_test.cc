#include <catch2/catch.hpp>

#include "engine/lifecycle.h"

using namespace aether::engine;
using S = SliceState;
constexpr auto kCdm = LifecycleRole::Cdm;
constexpr auto kNdm = LifecycleRole::Ndm;
const std::optional<SliceState> kAbsent;
const std::optional<SliceState> kRemove;

TEST_CASE("state names round-trip") {
  for (auto s : {S::Load, S::Loading, S::Loaded, S::Activate, S::Activating, S::Active, S::Deactivate,
                 S::Deactivating, S::Failed, S::Unload, S::Unloading}) {
    CHECK(parse_slice_state(slice_state_name(s)) == s);
  }
  CHECK_FALSE(parse_slice_state("load"));
}

TEST_CASE("only the CDM creates a key, and only with LOAD") {
  CHECK(is_legal_transition(kCdm, kAbsent, S::Load));
  CHECK_FALSE(is_legal_transition(kCdm, kAbsent, S::Unload));
  CHECK_FALSE(is_legal_transition(kCdm, kAbsent, S::Activate));
  CHECK_FALSE(is_legal_transition(kNdm, kAbsent, S::Loading));
}

TEST_CASE("the CDM may UNLOAD any state but UNLOAD and UNLOADING") {
  for (auto s : {S::Load, S::Loading, S::Loaded, S::Activate, S::Activating, S::Active, S::Deactivate,
                 S::Deactivating, S::Failed}) {
    CHECK(is_legal_transition(kCdm, s, S::Unload));
  }
  CHECK_FALSE(is_legal_transition(kCdm, S::Unloading, S::Unload));
}

TEST_CASE("the CDM activates only LOADED and deactivates only ACTIVE") {
  CHECK(is_legal_transition(kCdm, S::Loaded, S::Activate));
  CHECK_FALSE(is_legal_transition(kCdm, S::Loading, S::Activate));
  CHECK_FALSE(is_legal_transition(kCdm, S::Failed, S::Activate));
  CHECK(is_legal_transition(kCdm, S::Active, S::Deactivate));
  CHECK_FALSE(is_legal_transition(kCdm, S::Loaded, S::Deactivate));
  CHECK_FALSE(is_legal_transition(kCdm, S::Loaded, S::Load));
}

TEST_CASE("the CDM may remove any key; the NDM only from UNLOADING") {
  CHECK(is_legal_transition(kCdm, S::Active, kRemove));
  CHECK(is_legal_transition(kCdm, S::Unload, kRemove));
  CHECK(is_legal_transition(kNdm, S::Unloading, kRemove));
  CHECK_FALSE(is_legal_transition(kNdm, S::Unload, kRemove));
  CHECK_FALSE(is_legal_transition(kNdm, S::Active, kRemove));
}

TEST_CASE("the NDM answers commands along the table") {
  CHECK(is_legal_transition(kNdm, S::Load, S::Loading));
  CHECK_FALSE(is_legal_transition(kNdm, S::Load, S::Loaded));
  CHECK(is_legal_transition(kNdm, S::Loading, S::Loaded));
  CHECK(is_legal_transition(kNdm, S::Loading, S::Failed));
  CHECK(is_legal_transition(kNdm, S::Activate, S::Activating));
  CHECK(is_legal_transition(kNdm, S::Activate, S::Failed));
  CHECK_FALSE(is_legal_transition(kNdm, S::Activate, S::Active));
  CHECK(is_legal_transition(kNdm, S::Activating, S::Active));
  CHECK(is_legal_transition(kNdm, S::Deactivate, S::Loaded));
  CHECK(is_legal_transition(kNdm, S::Deactivate, S::Deactivating));
  CHECK(is_legal_transition(kNdm, S::Deactivating, S::Loaded));
  CHECK(is_legal_transition(kNdm, S::Unload, S::Unloading));
  CHECK_FALSE(is_legal_transition(kNdm, S::Unload, S::Failed));
  CHECK_FALSE(is_legal_transition(kNdm, S::Loaded, S::Unload));
  CHECK_FALSE(is_legal_transition(kNdm, S::Loaded, S::Activate));
}

TEST_CASE("the NDM reports a held state it lost only as FAILED lost") {
  CHECK(is_legal_transition(kNdm, S::Loaded, S::Failed, kLostReason));
  CHECK(is_legal_transition(kNdm, S::Active, S::Failed, kLostReason));
  CHECK_FALSE(is_legal_transition(kNdm, S::Active, S::Failed, "crashed"));
}

TEST_CASE("a rewrite is always legal") {
  CHECK(is_legal_transition(kNdm, S::Loading, S::Loading));
  CHECK(is_legal_transition(kCdm, S::Unload, S::Unload));
  CHECK(is_legal_transition(kNdm, kAbsent, kRemove));
}

TEST_CASE("live states and stuck timeouts") {
  CHECK(is_live_state(S::Loaded));
  CHECK_FALSE(is_live_state(S::Failed));
  CHECK_FALSE(is_live_state(S::Unloading));
  StateTimeouts timeouts;
  CHECK(state_timeout_ns(S::Loading, timeouts) == minutes(2));
  CHECK(state_timeout_ns(S::Deactivating, timeouts) == seconds(30));
  CHECK_FALSE(state_timeout_ns(S::Active, timeouts));
}
