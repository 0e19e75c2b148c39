// What the CDM feeds placement (engine-semantics.md §8.1): the inputs of
// `placement::AllocationStrategy::plan_add` / `plan_remove` and of
// `rebalancer::plan_moves`, read from the slice table and the applied
// blueprints (resources, anti-affinity, zone spread) through a CdmFacts.
// Pure; unit-tested with fake inputs (tests/engine/placement_inputs_test.cc).
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/cdm_facts.h"
#include "engine/placement.h"
#include "engine/rebalancer.h"

namespace aether::engine::placement {

// The placement fields (resources, anti_affinity, spread_zone) of an
// artifact's base, as wanted() has them; only those fields are filled.
Wanted placement_of(const DesiredState& state, const std::string& artifact);
// Whether a slice of a stored blueprint asks for resources, anti-affinity or
// zone spread. placement_of reads a stored blueprint's slice (the owner's)
// or none: without any such slice it is the default Wanted for every
// artifact, so no live entry adds resources or forbids a node (issue 14,
// eighth pass: most clusters place without constraints).
bool any_placement_constraint(const DesiredState& state);

// A table row with an entry that occupies its node (live by intent or by
// applied value, SliceEntry::occupies), as placement reads it: its base, its
// placement fields (read once, not once per entry or per request) and its
// live nodes in table order. Pointers into the table, valid while no entry
// is erased.
struct LiveRow {
  const std::string* artifact = nullptr;
  std::string base;
  Wanted want;
  std::vector<const NodeId*> live;
};
// Every row with such an entry; `only`: the entries on that node only.
std::vector<LiveRow> live_rows(const CdmFacts& facts, const NodeId* only = nullptr);
// Either side's anti_affinity names the other's base (`base`: mine).
bool anti_affine(const Wanted& mine, const std::string& base, const LiveRow& other);
// Nodes with a live entry anti-affine to `artifact` (§8.1; none under the
// mutation that ignores anti-affinity).
std::set<NodeId> forbidden_for(const CdmFacts& facts, const std::string& artifact, const Wanted& mine,
                               const std::vector<LiveRow>& rows);
// Adds the resources of the live entries of `rows` to the nodes listed in `nodes`.
void add_used(std::map<NodeId, NodeInfo>& nodes, const std::vector<LiveRow>& rows);

// Placement inputs for `desired` over `candidates` (sorted): attributes the
// host reports, resources used by live entries, anti-affinity (§8.1).
AddRequest add_request(const CdmFacts& facts, const Desired& desired, std::vector<NodeId> candidates,
                       std::size_t cursor);
// The scale-down of `artifact` from `live` entries that count for scale
// toward desired.count, never below min_instances (unless the mutation
// skips that floor); nullopt when nothing is to go.
std::optional<RemoveRequest> remove_request(const CdmFacts& facts, const std::string& artifact,
                                            const Desired& desired, int live);

// The rebalancer's input over the eligible nodes (>= 2: the caller checks)
// and every desired artifact; `moving(base, artifact)`: a move or a rolling
// update of it is in progress (it gets no new move).
rebalancer::Input rebalance_input(const CdmFacts& facts, std::vector<NodeId> eligible,
                                  const std::function<bool(const std::string&, const std::string&)>& moving);

// The CDM's allocation state (§8.1): the configured strategy and its cursor.
struct Allocation {
  std::unique_ptr<AllocationStrategy> strategy;
  std::size_t cursor = 0;

  // Where to LOAD `count` more instances of `desired` over the eligible
  // nodes (the cursor moves on).
  AddPlan add(const CdmFacts& facts, const Desired& desired, int count);
  // Which live entries of `artifact` a scale-down from `live` unloads.
  std::vector<NodeId> remove(const CdmFacts& facts, const std::string& artifact, const Desired& desired,
                             int live) const;
};

}  // namespace aether::engine::placement
