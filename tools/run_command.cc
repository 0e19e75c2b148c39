#include "tools/run_command.h"

#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <ostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "properties/human_time.h"
#include "properties/runner.h"
#include "reports/report.h"
#include "tools/run_figures_format.h"
#include "tools/trace_compare.h"

#ifndef AETHER_VERSION
#define AETHER_VERSION "unknown"
#endif

namespace aether::tools {

using properties::human_duration;
using properties::RunOptions;
using properties::RunResult;
using properties::Verdict;
using WallClock = std::chrono::steady_clock;

std::string version_string() {
  return fmt::format("aethersim {}", AETHER_VERSION);
}

namespace {

std::string quote_argument(const std::string& text) {
  const bool plain = !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '/' || c == '.' || c == '_' || c == '-' ||
           c == ':';
  });
  if (plain) return text;
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// The verdict as printed on a run line: the runner's name in capitals.
std::string verdict_label(Verdict verdict) {
  std::string label = properties::verdict_name(verdict);
  for (char& c : label) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return label;
}

// What one run leaves for printing and for its scenario's closing table.
// Built where the run ran (this process or a worker) and carried back as one
// JSON line, so that --jobs prints exactly what one process would.
struct RunRecord {
  std::size_t index = 0;  // in run order
  std::size_t scenario = 0;
  std::uint64_t seed = 0;
  int verdict = 0;
  std::string text;                // the run's lines as printed
  std::string cause;               // what failed first (grouping key); empty on a pass
  std::string cause_detail;        // that failure's own line(s)
  std::string convergence_status;  // "convergence held: ..." / "... not owed: ..." / "... not checked: ..."
  SweepFigures figures;
  std::uint64_t events = 0;
  std::int64_t simulated_end = 0;
  double wall_s = 0;
  // --report / --junit: the run's report.json without its timeline (what the
  // index and the JUnit file need); null otherwise.
  nlohmann::ordered_json report;
  std::string report_folder;
  std::string report_error;  // writing the report failed
};

nlohmann::json opt(const std::optional<std::int64_t>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}
std::optional<std::int64_t> opt_of(const nlohmann::json& v) {
  if (v.is_null()) return std::nullopt;
  return v.get<std::int64_t>();
}

std::string encode(const RunRecord& r) {
  nlohmann::json j;
  j["index"] = r.index;
  j["scenario"] = r.scenario;
  j["seed"] = r.seed;
  j["verdict"] = r.verdict;
  j["text"] = r.text;
  j["cause"] = r.cause;
  j["cause_detail"] = r.cause_detail;
  j["convergence_status"] = r.convergence_status;
  j["converged"] = opt(r.figures.converged);
  j["recovery"] = opt(r.figures.recovery);
  j["unrecovered"] = r.figures.unrecovered;
  j["failovers"] = r.figures.failovers;
  j["worst"] = opt(r.figures.worst_permille);
  j["moved"] = r.figures.moved;
  j["writes"] = r.figures.engine_writes;
  j["end"] = r.figures.end;
  j["events"] = r.events;
  j["simulated_end"] = r.simulated_end;
  j["wall_s"] = r.wall_s;
  j["report"] = r.report;
  j["report_folder"] = r.report_folder;
  j["report_error"] = r.report_error;
  return j.dump();
}

RunRecord decode(const std::string& line) {
  const auto j = nlohmann::json::parse(line);
  RunRecord r;
  r.index = j.at("index").get<std::size_t>();
  r.scenario = j.at("scenario").get<std::size_t>();
  r.seed = j.at("seed").get<std::uint64_t>();
  r.verdict = j.at("verdict").get<int>();
  r.text = j.at("text").get<std::string>();
  r.cause = j.at("cause").get<std::string>();
  r.cause_detail = j.at("cause_detail").get<std::string>();
  r.convergence_status = j.at("convergence_status").get<std::string>();
  r.figures.converged = opt_of(j.at("converged"));
  r.figures.recovery = opt_of(j.at("recovery"));
  r.figures.unrecovered = j.at("unrecovered").get<bool>();
  r.figures.failovers = j.at("failovers").get<std::int64_t>();
  r.figures.worst_permille = opt_of(j.at("worst"));
  r.figures.moved = j.at("moved").get<std::int64_t>();
  r.figures.engine_writes = j.at("writes").get<std::int64_t>();
  r.figures.end = j.at("end").get<std::int64_t>();
  r.events = j.at("events").get<std::uint64_t>();
  r.simulated_end = j.at("simulated_end").get<std::int64_t>();
  r.wall_s = j.at("wall_s").get<double>();
  r.report = nlohmann::ordered_json::parse(j.at("report").dump());
  r.report_folder = j.at("report_folder").get<std::string>();
  r.report_error = j.at("report_error").get<std::string>();
  return r;
}

struct Job {
  std::size_t scenario = 0;
  std::uint64_t seed = 0;
  bool sweep = false;  // its scenario runs on more than one seed
};

struct Totals {
  std::uint64_t runs = 0;
  std::uint64_t by_verdict[4] = {0, 0, 0, 0};
  int exit_code = 0;
  std::uint64_t events = 0;  // over all runs (first run of each determinism pair)
  double simulated_s = 0;    // over all runs
  double run_wall_s = 0;     // wall time inside the runs, without loading
};

// One scenario's sweep: figures per seed and failures grouped by cause.
struct SweepState {
  std::vector<SweepFigures> figures;
  std::uint64_t runs = 0;
  std::uint64_t passed = 0;
  struct Group {
    std::uint64_t count = 0;
    std::uint64_t first_seed = 0;
    std::string detail;
  };
  std::vector<std::pair<std::string, Group>> groups;  // in order of first appearance
};

// Executes runs: builds each run's record (in this process or a worker).
class Executor {
 public:
  Executor(const RunCommandOptions& options, const std::vector<scenarios::Scenario>& scenarios,
           std::FILE* trace, std::ostream& err)
      : options_(options), scenarios_(scenarios), trace_(trace), err_(err) {}

