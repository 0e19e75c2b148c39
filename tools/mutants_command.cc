#include "tools/mutants_command.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <map>
#include <ostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "engine/mutations.h"
#include "properties/scenario_gen.h"
#include "scenarios/writer.h"
#include "tools/fuzz_command.h"
#include "tools/inputs.h"
#include "tools/isolated_run.h"
#include "tools/run_command.h"
#include "tools/shrinker.h"

namespace aether::tools {

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::ordered_json;

constexpr const char* kSummaryFormat = "aethersim-mutants-summary/1";

scenarios::Scenario with_mutation(scenarios::Scenario scenario, const std::string& mutation) {
  auto& list = scenario.config["mutations"];
  if (!list.is_array()) list = nlohmann::json::array();
  list.push_back(mutation);
  return scenario;
}

scenarios::Scenario without_mutations(scenarios::Scenario scenario) {
  scenario.config.erase("mutations");
  return scenario;
}

// Groups of runs, each group in a fixed order (index 0, 1, ...), in worker
// processes, `jobs` at once, breadth first (index k of every group before
// index k + 1 of any). With `stop_at_first`, a group schedules nothing after
// its earliest failing index, and only that failure is kept: every index
// below it has finished, so the result does not depend on --jobs or timing.
class GroupRunner {
 public:
  using Work = std::function<SeedOutcome(std::size_t group, std::size_t index)>;
  struct Result {
    std::map<std::size_t, SeedOutcome> failures;  // by index; at most one with stop_at_first
    std::size_t finished = 0;                     // runs that finished (kept or not)
    std::optional<std::size_t> first_failure() const {
      if (failures.empty()) return std::nullopt;
      return failures.begin()->first;
    }
  };

  GroupRunner(int jobs, std::chrono::milliseconds timeout, bool stop_at_first,
              std::function<void(const std::vector<Result>&, std::size_t, std::size_t)> progress)
      : jobs_(std::max(1, jobs)), timeout_(timeout), stop_(stop_at_first), progress_(std::move(progress)) {}

  std::vector<Result> run(const std::vector<std::size_t>& sizes, const Work& work) {
    std::vector<Result> results(sizes.size());
    const std::size_t longest = sizes.empty() ? 0 : *std::max_element(sizes.begin(), sizes.end());
    std::size_t total = 0;
    for (auto n : sizes) total += n;
    std::size_t k = 0;
    std::size_t g = 0;
    std::size_t done = 0;
    auto next = [&]() -> std::optional<std::pair<std::size_t, std::size_t>> {
      while (k < longest) {
        if (g >= sizes.size()) {
          g = 0;
          ++k;
          continue;
        }
        const std::size_t group = g++;
        if (k >= sizes[group]) continue;
        const auto first = results[group].first_failure();
        if (stop_ && first && k > *first) continue;
        return std::make_pair(group, k);
      }
      return std::nullopt;
    };
    std::vector<std::pair<std::size_t, std::size_t>> started;  // task id -> (group, index)
    PoolHooks hooks;
    hooks.next = [&]() -> std::optional<PoolTask> {
      auto task = next();
      if (!task) return std::nullopt;
      const auto [group, index] = *task;
      started.push_back(*task);
      return PoolTask{started.size() - 1, [&work, group, index] { return work(group, index); }};
    };
    hooks.done = [&](std::uint64_t id, SeedOutcome outcome) {
      const auto [group, index] = started[id];
      auto& result = results[group];
      ++result.finished;
      ++done;
      if (!outcome.failed()) return;
      const auto first = result.first_failure();
      if (!stop_) {
        result.failures[index] = std::move(outcome);
      } else if (!first || index < *first) {
        result.failures.clear();
        result.failures[index] = std::move(outcome);
      }
    };
    hooks.after_round = [&] {
      if (progress_) progress_(results, done, total);
    };
    run_pool(jobs_, timeout_, hooks);
    return results;
  }

