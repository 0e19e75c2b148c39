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
  void assign(const KvMap& entries);

 private:
  KvMap entries_;
  std::uint64_t digest_ = 0;
};

}  // namespace aether::sim
