// `aethersim compare --a A.json --b B.json FILE|DIR... [--seeds A..B]
// [--out DIR]`: the same scenarios and seeds under two engine configuration
// overlays; per metric both distributions (median, p90, max), the per-seed
// paired difference and which configuration wins (docs/reports.md).
#pragma once

#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "tools/inputs.h"

namespace aether::tools {

struct CompareCommandOptions {
  std::string a;
  std::string b;
  std::vector<std::string> inputs;
  std::optional<SeedRange> seeds;  // default: each file's seed
  std::optional<std::string> out;  // compare.html (and compare.txt) go there
};

// 0 when compared (whatever the verdicts); 2 for an invalid overlay or input.
int compare_command(const CompareCommandOptions& options, std::ostream& out, std::ostream& err);

}  // namespace aether::tools
