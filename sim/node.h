// One simulated node: the host of an engine::NodeRuntime. It implements every
// interface the engine sees (clock, KV client, topology, slice loader through
// the slice-store fake, logger, assertion sink, engine events) on top of the
// shared World, and guards every callback into engine code: an exception
// becomes WorldObserver::on_engine_assert and stops the node like a crash;
// callbacks for a dead or restarted incarnation are ignored; a paused node
// queues everything addressed to it and replays it on resume (view and quorum
// changes, then deliveries in arrival order, then overdue timers in due order).
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "engine/node_runtime.h"
#include "sim/consensus_kv.h"
#include "sim/kv_store.h"
#include "sim/ring_queue.h"
#include "sim/shared_view.h"
#include "sim/slice_store.h"
#include "sim/world.h"

namespace aether::sim {

// Thrown by the node's AssertionSink; caught at the node's dispatch boundary.
class EngineAssertionFailure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class SimNode final : public engine::Clock,
                      public engine::KvClient,
                      public engine::Topology,
                      public engine::Logger,
                      public engine::AssertionSink,
                      public engine::EngineEvents,
                      public SliceStoreHost,
                      private EventTarget {
 public:
  // `on_engine_failure` is called (outside engine code) when an engine
  // callback threw; the cluster then stops the node.
  SimNode(World& world, ConsensusKv& consensus, NodeId id,
          std::function<void(const NodeId&)> on_engine_failure);
  ~SimNode() override;
  SimNode(const SimNode&) = delete;
  SimNode& operator=(const SimNode&) = delete;

  // Lifecycle (the cluster keeps the network and views in step).
  // `initial_view`: its vertices, when known, are World::vertex_of of each
  // member (else looked up when first needed).
  void start(ViewRef initial_view, const engine::NodeRuntimeFactory& factory);
  void stop();  // crash or removal: all volatile state is gone
  // Destroys the runtime without reporting anything (the cluster is going away).
  void shutdown();
  void pause();
  // Resuming is two steps so that the cluster can count the node's links as
  // uncut before the node replays what queued up: unpause, then replay.
  void unpause() {
    paused_ = false;
    world_.set_running(vertex_, up_);
  }
  void replay_queued();

  // World -> node. Topology changes are delivered (or queued while paused).
  // The view is shared with every node the cluster gives the same members
  // (issue 14, eighth pass); its vertices, when known, come with it.
  void deliver_view_change(engine::TopologyChange change, const NodeId& peer, ViewRef new_view);
  void reevaluate_quorum();
  // The decided `position` arrives `delay_ns` from now (discarded without
  // quorum; applied in decided order).
  void deliver_decided_after(Nanos delay_ns, std::uint64_t position);
  // The same delivery as a fire of a fan (EventLoop::schedule_typed_fan with
  // a = the position) under the key reserved for it (EventLoop::reserve_order).
  EventLoop::TypedFire delivery_at(const EventLoop::Key& at) {
    return EventLoop::TypedFire{at.time, this, incarnation_, at.order};
  }
  // Deferred deliveries (issue 14, fifth pass; simulation.md §3a). A node
  // that is steady (up, unpaused, with quorum and its store) and has every
  // earlier position applied or deferred takes the decided `position` as a
  // note instead of an event: it applies it when anything next touches it
  // (an event of its own, a read) at or after the key its delivery event
  // would have had, exactly as that event would have. Only when `wake` (one
  // of its listeners subscribes to a key of the batch, or one of its submits
  // waits on it) does it schedule an event, at the key the position would
  // have been applied at. Leaving the steady state, or a widened interest,
  // turns the notes back into the events they stand for.
  // Asks the processor to bring in what try_defer reads (issue 14, seventh
  // pass: on_decided calls it a few receivers ahead; no effect on the run).
  void prefetch_for_defer() const {
    __builtin_prefetch(&up_);
    __builtin_prefetch(reinterpret_cast<const char*>(&up_) + 64);
  }
  // The second step, once those lines are in: the note slots it touches.
  void prefetch_notes() const {
    if (const Deferred* front = deferred_.front_slot()) __builtin_prefetch(front);
    if (const Deferred* next = deferred_.next_slot()) __builtin_prefetch(next, 1);
  }
  // Takes the note if it can (returns false: deliver it as events). `dup`: a
  // duplicate's arrival (time -1: none); `horizon`: the loop's horizon now.
  // (The keys by value: in registers, not through memory just written.)
  bool try_defer(std::uint64_t position, EventLoop::Key arrival, EventLoop::Key dup, bool wake,
                 const EventLoop::Key& horizon);

  // The acknowledgements this node gathers for a submit right now (nullopt:
  // fewer than majority-1 peers answer). Draws from the network stream.
  std::optional<Acks> gather_acks();
  // clock_drift: this node's timers run at (1 + drift_ppm / 10^6) of world time.
  void set_clock_drift(std::int64_t drift_ppm);
  std::int64_t clock_drift_ppm() const { return drift_ppm_; }

  // A submit with an explicit writer string ("client:<name>" for clients).
  void submit_as(const std::string& writer, engine::KvBatch batch,
                 std::function<void(engine::SubmitOutcome)> done);

  // Queries.
  bool up() const { return up_; }
  bool paused() const { return paused_; }
  bool quorum() const { return quorum_; }
  bool restored() const { return restored_; }
  std::uint64_t incarnation() const { return incarnation_; }
  // The local store's contents and digest (issue 14: derived from the
  // consensus model's versioned store at the applied position).
  KvMap store_entries() const;
  std::uint64_t store_digest() const;
  std::uint64_t applied_position() const {
    catch_up_quiet();
    return applied_position_;
  }
  engine::NodeRuntime* runtime() const { return runtime_.get(); }
  std::map<std::string, engine::SliceHolding> slice_holdings() const;
  const std::map<std::string, engine::SliceHolding>* slice_holdings_view() const {
    return slices_ ? &slices_->holdings() : nullptr;
  }

  // engine::Clock
  // The node's own clock: world time at its drawn rate (clock_drift).
  engine::Nanos now() const override;
  engine::TimerId schedule_after(engine::Nanos delay_ns, std::function<void()> fire) override;
  void cancel(engine::TimerId id) override;
  // engine::KvClient
  void submit(engine::Writer writer, engine::KvBatch batch,
              std::function<void(engine::SubmitOutcome)> done) override;
  std::optional<std::string> get(const std::string& key) const override;
  std::vector<std::pair<std::string, std::string>> scan(const std::string& prefix) const override;
  void add_listener(engine::KvListener* listener) override {
    kv_listeners_.push_back(listener);
    interest_changed();
  }
  void interest_changed() override;
  // engine::Topology
  const NodeId& self() const override { return id_; }
  const std::vector<NodeId>& view() const override { return view_->names; }
  std::vector<NodeId> configured_nodes() const override;
  bool has_quorum() const override { return quorum_; }
  engine::NodeAttributes attributes(const NodeId& node) const override { return world_.attributes_of(node); }
  void add_listener(engine::TopologyListener* listener) override { topology_listeners_.push_back(listener); }
  // engine::Logger
  void log(engine::LogLevel level, std::string_view component, std::string message) override;
  // engine::AssertionSink
  [[noreturn]] void fail(std::string_view condition, std::string message, std::string_view file,
                         int line) override;
  // engine::EngineEvents
  void leader_changed(const std::optional<NodeId>& leader, bool local_is_leader) override;
  void cdm_activated(std::optional<std::uint64_t> leader_position) override;
  void cdm_deactivated() override;
  void count(std::string_view counter, std::int64_t delta) override;

 private:
  enum class Inbox : std::uint8_t { Topology, Delivery, Callback };
  struct QueuedCall {
    std::function<void()> call;
    engine::TimerId timer = 0;  // nonzero: an engine timer (skipped if cancelled meanwhile)
  };
  struct PendingSubmit {
    std::uint64_t submission_id = 0;
    std::string writer;
    std::function<void(engine::SubmitOutcome)> done;
  };
  struct QueuedWrite {
    std::string writer;
    engine::KvBatch batch;
    std::function<void(engine::SubmitOutcome)> done;
  };

  // EventTarget: a decided position delivered to this node (a typed event:
  // a = position, b = the incarnation it was sent to), or a wake (a = kWake).
  void fire(std::uint64_t position, std::uint64_t incarnation) override;
  static constexpr std::uint64_t kWake = ~std::uint64_t{0};
  // Applies the deferred positions due by the loop's horizon, in order. A
  // position that wakes the node is applied (with its notifications) only by
  // an event of the node (catch_up), never by a read (catch_up_quiet stops
  // at it; its wake is still to come).
  void catch_up();
  void catch_up_quiet() const { catch_up_quiet(world_.loop.horizon()); }
  void catch_up_quiet(const EventLoop::Key& horizon) const;
  // Turns every deferred position back into the delivery events it stands
  // for (or an arrival already made), and cancels the wakes.
  void undefer();
  void drop_deferred();
  // No notes, no wakes, no subscriptions: the node stops or starts afresh.
  void withdraw();
  // Puts the union of the listeners' interests into the world's index.
  void refresh_interest();

  // SliceStoreHost
  void schedule_slice_completion(Nanos delay_ns, Lane lane, std::function<void()> complete) override;
  void report_slice_start(const std::string& artifact, SliceOp op, engine::SliceHolding before) override;
  void report_slice_done(const std::string& artifact, SliceOp op, const engine::SliceResult& result) override;

  // Runs engine code; catches exceptions and reports the failure.
  template <typename F>
  void guarded(F&& f);
  bool alive(std::uint64_t incarnation) const { return up_ && !failing_ && incarnation == incarnation_; }
  // Runs `call` now, or queues it in `inbox` while paused.
  void arrive(Inbox inbox, QueuedCall call);
  // Schedules a node-addressed callback `delay_ns` from now.
  EventLoop::EventId post(Nanos delay_ns, Lane lane, Inbox inbox, std::function<void()> call,
                          engine::TimerId timer = 0);

  void apply_view_change(engine::TopologyChange change, const NodeId& peer, ViewRef new_view);
  void update_quorum();
  void deliver_quorum_to_engine(const engine::QuorumEvent& event);
  void lose_quorum();
  void establish_quorum();
  // A reset's or restore's first half: the store materialized, then every key
  // removed in key order, each notified (`origin`, at `position`). Returns
  // how many keys there were.
  std::size_t remove_all(std::uint64_t position, engine::KvOrigin origin);
  void on_arrival(std::uint64_t position);
  void engine_failed(const std::string& message);
  void send_quorum(const engine::QuorumEvent& event);
  void apply_ready_positions();
  void apply_position(std::uint64_t position);
  void notify_kv(const engine::KvNotification& notification);
  void begin_round() { ++notify_depth_; }
  void end_round();
  void real_submit(const std::string& writer, engine::KvBatch batch,
                   std::function<void(engine::SubmitOutcome)> done);
  void reject_submit(const std::string& writer, const char* reason,
                     std::function<void(engine::SubmitOutcome)> done);
  bool submit_is_lost(const std::string& writer);
  // A timer delay on the node's clock, in world time.
  Nanos world_delay(engine::Nanos delay_ns) const;

  // What on_decided reads of every receiver for every decided position
  // (try_defer, catch_up_quiet) together, in the two cache lines after the
  // bases' (issue 14, seventh pass: spread over the object they were six).
  alignas(64) bool up_ = false;
  bool paused_ = false;
  bool failing_ = false;
  bool silent_ = false;  // shutting down: engine reports go nowhere
  bool quorum_ = false;
  bool has_store_ = false;  // the local store: see applying_ and materialized_ below
  int in_apply_ = 0;        // apply_position on the stack (deferred notes wait)
  std::uint32_t vertex_ = World::kNoVertex;
  std::uint64_t incarnation_ = 0;
  mutable std::uint64_t applied_position_ = 0;
  // A note: 16 bytes, four to a cache line (issue 14, ninth pass: it was 64).
  // Its position is implied (deferred_first_ + its index); its due key, the
  // latest arrival up to it, is the larger of its arrival and the due key of
  // the note before it (deferred_floor_ for the front); a position with a
  // duplicate keeps the duplicate's key in deferred_dups_ (rare).
  struct Deferred {
    Nanos time = 0;            // the key its delivery event would have had:
    std::uint64_t marked = 0;  // its order, and kWakeBit when it wakes the node
    static constexpr std::uint64_t kWakeBit = std::uint64_t{1} << 63;
    EventLoop::Key arrival() const { return EventLoop::Key{time, marked & ~kWakeBit}; }
    bool wake() const { return (marked & kWakeBit) != 0; }
  };
  // mutable: a read applies what is due (no notification, nothing observable
  // but the store it reads). A ring, not a std::deque (issue 14, seventh pass).
  mutable RingQueue<Deferred> deferred_;
  // Of deferred_ (when not empty): the last note's position and due key, and
  // how many notes wake the node. With no wake among them and the last one
  // due, every note is due: the queue is applied without reading it (issue
  // 14, seventh pass).
  std::uint64_t deferred_last_ = 0;
  EventLoop::Key deferred_due_{-1, 0};
  // The front note's position, and the due key of the note popped before it
  // ({-1, 0} when none since the queue was last empty).
  mutable std::uint64_t deferred_first_ = 0;
  mutable EventLoop::Key deferred_floor_{-1, 0};
  // The duplicates' keys of deferred positions, by position (entries below
  // deferred_first_ are stale: their notes were applied).
  std::vector<std::pair<std::uint64_t, EventLoop::Key>> deferred_dups_;
  // The front note's due key.
  EventLoop::Key front_due() const {
    const EventLoop::Key arrival = deferred_.front().arrival();
    return arrival <= deferred_floor_ ? deferred_floor_ : arrival;
  }
  std::uint32_t deferred_wakes_ = 0;
  EventLoop::Key last_wake_{-1, 0};

  World& world_;
  ConsensusKv& consensus_;
  NodeId id_;
  std::function<void(const NodeId&)> on_engine_failure_;

  std::int64_t drift_ppm_ = 0;
  std::uint64_t quorum_sequence_ = 0;
  // The node's view: shared, immutable (issue 14, eighth pass); never null.
  ViewRef view_ = empty_view();
  // The latest topology event delivered; its view is view_'s names (issue
  // 14, second pass: listeners get it by reference, no copy per delivery).
  engine::TopologyEvent topology_event_;
  // The cluster's vertex index of each view_ member (World::vertex_of): the
  // shared view's when it knows them (issue 14, seventh pass), else rebuilt
  // here when first needed (issue 14, fourth pass).
  std::vector<std::uint32_t> view_vertices_;
  bool view_vertices_valid_ = false;
  const std::vector<std::uint32_t>& view_vertices();
  // The view's vertices if known without a lookup, else nullptr.
  const std::vector<std::uint32_t>* known_view_vertices() const {
    if (view_->vertices_known()) return &view_->vertices;
    return view_vertices_valid_ ? &view_vertices_ : nullptr;
  }
  bool restored_ = false;
  // The local store (issue 14): empty while !has_store_ (above: fresh, stopped
  // or reset); otherwise the decided store at applied_position_ (a cursor into
  // consensus_.versions(), no replica of its own), plus the first
  // applying_count_ commands of *applying_ while a position is being applied.
  // During a reset or a restore (removes then puts, one notification each) it
  // is a materialized copy instead (and has_store_ false).
  const BatchRecord* applying_ = nullptr;
  std::size_t applying_count_ = 0;
  std::optional<KvMap> materialized_;
  // Decided positions waiting for their turn: a bitmap from the lowest
  // (issue 14, fourth pass: with deliveries of consecutive positions arriving
  // out of order at every node, a min-heap insertion per arrival was 7% of a
  // 1,000-node run). A duplicate delivery is absorbed at once; the heap kept
  // it until it surfaced and then dropped it: the same applies either way.
  struct PositionSet {
    std::uint64_t base = 0;           // words.front() holds [base, base + 64); base % 64 == 0
    std::deque<std::uint64_t> words;  // while count > 0, words.front() != 0
    std::size_t count = 0;
    bool empty() const { return count == 0; }
    std::uint64_t top() const { return base + static_cast<std::uint64_t>(std::countr_zero(words.front())); }
    void insert(std::uint64_t position) {
      if (count == 0) {
        words.clear();
        base = position & ~std::uint64_t{63};
      }
      while (position < base) {
        words.push_front(0);
        base -= 64;
      }
      const auto word = static_cast<std::size_t>((position - base) >> 6);
      if (word >= words.size()) words.resize(word + 1, 0);
      const std::uint64_t bit = std::uint64_t{1} << (position & 63);
      if ((words[word] & bit) == 0) {
        words[word] |= bit;
        ++count;
      }
    }
    void pop() {
      words.front() &= words.front() - 1;  // the lowest position goes
      --count;
      while (!words.empty() && words.front() == 0) {
        words.pop_front();
        base += 64;
      }
    }
    void clear() {
      words.clear();
      count = 0;
    }
  };
  PositionSet arrived_;
  std::deque<EventLoop::EventId> wakes_;                                 // scheduled wakes, in key order
  std::map<std::uint64_t, std::vector<PendingSubmit>> pending_submits_;  // by batch id
  int notify_depth_ = 0;
  std::deque<QueuedWrite> queued_writes_;
  std::optional<engine::QuorumEvent> held_quorum_event_;  // fault: delivered after the next one
  EventLoop::EventId held_quorum_timer_ = 0;

  std::vector<engine::KvListener*> kv_listeners_;
  std::vector<engine::TopologyListener*> topology_listeners_;
  std::unique_ptr<SimSliceStore> slices_;
  std::unique_ptr<engine::NodeRuntime> runtime_;

  engine::TimerId next_timer_ = 1;
  std::map<engine::TimerId, EventLoop::EventId> timers_;  // live engine timers (0: queued while paused)
  std::deque<QueuedCall> inbox_topology_;
  std::deque<QueuedCall> inbox_delivery_;
  std::deque<QueuedCall> inbox_callback_;
};

}  // namespace aether::sim
