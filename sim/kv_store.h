// One replica of the consensus KV store: an ordered map plus a digest kept up
// to date on every change, so that replica-consistency can be checked per
// apply without walking the map. The digest is order-independent (a sum of
// per-entry hashes), so the same contents always give the same digest however
// they were reached.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace aether::sim {

using KvMap = std::map<std::string, std::string>;

// The store digest: sum (mod 2^64) of entry(key, value) over all entries.
struct KvStoreDigest {
  static std::uint64_t entry(std::string_view key, std::string_view value);
  static std::uint64_t of(const KvMap& entries);
};

class KvStore {
 public:
  const KvMap& entries() const { return entries_; }
  std::uint64_t digest() const { return digest_; }
  std::size_t size() const { return entries_.size(); }
  std::optional<std::string> get(const std::string& key) const;

  void put(const std::string& key, const std::string& value);
  // Returns whether the key was present.
  bool remove(const std::string& key);
  void clear();

 private:
  KvMap entries_;
  std::uint64_t digest_ = 0;
};

// Every decided position of the store at once (issue 14): per key, the
// positions that wrote it and what they left (nullopt: removed), plus the
// digest after each position. A node's store is "the store at its applied
// position", a cursor into this one structure instead of a replica of its own.
class VersionedKv {
 public:
  // Records the store after `position` (one more than the last recorded);
  // `writes` are the batch's commands in order (the last write of a key wins).
  void put(std::uint64_t position, const std::string& key, const std::string& value);
  void remove(std::uint64_t position, const std::string& key);
  void set_digest(std::uint64_t position, std::uint64_t digest);

  std::uint64_t digest_at(std::uint64_t position) const { return digests_.at(position); }
  // The value of `key` in the store at `position`.
  const std::string* get(const std::string& key, std::uint64_t position) const;
  // Calls f(key, value) for every key starting with `prefix` present at `position`, in key order.
  template <typename F>
  void for_each(const std::string& prefix, std::uint64_t position, F&& f) const {
    for (auto it = keys_.lower_bound(prefix);
         it != keys_.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
      if (const std::string* value = at(it->second, position)) f(it->first, *value);
    }
  }
  // Calls f(key, value, revision) for every key present at `position`, in key
  // order: the snapshot at `position` with each value's mod revision, read in
  // place (a restore: issue 14, tenth pass).
  template <typename F>
  void for_each_at(std::uint64_t position, F&& f) const {
    for (const auto& [key, versions] : keys_) {
      const Version* version = latest(versions, position);
      if (version != nullptr && version->value) f(key, *version->value, version->position);
    }
  }
  KvMap snapshot(std::uint64_t position) const;
  // The decided position that put the value `key` has at `position` (its mod
  // revision); 0 when the key is absent there.
  std::uint64_t revision_at(const std::string& key, std::uint64_t position) const;

 private:
  struct Version {
    std::uint64_t position = 0;
    std::optional<std::string> value;
  };
  static const std::string* at(const std::vector<Version>& versions, std::uint64_t position);
  // The last version at or before `position` (nullptr: none).
  static const Version* latest(const std::vector<Version>& versions, std::uint64_t position);

  std::map<std::string, std::vector<Version>, std::less<>> keys_;
  std::vector<std::uint64_t> digests_{0};  // by position (0: the empty store)
};

}  // namespace aether::sim
