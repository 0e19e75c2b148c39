#include "engine/rollback.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "engine/mutations.h"

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

std::optional<std::string> AllOrNothing::text(const std::string& id) const {
  if (auto it = texts.find(id); it != texts.end()) return it->second;
  return std::nullopt;
}

std::optional<RollbackRecord> AllOrNothing::note_put(const DesiredState& state, const std::string& id,
                                                     const std::string& value,
                                                     const std::optional<std::string>& before,
                                                     bool before_accepted) {
  auto echo = echoes.find(id);
  const bool own_rollback = echo != echoes.end() && echo->second == value;
  if (echo != echoes.end()) echoes.erase(echo);
  auto blueprint = state.blueprints.find(id);
  const bool all_or_nothing = blueprint != state.blueprints.end() && blueprint->second &&
                              blueprint->second->atomicity == Atomicity::AllOrNothing &&
                              state.ownership.rejected.count(id) == 0;
  // Not an all-or-nothing put (or the echo of this CDM's rollback, which is
  // never itself rolled back): any put in flight for `id` is over.
  if (!all_or_nothing || own_rollback) return std::nullopt;
  in_flight[id] = record_for_put(value, before, before_accepted);
  return in_flight[id];
}

AllOrNothing::Adoption AllOrNothing::adopt(const std::string& id, const std::string& value,
                                           std::string* why) {
  auto record = parse_rollback_record(value, why);
  if (!record) return Adoption::Malformed;
  // blueprints/{id} changed while nobody led: the value it holds now is
  // deployed as the activation rebuild says; the record is stale.
  if (text(id) != record->put) return Adoption::Stale;
  in_flight[id] = *record;
  return Adoption::Adopted;
}

std::vector<std::pair<std::string, InFlightVerdict>> AllOrNothing::verdicts(const CdmFacts& facts) const {
  std::vector<std::pair<std::string, InFlightVerdict>> out;
  if (in_flight.empty()) return out;
  const int eligible_count = static_cast<int>(facts.eligible_nodes().size());
  for (const auto& [id, record] : in_flight) {
    const auto parsed = parse_blueprint_text(record.put);
    const auto* put = std::get_if<Blueprint>(&parsed);
    if (put == nullptr) {
      out.emplace_back(id, InFlightVerdict::Completed);  // cannot happen: only accepted values are recorded
      continue;
    }
    std::vector<InFlightSlice> slices;
    for (const auto& slice : put->slices) {
      const auto artifact = slice.artifact.to_string();
      InFlightSlice status;
      auto desired = facts.state.desired.find(slice.artifact.base().to_string());
      if (desired != facts.state.desired.end() && desired->second.owner == id &&
          desired->second.artifact == artifact) {
        status.target_matches = true;
        status.count = desired->second.count;
        status.failed = desired->second.failed;
        status.active = facts.active_in_view(artifact);
      }
      slices.push_back(status);
    }
    out.emplace_back(id, judge_in_flight(slices, eligible_count));
  }
  return out;
}

RollbackWrite AllOrNothing::roll_back(const std::string& id) {
  auto it = in_flight.find(id);
  const RollbackRecord record = it->second;
  in_flight.erase(it);
  const auto write = rollback_write(record, text(id));
  if (write.touch_blueprint) {
    rolling_back[id] = record.put;
    echoes[id] = write.blueprint_value;
  }
  return write;
}

AllOrNothing::Recheck AllOrNothing::recheck(KeyWrite& write) {
  if (auto id = key_suffix(write.key, kRollbackPrefix)) {
    auto record = in_flight.find(*id);
    if (!write.value) {  // a newer put's record supersedes the removal
      return record == in_flight.end() ? Recheck::Write : Recheck::Drop;
    }
    if (record == in_flight.end()) return Recheck::Drop;  // over meanwhile
    write.value = encode_rollback_record(record->second);
    return Recheck::Write;
  }
  if (auto id = key_suffix(write.key, kBlueprintPrefix)) {
    // The rollback rewrite: only over the value being rolled back (a client
    // value that committed meanwhile wins).
    auto of = rolling_back.find(*id);
    if (of == rolling_back.end()) return Recheck::Drop;
    const std::string rolled_back = of->second;
    rolling_back.erase(of);
    auto applied = texts.find(*id);
    if (applied == texts.end() || applied->second != rolled_back || in_flight.count(*id) != 0) {
      echoes.erase(*id);
      return Recheck::Replaced;
    }
    return Recheck::Write;
  }
  return Recheck::Write;
}

