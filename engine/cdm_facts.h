// What the CDM's decisions read (engine-semantics.md §4, §8.2): the committed
// node-lifecycle values, and `CdmFacts`, a read-only bundle of the desired
// state, the slice table, those lifecycles, the topology and the config, with
// the queries every concept shares (eligibility, counts for scale, ACTIVE in
// the view, dependencies ready). No KV, timers, writes or logging: the
// concept files (drain, rolling, rollback, the writer's re-checks, placement
// inputs, stuck/orphan detection) are pure functions of a CdmFacts, and unit
// tests build one from plain values and a fake topology
// (tests/engine/cdm_facts_test.cc).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/config.h"
#include "engine/desired_state.h"
#include "engine/kv_schema.h"
#include "engine/slice_table.h"
#include "engine/topology.h"

namespace aether::engine {

// The applied node-lifecycle/{node} values (raw; parsed on read), as a map
// that remembers which nodes are DRAINING or DECOMMISSIONED between writes:
// `drained`/`any_drained` are asked per slice put and per entry counted for
// scale, and node-lifecycle writes are rare (issue 14, fifth pass). Every
// write goes through `operator[]` or `erase`, which forget what was
// remembered; a reference `operator[]` returns is for the assignment at hand
// (`values[node] = value`), not to be kept and written later.
class NodeLifecycleValues {
 public:
  using Map = std::map<NodeId, std::string>;
  using const_iterator = Map::const_iterator;

  std::string& operator[](const NodeId& node) {
    drained_.reset();
    return map_[node];
  }
  std::size_t erase(const NodeId& node) {
    drained_.reset();
    return map_.erase(node);
  }
  const_iterator find(const NodeId& node) const { return map_.find(node); }
  const_iterator begin() const { return map_.begin(); }
  const_iterator end() const { return map_.end(); }
  std::size_t size() const { return map_.size(); }
  bool empty() const { return map_.empty(); }
  // The nodes whose value is DRAINING or DECOMMISSIONED, sorted.
  const std::vector<NodeId>& drained() const;

 private:
  Map map_;
  mutable std::optional<std::vector<NodeId>> drained_;  // until the next write
};

struct NodeLifecycles {
  NodeLifecycleValues values;

  std::optional<NodeLifecycle> of(const NodeId& node) const;
  bool drained(const NodeId& node) const;  // DRAINING or DECOMMISSIONED
  bool any_drained() const;
};

struct CdmFacts {
  const EngineConfig& config;
  const Topology& topology;
  const DesiredState& state;
  const SliceTable& table;
  const NodeLifecycles& lifecycles;
  // Decided position of each applied blueprints/* and slice-target/* value
  // (the KV's mod revision), and this term's own slice-target writes.
  const std::map<std::string, std::uint64_t>& positions;
  const OwnTargetWrites& own_targets;

  std::vector<NodeId> eligible_nodes() const;
  bool eligible(const NodeId& node) const;  // in the view and ON_DUTY
  bool on_duty(const NodeId& node) const;   // committed node-lifecycle is ON_DUTY
  bool in_view(const NodeId& node) const;
  // A node whose live entries count for scale decisions: in `view` and
  // neither DRAINING nor DECOMMISSIONED (§4, §8.2).
  bool counts_for_scale(const NodeId& node, const std::vector<NodeId>& view) const;
  // Live entries that count for scale decisions: live, not a leaving move
  // source, on such a node.
  int live_count(const std::string& artifact) const;
  // live_count of the artifact whose table row is `row` (nullptr: none).
  int live_count(const SliceTable::Nodes* row) const;
  // ACTIVE entries on nodes in the view that are neither DRAINING nor
  // DECOMMISSIONED: what a move's break step must keep at min_available.
  int active_counted(const std::string& artifact) const;
  // ACTIVE entries (no own command pending) on nodes in the leader's view.
  int active_in_view(const std::string& artifact) const;
  // Ready: each dependency has an ACTIVE entry on a node in the leader's view.
  bool dependencies_ready(const std::vector<std::string>& depends_on) const;
  // Every accepted slice of blueprint `id` has min(count, eligible) ACTIVE
  // entries (any node); true for an unknown, invalid or rejected id.
  bool fully_active(const std::string& id) const;
  // Whether the applied slice-target of `base` is at least as recent as its
  // owner's blueprint value: then its counts (a client's scale) are desired.
  bool target_is_newer(const std::string& base, const std::string& owner) const;
  // The same, also reporting the decided positions it looked up (each left
  // unset when not looked up or absent): the owner blueprint's, the slice-target's.
  bool target_is_newer(const std::string& base, const std::string& owner,
                       std::optional<std::uint64_t>* blueprint_at,
                       std::optional<std::uint64_t>* target_at) const;
  // positions' entry for blueprint_key(owner) (nullopt: absent).
  std::optional<std::uint64_t> blueprint_position(const std::string& owner) const;
  // target_is_newer(base, owner, nullptr, target_at) with the owner
  // blueprint's position already looked up (`blueprint`,
  // blueprint_position(owner)'s answer): a walk over the bases of one owner
  // looks it up once (issue 14, ninth pass (2)).
  bool target_is_newer_than(const std::string& base, std::optional<std::uint64_t> blueprint,
                            std::optional<std::uint64_t>* target_at) const;
  // Blueprint id -> decided position of its applied value: acceptance is
  // judged in that order (§4); empty under the mutation that judges by id.
  std::map<std::string, std::uint64_t> blueprint_positions() const;
};

}  // namespace aether::engine
