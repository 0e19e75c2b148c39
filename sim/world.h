// What the pieces of the simulated world share: the configuration, the event
// loop, the trace, the observers, the network rules, the named PRNG streams
// and the fault settings. SimCluster owns one World; nodes and the consensus
// model hold a reference to it.
#pragma once

#include <algorithm>
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
#include "sim/kv_interest.h"
#include "sim/network.h"
#include "sim/prng.h"
#include "sim/slice_store.h"
#include "sim/trace.h"
#include "sim/world_observer.h"

namespace aether::sim {

using engine::NodeId;

enum class KvOrderMode : std::uint8_t { Seeded, Adversarial };

// Stalled rounds (simulation.md §3a): at each decision, with probability
// `ppm`, decisions cluster-wide stop for a duration drawn from [min_ns, max_ns].
struct StallSettings {
  std::uint32_t ppm = 0;
  Nanos min_ns = 0;
  Nanos max_ns = 0;
  bool operator==(const StallSettings&) const = default;
};

// The largest clock drift rate (simulation.md §3a: at most 0.2).
constexpr std::uint32_t kMaxClockDriftPpm = 200'000;

// The cluster as a run starts it (scenario `cluster` section plus the seed).
struct SimConfig {
  std::vector<NodeId> nodes;  // initial configured nodes
  Nanos failure_detection_ns = engine::seconds(1);
  // Above failure_detection_ns: detection is a range [failure_detection_ns,
  // failure_detection_max_ns], drawn per observer and direction. 0 or equal: fixed.
  Nanos failure_detection_max_ns = 0;
  NetworkSettings network;
  KvOrderMode kv_order = KvOrderMode::Seeded;
  SlicePhaseDurations slices;
  std::uint64_t seed = 0;
  // simulation.md §3a (defaults keep the §3 behaviour).
  Nanos late_commit_ns = 0;
  StallSettings stall;
  Nanos restore_lag_ns = 0;
  std::uint32_t clock_drift_ppm = 0;  // <= kMaxClockDriftPpm
  // What each node's host reports (engine-semantics.md §8.1): zone and
  // capacity; nodes not listed get `default_attributes`.
  std::map<NodeId, engine::NodeAttributes> attributes;
  engine::NodeAttributes default_attributes;
  // Deferred deliveries (issue 14, fifth pass; simulation.md §3a): a decided
  // position reaches a node none of whose listeners subscribes to it without
  // an event. Off: one delivery event per node and position, the same run
  // but for the kv.apply lines and the event count (a test compares them).
  bool defer_deliveries = true;
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
        faults_prng(Prng::stream(config.seed, "faults")),
        detection_prng(Prng::stream(config.seed, "failure-detection")),
        held_prng(Prng::stream(config.seed, "held-deliveries")),
        stall_prng(Prng::stream(config.seed, "stall")),
        restore_prng(Prng::stream(config.seed, "restore-lag")),
        drift_prng(Prng::stream(config.seed, "clock-drift")),
        lost_submit_prng(Prng::stream(config.seed, "lost-submits")),
        reorder_prng(Prng::stream(config.seed, "quorum-reorder")),
        stall(config.stall),
        attributes(config.attributes) {}

  Nanos now() const { return loop.now(); }
  template <typename F>
  void notify(F&& f) {
    for (WorldObserver* observer : observers) f(*observer);
  }
  // Zone and capacity the host reports for `node` (added nodes included).
  engine::NodeAttributes attributes_of(const NodeId& node) const {
    auto it = attributes.find(node);
    return it == attributes.end() ? config.default_attributes : it->second;
  }
  std::size_t majority() const { return configured.size() / 2 + 1; }
  // Adds or removes a configured node (every form kept in step; a node is
  // configured once its vertex exists, when vertex_of is set).
  void configure(const NodeId& node) {
    if (!configured.insert(node).second) return;
    configured_sorted.insert(std::lower_bound(configured_sorted.begin(), configured_sorted.end(), node),
                             node);
    mark_configured(node, 1);
  }
  void unconfigure(const NodeId& node) {
    if (configured.erase(node) == 0) return;
    configured_sorted.erase(std::lower_bound(configured_sorted.begin(), configured_sorted.end(), node));
    mark_configured(node, 0);
  }
  void mark_configured(const NodeId& node, std::uint8_t value) {
    const std::uint32_t vertex = vertex_of ? vertex_of(node) : kNoVertex;
    if (vertex == kNoVertex) return;
    if (vertex >= configured_vertex.size()) configured_vertex.resize(vertex + 1, 0);
    configured_vertex[vertex] = value;
  }
  Nanos max_round_trip_ns() const { return 2 * network.max_latency_ns(); }
  // Failure detection: the range's bounds (equal when fixed).
  Nanos detection_min_ns() const { return config.failure_detection_ns; }
  Nanos detection_max_ns() const {
    return std::max(config.failure_detection_ns, config.failure_detection_max_ns);
  }
  bool detection_ranged() const { return detection_max_ns() > detection_min_ns(); }