 private:
  int jobs_;
  std::chrono::milliseconds timeout_;
  bool stop_;
  std::function<void(const std::vector<Result>&, std::size_t, std::size_t)> progress_;
};

struct Kill {
  std::string by;  // "suite" | "fuzz"
  std::string where;
  std::string scenario_file;  // suite
  std::string profile;        // fuzz
  std::uint64_t seed = 0;
  SeedOutcome outcome;
  std::uint64_t to_detection = 0;  // suite: runs in order; fuzz: seeds of each profile
  std::string replay;
  std::optional<std::string> offered_file;
  std::optional<std::string> mutated_file;
};

struct MutantResult {
  engine::MutationDoc doc;
  std::optional<Kill> kill;
  std::uint64_t suite_runs = 0;
  std::uint64_t fuzz_runs = 0;
};

std::string detection_text(const Kill& k, std::uint64_t suite_total) {
  if (k.by == "suite") return fmt::format("run {} of {}", k.to_detection, suite_total);
  return fmt::format("{} seed{}", k.to_detection, k.to_detection == 1 ? "" : "s");
}

class Campaign {
 public:
  Campaign(const MutantsOptions& o, std::ostream& out, std::ostream& err)
      : o_(o), out_(out), err_(err), tty_(!o.quiet && isatty(STDERR_FILENO) == 1) {}

  int run() {
    const auto start = Clock::now();
    if (int code = select_points(); code != 0) return code;
    if (int code = load_suite(); code != 0) return code;
    if (o_.out_dir) {
      std::error_code ec;
      std::filesystem::create_directories(*o_.out_dir, ec);
      if (ec || !std::filesystem::is_directory(*o_.out_dir)) {
        err_ << fmt::format("aethersim mutants: --out: cannot create directory {}\n", *o_.out_dir);
        return 2;
      }
    }
    if (o_.suite) {
      if (int code = baseline_suite(); code != 0) return code;
      suite_phase();
    }
    if (o_.fuzz) fuzz_phase();
    clear_progress();
    int exit_code = 0;
    for (const auto& m : mutants_) {
      if (!m.kill && exit_code == 0) exit_code = 1;
    }
    print_table();
    const auto wall = std::chrono::duration<double>(Clock::now() - start).count();
    std::size_t killed = 0;
    for (const auto& m : mutants_) killed += m.kill ? 1 : 0;
    out_ << fmt::format("{} mutants: {} of {} killed, {} survived in {:.1f}s wall; exit {}\n",
                        version_string(), killed, mutants_.size(), mutants_.size() - killed, wall, exit_code);
    if (o_.json_file) {
      std::string error;
      if (!write_atomically(*o_.json_file, summary_text(summary(exit_code)), &error)) {
        err_ << "aethersim mutants: --json: " << error << "\n";
        return std::max(exit_code, 2);
      }
      out_ << "summary: " << *o_.json_file << "\n";
    }
    return exit_code;
  }

 private:
  int select_points() {
    for (const auto& name : o_.skip) {
      if (!engine::is_known_mutation(name)) {
        err_ << fmt::format("aethersim mutants: --skip: unknown mutation \"{}\" (aethersim list mutations)\n",
                            name);
        return 2;
      }
    }
    for (const auto& name : o_.only) {
      if (!engine::is_known_mutation(name)) {
        err_ << fmt::format("aethersim mutants: --only: unknown mutation \"{}\" (aethersim list mutations)\n",
                            name);
        return 2;
      }
    }
    for (const auto& doc : engine::mutation_points()) {
      if (std::find(o_.skip.begin(), o_.skip.end(), doc.name) != o_.skip.end()) continue;
      if (o_.only.empty() || std::find(o_.only.begin(), o_.only.end(), doc.name) != o_.only.end())
        mutants_.push_back(MutantResult{doc, std::nullopt, 0, 0});
    }
    for (const auto& profile : o_.profiles) {
      if (!properties::gen::is_profile(profile)) {
        err_ << fmt::format(
            "aethersim mutants: --profiles: unknown profile \"{}\" (aethersim list profiles)\n", profile);
        return 2;
      }
    }
    return 0;
  }

  int load_suite() {
    if (!o_.suite) return 0;
    const auto inputs = o_.inputs.empty() ? std::vector<std::string>{"scenarios"} : o_.inputs;
    const auto expanded = expand_inputs(inputs);
    auto loaded = load_inputs(expanded.files);
    if (!expanded.errors.empty() || loaded.invalid_files != 0 || loaded.scenarios.empty()) {
      for (const auto& e : expanded.errors) err_ << e << "\n";
      for (const auto& e : loaded.errors) err_ << e << "\n";
      if (expanded.errors.empty() && loaded.errors.empty()) err_ << "aethersim mutants: no scenario files\n";
      return 2;
    }
    suite_ = std::move(loaded.scenarios);
    return 0;
  }

