// Stuck and orphaned entries (engine-semantics.md §4, reconcile): which
// entries of the slice table a reconcile unloads or removes because no owner
// wants them (orphans; the old versions of a rolling slice are the update's),
// because they failed and their UNLOAD was lost, or because they have held a
// state past stuck_multiplier x its timeout; and which unparseable keys get
// their Remove again. Pure over a CdmFacts; unit-tested with fake inputs
// (tests/engine/stuck_orphans_test.cc).
#pragma once

#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "engine/cdm_facts.h"
#include "engine/cdm_writer.h"
#include "engine/time.h"

namespace aether::engine {

struct Cleanup {
  struct Unload {
    std::string artifact;
    NodeId node;
    UnloadWhy why = UnloadWhy::Other;
  };
  struct Stuck {
    std::string artifact;
    NodeId node;
    SliceState state = SliceState::Load;
  };
  // Unparseable keys whose Remove is issued again (write_timeout since the
  // last): the caller records `now` as the new attempt. They are in `remove` too.
  std::vector<std::pair<std::string, NodeId>> malformed_again;
  std::vector<Stuck> stuck;  // logged and counted, in table order
  std::vector<Unload> unload;
  std::vector<std::pair<std::string, NodeId>> remove;  // the key is removed
  // The plan is a function of the facts and `now`; with the same facts it
  // stays this plan for every instant before `steady_until` (the first
  // instant at which a time bound it reads passes: an unparseable key's
  // write timeout, an entry's stuck bound; the largest Nanos when none is
  // read). The CDM's reconcile early-out reads it.
  Nanos steady_until = std::numeric_limits<Nanos>::max();
};

Cleanup plan_cleanup(const CdmFacts& facts, Nanos now);

}  // namespace aether::engine
