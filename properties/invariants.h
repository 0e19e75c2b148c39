// The always-on safety invariants of simulation.md §5, each a small judge fed
// by the world's observer callbacks, and the suite that owns them and feeds
// them in a fixed order (the judges of a decided batch see the canonical store
// as it was before the batch; replica-consistency sees it after). Every
// finding goes to the run's ViolationRecorder. Definitions as implemented:
// docs/checks.md.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "properties/canonical_store.h"
#include "properties/convergence.h"
#include "properties/reference_model.h"
#include "properties/violations.h"
#include "properties/world_queries.h"
#include "sim/world_observer.h"

namespace aether::properties {

namespace invariant {
inline constexpr const char* kReplicaConsistency = "replica-consistency";
inline constexpr const char* kLifecycle = "lifecycle";
inline constexpr const char* kSingleLeaderPerTerm = "single-leader-per-term";
inline constexpr const char* kCommandWriter = "command-writer";
inline constexpr const char* kSliceStore = "slice-store";
inline constexpr const char* kEngineAssert = "engine-assert";
inline constexpr const char* kEventBudget = "event-budget";
inline constexpr const char* kStaleLeader = "stale-leader";
inline constexpr const char* kKeyWriter = "key-writer";
inline constexpr const char* kDependencyOrder = "dependency-order";
inline constexpr const char* kDrainOrder = "drain-order";
inline constexpr const char* kDrain = "drain";
inline constexpr const char* kCapacity = "capacity";
inline constexpr const char* kAntiAffinity = "anti-affinity";
inline constexpr const char* kRollback = "rollback";
inline constexpr const char* kRolling = "rolling";
inline constexpr const char* kScaleFloor = "scale-floor";
inline constexpr const char* kAvailabilityFloor = "availability-floor";
}  // namespace invariant

namespace reported {
inline constexpr const char* kLostUpdate = "lost-update";
inline constexpr const char* kLateCommit = "late-commit";
}  // namespace reported

struct InvariantDoc {
  std::string id;
  std::string explanation;
};

// Every invariant id with its one-line explanation, in a fixed order.
std::vector<InvariantDoc> invariant_docs();
bool is_invariant_id(const std::string& id);

// Which CDMs are Active right now, with the tag and time of their activation.
class CdmTracker {
 public:
  struct Activation {
    std::optional<std::uint64_t> tag;
    Nanos since = 0;
  };
  void activated(Nanos now, const NodeId& node, std::optional<std::uint64_t> tag) {
    active_[node] = {tag, now};
  }
  void stopped(const NodeId& node) { active_.erase(node); }
  const std::map<NodeId, Activation>& active() const { return active_; }
  const Activation* find(const NodeId& node) const;

 private:
  std::map<NodeId, Activation> active_;
};

// The engine configuration the checks need to know (the runner fills it from
// the scenario's `config`).
struct CheckRules {
  bool consensus = true;  // leader_election consensus: the `leader` entries decide beliefs
  int transient_retry_max = 5;
  // Stuck cleanup (not a scale-down): an entry in a state with a timeout for
  // at least stuck_multiplier x that timeout.
  int stuck_multiplier = 3;
  Nanos loading_ns = 120'000'000'000;
  Nanos activating_ns = 60'000'000'000;
  Nanos deactivating_ns = 30'000'000'000;
  Nanos unloading_ns = 120'000'000'000;
  // clock_drift: engine timers may run up to this much faster than world
  // time, so stuck cleanup is recognized after x (1 - clock_drift) of it.
  std::uint32_t clock_drift_ppm = 0;
};

class InvariantSuite : public sim::WorldObserver, public ConvergenceHistory {
 public:
  InvariantSuite(ViolationRecorder& recorder, const WorldQueries& world, std::uint64_t seed);

  void set_rules(const CheckRules& rules);

  // The end of an instant (the runner calls it whenever the next event lies
  // later): CDMs activated or resumed during the instant are compared with
  // the other Active CDMs as the instant's deliveries left them.
  void settle(Nanos now);
  // Off: every question is answered from the canonical store afresh (the
  // caches' test compares the two; RunOptions::cache_checks).
  void set_caching(bool on) {
    caching_ = on;
    leader_memo_.reset();
  }

  const CanonicalStore& canonical() const { return canonical_; }
  const CdmTracker& cdms() const { return cdms_; }

  // ConvergenceHistory
  const ref::PositionedStore& positioned() const override { return canonical_.positioned(); }
  const ref::FailureEvidence& evidence() const override { return evidence_; }
  std::optional<Nanos> in_view_since(const NodeId& observer, const NodeId& member) const override;
  std::optional<std::optional<NodeId>> applied_leader(const NodeId& node) const override;
  Nanos now() const override { return now_; }

  void on_submit(Nanos now, const sim::BatchRecord& batch, const sim::Submitter& submitter) override;
  void on_batch_dropped(Nanos now, const sim::BatchRecord& batch) override;
  void on_reset(Nanos now, const NodeId& node) override;
  void on_view(Nanos now, const NodeId& node, const engine::TopologyEvent& event) override;
  void on_slice_op_done(Nanos now, const NodeId& node, const std::string& artifact, sim::SliceOp op,
                        const engine::SliceResult& result) override;
  void on_decide(Nanos now, std::uint64_t position, const sim::BatchRecord& batch) override;
  void on_apply(Nanos now, const NodeId& node, std::uint64_t position, std::uint64_t digest) override;
  void on_restore(Nanos now, const NodeId& node, std::uint64_t position, std::uint64_t digest) override;
  void on_node_fault(Nanos now, const NodeId& node, sim::NodeFault fault) override;
  void on_cdm_activated(Nanos now, const NodeId& node, std::optional<std::uint64_t> tag) override;
  void on_cdm_deactivated(Nanos now, const NodeId& node) override;
  void on_slice_op_start(Nanos now, const NodeId& node, const std::string& artifact, sim::SliceOp op,
                         engine::SliceHolding held_before) override;
  void on_engine_assert(Nanos now, const NodeId& node, const std::string& message) override;

