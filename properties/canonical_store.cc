#include "properties/canonical_store.h"

#include <algorithm>
#include <iterator>

#include "sim/kv_store.h"

namespace aether::properties {

CanonicalStore::CanonicalStore() : digests_{0} {}

bool CanonicalStore::apply(std::uint64_t position, const engine::KvBatch& batch) {
  if (position != position_ + 1) return false;
  std::uint64_t digest = digests_.back();
  for (const auto& command : batch) {
    auto it = entries_.find(command.key);
    if (it != entries_.end()) {
      digest -= sim::KvStoreDigest::entry(it->first, it->second);
      if (command.op == engine::KvOp::Remove) {
        entries_.erase(it);
        positioned_.erase(command.key);
        history_[command.key].emplace_back(position, std::nullopt);
        continue;
      }
      it->second = command.value;
      digest += sim::KvStoreDigest::entry(it->first, it->second);
      positioned_[command.key] = ref::StoreEntry{command.value, position};
      history_[command.key].emplace_back(position, command.value);
    } else if (command.op == engine::KvOp::Put) {
      entries_.emplace(command.key, command.value);
      digest += sim::KvStoreDigest::entry(command.key, command.value);
      positioned_[command.key] = ref::StoreEntry{command.value, position};
      history_[command.key].emplace_back(position, command.value);
    }
  }
  position_ = position;
  digests_.push_back(digest);
  return true;
}

std::optional<std::string> CanonicalStore::get(const std::string& key) const {
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  return it->second;
}

std::optional<std::uint64_t> CanonicalStore::digest_at(std::uint64_t position) const {
  if (position >= digests_.size()) return std::nullopt;
  return digests_[position];
}

}  // namespace aether::properties

namespace aether::properties {

std::optional<std::string> CanonicalStore::value_at(const std::string& key, std::uint64_t position) const {
  auto it = history_.find(key);
  if (it == history_.end()) return std::nullopt;
  const auto& changes = it->second;
  auto after = std::upper_bound(changes.begin(), changes.end(), position,
                                [](std::uint64_t p, const auto& change) { return p < change.first; });
  if (after == changes.begin()) return std::nullopt;
  return std::prev(after)->second;
}

ref::PositionedStore CanonicalStore::store_at(std::uint64_t position,
                                              const std::vector<std::string>& prefixes) const {
  ref::PositionedStore out;
  for (const auto& [key, changes] : history_) {
    if (!prefixes.empty() && std::none_of(prefixes.begin(), prefixes.end(), [&](const std::string& p) {
          return key.compare(0, p.size(), p) == 0;
        }))
      continue;
    auto after = std::upper_bound(changes.begin(), changes.end(), position,
                                  [](std::uint64_t p, const auto& change) { return p < change.first; });
    if (after == changes.begin()) continue;
    const auto& last = *std::prev(after);
    if (!last.second) continue;
    auto intent = intent_.find({key, last.first});
    out.emplace(key, ref::StoreEntry{*last.second, intent == intent_.end() ? last.first : intent->second});
  }
  return out;
}

}  // namespace aether::properties

namespace aether::properties {

void CanonicalStore::set_intent_position(const std::string& key, std::uint64_t intent) {
  auto it = positioned_.find(key);
  if (it == positioned_.end()) return;
  intent_[{key, it->second.position}] = intent;
  it->second.position = intent;
}

}  // namespace aether::properties
