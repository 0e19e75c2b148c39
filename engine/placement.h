// Placement (engine-semantics.md §4 "Allocation", §8.1): where to add
// instances of an artifact and which to remove. A strategy is pure: it sees
// plain inputs (the eligible nodes, which nodes hold entries, the live
// entries) and answers with a plan; the CDM turns the plan into commands.
// Unit-tested without the simulator (tests/engine/placement_test.cc).
#pragma once

#include <cstddef>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "engine/config.h"
#include "engine/topology.h"

namespace aether::engine::placement {

struct AddRequest {
  std::vector<NodeId> eligible;  // sorted: in the leader's view and ON_DUTY
  std::set<NodeId> busy;         // nodes with any entry at all (any artifact, any state)
  std::set<NodeId> holding;      // nodes with an entry for this artifact (any state)
  int count = 0;                 // instances to add
  std::size_t cursor = 0;        // the strategy's cursor before this plan
};

struct AddPlan {
  std::vector<NodeId> nodes;  // where to LOAD, in command order
  std::size_t cursor = 0;     // the cursor after this plan
};

struct LiveEntry {
  NodeId node;
  bool active = false;  // effective state ACTIVE
};

struct RemoveRequest {
  std::vector<LiveEntry> live;  // live entries of the artifact, sorted by node
  int count = 0;                // instances to remove (already capped by the floor)
};

class AllocationStrategy {
 public:
  virtual ~AllocationStrategy() = default;
  virtual const char* name() const = 0;
  // Never chooses a node in `holding`; may answer fewer nodes than asked.
  virtual AddPlan plan_add(const AddRequest& request) const = 0;
  // Victims in command order; at most `count`.
  virtual std::vector<NodeId> plan_remove(const RemoveRequest& request) const = 0;
};

// `round-robin` (§4): nodes with no entry at all first (sorted order), then
// nodes without this artifact by a cursor over the sorted eligible nodes.
// Removal: non-ACTIVE entries before ACTIVE ones, within each group the last
// in sorted node order first.
class RoundRobin final : public AllocationStrategy {
 public:
  const char* name() const override { return "round-robin"; }
  AddPlan plan_add(const AddRequest& request) const override;
  std::vector<NodeId> plan_remove(const RemoveRequest& request) const override;
};

std::unique_ptr<AllocationStrategy> make_strategy(engine::AllocationStrategy kind);

}  // namespace aether::engine::placement
