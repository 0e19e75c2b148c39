// Placement (engine-semantics.md §4 "Allocation", §8.1): where to add
// instances of an artifact and which to remove. A strategy is pure: it sees
// plain inputs (the eligible nodes with their attributes, which nodes hold
// entries, the live entries, the slice's constraints) and answers with a
// plan; the CDM turns the plan into commands. Unit-tested without the
// simulator (tests/engine/placement_test.cc).
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/config.h"
#include "engine/topology.h"

namespace aether::engine::placement {

// A node as placement sees it: what the host reports and the resources its
// live entries use (over all artifacts).
struct NodeInfo {
  NodeAttributes attributes{};
  Resources used{};
};

// The slice's constraints (§8.1), applied by every strategy.
struct Constraints {
  Resources demand{};            // one instance's resources
  std::set<NodeId> forbidden{};  // anti-affinity: nodes with a live entry of a base either side's list names
  bool spread_zone = false;      // each placement goes to a zone with the fewest live entries of the slice
  bool capacity = true;          // false only under the mutation "placement ignores capacity"
};

struct AddRequest {
  std::vector<NodeId> eligible;  // sorted: in the leader's view and ON_DUTY
  std::set<NodeId> busy;         // nodes with any entry at all (any artifact, any state)
  std::set<NodeId> holding;      // nodes with an entry for this artifact (any state)
  int count = 0;                 // instances to add
  std::size_t cursor = 0;        // the strategy's cursor before this plan
  // Absent node: zone "default", unlimited capacity, nothing used.
  std::map<NodeId, NodeInfo> nodes{};
  std::set<NodeId> live{};  // nodes with a live entry of this artifact (zone spread counts them)
  Constraints constraints{};
};

// Why an instance stayed unplaced: no eligible node without an instance of
// the artifact, or every such node excluded by anti-affinity, or by capacity.
enum class Blocker : std::uint8_t { None, Nodes, AntiAffinity, Capacity };
const char* blocker_name(Blocker blocker);

struct AddPlan {
  std::vector<NodeId> nodes;        // where to LOAD, in command order
  std::size_t cursor = 0;           // the cursor after this plan
  Blocker blocked = Blocker::None;  // set when fewer nodes than asked
};

struct LiveEntry {
  NodeId node;
  bool active = false;  // effective state ACTIVE
};

struct RemoveRequest {
  std::vector<LiveEntry> live;  // live entries of the artifact, sorted by node
  int count = 0;                // instances to remove (already capped by the floor)
  // Zone spread: victims come from a zone with the most live entries.
  bool spread_zone = false;
  std::map<NodeId, std::string> zones{};  // absent: "default"
};

class AllocationStrategy {
 public:
  virtual ~AllocationStrategy() = default;
  virtual const char* name() const = 0;
  // One instance at a time: the candidates are the eligible nodes without an
  // entry of the artifact that the constraints allow (anti-affinity, capacity,
  // then the zone with the fewest live entries of the slice, ties by zone
  // name); the strategy picks among them. Never chooses a node in `holding`;
  // may answer fewer nodes than asked (and says which constraint blocked).
  // `request.eligible` must be sorted without duplicates (the view is).
  AddPlan plan_add(const AddRequest& request) const;
  // Victims in command order; at most `count`: non-ACTIVE entries before
  // ACTIVE ones, within each group the last in sorted node order first; under
  // zone spread, each from a zone with the most live entries (ties by name).
  std::vector<NodeId> plan_remove(const RemoveRequest& request) const;

 protected:
  // The candidates of one plan, by place in `request.eligible`, in groups
  // (one per zone under zone spread, else one); placement.cc.
  class Candidates;
  // The place in `request.eligible` of the node chosen among the candidates
  // of `group` (not empty); `cursor` is the plan's cursor.
  virtual std::size_t pick(Candidates& candidates, std::size_t group, std::size_t& cursor) const = 0;
};

// `round-robin` (§4): nodes with no entry at all first (sorted order), then
// nodes without this artifact by a cursor over the sorted eligible nodes.
class RoundRobin final : public AllocationStrategy {
 public:
  const char* name() const override { return "round-robin"; }

 protected:
  std::size_t pick(Candidates& candidates, std::size_t group, std::size_t& cursor) const override;
};

// `resource-aware` (§8.1): among the nodes the instance fits, the least
// loaded by the larger of its cpu and memory ratios; ties by NodeId.
class ResourceAware final : public AllocationStrategy {
 public:
  const char* name() const override { return "resource-aware"; }

 protected:
  std::size_t pick(Candidates& candidates, std::size_t group, std::size_t& cursor) const override;
};

std::unique_ptr<AllocationStrategy> make_strategy(engine::AllocationStrategy kind);

// The zone a request's node map gives `node` ("default" when absent).
std::string zone_of(const std::map<NodeId, NodeInfo>& nodes, const NodeId& node);

}  // namespace aether::engine::placement
