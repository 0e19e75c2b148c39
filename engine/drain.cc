#include "engine/drain.h"

namespace aether::engine::drain {

bool may_evict(const Entry& entry, bool make_before_break) {
  const ArtifactFacts& x = entry.facts;
  const bool last_active = entry.active && x.other_active == 0 && x.other_live == 0;
  if (last_active) return false;
  return !make_before_break || x.active_on_eligible >= x.owed;
}

Plan plan_node(const std::vector<Entry>& entries, bool empty, bool make_before_break) {
  Plan plan;
  if (empty) {
    plan.decommission = true;
    return plan;
  }
  bool pending = false;
  for (const auto& entry : entries) pending = pending || entry.unloading;
  for (const auto& entry : entries) {
    if (!entry.live || !entry.facts.owned_current) continue;  // orphans, versions, FAILED: reconcile (§4)
    if (entry.facts.excluded && may_evict(entry, /*make_before_break=*/false)) {
      if (!pending && !plan.evict && !plan.unload_excluded) plan.unload_excluded = entry.artifact;
      continue;
    }
    if (!entry.facts.excluded && may_evict(entry, make_before_break)) {
      if (!pending && !plan.evict && !plan.unload_excluded) plan.evict = entry.artifact;
    } else {
      plan.blocked.push_back(entry.artifact);
    }
  }
  return plan;
}

}  // namespace aether::engine::drain
