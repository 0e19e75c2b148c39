#include "engine/slice_key_index.h"

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

}  // namespace aether::engine
