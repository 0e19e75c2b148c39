// The runner: plays a scenarios::Scenario on a sim::SimCluster hosting the
// real engine, under every check of this folder, and returns what happened
// (verdict, violations, expectations, convergence, counters, trace hash). The
// CLI and the fuzz campaign call run_scenario; nothing else drives a run.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/config.h"
#include "properties/invariants.h"
#include "properties/run_figures.h"
#include "properties/run_monitor.h"
#include "properties/violations.h"
#include "scenarios/model.h"

namespace aether::properties {

enum class Verdict { Pass, Fail, InputError, FrameworkError };

const char* verdict_name(Verdict verdict);  // "pass", "fail", "input-error", "framework-error"
// Exit code of a verdict (product.md): 0, 1, 2, 3.
int verdict_exit_code(Verdict verdict);

struct RunResult {
  Verdict verdict = Verdict::Pass;
  std::uint64_t seed = 0;
  std::vector<Violation> violations;
  std::map<std::string, std::int64_t> reported;  // lost-update, late-commit, ...
  std::vector<ExpectationResult> expectations;
  ConvergenceOutcome convergence;
  std::map<std::string, std::int64_t> counters;  // engine counters summed over nodes
  std::uint64_t trace_hash = 0;
  std::uint64_t events = 0;
  Nanos simulated_end = 0;
  std::string input_error;  // "steps[3] at 20s: ..."
  std::string framework_error;
  std::vector<std::pair<std::string, Nanos>> client_commits;  // step path -> commit time
  // Invariants pinned by `violates` steps: their violations do not fail the run.
  std::vector<std::string> pinned;
  // The run's figures (docs/cli.md): convergence instant, failovers, worst
  // moment, instances moved, engine writes.
  RunFigures figures;
};

struct RunOptions {
  std::uint64_t seed = 0;
  std::FILE* trace_jsonl = nullptr;
  std::function<void(std::uint64_t, const std::string&)> trace_line_observer;
  // When set, trace_line_observer sees only the events whose kind it accepts
  // (the others are not rendered for it: a report collects a few kinds).
  std::function<bool(std::string_view kind)> trace_line_filter;
  // Called every `progress_every` events with the simulated time reached,
  // the events so far and the run's end as known then (a long run's
  // progress line; the callback may look at the wall clock, the run never).
  std::function<void(Nanos now, std::uint64_t events, Nanos end)> progress;
  std::uint64_t progress_every = 1u << 16;
  // sim::SimConfig::defer_deliveries (off: a test compares the two).
  bool defer_deliveries = true;
  // The checks' caches (issue 14, seventh pass): liveness recomputed only
  // after a view change or a node fault (LivenessCache), the convergence
  // check's parse of the slices/ entries only after a decided batch, the
  // figures' ACTIVE counts only for the keys and nodes that changed. Off:
  // recomputed at every question; a test compares the two.
  bool cache_checks = true;
};

RunResult run_scenario(const scenarios::Scenario& scenario, const RunOptions& options);

// The bound and quiet window of the implicit convergence check
// (simulation.md §5), from the scenario's cluster and engine configuration
// (`config` already parsed, leader_timeout defaulted). bound is an explicit
// sum; `terms` names each term (docs/checks.md documents them) in order.
struct ConvergenceTiming {
  Nanos bound_ns = 0;
  Nanos quiet_ns = 0;
  bool event_driven = false;  // reconciliation_interval >= 1h: no periodic term
  std::vector<std::pair<std::string, Nanos>> terms;
};
ConvergenceTiming convergence_timing(const scenarios::Scenario& scenario, const engine::EngineConfig& config);
// "1h" and above: the periodic reconcile is effectively off.
constexpr Nanos kEventDrivenInterval = engine::hours(1);

}  // namespace aether::properties