  RunRecord execute(const Job& job, std::size_t index, bool single_run) {
    const auto& scenario = scenarios_[job.scenario];
    RunOptions run_options;
    run_options.seed = job.seed;
    run_options.trace_jsonl = trace_;
    TraceComparer comparer;
    const bool reporting = options_.report_dir || options_.junit_file;
    reports::TraceCollector collector;
    if (options_.check_determinism || reporting) {
      const bool compare = options_.check_determinism;
      run_options.trace_line_observer = [&comparer, &collector, compare, reporting](std::uint64_t,
                                                                                    const std::string& line) {
        if (compare) comparer.record_first(line);
        if (reporting) collector.line(line);
      };
      // Only the kinds the report reads are rendered, unless every line is
      // compared.
      if (!compare) run_options.trace_line_filter = &reports::TraceCollector::wants;
    }
    const auto start = WallClock::now();
    bool progress_shown = false;
    run_options.progress_every = std::max<std::uint64_t>(1, options_.run_progress_every_events);
    if (single_run && (!options_.quiet || options_.progress_on_terminal)) {
      run_options.progress = [this, start, last = start, last_sim = engine::Nanos{0}, &progress_shown](
                                 engine::Nanos now, std::uint64_t events, engine::Nanos end) mutable {
        const auto wall_now = WallClock::now();
        if (wall_now - last < options_.run_progress_interval) return;
        const double interval_s = std::chrono::duration<double>(wall_now - last).count();
        const double recent = interval_s > 0 ? static_cast<double>(now - last_sim) / interval_s : 0;
        last = wall_now;
        last_sim = now;
        progress_shown = true;
        err_ << run_progress_line(now, events, end, std::chrono::duration<double>(wall_now - start).count(),
                                  recent)
             << (options_.progress_on_terminal ? "\r" : "\n") << std::flush;
      };
    }
    RunResult result = guarded_run(scenario, run_options);
    const double wall_s = std::chrono::duration<double>(WallClock::now() - start).count();
    if (progress_shown && options_.progress_on_terminal) err_ << "\r\033[K" << std::flush;

    std::optional<Divergence> divergence;
    std::string first_line;
    std::string note;
    if (options_.check_determinism && result.verdict != Verdict::InputError) {
      divergence = replay_and_compare(scenario, job.seed, comparer, result, first_line, note);
    }
    Verdict verdict = result.verdict;
    if (divergence || !note.empty()) verdict = Verdict::FrameworkError;

    RunRecord r;
    r.index = index;
    r.scenario = job.scenario;
    r.seed = job.seed;
    r.verdict = static_cast<int>(verdict);
    r.figures = sweep_figures(result.figures);
    r.events = result.events;
    r.simulated_end = result.simulated_end;
    r.wall_s = wall_s;
    describe(scenario, job, result, verdict, wall_s, divergence, first_line, note, r);
    if (reporting) write_report(scenario, job, result, verdict, wall_s, collector, r);
    return r;
  }

