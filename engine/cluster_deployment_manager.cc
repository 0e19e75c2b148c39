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
#include "engine/cdm_writer.h"
#include "engine/desired_state.h"
#include "engine/drain.h"
#include "engine/kv_schema.h"
#include "engine/lifecycle.h"
#include "engine/mutations.h"
#include "engine/ownership.h"
#include "engine/placement.h"
#include "engine/rebalancer.h"
#include "engine/resources.h"
#include "engine/rollback.h"
#include "engine/rolling_update.h"
#include "engine/slice_table.h"
#include "engine/timers.h"

namespace aether::engine {

namespace {

constexpr const char* kComponent = "cdm";
constexpr Nanos kReconcileDebounce = seconds(1);
constexpr Nanos kReconcileAfterFailure = seconds(5);

// The state that answers a command (engine-semantics.md §4, Re-send). nullopt
// `observed`: the key is absent.
bool answers(SliceState command, std::optional<SliceState> observed) {
  if (!observed) return command == SliceState::Unload;
  switch (command) {
    case SliceState::Load:
      return *observed == SliceState::Loading || *observed == SliceState::Loaded ||
             *observed == SliceState::Failed;
    case SliceState::Activate:
      return *observed == SliceState::Activating || *observed == SliceState::Active ||
             *observed == SliceState::Failed;
    case SliceState::Deactivate:
      return *observed == SliceState::Deactivating || *observed == SliceState::Loaded ||
             *observed == SliceState::Failed;
    case SliceState::Unload:
      return *observed == SliceState::Unloading;
    default:
      return true;
  }
}

std::optional<SliceState> observed_state(const std::optional<SliceValue>& observed) {
  if (!observed) return std::nullopt;
  return observed->state;
}

}  // namespace

class ClusterDeploymentManager::Active
    : public std::enable_shared_from_this<ClusterDeploymentManager::Active> {
 public:
  Active(const NodeServices& services, const EngineConfig& config, std::optional<std::uint64_t> tag,
         const std::map<std::string, std::uint64_t>& positions)
      : services_(services),
        config_(config),
        tag_(tag),
        timers_(services.clock),
        allocation_(placement::make_strategy(config.allocation)),
        writer_(services_, config_, timers_,
                CdmWriter::Hooks{
                    [this](const SliceCommand& c) { return resend_still_wanted(c); },
                    [this](const std::vector<SliceCommand>& c) { revert_intents(c); },
                    [this](Nanos delay_ns) { schedule_reconcile(delay_ns); },
                    [this](const SliceCommand& c) { arm_resend(c.artifact, c.node, c.state); },
                    [this] { sync_targets(); },
                    [this](const TargetPut& put) { return rederive_target(put); },
                    [this](const SliceCommand& c) { return activate_still_ready(c); },
                    [this](const SliceCommand& c) { return drain_allows(c); },
                    [this](const NodeId& node) { return decommission_allowed(node); },
                    [this](const SliceCommand& c) { return load_still_allowed(c); },
                    [this](KeyWrite& w) { return recheck_write(w); },
                    [this](const SliceCommand& c) { return unload_keeps_rolling_floor(c); },
                    [this](const SliceCommand& c) { return unload_still_wanted(c); },
                    [this](const TargetRemove& r) { return !state_.ownership.owner(r.base); },
                }),
        positions_(positions) {}

  std::optional<std::uint64_t> tag() const { return tag_; }
  void start();
  // Keeps the slice-key index in step with the local KV (every notification,
  // whatever its origin; called before on_kv, and for a retired term too).
  void track(const KvNotification& n);
  void on_kv(const KvNotification& n);
  void on_topology(const TopologyEvent& event);

 private:
  using Entry = SliceEntry;
  struct Move {
    NodeId source;
    NodeId target;
  };

  // Events.
  void on_blueprint_put(const std::string& id, const std::string& value);
  void on_blueprint_remove(const std::string& id);
  void on_target_put(const std::string& base, const std::string& value);
  void on_target_remove(const std::string& base);
  void on_slice_put(const std::string& key, const SliceKey& slice, const std::string& value);
  void on_slice_remove(const SliceKey& slice);
  // `lifecycle`: also remove node-lifecycle/{node} (NodeRemoved/NodeDown and
  // the activation re-check only, never on reconcile: its NDM re-registers).
  void on_node_gone(const NodeId& node, bool lifecycle = true);
  // Reports `id` if it is not fully ACTIVE within blueprint_processing_timeout.
  void arm_processing_timeout(const std::string& id);
  bool fully_active(const std::string& id) const;

  // Desired state (desired_state.h) and what the CDM does about it.
  // Acceptance judged in order of the blueprint values' decided positions (§4).
  void recompute_ownership() {
    std::map<std::string, std::uint64_t> blueprint_positions;
    for (const auto& [id, blueprint] : state_.blueprints) {
      if (config_.mutation(mutation::kOwnershipByIdOrder)) break;
      if (auto at = positions_.find(blueprint_key(id)); at != positions_.end())
        blueprint_positions[id] = at->second;
    }
    state_.recompute_ownership(blueprint_positions);
  }
  void set_desired(const std::string& base, const SliceTarget& target) { state_.set_desired(base, target); }
  void forget_desired(const std::string& base);
  std::optional<Wanted> wanted(const std::string& base) const { return state_.wanted(base); }
  void write_target_from_blueprint(const std::string& base);
  void sync_targets();
  // A queued slice-target Put re-derived at submit from the state applied
  // then (CdmWriter hook); nullopt: nothing to write (no owner, a rejected
  // owner, or a failed mark cleared since). What it returns is written, and
  // recorded as this term's own write (own_targets_).
  std::optional<SliceTarget> rederive_target(const TargetPut& queued);
  std::optional<SliceTarget> rederived(const std::string& base, const SliceTarget& queued) const;
  // An ACTIVATE re-checked at submit (CdmWriter hook): its dependencies are
  // still ready in the state applied now and the current view.
  bool activate_still_ready(const SliceCommand& command) const;
  // A LOAD re-checked at submit (CdmWriter hook): anti-affinity and capacity
  // still allow it on its node in the state applied now.
  bool load_still_allowed(const SliceCommand& command) const;
  // A scale-down or removal UNLOAD re-checked at submit (CdmWriter hook).
  bool unload_still_wanted(const SliceCommand& command) const;
  void mark_failed(const std::string& artifact);

  // All-or-nothing puts (rollback.h, engine-semantics.md §8.3).
  // The record an accepted put writes (same batch as its slice-targets), or
  // the end of the in-flight put of `id` when this put is not one.
  void note_put_for_rollback(const std::string& id, const std::string& value,
                             const std::optional<std::string>& before, bool before_accepted);
  void end_in_flight(const std::string& id);
  // Activation: continue the puts whose records are in the KV.
  void adopt_rollback_records();
  // Completed: remove the record; a permanently failed slice: roll back.
  void check_in_flight();
  void roll_back(const std::string& id);
  bool recheck_write(KeyWrite& write);
  // One more consecutive transient failure of `artifact`: back off, or treat
  // it as fatal after transient_retry_max.
  void record_transient_failure(const std::string& artifact);
  const Desired* desired_for(const std::string& artifact) const { return state_.desired_for(artifact); }

  // Rolling updates (engine-semantics.md §8.4; planning in rolling_update.h).
  // Whether `base` rolls (its desired slice's update policy) and still has
  // live entries of another version than the desired one.
  bool rolls(const std::string& base) const;
  bool rolling_in_progress(const std::string& base) const;
  // One step of a rolling update: load new instances within max_surge,
  // UNLOAD old ones while ACTIVE over both versions keeps its floor.
  void roll(const std::string& base, const Desired& desired);
  // Settled ACTIVE entries over every version of `base` on nodes in the view.
  int active_over_versions(const std::string& base) const;
  // The fewest ACTIVE entries over both versions an UNLOAD may leave: desired
  // - max_unavailable, taking the larger count and the smaller
  // max_unavailable of the committed slice-target and an owner blueprint put
  // since (its target not yet back), so that neither reading is undercut.
  int rolling_floor(const Desired& desired, const std::string& base) const;
  // Writes version-routing/{base} when a rolling slice-target changes version,
  // rewrites it when it names another target, removes it when no entry of
  // another version remains or the base has no owner.
  void note_version_change(const std::string& base, const SliceTarget& target);
  void sync_routing(const std::string& base);
  // The applied version-routing/{base}, if any and parseable.
  std::optional<VersionRouting> applied_routing(const std::string& base) const {
    const auto value = services_.kv.get(version_routing_key(base));
    return value ? parse_version_routing(*value) : std::nullopt;
  }
  // CdmWriter hook: an UNLOAD of an ACTIVE entry of a rolling base while
  // version-routing/{base} is applied keeps ACTIVE at desired - max_unavailable.
  bool unload_keeps_rolling_floor(const SliceCommand& command) const;

  // Reconcile.
  void reconcile();
  void arm_periodic();
  void schedule_reconcile(Nanos delay_ns);
  void fix_count(const std::string& base);
  void place(const std::string& artifact, int count);
  // Placement inputs for `desired` over `candidates` (sorted): attributes the
  // host reports, resources used by live entries, anti-affinity (§8.1).
  placement::AddRequest placement_request(const Desired& desired, std::vector<NodeId> candidates) const;
  // The placement fields (resources, anti_affinity, spread_zone) of an
  // artifact's base, as wanted() has them; only those fields are filled.
  Wanted placement_of(const std::string& artifact) const;
  // A table row with a live entry, as placement reads it: its base, its
  // placement fields (read once, not once per entry or per request) and its
  // live nodes in table order. Pointers into table_, valid while no entry is
  // erased.
  struct LiveRow {
    const std::string* artifact = nullptr;
    std::string base;
    Wanted want;
    std::vector<const NodeId*> live;
  };
  // Every row with a live entry; `only`: the live entries on that node only.
  std::vector<LiveRow> live_rows(const NodeId* only = nullptr) const;
  // Either side's anti_affinity names the other's base (`base`: mine).
  static bool anti_affine(const Wanted& mine, const std::string& base, const LiveRow& other);
  // Nodes with a live entry anti-affine to `artifact` (§8.1; none under the
  // mutation that ignores anti-affinity).
  std::set<NodeId> forbidden_for(const std::string& artifact, const Wanted& mine,
                                 const std::vector<LiveRow>& rows) const;
  // Adds the resources of the live entries of `rows` to the nodes listed in `nodes`.
  static void add_used(std::map<NodeId, placement::NodeInfo>& nodes, const std::vector<LiveRow>& rows);
  void scale_down(const std::string& artifact, const Desired& desired, int live);
  void rebalance();
  void prune_moves();
  void adopt_unknown_keys();
  void inherit_commands();
  void arm_stuck_check(const std::string& artifact, const NodeId& node);
  void remove_absent_nodes(bool lifecycle);
  void end_move(const std::string& artifact);
  void check_stuck_and_orphans();
  void activate_ready(const std::string& artifact);
  bool dependencies_ready(const Desired& desired) const;
  bool dependencies_ready(const std::vector<std::string>& depends_on) const;
  std::vector<NodeId> eligible_nodes() const;
  bool eligible(const NodeId& node) const;
  bool on_duty(const NodeId& node) const;  // committed node-lifecycle is ON_DUTY
  // Live entries that count for scale decisions: live, not a leaving move
  // source, on a node in the leader's view that is neither DRAINING nor
  // DECOMMISSIONED (§4, §8.2).
  int live_count(const std::string& artifact) const;
  bool counts_for_scale(const NodeId& node, const std::vector<NodeId>& view) const;

  // Drain (engine-semantics.md §8.2; the pure rule in drain.h).
  std::optional<NodeLifecycle> lifecycle_of(const NodeId& node) const;
  bool drained(const NodeId& node) const;  // DRAINING or DECOMMISSIONED
  bool any_drained() const;
  void drain_nodes();
  drain::Entry drain_entry(const std::string& artifact, const NodeId& node) const;
  bool drain_allows(const SliceCommand& command) const;
  bool decommission_allowed(const NodeId& node) const;
  // ACTIVE entries on nodes in the view that are neither DRAINING nor
  // DECOMMISSIONED: what a move's break step must keep at min_available.
  int active_counted(const std::string& artifact) const {
    auto nodes = table_.entries.find(artifact);
    if (nodes == table_.entries.end()) return 0;
    const auto view = services_.topology.view();
    int active = 0;
    for (const auto& [node, entry] : nodes->second) {
      if (entry.settled_in(SliceState::Active) && !drained(node) &&
          std::binary_search(view.begin(), view.end(), node))
        ++active;
    }
    return active;
  }
  // ACTIVE entries (no own command pending) on nodes in the leader's view.
  int active_in_view(const std::string& artifact) const {
    return table_.active_in(artifact, services_.topology.view());
  }

  // Commands (recorded in memory at once, written through the serialized queue).
  std::optional<SliceState> effective(const Entry& entry) const { return entry.effective(); }
  void cmd_load(const std::string& artifact, const NodeId& node);
  void cmd_unload(const std::string& artifact, const NodeId& node, UnloadWhy why = UnloadWhy::Other);
  void cmd_activate(const std::string& artifact, const NodeId& node);
  void cmd_remove_slice(const std::string& artifact, const NodeId& node);
  void cmd_remove(const std::string& key);
  void cmd_put_target(const std::string& base, const SliceTarget& target);
  void cmd_remove_target(const std::string& base);
  // UNLOAD the live entries of `base` except those of `keep_artifact` (a
  // version change; without one, a removal); either is re-checked at submit
  // as a removal (UnloadWhy::Removal).
  void unload_live(const std::string& base, const std::optional<std::string>& keep_artifact);
  void flush(std::function<void(bool)> after = nullptr) { writer_.flush(std::move(after)); }
  void revert_intents(const std::vector<SliceCommand>& commands);
  bool resend_still_wanted(const SliceCommand& command) const;
  void arm_resend(const std::string& artifact, const NodeId& node, SliceState command);
  void count(const char* counter, std::int64_t delta = 1) { services_.events.count(counter, delta); }
  void log(LogLevel level, std::string message) {
    services_.logger.log(level, kComponent, std::move(message));
  }

  NodeServices services_;
  const EngineConfig& config_;
  std::optional<std::uint64_t> tag_;
  TimerSet timers_;
  // The local KV's slices/* keys that parse, in key order (the order of a
  // scan), with the parsed value (nullopt: unparseable), and how many such
  // keys each node has: what adopt_unknown_keys and remove_absent_nodes read
  // instead of scanning and parsing every slice key on each reconcile (issue
  // 14, third pass). Built from the activation scan, then kept by track().
  struct IndexedSliceKey {
    SliceKey slice;
    std::optional<SliceValue> value;
  };
  std::map<std::string, IndexedSliceKey, std::less<>> slice_keys_;
  std::map<NodeId, std::size_t> slice_key_nodes_;
  void index_slice_key(const std::string& key, const SliceKey& slice, std::optional<SliceValue> value);
  std::unique_ptr<placement::AllocationStrategy> allocation_;

  DesiredState state_;
  SliceTable table_;
  std::map<NodeId, std::string> lifecycle_;
  std::size_t cursor_ = 0;
  std::map<std::string, Move> moves_;
  std::map<std::string, TimerId> processing_timers_;
  std::set<std::pair<NodeId, std::string>> drain_blocked_;  // (node, artifact) waiting for a replacement
  std::map<NodeId, Nanos> decommission_sent_;
  std::map<std::string, std::string> blueprint_texts_;  // applied blueprints/{id} values
  std::map<std::string, RollbackRecord> in_flight_;     // by blueprint id
  // Rollback rewrites of blueprints/{id} decided and not yet echoed: the value
  // being rolled back (re-checked at submit) and the value written back (its
  // echo is not a new all-or-nothing put: a rollback is never rolled back).
  std::map<std::string, std::string> rollback_of_;
  std::map<std::string, std::optional<std::string>> rollback_echo_;

  CdmWriter writer_;
  // Decided position of each applied blueprints/* and slice-target/* value,
  // kept by the manager even while Dormant (the KV's mod revision).
  const std::map<std::string, std::uint64_t>& positions_;
  // Whether the applied slice-target of `base` is at least as recent as its
  // owner's blueprint value: then its counts (a client's scale) are desired.
  bool target_is_newer(const std::string& base, const std::string& owner) const;
  // The latest decided position this node applied, and the slice-targets this
  // term wrote with the position they were derived at: the echo of its own
  // write stands for the blueprint value it was derived from, not for a
  // client's later intent (docs/decisions.md, issue 9).
  std::uint64_t latest_applied_ = 0;
  std::map<std::string, std::pair<std::string, std::uint64_t>> own_targets_;  // base -> (value, derived at)
  std::map<std::string, std::uint64_t> target_intent_;                        // base -> intent position

  TimerId reconcile_timer_ = 0;
  bool rechecked_ = false;  // the activation re-check has run
  Nanos reconcile_due_ = 0;
};

// ---------------------------------------------------------------------------
// Activation and events

void ClusterDeploymentManager::Active::start() {
  count("leader-activations");
  for (const auto& [key, value] : services_.kv.scan(std::string(kNodeLifecyclePrefix))) {
    lifecycle_[*key_suffix(key, kNodeLifecyclePrefix)] = value;
  }
  for (const auto& [key, value] : services_.kv.scan(std::string(kBlueprintPrefix))) {
    const auto id = *key_suffix(key, kBlueprintPrefix);
    blueprint_texts_[id] = value;
    std::string why;
    if (!state_.put_blueprint(id, value, &why)) {
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
    if (!parse_version_routing(value)) {
      count("malformed-values");
      cmd_remove(key);
    }
  }
  recompute_ownership();
  for (const auto& [base, owner] : state_.ownership.owner_of) {
    // A matching slice-target's counts win unless the owner blueprint's value
    // was decided after it (positions_, the KV's mod revisions).
    std::optional<std::uint64_t> blueprint_at;
    std::optional<std::uint64_t> target_at;
    if (!target_is_newer(base, owner)) {
      blueprint_at = positions_.at(blueprint_key(owner));
      target_at = positions_.at(slice_target_key(base));
    }
    const auto rebuilt = state_.rebuilt_target(base, blueprint_at, target_at);
    if (!rebuilt) continue;
    set_desired(base, rebuilt->target);
    if (rebuilt->rewrite) cmd_put_target(base, rebuilt->target);  // an echo, not a new allocation trigger
  }
  for (const auto& [base, target] : state_.targets) {
    if (!state_.ownership.owner(base)) cmd_remove_target(base);
  }
  const Nanos now = timers_.now();
  for (const auto& [key, value] : services_.kv.scan(std::string(kSlicePrefix))) {
    auto slice = parse_slice_key(key);
    auto parsed = parse_slice_value(value);
    if (slice) index_slice_key(key, *slice, parsed);
    if (!slice || !parsed) {
      count("malformed-values");
      cmd_remove(key);
      continue;
    }
    Entry& entry = table_.entries[slice->artifact][slice->node];
    entry.observed = *parsed;
    entry.since_ns = now;
    arm_stuck_check(slice->artifact, slice->node);
  }
  inherit_commands();
  adopt_rollback_records();
  // Processing timeouts die with their leader: a blueprint still being
  // processed gets a full timeout from this activation (timestamps are
  // leader-local, §4).
  for (const auto& [id, blueprint] : state_.blueprints) {
    if (blueprint && !fully_active(id)) arm_processing_timeout(id);
  }
  reconcile();
  arm_periodic();
  timers_.after(config_.activation_recheck_delay_ns, [this] {
    rechecked_ = true;
    remove_absent_nodes(true);
    reconcile();
  });
}

void ClusterDeploymentManager::Active::index_slice_key(const std::string& key, const SliceKey& slice,
                                                       std::optional<SliceValue> value) {
  auto [it, inserted] = slice_keys_.try_emplace(key, IndexedSliceKey{slice, std::nullopt});
  if (inserted) ++slice_key_nodes_[slice.node];
  it->second.value = std::move(value);
}

void ClusterDeploymentManager::Active::track(const KvNotification& n) {
  if (!n.key.starts_with(kSlicePrefix)) return;
  if (n.op == KvOp::Put) {
    if (auto slice = parse_slice_key(n.key)) index_slice_key(n.key, *slice, parse_slice_value(n.value));
    return;
  }
  auto it = slice_keys_.find(n.key);
  if (it == slice_keys_.end()) return;
  auto node = slice_key_nodes_.find(it->second.slice.node);
  if (--node->second == 0) slice_key_nodes_.erase(node);
  slice_keys_.erase(it);
}

void ClusterDeploymentManager::Active::on_kv(const KvNotification& n) {
  if (n.origin != KvOrigin::Apply) return;
  latest_applied_ = std::max(latest_applied_, n.position);
  if (auto id = key_suffix(n.key, kBlueprintPrefix)) {
    n.op == KvOp::Put ? on_blueprint_put(*id, n.value) : on_blueprint_remove(*id);
  } else if (auto base = key_suffix(n.key, kSliceTargetPrefix)) {
    n.op == KvOp::Put ? on_target_put(*base, n.value) : on_target_remove(*base);
  } else if (key_suffix(n.key, kSlicePrefix)) {
    auto slice = parse_slice_key(n.key);
    if (!slice) {
      if (n.op == KvOp::Put) {
        count("malformed-values");
        cmd_remove(n.key);
      }
    } else if (n.op == KvOp::Put) {
      on_slice_put(n.key, *slice, n.value);
    } else {
      on_slice_remove(*slice);
    }
  } else if (key_suffix(n.key, kVersionRoutingPrefix)) {
    if (n.op == KvOp::Put && !parse_version_routing(n.value)) {
      count("malformed-values");
      cmd_remove(n.key);
    }
    schedule_reconcile(kReconcileDebounce);
  } else if (auto node = key_suffix(n.key, kNodeLifecyclePrefix)) {
    if (n.op == KvOp::Put) {
      lifecycle_[*node] = n.value;
    } else {
      lifecycle_.erase(*node);
    }
    decommission_sent_.erase(*node);
    // Any node-lifecycle put or remove (§4): ON_DUTY, a drain, an undrain.
    schedule_reconcile(kReconcileDebounce);
  }
  flush();
}

void ClusterDeploymentManager::Active::on_topology(const TopologyEvent& event) {
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
  std::vector<std::string> ended;
  for (const auto& [artifact, move] : moves_) {
    if (move.source == node || move.target == node) ended.push_back(artifact);
  }
  for (const auto& artifact : ended) end_move(artifact);
  for (const auto& [key, value] : services_.kv.scan(slice_node_prefix(node))) cmd_remove(key);
  auto state = lifecycle_.find(node);
  const bool kept =
      state != lifecycle_.end() && (parse_node_lifecycle(state->second) == NodeLifecycle::Draining ||
                                    parse_node_lifecycle(state->second) == NodeLifecycle::Decommissioned);
  if (lifecycle && !kept) {
    cmd_remove(node_lifecycle_key(node));
    lifecycle_.erase(node);
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
  std::optional<std::string> before_text;
  if (auto text = blueprint_texts_.find(id); text != blueprint_texts_.end()) before_text = text->second;
  auto before_value = state_.blueprints.find(id);
  const bool before_accepted =
      before_value != state_.blueprints.end() && before_value->second && before.rejected.count(id) == 0;
  blueprint_texts_[id] = value;
  std::string why;
  const bool valid = state_.put_blueprint(id, value, &why);
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
      cmd_put_target(base, target);
      if (config_.mutation(mutation::kAllocateAtBlueprintPut)) {
        set_desired(base, target);
        place(slice.artifact.to_string(), slice.instances);
      }
    }
    arm_processing_timeout(id);
  }
  note_put_for_rollback(id, value, before_text, before_accepted);
  // Bases it owned before and no longer owns: a base the ownership rule
  // gives another owner (a rejected value accepted now, say) keeps its
  // instances; sync_targets rewrites its slice-target for that owner, whose
  // commit unloads only other versions (§4, "Blueprint remove").
  for (const auto& [base, owner] : before.owner_of) {
    if (owner != id || state_.ownership.owner(base)) continue;
    forget_desired(base);
    cmd_remove_target(base);
  }
  sync_targets();
}

void ClusterDeploymentManager::Active::on_blueprint_remove(const std::string& id) {
  const Ownership before = state_.ownership;
  state_.blueprints.erase(id);
  blueprint_texts_.erase(id);
  rollback_echo_.erase(id);
  end_in_flight(id);
  recompute_ownership();
  for (const auto& [base, owner] : before.owner_of) {
    if (owner != id || state_.ownership.owner(base)) continue;  // another owner: as on_blueprint_put
    forget_desired(base);
    cmd_remove_target(base);
  }
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
  state_.targets[base] = *target;
  if (auto own = own_targets_.find(base); own != own_targets_.end() && own->second.first == value &&
                                          !config_.mutation(mutation::kEchoCountsAsIntent)) {
    target_intent_[base] = own->second.second;  // its own echo: as old as what it was derived from
    own_targets_.erase(own);
  } else {
    target_intent_.erase(base);
  }
  recompute_ownership();
  auto owner = state_.ownership.owner(base);
  if (!owner) {
    forget_desired(base);
    cmd_remove_target(base);
    return;
  }
  const auto want = wanted(base);
  if (!want) return;
  if (*owner != target->owner || want->version != target->version) {
    write_target_from_blueprint(base);
    return;
  }
  if (state_.ownership.rejected.count(*owner) == 0 && !target_is_newer(base, *owner) &&
      (target->instances != want->instances || target->min_instances != want->min_available)) {
    // Its own echo derived from a blueprint value replaced since: the
    // blueprint is the later intent.
    write_target_from_blueprint(base);
    return;
  }
  // Only a put of the owner blueprint clears failure accounting (§4): a
  // client `scale` or the CDM's own echo keeps the transient counter and the
  // failed flag (set_desired; sync_targets writes the flag back).
  set_desired(base, *target);
  if (!rolls(base)) unload_live(base, want->artifact);  // a rolling slice follows §8.4 (fix_count)
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
                                                    const std::string& value) {
  const std::string& artifact = slice.artifact;
  Entry& entry = table_.entries[artifact][slice.node];
  const bool was_live = entry.counts_for_scale();
  auto parsed = parse_slice_value(value);
  const Desired* desired = desired_for(artifact);
  if (!parsed) {
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
    cmd_remove(key);
    schedule_reconcile(kReconcileDebounce);
    return;
  }
  entry.malformed_remove_at.reset();
  const bool state_changed = !entry.observed || entry.observed->state != parsed->state;
  if (state_changed) entry.since_ns = timers_.now();
  // A same-value FAILED rewrite (a duplicate commit) is not a new failure.
  const bool repeated_failure = parsed->state == SliceState::Failed && entry.observed == *parsed;
  entry.observed = *parsed;
  if (state_changed) arm_stuck_check(artifact, slice.node);
  if (entry.intent && answers(*entry.intent, parsed->state)) {
    entry.intent.reset();
    timers_.cancel(entry.resend);
    entry.resend = 0;
  }
  switch (parsed->state) {
    case SliceState::Loaded:
      activate_ready(artifact);
      break;
    case SliceState::Active: {
      if (!config_.mutation(mutation::kTransientCountSurvivesActive))
        state_.transient_failures.erase(artifact);
      if (any_drained()) schedule_reconcile(kReconcileDebounce);  // a replacement may free an eviction
      if (!in_flight_.empty()) check_in_flight();                 // an all-or-nothing put may be complete
      if (rolling_in_progress(base_of(artifact))) fix_count(base_of(artifact));
      bool dependants = false;
      for (const auto& [base, other] : state_.desired) {
        if (std::find(other.depends_on.begin(), other.depends_on.end(), artifact) != other.depends_on.end()) {
          activate_ready(other.artifact);
          dependants = true;
        }
      }
      // A dependant the rebalancer left alone while it was starved may be
      // moved now: under aggressive reconciliation this is a trigger of its
      // own (simulation.md §5), not left to the periodic reconcile.
      if (dependants && config_.reconciliation == ReconciliationStrategy::Aggressive &&
          config_.auto_rebalancing)
        schedule_reconcile(kReconcileDebounce);
      auto move = moves_.find(artifact);
      if (move != moves_.end() && move->second.target == slice.node) {
        const NodeId source = move->second.source;
        moves_.erase(move);
        auto src = table_.entries[artifact].find(source);
        if (src != table_.entries[artifact].end()) {
          src->second.leaving = false;  // counts again if its UNLOAD does not land
          // The break step never takes ACTIVE instances below min_available
          // (a node lost during the move): the source then stays. ACTIVE
          // entries on DRAINING or DECOMMISSIONED nodes do not count (their
          // drain takes them next, §8.2); a drained source is an eviction.
          const bool source_counts = src->second.settled_in(SliceState::Active) && !drained(source);
          const int floor = desired && desired->artifact == artifact ? desired->min_instances : 0;
          if (source_counts && active_counted(artifact) - 1 < floor) {
            log(LogLevel::Info, "move of " + artifact + " ends without unloading " + source +
                                    ": ACTIVE would fall below min_available");
            count("moves-kept-source");
            // One entry over the count now: the scale-down (or a later move)
            // is this trigger's to start, not the periodic reconcile's.
            schedule_reconcile(kReconcileDebounce);
          } else if (src->second.live()) {
            // On a node drained since the move began, the break step is an
            // eviction (engine-semantics.md §8.2): one at a time per node.
            // Otherwise it is a scale-down by one: the floor is re-checked at submit.
            cmd_unload(
                artifact, source,
                lifecycle_of(source) == NodeLifecycle::Draining ? UnloadWhy::Eviction : UnloadWhy::ScaleDown);
          }
        }
      }
      break;
    }
    case SliceState::Failed: {
      if (entry.intent != SliceState::Unload) cmd_unload(artifact, slice.node, UnloadWhy::Cleanup);
      if (!desired || desired->artifact != artifact || repeated_failure) break;
      if (parsed->fatal) {
        log(LogLevel::Warn, artifact + " failed fatally on " + slice.node + ": " +
                                parsed->failure_reason.value_or("(no reason)"));
        mark_failed(artifact);
      } else if (parsed->failure_reason != std::string(kLostReason)) {
        record_transient_failure(artifact);
      }
      break;
    }
    default:
      break;
  }
  const bool now_live = entry.counts_for_scale();
  if (was_live != now_live) schedule_reconcile(kReconcileDebounce);
  // A key of a node outside the view (a late commit, a client's write) is
  // the reconcile's to remove (remove_absent_nodes): its arrival is a trigger
  // of its own, not left to the periodic reconcile.
  if (rechecked_) {
    const auto view = services_.topology.view();
    if (!std::binary_search(view.begin(), view.end(), slice.node)) schedule_reconcile(kReconcileDebounce);
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
    if (!fully_active(id)) {
      log(LogLevel::Warn, "blueprint " + id + " not fully ACTIVE within the processing timeout");
      count("blueprints-over-processing-timeout");
    }
  });
}

