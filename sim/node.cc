#include "sim/node.h"

#include <algorithm>
#include <bit>
#include <cassert>

#include "sim/select.h"

namespace aether::sim {

using engine::KvNotification;
using engine::KvOp;
using engine::KvOrigin;
using engine::QuorumChange;
using engine::QuorumEvent;
using engine::SubmitOutcome;
using engine::TopologyChange;

namespace {

const char* change_name(TopologyChange change) {
  switch (change) {
    case TopologyChange::NodeAdded:
      return "added";
    case TopologyChange::NodeRemoved:
      return "removed";
    case TopologyChange::NodeDown:
      return "down";
  }
  return "?";
}

const char* holding_name(engine::SliceHolding holding) {
  switch (holding) {
    case engine::SliceHolding::NotHeld:
      return "none";
    case engine::SliceHolding::Loaded:
      return "loaded";
    case engine::SliceHolding::Active:
      return "active";
  }
  return "?";
}

}  // namespace

SimNode::SimNode(World& world, ConsensusKv& consensus, NodeId id,
                 std::function<void(const NodeId&)> on_engine_failure)
    : world_(world),
      consensus_(consensus),
      id_(std::move(id)),
      on_engine_failure_(std::move(on_engine_failure)) {}

SimNode::~SimNode() {
  shutdown();
}

void SimNode::shutdown() {
  // The runtime goes first: it may still call its services while it dies,
  // and nothing it says then reaches the trace or the observers.
  silent_ = true;
  up_ = false;
  world_.set_running(vertex_, false);
  ++incarnation_;
  withdraw();
  runtime_.reset();
  kv_listeners_.clear();
  topology_listeners_.clear();
}

template <typename F>
void SimNode::guarded(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    engine_failed(e.what());
  } catch (...) {
    engine_failed("unknown exception");
  }
}

void SimNode::engine_failed(const std::string& message) {
  if (failing_) return;
  failing_ = true;
  drop_deferred();  // everything addressed to a failing node is dropped
  world_.trace.event(world_.now(), "engine.assert").str("node", id_).str("message", message);
  world_.notify([&](WorldObserver& o) { o.on_engine_assert(world_.now(), id_, message); });
  on_engine_failure_(id_);
}

// ---- lifecycle -------------------------------------------------------------

void SimNode::start(ViewRef initial_view, const engine::NodeRuntimeFactory& factory) {
  ++incarnation_;
  up_ = true;
  paused_ = false;
  failing_ = false;
  view_ = initial_view ? std::move(initial_view) : empty_view();
  topology_event_.view = view_->names;
  view_vertices_valid_ = false;
  quorum_ = false;
  restored_ = false;
  has_store_ = false;
  materialized_.reset();
  applying_ = nullptr;
  applied_position_ = 0;
  arrived_.clear();
  if (world_.vertex_of) vertex_ = world_.vertex_of(id_);
  world_.set_running(vertex_, true);
  withdraw();
  pending_submits_.clear();
  queued_writes_.clear();
  held_quorum_event_.reset();
  held_quorum_timer_ = 0;
  timers_.clear();
  inbox_topology_.clear();
  inbox_delivery_.clear();
  inbox_callback_.clear();
  kv_listeners_.clear();
  topology_listeners_.clear();
  slices_ =
      std::make_unique<SimSliceStore>(*this, world_.slices_prng, world_.config.slices, world_.slice_rules);
  if (factory) {
    engine::NodeServices services{id_, *this, *this, *this, *slices_, *this, *this, *this};
    guarded([&] { runtime_ = factory(services); });
  }
  // Quorum (and the restore) are established by a topology delivery, so that
  // observers and the engine see them as events of this instant.
  post(0, Lane::Topology, Inbox::Topology, [this] { update_quorum(); });
}

void SimNode::stop() {
  if (!up_) return;
  up_ = false;
  world_.set_running(vertex_, false);
  withdraw();
  ++incarnation_;  // every callback of the dead incarnation is ignored from now on
  auto pending = std::move(pending_submits_);
  pending_submits_.clear();
  for (auto& [batch, submits] : pending) {
    for (auto& submit : submits) consensus_.fail(submit.submission_id, SubmitFailure::Crashed);
  }
  consensus_.node_stopped(id_);  // what it held is gone with it
  runtime_.reset();
  kv_listeners_.clear();
  topology_listeners_.clear();
  for (auto& [timer, event] : timers_) {
    if (event != 0) world_.loop.cancel(event);
  }
  timers_.clear();
  if (held_quorum_timer_ != 0) world_.loop.cancel(held_quorum_timer_);
  held_quorum_timer_ = 0;
  held_quorum_event_.reset();
  slices_.reset();
  paused_ = false;
  failing_ = false;
  quorum_ = false;
  restored_ = false;
  view_ = empty_view();
  topology_event_.view = {};
  view_vertices_valid_ = false;
  has_store_ = false;
  materialized_.reset();
  applying_ = nullptr;
  applied_position_ = 0;
  arrived_.clear();
  queued_writes_.clear();
  inbox_topology_.clear();
  inbox_delivery_.clear();
  inbox_callback_.clear();
}

void SimNode::pause() {
  // Everything due by now has happened; the rest arrives as events again,
  // to be queued as everything addressed to a paused node is.
  catch_up();
  undefer();
  paused_ = true;
  world_.set_running(vertex_, false);
}

void SimNode::replay_queued() {
  const std::uint64_t incarnation = incarnation_;
  auto drain = [&](std::deque<QueuedCall>& inbox) {
    while (!inbox.empty() && alive(incarnation)) {
      QueuedCall call = std::move(inbox.front());
      inbox.pop_front();
      arrive(Inbox::Callback, std::move(call));
    }
  };
  drain(inbox_topology_);
  drain(inbox_delivery_);
  drain(inbox_callback_);
}

