// The CDM's serialized writer (engine-semantics.md §4, "Own writes are
// serialized"): typed commands, encoded to KV commands only here; a batch is
// submitted only after the previous one completed (committed, failed, or
// timed out after `write_timeout`); at submit each slice command is
// re-checked against the state applied then (an ACTIVATE also against its
// dependencies) and each slice-target put is re-derived. What the writer needs of the
// CDM (its slice table, reconcile, re-send timers) comes through `Hooks`.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "engine/config.h"
#include "engine/kv_schema.h"
#include "engine/lifecycle.h"
#include "engine/node_runtime.h"
#include "engine/timers.h"

namespace aether::engine {

// Why an UNLOAD was decided, for its re-check at submit (§4): a scale-down
// must still respect the floor; a removal (a base left without an owner, an
// orphan) must still have no desired owner for its artifact.
// An eviction is an UNLOAD of a draining node's entry (§8.2), re-checked
// against the drain rule. A cleanup unloads a FAILED entry: it goes only if
// the key is still in the state it was decided on (a LOAD that overtook it
// is a new instance, not the failed one).
enum class UnloadWhy { Other, ScaleDown, Removal, Eviction, Cleanup };

// LOAD, ACTIVATE, DEACTIVATE or UNLOAD written to slices/{node}/{artifact}.
struct SliceCommand {
  NodeId node;
  std::string artifact;
  SliceState state = SliceState::Load;
  std::optional<SliceState> decided_from;  // effective state when decided
  bool resend = false;                     // a re-send of a recorded command
  UnloadWhy why = UnloadWhy::Other;        // UNLOAD only
};
struct KeyRemove {  // a slices/* key (unparseable, stuck, departed node) or node-lifecycle/{node}
  std::string key;
};
struct TargetPut {
  std::string base;
  SliceTarget target;
};
struct TargetRemove {
  std::string base;
};
struct DecommissionPut {  // node-lifecycle/{node} = DECOMMISSIONED once a drain emptied it (§8.2)
  NodeId node;
};
// A Put (or, with no value, a Remove) of a key the CDM keeps a record of in
// memory: `rollback/{id}` and the rollback rewrite of `blueprints/{id}`
// (engine-semantics.md §8.3); re-checked at submit (Hooks::recheck_write).
struct KeyWrite {
  std::string key;
  std::optional<std::string> value;
};
struct RoutingPut {  // version-routing/{base} (engine-semantics.md §8.4)
  std::string base;
  VersionRouting routing;
};
struct RoutingRemove {
  std::string base;
};
using CdmCommand = std::variant<SliceCommand, KeyRemove, TargetPut, TargetRemove, DecommissionPut, KeyWrite,
                                RoutingPut, RoutingRemove>;

KvCommand encode_command(const CdmCommand& command);

class CdmWriter {
 public:
  struct Hooks {
    // A re-send that waited in the queue: is its intent still recorded and unanswered?
    std::function<bool(const SliceCommand&)> resend_still_wanted;
    // Commands that will not be written (dropped at submit, or their batch failed).
    std::function<void(const std::vector<SliceCommand>&)> revert;
    std::function<void(Nanos)> schedule_reconcile;
    // A slice command went out: arm its re-send timer.
    std::function<void(const SliceCommand&)> submitted;
    // A batch with slice-target writes committed; also called when a
    // slice-target write was dropped at submit (a removal or rewrite still
    // owed is queued again).
    std::function<void()> targets_committed;
    // A queued slice-target Put re-derived at submit from the state applied
    // then: the value to write, or nullopt to drop it.
    std::function<std::optional<SliceTarget>(const TargetPut&)> rederive_target;
    // An ACTIVATE at submit: are its dependencies still ready (state applied
    // now, current view)? If not it is dropped like an overtaken command.
    std::function<bool(const SliceCommand&)> activate_ready;
    // At submit, against the state applied now (§8.2): a LOAD goes only to a
    // node still ON_DUTY; an eviction only if the drain rule still allows
    // it; a DECOMMISSIONED put only to a node still DRAINING and empty. If
    // not, it is dropped like an overtaken command.
    std::function<bool(const SliceCommand&)> drain_allows;
    std::function<bool(const NodeId&)> decommission_allowed;
    // A LOAD (not a re-send) at submit: do the placement constraints
    // (anti-affinity, capacity; engine-semantics.md §8.1) still allow it in
    // the state applied now? If not it is dropped like an overtaken command.
    std::function<bool(const SliceCommand&)> load_allowed{};  // optional: unset allows every LOAD
    // A KeyWrite at submit, against the state applied then: false drops it;
    // it may re-derive the value. Unset: written as queued.
    std::function<bool(KeyWrite&)> recheck_write{};
    // An UNLOAD at submit: does it still keep a rolling update's availability
    // floor (state applied now, current view)? If not it is dropped like an
    // overtaken command. Unset: always.
    std::function<bool(const SliceCommand&)> unload_allowed = nullptr;
    // A scale-down or removal UNLOAD at submit: does its reason still hold
    // (the floor, in the state applied now and the current view; the base
    // still without an owner for that artifact)? If not it is dropped and its
    // intent reverted at once, so a later UNLOAD of the same batch counts the
    // entry as live again.
    std::function<bool(const SliceCommand&)> unload_still_wanted;
    // A queued slice-target Remove at submit: is the base still without an
    // owner? If not it is dropped (a blueprint put back meanwhile).
    std::function<bool(const TargetRemove&)> target_remove_still_wanted;
  };

