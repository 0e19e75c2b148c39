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
