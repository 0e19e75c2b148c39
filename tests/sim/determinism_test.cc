#include <rapidcheck/catch.h>
#include <catch2/catch.hpp>

#include "sim/cluster.h"
#include "tests/sim/schedule.h"
#include "tests/sim/test_runtime.h"

using namespace aether::sim;
using namespace aether::sim::testing;

namespace {

std::vector<ScheduleOp> busy_schedule() {
  std::vector<ScheduleOp> ops;
  Prng prng(99);  // a fixed schedule: only the run seed varies below
  for (int i = 0; i < 300; ++i) {
    ops.emplace_back(static_cast<std::uint8_t>(prng.below(16)), static_cast<std::uint8_t>(prng.below(5)),
                     static_cast<std::uint8_t>(prng.below(256)), static_cast<std::uint16_t>(prng.below(400)));
  }
  return ops;
}

std::uint64_t run_busy(std::uint64_t seed) {
  Trace trace;
  Journal journal;
  SimConfig config = config_of(5, seed);
  config.network.drop_ppm = 100'000;
  config.network.duplicate_ppm = 50'000;
  SimCluster cluster(config, trace, journal_factory(journal));
  play_schedule(cluster, busy_schedule());
  return trace.hash();
}

}  // namespace

TEST_CASE("the same seed gives the same trace hash for a busy schedule; different seeds differ") {
  const std::uint64_t first = run_busy(11);
  CHECK(first == run_busy(11));
  CHECK(first != run_busy(12));
}

TEST_CASE("replica consistency: a node at decided position p holds the canonical store at p") {
  rc::prop(
      "over generated schedules of submits, crashes, partitions, pauses and heals",
      [](const std::vector<ScheduleOp>& ops, std::uint8_t seed) {
        Trace trace;
        Journal journal;
        ReplicaChecker checker;
        SimConfig config = config_of(5, seed);
        config.network.drop_ppm = (seed % 3) * 100'000;  // retransmissions
        config.network.duplicate_ppm = (seed % 2) * 200'000;
        config.kv_order = seed % 4 == 0 ? KvOrderMode::Adversarial : KvOrderMode::Seeded;
        SimCluster cluster(config, trace, journal_factory(journal));
        cluster.add_observer(&checker);
        play_schedule(cluster, ops);
        RC_ASSERT(checker.failures.empty());
        for (const auto& node : cluster.configured_nodes()) {
          RC_ASSERT(KvStoreDigest::of(cluster.store(node)) == cluster.store_digest(node));
          if (cluster.has_quorum(node)) {
            RC_ASSERT(checker.digest_at.at(cluster.applied_position(node)) == cluster.store_digest(node));
          }
        }
        // After settling, every node has caught up with the canonical store.
        for (const auto& node : cluster.configured_nodes()) {
          RC_ASSERT(cluster.store(node) == cluster.canonical_store());
        }
        RC_ASSERT(checker.canonical == cluster.canonical_store());
      });
}
