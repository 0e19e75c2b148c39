// The runner plays scenarios built in C++ on the real simulated world and the
// real engine: correct runs pass and stay silent, engine mutation points and
// split brain make the checks fire, bad targets are input errors, and the
// same scenario and seed give the same verdicts and trace hash.
#include <catch2/catch.hpp>

#include <algorithm>

#include "engine/kv_schema.h"
#include "engine/mutations.h"
#include "properties/runner.h"
#include "tests/properties/scenario_builder.h"

using namespace aether;
using namespace aether::properties;
using namespace aether::properties::testing;
using engine::millis;
using engine::seconds;

namespace {

const std::string kCart = "org.example:cart:1.0.0";

RunResult run(const scenarios::Scenario& scenario, std::uint64_t seed = 1) {
  RunOptions options;
  options.seed = seed;
  return run_scenario(scenario, options);
}

std::string describe(const RunResult& r) {
  std::string out = std::string(verdict_name(r.verdict)) + " " + r.input_error + r.framework_error;
  for (const auto& v : r.violations) out += "\n  violation " + v.invariant + " @" + v.node + ": " + v.message;
  for (const auto& e : r.expectations)
    out += "\n  expect " + e.path + (e.held ? " held" : " FAILED: " + e.detail);
  out += "\n  convergence owed=" + std::to_string(r.convergence.owed) +
         " held=" + std::to_string(r.convergence.held) + " " + r.convergence.blocker + " " +
         r.convergence.detail + r.convergence.not_owed_reason;
  return out;
}

std::size_t fired(const RunResult& r, const std::string& id) {
  return static_cast<std::size_t>(std::count_if(r.violations.begin(), r.violations.end(),
                                                [&](const Violation& v) { return v.invariant == id; }));
}

// Five nodes where node-1 and node-2 each see a majority without the other:
// under local leader election both lead.
ScenarioBuilder split_brain() {
  ScenarioBuilder b(5, "split-brain");
  b.config({{"leader_election", "local"}}).check_convergence(false);
  b.get().run_for = seconds(10);
  b.step(seconds(1), scenarios::PartitionStep{{{node("node-1"), node("node-3"), node("node-4")},
                                               {node("node-2"), node("node-3"), node("node-4")}}});
  return b;
}

// Runs `scenario` with `seed` and returns the result with the trace lines of
// its "step" events (which name each step's resolved target).
std::pair<RunResult, std::vector<std::string>> run_collecting_steps(const scenarios::Scenario& scenario,
                                                                    std::uint64_t seed) {
  std::vector<std::string> steps;
  RunOptions options;
  options.seed = seed;
  options.trace_line_observer = [&](std::uint64_t, const std::string& line) {
    if (line.find("\"kind\":\"step\"") != std::string::npos) steps.push_back(line);
  };
  RunResult result = run_scenario(scenario, options);
  return {std::move(result), std::move(steps)};
}
}  // namespace

TEST_CASE("a blueprint on a healthy cluster converges with every check silent") {
  ScenarioBuilder b(3);
  b.blueprint(seconds(1), "shop", kCart, 2)
      .expect(seconds(1), scenarios::ExpectConverged{}, seconds(30))
      .expect(seconds(40), scenarios::ExpectInstances{{{kCart, {2, 2}}}})
      .expect(seconds(40), scenarios::ExpectLeader{"node-1"})
      .expect(seconds(40), scenarios::ExpectNoViolations{});
  const auto r = run(b.get());
  INFO(describe(r));
  CHECK(r.verdict == Verdict::Pass);
  CHECK(r.violations.empty());
  CHECK(r.convergence.owed);
  CHECK(r.convergence.held);
  REQUIRE(r.client_commits.size() == 1);
  CHECK(r.client_commits[0].first == "steps[0]");
  CHECK(r.client_commits[0].second > seconds(1));
  CHECK(r.simulated_end >= *r.convergence.t0 + r.convergence.bound_ns + r.convergence.quiet_ns);
}

