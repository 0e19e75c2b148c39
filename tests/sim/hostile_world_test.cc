// simulation.md §3a: each fault of the hostile world happens (a trace pattern
// or a count), and each has its own PRNG sub-stream.
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "sim/cluster.h"
#include "tests/sim/test_runtime.h"

using namespace aether::sim;
using namespace aether::sim::testing;
using aether::engine::millis;
using aether::engine::seconds;
using Ids = std::vector<std::string>;

namespace {

struct Lines {
  std::vector<std::string> all;
  explicit Lines(Trace& trace) {
    trace.set_line_observer([this](std::uint64_t, const std::string& line) { all.push_back(line); });
  }
  std::vector<std::string> kind(const std::string& kind) const {
    std::vector<std::string> out;
    const std::string needle = "\"kind\":\"" + kind + "\"";
    for (const auto& line : all)
      if (line.find(needle) != std::string::npos) out.push_back(line);
    return out;
  }
};

bool has(const std::string& line, const std::string& part) {
  return line.find(part) != std::string::npos;
}

void submit(SimCluster& cluster, const std::string& node, const std::string& key, const std::string& value,
            std::vector<aether::engine::SubmitOutcome>* outcomes = nullptr) {
  runtime_of(cluster, node)
      ->services()
      .kv.submit(aether::engine::Writer::Cdm, put(key, value), [outcomes](aether::engine::SubmitOutcome o) {
        if (outcomes) outcomes->push_back(o);
      });
}

}  // namespace

TEST_CASE("a cut-off node keeps its stale store and serves stale reads until failure detection") {
  Trace trace;
  Lines lines(trace);
  Journal journal;
  SimCluster cluster(config_of(3), trace, journal_factory(journal));
  cluster.loop().run_until(seconds(1));
  cluster.isolate("node-3");
  submit(cluster, "node-1", "k", "new");
  cluster.loop().run_until(seconds(1) + millis(200));
  CHECK(cluster.store("node-1").count("k") == 1);
  CHECK(cluster.store("node-2").count("k") == 1);
  // node-3 still believes it has quorum, and reads the old state.
  CHECK(cluster.has_quorum("node-3"));
  CHECK(runtime_of(cluster, "node-3")->services().kv.get("k") == std::nullopt);
  const auto held = lines.kind("kv.held");
  REQUIRE(held.size() == 1);
  CHECK(has(held[0], "\"node\":\"node-3\""));
  // The path returns before detection: what it missed arrives one latency later.
  cluster.heal();
  const auto released = lines.kind("kv.release");
  REQUIRE(released.size() == 1);
  CHECK(has(released[0], "\"node\":\"node-3\""));
  cluster.loop().run_until(seconds(1) + millis(210));
  CHECK(runtime_of(cluster, "node-3")->services().kv.get("k") == std::optional<std::string>("new"));
}

TEST_CASE("a node cut off past failure detection resets, and restores at regain instead of catching up") {
  Trace trace;
  Lines lines(trace);
  SimCluster cluster(config_of(3), trace);
  cluster.loop().run_until(seconds(1));
  cluster.isolate("node-3");
  cluster.client_write("c", put("k", "v"));
  cluster.loop().run_until(seconds(3));
  CHECK_FALSE(cluster.has_quorum("node-3"));
  CHECK(cluster.store("node-3").empty());
  cluster.heal();
  cluster.loop().run_until(seconds(5));
  CHECK(cluster.has_quorum("node-3"));
  CHECK(cluster.store("node-3").count("k") == 1);
  CHECK(lines.kind("kv.release").empty());  // the restore covered it
}

