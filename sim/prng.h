// The simulator's only source of randomness: xoshiro256** seeded through
// splitmix64, with integer-only helpers. No <random> distribution is used
// anywhere (they differ between standard libraries). Probabilities are parts
// per million. Every purpose (network, kv-order, slices, scenario targets,
// faults, ...) draws from its own named sub-stream split from the run seed, so
// that adding draws in one does not shift another.
#pragma once

#include <array>
#include <cassert>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/time.h"

namespace aether::sim {

using engine::Nanos;

constexpr std::uint32_t kPpmOne = 1'000'000;  // a probability of 1 in parts per million

// One step of splitmix64: advances `state` and returns the next output.
std::uint64_t splitmix64_next(std::uint64_t& state);

// 64-bit FNV-1a of a name, used to derive sub-stream seeds.
std::uint64_t fnv1a64(std::string_view bytes);

class Prng {
 public:
  explicit Prng(std::uint64_t seed);

  // The named sub-stream of a run seed. Streams of different names are
  // independent; the same (seed, name) always yields the same stream.
  static Prng stream(std::uint64_t run_seed, std::string_view name);

  // xoshiro256**: the next raw 64-bit output.
  std::uint64_t next_u64();

  // Uniform in [0, bound); bound must be > 0. Unbiased (Lemire's method with
  // rejection).
  std::uint64_t below(std::uint64_t bound);

  // Uniform in [lo, hi], inclusive; lo <= hi.
  std::int64_t between(std::int64_t lo, std::int64_t hi);

  // `count` draws of between(lo, hi) into out[0, count), in order: the same
  // values and the same state after as `count` calls (issue 14, seventh pass:
  // the hot loops draw through one call, with the draw inlined here).
  void fill_between(std::int64_t lo, std::int64_t hi, std::int64_t* out, std::size_t count);

  // True with probability ppm / 1'000'000; ppm in [0, kPpmOne].
  bool chance_ppm(std::uint32_t ppm);

  // A duration drawn uniformly from [min_ns, max_ns], inclusive.
  Nanos duration_between(Nanos min_ns, Nanos max_ns) { return between(min_ns, max_ns); }

  // Fisher-Yates shuffle.
  template <typename T>
  void shuffle(std::vector<T>& items) {
    for (std::size_t i = items.size(); i > 1; --i) {
      std::size_t j = static_cast<std::size_t>(below(i));
      std::swap(items[i - 1], items[j]);
    }
  }

  const std::array<std::uint64_t, 4>& state() const { return state_; }

  // Constructs a generator from a raw state (golden-vector tests only).
  static Prng from_state(const std::array<std::uint64_t, 4>& state);

 private:
  Prng() = default;
  static constexpr std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  // below() when the first product's low word fell under `bound`: rejects
  // and redraws while it falls under the threshold (Lemire).
  std::uint64_t below_low(std::uint64_t bound, std::uint64_t high, std::uint64_t low);
  std::array<std::uint64_t, 4> state_{};
};

// The draws are inline (issue 14, fifth pass: a 1,000-node run draws ~10^8
// latencies, each a call before).
inline std::uint64_t Prng::next_u64() {
  auto& s = state_;
  const std::uint64_t result = rotl(s[1] * 5, 7) * 9;
  const std::uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

inline std::uint64_t Prng::below(std::uint64_t bound) {
  assert(bound > 0);
  // Lemire, "Fast Random Integer Generation in an Interval" (2019).
  __extension__ using Uint128 = unsigned __int128;
  const Uint128 m = static_cast<Uint128>(next_u64()) * bound;
  // The rare case that may reject (probability bound / 2^64) is out of line,
  // so that a draw is small enough to be inlined into the hot loops (issue
  // 14, seventh pass); the same outputs and the same draws.
  if (static_cast<std::uint64_t>(m) < bound)
    return below_low(bound, static_cast<std::uint64_t>(m >> 64), static_cast<std::uint64_t>(m));
  return static_cast<std::uint64_t>(m >> 64);
}

inline std::int64_t Prng::between(std::int64_t lo, std::int64_t hi) {
  assert(lo <= hi);
  const auto span = static_cast<std::uint64_t>(hi) - static_cast<std::uint64_t>(lo);
  if (span == UINT64_MAX) return static_cast<std::int64_t>(next_u64());
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(lo) + below(span + 1));
}

inline bool Prng::chance_ppm(std::uint32_t ppm) {
  if (ppm == 0) return false;
  if (ppm >= kPpmOne) return true;
  return below(kPpmOne) < ppm;
}

// Converts a rate in [0, 1] to parts per million, rounding to nearest.
std::uint32_t rate_to_ppm(double rate);

}  // namespace aether::sim
