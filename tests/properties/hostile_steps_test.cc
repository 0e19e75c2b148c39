// The hostile-world steps and keys (simulation.md §3a) reach the simulated
// world through the runner: each shows in the trace, and a correct engine
// passes with it on.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include <nlohmann/json.hpp>

#include "properties/runner.h"
#include "tests/properties/scenario_builder.h"

using namespace aether;
using namespace aether::properties;
using namespace aether::properties::testing;
using engine::millis;
using engine::seconds;

namespace {

const std::string kCart = "org.example:cart:1.0.0";

struct Traced {
  RunResult result;
  std::vector<std::string> lines;
  std::size_t count(const std::string& kind) const {
    const std::string needle = "\"kind\":\"" + kind + "\"";
    return static_cast<std::size_t>(std::count_if(lines.begin(), lines.end(), [&](const std::string& l) {
      return l.find(needle) != std::string::npos;
    }));
  }
  std::vector<std::string> of(const std::string& kind) const {
    std::vector<std::string> out;
    const std::string needle = "\"kind\":\"" + kind + "\"";
    for (const auto& l : lines)
      if (l.find(needle) != std::string::npos) out.push_back(l);
    return out;
  }
};

Traced run_traced(const scenarios::Scenario& scenario, std::uint64_t seed = 1) {
  Traced out;
  RunOptions options;
  options.seed = seed;
  options.trace_line_observer = [&](std::uint64_t, const std::string& line) { out.lines.push_back(line); };
  out.result = run_scenario(scenario, options);
  return out;
}

}  // namespace

TEST_CASE("lose_submits loses the named writer's submits; a rate in force means convergence is not owed") {
  ScenarioBuilder b(3);
  b.step(0, scenarios::LoseSubmitsStep{std::nullopt, "cdm", 1'000'000})
      .blueprint(seconds(1), "shop", kCart, 1);
  b.get().run_for = seconds(30);  // not owed: the run would end at its last step
  const auto t = run_traced(b.get());
  CHECK(t.count("kv.submit_lost") > 0);
  for (const auto& line : t.of("kv.submit_lost")) CHECK(line.find("\"writer\":\"cdm\"") != std::string::npos);
  CHECK_FALSE(t.result.convergence.owed);
  CHECK(t.result.convergence.not_owed_reason == "lose_submits * cdm rate is not 0");
}

