#include "engine/ownership.h"

namespace aether::engine {

std::optional<std::string> Ownership::owner(const std::string& base) const {
  auto it = owner_of.find(base);
  if (it == owner_of.end()) return std::nullopt;
  return it->second;
}

Ownership compute_ownership(const std::map<std::string, std::optional<Blueprint>>& blueprints,
                            const std::map<std::string, SliceTarget>& targets) {
  Ownership result;
  for (const auto& [base, target] : targets) {
    auto it = blueprints.find(target.owner);
    if (it == blueprints.end() || !it->second) continue;
    auto parsed_base = parse_artifact_base(base);
    if (parsed_base && it->second->lists(*parsed_base)) result.owner_of[base] = target.owner;
  }
  for (const auto& [id, blueprint] : blueprints) {
    if (!blueprint) continue;
    bool blocked = false;
    for (const auto& slice : blueprint->slices) {
      auto owner = result.owner(slice.artifact.base().to_string());
      if (owner && *owner != id) blocked = true;
    }
    if (blocked) {
      result.rejected.insert(id);
      continue;
    }
    for (const auto& slice : blueprint->slices) result.owner_of[slice.artifact.base().to_string()] = id;
  }
  return result;
}

}  // namespace aether::engine
