// A FIFO queue over one growable power-of-two buffer (issue 14, seventh pass):
// a node's deferred deliveries come and go a few at a time, for every node and
// every decided position. std::deque allocated and freed a block every few
// elements, each block anywhere in memory; this buffer grows by doubling when
// full and is kept while small; once empty it starts again at its front (a
// buffer grown past 64 elements is released then).
#pragma once

#include <cassert>
#include <cstddef>
#include <utility>
#include <vector>

namespace aether::sim {

template <typename T>
class RingQueue {
 public:
  bool empty() const { return size_ == 0; }
  std::size_t size() const { return size_; }

  // The i-th element from the front (0: the oldest).
  T& operator[](std::size_t i) {
    assert(i < size_);
    return slots_[(head_ + i) & mask()];
  }
  const T& operator[](std::size_t i) const {
    assert(i < size_);
    return slots_[(head_ + i) & mask()];
  }
  T& front() { return (*this)[0]; }
  const T& front() const { return (*this)[0]; }
  T& back() { return (*this)[size_ - 1]; }
  const T& back() const { return (*this)[size_ - 1]; }

  // Where the next push_back writes, and where the front is (nullptr: a
  // push_back would grow the buffer; the queue is empty): for prefetching.
  const T* next_slot() const { return size_ < slots_.size() ? &slots_[(head_ + size_) & mask()] : nullptr; }
  const T* front_slot() const { return size_ > 0 ? &slots_[head_] : nullptr; }

  void push_back(const T& value) { push_back_slot() = value; }
  // A new last element, to be written in place (it holds a stale value).
  T& push_back_slot() {
    if (size_ == slots_.size()) grow();
    T& slot = slots_[(head_ + size_) & mask()];
    ++size_;
    return slot;
  }
  void pop_front() {
    assert(size_ > 0);
    head_ = (head_ + 1) & mask();
    // Emptied: start again at the front, so that a queue that stays short
    // keeps using the same few (cached) slots.
    if (--size_ == 0) clear();
  }
  void clear() {
    head_ = 0;
    size_ = 0;
    // A buffer grown by a burst goes back to the allocator (a node's notes
    // are few but for the instants when many positions are decided at once).
    if (slots_.size() > kKeptSlots) std::vector<T>().swap(slots_);
  }
  std::size_t capacity() const { return slots_.size(); }

 private:
  std::size_t mask() const { return slots_.size() - 1; }
  void grow() {
    // The elements in order at the start of a buffer twice the size.
    std::vector<T> bigger(slots_.empty() ? 4 : 2 * slots_.size());
    for (std::size_t i = 0; i < size_; ++i) bigger[i] = std::move(slots_[(head_ + i) & mask()]);
    slots_ = std::move(bigger);
    head_ = 0;
  }

  static constexpr std::size_t kKeptSlots = 64;  // an emptied buffer up to this size is kept
  std::vector<T> slots_;                         // empty, or a power of two in size
  std::size_t head_ = 0;
  std::size_t size_ = 0;
};

}  // namespace aether::sim
