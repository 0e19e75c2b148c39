// What the aethersim commands take as input: FILE|DIR arguments expanded to
// scenario files (a directory means the *.json directly in it, sorted by
// path), loaded and validated all at once, and the seed options of `run`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "scenarios/loader.h"

namespace aether::tools {

struct ExpandedInputs {
  std::vector<std::string> files;
  std::vector<std::string> errors;  // "DIR: no *.json files", "X: no such file or directory"
};

// FILE|DIR arguments, in argument order; each directory's *.json sorted by path.
ExpandedInputs expand_inputs(const std::vector<std::string>& arguments);

struct LoadedInputs {
  std::vector<scenarios::Scenario> scenarios;  // in file order, all valid
  std::vector<std::string> errors;             // formatted, every error of every file
  std::size_t invalid_files = 0;
};

LoadedInputs load_inputs(const std::vector<std::string>& files);

// An inclusive seed range "A..B" (A <= B), or nullopt with `error`.
struct SeedRange {
  std::uint64_t first = 0;
  std::uint64_t last = 0;
  bool operator==(const SeedRange&) const = default;
};
std::optional<SeedRange> parse_seed_range(const std::string& text, std::string* error);
std::optional<std::uint64_t> parse_seed(const std::string& text, std::string* error);

// The seeds one scenario runs with: --seed overrides the file's seed, --seeds
// sweeps a range, otherwise the file's seed or 0.
SeedRange seeds_for(const scenarios::Scenario& scenario, const std::optional<std::uint64_t>& seed_option,
                    const std::optional<SeedRange>& range_option);

// Number of runs, saturating at UINT64_MAX.
std::uint64_t run_count(const std::vector<scenarios::Scenario>& scenarios,
                        const std::optional<std::uint64_t>& seed_option,
                        const std::optional<SeedRange>& range_option);

}  // namespace aether::tools
