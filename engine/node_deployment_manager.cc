#include "engine/node_deployment_manager.h"

#include "engine/artifact.h"
#include "engine/assertion.h"
#include "engine/mutations.h"

namespace aether::engine {

namespace {
constexpr Nanos kOnDutyRetry = seconds(2);
constexpr const char* kComponent = "ndm";

// Whether `key` is node_lifecycle_key(node), without building the key: every
// node tests every applied key (issue 14, second pass).
bool is_lifecycle_key_of(std::string_view key, std::string_view node) {
  return key.size() == kNodeLifecyclePrefix.size() + node.size() && key.starts_with(kNodeLifecyclePrefix) &&
         key.substr(kNodeLifecyclePrefix.size()) == node;
}

SliceValue state_value(SliceState state) {
  return SliceValue{state, std::nullopt, false};
}
SliceValue failed_value(std::string reason, bool fatal) {
  return SliceValue{SliceState::Failed, std::move(reason), fatal};
}

// The state a chain writes first, answering its command.
SliceState answer_of(SliceState command) {
  switch (command) {
    case SliceState::Load:
      return SliceState::Loading;
    case SliceState::Activate:
      return SliceState::Activating;
    case SliceState::Deactivate:
      return SliceState::Deactivating;
    default:
      return SliceState::Unloading;
  }
}
}  // namespace

NodeDeploymentManager::NodeDeploymentManager(const NodeServices& services, const EngineConfig& config)
    : services_(services), config_(config), timers_(services.clock) {
  quorum_ = services_.topology.has_quorum();
}

std::optional<SliceState> NodeDeploymentManager::applied_state(const std::string& artifact) const {
  auto it = applied_.find(artifact);
  if (it == applied_.end()) return std::nullopt;
  return it->second.state;
}

void NodeDeploymentManager::on_quorum(const QuorumEvent& event) {
  // Stale (out-of-order) notifications are ignored (§3, §5).
  if (event.sequence <= last_quorum_sequence_) return;
  last_quorum_sequence_ = event.sequence;
  if (event.change == QuorumChange::Lost) {
    quorum_ = false;
    restored_ = false;
    go_dormant();
  } else {
    quorum_ = true;
    if (restored_) go_active();  // its restore arrived first
  }
}

void NodeDeploymentManager::on_restored(std::uint64_t) {
  // A restore follows a store reset: Active already, this node missed its
  // quorum loss (a stale Lost): start over from the restored store.
  if (active_) go_dormant();
  restored_ = true;  // recorded whenever it arrives
  if (quorum_) go_active();
}

void NodeDeploymentManager::go_active() {
  if (active_) return;
  active_ = true;
  if (!drained()) write_on_duty();
  if (config_.mutation(mutation::kNdmSkipsStoreReconcileOnRegain) && reconciled_once_) return;
  reconciled_once_ = true;
  reconcile_with_store();
}

void NodeDeploymentManager::go_dormant() {
  active_ = false;
  ++epoch_;
  chains_.clear();
  lanes_.clear();
  store_waiters_.clear();
  timers_.cancel_all();
  on_duty_pending_ = false;
}

bool NodeDeploymentManager::drained() const {
  // Never over DRAINING or DECOMMISSIONED (engine-semantics.md §5, §8.2): an
  // operator's drain survives a restart of the node.
  auto lifecycle = services_.kv.get(node_lifecycle_key(services_.self));
  if (!lifecycle) return false;
  const auto state = parse_node_lifecycle(*lifecycle);
  return state == NodeLifecycle::Draining || state == NodeLifecycle::Decommissioned;
}

void NodeDeploymentManager::write_on_duty() {
  if (on_duty_pending_ || !active_ || drained()) return;
  on_duty_pending_ = true;
  auto committed = std::make_shared<bool>(false);
  auto life = life_.watch();
  services_.kv.submit(
      Writer::Ndm,
      {KvCommand::put(node_lifecycle_key(services_.self), node_lifecycle_name(NodeLifecycle::OnDuty))},
      [committed, life](SubmitOutcome outcome) {
        if (!life.expired() && outcome == SubmitOutcome::Committed) *committed = true;
      });
  on_duty_timer_ = timers_.after(kOnDutyRetry, [this, committed] {
    on_duty_pending_ = false;
    if (!*committed) write_on_duty();
  });
}

// One own key against the slice store (§5, on becoming Active).
void NodeDeploymentManager::reconcile_key(const std::string& artifact, SliceState state) {
  switch (state) {
    case SliceState::Load:
    case SliceState::Loading:
      start_chain(artifact, SliceState::Load);
      break;
    case SliceState::Activate:
    case SliceState::Activating:
      start_chain(artifact, SliceState::Activate);
      break;
    case SliceState::Deactivate:
    case SliceState::Deactivating:
      start_chain(artifact, SliceState::Deactivate);
      break;
    case SliceState::Unload:
    case SliceState::Unloading:
      start_chain(artifact, SliceState::Unload);
      break;
    case SliceState::Loaded:
    case SliceState::Active:
      // Judged once the slice store is idle: an unload still running would
      // otherwise leave the key claiming what the store no longer holds.
      with_store(artifact, [this, artifact, state] {
        if (!active_ || chains_.count(artifact)) return;
        auto applied = applied_.find(artifact);
        if (applied == applied_.end() || applied->second.state != state) return;
        // ACTIVE needs the store to hold it active: a key claiming ACTIVE over
        // an inactive load (a raw write landing on a running chain, whose
        // own LOADED was then dropped) is as much a lie as one over nothing.
        const auto holding = services_.slices.holding(artifact);
        if (state == SliceState::Active ? holding == SliceHolding::Active : holding != SliceHolding::NotHeld)
          return;
        const std::uint64_t id = next_chain_id_++;
        chains_[artifact] = Chain{id, state};
        write_state(artifact, id, failed_value(std::string(kLostReason), false),
                    [this, artifact, id] { finish_chain(artifact, id); });
      });
      break;
    case SliceState::Failed:
      break;
  }
}

void NodeDeploymentManager::reconcile_with_store() {
  const auto prefix = slice_node_prefix(services_.self);
  std::map<std::string, bool> own;
  for (const auto& [key, value] : services_.kv.scan(prefix)) {
    auto slice = parse_slice_key(key);
    auto parsed = parse_slice_value(value);
    if (!slice || slice->node != services_.self) continue;
    own[slice->artifact] = true;
    if (!parsed) continue;
    applied_[slice->artifact] = *parsed;
    reconcile_key(slice->artifact, parsed->state);
  }
  for (const auto& [artifact, holding] : services_.slices.held()) {
    if (holding != SliceHolding::NotHeld && !own.count(artifact)) unload_unowned(artifact);
  }
  // An operation started before going Dormant (its chain is gone) still
  // completes: if its artifact has no own key, unload what it leaves behind.
  for (const auto& [artifact, busy] : store_busy_) {
    if (busy && !own.count(artifact) && services_.slices.holding(artifact) == SliceHolding::NotHeld) {
      unload_unowned(artifact);
    }
  }
}

KvInterest NodeDeploymentManager::interest() const {
  // Its own slice keys and its own lifecycle key (on_kv skips every other).
  return KvInterest{false, {slice_node_prefix(services_.self)}, {node_lifecycle_key(services_.self)}};
}

void NodeDeploymentManager::on_kv(const KvNotification& n) {
  if (is_lifecycle_key_of(n.key, services_.self)) {
    if (n.origin == KvOrigin::Apply && n.op == KvOp::Remove && active_) {
      // Removed (by a leader that saw this node go): register again at once.
      timers_.cancel(on_duty_timer_);
      on_duty_pending_ = false;
      write_on_duty();
    }
    return;
  }
  // Another node's key (most of what a large cluster decides): skipped
  // before parsing; parse_slice_key would give a node other than self.
  const std::string_view key = n.key;
  const std::string_view self = services_.self;
  if (key.size() <= 7 + self.size() || key.substr(0, 7) != "slices/" || key.substr(7, self.size()) != self ||
      key[7 + self.size()] != '/') {
    return;
  }
  // parse_slice_key(n.key) with its node known to be self (the prefix just
  // compared; a valid node id holds no '/', so the key's first '/' after the
  // prefix ends it): valid exactly when self is a valid node id and the rest
  // a valid artifact. Only the artifact is built (issue 14, ninth pass (2)).
  const std::string_view rest = key.substr(7 + self.size() + 1);
  if (!is_valid_node_id(self) || !is_valid_artifact(rest)) return;
  const std::string artifact(rest);
  if (n.origin == KvOrigin::Reset || n.op == KvOp::Remove) {
    applied_.erase(artifact);
    if (n.origin == KvOrigin::Apply && active_) {
      cancel_chain(artifact);
      unload_unowned(artifact);
    }
    return;
  }
  auto value = parse_slice_value(n.value);
  if (!value) {
    applied_.erase(artifact);  // the leader removes keys it cannot parse
    return;
  }
  applied_[artifact] = *value;
  if (n.origin != KvOrigin::Apply || !active_) return;
  if (!is_command_state(value->state)) {
    // An echo of its own write with no chain running: the chain that wrote it
    // was cancelled (its key removed or overwritten) after the write was
    // submitted, and the write committed late. Nothing will move the key on,
    // so reconcile it against the store as on becoming Active.
    if (!chains_.count(artifact)) reconcile_key(artifact, value->state);
    return;
  }
  auto chain = chains_.find(artifact);
  if (chain != chains_.end() && chain->second.command == value->state) return;  // rewrite of its command
  start_chain(artifact, value->state);
}

void NodeDeploymentManager::start_chain(const std::string& artifact, SliceState command) {
  cancel_chain(artifact);
  const std::uint64_t id = next_chain_id_++;
  chains_[artifact] = Chain{id, command};
  switch (command) {
    case SliceState::Load:
      run_load(artifact, id);
      break;
    case SliceState::Activate:
      run_activate(artifact, id);
      break;
    case SliceState::Deactivate:
      run_deactivate(artifact, id);
      break;
    default:
      run_unload(artifact, id);
      break;
  }
}

void NodeDeploymentManager::cancel_chain(const std::string& artifact) {
  auto it = chains_.find(artifact);
  if (it == chains_.end()) return;
  const auto id = it->second.id;
  chains_.erase(it);
  if (auto lane = lanes_.find(artifact); lane != lanes_.end()) {
    std::erase_if(lane->second.writes, [&](const Write& w) { return w.chain_id == id; });
  }
}

bool NodeDeploymentManager::chain_current(const std::string& artifact, std::uint64_t chain_id) const {
  auto it = chains_.find(artifact);
  return active_ && it != chains_.end() && it->second.id == chain_id;
}

void NodeDeploymentManager::finish_chain(const std::string& artifact, std::uint64_t chain_id) {
  if (chain_current(artifact, chain_id)) chains_.erase(artifact);
}

void NodeDeploymentManager::run_load(const std::string& artifact, std::uint64_t id) {
  write_state(artifact, id, state_value(SliceState::Loading), [this, artifact, id] {
    with_store(artifact, [this, artifact, id] {
      if (!chain_current(artifact, id)) return;
      auto report = [this, artifact, id](SliceResult result) {
        if (!chain_current(artifact, id)) return;
        write_state(artifact, id,
                    result ? failed_value(result->reason, result->fatal) : state_value(SliceState::Loaded),
                    [this, artifact, id] { finish_chain(artifact, id); });
      };
      const auto holding = services_.slices.holding(artifact);
      if (holding == SliceHolding::NotHeld || config_.mutation(mutation::kNdmReloadHeld)) {
        store_op(artifact, &SliceLoader::load, report);
      } else if (holding == SliceHolding::Active) {
        store_op(artifact, &SliceLoader::deactivate, report);
      } else {
        report(std::nullopt);
      }
    });
  });
}

void NodeDeploymentManager::run_activate(const std::string& artifact, std::uint64_t id) {
  with_store(artifact, [this, artifact, id] {
    if (!chain_current(artifact, id)) return;
    auto done = [this, artifact, id] { finish_chain(artifact, id); };
    if (services_.slices.holding(artifact) == SliceHolding::NotHeld) {
      write_state(artifact, id, failed_value("not loaded", false), done);
      return;
    }
    write_state(artifact, id, state_value(SliceState::Activating), [this, artifact, id, done] {
      with_store(artifact, [this, artifact, id, done] {
        if (!chain_current(artifact, id)) return;
        auto report = [this, artifact, id, done](SliceResult result) {
          if (!chain_current(artifact, id)) return;
          write_state(artifact, id,
                      result ? failed_value(result->reason, result->fatal) : state_value(SliceState::Active),
                      done);
        };
        const auto holding = services_.slices.holding(artifact);
        if (holding == SliceHolding::NotHeld) {
          report(SliceFailure{"not loaded", false});
        } else if (holding == SliceHolding::Active) {
          report(std::nullopt);
        } else {
          store_op(artifact, &SliceLoader::activate, report);
        }
      });
    });
  });
}

void NodeDeploymentManager::run_deactivate(const std::string& artifact, std::uint64_t id) {
  with_store(artifact, [this, artifact, id] {
    if (!chain_current(artifact, id)) return;
    auto done = [this, artifact, id] { finish_chain(artifact, id); };
    const auto holding = services_.slices.holding(artifact);
    if (holding == SliceHolding::NotHeld) {
      write_state(artifact, id, failed_value(std::string(kLostReason), false), done);
      return;
    }
    if (holding == SliceHolding::Loaded) {
      write_state(artifact, id, state_value(SliceState::Loaded), done);
      return;
    }
    write_state(artifact, id, state_value(SliceState::Deactivating), [this, artifact, id, done] {
      with_store(artifact, [this, artifact, id, done] {
        if (!chain_current(artifact, id)) return;
        auto report = [this, artifact, id, done](SliceResult result) {
          if (!chain_current(artifact, id)) return;
          write_state(artifact, id,
                      result ? failed_value(result->reason, result->fatal) : state_value(SliceState::Loaded),
                      done);
        };
        if (services_.slices.holding(artifact) == SliceHolding::Active) {
          store_op(artifact, &SliceLoader::deactivate, report);
        } else {
          report(std::nullopt);
        }
      });
    });
  });
}

void NodeDeploymentManager::run_unload(const std::string& artifact, std::uint64_t id) {
  write_state(artifact, id, state_value(SliceState::Unloading), [this, artifact, id] {
    with_store(artifact, [this, artifact, id] {
      if (!chain_current(artifact, id)) return;
      if (services_.slices.holding(artifact) == SliceHolding::NotHeld) {
        write_remove(artifact, id);
        return;
      }
      store_op(artifact, &SliceLoader::unload, [this, artifact, id](SliceResult) {
        if (chain_current(artifact, id)) write_remove(artifact, id);  // even if the unload failed
      });
    });
  });
}

void NodeDeploymentManager::write_state(const std::string& artifact, std::uint64_t chain_id, SliceValue value,
                                        std::function<void()> next) {
  if (!chain_current(artifact, chain_id)) return;
  auto it = applied_.find(artifact);
  if (it != applied_.end() && it->second == value) {
    next();
    return;
  }
  enqueue(Write{artifact, chain_id,
                KvCommand::put(slice_key(services_.self, artifact), encode_slice_value(value)),
                std::move(next)});
}

void NodeDeploymentManager::write_remove(const std::string& artifact, std::uint64_t chain_id) {
  enqueue(Write{artifact, chain_id, KvCommand::remove(slice_key(services_.self, artifact)),
                [this, artifact, chain_id] { finish_chain(artifact, chain_id); }});
}

void NodeDeploymentManager::unload_unowned(const std::string& artifact) {
  with_store(artifact, [this, artifact] {
    if (!active_ || applied_.count(artifact)) return;  // a new key for it arrived meanwhile
    if (services_.slices.holding(artifact) != SliceHolding::NotHeld) {
      store_op(artifact, &SliceLoader::unload, [](SliceResult) {});
    }
  });
}

void NodeDeploymentManager::with_store(const std::string& artifact, std::function<void()> step) {
  if (store_busy_[artifact]) {
    store_waiters_[artifact].push_back(std::move(step));
    return;
  }
  step();
}

void NodeDeploymentManager::store_op(const std::string& artifact, StoreOp op,
                                     std::function<void(SliceResult)> done) {
  store_busy_[artifact] = true;
  auto life = life_.watch();
  (services_.slices.*op)(artifact, [this, life, artifact, done = std::move(done)](SliceResult result) {
    if (life.expired()) return;
    store_busy_[artifact] = false;
    done(std::move(result));
    store_idle(artifact);
  });
}

void NodeDeploymentManager::store_idle(const std::string& artifact) {
  auto it = store_waiters_.find(artifact);
  while (it != store_waiters_.end() && !it->second.empty() && !store_busy_[artifact]) {
    auto step = std::move(it->second.front());
    it->second.pop_front();
    step();
    it = store_waiters_.find(artifact);
  }
  if (it != store_waiters_.end() && it->second.empty()) store_waiters_.erase(it);
}

void NodeDeploymentManager::enqueue(Write write) {
  const std::string artifact = write.artifact;
  lanes_[artifact].writes.push_back(std::move(write));
  pump(artifact);
}

void NodeDeploymentManager::pump(const std::string& artifact) {
  // Looked up afresh on every round: a submit can run chains that touch lanes.
  while (active_) {
    auto it = lanes_.find(artifact);
    if (it == lanes_.end() || it->second.in_flight) return;
    Lane& lane = it->second;
    if (lane.writes.empty()) {
      lanes_.erase(it);
      return;
    }
    Write next = std::move(lane.writes.front());
    lane.writes.pop_front();
    if (next.chain_id != 0 && !chain_current(next.artifact, next.chain_id)) continue;
    lane.in_flight = std::move(next);
    lane.retries = 0;
    submit_current(artifact);
  }
}

void NodeDeploymentManager::submit_current(const std::string& lane_key) {
  Lane& lane = lanes_.at(lane_key);
  Write& write = *lane.in_flight;
  const bool is_remove = write.command.op == KvOp::Remove;
  std::optional<SliceValue> to;
  if (!is_remove) to = parse_slice_value(write.command.value);
  const std::optional<SliceState> to_state = to ? std::optional<SliceState>(to->state) : std::nullopt;
  const std::string_view reason = to && to->failure_reason ? std::string_view(*to->failure_reason) : "";
  const auto from = applied_state(write.artifact);
  const bool recheck = !config_.mutation(mutation::kNdmSkipsLegalityRecheck);
  if (recheck && !is_legal_transition(LifecycleRole::Ndm, from, to_state, reason)) {
    auto chain = chains_.find(write.artifact);
    if (from && chain != chains_.end() && *from == chain->second.command) {
      // The leader re-sent the command after this chain answered it: answer it again first.
      lane.writes.push_front(std::move(write));
      lane.in_flight =
          Write{lane.writes.front().artifact, lane.writes.front().chain_id,
                KvCommand::put(slice_key(services_.self, lane.writes.front().artifact),
                               encode_slice_value(state_value(answer_of(chain->second.command)))),
                nullptr};
      submit_current(lane_key);
      return;
    }
    services_.logger.log(LogLevel::Warn, kComponent,
                         "dropping write on " + write.command.key + ": the key moved to " +
                             (from ? slice_state_name(*from) : "(absent)") + " meanwhile");
    services_.events.count("ndm.dropped_illegal_write", 1);
    const std::string artifact = write.artifact;
    lane.in_flight.reset();
    cancel_chain(artifact);
    // A late echo of its own earlier write (not a leader's command) put the
    // key there: no chain serves it now, so reconcile it as on becoming Active.
    if (from && !is_command_state(*from)) reconcile_key(artifact, *from);
    pump(lane_key);
    return;
  }
  AETHER_ASSERT(services_.assertions,
                !recheck || is_legal_transition(LifecycleRole::Ndm, from, to_state, reason),
                "NDM write on " + write.command.key + " is not a lifecycle edge");
  const std::uint64_t attempt = ++attempt_id_;
  lane.attempt = attempt;
  auto life = life_.watch();
  services_.kv.submit(Writer::Ndm, {write.command}, [this, life, lane_key, attempt](SubmitOutcome outcome) {
    if (!life.expired()) on_write_done(lane_key, attempt, outcome);
  });
  lane.timer = timers_.after(config_.write_timeout_ns, [this, lane_key, attempt] {
    auto it = lanes_.find(lane_key);
    if (it != lanes_.end() && it->second.attempt == attempt) it->second.timer = 0;
    on_write_done(lane_key, attempt, SubmitOutcome::Failed);
  });
}

void NodeDeploymentManager::on_write_done(const std::string& lane_key, std::uint64_t attempt,
                                          SubmitOutcome outcome) {
  auto it = lanes_.find(lane_key);
  if (it == lanes_.end() || attempt != it->second.attempt || !it->second.in_flight) return;
  Lane& lane = it->second;
  lane.attempt = 0;  // later reports of this attempt are stale
  if (lane.timer != 0) timers_.cancel(lane.timer);
  lane.timer = 0;
  if (outcome == SubmitOutcome::Committed) {
    Write done = std::move(*lane.in_flight);
    lane.in_flight.reset();
    if (done.on_commit && (done.chain_id == 0 || chain_current(done.artifact, done.chain_id)))
      done.on_commit();
    pump(lane_key);
    return;
  }
  if (!active_) {
    lane.in_flight.reset();
    return;
  }
  if (lane.retries < config_.write_retries) {
    ++lane.retries;
    const std::uint64_t epoch = epoch_;
    timers_.after(config_.write_retry_delay_ns, [this, epoch, lane_key] {
      if (epoch != epoch_) return;
      auto current = lanes_.find(lane_key);
      if (current == lanes_.end() || !current->second.in_flight) return;
      const Write& write = *current->second.in_flight;
      if (write.chain_id != 0 && !chain_current(write.artifact, write.chain_id)) {
        current->second.in_flight.reset();
        pump(lane_key);
        return;
      }
      submit_current(lane_key);
    });
    return;
  }
  services_.logger.log(LogLevel::Warn, kComponent,
                       "giving up on write to " + lane.in_flight->command.key + " after retries");
  const std::string artifact = lane.in_flight->artifact;
  const bool chained = lane.in_flight->chain_id != 0;
  lane.in_flight.reset();
  if (chained) cancel_chain(artifact);
  if (!artifact.empty()) rescan_later(artifact);
  pump(lane_key);
}

void NodeDeploymentManager::rescan_later(const std::string& artifact) {
  // The key may be left in a state no chain moves on (LOADING, ACTIVATING,
  // UNLOADING, ...): look at it again as on becoming Active, instead of
  // leaving it to the leader's stuck detection (minutes).
  const std::uint64_t epoch = epoch_;
  timers_.after(config_.write_retry_delay_ns, [this, epoch, artifact] {
    if (epoch != epoch_ || !active_ || chains_.count(artifact)) return;
    services_.events.count("ndm.rescans", 1);
    if (auto state = applied_state(artifact)) {
      reconcile_key(artifact, *state);
    } else {
      unload_unowned(artifact);
    }
  });
}

}  // namespace aether::engine
