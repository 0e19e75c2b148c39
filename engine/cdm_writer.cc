#include "engine/cdm_writer.h"

#include <algorithm>
#include <utility>

#include "engine/assertion.h"
#include "engine/mutations.h"

namespace aether::engine {

namespace {
constexpr const char* kComponent = "cdm";
constexpr Nanos kReconcileDebounce = seconds(1);
constexpr Nanos kReconcileAfterFailure = seconds(5);

template <class... Fs>
struct Overloaded : Fs... {
  using Fs::operator()...;
};
template <class... Fs>
Overloaded(Fs...) -> Overloaded<Fs...>;

const std::string* target_base(const CdmCommand& command) {
  if (const auto* put = std::get_if<TargetPut>(&command)) return &put->base;
  if (const auto* remove = std::get_if<TargetRemove>(&command)) return &remove->base;
  return nullptr;
}
const std::string* routing_base(const CdmCommand& command) {
  if (const auto* put = std::get_if<RoutingPut>(&command)) return &put->base;
  if (const auto* remove = std::get_if<RoutingRemove>(&command)) return &remove->base;
  return nullptr;
}
}  // namespace

KvCommand encode_command(const CdmCommand& command) {
  return std::visit(Overloaded{
                        [](const SliceCommand& c) {
                          return KvCommand::put(slice_key(c.node, c.artifact),
                                                encode_slice_value(SliceValue{c.state, std::nullopt, false}));
                        },
                        [](const KeyRemove& c) { return KvCommand::remove(c.key); },
                        [](const TargetPut& c) {
                          return KvCommand::put(slice_target_key(c.base), encode_slice_target(c.target));
                        },
                        [](const TargetRemove& c) { return KvCommand::remove(slice_target_key(c.base)); },
                        [](const DecommissionPut& c) {
                          return KvCommand::put(node_lifecycle_key(c.node),
                                                node_lifecycle_name(NodeLifecycle::Decommissioned));
                        },
                        [](const KeyWrite& c) {
                          return c.value ? KvCommand::put(c.key, *c.value) : KvCommand::remove(c.key);
                        },
                        [](const RoutingPut& c) {
                          return KvCommand::put(version_routing_key(c.base),
                                                encode_version_routing(c.routing));
                        },
                        [](const RoutingRemove& c) { return KvCommand::remove(version_routing_key(c.base)); },
                    },
                    command);
}

CdmWriter::CdmWriter(const NodeServices& services, const EngineConfig& config, TimerSet& timers, Hooks hooks)
    : services_(services), config_(config), timers_(timers), hooks_(std::move(hooks)) {}

CdmWriter::~CdmWriter() {
  *alive_ = false;
}

void CdmWriter::add(CdmCommand command) {
  ++added_;
  if (const auto* base = target_base(command)) count_target(*base, 1);
  if (const auto* remove = std::get_if<KeyRemove>(&command)) ++pending_removes_[remove->key];
  if (const auto* base = routing_base(command)) ++pending_routing_[*base];
  if (const auto* slice = std::get_if<SliceCommand>(&command)) {
    // One command per key in a batch (as an etcd transaction requires): a
    // second decision on a key in the batch being built (an UNLOAD after an
    // ACTIVATE of the same reconcile) starts the next batch, so every node
    // applies them at separate positions, in order.
    // (A set of the batch's slice keys: a reconcile may add thousands.)
    if (!building_keys_.emplace(slice->node, slice->artifact).second) {
      Batch first = std::move(building_);
      building_ = Batch{};
      building_keys_ = {{slice->node, slice->artifact}};
      if (config_.mutation(mutation::kUnserializedWrites)) {
        submit_now(std::move(first));
      } else {
        queue_.push_back(std::move(first));
      }
    }
  }
  building_.commands.push_back(std::move(command));
}

bool CdmWriter::unload_rechecked(const SliceCommand& command) const {
  switch (command.why) {
    case UnloadWhy::ScaleDown:
      // The floor mutation plants "no floor at all": the re-check goes with it.
      return !config_.mutation(mutation::kSkipScaleDownRecheck) &&
             !config_.mutation(mutation::kSkipScaleDownFloor);
    case UnloadWhy::Removal:
      return !config_.mutation(mutation::kSkipRemovalRecheck);
    case UnloadWhy::Eviction:  // re-checked by the drain rule (drain_allows)
    case UnloadWhy::Cleanup:   // re-checked against the state it was decided on
    case UnloadWhy::Other:
      break;
  }
  return false;
}

bool CdmWriter::remove_pending(const std::string& key) const {
  auto it = pending_removes_.find(key);
  return it != pending_removes_.end() && it->second > 0;
}

bool CdmWriter::load_queued(const NodeId& node, const std::string& artifact) const {
  auto is_load = [&](const CdmCommand& command) {
    const auto* slice = std::get_if<SliceCommand>(&command);
    return slice != nullptr && slice->state == SliceState::Load && slice->node == node &&
           slice->artifact == artifact;
  };
  auto in = [&](const Batch& batch) {
    return std::any_of(batch.commands.begin(), batch.commands.end(), is_load);
  };
  return in(building_) || std::any_of(queue_.begin(), queue_.end(), in);
}

void CdmWriter::count_target(const std::string& base, int delta) {
  int& count = pending_targets_[base];
  const bool was_positive = count > 0;
  count += delta;
  targets_positive_ += static_cast<int>(count > 0) - static_cast<int>(was_positive);
}

bool CdmWriter::target_pending(const std::string& base) const {
  if (targets_positive_ == 0) return false;
  auto it = pending_targets_.find(base);
  return it != pending_targets_.end() && it->second > 0;
}

bool CdmWriter::routing_pending(const std::string& base) const {
  auto it = pending_routing_.find(base);
  return it != pending_routing_.end() && it->second > 0;
}

std::vector<SliceCommand> CdmWriter::slice_commands(const Batch& batch) {
  std::vector<SliceCommand> out;
  for (const auto& command : batch.commands) {
    if (const auto* slice = std::get_if<SliceCommand>(&command)) out.push_back(*slice);
  }
  return out;
}

void CdmWriter::flush(std::function<void(bool)> after) {
  if (building_.commands.empty() && !after) return;
  Batch batch = std::move(building_);
  building_ = Batch{};
  building_keys_.clear();
  batch.after = std::move(after);
  if (config_.mutation(mutation::kUnserializedWrites)) {
    submit_now(std::move(batch));
    return;
  }
  queue_.push_back(std::move(batch));
  pump();
}

void CdmWriter::pump() {
  while (!in_flight_ && !queue_.empty()) {
    Batch batch = std::move(queue_.front());
    queue_.pop_front();
    submit_now(std::move(batch));
  }
}

CdmWriter::Verdict CdmWriter::recheck(CdmCommand& command, bool& dropped_target) {
  if (auto* put = std::get_if<TargetPut>(&command)) {
    // Re-derived from the state applied now: edits that committed while it
    // waited (another client's blueprint, a scale) must not be overwritten.
    auto fresh = hooks_.rederive_target(*put);
    if (!fresh) {
      count_target(put->base, -1);
      dropped_target = true;
      return Verdict::Skip;
    }
    put->target = *fresh;
  }
  if (const auto* decommission = std::get_if<DecommissionPut>(&command)) {
    if (!hooks_.decommission_allowed(decommission->node)) {
      hooks_.schedule_reconcile(kReconcileDebounce);
      return Verdict::Skip;
    }
  }
  if (auto* write = std::get_if<KeyWrite>(&command)) {
    if (hooks_.recheck_write && !hooks_.recheck_write(*write)) return Verdict::Skip;
  }
  if (const auto* remove = std::get_if<TargetRemove>(&command)) {
    if (!config_.mutation(mutation::kSkipRemovalRecheck) && !hooks_.target_remove_still_wanted(*remove)) {
      count_target(remove->base, -1);
      dropped_target = true;
      return Verdict::Skip;
    }
  }
  if (const auto* slice = std::get_if<SliceCommand>(&command)) return recheck_slice(*slice);
  return Verdict::Keep;
}

CdmWriter::Verdict CdmWriter::recheck_slice(const SliceCommand& slice) {
  if (slice.resend && !hooks_.resend_still_wanted(slice)) return Verdict::Skip;  // its intent went meanwhile
  const std::string key = slice_key(slice.node, slice.artifact);
  auto applied_text = services_.kv.get(key);
  std::optional<SliceState> applied;
  if (applied_text) {
    auto value = parse_slice_value(*applied_text);
    // An unparseable value is not an absent key: no command is an edge
    // from it; its Remove is queued behind (engine-semantics §6).
    if (!value) return Verdict::Drop;
    applied = value->state;
  }
  const bool legal = is_legal_transition(LifecycleRole::Cdm, applied, slice.state);
  const bool cleanup_overtaken = slice.why == UnloadWhy::Cleanup && applied != slice.decided_from;
  if ((!legal && applied != slice.decided_from) || cleanup_overtaken) return Verdict::Drop;
  if (slice.state == SliceState::Activate && !hooks_.activate_ready(slice)) return Verdict::Drop;
  const bool load_blocked =
      slice.state == SliceState::Load && !slice.resend && hooks_.load_allowed && !hooks_.load_allowed(slice);
  const bool unload_blocked =
      slice.state == SliceState::Unload && hooks_.unload_allowed && !hooks_.unload_allowed(slice);
  if (load_blocked || unload_blocked ||
      ((slice.why == UnloadWhy::Eviction || slice.state == SliceState::Load) && hooks_.drain_allows &&
       !hooks_.drain_allows(slice))) {
    return Verdict::Drop;
  }
  if (slice.state == SliceState::Unload && unload_rechecked(slice) && !hooks_.unload_still_wanted(slice)) {
    hooks_.revert({slice});
    return Verdict::Drop;
  }
  AETHER_ASSERT(services_.assertions, legal,
                "CDM write " + std::string(slice_state_name(slice.state)) + " on " + key +
                    " is not a lifecycle edge from " + (applied ? slice_state_name(*applied) : "(absent)"));
  return Verdict::Keep;
}

void CdmWriter::submit_now(Batch batch) {
  // Drop commands the world overtook while they waited (the key moved away
  // from the state they were decided on and they are no longer edges).
  std::vector<CdmCommand> kept;
  Batch dropped;
  bool dropped_target = false;
  for (auto& command : batch.commands) {
    const auto verdict = recheck(command, dropped_target);
    if (verdict == Verdict::Drop) dropped.commands.push_back(std::move(command));
    if (verdict == Verdict::Keep) kept.push_back(std::move(command));
  }
  batch.commands = std::move(kept);
  if (!dropped.commands.empty()) {
    hooks_.revert(slice_commands(dropped));
    hooks_.schedule_reconcile(kReconcileDebounce);
  }
  if (dropped_target) {
    hooks_.targets_committed();  // a removal or rewrite still owed is queued again
    hooks_.schedule_reconcile(kReconcileDebounce);
  }
  if (batch.commands.empty()) {
    if (batch.after) batch.after(true);
    return;
  }
  send(std::move(batch));
}

void CdmWriter::send(Batch batch) {
  KvBatch kv_batch;
  for (const auto& command : batch.commands) {
    kv_batch.push_back(encode_command(command));
    if (const auto* slice = std::get_if<SliceCommand>(&command)) hooks_.submitted(*slice);
  }
  auto shared = std::make_shared<Batch>(std::move(batch));
  const bool serialized = !config_.mutation(mutation::kUnserializedWrites);
  const std::uint64_t attempt = ++attempt_;
  if (serialized) in_flight_ = true;
  std::weak_ptr<bool> alive = alive_;
  services_.kv.submit(Writer::Cdm, std::move(kv_batch),
                      [this, alive, attempt, shared](SubmitOutcome outcome) {
                        if (!alive.expired())
                          on_batch_done(attempt, shared, outcome == SubmitOutcome::Committed);
                      });
  if (serialized) {
    write_timer_ = timers_.after(config_.write_timeout_ns, [this, attempt, shared] {
      write_timer_ = 0;
      services_.logger.log(LogLevel::Warn, kComponent, "write timed out; outcome unknown");
      services_.events.count("write-timeouts", 1);
      on_batch_done(attempt, shared, false);
    });
  }
}

void CdmWriter::on_batch_done(std::uint64_t attempt, const std::shared_ptr<Batch>& batch, bool committed) {
  ++outcomes_;
  if (!config_.mutation(mutation::kUnserializedWrites)) {
    if (attempt != attempt_ || !in_flight_) return;  // a late report after a timeout
    in_flight_ = false;
    timers_.cancel(write_timer_);
    write_timer_ = 0;
  }
  bool touched_targets = false;
  for (const auto& command : batch->commands) {
    if (const auto* base = target_base(command)) {
      count_target(*base, -1);
      touched_targets = true;
    }
    if (const auto* base = routing_base(command)) --pending_routing_[*base];
    if (const auto* remove = std::get_if<KeyRemove>(&command)) {
      if (--pending_removes_[remove->key] <= 0) pending_removes_.erase(remove->key);
    }
  }
  if (!committed) {
    hooks_.revert(slice_commands(*batch));
    hooks_.schedule_reconcile(kReconcileAfterFailure);
  }
  if (batch->after) batch->after(committed);
  // Targets skipped while these writes were pending. After a failure the
  // reconcile 5s later does it: rewriting at once can loop at one instant
  // when submits are rejected at once (no quorum the engine has not heard of).
  if (touched_targets && committed) hooks_.targets_committed();
  flush();
  pump();
}

}  // namespace aether::engine
