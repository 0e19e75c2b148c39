// The report.* trace events (docs/trace-format.md): at the run's end, before
// run.end, the runner writes what a report needs beyond the world's own
// events (expectation descriptions, the convergence judgement's terms, the
// run's figures with the per-base desired/ACTIVE series, the engine counters
// and the resolved configuration), so that `aethersim report TRACE` rebuilds
// the same report from a saved trace without re-running.
#pragma once

#include <cstdint>

#include "properties/runner.h"
#include "scenarios/model.h"
#include "sim/trace.h"

namespace aether::properties {

void write_report_events(sim::Trace& trace, Nanos now, const RunResult& result,
                         const scenarios::Scenario& scenario, const nlohmann::json& engine_config,
                         std::uint64_t events);

}  // namespace aether::properties