  CdmWriter(const NodeServices& services, const EngineConfig& config, TimerSet& timers, Hooks hooks);
  ~CdmWriter();
  CdmWriter(const CdmWriter&) = delete;
  CdmWriter& operator=(const CdmWriter&) = delete;

  void add(CdmCommand command);
  // Closes the batch being built (with `after`, called with whether it
  // committed) and submits it when the previous one has completed.
  void flush(std::function<void(bool)> after = nullptr);
  // Slice-target writes queued or in flight for `base`.
  bool target_pending(const std::string& base) const;
  // version-routing writes queued or in flight for `base`.
  bool routing_pending(const std::string& base) const;
  // A KeyRemove of `key` queued or in flight (its outcome not known yet).
  bool remove_pending(const std::string& key) const;
  // A LOAD of `artifact` on `node` waiting in a batch not yet submitted (the
  // one being built or a queued one; not the batch being submitted now).
  bool load_queued(const NodeId& node, const std::string& artifact) const;
  // Commands added so far, and batch outcomes handled so far (committed,
  // failed or timed out; late reports after a timeout included): with
  // idle(), what the CDM's reconcile early-out reads of the writer.
  std::uint64_t added() const { return added_; }
  std::uint64_t outcomes() const { return outcomes_; }
  // Nothing being built, queued or in flight.
  bool idle() const { return building_.commands.empty() && queue_.empty() && !in_flight_; }

 private:
  struct Batch {
    std::vector<CdmCommand> commands;
    std::function<void(bool committed)> after;
  };
  void pump();
  void submit_now(Batch batch);
  // The submit-time re-check of one command (Hooks): Keep it, Drop it (an
  // overtaken slice command: its intent is reverted, a reconcile follows),
  // or Skip it (nothing to revert; `dropped_target`: a slice-target write
  // owed is queued again).
  enum class Verdict { Keep, Drop, Skip };
  Verdict recheck(CdmCommand& command, bool& dropped_target);
  Verdict recheck_slice(const SliceCommand& slice);
  // Encodes and submits a batch that passed its re-checks.
  void send(Batch batch);
  void on_batch_done(std::uint64_t attempt, const std::shared_ptr<Batch>& batch, bool committed);
  static std::vector<SliceCommand> slice_commands(const Batch& batch);
  // Whether an UNLOAD's reason is re-checked at submit (not under its mutation).
  bool unload_rechecked(const SliceCommand& command) const;

  const NodeServices& services_;
  const EngineConfig& config_;
  TimerSet& timers_;
  Hooks hooks_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // callbacks check it

  Batch building_;
  std::set<std::pair<NodeId, std::string>> building_keys_;  // slice keys of building_
  std::deque<Batch> queue_;
  bool in_flight_ = false;
  std::uint64_t attempt_ = 0;
  std::uint64_t added_ = 0;
  std::uint64_t outcomes_ = 0;
  TimerId write_timer_ = 0;
  std::map<std::string, int> pending_targets_;
  // How many of pending_targets_'s counts are positive: none, and
  // target_pending answers false without a lookup (issue 14, ninth pass).
  // Every change of a count goes through count_target.
  int targets_positive_ = 0;
  void count_target(const std::string& base, int delta);
  std::map<std::string, int> pending_removes_;
  std::map<std::string, int> pending_routing_;
};

}  // namespace aether::engine
