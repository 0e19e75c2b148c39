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
  for (const auto& [base, target] : targets) {
    auto it = blueprints.find(target.owner);
    if (it == blueprints.end() || !it->second) continue;
    // lists(*parse_artifact_base(base)), compared in place (find_base).
    if (it->second->find_base(base) != nullptr) result.owner_of[base] = target.owner;
  }
  std::vector<std::pair<std::uint64_t, std::string>> order;  // (decided position, id)
  for (const auto& [id, blueprint] : blueprints) {
    auto at = positions.find(id);
    order.emplace_back(at == positions.end() ? 0 : at->second, id);
  }
  std::sort(order.begin(), order.end());
  std::vector<std::string> bases;  // one blueprint's slices' bases, built once per slice
  for (const auto& [position, id] : order) {
    const auto& blueprint = blueprints.at(id);
    if (!blueprint) continue;
    bases.clear();
    bool blocked = false;
    for (const auto& slice : blueprint->slices) {
      bases.push_back(slice.artifact.group_id + ":" + slice.artifact.artifact_id);  // base().to_string()
      auto owner = result.owner_of.find(bases.back());
      if (owner != result.owner_of.end() && owner->second != id) blocked = true;
    }
    if (blocked) {
      result.rejected.insert(id);
      continue;
    }
    for (auto& base : bases) result.owner_of[std::move(base)] = id;
  }
  return result;
}

}  // namespace aether::engine
