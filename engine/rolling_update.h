// Rolling updates (engine-semantics.md §8.4): what the CDM does next for a
// base whose slice rolls from one version to another. Pure planning over
// plain inputs, unit-tested without the simulator
// (tests/engine/rolling_update_test.cc); the CDM turns the plan into LOAD and
// UNLOAD commands and keeps `version-routing/{base}`.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "engine/cdm_facts.h"
#include "engine/cdm_writer.h"
#include "engine/kv_schema.h"
#include "engine/topology.h"

namespace aether::engine::rolling {

// A live entry of another version of the base than the one rolled out.
struct OldEntry {
  std::string artifact;
  NodeId node;
  bool active = false;  // settled ACTIVE on a node in the leader's view
};

struct Input {
  int desired = 0;          // the slice-target's count
  int max_surge = 1;        // new-version instances loaded beyond the desired count
  int max_unavailable = 0;  // ACTIVE over both versions may go this far below desired
  int new_live = 0;         // live entries of the new version (counted for scale)
  int active = 0;           // settled ACTIVE entries over all versions on nodes in the view
  std::vector<OldEntry> old;
  bool ignore_max_unavailable = false;  // mutation point
};

struct Plan {
  int load = 0;                  // new-version instances to place
  std::vector<OldEntry> unload;  // old entries to UNLOAD, in order
};

// Loads new-version instances while the live entries over both versions stay
// within desired + max_surge (and the new version within desired); UNLOADs
// old entries that are not ACTIVE at once, and ACTIVE ones only while ACTIVE
// over both versions stays at least desired - max_unavailable afterwards
// (so never below min(desired - max_unavailable, ACTIVE before)). ACTIVE old
// entries go last node first, as scale-down victims do.
Plan plan(const Input& input);

// Whether an UNLOAD of an ACTIVE entry may be submitted when `active_after`
// settled ACTIVE entries (over both versions, every pending UNLOAD excluded)
// remain: the submit-time re-check of the same floor.
bool unload_keeps_floor(int active_after, int desired, int max_unavailable);

// ---------------------------------------------------------------------------
// What the CDM reads for a rolling base, over a CdmFacts.

// Whether `base` rolls (its desired slice's update policy).
bool rolls(const DesiredState& state, const std::string& base);
// It rolls and still has live entries of another version than the desired one.
bool in_progress(const CdmFacts& facts, const std::string& base);
// Settled ACTIVE entries over every version of `base` on nodes in the view.
int active_over_versions(const CdmFacts& facts, const std::string& base);
// The fewest ACTIVE entries over both versions an UNLOAD may leave: desired
// - max_unavailable, taking the larger count and the smaller
// max_unavailable of the committed slice-target and an owner blueprint put
// after it (its target not yet back), so that neither reading is undercut.
int active_floor(const CdmFacts& facts, const Desired& desired, const std::string& base);
// The plan's input for `base` rolling to `desired` (the mutation point that
// ignores max_unavailable included).
Input input_for(const CdmFacts& facts, const std::string& base, const Desired& desired);

// version-routing/{base} to write with a slice-target Put of `target` (a
// rolling slice changing version while entries of another version exist);
// `applied`: the applied routing value, if any and parseable. nullopt:
// nothing to write.
std::optional<VersionRouting> routing_for_target(const CdmFacts& facts, const std::string& base,
                                                 const SliceTarget& target,
                                                 const std::optional<VersionRouting>& applied);
// What a reconcile does to version-routing/{base} (`stored`: the applied
// raw value, if any): removed when no entry of another version remains or the
// base has no owner; rewritten when missing or naming another target.
struct RoutingSync {
  enum class Action { None, Put, Remove } action = Action::None;
  VersionRouting routing{};
};
RoutingSync sync_routing(const CdmFacts& facts, const std::string& base,
                         const std::optional<std::string>& stored);

// The writer's re-check of an UNLOAD of an entry of a rolling base
// (CdmWriter hook): `routing_applied` whether version-routing/{base} is
// applied, `applied_value` the applied slices/{node}/{artifact} value. Only an
// UNLOAD of an entry ACTIVE there, on a node in the view, must keep ACTIVE over
// both versions at the floor.
bool unload_allowed(const CdmFacts& facts, const SliceCommand& command, bool routing_applied,
                    const std::optional<std::string>& applied_value);

}  // namespace aether::engine::rolling
