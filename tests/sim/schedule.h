// Generated schedules of submits and faults for sim property tests, and the
// observer that recomputes the canonical store per decided position to judge
// replica consistency independently of the simulator's own bookkeeping.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <tuple>
#include <vector>

#include "sim/cluster.h"
#include "sim/kv_store.h"
#include "tests/sim/test_runtime.h"

namespace aether::sim::testing {

// kind (mod 16), node, key/value seed, delay before the next op (ms, mod 1500)
using ScheduleOp = std::tuple<std::uint8_t, std::uint8_t, std::uint8_t, std::uint16_t>;

struct ReplicaChecker : WorldObserver {
  KvMap canonical;
  std::vector<std::uint64_t> digest_at{KvStoreDigest::of({})};  // index: decided position
  std::vector<std::string> failures;
  std::uint64_t applies = 0;
  std::uint64_t restores = 0;

  void on_decide(Nanos, std::uint64_t position, const BatchRecord& record) override {
    if (position != digest_at.size()) failures.push_back("position gap at " + std::to_string(position));
    for (const auto& command : record.commands) {
      if (command.op == engine::KvOp::Put) {
        canonical[command.key] = command.value;
      } else {
        canonical.erase(command.key);
      }
    }
    digest_at.push_back(KvStoreDigest::of(canonical));
  }
  void check(const NodeId& node, std::uint64_t position, std::uint64_t digest, const char* how) {
    if (position >= digest_at.size() || digest_at[position] != digest) {
      failures.push_back(node + " " + how + " at " + std::to_string(position) + " differs from canonical");
    }
  }
  void on_apply(Nanos, const NodeId& node, std::uint64_t position, std::uint64_t digest) override {
    ++applies;
    check(node, position, digest, "apply");
  }
  void on_restore(Nanos, const NodeId& node, std::uint64_t position, std::uint64_t digest) override {
    ++restores;
    check(node, position, digest, "restore");
  }
};

// Plays `ops`; `after_each` (if set) runs after each op's delay; with `settle`
// everything is healed, resumed and restarted at the end and left 10s to
// recover.
inline void play_schedule(SimCluster& cluster, const std::vector<ScheduleOp>& ops, bool settle = true,
                          const std::function<void()>& after_each = {}) {
  const auto nodes = cluster.configured_nodes();
  std::uint64_t counter = 0;
  for (const auto& [kind, node_seed, value_seed, delay_ms] : ops) {
    const NodeId& node = nodes[node_seed % nodes.size()];
    const std::string key = "k" + std::to_string(value_seed % 5);
    const std::string value = "v" + std::to_string(++counter);
    switch (kind % 16) {
      case 0:
      case 1:
      case 2:
      case 3:
        if (auto* runtime = runtime_of(cluster, node); runtime && !cluster.is_paused(node)) {
          engine::KvBatch batch{engine::KvCommand::put(key, value)};
          if (value_seed % 3 == 0)
            batch.push_back(engine::KvCommand::remove("k" + std::to_string(value_seed % 4)));
          runtime->services().kv.submit(engine::Writer::Ndm, std::move(batch), [](auto) {});
        }
        break;
      case 4:
        cluster.crash(node);
        break;
      case 5:
        cluster.restart(node);
        break;
      case 6: {
        std::vector<NodeId> left(nodes.begin(), nodes.begin() + 1 + node_seed % (nodes.size() - 1));
        cluster.partition({left});
        break;
      }
      case 7:
        cluster.heal();
        break;
      case 8:
        cluster.pause(node);
        break;
      case 9:
        cluster.resume(node);
        break;
      case 10:
        cluster.isolate(node);
        break;
      case 11:
        cluster.heal(node);
        break;
      case 12:
        cluster.client_write("c" + std::to_string(value_seed % 2), {engine::KvCommand::put(key, value)});
        break;
      case 13:  // faults heal more often than they strike, so that the cluster keeps deciding
        cluster.heal();
        break;
      case 14:
        for (const auto& each : nodes) cluster.resume(each);
        break;
      case 15:
        for (const auto& each : nodes) cluster.restart(each);
        break;
    }
    cluster.loop().run_until(cluster.now() + engine::millis(delay_ms % 1500));
    if (after_each) after_each();
  }
  if (!settle) return;
  // Settle: everything back up and connected.
  cluster.heal();
  for (const auto& node : nodes) {
    cluster.resume(node);
    cluster.restart(node);
  }
  cluster.loop().run_until(cluster.now() + engine::seconds(10));
}

}  // namespace aether::sim::testing
