// The single-threaded discrete-event kernel. Events are ordered by
// (time, lane, sequence number): the sequence number breaks ties so that two
// events at the same instant run in the order they were scheduled, and the
// lane lets the world put scenario steps before topology deliveries before
// everything else at one instant (simulation.md §1). Timers are cancellable;
// a cancelled event never runs.
#pragma once

#include <cassert>
#include <cstdint>
#include <functional>
#include <vector>

#include "engine/time.h"

namespace aether::sim {

using engine::Nanos;

// A typed event's receiver (issue 14, second pass): the hot events (one
// decided position delivered to one node) carry two integers to a fixed
// receiver instead of a heap-allocated closure.
class EventTarget {
 public:
  virtual void fire(std::uint64_t a, std::uint64_t b) = 0;

 protected:
  ~EventTarget() = default;
};

enum class Lane : std::uint8_t {
  Step = 0,      // scenario steps: first at their instant, in file order
  Topology = 1,  // deactivations and view changes: before activations
  Normal = 2,    // everything else
};

class EventLoop {
  static constexpr std::uint64_t kSequenceBits = 56;
  static constexpr std::uint64_t kSequenceMask = (std::uint64_t{1} << kSequenceBits) - 1;

 public:
  using EventId = std::uint64_t;  // 0 is never a valid id
  using Callback = std::function<void()>;

  Nanos now() const { return now_; }
  std::uint64_t events_processed() const { return processed_; }
  std::size_t pending() const { return live_; }

  // `time` must not lie in the past.
  EventId schedule_at(Nanos time, Callback callback, Lane lane = Lane::Normal);
  EventId schedule_after(Nanos delay, Callback callback, Lane lane = Lane::Normal) {
    return schedule_at(now_ + delay, std::move(callback), lane);
  }
  // A typed event: `target->fire(a, b)` at `time`. Ordered, numbered and
  // cancellable exactly like a callback event scheduled at the same point.
  EventId schedule_typed_at(Nanos time, EventTarget* target, std::uint64_t a, std::uint64_t b,
                            Lane lane = Lane::Normal);
  // A fan of typed events (issue 14, fourth pass: one decided position
  // delivered to every node): `target->fire(a, b)` at each fire's time, every
  // fire ordered, numbered and counted exactly as if it had been scheduled by
  // schedule_typed_at, one after another in the given order. The fan is one
  // heap entry (its earliest pending fire) instead of one per fire; it cannot
  // be cancelled. `fires` is consumed (left empty, capacity kept).
  struct TypedFire {
    Nanos time;
    EventTarget* target;
    std::uint64_t b;
    std::uint64_t order = 0;  // 0: the next sequence number; else one taken by reserve_order
  };
  void schedule_typed_fan(std::uint64_t a, std::vector<TypedFire>& fires, Lane lane = Lane::Normal);
  // True if the event was pending and is now cancelled.
  bool cancel(EventId id);

  // Deferred events (issue 14, fifth pass: a decided position that reaches a
  // node none of whose listeners subscribes to it is no event at all; the
  // node applies it when it is next touched). reserve_order takes the
  // sequence number an event scheduled now would take, without scheduling
  // anything; schedule_typed_keyed schedules a typed event under such a
  // reserved key later (it must lie after the current event). An order is
  // (lane << 56 | sequence), compared after the time.
  // Inline (issue 14, seventh pass: on_decided takes one per receiver).
  std::uint64_t reserve_order(Lane lane = Lane::Normal) {
    const std::uint64_t seq = ++sequence_;
    assert(seq <= kSequenceMask);
    return static_cast<std::uint64_t>(lane) << kSequenceBits | seq;
  }
  EventId schedule_typed_keyed(Nanos time, std::uint64_t order, EventTarget* target, std::uint64_t a,
                               std::uint64_t b);
  // The key every deferred event at or before which counts as processed:
  // inside an event, that event's key; between events, the end of the
  // current instant once no event is left at it, else the last event run.
  struct Key {
    Nanos time;
    std::uint64_t order;
    bool operator<=(const Key& other) const {
      return time != other.time ? time < other.time : order <= other.order;
    }
    bool operator==(const Key& other) const = default;
  };
  Key horizon();
  bool in_event() const { return in_event_; }

  // Runs the next event, if any. Returns false when the queue is empty.
  bool step();
  // Time of the next pending event, or -1 if none.
  Nanos next_time();
  // Runs every event due at or before `deadline`, then sets now to `deadline`.
  void run_until(Nanos deadline);
  // Runs events until `done()` holds (checked before each event) or the next
  // event lies past `deadline`. Returns whether `done()` held.
  bool run_until(const std::function<bool()>& done, Nanos deadline);

 private:
  struct Entry {
    Nanos time;
    std::uint64_t order;  // lane in the top 8 bits, sequence number below
    std::uint32_t slot;
    std::uint32_t generation;
  };
  static constexpr std::uint32_t kNoFan = 0xFFFFFFFFu;
  struct Slot {
    Callback callback;
    EventTarget* target = nullptr;  // set: a typed event
    std::uint64_t a = 0;
    std::uint64_t b = 0;
    std::uint32_t generation = 0;
    std::uint32_t fan = kNoFan;  // set: a fan of typed events (fans_[fan])
    bool armed = false;
  };
  struct FanFire {
    Nanos time;
    std::uint64_t order;
    EventTarget* target;
    std::uint64_t b;
  };
  struct Fan {
    std::uint64_t a = 0;
    std::vector<FanFire> fires;  // sorted by (time, order)
    std::size_t next = 0;        // the earliest pending fire
  };
  static bool later(const Entry& a, const Entry& b) {
    return a.time != b.time ? a.time > b.time : a.order > b.order;
  }
  void drop_dead_front();
  // Arms a taken slot and pushes its heap entry under (time, order).
  EventId arm(Nanos time, std::uint64_t order, std::uint32_t slot);
  std::uint32_t take_slot();
  // Disarms a slot and frees it (its heap entries become stale).
  void release(std::uint32_t slot);
  // The bookkeeping of running one event at `time`.
  void begin_event(Nanos time, std::uint64_t order);
  // The queue is a 4-ary min-heap on (time, order) (issue 14: fewer cache
  // misses than a binary heap with millions of pending events). Keys are
  // unique, so any correct heap pops the same sequence.
  static bool earlier(const Entry& a, const Entry& b) { return later(b, a); }
  void heap_push(const Entry& entry);
  void heap_pop();
  // Replaces the top entry by `entry` (a fan's next fire) and restores the heap.
  void heap_replace_top(const Entry& entry);
  void sift_down_from_root(const Entry& entry);

  Nanos now_ = 0;
  std::uint64_t current_order_ = 0;  // the order of the event running or last run
  bool in_event_ = false;
  std::uint64_t sequence_ = 0;
  std::uint64_t processed_ = 0;
  std::size_t live_ = 0;
  std::vector<Entry> heap_;
  std::vector<Slot> slots_;
  std::vector<std::uint32_t> free_slots_;
  std::vector<Fan> fans_;
  std::vector<std::uint32_t> free_fans_;
  void sort_fan(std::vector<FanFire>& fires);
  std::vector<std::uint64_t> fan_keys_;  // sort_fan's scratch space
  std::vector<FanFire> fan_sorted_;
};

}  // namespace aether::sim
