// The questions the checks ask the world about its state at the current
// instant. The runner answers them from a sim::SimCluster; tests answer them
// from a hand-made world. Everything here is ground truth as the simulator
// knows it, never a node's belief unless the name says so.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/slice_loader.h"
#include "engine/topology.h"

namespace aether::properties {

using engine::NodeId;

class WorldQueries {
 public:
  virtual ~WorldQueries() = default;
  // Configured nodes, sorted.
  virtual std::vector<NodeId> configured_nodes() const = 0;
  virtual bool is_up(const NodeId& node) const = 0;
  virtual bool is_paused(const NodeId& node) const = 0;
  // The node's current view (sorted, includes itself); empty when down.
  // Valid until the world next changes.
  virtual const std::vector<NodeId>& view(const NodeId& node) const = 0;
  // What the node's slice store holds, by artifact: nullptr when down.
  // Valid until the world next changes.
  using Holdings = std::map<std::string, engine::SliceHolding>;
  virtual const Holdings* slice_holdings_view(const NodeId& node) const = 0;
  // Whether the node's slice store holds `artifact` active.
  bool holds_active(const NodeId& node, const std::string& artifact) const {
    return holds_active_in(slice_holdings_view(node), artifact);
  }
  static bool holds_active_in(const Holdings* held, const std::string& artifact) {
    if (held == nullptr) return false;
    auto it = held->find(artifact);
    return it != held->end() && it->second == engine::SliceHolding::Active;
  }
  // The engine's beliefs on an up node (nullopt / false when down).
  virtual std::optional<NodeId> known_leader(const NodeId& node) const = 0;
  virtual bool cdm_active(const NodeId& node) const = 0;
  // The zone and capacity the node's host reports (engine-semantics.md §8.1);
  // a world that says nothing has one zone and unlimited capacity.
  virtual engine::NodeAttributes attributes(const NodeId&) const { return {}; }
  // The decided position an up, restored node's store is at right now
  // (issue 14, fifth pass: a node applies positions no listener of it
  // subscribes to without an apply event); nullopt: ask the apply events.
  virtual std::optional<std::uint64_t> applied_position(const NodeId&) const { return std::nullopt; }
};

}  // namespace aether::properties
