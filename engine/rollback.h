// All-or-nothing blueprints (engine-semantics.md §8.3): the in-flight record
// `rollback/{id}` and the pure rules the CDM applies to it. A put of an
// all-or-nothing blueprint is in flight exactly while its record exists; the
// record holds the value being deployed and the previous accepted value (or
// "none"), so that any leader can finish it or roll it back from the KV alone.
// Unit-tested without the simulator (tests/engine/rollback_test.cc).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/cdm_commands.h"
#include "engine/cdm_facts.h"
#include "engine/cdm_writer.h"

namespace aether::engine {

inline constexpr std::string_view kRollbackPrefix = "rollback/";
std::string rollback_key(std::string_view id);

// `rollback/{id}` = {"put": "<the in-flight blueprint value, verbatim>",
//                    "previous": "<the previous accepted value, verbatim>" | null}
// null is the "none" marker: rolling back removes blueprints/{id}.
struct RollbackRecord {
  std::string put;
  std::optional<std::string> previous;
  bool operator==(const RollbackRecord&) const = default;
};
std::string encode_rollback_record(const RollbackRecord& record);
std::optional<RollbackRecord> parse_rollback_record(std::string_view text, std::string* error = nullptr);

// The record an accepted all-or-nothing put writes: `put` is the new value;
// `before` the value blueprints/{id} held until then (nullopt: absent) and
// whether that value was accepted (valid and not rejected). A value that was
// not accepted deployed nothing of its own: the previous accepted value is
// then "none".
RollbackRecord record_for_put(const std::string& put, const std::optional<std::string>& before,
                              bool before_accepted);

// One slice of the in-flight put, as the CDM sees it.
struct InFlightSlice {
  bool target_matches = false;  // the owned slice-target is this put's (owner and version)
  int count = 0;                // its desired count
  int active = 0;               // ACTIVE entries on nodes in the leader's view
  bool failed = false;          // permanently failed (fatal, or transient_retry_max transients)
};
enum class InFlightVerdict { Waiting, Completed, RollBack };
// RollBack if any slice of the put failed permanently; Completed once every
// slice reached min(count, eligible) ACTIVE entries; else Waiting.
InFlightVerdict judge_in_flight(const std::vector<InFlightSlice>& slices, int eligible);

// What a rollback writes, besides removing rollback/{id} (same batch):
// blueprints/{id} is rewritten to `previous` (or removed) only if it still
// holds the value being rolled back; a client value that replaced it wins.
struct RollbackWrite {
  bool touch_blueprint = false;
  std::optional<std::string> blueprint_value;  // nullopt with touch_blueprint: Remove
};
RollbackWrite rollback_write(const RollbackRecord& record,
                             const std::optional<std::string>& applied_blueprint);

// What a leader keeps of all-or-nothing puts: the applied blueprints/{id}
// values (byte equality with a record's `put` decides), the puts in flight
// by id, and the rollback rewrites of blueprints/{id} decided and not yet
// echoed: the value being rolled back (re-checked at submit) and the value
// written back (its echo is not a new all-or-nothing put: a rollback is
// never rolled back). Its rules are pure; the CDM writes what they return.
struct AllOrNothing {
  std::map<std::string, std::string> texts;                  // applied blueprints/{id} values
  std::map<std::string, RollbackRecord> in_flight;           // by blueprint id
  std::map<std::string, std::string> rolling_back;           // id -> the value being rolled back
  std::map<std::string, std::optional<std::string>> echoes;  // id -> the value written back

  std::optional<std::string> text(const std::string& id) const;
  // A put of blueprints/{id} = `value` was applied (state: after it;
  // `before`: the value it replaced, and whether that one was accepted).
  // Returns the record to write when it starts (or restarts) a put in
  // flight: an accepted all-or-nothing value that is not the echo of this
  // leader's own rollback; nullopt otherwise (any put in flight for `id` is
  // then over: the caller ends it).
  std::optional<RollbackRecord> note_put(const DesiredState& state, const std::string& id,
                                         const std::string& value, const std::optional<std::string>& before,
                                         bool before_accepted);
  // Ends the put in flight for `id`; false if there was none.
  bool end(const std::string& id) { return in_flight.erase(id) != 0; }

  // Activation: the record `rollback/{id}` = `value` found in the KV.
  enum class Adoption { Adopted, Malformed, Stale };
  Adoption adopt(const std::string& id, const std::string& value, std::string* why);

  // The verdict on each put in flight, in id order (facts: desired state,
  // ACTIVE entries in the view, eligible nodes).
  std::vector<std::pair<std::string, InFlightVerdict>> verdicts(const CdmFacts& facts) const;

  // Rolls the put of `id` back (it must be in flight): the record is over;
  // what to write besides removing rollback/{id} (rollback_write against the
  // applied value), remembered for the re-check and the echo.
  RollbackWrite roll_back(const std::string& id);

  // The writer's re-check of a KeyWrite at submit (CdmWriter hook), against
  // the state applied then: a record Put is re-encoded from the record in
  // flight (dropped if over), its Remove dropped if a newer put's record
  // supersedes it; the rollback rewrite goes only over the value being
  // rolled back (a client value that committed meanwhile wins: Replaced).
  enum class Recheck { Write, Drop, Replaced };
  Recheck recheck(KeyWrite& write);

  // The same, acting through the CDM's output (writes, logs, counters).
  // After a put of blueprints/{id}: its record (queued after the put's
  // slice-targets: the same batch) or the end of the put in flight.
  void after_put(const DesiredState& state, const std::string& id, const std::string& value,
                 const std::optional<std::string>& before, bool before_accepted, CdmCommands& out);
  // The put in flight for `id` is over: its record is removed.
  void finish(const std::string& id, CdmCommands& out);
  // Activation: continue the puts whose records are in the KV (none under
  // the mutation point that forgets them after a failover).
  void adopt_records(CdmCommands& out);
  // Completed: remove the record; a permanently failed slice: roll back.
  void check(const CdmFacts& facts, CdmCommands& out);
  void roll_back(const std::string& id, CdmCommands& out);
  // The KeyWrite re-check (CdmWriter hook), logging a rewrite a client value won.
  bool recheck(KeyWrite& write, CdmCommands& out);
};

}  // namespace aether::engine
