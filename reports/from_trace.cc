// A report rebuilt from a saved trace (docs/reports.md, "From a saved
// trace"): the world events feed the same TraceCollector as a live run; the
// check.* and report.* events give back the RunResult the runner returned.
#include <deque>
#include <fstream>
#include <stdexcept>

#include <fmt/format.h>

#include "properties/violations.h"
#include "reports/report.h"

namespace aether::reports {

namespace {

using properties::RunResult;
using properties::Verdict;

std::optional<Nanos> opt_i64(const nlohmann::json& j, const char* key) {
  if (!j.contains(key)) return std::nullopt;
  return j[key].get<Nanos>();
}

std::map<std::string, std::int64_t> name_values(const nlohmann::json& list) {
  std::map<std::string, std::int64_t> out;
  for (const auto& item : list) {
    const auto text = item.get<std::string>();
    const auto eq = text.rfind('=');
    if (eq == std::string::npos) throw std::runtime_error(fmt::format("\"{}\" is not name=value", text));
    out[text.substr(0, eq)] = std::stoll(text.substr(eq + 1));
  }
  return out;
}

Verdict verdict_of(const std::string& name) {
  for (Verdict v : {Verdict::Pass, Verdict::Fail, Verdict::InputError, Verdict::FrameworkError}) {
    if (name == properties::verdict_name(v)) return v;
  }
  throw std::runtime_error(fmt::format("unknown verdict \"{}\"", name));
}

}  // namespace

TraceReport report_from_trace(const std::string& path, const std::string& program,
                              const std::optional<scenarios::Scenario>& scenario,
                              const std::string& version) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(fmt::format("{}: cannot open: no such file or not readable", path));
  TraceCollector collector;
  RunResult r;
  std::deque<std::string> recent;  // the lines before the current one (a violation's leading events)
  std::map<std::string, std::string> descriptions;
  std::optional<nlohmann::ordered_json> config;
  bool figures_seen = false;
  bool ended = false;
  std::string scenario_name;
  std::string line;
  std::size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty()) continue;
    if (ended) throw std::runtime_error(fmt::format("{}:{}: an event after run.end", path, number));
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::parse_error& e) {
      throw std::runtime_error(
          fmt::format("{}:{}:{}: not a trace line (malformed JSON){}", path, number, e.byte,
                      number == 1 ? "; is this a trace written by `aethersim run --trace`?"
                                  : "; the trace may be truncated"));
    }
    if (!j.is_object() || !j.contains("kind") || !j["kind"].is_string() || !j.contains("t") ||
        !j["t"].is_number_integer()) {
      throw std::runtime_error(
          fmt::format("{}:{}: not a trace event (needs \"t\" and \"kind\")", path, number));
    }
    const auto kind = j["kind"].get<std::string>();
    const Nanos t = j["t"].get<Nanos>();
    if (number == 1 && kind != "run.start") {
      throw std::runtime_error(
          fmt::format("{}:1: not a trace: the first event is \"{}\", not run.start", path, kind));
    }
    try {
      collector.line(line);
      if (kind == "run.start") {
        scenario_name = j.at("scenario").get<std::string>();
        r.seed = j.at("seed").get<std::uint64_t>();
      } else if (kind == "check.violation") {
        properties::Violation v;
        v.invariant = j.at("invariant").get<std::string>();
        v.time = t;
        v.node = j.at("node").get<std::string>();
        v.message = j.at("message").get<std::string>();
        v.events.assign(recent.begin(), recent.end());
        r.violations.push_back(std::move(v));
      } else if (kind == "check.expectation") {
        properties::ExpectationResult e;
        e.path = j.at("path").get<std::string>();
        e.held = j.at("held").get<bool>();
        e.met_at = opt_i64(j, "met_ns");
        e.detail = j.at("detail").get<std::string>();
        r.expectations.push_back(std::move(e));
      } else if (kind == "check.convergence") {
        r.convergence.owed = j.at("owed").get<bool>();
        r.convergence.held = j.at("held").get<bool>();
        r.convergence.converged_at = opt_i64(j, "converged_ns");
        r.convergence.blocker = j.at("blocker").get<std::string>();
      } else if (kind == "report.config") {
        config = nlohmann::ordered_json{
            {"cluster", nlohmann::ordered_json::parse(j.at("cluster").get<std::string>())},
            {"engine", nlohmann::ordered_json::parse(j.at("engine").get<std::string>())}};
      } else if (kind == "report.expectation") {
        descriptions[j.at("path").get<std::string>()] = j.at("description").get<std::string>();
      } else if (kind == "report.convergence") {
        auto& c = r.convergence;
        c.checked = j.at("checked").get<bool>();
        c.not_owed_reason = j.at("not_owed_reason").get<std::string>();
        c.detail = j.at("detail").get<std::string>();
        c.t0 = opt_i64(j, "t0_ns");
        c.bound_ns = j.at("bound_ns").get<Nanos>();
        c.quiet_ns = j.at("quiet_ns").get<Nanos>();
        c.pending_client_writes = j.at("pending_client_writes").get<int>();
      } else if (kind == "report.figures") {
        figures_seen = true;
        auto& f = r.figures;
        r.events = j.at("events").get<std::uint64_t>();
        f.converged_at = opt_i64(j, "converged_ns");
        f.convergence_note = j.at("convergence_note").get<std::string>();
        f.full_at = opt_i64(j, "full_ns");
        f.worst_active = j.at("worst_active").get<std::int64_t>();
        f.worst_desired = j.at("worst_desired").get<std::int64_t>();
        f.worst_at = j.at("worst_ns").get<Nanos>();
        f.activations_after_full = j.at("activations_after_full").get<std::int64_t>();
        f.desired_growth = j.at("desired_growth").get<std::int64_t>();
        f.engine_writes = j.at("engine_writes").get<std::uint64_t>();
        r.counters = name_values(j.at("counters"));
        r.reported = name_values(j.at("reported"));
        r.pinned = j.at("pinned").get<std::vector<std::string>>();
      } else if (kind == "report.failover") {
        properties::FailoverFigure f;
        f.fault = j.at("fault").get<std::string>();
        f.fault_at = j.at("fault_ns").get<Nanos>();
        f.lost = j.at("lost").get<bool>();
        f.recovered_at = opt_i64(j, "recovered_ns");
        r.figures.failovers.push_back(std::move(f));
      } else if (kind == "report.base") {
        auto& points = r.figures.bases[j.at("artifact").get<std::string>()];
        for (const auto& p : j.at("points")) {
          const auto text = p.get<std::string>();
          properties::BasePoint point;
          if (std::sscanf(text.c_str(), "%ld:%ld:%ld", &point.at, &point.desired, &point.active) != 3)
            throw std::runtime_error(fmt::format("point \"{}\" is not at:desired:active", text));
          points.push_back(point);
        }
      } else if (kind == "run.end") {
        ended = true;
        r.verdict = verdict_of(j.at("verdict").get<std::string>());
        r.simulated_end = t;
      }
    } catch (const std::runtime_error& e) {
      throw std::runtime_error(fmt::format("{}:{}: {} event: {}", path, number, kind, e.what()));
    } catch (const nlohmann::json::exception& e) {
      throw std::runtime_error(fmt::format("{}:{}: {} event: {}", path, number, kind, e.what()));
    }
    recent.push_back(line);
    if (recent.size() > properties::kViolationContextEvents) recent.pop_front();
  }
  if (number == 0) throw std::runtime_error(fmt::format("{}: empty: not a trace", path));
  if (!ended) {
    throw std::runtime_error(fmt::format(
        "{}: truncated: {} lines and no run.end event (the run did not finish writing it)", path, number));
  }
  if (!figures_seen || !config) {
    throw std::runtime_error(
        fmt::format("{}: no report.figures/report.config events: written by an aethersim without reports; "
                    "run it again with "
                    "--trace",
                    path));
  }
  for (auto& e : r.expectations) e.description = descriptions[e.path];
  r.figures.run_end = r.simulated_end;
  collector.end(r.simulated_end);

  scenarios::Scenario s;
  if (scenario) {
    if (scenario->name != scenario_name) {
      throw std::runtime_error(
          fmt::format("{}: the trace is of scenario \"{}\", the --scenario file {} is \"{}\"", path,
                      scenario_name, scenario->file, scenario->name));
    }
    s = *scenario;
  } else {
    s.name = scenario_name;
  }
  ReportContext context;
  context.version = version;
  context.replay =
      fmt::format("{} run {} --seed {}", program, s.file.empty() ? scenario_name + ".json" : s.file, r.seed);
  context.config = config;
  TraceReport out;
  out.report = build_report(s, r, collector, context);
  out.scenario_name = scenario_name;
  out.seed = r.seed;
  return out;
}

}  // namespace aether::reports