 private:
  // --report / --junit: builds the run's report.json from its result and the
  // trace lines collected while it ran; writes its folder under --report.
  void write_report(const scenarios::Scenario& scenario, const Job& job, RunResult result, Verdict verdict,
                    double wall_s, reports::TraceCollector& collector, RunRecord& r) {
    try {
      collector.end(result.simulated_end);
      result.verdict = verdict;
      reports::ReportContext context;
      context.version = version_string();
      context.replay = replay_command(scenario, job.seed);
      context.wall_s = wall_s;
      auto report = reports::build_report(scenario, result, collector, context);
      r.report_folder = report_folder(scenario, job.seed);
      if (options_.report_dir)
        reports::write_report_folder(*options_.report_dir + "/" + r.report_folder, report);
      report.erase("timeline");
      for (auto& v : report["violations"]) v.erase("events");
      r.report = std::move(report);
    } catch (const std::exception& e) {
      r.report_error = e.what();
    }
  }

 public:
  // A run's folder under --report: "<scenario name>-seed<N>" (characters
  // other than letters, digits, '.', '_' and '-' become '_'), with the
  // scenario's position added when two inputs share a name.
  std::string report_folder(const scenarios::Scenario& scenario, std::uint64_t seed) const {
    std::string name;
    for (char c : scenario.name) {
      name += std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' ? c : '_';
    }
    const auto same = std::count_if(scenarios_.begin(), scenarios_.end(),
                                    [&](const auto& other) { return other.name == scenario.name; });
    if (same > 1) {
      const auto position = static_cast<std::size_t>(&scenario - scenarios_.data());
      name += fmt::format("-{}", position + 1);
    }
    return fmt::format("{}-seed{}", name.empty() ? std::string("run") : name, seed);
  }

 private:
  RunResult guarded_run(const scenarios::Scenario& scenario, const RunOptions& run_options) {
    try {
      return properties::run_scenario(scenario, run_options);
    } catch (const std::exception& e) {
      RunResult failed;
      failed.verdict = Verdict::FrameworkError;
      failed.seed = run_options.seed;
      failed.framework_error = fmt::format("exception escaped the runner: {}", e.what());
      return failed;
    }
  }

  // Runs the scenario again and names the first trace line where the two
  // runs differ (nullopt if none); `first_line` gets run 1's version of that
  // line from a third run.
  std::optional<Divergence> replay_and_compare(const scenarios::Scenario& scenario, std::uint64_t seed,
                                               TraceComparer& comparer, const RunResult& first,
                                               std::string& first_line, std::string& note) {
    RunOptions again;
    again.seed = seed;
    again.trace_line_observer = [&comparer](std::uint64_t, const std::string& line) {
      comparer.compare_second(line);
    };
    const RunResult second = guarded_run(scenario, again);
    const std::optional<Divergence> found = comparer.result();
    if (found && !found->first_ended) {
      std::uint64_t i = 0;
      RunOptions third;
      third.seed = seed;
      third.trace_line_observer = [&](std::uint64_t, const std::string& line) {
        if (i++ == found->index) first_line = line;
      };
      guarded_run(scenario, third);
      if (first_line.empty()) first_line = "(not reproduced by a third run)";
    }
    if (!found && (second.trace_hash != first.trace_hash || second.verdict != first.verdict)) {
      note = fmt::format("same trace lines but trace hash {:016x} vs {:016x}, verdict {} vs {}",
                         first.trace_hash, second.trace_hash, verdict_label(first.verdict),
                         verdict_label(second.verdict));
    }
    return found;
  }