TEST_CASE("the same scenario and seed give the same verdicts and trace hash") {
  ScenarioBuilder b(3);
  b.blueprint(seconds(1), "shop", kCart, 3).step(seconds(5), scenarios::CrashStep{leader()});
  const auto first = run(b.get(), 7);
  const auto second = run(b.get(), 7);
  INFO(describe(first));
  CHECK(first.trace_hash == second.trace_hash);
  CHECK(first.events == second.events);
  CHECK(first.verdict == second.verdict);
  CHECK(first.violations.size() == second.violations.size());
  CHECK(first.convergence.converged_at == second.convergence.converged_at);
  CHECK(run(b.get(), 8).trace_hash != first.trace_hash);
}

TEST_CASE("the leader crashing after a blueprint still converges") {
  ScenarioBuilder b(5);
  b.blueprint(seconds(1), "shop", kCart, 3)
      .step(seconds(3), scenarios::CrashStep{leader()})
      .step(seconds(20), scenarios::RestartStep{node("node-1")});
  const auto r = run(b.get(), 3);
  INFO(describe(r));
  CHECK(r.verdict == Verdict::Pass);
  CHECK(r.convergence.held);
}

TEST_CASE("a step whose target is not valid at its instant is an input error naming it") {
  ScenarioBuilder b(3);
  b.step(seconds(2), scenarios::RestartStep{node("node-2")});  // node-2 is up
  const auto r = run(b.get());
  CHECK(r.verdict == Verdict::InputError);
  CHECK(verdict_exit_code(r.verdict) == 2);
  CHECK(r.input_error.rfind("steps[0] at 2s:", 0) == 0);
}

TEST_CASE("a random target with no valid node is an input error") {
  ScenarioBuilder b(3);
  b.step(seconds(2), scenarios::ResumeStep{random_node()});  // nobody is paused
  const auto r = run(b.get());
  CHECK(r.verdict == Verdict::InputError);
  CHECK(r.input_error.find("random") != std::string::npos);
}

TEST_CASE("a scale of a base without a slice-target is an input error") {
  ScenarioBuilder b(3);
  b.step(seconds(2), scenarios::ScaleStep{"org.example:cart", 4, "default"});
  const auto r = run(b.get());
  CHECK(r.verdict == Verdict::InputError);
  CHECK(r.input_error.find("steps[0] at 2s") == 0);
}

TEST_CASE("a scale rewrites the slice-target and the cluster follows") {
  ScenarioBuilder b(4);
  b.blueprint(seconds(1), "shop", kCart, 2)
      .step(seconds(30), scenarios::ScaleStep{"org.example:cart", 4, "default"})
      .expect(seconds(30), scenarios::ExpectInstances{{{kCart, {4, 4}}}}, seconds(60));
  const auto r = run(b.get());
  INFO(describe(r));
  CHECK(r.verdict == Verdict::Pass);
}

TEST_CASE("a bad engine config is an input error") {
  ScenarioBuilder b(3);
  b.config({{"reconciliaton", "aggressive"}});
  const auto r = run(b.get());
  CHECK(r.verdict == Verdict::InputError);
  CHECK(r.input_error.find("config.") == 0);
}

TEST_CASE("event-budget stops a run that exceeds max_events") {
  ScenarioBuilder b(3);
  b.blueprint(seconds(1), "shop", kCart, 2).max_events(20);
  const auto r = run(b.get());
  CHECK(r.verdict == Verdict::Fail);
  CHECK(fired(r, invariant::kEventBudget) == 1);
  CHECK(r.events == 21);
}

TEST_CASE("single-leader-per-term fires under local election with overlapping majorities") {
  auto b = split_brain();
  const auto r = run(b.get());
  INFO(describe(r));
  CHECK(r.verdict == Verdict::Fail);
  CHECK(fired(r, invariant::kSingleLeaderPerTerm) >= 1);
}

TEST_CASE("expect violates pins a known hazard so that the run passes") {
  auto b = split_brain();
  b.expect(0, scenarios::ExpectViolates{invariant::kSingleLeaderPerTerm});
  const auto r = run(b.get());
  INFO(describe(r));
  CHECK(r.verdict == Verdict::Pass);
  CHECK(fired(r, invariant::kSingleLeaderPerTerm) >= 1);
}

TEST_CASE("expect violates fails a run where the pinned invariant never fires") {
  ScenarioBuilder b(3);
  b.check_convergence(false).expect(seconds(1), scenarios::ExpectViolates{invariant::kSliceStore});
  const auto r = run(b.get());
  CHECK(r.verdict == Verdict::Fail);
}

