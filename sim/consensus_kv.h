// The consensus KV model of simulation.md §3, cluster-wide: pending batches,
// merging of identical ones, grouping by decision time, the decided order
// (seeded permutation or adversarial), failed submits that are later decided
// or dropped, and the canonical store at the latest decided position. Nodes
// submit through it and receive decided positions through the cluster.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
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

struct SubmitTicket {
  std::uint64_t batch_id = 0;
  std::uint64_t submission_id = 0;
};

class ConsensusKv {
 public:
  using DecidedHook = std::function<void(std::uint64_t position)>;
  ConsensusKv(World& world, DecidedHook on_decided) : world_(world), on_decided_(std::move(on_decided)) {}

  // Submits (or merges into an identical pending batch). `decision_delay_ns`
  // is the round trip to the (majority-1)-th nearest peer, drawn by the node.
  SubmitTicket submit(const Submitter& submitter, const engine::KvBatch& batch, Nanos decision_delay_ns);
  void fail(std::uint64_t submission_id, SubmitFailure why);

  std::uint64_t latest_position() const { return log_.size(); }
  const BatchRecord& decided(std::uint64_t position) const { return log_.at(position - 1); }
  const KvStore& canonical() const { return canonical_; }
  // The decided position of the canonical value of `key` (its mod revision;
  // 0 when absent), for restore notifications.
  std::uint64_t revision(const std::string& key) const {
    auto it = revisions_.find(key);
    return it == revisions_.end() ? 0 : it->second;
  }
  std::size_t pending_count() const { return pending_.size(); }
  // Submission ids that belong to the batch decided at `position`.
  const std::vector<std::uint64_t>& decided_submissions(std::uint64_t position) const {
    return decided_submissions_.at(position - 1);
  }

 private:
  struct Pending {
    BatchRecord record;
    std::string content;
    std::uint64_t submit_seq = 0;
    std::vector<std::uint64_t> submissions;  // every submission ever merged in
    std::set<std::uint64_t> live;            // submissions still waiting with quorum
    bool soft_failed = false;                // some submitter failed without crashing
    bool limbo = false;
    EventLoop::EventId limbo_event = 0;
    std::uint64_t group = 0;  // 0: in no group
  };
  struct Group {
    Nanos first_ns = 0;
    Nanos latest_ns = 0;
    std::vector<std::uint64_t> batches;
    EventLoop::EventId event = 0;
  };

  void join_group(std::uint64_t batch_id, Nanos decision_ns);
  void leave_group(Pending& batch);
  void decide_group(std::uint64_t group_id);
  // Removes a batch from the pending set and every index of it.
  Pending take_pending(std::uint64_t batch_id);
  void decide(std::uint64_t batch_id);
  void enter_limbo(std::uint64_t batch_id);
  void drop(std::uint64_t batch_id);

  World& world_;
  DecidedHook on_decided_;
  std::map<std::uint64_t, Pending> pending_;
  std::map<std::string, std::uint64_t> by_content_;
  std::map<std::uint64_t, std::uint64_t> submission_batch_;
  std::map<std::uint64_t, Group> groups_;
  std::uint64_t open_group_ = 0;
  std::uint64_t next_group_ = 1;
  std::uint64_t next_batch_ = 1;
  std::uint64_t next_submission_ = 1;
  std::uint64_t submit_seq_ = 0;
  std::vector<BatchRecord> log_;
  std::vector<std::vector<std::uint64_t>> decided_submissions_;
  KvStore canonical_;
  std::map<std::string, std::uint64_t> revisions_;
};

// "put key=value" / "remove key" per command, for the trace.
std::vector<std::string> describe_batch(const engine::KvBatch& batch);

}  // namespace aether::sim