EventLoop::EventId SimNode::post(Nanos delay_ns, Lane lane, Inbox inbox, std::function<void()> call,
                                 engine::TimerId timer) {
  const std::uint64_t incarnation = incarnation_;
  return world_.loop.schedule_after(
      delay_ns,
      [this, incarnation, inbox, timer, call = std::move(call)]() mutable {
        if (!alive(incarnation)) return;
        arrive(inbox, QueuedCall{std::move(call), timer});
      },
      lane);
}

void SimNode::arrive(Inbox inbox, QueuedCall call) {
  catch_up();  // the deferred positions due before this event come first
  if (call.timer != 0) {
    auto it = timers_.find(call.timer);
    if (it == timers_.end()) return;  // cancelled
    if (paused_) {
      it->second = 0;
    } else {
      timers_.erase(it);
    }
  }
  if (paused_) {
    switch (inbox) {
      case Inbox::Topology:
        inbox_topology_.push_back(std::move(call));
        break;
      case Inbox::Delivery:
        inbox_delivery_.push_back(std::move(call));
        break;
      case Inbox::Callback:
        inbox_callback_.push_back(std::move(call));
        break;
    }
    return;
  }
  call.call();
}

// ---- engine::Clock -----------------------------------------------------------

namespace {
__extension__ using Wide = __int128;
}  // namespace

engine::Nanos SimNode::now() const {
  if (drift_ppm_ == 0) return world_.now();
  // The node's clock runs at (1 + drift) of world time from t=0.
  const Wide local = static_cast<Wide>(world_.now()) * (kPpmOne + drift_ppm_) / kPpmOne;
  return static_cast<engine::Nanos>(local);
}

Nanos SimNode::world_delay(engine::Nanos delay_ns) const {
  delay_ns = std::max<engine::Nanos>(delay_ns, 0);
  if (drift_ppm_ == 0) return delay_ns;
  // The first world instant at which the local clock reads now() + delay.
  const Wide target = static_cast<Wide>(now()) + delay_ns;
  const Wide rate = static_cast<Wide>(kPpmOne) + drift_ppm_;
  const Wide at = (target * kPpmOne + rate - 1) / rate;
  return std::max<Nanos>(static_cast<Nanos>(at) - world_.now(), 0);
}

void SimNode::set_clock_drift(std::int64_t drift_ppm) {
  drift_ppm_ = drift_ppm;
  world_.trace.event(world_.now(), "clock.drift").str("node", id_).i64("drift_ppm", drift_ppm);
}

engine::TimerId SimNode::schedule_after(engine::Nanos delay_ns, std::function<void()> fire) {
  const engine::TimerId id = next_timer_++;
  if (!up_) return id;
  const EventLoop::EventId event = post(
      world_delay(delay_ns), Lane::Normal, Inbox::Callback, [this, fire = std::move(fire)] { guarded(fire); },
      id);
  timers_[id] = event;
  return id;
}

void SimNode::cancel(engine::TimerId id) {
  auto it = timers_.find(id);
  if (it == timers_.end()) return;
  if (it->second != 0) world_.loop.cancel(it->second);
  timers_.erase(it);
}

// ---- topology ----------------------------------------------------------------

std::vector<NodeId> SimNode::configured_nodes() const {
  return {world_.configured.begin(), world_.configured.end()};
}

void SimNode::deliver_view_change(TopologyChange change, const NodeId& peer, ViewRef new_view) {
  if (!up_ || failing_) return;
  arrive(Inbox::Topology, QueuedCall{[this, change, peer, new_view = std::move(new_view)]() mutable {
           apply_view_change(change, peer, std::move(new_view));
         }});
}

void SimNode::reevaluate_quorum() {
  if (!up_ || failing_) return;
  arrive(Inbox::Topology, QueuedCall{[this] { update_quorum(); }});
}

void SimNode::apply_view_change(TopologyChange change, const NodeId& peer, ViewRef new_view) {
  topology_event_.change = change;
  topology_event_.node = peer;
  view_ = new_view ? std::move(new_view) : empty_view();
  topology_event_.view = view_->names;
  view_vertices_valid_ = false;
  world_.trace.event(world_.now(), "view")
      .str("node", id_)
      .str("change", change_name(change))
      .str("peer", peer)
      .encoded_list("view", view_->trace_list);
  const engine::TopologyEvent& event = topology_event_;
  world_.notify([&](WorldObserver& o) { o.on_view(world_.now(), id_, event); });
  for (engine::TopologyListener* listener : topology_listeners_) {
    if (failing_) return;
    guarded([&] { listener->on_topology(event); });
  }
  if (!failing_) update_quorum();
}

void SimNode::update_quorum() {
  if (!up_ || failing_) return;
  std::size_t members = 0;
  const std::vector<std::uint32_t>* vertices = known_view_vertices();
  if (vertices != nullptr && world_.vertex_of) {
    // By vertex: a byte per member (issue 14, seventh pass: every node
    // counted its view by name at every view change, O(n^2) string compares
    // per crash). A member that is no vertex is no configured node.
    const std::vector<std::uint8_t>& configured = world_.configured_vertex;
    for (const std::uint32_t vertex : *vertices) {
      if (vertex < configured.size()) members += configured[vertex];
    }
  } else {
    // Both are sorted: one merge walk counts the configured members of the view.
    const std::vector<NodeId>& sorted = world_.configured_sorted;
    auto configured = sorted.begin();
    for (const auto& node : view_->names) {
      while (configured != sorted.end() && *configured < node) ++configured;
      if (configured == sorted.end()) break;
      if (*configured == node) ++members;
    }
  }
  const bool quorum = world_.configured.count(id_) > 0 && members >= world_.majority();
  if (quorum == quorum_) return;
  if (quorum) {
    establish_quorum();
  } else {
    lose_quorum();
  }
}

