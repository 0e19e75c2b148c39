// The run's trace: every externally visible event with its simulated time.
//
// Each event is a kind (a short dotted name such as "kv.submit") and typed
// fields (unsigned, signed, boolean, string, string list), encoded once into a
// compact binary record. The 64-bit trace hash runs over those records,
// always, and is identical on every platform (explicit little-endian
// encoding, no pointers, no floating point). A JSON Lines sink renders the
// same records on request, and the last few records are kept so that a
// violation can show the events leading to it. Format: docs/trace-format.md.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "engine/time.h"

namespace aether::sim {

using engine::Nanos;

class Trace;

// Builds one event; it is committed to the trace when the builder dies.
class TraceEvent {
 public:
  TraceEvent(const TraceEvent&) = delete;
  TraceEvent& operator=(const TraceEvent&) = delete;
  ~TraceEvent();

  TraceEvent& u64(std::string_view key, std::uint64_t value);
  TraceEvent& i64(std::string_view key, std::int64_t value);
  TraceEvent& flag(std::string_view key, bool value);
  TraceEvent& str(std::string_view key, std::string_view value);
  TraceEvent& list(std::string_view key, const std::vector<std::string>& values);
  // The same field as list(key, values), given encode_trace_list(values)
  // (a list written many times is encoded once: issue 14, ninth pass).
  TraceEvent& encoded_list(std::string_view key, std::string_view encoded);
  // A list field written item by item, with no string built per item:
  // begin_list(key, count), then exactly `count` item() calls; an item is the
  // concatenation of its parts (the same bytes as list() of those strings).
  TraceEvent& begin_list(std::string_view key, std::size_t count);
  TraceEvent& item(std::initializer_list<std::string_view> parts);

 private:
  friend class Trace;
  explicit TraceEvent(Trace& trace) : trace_(trace) {}
  Trace& trace_;
};

class Trace {
 public:
  explicit Trace(std::size_t recent_capacity = 64);

  TraceEvent event(Nanos time, std::string_view kind);

  std::uint64_t hash() const { return hash_; }
  std::uint64_t count() const { return count_; }

  // Writes every later event as one JSON line to `out` (not owned; nullptr
  // turns the sink off).
  void set_jsonl_sink(std::FILE* out) { jsonl_ = out; }
  // Calls `observer` with each committed event's JSON line (for divergence
  // hunting); empty turns it off.
  void set_line_observer(std::function<void(std::uint64_t index, const std::string&)> observer) {
    line_observer_ = std::move(observer);
  }

  // Limits the line observer to the events whose kind `filter` accepts (the
  // others are not rendered for it); empty: every event.
  void set_line_filter(std::function<bool(std::string_view kind)> filter) {
    line_filter_ = std::move(filter);
  }

  // The JSON lines of the last `n` events (at most the recent capacity),
  // oldest first.
  std::vector<std::string> recent(std::size_t n) const;

  // Renders one binary record as a JSON line (no newline).
  static std::string to_json(std::string_view record);

 private:
  friend class TraceEvent;
  void put_key(std::uint8_t type, std::string_view key);
  void commit();
  // Room for `n` more bytes of the record; write them, then advance to the
  // end of what was written (issue 14, fourth pass: no per-byte push_back).
  char* room(std::size_t n) {
    if (record_size_ + n > record_.size()) record_.resize(std::max(2 * record_.size(), record_size_ + n));
    return record_.data() + record_size_;
  }
  void advance(const char* end) { record_size_ = static_cast<std::size_t>(end - record_.data()); }
  std::string_view record() const { return {record_.data(), record_size_}; }

  std::vector<char> record_;  // the event under construction: its first record_size_ bytes
  std::size_t record_size_ = 0;
  std::uint64_t hash_;
  std::uint64_t count_ = 0;
  std::vector<std::string> ring_;
  std::size_t ring_next_ = 0;
  std::FILE* jsonl_ = nullptr;
  std::function<void(std::uint64_t, const std::string&)> line_observer_;
  std::function<bool(std::string_view)> line_filter_;
};

// Streaming 64-bit hash over bytes, platform independent.
std::uint64_t hash_bytes(std::uint64_t seed, std::string_view bytes);

// A list field's value as the trace record holds it (TraceEvent::encoded_list).
std::string encode_trace_list(const std::vector<std::string>& values);

// Formats a hash as 16 lowercase hex digits.
std::string hash_hex(std::uint64_t hash);

}  // namespace aether::sim
