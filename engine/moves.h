// Moves in flight (engine-semantics.md §4, aggressive rebalancing): a move
// loads the artifact on its target first and unloads the source only once
// the target is ACTIVE (make-before-break). What the CDM keeps per move and
// the pure rules for when one ends and what its break step does, over a
// CdmFacts. Unit-tested with fake inputs (tests/engine/moves_test.cc).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "engine/cdm_facts.h"
#include "engine/cdm_writer.h"

namespace aether::engine {

struct MoveInFlight {
  NodeId source;
  NodeId target;
};
using MovesInFlight = std::map<std::string, MoveInFlight>;  // by artifact

// Moves whose source or target is `node`.
std::vector<std::string> moves_through(const MovesInFlight& moves, const NodeId& node);
// Moves to end now: either entry stopped being live (the source counts
// again), or the artifact's dependencies are not ready (any more): its target
// cannot become ACTIVE, so the move could never end.
std::vector<std::string> moves_over(const MovesInFlight& moves, const CdmFacts& facts);

// The break step once the target of a move of `artifact` is ACTIVE (the
// source's entry still in the table, no longer `leaving`).
struct BreakStep {
  enum class Action { None, KeepSource, Unload } action = Action::None;
  UnloadWhy why = UnloadWhy::ScaleDown;
};
// KeepSource: unloading it would take ACTIVE entries that count (on nodes in
// the view, not drained) below min_available (a node lost during the move).
// Unload: the source is live: an eviction if its node is DRAINING now (§8.2),
// else a scale-down by one (re-checked at submit). None: it is not live.
BreakStep break_step(const CdmFacts& facts, const std::string& artifact, const NodeId& source);

}  // namespace aether::engine
