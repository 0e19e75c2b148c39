#include "engine/rebalancer.h"

#include <optional>

namespace aether::engine::rebalancer {

std::vector<Move> plan_moves(const Input& input) {
  std::vector<Move> moves;
  if (input.eligible.size() < 2) return moves;
  std::set<std::string> excluded;
  for (const auto& desired : input.desired) {
    if (desired.failed) excluded.insert(desired.artifact);
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
  for (const auto& desired : input.desired) {
    if (excluded.count(desired.artifact) || desired.moving) continue;
    auto found = input.entries.find(desired.artifact);
    const auto& entries = found == input.entries.end() ? kNone : found->second;
    std::optional<NodeId> source;
    std::optional<NodeId> target;
    for (const auto& node : entries.scale) {
      if (!load.count(node)) continue;
      if (!source || load[node] > load[*source]) source = node;
    }
    for (const auto& node : input.eligible) {
      if (entries.present.count(node)) continue;
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
