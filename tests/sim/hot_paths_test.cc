// The simulator's hot-path helpers (issue 14, seventh and eighth passes)
// against the plain forms they replace: RingQueue against std::deque,
// Prng::fill_between and the out-of-line rejection in Prng::below against the
// draw written out in full, kth_smallest against std::nth_element.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <vector>

#include "sim/prng.h"
#include "sim/ring_queue.h"
#include "sim/select.h"
#include "sim/shared_view.h"
#include "sim/trace.h"

using aether::sim::kth_smallest;
using aether::sim::Prng;
using aether::sim::RingQueue;

namespace {

// Prng::below as it was before the rejection moved out of line (Lemire).
std::uint64_t reference_below(Prng& prng, std::uint64_t bound) {
  __extension__ using Uint128 = unsigned __int128;
  Uint128 m = static_cast<Uint128>(prng.next_u64()) * bound;
  auto low = static_cast<std::uint64_t>(m);
  if (low < bound) {
    const std::uint64_t threshold = (0 - bound) % bound;
    while (low < threshold) {
      m = static_cast<Uint128>(prng.next_u64()) * bound;
      low = static_cast<std::uint64_t>(m);
    }
  }
  return static_cast<std::uint64_t>(m >> 64);
}

}  // namespace

TEST_CASE("RingQueue behaves as a std::deque used as a queue") {
  Prng ops(20261203);
  RingQueue<std::uint64_t> ring;
  std::deque<std::uint64_t> plain;
  std::uint64_t next = 1;
  std::size_t largest = 0;
  for (int step = 0; step < 200'000; ++step) {
    const std::uint64_t op = ops.below(100);
    if (op < 55) {
      ring.push_back(next);
      plain.push_back(next);
      ++next;
    } else if (op < 98) {
      if (!plain.empty()) {
        REQUIRE(ring.front() == plain.front());
        ring.pop_front();
        plain.pop_front();
      }
    } else if (op < 99) {
      ring.clear();
      plain.clear();
    } else {
      // Whole contents, in order, and the ends.
      REQUIRE(ring.size() == plain.size());
      for (std::size_t i = 0; i < plain.size(); ++i) REQUIRE(ring[i] == plain[i]);
    }
    REQUIRE(ring.size() == plain.size());
    REQUIRE(ring.empty() == plain.empty());
    if (!plain.empty()) {
      REQUIRE(ring.front() == plain.front());
      REQUIRE(ring.back() == plain.back());
    }
    if (plain.empty()) REQUIRE(ring.capacity() <= 64);  // a burst's buffer is released
    largest = std::max(largest, plain.size());
  }
  CHECK(largest > 64);  // it grew several times, wrapped around on the way
}

TEST_CASE("Prng::below draws as the written-out Lemire method, rejections included") {
  // Bounds just above a power of two reject often (low < threshold up to
  // half the time near 2^63), small ones almost never.
  const std::vector<std::uint64_t> bounds = {1,
                                             2,
                                             3,
                                             7,
                                             1'000'000,
                                             4'000'001,
                                             (std::uint64_t{1} << 32) + 1,
                                             (std::uint64_t{1} << 62) + 12345,
                                             (std::uint64_t{1} << 63) + 1,
                                             (std::uint64_t{1} << 63) + (std::uint64_t{1} << 62),
                                             ~std::uint64_t{0}};
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    Prng fast(seed);
    Prng slow(seed);
    for (int i = 0; i < 2'000; ++i) {
      for (std::uint64_t bound : bounds) REQUIRE(fast.below(bound) == reference_below(slow, bound));
    }
    REQUIRE(fast.state() == slow.state());
  }
}

TEST_CASE("Prng::fill_between draws exactly as between() one by one") {
  struct Range {
    std::int64_t lo;
    std::int64_t hi;
  };
  const std::vector<Range> ranges = {{1'000'000, 5'000'000},  // the default latency
                                     {0, 0},
                                     {-7, 7},
                                     {0, INT64_MAX},
                                     {INT64_MIN, INT64_MAX},  // the full range: raw outputs
                                     {INT64_MIN, -1}};
  for (std::uint64_t seed = 1; seed <= 10; ++seed) {
    for (const Range& range : ranges) {
      for (std::size_t count : {0, 1, 2, 999}) {
        Prng batch(seed);
        Prng single(seed);
        std::vector<std::int64_t> out(count + 1, 42);
        batch.fill_between(range.lo, range.hi, out.data(), count);
        for (std::size_t i = 0; i < count; ++i) REQUIRE(out[i] == single.between(range.lo, range.hi));
        REQUIRE(out[count] == 42);  // nothing written past the count
        REQUIRE(batch.state() == single.state());
      }
    }
  }
}

