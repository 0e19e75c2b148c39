// Generated scenarios (product.md "Exploring", issue 11): rapidcheck
// generators that draw whole scenarios::Scenario values (so every case can be
// written as a file with the scenario writer and replayed by `aethersim run`).
// The property tests and `aethersim fuzz` use the same generators.
//
// Replay from a seed alone: generate_case(profile, seed) runs the profile's
// rc::Gen with rc::Random(case_key(profile, seed)) at rapidcheck's nominal
// size (100); the run seed of the scenario is `seed` itself. Same binary,
// profile and seed = same scenario, byte for byte.
//
// Shrinking: the step list is a rapidcheck container of raw draws (kind, gap,
// parameters) interpreted against the world the earlier steps leave behind, so
// rapidcheck can drop any step and shrink every number towards the simplest
// value (the first kind, the shortest gap, the smallest count) without
// producing invalid targets or no-op steps.
//
// Adding a step kind: one StepKind value, its name in kStepKinds, its weight
// in the profiles that use it, and one case in Generator::emit (scenario_gen.cc).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <rapidcheck.h>

#include "scenarios/model.h"

namespace aether::properties::gen {

enum class StepKind : std::uint8_t {
  Crash,
  Restart,
  Pause,  // pause then resume: shorter or longer than failure detection
  AddNode,
  RemoveNode,
  Partition,      // two groups
  PartitionMany,  // three or more groups
  Bridge,         // two overlapping groups (a bridge node)
  Isolate,
  Link,  // one-way loss and/or delay
  HealAll,
  HealNode,
  Network,        // latency, drop, duplicate changes
  SliceFailures,  // per phase, transient and fatal rates
  BlueprintEdit,  // new slice, new version, new counts (any client)
  BlueprintRemove,
  Scale,           // the `scale` step (0 included)
  RawSliceTarget,  // kv_put slice-target/{base}, min_instances may exceed instances
  RawMalformed,    // kv_put of malformed values (slices, blueprints, leader)
  RawCommand,      // kv_put of an injected slices/* command by a client
  RawRemove,       // kv_remove of leader or a slices/* key
  RawLifecycle,    // kv_put node-lifecycle/{n}: DRAINING, JOINING, ON_DUTY
  ExpectNoViolations,
  LoseSubmits,    // lose_submits {node | "*", writer, rate}; bounded (cleared) in healing profiles
  ReorderQuorum,  // reorder_quorum_events {node | "*", rate}; bounded in healing profiles
  Stall,          // `network` stall on (and off: bounded in healing profiles)
  // Issue 15's features (engine-semantics.md §8); weight 0 in every profile but live and swarm.
  Drain,    // `drain` of a named ON_DUTY node in a calm world
  Undrain,  // `undrain` of a node an earlier `drain` step drained
  Rollout,  // a new version of one slice (rolling where the slice says so), or back to its previous one
  // Issue 12's episodes: a schedule drawn as a unit (faults in force cleared
  // first, then 15s of calm where it needs one); weight 0 but in live and swarm.
  RemovePutBack,     // CDM writes held (a lost submit); a blueprint removed and put back meanwhile
  ScaleDownLoss,     // CDM writes held; a scale-down to the floor, then a holder restarts (instance lost)
  QueuedEdits,       // CDM writes held; two edits of one blueprint's counts meanwhile
  EditRace,          // two clients edit one blueprint's counts 1ms apart
  QuorumFlap,        // quorum events reordered; the leader isolated just long enough to lose quorum, healed
  AtomicFailover,    // an edit making a blueprint all-or-nothing, the leader crashes while it is in flight
  OwnershipClaim,    // a blueprint whose id sorts first claims a base an earlier-decided blueprint holds
  DepartedNode,      // no node has quorum (every node cut off); a node is removed meanwhile; heal
  InjectedCommands,  // a client writes a LOAD on three nodes, 10s later an UNLOAD on one
  DependencyPaused,  // a one-instance dependency; the leader and a minority paused; a dependant added
};

struct StepKindInfo {
  StepKind kind;
  const char* name;
};
const std::vector<StepKindInfo>& step_kinds();

// What a profile turns on. Percentages are 0..100; weight 0 = kind off.
struct Knobs {
  int min_nodes = 3;
  int max_nodes = 7;
  int big_cluster_pct = 10;  // chance of 10 or 11 nodes (node-10 sorts before node-2)
  int max_blueprints = 2;
  int max_clients = 1;  // clients "default", "alice", "bob"
  int max_steps = 12;
  int early_faults_pct = 30;  // first fault during the initial allocation (< 10s)
  int local_election_pct = 0;
  int event_driven_pct = 0;             // reconciliation_interval 1h
  int default_interval_pct = 20;        // reconciliation_interval absent (30s)
  int slow_slices_pct = 15;             // loads/unloads of seconds to tens of seconds
  int leader_target_pct = 30;           // node faults aimed at "leader" / "random" when that is safe
  int intensity = 50;                   // scales rates (drop, loss, failures): 1..100
  bool heal_at_end = true;              // everything healed at the end: convergence owed
  bool expect_converged_at_end = true;  // an explicit `expect converged` at the final heal (sometimes)
  int shared_base_pct = 25;             // a later blueprint lists the first one's base (ownership conflict)
  int zero_scale_pct = 15;              // share of `scale` steps to 0
  int leave_crashed_pct = 20;           // a crashed node left down at the end (a majority up)
  // The hostile world (simulation.md §3a): the chance of each cluster key
  // (ranged failure_detection, late_commit, restore_lag, clock_drift; stall
  // at half of it). Healing profiles turn a cluster stall off at the end.
  int hostile_pct = 20;
  int via_pct = 10;         // share of client writes pinned `via` a node (a minority one under a cut)
  int client_via_pct = 15;  // chance that client "alice" has a top-level `via` (clients with max_clients > 1)
  int tight_expect_pct =
      40;  // tight expectations (`at_most`, `writes`) where a correct engine must meet them
  // Issue 15's features and the schedules of issue 12's hardest mutation
  // points; 0 (off, no draw taken) in every profile but live and swarm, so
  // the other profiles' cases stay what they were.
  int placement_pct = 0;       // zones, capacity and resources, anti_affinity, spread, allocation strategy
  int atomic_pct = 0;          // per blueprint: `atomicity: all-or-nothing`
  int rolling_pct = 0;         // per slice: a rolling `update` (max_surge 1-2, max_unavailable 0-1)
  int failover_pct = 0;        // an edit of an all-or-nothing or rolling blueprint, then the leader crashes
  int lost_proposals_pct = 0;  // every leader-manager submit lost from 0s to 1-5s (proposals retried)
  int sporadic_pct = 0;        // one slice key overwritten with garbage six times, 20-30s apart
  int republish_pct = 0;       // blueprints republished unchanged inside the initial `at_most` window
  std::map<StepKind, int> weights;
};

struct ProfileInfo {
  std::string name;
  std::string summary;  // one line for `aethersim list profiles`
};
const std::vector<ProfileInfo>& profiles();
bool is_profile(const std::string& name);

struct GeneratedCase {
  scenarios::Scenario scenario;
  std::string draw;  // swarm: which fault kinds are on and how hard; "" otherwise
};

// The generator of a profile (throws std::invalid_argument for an unknown one).
rc::Gen<GeneratedCase> case_gen(const std::string& profile);

// The knobs of a fixed profile (every profile but swarm, which draws its own);
// tests derive narrower generators from them.
std::optional<Knobs> profile_knobs(const std::string& profile);
rc::Gen<GeneratedCase> case_gen(const Knobs& knobs);

// The rapidcheck key of (profile, seed): a hash of both.
std::uint64_t case_key(const std::string& profile, std::uint64_t seed);

// The case of (profile, seed); its scenario carries seed = seed.
GeneratedCase generate_case(const std::string& profile, std::uint64_t seed);

}  // namespace aether::properties::gen