  // The run's printed lines and its first cause.
  void describe(const scenarios::Scenario& scenario, const Job& job, const RunResult& r, Verdict verdict,
                double wall_s, const std::optional<Divergence>& divergence, const std::string& first_line,
                const std::string& note, RunRecord& record) {
    std::string line =
        fmt::format("{} {} seed={} {} wall={:.3f}s events={} hash={:016x}", verdict_label(verdict),
                    scenario.name, job.seed, figures_fields(r), wall_s, r.events, r.trace_hash);
    if (options_.stats) {
      const double sim_s = static_cast<double>(r.simulated_end) / 1e9;
      const double wall = std::max(wall_s, 1e-9);
      line += fmt::format(" events/s={:.0f} sim-s/wall-s={:.1f}", static_cast<double>(r.events) / wall,
                          sim_s / wall);
    }
    line += " replay: " + replay_command(scenario, job.seed);
    std::string text = line + "\n";
    // Every run line says whether convergence was checked, and if not why.
    record.convergence_status = convergence_status(r);
    if (!record.convergence_status.empty()) text += "  " + record.convergence_status + "\n";
    if (r.convergence.pending_client_writes > 0) {
      text += fmt::format("  {} client write(s) never committed (left out of T0)\n",
                          r.convergence.pending_client_writes);
    }
    std::string details;  // every failure line, in order
    auto cause = [&](std::string key, std::string detail) {
      if (record.cause.empty()) {
        record.cause = std::move(key);
        record.cause_detail = detail;
      }
      details += detail;
    };
    if (!r.input_error.empty()) {
      cause("input error: " + r.input_error,
            fmt::format("  input error: {}: {}\n", scenario.file, r.input_error));
    }
    if (!r.framework_error.empty()) {
      cause("framework error: " + r.framework_error,
            fmt::format("  framework error: {}\n", r.framework_error));
    }
    for (const auto& v : r.violations) {
      if (std::find(r.pinned.begin(), r.pinned.end(), v.invariant) != r.pinned.end()) continue;
      std::string d = fmt::format("  violation {} at {}{}: {}\n", v.invariant, human_duration(v.time),
                                  v.node.empty() ? "" : " on " + v.node, v.message);
      const std::size_t tail = std::min<std::size_t>(v.events.size(), 5);
      for (std::size_t i = v.events.size() - tail; i < v.events.size(); ++i)
        d += "    | " + v.events[i] + "\n";
      cause("violation " + v.invariant + last_step_before(scenario, v.time), d);
    }
    for (const auto& e : r.expectations) {
      if (e.held) continue;
      cause(fmt::format("expectation {} ({})", e.path, e.description),
            fmt::format("  expectation {} ({}) did not hold{}\n", e.path, e.description,
                        e.detail.empty() ? "" : ": " + e.detail));
    }
    const auto& c = r.convergence;
    if (c.checked && c.owed && !c.held) {
      const std::string blocker = c.blocker.empty() ? "?" : c.blocker;
      cause("not converged: blocker " + blocker,
            fmt::format("  not converged: blocker {}{}\n", blocker, c.detail.empty() ? "" : ": " + c.detail));
    }
    if (divergence) {
      std::string d =
          fmt::format("  nondeterminism: the two runs first differ at trace event {}\n", divergence->index);
      if (!divergence->last_common.empty()) d += "    both  | " + divergence->last_common + "\n";
      d += "    run 1 | " + (divergence->first_ended ? std::string("(ended)") : first_line) + "\n";
      d += "    run 2 | " + (divergence->second_ended ? std::string("(ended)") : divergence->second_line) +
           "\n";
      cause("nondeterminism", d);
    }
    if (!note.empty()) cause("nondeterminism", "  nondeterminism: " + note + "\n");
    if (verdict == Verdict::Pass) {
      record.cause.clear();
      record.cause_detail.clear();
    }
    // In a sweep the closing table carries the figures, the not-owed reasons
    // and the failures grouped by cause; a single run shows them here.
    if (!job.sweep) {
      text += failover_lines(r.figures);
      for (const auto& e : r.expectations) {
        if (e.held && e.met_at) {
          text += fmt::format("  expectation {} met at {} ({})\n", e.path, human_duration(*e.met_at),
                              e.description);
        }
      }
      if (verdict != Verdict::Pass) text += details;
    }
    record.text = std::move(text);
  }

  // "convergence held: converged at ...", "convergence not owed: ...",
  // "convergence not checked: check_convergence false"; empty for runs that
  // never got that far (input and framework errors) and for failed
  // convergence (its own line).
  static std::string convergence_status(const RunResult& r) {
    const auto& c = r.convergence;
    if (r.verdict == Verdict::InputError || r.verdict == Verdict::FrameworkError) return "";
    if (!c.checked) return "convergence not checked: check_convergence false";
    if (!c.owed) return "convergence not owed: " + c.not_owed_reason;
    if (!c.held) return "";
    std::string unplaced;
    for (const auto& note : c.unplaced) unplaced += (unplaced.empty() ? "; unplaced: " : ", ") + note;
    return fmt::format("convergence held: converged at {} (T0 {}, bound {}, quiet {}){}",
                       c.converged_at ? human_duration(*c.converged_at) : "?",
                       c.t0 ? human_duration(*c.t0) : "?", human_duration(c.bound_ns),
                       human_duration(c.quiet_ns), unplaced);
  }