TEST_CASE("kth_smallest finds the value nth_element puts at k") {
  Prng draws(8);
  std::vector<std::uint64_t> scratch;
  std::size_t checked = 0;
  for (int round = 0; round < 400; ++round) {
    // Sizes on both sides of the small-input path; spans from a handful of
    // values (many repeats, one bucket) to the full 64 bits; packed round
    // trips as gather_acks makes them (a latency sum above a place).
    const std::size_t n = 1 + static_cast<std::size_t>(draws.below(round % 4 == 0 ? 60 : 3000));
    const int kind = round % 5;
    std::vector<std::uint64_t> values(n);
    for (std::size_t i = 0; i < n; ++i) {
      switch (kind) {
        case 0:
          values[i] = draws.next_u64();
          break;
        case 1:
          values[i] = 1000 + draws.below(4);
          break;
        case 2:
          values[i] = static_cast<std::uint64_t>(draws.between(2'000'000, 10'000'000)) << 16 | i;
          break;
        case 3:
          values[i] = draws.below(1u << 20) << 40;
          break;
        default:
          values[i] = 7;
          break;
      }
    }
    const std::vector<std::uint64_t> before = values;
    for (std::size_t k : {std::size_t{0}, n / 2, n - 1, static_cast<std::size_t>(draws.below(n))}) {
      std::vector<std::uint64_t> plain = values;
      std::nth_element(plain.begin(), plain.begin() + static_cast<std::ptrdiff_t>(k), plain.end());
      REQUIRE(kth_smallest(values.data(), n, k, scratch) == plain[k]);
      ++checked;
    }
    REQUIRE(values == before);  // the input is left as it was
  }
  REQUIRE(checked == 1600);
}

namespace {

// A trace that keeps its last JSON line (the two list tests below compare
// one record written two ways).
struct LastLine {
  aether::sim::Trace trace;
  std::string line;
  LastLine() {
    trace.set_line_observer([this](std::uint64_t, const std::string& text) { line = text; });
  }
};

}  // namespace

TEST_CASE("a list written pre-encoded is the same trace record as the list") {
  // A shared view's names are encoded once and written by every node's view
  // line (issue 14, ninth pass): the record, its JSON line and the trace hash
  // must be those of list().
  std::vector<std::string> names;
  for (int i = 0; i < 300; ++i) names.push_back("node-" + std::to_string(i * 7919 % 1000));
  names.push_back("");                     // an empty item
  names.push_back(std::string(200, 'x'));  // a length past one varint byte
  const aether::sim::ViewRef view = aether::sim::make_view(names);
  for (const aether::sim::ViewRef* shared : {&view, &aether::sim::empty_view()}) {
    const std::vector<std::string>& items = (*shared)->names;
    const std::string& encoded = (*shared)->trace_list;
    LastLine plain;
    LastLine pre;
    plain.trace.event(5, "view").str("node", "n").list("view", items).u64("after", 1);
    pre.trace.event(5, "view").str("node", "n").encoded_list("view", encoded).u64("after", 1);
    CHECK(pre.line == plain.line);
    CHECK(pre.trace.hash() == plain.trace.hash());
    CHECK(encoded == aether::sim::encode_trace_list(items));
  }
}

TEST_CASE("a list written item by item is the same trace record as the list") {
  // kv.submit, kv.submit_lost and client.write write their command lists in
  // place (issue 14, ninth pass), each item the concatenation of its parts.
  const std::string long_value(300, 'v');  // an item past one varint byte
  const std::vector<std::string> items = {"put a=1", "remove b", "put c=" + long_value, "", "k"};
  LastLine plain;
  LastLine parts;
  plain.trace.event(9, "kv.submit").list("commands", items).list("none", {}).u64("after", 2);
  parts.trace.event(9, "kv.submit")
      .begin_list("commands", items.size())
      .item({"put ", "a", "=", "1"})
      .item({"remove ", "b"})
      .item({"put ", "c", "=", long_value})
      .item({})
      .item({"k"})
      .begin_list("none", 0)
      .u64("after", 2);
  CHECK(parts.line == plain.line);
  CHECK(parts.trace.hash() == plain.trace.hash());
}
