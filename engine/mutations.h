// Named mutation points: deliberate bug variants of the engine, switched on by
// name through EngineConfig::mutations, so that tests (and later
// fuzzing) can show that the checks catch each one. Off by default; a disabled point
// costs one empty-set test.
#pragma once

#include <string>
#include <vector>

namespace aether::engine {

struct MutationDoc {
  std::string name;
  std::string description;
};

// Every mutation point, sorted by name.
const std::vector<MutationDoc>& mutation_points();

bool is_known_mutation(const std::string& name);

namespace mutation {
inline constexpr const char* kAllocateAtBlueprintPut = "cdm-allocate-at-blueprint-put";
inline constexpr const char* kSkipScaleDownFloor = "cdm-skip-scale-down-floor";
inline constexpr const char* kActivateBeforeDependencies = "cdm-activate-before-dependencies";
inline constexpr const char* kUnserializedWrites = "cdm-unserialized-writes";
inline constexpr const char* kNdmReloadHeld = "ndm-reload-held-artifact";
inline constexpr const char* kIgnoreEligibility = "cdm-place-on-ineligible-nodes";
inline constexpr const char* kStaleTargetWrites = "cdm-stale-target-writes";
inline constexpr const char* kDeposedLeaderKeepsActing = "lm-deposed-leader-keeps-acting";
inline constexpr const char* kTargetWinsAtActivation = "cdm-target-wins-over-newer-blueprint";
inline constexpr const char* kDependencyOutOfView = "cdm-dependency-ready-out-of-view";
inline constexpr const char* kIgnoreAntiAffinity = "cdm-placement-ignores-anti-affinity";
inline constexpr const char* kIgnoreCapacity = "cdm-placement-ignores-capacity";
inline constexpr const char* kEchoCountsAsIntent = "cdm-echo-counts-as-intent";
// Issue 12: one or more per component that had none.
inline constexpr const char* kStaleQuorumEvents = "lm-acts-on-stale-quorum-events";
inline constexpr const char* kNoProposeRetry = "lm-no-propose-retry";
inline constexpr const char* kTimersSurviveDeactivation = "cdm-timers-survive-deactivation";
inline constexpr const char* kTransientCountSurvivesActive = "cdm-transient-count-survives-active";
inline constexpr const char* kDepartedNodeKeysKept = "cdm-departed-node-keys-kept";
inline constexpr const char* kOwnershipByIdOrder = "cdm-ownership-by-id-order";
inline constexpr const char* kNoCommandResend = "cdm-no-command-resend";
inline constexpr const char* kNdmSkipsLegalityRecheck = "ndm-skips-legality-recheck";
inline constexpr const char* kNdmSkipsStoreReconcileOnRegain = "ndm-skips-store-reconcile-on-regain";
inline constexpr const char* kDrainBreakBeforeMake = "cdm-drain-unload-before-replacement-active";
inline constexpr const char* kRollbackForgottenAfterFailover = "cdm-rollback-forgotten-after-failover";
inline constexpr const char* kRollingIgnoresMaxUnavailable = "cdm-rolling-ignores-max-unavailable";
inline constexpr const char* kScaleCountsOutOfView = "cdm-scale-counts-out-of-view";
inline constexpr const char* kSkipScaleDownRecheck = "cdm-skip-scale-down-recheck";
inline constexpr const char* kSkipRemovalRecheck = "cdm-skip-removal-recheck";
}  // namespace mutation

}  // namespace aether::engine