  // Suite run i: scenario i mod S with seed i / S + 1 (seed-major).
  std::size_t suite_total() const { return suite_.size() * o_.suite_seeds; }
  const scenarios::Scenario& suite_scenario(std::size_t i) const { return suite_[i % suite_.size()]; }
  std::uint64_t suite_seed(std::size_t i) const { return i / suite_.size() + 1; }

  int baseline_suite() {
    phase_ = "baseline (unmutated engine)";
    GroupRunner runner(o_.jobs, o_.seed_timeout, false, progress_fn());
    const auto results = runner.run({suite_total()}, [this](std::size_t, std::size_t i) {
      return run_in_process(suite_scenario(i), suite_seed(i), InProcessOptions{});
    });
    clear_progress();
    const auto& failures = results.front().failures;
    out_ << fmt::format(
        "baseline: the unmutated engine over {} scenario{} x seeds 1..{}: {} run{}, {} failed\n",
        suite_.size(), suite_.size() == 1 ? "" : "s", o_.suite_seeds, suite_total(),
        suite_total() == 1 ? "" : "s", failures.size());
    for (const auto& [i, outcome] : failures) {
      baseline_failures_.push_back({suite_scenario(i).file, suite_seed(i), outcome});
      out_ << fmt::format("  FAIL {} seed={} {}: {}\n  replay: {} run {} --seed {}\n", suite_scenario(i).file,
                          suite_seed(i), outcome.key, outcome.message, o_.program, suite_scenario(i).file,
                          suite_seed(i));
    }
    if (failures.empty()) return 0;
    err_ << "aethersim mutants: the unmutated engine fails the suite: a kill would mean nothing; fix the "
            "engine "
            "or the checks first (exit 3)\n";
    if (o_.json_file) {
      std::string error;
      write_atomically(*o_.json_file, summary_text(summary(3)), &error);
    }
    return 3;
  }

  void suite_phase() {
    phase_ = "suite";
    GroupRunner runner(o_.jobs, o_.seed_timeout, true, progress_fn());
    const auto results = runner.run(
        std::vector<std::size_t>(mutants_.size(), suite_total()), [this](std::size_t g, std::size_t i) {
          return run_in_process(with_mutation(suite_scenario(i), mutants_[g].doc.name), suite_seed(i),
                                InProcessOptions{});
        });
    for (std::size_t g = 0; g < mutants_.size(); ++g) {
      auto& m = mutants_[g];
      const auto first = results[g].first_failure();
      m.suite_runs = first ? *first + 1 : suite_total();
      if (!first) continue;
      const auto& s = suite_scenario(*first);
      Kill k;
      k.by = "suite";
      k.scenario_file = s.file;
      k.seed = suite_seed(*first);
      k.where = fmt::format("{} seed {}", std::filesystem::path(s.file).filename().string(), k.seed);
      k.outcome = results[g].failures.begin()->second;
      k.to_detection = *first + 1;
      k.replay = fmt::format("{} mutants --only {} --no-fuzz --suite-seeds {} {}", o_.program, m.doc.name,
                             k.seed, s.file);
      m.kill = std::move(k);
    }
  }

