#include "engine/slice_key_index.h"

#include <algorithm>
#include <utility>

namespace aether::engine {

void SliceKeyIndex::put(const std::string& key, const SliceKey& slice, std::optional<SliceValue> value) {
  auto [it, inserted] = keys_.try_emplace(key, Key{slice, std::nullopt});
  if (inserted) ++nodes_[slice.node];
  it->second.value = std::move(value);
}

void SliceKeyIndex::track(const KvNotification& n) {
  if (!n.key.starts_with(kSlicePrefix)) return;
  if (n.op == KvOp::Put) {
    if (auto slice = parse_slice_key(n.key)) put(n.key, *slice, parse_slice_value(n.value));
    return;
  }
  auto it = keys_.find(n.key);
  if (it == keys_.end()) return;
  auto node = nodes_.find(it->second.slice.node);
  if (--node->second == 0) nodes_.erase(node);
  keys_.erase(it);
}

std::set<NodeId> absent_nodes(const SliceKeyIndex& index, const NodeLifecycles* lifecycles,
                              const std::vector<NodeId>& view) {
  std::set<NodeId> absent;
  for (const auto& [node, keys] : index.nodes()) {
    if (!std::binary_search(view.begin(), view.end(), node)) absent.insert(node);
  }
  if (lifecycles != nullptr) {
    for (const auto& [node, state] : lifecycles->values) {
      if (!std::binary_search(view.begin(), view.end(), node)) absent.insert(node);
    }
  }
  return absent;
}

std::vector<const SliceKeyIndex::Key*> unknown_keys(
    const SliceKeyIndex& index, const SliceTable& table,
    const std::function<bool(const std::string&)>& remove_pending) {
  std::vector<const SliceKeyIndex::Key*> out;
  for (const auto& [key, indexed] : index.keys()) {
    if (!indexed.value || remove_pending(key)) continue;
    auto nodes = table.entries.find(indexed.slice.artifact);
    if (nodes != table.entries.end() && nodes->second.count(indexed.slice.node)) continue;
    out.push_back(&indexed);
  }
  return out;
}

}  // namespace aether::engine
