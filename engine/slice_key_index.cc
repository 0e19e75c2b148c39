#include "engine/slice_key_index.h"

#include <algorithm>
#include <utility>

#include "engine/sorted_merge.h"

namespace aether::engine {

void SliceKeyIndex::put(const std::string& key, const SliceKey& slice, std::optional<SliceValue> value) {
  // The Key (a copy of the parsed key) is built only for a new key. A key
  // after the last one (the activation's scan puts them in order) goes at the
  // end without a search.
  auto it = !keys_.empty() && keys_.rbegin()->first < key ? keys_.end() : keys_.lower_bound(key);
  if (it == keys_.end() || it->first != key) {
    it = keys_.emplace_hint(it, key, Key{slice, std::nullopt});
    ++nodes_[slice.node];
    auto& nodes = by_artifact_[slice.artifact];
    auto at = std::lower_bound(nodes.begin(), nodes.end(), slice.node);
    if (at == nodes.end() || *at != slice.node) nodes.insert(at, slice.node);
  }
  it->second.value = std::move(value);
}

void SliceKeyIndex::track(const KvNotification& n) {
  if (!n.key.starts_with(kSlicePrefix)) return;
  std::optional<SliceKey> slice;
  std::optional<SliceValue> value;
  if (n.op == KvOp::Put) {
    slice = parse_slice_key(n.key);
    if (slice) value = parse_slice_value(n.value);
  }
  track(n, slice, value);
}

void SliceKeyIndex::track(const KvNotification& n, const std::optional<SliceKey>& slice,
                          const std::optional<SliceValue>& value) {
  if (n.op == KvOp::Put) {
    if (slice) put(n.key, *slice, value);
    return;
  }
  auto it = keys_.find(n.key);
  if (it == keys_.end()) return;
  const SliceKey& indexed = it->second.slice;
  auto node = nodes_.find(indexed.node);
  if (--node->second == 0) nodes_.erase(node);
  auto artifact = by_artifact_.find(indexed.artifact);
  auto& nodes = artifact->second;
  auto at = std::lower_bound(nodes.begin(), nodes.end(), indexed.node);
  if (at != nodes.end() && *at == indexed.node) nodes.erase(at);
  if (nodes.empty()) by_artifact_.erase(artifact);
  keys_.erase(it);
}

std::set<NodeId> absent_nodes(const SliceKeyIndex& index, const NodeLifecycles* lifecycles,
                              const std::vector<NodeId>& view) {
  // Both maps are sorted by node as the view is: each walked in step with
  // the view (gallop_has) instead of a whole-view binary search per node.
  std::set<NodeId> absent;
  auto from = view.begin();
  for (const auto& [node, keys] : index.nodes()) {
    if (!gallop_has(from, view.end(), node)) absent.insert(node);
  }
  if (lifecycles != nullptr) {
    from = view.begin();
    for (const auto& [node, state] : lifecycles->values) {
      if (!gallop_has(from, view.end(), node)) absent.insert(node);
    }
  }
  return absent;
}

std::vector<const SliceKeyIndex::Key*> unknown_keys(
    const SliceKeyIndex& index, const SliceTable& table,
    const std::function<bool(const std::string&)>& remove_pending) {
  // The index's artifacts and nodes walked in step with the table's (both
  // sorted the same way): a comparison or two per key instead of two lookups
  // by name. The few keys the table lacks are then looked up and put in key
  // order.
  std::vector<std::pair<const std::string*, const SliceKeyIndex::Key*>> unknown;
  auto row = table.entries.begin();
  const auto key_of = [](const auto& item) -> const std::string& { return item.first; };
  for (const auto& [artifact, nodes] : index.by_artifact()) {
    const bool has_row = merge_has(row, table.entries.end(), artifact, key_of);
    SliceTable::Nodes::const_iterator entry;
    if (has_row) entry = row->second.begin();
    for (const auto& node : nodes) {
      if (has_row && merge_has(entry, row->second.end(), node, key_of)) continue;
      auto key = index.keys().find(slice_key(node, artifact));
      if (!key->second.value || remove_pending(key->first)) continue;
      unknown.emplace_back(&key->first, &key->second);
    }
  }
  std::sort(unknown.begin(), unknown.end(), [](const auto& a, const auto& b) { return *a.first < *b.first; });
  std::vector<const SliceKeyIndex::Key*> out;
  out.reserve(unknown.size());
  for (const auto& [key, indexed] : unknown) out.push_back(indexed);
  return out;
}

}  // namespace aether::engine
