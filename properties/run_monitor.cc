#include "properties/run_monitor.h"

#include <algorithm>
#include <limits>

#include <fmt/format.h>

#include "properties/human_time.h"

#include "engine/duration.h"

namespace aether::properties {

namespace {

std::string dur(Nanos ns) {
  return human_duration(ns);
}

// An instant for people: "26.006s".
std::string at_text(Nanos ns) {
  return fmt::format("{}.{:03}s", ns / engine::kNanosPerSecond,
                     (ns % engine::kNanosPerSecond) / engine::kNanosPerMilli);
}

bool engine_submitter(const sim::Submitter& s) {
  return s.writer == "cdm" || s.writer == "ndm" || s.writer == "leader-manager";
}

// An engine write: a batch with a cdm, ndm or leader-manager submitter (a
// merged batch is one write).
bool engine_write(const sim::BatchRecord& batch) {
  return std::any_of(batch.submitters.begin(), batch.submitters.end(), engine_submitter);
}

// When the engine first submitted the batch.
Nanos engine_submitted_at(const sim::BatchRecord& batch) {
  Nanos first = std::numeric_limits<Nanos>::max();
  for (const auto& s : batch.submitters) {
    if (engine_submitter(s)) first = std::min(first, s.submitted_at);
  }
  return first;
}

std::string batch_text(const sim::BatchRecord& batch) {
  std::string writers;
  for (const auto& s : batch.submitters) {
    if (!writers.empty()) writers += "+";
    writers += s.writer + "@" + s.node;
  }
  std::string keys;
  for (const auto& c : batch.commands) {
    if (!keys.empty()) keys += ",";
    keys += c.key;
    if (keys.size() > 120) {
      keys += ",...";
      break;
    }
  }
  return fmt::format("{} [{}]", writers, keys);
}

}  // namespace

RunMonitor::RunMonitor(const InvariantSuite& suite, const WorldQueries& world, LivenessCache& live,
                       const ViolationRecorder& recorder, ConvergenceRules rules, Nanos quiet_ns)
    : suite_(suite), world_(world), live_(live), recorder_(recorder), rules_(rules), quiet_ns_(quiet_ns) {}

void RunMonitor::add(Window w) {
  windows_.push_back(std::move(w));
}

void RunMonitor::expect_converged(std::string path, Nanos start, Nanos within_ns,
                                  std::optional<Nanos> cutoff) {
  Window w;
  w.kind = Kind::Converged;
  w.path = std::move(path);
  w.description = fmt::format("converged within {} at {} (quiet {}{})", dur(within_ns), dur(start),
                              dur(quiet_ns_), cutoff ? ", up to the step at " + dur(*cutoff) : "");
  w.start = start;
  w.end = start + within_ns;
  w.cutoff = cutoff;
  add(std::move(w));
}

void RunMonitor::expect_at_most(
    std::string path, Nanos start, Nanos hold_for_ns,
    std::map<std::string, std::pair<std::optional<int>, std::optional<int>>> limits) {
  Window w;
  w.kind = Kind::AtMost;
  w.path = std::move(path);
  std::string what;
  for (const auto& [artifact, c] : limits) {
    if (!what.empty()) what += ", ";
    what += artifact + ":";
    if (c.first) what += fmt::format(" total <= {}", *c.first);
    if (c.second) what += fmt::format(" active <= {}", *c.second);
  }
  w.description = fmt::format("at most {} for {} from {}", what, dur(hold_for_ns), dur(start));
  w.start = start;
  w.end = start + hold_for_ns;
  w.limits = std::move(limits);
  add(std::move(w));
}

void RunMonitor::expect_writes(std::string path, Nanos start, Nanos hold_for_ns, int max) {
  Window w;
  w.kind = Kind::Writes;
  w.path = std::move(path);
  w.description = fmt::format("at most {} engine write(s) for {} from {}", max, dur(hold_for_ns), dur(start));
  w.start = start;
  w.end = start + hold_for_ns;
  w.max_writes = max;
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
  outcome_ = ConvergenceOutcome{};  // a later T0 (a late client commit) starts again
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
  implicit_.reset();
  outcome_ = ConvergenceOutcome{};
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
  for (const auto& command : batch.commands) slice_index_.note(command.key);
  if (!engine_write(batch)) return;
  ++engine_writes_;
  last_engine_write_ = now;
  const Nanos submitted = engine_submitted_at(batch);
  // An engine write at `now` breaks the quiet window of every candidate that
  // began at most `quiet` earlier (candidates begin at the end of an earlier
  // instant, so never at `now` itself), unless the engine submitted it at or
  // after the window's cutoff (a later step made it write by design).
  auto breaks = [&](Window& w) {
    if (w.kind != Kind::Converged || w.decided || !w.candidate || now > *w.candidate + quiet_ns_) return;
    if (w.cutoff && submitted >= *w.cutoff) return;
    break_candidate(w, fmt::format("an engine write committed at {}: {}", at_text(now), batch_text(batch)));
  };
  for (auto& w : windows_) {
    breaks(w);
    if (w.kind == Kind::Writes && !w.decided && now >= w.start && now <= w.end) {
      ++w.writes;
      if (w.write_log.size() < 3) w.write_log.push_back(at_text(now) + " " + batch_text(batch));
      if (w.writes > w.max_writes) {
        w.failed = true;
        w.decided = true;
        w.detail = fmt::format("{} engine writes by {}, more than {}: {}", w.writes, at_text(now),
                               w.max_writes, fmt::join(w.write_log, "; "));
      }
    }
  }
  if (implicit_) breaks(*implicit_);
}

void RunMonitor::break_candidate(Window& w, std::string why) {
  w.candidate.reset();
  w.quiet_state_converged = true;
  w.detail = std::move(why);
}

const ConvergenceState& RunMonitor::convergence_now() {
  if (convergence_generation_ != generation_) {
    const CanonicalStore& canonical = suite_.canonical();
    const SliceEntries* slices = nullptr;
    if (caching_) {
      slices = &slice_index_.entries(canonical.entries());
    } else {
      slices = &slices_.emplace(parse_slice_entries(canonical.entries()));
    }
    // The desired state of the suite's history moves only with a decided
    // batch (its positioned store and failure evidence change in on_decide).
    const DesiredState* desired = nullptr;
    const ConvergenceHistory* suite_history = &suite_;
    if (caching_ && rules_.history == suite_history) {
      if (!desired_ || desired_position_ != canonical.position()) {
        desired_ = desired_state(rules_.history->positioned(), &rules_.history->evidence());
        desired_position_ = canonical.position();
      }
      desired = &*desired_;
    }
    convergence_cache_ =
        evaluate_convergence(canonical.entries(), world_, rules_, live_.get(), slices, desired);
    convergence_generation_ = generation_;
  }
  return convergence_cache_;
}

void RunMonitor::settle(Nanos now) {
  for (auto& w : windows_) settle_window(w, now);
  if (implicit_) settle_window(*implicit_, now);
}

// A candidate t waits out [t, t + quiet]: the state is judged at every
// instant end that changed something (the last one judged at or before
// t + quiet is the state at t + quiet); the first settle after t + quiet
// gives the verdict.
void RunMonitor::settle_candidate(Window& w, Nanos now) {
  const Nanos until = *w.candidate + quiet_ns_;
  if (now <= until) {
    const bool cut = w.cutoff && *w.cutoff <= now;  // the state after the cutoff is not judged
    if (!cut && w.evaluated_generation != generation_) {
      w.evaluated_generation = generation_;
      const auto& state = convergence_now();
      w.quiet_state_converged = state.converged;
      w.quiet_state = state;
    }
    return;
  }
  const bool cut = w.cutoff && *w.cutoff <= until;
  if (cut || w.quiet_state_converged) {
    w.held = true;
    w.decided = true;
    w.met_at = w.candidate;
    return;
  }
  w.last = w.quiet_state;
  break_candidate(w, fmt::format("converged at {} but not at the end of its quiet window ({}): {}: {}",
                                 at_text(*w.candidate), at_text(until), blocker_name(w.quiet_state.blocker),
                                 w.quiet_state.detail));
}

void RunMonitor::settle_window(Window& w, Nanos now) {
  if (w.decided || now < w.start) return;
  if (w.kind == Kind::Converged && w.candidate) {
    settle_candidate(w, now);
    if (w.decided || w.candidate) return;
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
        w.quiet_state_converged = true;
        w.quiet_state = state;
      }
      return;
    }
    case Kind::Leader: {
      const auto why = leader_mismatch(world_, live_.get(), w.node, rules_.history);
      if (why.empty()) {
        w.held = true;
        w.decided = true;
        w.met_at = now;
      } else {
        w.detail = fmt::format("at {}: {}", at_text(now), why);
      }
      return;
    }
    case Kind::Instances: {
      const Liveness& live = live_.get();
      std::string wrong;
      for (const auto& [artifact, want] : w.counts) {
        const auto got = tally_instances(suite_.canonical().entries(), world_, live, artifact);
        if ((want.first && *want.first != got.total) || (want.second && *want.second != got.active)) {
          wrong =
              fmt::format("at {}: {} has total {} active {}", at_text(now), artifact, got.total, got.active);
          break;
        }
      }
      if (wrong.empty()) {
        w.held = true;
        w.decided = true;
        w.met_at = now;
      } else {
        w.detail = wrong;
      }
      return;
    }
    case Kind::Available: {
      const Liveness& live = live_.get();
      for (const auto& [artifact, min] : w.min_active) {
        const auto got = tally_instances(suite_.canonical().entries(), world_, live, artifact);
        if (got.active < min) {
          w.failed = true;
          w.decided = true;
          w.detail = fmt::format("at {}: {} has {} counted instance(s), fewer than {}", at_text(now),
                                 artifact, got.active, min);
          return;
        }
      }
      return;
    }
    case Kind::AtMost: {
      const Liveness& live = live_.get();
      for (const auto& [artifact, limit] : w.limits) {
        const auto got = tally_instances(suite_.canonical().entries(), world_, live, artifact);
        if ((limit.first && got.on_up_nodes > *limit.first) || (limit.second && got.active > *limit.second)) {
          w.failed = true;
          w.decided = true;
          w.detail = fmt::format(
              "at {}: {} has {} live entr{} on nodes that are up and {} counted instance(s)", at_text(now),
              artifact, got.on_up_nodes, got.on_up_nodes == 1 ? "y" : "ies", got.active);
          return;
        }
      }
      return;
    }
    case Kind::NoViolations:
    case Kind::Violates:
    case Kind::Writes:
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
        const bool cut = w.cutoff && *w.cutoff <= *w.candidate + quiet_ns_;
        if (cut || w.quiet_state_converged) {
          w.held = true;
          w.met_at = w.candidate;
          return;
        }
        w.last = w.quiet_state;
        w.detail =
            fmt::format("converged at {} but not at the end of its quiet window", at_text(*w.candidate));
        w.candidate.reset();
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
    case Kind::AtMost:
    case Kind::Writes:
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
    if (implicit_->held) {
      // Still converged at the end of the run: a ghost, an unload or a
      // leader change without a write must not slip through.
      const auto& state = convergence_now();
      outcome_.unplaced = state.unplaced;
      if (!state.converged) {
        implicit_->held = false;
        outcome_.blocker = blocker_name(state.blocker);
        outcome_.detail =
            fmt::format("converged at {} and quiet until {}, but not at the end of the run ({}): {}",
                        at_text(*implicit_->candidate), at_text(*implicit_->candidate + quiet_ns_),
                        at_text(end), state.detail);
      }
    }
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
  for (const auto& w : windows_) {
    out.push_back({w.path, w.description, w.held, w.held ? "" : w.detail, std::nullopt});
    if (w.held) out.back().met_at = met_at(w);
  }
  return out;
}

std::optional<Nanos> RunMonitor::met_at(const Window& w) const {
  // Not a switch: a kind added later falls back to the instant its window
  // recorded in `met_at` (set where it is decided held).
  if (w.kind == Kind::Converged) return w.candidate;
  // Judged over a whole window: met when the window closed without a breach.
  if (w.kind == Kind::Available || w.kind == Kind::AtMost || w.kind == Kind::Writes) return w.end;
  if (w.kind == Kind::NoViolations) return w.start;
  if (w.kind == Kind::Violates) {
    for (const auto& v : recorder_.violations()) {
      if (v.invariant == w.invariant) return v.time;
    }
    return std::nullopt;
  }
  return w.met_at;  // Leader, Instances
}

std::vector<std::string> RunMonitor::pinned_invariants() const {
  std::vector<std::string> out;
  for (const auto& w : windows_) {
    if (w.kind == Kind::Violates) out.push_back(w.invariant);
  }
  return out;
}

}  // namespace aether::properties
