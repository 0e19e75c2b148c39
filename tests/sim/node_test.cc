#include <catch2/catch.hpp>

#include <stdexcept>

#include "engine/assertion.h"
#include "sim/cluster.h"
#include "tests/sim/test_runtime.h"

using namespace aether::sim;
using namespace aether::sim::testing;
using aether::engine::millis;
using aether::engine::seconds;
using aether::engine::SubmitOutcome;
using aether::engine::Writer;
using Ids = std::vector<std::string>;

namespace {
struct AssertLog : WorldObserver {
  std::vector<std::string> asserts;
  std::vector<std::string> crashes;
  void on_engine_assert(Nanos, const NodeId& node, const std::string& message) override {
    asserts.push_back(node + ": " + message);
  }
  void on_node_fault(Nanos, const NodeId& node, NodeFault fault) override {
    if (fault == NodeFault::Crash) crashes.push_back(node);
  }
};
}  // namespace

TEST_CASE("an exception thrown inside a hosted runtime becomes on_engine_assert and the run continues") {
  Trace trace;
  Journal journal;
  AssertLog log;
  SimCluster cluster(config_of(3), trace, journal_factory(journal));
  cluster.add_observer(&log);
  cluster.loop().run_until(0);
  runtime_of(cluster, "node-2")->listener(1).on_kv_hook = [](const aether::engine::KvNotification& n) {
    if (n.key == "boom") throw std::runtime_error("handler exploded");
  };
  runtime_of(cluster, "node-1")->services().kv.submit(Writer::Ndm, put("boom", "1"), [](auto) {});
  cluster.loop().run_until(seconds(1));
  CHECK(log.asserts == Ids{"node-2: handler exploded"});
  CHECK(log.crashes == Ids{"node-2"});
  CHECK_FALSE(cluster.is_up("node-2"));
  CHECK(cluster.runtime("node-2") == nullptr);
  // The rest of the world goes on.
  {
    std::optional<SubmitOutcome> out;
    runtime_of(cluster, "node-1")->services().kv.submit(Writer::Ndm, put("after", "1"), [&](SubmitOutcome o) {
      out = o;
    });
    cluster.loop().run_until(seconds(2));
    CHECK(out == SubmitOutcome::Committed);
    CHECK(cluster.restart("node-2"));
    cluster.loop().run_until(seconds(4));
    CHECK(cluster.store("node-2") == KvMap{{"after", "1"}, {"boom", "1"}});
  }
}

TEST_CASE("a failed AETHER_ASSERT inside a timer stops only that node") {
  Trace trace;
  Journal journal;
  AssertLog log;
  SimCluster cluster(config_of(3), trace, journal_factory(journal));
  cluster.add_observer(&log);
  cluster.loop().run_until(0);
  auto& services = runtime_of(cluster, "node-3")->services();
  services.clock.schedule_after(millis(10), [&services] {
    AETHER_ASSERT(services.assertions, 1 + 1 == 3, std::string("arithmetic holds"));
  });
  cluster.loop().run_until(seconds(1));
  REQUIRE(log.asserts.size() == 1);
  CHECK(log.asserts[0].find("node-3: assertion failed: 1 + 1 == 3") == 0);
  CHECK(log.asserts[0].find("arithmetic holds") != std::string::npos);
  CHECK_FALSE(cluster.is_up("node-3"));
  CHECK(cluster.is_up("node-1"));
}

TEST_CASE("callbacks of a dead incarnation are ignored") {
  Trace trace;
  Journal journal;
  SimCluster cluster(config_of(3), trace, journal_factory(journal));
  cluster.loop().run_until(0);
  bool fired = false;
  bool submit_answered = false;
  runtime_of(cluster, "node-2")->services().clock.schedule_after(millis(500), [&] { fired = true; });
  runtime_of(cluster, "node-2")->services().kv.submit(Writer::Ndm, put("k", "v"), [&](auto) {
    submit_answered = true;
  });
  cluster.crash("node-2");
  cluster.restart("node-2");
  cluster.loop().run_until(seconds(3));
  CHECK_FALSE(fired);
  CHECK_FALSE(submit_answered);
}

TEST_CASE("a cancelled engine timer never fires") {
  Trace trace;
  Journal journal;
  SimCluster cluster(config_of(1), trace, journal_factory(journal));
  cluster.loop().run_until(0);
  auto& clock = runtime_of(cluster, "node-1")->services().clock;
  bool fired = false;
  const auto id = clock.schedule_after(millis(5), [&] { fired = true; });
  clock.cancel(id);
  cluster.loop().run_until(seconds(1));
  CHECK_FALSE(fired);
}

TEST_CASE("fault point: the next submit of a writer on a node never resolves") {
  Trace trace;
  Journal journal;
  SimCluster cluster(config_of(3), trace, journal_factory(journal));
  cluster.loop().run_until(0);
  cluster.lose_next_submit("node-1", "cdm");
  std::optional<SubmitOutcome> lost, ndm, later;
  auto& kv = runtime_of(cluster, "node-1")->services().kv;
  kv.submit(Writer::Ndm, put("ndm", "1"), [&](SubmitOutcome o) { ndm = o; });
  kv.submit(Writer::Cdm, put("lost", "1"), [&](SubmitOutcome o) { lost = o; });
  kv.submit(Writer::Cdm, put("later", "1"), [&](SubmitOutcome o) { later = o; });
  cluster.loop().run_until(seconds(30));
  CHECK_FALSE(lost);
  CHECK(ndm == SubmitOutcome::Committed);
  CHECK(later == SubmitOutcome::Committed);
  CHECK(cluster.canonical_store().count("lost") == 0);
}

TEST_CASE("fault point: lost submits by probability") {
  Trace trace;
  Journal journal;
  SimCluster cluster(config_of(3), trace, journal_factory(journal));
  cluster.loop().run_until(0);
  cluster.set_lost_submit_rule("", "ndm", 1'000'000);
  std::optional<SubmitOutcome> out;
  runtime_of(cluster, "node-2")->services().kv.submit(Writer::Ndm, put("x", "1"), [&](SubmitOutcome o) {
    out = o;
  });
  cluster.loop().run_until(seconds(10));
  CHECK_FALSE(out);
  CHECK(cluster.canonical_position() == 0);
}

TEST_CASE("fault point: engine-facing quorum events out of order while the store follows the real quorum") {
  Trace trace;
  Journal journal;
  SimCluster cluster(config_of(3), trace, journal_factory(journal));
  cluster.loop().run_until(0);
  cluster.set_quorum_reorder("node-3", 1'000'000);
  cluster.isolate("node-3");
  cluster.loop().run_until(seconds(1));
  CHECK_FALSE(cluster.has_quorum("node-3"));
  CHECK(lines_of(journal, "node-3 quorum") == Ids{"node-3 quorum established 1"});  // Lost held back
  cluster.set_quorum_reorder("node-3", 0);
  cluster.heal();
  cluster.loop().run_until(seconds(2));
  CHECK(lines_of(journal, "node-3 quorum") ==
        Ids{"node-3 quorum established 1", "node-3 quorum established 3", "node-3 quorum lost 2"});
  CHECK(cluster.has_quorum("node-3"));
  CHECK(cluster.is_restored("node-3"));
}
