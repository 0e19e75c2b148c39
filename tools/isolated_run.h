// Runs of one scenario and seed in a forked worker process, for `fuzz` and
// `shrink`: an engine segfault, abort, escaped exception or hang (a
// wall-clock watchdog) becomes an outcome of that run instead of the end of
// the campaign. The child sends its outcome back as one JSON line on a pipe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "properties/runner.h"
#include "scenarios/model.h"

namespace aether::tools {

struct SeedOutcome {
  // pass | fail | input-error | framework-error | crash | timeout
  std::string outcome = "pass";
  // What failed, the grouping key of a campaign and what a shrink keeps:
  // "invariant:<id>", "expectation", "blocker:<blocker>", "input-error",
  // "framework-error", "crash:<signal>", "exit:<code>", "hang", "nondeterminism".
  std::string key;
  std::string message;  // one line
  std::uint64_t trace_hash = 0;
  std::uint64_t events = 0;
  bool rechecked = false;
  std::map<std::string, std::int64_t> probes;

  bool failed() const { return outcome != "pass"; }
  nlohmann::json to_json() const;
  static SeedOutcome from_json(const nlohmann::json& j);
};

// The outcome of a finished run (no process isolation involved).
SeedOutcome classify(const properties::RunResult& result);

struct InProcessOptions {
  bool probes = false;
  bool recheck = false;  // run twice; a trace-hash mismatch names the first diverging event
  // `fuzz --report`: a failing run writes its report folder here (report.json,
  // report.html, summary.md), built from that run's own trace and result.
  std::optional<std::string> report_folder;
  std::string replay;  // the replay command the report names
};
SeedOutcome run_in_process(const scenarios::Scenario& scenario, std::uint64_t seed,
                           const InProcessOptions& options);

// A worker process computing one outcome.
class Worker {
 public:
  // Forks; the child runs `work`, writes the outcome and _exits.
  static Worker spawn(const std::function<SeedOutcome()>& work);
  // Reads what is available; true once the child closed its pipe.
  bool pump();
  int fd() const { return fd_; }
  int pid() const { return pid_; }
  std::chrono::steady_clock::time_point started() const { return started_; }
  // Kills the child (watchdog or Ctrl-C).
  void kill_now();
  // Reaps the child and turns what it sent (or how it died) into an outcome.
  SeedOutcome finish(bool timed_out, std::chrono::milliseconds timeout);

 private:
  int pid_ = -1;
  int fd_ = -1;
  std::string received_;
  std::chrono::steady_clock::time_point started_;
};

// spawn + wait with a watchdog.
SeedOutcome run_isolated(const std::function<SeedOutcome()>& work, std::chrono::milliseconds timeout);

// A campaign's runs in worker processes (`fuzz`, `mutants`): at most `jobs`
// at once, each under the `timeout` watchdog (a hang becomes its outcome).
struct PoolTask {
  std::uint64_t id;                   // the caller's name for it, given back to `done`
  std::function<SeedOutcome()> work;  // runs in the child
};
struct PoolHooks {
  // The next task to start, or nothing (no more, or no more for now: the
  // pool then waits for the running ones and asks again after each).
  std::function<std::optional<PoolTask>()> next;
  // A finished task's outcome, in finishing order.
  std::function<void(std::uint64_t id, SeedOutcome outcome)> done;
  // Asked at the start of every poll round: true kills the running workers,
  // drops their outcomes and returns (Ctrl-C). Optional.
  std::function<bool()> abort = nullptr;
  // After every poll round (progress). Optional.
  std::function<void()> after_round = nullptr;
};
void run_pool(int jobs, std::chrono::milliseconds timeout, const PoolHooks& hooks);

}  // namespace aether::tools
