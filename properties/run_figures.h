// The figures of one run (docs/cli.md, "Figures"): when convergence was
// reached, each failover's recovery time, the worst moment (lowest counted
// ACTIVE fraction), instances moved, engine writes. Computed ONCE here, from
// the world observer callbacks and the runner's settle points of the run
// itself (never by re-running); the CLI and the reports only format them.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "properties/invariants.h"
#include "properties/liveness_cache.h"
#include "properties/world_queries.h"
#include "sim/world_observer.h"

namespace aether::properties {

struct FailoverFigure {
  Nanos fault_at = 0;
  std::string fault;  // "crash node-2", "partition", ...
  // Fewer instances were counted ACTIVE than could be placed (each base's
  // desired count capped at the live nodes) at or after the fault.
  bool lost = false;
  // The first instant after that dip at which every instance that could be
  // placed was counted ACTIVE again; nullopt: not by the run's end.
  std::optional<Nanos> recovered_at;
  std::optional<Nanos> recovery() const {
    if (!lost) return Nanos{0};
    if (!recovered_at) return std::nullopt;
    return *recovered_at - fault_at;
  }
};

// One point of a base's step chart: from `at` on, `desired` instances
// desired and `active` counted ACTIVE (capped at desired).
struct BasePoint {
  Nanos at = 0;
  std::int64_t desired = 0;
  std::int64_t active = 0;
};

struct RunFigures {
  Nanos run_end = 0;
  // Per base: desired vs counted ACTIVE over time, a point at each instant
  // either changed (the report's step charts and lost capacity).
  std::map<std::string, std::vector<BasePoint>> bases;
  // Lost capacity of one base over [from, to): desired minus counted ACTIVE,
  // integrated over time, in instance-nanoseconds.
  std::int64_t lost_capacity_ns(const std::string& base, Nanos from, Nanos to) const;
  // Convergence: the instant the implicit check's state was converged (and
  // then stayed quiet), or why there is none (not owed: reason; not checked;
  // not converged: blocker).
  std::optional<Nanos> converged_at;
  std::string convergence_note;
  // First instant at which every instance that could be placed (desired
  // counts capped at the live nodes) was counted ACTIVE, at least one; the
  // worst moment is measured from then on, against the uncapped counts.
  std::optional<Nanos> full_at;
  std::int64_t worst_active = 0;   // counted ACTIVE (capped per base at its desired count)
  std::int64_t worst_desired = 0;  // desired instances at that instant
  Nanos worst_at = 0;
  std::vector<FailoverFigure> failovers;
  std::int64_t activations_after_full = 0;  // successful activate ops after full_at
  std::int64_t desired_growth = 0;          // instances added to desired counts after full_at
  std::int64_t moved() const { return std::max<std::int64_t>(0, activations_after_full - desired_growth); }
  std::uint64_t engine_writes = 0;  // decided batches with a non-client submitter
  // Worst fraction in per mille (1000 = every desired instance ACTIVE);
  // nullopt when full_at never came.
  std::optional<std::int64_t> worst_permille() const {
    if (!full_at || worst_desired == 0) return std::nullopt;
    return worst_active * 1000 / worst_desired;
  }
  // The longest recovery; nullopt when no failover or one never recovered.
  std::optional<Nanos> longest_recovery() const;
  bool unrecovered() const;
};

// Observes a run; the runner calls fault() for each disruptive fault step,
// settle() at the end of every instant, finish() at the end.
class FiguresObserver : public sim::WorldObserver {
 public:
  FiguresObserver(const InvariantSuite& suite, const WorldQueries& world, LivenessCache& live)
      : suite_(suite), world_(world), live_cache_(live) {}

  void fault(Nanos now, std::string label);
  void settle(Nanos now);
  void finish(Nanos end, std::optional<Nanos> converged_at, std::string convergence_note);
  const RunFigures& figures() const { return figures_; }
  // Count ACTIVE instances per changed key and node (on by default; off:
  // every key at every settle, for the test that compares the two).
  void set_incremental(bool on) { incremental_ = on; }

  void on_decide(Nanos, std::uint64_t, const sim::BatchRecord& batch) override;
  void on_view(Nanos, const NodeId&, const engine::TopologyEvent&) override { live_dirty_ = true; }
  void on_node_fault(Nanos, const NodeId& node, sim::NodeFault) override;
  void on_slice_op_done(Nanos, const NodeId&, const std::string&, sim::SliceOp op,
                        const engine::SliceResult& result) override;

 private:
  void touch() { ++generation_; }
  // One desired base as settle() walks it: its desired count and its
  // report series (a node of figures_.bases: stable while the map lives).
  struct BaseSlot {
    const std::string* base = nullptr;
    std::int64_t desired = 0;
    std::vector<BasePoint>* points = nullptr;
  };
  void rebuild_slots();
  static void put_point(std::vector<BasePoint>& points, Nanos now, std::int64_t desired, std::int64_t active);

  const InvariantSuite& suite_;
  const WorldQueries& world_;
  LivenessCache& live_cache_;
  RunFigures figures_;
  std::uint64_t generation_ = 0;
  std::uint64_t settled_generation_ = ~std::uint64_t{0};
  // What settle() recomputes only when it may have changed: the desired
  // counts (a decided write to blueprints/ or slice-target/). A view or node
  // fault may change liveness (the cache's to recompute): settle again. The
  // ACTIVE slice keys follow each decided command.
  bool desired_dirty_ = true;
  bool live_dirty_ = true;
  std::map<std::string, std::int64_t> desired_now_;  // base -> desired instances
  // desired_now_ in order, rebuilt with it (issue 14, seventh pass: settle()
  // runs after almost every event; it tallies by slot, without a map or a
  // string compare). desired_epoch_ counts the rebuilds of desired_now_.
  std::vector<BaseSlot> slots_;
  std::vector<std::vector<BasePoint>*> stale_points_;  // series of bases desired once, not now
  std::vector<std::int64_t> counted_;                  // per slot, scratch for settle()
  std::uint64_t desired_epoch_ = 0;
  static constexpr std::size_t kNoSlot = ~std::size_t{0};
  struct ActiveKey {
    NodeId node;
    std::string artifact;
    std::string base;
    // Cached: the slot of `base` at desired_epoch_ (kNoSlot: not desired)
    // and whether `node` is live at the liveness cache's live_epoch.
    std::size_t slot = kNoSlot;
    std::uint64_t slot_epoch = ~std::uint64_t{0};
    bool live = false;
    std::uint64_t live_epoch = ~std::uint64_t{0};
    std::size_t counted_slot = kNoSlot;  // the slot it is counted in, if counted
  };
  void uncount(ActiveKey& key);
  void count(ActiveKey& key, const Liveness& live, std::uint64_t live_epoch,
             const WorldQueries::Holdings* held);
  bool incremental_ = true;
  std::uint64_t tallied_desired_epoch_ = ~std::uint64_t{0};  // the epochs counted_ was tallied at
  std::uint64_t tallied_live_epoch_ = ~std::uint64_t{0};
  std::set<NodeId> dirty_nodes_;                          // slice store or fault since the last settle
  std::set<std::string> dirty_keys_;                      // slices/ keys decided ACTIVE since the last settle
  std::map<std::string, ActiveKey> active_keys_;          // slices/ key -> its instance, ACTIVE keys only
  std::int64_t pending_activations_ = 0;                  // activations seen since the last settle
  std::map<std::string, std::int64_t> desired_;           // base -> desired instances at the last settle
  std::uint64_t desired_seen_epoch_ = ~std::uint64_t{0};  // desired_epoch_ that desired_ copies
};

}  // namespace aether::properties
