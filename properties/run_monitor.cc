#include "properties/run_monitor.h"

#include <algorithm>

#include <fmt/format.h>

#include "engine/duration.h"

namespace aether::properties {

namespace {

std::string dur(Nanos ns) {
  return engine::format_duration(ns);
}

bool engine_write(const sim::BatchRecord& batch) {
  return std::any_of(batch.submitters.begin(), batch.submitters.end(),
                     [](const sim::Submitter& s) { return s.writer.rfind("client:", 0) != 0; });
}

}  // namespace

RunMonitor::RunMonitor(const InvariantSuite& suite, const WorldQueries& world,
                       const ViolationRecorder& recorder, ConvergenceRules rules, Nanos quiet_ns)
    : suite_(suite), world_(world), recorder_(recorder), rules_(rules), quiet_ns_(quiet_ns) {}

void RunMonitor::add(Window w) {
  windows_.push_back(std::move(w));
}

void RunMonitor::expect_converged(std::string path, Nanos start, Nanos within_ns) {
  Window w;
  w.kind = Kind::Converged;
  w.path = std::move(path);
  w.description =
      fmt::format("converged within {} at {} (quiet {})", dur(within_ns), dur(start), dur(quiet_ns_));
  w.start = start;
  w.end = start + within_ns;
  add(std::move(w));
}

void RunMonitor::expect_leader(std::string path, Nanos start, Nanos within_ns, NodeId node) {
  Window w;
  w.kind = Kind::Leader;
  w.path = std::move(path);
  w.description = fmt::format("leader {} within {} at {}", node, dur(within_ns), dur(start));
  w.start = start;
  w.end = start + within_ns;
  w.node = std::move(node);
  add(std::move(w));
}

void RunMonitor::expect_instances(
    std::string path, Nanos start, Nanos within_ns,
    std::map<std::string, std::pair<std::optional<int>, std::optional<int>>> counts) {
  Window w;
  w.kind = Kind::Instances;
  w.path = std::move(path);
  std::string what;
  for (const auto& [artifact, c] : counts) {
    if (!what.empty()) what += ", ";
    what += artifact + ":";
    if (c.first) what += fmt::format(" total {}", *c.first);
    if (c.second) what += fmt::format(" active {}", *c.second);
  }
  w.description = fmt::format("instances {} within {} at {}", what, dur(within_ns), dur(start));
  w.start = start;
  w.end = start + within_ns;
  w.counts = std::move(counts);
  add(std::move(w));
}

void RunMonitor::expect_available(std::string path, Nanos start, Nanos hold_for_ns,
                                  std::map<std::string, int> min_active) {
  Window w;
  w.kind = Kind::Available;
  w.path = std::move(path);
  std::string what;
  for (const auto& [artifact, n] : min_active) {
    if (!what.empty()) what += ", ";
    what += fmt::format("{} >= {}", artifact, n);
  }
  w.description = fmt::format("available {} for {} from {}", what, dur(hold_for_ns), dur(start));
  w.start = start;
  w.end = start + hold_for_ns;
  w.min_active = std::move(min_active);
  add(std::move(w));
}

void RunMonitor::expect_no_violations(std::string path, Nanos at) {
  Window w;
  w.kind = Kind::NoViolations;
  w.path = std::move(path);
  w.description = fmt::format("no violations up to {}", dur(at));
  w.start = at;
  w.end = at;
  add(std::move(w));
}

void RunMonitor::expect_violates(std::string path, Nanos at, std::string invariant) {
  Window w;
  w.kind = Kind::Violates;
  w.path = std::move(path);
  w.description = fmt::format("violates {} by the end of the run", invariant);
  w.start = at;
  w.end = at;
  w.invariant = std::move(invariant);
  add(std::move(w));
}

void RunMonitor::convergence_owed(Nanos t0, Nanos bound_ns) {
  outcome_.checked = true;
  outcome_.owed = true;
  outcome_.t0 = t0;
  outcome_.bound_ns = bound_ns;
  outcome_.quiet_ns = quiet_ns_;
  Window w;
  w.kind = Kind::Converged;
  w.implicit = true;
  w.path = "convergence";
  w.description =
      fmt::format("converged within {} of T0 = {} (quiet {})", dur(bound_ns), dur(t0), dur(quiet_ns_));
  w.start = t0;
  w.end = t0 + bound_ns;
  implicit_ = std::move(w);
}

void RunMonitor::convergence_not_owed(Nanos t0, std::string reason) {
  outcome_.checked = true;
  outcome_.owed = false;
  outcome_.t0 = t0;
  outcome_.not_owed_reason = std::move(reason);
}

void RunMonitor::convergence_not_checked() {
  outcome_.checked = false;
}

void RunMonitor::on_decide(Nanos now, std::uint64_t, const sim::BatchRecord& batch) {
  touch();
  if (!engine_write(batch)) return;
  ++engine_writes_;
  last_engine_write_ = now;
  // An engine write at `now` breaks the quiet window of every candidate that
  // began at most `quiet` earlier (candidates begin at the end of an earlier
  // instant, so never at `now` itself).
  auto breaks = [&](Window& w) {
    if (w.kind == Kind::Converged && !w.decided && w.candidate && now <= *w.candidate + quiet_ns_) {
      w.candidate.reset();
      w.detail = fmt::format("an engine write committed at {}", dur(now));
    }
  };
  for (auto& w : windows_) breaks(w);
  if (implicit_) breaks(*implicit_);
}

const ConvergenceState& RunMonitor::convergence_now() {
  if (convergence_generation_ != generation_) {
    convergence_cache_ = evaluate_convergence(suite_.canonical().entries(), world_, rules_);
    convergence_generation_ = generation_;
  }
  return convergence_cache_;
}

void RunMonitor::settle(Nanos now) {
  for (auto& w : windows_) settle_window(w, now);
  if (implicit_) settle_window(*implicit_, now);
}

void RunMonitor::settle_window(Window& w, Nanos now) {
  if (w.decided || now < w.start) return;
  if (w.kind == Kind::Converged && w.candidate && now > *w.candidate + quiet_ns_) {
    w.held = true;
    w.decided = true;
    return;
  }
  if (w.kind == Kind::NoViolations) {
    const auto count = recorder_.count_until(w.start);
    w.held = count == 0;
    w.detail = w.held ? "" : fmt::format("{} violation(s) by {}", count, dur(w.start));
    w.decided = true;
    return;
  }
  if (w.kind == Kind::Violates) return;  // judged at the end of the run
  if (now > w.end) return;               // closed; finish() gives the verdict
  if (w.evaluated_generation == generation_) return;
  w.evaluated_generation = generation_;
  switch (w.kind) {
    case Kind::Converged: {
      if (w.candidate) return;  // only a write can undo a candidate
      const auto& state = convergence_now();
      w.last = state;
      if (state.converged) {
        w.candidate = now;
        w.ever_converged = true;
      }
      return;
    }
    case Kind::Leader: {
      const auto why = leader_mismatch(world_, liveness(world_), w.node, rules_.history);
      if (why.empty()) {
        w.held = true;
        w.decided = true;
      } else {
        w.detail = fmt::format("at {}: {}", dur(now), why);
      }
      return;
    }
    case Kind::Instances: {
      const auto live = liveness(world_);
      std::string wrong;
      for (const auto& [artifact, want] : w.counts) {
        const auto got = tally_instances(suite_.canonical().entries(), world_, live, artifact);
        if ((want.first && *want.first != got.total) || (want.second && *want.second != got.active)) {
          wrong = fmt::format("at {}: {} has total {} active {}", dur(now), artifact, got.total, got.active);
          break;
        }
      }
      if (wrong.empty()) {
        w.held = true;
        w.decided = true;
      } else {
        w.detail = wrong;
      }
      return;
    }
    case Kind::Available: {
      const auto live = liveness(world_);
      for (const auto& [artifact, min] : w.min_active) {
        const auto got = tally_instances(suite_.canonical().entries(), world_, live, artifact);
        if (got.active < min) {
          w.failed = true;
          w.decided = true;
          w.detail = fmt::format("at {}: {} has {} counted instance(s), fewer than {}", dur(now), artifact,
                                 got.active, min);
          return;
        }
      }
      return;
    }
    case Kind::NoViolations:
    case Kind::Violates:
      return;
  }
}

void RunMonitor::close_window(Window& w, Nanos end) {
  if (w.kind == Kind::Violates) {
    w.held = recorder_.fired(w.invariant);
    w.detail = w.held ? "" : fmt::format("{} never fired", w.invariant);
    w.decided = true;
    return;
  }
  if (w.decided) return;
  w.decided = true;
  switch (w.kind) {
    case Kind::Converged: {
      if (w.candidate && *w.candidate + quiet_ns_ <= end) {
        w.held = true;
        return;
      }
      if (w.candidate) {
        w.detail =
            fmt::format("converged at {} but the run ended before its quiet window", dur(*w.candidate));
        return;
      }
      Blocker blocker = w.last.blocker;
      std::string detail = w.last.detail;
      // A write loop: the last state judged in the window was converged but
      // never stayed quiet, or the window saw converged states and engine
      // writes were still committing around its end; a state that settled
      // unconverged names its own blocker.
      const bool still_writing = last_engine_write_ && *last_engine_write_ > w.end - quiet_ns_;
      if (w.last.converged || (w.ever_converged && still_writing && blocker > Blocker::WriteLoop)) {
        blocker = Blocker::WriteLoop;
        detail = w.detail.empty() ? "engine writes kept committing"
                                  : w.detail + " (engine writes kept committing)";
      }
      if (blocker == Blocker::None) {
        blocker = Blocker::WriteLoop;
        detail = "never evaluated";
      }
      w.detail = fmt::format("{}: {}", blocker_name(blocker), detail);
      if (w.implicit) {
        outcome_.blocker = blocker_name(blocker);
        outcome_.detail = detail;
      }
      return;
    }
    case Kind::Available:
      w.held = !w.failed && end >= w.end;
      if (!w.held && w.detail.empty()) w.detail = "the run ended before the window closed";
      return;
    case Kind::Leader:
    case Kind::Instances:
      w.held = false;
      if (w.detail.empty()) w.detail = "never evaluated";
      return;
    case Kind::NoViolations: {
      const auto count = recorder_.count_until(w.start);
      w.held = count == 0;
      return;
    }
    case Kind::Violates:
      return;
  }
}

void RunMonitor::finish(Nanos end) {
  settle(end);
  for (auto& w : windows_) close_window(w, end);
  if (implicit_) {
    close_window(*implicit_, end);
    outcome_.held = implicit_->held;
    if (implicit_->held) {
      outcome_.converged_at = implicit_->candidate;
      outcome_.blocker.clear();
      outcome_.detail.clear();
    }
  }
}

std::vector<ExpectationResult> RunMonitor::results() const {
  std::vector<ExpectationResult> out;
  for (const auto& w : windows_) out.push_back({w.path, w.description, w.held, w.held ? "" : w.detail});
  return out;
}

std::vector<std::string> RunMonitor::pinned_invariants() const {
  std::vector<std::string> out;
  for (const auto& w : windows_) {
    if (w.kind == Kind::Violates) out.push_back(w.invariant);
  }
  return out;
}

}  // namespace aether::properties
