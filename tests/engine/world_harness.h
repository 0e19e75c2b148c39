// A small test world for the engine's end-to-end tests: a real SimCluster
// hosting the deployment runtime, client writes as a scenario would make
// them, a recorder of what the engine did, and a local convergence helper
// ("every desired instance ACTIVE on an eligible node, nothing else").
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "engine/config.h"
#include "engine/deployment_runtime.h"
#include "engine/kv_schema.h"
#include "engine/lifecycle.h"
#include "engine/ownership.h"
#include "sim/cluster.h"

namespace aether::engine::testing {

// Records engine-visible facts and judges two safety rules on the fly: the
// lifecycle table on committed engine writes, and "never load what is held".
class Recorder : public sim::WorldObserver {
 public:
  void on_submit(Nanos at, const sim::BatchRecord& batch, const sim::Submitter& submitter) override {
    submits.push_back({submitter.node, submitter.writer, batch.commands, at});
  }
  void on_decide(Nanos, std::uint64_t, const sim::BatchRecord& batch) override {
    for (const auto& command : batch.commands) {
      auto slice = parse_slice_key(command.key);
      if (!slice) continue;
      bool legal = false;
      bool engine_write = false;
      for (const auto& submitter : batch.submitters) {
        if (submitter.writer != "cdm" && submitter.writer != "ndm") continue;
        engine_write = true;
        std::optional<SliceState> from;
        auto applied = submitter.applied.find(command.key);
        if (applied != submitter.applied.end() && applied->second) {
          if (auto value = parse_slice_value(*applied->second)) from = value->state;
        }
        std::optional<SliceState> to;
        std::string reason;
        if (command.op == KvOp::Put) {
          auto value = parse_slice_value(command.value);
          if (!value) continue;
          to = value->state;
          reason = value->failure_reason.value_or("");
        }
        const auto role = submitter.writer == "cdm" ? LifecycleRole::Cdm : LifecycleRole::Ndm;
        if (role == LifecycleRole::Ndm && submitter.node != slice->node) continue;
        legal = legal || is_legal_transition(role, from, to, reason);
      }
      if (engine_write && !legal) lifecycle_violations.push_back(command.key + " <- " + command.value);
      if (command.op == KvOp::Put) history[command.key].push_back(command.value);
    }
  }
  void on_engine_count(Nanos, const NodeId&, const std::string& counter, std::int64_t delta) override {
    counters[counter] += delta;
  }
  void on_cdm_activated(Nanos at, const NodeId& node, std::optional<std::uint64_t> tag) override {
    activations.push_back({at, node, tag});
  }
  void on_slice_op_start(Nanos, const NodeId& node, const std::string& artifact, sim::SliceOp op,
                         SliceHolding before) override {
    slice_ops.push_back({node, artifact, op});
    if (op == sim::SliceOp::Load && before != SliceHolding::NotHeld) reloads.push_back(node + " " + artifact);
    if (on_slice_start) on_slice_start(node, artifact, op);
  }
  void on_engine_assert(Nanos, const NodeId& node, const std::string& message) override {
    asserts.push_back(node + ": " + message);
  }

  struct Submit {
    NodeId node;
    std::string writer;
    KvBatch commands;
    Nanos at = 0;
  };
  struct Activation {
    Nanos at;
    NodeId node;
    std::optional<std::uint64_t> tag;
  };
  struct SliceOpRecord {
    NodeId node;
    std::string artifact;
    sim::SliceOp op;
  };
  std::vector<Submit> submits;
  std::vector<std::string> lifecycle_violations;
  std::vector<std::string> reloads;
  std::vector<std::string> asserts;
  std::map<std::string, std::int64_t> counters;
  std::vector<Activation> activations;
  std::vector<SliceOpRecord> slice_ops;
  std::map<std::string, std::vector<std::string>> history;  // committed Put values per key
  std::function<void(const NodeId&, const std::string&, sim::SliceOp)> on_slice_start;

