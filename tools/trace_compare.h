// Compares the traces of two runs of the same scenario and seed, event by
// event, for `aethersim run --check-determinism`. The first run is kept as
// one 64-bit digest per line (not the lines), the second is compared as it
// streams; the first differing event is named with the line both agreed on
// before it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace aether::tools {

struct Divergence {
  std::uint64_t index = 0;    // 0-based trace line where the runs first differ
  std::string second_line;    // run 2's line there ("" if run 2 ended before it)
  std::string last_common;    // the line before it, identical in both ("" at index 0)
  bool first_ended = false;   // run 1 had no line at index
  bool second_ended = false;  // run 2 had no line at index
};

class TraceComparer {
 public:
  void record_first(const std::string& line);
  void compare_second(const std::string& line);
  // After both runs: the first divergence, if any.
  std::optional<Divergence> result() const;

 private:
  std::vector<std::uint64_t> first_;
  std::uint64_t second_count_ = 0;
  std::string previous_;
  std::optional<Divergence> found_;
};

// 64-bit FNV-1a of a line.
std::uint64_t line_digest(const std::string& line);

}  // namespace aether::tools
