#include "sim/event_loop.h"

#include <algorithm>
#include <cassert>
#include <stdexcept>

namespace aether::sim {

std::uint32_t EventLoop::take_slot() {
  if (!free_slots_.empty()) {
    const std::uint32_t slot = free_slots_.back();
    free_slots_.pop_back();
    return slot;
  }
  slots_.emplace_back();
  return static_cast<std::uint32_t>(slots_.size() - 1);
}

EventLoop::EventId EventLoop::arm(Nanos time, std::uint64_t order, std::uint32_t slot) {
  Slot& s = slots_[slot];
  s.armed = true;
  heap_push(Entry{time, order, slot, s.generation});
  ++live_;
  return (static_cast<EventId>(s.generation) << 32 | slot) + 1;
}

EventLoop::EventId EventLoop::schedule_at(Nanos time, Callback callback, Lane lane) {
  if (time < now_) throw std::logic_error("EventLoop: event scheduled in the past");
  const std::uint32_t slot = take_slot();
  slots_[slot].callback = std::move(callback);
  return arm(time, reserve_order(lane), slot);
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
  return arm(time, reserve_order(lane), slot);
}

void EventLoop::sort_fan(std::vector<FanFire>& fires) {
  // By (time, order). The orders were taken in list order, so ties in time
  // fall by list index: sort one 64-bit key (time offset, index) per fire
  // when both fit, which they do for any drawn latency (the general sort
  // otherwise).
  constexpr int kIndexBits = 20;
  Nanos earliest = fires.front().time;
  Nanos latest = earliest;
  for (const FanFire& fire : fires) {
    earliest = std::min(earliest, fire.time);
    latest = std::max(latest, fire.time);
  }
  const auto span = static_cast<std::uint64_t>(latest - earliest);
  if (fires.size() >= (std::size_t{1} << kIndexBits) || span >= (std::uint64_t{1} << (63 - kIndexBits))) {
    std::sort(fires.begin(), fires.end(), [](const FanFire& x, const FanFire& y) {
      return x.time != y.time ? x.time < y.time : x.order < y.order;
    });
    return;
  }
  std::vector<std::uint64_t>& keys = fan_keys_;
  keys.clear();
  for (std::size_t i = 0; i < fires.size(); ++i)
    keys.push_back(static_cast<std::uint64_t>(fires[i].time - earliest) << kIndexBits | i);
  std::sort(keys.begin(), keys.end());
  std::vector<FanFire>& sorted = fan_sorted_;
  sorted.clear();
  for (std::uint64_t key : keys) sorted.push_back(fires[key & ((std::uint64_t{1} << kIndexBits) - 1)]);
  fires.swap(sorted);
}

void EventLoop::schedule_typed_fan(std::uint64_t a, std::vector<TypedFire>& fires, Lane lane) {
  if (fires.empty()) return;
  for (const TypedFire& fire : fires) {
    if (fire.time < now_) throw std::logic_error("EventLoop: event scheduled in the past");
    if (fire.target == nullptr) throw std::logic_error("EventLoop: typed event without a target");
  }
  std::uint32_t index = 0;
  if (!free_fans_.empty()) {
    index = free_fans_.back();
    free_fans_.pop_back();
  } else {
    index = static_cast<std::uint32_t>(fans_.size());
    fans_.emplace_back();
  }
  Fan& fan = fans_[index];
  fan.a = a;
  fan.next = 0;
  fan.fires.clear();
  fan.fires.reserve(fires.size());
  for (const TypedFire& fire : fires) {
    // The sequence number each fire would have taken from schedule_typed_at
    // (or reserved for it in list order).
    const std::uint64_t order = fire.order != 0 ? fire.order : reserve_order(lane);
    fan.fires.push_back(FanFire{fire.time, order, fire.target, fire.b});
  }
  fires.clear();
  sort_fan(fan.fires);
  const std::uint32_t slot = take_slot();
  Slot& s = slots_[slot];
  s.fan = index;
  s.armed = true;
  live_ += fan.fires.size();
  heap_push(Entry{fan.fires.front().time, fan.fires.front().order, slot, s.generation});
}

EventLoop::EventId EventLoop::schedule_typed_keyed(Nanos time, std::uint64_t order, EventTarget* target,
                                                   std::uint64_t a, std::uint64_t b) {
  if (target == nullptr) throw std::logic_error("EventLoop: typed event without a target");
  if (time < now_ || (time == now_ && in_event_ && order <= current_order_))
    throw std::logic_error("EventLoop: keyed event scheduled in the past");
  const std::uint32_t slot = take_slot();
  Slot& s = slots_[slot];
  s.target = target;
  s.a = a;
  s.b = b;
  return arm(time, order, slot);
}

EventLoop::Key EventLoop::horizon() {
  if (in_event_) return Key{now_, current_order_};
  const Nanos next = next_time();
  if (next != now_) return Key{now_, ~std::uint64_t{0}};
  return Key{now_, current_order_};
}

bool EventLoop::cancel(EventId id) {
  if (id == 0) return false;
  const EventId raw = id - 1;
  const auto slot = static_cast<std::uint32_t>(raw & 0xFFFFFFFFu);
  const auto generation = static_cast<std::uint32_t>(raw >> 32);
  if (slot >= slots_.size()) return false;
  Slot& s = slots_[slot];
  if (!s.armed || s.generation != generation || s.fan != kNoFan) return false;
  release(slot);  // its heap entry is skipped when it surfaces
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
  if (heap_.empty()) return;
  sift_down_from_root(last);
}

void EventLoop::heap_replace_top(const Entry& entry) {
  sift_down_from_root(entry);
}

void EventLoop::sift_down_from_root(const Entry& last) {
  const std::size_t n = heap_.size();
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
  Slot& s = slots_[top.slot];
  if (s.fan != kNoFan) {
    // A fan: fire its earliest pending fire; the fan's entry moves on to
    // its next fire (one sift instead of a pop and a push), or goes.
    Fan& fan = fans_[s.fan];
    const FanFire fire = fan.fires[fan.next++];
    const std::uint64_t a = fan.a;
    if (fan.next < fan.fires.size()) {
      const FanFire& next = fan.fires[fan.next];
      heap_replace_top(Entry{next.time, next.order, top.slot, top.generation});
    } else {
      heap_pop();
      free_fans_.push_back(s.fan);
      s.fan = kNoFan;
      release(top.slot);
    }
    begin_event(fire.time, fire.order);
    fire.target->fire(a, fire.b);
    in_event_ = false;
    return true;
  }
  heap_pop();
  EventTarget* const target = s.target;
  Callback callback;
  if (target == nullptr) callback = std::move(s.callback);
  const std::uint64_t a = s.a;
  const std::uint64_t b = s.b;
  release(top.slot);
  begin_event(top.time, top.order);
  if (target != nullptr) {
    target->fire(a, b);
  } else {
    callback();
  }
  in_event_ = false;
  return true;
}

void EventLoop::release(std::uint32_t slot) {
  Slot& s = slots_[slot];
  s.callback = nullptr;
  s.target = nullptr;
  s.armed = false;
  ++s.generation;  // a heap entry still naming the slot is stale from now on
  free_slots_.push_back(slot);
}

void EventLoop::begin_event(Nanos time, std::uint64_t order) {
  --live_;
  now_ = time;
  current_order_ = order;
  in_event_ = true;
  ++processed_;
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
