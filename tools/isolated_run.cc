#include "tools/isolated_run.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <iostream>
#include <stdexcept>

#include <fmt/format.h>

#include "properties/human_time.h"
#include "properties/probes.h"
#include "reports/report.h"
#include "tools/run_command.h"
#include "tools/trace_compare.h"

namespace aether::tools {

using properties::RunOptions;
using properties::RunResult;
using properties::Verdict;

nlohmann::json SeedOutcome::to_json() const {
  nlohmann::json j = {{"outcome", outcome}, {"key", key},       {"message", message},
                      {"hash", trace_hash}, {"events", events}, {"rechecked", rechecked},
                      {"probes", probes}};
  return j;
}

SeedOutcome SeedOutcome::from_json(const nlohmann::json& j) {
  SeedOutcome o;
  o.outcome = j.at("outcome").get<std::string>();
  o.key = j.at("key").get<std::string>();
  o.message = j.at("message").get<std::string>();
  o.trace_hash = j.at("hash").get<std::uint64_t>();
  o.events = j.at("events").get<std::uint64_t>();
  o.rechecked = j.at("rechecked").get<bool>();
  o.probes = j.at("probes").get<std::map<std::string, std::int64_t>>();
  return o;
}

namespace {

std::string one_line(std::string text) {
  for (char& c : text)
    if (c == '\n' || c == '\r') c = ' ';
  if (text.size() > 300) text = text.substr(0, 297) + "...";
  return text;
}

}  // namespace

SeedOutcome classify(const RunResult& r) {
  SeedOutcome o;
  o.trace_hash = r.trace_hash;
  o.events = r.events;
  switch (r.verdict) {
    case Verdict::Pass:
      return o;
    case Verdict::InputError:
      o.outcome = "input-error";
      o.key = "input-error";
      o.message = one_line(r.input_error);
      return o;
    case Verdict::FrameworkError:
      o.outcome = "framework-error";
      o.key = "framework-error";
      o.message = one_line(r.framework_error);
      return o;
    case Verdict::Fail:
      break;
  }
  o.outcome = "fail";
  for (const auto& v : r.violations) {
    if (std::find(r.pinned.begin(), r.pinned.end(), v.invariant) != r.pinned.end()) continue;
    o.key = "invariant:" + v.invariant;
    o.message = one_line(fmt::format("{} at {} on {}: {}", v.invariant, properties::human_duration(v.time),
                                     v.node, v.message));
    return o;
  }
  for (const auto& e : r.expectations) {
    if (e.held) continue;
    // The kind of expectation and why it failed (the blocker before the first ':').
    const auto kind = e.description.substr(0, e.description.find(' '));
    auto why = e.detail.substr(0, e.detail.find(':'));
    if (why.rfind("at ", 0) == 0) why.clear();  // a time, not a reason
    o.key = "expectation:" + kind + (why.empty() ? "" : ":" + why);
    o.message = one_line(fmt::format("{} {} did not hold: {}", e.path, e.description, e.detail));
    return o;
  }
  if (r.convergence.owed && !r.convergence.held) {
    o.key = "blocker:" + r.convergence.blocker;
    o.message = one_line(fmt::format("not converged: {}: {}", r.convergence.blocker, r.convergence.detail));
    return o;
  }
  o.key = "fail";
  o.message = "failed";
  return o;
}

namespace {

RunResult guarded(const scenarios::Scenario& scenario, const RunOptions& options) {
  try {
    return properties::run_scenario(scenario, options);
  } catch (const std::exception& e) {
    RunResult failed;
    failed.verdict = Verdict::FrameworkError;
    failed.seed = options.seed;
    failed.framework_error = fmt::format("exception escaped the runner: {}", e.what());
    return failed;
  }
}

}  // namespace

SeedOutcome run_in_process(const scenarios::Scenario& scenario, std::uint64_t seed,
                           const InProcessOptions& options) {
  properties::ProbeSet probes;
  reports::TraceCollector collector;
  const bool reporting = options.report_folder.has_value();
  RunOptions run;
  run.seed = seed;
  if (options.probes || reporting) {
    run.trace_line_observer = [&probes, &collector, &options, reporting](std::uint64_t,
                                                                         const std::string& line) {
      if (options.probes) probes.observe(line);
      if (reporting) collector.line(line);
    };
  }
  const auto started = std::chrono::steady_clock::now();
  RunResult first = guarded(scenario, run);
  SeedOutcome o = classify(first);
  if (options.probes) o.probes = probes.hits();
  if (reporting && o.failed()) {
    try {
      collector.end(first.simulated_end);
      reports::ReportContext context;
      context.version = version_string();
      context.replay = options.replay;
      context.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      reports::write_report_folder(*options.report_folder,
                                   reports::build_report(scenario, first, collector, context));
    } catch (const std::exception& e) {
      o.message += fmt::format(" (report not written: {})", e.what());
    }
  }
  if (!options.recheck) return o;
  o.rechecked = true;
  RunOptions again;
  again.seed = seed;
  const RunResult second = guarded(scenario, again);
  if (second.trace_hash == first.trace_hash && second.verdict == first.verdict) return o;
  // Name the first diverging event: two more runs, compared line by line.
  TraceComparer comparer;
  RunOptions a;
  a.seed = seed;
  a.trace_line_observer = [&comparer](std::uint64_t, const std::string& line) {
    comparer.record_first(line);
  };
  guarded(scenario, a);
  RunOptions b;
  b.seed = seed;
  b.trace_line_observer = [&comparer](std::uint64_t, const std::string& line) {
    comparer.compare_second(line);
  };
  guarded(scenario, b);
  o.outcome = "fail";
  o.key = "nondeterminism";
  const auto d = comparer.result();
  o.message =
      one_line(d ? fmt::format("trace hash {:016x} then {:016x}; first diverging event #{}: {} (after: {})",
                               first.trace_hash, second.trace_hash, d->index,
                               d->second_ended ? "(run ended)" : d->second_line, d->last_common)
                 : fmt::format("trace hash {:016x} then {:016x} (verdict {} then {})", first.trace_hash,
                               second.trace_hash, properties::verdict_name(first.verdict),
                               properties::verdict_name(second.verdict)));
  return o;
}

Worker Worker::spawn(const std::function<SeedOutcome()>& work) {
  int fds[2];
  if (pipe(fds) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  std::cout.flush();
  std::cerr.flush();
  const pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    close(fds[0]);
    std::signal(SIGINT, SIG_IGN);  // the parent decides what Ctrl-C stops
    std::string text;
    try {
      text = work().to_json().dump() + "\n";
    } catch (const std::exception& e) {
      SeedOutcome o;
      o.outcome = "framework-error";
      o.key = "framework-error";
      o.message = one_line(std::string("exception: ") + e.what());
      text = o.to_json().dump() + "\n";
    }
    const char* p = text.data();
    std::size_t left = text.size();
    while (left > 0) {
      const ssize_t n = write(fds[1], p, left);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      p += n;
      left -= static_cast<std::size_t>(n);
    }
    _exit(0);
  }
  close(fds[1]);
  fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK);
  Worker w;
  w.pid_ = pid;
  w.fd_ = fds[0];
  w.started_ = std::chrono::steady_clock::now();
  return w;
}

