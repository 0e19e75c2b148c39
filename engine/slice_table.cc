#include "engine/slice_table.h"

#include <algorithm>

#include "engine/lifecycle.h"

namespace aether::engine {

bool answers(SliceState command, std::optional<SliceState> observed) {
  if (!observed) return command == SliceState::Unload;
  switch (command) {
    case SliceState::Load:
      return *observed == SliceState::Loading || *observed == SliceState::Loaded ||
             *observed == SliceState::Failed;
    case SliceState::Activate:
      return *observed == SliceState::Activating || *observed == SliceState::Active ||
             *observed == SliceState::Failed;
    case SliceState::Deactivate:
      return *observed == SliceState::Deactivating || *observed == SliceState::Loaded ||
             *observed == SliceState::Failed;
    case SliceState::Unload:
      return *observed == SliceState::Unloading;
    default:
      return true;
  }
}

std::optional<SliceState> SliceEntry::effective() const {
  if (intent) return intent;
  if (observed) return observed->state;
  return std::nullopt;
}

bool SliceEntry::live() const {
  const auto state = effective();
  return state && is_live_state(*state);
}

int SliceTable::live_count(const std::string& artifact) const {
  auto it = entries.find(artifact);
  if (it == entries.end()) return 0;
  int live = 0;
  for (const auto& [node, entry] : it->second) live += entry.counts_for_scale() ? 1 : 0;
  return live;
}

int SliceTable::active_in(const std::string& artifact, const std::vector<NodeId>& view) const {
  auto it = entries.find(artifact);
  if (it == entries.end()) return 0;
  int active = 0;
  for (const auto& [node, entry] : it->second) {
    if (entry.settled_in(SliceState::Active) && std::binary_search(view.begin(), view.end(), node)) ++active;
  }
  return active;
}

bool SliceTable::any_active(const std::string& artifact) const {
  auto it = entries.find(artifact);
  if (it == entries.end()) return false;
  for (const auto& [node, entry] : it->second) {
    if (entry.settled_in(SliceState::Active)) return true;
  }
  return false;
}

bool SliceTable::live_at(const std::string& artifact, const NodeId& node) const {
  auto nodes = entries.find(artifact);
  if (nodes == entries.end()) return false;
  auto it = nodes->second.find(node);
  return it != nodes->second.end() && it->second.live();
}

std::set<NodeId> SliceTable::occupied_nodes() const {
  std::set<NodeId> out;
  for (const auto& [artifact, nodes] : entries) {
    for (const auto& [node, entry] : nodes) out.insert(node);
  }
  return out;
}

std::set<NodeId> SliceTable::holders(const std::string& artifact) const {
  std::set<NodeId> out;
  if (auto it = entries.find(artifact); it != entries.end()) {
    for (const auto& [node, entry] : it->second) out.insert(node);
  }
  return out;
}

}  // namespace aether::engine