void SimNode::send_quorum(const QuorumEvent& event) {
  for (engine::TopologyListener* listener : topology_listeners_) {
    if (failing_) return;
    guarded([&] { listener->on_quorum(event); });
  }
}

void SimNode::deliver_quorum_to_engine(const QuorumEvent& event) {
  if (held_quorum_event_) {
    // Fault: the held event arrives after this newer one.
    const QuorumEvent held = *held_quorum_event_;
    held_quorum_event_.reset();
    if (held_quorum_timer_ != 0) world_.loop.cancel(held_quorum_timer_);
    held_quorum_timer_ = 0;
    send_quorum(event);
    send_quorum(held);
    return;
  }
  auto fault = world_.quorum_reorder_ppm.find(id_);
  if (fault == world_.quorum_reorder_ppm.end()) fault = world_.quorum_reorder_ppm.find("");  // "*"
  if (fault != world_.quorum_reorder_ppm.end() && fault->second > 0 &&
      world_.reorder_prng.chance_ppm(fault->second)) {
    held_quorum_event_ = event;
    world_.trace.event(world_.now(), "fault.quorum_held").str("node", id_).u64("sequence", event.sequence);
    // Released after twice failure_detection if no newer event overtakes it.
    held_quorum_timer_ = post(2 * world_.detection_max_ns(), Lane::Topology, Inbox::Topology, [this] {
      held_quorum_timer_ = 0;
      if (!held_quorum_event_) return;
      const QuorumEvent held = *held_quorum_event_;
      held_quorum_event_.reset();
      send_quorum(held);
    });
    return;
  }
  send_quorum(event);
}

void SimNode::lose_quorum() {
  undefer();  // later arrivals are discarded (or applied if quorum is back by then)
  quorum_ = false;
  const QuorumEvent event{QuorumChange::Lost, ++quorum_sequence_};
  world_.trace.event(world_.now(), "quorum")
      .str("node", id_)
      .str("change", "lost")
      .u64("sequence", event.sequence);
  world_.notify([&](WorldObserver& o) { o.on_quorum(world_.now(), id_, event); });
  deliver_quorum_to_engine(event);
  if (failing_) return;

  // The local store resets: a remove notification per present key.
  begin_round();
  restored_ = false;
  arrived_.clear();
  const std::size_t removed = remove_all(applied_position_, KvOrigin::Reset);
  materialized_.reset();  // empty now: has_store_ false says so
  world_.trace.event(world_.now(), "kv.reset").str("node", id_).u64("keys", removed);
  world_.notify([&](WorldObserver& o) { o.on_reset(world_.now(), id_); });
  end_round();
  if (failing_) return;

  // Then pending submits fail (their batches stay pending: decided or dropped later).
  auto pending = std::move(pending_submits_);
  pending_submits_.clear();
  for (auto& [batch, submits] : pending) {
    for (auto& submit : submits) {
      consensus_.fail(submit.submission_id, SubmitFailure::QuorumLost);
      world_.trace.event(world_.now(), "kv.submit_failed")
          .str("node", id_)
          .str("writer", submit.writer)
          .u64("batch", batch)
          .str("reason", "quorum-lost");
      if (failing_) continue;
      guarded([&] { submit.done(SubmitOutcome::Failed); });
    }
  }
}

std::size_t SimNode::remove_all(std::uint64_t position, engine::KvOrigin origin) {
  // The store, materialized (one copy), loses its keys in key order: each
  // key's removal is notified with the store already without it.
  materialized_ = store_entries();
  has_store_ = false;
  const std::size_t count = materialized_->size();
  while (materialized_ && !materialized_->empty()) {
    auto removed = materialized_->extract(materialized_->begin());
    notify_kv(KvNotification{KvOp::Remove, std::move(removed.key()), {}, position, origin, 0});
  }
  return count;
}

void SimNode::establish_quorum() {
  quorum_ = true;
  const QuorumEvent event{QuorumChange::Established, ++quorum_sequence_};
  world_.trace.event(world_.now(), "quorum")
      .str("node", id_)
      .str("change", "established")
      .u64("sequence", event.sequence);
  world_.notify([&](WorldObserver& o) { o.on_quorum(world_.now(), id_, event); });
  deliver_quorum_to_engine(event);
  if (failing_) return;

  // Restore the snapshot at the latest decided position: remove-all over the
  // present keys, then put-all in key order.
  begin_round();
  const std::uint64_t latest = consensus_.latest_position();
  std::uint64_t position = latest;
  if (world_.config.restore_lag_ns > 0) {
    // Restore lag: a decided position up to restore_lag in the past, never
    // older than what this node itself applied; the rest is caught up below.
    const Nanos back = world_.restore_prng.duration_between(0, world_.config.restore_lag_ns);
    position = std::max(consensus_.position_at(world_.now() - back), applied_position_);
    position = std::min(position, latest);
  }
  // The store at `position` is read in place, with each value's revision:
  // nothing is decided during this round (decisions are events; submits wait
  // for end_round).
  const std::size_t removed = remove_all(position, KvOrigin::Restore);
  std::size_t restored_keys = 0;
  consensus_.versions().for_each_at(
      position, [&](const std::string& key, const std::string& value, std::uint64_t revision) {
        ++restored_keys;
        if (materialized_) materialized_->emplace_hint(materialized_->end(), key, value);
        notify_kv(KvNotification{KvOp::Put, key, value, position, KvOrigin::Restore, revision});
      });
  // The copy now holds exactly the decided store at `position`: back to the cursor.
  materialized_.reset();
  has_store_ = true;
  applied_position_ = position;
  const std::uint64_t digest = consensus_.versions().digest_at(position);
  world_.trace.event(world_.now(), "kv.restore")
      .str("node", id_)
      .u64("position", position)
      .u64("digest", digest)
      .u64("removed", removed)
      .u64("keys", restored_keys);
  world_.notify([&](WorldObserver& o) { o.on_restore(world_.now(), id_, position, digest); });
  restored_ = true;
  for (engine::KvListener* listener : kv_listeners_) {
    if (failing_) break;
    guarded([&] { listener->on_restored(position); });
  }
  end_round();
  if (position < latest && quorum_ && !failing_) {
    // Catch-up: the later decisions arrive as ordinary applies, one drawn latency on.
    const Nanos delay = world_.network.draw_latency(world_.restore_prng);
    world_.trace.event(world_.now(), "kv.catch_up")
        .str("node", id_)
        .u64("from", position + 1)
        .u64("to", latest)
        .i64("in_ns", delay);
    post(delay, Lane::Normal, Inbox::Delivery, [this, from = position + 1, latest] {
      if (!quorum_) return;
      for (std::uint64_t p = from; p <= latest; ++p) {
        if (p > applied_position_) arrived_.insert(p);
      }
      apply_ready_positions();
    });
  }
  apply_ready_positions();
}

