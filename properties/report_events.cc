#include "properties/report_events.h"

#include <fmt/format.h>

#include "scenarios/writer.h"

namespace aether::properties {

void write_report_events(sim::Trace& trace, Nanos now, const RunResult& r,
                         const scenarios::Scenario& scenario, const nlohmann::json& engine_config,
                         std::uint64_t events) {
  trace.event(now, "report.config")
      .str("cluster",
           scenarios::scenario_to_json(scenario).value("cluster", nlohmann::ordered_json::object()).dump())
      .str("engine", engine_config.dump());
  for (const auto& e : r.expectations) {
    trace.event(now, "report.expectation").str("path", e.path).str("description", e.description);
  }
  {
    const auto& c = r.convergence;
    auto event = trace.event(now, "report.convergence");
    event.flag("checked", c.checked).str("not_owed_reason", c.not_owed_reason).str("detail", c.detail);
    if (c.t0) event.i64("t0_ns", *c.t0);
    event.i64("bound_ns", c.bound_ns)
        .i64("quiet_ns", c.quiet_ns)
        .i64("pending_client_writes", c.pending_client_writes);
  }
  const auto& f = r.figures;
  {
    std::vector<std::string> counters;
    for (const auto& [name, value] : r.counters) counters.push_back(fmt::format("{}={}", name, value));
    std::vector<std::string> reported;
    for (const auto& [name, value] : r.reported) reported.push_back(fmt::format("{}={}", name, value));
    auto event = trace.event(now, "report.figures");
    event.u64("events", events);
    if (f.converged_at) event.i64("converged_ns", *f.converged_at);
    event.str("convergence_note", f.convergence_note);
    if (f.full_at) event.i64("full_ns", *f.full_at);
    event.i64("worst_active", f.worst_active)
        .i64("worst_desired", f.worst_desired)
        .i64("worst_ns", f.worst_at)
        .i64("activations_after_full", f.activations_after_full)
        .i64("desired_growth", f.desired_growth)
        .u64("engine_writes", f.engine_writes)
        .list("counters", counters)
        .list("reported", reported)
        .list("pinned", r.pinned);
  }
  for (const auto& failover : f.failovers) {
    auto event = trace.event(now, "report.failover");
    event.str("fault", failover.fault).i64("fault_ns", failover.fault_at).flag("lost", failover.lost);
    if (failover.recovered_at) event.i64("recovered_ns", *failover.recovered_at);
  }
  for (const auto& [base, points] : f.bases) {
    std::vector<std::string> list;
    list.reserve(points.size());
    for (const auto& p : points) list.push_back(fmt::format("{}:{}:{}", p.at, p.desired, p.active));
    trace.event(now, "report.base").str("artifact", base).list("points", list);
  }
}

}  // namespace aether::properties
