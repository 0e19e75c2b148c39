// What the simulated world tells those who judge it (properties/: the checks)
// as a run goes. Every callback is synchronous, at the simulated instant the
// thing happens, in the order it happens. The trace records the same facts;
// observers get them as typed values so that no check parses the trace.
//
// Default implementations do nothing, so an observer overrides only what it
// needs.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/kv_client.h"
#include "engine/slice_loader.h"
#include "engine/time.h"
#include "engine/topology.h"

namespace aether::sim {

using engine::Nanos;
using engine::NodeId;

// One submitter of a batch. A merged batch has several.
struct Submitter {
  NodeId node;
  std::string writer;                    // "client:<name>", "cdm", "ndm" or "leader-manager"
  bool cdm_active = false;               // the submitter's CDM state at submit
  std::optional<std::uint64_t> cdm_tag;  // its activation tag, if Active
  // For each key the batch touches: the value the submitter had applied at
  // submit (nullopt: absent). Observers get it with on_submit and on_decide;
  // ConsensusKv::decided() no longer has it after the decision.
  std::map<std::string, std::optional<std::string>> applied;
  Nanos submitted_at = 0;
};

struct BatchRecord {
  std::uint64_t batch_id = 0;  // assigned at the first submit; merges keep it
  engine::KvBatch commands;
  std::vector<Submitter> submitters;
};

enum class NodeFault : std::uint8_t { Crash, Restart, Pause, Resume, Add, Remove };

enum class SliceOp : std::uint8_t { Load, Activate, Deactivate, Unload };

class WorldObserver {
 public:
  virtual ~WorldObserver() = default;

  // KV: a batch submitted (or merged into a pending identical one).
  virtual void on_submit(Nanos, const BatchRecord&, const Submitter& /*the new submitter*/) {}
  // A batch decided at `position` (positions start at 1, one per batch).
  virtual void on_decide(Nanos, std::uint64_t /*position*/, const BatchRecord&) {}
  // A pending batch dropped without being decided.
  virtual void on_batch_dropped(Nanos, const BatchRecord&) {}
  // `node` applied the batch at `position`; `store_digest` is the digest of its
  // store after applying (see KvStoreDigest in sim/kv_store.h).
  virtual void on_apply(Nanos, const NodeId& /*node*/, std::uint64_t /*position*/,
                        std::uint64_t /*store_digest*/) {}
  // `node` restored the snapshot at `position`.
  virtual void on_restore(Nanos, const NodeId&, std::uint64_t /*position*/, std::uint64_t /*store_digest*/) {}
  // `node` reset its store at quorum loss.
  virtual void on_reset(Nanos, const NodeId&) {}

  // Views and quorum as delivered to the node's engine.
  virtual void on_view(Nanos, const NodeId&, const engine::TopologyEvent&) {}
  virtual void on_quorum(Nanos, const NodeId&, const engine::QuorumEvent&) {}

  // Node faults applied by the world (crash, restart, ...).
  virtual void on_node_fault(Nanos, const NodeId&, NodeFault) {}

  // Engine-reported facts (through engine::EngineEvents).
  virtual void on_leader_change(Nanos, const NodeId&, const std::optional<NodeId>& /*leader*/) {}
  virtual void on_cdm_activated(Nanos, const NodeId&, std::optional<std::uint64_t> /*tag*/) {}
  virtual void on_cdm_deactivated(Nanos, const NodeId&) {}
  virtual void on_engine_count(Nanos, const NodeId&, const std::string& /*counter*/, std::int64_t) {}

  // Slice store: an operation started (`held_before` is what the store held
  // for the artifact at that moment) and completed.
  virtual void on_slice_op_start(Nanos, const NodeId&, const std::string& /*artifact*/, SliceOp,
                                 engine::SliceHolding /*held_before*/) {}
  virtual void on_slice_op_done(Nanos, const NodeId&, const std::string& /*artifact*/, SliceOp,
                                const engine::SliceResult&) {}

  // An assertion or exception inside a simulated node. The node is stopped.
  virtual void on_engine_assert(Nanos, const NodeId&, const std::string& /*message*/) {}
};

}  // namespace aether::sim
