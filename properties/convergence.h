// The convergence predicate of simulation.md §5, evaluated on the checks' own
// canonical store and the world's ground truth (views, slice stores, engine
// beliefs), with the exact definitions of live node, eligible node, live
// entry, owner and desired count (the engine's ownership function), excluded
// artifacts and counted instance. A state that is not converged names ONE
// blocker, chosen by a fixed priority (docs/checks.md).
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/kv_schema.h"
#include "properties/canonical_store.h"
#include "properties/world_queries.h"

namespace aether::properties {

// In priority order: when several hold, the first is named. WriteLoop is
// named by the convergence window (converged states that never stayed quiet),
// never by a single evaluation.
enum class Blocker : std::uint8_t {
  None,
  NoQuorum,
  NoLeader,
  NeverOnDuty,
  WriteLoop,
  StuckState,
  Ghost,
  CountMismatch,
};

const char* blocker_name(Blocker blocker);  // "no quorum", ..., "count mismatch"

// Nodes that are up, unpaused, configured, and whose view holds a majority of
// the configured nodes.
struct Liveness {
  std::vector<NodeId> configured;  // sorted
  std::set<NodeId> live;
  std::size_t majority = 0;  // floor(n/2)+1
};
Liveness liveness(const WorldQueries& world);

// Desired state as the canonical store defines it.
struct DesiredBase {
  std::string owner;                          // blueprint id (the ownership function)
  std::optional<engine::SliceTarget> target;  // the owned slice-target, if committed
  std::vector<std::string> depends_on;        // bases, from the owner blueprint
  bool excluded = false;                      // permanently failed, or depends on one
};
struct DesiredState {
  std::map<std::string, DesiredBase> owned;  // base -> desired
  bool is_excluded(const std::string& base) const;
};
DesiredState desired_state(const CanonicalStore::Map& store);

struct ConvergenceRules {
  // reconciliation aggressive with auto_rebalancing: the balance rule applies.
  bool balance = false;
};

struct ConvergenceState {
  bool converged = false;
  Blocker blocker = Blocker::None;
  std::string detail;  // the first finding of the named blocker, and how many findings there were
  std::optional<NodeId> leader;
};

ConvergenceState evaluate_convergence(const CanonicalStore::Map& store, const WorldQueries& world,
                                      const ConvergenceRules& rules);

// For `expect instances`: live entries of `artifact` in the canonical store
// (any node) and counted instances (ACTIVE key on a live node whose slice
// store has it active).
struct InstanceTally {
  int total = 0;
  int active = 0;
};
InstanceTally tally_instances(const CanonicalStore::Map& store, const WorldQueries& world,
                              const Liveness& live, const std::string& artifact);

// For `expect leader`: every live node believes `node`, which is live with its
// CDM Active. Empty string when it holds, else why not.
std::string leader_mismatch(const WorldQueries& world, const Liveness& live, const NodeId& node);

}  // namespace aether::properties
