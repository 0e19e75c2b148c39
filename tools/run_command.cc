#include "tools/run_command.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <ostream>

#include <fmt/format.h>

#include "properties/runner.h"
#include "tools/trace_compare.h"

#ifndef AETHER_VERSION
#define AETHER_VERSION "unknown"
#endif

namespace aether::tools {

using properties::RunOptions;
using properties::RunResult;
using properties::Verdict;
using WallClock = std::chrono::steady_clock;

std::string version_string() {
  return fmt::format("aethersim {}", AETHER_VERSION);
}

namespace {

// Simulated time for people: "95.214s".
std::string sim_seconds(engine::Nanos ns) {
  return fmt::format("{}.{:03}s", ns / engine::kNanosPerSecond,
                     (ns % engine::kNanosPerSecond) / engine::kNanosPerMilli);
}

std::string time_label(engine::Nanos ns) {
  return sim_seconds(ns);
}

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

struct Totals {
  std::uint64_t runs = 0;
  std::uint64_t by_verdict[4] = {0, 0, 0, 0};
  int exit_code = 0;
  std::uint64_t events = 0;  // over all runs (first run of each determinism pair)
  double simulated_s = 0;    // over all runs
  double run_wall_s = 0;     // wall time inside the runs, without loading
};

class Runner {
 public:
  Runner(const RunCommandOptions& options, std::ostream& out, std::ostream& err)
      : options_(options), out_(out), err_(err) {}

