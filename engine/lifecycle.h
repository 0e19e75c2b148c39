// The slice lifecycle table (engine-semantics.md §6), as one function that the
// engine asserts on its own writes and the checks reuse to judge committed
// writes. A transition is judged from the state the writer had applied for
// the key when it submitted, never from the committed predecessor.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "engine/config.h"
#include "engine/time.h"

namespace aether::engine {

enum class SliceState : std::uint8_t {
  Load,
  Loading,
  Loaded,
  Activate,
  Activating,
  Active,
  Deactivate,
  Deactivating,
  Failed,
  Unload,
  Unloading,
};

const char* slice_state_name(SliceState state);  // "LOAD", "LOADING", ...
std::optional<SliceState> parse_slice_state(std::string_view text);

// Live entry: a state not in {FAILED, UNLOAD, UNLOADING}.
bool is_live_state(SliceState state);
// LOAD, ACTIVATE, DEACTIVATE, UNLOAD: states only the CDM writes.
bool is_command_state(SliceState state);

enum class LifecycleRole : std::uint8_t { Cdm, Ndm };

const char* lifecycle_role_name(LifecycleRole role);

// Whether `role` may write `to` (nullopt: Remove) on a key whose state it had
// applied is `from` (nullopt: absent). `failure_reason` is the reason carried
// by a FAILED value (NDM's LOADED/ACTIVE -> FAILED edge needs "lost"). A write
// that leaves the state unchanged (absent -> Remove included) is a rewrite,
// always legal. The CDM's Removes (node gone, stuck, orphan, unparseable)
// depend on facts the state does not show, so any CDM Remove is legal; the
// NDM removes only from UNLOADING. Also the NDM may write any state on the
// key of its own node only; that is for the caller to check.
bool is_legal_transition(LifecycleRole role, std::optional<SliceState> from, std::optional<SliceState> to,
                         std::string_view failure_reason = {});

// The failure reason the NDM writes for a slice it no longer holds.
inline constexpr std::string_view kLostReason = "lost";

// The state timeout used by stuck detection (LOADING, ACTIVATING,
// DEACTIVATING, UNLOADING); nullopt for states that cannot be stuck.
std::optional<Nanos> state_timeout_ns(SliceState state, const StateTimeouts& timeouts);

}  // namespace aether::engine