  SimConfig config;
  EventLoop loop;
  Trace& trace;
  std::vector<WorldObserver*> observers;
  SimNetwork network;
  Prng network_prng;
  Prng order_prng;
  Prng slices_prng;
  Prng faults_prng;  // outcome-unknown batches: decided later or dropped, and when
  // One sub-stream per fault kind, so that turning one on re-draws no other.
  Prng detection_prng;    // per-observer failure-detection delays (a range)
  Prng held_prng;         // latency of deliveries held behind a cut, on release
  Prng stall_prng;        // stalled rounds
  Prng restore_prng;      // restore lag: which older position, catch-up latency
  Prng drift_prng;        // per-node clock rates
  Prng lost_submit_prng;  // lose_submits
  Prng reorder_prng;      // reorder_quorum_events
  StallSettings stall;    // in force (the network step changes it)
  SliceFailureRules slice_rules;
  std::set<NodeId> configured;  // change through configure / unconfigure
  // The same, as a sorted vector (issue 14, fifth pass: every view change
  // walks it to count the view's configured members).
  std::vector<NodeId> configured_sorted;
  // And by vertex index: 1 if configured (issue 14, seventh pass: a view
  // change counts its configured members by vertex).
  std::vector<std::uint8_t> configured_vertex;
  // By vertex index: the node is up and unpaused (each node keeps its own
  // byte; a removed node is down for good, and every other vertex is
  // configured), read per peer by gather_acks (issue 14, fifth pass).
  std::vector<std::uint8_t> running;
  void set_running(std::uint32_t vertex, bool value) {
    if (vertex == kNoVertex) return;
    if (vertex >= running.size()) running.resize(vertex + 1, 0);
    running[vertex] = value ? 1 : 0;
  }
  std::map<NodeId, engine::NodeAttributes> attributes;  // starts as config.attributes; add_node adds
  std::vector<LostSubmitRule> lost_submits;
  // Engine-facing quorum events out of order, per node ("" = every node without its own rule).
  std::map<NodeId, std::uint32_t> quorum_reorder_ppm;
  // Whether from->to is cut right now (rules, or an end down/paused); set by the cluster.
  std::function<bool(const NodeId& from, const NodeId& to)> link_cut;
  // Whether a node is up, unpaused and configured right now; set by the cluster.
  std::function<bool(const NodeId& node)> node_active;
  // A node's vertex index (issue 14, fourth pass: no name lookups per peer
  // on the hot paths; `running` below says which vertices are active); set
  // by the cluster. kNoVertex: not a node of the cluster.
  static constexpr std::uint32_t kNoVertex = 0xFFFFFFFFu;
  std::function<std::uint32_t(const NodeId& node)> vertex_of;
  // Which nodes' listeners subscribe to which keys (issue 14, fifth pass);
  // each node keeps its own entry current.
  KvInterestIndex interests;
  // Scratch space of the per-peer and per-receiver loops (SimNode::gather_acks,
  // SimCluster::on_decided): one set of buffers for the whole world, warm in
  // the cache, instead of one per node (issue 14, seventh pass). No loop that
  // uses them calls another that does.
  struct Scratch {
    std::vector<Nanos> draws;                            // latencies drawn in one call
    std::vector<std::uint64_t> packed;                   // gather_acks: packed round trips
    std::vector<std::uint64_t> select;                   // gather_acks: kth_smallest's working space
    std::vector<std::pair<Nanos, std::uint32_t>> pairs;  // gather_acks: round trips that do not pack
    std::vector<std::uint64_t> places;     // gather_acks: the deciders' places in the view (bits)
    std::vector<std::uint32_t> receivers;  // on_decided: the vertices that draw
  };
  Scratch scratch;
};

}  // namespace aether::sim
