#include "properties/rollback_check.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "properties/reference_model.h"

namespace aether::properties {

namespace {
constexpr std::string_view kRollback = "rollback/";
constexpr std::string_view kBlueprints = "blueprints/";

std::optional<std::string> suffix(const std::string& key, std::string_view prefix) {
  if (key.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
  return key.substr(prefix.size());
}

std::string shown(const std::optional<std::string>& value) {
  return value ? *value : std::string("none (absent)");
}
}  // namespace

std::optional<ref::RollbackVal> ref::read_rollback(std::string_view text) {
  const auto json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object() || json.size() != 2 || !json.contains("put") || !json.contains("previous"))
    return std::nullopt;
  if (!json["put"].is_string()) return std::nullopt;
  RollbackVal out;
  out.put = json["put"].get<std::string>();
  if (json["previous"].is_string()) {
    out.previous = json["previous"].get<std::string>();
  } else if (!json["previous"].is_null()) {
    return std::nullopt;
  }
  return out;
}

std::optional<std::string> previous_accepted_value(const CanonicalStore& store, const std::string& id,
                                                   std::uint64_t value_position) {
  if (value_position == 0) return std::nullopt;
  const std::string key = std::string(kBlueprints) + id;
  auto before = store.value_at(key, value_position - 1);
  if (!before) return std::nullopt;
  const auto desired =
      ref::desired_from(store.store_at(value_position - 1, {"blueprints/", "slice-target/"}));
  if (!desired.ownership.is_accepted(id)) return std::nullopt;
  return before;
}

std::optional<std::string> WriterState::value(const std::string& key) const {
  if (auto it = applied.find(key); it != applied.end()) return it->second;
  return store.value_at(key, applied_position);
}

bool is_rollback_rewrite(const WriterState& writer, const engine::KvBatch& batch, const std::string& id) {
  const std::string record = std::string(kRollback) + id;
  bool removes = false;
  for (const auto& command : batch)
    removes = removes || (command.op == engine::KvOp::Remove && command.key == record);
  return removes && writer.value(record).has_value();
}

std::string judge_rollback_writes(const WriterState& writer, const engine::KvBatch& batch) {
  for (const auto& command : batch) {
    const bool put = command.op == engine::KvOp::Put;
    if (auto rid = suffix(command.key, kRollback); rid && put) {
      const std::string blueprint_key = std::string(kBlueprints) + *rid;
      const auto record = ref::read_rollback(command.value);
      if (!record) return fmt::format("Put {} = {}: not a rollback record", command.key, command.value);
      const auto held = writer.value(blueprint_key);
      if (!held || *held != record->put) {
        return fmt::format("Put {}: records put {} but blueprints/{} held {} in the writer's state",
                           command.key, record->put, *rid, shown(held));
      }
      const auto parsed = ref::read_blueprint(*held);
      if (!parsed || !parsed->all_or_nothing)
        return fmt::format("Put {}: blueprints/{} = {} is not an all-or-nothing value", command.key, *rid,
                           *held);
      const auto at = writer.store.store_at(writer.applied_position, {"blueprints/"});
      const auto entry = at.find(blueprint_key);
      const std::uint64_t position = entry != at.end() ? entry->second.position : writer.applied_position;
      const auto previous = previous_accepted_value(writer.store, *rid, position);
      if (previous != record->previous) {
        return fmt::format(
            "Put {}: records previous {} but the previous accepted value (before position {}) is {}",
            command.key, shown(record->previous), position, shown(previous));
      }
    } else if (auto id = suffix(command.key, kBlueprints)) {
      const std::string record_key = std::string(kRollback) + *id;
      const auto record_text = writer.value(record_key);
      const auto record = record_text ? ref::read_rollback(*record_text) : std::nullopt;
      const auto held = writer.value(command.key);
      const std::string wrote = put ? "Put " + command.key + " = " + command.value : "Remove " + command.key;
      if (!record) return fmt::format("{}: the writer had applied no rollback record {}", wrote, record_key);
      if (!held || *held != record->put) {
        return fmt::format("{}: rolls back {} but blueprints/{} held {} in the writer's state", wrote,
                           record->put, *id, shown(held));
      }
      const auto at = writer.store.store_at(writer.applied_position, {"blueprints/"});
      const auto entry = at.find(command.key);
      const std::uint64_t position = entry != at.end() ? entry->second.position : writer.applied_position;
      const auto previous = previous_accepted_value(writer.store, *id, position);
      const std::optional<std::string> written =
          put ? std::optional<std::string>(command.value) : std::nullopt;
      if (written != previous) {
        return fmt::format("{}: the previous accepted value of blueprints/{} (before position {}) is {}",
                           wrote, *id, position, shown(previous));
      }
    }
  }
  return "";
}

std::map<std::string, std::string> rollbacks_pending(const CanonicalStore::Map& store) {
  std::map<std::string, std::string> out;
  for (auto it = store.lower_bound(std::string(kRollback)); it != store.end(); ++it) {
    auto id = suffix(it->first, kRollback);
    if (!id) break;
    const auto record = ref::read_rollback(it->second);
    auto blueprint = store.find(std::string(kBlueprints) + *id);
    if (!record || blueprint == store.end() || blueprint->second != record->put) continue;
    out[*id] = fmt::format(
        "rollback/{} is still in the store: the all-or-nothing put of {} is neither "
        "complete nor rolled back",
        *id, *id);
  }
  return out;
}

}  // namespace aether::properties