// A client rewrites an ACTIVE instance's key to LOAD: a correct NDM deactivates
// it (it never loads what it holds); the mutation loads it again.
ScenarioBuilder reload_held(bool mutated) {
  ScenarioBuilder b(3);
  if (mutated) b.config({{"mutations", {engine::mutation::kNdmReloadHeld}}});
  b.blueprint(seconds(1), "shop", kCart, 3)
      .step(
          seconds(20),
          scenarios::KvPutStep{"slices/node-1/" + kCart,
                               engine::encode_slice_value({engine::SliceState::Load, {}, false}), "default"})
      .check_convergence(false);
  b.get().run_for = seconds(40);
  return b;
}

TEST_CASE("slice-store fires on the mutation that reloads held artifacts") {
  const auto r = run(reload_held(true).get());
  INFO(describe(r));
  CHECK(r.verdict == Verdict::Fail);
  CHECK(fired(r, invariant::kSliceStore) >= 1);
}

TEST_CASE("slice-store is silent when a correct NDM meets a LOAD for a held artifact") {
  const auto r = run(reload_held(false).get());
  INFO(describe(r));
  CHECK(r.verdict == Verdict::Pass);
  CHECK(r.violations.empty());
}

TEST_CASE("convergence is not owed while a partition is in force, and the report says why") {
  ScenarioBuilder b(3);
  b.step(seconds(1), scenarios::PartitionStep{{{node("node-1"), node("node-2")}, {node("node-3")}}});
  const auto r = run(b.get());
  INFO(describe(r));
  CHECK(r.verdict == Verdict::Pass);
  CHECK(r.convergence.checked);
  CHECK_FALSE(r.convergence.owed);
  CHECK(r.convergence.not_owed_reason.find("partition") != std::string::npos);
}

TEST_CASE("healing a node into every group lifts the partition") {
  ScenarioBuilder b(3);
  b.step(seconds(1), scenarios::PartitionStep{{{node("node-1"), node("node-2")}}})
      .step(seconds(5), scenarios::HealStep{node("node-3")});
  const auto r = run(b.get());
  INFO(describe(r));
  CHECK(r.convergence.owed);
  CHECK(r.verdict == Verdict::Pass);
}

TEST_CASE("trace lines reach the observer and each step is traced") {
  ScenarioBuilder b(3);
  b.step(seconds(2), scenarios::CrashStep{leader()});
  const auto [r, steps] = run_collecting_steps(b.get(), 1);
  INFO(describe(r));
  REQUIRE(steps.size() == 1);
  CHECK(steps[0].find("\"node\":\"node-1\"") != std::string::npos);
}

TEST_CASE("steps at one instant run in file order") {
  ScenarioBuilder b(3);
  b.step(seconds(2), scenarios::CrashStep{node("node-2")})
      .step(seconds(2), scenarios::RestartStep{node("node-2")});
  const auto r = run(b.get());
  INFO(describe(r));
  CHECK(r.verdict == Verdict::Pass);
}

TEST_CASE("an add_node id used before is an input error") {
  ScenarioBuilder b(3);
  b.step(seconds(2), scenarios::AddNodeStep{NodeId("node-2")});
  const auto r = run(b.get());
  CHECK(r.verdict == Verdict::InputError);
  CHECK(r.input_error.find("steps[0] at 2s") == 0);
}

TEST_CASE("the leader target under local election is the smallest node whose CDM is Active") {
  ScenarioBuilder b(3);
  b.config({{"leader_election", "local"}}).step(seconds(2), scenarios::CrashStep{leader()});
  const auto [r, steps] = run_collecting_steps(b.get(), 0);
  INFO(describe(r));
  REQUIRE(steps.size() == 1);
  CHECK(steps[0].find("\"node\":\"node-1\"") != std::string::npos);
}

TEST_CASE("run_for lengthens a run and check_convergence false skips the implicit check") {
  ScenarioBuilder b(3);
  b.check_convergence(false).get().run_for = engine::minutes(5);
  const auto r = run(b.get());
  CHECK(r.verdict == Verdict::Pass);
  CHECK(r.simulated_end == engine::minutes(5));
  CHECK_FALSE(r.convergence.checked);
  CHECK_FALSE(r.convergence.owed);
}

