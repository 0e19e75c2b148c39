// The convergence predicate of simulation.md §5, evaluated on the checks' own
// canonical store and the world's ground truth (views, slice stores, engine
// beliefs), with the exact definitions of live node, eligible node, live
// entry, owner and desired count (the checks' reference model), excluded
// artifacts and counted instance. A state that is not converged names ONE
// blocker, chosen by a fixed priority (docs/checks.md).
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/time.h"
#include "properties/canonical_store.h"
#include "properties/reference_model.h"
#include "properties/world_queries.h"

namespace aether::properties {

using engine::Nanos;

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
  RollbackPending,  // an all-or-nothing put still in flight (rollback/{id} names the current value)
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

// Desired state as the canonical store defines it (simulation.md §5), from the
// checks' reference model: owner by decided position, count and min_instances
// from the later of the accepted owner blueprint and a matching slice-target.
struct DesiredBase {
  std::string owner;                    // blueprint id (the reference model's ownership)
  std::string version;                  // the version owed
  int count = 0;                        // desired count
  int min_instances = 0;                // the scale-down floor
  std::vector<std::string> depends_on;  // bases, from the owner blueprint
  bool excluded = false;                // failure evidence, a failed slice-target, or depends on one
  // A dependency, directly or transitively, has desired 0 and no ACTIVE
  // entry in the store (the floor never places one) or has no owner: it can
  // never be ready, so the engine may leave this base's entries LOADED
  // (docs/decisions.md, "dependency scaled to zero"). Count rules still apply.
  bool starved = false;
  // Placement (engine-semantics.md §8.1), from the owner blueprint's slice.
  std::int64_t cpu = 0;
  std::int64_t memory = 0;
  std::vector<std::string> anti_affinity{};  // bases
  bool spread_zone = false;
  // Rolling update (engine-semantics.md §8.4), from the owner blueprint's slice.
  bool rolling = false;
  int max_unavailable = 0;
};
struct DesiredState {
  std::map<std::string, DesiredBase> owned;  // base -> desired
  bool is_excluded(const std::string& base) const;
  // May be held LOADED under a LOADED key: excluded or starved.
  bool may_stay_loaded(const std::string& base) const;
};
// Without positions (every value taken as decided at once: ties by id, a
// matching slice-target counts over its blueprint) and without failure history
// (only a failed slice-target excludes); for tests and tools.
DesiredState desired_state(const CanonicalStore::Map& store);
DesiredState desired_state(const ref::PositionedStore& store, const ref::FailureEvidence* evidence);

// What the checks learned over the run that one look at the store cannot
// show. The InvariantSuite implements it.
class ConvergenceHistory {
 public:
  virtual ~ConvergenceHistory() = default;
  virtual const ref::PositionedStore& positioned() const = 0;
  virtual const ref::FailureEvidence& evidence() const = 0;
  // Since when `member` has been in `observer`'s view without a break
  // (nullopt: not in it now, or never seen).
  virtual std::optional<Nanos> in_view_since(const NodeId& observer, const NodeId& member) const = 0;
  // Consensus election: the leader named by the latest `leader` entry the
  // node applied (nullopt inside: it names no one). Outer nullopt: not
  // observable (local election), so the engine's report is used.
  virtual std::optional<std::optional<NodeId>> applied_leader(const NodeId& node) const = 0;
  virtual Nanos now() const = 0;
};

struct ConvergenceRules {
  // reconciliation aggressive with auto_rebalancing: the balance rule applies.
  bool balance = false;
  // The convergence bound: a node live in L's view for longer than this with
  // node-lifecycle absent or JOINING blocks convergence ("node never
  // ON_DUTY"); without a history the time is unknown and such a node only
  // lowers the count owed.
  Nanos bound_ns = 0;
  // Positions, failure evidence, view history and applied leader entries;
  // nullptr: judged on the store alone (desired_state(Map)) with engine beliefs.
  const ConvergenceHistory* history = nullptr;
};

struct ConvergenceState {
  bool converged = false;
  Blocker blocker = Blocker::None;
  std::string detail;  // the first finding of the named blocker, and how many findings there were
  std::optional<NodeId> leader;
  // Entries left on DRAINING nodes because engine-semantics.md §8.2 forbids
  // evicting them (allowed, reported as "drain blocked").
  std::vector<std::string> drain_blocked;
  // Instances owed but excused because no eligible node could take one,
  // with the constraint that blocked them, e.g. "g:a: 1 unplaced (anti-affinity)".
  std::vector<std::string> unplaced{};
};

ConvergenceState evaluate_convergence(const CanonicalStore::Map& store, const WorldQueries& world,
                                      const ConvergenceRules& rules);
// The store's slices/ entries the engine can parse, by base (in key order)
// and by node: what evaluate_convergence reads of them, a function of the
// store alone (a caller may keep it while the store is unchanged).
struct SliceEntries {
  struct Entry {
    NodeId node;
    std::string artifact;
    std::optional<ref::SliceVal> value;
  };
  std::map<std::string, std::vector<Entry>> by_base;
  std::map<NodeId, std::map<std::string, ref::State>> by_node;  // parsed values on each node
};
SliceEntries parse_slice_entries(const CanonicalStore::Map& store);

// parse_slice_entries kept in step with a store that changes a few keys at a
// time (issue 14, seventh pass: at 1,000 nodes a parse per decided batch was
// a third of a run). note() the keys a decided batch wrote; entries() reads
// those keys back from the store and rebuilds only the bases they touch.
class SliceIndex {
 public:
  void note(const std::string& key);
  const SliceEntries& entries(const CanonicalStore::Map& store);

 private:
  struct Parsed {
    std::string base;
    SliceEntries::Entry entry;
  };
  void forget(const std::string& key);
  void read(const CanonicalStore::Map& store, const std::string& key);

  bool built_ = false;
  std::set<std::string> dirty_keys_;
  std::set<std::string> dirty_bases_;
  std::map<std::string, Parsed> parsed_;                       // slices/ key -> its parse (Slice keys only)
  std::map<std::string, std::set<std::string>> keys_of_base_;  // base -> its keys, in key order
  SliceEntries out_;
};

// The same, with the world's liveness as of now already known, and the
// store's slice entries and desired state (what desired_state gives for
// rules.history, or for the store without one) when the caller keeps them
// (nullptr: computed here).
ConvergenceState evaluate_convergence(const CanonicalStore::Map& store, const WorldQueries& world,
                                      const ConvergenceRules& rules, const Liveness& live,
                                      const SliceEntries* slices = nullptr,
                                      const DesiredState* known_desired = nullptr);

// For `expect instances`: live entries of `artifact` in the canonical store
// (any node) and counted instances (ACTIVE key on a live node whose slice
// store has it active).
struct InstanceTally {
  int total = 0;        // live entries
  int on_up_nodes = 0;  // live entries on nodes that are up (`at_most`: a crashed node runs nothing)
  int active = 0;       // counted instances
};
InstanceTally tally_instances(const CanonicalStore::Map& store, const WorldQueries& world,
                              const Liveness& live, const std::string& artifact);

// For `expect leader`: every live node believes `node`, which is live with its
// CDM Active. Empty string when it holds, else why not.
// `history`: where given, a node's belief is its latest applied `leader` entry.
std::string leader_mismatch(const WorldQueries& world, const Liveness& live, const NodeId& node,
                            const ConvergenceHistory* history = nullptr);

}  // namespace aether::properties
