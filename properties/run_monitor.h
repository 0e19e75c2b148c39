// Judges what holds over time windows: the implicit convergence check and the
// `expect` steps (converged, leader, instances, available, no_violations,
// violates). It watches the world for anything that can change a verdict,
// and re-evaluates only at the end of an instant in which something changed
// (the runner calls settle() whenever the next event lies later), so a state
// is judged as it stands after all events of its instant.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "properties/convergence.h"
#include "properties/invariants.h"
#include "properties/liveness_cache.h"
#include "sim/world_observer.h"

namespace aether::properties {

struct ExpectationResult {
  std::string path;
  std::string description;
  bool held = false;
  std::string detail;
  // The instant the expectation was met (held only): converged: the instant
  // the converged state began; leader/instances: the first instant it held;
  // available, at_most, writes: their window's end; no_violations: its instant; violates: the
  // first violation of the invariant.
  std::optional<Nanos> met_at;
};

struct ConvergenceOutcome {
  bool checked = false;  // the scenario asks for it (check_convergence)
  bool owed = false;
  std::string not_owed_reason;
  bool held = false;
  std::optional<Nanos> converged_at;
  std::string blocker;  // blocker_name(), empty when held
  std::string detail;
  std::optional<Nanos> t0;
  Nanos bound_ns = 0;
  Nanos quiet_ns = 0;
  // Client writes submitted by steps that had not committed when T0 was
  // taken (left out of T0, simulation.md §5).
  int pending_client_writes = 0;
  // When held: owed instances no eligible node could take, with the
  // constraint that blocked them (engine-semantics.md §8.1).
  std::vector<std::string> unplaced{};
};

class RunMonitor : public sim::WorldObserver {
 public:
  RunMonitor(const InvariantSuite& suite, const WorldQueries& world, LivenessCache& live,
             const ViolationRecorder& recorder, ConvergenceRules rules, Nanos quiet_ns);

  // Expectations, registered when their step runs (at `start`).
  // `cutoff`: the instant of the next step that is not `expect` (none after
  // the last such step). Engine writes submitted at or after it do not break
  // the quiet window, and the state at t + quiet is not judged when the
  // cutoff comes first (simulation.md §5).
  void expect_converged(std::string path, Nanos start, Nanos within_ns, std::optional<Nanos> cutoff = {});
  void expect_leader(std::string path, Nanos start, Nanos within_ns, NodeId node);
  void expect_instances(std::string path, Nanos start, Nanos within_ns,
                        std::map<std::string, std::pair<std::optional<int>, std::optional<int>>> counts);
  void expect_available(std::string path, Nanos start, Nanos hold_for_ns,
                        std::map<std::string, int> min_active);
  void expect_no_violations(std::string path, Nanos at);
  void expect_violates(std::string path, Nanos at, std::string invariant);
  // Live entries (first) and counted instances (second) never above the
  // bounds during [start, start + hold_for].
  void expect_at_most(std::string path, Nanos start, Nanos hold_for_ns,
                      std::map<std::string, std::pair<std::optional<int>, std::optional<int>>> limits);
  // At most `max` engine batches commit during [start, start + hold_for].
  void expect_writes(std::string path, Nanos start, Nanos hold_for_ns, int max);

  // The implicit convergence check: owed from `t0` within `bound_ns`, or not
  // owed (with the reason), or not asked for.
  void convergence_owed(Nanos t0, Nanos bound_ns);
  void convergence_not_owed(Nanos t0, std::string reason);
  void convergence_not_checked();

  // The end of an instant: re-evaluate what changed.
  void settle(Nanos now);
  // Keep the parse of the canonical store's slices/ entries, updated per
  // decided batch, and the desired state until the next decided batch (on
  // by default; off: both computed per evaluation).
  void set_caching(bool on) { caching_ = on; }
  // The end of the run (after the last settle): close every window.
  void finish(Nanos end);

  std::vector<ExpectationResult> results() const;
  ConvergenceOutcome convergence() const { return outcome_; }
  // Pinned invariants (`violates`): their violations do not fail the run.
  std::vector<std::string> pinned_invariants() const;

