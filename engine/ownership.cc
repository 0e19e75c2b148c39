#include "engine/ownership.h"

#include <algorithm>
#include <utility>
#include <vector>

namespace aether::engine {

std::optional<std::string> Ownership::owner(const std::string& base) const {
  auto it = owner_of.find(base);
  if (it == owner_of.end()) return std::nullopt;
  return it->second;
}

Ownership compute_ownership(const std::map<std::string, std::optional<Blueprint>>& blueprints,
                            const std::map<std::string, SliceTarget>& targets,
                            const std::map<std::string, std::uint64_t>& positions) {
  Ownership result;
  // targets and owner_of are both sorted by base: each owned base is put at
  // the end (a hint that is always right, no search).
  for (const auto& [base, target] : targets) {
    auto it = blueprints.find(target.owner);
    if (it == blueprints.end() || !it->second) continue;
    // lists(*parse_artifact_base(base)), compared in place (find_base).
    if (it->second->find_base(base) != nullptr)
      result.owner_of.emplace_hint(result.owner_of.end(), base, target.owner);
  }
  // (decided position, the blueprints entry): by position, then id (ids are
  // distinct), the order of (position, id) pairs.
  using Item = std::pair<std::uint64_t, const std::pair<const std::string, std::optional<Blueprint>>*>;
  std::vector<Item> order;
  order.reserve(blueprints.size());
  for (const auto& entry : blueprints) {
    auto at = positions.find(entry.first);
    order.emplace_back(at == positions.end() ? 0 : at->second, &entry);
  }
  std::sort(order.begin(), order.end(), [](const Item& a, const Item& b) {
    return a.first != b.first ? a.first < b.first : a.second->first < b.second->first;
  });
  // One blueprint's slices whose base owner_of does not hold yet, with where
  // it would go (lower_bound), put only if the blueprint is accepted. A base
  // it does hold is this blueprint's (nothing to write) or blocks it. The base
  // is built in one reused buffer; a string is allocated only for a base
  // that is put (issue 14, ninth pass).
  struct Slot {
    std::map<std::string, std::string>::iterator at;
    const SliceSpec* slice;
  };
  std::vector<Slot> slots;
  std::string base;
  for (const auto& [position, entry] : order) {
    const auto& [id, blueprint] = *entry;
    if (!blueprint) continue;
    slots.clear();
    bool blocked = false;
    for (const auto& slice : blueprint->slices) {
      base.assign(slice.artifact.group_id).append(1, ':').append(slice.artifact.artifact_id);  // base()
      auto owner = result.owner_of.lower_bound(base);
      if (owner != result.owner_of.end() && owner->first == base) {
        if (owner->second != id) blocked = true;
      } else {
        slots.push_back({owner, &slice});
      }
    }
    if (blocked) {
      result.rejected.insert(id);
      continue;
    }
    for (const auto& slot : slots) {
      // A hint found before this blueprint's other puts: still a valid hint
      // (map iterators stay valid); a base listed twice is put once.
      const auto& artifact = slot.slice->artifact;
      result.owner_of.emplace_hint(slot.at, artifact.group_id + ":" + artifact.artifact_id, id);
    }
  }
  return result;
}

}  // namespace aether::engine
