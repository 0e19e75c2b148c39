#include "engine/cdm_rechecks.h"

#include <algorithm>

#include "engine/drain.h"
#include "engine/mutations.h"
#include "engine/placement_inputs.h"
#include "engine/resources.h"
#include "engine/rolling_update.h"

namespace aether::engine::recheck {

bool resend_still_wanted(const SliceTable& table, const SliceCommand& command) {
  // A re-send queued behind a batch that then failed (a write timeout due at
  // the same instant) must not go out after that batch reverted its intent.
  auto nodes = table.entries.find(command.artifact);
  if (nodes == table.entries.end()) return false;
  auto it = nodes->second.find(command.node);
  return it != nodes->second.end() && it->second.intent == command.state &&
         !answers(command.state, observed_state(it->second.observed));
}

bool activate_still_ready(const CdmFacts& facts, const SliceCommand& command) {
  if (facts.config.mutation(mutation::kActivateBeforeDependencies)) return true;
  const auto* desired = facts.state.desired_for(command.artifact);
  if (desired != nullptr && !facts.dependencies_ready(desired->depends_on)) return false;
  // The owner blueprint applied now may list other dependencies than the
  // desired state (its slice-target not back yet): they must be ready too
  // (simulation.md §5 dependency-order judges the applied blueprint's).
  const auto want = facts.state.wanted(base_of(command.artifact));
  return !want || want->artifact != command.artifact ||
         facts.state.ownership.rejected.count(want->owner) != 0 || facts.dependencies_ready(want->depends_on);
}

bool load_still_allowed(const CdmFacts& facts, const SliceCommand& command) {
  const Desired* desired = facts.state.desired_for(command.artifact);
  if (!desired || desired->artifact != command.artifact) return true;
  // What placement::add_request({command.node}) would say, read from that node's
  // live entries only (no copy of the whole table's placement inputs).
  if (!placement::any_placement_constraint(facts.state)) {
    // No row adds resources or forbids a node, and the demand is none: only
    // the node's capacity is read (fits over nothing used).
    return facts.config.mutation(mutation::kIgnoreCapacity) ||
           fits(facts.topology.attributes(command.node).capacity, Resources{}, Resources{});
  }
  const auto rows = placement::live_rows(facts, &command.node);
  std::map<NodeId, placement::NodeInfo> nodes;
  auto& info = nodes[command.node];
  info.attributes = facts.topology.attributes(command.node);
  placement::add_used(nodes, rows);
  const Wanted mine = placement::placement_of(facts.state, command.artifact);
  const Resources demand = mine.resources;
  if (facts.table.live_at(command.artifact, command.node)) {  // its own intent: not counted twice
    info.used.cpu -= demand.cpu;
    info.used.memory -= demand.memory;
  }
  if (placement::forbidden_for(facts, command.artifact, mine, rows).count(command.node)) return false;
  return facts.config.mutation(mutation::kIgnoreCapacity) ||
         fits(info.attributes.capacity, info.used, demand);
}

bool unload_still_wanted(const CdmFacts& facts, const SliceCommand& command,
                         const std::function<bool(const NodeId&, const std::string&)>& load_queued) {
  const Desired* desired = facts.state.desired_for(command.artifact);
  const bool intended = desired != nullptr && desired->artifact == command.artifact;
  // A removal, an orphan's or a version change's UNLOAD: dropped if the artifact is
  // desired again (its blueprint put back while the batch waited), by the
  // ownership rule in the state applied now (the owner's slice-target may
  // not have been rewritten yet). Also dropped if the base's owner now rolls
  // its updates: its old versions go under the rolling floor (§8.4), by the
  // rolling plan of the reconcile the drop schedules, not at once.
  if (command.why == UnloadWhy::Removal) {
    if (intended) return false;
    const auto want = facts.state.wanted(base_of(command.artifact));
    return !want || (want->artifact != command.artifact && !want->update.rolling);
  }
  // The floor, in the state applied now and the current view.
  // A blueprint put after the slice-target is the newer intent (§4): its
  // min_available counts before its own slice-target comes back (the
  // in-memory desired state changes only then), so the larger floor holds.
  const std::string base = base_of(command.artifact);
  const auto want = facts.state.wanted(base);
  int floor = 0;
  if (intended) {
    floor = desired->min_instances;
    if (want && want->artifact == command.artifact && !facts.target_is_newer(base, want->owner))
      floor = std::max(floor, want->min_available);
  } else {
    // A scale-down whose artifact is no longer intended is a removal or a
    // version change now: still wanted, unless the blueprint applied now
    // deploys it again (removed and put back while the batch waited; the
    // desired state comes back only with its slice-target): its floor holds.
    if (!want || want->artifact != command.artifact) return true;
    floor = want->min_available;
  }
  auto nodes = facts.table.entries.find(command.artifact);
  if (nodes == facts.table.entries.end()) return floor <= 0;
  const auto& view = facts.topology.view();
  // A LOAD still queued behind this batch does not count: this UNLOAD
  // commits before it (and the LOAD may yet be dropped at its own submit).
  int live = 0;
  for (const auto& [node, entry] : nodes->second) {
    // The victim itself never counts: its UNLOAD intent may have been
    // reverted meanwhile (an earlier UNLOAD of the key dropped at submit).
    if (node == command.node || !entry.counts_for_scale() || !facts.counts_for_scale(node, view)) continue;
    if (entry.intent == SliceState::Load && load_queued(node, command.artifact)) continue;
    ++live;
  }
  if (live < floor) return false;
  // An ACTIVE victim (it was not ACTIVE when chosen, or others stopped being
  // ACTIVE since): the ACTIVE entries left must stay at the floor.
  auto victim = nodes->second.find(command.node);
  if (victim == nodes->second.end() || !victim->second.observed ||
      victim->second.observed->state != SliceState::Active)
    return true;
  int active_left = 0;
  for (const auto& [node, entry] : nodes->second) {
    if (node == command.node || entry.intent == SliceState::Unload) continue;
    if (entry.observed && entry.observed->state == SliceState::Active && facts.counts_for_scale(node, view))
      ++active_left;
  }
  return active_left >= floor;
}

bool drain_allows(const CdmFacts& facts, const SliceCommand& command) {
  return drain::command_allowed(facts, command);
}

bool decommission_allowed(const CdmFacts& facts, const NodeId& node, bool store_empty) {
  return drain::decommission_allowed(facts, node, store_empty);
}

bool unload_keeps_rolling_floor(const CdmFacts& facts, const SliceCommand& command, bool routing_applied,
                                const std::optional<std::string>& applied_value) {
  return rolling::unload_allowed(facts, command, routing_applied, applied_value);
}

std::optional<SliceTarget> rederived_target(const CdmFacts& facts, const std::string& base,
                                            const SliceTarget& queued) {
  if (facts.config.mutation(mutation::kStaleTargetWrites)) return queued;
  auto owner = facts.state.ownership.owner(base);
  if (!owner || facts.state.ownership.rejected.count(*owner) != 0) return std::nullopt;
  const auto& blueprint = facts.state.blueprints.at(*owner);
  if (!blueprint) return std::nullopt;
  const auto* slice = blueprint->find(*parse_artifact_base(base));
  if (slice == nullptr) return std::nullopt;
  const bool failed = queued.failed;
  auto desired = facts.state.desired.find(base);
  if (failed && (desired == facts.state.desired.end() || !desired->second.failed)) return std::nullopt;
  SliceTarget fresh{slice->artifact.version, slice->instances, slice->min_available, *owner, failed};
  auto applied = facts.state.targets.find(base);
  const bool matching = applied != facts.state.targets.end() && applied->second.owner == *owner &&
                        applied->second.version == fresh.version;
  if (matching) {
    if (facts.target_is_newer(base, *owner)) {
      fresh.instances = applied->second.instances;
      fresh.min_instances = applied->second.min_instances;
    }
    // An unchanged value is still written: its echo is what installs the
    // blueprint's new dependencies (on_target_put).
  }
  return fresh;
}

bool target_remove_still_wanted(const CdmFacts& facts, const TargetRemove& remove) {
  return !facts.state.ownership.owner(remove.base);
}

}  // namespace aether::engine::recheck