// ---- KV ----------------------------------------------------------------------

// Deferred deliveries (issue 14, fifth pass). Every note stands for the
// delivery event(s) on_decided would have scheduled at the same keys; the
// node is steady from the first note to the last, so each arrival would
// have been applied or queued for its turn, and position p would have been
// applied in the event of the latest arrival up to it (`due`). A read at any
// key applies the notes due by then; listeners of no key of a quiet note
// would have ignored its notifications.

bool SimNode::try_defer(std::uint64_t position, EventLoop::Key arrival, EventLoop::Key dup, bool wake,
                        const EventLoop::Key& horizon) {
  // materialized_ is only ever set with has_store_ false (a reset or restore).
  assert(!materialized_ || !has_store_);
  if (vertex_ == World::kNoVertex || !up_ || paused_ || failing_ || !quorum_ || !has_store_ ||
      in_apply_ > 0) {
    return false;
  }
  catch_up_quiet(horizon);  // keeps the notes few
  const bool empty = deferred_.empty();
  const std::uint64_t last = empty ? applied_position_ : deferred_last_;
  if (last + 1 != position) return false;  // an earlier position is still an event (or held)
  const EventLoop::Key due = !empty && arrival <= deferred_due_ ? deferred_due_ : arrival;
  if (wake) {
    ++deferred_wakes_;
    if (!(due == last_wake_)) {
      wakes_.push_back(world_.loop.schedule_typed_keyed(due.time, due.order, this, kWake, incarnation_));
      last_wake_ = due;
    }
  }
  if (empty) {
    deferred_first_ = position;
    deferred_floor_ = EventLoop::Key{-1, 0};
    deferred_dups_.clear();
  }
  if (dup.time >= 0) {
    auto stale = std::find_if(deferred_dups_.begin(), deferred_dups_.end(),
                              [&](const auto& entry) { return entry.first >= deferred_first_; });
    deferred_dups_.erase(deferred_dups_.begin(), stale);
    deferred_dups_.emplace_back(position, dup);
  }
  // Written in place (no note built on the stack and copied).
  assert((arrival.order & Deferred::kWakeBit) == 0);
  Deferred& note = deferred_.push_back_slot();
  note.time = arrival.time;
  note.marked = arrival.order | (wake ? Deferred::kWakeBit : 0);
  deferred_last_ = position;
  deferred_due_ = due;
  return true;
}

void SimNode::catch_up_quiet(const EventLoop::Key& horizon) const {
  // Not while a position is being applied (a read from inside it, or from
  // the writes it flushes, sees the store at that position).
  if (deferred_.empty() || in_apply_ > 0) return;
  if (deferred_wakes_ == 0 && deferred_due_ <= horizon) {
    // The last note is due, so every note is (dues only grow), and none wakes.
    applied_position_ = deferred_last_;
    deferred_.clear();
    return;
  }
  while (!deferred_.empty() && !deferred_.front().wake()) {
    const EventLoop::Key due = front_due();
    if (!(due <= horizon)) break;
    applied_position_ = deferred_first_++;
    deferred_floor_ = due;
    deferred_.pop_front();
  }
}

void SimNode::catch_up() {
  if (deferred_.empty() || in_apply_ > 0) return;
  const EventLoop::Key horizon = world_.loop.horizon();
  while (!deferred_.empty() && up_ && quorum_ && !failing_ && !paused_) {
    const EventLoop::Key due = front_due();
    if (!(due <= horizon)) break;
    const bool wake = deferred_.front().wake();
    const std::uint64_t position = deferred_first_++;
    deferred_floor_ = due;
    deferred_.pop_front();
    if (wake) {
      --deferred_wakes_;
      apply_position(position);  // may undefer the rest (a widened interest)
    } else {
      applied_position_ = position;
    }
  }
  // Arrivals an undefer made while applying: applied in this event, as then.
  if (!arrived_.empty()) apply_ready_positions();
}

