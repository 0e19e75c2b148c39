#include "engine/rebalancer.h"

#include <optional>

namespace aether::engine::rebalancer {

std::vector<Move> plan_moves(const Input& input) {
  std::vector<Move> moves;
  if (input.eligible.size() < 2) return moves;
  std::set<std::string> excluded;
  for (const auto& desired : input.desired) {
    if (desired.failed || desired.starved) excluded.insert(desired.artifact);
  }
  for (bool grew = true; grew;) {
    grew = false;
    for (const auto& desired : input.desired) {
      if (excluded.count(desired.artifact)) continue;
      for (const auto& dep : desired.depends_on) {
        if (excluded.count(dep)) {
          excluded.insert(desired.artifact);
          grew = true;
          break;
        }
      }
    }
  }
  std::map<NodeId, int> load;
  for (const auto& node : input.eligible) load[node] = 0;
  for (const auto& [artifact, entries] : input.entries) {
    if (excluded.count(artifact)) continue;
    for (const auto& node : entries.live) {
      if (load.count(node)) ++load[node];
    }
  }
  static const Input::Entries kNone;
  auto zone = [&](const NodeId& node) {
    auto it = input.zones.find(node);
    return it == input.zones.end() ? std::string(kDefaultZone) : it->second;
  };
  for (const auto& desired : input.desired) {
    if (excluded.count(desired.artifact) || desired.moving) continue;
    auto found = input.entries.find(desired.artifact);
    const auto& entries = found == input.entries.end() ? kNone : found->second;
    auto may_target = [&](const NodeId& node) {
      return !entries.present.count(node) && !desired.barred.count(node);
    };
    // Scale entries per zone, over the zones of the eligible nodes.
    std::map<std::string, int> per_zone;
    for (const auto& node : input.eligible) per_zone[zone(node)];
    for (const auto& node : entries.scale) {
      if (load.count(node)) ++per_zone[zone(node)];
    }
    std::optional<NodeId> source;
    std::optional<NodeId> target;
    if (desired.spread_zone) {
      std::optional<std::string> fullest;
      std::optional<std::string> emptiest;
      for (const auto& [name, count] : per_zone) {
        if (!fullest || count > per_zone[*fullest]) fullest = name;
      }
      for (const auto& node : input.eligible) {
        if (!may_target(node)) continue;
        const auto name = zone(node);
        if (!emptiest || per_zone[name] < per_zone[*emptiest] ||
            (per_zone[name] == per_zone[*emptiest] && name < *emptiest))
          emptiest = name;
      }
      if (fullest && emptiest && per_zone[*fullest] - per_zone[*emptiest] > 1) {
        for (const auto& node : entries.scale) {
          if (!load.count(node) || zone(node) != *fullest) continue;
          if (!source || load[node] > load[*source]) source = node;
        }
        for (const auto& node : input.eligible) {
          if (!may_target(node) || zone(node) != *emptiest) continue;
          if (!target || load[node] < load[*target]) target = node;
        }
        if (source && target) {
          moves.push_back(Move{desired.artifact, *source, *target});
          --load[*source];
          ++load[*target];
          continue;
        }
        source.reset();
        target.reset();
      }
    }
    for (const auto& node : entries.scale) {
      if (!load.count(node)) continue;
      if (!source || load[node] > load[*source]) source = node;
    }
    for (const auto& node : input.eligible) {
      if (!may_target(node)) continue;
      if (desired.spread_zone && source && zone(node) != zone(*source) &&
          per_zone[zone(node)] >= per_zone[zone(*source)])
        continue;
      if (!target || load[node] < load[*target]) target = node;
    }
    if (!source || !target || load[*source] - load[*target] <= 1) continue;
    moves.push_back(Move{desired.artifact, *source, *target});
    --load[*source];
    ++load[*target];
  }
  return moves;
}

}  // namespace aether::engine::rebalancer
