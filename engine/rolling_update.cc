#include "engine/rolling_update.h"

#include <algorithm>

namespace aether::engine::rolling {

bool unload_keeps_floor(int active_after, int desired, int max_unavailable) {
  return active_after >= desired - max_unavailable;
}

Plan plan(const Input& input) {
  Plan out;
  std::vector<OldEntry> active;
  for (const auto& entry : input.old) {
    if (entry.active) {
      active.push_back(entry);
    } else {
      out.unload.push_back(entry);
    }
  }
  // Last node first (then the larger artifact string): the order scale-down uses.
  std::sort(active.begin(), active.end(), [](const OldEntry& a, const OldEntry& b) {
    return a.node != b.node ? a.node > b.node : a.artifact > b.artifact;
  });
  int remaining = input.active;
  for (const auto& entry : active) {
    if (!input.ignore_max_unavailable &&
        !unload_keeps_floor(remaining - 1, input.desired, input.max_unavailable))
      break;
    out.unload.push_back(entry);
    --remaining;
  }
  // What stays live after the UNLOADs: the surge allowance is over both versions.
  const int total_live = input.new_live + static_cast<int>(input.old.size() - out.unload.size());
  out.load =
      std::max(0, std::min(input.desired - input.new_live, input.desired + input.max_surge - total_live));
  return out;
}

}  // namespace aether::engine::rolling
