// `aethersim mutants` (docs/cli.md, docs/mutants.md): the mutation score of
// the checks. Each named engine mutation point (engine/mutations.h) is
// switched on in turn and run against the shipped suite (each scenario over
// a few seeds) and, while it survives, a bounded fuzz (`live` and `swarm`);
// the first failing run in a fixed order is its kill. The unmutated engine
// must pass the same suite runs first (else exit 3) and every killing fuzz
// seed (else the kill does not count and the exit is 3). Every run is a
// worker process: a crash or hang of a mutant is a recorded kill, never the
// end of the campaign. The result (table, JSON summary) depends only on the
// inputs and seeds, not on --jobs or timing.
#pragma once

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

namespace aether::tools {

struct MutantsOptions {
  std::string program = "aethersim";
  std::vector<std::string> inputs;  // the suite: FILE|DIR...; default "scenarios"
  std::uint64_t suite_seeds = 3;    // each suite scenario with seeds 1..suite_seeds
  bool suite = true;
  bool fuzz = true;
  std::vector<std::string> profiles = {"live", "swarm"};
  std::uint64_t fuzz_seeds = 1000;  // per profile, from start_seed
  std::uint64_t start_seed = 1;
  std::vector<std::string> only;  // mutation names; empty: every point
  std::vector<std::string> skip;  // mutation names left out (known, recorded survivors)
  int jobs = 1;
  std::optional<std::string> out_dir;    // shrunk fuzz kills, offered as scenarios
  std::optional<std::string> json_file;  // the JSON summary (docs/mutants.md)
  std::chrono::milliseconds seed_timeout{60'000};
  std::chrono::milliseconds shrink_budget{60'000};
  bool quiet = false;  // no progress line
};

int mutants_command(const MutantsOptions& options, std::ostream& out, std::ostream& err);

}  // namespace aether::tools
