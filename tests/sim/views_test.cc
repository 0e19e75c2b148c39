#include <rapidcheck/catch.h>
#include <catch2/catch.hpp>

#include <algorithm>

#include "sim/cluster.h"
#include "tests/sim/schedule.h"
#include "tests/sim/test_runtime.h"

using namespace aether::sim;
using namespace aether::sim::testing;
using aether::engine::millis;
using aether::engine::seconds;
using Ids = std::vector<std::string>;

TEST_CASE("all initial nodes start with full views and quorum at t=0") {
  Trace trace;
  Journal journal;
  SimCluster cluster(config_of(3), trace, journal_factory(journal));
  cluster.loop().run_until(0);
  for (const auto& node : cluster.configured_nodes()) {
    CHECK(cluster.view(node) == Ids{"node-1", "node-2", "node-3"});
    CHECK(cluster.has_quorum(node));
    CHECK(cluster.is_restored(node));
  }
  CHECK(journal.contains("node-1 quorum established 1"));
  CHECK(journal.contains("node-1 ndm restored 0"));
}

TEST_CASE("a cut is noticed after exactly the failure detection delay") {
  Trace trace;
  SimCluster cluster(config_of(3), trace);
  cluster.loop().run_until(seconds(10));
  cluster.isolate("node-3");
  cluster.loop().run_until(seconds(11) - 1);
  CHECK(cluster.view("node-1") == Ids{"node-1", "node-2", "node-3"});
  CHECK(cluster.view("node-3") == Ids{"node-1", "node-2", "node-3"});
  cluster.loop().run_until(seconds(11));
  CHECK(cluster.view("node-1") == Ids{"node-1", "node-2"});
  CHECK(cluster.view("node-3") == Ids{"node-3"});
  CHECK_FALSE(cluster.has_quorum("node-3"));
  CHECK(cluster.has_quorum("node-1"));
}

TEST_CASE("a link must stay uncut for the detection delay before a peer rejoins") {
  Trace trace;
  SimCluster cluster(config_of(3), trace);
  cluster.isolate("node-3");
  cluster.loop().run_until(seconds(2));
  cluster.heal();
  cluster.loop().run_until(seconds(2) + millis(500));
  cluster.isolate("node-3");  // cut again before it rejoined
  cluster.loop().run_until(seconds(2) + millis(700));
  cluster.heal();
  cluster.loop().run_until(seconds(3) + millis(699));
  CHECK(cluster.view("node-1") == Ids{"node-1", "node-2"});
  cluster.loop().run_until(seconds(3) + millis(700));
  CHECK(cluster.view("node-1") == Ids{"node-1", "node-2", "node-3"});
  CHECK(cluster.has_quorum("node-3"));
}

TEST_CASE("one-way loss of 1 removes the pair from both views") {
  Trace trace;
  SimCluster cluster(config_of(3), trace);
  cluster.link("node-1", "node-2", LinkRule{1'000'000, 0});
  cluster.loop().run_until(seconds(1));
  CHECK(cluster.view("node-1") == Ids{"node-1", "node-3"});
  CHECK(cluster.view("node-2") == Ids{"node-2", "node-3"});
  CHECK(cluster.view("node-3") == Ids{"node-1", "node-2", "node-3"});
}

TEST_CASE("a bridge node sees both sides of a partition") {
  Trace trace;
  SimCluster cluster(config_of(5), trace);
  cluster.partition({{"node-1", "node-2", "node-3"}, {"node-3", "node-4", "node-5"}});
  cluster.loop().run_until(seconds(1));
  CHECK(cluster.view("node-3") == Ids{"node-1", "node-2", "node-3", "node-4", "node-5"});
  CHECK(cluster.view("node-1") == Ids{"node-1", "node-2", "node-3"});
  CHECK(cluster.view("node-5") == Ids{"node-3", "node-4", "node-5"});
}

TEST_CASE("view changes carry the new view to the node's engine") {
  Trace trace;
  Journal journal;
  SimCluster cluster(config_of(3), trace, journal_factory(journal));
  cluster.crash("node-3");
  cluster.loop().run_until(seconds(1));
  CHECK(journal.contains("node-1 topology down node-3"));
  CHECK(journal.contains("node-2 topology down node-3"));
  CHECK(cluster.has_quorum("node-1"));
}

