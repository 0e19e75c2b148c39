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
#include "properties/reference_model.h"

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

  // The same entries with the decided position of each value (the KV's mod
  // revision), for the reference model's ordering rules.
  const ref::PositionedStore& positioned() const { return positioned_; }
  // The value of `key` at a decided position (nullopt: absent then), and the
  // whole store then, for judging a writer on the state it had applied.
  std::optional<std::string> value_at(const std::string& key, std::uint64_t position) const;
  // `prefixes` empty: every key; else only keys starting with one of them.
  ref::PositionedStore store_at(std::uint64_t position, const std::vector<std::string>& prefixes = {}) const;
  // Orders the value of `key` decided at the latest position as if decided
  // at `intent` (an engine echo stands for the state it was derived from).
  void set_intent_position(const std::string& key, std::uint64_t intent);

 private:
  Map entries_;
  ref::PositionedStore positioned_;
  // Every value each key ever had, with the position it was decided at.
  std::map<std::string, std::vector<std::pair<std::uint64_t, std::optional<std::string>>>> history_;
  std::map<std::pair<std::string, std::uint64_t>, std::uint64_t> intent_;  // (key, decided) -> intent
  std::uint64_t position_ = 0;
  std::vector<std::uint64_t> digests_;  // index = position
};

}  // namespace aether::properties