bool Worker::pump() {
  char buffer[65536];
  for (;;) {
    const ssize_t n = read(fd_, buffer, sizeof buffer);
    if (n > 0) {
      received_.append(buffer, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return false;
    return true;  // EOF or error
  }
}

void Worker::kill_now() {
  if (pid_ > 0) ::kill(pid_, SIGKILL);
}

SeedOutcome Worker::finish(bool timed_out, std::chrono::milliseconds timeout) {
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  close(fd_);
  fd_ = -1;
  SeedOutcome o;
  if (timed_out) {
    o.outcome = "timeout";
    o.key = "hang";
    o.message = fmt::format("no outcome within {}ms of wall clock (watchdog)", timeout.count());
    return o;
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    const auto nl = received_.find('\n');
    const auto j = nlohmann::json::parse(received_.substr(0, nl), nullptr, false);
    if (!j.is_discarded()) {
      try {
        return SeedOutcome::from_json(j);
      } catch (const std::exception&) {
      }
    }
  }
  o.outcome = "crash";
  if (WIFSIGNALED(status)) {
    const char* name = sigabbrev_np(WTERMSIG(status));
    o.key = fmt::format("crash:SIG{}", name ? name : std::to_string(WTERMSIG(status)).c_str());
    o.message = fmt::format("the worker died of signal {} (SIG{})", WTERMSIG(status), name ? name : "?");
  } else {
    o.key = fmt::format("exit:{}", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    o.message = fmt::format("the worker exited with status {} without an outcome",
                            WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  }
  return o;
}

SeedOutcome run_isolated(const std::function<SeedOutcome()>& work, std::chrono::milliseconds timeout) {
  Worker w = Worker::spawn(work);
  const auto deadline = w.started() + timeout;
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      w.kill_now();
      return w.finish(true, timeout);
    }
    pollfd p{w.fd(), POLLIN, 0};
    const int r = poll(&p, 1, static_cast<int>(std::min<std::int64_t>(left.count(), 200)));
    if (r > 0 && w.pump()) return w.finish(false, timeout);
  }
}

void run_pool(int jobs, std::chrono::milliseconds timeout, const PoolHooks& hooks) {
  struct Running {
    Worker worker;
    std::uint64_t id;
  };
  std::vector<Running> running;
  const auto slots = static_cast<std::size_t>(std::max(1, jobs));
  for (;;) {
    if (hooks.abort && hooks.abort()) {
      for (auto& r : running) r.worker.kill_now();
      for (auto& r : running) r.worker.finish(true, timeout);
      return;
    }
    while (running.size() < slots) {
      auto task = hooks.next();
      if (!task) break;
      running.push_back({Worker::spawn(task->work), task->id});
    }
    if (running.empty()) return;
    std::vector<pollfd> fds;
    for (const auto& r : running) fds.push_back({r.worker.fd(), POLLIN, 0});
    poll(fds.data(), fds.size(), 100);
    for (std::size_t i = 0; i < running.size();) {
      auto& r = running[i];
      const bool timed_out = std::chrono::steady_clock::now() - r.worker.started() > timeout;
      bool finished = false;
      if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) != 0) finished = r.worker.pump();
      if (!finished && timed_out) r.worker.kill_now();
      if (finished || timed_out) {
        auto outcome = r.worker.finish(!finished && timed_out, timeout);
        const auto id = r.id;
        running.erase(running.begin() + static_cast<std::ptrdiff_t>(i));
        fds.erase(fds.begin() + static_cast<std::ptrdiff_t>(i));
        hooks.done(id, std::move(outcome));
      } else {
        ++i;
      }
    }
    if (hooks.after_round) hooks.after_round();
  }
}

}  // namespace aether::tools
