// How the CLI writes a run's figures (properties/run_figures.h computes
// them): the fields of a verdict line, one line per failover, a sweep's
// closing table (min/median/p90/max over the seeds), and the progress and
// cost lines of long runs. Formatting only; nothing here computes a figure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "properties/runner.h"
#include "scenarios/model.h"

namespace aether::tools {

// The per-run figures a sweep table aggregates.
struct SweepFigures {
  std::optional<std::int64_t> converged;  // ns
  std::optional<std::int64_t> recovery;   // longest failover recovery, ns
  bool unrecovered = false;               // a failover lost instances and never recovered
  std::int64_t failovers = 0;
  std::optional<std::int64_t> worst_permille;  // lowest counted ACTIVE fraction, per mille
  std::int64_t moved = 0;
  std::int64_t engine_writes = 0;
  std::int64_t end = 0;  // the run's simulated end, ns
};
SweepFigures sweep_figures(const properties::RunFigures& figures);

// "end=1m45s converged=12.3s recovery=2.31s worst=3/5@4.1s moved=2 writes=31".
std::string figures_fields(const properties::RunResult& result);
// "  failover crash node-1 at 3s: all instances ACTIVE again at 5.31s (recovery 2.31s)\n" per failover.
std::string failover_lines(const properties::RunFigures& figures);
// The closing table of a sweep, one line per figure.
std::string sweep_table(const std::vector<SweepFigures>& runs);

// Nearest-rank percentile (p in 1..100) of a non-empty list.
std::int64_t percentile(std::vector<std::int64_t> values, int p);

// "progress: simulated 1m02s of 5m, 1234567 events, 350000 events/s, ETA 40s
// at the recent rate"; `recent_sim_per_wall`: simulated ns per wall second
// since the previous line (0: unknown).
std::string run_progress_line(engine::Nanos now, std::uint64_t events, engine::Nanos end, double wall_s,
                              double recent_sim_per_wall);
// The one line printed before running a cluster of kLargeClusterNodes+ nodes.
std::string large_cluster_note(const scenarios::Scenario& scenario);

}  // namespace aether::tools
