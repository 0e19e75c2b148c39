// The consensus KV model of simulation.md §3, cluster-wide: pending batches,
// merging of identical ones, grouping by decision time, the decided order
// (seeded permutation or adversarial), failed submits that are later decided
// or dropped, and the canonical store at the latest decided position. Nodes
// submit through it and receive decided positions through the cluster.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/kv_client.h"
#include "sim/kv_store.h"
#include "sim/world.h"

namespace aether::sim {

// Why a submitter stopped waiting for its batch.
enum class SubmitFailure : std::uint8_t {
  QuorumLost,  // the outcome is unknown: the batch is later decided or dropped
  Crashed,     // the submitter died: dropped unless a live submitter remains
};

// The acknowledgements a submitter gathers right now (simulation.md §3a): the
// decision delay (round trip to the (majority-1)-th nearest answering peer)
// and the deciding majority (the submitter and those peers).
struct Acks {
  Nanos delay_ns = 0;
  std::vector<NodeId> deciders;
};

// An immutable, shared list of node ids (a deciding majority: a batch's
// holders and deciders and the latest deciders are one list, not copies;
// issue 14, ninth pass).
using NodeList = std::shared_ptr<const std::vector<NodeId>>;

// A sorted set of node ids in one vector (issue 14, fourth pass: a deciding
// majority of 1,000 nodes joins a batch's holders in one merge instead of a
// tree insertion per node). Iterates in NodeId order, as std::set did. It may
// share a NodeList (insert_sorted) until it is changed.
class NodeSet {
 public:
  void insert(const NodeId& node) {
    own();
    auto at = std::lower_bound(nodes_.begin(), nodes_.end(), node);
    if (at == nodes_.end() || *at != node) nodes_.insert(at, node);
  }
  // `sorted`: ascending, no repeats.
  void insert_sorted(const NodeList& sorted);
  bool erase(const NodeId& node) {
    const std::vector<NodeId>& now = list();
    auto found = std::lower_bound(now.begin(), now.end(), node);
    if (found == now.end() || *found != node) return false;
    own();
    nodes_.erase(std::lower_bound(nodes_.begin(), nodes_.end(), node));
    return true;
  }
  bool empty() const { return list().empty(); }
  std::vector<NodeId>::const_iterator begin() const { return list().begin(); }
  std::vector<NodeId>::const_iterator end() const { return list().end(); }

 private:
  const std::vector<NodeId>& list() const { return shared_ ? *shared_ : nodes_; }
  // Makes nodes_ the set (a copy of the shared list, if any).
  void own() {
    if (!shared_) return;
    nodes_ = *shared_;
    shared_.reset();
  }
  std::vector<NodeId> nodes_;  // the set, unless shared_
  NodeList shared_;
};

struct SubmitTicket {
  std::uint64_t batch_id = 0;
  std::uint64_t submission_id = 0;
};

class ConsensusKv {
 public:
  using DecidedHook = std::function<void(std::uint64_t position)>;
  // The acknowledgements `node` (a live submitter) can gather now, if enough.
  using AckProbe = std::function<std::optional<Acks>(const NodeId& node)>;
  ConsensusKv(World& world, DecidedHook on_decided) : world_(world), on_decided_(std::move(on_decided)) {}
  void set_ack_probe(AckProbe probe) { probe_ = std::move(probe); }

  // Submits (or merges into an identical pending batch). `acks` is what the
  // submitting node gathers now; without them the batch is held on the node
  // (it never leaves while the node is cut off; simulation.md §3a).
  // Both are kept (moved in, not copied).
  SubmitTicket submit(Submitter submitter, engine::KvBatch batch, std::optional<Acks> acks);
  void fail(std::uint64_t submission_id, SubmitFailure why);
  // Links or node states changed: held batches may gather acknowledgements,
  // batches with an unknown outcome may find a path or a deciding majority.
  void links_changed();
  // A node stopped (crash, removal): it no longer holds any batch.
  void node_stopped(const NodeId& node);
  // Whether decisions are stalled right now (simulation.md §3a `stall`).
  bool stalled() const { return world_.now() < stalled_until_; }