  // " after steps[3] at 20s": the last step (not `expect`) at or before
  // `time`, so that a sweep groups violations by invariant and step.
  static std::string last_step_before(const scenarios::Scenario& scenario, engine::Nanos time) {
    const scenarios::Step* last = nullptr;
    for (const auto& step : scenario.steps) {
      if (step.at > time) break;
      if (!std::holds_alternative<scenarios::ExpectStep>(step.action)) last = &step;
    }
    if (last == nullptr) return " before the first step";
    return fmt::format(" after {} at {}", last->path, human_duration(last->at));
  }

  std::string replay_command(const scenarios::Scenario& scenario, std::uint64_t seed) const {
    return fmt::format("{} run {} --seed {}", quote_argument(options_.program), quote_argument(scenario.file),
                       seed);
  }

 public:
  std::string replay(std::size_t scenario, std::uint64_t seed) const {
    return replay_command(scenarios_[scenario], seed);
  }

 private:
  const RunCommandOptions& options_;
  const std::vector<scenarios::Scenario>& scenarios_;
  std::FILE* trace_;
  std::ostream& err_;
};

class Runner {
 public:
  Runner(const RunCommandOptions& options, const std::vector<scenarios::Scenario>& scenarios,
         std::FILE* trace, std::ostream& out, std::ostream& err)
      : options_(options),
        scenarios_(scenarios),
        executor_(options, scenarios, trace, err),
        out_(out),
        err_(err) {}

  int run() {
    const auto start = WallClock::now();
    last_progress_ = start;
    for (std::size_t s = 0; s < scenarios_.size(); ++s) {
      const SeedRange range = seeds_for(scenarios_[s], options_.seed, options_.seeds);
      const bool sweep = range.first != range.last;
      for (std::uint64_t seed = range.first;; ++seed) {
        jobs_.push_back({s, seed, sweep});
        if (seed == range.last) break;
      }
    }
    sweeps_.resize(scenarios_.size());
    if (options_.jobs > 1 && jobs_.size() > 1) {
      run_in_workers();
    } else {
      for (std::size_t i = 0; i < jobs_.size() && !stopped_; ++i) {
        consume(executor_.execute(jobs_[i], i, jobs_.size() == 1));
      }
    }
    write_index();
    const double wall_s = std::chrono::duration<double>(WallClock::now() - start).count();
    clear_progress();
    std::string stats;
    if (options_.stats) {
      const double wall = std::max(totals_.run_wall_s, 1e-9);
      stats = fmt::format(" (events={} events/s={:.0f} sim-s/wall-s={:.1f})", totals_.events,
                          static_cast<double>(totals_.events) / wall, totals_.simulated_s / wall);
    }
    for (const auto& [key, count] : unjudged_) {
      out_ << fmt::format("{}: {} ({} passing run{})\n", key.first, key.second, count, count == 1 ? "" : "s");
    }
    if (stopped_) {
      out_ << fmt::format("stopped at the first run that did not pass (--fail-fast); {} of {} runs not run\n",
                          jobs_.size() - totals_.runs, jobs_.size());
    }
    out_ << fmt::format(
        "{}: {} run{}, {} passed, {} failed, {} input error{}, {} framework error{} in {:.2f}s wall{}; "
        "exit {}\n",
        version_string(), totals_.runs, totals_.runs == 1 ? "" : "s", totals_.by_verdict[0],
        totals_.by_verdict[1], totals_.by_verdict[2], totals_.by_verdict[2] == 1 ? "" : "s",
        totals_.by_verdict[3], totals_.by_verdict[3] == 1 ? "" : "s", wall_s, stats, totals_.exit_code);
    return totals_.exit_code;
  }

 private:
  // --report: DIR/index.html over every finished run; --junit: the JUnit
  // file. A report that could not be written is a framework error (exit 3).
  void write_index() {
    if (!options_.report_dir && !options_.junit_file) return;
    std::vector<reports::IndexEntry> entries;
    for (auto& [folder, report] : reports_) entries.push_back({folder, report});
    try {
      if (options_.report_dir) {
        const std::string index = *options_.report_dir + "/index.html";
        reports::write_atomic(index, reports::render_index(entries, version_string()));
        print(fmt::format("report: {}\n", index));
      }
      if (options_.junit_file) reports::write_atomic(*options_.junit_file, reports::render_junit(entries));
    } catch (const std::exception& e) {
      err_ << "aethersim run: " << e.what() << "\n";
      totals_.exit_code = std::max(totals_.exit_code, 3);
    }
  }