  // Anything that can change a verdict.
  void on_decide(Nanos now, std::uint64_t, const sim::BatchRecord& batch) override;
  void on_restore(Nanos, const NodeId&, std::uint64_t, std::uint64_t) override { touch(); }
  void on_reset(Nanos, const NodeId&) override { touch(); }
  void on_view(Nanos, const NodeId&, const engine::TopologyEvent&) override { touch(); }
  void on_quorum(Nanos, const NodeId&, const engine::QuorumEvent&) override { touch(); }
  void on_node_fault(Nanos, const NodeId&, sim::NodeFault) override { touch(); }
  void on_leader_change(Nanos, const NodeId&, const std::optional<NodeId>&) override { touch(); }
  void on_cdm_activated(Nanos, const NodeId&, std::optional<std::uint64_t>) override { touch(); }
  void on_cdm_deactivated(Nanos, const NodeId&) override { touch(); }
  void on_slice_op_start(Nanos, const NodeId&, const std::string&, sim::SliceOp,
                         engine::SliceHolding) override {
    touch();
  }
  void on_slice_op_done(Nanos, const NodeId&, const std::string&, sim::SliceOp,
                        const engine::SliceResult&) override {
    touch();
  }
  void on_engine_assert(Nanos, const NodeId&, const std::string&) override { touch(); }

 private:
  enum class Kind : std::uint8_t {
    Converged,
    Leader,
    Instances,
    Available,
    NoViolations,
    Violates,
    AtMost,
    Writes
  };
  struct Window {
    Kind kind = Kind::Converged;
    std::string path;
    std::string description;
    Nanos start = 0;
    Nanos end = 0;  // last instant at which the condition may be met (Available: held until)
    bool implicit = false;
    bool held = false;
    bool failed = false;
    bool decided = false;
    std::uint64_t evaluated_generation = ~std::uint64_t{0};
    std::string detail;
    // Leader, Instances (and any kind without its own rule in met_at()):
    // the instant it was decided held.
    std::optional<Nanos> met_at;
    // Converged
    std::optional<Nanos> candidate;
    std::optional<Nanos> cutoff;
    // The latest state judged at an instant end in [candidate, candidate +
    // quiet]: at the first settle after candidate + quiet it is the state at
    // candidate + quiet.
    bool quiet_state_converged = true;
    ConvergenceState quiet_state;
    bool ever_converged = false;
    ConvergenceState last;
    // AtMost (live entries, counted instances); Writes
    std::map<std::string, std::pair<std::optional<int>, std::optional<int>>> limits;
    int max_writes = 0;
    int writes = 0;
    std::vector<std::string> write_log;  // the first batches over the limit
    // Leader
    NodeId node;
    // Instances
    std::map<std::string, std::pair<std::optional<int>, std::optional<int>>> counts;
    // Available
    std::map<std::string, int> min_active;
    // Violates
    std::string invariant;
  };
  std::optional<Nanos> met_at(const Window& w) const;

  void touch() { ++generation_; }
  const ConvergenceState& convergence_now();
  void settle_window(Window& w, Nanos now);
  void close_window(Window& w, Nanos end);
  void settle_candidate(Window& w, Nanos now);
  void break_candidate(Window& w, std::string why);
  void add(Window w);

  const InvariantSuite& suite_;
  const WorldQueries& world_;
  LivenessCache& live_;
  const ViolationRecorder& recorder_;
  ConvergenceRules rules_;
  Nanos quiet_ns_;
  std::uint64_t generation_ = 0;
  std::uint64_t convergence_generation_ = ~std::uint64_t{0};
  ConvergenceState convergence_cache_;
  bool caching_ = true;
  SliceIndex slice_index_;               // cached: in step with the decided batches
  std::optional<SliceEntries> slices_;   // not cached: parsed per evaluation
  std::optional<DesiredState> desired_;  // cached: at desired_position_
  std::uint64_t desired_position_ = 0;
  std::vector<Window> windows_;  // in registration order; the implicit one is kept apart
  std::optional<Window> implicit_;
  ConvergenceOutcome outcome_;
  std::uint64_t engine_writes_ = 0;
  std::optional<Nanos> last_engine_write_;
};

}  // namespace aether::properties
