#include "engine/entry_timers.h"

#include "engine/lifecycle.h"

namespace aether::engine::entry_timers {

std::optional<Nanos> stuck_due(const SliceEntry& entry, const EngineConfig& config) {
  if (!entry.observed) return std::nullopt;
  const auto timeout = state_timeout_ns(entry.observed->state, config.timeouts);
  if (!timeout) return std::nullopt;
  return entry.since_ns + config.stuck_multiplier * *timeout + 1;
}

bool still_in(const SliceTable& table, const std::string& artifact, const NodeId& node, Nanos since,
              SliceState state) {
  auto nodes = table.entries.find(artifact);
  if (nodes == table.entries.end()) return false;
  auto it = nodes->second.find(node);
  return it != nodes->second.end() && it->second.since_ns == since && it->second.observed &&
         it->second.observed->state == state;
}

Resend on_resend(const CdmFacts& facts, const std::string& artifact, const NodeId& node, SliceState command) {
  const SliceEntry& current = facts.table.entries.at(artifact).at(node);
  if (answers(command, observed_state(current.observed)) || current.intent != command) return {};
  const Desired* desired = facts.state.desired_for(artifact);
  const bool blocked = command == SliceState::Activate && desired && desired->artifact == artifact &&
                       !facts.dependencies_ready(desired->depends_on);
  // A lost eviction (or other UNLOAD) goes again to a draining node in
  // the view: it is live, just not eligible (§8.2).
  const bool reachable = facts.eligible(node) || (command == SliceState::Unload &&
                                                  facts.lifecycles.drained(node) && facts.in_view(node));
  if (!reachable || blocked) return Resend{Resend::Action::Rearm};
  // A re-sent UNLOAD is re-checked at submit like the first (§4): an
  // eviction by the drain rule; on a node that is not drained, the UNLOAD
  // of a live entry of the desired artifact by the scale-down floor (the
  // floor may have fallen since: nodes lost meanwhile), any other live
  // entry as a removal.
  Resend out{Resend::Action::Send};
  if (command == SliceState::Unload) {
    if (facts.lifecycles.of(node) == NodeLifecycle::Draining) {
      out.why = UnloadWhy::Eviction;
    } else if (!facts.lifecycles.drained(node) && current.observed &&
               is_live_state(current.observed->state)) {
      out.why = desired && desired->artifact == artifact ? UnloadWhy::ScaleDown : UnloadWhy::Removal;
    }
  }
  return out;
}

}  // namespace aether::engine::entry_timers
