#include <catch2/catch.hpp>

#include "sim/cluster.h"
#include "tests/sim/test_runtime.h"

using namespace aether::sim;
using namespace aether::sim::testing;
using aether::engine::millis;
using aether::engine::seconds;
using Ids = std::vector<std::string>;

namespace {
struct Writers : WorldObserver {
  std::vector<std::string> submits;
  void on_submit(Nanos, const BatchRecord& record, const Submitter& s) override {
    submits.push_back(s.node + " " + s.writer + " " + record.commands.front().value);
  }
};
}  // namespace

TEST_CASE("writes of one client commit one after another, in order") {
  Trace trace;
  Writers writers;
  SimConfig config = config_of(3);
  config.kv_order = KvOrderMode::Adversarial;
  SimCluster cluster(config, trace);
  cluster.add_observer(&writers);
  cluster.loop().run_until(0);
  std::vector<std::string> committed;
  for (int i = 1; i <= 3; ++i) {
    cluster.client_write("alice", put("k", std::to_string(i)),
                         [&, i] { committed.push_back(std::to_string(i)); });
  }
  CHECK_FALSE(cluster.client_writes_idle());
  cluster.loop().run_until(seconds(2));
  CHECK(committed == Ids{"1", "2", "3"});
  CHECK(cluster.canonical_store() == KvMap{{"k", "3"}});
  CHECK(writers.submits == Ids{"node-1 client:alice 1", "node-1 client:alice 2", "node-1 client:alice 3"});
  CHECK(cluster.client_writes_idle());
}

TEST_CASE("client writes go through the smallest live node with quorum") {
  Trace trace;
  Writers writers;
  SimCluster cluster(config_of(3), trace);
  cluster.add_observer(&writers);
  cluster.crash("node-1");
  cluster.client_write("bob", put("k", "v"));
  cluster.loop().run_until(seconds(1));
  CHECK(writers.submits == Ids{"node-2 client:bob v"});
}

TEST_CASE("a client write is retried every 500ms until it commits") {
  Trace trace;
  Writers writers;
  SimCluster cluster(config_of(3), trace);
  cluster.add_observer(&writers);
  cluster.partition({{"node-1"}, {"node-2"}, {"node-3"}});
  cluster.loop().run_until(seconds(2));
  bool done = false;
  Nanos done_at = -1;
  cluster.client_write("carol", put("k", "v"), [&] {
    done = true;
    done_at = cluster.now();
  });
  cluster.loop().run_until(seconds(5));
  CHECK_FALSE(done);
  CHECK(writers.submits.empty());
  cluster.heal();  // views re-form at 6s, before the retry due at that instant
  cluster.loop().run_until(seconds(8));
  CHECK(done);
  CHECK(done_at > seconds(6));
  CHECK(done_at < seconds(6) + millis(500));
  CHECK(cluster.canonical_store() == KvMap{{"k", "v"}});
}

TEST_CASE("different clients are not ordered with each other") {
  Trace trace;
  SimCluster cluster(config_of(3), trace);
  cluster.loop().run_until(0);
  int commits = 0;
  cluster.client_write("a", put("x", "1"), [&] { ++commits; });
  cluster.client_write("b", put("y", "1"), [&] { ++commits; });
  CHECK(cluster.pending_batches() == 2);  // both submitted at once
  cluster.loop().run_until(seconds(1));
  CHECK(commits == 2);
}
