#include "engine/stuck_orphans.h"

#include <algorithm>
#include <limits>

#include "engine/lifecycle.h"

namespace aether::engine {

namespace {

// a + b for b >= 0, the largest Nanos where it would overflow.
Nanos saturating_add(Nanos a, Nanos b) {
  return a > std::numeric_limits<Nanos>::max() - b ? std::numeric_limits<Nanos>::max() : a + b;
}

}  // namespace

Cleanup plan_cleanup(const CdmFacts& facts, Nanos now) {
  Cleanup out;
  for (const auto& [artifact, nodes] : facts.table.entries) {
    const Desired* desired = facts.state.desired_for(artifact);
    // An old version of a rolling slice is the rolling update's (roll), not an orphan.
    const bool orphan = !desired || (desired->artifact != artifact && !desired->update.rolling);
    for (const auto& [node, entry] : nodes) {
      if (entry.malformed_remove_at) {
        // Its Remove was lost (or is still on its way): issue it again once
        // the write would have timed out.
        if (now - *entry.malformed_remove_at >= facts.config.write_timeout_ns) {
          out.malformed_again.emplace_back(artifact, node);
          out.remove.emplace_back(artifact, node);
        } else {  // due from malformed_remove_at + write_timeout on
          out.steady_until = std::min(
              out.steady_until, saturating_add(*entry.malformed_remove_at, facts.config.write_timeout_ns));
        }
        continue;
      }
      const std::optional<SliceState> observed = observed_state(entry.observed);
      const auto state = entry.effective();
      if (!state) continue;
      if (orphan) {
        if (observed == SliceState::Unload || observed == SliceState::Unloading) {
          out.remove.emplace_back(artifact, node);
        } else if (*state != SliceState::Unload && *state != SliceState::Unloading) {
          out.unload.push_back({artifact, node, UnloadWhy::Removal});
        }
        continue;
      }
      if (!observed || entry.intent) continue;
      if (*observed == SliceState::Failed) {
        out.unload.push_back({artifact, node, UnloadWhy::Other});  // its UNLOAD was lost or overtaken
        continue;
      }
      auto timeout = state_timeout_ns(*observed, facts.config.timeouts);
      if (!timeout) continue;
      if (now - entry.since_ns <= facts.config.stuck_multiplier * *timeout) {
        // Stuck from since_ns + stuck_multiplier x timeout + 1 on.
        out.steady_until = std::min(
            out.steady_until,
            saturating_add(saturating_add(entry.since_ns, facts.config.stuck_multiplier * *timeout), 1));
        continue;
      }
      out.stuck.push_back({artifact, node, *observed});
      if (*observed == SliceState::Loading || *observed == SliceState::Activating) {
        out.unload.push_back({artifact, node, UnloadWhy::Other});
      } else {
        out.remove.emplace_back(artifact, node);
      }
    }
  }
  return out;
}

}  // namespace aether::engine
