#include <rapidcheck/catch.h>
#include <catch2/catch.hpp>

#include <filesystem>

#include "scenarios/writer.h"
#include "test_support.h"

using namespace aether::scenarios;
using namespace aether::scenarios::testing;
using aether::engine::millis;
using aether::engine::seconds;

namespace {

Scenario load_ok(const std::string& text, const std::string& file = "t.json") {
  LoadResult result = load_scenario_text(text, file);
  INFO(listing(result.errors));
  REQUIRE(result.ok());
  return *result.scenario;
}

const char* kEveryStepKind = R"({
  "name": "every-kind", "description": "one of each", "seed": 42,
  "cluster": {"nodes": ["a", "b", "c"], "failure_detection": "750ms",
              "network": {"latency": ["2ms", "9ms"], "drop": 0.01, "duplicate": 0.5},
              "kv_order": "adversarial",
              "slices": {"load": ["1s", "3s"], "activate": ["1ms", "2ms"], "deactivate": ["5ms", "5ms"],
                         "unload": ["0s", "1s"]}},
  "config": {"reconciliation": "aggressive", "timeouts": {"loading": "1m"}},
  "run_for": "90s", "max_events": 12345, "check_convergence": false,
  "steps": [
    {"at": "1s", "blueprint": {"id": "shop", "slices": [
        {"artifact": "org.example:cart:1.0.0", "instances": 3, "min_available": 1},
        {"artifact": "org.example:web:2.1.0-rc.1", "instances": 2,
         "depends_on": ["org.example:cart:1.0.0"]}]}, "client": "alice"},
    {"at": "1s", "scale": {"artifact": "org.example:cart", "instances": 4}, "client": "bob"},
    {"at": "1500ms", "kv_put": {"key": "slices/a/x", "value": "garbage"}},
    {"at": "2s", "kv_remove": "leader"},
    {"at": "2s", "crash": "leader"},
    {"at": "3s", "restart": "random"},
    {"at": "3s", "pause": "b"},
    {"at": "4s", "resume": "b"},
    {"at": "5s", "add_node": true},
    {"at": "5s", "add_node": "d"},
    {"at": "6s", "remove_node": "node-1"},
    {"at": "7s", "partition": [["a", "b"], ["b", "c", "leader"]]},
    {"at": "8s", "isolate": "c"},
    {"at": "9s", "link": {"from": "a", "to": "d", "loss": 0.3, "delay": "10ms"}},
    {"at": "10s", "heal": "a"},
    {"at": "10s", "heal": true},
    {"at": "11s", "network": {"latency": ["1ms", "1ms"], "duplicate": 0}},
    {"at": "12s", "slice_failures": {"artifact": "org.example:cart:1.0.0", "phase": "activate", "fatal": 1}},
    {"at": "13s", "remove_blueprint": "shop"},
    {"at": "20s", "expect": {"converged": true, "within": "1m"}},
    {"at": "20s", "expect": {"leader": "a"}},
    {"at": "20s", "expect": {"instances": {"org.example:cart:1.0.0": {"active": 0}}, "within": "5s"}},
    {"at": "20s", "expect": {"available": {"org.example:cart:1.0.0": 1}, "for": "10s"}},
    {"at": "20s", "expect": {"no_violations": true}},
    {"at": "20s", "expect": {"violates": "lifecycle"}},
    {"at": "20s", "expect": {"at_most": {"org.example:cart:1.0.0": {"total": 3, "active": 2}}, "for": "30s"}},
    {"at": "20s", "expect": {"writes": {"max": 4, "for": "1m"}}}
  ]})";

}  // namespace

TEST_CASE("a scenario with every step kind survives load, write, load unchanged") {
  const Scenario first = load_ok(kEveryStepKind);
  REQUIRE(first.steps.size() == 27);
  const std::string written = write_scenario(first);
  const Scenario second = load_ok(written);
  CHECK(first == second);
  CHECK(write_scenario(second) == written);
}

