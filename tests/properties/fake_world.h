// A hand-made world for the checks' unit tests: nodes with explicit status,
// views, slice stores and engine beliefs, plus helpers that build canonical
// stores and observer feeds. Lets each check be shown firing on a
// deliberately wrong input without running a simulation.
#pragma once

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/kv_schema.h"
#include "properties/world_queries.h"
#include "sim/world_observer.h"

namespace aether::properties::testing {

struct FakeNode {
  bool up = true;
  bool paused = false;
  std::vector<NodeId> view;
  std::map<std::string, engine::SliceHolding> held;
  std::optional<NodeId> leader;
  bool cdm_active = false;
};

class FakeWorld final : public WorldQueries {
 public:
  // `n` nodes node-1..node-n, up, full views, all believing node-1 whose CDM is Active.
  explicit FakeWorld(int n) {
    std::vector<NodeId> all;
    for (int i = 1; i <= n; ++i) all.push_back("node-" + std::to_string(i));
    std::sort(all.begin(), all.end());
    for (const auto& id : all) nodes[id] = FakeNode{true, false, all, {}, NodeId("node-1"), id == "node-1"};
  }

  std::vector<NodeId> configured_nodes() const override {
    std::vector<NodeId> out;
    for (const auto& [id, node] : nodes) out.push_back(id);
    return out;
  }
  bool is_up(const NodeId& id) const override {
    auto it = nodes.find(id);
    return it != nodes.end() && it->second.up;
  }
  bool is_paused(const NodeId& id) const override { return nodes.at(id).paused; }
  const std::vector<NodeId>& view(const NodeId& id) const override {
    static const std::vector<NodeId> kNone;
    return nodes.at(id).up ? nodes.at(id).view : kNone;
  }
  const Holdings* slice_holdings_view(const NodeId& id) const override {
    return nodes.at(id).up ? &nodes.at(id).held : nullptr;
  }
  std::optional<NodeId> known_leader(const NodeId& id) const override {
    return nodes.at(id).up ? nodes.at(id).leader : std::nullopt;
  }
  bool cdm_active(const NodeId& id) const override { return nodes.at(id).up && nodes.at(id).cdm_active; }
  engine::NodeAttributes attributes(const NodeId& id) const override {
    auto it = attributes_of.find(id);
    return it == attributes_of.end() ? engine::NodeAttributes{} : it->second;
  }

  // Cuts `id` out of everyone's view and its own.
  void cut_off(const NodeId& id) {
    for (auto& [other, node] : nodes) {
      if (other == id) {
        node.view = {id};
      } else {
        std::erase(node.view, id);
      }
    }
  }

  std::map<NodeId, FakeNode> nodes;
  std::map<NodeId, engine::NodeAttributes> attributes_of;  // zone and capacity; absent: default, unlimited
};

inline std::string slice_value(engine::SliceState state, std::optional<std::string> reason = std::nullopt,
                               bool fatal = false) {
  return engine::encode_slice_value(engine::SliceValue{state, std::move(reason), fatal});
}

inline std::string target_value(const std::string& version, int instances, int min_instances,
                                const std::string& owner, bool failed = false) {
  return engine::encode_slice_target(engine::SliceTarget{version, instances, min_instances, owner, failed});
}

// A one-slice-per-artifact blueprint value: {artifact, instances, depends_on}.
struct SliceSpecText {
  std::string artifact;
  int instances = 1;
  std::vector<std::string> depends_on;
};
inline std::string blueprint_value(const std::string& id, const std::vector<SliceSpecText>& slices) {
  nlohmann::json s = nlohmann::json::array();
  for (const auto& spec : slices) {
    nlohmann::json one = {{"artifact", spec.artifact}, {"instances", spec.instances}};
    if (!spec.depends_on.empty()) one["depends_on"] = spec.depends_on;
    s.push_back(one);
  }
  return nlohmann::json{{"id", id}, {"slices", s}}.dump();
}

inline sim::Submitter submitter(const NodeId& node, const std::string& writer,
                                std::map<std::string, std::optional<std::string>> applied = {},
                                bool cdm_active = false, std::optional<std::uint64_t> tag = std::nullopt,
                                engine::Nanos submitted_at = 0) {
  sim::Submitter s;
  s.node = node;
  s.writer = writer;
  s.cdm_active = cdm_active;
  s.cdm_tag = tag;
  s.applied = std::move(applied);
  s.submitted_at = submitted_at;
  return s;
}

inline sim::BatchRecord batch(engine::KvBatch commands, std::vector<sim::Submitter> submitters) {
  static std::uint64_t next_id = 1;
  sim::BatchRecord b;
  b.batch_id = next_id++;
  b.commands = std::move(commands);
  b.submitters = std::move(submitters);
  return b;
}

}  // namespace aether::properties::testing
