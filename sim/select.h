// Selection of the k-th smallest of many integers (issue 14, eighth pass):
// gather_acks picks, per submit, the (majority-1)-th nearest of ~n answering
// peers; std::nth_element there was ~6% of a 1,000-node run.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace aether::sim {

// The k-th smallest (0-based, k < n) of values[0, n): the value
// std::nth_element would put at index k. `values` is left as it was;
// `scratch` is working space. By a histogram of the values' high bits (one
// pass to bucket, one to collect the bucket that holds rank k), then
// std::nth_element within that bucket only.
std::uint64_t kth_smallest(const std::uint64_t* values, std::size_t n, std::size_t k,
                           std::vector<std::uint64_t>& scratch);

}  // namespace aether::sim