TEST_CASE("engine counters are summed over nodes") {
  ScenarioBuilder b(3);
  b.blueprint(seconds(1), "shop", kCart, 2);
  const auto r = run(b.get());
  REQUIRE(r.counters.count("leader-activations") == 1);
  CHECK(r.counters.at("leader-activations") >= 1);
}

TEST_CASE("every invariant stays silent on correct runs with crashes, partitions and scaling") {
  for (std::uint64_t seed = 0; seed < 5; ++seed) {
    ScenarioBuilder b(5);
    nlohmann::json bp = {{"id", "shop"},
                         {"slices",
                          {{{"artifact", kCart}, {"instances", 3}, {"depends_on", {"org.example:db:1.0.0"}}},
                           {{"artifact", "org.example:db:1.0.0"}, {"instances", 2}}}}};
    b.step(seconds(1), scenarios::BlueprintStep{bp, "default"})
        .step(seconds(3), scenarios::CrashStep{leader()})
        .step(seconds(8), scenarios::PartitionStep{{{node("node-2"), node("node-3")}}})
        .step(seconds(12), scenarios::HealStep{})
        .step(seconds(14), scenarios::RestartStep{node("node-1")})
        .step(seconds(20), scenarios::ScaleStep{"org.example:cart", 5, "default"})
        .expect(seconds(20), scenarios::ExpectInstances{{{kCart, {5, 5}}}}, seconds(60));
    const auto r = run(b.get(), seed);
    INFO("seed " << seed << ": " << describe(r));
    CHECK(r.verdict == Verdict::Pass);
    CHECK(r.violations.empty());
  }
}

// node-3 is DECOMMISSIONED (a client's raw write), so it never goes ON_DUTY.
ScenarioBuilder decommissioned_node(bool place_anywhere) {
  ScenarioBuilder b(3);
  if (place_anywhere) b.config({{"mutations", {engine::mutation::kIgnoreEligibility}}});
  b.step(seconds(1), scenarios::KvPutStep{"node-lifecycle/node-3", "DECOMMISSIONED", "default"})
      .blueprint(seconds(2), "shop", kCart, 3);
  return b;
}

TEST_CASE("convergence owes only the eligible nodes' share when a node is never ON_DUTY") {
  const auto r = run(decommissioned_node(false).get());
  INFO(describe(r));
  CHECK(r.verdict == Verdict::Pass);
  CHECK(r.convergence.held);
}

// A DECOMMISSIONED node is not owed ON_DUTY (simulation.md §5): an entry on it
// is a count mismatch (or, since the drain rules unload what is placed there,
// the write loop of placing and unloading), never "node never ON_DUTY"; and
// `drain` names the LOAD.
TEST_CASE(
    "blocker: an entry on a DECOMMISSIONED node on the mutation that places instances on ineligible nodes") {
  const auto r = run(decommissioned_node(true).get());
  INFO(describe(r));
  CHECK(r.verdict == Verdict::Fail);
  CHECK_FALSE(r.convergence.held);
  CHECK((r.convergence.blocker == "count mismatch" || r.convergence.blocker == "write loop"));
  CHECK(std::any_of(r.violations.begin(), r.violations.end(),
                    [](const auto& v) { return v.invariant == invariant::kDrain; }));
  CHECK(r.convergence.detail.find("node-3") != std::string::npos);
}

TEST_CASE("T0 waits for the last client commit after the last step") {
  ScenarioBuilder b(3);
  b.step(seconds(1), scenarios::CrashStep{node("node-2")})
      .step(seconds(1), scenarios::CrashStep{node("node-3")})
      .blueprint(seconds(2), "shop", kCart, 2)  // no quorum: retried until it commits
      .step(seconds(10), scenarios::RestartStep{node("node-2")});
  const auto r = run(b.get());
  INFO(describe(r));
  REQUIRE(r.client_commits.size() == 1);
  CHECK(r.client_commits[0].second > seconds(10));
  REQUIRE(r.convergence.t0.has_value());
  CHECK(*r.convergence.t0 == r.client_commits[0].second);
  CHECK(r.convergence.owed);
  CHECK(r.verdict == Verdict::Pass);
}

