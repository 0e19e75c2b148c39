// The NodeDeploymentManager runs on every node and carries out the commands
// the leader writes under `slices/{self}/*` against the node's slice store
// (engine-semantics.md §5). It follows quorum, not leadership: it acts
// whenever its store is restored and its quorum holds. Per key at most one
// chain of steps runs; per artifact one store operation at a time; its own
// writes go out one after another, each retried on timeout.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "engine/config.h"
#include "engine/kv_schema.h"
#include "engine/node_runtime.h"
#include "engine/timers.h"

namespace aether::engine {

class NodeDeploymentManager final : public KvListener, public TopologyListener {
 public:
  NodeDeploymentManager(const NodeServices& services, const EngineConfig& config);

  bool active() const { return active_; }

  void on_kv(const KvNotification& notification) override;
  KvInterest interest() const override;
  void on_restored(std::uint64_t position) override;
  void on_topology(const TopologyEvent&) override {}
  void on_quorum(const QuorumEvent& event) override;

 private:
  struct Chain {
    std::uint64_t id = 0;
    SliceState command = SliceState::Load;
  };
  struct Write {
    std::string artifact;  // empty: not a slice write
    std::uint64_t chain_id = 0;
    KvCommand command;
    std::function<void()> on_commit;
  };

  void go_active();
  void go_dormant();
  void reconcile_with_store();
  void reconcile_key(const std::string& artifact, SliceState state);
  bool drained() const;  // own node-lifecycle is DRAINING or DECOMMISSIONED
  void write_on_duty();

  // Chains.
  void start_chain(const std::string& artifact, SliceState command);
  void cancel_chain(const std::string& artifact);
  bool chain_current(const std::string& artifact, std::uint64_t chain_id) const;
  void run_load(const std::string& artifact, std::uint64_t chain_id);
  void run_activate(const std::string& artifact, std::uint64_t chain_id);
  void run_deactivate(const std::string& artifact, std::uint64_t chain_id);
  void run_unload(const std::string& artifact, std::uint64_t chain_id);
  void finish_chain(const std::string& artifact, std::uint64_t chain_id);
  // Writes `value` unless the key already holds that state, then `next`.
  void write_state(const std::string& artifact, std::uint64_t chain_id, SliceValue value,
                   std::function<void()> next);
  void write_remove(const std::string& artifact, std::uint64_t chain_id);
  void unload_unowned(const std::string& artifact);

  // Slice store: one operation at a time per artifact.
  void with_store(const std::string& artifact, std::function<void()> step);
  using StoreOp = void (SliceLoader::*)(const std::string&, SliceCallback);
  void store_op(const std::string& artifact, StoreOp op, std::function<void(SliceResult)> done);
  void store_idle(const std::string& artifact);

  // Sequential writes, one lane per key (artifact): a write that never
  // resolves stalls only its own key's chain.
  void enqueue(Write write);
  void pump(const std::string& lane);
  void submit_current(const std::string& lane);
  void on_write_done(const std::string& lane, std::uint64_t attempt_id, SubmitOutcome outcome);
  // After giving up on a write of `artifact`'s key: reconcile the key again.
  void rescan_later(const std::string& artifact);

  std::optional<SliceState> applied_state(const std::string& artifact) const;

  NodeServices services_;
  const EngineConfig& config_;
  TimerSet timers_;
  LifeToken life_;

  bool quorum_ = false;
  bool restored_ = false;  // a restore completed since the last handled loss
  std::uint64_t last_quorum_sequence_ = 0;
  bool active_ = false;
  bool reconciled_once_ = false;  // for mutation ndm-skips-store-reconcile-on-regain
  std::uint64_t epoch_ = 0;       // bumps on every Dormant transition

  std::map<std::string, SliceValue> applied_;  // own keys: artifact -> applied value
  std::map<std::string, Chain> chains_;
  std::uint64_t next_chain_id_ = 1;
  std::map<std::string, std::deque<std::function<void()>>> store_waiters_;
  std::map<std::string, bool> store_busy_;

  struct Lane {
    std::deque<Write> writes;
    std::optional<Write> in_flight;
    int retries = 0;
    std::uint64_t attempt = 0;  // of the in-flight submit; 0: none pending
    TimerId timer = 0;
  };
  std::map<std::string, Lane> lanes_;  // by artifact
  std::uint64_t attempt_id_ = 0;

  bool on_duty_pending_ = false;
  TimerId on_duty_timer_ = 0;
};

}  // namespace aether::engine