  std::int64_t counter(const std::string& name) const {
    auto it = counters.find(name);
    return it == counters.end() ? 0 : it->second;
  }
  std::size_t submits_by(const std::string& writer, const std::optional<NodeId>& node = std::nullopt) const {
    std::size_t n = 0;
    for (const auto& s : submits) n += (s.writer == writer && (!node || s.node == *node)) ? 1 : 0;
    return n;
  }
};

struct WorldOptions {
  int nodes = 3;
  EngineConfig config;
  std::uint64_t seed = 1;
  std::function<void(sim::SimConfig&)> tweak;
};

class TestWorld {
 public:
  explicit TestWorld(int nodes, const std::function<void(WorldOptions&)>& customize = {}) {
    WorldOptions options;
    options.nodes = nodes;
    if (customize) customize(options);
    sim::SimConfig config;
    for (int i = 1; i <= options.nodes; ++i) config.nodes.push_back("node-" + std::to_string(i));
    config.seed = options.seed;
    if (options.tweak) options.tweak(config);
    if (!options.config.leader_timeout_ns) options.config.leader_timeout_ns = config.failure_detection_ns;
    balance_required_ = options.config.reconciliation == ReconciliationStrategy::Aggressive &&
                        options.config.auto_rebalancing;
    cluster =
        std::make_unique<sim::SimCluster>(config, trace, make_deployment_runtime_factory(options.config));
    cluster->add_observer(&recorder);
  }

  void run_for(Nanos duration) { cluster->loop().run_until(cluster->now() + duration); }
  // Runs until `done` holds or `limit` passes; returns whether it held.
  bool run_until(const std::function<bool()>& done, Nanos limit) {
    return cluster->loop().run_until(done, cluster->now() + limit);
  }

  void write(KvBatch batch) { cluster->client_write("default", std::move(batch)); }
  void put(const std::string& key, const std::string& value) { write({KvCommand::put(key, value)}); }
  void remove(const std::string& key) { write({KvCommand::remove(key)}); }
  void put_blueprint(const std::string& json_text) {
    auto object = nlohmann::json::parse(json_text);
    put(blueprint_key(object.at("id").get<std::string>()), object.dump());
  }
  void remove_blueprint(const std::string& id) { remove(blueprint_key(id)); }
  // As the `scale` step does: read the canonical slice-target, write it back.
  // Returns false (writing nothing) if the base has no slice-target.
  bool scale(const std::string& base, int instances) {
    auto it = cluster->canonical_store().find(slice_target_key(base));
    if (it == cluster->canonical_store().end()) return false;
    auto target = *parse_slice_target(it->second);
    target.instances = instances;
    target.min_instances = std::min(target.min_instances, instances);
    put(slice_target_key(base), encode_slice_target(target));
    return true;
  }

  // Canonical `slices/*/{artifact}` entries: node -> value.
  std::map<NodeId, SliceValue> entries(const std::string& artifact) const {
    std::map<NodeId, SliceValue> out;
    for (const auto& [key, value] : cluster->canonical_store()) {
      auto slice = parse_slice_key(key);
      if (!slice || slice->artifact != artifact) continue;
      if (auto parsed = parse_slice_value(value)) out[slice->node] = *parsed;
    }
    return out;
  }
  int count_in(const std::string& artifact, SliceState state) const {
    int n = 0;
    for (const auto& [node, value] : entries(artifact)) n += value.state == state ? 1 : 0;
    return n;
  }
  int live(const std::string& artifact) const {
    int n = 0;
    for (const auto& [node, value] : entries(artifact)) n += is_live_state(value.state) ? 1 : 0;
    return n;
  }

  // Up nodes whose CDM is Active.
  std::vector<NodeId> active_cdms() const {
    std::vector<NodeId> out;
    for (const auto& node : cluster->configured_nodes()) {
      if (auto* runtime = cluster->runtime(node); runtime && cluster->is_up(node) && runtime->cdm_active()) {
        out.push_back(node);
      }
    }
    return out;
  }
  std::optional<NodeId> leader() const {
    auto active = active_cdms();
    if (active.size() != 1) return std::nullopt;
    return active.front();
  }

  bool live_node(const NodeId& node) const {
    return cluster->is_configured(node) && cluster->is_up(node) && !cluster->is_paused(node) &&
           cluster->has_quorum(node);
  }

  std::vector<NodeId> eligible_nodes() const {
    std::vector<NodeId> out;
    auto lead = leader();
    if (!lead) return out;
    const auto& store = cluster->canonical_store();
    for (const auto& node : cluster->view(*lead)) {
      auto it = store.find(node_lifecycle_key(node));
      if (live_node(node) && it != store.end() && it->second == "ON_DUTY") out.push_back(node);
    }
    return out;
  }

