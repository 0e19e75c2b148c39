#include "sim/select.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cassert>

namespace aether::sim {

std::uint64_t kth_smallest(const std::uint64_t* values, std::size_t n, std::size_t k,
                           std::vector<std::uint64_t>& scratch) {
  assert(k < n);
  constexpr std::size_t kSmall = 64;  // below this, one nth_element on a copy is as quick
  if (n <= kSmall) {
    scratch.assign(values, values + n);
    std::nth_element(scratch.begin(), scratch.begin() + static_cast<std::ptrdiff_t>(k), scratch.end());
    return scratch[k];
  }
  std::uint64_t low = values[0];
  std::uint64_t high = values[0];
  for (std::size_t i = 1; i < n; ++i) {
    low = std::min(low, values[i]);
    high = std::max(high, values[i]);
  }
  // 256 buckets over [low, high]: bucket = (value - low) >> shift.
  constexpr int kBucketBits = 8;
  const int span_bits = std::bit_width(high - low);
  const int shift = span_bits > kBucketBits ? span_bits - kBucketBits : 0;
  std::array<std::uint32_t, std::size_t{1} << kBucketBits> counts{};
  for (std::size_t i = 0; i < n; ++i) ++counts[(values[i] - low) >> shift];
  std::size_t bucket = 0;
  std::size_t before = 0;  // values in the buckets below `bucket`
  while (before + counts[bucket] <= k) before += counts[bucket++];
  scratch.clear();
  for (std::size_t i = 0; i < n; ++i) {
    if (((values[i] - low) >> shift) == bucket) scratch.push_back(values[i]);
  }
  const std::size_t rank = k - before;
  std::nth_element(scratch.begin(), scratch.begin() + static_cast<std::ptrdiff_t>(rank), scratch.end());
  return scratch[rank];
}

}  // namespace aether::sim