TEST_CASE("a cut-off submitter's batch is held, and may commit after the path returns (a zombie write)") {
  int decided_zombies = 0;
  int dropped_zombies = 0;
  for (std::uint64_t seed = 1; seed <= 30; ++seed) {
    Trace trace;
    Lines lines(trace);
    Journal journal;
    SimConfig config = config_of(3, seed);
    config.late_commit_ns = seconds(2);
    SimCluster cluster(config, trace, journal_factory(journal));
    cluster.loop().run_until(seconds(1));
    cluster.isolate("node-3");
    std::vector<aether::engine::SubmitOutcome> outcomes;
    submit(cluster, "node-3", "leader", "node-3", &outcomes);  // the deposed leader's write
    cluster.loop().run_until(seconds(1) + millis(100));
    REQUIRE(lines.kind("kv.hold").size() == 1);
    CHECK(lines.kind("kv.decide").empty());         // it never left node-3
    submit(cluster, "node-1", "leader", "node-1");  // the successor's write
    cluster.loop().run_until(seconds(4));
    // node-3 lost quorum: its caller heard an unknown outcome.
    REQUIRE(outcomes == std::vector<aether::engine::SubmitOutcome>{aether::engine::SubmitOutcome::Failed});
    CHECK(lines.kind("kv.orphan").size() == 1);
    REQUIRE(lines.kind("kv.decide").size() == 1);
    cluster.heal();
    cluster.loop().run_until(seconds(10));
    CHECK(cluster.pending_batches() == 0);
    if (cluster.canonical_position() == 2) {
      // Decided after the successor's write, within late_commit of the heal.
      ++decided_zombies;
      CHECK(cluster.canonical_store().at("leader") == "node-3");
      CHECK(cluster.decided_batch(2).submitters.front().node == "node-3");
    } else {
      ++dropped_zombies;
      CHECK(cluster.canonical_store().at("leader") == "node-1");
    }
  }
  CHECK(decided_zombies > 0);
  CHECK(dropped_zombies > 0);
}

TEST_CASE("a late decision needs a deciding majority: none by the window's end drops the batch") {
  for (std::uint64_t seed = 1; seed <= 10; ++seed) {
    Trace trace;
    Lines lines(trace);
    Journal journal;
    SimConfig config = config_of(3, seed);
    config.late_commit_ns = seconds(2);
    config.stall = StallSettings{kPpmOne, seconds(5), seconds(5)};  // holds its first decision
    SimCluster cluster(config, trace, journal_factory(journal));
    cluster.loop().run_until(seconds(1));
    submit(cluster, "node-1", "k", "v");
    cluster.loop().run_until(seconds(1) + millis(100));
    REQUIRE(cluster.decisions_stalled());
    // Its peers die while the decision is stalled; node-1 then loses quorum
    // and the batch's outcome is unknown: late, it has no deciding majority.
    cluster.crash("node-2");
    cluster.crash("node-3");
    cluster.set_stall(StallSettings{});  // this one stall only
    cluster.loop().run_until(seconds(10));
    CHECK(lines.kind("kv.limbo").size() == 1);
    CHECK(cluster.canonical_position() == 0);  // never 2 of 3 up again
    CHECK(lines.kind("kv.drop").size() == 1);
  }
}

TEST_CASE("failure detection as a range gives asymmetric views for a while") {
  bool asymmetric = false;
  for (std::uint64_t seed = 1; seed <= 10 && !asymmetric; ++seed) {
    Trace trace;
    SimConfig config = config_of(3, seed);
    config.failure_detection_ns = millis(800);
    config.failure_detection_max_ns = seconds(2);
    SimCluster cluster(config, trace);
    cluster.loop().run_until(seconds(1));
    cluster.isolate("node-3");
    for (aether::engine::Nanos t = seconds(1); t <= seconds(3); t += millis(20)) {
      cluster.loop().run_until(t);
      const auto v1 = cluster.view("node-1");
      const auto v3 = cluster.view("node-3");
      const bool one_sees_three = std::count(v1.begin(), v1.end(), "node-3") == 1;
      const bool three_sees_one = std::count(v3.begin(), v3.end(), "node-1") == 1;
      if (one_sees_three != three_sees_one) asymmetric = true;
    }
    // Every departure is noticed within the range's maximum.
    CHECK(cluster.view("node-1") == Ids{"node-1", "node-2"});
    CHECK(cluster.view("node-3") == Ids{"node-3"});
  }
  CHECK(asymmetric);
}

