// Rolling updates as the checks see them (engine-semantics.md §8.4,
// simulation.md §5): the `rolling` invariant fires on a planted bug (the
// mutation point that ignores max_unavailable, a crafted batch) and stays
// silent on the correct engine; convergence requires the update finished.
#include <catch2/catch.hpp>

#include <algorithm>

#include "engine/mutations.h"
#include "properties/convergence.h"
#include "properties/invariants.h"
#include "properties/runner.h"
#include "scenarios/loader.h"
#include "tests/properties/fake_world.h"

using namespace aether;
using namespace aether::properties;
using namespace aether::properties::testing;
using engine::KvCommand;
using engine::SliceState;

namespace {

const std::string kOld = "org.example:cart:1.0.0";
const std::string kNew = "org.example:cart:1.1.0";
const std::string kBase = "org.example:cart";

std::string describe(const RunResult& r) {
  std::string out = std::string(verdict_name(r.verdict)) + " " + r.input_error + r.framework_error;
  for (const auto& v : r.violations) out += "\n  violation " + v.invariant + " @" + v.node + ": " + v.message;
  for (const auto& e : r.expectations) {
    if (!e.held) out += "\n  expectation " + e.path + ": " + e.detail;
  }
  out += "\n  convergence owed=" + std::to_string(r.convergence.owed) +
         " held=" + std::to_string(r.convergence.held) + " " + r.convergence.blocker + " " +
         r.convergence.detail;
  return out;
}

std::size_t fired(const RunResult& r, const std::string& id) {
  return static_cast<std::size_t>(std::count_if(r.violations.begin(), r.violations.end(),
                                                [&](const Violation& v) { return v.invariant == id; }));
}

RunResult run_shipped(const std::string& name, bool mutated, std::uint64_t seed) {
  auto loaded = scenarios::load_scenario_file(AETHER_SOURCE_DIR "/scenarios/" + name + ".json");
  REQUIRE(loaded.errors.empty());
  auto scenario = *loaded.scenario;
  if (mutated) scenario.config["mutations"] = {engine::mutation::kRollingIgnoresMaxUnavailable};
  RunOptions options;
  options.seed = seed;
  return run_scenario(scenario, options);
}

std::string rolling_blueprint(const std::string& artifact, int instances, int max_unavailable) {
  return nlohmann::json{{"id", "shop"},
                        {"slices",
                         {{{"artifact", artifact},
                           {"instances", instances},
                           {"update", {{"strategy", "rolling"}, {"max_unavailable", max_unavailable}}}}}}}
      .dump();
}

struct Feed {
  Feed() : world(3), recorder(nullptr), suite(recorder, world, 7) { suite.set_rules(CheckRules{true, 5}); }
  void commit(Nanos now, const sim::BatchRecord& b) {
    suite.on_decide(now, ++position, b);
    for (const auto& n : {"node-1", "node-2", "node-3"})
      suite.on_apply(now, n, position, *suite.canonical().digest_at(position));
  }
  void client(const std::string& key, const std::string& value) {
    commit(1, batch({KvCommand::put(key, value)}, {submitter("node-1", "client:alice")}));
  }
  void unload(const std::vector<std::string>& keys) {
    engine::KvBatch commands;
    std::map<std::string, std::optional<std::string>> applied;
    for (const auto& key : keys) {
      commands.push_back(KvCommand::put(key, slice_value(SliceState::Unload)));
      applied[key] = slice_value(SliceState::Active);
    }
    commit(2, batch(std::move(commands), {submitter("node-1", "cdm", applied, true, 1)}));
  }
  std::size_t fired(const std::string& id) const {
    std::size_t n = 0;
    for (const auto& v : recorder.violations()) n += v.invariant == id ? 1 : 0;
    return n;
  }
  FakeWorld world;
  ViolationRecorder recorder;
  InvariantSuite suite;
  std::uint64_t position = 0;
};

}  // namespace

TEST_CASE("rolling fires on the engine that ignores max_unavailable (shipped rolling scenarios)") {
  for (const char* name : {"rolling-update-leader-crash", "rolling-update-surge-2"}) {
    const auto r = run_shipped(name, true, 1);
    INFO(name << ": " << describe(r));
    CHECK(r.verdict == Verdict::Fail);
    CHECK(fired(r, invariant::kRolling) >= 1);
  }
}

