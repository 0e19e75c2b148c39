// `aethersim run`: validates every input first (nothing runs if one is
// invalid), then plays each scenario for each seed and prints a verdict line
// per run (with the run's figures), a closing table per swept scenario and a
// summary. Seeds may run in worker processes (--jobs, fork; the simulated
// world stays single-threaded) with output identical to one process.
// Wall-clock timing lives here only; it never reaches the simulated world.
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
  // --report DIR: one folder per run (report.json, report.html, summary.md)
  // plus DIR/index.html; --junit FILE: JUnit XML, one testcase per run.
  std::optional<std::string> report_dir;
  std::optional<std::string> junit_file;
  bool stats = false;
  bool quiet = false;
  bool check_determinism = false;
  // Seeds in parallel in this many worker processes (1: in this process).
  unsigned jobs = 1;
  // Stop after the first run (in run order) that did not pass.
  bool fail_fast = false;
  // stderr is a terminal: progress lines redraw in place and are kept with
  // --quiet (the CLI sets it from isatty(2)).
  bool progress_on_terminal = false;
  // Long sweeps print a progress line on stderr at most this often (not with
  // quiet, unless on a terminal); the CLI uses 2s.
  std::chrono::milliseconds progress_interval{2000};
  // A single run that takes longer than this prints its own progress line
  // (simulated time reached, events/s, ETA) at most this often.
  std::chrono::milliseconds run_progress_interval{2000};
  // The runner offers a progress point every this many events.
  std::uint64_t run_progress_every_events = 1u << 16;
};

// Returns the process exit code (0 pass, 1 a check failed, 2 bad input or
// usage, 3 framework fault; the highest over all runs).
int run_command(const RunCommandOptions& options, std::ostream& out, std::ostream& err);

// The text `aethersim --version` prints, also on every summary line.
std::string version_string();

// Clusters from this many configured nodes on get a cost note up front.
constexpr std::size_t kLargeClusterNodes = 500;

}  // namespace aether::tools