TEST_CASE("a stall holds every decision cluster-wide while views and quorum hold") {
  Trace trace;
  Lines lines(trace);
  Journal journal;
  SimConfig config = config_of(3);
  config.stall = StallSettings{kPpmOne, seconds(3), seconds(3)};
  SimCluster cluster(config, trace, journal_factory(journal));
  cluster.loop().run_until(seconds(1));
  submit(cluster, "node-1", "a", "1");
  cluster.loop().run_until(seconds(2));
  CHECK(cluster.decisions_stalled());
  CHECK(cluster.canonical_position() == 0);
  CHECK(cluster.has_quorum("node-1"));
  CHECK(cluster.view("node-1").size() == 3);
  REQUIRE(lines.kind("kv.stall").size() == 1);
  cluster.set_stall(StallSettings{});
  cluster.loop().run_until(seconds(5));
  CHECK(cluster.canonical_position() == 1);
  CHECK(cluster.store("node-2").count("a") == 1);
}

TEST_CASE("restore lag: an older snapshot, then the later decisions as ordinary applies") {
  int lagged = 0;
  for (std::uint64_t seed = 1; seed <= 10; ++seed) {
    Trace trace;
    Lines lines(trace);
    Journal journal;
    SimConfig config = config_of(3, seed);
    config.restore_lag_ns = seconds(4);
    SimCluster cluster(config, trace, journal_factory(journal));
    cluster.loop().run_until(seconds(1));
    cluster.crash("node-3");
    for (int i = 0; i < 4; ++i) {
      submit(cluster, "node-1", "k" + std::to_string(i), "v");
      cluster.loop().run_until(seconds(2 + i));
    }
    journal.lines.clear();
    cluster.restart("node-3");
    cluster.loop().run_until(seconds(10));
    // Whatever position it restored, node-3 ends at the latest one.
    CHECK(cluster.applied_position("node-3") == 4);
    CHECK(cluster.store_digest("node-3") == cluster.canonical_digest());
    const auto restores = lines.kind("kv.restore");
    REQUIRE(!restores.empty());
    if (has(restores.back(), "\"position\":4")) continue;
    ++lagged;
    CHECK(lines.kind("kv.catch_up").size() == 1);
    // The catch-up is ordinary applies (origin Apply) after the restore.
    const auto restored = lines_of(journal, "node-3 ndm restored");
    const auto applies = lines_of(journal, "node-3 ndm apply put");
    CHECK(restored.size() == 1);
    CHECK(!applies.empty());
  }
  CHECK(lagged > 0);
}