TEST_CASE("rolling is silent on the correct engine, and the update finishes") {
  for (const char* name :
       {"rolling-update-leader-crash", "rolling-update-reversed", "rolling-update-node-loss",
        "rolling-update-surge-2", "rolling-update-blueprint-removed"}) {
    for (std::uint64_t seed : {1, 2, 3}) {
      const auto r = run_shipped(name, false, seed);
      INFO(name << " seed " << seed << ": " << describe(r));
      CHECK(r.verdict == Verdict::Pass);
      CHECK(r.violations.empty());
      CHECK(r.convergence.held);
    }
  }
}

TEST_CASE(
    "rolling judges an UNLOAD of an ACTIVE entry against desired - max_unavailable over both versions") {
  Feed f;
  f.client("blueprints/shop", rolling_blueprint(kNew, 3, 1));
  f.client("slice-target/" + kBase, target_value("1.1.0", 3, 2, "shop"));
  for (const auto& [node, artifact] : std::vector<std::pair<std::string, std::string>>{
           {"node-1", kOld}, {"node-2", kOld}, {"node-3", kOld}, {"node-1", kNew}})
    f.client("slices/" + node + "/" + artifact, slice_value(SliceState::Active));
  // No version-routing in the writer's state: not a rolling step, not judged here.
  f.unload({"slices/node-1/" + kOld, "slices/node-2/" + kOld, "slices/node-3/" + kOld});
  CHECK(f.fired(invariant::kRolling) == 0);
  for (const auto& node : {"node-1", "node-2", "node-3"})
    f.client(std::string("slices/") + node + "/" + kOld, slice_value(SliceState::Active));
  f.client("version-routing/" + kBase, R"({"from":"1.0.0","to":"1.1.0"})");
  // 4 ACTIVE, desired 3, max_unavailable 1: two may go, not three.
  f.unload({"slices/node-3/" + kOld, "slices/node-2/" + kOld});
  CHECK(f.fired(invariant::kRolling) == 0);
  f.client("slices/node-3/" + kOld, slice_value(SliceState::Active));
  f.client("slices/node-2/" + kOld, slice_value(SliceState::Active));
  f.unload({"slices/node-3/" + kOld, "slices/node-2/" + kOld, "slices/node-1/" + kOld});
  REQUIRE(f.fired(invariant::kRolling) == 1);
  CHECK(f.recorder.violations().back().message.find("below desired 3 - max_unavailable 1") !=
        std::string::npos);
  // Entries on nodes outside the writer's view do not count.
  f.client("slices/node-3/" + kOld, slice_value(SliceState::Active));
  f.client("slices/node-2/" + kOld, slice_value(SliceState::Active));
  f.client("slices/node-1/" + kOld, slice_value(SliceState::Active));
  f.world.cut_off("node-3");
  f.unload({"slices/node-2/" + kOld, "slices/node-1/" + kOld});  // 3 ACTIVE in view -> 1
  CHECK(f.fired(invariant::kRolling) == 2);
}

TEST_CASE("a version-routing key left in the store blocks convergence") {
  FakeWorld world(3);
  CanonicalStore::Map store;
  store["leader"] = "node-1";
  for (const auto& n : {"node-1", "node-2", "node-3"}) store[std::string("node-lifecycle/") + n] = "ON_DUTY";
  store["blueprints/shop"] = rolling_blueprint(kNew, 1, 0);
  store["slice-target/" + kBase] = target_value("1.1.0", 1, 1, "shop");
  store["slices/node-1/" + kNew] = slice_value(SliceState::Active);
  world.nodes.at("node-1").held[kNew] = engine::SliceHolding::Active;
  const auto before = evaluate_convergence(store, world, ConvergenceRules{});
  INFO(before.detail);
  REQUIRE(before.converged);
  store["version-routing/" + kBase] = R"({"from":"1.0.0","to":"1.1.0"})";
  const auto after = evaluate_convergence(store, world, ConvergenceRules{});
  CHECK_FALSE(after.converged);
  CHECK(after.detail.find("rolling update unfinished") != std::string::npos);
}