void AllOrNothing::after_put(const DesiredState& state, const std::string& id, const std::string& value,
                             const std::optional<std::string>& before, bool before_accepted,
                             CdmCommands& out) {
  if (auto record = note_put(state, id, value, before, before_accepted)) {
    // Queued after the put's slice-targets: the same batch (flushed by on_kv).
    out.add(KeyWrite{rollback_key(id), encode_rollback_record(*record)});
    // A put whose slices are all ACTIVE already (an unchanged republish) gets
    // no ACTIVE event to complete it: the reconcile's in-flight check does.
    out.schedule_reconcile(seconds(1));  // the CDM's reconcile debounce
  } else {
    finish(id, out);
  }
}

void AllOrNothing::finish(const std::string& id, CdmCommands& out) {
  if (end(id)) out.add(KeyWrite{rollback_key(id), std::nullopt});
}

void AllOrNothing::adopt_records(CdmCommands& out) {
  for (const auto& [key, value] : out.kv().scan(std::string(kRollbackPrefix))) {
    const auto id = *key_suffix(key, kRollbackPrefix);
    if (out.config().mutation(mutation::kRollbackForgottenAfterFailover)) continue;
    std::string why;
    switch (adopt(id, value, &why)) {
      case Adoption::Malformed:
        out.log(LogLevel::Warn, "unparseable " + key + " (" + why + "): removing it");
        out.count("malformed-values");
        out.add(KeyWrite{key, std::nullopt});
        break;
      case Adoption::Stale:
        out.log(LogLevel::Info, key + " names a value blueprints/" + id + " no longer holds: removing it");
        out.add(KeyWrite{key, std::nullopt});
        break;
      case Adoption::Adopted:
        out.log(LogLevel::Info, "blueprint " + id + ": all-or-nothing put in flight; continuing it");
        break;
    }
  }
}

void AllOrNothing::check(const CdmFacts& facts, CdmCommands& out) {
  for (const auto& [id, verdict] : verdicts(facts)) {
    if (verdict == InFlightVerdict::RollBack) {
      roll_back(id, out);
    } else if (verdict == InFlightVerdict::Completed) {
      out.log(LogLevel::Info, "blueprint " + id + ": all-or-nothing put complete");
      out.count("all-or-nothing-completed");
      finish(id, out);
    }
  }
}

void AllOrNothing::roll_back(const std::string& id, CdmCommands& out) {
  if (in_flight.count(id) == 0) return;
  const auto write = roll_back(id);
  out.count("rollbacks");
  // The record goes first in the batch: a leader applying it sees the put
  // over before it sees the rewrite.
  out.add(KeyWrite{rollback_key(id), std::nullopt});
  if (!write.touch_blueprint) {
    out.log(LogLevel::Warn, "blueprint " + id +
                                ": all-or-nothing put failed; a newer value replaced it, rollback/" + id +
                                " removed");
    return;
  }
  out.log(LogLevel::Warn, "blueprint " + id + ": all-or-nothing put failed; " +
                              (write.blueprint_value ? "rolling back to its previous value"
                                                     : "removing it (no previous accepted value)"));
  out.add(KeyWrite{blueprint_key(id), write.blueprint_value});
}

bool AllOrNothing::recheck(KeyWrite& write, CdmCommands& out) {
  const auto verdict = recheck(write);
  if (verdict == Recheck::Replaced) {
    out.log(LogLevel::Info, "blueprint " + *key_suffix(write.key, kBlueprintPrefix) +
                                " changed before its rollback was written: the new value wins");
  }
  return verdict == Recheck::Write;
}

}  // namespace aether::engine
