#include "tools/trace_compare.h"

namespace aether::tools {

std::uint64_t line_digest(const std::string& line) {
  std::uint64_t h = 14695981039346656037ULL;
  for (unsigned char c : line) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

void TraceComparer::record_first(const std::string& line) {
  first_.push_back(line_digest(line));
}

void TraceComparer::compare_second(const std::string& line) {
  const std::uint64_t index = second_count_++;
  if (found_) return;
  if (index >= first_.size()) {
    found_ = Divergence{index, line, previous_, true, false};
    return;
  }
  if (first_[index] != line_digest(line)) {
    found_ = Divergence{index, line, previous_, false, false};
    return;
  }
  previous_ = line;
}

std::optional<Divergence> TraceComparer::result() const {
  if (found_) return found_;
  if (second_count_ < first_.size()) return Divergence{second_count_, "", previous_, false, true};
  return std::nullopt;
}

}  // namespace aether::tools