TEST_CASE("the writer spells defaults out so the file says everything") {
  const Scenario s = load_ok(R"({"cluster": {"nodes": 2}, "steps": []})");
  const auto j = scenario_to_json(s);
  CHECK(j["cluster"]["nodes"] == 2);
  CHECK(j["cluster"]["failure_detection"] == "1s");
  CHECK(j["cluster"]["network"]["latency"] == nlohmann::ordered_json::array({"1ms", "5ms"}));
  CHECK(j["cluster"]["slices"]["load"] == nlohmann::ordered_json::array({"200ms", "2s"}));
  CHECK(!j.contains("seed"));
  CHECK(j["steps"].empty());
}

TEST_CASE("every shipped scenario loads and round-trips") {
  std::size_t count = 0;
  for (const auto& entry : std::filesystem::directory_iterator(AETHER_SCENARIO_DIR)) {
    if (entry.path().extension() != ".json") continue;
    ++count;
    const LoadResult result = load_scenario_file(entry.path().string());
    INFO(entry.path().string() << "\n" << listing(result.errors));
    REQUIRE(result.ok());
    CHECK(!result.scenario->description.empty());
    const Scenario again = load_ok(write_scenario(*result.scenario), entry.path().string());
    CHECK(again == *result.scenario);
  }
  CHECK(count >= 15);
}

namespace {

// Generated models that the loader accepts: node ids node-1..n, targets
// among them, non-decreasing times, rates in ppm, durations in whole units.
rc::Gen<aether::engine::Nanos> gen_duration(int max_ms) {
  return rc::gen::map(rc::gen::inRange(0, max_ms + 1), [](int ms) { return millis(ms); });
}

rc::Gen<std::uint32_t> gen_ppm(std::uint32_t below) {
  return rc::gen::inRange<std::uint32_t>(0, below);
}

rc::Gen<Target> gen_target(int nodes) {
  return rc::gen::oneOf(rc::gen::just(Target{Target::Kind::Leader, ""}),
                        rc::gen::just(Target{Target::Kind::Random, ""}),
                        rc::gen::map(rc::gen::inRange(1, nodes + 1), [](int n) {
                          return Target{Target::Kind::Node, "node-" + std::to_string(n)};
                        }));
}

rc::Gen<StepAction> gen_action(int nodes) {
  return rc::gen::oneOf(
      rc::gen::map(gen_target(nodes), [](Target t) -> StepAction { return CrashStep{t}; }),
      rc::gen::map(gen_target(nodes), [](Target t) -> StepAction { return PauseStep{t}; }),
      rc::gen::map(gen_target(nodes), [](Target t) -> StepAction { return IsolateStep{t}; }),
      rc::gen::map(rc::gen::maybe(gen_target(nodes)),
                   [](rc::Maybe<Target> t) -> StepAction {
                     return HealStep{t ? std::optional<Target>(*t) : std::nullopt};
                   }),
      rc::gen::map(rc::gen::tuple(rc::gen::inRange(1, nodes + 1), rc::gen::inRange(1, nodes + 1),
                                  gen_ppm(1'000'001), gen_duration(5000)),
                   [](std::tuple<int, int, std::uint32_t, aether::engine::Nanos> t) -> StepAction {
                     auto [from, to, loss, delay] = t;
                     if (from == to) to = from == 1 ? 2 : 1;
                     return LinkStep{{Target::Kind::Node, "node-" + std::to_string(from)},
                                     {Target::Kind::Node, "node-" + std::to_string(to)},
                                     loss,
                                     delay};
                   }),
      rc::gen::map(rc::gen::tuple(gen_ppm(1'000'000), gen_ppm(1'000'001)),
                   [](std::tuple<std::uint32_t, std::uint32_t> t) -> StepAction {
                     return NetworkStep{std::nullopt, std::get<0>(t), std::get<1>(t)};
                   }),
      rc::gen::map(rc::gen::tuple(gen_ppm(500'001), gen_ppm(500'001), rc::gen::inRange(0, 3)),
                   [](std::tuple<std::uint32_t, std::uint32_t, int> t) -> StepAction {
                     return SliceFailuresStep{"*", static_cast<FailurePhase>(std::get<2>(t)), std::get<0>(t),
                                              std::get<1>(t)};
                   }),
      rc::gen::map(rc::gen::inRange(0, 10001),
                   [](int n) -> StepAction {
                     return ScaleStep{"org.example:cart", n, "default"};
                   }),
      rc::gen::map(rc::gen::tuple(gen_duration(60000), rc::gen::inRange(0, 4)),
                   [](std::tuple<aether::engine::Nanos, int> t) -> StepAction {
                     ExpectStep e;
                     e.what = ExpectConverged{};
                     if (std::get<1>(t) > 0) e.within = std::get<0>(t);
                     return e;
                   }));
}

}  // namespace

