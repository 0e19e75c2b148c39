#include "properties/canonical_store.h"

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
        continue;
      }
      it->second = command.value;
      digest += sim::KvStoreDigest::entry(it->first, it->second);
    } else if (command.op == engine::KvOp::Put) {
      entries_.emplace(command.key, command.value);
      digest += sim::KvStoreDigest::entry(command.key, command.value);
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
