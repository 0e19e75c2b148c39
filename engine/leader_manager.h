// The LeaderManager decides which node's ClusterDeploymentManager acts
// (engine-semantics.md §3). Consensus mode agrees on a `leader` KV entry;
// local mode takes the first node of the local view. Either way it tells its
// node's CDM through LeaderChange, and only once the node has quorum and has
// restored its store.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>

#include "engine/config.h"
#include "engine/node_runtime.h"
#include "engine/timers.h"

namespace aether::engine {

struct LeaderChange {
  std::optional<NodeId> leader;
  bool local_node_is_leader = false;
  // Consensus: decided position of the `leader` entry adopted; local: nullopt.
  std::optional<std::uint64_t> position;
};

class LeaderManager final : public KvListener, public TopologyListener {
 public:
  LeaderManager(const NodeServices& services, const EngineConfig& config,
                std::function<void(const LeaderChange&)> on_change);

  const std::optional<NodeId>& leader() const { return leader_; }

  void on_kv(const KvNotification& notification) override;
  KvInterest interest() const override;
  void on_restored(std::uint64_t position) override;
  void on_topology(const TopologyEvent& event) override;
  void on_quorum(const QuorumEvent& event) override;

 private:
  bool ready() const { return quorum_ && restored_; }
  // Quorum held and a restore completed since the last loss: adopt or propose.
  void become_ready();
  void set_leader(std::optional<NodeId> leader, std::optional<std::uint64_t> position);
  // Consensus mode.
  void adopt(const NodeId& leader, std::uint64_t position);
  void propose();
  void watch_leader_presence();
  // Local mode.
  void recompute_local();

  NodeServices services_;
  const EngineConfig& config_;
  std::function<void(const LeaderChange&)> on_change_;
  TimerSet timers_;
  LifeToken life_;

  bool quorum_ = false;
  bool restored_ = false;  // a restore completed since the last handled loss
  std::uint64_t last_quorum_sequence_ = 0;
  std::optional<NodeId> leader_;
  std::optional<std::uint64_t> position_;
  // Restored `leader` entry, adopted when the restore is complete.
  std::optional<std::pair<NodeId, std::uint64_t>> restored_leader_;
  TimerId propose_timer_ = 0;
  TimerId absence_timer_ = 0;
  std::optional<Nanos> absent_since_;
};

}  // namespace aether::engine
