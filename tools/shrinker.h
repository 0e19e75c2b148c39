// Delta debugging of a failing scenario (`aethersim shrink`, and every
// failure of `aethersim fuzz`): drop steps (halves, quarters, ... single
// steps), drop nodes, lower counts, move faults earlier and shorten them,
// drop config keys and cluster settings, drop slices; a candidate is kept
// only if it is a valid file (writer -> loader round trip) and fails the
// same way (same SeedOutcome::key: invariant id, blocker, crash, hang...).
// Each candidate runs in a worker process. Deterministic for a given
// sequence of outcomes; the budget only cuts the search short.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "scenarios/model.h"
#include "tools/isolated_run.h"

namespace aether::tools {

struct ShrinkOptions {
  std::chrono::milliseconds budget{60'000};
  std::chrono::milliseconds run_timeout{30'000};     // watchdog per candidate run
  std::function<void(const std::string&)> progress;  // one line per accepted step
  std::function<bool()> stop;                        // true: give up now (Ctrl-C)
};

struct ShrinkResult {
  scenarios::Scenario minimal;
  SeedOutcome original;
  SeedOutcome final_outcome;
  int attempts = 0;
  int accepted = 0;
  bool out_of_budget = false;
};

// `original` is the failure to keep (from an earlier run); its key must be
// non-empty.
ShrinkResult shrink_scenario(const scenarios::Scenario& scenario, std::uint64_t seed,
                             const SeedOutcome& original, const ShrinkOptions& options);

// A scenario as the loader would give it back from the writer's text
// (paths renumbered); nullopt if the text does not load.
std::optional<scenarios::Scenario> round_trip(const scenarios::Scenario& scenario);

}  // namespace aether::tools
