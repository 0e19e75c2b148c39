#include "engine/moves.h"

namespace aether::engine {

std::vector<std::string> moves_through(const MovesInFlight& moves, const NodeId& node) {
  std::vector<std::string> out;
  for (const auto& [artifact, move] : moves) {
    if (move.source == node || move.target == node) out.push_back(artifact);
  }
  return out;
}

std::vector<std::string> moves_over(const MovesInFlight& moves, const CdmFacts& facts) {
  std::vector<std::string> out;
  for (const auto& [artifact, move] : moves) {
    const Desired* desired = facts.state.desired_for(artifact);
    const bool starved =
        desired != nullptr && desired->artifact == artifact && !facts.dependencies_ready(desired->depends_on);
    if (starved || !facts.table.live_at(artifact, move.source) || !facts.table.live_at(artifact, move.target))
      out.push_back(artifact);
  }
  return out;
}

BreakStep break_step(const CdmFacts& facts, const std::string& artifact, const NodeId& source) {
  const SliceEntry& src = facts.table.entries.at(artifact).at(source);
  const Desired* desired = facts.state.desired_for(artifact);
  // The break step never takes ACTIVE instances below min_available (a node
  // lost during the move): the source then stays. ACTIVE entries on DRAINING
  // or DECOMMISSIONED nodes do not count (their drain takes them next, §8.2);
  // a drained source is an eviction.
  const bool source_counts = src.settled_in(SliceState::Active) && !facts.lifecycles.drained(source);
  const int floor = desired && desired->artifact == artifact ? desired->min_instances : 0;
  if (source_counts && facts.active_counted(artifact) - 1 < floor) return {BreakStep::Action::KeepSource};
  if (!src.live()) return {};
  // On a node drained since the move began, the break step is an eviction
  // (engine-semantics.md §8.2): one at a time per node. Otherwise it is a
  // scale-down by one: the floor is re-checked at submit.
  return {BreakStep::Action::Unload, facts.lifecycles.of(source) == NodeLifecycle::Draining
                                         ? UnloadWhy::Eviction
                                         : UnloadWhy::ScaleDown};
}

}  // namespace aether::engine