  void fuzz_phase() {
    std::vector<std::size_t> alive;
    for (std::size_t g = 0; g < mutants_.size(); ++g) {
      if (!mutants_[g].kill) alive.push_back(g);
    }
    const std::size_t profiles = o_.profiles.size();
    const std::size_t per_group = static_cast<std::size_t>(o_.fuzz_seeds) * profiles;
    auto profile_of = [this, profiles](std::size_t i) { return o_.profiles[i % profiles]; };
    auto seed_of = [this, profiles](std::size_t i) { return o_.start_seed + i / profiles; };
    // Rounds: each searches the mutants still alive from where they stand; a
    // first failure that the unmutated engine shares is no kill (recorded in
    // baseline_fuzz_failures_) and that mutant's search resumes after it.
    std::map<std::size_t, std::size_t> from;  // mutant -> first case index still to search
    for (auto g : alive) from[g] = 0;
    std::map<std::size_t, SeedOutcome> baseline_cache;  // case index -> unmutated outcome
    while (!from.empty()) {
      std::vector<std::size_t> groups;
      std::vector<std::size_t> sizes;
      for (const auto& [g, start] : from) {
        groups.push_back(g);
        sizes.push_back(per_group - start);
      }
      phase_ = "fuzz";
      GroupRunner runner(o_.jobs, o_.seed_timeout, true, progress_fn());
      const auto results = runner.run(sizes, [&](std::size_t n, std::size_t k) {
        const auto i = from.at(groups[n]) + k;
        const auto seed = seed_of(i);
        const auto c = properties::gen::generate_case(profile_of(i), seed);
        return run_in_process(with_mutation(c.scenario, mutants_[groups[n]].doc.name), seed,
                              InProcessOptions{});
      });
      std::vector<std::size_t> unchecked;  // case indexes whose unmutated outcome is not known yet
      for (std::size_t n = 0; n < groups.size(); ++n) {
        const auto first = results[n].first_failure();
        if (!first) continue;
        const auto i = from.at(groups[n]) + *first;
        if (!baseline_cache.count(i) && std::find(unchecked.begin(), unchecked.end(), i) == unchecked.end())
          unchecked.push_back(i);
      }
      phase_ = "fuzz baseline";
      GroupRunner check(o_.jobs, o_.seed_timeout, false, progress_fn());
      const auto checked =
          check.run(std::vector<std::size_t>(unchecked.size(), 1), [&](std::size_t n, std::size_t) {
            const auto i = unchecked[n];
            return run_in_process(properties::gen::generate_case(profile_of(i), seed_of(i)).scenario,
                                  seed_of(i), InProcessOptions{});
          });
      for (std::size_t n = 0; n < unchecked.size(); ++n) {
        SeedOutcome pass;
        baseline_cache[unchecked[n]] =
            checked[n].failures.empty() ? pass : checked[n].failures.begin()->second;
        if (!checked[n].failures.empty())
          baseline_fuzz_failures_[unchecked[n]] = checked[n].failures.begin()->second;
      }
      for (std::size_t n = 0; n < groups.size(); ++n) {
        const auto g = groups[n];
        auto& m = mutants_[g];
        const auto first = results[n].first_failure();
        if (!first) {
          m.fuzz_runs = per_group;
          from.erase(g);
          continue;
        }
        const auto i = from.at(g) + *first;
        m.fuzz_runs = i + 1;
        if (baseline_cache.at(i).failed()) {
          from[g] = i + 1;  // shared with the unmutated engine: search on
          if (from[g] >= per_group) from.erase(g);
          continue;
        }
        from.erase(g);
        Kill k;
        k.by = "fuzz";
        k.profile = profile_of(i);
        k.seed = seed_of(i);
        k.where = fmt::format("fuzz {} seed {}", k.profile, k.seed);
        k.outcome = results[n].failures.begin()->second;
        k.to_detection = i / profiles + 1;
        k.replay = fmt::format("{} mutants --only {} --no-suite --profiles {} --start-seed {} --seeds 1",
                               o_.program, m.doc.name, k.profile, k.seed);
        if (o_.out_dir) offer(m, k);
        m.kill = std::move(k);
      }
    }
    clear_progress();
    for (const auto& [i, outcome] : baseline_fuzz_failures_) {
      out_ << fmt::format(
          "note: fuzz {} seed {} fails the unmutated engine too ({}: {}); it counts as no kill\n"
          "  replay: {} fuzz --profile {} --seeds 1 --start-seed {}\n",
          profile_of(i), seed_of(i), outcome.key, outcome.message, o_.program, profile_of(i), seed_of(i));
    }
  }

