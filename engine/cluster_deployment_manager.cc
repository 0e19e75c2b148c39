#include "engine/cluster_deployment_manager.h"

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <variant>
#include <vector>

#include "engine/assertion.h"
#include "engine/blueprint.h"
#include "engine/cdm_commands.h"
#include "engine/cdm_facts.h"
#include "engine/cdm_rechecks.h"
#include "engine/cdm_writer.h"
#include "engine/desired_state.h"
#include "engine/drain.h"
#include "engine/entry_timers.h"
#include "engine/kv_schema.h"
#include "engine/lifecycle.h"
#include "engine/moves.h"
#include "engine/mutations.h"
#include "engine/ownership.h"
#include "engine/placement.h"
#include "engine/placement_inputs.h"
#include "engine/rebalancer.h"
#include "engine/resources.h"
#include "engine/rollback.h"
#include "engine/rolling_update.h"
#include "engine/slice_key_index.h"
#include "engine/slice_table.h"
#include "engine/stuck_orphans.h"
#include "engine/target_sync.h"
#include "engine/timers.h"

namespace aether::engine {

namespace {

constexpr const char* kComponent = "cdm";
constexpr Nanos kReconcileDebounce = seconds(1);
constexpr Nanos kReconcileAfterFailure = seconds(5);

}  // namespace

class ClusterDeploymentManager::Active
    : public std::enable_shared_from_this<ClusterDeploymentManager::Active> {
 public:
  Active(const NodeServices& services, const EngineConfig& config, std::optional<std::uint64_t> tag,
         const std::map<std::string, std::uint64_t>& positions, BlueprintParses& parses)
      : services_(services),
        config_(config),
        tag_(tag),
        timers_(services.clock),
        allocation_{placement::make_strategy(config.allocation)},
        writer_(services_, config_, timers_,
                CdmWriter::Hooks{
                    [this](const SliceCommand& c) { return recheck::resend_still_wanted(table_, c); },
                    [this](const std::vector<SliceCommand>& c) { commands_.revert(c); },
                    [this](Nanos delay_ns) { schedule_reconcile(delay_ns); },
                    [this](const SliceCommand& c) { commands_.arm_resend(c.artifact, c.node, c.state); },
                    [this] { sync_targets(); },
                    [this](const TargetPut& put) { return rederive_target(put); },
                    [this](const SliceCommand& c) { return recheck::activate_still_ready(facts_, c); },
                    [this](const SliceCommand& c) { return recheck::drain_allows(facts_, c); },
                    [this](const NodeId& node) {
                      return recheck::decommission_allowed(
                          facts_, node, services_.kv.scan(slice_node_prefix(node)).empty());
                    },
                    [this](const SliceCommand& c) { return recheck::load_still_allowed(facts_, c); },
                    [this](KeyWrite& w) { return all_or_nothing_.recheck(w, commands_); },
                    [this](const SliceCommand& c) {
                      return recheck::unload_keeps_rolling_floor(
                          facts_, c, services_.kv.get(version_routing_key(base_of(c.artifact))).has_value(),
                          services_.kv.get(slice_key(c.node, c.artifact)));
                    },
                    [this](const SliceCommand& c) {
                      return recheck::unload_still_wanted(
                          facts_, c, [this](const NodeId& node, const std::string& artifact) {
                            return writer_.load_queued(node, artifact);
                          });
                    },
                    [this](const TargetRemove& r) { return recheck::target_remove_still_wanted(facts_, r); },
                }),
        positions_(positions),
        parses_(parses) {}

  std::optional<std::uint64_t> tag() const { return tag_; }
  void start();
  // Keeps the slice-key index in step with the local KV (every notification,
  // whatever its origin; called before on_kv, and for a retired term too).
  void track(const KvNotification& n) { track(n, parse_notification(n)); }
  void on_kv(const KvNotification& n) { on_kv(n, parse_notification(n)); }
  // track(n) then on_kv(n), a slices/* key and value parsed once for both
  // (issue 14, ninth pass).
  void notify(const KvNotification& n) {
    const SliceParse parse = parse_notification(n);
    track(n, parse);
    on_kv(n, parse);
  }
  void on_topology(const TopologyEvent& event);
  // The local store finished a snapshot restore (an input, as a notification is).
  void on_restored() { ++inputs_; }
  // Reconciles the early-out answered (reconcile()).
  std::uint64_t reconciles_skipped() const { return skipped_; }

 private:
  using Entry = SliceEntry;

  // A slices/* notification's key and value parsed (what track and on_kv
  // read): the key for a Put or an applied Remove, the value for a Put of a
  // valid key. Nothing for another key.
  struct SliceParse {
    std::optional<SliceKey> slice;
    std::optional<SliceValue> value;
  };
  static SliceParse parse_notification(const KvNotification& n) {
    SliceParse out;
    if (!n.key.starts_with(kSlicePrefix)) return out;
    if (n.op == KvOp::Put || n.origin == KvOrigin::Apply) out.slice = parse_slice_key(n.key);
    if (n.op == KvOp::Put && out.slice) out.value = parse_slice_value(n.value);
    return out;
  }
  void track(const KvNotification& n, const SliceParse& parse);
  void on_kv(const KvNotification& n, const SliceParse& parse);

  // Activation (start): the desired state, the slice-target rebuild, the slice table.
  void read_desired_state();
  void rebuild_targets();
  void read_slices();

  // Events.
  void on_blueprint_put(const std::string& id, const std::string& value);
  void on_blueprint_remove(const std::string& id);
  // The bases `id` owned (`before`) and owns no more: forgotten, their slice-targets removed.
  void release_bases(const Ownership& before, const std::string& id);
  void on_target_put(const std::string& base, const std::string& value);
  void on_target_remove(const std::string& base);
  // `parsed`: parse_slice_value(value).
  void on_slice_put(const std::string& key, const SliceKey& slice, const std::string& value,
                    const std::optional<SliceValue>& parsed);
  void on_slice_active(const std::string& artifact, const NodeId& node);
  void on_slice_failed(const std::string& artifact, const NodeId& node, const SliceValue& value,
                       bool repeated);
  void on_slice_remove(const SliceKey& slice);
  // `lifecycle`: also remove node-lifecycle/{node} (NodeRemoved/NodeDown and
  // the activation re-check only, never on reconcile: its NDM re-registers).
  void on_node_gone(const NodeId& node, bool lifecycle = true);
  // Reports `id` if it is not fully ACTIVE within blueprint_processing_timeout.
  void arm_processing_timeout(const std::string& id);

  // Desired state (desired_state.h) and what the CDM does about it.
  // Acceptance judged in order of the blueprint values' decided positions (§4).
  void recompute_ownership() {
    ownership_positions_ = facts_.blueprint_positions();
    state_.recompute_ownership(ownership_positions_);
  }
  // recompute_ownership() after a slice-target put for which
  // DesiredState::target_put_keeps_ownership held (`keeps`, asked before
  // the put): skipped when the blueprint positions are those of the last
  // recompute. The proof: the ownership is a pure function of the stored
  // blueprints, of the slice-targets' bases and owners and of those
  // positions; every write of state_.blueprints or state_.targets
  // (activation, blueprint and slice-target puts and removes) is followed by
  // a recompute in the same call, so state_.ownership is the answer for the
  // state before this put, which `keeps` says the put does not change; the
  // positions are compared (a Restore moves them without a recompute: the
  // manager records every origin's revision, the Active CDM acts on applied
  // values only). Issue 14, ninth pass.
  void recompute_ownership_after_target_put(bool keeps) {
    if (keeps && facts_.blueprint_positions() == ownership_positions_) return;
    recompute_ownership();
  }
  void set_desired(const std::string& base, const SliceTarget& target) { state_.set_desired(base, target); }
  void forget_desired(const std::string& base);
  std::optional<Wanted> wanted(const std::string& base) const { return state_.wanted(base); }
  void write_target_from_blueprint(const std::string& base);
  // Whether it planned anything (a write, or an adopted rejected target).
  bool sync_targets();
  // A queued slice-target Put re-derived at submit from the state applied
  // then (CdmWriter hook); nullopt: nothing to write (no owner, a rejected
  // owner, or a failed mark cleared since). What it returns is written, and
  // recorded as this term's own write (own_targets_).
  std::optional<SliceTarget> rederive_target(const TargetPut& queued);
  void mark_failed(const std::string& artifact);

  // One more consecutive transient failure of `artifact`: back off, or treat
  // it as fatal after transient_retry_max.
  void record_transient_failure(const std::string& artifact);
  const Desired* desired_for(const std::string& artifact) const { return state_.desired_for(artifact); }

  // Rolling updates (engine-semantics.md §8.4; decisions in rolling_update.h).
  bool rolling_in_progress(const std::string& base) const { return rolling::in_progress(facts_, base); }
  // One step of a rolling update: load new instances within max_surge,
  // UNLOAD old ones while ACTIVE over both versions keeps its floor.
  void roll(const std::string& base, const Desired& desired);

  // Reconcile. `timer`: run by its own timer (the periodic or the debounced
  // one), the only reconciles the early-out may answer.
  void reconcile(bool timer = false);
  // The reconcile's early-out (issue 14, eighth pass): the proof is at reconcile().
  std::uint64_t entries() const { return inputs_ + timers_.fired() + writer_.outcomes(); }
  void arm_periodic();
  void schedule_reconcile(Nanos delay_ns);
  void fix_count(const std::string& base);
  // fix_count(base) for `desired`, state_.desired's entry for `base` (a walk
  // of state_.desired, without looking it up again). Whether it did anything
  // but sync_routing (a roll, a placement, a scale-down, a backoff's
  // reconcile scheduled).
  bool fix_count(const std::string& base, const Desired& desired);
  // The same with `row`, table_.entries' row of desired.artifact (nullptr: none).
  bool fix_count(const std::string& base, const Desired& desired, const SliceTable::Nodes* row);
  // A transient-failure backoff of `artifact` is running: a reconcile is
  // scheduled for its end, nothing is placed now.
  bool backing_off(const std::string& artifact);
  void place(const std::string& artifact, int count);
  void scale_down(const std::string& artifact, const Desired& desired, int live);
  void rebalance();
  // Each returns whether it did anything (a table, move or intent change, a
  // command, a timer, a log line).
  bool prune_moves();
  bool adopt_unknown_keys();
  bool remove_absent_nodes(bool lifecycle);
  void end_move(const std::string& artifact);
  // `steady_until`: Cleanup::steady_until of its plan.
  bool check_stuck_and_orphans(Nanos* steady_until = nullptr);
  void activate_ready(const std::string& artifact);
  // activate_ready(desired.artifact) for an entry of state_.desired, without
  // looking it up again: desired_for(desired.artifact) is that entry (its
  // artifact is `base:version`, and a version holds no ':'). Whether it
  // activated any.
  bool activate_ready(const Desired& desired);
  // The same with `row`, table_.entries' row of desired.artifact (nullptr: none).
  bool activate_ready(const Desired& desired, const SliceTable::Nodes* row);
  const SliceTable::Nodes* row_of(const std::string& artifact) const {
    auto it = table_.entries.find(artifact);
    return it == table_.entries.end() ? nullptr : &it->second;
  }

  void flush(std::function<void(bool)> after = nullptr) { writer_.flush(std::move(after)); }
  void count(const char* counter, std::int64_t delta = 1) { services_.events.count(counter, delta); }
  void log(LogLevel level, std::string message) {
    services_.logger.log(level, kComponent, std::move(message));
  }

  NodeServices services_;
  const EngineConfig& config_;
  std::optional<std::uint64_t> tag_;
  TimerSet timers_;
  SliceKeyIndex slice_keys_;  // the local KV's slices/* keys (slice_key_index.h)
  // The bases with a version-routing/* key in the local KV, kept as
  // slice_keys_ is: the activation's scan, then every notification (track()).
  std::set<std::string, std::less<>> routing_keys_;
  placement::Allocation allocation_;  // the strategy and its cursor (placement_inputs.h)

  DesiredState state_;
  SliceTable table_;
  NodeLifecycles lifecycles_;
  MovesInFlight moves_;  // by artifact (moves.h)
  std::map<std::string, TimerId> processing_timers_;
  // The blueprint positions the ownership was last computed with.
  std::map<std::string, std::uint64_t> ownership_positions_;
  drain::Progress drain_;
  AllOrNothing all_or_nothing_;  // applied blueprint values, puts in flight, rollback rewrites

  CdmWriter writer_;
  // Decided position of each applied blueprints/* and slice-target/* value,
  // kept by the manager even while Dormant (the KV's mod revision).
  const std::map<std::string, std::uint64_t>& positions_;
  BlueprintParses& parses_;      // the manager's (shared with its runtime factory's other managers)
  OwnTargetWrites own_targets_;  // this term's slice-target writes and their echoes (desired_state.h)
  CdmFacts facts_{config_, services_.topology, state_, table_, lifecycles_, positions_, own_targets_};
  CdmCommands commands_{services_, config_, timers_, table_, facts_, writer_, [this](Nanos delay_ns) {
                          schedule_reconcile(delay_ns);
                        }};

  struct {
    TimerId timer = 0;
    Nanos due = 0;
    bool rechecked = false;  // the activation re-check has run
  } reconcile_;              // the pending reconcile (at most one, the earliest asked for)

  // The reconcile's early-out (reconcile()). `inputs_`: KV notifications
  // (tracked, whatever their origin), topology events and restores that
  // reached this term; with its timers fired and its batch outcomes, every
  // way into it (entries()).
  std::uint64_t inputs_ = 0;
  struct {
    bool valid = false;         // the last reconcile was quiet
    std::uint64_t entries = 0;  // entries() when it ended
    Nanos until = 0;            // its cleanup plan's steady_until
  } steady_;
  std::uint64_t skipped_ = 0;
  // The reconcile's rows of state_.desired's artifacts, in its order (fix_count's
  // walk finds them, activate_ready's takes them: one lookup per base).
  std::vector<const SliceTable::Nodes*> rows_;
};

// ---------------------------------------------------------------------------
// Activation and events

void ClusterDeploymentManager::Active::start() {
  count("leader-activations");
  read_desired_state();
  rebuild_targets();
  read_slices();
  commands_.inherit();
  all_or_nothing_.adopt_records(commands_);
  // Processing timeouts die with their leader: a blueprint still being
  // processed gets a full timeout from this activation (timestamps are
  // leader-local, §4).
  for (const auto& [id, blueprint] : state_.blueprints) {
    if (blueprint && !facts_.fully_active(id)) arm_processing_timeout(id);
  }
  reconcile();
  arm_periodic();
  timers_.after(config_.activation_recheck_delay_ns, [this] {
    reconcile_.rechecked = true;
    remove_absent_nodes(true);
    reconcile();
  });
}

// Activation: node lifecycles, blueprints, slice-targets and version-routing
// keys from the local KV.
void ClusterDeploymentManager::Active::read_desired_state() {
  for (const auto& [key, value] : services_.kv.scan(std::string(kNodeLifecyclePrefix))) {
    lifecycles_.values[*key_suffix(key, kNodeLifecyclePrefix)] = value;
  }
  for (const auto& [key, value] : services_.kv.scan(std::string(kBlueprintPrefix))) {
    const auto id = *key_suffix(key, kBlueprintPrefix);
    all_or_nothing_.texts[id] = value;
    std::string why;
    if (!state_.put_blueprint(id, value, &why, &parses_)) {
      log(LogLevel::Warn, "blueprint " + id + " is invalid: " + why);
      count("malformed-values");
    }
  }
  for (const auto& [key, value] : services_.kv.scan(std::string(kSliceTargetPrefix))) {
    const auto base = *key_suffix(key, kSliceTargetPrefix);
    if (auto target = parse_slice_target(value)) {
      state_.targets[base] = *target;
    } else {
      count("malformed-values");
    }
  }
  for (const auto& [key, value] : services_.kv.scan(std::string(kVersionRoutingPrefix))) {
    routing_keys_.emplace(*key_suffix(key, kVersionRoutingPrefix));
    if (!parse_version_routing(value)) {
      count("malformed-values");
      commands_.remove(key);
    }
  }
}

// Activation (§4): each owned base's desired state from its slice-target, or
// from its owner blueprint when the slice-target is missing, mismatching or
// older; slice-targets without an owner are removed.
void ClusterDeploymentManager::Active::rebuild_targets() {
  recompute_ownership();
  // The owner blueprint's position, looked up once per run of bases with
  // the same owner (nothing in this walk applies a notification, so
  // positions_ does not change during it).
  const std::string* last_owner = nullptr;
  std::optional<std::uint64_t> owner_at;
  for (const auto& [base, owner] : state_.ownership.owner_of) {
    if (last_owner == nullptr || *last_owner != owner) {
      last_owner = &owner;
      owner_at = facts_.blueprint_position(owner);
    }
    // A matching slice-target's counts win unless the owner blueprint's value
    // was decided after it (positions_, the KV's mod revisions).
    std::optional<std::uint64_t> blueprint_at;
    std::optional<std::uint64_t> target_at;
    // The positions target_is_newer looked up are taken from it (no key
    // built and looked up twice); not newer, it looked both up unless it
    // answered from this term's own write (never at activation).
    if (facts_.target_is_newer_than(base, owner_at, &target_at)) {
      blueprint_at.reset();
      target_at.reset();
    } else {
      blueprint_at = owner_at;  // set: an absent position is newer
      if (!blueprint_at) blueprint_at = positions_.at(blueprint_key(owner));
      if (!target_at) target_at = positions_.at(slice_target_key(base));
    }
    const auto rebuilt = state_.rebuilt_target(base, blueprint_at, target_at);
    if (!rebuilt) continue;
    set_desired(base, rebuilt->target);
    if (rebuilt->rewrite)
      commands_.put_target(base, rebuilt->target);  // an echo, not a new allocation trigger
  }
  for (const auto& [base, target] : state_.targets) {
    if (!state_.ownership.owner(base)) commands_.remove_target(base);
  }
}

// Activation: the slice table from the local KV's slices/* keys.
void ClusterDeploymentManager::Active::read_slices() {
  const Nanos now = timers_.now();
  for (const auto& [key, value] : services_.kv.scan(std::string(kSlicePrefix))) {
    auto slice = parse_slice_key(key);
    auto parsed = parse_slice_value(value);
    if (slice) slice_keys_.put(key, *slice, parsed);
    if (!slice || !parsed) {
      count("malformed-values");
      commands_.remove(key);
      continue;
    }
    // The parsed names move into the table (try_emplace moves nothing when
    // the key is there); the stuck check reads them from the table's keys.
    auto row = table_.entries.try_emplace(std::move(slice->artifact)).first;
    auto at = row->second.try_emplace(std::move(slice->node)).first;
    Entry& entry = at->second;
    entry.observed = *parsed;
    entry.since_ns = now;
    commands_.arm_stuck_check(row->first, at->first, entry);
  }
}

void ClusterDeploymentManager::Active::track(const KvNotification& n, const SliceParse& parse) {
  ++inputs_;
  if (n.key.starts_with(kSlicePrefix)) slice_keys_.track(n, parse.slice, parse.value);
  if (n.key.starts_with(kVersionRoutingPrefix)) {
    const std::string_view base = std::string_view(n.key).substr(kVersionRoutingPrefix.size());
    if (n.op == KvOp::Put) {
      routing_keys_.emplace(base);
    } else if (auto it = routing_keys_.find(base); it != routing_keys_.end()) {
      routing_keys_.erase(it);
    }
  }
}

void ClusterDeploymentManager::Active::on_kv(const KvNotification& n, const SliceParse& parse) {
  if (n.origin != KvOrigin::Apply) return;
  own_targets_.latest_applied = std::max(own_targets_.latest_applied, n.position);
  if (auto id = key_suffix(n.key, kBlueprintPrefix)) {
    n.op == KvOp::Put ? on_blueprint_put(*id, n.value) : on_blueprint_remove(*id);
  } else if (auto base = key_suffix(n.key, kSliceTargetPrefix)) {
    n.op == KvOp::Put ? on_target_put(*base, n.value) : on_target_remove(*base);
  } else if (n.key.starts_with(kSlicePrefix)) {
    const auto& slice = parse.slice;
    if (!slice) {
      if (n.op == KvOp::Put) {
        count("malformed-values");
        commands_.remove(n.key);
      }
    } else if (n.op == KvOp::Put) {
      on_slice_put(n.key, *slice, n.value, parse.value);
    } else {
      on_slice_remove(*slice);
    }
  } else if (n.key.starts_with(kVersionRoutingPrefix)) {
    if (n.op == KvOp::Put && !parse_version_routing(n.value)) {
      count("malformed-values");
      commands_.remove(n.key);
    }
    schedule_reconcile(kReconcileDebounce);
  } else if (auto node = key_suffix(n.key, kNodeLifecyclePrefix)) {
    if (n.op == KvOp::Put) {
      lifecycles_.values[*node] = n.value;
    } else {
      lifecycles_.values.erase(*node);
    }
    drain_.decommission_sent.erase(*node);
    // Any node-lifecycle put or remove (§4): ON_DUTY, a drain, an undrain.
    schedule_reconcile(kReconcileDebounce);
  }
  flush();
}

void ClusterDeploymentManager::Active::on_topology(const TopologyEvent& event) {
  ++inputs_;
  if (event.change == TopologyChange::NodeAdded) {
    schedule_reconcile(kReconcileDebounce);
    return;
  }
  on_node_gone(event.node);
}

void ClusterDeploymentManager::Active::on_node_gone(const NodeId& node, bool lifecycle) {
  for (auto& [artifact, nodes] : table_.entries) {
    auto it = nodes.find(node);
    if (it == nodes.end()) continue;
    timers_.cancel(it->second.resend);
    nodes.erase(it);
  }
  for (const auto& artifact : moves_through(moves_, node)) end_move(artifact);
  for (const auto& [key, value] : services_.kv.scan(slice_node_prefix(node))) commands_.remove(key);
  if (lifecycle && !lifecycles_.drained(node)) {  // a drain's DRAINING/DECOMMISSIONED stays
    commands_.remove(node_lifecycle_key(node));
    lifecycles_.values.erase(node);
  }
  log(LogLevel::Info, "node " + node + " gone: removing its keys");
  auto self = weak_from_this();
  // Reconcile once the batch completes; after a failure, the reconcile the
  // failure schedules (5s) does it (at once could loop at one instant).
  flush([this, self](bool committed) {
    if (!self.expired() && committed) reconcile();
  });
}

void ClusterDeploymentManager::Active::on_blueprint_put(const std::string& id, const std::string& value) {
  const Ownership before = state_.ownership;
  const std::optional<std::string> before_text = all_or_nothing_.text(id);
  auto before_value = state_.blueprints.find(id);
  const bool before_accepted =
      before_value != state_.blueprints.end() && before_value->second && before.rejected.count(id) == 0;
  all_or_nothing_.texts[id] = value;
  std::string why;
  const bool valid = state_.put_blueprint(id, value, &why, &parses_);
  recompute_ownership();
  if (!valid) {
    log(LogLevel::Warn, "blueprint " + id + " is invalid: " + why);
    count("malformed-values");
  } else if (state_.ownership.rejected.count(id)) {
    log(LogLevel::Warn, "blueprint " + id + " rejected: another blueprint owns one of its artifacts");
    count("rejected-blueprints");
  } else {
    const Blueprint& blueprint = *state_.blueprints[id];
    for (const auto& slice : blueprint.slices) {
      const auto base = slice.artifact.base().to_string();
      // A put of the owner blueprint clears the artifact's failure accounting.
      state_.clear_failures(slice.artifact.to_string());
      if (auto known = state_.desired.find(base);
          known != state_.desired.end() && known->second.owner == id) {
        known->second.failed = false;
      }
      SliceTarget target{slice.artifact.version, slice.instances, slice.min_available, id, false};
      commands_.put_target(base, target);
      if (config_.mutation(mutation::kAllocateAtBlueprintPut)) {
        set_desired(base, target);
        place(slice.artifact.to_string(), slice.instances);
      }
    }
    arm_processing_timeout(id);
  }
  all_or_nothing_.after_put(state_, id, value, before_text, before_accepted, commands_);
  release_bases(before, id);
  sync_targets();
}

void ClusterDeploymentManager::Active::release_bases(const Ownership& before, const std::string& id) {
  // Bases it owned before and no longer owns: a base the ownership rule
  // gives another owner (a rejected value accepted now, say) keeps its
  // instances; sync_targets rewrites its slice-target for that owner, whose
  // commit unloads only other versions (§4, "Blueprint remove").
  for (const auto& [base, owner] : before.owner_of) {
    if (owner != id || state_.ownership.owner(base)) continue;
    forget_desired(base);
    commands_.remove_target(base);
  }
}

void ClusterDeploymentManager::Active::on_blueprint_remove(const std::string& id) {
  const Ownership before = state_.ownership;
  state_.blueprints.erase(id);
  all_or_nothing_.texts.erase(id);
  all_or_nothing_.echoes.erase(id);
  all_or_nothing_.finish(id, commands_);
  recompute_ownership();
  release_bases(before, id);
  if (auto timer = processing_timers_.find(id); timer != processing_timers_.end()) {
    timers_.cancel(timer->second);
    processing_timers_.erase(timer);
  }
  flush();
  schedule_reconcile(kReconcileAfterFailure);
  sync_targets();
}

void ClusterDeploymentManager::Active::on_target_put(const std::string& base, const std::string& value) {
  auto target = parse_slice_target(value);
  if (!target) {
    count("malformed-values");
    state_.targets.erase(base);
    recompute_ownership();
    // A base owned only through that slice-target (a rejected owner's, or
    // one no blueprint lists) has no owner now: as for a removal (§4).
    if (!state_.ownership.owner(base)) forget_desired(base);
    sync_targets();
    return;
  }
  const bool keeps = state_.target_put_keeps_ownership(base, target->owner);
  state_.targets[base] = *target;
  own_targets_.applied(base, value, config_.mutation(mutation::kEchoCountsAsIntent));
  recompute_ownership_after_target_put(keeps);
  switch (engine::on_target_put(facts_, base, *target)) {
    case TargetPutAction::NoOwner:
      forget_desired(base);
      commands_.remove_target(base);
      return;
    case TargetPutAction::Nothing:
      return;
    case TargetPutAction::Rewrite:
      write_target_from_blueprint(base);
      return;
    case TargetPutAction::Adopt:
      break;
  }
  const auto want = wanted(base);
  // Only a put of the owner blueprint clears failure accounting (§4): a
  // client `scale` or the CDM's own echo keeps the transient counter and the
  // failed flag (set_desired; sync_targets writes the flag back).
  set_desired(base, *target);
  if (!rolling::rolls(state_, base))
    commands_.unload_live(base, want->artifact);  // a rolling slice follows §8.4 (fix_count)
  fix_count(base);
  activate_ready(want->artifact);
  sync_targets();
}

void ClusterDeploymentManager::Active::on_target_remove(const std::string& base) {
  state_.targets.erase(base);
  recompute_ownership();
  forget_desired(base);
  sync_targets();
}

void ClusterDeploymentManager::Active::on_slice_put(const std::string& key, const SliceKey& slice,
                                                    const std::string& value,
                                                    const std::optional<SliceValue>& parsed) {
  const std::string& artifact = slice.artifact;
  Entry& entry = table_.entries[artifact][slice.node];
  const bool was_live = entry.counts_for_scale();
  if (!parsed) {
    const Desired* desired = desired_for(artifact);
    log(LogLevel::Warn, "unparseable value at " + key + ": removing it");
    count("malformed-values");
    // The same bytes written again before their removal landed: like a
    // same-value FAILED rewrite, not a new failure.
    const bool rewrite = entry.malformed_remove_at && entry.malformed_value == value;
    entry.observed = SliceValue{SliceState::Failed, std::string("malformed"), false};
    entry.intent.reset();
    entry.malformed_remove_at = timers_.now();
    entry.malformed_value = value;
    // Treated as FAILED transient (engine-semantics §4), escalation included.
    if (desired && desired->artifact == artifact && !rewrite) record_transient_failure(artifact);
    commands_.remove(key);
    schedule_reconcile(kReconcileDebounce);
    return;
  }
  entry.malformed_remove_at.reset();
  const bool state_changed = !entry.observed || entry.observed->state != parsed->state;
  if (state_changed) entry.since_ns = timers_.now();
  // A same-value FAILED rewrite (a duplicate commit) is not a new failure.
  const bool repeated_failure = parsed->state == SliceState::Failed && entry.observed == *parsed;
  entry.observed = *parsed;
  if (state_changed) commands_.arm_stuck_check(artifact, slice.node, entry);
  if (entry.intent && answers(*entry.intent, parsed->state)) {
    entry.intent.reset();
    timers_.cancel(entry.resend);
    entry.resend = 0;
  }
  switch (parsed->state) {
    case SliceState::Loaded:
      activate_ready(artifact);
      break;
    case SliceState::Active:
      on_slice_active(artifact, slice.node);
      break;
    case SliceState::Failed:
      on_slice_failed(artifact, slice.node, *parsed, repeated_failure);
      break;
    default:
      break;
  }
  const bool now_live = entry.counts_for_scale();
  if (was_live != now_live) schedule_reconcile(kReconcileDebounce);
  // A key of a node outside the view (a late commit, a client's write) is
  // the reconcile's to remove (remove_absent_nodes): its arrival is a trigger
  // of its own, not left to the periodic reconcile.
  if (reconcile_.rechecked && !facts_.in_view(slice.node)) schedule_reconcile(kReconcileDebounce);
}

void ClusterDeploymentManager::Active::on_slice_active(const std::string& artifact, const NodeId& node) {
  if (!config_.mutation(mutation::kTransientCountSurvivesActive)) state_.transient_failures.erase(artifact);
  if (lifecycles_.any_drained())
    schedule_reconcile(kReconcileDebounce);  // a replacement may free an eviction
  if (!all_or_nothing_.in_flight.empty())
    all_or_nothing_.check(facts_, commands_);  // an all-or-nothing put may be complete
  if (rolling_in_progress(base_of(artifact))) fix_count(base_of(artifact));
  bool dependants = false;
  for (const auto& [base, other] : state_.desired) {
    if (std::find(other.depends_on.begin(), other.depends_on.end(), artifact) != other.depends_on.end()) {
      activate_ready(other.artifact);
      dependants = true;
    }
  }
  // A dependant the rebalancer left alone while it was starved may be moved
  // now: under aggressive reconciliation this is a trigger of its own
  // (simulation.md §5), not left to the periodic reconcile.
  if (dependants && config_.reconciliation == ReconciliationStrategy::Aggressive && config_.auto_rebalancing)
    schedule_reconcile(kReconcileDebounce);
  auto move = moves_.find(artifact);
  if (move == moves_.end() || move->second.target != node) return;
  const NodeId source = move->second.source;
  moves_.erase(move);
  auto src = table_.entries[artifact].find(source);
  if (src == table_.entries[artifact].end()) return;
  src->second.leaving = false;  // counts again if its UNLOAD does not land
  const auto step = break_step(facts_, artifact, source);
  if (step.action == BreakStep::Action::KeepSource) {
    log(LogLevel::Info, "move of " + artifact + " ends without unloading " + source +
                            ": ACTIVE would fall below min_available");
    count("moves-kept-source");
    // One entry over the count now: the scale-down (or a later move) is this
    // trigger's to start, not the periodic reconcile's.
    schedule_reconcile(kReconcileDebounce);
  } else if (step.action == BreakStep::Action::Unload) {
    commands_.unload(artifact, source, step.why);
  }
}

void ClusterDeploymentManager::Active::on_slice_failed(const std::string& artifact, const NodeId& node,
                                                       const SliceValue& value, bool repeated) {
  const Desired* desired = desired_for(artifact);
  if (table_.entries[artifact][node].intent != SliceState::Unload)
    commands_.unload(artifact, node, UnloadWhy::Cleanup);
  if (!desired || desired->artifact != artifact || repeated) return;
  if (value.fatal) {
    log(LogLevel::Warn,
        artifact + " failed fatally on " + node + ": " + value.failure_reason.value_or("(no reason)"));
    mark_failed(artifact);
  } else if (value.failure_reason != std::string(kLostReason)) {
    record_transient_failure(artifact);
  }
}

void ClusterDeploymentManager::Active::on_slice_remove(const SliceKey& slice) {
  auto nodes = table_.entries.find(slice.artifact);
  if (nodes == table_.entries.end()) return;
  auto it = nodes->second.find(slice.node);
  if (it == nodes->second.end()) return;
  if (!it->second.observed && it->second.intent == SliceState::Load) return;  // our LOAD is still to land
  timers_.cancel(it->second.resend);
  nodes->second.erase(it);
  if (nodes->second.empty()) table_.entries.erase(nodes);
  auto move = moves_.find(slice.artifact);
  if (move != moves_.end() && (move->second.source == slice.node || move->second.target == slice.node)) {
    end_move(slice.artifact);
  }
  Nanos delay = kReconcileDebounce;
  if (auto backoff = state_.backoff_until.find(slice.artifact); backoff != state_.backoff_until.end()) {
    delay = std::max(delay, backoff->second - timers_.now());
  }
  schedule_reconcile(delay);
}

void ClusterDeploymentManager::Active::arm_processing_timeout(const std::string& id) {
  if (auto old = processing_timers_.find(id); old != processing_timers_.end()) timers_.cancel(old->second);
  processing_timers_[id] = timers_.after(config_.blueprint_processing_timeout_ns, [this, id] {
    processing_timers_.erase(id);
    if (!facts_.fully_active(id)) {
      log(LogLevel::Warn, "blueprint " + id + " not fully ACTIVE within the processing timeout");
      count("blueprints-over-processing-timeout");
    }
  });
}

// ---------------------------------------------------------------------------
// Desired state

void ClusterDeploymentManager::Active::forget_desired(const std::string& base) {
  state_.desired.erase(base);
  commands_.unload_live(base, std::nullopt);
  commands_.sync_routing(base);  // a removal mid-update unloads every version and removes the routing key
}

void ClusterDeploymentManager::Active::write_target_from_blueprint(const std::string& base) {
  const auto want = wanted(base);
  if (!want) return;
  commands_.put_target(base,
                       SliceTarget{want->version, want->instances, want->min_available, want->owner, false});
}

bool ClusterDeploymentManager::Active::sync_targets() {
  const auto actions =
      plan_target_sync(facts_, [this](const std::string& base) { return writer_.target_pending(base); });
  for (const auto& action : actions) {
    switch (action.kind) {
      case TargetSyncAction::Kind::FromBlueprint:
        write_target_from_blueprint(action.base);
        break;
      case TargetSyncAction::Kind::AdoptRejected:
        set_desired(action.base, action.target);
        fix_count(action.base);
        break;
      case TargetSyncAction::Kind::FixFailedFlag:
        commands_.put_target(action.base, action.target);
        break;
      case TargetSyncAction::Kind::Remove:
        commands_.remove_target(action.base);
        break;
    }
  }
  return !actions.empty();
}

std::optional<SliceTarget> ClusterDeploymentManager::Active::rederive_target(const TargetPut& queued) {
  auto fresh = recheck::rederived_target(facts_, queued.base, queued.target);
  if (fresh) own_targets_.wrote(queued.base, encode_slice_target(*fresh));
  return fresh;
}

void ClusterDeploymentManager::Active::record_transient_failure(const std::string& artifact) {
  count("retries");
  if (state_.note_transient_failure(artifact, timers_.now(), config_.transient_retry_max,
                                    config_.transient_backoff_cap_ns)) {
    log(LogLevel::Warn, artifact + " failed " + std::to_string(state_.transient_failures[artifact]) +
                            " times: treating it as fatal");
    mark_failed(artifact);
  }
}

void ClusterDeploymentManager::Active::mark_failed(const std::string& artifact) {
  const auto base = base_of(artifact);
  auto it = state_.desired.find(base);
  if (it == state_.desired.end() || it->second.artifact != artifact || it->second.failed) return;
  it->second.failed = true;
  auto target = state_.targets.find(base);
  if (target == state_.targets.end()) return;
  SliceTarget failed = target->second;
  failed.failed = true;
  commands_.put_target(base, failed);
  all_or_nothing_.check(facts_,
                        commands_);  // a slice of an all-or-nothing put in flight: roll it back (same batch)
}

// ---------------------------------------------------------------------------
// All-or-nothing blueprints (engine-semantics.md §8.3)

// ---------------------------------------------------------------------------
// Reconcile

void ClusterDeploymentManager::Active::schedule_reconcile(Nanos delay_ns) {
  const Nanos due = timers_.now() + std::max<Nanos>(delay_ns, 0);
  if (reconcile_.timer != 0 && timers_.pending(reconcile_.timer)) {
    if (reconcile_.due <= due) return;
    timers_.cancel(reconcile_.timer);
  }
  reconcile_.due = due;
  reconcile_.timer = timers_.after(due - timers_.now(), [this] {
    reconcile_.timer = 0;
    reconcile(true);
  });
}

void ClusterDeploymentManager::Active::arm_periodic() {
  timers_.after(config_.reconciliation_interval_ns, [this] {
    reconcile(true);
    arm_periodic();  // a timer armed: nothing a reconcile reads
  });
}

bool ClusterDeploymentManager::Active::remove_absent_nodes(bool lifecycle) {
  if (config_.mutation(mutation::kDepartedNodeKeysKept)) return false;
  const auto absent =
      absent_nodes(slice_keys_, lifecycle ? &lifecycles_ : nullptr, services_.topology.view());
  for (const auto& node : absent) on_node_gone(node, lifecycle);
  return !absent.empty();
}

bool ClusterDeploymentManager::Active::adopt_unknown_keys() {
  // Keys the in-memory map dropped (a node-gone cleanup whose removal failed,
  // the node then back in the view) are read back from the local KV.
  const Nanos now = timers_.now();
  const auto pending = [this](const std::string& key) { return writer_.remove_pending(key); };
  const auto unknown = unknown_keys(slice_keys_, table_, pending);
  for (const auto* indexed : unknown) {
    Entry& entry = table_.entries[indexed->slice.artifact][indexed->slice.node];
    entry.observed = *indexed->value;
    entry.since_ns = now;
    commands_.arm_stuck_check(indexed->slice.artifact, indexed->slice.node, entry);
  }
  const bool inherited = commands_.inherit();
  return !unknown.empty() || inherited;
}

bool ClusterDeploymentManager::Active::prune_moves() {
  // A move ends when either entry stops being live: the source counts again.
  const auto over = moves_over(moves_, facts_);
  for (const auto& artifact : over) end_move(artifact);
  return !over.empty();
}

void ClusterDeploymentManager::Active::end_move(const std::string& artifact) {
  auto move = moves_.find(artifact);
  if (move == moves_.end()) return;
  auto nodes = table_.entries.find(artifact);
  if (nodes != table_.entries.end()) {
    if (auto source = nodes->second.find(move->second.source); source != nodes->second.end()) {
      source->second.leaving = false;
    }
  }
  moves_.erase(move);
}

// The early-out. A reconcile is a function of this term's state (desired
// state, slice table, lifecycles, moves, drain and all-or-nothing records,
// the writer's queue and pending keys, the slice-key index, reconcile_), the
// manager's positions_, the config, the local KV, the topology's view and
// the clock. Call a reconcile *quiet* when it changes none of that state and
// has no effect but its "reconciles" count: every step below reports whether
// it did anything (a table, intent or move change, a command, a timer, a log
// line), no command was added (writer_.added()), no timer armed
// (timers_.armed()), and the writer is idle at its end.
//
// Claim: a reconcile R2 run by its own timer, when the last reconcile R1 was
// quiet, ran from a timer too, and entries() grew by exactly one since R1
// ended (R2's own timer), at an instant before R1's steady_until, would be
// quiet too: it may be answered by its count alone.
// Proof. Every way into this term counts in entries(): KV notifications (all
// of them, through track(); the manager's positions_ change only with one),
// topology events (a view changes only with one), restores, timers fired
// (the writer's and the commands' share timers_) and batch outcomes. R1 ran
// inside its timer's callback, which does nothing after it but arm the next
// periodic timer (a timer: read by nothing here), and R2's callback nothing
// before it but clear reconcile_.timer (read only by schedule_reconcile,
// which a quiet run does not call). So R2 starts from the state R1 ended
// with, which is the state R1 started from (R1 quiet), with the same KV (the
// CDM's interest is every key: each applied position notifies it), the same
// view, positions_ and config. The only clock reads on a quiet path are
// plan_cleanup's bounds (backoffs are read only on a path that places or
// rolls; a drain's decommission only with a drained node; new intents only
// with a command), which answer as at R1 before steady_until. So R2 takes
// R1's path step by step: quiet, with R1's steady_until. QED.
// Tests: tests/engine/reconcile_early_out_test.cc runs worlds with the
// early-out on and off and requires identical traces.
void ClusterDeploymentManager::Active::reconcile(bool timer) {
  count("reconciles");
  const Nanos now = timers_.now();
  if (timer && steady_.valid && entries() == steady_.entries + 1 && now < steady_.until &&
      config_.reconcile_early_out) {
    steady_.entries = entries();
    ++skipped_;
    return;
  }
  const std::uint64_t added = writer_.added();
  const std::uint64_t armed = timers_.armed();
  bool acted = config_.reconciliation == ReconciliationStrategy::Aggressive && config_.auto_rebalancing;
  if (reconcile_.rechecked) {
    // slices/* keys of nodes out of the view: a late commit, or a removal
    // that failed (node-lifecycle keys are left to their NDMs).
    acted |= remove_absent_nodes(false);
  }
  acted |= adopt_unknown_keys();
  acted |= prune_moves();
  Nanos steady_until = 0;
  acted |= check_stuck_and_orphans(&steady_until);
  acted |= sync_targets();  // every reconcile rewrites a missing or mismatching owned slice-target (§4)
  // Each desired artifact's row is found once for both walks of state_.desired
  // (issue 14, ninth pass). Between them the table may gain a row (a
  // placement's load of an artifact without one: looked up again), never
  // lose one: a row is erased only when its last key is removed (on_kv),
  // and nothing in a reconcile applies a notification (its walks of
  // state_.desired rely on that too: on_kv changes state_.desired).
  rows_.clear();
  for (const auto& [base, desired] : state_.desired) {
    rows_.push_back(row_of(desired.artifact));
    acted |= fix_count(base, desired, rows_.back());
  }
  for (const auto& [key, value] : services_.kv.scan(std::string(kVersionRoutingPrefix))) {
    const auto base = *key_suffix(key, kVersionRoutingPrefix);
    if (!state_.desired.count(base)) {
      commands_.sync_routing(base);  // no owner: the update is over
      acted = true;
    }
  }
  std::size_t at = 0;
  for (const auto& [base, desired] : state_.desired) {
    const SliceTable::Nodes* row = rows_[at++];
    acted |= activate_ready(desired, row != nullptr ? row : row_of(desired.artifact));
  }
  acted |= lifecycles_.any_drained() || !drain_.blocked.empty();
  drain_.drain_nodes(facts_, commands_);
  acted |= !all_or_nothing_.in_flight.empty();
  all_or_nothing_.check(facts_, commands_);
  if (config_.reconciliation == ReconciliationStrategy::Aggressive && config_.auto_rebalancing) rebalance();
  flush();
  const bool quiet =
      timer && !acted && writer_.added() == added && timers_.armed() == armed && writer_.idle();
  steady_.valid = quiet;
  steady_.entries = entries();
  steady_.until = steady_until;
}

// ---------------------------------------------------------------------------
// Drain (engine-semantics.md §8.2)

void ClusterDeploymentManager::Active::fix_count(const std::string& base) {
  auto it = state_.desired.find(base);
  if (it != state_.desired.end()) fix_count(base, it->second);
}

bool ClusterDeploymentManager::Active::fix_count(const std::string& base, const Desired& desired) {
  return fix_count(base, desired, row_of(desired.artifact));
}

bool ClusterDeploymentManager::Active::fix_count(const std::string& base, const Desired& desired,
                                                 const SliceTable::Nodes* row) {
  if (desired.failed) return false;
  // rolling_in_progress(base) is false for a slice that does not roll.
  if (desired.update.rolling && rolling_in_progress(base)) {
    roll(base, desired);
    return true;
  }
  // sync_routing(base) does nothing when the local KV holds no
  // version-routing key for the base and the slice does not roll: pending or
  // not, rolling::sync_routing then answers None (its early-out, `base`
  // being desired). Whether the key is there is read from routing_keys_,
  // exact as slice_keys_ is (every change of the local KV is a notification
  // and reaches track(), the Active CDM's interest being every key), not
  // from the store per base and reconcile (issue 14, ninth pass).
  if (desired.update.rolling || routing_keys_.count(base) != 0) commands_.sync_routing(base);
  const int live = facts_.live_count(row);
  if (live < desired.count) {
    if (!backing_off(desired.artifact)) place(desired.artifact, desired.count - live);
  } else if (live > desired.count) {
    scale_down(desired.artifact, desired, live);
  }
  return live != desired.count;
}

bool ClusterDeploymentManager::Active::backing_off(const std::string& artifact) {
  auto backoff = state_.backoff_until.find(artifact);
  if (backoff == state_.backoff_until.end() || backoff->second <= timers_.now()) return false;
  schedule_reconcile(backoff->second - timers_.now());  // placed once the backoff is over
  return true;
}

void ClusterDeploymentManager::Active::place(const std::string& artifact, int count_wanted) {
  const Desired* desired = desired_for(artifact);
  if (!desired) return;
  const auto plan = allocation_.add(facts_, *desired, count_wanted);
  for (const auto& node : plan.nodes) commands_.load(artifact, node);
  const int placed = static_cast<int>(plan.nodes.size());
  // Aggressive: placements are a trigger for the rebalance too (§4 "every
  // trigger acts on its own", simulation.md §5 event-driven convergence): a
  // placement outside the periodic reconcile may leave the nodes uneven.
  if (placed > 0 && config_.reconciliation == ReconciliationStrategy::Aggressive && config_.auto_rebalancing)
    schedule_reconcile(kReconcileDebounce);
  if (placed < count_wanted) {
    if (plan.blocked == placement::Blocker::AntiAffinity || plan.blocked == placement::Blocker::Capacity) {
      // Unplaced under the constraints (§8.1): counted, retried on every reconcile.
      count("unplaced-instances", count_wanted - placed);
      log(LogLevel::Info, artifact + ": " + std::to_string(count_wanted - placed) +
                              " instance(s) unplaced (" + placement::blocker_name(plan.blocked) + ")");
    } else {
      log(LogLevel::Info,
          artifact + ": " + std::to_string(count_wanted - placed) + " instance(s) wait for eligible nodes");
    }
  }
}

void ClusterDeploymentManager::Active::scale_down(const std::string& artifact, const Desired& desired,
                                                  int live) {
  for (const auto& node : allocation_.remove(facts_, artifact, desired, live))
    commands_.unload(artifact, node, UnloadWhy::ScaleDown);
}

void ClusterDeploymentManager::Active::roll(const std::string& base, const Desired& desired) {
  commands_.sync_routing(base);
  const auto input = rolling::input_for(facts_, base, desired);
  const auto plan = rolling::plan(input);
  for (const auto& entry : plan.unload) commands_.unload(entry.artifact, entry.node);
  if (plan.load > 0 && !backing_off(desired.artifact)) place(desired.artifact, plan.load);
  if (input.new_live > desired.count) scale_down(desired.artifact, desired, input.new_live);
}

bool ClusterDeploymentManager::Active::check_stuck_and_orphans(Nanos* steady_until) {
  const Nanos now = timers_.now();
  const auto cleanup = plan_cleanup(facts_, now);
  if (steady_until) *steady_until = cleanup.steady_until;
  for (const auto& [artifact, node] : cleanup.malformed_again)
    table_.entries[artifact][node].malformed_remove_at = now;
  for (const auto& stuck : cleanup.stuck) {
    count("stuck-cleanups");
    log(LogLevel::Warn, stuck.artifact + " on " + stuck.node + " stuck in " + slice_state_name(stuck.state));
  }
  for (const auto& unload : cleanup.unload) commands_.unload(unload.artifact, unload.node, unload.why);
  for (const auto& [artifact, node] : cleanup.remove) commands_.remove_slice(artifact, node);
  return !cleanup.malformed_again.empty() || !cleanup.stuck.empty() || !cleanup.unload.empty() ||
         !cleanup.remove.empty();
}

void ClusterDeploymentManager::Active::activate_ready(const std::string& artifact) {
  const Desired* desired = desired_for(artifact);
  if (!desired || desired->artifact != artifact) return;
  activate_ready(*desired);
}

bool ClusterDeploymentManager::Active::activate_ready(const Desired& desired) {
  return activate_ready(desired, row_of(desired.artifact));
}

bool ClusterDeploymentManager::Active::activate_ready(const Desired& desired, const SliceTable::Nodes* row) {
  // The entries settled in LOADED first, the dependencies only when there
  // are some: both are pure reads of the same facts, so the order changes no
  // answer, and the dependency walk (a row lookup per dependency) is left
  // out of the steady case, where nothing is LOADED (issue 14, ninth pass).
  const std::string& artifact = desired.artifact;
  if (row == nullptr) return false;
  std::vector<NodeId> ready;
  for (const auto& [node, entry] : *row) {
    if (entry.settled_in(SliceState::Loaded)) ready.push_back(node);
  }
  if (ready.empty()) return false;
  if (!facts_.dependencies_ready(desired.depends_on) &&
      !config_.mutation(mutation::kActivateBeforeDependencies))
    return false;
  for (const auto& node : ready) commands_.activate(artifact, node);
  return true;
}

void ClusterDeploymentManager::Active::rebalance() {
  auto eligible = facts_.eligible_nodes();
  if (eligible.size() < 2) return;
  for (const auto& [base, desired] : state_.desired) {
    table_.entries[desired.artifact];  // as before the split: every desired artifact has a (maybe empty) row
  }
  const auto input =
      placement::rebalance_input(facts_, std::move(eligible), [this](const auto& base, const auto& artifact) {
        return moves_.count(artifact) > 0 || rolling_in_progress(base);
      });
  for (const auto& move : rebalancer::plan_moves(input)) {
    // Make-before-break: the source is unloaded only once the target is
    // ACTIVE, and then only if ACTIVE stays at min_available (on_slice_put).
    log(LogLevel::Info, "moving " + move.artifact + " from " + move.source + " to " + move.target);
    count("moves");
    moves_[move.artifact] = MoveInFlight{move.source, move.target};
    table_.entries[move.artifact][move.source].leaving = true;
    commands_.load(move.artifact, move.target);
  }
}

// ---------------------------------------------------------------------------
// Commands and the serialized writer

// ---------------------------------------------------------------------------
// The manager

ClusterDeploymentManager::ClusterDeploymentManager(const NodeServices& services, const EngineConfig& config,
                                                   std::shared_ptr<BlueprintParses> parses)
    : services_(services),
      config_(config),
      parses_(parses ? std::move(parses) : std::make_shared<BlueprintParses>()) {}

ClusterDeploymentManager::~ClusterDeploymentManager() = default;

std::optional<std::uint64_t> ClusterDeploymentManager::activation_tag() const {
  return active_ ? active_->tag() : std::nullopt;
}

std::uint64_t ClusterDeploymentManager::reconciles_skipped() const {
  return active_ ? active_->reconciles_skipped() : 0;
}

void ClusterDeploymentManager::on_restored(std::uint64_t) {
  if (active_) active_->on_restored();
  for (const auto& retired : retired_) retired->on_restored();
}

void ClusterDeploymentManager::on_leader_change(const LeaderChange& change) {
  if (!change.local_node_is_leader) {
    deactivate();
    return;
  }
  if (active_) return;
  services_.logger.log(LogLevel::Info, kComponent, "activating as leader");
  active_ = std::make_shared<Active>(services_, config_, change.position, positions_, *parses_);
  services_.kv.interest_changed();  // every key from now on
  services_.events.cdm_activated(change.position);
  active_->start();
}

void ClusterDeploymentManager::deactivate() {
  if (!active_) return;
  services_.logger.log(LogLevel::Info, kComponent, "deactivating");
  if (config_.mutation(mutation::kTimersSurviveDeactivation)) retired_.push_back(active_);
  active_.reset();  // its timers are cancelled; its callbacks find it gone
  services_.kv.interest_changed();
  services_.events.cdm_deactivated();
}

KvInterest ClusterDeploymentManager::interest() const {
  // Dormant, it follows the positions of blueprints and slice-targets (for
  // its activation); Active (or with a retired term still reconciling), every key.
  if (active_ || !retired_.empty()) return KvInterest{true, {}, {}};
  return KvInterest{false, {std::string(kBlueprintPrefix), std::string(kSliceTargetPrefix)}, {}};
}

void ClusterDeploymentManager::on_kv(const KvNotification& notification) {
  if (notification.key.starts_with(kBlueprintPrefix) || notification.key.starts_with(kSliceTargetPrefix)) {
    if (notification.op == KvOp::Put) {
      positions_[notification.key] =
          notification.revision != 0 ? notification.revision : notification.position;
    } else {
      positions_.erase(notification.key);
    }
  }
  if (auto active = active_) {
    active->notify(notification);
  }
  // Mutation cdm-timers-survive-deactivation: a retired term still reconciles
  // from its timers, over a slice-key index that must follow the KV.
  for (const auto& retired : retired_) retired->track(notification);
}

void ClusterDeploymentManager::on_topology(const TopologyEvent& event) {
  if (auto active = active_) active->on_topology(event);
}

}  // namespace aether::engine
