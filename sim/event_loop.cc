#include "sim/event_loop.h"

#include <algorithm>
#include <cassert>
#include <stdexcept>

namespace aether::sim {

namespace {
constexpr std::uint64_t kSequenceBits = 56;
constexpr std::uint64_t kSequenceMask = (std::uint64_t{1} << kSequenceBits) - 1;
}  // namespace

EventLoop::EventId EventLoop::schedule_at(Nanos time, Callback callback, Lane lane) {
  if (time < now_) throw std::logic_error("EventLoop: event scheduled in the past");
  std::uint32_t slot;
  if (!free_slots_.empty()) {
    slot = free_slots_.back();
    free_slots_.pop_back();
  } else {
    slot = static_cast<std::uint32_t>(slots_.size());
    slots_.emplace_back();
  }
  Slot& s = slots_[slot];
  s.callback = std::move(callback);
  s.armed = true;
  const std::uint64_t seq = ++sequence_;
  assert(seq <= kSequenceMask);
  heap_.push_back(Entry{time, (static_cast<std::uint64_t>(lane) << kSequenceBits) | seq, slot, s.generation});
  std::push_heap(heap_.begin(), heap_.end(), later);
  ++live_;
  return (static_cast<EventId>(s.generation) << 32 | slot) + 1;
}

bool EventLoop::cancel(EventId id) {
  if (id == 0) return false;
  const EventId raw = id - 1;
  const auto slot = static_cast<std::uint32_t>(raw & 0xFFFFFFFFu);
  const auto generation = static_cast<std::uint32_t>(raw >> 32);
  if (slot >= slots_.size()) return false;
  Slot& s = slots_[slot];
  if (!s.armed || s.generation != generation) return false;
  s.armed = false;
  s.callback = nullptr;
  ++s.generation;  // the heap entry is now stale; it is skipped when it surfaces
  free_slots_.push_back(slot);
  --live_;
  return true;
}

void EventLoop::drop_dead_front() {
  while (!heap_.empty()) {
    const Entry& top = heap_.front();
    const Slot& s = slots_[top.slot];
    if (s.armed && s.generation == top.generation) return;
    std::pop_heap(heap_.begin(), heap_.end(), later);
    heap_.pop_back();
  }
}

Nanos EventLoop::next_time() {
  drop_dead_front();
  return heap_.empty() ? -1 : heap_.front().time;
}

bool EventLoop::step() {
  drop_dead_front();
  if (heap_.empty()) return false;
  const Entry top = heap_.front();
  std::pop_heap(heap_.begin(), heap_.end(), later);
  heap_.pop_back();
  Slot& s = slots_[top.slot];
  Callback callback = std::move(s.callback);
  s.callback = nullptr;
  s.armed = false;
  ++s.generation;
  free_slots_.push_back(top.slot);
  --live_;
  now_ = top.time;
  ++processed_;
  callback();
  return true;
}

void EventLoop::run_until(Nanos deadline) {
  for (Nanos next = next_time(); next >= 0 && next <= deadline; next = next_time()) step();
  if (deadline > now_) now_ = deadline;
}

bool EventLoop::run_until(const std::function<bool()>& done, Nanos deadline) {
  while (!done()) {
    const Nanos next = next_time();
    if (next < 0 || next > deadline) return false;
    step();
  }
  return true;
}

}  // namespace aether::sim