void SimNode::undefer() {
  const EventLoop::Key horizon = world_.loop.horizon();
  std::size_t next_dup = 0;
  for (std::size_t i = 0; i < deferred_.size(); ++i) {
    const EventLoop::Key arrival = deferred_[i].arrival();
    const std::uint64_t position = deferred_first_ + i;
    if (arrival <= horizon) {
      arrived_.insert(position);  // it arrived: it waits for its turn
    } else {
      world_.loop.schedule_typed_keyed(arrival.time, arrival.order, this, position, incarnation_);
    }
    // Its duplicate (dups are kept in position order, at most one each).
    while (next_dup < deferred_dups_.size() && deferred_dups_[next_dup].first < position) ++next_dup;
    if (next_dup < deferred_dups_.size() && deferred_dups_[next_dup].first == position) {
      const EventLoop::Key dup = deferred_dups_[next_dup].second;
      if (!(dup <= horizon))
        world_.loop.schedule_typed_keyed(dup.time, dup.order, this, position, incarnation_);
    }
  }
  drop_deferred();  // and the wakes: the events stand for them now
}

void SimNode::drop_deferred() {
  for (EventLoop::EventId wake : wakes_) world_.loop.cancel(wake);
  wakes_.clear();
  last_wake_ = EventLoop::Key{-1, 0};
  deferred_.clear();
  deferred_dups_.clear();
  deferred_wakes_ = 0;
}

void SimNode::withdraw() {
  drop_deferred();
  if (vertex_ != World::kNoVertex) world_.interests.clear(vertex_);
}

void SimNode::refresh_interest() {
  if (vertex_ == World::kNoVertex) return;
  engine::KvInterest interest;
  for (const engine::KvListener* listener : kv_listeners_) {
    engine::KvInterest one = listener->interest();
    if (one.all) {
      interest = engine::KvInterest{true, {}, {}};
      break;
    }
    interest.prefixes.insert(interest.prefixes.end(), one.prefixes.begin(), one.prefixes.end());
    interest.keys.insert(interest.keys.end(), one.keys.begin(), one.keys.end());
  }
  world_.interests.set(vertex_, interest);
}

void SimNode::interest_changed() {
  if (!up_) return;  // dying: its listeners are going
  // What was deferred under the old interest arrives as events again (the
  // notes due by now were applied when this event began).
  undefer();
  refresh_interest();
}

void SimNode::deliver_decided_after(Nanos delay_ns, std::uint64_t position) {
  // A typed event, no closure (issue 14, second pass); the same point in the
  // event order as post() gave it, and the same handling when it fires.
  world_.loop.schedule_typed_at(world_.now() + delay_ns, this, position, incarnation_, Lane::Normal);
}

void SimNode::fire(std::uint64_t position, std::uint64_t incarnation) {
  if (!alive(incarnation)) return;
  if (position == kWake) {
    if (!wakes_.empty()) wakes_.pop_front();
    catch_up();
    return;
  }
  catch_up();
  if (paused_) {
    inbox_delivery_.push_back(QueuedCall{[this, position] { on_arrival(position); }});
    return;
  }
  on_arrival(position);
}

void SimNode::on_arrival(std::uint64_t position) {
  if (!quorum_) return;                       // deliveries without quorum are discarded
  if (position <= applied_position_) return;  // duplicate or covered by a restore
  if (position == applied_position_ + 1 && arrived_.empty()) {
    apply_position(position);  // the common case: in order, nothing waiting
    apply_ready_positions();
    return;
  }
  arrived_.insert(position);
  apply_ready_positions();
}

void SimNode::apply_ready_positions() {
  while (!arrived_.empty() && quorum_ && !failing_ && up_) {
    const std::uint64_t next = arrived_.top();
    if (next <= applied_position_) {
      arrived_.pop();
      continue;
    }
    if (next != applied_position_ + 1) return;
    arrived_.pop();
    apply_position(next);
  }
}

void SimNode::apply_position(std::uint64_t position) {
  const BatchRecord& record = consensus_.decided(position);
  // Until it returns (its writes flushed), the next position waits its turn.
  ++in_apply_;
  begin_round();
  applying_ = &record;
  applying_count_ = 0;
  // One notification per command, built once per position for every node.
  for (const KvNotification& notification : consensus_.notifications(position)) {
    ++applying_count_;  // the store now includes this command
    notify_kv(notification);
  }
  applying_ = nullptr;
  applied_position_ = position;
  const std::uint64_t digest = consensus_.versions().digest_at(position);
  // The notifications of this apply are the batch's commands in order (its
  // kv.submit line): folded into this line (issue 14, second pass).
  world_.trace.event(world_.now(), "kv.apply")
      .str("node", id_)
      .u64("position", position)
      .u64("digest", digest)
      .u64("keys", record.commands.size());
  world_.notify([&](WorldObserver& o) { o.on_apply(world_.now(), id_, position, digest); });
  auto it = pending_submits_.find(record.batch_id);
  if (it != pending_submits_.end()) {
    auto completed = std::move(it->second);
    pending_submits_.erase(it);
    for (auto& submit : completed) {
      if (failing_) break;
      guarded([&] { submit.done(SubmitOutcome::Committed); });
    }
  }
  end_round();
  --in_apply_;
}

void SimNode::notify_kv(const KvNotification& notification) {
  // No trace line per notification (issue 14, second pass): kv.apply,
  // kv.reset and kv.restore say which notifications the round made.
  for (engine::KvListener* listener : kv_listeners_) {
    if (failing_) return;
    guarded([&] { listener->on_kv(notification); });
  }
}

void SimNode::end_round() {
  if (--notify_depth_ > 0) return;
  while (!queued_writes_.empty() && up_ && !failing_) {
    QueuedWrite write = std::move(queued_writes_.front());
    queued_writes_.pop_front();
    real_submit(write.writer, std::move(write.batch), std::move(write.done));
  }
}