  int run(const std::vector<scenarios::Scenario>& scenarios, std::uint64_t total_runs) {
    const auto start = WallClock::now();
    last_progress_ = start;
    for (const auto& scenario : scenarios) {
      const SeedRange range = seeds_for(scenario, options_.seed, options_.seeds);
      for (std::uint64_t seed = range.first;; ++seed) {
        run_one(scenario, seed, total_runs);
        if (seed == range.last) break;
      }
    }
    const double wall_s = std::chrono::duration<double>(WallClock::now() - start).count();
    print_unjudged();
    std::string stats;
    if (options_.stats) {
      const double wall = std::max(totals_.run_wall_s, 1e-9);
      stats = fmt::format(" (events={} events/s={:.0f} sim-s/wall-s={:.1f})", totals_.events,
                          static_cast<double>(totals_.events) / wall, totals_.simulated_s / wall);
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
  void run_one(const scenarios::Scenario& scenario, std::uint64_t seed, std::uint64_t total_runs) {
    RunOptions run_options;
    run_options.seed = seed;
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> trace(nullptr, &std::fclose);
    if (options_.trace_file) {
      trace.reset(std::fopen(options_.trace_file->c_str(), "w"));
      if (!trace) {
        err_ << fmt::format("aethersim: cannot write the trace to {}\n", *options_.trace_file);
        record(Verdict::InputError);
        return;
      }
      run_options.trace_jsonl = trace.get();
    }
    TraceComparer comparer;
    if (options_.check_determinism) {
      run_options.trace_line_observer = [&comparer](std::uint64_t, const std::string& line) {
        comparer.record_first(line);
      };
    }
    const auto start = WallClock::now();
    RunResult result = guarded_run(scenario, run_options);
    const double wall_s = std::chrono::duration<double>(WallClock::now() - start).count();
    trace.reset();

    std::optional<Divergence> divergence;
    std::string first_line;
    std::string determinism_note;
    if (options_.check_determinism && result.verdict != Verdict::InputError) {
      divergence = replay_and_compare(scenario, seed, comparer, result, first_line, determinism_note);
    }
    Verdict verdict = result.verdict;
    if (divergence || !determinism_note.empty()) verdict = Verdict::FrameworkError;
    record(verdict);
    totals_.events += result.events;
    totals_.simulated_s += static_cast<double>(result.simulated_end) / 1e9;
    totals_.run_wall_s += wall_s;
    if (!options_.quiet || verdict != Verdict::Pass) {
      print_run(scenario, seed, result, verdict, wall_s, divergence, first_line, determinism_note);
    } else {
      note_quiet_pass(scenario, result);
    }
    progress(total_runs);
  }

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

  void record(Verdict verdict) {
    ++totals_.runs;
    ++totals_.by_verdict[static_cast<int>(verdict)];
    totals_.exit_code = std::max(totals_.exit_code, properties::verdict_exit_code(verdict));
  }

  void print_run(const scenarios::Scenario& scenario, std::uint64_t seed, const RunResult& r, Verdict verdict,
                 double wall_s, const std::optional<Divergence>& divergence, const std::string& first_line,
                 const std::string& note) {
    std::string line =
        fmt::format("{} {} seed={} sim={} wall={:.3f}s events={} hash={:016x}", verdict_label(verdict),
                    scenario.name, seed, sim_seconds(r.simulated_end), wall_s, r.events, r.trace_hash);
    if (options_.stats) {
      const double sim_s = static_cast<double>(r.simulated_end) / 1e9;
      const double wall = std::max(wall_s, 1e-9);
      line += fmt::format(" events/s={:.0f} sim-s/wall-s={:.1f}", static_cast<double>(r.events) / wall,
                          sim_s / wall);
    }
    line += fmt::format(" replay: {} run {} --seed {}", quote_argument(options_.program),
                        quote_argument(scenario.file), seed);
    out_ << line << "\n";
    const auto& c = r.convergence;
    // Every run line says whether convergence was checked, and if not why.
    if (const auto status = convergence_status(r); !status.empty()) out_ << "  " << status << "\n";
    if (c.pending_client_writes > 0) {
      out_ << fmt::format("  {} client write(s) never committed (left out of T0)\n", c.pending_client_writes);
    }
    if (verdict == Verdict::Pass) return;
    if (!r.input_error.empty()) out_ << fmt::format("  input error: {}: {}\n", scenario.file, r.input_error);
    if (!r.framework_error.empty()) out_ << fmt::format("  framework error: {}\n", r.framework_error);
    for (const auto& v : r.violations) {
      const bool pinned = std::find(r.pinned.begin(), r.pinned.end(), v.invariant) != r.pinned.end();
      if (pinned) continue;
      out_ << fmt::format("  violation {} at {}{}: {}\n", v.invariant, time_label(v.time),
                          v.node.empty() ? "" : " on " + v.node, v.message);
      const std::size_t tail = std::min<std::size_t>(v.events.size(), 5);
      for (std::size_t i = v.events.size() - tail; i < v.events.size(); ++i)
        out_ << "    | " << v.events[i] << "\n";
    }
    for (const auto& e : r.expectations) {
      if (e.held) continue;
      out_ << fmt::format("  expectation {} ({}) did not hold{}\n", e.path, e.description,
                          e.detail.empty() ? "" : ": " + e.detail);
    }
    if (c.checked && c.owed && !c.held) {
      out_ << fmt::format("  not converged: blocker {}{}\n", c.blocker.empty() ? "?" : c.blocker,
                          c.detail.empty() ? "" : ": " + c.detail);
    }
    if (divergence) {
      out_ << fmt::format("  nondeterminism: the two runs first differ at trace event {}\n",
                          divergence->index);
      if (!divergence->last_common.empty()) out_ << "    both  | " << divergence->last_common << "\n";
      out_ << "    run 1 | " << (divergence->first_ended ? "(ended)" : first_line) << "\n";
      out_ << "    run 2 | " << (divergence->second_ended ? "(ended)" : divergence->second_line) << "\n";
    }
    if (!note.empty()) out_ << "  nondeterminism: " << note << "\n";
  }

  // "convergence held at ...", "convergence not owed: ...", "convergence not
  // checked: check_convergence false"; empty for runs that never got that far
  // (input and framework errors) and for failed convergence (its own line).
  static std::string convergence_status(const RunResult& r) {
    const auto& c = r.convergence;
    if (r.verdict == Verdict::InputError || r.verdict == Verdict::FrameworkError) return "";
    if (!c.checked) return "convergence not checked: check_convergence false";
    if (!c.owed) return "convergence not owed: " + c.not_owed_reason;
    if (!c.held) return "";
    return fmt::format("convergence held: converged at {} (T0 {}, bound {}, quiet {})",
                       c.converged_at ? sim_seconds(*c.converged_at) : "?", c.t0 ? sim_seconds(*c.t0) : "?",
                       sim_seconds(c.bound_ns), sim_seconds(c.quiet_ns));
  }

  // With --quiet, passes print no line; those that did not judge convergence
  // are still said, once per scenario and reason, before the summary.
  void note_quiet_pass(const scenarios::Scenario& scenario, const RunResult& r) {
    const auto& c = r.convergence;
    if (c.checked && c.owed) return;
    ++unjudged_[{scenario.name, convergence_status(r)}];
  }

  void print_unjudged() {
    for (const auto& [key, count] : unjudged_) {
      out_ << fmt::format("{}: {} ({} passing run{})\n", key.first, key.second, count, count == 1 ? "" : "s");
    }
  }

  void progress(std::uint64_t total_runs) {
    if (options_.quiet || total_runs < 2) return;
    const auto now = WallClock::now();
    if (now - last_progress_ < options_.progress_interval && totals_.runs != total_runs) return;
    if (totals_.runs == total_runs && !progress_shown_) return;
    last_progress_ = now;
    progress_shown_ = true;
    err_ << fmt::format("progress: {}/{} runs, {} failed\n", totals_.runs, total_runs,
                        totals_.runs - totals_.by_verdict[0]);
  }

  const RunCommandOptions& options_;
  std::ostream& out_;
  std::ostream& err_;
  Totals totals_;
  std::map<std::pair<std::string, std::string>, std::uint64_t> unjudged_;  // (scenario, status) -> passes
  WallClock::time_point last_progress_;
  bool progress_shown_ = false;
};

}  // namespace

int run_command(const RunCommandOptions& options, std::ostream& out, std::ostream& err) {
  if (options.inputs.empty()) {
    err << "aethersim run: no scenario files given (aethersim run --help)\n";
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
  Runner runner(options, out, err);
  return runner.run(loaded.scenarios, total_runs);
}

}  // namespace aether::tools
