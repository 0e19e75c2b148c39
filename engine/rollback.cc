#include "engine/rollback.h"

#include <algorithm>

#include <nlohmann/json.hpp>

namespace aether::engine {

std::string rollback_key(std::string_view id) {
  return std::string(kRollbackPrefix) + std::string(id);
}

std::string encode_rollback_record(const RollbackRecord& record) {
  nlohmann::json out = nlohmann::json::object();
  out["put"] = record.put;
  out["previous"] = record.previous ? nlohmann::json(*record.previous) : nlohmann::json(nullptr);
  return out.dump();
}

std::optional<RollbackRecord> parse_rollback_record(std::string_view text, std::string* error) {
  auto fail = [&](const char* why) -> std::optional<RollbackRecord> {
    if (error) *error = why;
    return std::nullopt;
  };
  const auto object = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (object.is_discarded() || !object.is_object()) return fail("expected a JSON object {put, previous}");
  for (const auto& item : object.items()) {
    if (item.key() != "put" && item.key() != "previous") return fail("unknown key in a rollback record");
  }
  if (!object.contains("put") || !object["put"].is_string()) return fail("\"put\" must be a string");
  if (!object.contains("previous") || !(object["previous"].is_string() || object["previous"].is_null()))
    return fail("\"previous\" must be a string or null");
  RollbackRecord record;
  record.put = object["put"].get<std::string>();
  if (object["previous"].is_string()) record.previous = object["previous"].get<std::string>();
  return record;
}

RollbackRecord record_for_put(const std::string& put, const std::optional<std::string>& before,
                              bool before_accepted) {
  RollbackRecord record;
  record.put = put;
  if (before && before_accepted) record.previous = *before;
  return record;
}

InFlightVerdict judge_in_flight(const std::vector<InFlightSlice>& slices, int eligible) {
  bool completed = true;
  for (const auto& slice : slices) {
    if (!slice.target_matches) {
      completed = false;
      continue;
    }
    if (slice.failed) return InFlightVerdict::RollBack;
    if (slice.active < std::min(slice.count, eligible)) completed = false;
  }
  return completed ? InFlightVerdict::Completed : InFlightVerdict::Waiting;
}

RollbackWrite rollback_write(const RollbackRecord& record,
                             const std::optional<std::string>& applied_blueprint) {
  RollbackWrite out;
  if (!applied_blueprint || *applied_blueprint != record.put) return out;
  out.touch_blueprint = true;
  out.blueprint_value = record.previous;
  return out;
}

}  // namespace aether::engine