std::optional<std::string> SimNode::get(const std::string& key) const {
  catch_up_quiet();
  if (materialized_) {
    auto found = materialized_->find(key);
    if (found == materialized_->end()) return std::nullopt;
    return found->second;
  }
  if (!has_store_) return std::nullopt;
  if (applying_ != nullptr) {
    for (std::size_t i = applying_count_; i-- > 0;) {
      const auto& command = applying_->commands[i];
      if (command.key != key) continue;
      if (command.op == KvOp::Put) return command.value;
      return std::nullopt;
    }
  }
  const std::string* value = consensus_.versions().get(key, applied_position_);
  if (value == nullptr) return std::nullopt;
  return *value;
}

std::vector<std::pair<std::string, std::string>> SimNode::scan(const std::string& prefix) const {
  catch_up_quiet();
  std::vector<std::pair<std::string, std::string>> out;
  if (materialized_) {
    const KvMap& entries = *materialized_;
    for (auto it = entries.lower_bound(prefix);
         it != entries.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
      out.emplace_back(it->first, it->second);
    }
    return out;
  }
  if (!has_store_) return out;
  if (applying_ == nullptr) {
    consensus_.versions().for_each(
        prefix, applied_position_,
        [&](const std::string& key, const std::string& value) { out.emplace_back(key, value); });
    return out;
  }
  KvMap merged;
  consensus_.versions().for_each(prefix, applied_position_,
                                 [&](const std::string& key, const std::string& value) {
                                   merged.emplace_hint(merged.end(), key, value);
                                 });
  for (std::size_t i = 0; i < applying_count_; ++i) {
    const auto& command = applying_->commands[i];
    if (command.key.compare(0, prefix.size(), prefix) != 0) continue;
    if (command.op == KvOp::Put) {
      merged[command.key] = command.value;
    } else {
      merged.erase(command.key);
    }
  }
  out.assign(merged.begin(), merged.end());
  return out;
}

KvMap SimNode::store_entries() const {
  catch_up_quiet();
  if (materialized_) return *materialized_;
  if (!has_store_) return {};
  KvMap entries = consensus_.versions().snapshot(applied_position_);
  for (std::size_t i = 0; applying_ != nullptr && i < applying_count_; ++i) {
    const auto& command = applying_->commands[i];
    if (command.op == KvOp::Put) {
      entries[command.key] = command.value;
    } else {
      entries.erase(command.key);
    }
  }
  return entries;
}

std::uint64_t SimNode::store_digest() const {
  catch_up_quiet();
  if (materialized_) return KvStoreDigest::of(*materialized_);
  if (!has_store_) return 0;
  if (applying_ == nullptr) return consensus_.versions().digest_at(applied_position_);
  return KvStoreDigest::of(store_entries());
}

void SimNode::submit(engine::Writer writer, engine::KvBatch batch, std::function<void(SubmitOutcome)> done) {
  submit_as(engine::writer_name(writer), std::move(batch), std::move(done));
}

void SimNode::submit_as(const std::string& writer, engine::KvBatch batch,
                        std::function<void(SubmitOutcome)> done) {
  if (!up_ || failing_) return;
  if (notify_depth_ > 0) {
    queued_writes_.push_back(QueuedWrite{writer, std::move(batch), std::move(done)});
    return;
  }
  real_submit(writer, std::move(batch), std::move(done));
}

void SimNode::reject_submit(const std::string& writer, const char* reason,
                            std::function<void(SubmitOutcome)> done) {
  world_.trace.event(world_.now(), "kv.submit_failed")
      .str("node", id_)
      .str("writer", writer)
      .str("reason", reason);
  post(0, Lane::Normal, Inbox::Callback,
       [this, done = std::move(done)] { guarded([&] { done(SubmitOutcome::Failed); }); });
}

bool SimNode::submit_is_lost(const std::string& writer) {
  auto& rules = world_.lost_submits;
  for (auto it = rules.begin(); it != rules.end(); ++it) {
    if (!it->node.empty() && it->node != id_) continue;
    if (!it->writer.empty() && it->writer != writer) continue;
    if (it->one_shot) {
      rules.erase(it);
      return true;
    }
    if (it->ppm > 0 && world_.lost_submit_prng.chance_ppm(it->ppm)) return true;
  }
  return false;
}

const std::vector<std::uint32_t>& SimNode::view_vertices() {
  if (view_->vertices_known()) return view_->vertices;
  if (!view_vertices_valid_) {
    view_vertices_.clear();
    view_vertices_.reserve(view_->names.size());
    for (const auto& member : view_->names)
      view_vertices_.push_back(world_.vertex_of ? world_.vertex_of(member) : World::kNoVertex);
    view_vertices_valid_ = true;
  }
  return view_vertices_;
}

