// `aethersim run`: validates every input first (nothing runs if one is
// invalid), then plays each scenario for each seed and prints a verdict line
// per run and a summary. Wall-clock timing lives here only; it never reaches
// the simulated world.
#pragma once

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "tools/inputs.h"

namespace aether::tools {

struct RunCommandOptions {
  std::string program = "aethersim";  // as invoked, for replay commands
  std::vector<std::string> inputs;
  std::optional<std::uint64_t> seed;
  std::optional<SeedRange> seeds;
  std::optional<std::string> trace_file;
  bool stats = false;
  bool quiet = false;
  bool check_determinism = false;
  // Long sweeps print a progress line on stderr at most this often (not with
  // quiet); the CLI uses 2s.
  std::chrono::milliseconds progress_interval{2000};
};

// Returns the process exit code (0 pass, 1 a check failed, 2 bad input or
// usage, 3 framework fault; the highest over all runs).
int run_command(const RunCommandOptions& options, std::ostream& out, std::ostream& err);

// The text `aethersim --version` prints, also on every summary line.
std::string version_string();

}  // namespace aether::tools
