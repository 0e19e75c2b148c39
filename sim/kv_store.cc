#include "sim/kv_store.h"

#include <algorithm>
#include <iterator>

#include "sim/trace.h"

namespace aether::sim {

namespace {
constexpr std::uint64_t kKeySeed = 0x6b65792d64696765ULL;  // "key-dige"
constexpr std::uint64_t kValueSeed = 0x76616c75652d6467ULL;

std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
}  // namespace

std::uint64_t KvStoreDigest::entry(std::string_view key, std::string_view value) {
  const std::uint64_t k = hash_bytes(kKeySeed, key);
  const std::uint64_t v = hash_bytes(kValueSeed, value);
  return mix64(k ^ mix64(v + 0x9e3779b97f4a7c15ULL));
}

std::uint64_t KvStoreDigest::of(const KvMap& entries) {
  std::uint64_t sum = 0;
  for (const auto& [key, value] : entries) sum += entry(key, value);
  return sum;
}

std::optional<std::string> KvStore::get(const std::string& key) const {
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  return it->second;
}

void KvStore::put(const std::string& key, const std::string& value) {
  auto [it, inserted] = entries_.try_emplace(key, value);
  if (!inserted) {
    digest_ -= KvStoreDigest::entry(key, it->second);
    it->second = value;
  }
  digest_ += KvStoreDigest::entry(key, value);
}

bool KvStore::remove(const std::string& key) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return false;
  digest_ -= KvStoreDigest::entry(key, it->second);
  entries_.erase(it);
  return true;
}

void KvStore::clear() {
  entries_.clear();
  digest_ = 0;
}

void VersionedKv::put(std::uint64_t position, const std::string& key, const std::string& value) {
  auto& versions = keys_[key];
  if (!versions.empty() && versions.back().position == position) {
    versions.back().value = value;
  } else {
    versions.push_back(Version{position, value});
  }
}

void VersionedKv::remove(std::uint64_t position, const std::string& key) {
  auto found = keys_.find(key);
  if (found == keys_.end()) return;  // never present: nothing changes
  auto& versions = found->second;
  if (versions.back().position == position) {
    versions.back().value.reset();
  } else {
    versions.push_back(Version{position, std::nullopt});
  }
}

void VersionedKv::set_digest(std::uint64_t position, std::uint64_t digest) {
  if (digests_.size() <= position) digests_.resize(position + 1, 0);
  digests_[position] = digest;
}

const VersionedKv::Version* VersionedKv::latest(const std::vector<Version>& versions,
                                                std::uint64_t position) {
  auto it = std::upper_bound(versions.begin(), versions.end(), position,
                             [](std::uint64_t p, const Version& v) { return p < v.position; });
  return it == versions.begin() ? nullptr : &*std::prev(it);
}

const std::string* VersionedKv::at(const std::vector<Version>& versions, std::uint64_t position) {
  const Version* version = latest(versions, position);
  return version != nullptr && version->value ? &*version->value : nullptr;
}

const std::string* VersionedKv::get(const std::string& key, std::uint64_t position) const {
  auto found = keys_.find(key);
  return found == keys_.end() ? nullptr : at(found->second, position);
}

std::uint64_t VersionedKv::revision_at(const std::string& key, std::uint64_t position) const {
  auto found = keys_.find(key);
  if (found == keys_.end()) return 0;
  const Version* version = latest(found->second, position);
  return version != nullptr && version->value ? version->position : 0;
}

KvMap VersionedKv::snapshot(std::uint64_t position) const {
  KvMap out;
  for (const auto& [key, versions] : keys_) {
    if (const std::string* value = at(versions, position)) out.emplace_hint(out.end(), key, *value);
  }
  return out;
}

}  // namespace aether::sim
