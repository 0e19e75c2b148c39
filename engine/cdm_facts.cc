#include "engine/cdm_facts.h"

#include <algorithm>

#include "engine/mutations.h"
#include "engine/sorted_merge.h"

namespace aether::engine {

std::optional<NodeLifecycle> NodeLifecycles::of(const NodeId& node) const {
  auto it = values.find(node);
  if (it == values.end()) return std::nullopt;
  return parse_node_lifecycle(it->second);
}

const std::vector<NodeId>& NodeLifecycleValues::drained() const {
  if (!drained_) {
    drained_.emplace();
    for (const auto& [node, value] : map_) {
      const auto state = parse_node_lifecycle(value);
      if (state == NodeLifecycle::Draining || state == NodeLifecycle::Decommissioned)
        drained_->push_back(node);
    }
  }
  return *drained_;
}

bool NodeLifecycles::drained(const NodeId& node) const {
  const auto& drained = values.drained();
  return std::binary_search(drained.begin(), drained.end(), node);
}

bool NodeLifecycles::any_drained() const {
  return !values.drained().empty();
}

std::vector<NodeId> CdmFacts::eligible_nodes() const {
  std::vector<NodeId> out;
  for (const auto& node : topology.view()) {
    if (on_duty(node)) out.push_back(node);
  }
  return out;
}

bool CdmFacts::eligible(const NodeId& node) const {
  const auto& view = topology.view();
  return std::binary_search(view.begin(), view.end(), node) && on_duty(node);
}

bool CdmFacts::on_duty(const NodeId& node) const {
  if (config.mutation(mutation::kIgnoreEligibility)) return true;
  auto it = lifecycles.values.find(node);
  return it != lifecycles.values.end() && parse_node_lifecycle(it->second) == NodeLifecycle::OnDuty;
}

bool CdmFacts::in_view(const NodeId& node) const {
  const auto& view = topology.view();
  return std::binary_search(view.begin(), view.end(), node);
}

bool CdmFacts::counts_for_scale(const NodeId& node, const std::vector<NodeId>& view) const {
  if (config.mutation(mutation::kScaleCountsOutOfView)) return true;
  if (lifecycles.drained(node)) return false;
  return std::binary_search(view.begin(), view.end(), node);
}

int CdmFacts::live_count(const std::string& artifact) const {
  auto it = table.entries.find(artifact);
  return live_count(it == table.entries.end() ? nullptr : &it->second);
}

int CdmFacts::live_count(const SliceTable::Nodes* row) const {
  if (row == nullptr) return 0;
  const auto& view = topology.view();
  // counts_for_scale with the view walked once in step with the entries
  // (both sorted), not searched whole per entry.
  const bool out_of_view = config.mutation(mutation::kScaleCountsOutOfView);
  // lifecycles.drained(node), its sorted list read once (empty: no search).
  const auto& drained = lifecycles.values.drained();
  auto from = view.begin();
  int live = 0;
  for (const auto& [node, entry] : *row) {
    if (!entry.counts_for_scale()) continue;
    if (out_of_view || ((drained.empty() || !std::binary_search(drained.begin(), drained.end(), node)) &&
                        gallop_has(from, view.end(), node)))
      ++live;
  }
  return live;
}

int CdmFacts::active_counted(const std::string& artifact) const {
  auto nodes = table.entries.find(artifact);
  if (nodes == table.entries.end()) return 0;
  const auto& view = topology.view();
  int active = 0;
  for (const auto& [node, entry] : nodes->second) {
    if (entry.settled_in(SliceState::Active) && !lifecycles.drained(node) &&
        std::binary_search(view.begin(), view.end(), node))
      ++active;
  }
  return active;
}

int CdmFacts::active_in_view(const std::string& artifact) const {
  return table.active_in(artifact, topology.view());
}

bool CdmFacts::dependencies_ready(const std::vector<std::string>& depends_on) const {
  // Ready: an ACTIVE entry on a node in the leader's view (engine-semantics.md §4).
  if (depends_on.empty()) return true;  // no view copy for most artifacts
  const auto& view = topology.view();
  for (const auto& dep : depends_on) {
    auto it = table.entries.find(dep);
    if (it == table.entries.end()) return false;
    bool any = false;
    for (const auto& [node, entry] : it->second) {
      any = any ||
            (entry.settled_in(SliceState::Active) && (config.mutation(mutation::kDependencyOutOfView) ||
                                                      std::binary_search(view.begin(), view.end(), node)));
    }
    if (!any) return false;
  }
  return true;
}

bool CdmFacts::fully_active(const std::string& id) const {
  auto it = state.blueprints.find(id);
  if (it == state.blueprints.end() || !it->second || state.ownership.rejected.count(id)) return true;
  const int eligible_count = static_cast<int>(eligible_nodes().size());
  std::string artifact;
  for (const auto& slice : it->second->slices) {
    // slice.artifact.to_string(), built once per slice in one buffer.
    artifact.assign(slice.artifact.group_id).append(1, ':').append(slice.artifact.artifact_id);
    artifact.append(1, ':').append(slice.artifact.version);
    const auto* desired = state.desired_for(artifact);
    if (!desired || desired->owner != id) continue;
    int active = 0;
    if (auto nodes = table.entries.find(artifact); nodes != table.entries.end()) {
      for (const auto& [node, entry] : nodes->second) {
        if (entry.observed && entry.observed->state == SliceState::Active) ++active;
      }
    }
    if (active < std::min(desired->count, eligible_count)) return false;
  }
  return true;
}

bool CdmFacts::target_is_newer(const std::string& base, const std::string& owner) const {
  return target_is_newer(base, owner, nullptr, nullptr);
}

bool CdmFacts::target_is_newer(const std::string& base, const std::string& owner,
                               std::optional<std::uint64_t>* blueprint_at,
                               std::optional<std::uint64_t>* target_at) const {
  if (config.mutation(mutation::kTargetWinsAtActivation)) return true;
  // The owner's blueprint position is looked up once (its key built once).
  const auto blueprint = blueprint_position(owner);
  if (blueprint_at && blueprint) *blueprint_at = blueprint;
  return target_is_newer_than(base, blueprint, target_at);
}

std::optional<std::uint64_t> CdmFacts::blueprint_position(const std::string& owner) const {
  auto blueprint = positions.find(blueprint_key(owner));
  if (blueprint == positions.end()) return std::nullopt;
  return blueprint->second;
}

bool CdmFacts::target_is_newer_than(const std::string& base, std::optional<std::uint64_t> blueprint,
                                    std::optional<std::uint64_t>* target_at) const {
  if (config.mutation(mutation::kTargetWinsAtActivation)) return true;
  if (auto intent = own_targets.intent.find(base); intent != own_targets.intent.end() && blueprint)
    return intent->second >= *blueprint;
  if (!blueprint) return true;
  auto target = positions.find(slice_target_key(base));
  if (target == positions.end()) return true;
  if (target_at) *target_at = target->second;
  return target->second >= *blueprint;  // a tie: one batch wrote both
}

std::map<std::string, std::uint64_t> CdmFacts::blueprint_positions() const {
  std::map<std::string, std::uint64_t> out;
  for (const auto& [id, blueprint] : state.blueprints) {
    if (config.mutation(mutation::kOwnershipByIdOrder)) break;
    if (auto at = positions.find(blueprint_key(id)); at != positions.end()) out[id] = at->second;
  }
  return out;
}

}  // namespace aether::engine