  // Prints one finished run (in run order) and, after a swept scenario's
  // last seed, its closing table.
  void consume(const RunRecord& r) {
    const auto verdict = static_cast<Verdict>(r.verdict);
    const Job& job = jobs_[r.index];
    ++totals_.runs;
    ++totals_.by_verdict[r.verdict];
    totals_.exit_code = std::max(totals_.exit_code, properties::verdict_exit_code(verdict));
    totals_.events += r.events;
    totals_.simulated_s += static_cast<double>(r.simulated_end) / 1e9;
    totals_.run_wall_s += r.wall_s;
    if (!r.report_error.empty()) {
      err_ << fmt::format("aethersim run: report of {} seed {}: {}\n", scenarios_[job.scenario].name, r.seed,
                          r.report_error);
      totals_.exit_code = std::max(totals_.exit_code, 3);
    } else if (!r.report.is_null()) {
      reports_.emplace_back(r.report_folder, r.report);
    }
    if (!options_.quiet || (verdict != Verdict::Pass && !job.sweep)) print(r.text);
    // With --quiet, passes print no line; those that did not judge
    // convergence are still said, once per scenario and reason, before the
    // summary.
    if (options_.quiet && verdict == Verdict::Pass &&
        r.convergence_status.rfind("convergence held", 0) != 0 && !r.convergence_status.empty()) {
      ++unjudged_[{scenarios_[job.scenario].name, r.convergence_status}];
    }
    if (job.sweep) {
      auto& sweep = sweeps_[job.scenario];
      ++sweep.runs;
      // Runs that did not finish (input or framework error) have no figures.
      if (verdict == Verdict::Pass || verdict == Verdict::Fail) sweep.figures.push_back(r.figures);
      if (verdict == Verdict::Pass) {
        ++sweep.passed;
      } else {
        auto it = std::find_if(sweep.groups.begin(), sweep.groups.end(),
                               [&](const auto& g) { return g.first == r.cause; });
        if (it == sweep.groups.end()) {
          sweep.groups.push_back({r.cause, {0, r.seed, r.cause_detail}});
          it = sweep.groups.end() - 1;
        }
        ++it->second.count;
      }
    }
    if (verdict != Verdict::Pass && options_.fail_fast) stopped_ = true;
    const bool last_of_scenario = r.index + 1 == jobs_.size() || jobs_[r.index + 1].scenario != job.scenario;
    if (job.sweep && (last_of_scenario || stopped_)) print_sweep(job.scenario);
    progress();
  }

  void print_sweep(std::size_t s) {
    const auto& sweep = sweeps_[s];
    const SeedRange range = seeds_for(scenarios_[s], options_.seed, options_.seeds);
    std::string text = fmt::format("sweep {} seeds {}..{}: {} run{}, {} passed, {} did not\n",
                                   scenarios_[s].name, range.first, range.first + sweep.runs - 1, sweep.runs,
                                   sweep.runs == 1 ? "" : "s", sweep.passed, sweep.runs - sweep.passed);
    if (!sweep.figures.empty()) text += sweep_table(sweep.figures);
    for (const auto& [cause, group] : sweep.groups) {
      text += fmt::format("  {} seed{}: {}\n", group.count, group.count == 1 ? "" : "s", cause);
      text += fmt::format("    first seed {}; replay: {}\n", group.first_seed,
                          executor_.replay(s, group.first_seed));
      std::string detail = group.detail;
      // The first seed's own failure line(s), indented under the group.
      std::string indented;
      std::size_t pos = 0;
      while (pos < detail.size()) {
        const auto nl = detail.find('\n', pos);
        indented += "  " + detail.substr(pos, nl - pos) + "\n";
        pos = nl == std::string::npos ? detail.size() : nl + 1;
      }
      text += indented;
    }
    print(text);
  }

  void print(const std::string& text) {
    clear_progress();
    out_ << text << std::flush;
  }

  void clear_progress() {
    if (progress_on_line_) {
      err_ << "\r\033[K" << std::flush;
      progress_on_line_ = false;
    }
  }

  void progress() {
    const bool show = options_.progress_on_terminal || !options_.quiet;
    const std::uint64_t total = jobs_.size();
    if (!show || total < 2) return;
    const auto now = WallClock::now();
    if (now - last_progress_ < options_.progress_interval && totals_.runs != total) return;
    if (totals_.runs == total && !progress_shown_) return;
    last_progress_ = now;
    progress_shown_ = true;
    const std::string line = fmt::format("progress: {}/{} runs, {} failed", totals_.runs, total,
                                         totals_.runs - totals_.by_verdict[0]);
    if (options_.progress_on_terminal) {
      err_ << "\r" << line << "\033[K" << std::flush;
      progress_on_line_ = true;
    } else {
      err_ << line << "\n";
    }
  }

