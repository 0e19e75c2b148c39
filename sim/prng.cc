#include "sim/prng.h"

#include <cassert>
#include <cmath>

namespace aether::sim {

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

std::uint64_t Prng::below_low(std::uint64_t bound, std::uint64_t high, std::uint64_t low) {
  __extension__ using Uint128 = unsigned __int128;
  const std::uint64_t threshold = (0 - bound) % bound;
  while (low < threshold) {
    const Uint128 m = static_cast<Uint128>(next_u64()) * bound;
    high = static_cast<std::uint64_t>(m >> 64);
    low = static_cast<std::uint64_t>(m);
  }
  return high;
}

void Prng::fill_between(std::int64_t lo, std::int64_t hi, std::int64_t* out, std::size_t count) {
  // A local copy: `out` may not alias the state, which stays in registers.
  Prng local = *this;
  for (std::size_t i = 0; i < count; ++i) out[i] = local.between(lo, hi);
  *this = local;
}

Prng Prng::from_state(const std::array<std::uint64_t, 4>& state) {
  Prng prng;
  prng.state_ = state;
  return prng;
}

std::uint32_t rate_to_ppm(double rate) {
  if (!(rate > 0.0)) return 0;
  if (rate >= 1.0) return kPpmOne;
  return static_cast<std::uint32_t>(std::llround(rate * kPpmOne));
}

}  // namespace aether::sim
