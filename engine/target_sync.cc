#include "engine/target_sync.h"

#include "engine/sorted_merge.h"

namespace aether::engine {

namespace {

// An accepted owner's blueprint put after its committed slice-target is the
// newer intent (§4): counts that differ from it are behind (the CDM's own
// echo of an older value, or its rewrite lost or timed out). The counts are
// compared first: all three terms are pure, so the order changes no answer,
// and target_is_newer (two position lookups) is left out of the common case
// where the counts agree (issue 14, seventh pass).
bool counts_behind_blueprint(const CdmFacts& facts, const std::string& base, const std::string& owner,
                             const SliceTarget& target, const WantedRef& want) {
  return (target.instances != want.instances || target.min_instances != want.min_available) &&
         facts.state.ownership.rejected.count(owner) == 0 && !facts.target_is_newer(base, owner);
}

}  // namespace

std::vector<TargetSyncAction> plan_target_sync(const CdmFacts& facts,
                                               const std::function<bool(const std::string&)>& pending) {
  using Kind = TargetSyncAction::Kind;
  std::vector<TargetSyncAction> out;
  const DesiredState& state = facts.state;
  // targets and desired are keyed by base like owner_of: each is walked in
  // step with it (the same entries as a find per base, issue 14).
  auto next_target = state.targets.begin();
  auto next_desired = state.desired.begin();
  // The owner's blueprint and rejection, looked up once per run of bases
  // with the same owner (wanted_ref's four-argument form; nothing here
  // changes the state).
  const std::string* last_owner = nullptr;
  const Blueprint* blueprint = nullptr;
  bool rejected = false;
  for (const auto& [base, owner] : state.ownership.owner_of) {
    if (pending(base)) continue;
    if (last_owner == nullptr || *last_owner != owner) {
      last_owner = &owner;
      auto found = state.blueprints.find(owner);
      blueprint = found != state.blueprints.end() && found->second ? &*found->second : nullptr;
      rejected = state.ownership.rejected.count(owner) != 0;
    }
    const auto want = state.wanted_ref(base, owner, blueprint, rejected);
    if (!want) continue;
    auto target = merge_find(next_target, state.targets, base);
    if (target == state.targets.end() || target->second.owner != owner ||
        target->second.version != *want->version) {
      out.push_back({Kind::FromBlueprint, base});
      continue;
    }
    // Owned with a matching slice-target, yet no desired state: a removal
    // forgot it and its Remove was dropped at submit (the blueprint came
    // back) while the put-back's own write did not commit. Written again
    // (re-derived at submit), its commit restores the desired state.
    auto known = merge_find(next_desired, state.desired, base);
    if (known == state.desired.end()) {
      // A rejected owner keeps what its slice-target records (§4): nothing
      // to write; the desired state comes from that slice-target as its
      // commit would have set it.
      out.push_back({!rejected ? Kind::FromBlueprint : Kind::AdoptRejected, base, target->second});
      continue;
    }
    // Counts behind a newer owner blueprint: the CDM's own rewrite was lost
    // or timed out (its echo would have brought them). Written again.
    if (counts_behind_blueprint(facts, base, owner, target->second, *want)) {
      out.push_back({Kind::FromBlueprint, base});
      continue;
    }
    // A committed flag that disagrees with the CDM's (a client write).
    if (want->is_artifact(base, known->second.artifact) && known->second.failed != target->second.failed) {
      SliceTarget fixed = target->second;
      fixed.failed = known->second.failed;
      out.push_back({Kind::FixFailedFlag, base, fixed});
    }
  }
  // owner_of is walked in step with targets (both by base): the same answer
  // as a find per base.
  auto next_owner = state.ownership.owner_of.begin();
  const auto key_of = [](const auto& entry) -> const std::string& { return entry.first; };
  for (const auto& [base, target] : state.targets) {
    if (!merge_has(next_owner, state.ownership.owner_of.end(), base, key_of) && !pending(base))
      out.push_back({Kind::Remove, base});
  }
  return out;
}

TargetPutAction on_target_put(const CdmFacts& facts, const std::string& base, const SliceTarget& target) {
  const DesiredState& state = facts.state;
  auto owner = state.ownership.owner(base);
  if (!owner) return TargetPutAction::NoOwner;
  const auto want = state.wanted_ref(base);
  if (!want) return TargetPutAction::Nothing;
  if (*owner != target.owner || *want->version != target.version) return TargetPutAction::Rewrite;
  // Its own echo derived from a blueprint value replaced since.
  if (counts_behind_blueprint(facts, base, *owner, target, *want)) return TargetPutAction::Rewrite;
  return TargetPutAction::Adopt;
}

}  // namespace aether::engine