TEST_CASE("a restarted node's view starts as itself alone") {
  Trace trace;
  Journal journal;
  SimCluster cluster(config_of(3), trace, journal_factory(journal));
  cluster.loop().run_until(seconds(5));
  cluster.crash("node-2");
  cluster.loop().run_until(seconds(5) + millis(300));
  cluster.restart("node-2");
  cluster.loop().run_until(seconds(5) + millis(300));
  CHECK(cluster.view("node-2") == Ids{"node-2"});
  CHECK_FALSE(cluster.has_quorum("node-2"));
  cluster.loop().run_until(seconds(6) + millis(300));
  CHECK(cluster.view("node-2") == Ids{"node-1", "node-2", "node-3"});
  CHECK(cluster.has_quorum("node-2"));
  // Peers never saw it go: the outage was shorter than failure detection.
  CHECK_FALSE(journal.contains("node-1 topology down node-2"));
}

TEST_CASE("quorum events carry increasing sequence numbers") {
  Trace trace;
  Journal journal;
  SimCluster cluster(config_of(3), trace, journal_factory(journal));
  for (int round = 0; round < 3; ++round) {
    cluster.isolate("node-1");
    cluster.loop().run_until(cluster.now() + seconds(2));
    cluster.heal();
    cluster.loop().run_until(cluster.now() + seconds(2));
  }
  CHECK(lines_of(journal, "node-1 quorum") == Ids{"node-1 quorum established 1", "node-1 quorum lost 2",
                                                  "node-1 quorum established 3", "node-1 quorum lost 4",
                                                  "node-1 quorum established 5", "node-1 quorum lost 6",
                                                  "node-1 quorum established 7"});
}

TEST_CASE("pause looks like a crash to peers and resumes into NodeDown and QuorumLost first") {
  Trace trace;
  Journal journal;
  SimCluster cluster(config_of(3), trace, journal_factory(journal));
  cluster.loop().run_until(seconds(1));
  cluster.pause("node-3");
  cluster.loop().run_until(seconds(3));
  CHECK(journal.contains("node-1 topology down node-3"));
  CHECK(cluster.view("node-1") == Ids{"node-1", "node-2"});
  CHECK(lines_of(journal, "node-3 topology").empty());  // it processes nothing while paused
  const auto before = journal.lines.size();
  cluster.resume("node-3");
  std::vector<std::string> after(journal.lines.begin() + static_cast<std::ptrdiff_t>(before),
                                 journal.lines.end());
  REQUIRE(after.size() >= 3);
  CHECK(after[0] == "node-3 topology down node-1");
  CHECK(after[1] == "node-3 topology down node-2");
  CHECK(after[2] == "node-3 quorum lost 2");
  // Views re-form failure_detection after the resume.
  cluster.loop().run_until(seconds(4) - 1);
  CHECK(cluster.view("node-3") == Ids{"node-3"});
  cluster.loop().run_until(seconds(4));
  CHECK(cluster.view("node-3") == Ids{"node-1", "node-2", "node-3"});
  CHECK(cluster.has_quorum("node-3"));
}

TEST_CASE("a resumed node gets queued deliveries in arrival order, then overdue timers") {
  Trace trace;
  Journal journal;
  SimCluster cluster(config_of(3), trace, journal_factory(journal));
  cluster.loop().run_until(seconds(1));
  runtime_of(cluster, "node-3")->services().clock.schedule_after(millis(100), [&] {
    journal.add("node-3 timer");
  });
  cluster.pause("node-3");
  runtime_of(cluster, "node-1")->services().kv.submit(aether::engine::Writer::Ndm, put("k", "v"), [](auto) {
  });
  cluster.loop().run_until(seconds(1) + millis(500));
  CHECK_FALSE(journal.contains("node-3 timer"));
  CHECK(cluster.applied_position("node-3") == 0);
  cluster.resume("node-3");
  auto node3 = lines_of(journal, "node-3");
  REQUIRE(node3.size() >= 4);
  CHECK(node3[node3.size() - 4] == "node-3 ndm apply put k=v");
  CHECK(node3[node3.size() - 1] == "node-3 timer");
  CHECK(cluster.applied_position("node-3") == 1);
}