  // Shrinks a fuzz kill and offers it as a suite scenario: DIR/NAME.json
  // (mutation removed: it passes on the unmutated engine, which the
  // suite needs) and DIR/NAME.mutated.json (mutation on: it fails).
  void offer(const MutantResult& m, Kill& k) {
    clear_progress();
    const auto mutated =
        with_mutation(properties::gen::generate_case(k.profile, k.seed).scenario, m.doc.name);
    out_ << fmt::format("shrinking the kill of {} ({} seed {}, {}), budget {:.0f}s\n", m.doc.name, k.profile,
                        k.seed, k.outcome.key, static_cast<double>(o_.shrink_budget.count()) / 1000.0);
    ShrinkOptions so;
    so.budget = o_.shrink_budget;
    so.run_timeout = o_.seed_timeout;
    auto minimal = shrink_scenario(mutated, k.seed, k.outcome, so).minimal;
    minimal = with_mutation(without_mutations(minimal), m.doc.name);
    auto offered = without_mutations(minimal);
    const auto seed = k.seed;
    const auto unmutated =
        run_isolated([&offered, seed] { return run_in_process(offered, seed, {}); }, o_.seed_timeout);
    if (unmutated.failed()) {
      // The shrunk case fails without the mutation too: offer the original case.
      minimal = mutated;
      offered = without_mutations(mutated);
    }
    const auto base = std::filesystem::path(*o_.out_dir);
    offered.name = "mutant-" + m.doc.name;
    offered.description = fmt::format("kills mutation {} ({}): found by aethersim mutants, fuzz {} seed {}",
                                      m.doc.name, k.outcome.key, k.profile, k.seed);
    offered.seed = seed;
    minimal.name = offered.name + "-mutated";
    minimal.description = offered.description;
    minimal.seed = seed;
    const auto offered_file = (base / (m.doc.name + ".json")).string();
    const auto mutated_file = (base / (m.doc.name + ".mutated.json")).string();
    std::string error;
    if (write_atomically(offered_file, scenarios::write_scenario(offered), &error))
      k.offered_file = offered_file;
    if (write_atomically(mutated_file, scenarios::write_scenario(minimal), &error))
      k.mutated_file = mutated_file;
    if (!error.empty()) err_ << "aethersim mutants: --out: " << error << "\n";
    if (k.offered_file)
      out_ << fmt::format("  offered: {} ({} steps, {} nodes); with the mutation: {} run {} --seed {}\n",
                          *k.offered_file, offered.steps.size(), offered.cluster.nodes.size(), o_.program,
                          mutated_file, seed);
  }

  std::function<void(const std::vector<GroupRunner::Result>&, std::size_t, std::size_t)> progress_fn() {
    return [this](const std::vector<GroupRunner::Result>& results, std::size_t done, std::size_t total) {
      if (!tty_) return;
      const auto now = Clock::now();
      if (now - last_progress_ < std::chrono::milliseconds(250)) return;
      last_progress_ = now;
      std::size_t dead = 0;
      for (const auto& r : results) dead += r.failures.empty() ? 0 : 1;
      err_ << "\r\033[K"
           << fmt::format("mutants: {}: {} runs done (at most {}), {} of {} group{} failed", phase_, done,
                          total, dead, results.size(), results.size() == 1 ? "" : "s")
           << std::flush;
      progress_shown_ = true;
    };
  }
  void clear_progress() {
    if (progress_shown_) err_ << "\r\033[K" << std::flush;
    progress_shown_ = false;
  }

  void print_table() {
    std::size_t width = 6;
    for (const auto& m : mutants_) width = std::max(width, m.doc.name.size());
    out_ << fmt::format("{:<{}}  {:<8}  {:<5}  {:<44}  {:<40}  {}\n", "mutant", width, "verdict", "by",
                        "where", "what", "detection");
    for (const auto& m : mutants_) {
      if (!m.kill) {
        out_ << fmt::format("{:<{}}  {:<8}  {:<5}  {:<44}  {:<40}  {}\n", m.doc.name, width, "SURVIVED", "-",
                            fmt::format("{} suite runs, {} fuzz runs", m.suite_runs, m.fuzz_runs), "-", "-");
        continue;
      }
      const auto& k = *m.kill;
      out_ << fmt::format("{:<{}}  {:<8}  {:<5}  {:<44}  {:<40}  {}\n", m.doc.name, width, "killed", k.by,
                          k.where, k.outcome.key.substr(0, 40), detection_text(k, suite_total()));
    }
    for (const auto& m : mutants_) {
      if (m.kill && o_.quiet) continue;
      if (m.kill) {
        out_ << fmt::format("  {}: {}\n    replay: {}\n", m.doc.name, m.kill->outcome.message,
                            m.kill->replay);
      } else {
        out_ << fmt::format("  {} SURVIVED: {} ({})\n", m.doc.name, m.doc.description,
                            "add a scenario or strengthen a check; never weaken the mutant");
      }
    }
  }