  std::uint64_t latest_position() const { return log_.size(); }
  // A decided batch: its commands, its submitters (their `applied` is
  // cleared once the decision has been observed: on_decide has it).
  const BatchRecord& decided(std::uint64_t position) const { return log_.at(position - 1); }
  // The notifications applying `position` makes, one per command in order
  // (origin Apply), built once at the decision and shared by every node.
  const std::vector<engine::KvNotification>& notifications(std::uint64_t position) const {
    return notifications_.at(position - 1);
  }
  const KvStore& canonical() const { return canonical_; }
  // The decided position of the canonical value of `key` (its mod revision;
  // 0 when absent).
  std::uint64_t revision(const std::string& key) const { return versions_.revision_at(key, log_.size()); }
  std::size_t pending_count() const { return pending_.size(); }
  // The deciding majority of the latest decided batch (deliveries start
  // there); valid while its decided hook runs. Not kept per position: with
  // 2000 nodes it is 1001 ids a decision.
  const std::vector<NodeId>& latest_deciders() const { return *latest_deciders_; }
  // The latest position decided at or before `at` (0 if none).
  std::uint64_t position_at(Nanos at) const;
  // The store at any decided position (0: empty).
  KvMap snapshot_at(std::uint64_t position) const;
  // Every decided position of the store: what a node at position p holds.
  const VersionedKv& versions() const { return versions_; }
  // Submission ids that belong to the batch decided at `position`.
  const std::vector<std::uint64_t>& decided_submissions(std::uint64_t position) const {
    return decided_submissions_.at(position - 1);
  }

 private:
  struct Pending {
    BatchRecord record;
    std::uint64_t content_hash = 0;  // content_hash(record.commands)
    std::uint64_t submit_seq = 0;
    std::vector<std::uint64_t> submissions;           // every submission ever merged in
    std::set<std::uint64_t> live;                     // submissions still waiting with quorum
    std::map<std::uint64_t, NodeId> submission_node;  // live submission -> its node
    bool soft_failed = false;                         // some submitter failed without crashing
    bool left = false;                                // acknowledged: it left its submitter's node
    bool held = false;                                // live, waiting on its node for acknowledgements
    bool orphan = false;                              // outcome unknown, never left: waits for a path
    NodeSet holders;                                  // nodes that hold the batch (submitters, deciders)
    NodeList deciders;                                // the deciding majority once known
    bool limbo = false;
    bool limbo_waiting = false;  // decided later, but no deciding majority yet
    bool stall_drawn = false;    // a late decision draws a stall once
    Nanos window_end = 0;
    EventLoop::EventId limbo_event = 0;
    std::uint64_t group = 0;  // 0: in no group
  };
  struct Group {
    Nanos first_ns = 0;
    Nanos latest_ns = 0;
    std::vector<std::uint64_t> batches;
    EventLoop::EventId event = 0;
    bool stall_drawn = false;
  };

  void join_group(std::uint64_t batch_id, Nanos decision_ns);
  void leave_group(Pending& batch);
  void decide_group(std::uint64_t group_id);
  // Removes a batch from the pending set and every index of it.
  Pending take_pending(std::uint64_t batch_id);
  void decide(std::uint64_t batch_id);
  void enter_limbo(std::uint64_t batch_id);
  void try_late_decide(std::uint64_t batch_id);
  void drop(std::uint64_t batch_id);
  void leave(Pending& batch, std::vector<NodeId> deciders);
  void try_orphan(std::uint64_t batch_id);
  // Stall rule at a decision: true if decisions must wait (until stalled_until_).
  bool hold_for_stall(bool& drawn);
  // The largest majority of configured, active nodes with uncut links both
  // ways between every pair that contains one of `holders` (ties: smallest
  // sorted member list); empty if none.
  std::vector<NodeId> deciding_majority(const NodeSet& holders) const;

  World& world_;
  DecidedHook on_decided_;
  AckProbe probe_;
  Nanos stalled_until_ = 0;
  NodeList latest_deciders_ = std::make_shared<const std::vector<NodeId>>();
  std::vector<Nanos> decided_at_;  // by position - 1
  std::map<std::uint64_t, Pending> pending_;
  // Pending batches by the hash of their commands (equal commands: merged);
  // a hit is confirmed by comparing the commands (issue 14, tenth pass: the
  // batch's content string was built, compared and kept per submit).
  std::multimap<std::uint64_t, std::uint64_t> by_content_;
  // The pending batch whose commands equal `batch` (0: none).
  std::uint64_t find_same(std::uint64_t hash, const engine::KvBatch& batch) const;
  std::map<std::uint64_t, std::uint64_t> submission_batch_;
  std::map<std::uint64_t, Group> groups_;
  std::uint64_t open_group_ = 0;
  std::uint64_t next_group_ = 1;
  std::uint64_t next_batch_ = 1;
  std::uint64_t next_submission_ = 1;
  std::uint64_t submit_seq_ = 0;
  std::vector<BatchRecord> log_;
  std::vector<std::vector<engine::KvNotification>> notifications_;  // by position - 1
  std::vector<std::vector<std::uint64_t>> decided_submissions_;
  KvStore canonical_;
  VersionedKv versions_;
};

// Writes `batch` as the list field `field` of `event`: "put key=value" /
// "remove key" per command.
TraceEvent& trace_commands(TraceEvent& event, std::string_view field, const engine::KvBatch& batch);

}  // namespace aether::sim