TEST_CASE("add_node uses node-<k+1> and never reuses an id") {
  Trace trace;
  SimConfig config;
  config.nodes = {"alpha-7", "beta"};
  SimCluster cluster(config, trace);
  CHECK(cluster.add_node() == std::optional<std::string>("node-8"));
  CHECK(cluster.remove_node("node-8"));
  CHECK(cluster.add_node() == std::optional<std::string>("node-9"));
  CHECK(cluster.add_node(std::string("node-8")) == std::nullopt);
  CHECK(cluster.configured_nodes() == Ids{"alpha-7", "beta", "node-9"});
  CHECK(cluster.all_nodes() == Ids{"alpha-7", "beta", "node-8", "node-9"});
}

TEST_CASE("a new node starts alone and joins after failure detection") {
  Trace trace;
  SimCluster cluster(config_of(3), trace);
  cluster.loop().run_until(seconds(1));
  const auto id = cluster.add_node();
  REQUIRE(id == std::optional<std::string>("node-4"));
  cluster.loop().run_until(seconds(1));
  CHECK(cluster.view("node-4") == Ids{"node-4"});
  CHECK_FALSE(cluster.has_quorum("node-4"));
  cluster.loop().run_until(seconds(2));
  CHECK(cluster.view("node-4") == Ids{"node-1", "node-2", "node-3", "node-4"});
  CHECK(cluster.has_quorum("node-4"));
}

TEST_CASE("adding a node raises the majority for everyone at once") {
  Trace trace;
  SimCluster cluster(config_of(4), trace);
  cluster.crash("node-4");
  cluster.loop().run_until(seconds(2));
  CHECK(cluster.has_quorum("node-1"));  // 3 of 4
  cluster.add_node();                   // 3 of 5 still holds
  cluster.add_node();                   // 3 of 6 does not
  cluster.loop().run_until(seconds(2));
  CHECK_FALSE(cluster.has_quorum("node-1"));
}

TEST_CASE("remove_node gives peers NodeRemoved and the new majority at once") {
  Trace trace;
  Journal journal;
  SimCluster cluster(config_of(4), trace, journal_factory(journal));
  cluster.crash("node-3");
  cluster.crash("node-4");
  cluster.loop().run_until(seconds(2));
  CHECK_FALSE(cluster.has_quorum("node-1"));  // 2 of 4
  CHECK(cluster.remove_node("node-4"));
  cluster.loop().run_until(seconds(2));
  CHECK(journal.contains("node-1 topology removed node-4"));
  CHECK(cluster.has_quorum("node-1"));  // 2 of 3
  CHECK_FALSE(cluster.restart("node-4"));
  CHECK_FALSE(cluster.is_configured("node-4"));
}

TEST_CASE("reachability components group nodes that can talk") {
  Trace trace;
  SimCluster cluster(config_of(5), trace);
  cluster.partition({{"node-1", "node-2"}, {"node-3", "node-4"}});
  cluster.crash("node-5");
  CHECK(cluster.reachability_components() == std::vector<Ids>{{"node-1", "node-2"}, {"node-3", "node-4"}});
}

TEST_CASE(
    "views hold their owner, stay within the configured nodes, decide quorum, and re-form after healing") {
  rc::prop("over generated schedules of faults", [](const std::vector<ScheduleOp>& ops, std::uint8_t seed) {
    Trace trace;
    Journal journal;
    SimCluster cluster(config_of(5, seed), trace, journal_factory(journal));
    std::vector<std::string> problems;
    auto check = [&] {
      const auto configured = cluster.configured_nodes();
      for (const auto& node : configured) {
        if (!cluster.is_up(node) || cluster.is_paused(node)) continue;
        const auto view = cluster.view(node);
        if (!std::is_sorted(view.begin(), view.end())) problems.push_back(node + ": view not sorted");
        if (!std::binary_search(view.begin(), view.end(), node))
          problems.push_back(node + ": view lacks itself");
        std::size_t members = 0;
        for (const auto& peer : view) {
          if (!std::binary_search(configured.begin(), configured.end(), peer)) {
            problems.push_back(node + ": view holds unconfigured " + peer);
          }
          ++members;
        }
        if (cluster.has_quorum(node) != (members >= configured.size() / 2 + 1)) {
          problems.push_back(node + ": quorum does not match its view");
        }
      }
    };
    play_schedule(cluster, ops, true, check);
    check();
    RC_ASSERT(problems.empty());
    for (const auto& node : cluster.configured_nodes()) {
      RC_ASSERT(cluster.view(node) == cluster.configured_nodes());
      RC_ASSERT(cluster.has_quorum(node));
    }
  });
}
