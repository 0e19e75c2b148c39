#include "tools/run_figures_format.h"

#include <algorithm>

#include <fmt/format.h>

#include "properties/human_time.h"

namespace aether::tools {

using properties::human_duration;

SweepFigures sweep_figures(const properties::RunFigures& f) {
  SweepFigures s;
  s.converged = f.converged_at;
  s.recovery = f.longest_recovery();
  s.unrecovered = f.unrecovered();
  s.failovers = static_cast<std::int64_t>(f.failovers.size());
  s.worst_permille = f.worst_permille();
  s.moved = f.moved();
  s.engine_writes = static_cast<std::int64_t>(f.engine_writes);
  s.end = f.run_end;
  return s;
}

std::string figures_fields(const properties::RunResult& r) {
  const auto& f = r.figures;
  std::string out = fmt::format("end={}", human_duration(r.simulated_end));
  if (r.verdict == properties::Verdict::InputError || r.verdict == properties::Verdict::FrameworkError) {
    return out;  // the run did not finish: no figures
  }
  if (f.converged_at) {
    out += " converged=" + human_duration(*f.converged_at);
  } else if (f.convergence_note == "not checked") {
    out += " converged=unchecked";
  } else if (f.convergence_note.rfind("not owed", 0) == 0) {
    out += " converged=not-owed";
  } else {
    out += " converged=no";
  }
  if (f.failovers.empty()) {
    out += " recovery=-";
  } else {
    std::string list;
    for (const auto& fo : f.failovers) {
      if (!list.empty()) list += ",";
      const auto rec = fo.recovery();
      list += rec ? human_duration(*rec) : "never";
    }
    out += " recovery=" + list;
  }
  if (f.full_at) {
    out += fmt::format(" worst={}/{}@{}", f.worst_active, f.worst_desired, human_duration(f.worst_at));
  } else {
    out += " worst=-";
  }
  out += fmt::format(" moved={} writes={}", f.moved(), f.engine_writes);
  return out;
}

std::string failover_lines(const properties::RunFigures& f) {
  std::string out;
  for (const auto& fo : f.failovers) {
    out += fmt::format("  failover {} at {}: ", fo.fault, human_duration(fo.fault_at));
    if (!fo.lost) {
      out += "no placeable instance lost (recovery 0s)\n";
    } else if (fo.recovered_at) {
      out += fmt::format("all instances ACTIVE again at {} (recovery {})\n", human_duration(*fo.recovered_at),
                         human_duration(*fo.recovery()));
    } else {
      out += "instances lost and not all ACTIVE again by the run's end\n";
    }
  }
  return out;
}

std::int64_t percentile(std::vector<std::int64_t> values, int p) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  std::size_t rank = (static_cast<std::size_t>(p) * n + 99) / 100;  // ceil(p/100 * n)
  rank = std::clamp<std::size_t>(rank, 1, n);
  return values[rank - 1];
}

namespace {

std::string permille(std::int64_t v) {
  return fmt::format("{}.{}%", v / 10, v % 10);
}

template <typename Format>
std::string row(const char* name, const std::vector<std::int64_t>& values, std::size_t runs, Format format,
                const std::string& note) {
  if (values.empty())
    return fmt::format("  {:<14} {:>10} {:>10} {:>10} {:>10}  (0 of {} seeds{})\n", name, "-", "-", "-", "-",
                       runs, note);
  return fmt::format("  {:<14} {:>10} {:>10} {:>10} {:>10}  ({} of {} seeds{})\n", name,
                     format(percentile(values, 0)), format(percentile(values, 50)),
                     format(percentile(values, 90)), format(percentile(values, 100)), values.size(), runs,
                     note);
}

}  // namespace

std::string sweep_table(const std::vector<SweepFigures>& runs) {
  std::vector<std::int64_t> converged, recovery, worst, moved, writes, end;
  std::size_t unrecovered = 0;
  std::size_t with_failover = 0;
  for (const auto& r : runs) {
    if (r.converged) converged.push_back(*r.converged);
    if (r.recovery) recovery.push_back(*r.recovery);
    if (r.unrecovered) ++unrecovered;
    if (r.failovers > 0) ++with_failover;
    if (r.worst_permille) worst.push_back(*r.worst_permille);
    moved.push_back(r.moved);
    writes.push_back(r.engine_writes);
    end.push_back(r.end);
  }
  auto d = [](std::int64_t v) { return human_duration(v); };
  auto n = [](std::int64_t v) { return std::to_string(v); };
  std::string out =
      fmt::format("  {:<14} {:>10} {:>10} {:>10} {:>10}\n", "figure", "min", "median", "p90", "max");
  out += row("converged at", converged, runs.size(), d, "");
  out += row(
      "recovery", recovery, runs.size(), d,
      fmt::format("; longest per run; {} with a failover, {} never recovered", with_failover, unrecovered));
  out += row("worst ACTIVE", worst, runs.size(), permille, "; counted ACTIVE / desired");
  out += row("moved", moved, runs.size(), n, "");
  out += row("engine writes", writes, runs.size(), n, "");
  out += row("run end", end, runs.size(), d, "");
  return out;
}

std::string run_progress_line(engine::Nanos now, std::uint64_t events, engine::Nanos end, double wall_s,
                              double recent_sim_per_wall) {
  const double wall = std::max(wall_s, 1e-9);
  std::string line = fmt::format("progress: simulated {}", human_duration(now));
  const bool end_known = end > 0 && end < (engine::Nanos{1} << 62);
  if (end_known) line += " of " + human_duration(end);
  line += fmt::format(", {} events, {:.0f} events/s", events, static_cast<double>(events) / wall);
  if (end_known && recent_sim_per_wall > 0) {
    // simulated ns left / simulated ns per wall second = wall seconds left.
    const auto eta = static_cast<engine::Nanos>(static_cast<double>(end - now) / recent_sim_per_wall * 1e9);
    line += ", ETA " + human_duration(eta / 1'000'000'000 * 1'000'000'000) + " at the recent rate";
  } else {
    line += ", ETA unknown (the run's end is fixed when the steps are done)";
  }
  return line;
}

std::string large_cluster_note(const scenarios::Scenario& scenario) {
  // The documented scaling (docs/cli.md, "Large clusters"): building the
  // cluster makes every node see every other one, about 1.1 x nodes^2
  // events, and the event loop does about 60000 events per wall second on
  // the reference machine (2 shared cores); faults and steps add little.
  constexpr double kEventsPerNode2 = 1.1;
  constexpr double kEventsPerWallSecond = 60000;
  const double nodes = static_cast<double>(scenario.cluster.nodes.size());
  const double events = kEventsPerNode2 * nodes * nodes;
  const auto wall_s = static_cast<engine::Nanos>(events / kEventsPerWallSecond) + 1;
  return fmt::format(
      "note: {} has {} nodes: expect about {:.1f} million events and {} of wall time per run, mostly while "
      "the cluster starts (about 1.1 x nodes^2 events; docs/cli.md, \"Large clusters\")",
      scenario.name, scenario.cluster.nodes.size(), events / 1e6, human_duration(wall_s * 1'000'000'000));
}

}  // namespace aether::tools