TEST_CASE("generated scenarios survive write then load unchanged") {
  rc::prop("load(write(s)) == s", [] {
    const int nodes = *rc::gen::inRange(2, 8);
    Scenario s;
    s.file = "t.json";
    s.name = "generated";
    if (*rc::gen::arbitrary<bool>()) s.seed = *rc::gen::arbitrary<std::uint64_t>();
    for (int i = 1; i <= nodes; ++i) s.cluster.nodes.push_back("node-" + std::to_string(i));
    s.cluster.failure_detection = millis(*rc::gen::inRange(1, 10000));
    s.cluster.network.drop_ppm = *gen_ppm(1'000'000);
    s.cluster.network.duplicate_ppm = *gen_ppm(1'000'001);
    const auto lo = *gen_duration(50);
    s.cluster.network.latency = {lo + millis(1), lo + millis(1) + *gen_duration(50)};
    s.check_convergence = *rc::gen::arbitrary<bool>();
    const auto count = *rc::gen::inRange(0, 30);
    aether::engine::Nanos at = 0;
    // The base that generated `scale` steps name is declared (the loader
    // refuses a scale of an undeclared base).
    s.steps.push_back(Step{
        0,
        BlueprintStep{nlohmann::json::parse(
                          R"({"id":"shop","slices":[{"artifact":"org.example:cart:1.0.0","instances":1}]})"),
                      "default"},
        "steps[0]"});
    for (int i = 1; i <= count; ++i) {
      at += *gen_duration(3000);
      s.steps.push_back(Step{at, *gen_action(nodes), "steps[" + std::to_string(i) + "]"});
    }
    const LoadResult again = load_scenario_text(write_scenario(s), "t.json");
    RC_ASSERT(again.errors.empty());
    RC_ASSERT(*again.scenario == s);
  });
}

TEST_CASE("the hostile-world keys and steps survive load, write, load unchanged") {
  const Scenario s = load_ok(R"({
    "name": "hostile", "cluster": {"nodes": 3, "failure_detection": ["800ms", "2s"], "late_commit": "3s",
      "stall": {"rate": 0.02, "for": ["500ms", "3s"]}, "restore_lag": "2s", "clock_drift": 0.05},
    "clients": {"edge": {"via": "node-3"}, "plain": {}},
    "steps": [
      {"at": "1s", "client": "edge", "via": "node-2", "kv_put": {"key": "k", "value": "v"}},
      {"at": "1s", "via": "node-3", "remove_blueprint": "shop"},
      {"at": "2s", "network": {"stall": {"rate": 0.5, "for": ["1s", "2s"]}}},
      {"at": "3s", "lose_submits": {"node": "*", "writer": "ndm", "rate": 0.25}},
      {"at": "3s", "lose_submits": {"node": "node-1", "writer": "*", "rate": 1}},
      {"at": "4s", "reorder_quorum_events": {"node": "node-2", "rate": 0.5}},
      {"at": "4s", "reorder_quorum_events": {"node": "*", "rate": 0}}
    ]})");
  const std::string written = write_scenario(s);
  CHECK(written.find("\"via\": \"node-2\"") != std::string::npos);
  CHECK(written.find("\"late_commit\": \"3s\"") != std::string::npos);
  const Scenario again = load_ok(written);
  CHECK(again == s);
  // Defaults are not written: a plain scenario's file does not grow.
  const std::string plain = write_scenario(load_ok(R"({"cluster": {"nodes": 3}, "steps": []})"));
  CHECK(plain.find("late_commit") == std::string::npos);
  CHECK(plain.find("clock_drift") == std::string::npos);
}
