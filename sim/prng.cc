#include "sim/prng.h"

#include <cassert>
#include <cmath>

namespace aether::sim {

namespace {

// GCC and Clang provide 128-bit integers; __extension__ keeps -Wpedantic quiet.
__extension__ using Uint128 = unsigned __int128;

constexpr std::uint64_t rotl(std::uint64_t x, int k) {
  return (x << k) | (x >> (64 - k));
}

}  // namespace

std::uint64_t splitmix64_next(std::uint64_t& state) {
  state += 0x9E3779B97F4A7C15ULL;
  std::uint64_t z = state;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

std::uint64_t fnv1a64(std::string_view bytes) {
  std::uint64_t hash = 0xCBF29CE484222325ULL;
  for (unsigned char c : bytes) {
    hash ^= c;
    hash *= 0x100000001B3ULL;
  }
  return hash;
}

Prng::Prng(std::uint64_t seed) {
  std::uint64_t sm = seed;
  for (auto& word : state_) word = splitmix64_next(sm);
}

Prng Prng::stream(std::uint64_t run_seed, std::string_view name) {
  // Mix the name hash through splitmix so that nearby seeds and similar names
  // land far apart.
  std::uint64_t mix = run_seed ^ fnv1a64(name);
  return Prng(splitmix64_next(mix));
}

Prng Prng::from_state(const std::array<std::uint64_t, 4>& state) {
  Prng prng;
  prng.state_ = state;
  return prng;
}

std::uint64_t Prng::next_u64() {
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

std::uint64_t Prng::below(std::uint64_t bound) {
  assert(bound > 0);
  // Lemire, "Fast Random Integer Generation in an Interval" (2019).
  Uint128 m = static_cast<Uint128>(next_u64()) * bound;
  auto low = static_cast<std::uint64_t>(m);
  if (low < bound) {
    const std::uint64_t threshold = (0 - bound) % bound;
    while (low < threshold) {
      m = static_cast<Uint128>(next_u64()) * bound;
      low = static_cast<std::uint64_t>(m);
    }
  }
  return static_cast<std::uint64_t>(m >> 64);
}

std::int64_t Prng::between(std::int64_t lo, std::int64_t hi) {
  assert(lo <= hi);
  const auto span = static_cast<std::uint64_t>(hi) - static_cast<std::uint64_t>(lo);
  if (span == UINT64_MAX) return static_cast<std::int64_t>(next_u64());
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(lo) + below(span + 1));
}

bool Prng::chance_ppm(std::uint32_t ppm) {
  if (ppm == 0) return false;
  if (ppm >= kPpmOne) return true;
  return below(kPpmOne) < ppm;
}

std::uint32_t rate_to_ppm(double rate) {
  if (!(rate > 0.0)) return 0;
  if (rate >= 1.0) return kPpmOne;
  return static_cast<std::uint32_t>(std::llround(rate * kPpmOne));
}

}  // namespace aether::sim