 private:
  void judge_replica(Nanos now, const NodeId& node, std::uint64_t position, std::uint64_t digest,
                     const char* how);
  void judge_lifecycle(Nanos now, std::uint64_t position, const sim::BatchRecord& batch);
  void judge_command_writer(Nanos now, std::uint64_t position, const sim::BatchRecord& batch);
  void judge_leaders(Nanos now, const NodeId& node, const std::set<NodeId>& judged);
  void judge_stale_leaders(Nanos now);
  void judge_key_writer(Nanos now, std::uint64_t position, const sim::BatchRecord& batch);
  void judge_dependency_order(Nanos now, std::uint64_t position, const sim::BatchRecord& batch);
  // `drain` and `drain-order` (engine-semantics.md §8.2, simulation.md §5).
  void judge_drain(Nanos now, std::uint64_t position, const sim::BatchRecord& batch);
  // `capacity` and `anti-affinity` on each cdm LOAD (engine-semantics.md §8.1).
  void judge_placement(Nanos now, std::uint64_t position, const sim::BatchRecord& batch);
  void judge_rollback(Nanos now, std::uint64_t position, const sim::BatchRecord& batch);
  void judge_rolling(Nanos now, std::uint64_t position, const sim::BatchRecord& batch);
  void judge_scale_down(Nanos now, std::uint64_t position, const sim::BatchRecord& batch);
  void forget_node(const NodeId& node);

  // What a submitter had at submit, beyond Submitter::applied.
  struct SubmitInfo {
    std::uint64_t applied_position = 0;  // its store's decided position
    std::vector<NodeId> view;            // its view
  };
  // A reference (issue 14, eighth pass: each judge asked for a copy, a
  // whole view, per submitter of every decided batch), valid until the next
  // call and while submits_ is unchanged.
  const SubmitInfo& submit_info(const sim::BatchRecord& batch, std::size_t index) const;
  mutable SubmitInfo fallback_info_;  // submit_info's answer for a batch not seen at submit
  // The keys under `prefixes` as submitter `s` had applied them at submit.
  ref::PositionedStore writer_state(const sim::Submitter& s, const SubmitInfo& info,
                                    const std::vector<std::string>& prefixes) const;
  // The leader named by the `leader` entry at a decided position.
  std::optional<NodeId> leader_at(std::uint64_t position) const;
  // leader_at's last answer: (position, leader there).
  mutable std::optional<std::pair<std::uint64_t, std::optional<NodeId>>> leader_memo_;
  bool caching_ = true;
  // ref::desired_from over the blueprints and slice-targets at a decided position (memoized).
  std::shared_ptr<const ref::Desired> desired_at(std::uint64_t position) const;
  mutable std::map<std::uint64_t, std::shared_ptr<const ref::Desired>> desired_cache_;
  std::vector<std::uint64_t> desired_changes_;  // positions that wrote blueprints/ or slice-target/

  ViolationRecorder& recorder_;
  const WorldQueries& world_;
  std::uint64_t seed_;
  std::set<NodeId> leaders_to_judge_;
  CanonicalStore canonical_;
  CdmTracker cdms_;
  CheckRules rules_;
  Nanos now_ = 0;
  ref::FailureEvidence evidence_;
  std::map<NodeId, std::uint64_t> applied_position_;  // from on_apply / on_restore
  // A node's applied position: the world's answer for an up, restored node
  // (it applies unsubscribed positions without an apply event), else the
  // latest on_apply / on_restore.
  std::uint64_t applied_of(const NodeId& node) const;
  std::set<NodeId> reset_;                                            // reset since their last restore
  std::map<NodeId, std::map<NodeId, Nanos>> in_view_;                 // observer -> member -> since
  std::map<std::uint64_t, std::vector<SubmitInfo>> submits_;          // pending batch -> per submitter
  std::map<std::pair<NodeId, std::string>, sim::SliceOp> slice_ops_;  // running store operations
  std::set<std::pair<NodeId, Nanos>> stale_reported_;  // (node, activation time) already reported
  // Scale-down judging: when each position was decided, when each key last
  // committed, and the cdm batches submitted and not yet decided or dropped.
  std::vector<Nanos> decided_at_{0};
  std::map<std::string, Nanos> last_commit_at_;
  // The cdm batches submitted and not yet decided or dropped (batch id ->
  // its cdm submitters): their UNLOADs free a node's resources in the
  // writer's state (placement); an Active writer's earlier batches are part
  // of its state for the floors.
  struct PendingCdm {
    NodeId node;
    std::optional<std::uint64_t> tag;
    Nanos submitted_at = 0;
    engine::KvBatch commands;
    bool active = false;  // submitted while its CDM was Active
  };
  std::map<std::uint64_t, std::vector<PendingCdm>> pending_cdm_;
  // drain-order's pending evictions: per slice key, from which decided
  // position a committed UNLOAD it classified as an eviction stands (true)
  // and from which the key left UNLOAD/UNLOADING (false). Any other
  // UNLOAD/UNLOADING (a scale-down decided before the drain, stuck cleanup)
  // is no eviction, pending or not.
  std::map<std::string, std::vector<std::pair<std::uint64_t, bool>>> evictions_;
  std::set<std::string> batch_evictions_;  // classified in the batch being decided
  bool eviction_pending_at(const std::string& key, std::uint64_t position) const;
  void record_evictions(std::uint64_t position, const sim::BatchRecord& batch);
};

}  // namespace aether::properties
