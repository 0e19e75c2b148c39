// All-or-nothing blueprints (engine-semantics.md §8.3): the in-flight record
// `rollback/{id}` and the pure rules the CDM applies to it. A put of an
// all-or-nothing blueprint is in flight exactly while its record exists; the
// record holds the value being deployed and the previous accepted value (or
// "none"), so that any leader can finish it or roll it back from the KV alone.
// Unit-tested without the simulator (tests/engine/rollback_test.cc).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

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

}  // namespace aether::engine