  // Why the cluster is not converged ("" when it is).
  std::string convergence_blocker() const {
    auto lead = leader();
    if (!lead) return "no single active CDM";
    for (const auto& node : cluster->configured_nodes()) {
      if (live_node(node) && cluster->leader_belief(node) != lead) return node + " believes another leader";
    }
    const auto& store = cluster->canonical_store();
    std::map<std::string, std::optional<Blueprint>> blueprints;
    std::map<std::string, SliceTarget> targets;
    for (const auto& [key, value] : store) {
      if (auto id = key_suffix(key, kBlueprintPrefix)) {
        auto parsed = parse_blueprint_text(value);
        if (auto* bp = std::get_if<Blueprint>(&parsed); bp && bp->id == *id) {
          blueprints[*id] = *bp;
        } else {
          blueprints[*id] = std::nullopt;
        }
      } else if (auto base = key_suffix(key, kSliceTargetPrefix)) {
        if (auto target = parse_slice_target(value)) targets[*base] = *target;
      }
    }
    auto ownership = compute_ownership(blueprints, targets);
    // A rejected value changes nothing (engine-semantics.md §4): the bases
    // whose slice-target names its blueprint stay owned at that target.
    for (const auto& [base, target] : targets) {
      if (!ownership.owner_of.count(base) && ownership.rejected.count(target.owner)) {
        ownership.owner_of[base] = target.owner;
      }
    }
    const auto eligible = eligible_nodes();
    std::map<std::string, std::string> desired_artifact;  // base -> artifact
    for (const auto& [base, owner] : ownership.owner_of) {
      auto target = targets.find(base);
      if (target == targets.end()) return "no slice-target for " + base;
      if (ownership.rejected.count(owner)) {
        if (target->second.owner != owner) return "slice-target of " + base + " does not name " + owner;
      } else {
        const auto* slice = blueprints.at(owner)->find(*parse_artifact_base(base));
        if (target->second.owner != owner || target->second.version != slice->artifact.version) {
          return "slice-target of " + base + " does not match blueprint " + owner;
        }
      }
      if (target->second.failed) continue;
      const std::string artifact = base + ":" + target->second.version;
      desired_artifact[base] = artifact;
      const int want = std::min<int>(target->second.instances, static_cast<int>(eligible.size()));
      int active = 0;
      for (const auto& [node, value] : entries(artifact)) {
        if (value.state != SliceState::Active)
          return artifact + " on " + node + " is " + slice_state_name(value.state);
        if (std::find(eligible.begin(), eligible.end(), node) == eligible.end()) {
          return artifact + " on ineligible " + node;
        }
        ++active;
      }
      if (active != want)
        return artifact + ": " + std::to_string(active) + " ACTIVE, want " + std::to_string(want);
    }
    if (balance_required_) {
      std::map<NodeId, int> load;
      for (const auto& node : eligible) load[node] = 0;
      for (const auto& [base, artifact] : desired_artifact) {
        for (const auto& [node, value] : entries(artifact)) ++load[node];
      }
      int lo = 1 << 30, hi = 0;
      for (const auto& [node, n] : load) {
        lo = std::min(lo, n);
        hi = std::max(hi, n);
      }
      if (!load.empty() && hi - lo > 1) return "live entries per eligible node differ by more than 1";
    }
    std::map<NodeId, std::set<std::string>> active_keys;
    for (const auto& [key, value] : store) {
      auto slice = parse_slice_key(key);
      if (!slice) continue;
      const auto base = base_of(slice->artifact);
      auto failed = targets.find(base);
      if (failed != targets.end() && failed->second.failed) continue;
      auto it = desired_artifact.find(base);
      if (it == desired_artifact.end() || it->second != slice->artifact) return "unwanted entry " + key;
      active_keys[slice->node].insert(slice->artifact);
    }
    for (const auto& node : cluster->configured_nodes()) {
      if (!live_node(node)) continue;
      std::set<std::string> held;
      for (const auto& [artifact, holding] : cluster->slice_holdings(node)) {
        if (holding == SliceHolding::NotHeld) continue;
        if (holding != SliceHolding::Active) return node + " holds " + artifact + " inactive";
        held.insert(artifact);
      }
      if (held != active_keys[node]) return node + ": slice store disagrees with its ACTIVE keys";
    }
    return "";
  }
  bool converged() const { return convergence_blocker().empty(); }
  // Waits for client writes to commit first: convergence before that is vacuous.
  bool run_until_converged(Nanos limit) {
    return run_until([this] { return cluster->client_writes_idle() && converged(); }, limit);
  }

  sim::Trace trace;
  Recorder recorder;
  bool balance_required_ = false;
  std::unique_ptr<sim::SimCluster> cluster;
};

inline std::string one_slice_blueprint(const std::string& id, const std::string& artifact, int instances,
                                       std::optional<int> min_available = std::nullopt) {
  nlohmann::json slice{{"artifact", artifact}, {"instances", instances}};
  if (min_available) slice["min_available"] = *min_available;
  return nlohmann::json{{"id", id}, {"slices", nlohmann::json::array({slice})}}.dump();
}

}  // namespace aether::engine::testing
