#include "engine/placement_inputs.h"

#include <algorithm>
#include <utility>

#include "engine/mutations.h"
#include "engine/resources.h"

namespace aether::engine::placement {

Wanted placement_of(const DesiredState& state, const std::string& artifact) {
  // From the blueprints applied now (not the slice-target's echo), as the checks judge it.
  Wanted out;
  if (const SliceSpec* slice = state.placement_slice(base_of(artifact))) {
    out.resources = slice->resources;
    for (const auto& other : slice->anti_affinity) out.anti_affinity.push_back(other.to_string());
    out.spread_zone = slice->spread_zone;
  }
  return out;
}

bool any_placement_constraint(const DesiredState& state) {
  for (const auto& [id, blueprint] : state.blueprints) {
    if (!blueprint) continue;
    for (const auto& slice : blueprint->slices) {
      if (slice.resources != Resources{} || !slice.anti_affinity.empty() || slice.spread_zone) return true;
    }
  }
  return false;
}

std::vector<LiveRow> live_rows(const CdmFacts& facts, const NodeId* only) {
  std::vector<LiveRow> rows;
  const bool constraints = any_placement_constraint(facts.state);
  for (const auto& [artifact, nodes] : facts.table.entries) {
    LiveRow row;
    if (only != nullptr) {
      if (auto it = nodes.find(*only); it != nodes.end() && it->second.occupies())
        row.live.push_back(&it->first);
    } else {
      for (const auto& [node, entry] : nodes) {
        if (entry.occupies()) row.live.push_back(&node);
      }
    }
    if (row.live.empty()) continue;
    row.artifact = &artifact;
    row.base = base_of(artifact);
    if (constraints) row.want = placement_of(facts.state, artifact);
    rows.push_back(std::move(row));
  }
  return rows;
}

bool anti_affine(const Wanted& mine, const std::string& base, const LiveRow& other) {
  if (other.base == base) return false;
  if (std::binary_search(mine.anti_affinity.begin(), mine.anti_affinity.end(), other.base)) return true;
  return std::binary_search(other.want.anti_affinity.begin(), other.want.anti_affinity.end(), base);
}

std::set<NodeId> forbidden_for(const CdmFacts& facts, const std::string& artifact, const Wanted& mine,
                               const std::vector<LiveRow>& rows) {
  std::set<NodeId> out;
  if (facts.config.mutation(mutation::kIgnoreAntiAffinity)) return out;
  const std::string base = base_of(artifact);
  for (const auto& row : rows) {
    if (!anti_affine(mine, base, row)) continue;
    for (const NodeId* node : row.live) out.insert(*node);
  }
  return out;
}

void add_used(std::map<NodeId, NodeInfo>& nodes, const std::vector<LiveRow>& rows) {
  for (const auto& row : rows) {
    if (row.want.resources == Resources{}) continue;  // adds nothing: no lookups
    for (const NodeId* node : row.live) {
      if (auto it = nodes.find(*node); it != nodes.end()) {
        it->second.used.cpu += row.want.resources.cpu;
        it->second.used.memory += row.want.resources.memory;
      }
    }
  }
}

AddRequest add_request(const CdmFacts& facts, const Desired& desired, std::vector<NodeId> candidates,
                       std::size_t cursor) {
  AddRequest request;
  request.eligible = std::move(candidates);
  request.busy = facts.table.occupied_nodes();
  request.holding = facts.table.holders(desired.artifact);
  request.cursor = cursor;
  for (const auto& node : request.eligible) request.nodes[node].attributes = facts.topology.attributes(node);
  const Wanted mine = placement_of(facts.state, desired.artifact);
  if (!any_placement_constraint(facts.state)) {
    // Every row's placement fields are the default: no row adds resources
    // or forbids a node; only this artifact's live nodes are read.
    if (auto nodes = facts.table.entries.find(desired.artifact); nodes != facts.table.entries.end()) {
      for (const auto& [node, entry] : nodes->second) {
        if (entry.occupies()) request.live.insert(node);
      }
    }
  } else {
    const auto rows = live_rows(facts);
    add_used(request.nodes, rows);
    for (const auto& row : rows) {
      if (*row.artifact != desired.artifact) continue;
      for (const NodeId* node : row.live) request.live.insert(*node);
    }
    request.constraints.forbidden = forbidden_for(facts, desired.artifact, mine, rows);
  }
  request.constraints.demand = mine.resources;
  request.constraints.spread_zone = mine.spread_zone;
  request.constraints.capacity = !facts.config.mutation(mutation::kIgnoreCapacity);
  return request;
}

std::optional<RemoveRequest> remove_request(const CdmFacts& facts, const std::string& artifact,
                                            const Desired& desired, int live) {
  int excess = live - desired.count;
  if (!facts.config.mutation(mutation::kSkipScaleDownFloor))
    excess = std::min(excess, live - desired.min_instances);
  if (excess <= 0) return std::nullopt;
  RemoveRequest request;
  request.count = excess;
  const auto& view = facts.topology.view();
  if (auto nodes = facts.table.entries.find(artifact); nodes != facts.table.entries.end()) {
    for (const auto& [node, entry] : nodes->second) {
      if (!entry.counts_for_scale() || !facts.counts_for_scale(node, view)) continue;
      request.live.push_back(LiveEntry{node, entry.effective() == SliceState::Active});
    }
  }
  return request;
}

rebalancer::Input rebalance_input(const CdmFacts& facts, std::vector<NodeId> eligible,
                                  const std::function<bool(const std::string&, const std::string&)>& moving) {
  rebalancer::Input input;
  input.eligible = std::move(eligible);
  // The placement inputs every desired artifact shares, built once per
  // rebalance (not one add_request per artifact): the live rows and the
  // eligible nodes' attributes and used resources.
  const auto rows = live_rows(facts);
  std::map<NodeId, NodeInfo> infos;
  for (const auto& node : input.eligible) infos[node].attributes = facts.topology.attributes(node);
  add_used(infos, rows);
  const bool capacity = !facts.config.mutation(mutation::kIgnoreCapacity);
  for (const auto& [base, desired] : facts.state.desired) {
    rebalancer::DesiredArtifact item;
    item.artifact = desired.artifact;
    item.depends_on = desired.depends_on;
    item.failed = desired.failed;
    item.starved = !desired.depends_on.empty() && !facts.dependencies_ready(desired.depends_on);
    // A base in a rolling update gets no move: its UNLOADs are the update's.
    item.moving = moving(base, desired.artifact);
    const Wanted mine = placement_of(facts.state, desired.artifact);
    item.barred = forbidden_for(facts, desired.artifact, mine, rows);
    for (const auto& [node, info] : infos) {
      if (capacity && !fits(info.attributes.capacity, info.used, mine.resources)) item.barred.insert(node);
      input.zones[node] = info.attributes.zone;
    }
    item.spread_zone = mine.spread_zone;
    input.desired.push_back(std::move(item));
  }
  for (const auto& [artifact, nodes] : facts.table.entries) {
    auto& entries = input.entries[artifact];
    for (const auto& [node, entry] : nodes) {
      entries.present.insert(node);
      if (entry.live()) entries.live.insert(node);
      if (entry.counts_for_scale()) entries.scale.insert(node);
    }
  }
  return input;
}

AddPlan Allocation::add(const CdmFacts& facts, const Desired& desired, int count) {
  auto request = add_request(facts, desired, facts.eligible_nodes(), cursor);
  request.count = count;
  auto plan = strategy->plan_add(request);
  cursor = plan.cursor;
  return plan;
}

std::vector<NodeId> Allocation::remove(const CdmFacts& facts, const std::string& artifact,
                                       const Desired& desired, int live) const {
  const auto request = remove_request(facts, artifact, desired, live);
  if (!request) return {};
  return strategy->plan_remove(*request);
}

}  // namespace aether::engine::placement
