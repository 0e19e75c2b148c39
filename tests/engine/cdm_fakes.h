// Fake inputs for the CDM's pure concept functions (engine/cdm_facts.h and
// the files built on it): a topology with a fixed view, and a world of plain
// values (desired state, slice table, node lifecycles, config) whose
// CdmFacts the functions read. No simulator.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "engine/cdm_facts.h"

namespace aether::engine::test {

class FakeTopology final : public Topology {
 public:
  std::vector<NodeId> nodes;  // the view, sorted
  std::map<NodeId, NodeAttributes> attrs;
  const NodeId& self() const override { return nodes.front(); }
  const std::vector<NodeId>& view() const override { return nodes; }
  std::vector<NodeId> configured_nodes() const override { return nodes; }
  bool has_quorum() const override { return true; }
  NodeAttributes attributes(const NodeId& node) const override {
    auto it = attrs.find(node);
    return it == attrs.end() ? NodeAttributes{} : it->second;
  }
  void add_listener(TopologyListener*) override {}
};

struct FakeWorld {
  EngineConfig config;
  FakeTopology topology;
  DesiredState state;
  SliceTable table;
  NodeLifecycles lifecycles;
  std::map<std::string, std::uint64_t> positions;
  OwnTargetWrites own_targets;
  CdmFacts facts{config, topology, state, table, lifecycles, positions, own_targets};

  // Nodes in the view, all ON_DUTY.
  explicit FakeWorld(std::vector<NodeId> view = {"n1", "n2", "n3"}) {
    topology.nodes = std::move(view);
    for (const auto& node : topology.nodes) lifecycles.values[node] = "ON_DUTY";
  }
  FakeWorld(const FakeWorld&) = delete;
  FakeWorld& operator=(const FakeWorld&) = delete;

  // An entry observed in `state` (no intent).
  SliceEntry& put(const std::string& artifact, const NodeId& node, SliceState observed) {
    SliceEntry& entry = table.entries[artifact][node];
    entry.observed = SliceValue{observed, std::nullopt, false};
    return entry;
  }
  // The desired state of `base` deploying `artifact` (base:version), owned by `owner`.
  Desired& want(const std::string& artifact, int count, int min_instances = 0,
                const std::string& owner = "bp") {
    const auto base = artifact.substr(0, artifact.rfind(':'));
    Desired& desired = state.desired[base];
    desired.artifact = artifact;
    desired.owner = owner;
    desired.count = count;
    desired.min_instances = min_instances;
    return desired;
  }
};

}  // namespace aether::engine::test
