// Desired-state sync (engine-semantics.md §4 "every reconcile rewrites a
// missing or mismatching owned slice-target"): what the CDM writes so that
// each owned base has its owner's slice-target, with the CDM's failed flag,
// and no slice-target is left without an owner. Pure over a CdmFacts; the
// CDM executes the actions in order. Unit-tested with fake inputs
// (tests/engine/target_sync_test.cc).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "engine/cdm_facts.h"

namespace aether::engine {

struct TargetSyncAction {
  enum class Kind {
    FromBlueprint,  // write the slice-target the owner blueprint calls for (missing, mismatching, stale
                    // counts)
    AdoptRejected,  // a rejected owner keeps its slice-target: desired state from `target`
    FixFailedFlag,  // rewrite `target` (the committed one with the CDM's failed flag)
    Remove,         // remove the slice-target of a base without an owner
  };
  Kind kind = Kind::FromBlueprint;
  std::string base;
  SliceTarget target{};
};

// In base order, owned bases first, then unowned slice-targets; bases with a
// slice-target write queued or in flight (`pending`) are left alone.
std::vector<TargetSyncAction> plan_target_sync(const CdmFacts& facts,
                                               const std::function<bool(const std::string&)>& pending);

// What a committed slice-target/{base} = `target` calls for (ownership
// already recomputed with it): NoOwner (forget the base, remove the
// target), Nothing (its owner wants nothing of it), Rewrite (another owner or
// version, or the CDM's own echo of a blueprint value replaced since: write
// it from the blueprint), Adopt (its counts are desired).
enum class TargetPutAction { NoOwner, Nothing, Rewrite, Adopt };
TargetPutAction on_target_put(const CdmFacts& facts, const std::string& base, const SliceTarget& target);

}  // namespace aether::engine
