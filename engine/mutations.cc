#include "engine/mutations.h"

#include <algorithm>

namespace aether::engine {

const std::vector<MutationDoc>& mutation_points() {
  static const std::vector<MutationDoc> points = [] {
    std::vector<MutationDoc> list = {
        {mutation::kAllocateAtBlueprintPut,
         "CDM allocates when a blueprint is put as well as when its slice-target commits (doubles "
         "instances)"},
        {mutation::kSkipScaleDownFloor, "CDM scales down below the slice-target's min_instances"},
        {mutation::kActivateBeforeDependencies,
         "CDM writes ACTIVATE for LOADED entries before dependencies are ACTIVE"},
        {mutation::kUnserializedWrites,
         "CDM submits each batch at once instead of after the previous one completed"},
        {mutation::kNdmReloadHeld, "NDM loads an artifact its slice store already holds"},
        {mutation::kIgnoreEligibility, "CDM places instances on nodes that are not ON_DUTY"},
        {mutation::kDeposedLeaderKeepsActing,
         "a leader that applies a leader entry naming another node ignores it and keeps its CDM Active"},
        {mutation::kDependencyOutOfView,
         "CDM counts a dependency as ready on an ACTIVE entry of a node outside its view"},
        {mutation::kDrainBreakBeforeMake,
         "drain unloads the source before the replacement is ACTIVE (evicts without make-before-break)"},
        {mutation::kEchoCountsAsIntent,
         "CDM takes the echo of its own slice-target write, derived from a blueprint value replaced since, "
         "as a newer intent than that blueprint"},
        {mutation::kRollbackForgottenAfterFailover,
         "a new leader ignores rollback/{id}: an all-or-nothing put in flight at failover is never "
         "finished or rolled back (rollback forgets the previous value after failover)"},
        {mutation::kScaleCountsOutOfView,
         "CDM counts live entries on nodes outside its view (or DRAINING) for scale decisions"},
        {mutation::kSkipScaleDownRecheck,
         "CDM submits a queued scale-down UNLOAD without re-checking the floor in the state applied then"},
        {mutation::kSkipRemovalRecheck,
         "CDM submits a queued removal (UNLOADs, slice-target Removes) even after the base got an owner "
         "back"},
        {mutation::kTargetWinsAtActivation,
         "CDM takes a matching slice-target's counts even when the owner blueprint's value was decided "
         "after it (a client's edit lost across failover)"},
        {mutation::kIgnoreAntiAffinity,
         "CDM places an instance on a node holding a live entry of a base its slice is anti-affine to"},
        {mutation::kIgnoreCapacity,
         "CDM places an instance on a node whose capacity its resources do not fit"},
        {mutation::kRollingIgnoresMaxUnavailable,
         "rolling update ignores max_unavailable: the CDM unloads every old ACTIVE instance at once instead "
         "of keeping ACTIVE over both versions at desired - max_unavailable"},
        {mutation::kStaleTargetWrites,
         "CDM submits a queued slice-target write as derived when queued, not re-derived from the state "
         "applied at submit"},
        {mutation::kStaleQuorumEvents,
         "LeaderManager acts on quorum notifications that arrive out of order (no sequence check)"},
        {mutation::kNoProposeRetry,
         "LeaderManager proposes a leader once and never retries a proposal that did not commit"},
        {mutation::kTimersSurviveDeactivation,
         "a deactivated CDM keeps its timers running (periodic reconcile, re-sends) on its stale state"},
        {mutation::kTransientCountSurvivesActive,
         "CDM keeps counting transient failures across a committed ACTIVE (sporadic failures add up to "
         "fatal)"},
        {mutation::kDepartedNodeKeysKept,
         "CDM removes a node's keys only on its NodeDown event: never those of nodes that left while it did "
         "not "
         "lead (no activation re-check, no sweep)"},
        {mutation::kOwnershipByIdOrder,
         "CDM judges competing blueprints in id order instead of decided order"},
        {mutation::kNoCommandResend, "CDM never re-sends a command nobody answered (no re-send timer)"},
        {mutation::kNdmSkipsLegalityRecheck,
         "NDM submits a chain's write without re-checking it is a lifecycle edge from the state applied now"},
        {mutation::kNdmSkipsStoreReconcileOnRegain,
         "NDM re-registers after quorum is regained but does not reconcile its slice store with the restored "
         "keys"},
    };
    std::sort(list.begin(), list.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    return list;
  }();
  return points;
}

bool is_known_mutation(const std::string& name) {
  const auto& points = mutation_points();
  return std::any_of(points.begin(), points.end(), [&](const MutationDoc& doc) { return doc.name == name; });
}

}  // namespace aether::engine