TEST_CASE("clock drift: each node's timers run at its own drawn rate") {
  Trace trace;
  Journal journal;
  SimConfig config = config_of(5);
  config.clock_drift_ppm = 200'000;
  SimCluster cluster(config, trace, journal_factory(journal));
  cluster.loop().run_until(0);
  std::map<std::string, aether::engine::Nanos> fired;
  std::set<std::int64_t> rates;
  for (const auto& node : cluster.configured_nodes()) {
    const std::int64_t drift = cluster.clock_drift_ppm(node);
    CHECK(drift >= -200'000);
    CHECK(drift <= 200'000);
    rates.insert(drift);
    runtime_of(cluster, node)->services().clock.schedule_after(seconds(10), [&, node] {
      fired[node] = cluster.now();
    });
  }
  CHECK(rates.size() > 1);
  cluster.loop().run_until(seconds(20));
  REQUIRE(fired.size() == 5);
  for (const auto& [node, at] : fired) {
    // A 10s timer on a clock running at (1 + d) fires after 10s / (1 + d) of world time.
    const double rate = 1.0 + static_cast<double>(cluster.clock_drift_ppm(node)) / 1e6;
    CHECK(std::abs(static_cast<double>(at) - 1e10 / rate) < 2.0);
    CHECK(runtime_of(cluster, node)->services().clock.now() >= seconds(10));
  }
}

TEST_CASE("lost submits and reordered quorum events draw from their own streams") {
  // The same workload with and without draws from the fault streams decides
  // the same batches at the same instants.
  auto decisions = [](bool faults_on) {
    Trace trace;
    Lines lines(trace);
    Journal journal;
    SimConfig config = config_of(3, 7);
    if (faults_on) config.clock_drift_ppm = 100'000;
    SimCluster cluster(config, trace, journal_factory(journal));
    if (faults_on) {
      cluster.set_lost_submit_rule("node-2", "ndm", kPpmOne / 2);  // draws, never matches below
      cluster.set_quorum_reorder("", kPpmOne / 2);
    }
    cluster.loop().run_until(seconds(1));
    for (int i = 0; i < 20; ++i) {
      submit(cluster, "node-" + std::to_string(1 + i % 3), "k" + std::to_string(i), "v");
      cluster.loop().run_until(seconds(1) + millis(50 * (i + 1)));
    }
    cluster.isolate("node-3");
    cluster.loop().run_until(seconds(4));
    cluster.heal();
    cluster.loop().run_until(seconds(8));
    std::vector<std::string> out = lines.kind("kv.decide");
    for (const auto& line : lines.kind("kv.apply")) out.push_back(line);
    return out;
  };
  CHECK(decisions(false) == decisions(true));
}

TEST_CASE("a lost submit never resolves; a reordered quorum event reaches the engine late") {
  Trace trace;
  Lines lines(trace);
  Journal journal;
  SimCluster cluster(config_of(3), trace, journal_factory(journal));
  cluster.loop().run_until(seconds(1));
  cluster.set_lost_submit_rule("", "cdm", kPpmOne);
  cluster.set_quorum_reorder("", kPpmOne);
  std::vector<aether::engine::SubmitOutcome> outcomes;
  submit(cluster, "node-2", "k", "v", &outcomes);
  cluster.isolate("node-3");
  cluster.loop().run_until(seconds(3));
  CHECK(outcomes.empty());
  CHECK(lines.kind("kv.submit_lost").size() == 1);
  CHECK(cluster.canonical_position() == 0);
  CHECK(!lines.kind("fault.quorum_held").empty());
}

TEST_CASE("a client writing via a minority node retries until the heal, through that node") {
  Trace trace;
  Lines lines(trace);
  Journal journal;
  SimCluster cluster(config_of(3), trace, journal_factory(journal));
  cluster.loop().run_until(seconds(1));
  cluster.partition({{"node-1", "node-2"}, {"node-3"}});
  cluster.loop().run_until(seconds(3));
  bool committed = false;
  cluster.client_write(
      "edge", put("k", "v"), [&] { committed = true; }, "node-3");
  cluster.loop().run_until(seconds(6));
  CHECK_FALSE(committed);
  CHECK(lines.kind("client.unavailable").size() >= 5);
  cluster.heal();
  cluster.loop().run_until(seconds(10));
  CHECK(committed);
  const auto submits = lines.kind("client.submit");
  REQUIRE(!submits.empty());
  for (const auto& line : submits) CHECK(has(line, "\"node\":\"node-3\""));
}

TEST_CASE("restore lag never restores older than what the node itself applied") {
  for (std::uint64_t seed = 1; seed <= 10; ++seed) {
    Trace trace;
    Lines lines(trace);
    Journal journal;
    SimConfig config = config_of(3, seed);
    config.restore_lag_ns = seconds(60);
    SimCluster cluster(config, trace, journal_factory(journal));
    cluster.loop().run_until(seconds(1));
    for (int i = 0; i < 3; ++i) {
      submit(cluster, "node-1", "k" + std::to_string(i), "v");
      cluster.loop().run_until(seconds(1) + millis(100 * (i + 1)));
    }
    REQUIRE(cluster.applied_position("node-3") == 3);
    cluster.isolate("node-3");
    cluster.loop().run_until(seconds(3));
    REQUIRE_FALSE(cluster.has_quorum("node-3"));
    submit(cluster, "node-1", "later", "v");
    cluster.loop().run_until(seconds(4));
    cluster.heal();
    cluster.loop().run_until(seconds(6));
    const auto restores = lines.kind("kv.restore");
    REQUIRE(!restores.empty());
    // Its own applied position (3) bounds the lag from below; 4 is the latest.
    CHECK((has(restores.back(), "\"position\":3") || has(restores.back(), "\"position\":4")));
    CHECK(cluster.applied_position("node-3") == 4);
  }
}
