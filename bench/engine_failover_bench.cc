// Failover throughput: 5 nodes run one blueprint of 20 artifacts for one
// simulated hour while the leader is crashed every 5 minutes and restarted
// 30 seconds later. Reports simulated events per wall second and simulated
// seconds per wall second (both as rates over the measured wall time), and
// the ACTIVE instances at the end (39 wanted).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/deployment_runtime.h"
#include "engine/kv_schema.h"
#include "sim/cluster.h"

namespace {

using aether::engine::EngineConfig;
using aether::engine::KvCommand;
using aether::engine::minutes;
using aether::engine::Nanos;
using aether::engine::NodeId;
using aether::engine::seconds;

std::string twenty_artifact_blueprint() {
  nlohmann::json slices = nlohmann::json::array();
  for (int i = 0; i < 20; ++i) {
    nlohmann::json slice{{"artifact", "org.bench:svc-" + std::to_string(i) + ":1.0.0"},
                         {"instances", 1 + i % 3}};
    if (i >= 5)
      slice["depends_on"] = nlohmann::json::array({"org.bench:svc-" + std::to_string(i % 5) + ":1.0.0"});
    slices.push_back(slice);
  }
  return nlohmann::json{{"id", "bench"}, {"slices", slices}}.dump();
}

std::optional<NodeId> active_leader(const aether::sim::SimCluster& cluster) {
  for (const auto& node : cluster.configured_nodes()) {
    if (auto* runtime = cluster.runtime(node); runtime && runtime->cdm_active()) return node;
  }
  return std::nullopt;
}

void BM_FailoverHour(benchmark::State& state) {
  std::uint64_t events = 0;
  std::uint64_t crashes = 0;
  int active = 0;
  for (auto _ : state) {
    aether::sim::SimConfig config;
    for (int i = 1; i <= 5; ++i) config.nodes.push_back("node-" + std::to_string(i));
    config.seed = 42;
    EngineConfig engine_config;
    engine_config.leader_timeout_ns = config.failure_detection_ns;
    aether::sim::Trace trace;
    aether::sim::SimCluster cluster(config, trace,
                                    aether::engine::make_deployment_runtime_factory(engine_config));
    cluster.client_write(
        "default", {KvCommand::put(aether::engine::blueprint_key("bench"), twenty_artifact_blueprint())});
    for (Nanos at = minutes(5); at <= minutes(60); at += minutes(5)) {
      cluster.loop().run_until(at);
      if (auto leader = active_leader(cluster)) {
        cluster.crash(*leader);
        ++crashes;
        cluster.loop().run_until(at + seconds(30));
        cluster.restart(*leader);
      }
    }
    cluster.loop().run_until(minutes(60));
    events += cluster.loop().events_processed();
    active = 0;
    for (const auto& [key, value] : cluster.canonical_store()) {
      // The key first: blueprint and slice-target values are not slice values.
      if (!aether::engine::parse_slice_key(key)) continue;
      auto parsed = aether::engine::parse_slice_value(value);
      if (parsed && parsed->state == aether::engine::SliceState::Active) ++active;
    }
  }
  state.counters["events_per_s"] =
      benchmark::Counter(static_cast<double>(events), benchmark::Counter::kIsRate);
  state.counters["sim_s_per_wall_s"] =
      benchmark::Counter(3600.0 * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["events_per_run"] = static_cast<double>(events) / static_cast<double>(state.iterations());
  state.counters["active_at_end"] = active;
  state.counters["leader_crashes"] = static_cast<double>(crashes) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_FailoverHour)->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace

BENCHMARK_MAIN();
