// `aethersim fuzz` (docs/cli.md, docs/fuzz.md): generated scenarios of a
// profile, one per seed, each in a worker process under every check; every
// failure recorded with its replay command and shrunk to a file; a JSON
// summary whose bytes depend only on the seeds run (not on --jobs, timing or
// sharding: `aethersim merge` of the shards gives the unsharded bytes).
// Also `aethersim shrink` and `aethersim merge`.
#pragma once

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace aether::tools {

struct FuzzOptions {
  std::string program = "aethersim";
  std::string profile = "live";
  std::uint64_t seeds = 100;
  std::uint64_t start_seed = 1;
  std::optional<std::chrono::milliseconds> time_budget;
  int jobs = 1;
  std::uint64_t shard_index = 0;
  std::uint64_t shard_count = 1;
  bool sharded = false;
  std::optional<std::string> out_dir;
  std::optional<std::string> summary_file;  // default: DIR/summary.json with --out
  std::optional<std::string> junit;
  // A failure report per failing seed (DIR/seed-N/report.html, ...) and
  // DIR/index.html linking them (docs/reports.md).
  std::optional<std::string> report_dir;
  std::uint32_t recheck_ppm = 50'000;  // 5%
  std::chrono::milliseconds shrink_budget{60'000};
  bool shrink = true;
  std::chrono::milliseconds seed_timeout{60'000};
  bool print_cases = false;  // one line per seed (and the swarm draw)
  // Progress: an updating line on a terminal, else a plain line this often.
  std::chrono::milliseconds progress_interval{5000};
  bool quiet = false;
  bool stats = false;  // add CPU time per seed (workers' user + system time)
};

// Is `seed` one of the rechecked ones (a hash of the seed, so the same seeds
// are rechecked whatever the sharding)?
bool rechecked_seed(std::uint64_t seed, std::uint32_t recheck_ppm);

int fuzz_command(const FuzzOptions& options, std::ostream& out, std::ostream& err);

struct ShrinkCommandOptions {
  std::string program = "aethersim";
  std::string file;
  std::optional<std::uint64_t> seed;
  std::optional<std::string> out_file;
  std::chrono::milliseconds budget{60'000};
};
int shrink_command(const ShrinkCommandOptions& options, std::ostream& out, std::ostream& err);

int merge_command(const std::vector<std::string>& inputs, const std::optional<std::string>& out_file,
                  std::ostream& out, std::ostream& err);

// Writes `text` to `path` atomically (temp file + rename); false + error on failure.
bool write_atomically(const std::string& path, const std::string& text, std::string* error);

// The summary's bytes (two-space indent, final newline).
std::string summary_text(const nlohmann::ordered_json& summary);

}  // namespace aether::tools