  ordered_json summary(int exit_code) const {
    ordered_json j;
    j["format"] = kSummaryFormat;
    j["version"] = version_string();
    ordered_json suite;
    suite["enabled"] = o_.suite;
    ordered_json files = ordered_json::array();
    for (const auto& s : suite_) files.push_back(s.file);
    suite["files"] = files;
    suite["seeds"] = o_.suite_seeds;
    suite["runs_per_mutant"] = suite_total();
    j["suite"] = suite;
    ordered_json fuzz;
    fuzz["enabled"] = o_.fuzz;
    fuzz["profiles"] = o_.profiles;
    fuzz["start_seed"] = o_.start_seed;
    fuzz["seeds"] = o_.fuzz_seeds;
    ordered_json shared = ordered_json::array();
    for (const auto& [i, outcome] : baseline_fuzz_failures_) {
      const auto n = o_.profiles.size();
      shared.push_back({{"profile", o_.profiles[i % n]},
                        {"seed", o_.start_seed + i / n},
                        {"key", outcome.key},
                        {"message", outcome.message}});
    }
    fuzz["baseline_failures"] = shared;
    j["fuzz"] = fuzz;
    ordered_json baseline;
    baseline["runs"] = o_.suite ? suite_total() : 0;
    ordered_json failures = ordered_json::array();
    for (const auto& f : baseline_failures_) {
      failures.push_back(
          {{"file", f.file}, {"seed", f.seed}, {"key", f.outcome.key}, {"message", f.outcome.message}});
    }
    baseline["failures"] = failures;
    j["baseline"] = baseline;
    ordered_json list = ordered_json::array();
    std::size_t killed = 0;
    for (const auto& m : mutants_) {
      ordered_json e;
      e["name"] = m.doc.name;
      e["description"] = m.doc.description;
      e["verdict"] = m.kill ? "killed" : "survived";
      e["suite_runs"] = m.suite_runs;
      e["fuzz_runs"] = m.fuzz_runs;
      if (m.kill) {
        ++killed;
        const auto& k = *m.kill;
        ordered_json by;
        by["by"] = k.by;
        if (k.by == "suite") {
          by["file"] = k.scenario_file;
          by["runs_to_detection"] = k.to_detection;
        } else {
          by["profile"] = k.profile;
          by["seeds_to_detection"] = k.to_detection;
        }
        by["seed"] = k.seed;
        by["outcome"] = k.outcome.outcome;
        by["key"] = k.outcome.key;
        by["message"] = k.outcome.message;
        by["replay"] = k.replay;
        if (k.offered_file) by["offered_file"] = *k.offered_file;
        if (k.mutated_file) by["mutated_file"] = *k.mutated_file;
        e["kill"] = by;
      }
      list.push_back(e);
    }
    j["mutants"] = list;
    j["killed"] = killed;
    j["survived"] = mutants_.size() - killed;
    j["exit"] = exit_code;
    return j;
  }

  struct BaselineFailure {
    std::string file;
    std::uint64_t seed;
    SeedOutcome outcome;
  };

  const MutantsOptions& o_;
  std::ostream& out_;
  std::ostream& err_;
  bool tty_;
  std::vector<MutantResult> mutants_;
  std::vector<scenarios::Scenario> suite_;
  std::vector<BaselineFailure> baseline_failures_;
  std::map<std::size_t, SeedOutcome> baseline_fuzz_failures_;  // fuzz case index -> unmutated outcome
  std::string phase_;
  Clock::time_point last_progress_{};
  bool progress_shown_ = false;
};

}  // namespace

int mutants_command(const MutantsOptions& options, std::ostream& out, std::ostream& err) {
  Campaign campaign(options, out, err);
  return campaign.run();
}

}  // namespace aether::tools