std::optional<Acks> SimNode::gather_acks() {
  const std::vector<NodeId>& members = view_->names;
  const std::size_t needed = world_.majority() - 1;
  if (needed == 0) return Acks{0, {id_}};
  // Each answering peer as (round trip, its place in the view): the view is in
  // NodeId order, so ties between equal round trips fall as they did by
  // NodeId. Packed into one integer (round trip << kPlaceBits | place), which
  // orders exactly as the pair whenever both fit (issue 14, fifth pass).
  constexpr int kPlaceBits = 16;
  constexpr Nanos kMaxPackedRoundTrip = Nanos{1} << (62 - kPlaceBits);
  std::vector<std::pair<Nanos, std::uint32_t>>& round_trips = world_.scratch.pairs;
  std::vector<std::uint64_t>& packed = world_.scratch.packed;
  round_trips.clear();
  std::size_t answers = 0;
  bool packed_direct = false;  // the answers are packed[0, answers), not round_trips
  // Without partition, isolate or link rules, a link is cut exactly when one
  // of its ends is down, paused or gone: one test per peer, by vertex index
  // (issue 14, fourth pass) instead of four name lookups.
  const bool no_rules =
      !world_.network.any_rule_in_force() && world_.link_cut && world_.node_active && world_.vertex_of;
  if (no_rules) {
    // link_cut(self, self): this node is down, paused or gone; nobody answers.
    if (world_.link_cut(id_, id_)) return std::nullopt;
    const std::vector<std::uint32_t>& vertices = view_vertices();
    const std::vector<std::uint8_t>& running = world_.running;
    const SimNetwork& network = world_.network;
    // The peers that answer: active means up, unpaused, not removed
    // (running) and configured (a vertex is configured unless removed, and a
    // removed one never runs again).
    auto answers_at = [&](std::size_t k) {
      const std::uint32_t vertex = vertices[k];
      return vertex != vertex_ && vertex != World::kNoVertex && vertex < running.size() &&
             running[vertex] != 0;
    };
    // The network stream as a local copy while the loop draws (issue 14,
    // seventh pass: its state stays in registers); the same draws in order.
    Prng prng = world_.network_prng;
    const Nanos lo = network.min_latency_ns();
    const Nanos hi = network.max_latency_ns();
    if (network.plain_is_latency() && lo >= 0 && 2 * hi < kMaxPackedRoundTrip &&
        members.size() <= (std::size_t{1} << kPlaceBits)) {
      // No link rule: draw_delivery is draw_plain whatever the endpoints, and
      // draw_plain one latency when no drop or duplicate rate is set; every
      // round trip fits the packing. The answering places first, then every
      // latency in one call (there, back per peer, in view order), then packed.
      if (packed.size() < members.size()) packed.resize(members.size());
      for (std::size_t k = 0; k < members.size(); ++k) {
        if (answers_at(k)) packed[answers++] = k;
      }
      std::vector<Nanos>& draws = world_.scratch.draws;
      if (draws.size() < 2 * answers) draws.resize(2 * answers);
      prng.fill_between(lo, hi, draws.data(), 2 * answers);
      for (std::size_t i = 0; i < answers; ++i)
        packed[i] |= static_cast<std::uint64_t>(draws[2 * i] + draws[2 * i + 1]) << kPlaceBits;
      packed_direct = true;
    } else {
      round_trips.reserve(members.size());
      for (std::size_t k = 0; k < members.size(); ++k) {
        if (!answers_at(k)) continue;
        const Nanos there = network.draw_plain(prng).delay_ns;
        const Nanos back = network.draw_plain(prng).delay_ns;
        round_trips.emplace_back(there + back, static_cast<std::uint32_t>(k));
      }
      answers = round_trips.size();
    }
    world_.network_prng = prng;
  } else {
    round_trips.reserve(members.size());
    for (std::size_t k = 0; k < members.size(); ++k) {
      const NodeId& peer = members[k];
      if (peer == id_) continue;
      if (world_.configured.count(peer) == 0) continue;
      // Acknowledgements come only from peers with both links uncut (a peer
      // still in the view but cut off, within failure detection, is silent).
      if (world_.link_cut && (world_.link_cut(id_, peer) || world_.link_cut(peer, id_))) continue;
      const Nanos there = world_.network.draw_delivery(id_, peer, world_.network_prng).delay_ns;
      const Nanos back = world_.network.draw_delivery(peer, id_, world_.network_prng).delay_ns;
      round_trips.emplace_back(there + back, static_cast<std::uint32_t>(k));
    }
    answers = round_trips.size();
  }
  // Too few answer: the batch is held on this node (simulation.md §3a).
  if (answers < needed) return std::nullopt;
  const std::size_t index = needed - 1;
  Acks acks;
  // The deciders in NodeId order: the peers by their place in the view, this
  // node merged in. Marked by place and read back in order (issue 14, fifth
  // pass: no sort), one bit per place (eighth pass: marked without a branch,
  // read back by the set bits of each word).
  std::vector<std::uint64_t>& chosen = world_.scratch.places;
  chosen.assign((members.size() + 63) / 64, 0);
  if (!packed_direct && members.size() <= (std::size_t{1} << kPlaceBits) &&
      std::all_of(round_trips.begin(), round_trips.end(),
                  [&](const auto& rt) { return rt.first >= 0 && rt.first < kMaxPackedRoundTrip; })) {
    if (packed.size() < answers) packed.resize(answers);
    for (std::size_t k = 0; k < answers; ++k)
      packed[k] = static_cast<std::uint64_t>(round_trips[k].first) << kPlaceBits | round_trips[k].second;
    packed_direct = true;
  }
  if (packed_direct) {
    // The packed values are distinct (each holds its place): the chosen are
    // those up to the index-th smallest, as nth_element's first index+1
    // (issue 14, eighth pass: selected by a histogram, the values unmoved).
    const std::uint64_t threshold = kth_smallest(packed.data(), answers, index, world_.scratch.select);
    acks.delay_ns = static_cast<Nanos>(threshold >> kPlaceBits);
    const std::uint64_t* values = packed.data();
    std::uint64_t* words = chosen.data();
    for (std::size_t k = 0; k < answers; ++k) {
      const std::uint64_t place = values[k] & ((std::uint64_t{1} << kPlaceBits) - 1);
      words[place >> 6] |= static_cast<std::uint64_t>(values[k] <= threshold) << (place & 63);
    }
  } else {
    std::nth_element(round_trips.begin(), round_trips.begin() + static_cast<std::ptrdiff_t>(index),
                     round_trips.end());
    acks.delay_ns = round_trips[index].first;
    for (std::size_t k = 0; k <= index; ++k)
      chosen[round_trips[k].second >> 6] |= std::uint64_t{1} << (round_trips[k].second & 63);
  }
  acks.deciders.reserve(index + 2);
  // This node's own place in the view (it is a member; the view is sorted and has
  // no repeats): a peer's place after it is a name after it, no compare by
  // name needed (issue 14, seventh pass). Not found: compared by name.
  std::size_t self_place = members.size();
  if (const std::vector<std::uint32_t>* vertices = known_view_vertices();
      vertices != nullptr && vertex_ != World::kNoVertex) {
    const auto at = std::find(vertices->begin(), vertices->end(), vertex_);
    self_place = static_cast<std::size_t>(at - vertices->begin());
  }
  const bool self_known = self_place < members.size();
  bool self_placed = false;
  for (std::size_t word = 0; word < chosen.size(); ++word) {
    for (std::uint64_t bits = chosen[word]; bits != 0; bits &= bits - 1) {
      const std::size_t place = 64 * word + static_cast<std::size_t>(std::countr_zero(bits));
      const NodeId& peer = members[place];
      if (!self_placed && (self_known ? self_place < place : id_ < peer)) {
        acks.deciders.push_back(id_);
        self_placed = true;
      }
      acks.deciders.push_back(peer);
    }
  }
  if (!self_placed) acks.deciders.push_back(id_);
  return acks;
}

