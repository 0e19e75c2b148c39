#include <rapidcheck/catch.h>
#include <catch2/catch.hpp>

#include <array>
#include <set>

#include "sim/prng.h"

using aether::sim::Prng;

TEST_CASE("splitmix64 matches the reference outputs for seed 1234567") {
  std::uint64_t state = 1234567;
  const std::array<std::uint64_t, 5> expected = {6457827717110365317ULL, 3203168211198807973ULL,
                                                 9817491932198370423ULL, 4593380528125082431ULL,
                                                 16408922859458223821ULL};
  for (auto value : expected) CHECK(aether::sim::splitmix64_next(state) == value);
}

TEST_CASE("xoshiro256** matches the reference outputs from state {1,2,3,4}") {
  Prng prng = Prng::from_state({1, 2, 3, 4});
  const std::array<std::uint64_t, 4> expected = {11520ULL, 0ULL, 1509978240ULL, 1215971899390074240ULL};
  for (auto value : expected) CHECK(prng.next_u64() == value);
}

TEST_CASE("a seed always yields the same sequence") {
  Prng a(99), b(99);
  for (int i = 0; i < 1000; ++i) REQUIRE(a.next_u64() == b.next_u64());
}

TEST_CASE("named sub-streams are independent of each other's draws") {
  Prng network = Prng::stream(5, "network");
  Prng kv_before = Prng::stream(5, "kv-order");
  std::vector<std::uint64_t> kv_draws;
  for (int i = 0; i < 100; ++i) kv_draws.push_back(kv_before.next_u64());
  // Drawing heavily from one stream does not shift another.
  for (int i = 0; i < 10000; ++i) network.next_u64();
  Prng kv_after = Prng::stream(5, "kv-order");
  for (int i = 0; i < 100; ++i) REQUIRE(kv_after.next_u64() == kv_draws[static_cast<std::size_t>(i)]);
  // Different names and different seeds give different streams.
  CHECK(Prng::stream(5, "network").next_u64() != Prng::stream(5, "kv-order").next_u64());
  CHECK(Prng::stream(5, "network").next_u64() != Prng::stream(6, "network").next_u64());
}

TEST_CASE("sub-streams are not correlated bit for bit") {
  Prng a = Prng::stream(1, "faults");
  Prng b = Prng::stream(1, "slices");
  int equal_bits = 0;
  const int words = 2000;
  for (int i = 0; i < words; ++i) equal_bits += __builtin_popcountll(~(a.next_u64() ^ b.next_u64()));
  // Independent streams agree on about half of all bits.
  const double fraction = static_cast<double>(equal_bits) / (64.0 * words);
  CHECK(fraction > 0.48);
  CHECK(fraction < 0.52);
}

TEST_CASE("rate_to_ppm converts rates in [0,1]") {
  CHECK(aether::sim::rate_to_ppm(0.0) == 0);
  CHECK(aether::sim::rate_to_ppm(1.0) == 1'000'000);
  CHECK(aether::sim::rate_to_ppm(0.25) == 250'000);
  CHECK(aether::sim::rate_to_ppm(1e-7) == 0);
}

TEST_CASE("chance_ppm of 0 never and of one million always holds") {
  Prng prng(3);
  for (int i = 0; i < 1000; ++i) {
    REQUIRE_FALSE(prng.chance_ppm(0));
    REQUIRE(prng.chance_ppm(1'000'000));
  }
}

TEST_CASE("below(n) stays in [0, n)") {
  rc::prop("below(n) stays in [0, n)", [](std::uint64_t seed, std::uint64_t bound) {
    RC_PRE(bound > 0);
    Prng prng(seed);
    for (int i = 0; i < 50; ++i) RC_ASSERT(prng.below(bound) < bound);
  });
}

TEST_CASE("between(lo, hi) stays in [lo, hi]") {
  rc::prop("between(lo, hi) stays in [lo, hi]", [](std::uint64_t seed, std::int64_t a, std::int64_t b) {
    const auto lo = std::min(a, b), hi = std::max(a, b);
    Prng prng(seed);
    for (int i = 0; i < 50; ++i) {
      const auto v = prng.between(lo, hi);
      RC_ASSERT(v >= lo);
      RC_ASSERT(v <= hi);
    }
  });
}

TEST_CASE("duration_between covers both ends of a small range") {
  rc::prop("duration_between covers both ends of a small range", [](std::uint64_t seed) {
    Prng prng(seed);
    std::set<std::int64_t> seen;
    for (int i = 0; i < 400; ++i) seen.insert(prng.duration_between(10, 13));
    RC_ASSERT(seen == std::set<std::int64_t>({10, 11, 12, 13}));
  });
}

TEST_CASE("below(n) is roughly uniform") {
  rc::prop("below(n) is roughly uniform", [](std::uint64_t seed) {
    const auto bound = static_cast<std::uint64_t>(*rc::gen::inRange(2, 17));
    Prng prng(seed);
    std::vector<int> counts(bound, 0);
    const int draws = 8000;
    for (int i = 0; i < draws; ++i) ++counts[prng.below(bound)];
    const double expected = static_cast<double>(draws) / static_cast<double>(bound);
    double chi2 = 0;
    for (int c : counts) chi2 += (c - expected) * (c - expected) / expected;
    // Far beyond the 99.99th percentile of chi-square with <= 16 degrees of freedom.
    RC_ASSERT(chi2 < 60.0);
  });
}

TEST_CASE("chance_ppm hits close to its rate") {
  rc::prop("chance_ppm hits close to its rate", [](std::uint64_t seed) {
    const auto ppm = static_cast<std::uint32_t>(*rc::gen::inRange(50'000, 950'001));
    Prng prng(seed);
    const int draws = 20000;
    int hits = 0;
    for (int i = 0; i < draws; ++i) hits += prng.chance_ppm(ppm) ? 1 : 0;
    const double observed = static_cast<double>(hits) / draws;
    RC_ASSERT(std::abs(observed - ppm / 1e6) < 0.02);
  });
}

TEST_CASE("shuffle is a deterministic permutation") {
  std::vector<int> a{1, 2, 3, 4, 5, 6, 7, 8}, b = a;
  Prng p1(11), p2(11);
  p1.shuffle(a);
  p2.shuffle(b);
  CHECK(a == b);
  std::vector<int> sorted = a;
  std::sort(sorted.begin(), sorted.end());
  CHECK(sorted == std::vector<int>{1, 2, 3, 4, 5, 6, 7, 8});
}
