#include "sim/event_loop.h"

#include <algorithm>
#include <cassert>
#include <stdexcept>

namespace aether::sim {

namespace {
constexpr std::uint64_t kSequenceBits = 56;
constexpr std::uint64_t kSequenceMask = (std::uint64_t{1} << kSequenceBits) - 1;
}  // namespace

std::uint32_t EventLoop::take_slot() {
  if (!free_slots_.empty()) {
    const std::uint32_t slot = free_slots_.back();
    free_slots_.pop_back();
    return slot;
  }
  slots_.emplace_back();
  return static_cast<std::uint32_t>(slots_.size() - 1);
}

EventLoop::EventId EventLoop::arm(Nanos time, Lane lane, std::uint32_t slot) {
  Slot& s = slots_[slot];
  s.armed = true;
  const std::uint64_t seq = ++sequence_;
  assert(seq <= kSequenceMask);
  heap_push(Entry{time, (static_cast<std::uint64_t>(lane) << kSequenceBits) | seq, slot, s.generation});
  ++live_;
  return (static_cast<EventId>(s.generation) << 32 | slot) + 1;
}

EventLoop::EventId EventLoop::schedule_at(Nanos time, Callback callback, Lane lane) {
  if (time < now_) throw std::logic_error("EventLoop: event scheduled in the past");
  const std::uint32_t slot = take_slot();
  slots_[slot].callback = std::move(callback);
  return arm(time, lane, slot);
}

EventLoop::EventId EventLoop::schedule_typed_at(Nanos time, EventTarget* target, std::uint64_t a,
                                                std::uint64_t b, Lane lane) {
  if (time < now_) throw std::logic_error("EventLoop: event scheduled in the past");
  if (target == nullptr) throw std::logic_error("EventLoop: typed event without a target");
  const std::uint32_t slot = take_slot();
  Slot& s = slots_[slot];
  s.target = target;
  s.a = a;
  s.b = b;
  return arm(time, lane, slot);
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
  s.target = nullptr;
  ++s.generation;  // the heap entry is now stale; it is skipped when it surfaces
  free_slots_.push_back(slot);
  --live_;
  return true;
}

void EventLoop::heap_push(const Entry& entry) {
  std::size_t i = heap_.size();
  heap_.push_back(entry);
  while (i > 0) {
    const std::size_t parent = (i - 1) / 4;
    if (!earlier(entry, heap_[parent])) break;
    heap_[i] = heap_[parent];
    i = parent;
  }
  heap_[i] = entry;
}

void EventLoop::heap_pop() {
  const Entry last = heap_.back();
  heap_.pop_back();
  const std::size_t n = heap_.size();
  if (n == 0) return;
  std::size_t i = 0;
  for (;;) {
    const std::size_t first = 4 * i + 1;
    if (first >= n) break;
    std::size_t best = first;
    const std::size_t end = std::min(first + 4, n);
    for (std::size_t c = first + 1; c < end; ++c) {
      if (earlier(heap_[c], heap_[best])) best = c;
    }
    if (!earlier(heap_[best], last)) break;
    heap_[i] = heap_[best];
    i = best;
  }
  heap_[i] = last;
}

void EventLoop::drop_dead_front() {
  while (!heap_.empty()) {
    const Entry& top = heap_.front();
    const Slot& s = slots_[top.slot];
    if (s.armed && s.generation == top.generation) return;
    heap_pop();
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
  heap_pop();
  Slot& s = slots_[top.slot];
  EventTarget* const target = s.target;
  Callback callback;
  if (target == nullptr) callback = std::move(s.callback);
  const std::uint64_t a = s.a;
  const std::uint64_t b = s.b;
  s.callback = nullptr;
  s.target = nullptr;
  s.armed = false;
  ++s.generation;
  free_slots_.push_back(top.slot);
  --live_;
  now_ = top.time;
  ++processed_;
  if (target != nullptr) {
    target->fire(a, b);
  } else {
    callback();
  }
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