  // --jobs: worker w runs the jobs i with i mod J == w and sends each record
  // back as one JSON line; records are consumed in run order, so the output
  // is what one process prints. A worker that dies is a framework error of
  // each of its runs that did not report.
  void run_in_workers() {
    const std::size_t workers = std::min<std::size_t>(options_.jobs, jobs_.size());
    struct Worker {
      pid_t pid = -1;
      int fd = -1;
      std::string buffer;
      bool open = true;
    };
    std::vector<Worker> pool(workers);
    out_.flush();
    err_.flush();
    std::fflush(nullptr);
    for (std::size_t w = 0; w < workers; ++w) {
      int fds[2];
      if (::pipe(fds) != 0) throw std::runtime_error(fmt::format("pipe: {}", std::strerror(errno)));
      const pid_t pid = ::fork();
      if (pid < 0) throw std::runtime_error(fmt::format("fork: {}", std::strerror(errno)));
      if (pid == 0) {
        ::close(fds[0]);
        for (std::size_t other = 0; other < w; ++other) ::close(pool[other].fd);
        for (std::size_t i = w; i < jobs_.size(); i += workers) {
          std::string line;
          try {
            line = encode(executor_.execute(jobs_[i], i, false)) + "\n";
          } catch (...) {
            ::_exit(5);  // the parent reports this worker's runs as framework errors
          }
          std::size_t done = 0;
          while (done < line.size()) {
            const ssize_t n = ::write(fds[1], line.data() + done, line.size() - done);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) ::_exit(4);
            done += static_cast<std::size_t>(n);
          }
        }
        ::_exit(0);
      }
      ::close(fds[1]);
      pool[w].pid = pid;
      pool[w].fd = fds[0];
    }
    std::map<std::size_t, RunRecord> ready;
    std::size_t next = 0;
    auto drain = [&] {
      while (!stopped_) {
        auto it = ready.find(next);
        if (it == ready.end()) break;
        consume(it->second);
        ready.erase(it);
        ++next;
      }
    };
    std::size_t open = workers;
    while (open > 0 && !stopped_ && next < jobs_.size()) {
      std::vector<pollfd> fds;
      std::vector<std::size_t> which;
      for (std::size_t w = 0; w < workers; ++w) {
        if (!pool[w].open) continue;
        fds.push_back({pool[w].fd, POLLIN, 0});
        which.push_back(w);
      }
      if (::poll(fds.data(), fds.size(), -1) < 0) {
        if (errno == EINTR) continue;
        throw std::runtime_error(fmt::format("poll: {}", std::strerror(errno)));
      }
      for (std::size_t k = 0; k < fds.size(); ++k) {
        if ((fds[k].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
        auto& worker = pool[which[k]];
        char chunk[65536];
        const ssize_t n = ::read(worker.fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
          worker.open = false;
          --open;
          ::close(worker.fd);
          reap(worker.pid, which[k], workers, ready);
          continue;
        }
        worker.buffer.append(chunk, static_cast<std::size_t>(n));
        std::size_t nl;
        while ((nl = worker.buffer.find('\n')) != std::string::npos) {
          RunRecord r = decode(worker.buffer.substr(0, nl));
          worker.buffer.erase(0, nl + 1);
          ready.emplace(r.index, std::move(r));
        }
      }
      drain();
    }
    drain();
    for (auto& worker : pool) {
      if (!worker.open) continue;
      if (stopped_) ::kill(worker.pid, SIGKILL);  // --fail-fast: the rest is not wanted
      ::close(worker.fd);
      int status = 0;
      ::waitpid(worker.pid, &status, 0);
    }
  }

  // A worker's pipe closed: wait for it; each of its runs that did not
  // report is a framework error.
  void reap(pid_t pid, std::size_t w, std::size_t workers, std::map<std::size_t, RunRecord>& ready) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    const bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    for (std::size_t i = w; i < jobs_.size(); i += workers) {
      if (ready.count(i) != 0 || clean) continue;
      RunRecord r;
      r.index = i;
      r.scenario = jobs_[i].scenario;
      r.seed = jobs_[i].seed;
      r.verdict = static_cast<int>(Verdict::FrameworkError);
      const std::string why = WIFSIGNALED(status) ? fmt::format("killed by signal {}", WTERMSIG(status))
                                                  : fmt::format("exit status {}", WEXITSTATUS(status));
      r.cause = "framework error: worker process died";
      r.cause_detail =
          fmt::format("  framework error: the worker process running this seed died ({})\n", why);
      r.text = fmt::format("FRAMEWORK-ERROR {} seed={} replay: {}\n", scenarios_[r.scenario].name, r.seed,
                           executor_.replay(r.scenario, r.seed)) +
               r.cause_detail;
      ready.emplace(i, std::move(r));
    }
  }

