// Drain (engine-semantics.md §8.2): which entry of a DRAINING node the CDM
// may evict now, which ones wait ("drain blocked"), and when the node is
// empty enough to be written DECOMMISSIONED. Pure: the CDM gathers plain
// facts from its slice table and view and turns the plan into commands.
// Unit-tested without the simulator (tests/engine/drain_test.cc).
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "engine/cdm_commands.h"
#include "engine/cdm_facts.h"
#include "engine/cdm_writer.h"
#include "engine/time.h"

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

// The rule's view of the entry of `artifact` on `node` (which must be in the
// table): its state, and the facts about X (owed count over the eligible
// nodes, ACTIVE and live entries elsewhere, counted conservatively: live both
// in the table and in the store).
Entry entry_of(const CdmFacts& facts, const std::string& artifact, const NodeId& node);
// Every entry on `node` (any state), sorted by artifact.
std::vector<Entry> entries_on(const CdmFacts& facts, const NodeId& node);
// plan_node for a DRAINING node's `entries` (make-before-break unless its
// mutation point is on); `empty` as for plan_node.
Plan plan_for(const CdmFacts& facts, const std::vector<Entry>& entries, bool empty);

// Submit-time re-checks (CdmWriter hooks), against the state applied now: a
// LOAD only to a node still ON_DUTY; an eviction only while the node is
// DRAINING (else it is an ordinary UNLOAD), its entry is there, no other
// entry of the node is UNLOAD/UNLOADING in the store and `may_evict` holds.
bool command_allowed(const CdmFacts& facts, const SliceCommand& command);
// A DECOMMISSIONED put: the node is still DRAINING with no entry in the table
// and (`store_empty`) no `slices/{node}/*` key.
bool decommission_allowed(const CdmFacts& facts, const NodeId& node, bool store_empty);

// The nodes a reconcile's drain step visits, in node order, with their
// state: those whose node-lifecycle value is DRAINING or DECOMMISSIONED
// (the step skips every other node), read from the list NodeLifecycleValues
// remembers between writes instead of parsing every node's value on each
// reconcile (issue 14, sixth pass). Random test against the plain walk in
// tests/engine/drain_test.cc.
std::vector<std::pair<NodeId, NodeLifecycle>> nodes_to_drain(const NodeLifecycles& lifecycles);

// What a leader keeps while draining: the (node, artifact) pairs logged as
// blocked (logged once each), and when DECOMMISSIONED was last sent per node.
struct Progress {
  std::set<std::pair<NodeId, std::string>> blocked;
  std::map<NodeId, Nanos> decommission_sent;

  // DECOMMISSIONED may be (re)sent: never sent, or write_timeout ago.
  bool decommission_due(const NodeId& node, Nanos now, Nanos write_timeout) const;
  // First time `artifact` is blocked on `node`.
  bool note_blocked(const NodeId& node, const std::string& artifact) {
    return blocked.insert({node, artifact}).second;
  }
  // Forget blocked entries of nodes no longer DRAINING or no longer live there.
  void prune(const CdmFacts& facts);

  // A reconcile's drain step, through the CDM's output: entries of a
  // DECOMMISSIONED node are unloaded like orphans; each DRAINING node gets
  // its plan (one eviction, or an excluded artifact unloaded; blocked
  // entries logged once; DECOMMISSIONED once empty, re-sent after
  // write_timeout until applied).
  void drain_nodes(const CdmFacts& facts, CdmCommands& out);

 private:
  void apply(const NodeId& node, const Plan& plan, CdmCommands& out);
};

}  // namespace aether::engine::drain