bool ClusterDeploymentManager::Active::fully_active(const std::string& id) const {
  auto it = state_.blueprints.find(id);
  if (it == state_.blueprints.end() || !it->second || state_.ownership.rejected.count(id)) return true;
  const int eligible_count = static_cast<int>(eligible_nodes().size());
  for (const auto& slice : it->second->slices) {
    const auto* desired = desired_for(slice.artifact.to_string());
    if (!desired || desired->owner != id) continue;
    int active = 0;
    if (auto nodes = table_.entries.find(slice.artifact.to_string()); nodes != table_.entries.end()) {
      for (const auto& [node, entry] : nodes->second) {
        if (entry.observed && entry.observed->state == SliceState::Active) ++active;
      }
    }
    if (active < std::min(desired->count, eligible_count)) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------
// Desired state

void ClusterDeploymentManager::Active::forget_desired(const std::string& base) {
  state_.desired.erase(base);
  unload_live(base, std::nullopt);
  sync_routing(base);  // a removal mid-update unloads every version and removes the routing key
}

void ClusterDeploymentManager::Active::write_target_from_blueprint(const std::string& base) {
  const auto want = wanted(base);
  if (!want) return;
  cmd_put_target(base, SliceTarget{want->version, want->instances, want->min_available, want->owner, false});
}

void ClusterDeploymentManager::Active::sync_targets() {
  for (const auto& [base, owner] : state_.ownership.owner_of) {
    if (writer_.target_pending(base)) continue;
    const auto want = wanted(base);
    if (!want) continue;
    auto target = state_.targets.find(base);
    if (target == state_.targets.end() || target->second.owner != owner ||
        target->second.version != want->version) {
      write_target_from_blueprint(base);
      continue;
    }
    // Owned with a matching slice-target, yet no desired state: a removal
    // forgot it and its Remove was dropped at submit (the blueprint came
    // back) while the put-back's own write did not commit. Written again
    // (re-derived at submit), its commit restores the desired state.
    if (!state_.desired.count(base)) {
      if (state_.ownership.rejected.count(owner) == 0) {
        write_target_from_blueprint(base);
        continue;
      }
      // A rejected owner keeps what its slice-target records (§4): nothing
      // to write; the desired state comes from that slice-target as its
      // commit would have set it.
      set_desired(base, target->second);
      fix_count(base);
      continue;
    }
    // The owner blueprint, put after the committed slice-target, is the
    // newer intent (§4): counts that differ mean the CDM's own rewrite was
    // lost or timed out (its echo would have brought them). Written again.
    if (state_.ownership.rejected.count(owner) == 0 && !target_is_newer(base, owner) &&
        (target->second.instances != want->instances ||
         target->second.min_instances != want->min_available)) {
      write_target_from_blueprint(base);
      continue;
    }
    // A committed flag that disagrees with the CDM's (a client write).
    auto known = state_.desired.find(base);
    if (known != state_.desired.end() && known->second.artifact == want->artifact &&
        known->second.failed != target->second.failed) {
      SliceTarget fixed = target->second;
      fixed.failed = known->second.failed;
      cmd_put_target(base, fixed);
    }
  }
  for (const auto& [base, target] : state_.targets) {
    if (!writer_.target_pending(base) && !state_.ownership.owner(base)) cmd_remove_target(base);
  }
}

bool ClusterDeploymentManager::Active::target_is_newer(const std::string& base,
                                                       const std::string& owner) const {
  if (config_.mutation(mutation::kTargetWinsAtActivation)) return true;
  auto blueprint_at = positions_.find(blueprint_key(owner));
  if (auto intent = target_intent_.find(base);
      intent != target_intent_.end() && blueprint_at != positions_.end())
    return intent->second >= blueprint_at->second;
  auto target = positions_.find(slice_target_key(base));
  auto blueprint = positions_.find(blueprint_key(owner));
  if (target == positions_.end() || blueprint == positions_.end()) return true;
  return target->second >= blueprint->second;  // a tie: one batch wrote both
}

std::optional<SliceTarget> ClusterDeploymentManager::Active::rederive_target(const TargetPut& queued) {
  auto fresh = rederived(queued.base, queued.target);
  if (fresh) own_targets_[queued.base] = {encode_slice_target(*fresh), latest_applied_};
  return fresh;
}

std::optional<SliceTarget> ClusterDeploymentManager::Active::rederived(const std::string& base,
                                                                       const SliceTarget& queued) const {
  if (config_.mutation(mutation::kStaleTargetWrites)) return queued;
  auto owner = state_.ownership.owner(base);
  if (!owner || state_.ownership.rejected.count(*owner) != 0) return std::nullopt;
  const auto& blueprint = state_.blueprints.at(*owner);
  if (!blueprint) return std::nullopt;
  const auto* slice = blueprint->find(*parse_artifact_base(base));
  if (slice == nullptr) return std::nullopt;
  const bool failed = queued.failed;
  auto desired = state_.desired.find(base);
  if (failed && (desired == state_.desired.end() || !desired->second.failed)) return std::nullopt;
  SliceTarget fresh{slice->artifact.version, slice->instances, slice->min_available, *owner, failed};
  auto applied = state_.targets.find(base);
  const bool matching = applied != state_.targets.end() && applied->second.owner == *owner &&
                        applied->second.version == fresh.version;
  if (matching) {
    if (target_is_newer(base, *owner)) {
      fresh.instances = applied->second.instances;
      fresh.min_instances = applied->second.min_instances;
    }
    // An unchanged value is still written: its echo is what installs the
    // blueprint's new dependencies (on_target_put).
  }
  return fresh;
}

bool ClusterDeploymentManager::Active::activate_still_ready(const SliceCommand& command) const {
  if (config_.mutation(mutation::kActivateBeforeDependencies)) return true;
  const auto* desired = desired_for(command.artifact);
  if (desired != nullptr && !dependencies_ready(*desired)) return false;
  // The owner blueprint applied now may list other dependencies than the
  // desired state (its slice-target not back yet): they must be ready too
  // (simulation.md §5 dependency-order judges the applied blueprint's).
  const auto want = wanted(base_of(command.artifact));
  return !want || want->artifact != command.artifact || state_.ownership.rejected.count(want->owner) != 0 ||
         dependencies_ready(want->depends_on);
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
  cmd_put_target(base, failed);
  check_in_flight();  // a slice of an all-or-nothing put in flight: roll it back (same batch)
}

// ---------------------------------------------------------------------------
// All-or-nothing blueprints (engine-semantics.md §8.3)

void ClusterDeploymentManager::Active::note_put_for_rollback(const std::string& id, const std::string& value,
                                                             const std::optional<std::string>& before,
                                                             bool before_accepted) {
  auto echo = rollback_echo_.find(id);
  const bool own_rollback = echo != rollback_echo_.end() && echo->second == value;
  if (echo != rollback_echo_.end()) rollback_echo_.erase(echo);
  auto blueprint = state_.blueprints.find(id);
  const bool all_or_nothing = blueprint != state_.blueprints.end() && blueprint->second &&
                              blueprint->second->atomicity == Atomicity::AllOrNothing &&
                              state_.ownership.rejected.count(id) == 0;
  if (!all_or_nothing || own_rollback) {
    // Not an all-or-nothing put (or the echo of this CDM's rollback, which
    // is never itself rolled back): any put in flight for `id` is over.
    end_in_flight(id);
    return;
  }
  in_flight_[id] = record_for_put(value, before, before_accepted);
  // Queued after the put's slice-targets: the same batch (flushed by on_kv).
  writer_.add(KeyWrite{rollback_key(id), encode_rollback_record(in_flight_[id])});
  // A put whose slices are all ACTIVE already (an unchanged republish) gets
  // no ACTIVE event to complete it: the reconcile's in-flight check does.
  schedule_reconcile(kReconcileDebounce);
}

void ClusterDeploymentManager::Active::end_in_flight(const std::string& id) {
  if (in_flight_.erase(id) == 0) return;
  writer_.add(KeyWrite{rollback_key(id), std::nullopt});
}

void ClusterDeploymentManager::Active::adopt_rollback_records() {
  for (const auto& [key, value] : services_.kv.scan(std::string(kRollbackPrefix))) {
    const auto id = *key_suffix(key, kRollbackPrefix);
    if (config_.mutation(mutation::kRollbackForgottenAfterFailover)) continue;
    std::string why;
    auto record = parse_rollback_record(value, &why);
    if (!record) {
      log(LogLevel::Warn, "unparseable " + key + " (" + why + "): removing it");
      count("malformed-values");
      writer_.add(KeyWrite{key, std::nullopt});
      continue;
    }
    auto text = blueprint_texts_.find(id);
    if (text == blueprint_texts_.end() || text->second != record->put) {
      // blueprints/{id} changed while nobody led: the value it holds now is
      // deployed as the activation rebuild says; the record is stale.
      log(LogLevel::Info, key + " names a value blueprints/" + id + " no longer holds: removing it");
      writer_.add(KeyWrite{key, std::nullopt});
      continue;
    }
    log(LogLevel::Info, "blueprint " + id + ": all-or-nothing put in flight; continuing it");
    in_flight_[id] = *record;
  }
}

void ClusterDeploymentManager::Active::check_in_flight() {
  if (in_flight_.empty()) return;
  const int eligible_count = static_cast<int>(eligible_nodes().size());
  std::vector<std::pair<std::string, InFlightVerdict>> verdicts;
  for (const auto& [id, record] : in_flight_) {
    const auto parsed = parse_blueprint_text(record.put);
    const auto* put = std::get_if<Blueprint>(&parsed);
    if (put == nullptr) {
      verdicts.emplace_back(id,
                            InFlightVerdict::Completed);  // cannot happen: only accepted values are recorded
      continue;
    }
    std::vector<InFlightSlice> slices;
    for (const auto& slice : put->slices) {
      const auto artifact = slice.artifact.to_string();
      InFlightSlice status;
      auto desired = state_.desired.find(slice.artifact.base().to_string());
      if (desired != state_.desired.end() && desired->second.owner == id &&
          desired->second.artifact == artifact) {
        status.target_matches = true;
        status.count = desired->second.count;
        status.failed = desired->second.failed;
        status.active = active_in_view(artifact);
      }
      slices.push_back(status);
    }
    verdicts.emplace_back(id, judge_in_flight(slices, eligible_count));
  }
  for (const auto& [id, verdict] : verdicts) {
    if (verdict == InFlightVerdict::RollBack) {
      roll_back(id);
    } else if (verdict == InFlightVerdict::Completed) {
      log(LogLevel::Info, "blueprint " + id + ": all-or-nothing put complete");
      count("all-or-nothing-completed");
      end_in_flight(id);
    }
  }
}

void ClusterDeploymentManager::Active::roll_back(const std::string& id) {
  auto it = in_flight_.find(id);
  if (it == in_flight_.end()) return;
  const RollbackRecord record = it->second;
  in_flight_.erase(it);
  count("rollbacks");
  // The record goes first in the batch: a leader applying it sees the put
  // over before it sees the rewrite.
  writer_.add(KeyWrite{rollback_key(id), std::nullopt});
  std::optional<std::string> applied;
  if (auto text = blueprint_texts_.find(id); text != blueprint_texts_.end()) applied = text->second;
  const auto write = rollback_write(record, applied);
  if (!write.touch_blueprint) {
    log(LogLevel::Warn, "blueprint " + id +
                            ": all-or-nothing put failed; a newer value replaced it, "
                            "rollback/" +
                            id + " removed");
    return;
  }
  log(LogLevel::Warn, "blueprint " + id + ": all-or-nothing put failed; " +
                          (write.blueprint_value ? "rolling back to its previous value"
                                                 : "removing it (no previous accepted value)"));
  rollback_of_[id] = record.put;
  rollback_echo_[id] = write.blueprint_value;
  writer_.add(KeyWrite{blueprint_key(id), write.blueprint_value});
}

bool ClusterDeploymentManager::Active::recheck_write(KeyWrite& write) {
  if (auto id = key_suffix(write.key, kRollbackPrefix)) {
    auto record = in_flight_.find(*id);
    if (!write.value) return record == in_flight_.end();  // a newer put's record supersedes the removal
    if (record == in_flight_.end()) return false;         // over meanwhile
    write.value = encode_rollback_record(record->second);
    return true;
  }
  if (auto id = key_suffix(write.key, kBlueprintPrefix)) {
    // The rollback rewrite: only over the value being rolled back (a client
    // value that committed meanwhile wins).
    auto of = rollback_of_.find(*id);
    if (of == rollback_of_.end()) return false;
    const std::string rolled_back = of->second;
    rollback_of_.erase(of);
    auto applied = blueprint_texts_.find(*id);
    if (applied == blueprint_texts_.end() || applied->second != rolled_back || in_flight_.count(*id) != 0) {
      log(LogLevel::Info,
          "blueprint " + *id + " changed before its rollback was written: the new value wins");
      rollback_echo_.erase(*id);
      return false;
    }
    return true;
  }
  return true;
}

// ---------------------------------------------------------------------------
// Reconcile

void ClusterDeploymentManager::Active::schedule_reconcile(Nanos delay_ns) {
  const Nanos due = timers_.now() + std::max<Nanos>(delay_ns, 0);
  if (reconcile_timer_ != 0 && timers_.pending(reconcile_timer_)) {
    if (reconcile_due_ <= due) return;
    timers_.cancel(reconcile_timer_);
  }
  reconcile_due_ = due;
  reconcile_timer_ = timers_.after(due - timers_.now(), [this] {
    reconcile_timer_ = 0;
    reconcile();
  });
}

void ClusterDeploymentManager::Active::arm_periodic() {
  timers_.after(config_.reconciliation_interval_ns, [this] {
    reconcile();
    arm_periodic();
  });
}

void ClusterDeploymentManager::Active::remove_absent_nodes(bool lifecycle) {
  if (config_.mutation(mutation::kDepartedNodeKeysKept)) return;
  const auto view = services_.topology.view();
  std::set<NodeId> absent;
  for (const auto& [node, keys] : slice_key_nodes_) {
    if (!std::binary_search(view.begin(), view.end(), node)) absent.insert(node);
  }
  if (lifecycle) {
    for (const auto& [node, state] : lifecycle_) {
      if (!std::binary_search(view.begin(), view.end(), node)) absent.insert(node);
    }
  }
  for (const auto& node : absent) on_node_gone(node, lifecycle);
}

void ClusterDeploymentManager::Active::adopt_unknown_keys() {
  // Keys the in-memory map dropped (a node-gone cleanup whose removal failed,
  // the node then back in the view) are read back from the local KV.
  const Nanos now = timers_.now();
  for (const auto& [key, indexed] : slice_keys_) {
    if (!indexed.value) continue;
    // Its removal (a node-gone cleanup) is still on its way: adopting the key
    // now would count an entry the CDM is deleting (it returns to the view
    // before the removal commits, and a correct instance elsewhere is scaled
    // down to make room for it).
    if (writer_.remove_pending(key)) continue;
    const SliceKey& slice = indexed.slice;
    auto& nodes = table_.entries[slice.artifact];
    if (nodes.count(slice.node)) continue;
    Entry& entry = nodes[slice.node];
    entry.observed = *indexed.value;
    entry.since_ns = now;
    arm_stuck_check(slice.artifact, slice.node);
  }
  inherit_commands();
}

void ClusterDeploymentManager::Active::arm_stuck_check(const std::string& artifact, const NodeId& node) {
  // Stuck detection runs when the entry's bound passes (§4), not only when
  // something else reconciles (the periodic reconcile may be off or rare).
  const Entry& entry = table_.entries[artifact][node];
  if (!entry.observed) return;
  const auto timeout = state_timeout_ns(entry.observed->state, config_.timeouts);
  if (!timeout) return;
  const Nanos since = entry.since_ns;
  const SliceState state = entry.observed->state;
  const Nanos due = since + config_.stuck_multiplier * *timeout + 1;
  timers_.after(due - timers_.now(), [this, artifact, node, since, state] {
    auto nodes = table_.entries.find(artifact);
    if (nodes == table_.entries.end()) return;
    auto it = nodes->second.find(node);
    if (it == nodes->second.end() || it->second.since_ns != since || !it->second.observed ||
        it->second.observed->state != state) {
      return;
    }
    schedule_reconcile(0);
  });
}

void ClusterDeploymentManager::Active::inherit_commands() {
  // A command state this leader did not write (a previous leader's, whose
  // chain the node may have abandoned) is taken over as its own: re-sent
  // after command_timeout unless answered (§4 Re-send).
  for (auto& [artifact, nodes] : table_.entries) {
    for (auto& [node, entry] : nodes) {
      if (entry.intent || entry.resend != 0 || !entry.observed || !is_command_state(entry.observed->state))
        continue;
      entry.intent = entry.observed->state;
      arm_resend(artifact, node, entry.observed->state);
    }
  }
}

void ClusterDeploymentManager::Active::prune_moves() {
  auto live_entry = [&](const std::string& artifact, const NodeId& node) {
    return table_.live_at(artifact, node);
  };
  for (auto it = moves_.begin(); it != moves_.end();) {
    const auto& [artifact, move] = *it;
    const Desired* desired = desired_for(artifact);
    // A move of an artifact whose dependencies are not ready (any more) could
    // never end: its target cannot become ACTIVE.
    const bool starved = desired != nullptr && desired->artifact == artifact && !dependencies_ready(*desired);
    if (!starved && live_entry(artifact, move.source) && live_entry(artifact, move.target)) {
      ++it;
      continue;
    }
    // A move ends when either entry stops being live: the source counts again.
    const std::string ended = artifact;
    ++it;
    end_move(ended);
  }
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

void ClusterDeploymentManager::Active::reconcile() {
  count("reconciles");
  if (rechecked_) {
    // slices/* keys of nodes out of the view: a late commit, or a removal
    // that failed (node-lifecycle keys are left to their NDMs).
    remove_absent_nodes(false);
  }
  adopt_unknown_keys();
  prune_moves();
  check_stuck_and_orphans();
  sync_targets();  // every reconcile rewrites a missing or mismatching owned slice-target (§4)
  for (const auto& [base, desired] : state_.desired) fix_count(base);
  for (const auto& [key, value] : services_.kv.scan(std::string(kVersionRoutingPrefix))) {
    const auto base = *key_suffix(key, kVersionRoutingPrefix);
    if (!state_.desired.count(base)) sync_routing(base);  // no owner: the update is over
  }
  for (const auto& [base, desired] : state_.desired) activate_ready(desired.artifact);
  drain_nodes();
  check_in_flight();
  if (config_.reconciliation == ReconciliationStrategy::Aggressive && config_.auto_rebalancing) rebalance();
  flush();
}

std::vector<NodeId> ClusterDeploymentManager::Active::eligible_nodes() const {
  std::vector<NodeId> out;
  for (const auto& node : services_.topology.view()) {
    if (on_duty(node)) out.push_back(node);
  }
  return out;
}

bool ClusterDeploymentManager::Active::eligible(const NodeId& node) const {
  const auto view = services_.topology.view();
  return std::binary_search(view.begin(), view.end(), node) && on_duty(node);
}

bool ClusterDeploymentManager::Active::on_duty(const NodeId& node) const {
  if (config_.mutation(mutation::kIgnoreEligibility)) return true;
  auto it = lifecycle_.find(node);
  return it != lifecycle_.end() && parse_node_lifecycle(it->second) == NodeLifecycle::OnDuty;
}

bool ClusterDeploymentManager::Active::counts_for_scale(const NodeId& node,
                                                        const std::vector<NodeId>& view) const {
  if (config_.mutation(mutation::kScaleCountsOutOfView)) return true;
  if (drained(node)) return false;
  return std::binary_search(view.begin(), view.end(), node);
}

int ClusterDeploymentManager::Active::live_count(const std::string& artifact) const {
  auto it = table_.entries.find(artifact);
  if (it == table_.entries.end()) return 0;
  const auto view = services_.topology.view();
  int live = 0;
  for (const auto& [node, entry] : it->second) {
    if (entry.counts_for_scale() && counts_for_scale(node, view)) ++live;
  }
  return live;
}

// ---------------------------------------------------------------------------
// Drain (engine-semantics.md §8.2)

std::optional<NodeLifecycle> ClusterDeploymentManager::Active::lifecycle_of(const NodeId& node) const {
  auto it = lifecycle_.find(node);
  if (it == lifecycle_.end()) return std::nullopt;
  return parse_node_lifecycle(it->second);
}

bool ClusterDeploymentManager::Active::drained(const NodeId& node) const {
  const auto state = lifecycle_of(node);
  return state == NodeLifecycle::Draining || state == NodeLifecycle::Decommissioned;
}

bool ClusterDeploymentManager::Active::any_drained() const {
  for (const auto& [node, value] : lifecycle_) {
    if (drained(node)) return true;
  }
  return false;
}

drain::Entry ClusterDeploymentManager::Active::drain_entry(const std::string& artifact,
                                                           const NodeId& node) const {
  drain::Entry out;
  out.artifact = artifact;
  const auto& nodes = table_.entries.at(artifact);
  const Entry& entry = nodes.at(node);
  const auto observed = observed_state(entry.observed);
  const auto state = entry.effective();
  out.live = entry.live();
  out.active = observed == SliceState::Active;
  out.unloading = state == SliceState::Unload || state == SliceState::Unloading ||
                  observed == SliceState::Unload || observed == SliceState::Unloading;
  const Desired* desired = desired_for(artifact);
  out.facts.owned_current = desired != nullptr && desired->artifact == artifact;
  if (!out.facts.owned_current) return out;
  out.facts.excluded = desired->failed;
  const auto eligible = eligible_nodes();
  // Round-robin: every eligible node holds X or could take one (§8.1 adds constraints).
  out.facts.owed = std::min(desired->count, static_cast<int>(eligible.size()));
  for (const auto& [other, e] : nodes) {
    if (other == node) continue;
    const bool active = e.settled_in(SliceState::Active);
    if (active && std::binary_search(eligible.begin(), eligible.end(), other)) ++out.facts.active_on_eligible;
    // Conservative: live both as the table has it and as the store has it.
    if (active || (e.observed && e.observed->state == SliceState::Active)) ++out.facts.other_active;
    if (e.live() && e.observed && is_live_state(e.observed->state)) ++out.facts.other_live;
  }
  return out;
}

void ClusterDeploymentManager::Active::drain_nodes() {
  const bool make_before_break = !config_.mutation(mutation::kDrainBreakBeforeMake);
  for (const auto& [node, value] : lifecycle_) {
    const auto state = lifecycle_of(node);
    if (state == NodeLifecycle::Decommissioned) {
      // Entries on a DECOMMISSIONED node are unloaded like orphans.
      for (auto& [artifact, nodes] : table_.entries) {
        auto it = nodes.find(node);
        if (it != nodes.end() && it->second.live()) cmd_unload(artifact, node);
      }
      continue;
    }
    if (state != NodeLifecycle::Draining) continue;
    std::vector<drain::Entry> entries;
    for (const auto& [artifact, nodes] : table_.entries) {
      if (nodes.count(node)) entries.push_back(drain_entry(artifact, node));
    }
    const bool empty = entries.empty() && services_.kv.scan(slice_node_prefix(node)).empty();
    const auto plan = drain::plan_node(entries, empty, make_before_break);
    if (plan.decommission) {
      auto sent = decommission_sent_.find(node);
      if (sent == decommission_sent_.end() || timers_.now() - sent->second >= config_.write_timeout_ns) {
        log(LogLevel::Info, "node " + node + " is drained: DECOMMISSIONED");
        count("decommissions");
        decommission_sent_[node] = timers_.now();
        writer_.add(DecommissionPut{node});
      }
      continue;
    }
    if (plan.evict) {
      log(LogLevel::Info, "draining " + node + ": evicting " + *plan.evict);
      count("evictions");
      cmd_unload(*plan.evict, node, UnloadWhy::Eviction);
    } else if (plan.unload_excluded) {
      log(LogLevel::Info, "draining " + node + ": unloading excluded " + *plan.unload_excluded);
      cmd_unload(*plan.unload_excluded, node);
    }
    for (const auto& artifact : plan.blocked) {
      if (drain_blocked_.insert({node, artifact}).second) {
        log(LogLevel::Info, "drain of " + node + " blocked: " + artifact + " waits for a replacement");
        count("drain-blocked");
      }
    }
  }
  std::erase_if(drain_blocked_, [this](const auto& blocked) {
    return lifecycle_of(blocked.first) != NodeLifecycle::Draining ||
           !table_.live_at(blocked.second, blocked.first);
  });
}

bool ClusterDeploymentManager::Active::drain_allows(const SliceCommand& command) const {
  if (command.state == SliceState::Load) return on_duty(command.node);
  if (command.why != UnloadWhy::Eviction) return true;
  if (lifecycle_of(command.node) != NodeLifecycle::Draining) return true;  // undrained: an ordinary UNLOAD
  auto nodes = table_.entries.find(command.artifact);
  if (nodes == table_.entries.end() || !nodes->second.count(command.node)) return false;
  // No other eviction of that node in the state applied now.
  for (const auto& [artifact, others] : table_.entries) {
    auto it = others.find(command.node);
    if (artifact == command.artifact || it == others.end()) continue;
    const auto observed = observed_state(it->second.observed);
    if (observed == SliceState::Unload || observed == SliceState::Unloading) return false;
  }
  return drain::may_evict(drain_entry(command.artifact, command.node),
                          !config_.mutation(mutation::kDrainBreakBeforeMake));
}

bool ClusterDeploymentManager::Active::decommission_allowed(const NodeId& node) const {
  if (lifecycle_of(node) != NodeLifecycle::Draining) return false;
  for (const auto& [artifact, nodes] : table_.entries) {
    if (nodes.count(node)) return false;
  }
  return services_.kv.scan(slice_node_prefix(node)).empty();
}

void ClusterDeploymentManager::Active::fix_count(const std::string& base) {
  auto it = state_.desired.find(base);
  if (it == state_.desired.end() || it->second.failed) return;
  const Desired& desired = it->second;
  if (rolling_in_progress(base)) {
    roll(base, desired);
    return;
  }
  sync_routing(base);
  const int live = live_count(desired.artifact);
  if (live < desired.count) {
    auto backoff = state_.backoff_until.find(desired.artifact);
    if (backoff != state_.backoff_until.end() && backoff->second > timers_.now()) {
      schedule_reconcile(backoff->second - timers_.now());
      return;
    }
    place(desired.artifact, desired.count - live);
  } else if (live > desired.count) {
    scale_down(desired.artifact, desired, live);
  }
}

Wanted ClusterDeploymentManager::Active::placement_of(const std::string& artifact) const {
  // From the blueprints applied now (not the slice-target's echo), as the checks judge it.
  Wanted out;
  if (const SliceSpec* slice = state_.placement_slice(base_of(artifact))) {
    out.resources = slice->resources;
    for (const auto& other : slice->anti_affinity) out.anti_affinity.push_back(other.to_string());
    out.spread_zone = slice->spread_zone;
  }
  return out;
}

std::vector<ClusterDeploymentManager::Active::LiveRow> ClusterDeploymentManager::Active::live_rows(
    const NodeId* only) const {
  std::vector<LiveRow> rows;
  for (const auto& [artifact, nodes] : table_.entries) {
    LiveRow row;
    if (only != nullptr) {
      if (auto it = nodes.find(*only); it != nodes.end() && it->second.occupies())
        row.live.push_back(&it->first);
    } else {
      for (const auto& [node, entry] : nodes) {
        if (entry.occupies()) row.live.push_back(&node);
      }
    }
    if (row.live.empty()) continue;
    row.artifact = &artifact;
    row.base = base_of(artifact);
    row.want = placement_of(artifact);
    rows.push_back(std::move(row));
  }
  return rows;
}

bool ClusterDeploymentManager::Active::anti_affine(const Wanted& mine, const std::string& base,
                                                   const LiveRow& other) {
  if (other.base == base) return false;
  if (std::binary_search(mine.anti_affinity.begin(), mine.anti_affinity.end(), other.base)) return true;
  return std::binary_search(other.want.anti_affinity.begin(), other.want.anti_affinity.end(), base);
}

std::set<NodeId> ClusterDeploymentManager::Active::forbidden_for(const std::string& artifact,
                                                                 const Wanted& mine,
                                                                 const std::vector<LiveRow>& rows) const {
  std::set<NodeId> out;
  if (config_.mutation(mutation::kIgnoreAntiAffinity)) return out;
  const std::string base = base_of(artifact);
  for (const auto& row : rows) {
    if (!anti_affine(mine, base, row)) continue;
    for (const NodeId* node : row.live) out.insert(*node);
  }
  return out;
}

void ClusterDeploymentManager::Active::add_used(std::map<NodeId, placement::NodeInfo>& nodes,
                                                const std::vector<LiveRow>& rows) {
  for (const auto& row : rows) {
    for (const NodeId* node : row.live) {
      if (auto it = nodes.find(*node); it != nodes.end()) {
        it->second.used.cpu += row.want.resources.cpu;
        it->second.used.memory += row.want.resources.memory;
      }
    }
  }
}

placement::AddRequest ClusterDeploymentManager::Active::placement_request(
    const Desired& desired, std::vector<NodeId> candidates) const {
  placement::AddRequest request;
  request.eligible = std::move(candidates);
  request.busy = table_.occupied_nodes();
  request.holding = table_.holders(desired.artifact);
  request.cursor = cursor_;
  for (const auto& node : request.eligible)
    request.nodes[node].attributes = services_.topology.attributes(node);
  const auto rows = live_rows();
  add_used(request.nodes, rows);
  for (const auto& row : rows) {
    if (*row.artifact != desired.artifact) continue;
    for (const NodeId* node : row.live) request.live.insert(*node);
  }
  const Wanted mine = placement_of(desired.artifact);
  request.constraints.forbidden = forbidden_for(desired.artifact, mine, rows);
  request.constraints.demand = mine.resources;
  request.constraints.spread_zone = mine.spread_zone;
  request.constraints.capacity = !config_.mutation(mutation::kIgnoreCapacity);
  return request;
}

bool ClusterDeploymentManager::Active::load_still_allowed(const SliceCommand& command) const {
  const Desired* desired = desired_for(command.artifact);
  if (!desired || desired->artifact != command.artifact) return true;
  // What placement_request({command.node}) would say, read from that node's
  // live entries only (no copy of the whole table's placement inputs).
  const auto rows = live_rows(&command.node);
  std::map<NodeId, placement::NodeInfo> nodes;
  auto& info = nodes[command.node];
  info.attributes = services_.topology.attributes(command.node);
  add_used(nodes, rows);
  const Wanted mine = placement_of(command.artifact);
  const Resources demand = mine.resources;
  if (table_.live_at(command.artifact, command.node)) {  // its own intent: not counted twice
    info.used.cpu -= demand.cpu;
    info.used.memory -= demand.memory;
  }
  if (forbidden_for(command.artifact, mine, rows).count(command.node)) return false;
  return config_.mutation(mutation::kIgnoreCapacity) || fits(info.attributes.capacity, info.used, demand);
}

void ClusterDeploymentManager::Active::place(const std::string& artifact, int count_wanted) {
  const Desired* desired = desired_for(artifact);
  if (!desired) return;
  auto request = placement_request(*desired, eligible_nodes());
  request.count = count_wanted;
  const auto plan = allocation_->plan_add(request);
  for (const auto& node : plan.nodes) cmd_load(artifact, node);
  cursor_ = plan.cursor;
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
  int excess = live - desired.count;
  if (!config_.mutation(mutation::kSkipScaleDownFloor))
    excess = std::min(excess, live - desired.min_instances);
  if (excess <= 0) return;
  placement::RemoveRequest request;
  request.count = excess;
  const auto view = services_.topology.view();
  for (const auto& [node, entry] : table_.entries[artifact]) {
    if (!entry.counts_for_scale() || !counts_for_scale(node, view)) continue;
    request.live.push_back(placement::LiveEntry{node, entry.effective() == SliceState::Active});
  }
  for (const auto& node : allocation_->plan_remove(request)) cmd_unload(artifact, node, UnloadWhy::ScaleDown);
}

bool ClusterDeploymentManager::Active::rolls(const std::string& base) const {
  auto it = state_.desired.find(base);
  return it != state_.desired.end() && it->second.update.rolling;
}

bool ClusterDeploymentManager::Active::rolling_in_progress(const std::string& base) const {
  auto it = state_.desired.find(base);
  if (it == state_.desired.end() || !it->second.update.rolling) return false;
  for (const auto& [artifact, nodes] : table_.entries) {
    if (artifact == it->second.artifact || base_of(artifact) != base) continue;
    for (const auto& [node, entry] : nodes) {
      if (entry.live()) return true;
    }
  }
  return false;
}

int ClusterDeploymentManager::Active::active_over_versions(const std::string& base) const {
  int active = 0;
  const auto view = services_.topology.view();
  for (const auto& [artifact, nodes] : table_.entries) {
    if (base_of(artifact) == base) active += table_.active_in(artifact, view);
  }
  return active;
}

int ClusterDeploymentManager::Active::rolling_floor(const Desired& desired, const std::string& base) const {
  int instances = desired.count;
  int max_unavailable = desired.update.max_unavailable;
  // A blueprint put after the slice-target is the newer intent (§4): its
  // count holds before its own slice-target comes back. A slice-target put
  // after the blueprint wins, floor included.
  if (const auto want = wanted(base); want && want->update.rolling && !target_is_newer(base, want->owner)) {
    instances = std::max(instances, want->instances);
    max_unavailable = std::min(max_unavailable, want->update.max_unavailable);
  }
  return instances - max_unavailable;
}

void ClusterDeploymentManager::Active::roll(const std::string& base, const Desired& desired) {
  sync_routing(base);
  rolling::Input input;
  input.desired = desired.count;
  input.max_surge = desired.update.max_surge;
  // Expressed against desired: ACTIVE may go no lower than rolling_floor.
  input.max_unavailable = desired.count - rolling_floor(desired, base);
  input.new_live = live_count(desired.artifact);
  input.active = active_over_versions(base);
  input.ignore_max_unavailable = config_.mutation(mutation::kRollingIgnoresMaxUnavailable);
  const auto view = services_.topology.view();
  for (const auto& [artifact, nodes] : table_.entries) {
    if (artifact == desired.artifact || base_of(artifact) != base) continue;
    for (const auto& [node, entry] : nodes) {
      if (!entry.live()) continue;
      const bool active =
          entry.settled_in(SliceState::Active) && std::binary_search(view.begin(), view.end(), node);
      input.old.push_back(rolling::OldEntry{artifact, node, active});
    }
  }
  const auto plan = rolling::plan(input);
  for (const auto& entry : plan.unload) cmd_unload(entry.artifact, entry.node);
  if (plan.load > 0) {
    auto backoff = state_.backoff_until.find(desired.artifact);
    if (backoff != state_.backoff_until.end() && backoff->second > timers_.now()) {
      schedule_reconcile(backoff->second - timers_.now());
    } else {
      place(desired.artifact, plan.load);
    }
  }
  if (input.new_live > desired.count) scale_down(desired.artifact, desired, input.new_live);
}

void ClusterDeploymentManager::Active::note_version_change(const std::string& base,
                                                           const SliceTarget& target) {
  const auto want = wanted(base);
  if (!want || !want->update.rolling || want->version != target.version) return;
  std::optional<std::string> from;
  const auto applied = applied_routing(base);
  if (applied && applied->to != target.version) {
    from = applied->to;  // a retarget mid-update: the version being rolled out becomes the old one
  } else if (auto committed = state_.targets.find(base);
             committed != state_.targets.end() && committed->second.version != target.version) {
    from = committed->second.version;
  }
  if (!from) return;
  bool others = false;  // entries of another version than the new target's
  for (const auto& [artifact, nodes] : table_.entries) {
    if (base_of(artifact) == base && artifact != base + ":" + target.version && !nodes.empty()) others = true;
  }
  if (!others) return;
  VersionRouting routing{*from, target.version};
  if (applied == routing) return;
  writer_.add(RoutingPut{base, routing});
}

void ClusterDeploymentManager::Active::sync_routing(const std::string& base) {
  if (writer_.routing_pending(base)) return;
  const auto routing = services_.kv.get(version_routing_key(base));
  const bool present = routing.has_value();
  const auto applied = routing ? parse_version_routing(*routing) : std::nullopt;
  auto desired = state_.desired.find(base);
  if (desired == state_.desired.end()) {
    if (present) writer_.add(RoutingRemove{base});
    return;
  }
  auto version_of = [](const std::string& artifact) { return artifact.substr(artifact.rfind(':') + 1); };
  const std::string version = version_of(desired->second.artifact);
  std::optional<std::string> other;  // a version other than the desired one with an entry
  // Artifacts whose base_of is `base`: `base` itself when it has no ':'
  // (sorted before the rest), then those starting with "base:", adjacent in
  // the table's order: visit those only, in the same order.
  if (base.find(':') == std::string::npos) {
    if (auto it = table_.entries.find(base);
        it != table_.entries.end() && base != desired->second.artifact && !it->second.empty()) {
      other = version_of(base);
    }
  }
  const std::string prefix = base + ":";
  for (auto it = table_.entries.lower_bound(prefix);
       it != table_.entries.end() && it->first.starts_with(prefix); ++it) {
    const auto& [artifact, nodes] = *it;
    if (artifact.rfind(':') == base.size() && artifact != desired->second.artifact && !nodes.empty()) {
      other = version_of(artifact);
    }
  }
  if (!other) {
    if (present) writer_.add(RoutingRemove{base});
    return;
  }
  if (!desired->second.update.rolling) return;
  if (applied && applied->to == version) return;
  // Missing (a target rewritten while nobody led) or naming another target.
  const std::string from = applied ? applied->to : *other;
  writer_.add(RoutingPut{base, VersionRouting{from, version}});
}

bool ClusterDeploymentManager::Active::unload_keeps_rolling_floor(const SliceCommand& command) const {
  if (config_.mutation(mutation::kRollingIgnoresMaxUnavailable)) return true;
  const std::string base = base_of(command.artifact);
  if (!services_.kv.get(version_routing_key(base))) return true;
  auto desired = state_.desired.find(base);
  if (desired == state_.desired.end() || !desired->second.update.rolling) return true;
  // Only an UNLOAD of an entry ACTIVE in the state applied now, on a node in
  // the view, lowers ACTIVE over both versions (a crashed node's is not counted).
  const auto view = services_.topology.view();
  if (!std::binary_search(view.begin(), view.end(), command.node)) return true;
  const auto applied = services_.kv.get(slice_key(command.node, command.artifact));
  const auto value = applied ? parse_slice_value(*applied) : std::nullopt;
  if (!value || value->state != SliceState::Active) return true;
  // Every recorded UNLOAD (this one included) is out of the settled count.
  return active_over_versions(base) >= rolling_floor(desired->second, base);
}

void ClusterDeploymentManager::Active::check_stuck_and_orphans() {
  const Nanos now = timers_.now();
  std::vector<std::tuple<std::string, NodeId, UnloadWhy>> to_unload;
  std::vector<std::pair<std::string, NodeId>> to_remove;
  for (auto& [artifact, nodes] : table_.entries) {
    const Desired* desired = desired_for(artifact);
    // An old version of a rolling slice is the rolling update's (roll), not an orphan.
    const bool orphan = !desired || (desired->artifact != artifact && !desired->update.rolling);
    for (auto& [node, entry] : nodes) {
      if (entry.malformed_remove_at) {
        // Its Remove was lost (or is still on its way): issue it again once
        // the write would have timed out.
        if (now - *entry.malformed_remove_at >= config_.write_timeout_ns) {
          entry.malformed_remove_at = now;
          to_remove.emplace_back(artifact, node);
        }
        continue;
      }
      const std::optional<SliceState> observed = observed_state(entry.observed);
      const auto state = effective(entry);
      if (!state) continue;
      if (orphan) {
        if (observed == SliceState::Unload || observed == SliceState::Unloading) {
          to_remove.emplace_back(artifact, node);
        } else if (*state != SliceState::Unload && *state != SliceState::Unloading) {
          to_unload.emplace_back(artifact, node, UnloadWhy::Removal);
        }
        continue;
      }
      if (!observed || entry.intent) continue;
      if (*observed == SliceState::Failed) {
        to_unload.emplace_back(artifact, node, UnloadWhy::Other);  // its UNLOAD was lost or overtaken
        continue;
      }
      auto timeout = state_timeout_ns(*observed, config_.timeouts);
      if (!timeout || now - entry.since_ns <= config_.stuck_multiplier * *timeout) continue;
      count("stuck-cleanups");
      log(LogLevel::Warn, artifact + " on " + node + " stuck in " + slice_state_name(*observed));
      if (*observed == SliceState::Loading || *observed == SliceState::Activating) {
        to_unload.emplace_back(artifact, node, UnloadWhy::Other);
      } else {
        to_remove.emplace_back(artifact, node);
      }
    }
  }
  for (const auto& [artifact, node, why] : to_unload) cmd_unload(artifact, node, why);
  for (const auto& [artifact, node] : to_remove) cmd_remove_slice(artifact, node);
}

bool ClusterDeploymentManager::Active::dependencies_ready(const Desired& desired) const {
  return dependencies_ready(desired.depends_on);
}

bool ClusterDeploymentManager::Active::dependencies_ready(const std::vector<std::string>& depends_on) const {
  // Ready: an ACTIVE entry on a node in the leader's view (engine-semantics.md §4).
  const auto view = services_.topology.view();
  for (const auto& dep : depends_on) {
    auto it = table_.entries.find(dep);
    if (it == table_.entries.end()) return false;
    bool any = false;
    for (const auto& [node, entry] : it->second) {
      any = any ||
            (entry.settled_in(SliceState::Active) && (config_.mutation(mutation::kDependencyOutOfView) ||
                                                      std::binary_search(view.begin(), view.end(), node)));
    }
    if (!any) return false;
  }
  return true;
}

void ClusterDeploymentManager::Active::activate_ready(const std::string& artifact) {
  const Desired* desired = desired_for(artifact);
  if (!desired || desired->artifact != artifact) return;
  if (!dependencies_ready(*desired) && !config_.mutation(mutation::kActivateBeforeDependencies)) return;
  auto it = table_.entries.find(artifact);
  if (it == table_.entries.end()) return;
  std::vector<NodeId> ready;
  for (const auto& [node, entry] : it->second) {
    if (entry.settled_in(SliceState::Loaded)) ready.push_back(node);
  }
  for (const auto& node : ready) cmd_activate(artifact, node);
}

void ClusterDeploymentManager::Active::rebalance() {
  rebalancer::Input input;
  input.eligible = eligible_nodes();
  if (input.eligible.size() < 2) return;
  // The placement inputs every desired artifact shares, built once per
  // rebalance (not one placement_request per artifact): the live rows and
  // the eligible nodes' attributes and used resources.
  const auto rows = live_rows();
  std::map<NodeId, placement::NodeInfo> infos;
  for (const auto& node : input.eligible) infos[node].attributes = services_.topology.attributes(node);
  add_used(infos, rows);
  const bool capacity = !config_.mutation(mutation::kIgnoreCapacity);
  for (const auto& [base, desired] : state_.desired) {
    rebalancer::DesiredArtifact item;
    item.artifact = desired.artifact;
    item.depends_on = desired.depends_on;
    item.failed = desired.failed;
    item.starved = !desired.depends_on.empty() && !dependencies_ready(desired);
    // A base in a rolling update gets no move: its UNLOADs are the update's.
    item.moving = moves_.count(desired.artifact) > 0 || rolling_in_progress(base);
    const Wanted mine = placement_of(desired.artifact);
    item.barred = forbidden_for(desired.artifact, mine, rows);
    for (const auto& [node, info] : infos) {
      if (capacity && !fits(info.attributes.capacity, info.used, mine.resources)) item.barred.insert(node);
      input.zones[node] = info.attributes.zone;
    }
    item.spread_zone = mine.spread_zone;
    input.desired.push_back(std::move(item));
    table_.entries[desired.artifact];  // as before the split: every desired artifact has a (maybe empty) row
  }
  for (const auto& [artifact, nodes] : table_.entries) {
    auto& entries = input.entries[artifact];
    for (const auto& [node, entry] : nodes) {
      entries.present.insert(node);
      if (entry.live()) entries.live.insert(node);
      if (entry.counts_for_scale()) entries.scale.insert(node);
    }
  }
  for (const auto& move : rebalancer::plan_moves(input)) {
    // Make-before-break: the source is unloaded only once the target is
    // ACTIVE, and then only if ACTIVE stays at min_available (on_slice_put).
    log(LogLevel::Info, "moving " + move.artifact + " from " + move.source + " to " + move.target);
    count("moves");
    moves_[move.artifact] = Move{move.source, move.target};
    table_.entries[move.artifact][move.source].leaving = true;
    cmd_load(move.artifact, move.target);
  }
}

// ---------------------------------------------------------------------------
// Commands and the serialized writer

void ClusterDeploymentManager::Active::cmd_load(const std::string& artifact, const NodeId& node) {
  Entry& entry = table_.entries[artifact][node];
  const auto from = effective(entry);
  entry.intent = SliceState::Load;
  entry.since_ns = timers_.now();
  writer_.add(SliceCommand{node, artifact, SliceState::Load, from});
  count("allocations");
}

void ClusterDeploymentManager::Active::cmd_unload(const std::string& artifact, const NodeId& node,
                                                  UnloadWhy why) {
  Entry& entry = table_.entries[artifact][node];
  const auto from = effective(entry);
  if (from == SliceState::Unload || from == SliceState::Unloading) return;
  entry.intent = SliceState::Unload;
  // A cleanup is decided on the FAILED value observed, whatever was in flight.
  const auto decided_from = why == UnloadWhy::Cleanup ? std::optional(SliceState::Failed) : from;
  writer_.add(SliceCommand{node, artifact, SliceState::Unload, decided_from, false, why});
  count("unloads");
}

void ClusterDeploymentManager::Active::cmd_activate(const std::string& artifact, const NodeId& node) {
  Entry& entry = table_.entries[artifact][node];
  const auto from = effective(entry);
  AETHER_ASSERT(services_.assertions, entry.intent != SliceState::Unload,
                "the CDM never activates a key it recorded as UNLOAD: " + slice_key(node, artifact));
  entry.intent = SliceState::Activate;
  writer_.add(SliceCommand{node, artifact, SliceState::Activate, from});
}

void ClusterDeploymentManager::Active::cmd_remove_slice(const std::string& artifact, const NodeId& node) {
  cmd_remove(slice_key(node, artifact));
}

void ClusterDeploymentManager::Active::cmd_remove(const std::string& key) {
  writer_.add(KeyRemove{key});
}

void ClusterDeploymentManager::Active::cmd_put_target(const std::string& base, const SliceTarget& target) {
  note_version_change(base, target);
  writer_.add(TargetPut{base, target});
}

void ClusterDeploymentManager::Active::cmd_remove_target(const std::string& base) {
  writer_.add(TargetRemove{base});
}

void ClusterDeploymentManager::Active::unload_live(const std::string& base,
                                                   const std::optional<std::string>& keep) {
  std::vector<std::pair<std::string, NodeId>> victims;
  for (const auto& [artifact, nodes] : table_.entries) {
    if (base_of(artifact) != base || artifact == keep) continue;
    for (const auto& [node, entry] : nodes) {
      if (entry.live()) victims.emplace_back(artifact, node);
    }
  }
  // A version change is re-checked at submit like a removal: dropped if
  // that version is wanted again by then (a blueprint put back to it).
  for (const auto& [artifact, node] : victims) cmd_unload(artifact, node, UnloadWhy::Removal);
}

bool ClusterDeploymentManager::Active::unload_still_wanted(const SliceCommand& command) const {
  const Desired* desired = desired_for(command.artifact);
  const bool intended = desired != nullptr && desired->artifact == command.artifact;
  // A removal, an orphan's or a version change's UNLOAD: dropped if the artifact is
  // desired again (its blueprint put back while the batch waited), by the
  // ownership rule in the state applied now (the owner's slice-target may
  // not have been rewritten yet). Also dropped if the base's owner now rolls
  // its updates: its old versions go under the rolling floor (§8.4), by the
  // rolling plan of the reconcile the drop schedules, not at once.
  if (command.why == UnloadWhy::Removal) {
    if (intended) return false;
    const auto want = wanted(base_of(command.artifact));
    return !want || (want->artifact != command.artifact && !want->update.rolling);
  }
  // The floor, in the state applied now and the current view.
  // A blueprint put after the slice-target is the newer intent (§4): its
  // min_available counts before its own slice-target comes back (the
  // in-memory desired state changes only then), so the larger floor holds.
  const std::string base = base_of(command.artifact);
  const auto want = wanted(base);
  int floor = 0;
  if (intended) {
    floor = desired->min_instances;
    if (want && want->artifact == command.artifact && !target_is_newer(base, want->owner))
      floor = std::max(floor, want->min_available);
  } else {
    // A scale-down whose artifact is no longer intended is a removal or a
    // version change now: still wanted, unless the blueprint applied now
    // deploys it again (removed and put back while the batch waited; the
    // desired state comes back only with its slice-target): its floor holds.
    if (!want || want->artifact != command.artifact) return true;
    floor = want->min_available;
  }
  // A LOAD still queued behind this batch does not count: this UNLOAD
  // commits before it (and the LOAD may yet be dropped at its own submit).
  int live = 0;
  if (auto nodes = table_.entries.find(command.artifact); nodes != table_.entries.end()) {
    const auto view = services_.topology.view();
    for (const auto& [node, entry] : nodes->second) {
      // The victim itself never counts: its UNLOAD intent may have been
      // reverted meanwhile (an earlier UNLOAD of the key dropped at submit).
      if (node == command.node || !entry.counts_for_scale() || !counts_for_scale(node, view)) continue;
      if (entry.intent == SliceState::Load && writer_.load_queued(node, command.artifact)) continue;
      ++live;
    }
  }
  if (live < floor) return false;
  // An ACTIVE victim (it was not ACTIVE when chosen, or others stopped being
  // ACTIVE since): the ACTIVE entries left must stay at the floor.
  auto nodes = table_.entries.find(command.artifact);
  if (nodes == table_.entries.end()) return true;
  auto victim = nodes->second.find(command.node);
  if (victim == nodes->second.end() || !victim->second.observed ||
      victim->second.observed->state != SliceState::Active)
    return true;
  const auto view = services_.topology.view();
  int active_left = 0;
  for (const auto& [node, entry] : nodes->second) {
    if (node == command.node || entry.intent == SliceState::Unload) continue;
    if (entry.observed && entry.observed->state == SliceState::Active && counts_for_scale(node, view))
      ++active_left;
  }
  return active_left >= floor;
}

bool ClusterDeploymentManager::Active::resend_still_wanted(const SliceCommand& command) const {
  // A re-send queued behind a batch that then failed (a write timeout due at
  // the same instant) must not go out after that batch reverted its intent.
  auto nodes = table_.entries.find(command.artifact);
  if (nodes == table_.entries.end()) return false;
  auto it = nodes->second.find(command.node);
  return it != nodes->second.end() && it->second.intent == command.state &&
         !answers(command.state, observed_state(it->second.observed));
}

void ClusterDeploymentManager::Active::revert_intents(const std::vector<SliceCommand>& commands) {
  for (const auto& command : commands) {
    auto nodes = table_.entries.find(command.artifact);
    if (nodes == table_.entries.end()) continue;
    auto it = nodes->second.find(command.node);
    if (it == nodes->second.end() || it->second.intent != command.state) continue;
    timers_.cancel(it->second.resend);
    if (!it->second.observed) {
      nodes->second.erase(it);
    } else {
      it->second.intent.reset();
      it->second.resend = 0;
    }
  }
}

void ClusterDeploymentManager::Active::arm_resend(const std::string& artifact, const NodeId& node,
                                                  SliceState command) {
  auto nodes = table_.entries.find(artifact);
  if (nodes == table_.entries.end() || !nodes->second.count(node)) return;
  Entry& entry = nodes->second[node];
  timers_.cancel(entry.resend);
  entry.resend = 0;
  if (config_.mutation(mutation::kNoCommandResend)) return;
  entry.resend = timers_.after(config_.command_timeout_ns, [this, artifact, node, command] {
    auto it = table_.entries.find(artifact);
    if (it == table_.entries.end() || !it->second.count(node)) return;
    Entry& current = it->second[node];
    current.resend = 0;
    if (answers(command, observed_state(current.observed)) || current.intent != command) return;
    const Desired* desired = desired_for(artifact);
    const bool blocked = command == SliceState::Activate && desired && desired->artifact == artifact &&
                         !dependencies_ready(*desired);
    // A lost eviction (or other UNLOAD) goes again to a draining node in
    // the view: it is live, just not eligible (§8.2).
    const auto view = services_.topology.view();
    const bool reachable = eligible(node) || (command == SliceState::Unload && drained(node) &&
                                              std::binary_search(view.begin(), view.end(), node));
    if (!reachable || blocked) {
      arm_resend(artifact, node, command);
      return;
    }
    log(LogLevel::Info,
        "re-sending " + std::string(slice_state_name(command)) + " to " + slice_key(node, artifact));
    count("resent-commands");
    // A re-sent UNLOAD is re-checked at submit like the first (§4): an
    // eviction by the drain rule; on a node that is not drained, the UNLOAD
    // of a live entry of the desired artifact by the scale-down floor (the
    // floor may have fallen since: nodes lost meanwhile), any other live
    // entry as a removal.
    UnloadWhy why = UnloadWhy::Other;
    if (command == SliceState::Unload) {
      if (lifecycle_of(node) == NodeLifecycle::Draining) {
        why = UnloadWhy::Eviction;
      } else if (!drained(node) && current.observed && is_live_state(current.observed->state)) {
        why = desired && desired->artifact == artifact ? UnloadWhy::ScaleDown : UnloadWhy::Removal;
      }
    }
    writer_.add(SliceCommand{node, artifact, command, command, true, why});
    flush();
  });
}

// ---------------------------------------------------------------------------
// The manager

ClusterDeploymentManager::ClusterDeploymentManager(const NodeServices& services, const EngineConfig& config)
    : services_(services), config_(config) {}

ClusterDeploymentManager::~ClusterDeploymentManager() = default;

std::optional<std::uint64_t> ClusterDeploymentManager::activation_tag() const {
  return active_ ? active_->tag() : std::nullopt;
}

void ClusterDeploymentManager::on_leader_change(const LeaderChange& change) {
  if (!change.local_node_is_leader) {
    deactivate();
    return;
  }
  if (active_) return;
  services_.logger.log(LogLevel::Info, kComponent, "activating as leader");
  active_ = std::make_shared<Active>(services_, config_, change.position, positions_);
  services_.events.cdm_activated(change.position);
  active_->start();
}

void ClusterDeploymentManager::deactivate() {
  if (!active_) return;
  services_.logger.log(LogLevel::Info, kComponent, "deactivating");
  if (config_.mutation(mutation::kTimersSurviveDeactivation)) retired_.push_back(active_);
  active_.reset();  // its timers are cancelled; its callbacks find it gone
  services_.events.cdm_deactivated();
}

void ClusterDeploymentManager::on_kv(const KvNotification& notification) {
  if (key_suffix(notification.key, kBlueprintPrefix) || key_suffix(notification.key, kSliceTargetPrefix)) {
    if (notification.op == KvOp::Put) {
      positions_[notification.key] =
          notification.revision != 0 ? notification.revision : notification.position;
    } else {
      positions_.erase(notification.key);
    }
  }
  if (auto active = active_) {
    active->track(notification);
    active->on_kv(notification);
  }
  // Mutation cdm-timers-survive-deactivation: a retired term still reconciles
  // from its timers, over a slice-key index that must follow the KV.
  for (const auto& retired : retired_) retired->track(notification);
}

void ClusterDeploymentManager::on_topology(const TopologyEvent& event) {
  if (auto active = active_) active->on_topology(event);
}

}  // namespace aether::engine