TEST_CASE("lose_submits on one node at a low rate: once the losses stop, a correct engine converges") {
  ScenarioBuilder b(3);
  b.config({{"reconciliation_interval", "10s"}})
      .step(0, scenarios::LoseSubmitsStep{std::string("node-2"), "ndm", 200'000})
      .blueprint(seconds(1), "shop", kCart, 3)
      .step(seconds(20), scenarios::LoseSubmitsStep{std::string("node-2"), "ndm", 0});
  const auto t = run_traced(b.get(), 2);
  INFO(t.result.convergence.blocker << " " << t.result.convergence.detail);
  CHECK(t.result.verdict == Verdict::Pass);
  CHECK(t.result.convergence.owed);
}

TEST_CASE("reorder_quorum_events holds engine-facing quorum notifications back") {
  ScenarioBuilder b(3);
  b.step(0, scenarios::ReorderQuorumEventsStep{std::string("node-3"), 1'000'000})
      .step(seconds(2), scenarios::IsolateStep{node("node-3")})
      .step(seconds(5), scenarios::HealStep{std::nullopt});
  const auto t = run_traced(b.get());
  const auto held = t.of("fault.quorum_held");
  REQUIRE(!held.empty());
  for (const auto& line : held) CHECK(line.find("\"node\":\"node-3\"") != std::string::npos);
}

TEST_CASE("a client write via a node goes through it, and waits while it has no quorum") {
  ScenarioBuilder b(3);
  b.step(seconds(1), scenarios::PartitionStep{{{node("node-1"), node("node-2")}, {node("node-3")}}});
  scenarios::KvPutStep put{"misc/k", "v", "edge"};
  put.via = "node-3";
  b.step(seconds(3), put).step(seconds(6), scenarios::HealStep{std::nullopt});
  const auto t = run_traced(b.get());
  CHECK(t.result.verdict == Verdict::Pass);
  CHECK(t.count("client.unavailable") >= 4);
  REQUIRE(t.result.client_commits.size() == 1);
  CHECK(t.result.client_commits[0].second > seconds(7));  // after the heal and node-3's regain
  for (const auto& line : t.of("client.submit")) CHECK(line.find("\"node\":\"node-3\"") != std::string::npos);
}

TEST_CASE("the network step turns stalls on and off") {
  ScenarioBuilder b(3);
  scenarios::NetworkStep on;
  on.stall = scenarios::StallSpec{1'000'000, {seconds(2), seconds(2)}};
  scenarios::NetworkStep off;
  off.stall = scenarios::StallSpec{};
  b.step(millis(500), on).blueprint(seconds(1), "shop", kCart, 1).step(seconds(10), off);
  const auto t = run_traced(b.get());
  CHECK(t.result.verdict == Verdict::Pass);
  CHECK(t.count("net.stall") == 2);
  CHECK(t.count("kv.stall") > 0);
  REQUIRE(!t.result.client_commits.empty());
  CHECK(t.result.client_commits[0].second >= seconds(3));  // the blueprint's decision waited 2s
}

TEST_CASE("ranged detection, drift, restore lag and late commits together: a correct engine passes") {
  ScenarioBuilder b(5);
  b.get().cluster.failure_detection = millis(800);
  b.get().cluster.failure_detection_max = seconds(2);
  b.get().cluster.clock_drift_ppm = 100'000;
  b.get().cluster.restore_lag = seconds(2);
  b.get().cluster.late_commit = seconds(2);
  b.config({{"reconciliation_interval", "10s"}})
      .blueprint(seconds(1), "shop", kCart, 3)
      .step(seconds(10), scenarios::CrashStep{leader()})
      .step(seconds(20), scenarios::RestartStep{node("node-1")});
  const auto t = run_traced(b.get(), 3);
  INFO(t.result.convergence.blocker << " " << t.result.convergence.detail);
  CHECK(t.result.verdict == Verdict::Pass);
  CHECK(t.count("clock.drift") == 5);
}

TEST_CASE("a client's default via (top-level clients) applies to its writes without their own") {
  ScenarioBuilder b(3);
  b.get().clients["edge"].via = "node-2";
  b.step(seconds(1), scenarios::KvPutStep{"misc/a", "1", "edge"})
      .step(seconds(2), scenarios::KvPutStep{"misc/b", "2", "other"});
  const auto t = run_traced(b.get());
  CHECK(t.result.verdict == Verdict::Pass);
  const auto submits = t.of("client.submit");
  REQUIRE(submits.size() == 2);
  CHECK(submits[0].find("\"client\":\"edge\"") != std::string::npos);
  CHECK(submits[0].find("\"node\":\"node-2\"") != std::string::npos);
  CHECK(submits[1].find("\"node\":\"node-1\"") != std::string::npos);  // the default rule
}

TEST_CASE("late_commit: a deposed leader's command commits after its successor's activation") {
  // zombie-leader-write.json in C++: the leader is isolated mid scale-up.
  int zombies = 0;
  for (std::uint64_t seed = 1; seed <= 8; ++seed) {
    ScenarioBuilder b(5);
    b.get().cluster.failure_detection = millis(800);
    b.get().cluster.failure_detection_max = seconds(2);
    b.get().cluster.late_commit = seconds(3);
    b.config({{"reconciliation_interval", "10s"}})
        .blueprint(seconds(1), "shop", kCart, 2)
        .step(seconds(20), scenarios::ScaleStep{"org.example:cart", 5, "default"})
        .step(millis(20500), scenarios::IsolateStep{leader()})
        .step(seconds(35), scenarios::HealStep{std::nullopt});
    const auto t = run_traced(b.get(), seed);
    INFO(t.result.convergence.blocker << " " << t.result.convergence.detail);
    CHECK(t.result.verdict == Verdict::Pass);
    // Batches the deposed leader's CDM submitted before its successor
    // activated, and whether one of them was decided after that activation.
    std::map<std::uint64_t, std::set<std::string>> submitters;
    std::set<std::uint64_t> deposed_commands;
    std::optional<std::string> deposed;
    std::optional<std::int64_t> successor_at;
    bool zombie = false;
    for (const auto& line : t.lines) {
      const auto e = nlohmann::json::parse(line);
      const std::string kind = e["kind"];
      if (kind == "net.isolate") deposed = e["node"].get<std::string>();
      if (kind == "kv.submit") {
        const auto batch = e["batch"].get<std::uint64_t>();
        submitters[batch].insert(e["node"].get<std::string>());
        if (deposed && e["node"] == *deposed && e["writer"] == "cdm" && !successor_at)
          deposed_commands.insert(batch);
      }
      if (kind == "cdm.activated" && deposed && e["node"] != *deposed && !successor_at) successor_at = e["t"];
      if (kind == "kv.decide" && successor_at && e["t"].get<std::int64_t>() > *successor_at) {
        const auto batch = e["batch"].get<std::uint64_t>();
        if (deposed_commands.count(batch) && submitters[batch] == std::set<std::string>{*deposed})
          zombie = true;
      }
    }
    if (zombie) ++zombies;
  }
  CHECK(zombies > 0);
}
