// What the pieces of the simulated world share: the configuration, the event
// loop, the trace, the observers, the network rules, the named PRNG streams
// and the fault settings. SimCluster owns one World; nodes and the consensus
// model hold a reference to it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/time.h"
#include "engine/topology.h"
#include "sim/event_loop.h"
#include "sim/network.h"
#include "sim/prng.h"
#include "sim/slice_store.h"
#include "sim/trace.h"
#include "sim/world_observer.h"

namespace aether::sim {

using engine::NodeId;

enum class KvOrderMode : std::uint8_t { Seeded, Adversarial };

// The cluster as a run starts it (scenario `cluster` section plus the seed).
struct SimConfig {
  std::vector<NodeId> nodes;  // initial configured nodes
  Nanos failure_detection_ns = engine::seconds(1);
  NetworkSettings network;
  KvOrderMode kv_order = KvOrderMode::Seeded;
  SlicePhaseDurations slices;
  std::uint64_t seed = 0;
};

// "A submit that never resolves" fault: matches submits of `writer` ("" = any)
// on `node` ("" = any) with probability `ppm`; a one-shot rule fires on the
// next matching submit and is then gone.
struct LostSubmitRule {
  NodeId node;
  std::string writer;
  std::uint32_t ppm = 0;
  bool one_shot = false;
};

struct World {
  explicit World(SimConfig config_in, Trace& trace_in)
      : config(std::move(config_in)),
        trace(trace_in),
        network(config.network),
        network_prng(Prng::stream(config.seed, "network")),
        order_prng(Prng::stream(config.seed, "kv-order")),
        slices_prng(Prng::stream(config.seed, "slices")),
        faults_prng(Prng::stream(config.seed, "faults")) {}

  Nanos now() const { return loop.now(); }
  template <typename F>
  void notify(F&& f) {
    for (WorldObserver* observer : observers) f(*observer);
  }
  std::size_t majority() const { return configured.size() / 2 + 1; }
  Nanos max_round_trip_ns() const { return 2 * network.max_latency_ns(); }

  SimConfig config;
  EventLoop loop;
  Trace& trace;
  std::vector<WorldObserver*> observers;
  SimNetwork network;
  Prng network_prng;
  Prng order_prng;
  Prng slices_prng;
  Prng faults_prng;
  SliceFailureRules slice_rules;
  std::set<NodeId> configured;
  std::vector<LostSubmitRule> lost_submits;
  std::map<NodeId, std::uint32_t> quorum_reorder_ppm;  // engine-facing quorum events out of order
  // Whether from->to is cut right now (rules, or an end down/paused); set by the cluster.
  std::function<bool(const NodeId& from, const NodeId& to)> link_cut;
};

}  // namespace aether::sim
