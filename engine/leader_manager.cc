#include "engine/leader_manager.h"

#include <algorithm>

#include "engine/kv_schema.h"
#include "engine/mutations.h"

namespace aether::engine {

namespace {
constexpr Nanos kProposeRetry = millis(500);

bool contains(const std::vector<NodeId>& nodes, const NodeId& node) {
  return std::find(nodes.begin(), nodes.end(), node) != nodes.end();
}
}  // namespace

LeaderManager::LeaderManager(const NodeServices& services, const EngineConfig& config,
                             std::function<void(const LeaderChange&)> on_change)
    : services_(services), config_(config), on_change_(std::move(on_change)), timers_(services.clock) {
  quorum_ = services_.topology.has_quorum();
}

void LeaderManager::set_leader(std::optional<NodeId> leader, std::optional<std::uint64_t> position) {
  if (leader == leader_) return;
  leader_ = std::move(leader);
  position_ = position;
  services_.logger.log(LogLevel::Info, "leader-manager", "leader is now " + leader_.value_or("(none)"));
  on_change_(LeaderChange{leader_, leader_ == services_.self, position_});
}

void LeaderManager::on_quorum(const QuorumEvent& event) {
  // Notifications can arrive out of order: one numbered at or below the last
  // handled one is stale (§3, Aether's B2/B3).
  if (event.sequence <= last_quorum_sequence_ && !config_.mutation(mutation::kStaleQuorumEvents)) {
    services_.events.count("stale-quorum-events", 1);
    return;
  }
  last_quorum_sequence_ = event.sequence;
  if (event.change == QuorumChange::Lost) {
    quorum_ = false;
    restored_ = false;
    restored_leader_.reset();
    timers_.cancel_all();
    propose_timer_ = absence_timer_ = 0;
    absent_since_.reset();
    set_leader(std::nullopt, std::nullopt);
    return;
  }
  quorum_ = true;
  // Acting waits for a restore; one that arrived before this event counts.
  if (restored_) become_ready();
}

void LeaderManager::on_restored(std::uint64_t) {
  if (ready()) {
    // A restore follows a store reset: this node missed its quorum loss (a
    // stale Lost). Start over, so that its CDM rebuilds from the restored store.
    timers_.cancel_all();
    propose_timer_ = absence_timer_ = 0;
    absent_since_.reset();
    set_leader(std::nullopt, std::nullopt);
  }
  // Recorded whenever it arrives (its Established may be late); acted on
  // once the latest handled quorum event is Established.
  restored_ = true;
  if (quorum_) become_ready();
}

void LeaderManager::become_ready() {
  if (config_.leader_election == LeaderElection::Local) {
    recompute_local();
    return;
  }
  if (restored_leader_) {
    auto [leader, position] = *restored_leader_;
    restored_leader_.reset();
    adopt(leader, position);
  } else if (!leader_) {
    propose();
  }
}

void LeaderManager::on_topology(const TopologyEvent&) {
  if (config_.leader_election == LeaderElection::Local) {
    recompute_local();
    return;
  }
  watch_leader_presence();
}

KvInterest LeaderManager::interest() const {
  // Only the leader key, and only when the leader is kept in the KV.
  if (config_.leader_election != LeaderElection::Consensus) return KvInterest{};
  return KvInterest{false, {}, {std::string(kLeaderKey)}};
}

void LeaderManager::on_kv(const KvNotification& n) {
  if (config_.leader_election != LeaderElection::Consensus || n.key != kLeaderKey) return;
  if (n.origin == KvOrigin::Reset) return;  // quorum loss already cleared the leader
  if (n.origin == KvOrigin::Restore) {
    // Adopted at on_restored, once the whole store is back.
    if (n.op == KvOp::Put) {
      if (auto leader = parse_leader_value(n.value)) {
        restored_leader_ = std::make_pair(*leader, n.position);
      } else {
        restored_leader_.reset();
      }
    } else {
      restored_leader_.reset();
    }
    return;
  }
  if (!ready()) {
    // Applied while this node may not act (quorum event not yet handled, or
    // its restore still pending): it supersedes whatever an earlier restore
    // recorded, and is adopted when the node becomes ready. Adopting the
    // restore's older value over it would leave this node believing a leader
    // the cluster has since replaced, for good (issue 10, held quorum events).
    auto leader = n.op == KvOp::Put ? parse_leader_value(n.value) : std::nullopt;
    if (n.op == KvOp::Put && !leader) services_.events.count("malformed-values", 1);
    if (leader) {
      restored_leader_ = std::make_pair(*leader, n.position);
    } else {
      restored_leader_.reset();
      set_leader(std::nullopt, std::nullopt);
    }
    return;
  }
  if (n.op == KvOp::Put) {
    if (auto leader = parse_leader_value(n.value)) {
      if (config_.mutation(mutation::kDeposedLeaderKeepsActing) && leader_ == services_.topology.self() &&
          *leader != *leader_)
        return;
      adopt(*leader, n.position);
      return;
    }
    services_.logger.log(LogLevel::Warn, "leader-manager", "ignoring malformed leader value");
    services_.events.count("malformed-values", 1);
  }
  // A Remove (or an unusable value) counts as the leader being gone.
  set_leader(std::nullopt, std::nullopt);
  absent_since_.reset();
  if (ready()) propose();
}

void LeaderManager::adopt(const NodeId& leader, std::uint64_t position) {
  if (leader_ != leader) {
    absent_since_.reset();
    set_leader(leader, position);
  }
  if (propose_timer_ != 0) {
    timers_.cancel(propose_timer_);
    propose_timer_ = 0;
  }
  watch_leader_presence();
}

void LeaderManager::propose() {
  if (!ready() || leader_) return;
  auto configured = services_.topology.configured_nodes();
  std::sort(configured.begin(), configured.end());  // a lookup per view member, not a scan (issue 14)
  std::optional<NodeId> candidate;
  for (const auto& node : services_.topology.view()) {
    if ((!candidate || node < *candidate) && std::binary_search(configured.begin(), configured.end(), node))
      candidate = node;
  }
  if (candidate) {
    services_.kv.submit(Writer::LeaderManager, {KvCommand::put(std::string(kLeaderKey), *candidate)},
                        [](SubmitOutcome) {});
  }
  if (propose_timer_ != 0) timers_.cancel(propose_timer_);
  propose_timer_ = 0;
  if (config_.mutation(mutation::kNoProposeRetry)) return;
  propose_timer_ = timers_.after(kProposeRetry, [this] {
    propose_timer_ = 0;
    propose();
  });
}

void LeaderManager::watch_leader_presence() {
  if (!ready() || !leader_) return;
  if (contains(services_.topology.view(), *leader_)) {
    absent_since_.reset();
    if (absence_timer_ != 0) timers_.cancel(absence_timer_);
    absence_timer_ = 0;
    return;
  }
  if (absent_since_) return;  // already counting
  absent_since_ = timers_.now();
  absence_timer_ = timers_.after(config_.effective_leader_timeout_ns(), [this] {
    absence_timer_ = 0;
    if (!ready() || !leader_ || contains(services_.topology.view(), *leader_)) return;
    services_.logger.log(LogLevel::Info, "leader-manager", "leader " + *leader_ + " out of view too long");
    absent_since_.reset();
    set_leader(std::nullopt, std::nullopt);
    propose();
  });
}

void LeaderManager::recompute_local() {
  if (!ready()) {
    set_leader(std::nullopt, std::nullopt);
    return;
  }
  const auto& view = services_.topology.view();
  set_leader(view.empty() ? std::nullopt : std::optional<NodeId>(view.front()), std::nullopt);
}

}  // namespace aether::engine
