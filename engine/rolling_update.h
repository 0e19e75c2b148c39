// Rolling updates (engine-semantics.md §8.4): what the CDM does next for a
// base whose slice rolls from one version to another. Pure planning over
// plain inputs, unit-tested without the simulator
// (tests/engine/rolling_update_test.cc); the CDM turns the plan into LOAD and
// UNLOAD commands and keeps `version-routing/{base}`.
#pragma once

#include <string>
#include <vector>

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

}  // namespace aether::engine::rolling