TEST_CASE("convergence is not owed with a paused node or a non-zero slice failure rate") {
  SECTION("paused") {
    ScenarioBuilder b(3);
    b.step(seconds(1), scenarios::PauseStep{node("node-3")});
    const auto r = run(b.get());
    CHECK_FALSE(r.convergence.owed);
    CHECK(r.convergence.not_owed_reason == "node-3 is paused");
  }
  SECTION("slice failures of a deployed artifact") {
    ScenarioBuilder b(3);
    b.step(seconds(1), scenarios::SliceFailuresStep{"*", scenarios::FailurePhase::Load, 100000, 0})
        .blueprint(seconds(2), "shop", kCart, 2);
    const auto r = run(b.get());
    CHECK_FALSE(r.convergence.owed);
    CHECK(r.convergence.not_owed_reason.find("slice failure") != std::string::npos);
  }
  SECTION("slice failures of an artifact no blueprint deploys do not excuse convergence") {
    ScenarioBuilder b(3);
    b.step(seconds(1), scenarios::SliceFailuresStep{"org.example:other:1.0.0", scenarios::FailurePhase::Any,
                                                    0, 1'000'000})
        .blueprint(seconds(2), "shop", kCart, 2);
    const auto r = run(b.get());
    INFO(describe(r));
    CHECK(r.convergence.owed);
    CHECK(r.verdict == Verdict::Pass);
  }
  SECTION("a rate set back to zero") {
    ScenarioBuilder b(3);
    b.step(seconds(1), scenarios::SliceFailuresStep{"*", scenarios::FailurePhase::Load, 100000, 0})
        .step(seconds(2), scenarios::SliceFailuresStep{"*", scenarios::FailurePhase::Any, 0, 0});
    const auto r = run(b.get());
    CHECK(r.convergence.owed);
  }
}