  const RunCommandOptions& options_;
  const std::vector<scenarios::Scenario>& scenarios_;
  Executor executor_;
  std::ostream& out_;
  std::ostream& err_;
  std::vector<Job> jobs_;
  std::vector<SweepState> sweeps_;
  Totals totals_;
  bool stopped_ = false;
  std::map<std::pair<std::string, std::string>, std::uint64_t> unjudged_;  // (scenario, status) -> passes
  WallClock::time_point last_progress_;
  bool progress_shown_ = false;
  bool progress_on_line_ = false;
  std::vector<std::pair<std::string, nlohmann::ordered_json>> reports_;  // in run order
};

// Refuses a --trace path that cannot be written (a directory, a missing
// folder, no permission) before anything runs; returns the open file.
std::FILE* open_trace(const std::string& path, std::ostream& err) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    err << fmt::format("aethersim run: --trace {}: is a directory; give a file name (e.g. {}/trace.jsonl)\n",
                       path, path);
    return nullptr;
  }
  std::FILE* file = std::fopen(path.c_str(), "w");
  if (file == nullptr) {
    err << fmt::format("aethersim run: --trace {}: cannot write there: {}\n", path, std::strerror(errno));
  }
  return file;
}

}  // namespace

int run_command(const RunCommandOptions& options, std::ostream& out, std::ostream& err) {
  if (options.inputs.empty()) {
    err << "aethersim run: no scenario files given (aethersim run --help)\n";
    return 2;
  }
  if (options.jobs == 0) {
    err << "aethersim run: --jobs must be at least 1\n";
    return 2;
  }
  const ExpandedInputs expanded = expand_inputs(options.inputs);
  const LoadedInputs loaded = load_inputs(expanded.files);
  if (!expanded.errors.empty() || loaded.invalid_files > 0) {
    for (const auto& e : expanded.errors) err << e << "\n";
    for (const auto& e : loaded.errors) err << e << "\n";
    err << fmt::format("aethersim run: {} invalid input{}; nothing was run\n",
                       expanded.errors.size() + loaded.invalid_files,
                       expanded.errors.size() + loaded.invalid_files == 1 ? "" : "s");
    return 2;
  }
  const std::uint64_t total_runs = run_count(loaded.scenarios, options.seed, options.seeds);
  if (options.trace_file && total_runs != 1) {
    err << fmt::format(
        "aethersim run: --trace needs a single run (one file, one seed); this would be {} runs\n",
        total_runs);
    return 2;
  }
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> trace(nullptr, &std::fclose);
  if (options.trace_file) {
    trace.reset(open_trace(*options.trace_file, err));
    if (!trace) return 2;
  }
  if (options.report_dir) {
    const std::string problem = reports::check_writable_dir(*options.report_dir);
    if (!problem.empty()) {
      err << "aethersim run: --report " << problem << "; nothing was run\n";
      return 2;
    }
  }
  if (options.junit_file) {
    const std::string problem =
        reports::check_writable_dir(std::filesystem::path(*options.junit_file).parent_path().empty()
                                        ? std::string(".")
                                        : std::filesystem::path(*options.junit_file).parent_path().string());
    struct stat st {};
    if (!problem.empty() || (::stat(options.junit_file->c_str(), &st) == 0 && S_ISDIR(st.st_mode))) {
      err << "aethersim run: --junit " << (problem.empty() ? *options.junit_file + ": is a folder" : problem)
          << "; nothing was run\n";
      return 2;
    }
  }
  for (const auto& scenario : loaded.scenarios) {
    if (scenario.cluster.nodes.size() >= kLargeClusterNodes) {
      err << large_cluster_note(scenario) << "\n";
    }
  }
  Runner runner(options, loaded.scenarios, trace.get(), out, err);
  return runner.run();
}

}  // namespace aether::tools
