// Drain (engine-semantics.md §8.2): which entry of a DRAINING node the CDM
// may evict now, which ones wait ("drain blocked"), and when the node is
// empty enough to be written DECOMMISSIONED. Pure: the CDM gathers plain
// facts from its slice table and view and turns the plan into commands.
// Unit-tested without the simulator (tests/engine/drain_test.cc).
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace aether::engine::drain {

// What the rule needs to know about the artifact X of one entry on the
// draining node.
struct ArtifactFacts {
  // The entry is of an owned base at its intended version (else it is an
  // orphan or a version change, handled by reconcile, not an eviction).
  bool owned_current = false;
  bool excluded = false;       // permanently failed (or depending on one)
  int owed = 0;                // min(count, eligible nodes holding X or able to take one)
  int active_on_eligible = 0;  // X's ACTIVE entries (no command pending) on eligible nodes
  int other_active = 0;        // X's ACTIVE entries on other nodes (any node)
  int other_live = 0;          // X's live entries on other nodes (any node)
};

struct Entry {
  std::string artifact;
  bool live = false;       // effective state not FAILED, UNLOAD, UNLOADING
  bool active = false;     // observed ACTIVE
  bool unloading = false;  // effective or observed UNLOAD/UNLOADING: an eviction in progress
  ArtifactFacts facts;
};

// Whether an eviction of `entry` may be written (make-before-break, never the
// last ACTIVE entry while X has no other live entry). `make_before_break`
// false is the mutation point: only the last-ACTIVE rule is kept.
bool may_evict(const Entry& entry, bool make_before_break = true);

struct Plan {
  std::optional<std::string> evict;            // at most one eviction per node at a time
  std::optional<std::string> unload_excluded;  // an excluded artifact, unloaded without replacement
  std::vector<std::string> blocked;            // entries that must wait for a replacement
  bool decommission = false;                   // no entry remains: write DECOMMISSIONED
};

// `entries`: every entry on the node (any state), sorted by artifact; `empty`
// is true when the node has no `slices/{node}/*` key and no command pending.
Plan plan_node(const std::vector<Entry>& entries, bool empty, bool make_before_break = true);

}  // namespace aether::engine::drain
