// The CdmWriter's submit-time re-checks (engine-semantics.md §4 "Own writes
// are serialized", §8.1-8.4): a decision may wait in the serialized queue
// while the state it was made on changes, so each command is re-checked at
// submit against the state applied then and the current view, and dropped
// (like an overtaken command) when its reason no longer holds. One pure
// function per hook, each reading only a CdmFacts and what the caller read
// from the local KV; they are separate rules and stay separate (merging two
// would change which commands go out). The KeyWrite re-check of the
// all-or-nothing records lives with their state (AllOrNothing::recheck).
// Unit-tested with fake inputs (tests/engine/cdm_rechecks_test.cc).
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "engine/cdm_facts.h"
#include "engine/cdm_writer.h"

namespace aether::engine::recheck {

// A re-send that waited in the queue: its intent is still recorded and
// unanswered (a batch that failed meanwhile reverted it).
bool resend_still_wanted(const SliceTable& table, const SliceCommand& command);
// An ACTIVATE: its dependencies are still ready, and so are those the owner
// blueprint applied now lists (its slice-target may not be back yet).
bool activate_still_ready(const CdmFacts& facts, const SliceCommand& command);
// A LOAD: anti-affinity and capacity still allow it on its node (§8.1).
bool load_still_allowed(const CdmFacts& facts, const SliceCommand& command);
// A scale-down or removal UNLOAD: a removal only while the artifact is not
// desired again; a scale-down only while live and ACTIVE entries stay at the
// floor (the larger min_available of target and newer blueprint).
// `load_queued(node, artifact)`: a LOAD waiting in a batch not yet submitted
// (it commits after this UNLOAD, if at all: not counted live).
bool unload_still_wanted(const CdmFacts& facts, const SliceCommand& command,
                         const std::function<bool(const NodeId&, const std::string&)>& load_queued);
// A LOAD goes only to a node still ON_DUTY; an eviction only while the drain
// rule allows it (§8.2).
bool drain_allows(const CdmFacts& facts, const SliceCommand& command);
// A DECOMMISSIONED put: still DRAINING, no entry, no key (`store_empty`).
bool decommission_allowed(const CdmFacts& facts, const NodeId& node, bool store_empty);
// An UNLOAD of an entry of a rolling base keeps ACTIVE over both versions at
// the floor (§8.4); `routing_applied`: version-routing/{base} is applied;
// `applied_value`: the applied slices/{node}/{artifact} value.
bool unload_keeps_rolling_floor(const CdmFacts& facts, const SliceCommand& command, bool routing_applied,
                                const std::optional<std::string>& applied_value);
// A queued slice-target Put, re-derived from the owner blueprint applied
// now; nullopt: nothing to write (no owner, a rejected owner, or a failed
// mark cleared since).
std::optional<SliceTarget> rederived_target(const CdmFacts& facts, const std::string& base,
                                            const SliceTarget& queued);
// A queued slice-target Remove: the base is still without an owner.
bool target_remove_still_wanted(const CdmFacts& facts, const TargetRemove& remove);

}  // namespace aether::engine::recheck
