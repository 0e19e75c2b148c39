// The CDM's per-entry timers (engine-semantics.md §4 "Re-send", stuck
// detection): when an entry's stuck check is due, whether it still applies
// when it fires, and what a command's re-send timer does when it fires. Pure
// over a CdmFacts; the CDM arms the timers and turns the answers into
// commands. Unit-tested with fake inputs (tests/engine/entry_timers_test.cc).
#pragma once

#include <optional>
#include <string>

#include "engine/cdm_facts.h"
#include "engine/cdm_writer.h"
#include "engine/time.h"

namespace aether::engine::entry_timers {

// When the observed state of `entry` has been held past stuck_multiplier x
// its state timeout (the instant after the bound); nullopt: nothing observed,
// or a state without a timeout.
std::optional<Nanos> stuck_due(const SliceEntry& entry, const EngineConfig& config);
// The stuck check armed at `since` for `state` still applies: the entry is
// there and has not changed state since.
bool still_in(const SliceTable& table, const std::string& artifact, const NodeId& node, Nanos since,
              SliceState state);

// What a command's re-send timer does when it fires (the entry exists).
struct Resend {
  enum class Action { None, Rearm, Send } action = Action::None;
  UnloadWhy why = UnloadWhy::Other;  // Send of an UNLOAD: how the writer re-checks it
};
// None: answered, or the intent changed. Rearm: the node is not reachable
// (an eligible node, or for an UNLOAD a drained node in the view) or an
// ACTIVATE's dependencies are not ready. Send: with the UNLOAD's reason (an
// eviction on a DRAINING node; on a node not drained, a scale-down for a live
// entry of the desired artifact, a removal for any other live entry).
Resend on_resend(const CdmFacts& facts, const std::string& artifact, const NodeId& node, SliceState command);

}  // namespace aether::engine::entry_timers
