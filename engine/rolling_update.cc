#include "engine/rolling_update.h"

#include <algorithm>

#include "engine/artifact.h"
#include "engine/mutations.h"

namespace aether::engine::rolling {

bool unload_keeps_floor(int active_after, int desired, int max_unavailable) {
  return active_after >= desired - max_unavailable;
}

Plan plan(const Input& input) {
  Plan out;
  std::vector<OldEntry> active;
  for (const auto& entry : input.old) {
    if (entry.active) {
      active.push_back(entry);
    } else {
      out.unload.push_back(entry);
    }
  }
  // Last node first (then the larger artifact string): the order scale-down uses.
  std::sort(active.begin(), active.end(), [](const OldEntry& a, const OldEntry& b) {
    return a.node != b.node ? a.node > b.node : a.artifact > b.artifact;
  });
  int remaining = input.active;
  for (const auto& entry : active) {
    if (!input.ignore_max_unavailable &&
        !unload_keeps_floor(remaining - 1, input.desired, input.max_unavailable))
      break;
    out.unload.push_back(entry);
    --remaining;
  }
  // What stays live after the UNLOADs: the surge allowance is over both versions.
  const int total_live = input.new_live + static_cast<int>(input.old.size() - out.unload.size());
  out.load =
      std::max(0, std::min(input.desired - input.new_live, input.desired + input.max_surge - total_live));
  return out;
}

bool rolls(const DesiredState& state, const std::string& base) {
  auto it = state.desired.find(base);
  return it != state.desired.end() && it->second.update.rolling;
}

bool in_progress(const CdmFacts& facts, const std::string& base) {
  auto it = facts.state.desired.find(base);
  if (it == facts.state.desired.end() || !it->second.update.rolling) return false;
  for (const auto& [artifact, nodes] : facts.table.entries) {
    if (artifact == it->second.artifact || base_of(artifact) != base) continue;
    for (const auto& [node, entry] : nodes) {
      if (entry.live()) return true;
    }
  }
  return false;
}

int active_over_versions(const CdmFacts& facts, const std::string& base) {
  int active = 0;
  const auto& view = facts.topology.view();
  for (const auto& [artifact, nodes] : facts.table.entries) {
    if (base_of(artifact) == base) active += facts.table.active_in(artifact, view);
  }
  return active;
}

int active_floor(const CdmFacts& facts, const Desired& desired, const std::string& base) {
  int instances = desired.count;
  int max_unavailable = desired.update.max_unavailable;
  // A blueprint put after the slice-target is the newer intent (§4): its
  // count holds before its own slice-target comes back. A slice-target put
  // after the blueprint wins, floor included.
  if (const auto want = facts.state.wanted_ref(base);
      want && want->update.rolling && !facts.target_is_newer(base, *want->owner)) {
    instances = std::max(instances, want->instances);
    max_unavailable = std::min(max_unavailable, want->update.max_unavailable);
  }
  return instances - max_unavailable;
}

Input input_for(const CdmFacts& facts, const std::string& base, const Desired& desired) {
  Input input;
  input.desired = desired.count;
  input.max_surge = desired.update.max_surge;
  // Expressed against desired: ACTIVE may go no lower than active_floor().
  input.max_unavailable = desired.count - active_floor(facts, desired, base);
  input.new_live = facts.live_count(desired.artifact);
  input.active = active_over_versions(facts, base);
  input.ignore_max_unavailable = facts.config.mutation(mutation::kRollingIgnoresMaxUnavailable);
  const auto& view = facts.topology.view();
  for (const auto& [artifact, nodes] : facts.table.entries) {
    if (artifact == desired.artifact || base_of(artifact) != base) continue;
    for (const auto& [node, entry] : nodes) {
      if (!entry.live()) continue;
      const bool active =
          entry.settled_in(SliceState::Active) && std::binary_search(view.begin(), view.end(), node);
      input.old.push_back(OldEntry{artifact, node, active});
    }
  }
  return input;
}

std::optional<VersionRouting> routing_for_target(const CdmFacts& facts, const std::string& base,
                                                 const SliceTarget& target,
                                                 const std::optional<VersionRouting>& applied) {
  const auto want = facts.state.wanted_ref(base);
  if (!want || !want->update.rolling || *want->version != target.version) return std::nullopt;
  std::optional<std::string> from;
  if (applied && applied->to != target.version) {
    from = applied->to;  // a retarget mid-update: the version being rolled out becomes the old one
  } else if (auto committed = facts.state.targets.find(base);
             committed != facts.state.targets.end() && committed->second.version != target.version) {
    from = committed->second.version;
  }
  if (!from) return std::nullopt;
  bool others = false;  // entries of another version than the new target's
  for (const auto& [artifact, nodes] : facts.table.entries) {
    if (base_of(artifact) == base && artifact != base + ":" + target.version && !nodes.empty()) others = true;
  }
  if (!others) return std::nullopt;
  VersionRouting routing{*from, target.version};
  if (applied == routing) return std::nullopt;
  return routing;
}

RoutingSync sync_routing(const CdmFacts& facts, const std::string& base,
                         const std::optional<std::string>& stored) {
  const bool present = stored.has_value();
  const auto applied = stored ? parse_version_routing(*stored) : std::nullopt;
  const auto remove = present ? RoutingSync{RoutingSync::Action::Remove, {}} : RoutingSync{};
  auto desired = facts.state.desired.find(base);
  if (desired == facts.state.desired.end()) return remove;
  // Nothing stored and the slice does not roll: every answer below is None
  // (no other version: `remove` of nothing; another version: not rolling),
  // so the walk of the base's versions is skipped (once per desired base per
  // reconcile, issue 14, seventh pass).
  if (!present && !desired->second.update.rolling) return {};
  auto version_of = [](const std::string& artifact) { return artifact.substr(artifact.rfind(':') + 1); };
  const std::string version = version_of(desired->second.artifact);
  std::optional<std::string> other;  // a version other than the desired one with an entry
  // Artifacts whose base_of is `base`: `base` itself when it has no ':'
  // (sorted before the rest), then those starting with "base:", adjacent in
  // the table's order: visit those only, in the same order.
  const auto& entries = facts.table.entries;
  if (base.find(':') == std::string::npos) {
    if (auto it = entries.find(base);
        it != entries.end() && base != desired->second.artifact && !it->second.empty()) {
      other = version_of(base);
    }
  }
  const std::string prefix = base + ":";
  for (auto it = entries.lower_bound(prefix); it != entries.end() && it->first.starts_with(prefix); ++it) {
    const auto& [artifact, nodes] = *it;
    if (artifact.rfind(':') == base.size() && artifact != desired->second.artifact && !nodes.empty()) {
      other = version_of(artifact);
    }
  }
  if (!other) return remove;
  if (!desired->second.update.rolling) return {};
  if (applied && applied->to == version) return {};
  // Missing (a target rewritten while nobody led) or naming another target.
  const std::string from = applied ? applied->to : *other;
  return RoutingSync{RoutingSync::Action::Put, VersionRouting{from, version}};
}

bool unload_allowed(const CdmFacts& facts, const SliceCommand& command, bool routing_applied,
                    const std::optional<std::string>& applied_value) {
  if (facts.config.mutation(mutation::kRollingIgnoresMaxUnavailable)) return true;
  const std::string base = base_of(command.artifact);
  if (!routing_applied) return true;
  auto desired = facts.state.desired.find(base);
  if (desired == facts.state.desired.end() || !desired->second.update.rolling) return true;
  // Only an UNLOAD of an entry ACTIVE in the state applied now, on a node in
  // the view, lowers ACTIVE over both versions (a crashed node's is not counted).
  if (!facts.in_view(command.node)) return true;
  const auto value = applied_value ? parse_slice_value(*applied_value) : std::nullopt;
  if (!value || value->state != SliceState::Active) return true;
  // Every recorded UNLOAD (this one included) is out of the settled count.
  return active_over_versions(facts, base) >= active_floor(facts, desired->second, base);
}

}  // namespace aether::engine::rolling