TEST_CASE("a delay-free lossy link rule does not excuse convergence; a cut or delayed one does") {
  SECTION("loss 0.5") {
    ScenarioBuilder b(3);
    b.blueprint(seconds(1), "shop", kCart, 2)
        .step(seconds(2), scenarios::LinkStep{node("node-1"), node("node-2"), 500'000, 0});
    const auto r = run(b.get());
    INFO(describe(r));
    CHECK(r.convergence.owed);
    CHECK(r.verdict == Verdict::Pass);
  }
  SECTION("loss 0.99") {
    ScenarioBuilder b(3);
    b.blueprint(seconds(1), "shop", kCart, 2)
        .step(seconds(2), scenarios::LinkStep{node("node-1"), node("node-2"), 990'000, 0});
    const auto r = run(b.get());
    CHECK_FALSE(r.convergence.owed);
    CHECK(r.convergence.not_owed_reason.find("link rule node-1 -> node-2") != std::string::npos);
  }
  SECTION("a delay") {
    ScenarioBuilder b(3);
    b.blueprint(seconds(1), "shop", kCart, 2)
        .step(seconds(2), scenarios::LinkStep{node("node-1"), node("node-2"), 0, millis(200)});
    const auto r = run(b.get());
    CHECK_FALSE(r.convergence.owed);
  }
}

TEST_CASE("latency too high for the timeouts makes convergence not owed") {
  ScenarioBuilder b(3);
  b.config({{"command_timeout", "2s"}, {"write_timeout", "2s"}});
  scenarios::NetworkStep slow;
  slow.latency = scenarios::DurationRange{millis(400), millis(600)};
  b.blueprint(seconds(1), "shop", kCart, 2).step(seconds(2), slow);
  const auto r = run(b.get());
  CHECK_FALSE(r.convergence.owed);
  CHECK(r.convergence.not_owed_reason.find("4 x the maximum latency") != std::string::npos);
}

TEST_CASE("the convergence bound is the sum of its documented terms") {
  ScenarioBuilder b(3);
  b.config({{"leader_timeout", "2m"}, {"reconciliation_interval", "10s"}});
  nlohmann::json bp = {{"id", "shop"},
                       {"slices",
                        {{{"artifact", "org.example:db:1.0.0"}, {"instances", 1}},
                         {{"artifact", "org.example:cart:1.0.0"},
                          {"instances", 1},
                          {"depends_on", {"org.example:db:1.0.0"}}}}}};
  b.step(seconds(1), scenarios::BlueprintStep{bp, "default"});
  engine::EngineConfig config;
  REQUIRE(engine::parse_engine_config(b.get().config, config).empty());
  const auto t = convergence_timing(b.get(), config);
  Nanos sum = 0;
  std::map<std::string, Nanos> by_name;
  for (const auto& [name, ns] : t.terms) {
    sum += ns;
    by_name[name] = ns;
  }
  CHECK(t.bound_ns == std::max(seconds(60), sum));
  CHECK(by_name["leader_timeout"] == engine::minutes(2));
  CHECK(by_name["reconciliation_interval"] == seconds(10));
  CHECK(by_name["write_retries x write_retry_delay"] == seconds(4));
  CHECK(by_name["stuck_multiplier x longest state timeout"] == engine::minutes(6));
  // db <- cart: a chain of 1, so 2 x the longest phase (load max 2s).
  CHECK(by_name["(longest dependency chain + 1) x longest slice phase"] == seconds(4));
  CHECK(by_name["late_commit max"] == 0);
  CHECK(t.quiet_ns == seconds(35));  // max(10s + 5s, command/write timeout 30s + 5s)
  CHECK_FALSE(t.event_driven);
}

TEST_CASE("event-driven convergence drops the periodic term and shortens quiet") {
  ScenarioBuilder b(3);
  b.config({{"reconciliation_interval", "1h"}, {"command_timeout", "10s"}, {"write_timeout", "5s"}});
  engine::EngineConfig config;
  REQUIRE(engine::parse_engine_config(b.get().config, config).empty());
  const auto t = convergence_timing(b.get(), config);
  CHECK(t.event_driven);
  CHECK(t.quiet_ns == seconds(30));  // max(30s, 10s + 5s, 5s + 5s)
  for (const auto& [name, ns] : t.terms) {
    if (name == "reconciliation_interval") CHECK(ns == 0);
  }
  b.blueprint(seconds(1), "shop", kCart, 2);
  const auto r = run(b.get());
  INFO(describe(r));
  CHECK(r.verdict == Verdict::Pass);
  CHECK(r.convergence.quiet_ns == seconds(30));
}

TEST_CASE("a leader_timeout of 2m still converges within the bound") {
  ScenarioBuilder b(5);
  b.config({{"leader_timeout", "2m"}, {"reconciliation_interval", "10s"}});
  b.blueprint(seconds(1), "shop", kCart, 3).step(seconds(20), scenarios::CrashStep{node("node-1")});
  const auto r = run(b.get());
  INFO(describe(r));
  CHECK(r.convergence.owed);
  CHECK(r.verdict == Verdict::Pass);
}

TEST_CASE("at_most and writes steps reach the monitor through the runner") {
  ScenarioBuilder b(5);
  b.blueprint(seconds(1), "shop", kCart, 3);
  scenarios::ExpectStep at_most;
  at_most.what = scenarios::ExpectAtMost{{{kCart, scenarios::InstanceCount{3, 3}}}, seconds(60)};
  b.step(seconds(1), at_most);
  scenarios::ExpectStep quiet_writes;
  quiet_writes.what = scenarios::ExpectWrites{0, seconds(30)};
  b.step(seconds(30), quiet_writes);
  scenarios::ExpectStep churn;
  churn.what = scenarios::ExpectWrites{2, seconds(20)};
  b.step(seconds(1), churn);
  // steps must be in time order
  std::stable_sort(b.get().steps.begin(), b.get().steps.end(),
                   [](const scenarios::Step& x, const scenarios::Step& y) { return x.at < y.at; });
  const auto r = run(b.get());
  INFO(describe(r));
  REQUIRE(r.expectations.size() == 3);
  std::map<std::string, bool> held;
  for (const auto& e : r.expectations) {
    if (e.description.find("total <= 3 active <= 3") != std::string::npos) held["at_most"] = e.held;
    if (e.description.find("at most 0 engine") != std::string::npos) held["quiet"] = e.held;
    if (e.description.find("at most 2 engine") != std::string::npos) held["churn"] = e.held;
  }
  REQUIRE(held.size() == 3);
  CHECK(held["at_most"]);
  CHECK(held["quiet"]);
  CHECK_FALSE(held["churn"]);  // placing 3 instances takes more than 2 batches
}