void SimNode::real_submit(const std::string& writer, engine::KvBatch batch,
                          std::function<void(SubmitOutcome)> done) {
  if (!up_ || failing_) return;
  if (!quorum_) return reject_submit(writer, "no-quorum", std::move(done));
  if (!restored_) return reject_submit(writer, "not-restored", std::move(done));
  if (submit_is_lost(writer)) {
    auto event = world_.trace.event(world_.now(), "kv.submit_lost");
    trace_commands(event.str("node", id_).str("writer", writer), "commands", batch);
    return;  // never decided, never answered
  }
  Submitter submitter;
  submitter.node = id_;
  submitter.writer = writer;
  if (runtime_) {
    guarded([&] {
      submitter.cdm_active = runtime_->cdm_active();
      if (submitter.cdm_active) submitter.cdm_tag = runtime_->cdm_activation_tag();
    });
    if (failing_) return;
  }
  for (const auto& command : batch) submitter.applied[command.key] = get(command.key);
  submitter.submitted_at = world_.now();
  const SubmitTicket ticket = consensus_.submit(std::move(submitter), std::move(batch), gather_acks());
  pending_submits_[ticket.batch_id].push_back(PendingSubmit{ticket.submission_id, writer, std::move(done)});
}

// ---- logger, assertions, engine events ------------------------------------------

void SimNode::log(engine::LogLevel level, std::string_view component, std::string message) {
  if (silent_) return;
  world_.trace.event(world_.now(), "engine.log")
      .str("node", id_)
      .str("level", engine::log_level_name(level))
      .str("component", component)
      .str("message", message);
}

void SimNode::fail(std::string_view condition, std::string message, std::string_view file, int line) {
  std::string text = "assertion failed: ";
  text += condition;
  text += " (";
  text += file;
  text += ":";
  text += std::to_string(line);
  text += "): ";
  text += message;
  throw EngineAssertionFailure(text);
}

void SimNode::leader_changed(const std::optional<NodeId>& leader, bool local_is_leader) {
  if (silent_) return;
  world_.trace.event(world_.now(), "leader")
      .str("node", id_)
      .str("leader", leader.value_or(""))
      .flag("local", local_is_leader);
  world_.notify([&](WorldObserver& o) { o.on_leader_change(world_.now(), id_, leader); });
}

void SimNode::cdm_activated(std::optional<std::uint64_t> leader_position) {
  if (silent_) return;
  {
    auto event = world_.trace.event(world_.now(), "cdm.activated");
    event.str("node", id_);
    if (leader_position) event.u64("tag", *leader_position);
  }
  world_.notify([&](WorldObserver& o) { o.on_cdm_activated(world_.now(), id_, leader_position); });
}

void SimNode::cdm_deactivated() {
  if (silent_) return;
  world_.trace.event(world_.now(), "cdm.deactivated").str("node", id_);
  world_.notify([&](WorldObserver& o) { o.on_cdm_deactivated(world_.now(), id_); });
}

void SimNode::count(std::string_view counter, std::int64_t delta) {
  if (silent_) return;
  const std::string name(counter);
  world_.trace.event(world_.now(), "engine.count").str("node", id_).str("counter", name).i64("delta", delta);
  world_.notify([&](WorldObserver& o) { o.on_engine_count(world_.now(), id_, name, delta); });
}

// ---- slice store -------------------------------------------------------------

std::map<std::string, engine::SliceHolding> SimNode::slice_holdings() const {
  if (!slices_) return {};
  return slices_->holdings();
}

void SimNode::schedule_slice_completion(Nanos delay_ns, Lane lane, std::function<void()> complete) {
  post(delay_ns, lane, Inbox::Callback, [this, complete = std::move(complete)] { guarded(complete); });
}

void SimNode::report_slice_start(const std::string& artifact, SliceOp op, engine::SliceHolding before) {
  world_.trace.event(world_.now(), "slice.start")
      .str("node", id_)
      .str("artifact", artifact)
      .str("op", slice_op_name(op))
      .str("held", holding_name(before));
  world_.notify([&](WorldObserver& o) { o.on_slice_op_start(world_.now(), id_, artifact, op, before); });
}

void SimNode::report_slice_done(const std::string& artifact, SliceOp op, const engine::SliceResult& result) {
  {
    auto event = world_.trace.event(world_.now(), "slice.done");
    event.str("node", id_)
        .str("artifact", artifact)
        .str("op", slice_op_name(op))
        .flag("ok", !result.has_value());
    if (result) event.str("reason", result->reason).flag("fatal", result->fatal);
  }
  world_.notify([&](WorldObserver& o) { o.on_slice_op_done(world_.now(), id_, artifact, op, result); });
}

}  // namespace aether::sim
