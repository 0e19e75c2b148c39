// The checks' own copy of the canonical store: the KV state at the latest
// decided position, rebuilt from WorldObserver::on_decide alone (never read
// back from the simulator), plus the digest of the store at every decided
// position so that replica-consistency can judge each apply and restore.
// The digest function is the simulator's (sim/kv_store.h) so that the two
// sides are comparable.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/kv_client.h"

namespace aether::properties {

class CanonicalStore {
 public:
  using Map = std::map<std::string, std::string>;

  CanonicalStore();

  // Applies the batch decided at `position`. Positions must arrive in order,
  // one per batch, starting at 1; a gap returns false and changes nothing.
  bool apply(std::uint64_t position, const engine::KvBatch& batch);

  const Map& entries() const { return entries_; }
  std::optional<std::string> get(const std::string& key) const;
  std::uint64_t position() const { return position_; }
  // Digest of the store at a decided position (0: the empty store at start);
  // nullopt if `position` has not been decided.
  std::optional<std::uint64_t> digest_at(std::uint64_t position) const;

 private:
  Map entries_;
  std::uint64_t position_ = 0;
  std::vector<std::uint64_t> digests_;  // index = position
};

}  // namespace aether::properties
