// The checks' own rules for all-or-nothing blueprints (engine-semantics.md
// §8.3, simulation.md §5): the `rollback/{id}` record as the checks read it,
// the previous accepted value of a blueprint from the canonical store's
// history, and the judges of the engine's rollback writes (`rollback`
// invariant, key-writer's role for a CDM's rewrite of blueprints/{id}) and of
// convergence (no put may be left in flight). Written from the documents;
// no engine code is called.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "engine/kv_client.h"
#include "properties/canonical_store.h"

namespace aether::properties {

namespace ref {
// `rollback/{id}` = {"put": string, "previous": string | null}, nothing else.
struct RollbackVal {
  std::string put;
  std::optional<std::string> previous;  // nullopt: the "none" marker
};
std::optional<RollbackVal> read_rollback(std::string_view text);
}  // namespace ref

// The value blueprints/{id} held just before the value decided at
// `value_position`, if that value was accepted then (valid and not rejected by
// the ownership rule over the store at that point); nullopt: "none".
std::optional<std::string> previous_accepted_value(const CanonicalStore& store, const std::string& id,
                                                   std::uint64_t value_position);

// What one engine submitter had applied for `key` at submit: the batch's keys
// from `applied`, any other key from the canonical store at its position.
struct WriterState {
  const CanonicalStore& store;
  std::uint64_t applied_position = 0;
  const std::map<std::string, std::optional<std::string>>& applied;
  std::optional<std::string> value(const std::string& key) const;
};

// key-writer's role rule for an Active CDM's write of blueprints/{id}: it is a
// rollback, i.e. the batch removes rollback/{id} and the writer had applied
// that record.
bool is_rollback_rewrite(const WriterState& writer, const engine::KvBatch& batch, const std::string& id);

// The `rollback` invariant on one engine submitter's batch: every Put of
// rollback/{id} records the value blueprints/{id} held in the writer's state
// (an all-or-nothing value) and its previous accepted value; every write of
// blueprints/{id} rewrites exactly the value of the record it removes, back
// to the previous accepted value (a Put of it) or, with none, a Remove.
// Returns "" if right, else what is wrong.
std::string judge_rollback_writes(const WriterState& writer, const engine::KvBatch& batch);

// Convergence: the ids whose record names the value blueprints/{id} holds in
// `store` (an all-or-nothing put still in flight), with a description.
std::map<std::string, std::string> rollbacks_pending(const CanonicalStore::Map& store);

}  // namespace aether::properties
