#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <string>

#include "engine/duration.h"
#include "scenarios/json_text.h"
#include "test_support.h"

using namespace aether::scenarios;
using namespace aether::scenarios::testing;
using aether::engine::millis;
using aether::engine::seconds;

namespace {
Scenario load_ok(const std::string& text) {
  LoadResult result = load_scenario_text(text, "t.json");
  INFO(listing(result.errors));
  REQUIRE(result.ok());
  return *result.scenario;
}
}  // namespace

TEST_CASE("a minimal scenario loads with the documented defaults") {
  const Scenario s = load_ok(R"({"cluster": {"nodes": 3}, "steps": []})");
  CHECK(s.name == "t");
  CHECK(!s.seed);
  CHECK(s.cluster.nodes == std::vector<std::string>{"node-1", "node-2", "node-3"});
  CHECK(s.cluster.failure_detection == seconds(1));
  CHECK(s.cluster.network == NetworkSettings{});
  CHECK(s.cluster.network.latency == DurationRange{millis(1), millis(5)});
  CHECK(s.cluster.kv_order == KvOrder::Seeded);
  CHECK(s.cluster.slices.load == DurationRange{millis(200), seconds(2)});
  CHECK(s.max_events == kDefaultMaxEvents);
  CHECK(s.check_convergence);
  CHECK(!s.run_for);
  CHECK(s.config == nlohmann::json::object());
}

TEST_CASE("the example of product.md loads") {
  const Scenario s = load_ok(R"({
    "name": "leader-crash-during-scale-up",
    "description": "The leader dies while 5 instances are loading.",
    "seed": 7,
    "cluster": {
      "nodes": 5,                                 // or ["node-1", ...]
      "failure_detection": "1s",
      "network": {"latency": ["1ms", "5ms"], "drop": 0, "duplicate": 0},
      "kv_order": "seeded",                       // or "adversarial"
      "slices": {"load": ["200ms", "2s"], "activate": ["10ms", "100ms"],
                 "deactivate": ["10ms", "50ms"], "unload": ["10ms", "200ms"]}
    },
    "config": {"reconciliation": "conservative", "reconciliation_interval": "30s"},
    "run_for": "10m",
    "max_events": 100000000,
    "check_convergence": true,
    "steps": [
      {"at": "2s", "blueprint": {"id": "shop", "slices": [
          {"artifact": "org.example:cart:1.0.0", "instances": 5}]}},
      {"at": "3s", "crash": "leader"},
      {"at": "20s", "restart": "node-1"},
      {"at": "20s", "expect": {"converged": true, "within": "60s"}}
    ]
  })");
  CHECK(s.name == "leader-crash-during-scale-up");
  CHECK(s.seed == 7u);
  CHECK(s.run_for == 10 * 60 * seconds(1));
  REQUIRE(s.steps.size() == 4);
  CHECK(s.steps[1].path == "steps[1]");
  CHECK(std::get<CrashStep>(s.steps[1].action).target.kind == Target::Kind::Leader);
  const auto& expect = std::get<ExpectStep>(s.steps[3].action);
  CHECK(std::holds_alternative<ExpectConverged>(expect.what));
  CHECK(expect.within == seconds(60));
}

TEST_CASE("every error of a file is listed at once") {
  const auto errors = errors_of(
      R"({"name": "t", "seed": -1, "cluster": {"nodes": 3, "kv_ordr": "seeded", "failure_detection": "0s"},
    "steps": [{"at": "1x", "crash": "node-1"}, {"at": "1s", "pause": "node-9"}]})");
  INFO(listing(errors));
  CHECK(has_error(errors, "seed", "must be between 0 and"));
  CHECK(has_error(errors, "cluster.failure_detection", "must be above 0"));
  CHECK(has_error(errors, "cluster.kv_ordr", "did you mean \"kv_order\""));
  CHECK(has_error(errors, "steps[0].at", "unknown duration unit \"x\""));
  CHECK(has_error(errors, "steps[1].pause", "no node \"node-9\""));
  CHECK(errors.size() == 5);
}

TEST_CASE("targets are not judged when the node list itself is wrong") {
  const auto errors = errors_of(R"({"cluster": {"nodes": 0}, "steps": [{"at": "1s", "crash": "node-1"}]})");
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].path == "cluster.nodes");
}

TEST_CASE("errors are formatted with the file and the JSON path") {
  const auto errors = errors_of(with_steps(R"({"at": "1s", "crash": 3})"));
  REQUIRE(errors.size() == 1);
  CHECK(format_error(errors[0]) ==
        "t.json: steps[0].crash: must be a node id, \"leader\" or \"random\", not an integer");
}

TEST_CASE("unknown keys are errors with a did-you-mean suggestion") {
  const auto errors =
      errors_of(R"({"name": "t", "cluster": {"nodes": 3, "failure_detecton": "1s"}, "step": []})");
  INFO(listing(errors));
  CHECK(has_error(errors, "cluster.failure_detecton",
                  "unknown key \"failure_detecton\" (did you mean \"failure_detection\"?)"));
  CHECK(has_error(errors, "step", "did you mean \"steps\""));
  CHECK(has_error(errors, "", "missing \"steps\""));
}

TEST_CASE("an unknown key far from every known one lists the allowed keys") {
  const auto errors = errors_of(R"({"name": "t", "cluster": {"nodes": 3}, "steps": [], "zzzzzzzz": 1})");
  CHECK(has_error(errors, "zzzzzzzz", "expected one of: name, description, seed"));
}

TEST_CASE("a very long unknown key is shortened in the path and the message") {
  const std::string key(1'000'000, 'k');
  const auto errors = errors_of(R"({"cluster": {"nodes": 1}, "steps": [], ")" + key + R"(": 1})");
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].path == "[\"" + std::string(100, 'k') + "...\"]");
  CHECK(errors[0].message ==
        "unknown key \"" + std::string(100, 'k') +
            "...\" (expected one of: name, description, "
            "seed, cluster, config, run_for, max_events, check_convergence, steps, clients)");
}

TEST_CASE("error messages never quote megabytes of input") {
  const std::string huge(1'000'000, '9');
  const auto errors = errors_of(with_steps(R"({"at": ")" + huge + R"(s", "crash": "node-1"},
    {"at": "1s", "kv_remove": ")" + huge + R"("},
    {"at": "1s", "slice_failures": {"artifact": "org.example:)" +
                                           huge + R"(:1.0.0", "fatal": 1}})"));
  INFO(listing(errors).substr(0, 2000));
  REQUIRE(errors.size() == 3);
  for (const auto& e : errors) CHECK(format_error(e).size() < 1000);
}

TEST_CASE("a misspelt step kind is an unknown key with a suggestion") {
  const auto errors = errors_of(with_steps(R"({"at": "1s", "crahs": "node-1"})"));
  INFO(listing(errors));
  CHECK(has_error(errors, "steps[0].crahs", "did you mean \"crash\""));
  CHECK(has_error(errors, "steps[0]", "a step needs one action"));
}

TEST_CASE("wrong types are named") {
  const auto errors = errors_of(R"({"name": 5, "seed": 1.5, "cluster": {"nodes": "three"},
    "check_convergence": "yes", "steps": {}})");
  INFO(listing(errors));
  CHECK(has_error(errors, "name", "must be a string, not an integer"));
  CHECK(has_error(errors, "seed", "must be an integer, not a number with a fraction"));
  CHECK(has_error(errors, "cluster.nodes", "must be a node count or a list of node ids, not a string"));
  CHECK(has_error(errors, "check_convergence", "must be true or false, not a string"));
  CHECK(has_error(errors, "steps", "must be an array of steps, not an object"));
}

TEST_CASE("a top level that is not an object is an error") {
  const auto errors = errors_of("[1, 2]");
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].message == "a scenario is a JSON object, not an array");
}

TEST_CASE("durations follow the grammar and the 7d limit") {
  CHECK(has_error(errors_of(with_steps(R"({"at": "01s", "crash": "node-1"})")), "steps[0].at",
                  "no leading zeros"));
  CHECK(has_error(errors_of(with_steps(R"({"at": "5", "crash": "node-1"})")), "steps[0].at", "needs a unit"));
  CHECK(has_error(errors_of(with_steps(R"({"at": "8d", "crash": "node-1"})")), "steps[0].at",
                  "unknown duration unit"));
  CHECK(
      has_error(errors_of(with_steps(R"({"at": "169h", "crash": "node-1"})")), "steps[0].at", "at most 7d"));
  CHECK(has_error(errors_of(with_steps(R"({"at": 5, "crash": "node-1"})")), "steps[0].at",
                  "must be a duration string"));
  CHECK(errors_of(with_steps(R"({"at": "168h", "crash": "node-1"})")).empty());
}

TEST_CASE("at must not decrease") {
  const auto errors =
      errors_of(with_steps(R"({"at": "2s", "crash": "node-1"}, {"at": "1s", "restart": "node-1"})"));
  REQUIRE(errors.size() == 1);
  CHECK(has_error(errors, "steps[1].at", "1s is before the previous step's 2s"));
}

TEST_CASE("steps at equal times are allowed") {
  CHECK(
      errors_of(with_steps(R"({"at": "2s", "crash": "node-1"}, {"at": "2s", "restart": "node-1"})")).empty());
}

TEST_CASE("rates are numbers in [0, 1]; drop stays below 1") {
  auto cluster = [](const std::string& network) {
    return errors_of(R"({"cluster": {"nodes": 3, "network": )" + network + R"(}, "steps": []})");
  };
  CHECK(cluster(R"({"drop": 0.5, "duplicate": 1})").empty());
  CHECK(has_error(cluster(R"({"drop": 1})"), "cluster.network.drop", "must be in [0, 1), not 1"));
  CHECK(
      has_error(cluster(R"({"duplicate": 1.5})"), "cluster.network.duplicate", "must be in [0, 1], not 1.5"));
  CHECK(has_error(cluster(R"({"drop": -0.1})"), "cluster.network.drop", "must be in [0, 1)"));
  CHECK(has_error(cluster(R"({"drop": "0.1"})"), "cluster.network.drop",
                  "must be a number in [0, 1], not a string"));
}

TEST_CASE("rates are stored in parts per million") {
  const Scenario s = load_ok(with_steps(
      R"({"at": "1s", "slice_failures": {"artifact": "*", "phase": "load", "transient": 0.25, "fatal": 0.000001}})"));
  const auto& f = std::get<SliceFailuresStep>(s.steps[0].action);
  CHECK(f.artifact == "*");
  CHECK(f.phase == FailurePhase::Load);
  CHECK(f.transient_ppm == 250000u);
  CHECK(f.fatal_ppm == 1u);
}

TEST_CASE("slice failure rates together must not exceed 1") {
  const auto errors = errors_of(
      with_steps(R"({"at": "1s", "slice_failures": {"artifact": "*", "transient": 0.6, "fatal": 0.6}})"));
  CHECK(has_error(errors, "steps[0].slice_failures", "transient + fatal must not exceed 1"));
}

TEST_CASE("latency ranges are ordered and positive") {
  auto latency = [](const std::string& range) {
    return errors_of(R"({"cluster": {"nodes": 3, "network": {"latency": )" + range + R"(}}, "steps": []})");
  };
  CHECK(has_error(latency(R"(["5ms", "1ms"])"), "cluster.network.latency", "min 5ms is above max 1ms"));
  CHECK(has_error(latency(R"(["0s", "1ms"])"), "cluster.network.latency[0]", "must be above 0"));
  CHECK(has_error(latency(R"(["1ms"])"), "cluster.network.latency", "must be [min, max], two durations"));
}

TEST_CASE("node ids follow the grammar and are unique") {
  const auto errors =
      errors_of(R"({"cluster": {"nodes": ["node-1", "Node-2", "node-1", "9x"]}, "steps": []})");
  INFO(listing(errors));
  CHECK(has_error(errors, "cluster.nodes[1]", "bad node id \"Node-2\""));
  CHECK(has_error(errors, "cluster.nodes[2]", "listed twice"));
  CHECK(has_error(errors, "cluster.nodes[3]", "bad node id \"9x\""));
  CHECK(errors.size() == 3);
}

TEST_CASE("node counts and lists are bounded by the node limit") {
  CHECK(has_error(errors_of(R"({"cluster": {"nodes": 2001}, "steps": []})"), "cluster.nodes",
                  "must be between 1 and 2000, not 2001"));
  CHECK(errors_of(R"({"cluster": {"nodes": 2000}, "steps": []})").empty());
  CHECK(has_error(errors_of(R"({"cluster": {"nodes": []}, "steps": []})"), "cluster.nodes",
                  "must list 1 to 2000 nodes"));
}

TEST_CASE("a node list keeps the ids as written") {
  const Scenario s =
      load_ok(R"({"cluster": {"nodes": ["db-a", "db-b", "web"]}, "steps": [{"at": "1s", "crash": "web"}]})");
  CHECK(s.cluster.nodes == std::vector<std::string>{"db-a", "db-b", "web"});
}

TEST_CASE("a step has exactly one action") {
  CHECK(has_error(errors_of(with_steps(R"({"at": "1s"})")), "steps[0]",
                  "a step needs one action, one of: blueprint"));
  CHECK(has_error(errors_of(with_steps(R"({"at": "1s", "crash": "node-1", "pause": "node-2"})")), "steps[0]",
                  "exactly one action; this one has crash, pause"));
  CHECK(has_error(errors_of(with_steps(R"({"crash": "node-1"})")), "steps[0]", "missing \"at\""));
}

TEST_CASE("targets are node ids, leader or random") {
  const Scenario s = load_ok(with_steps(
      R"({"at": "1s", "crash": "leader"}, {"at": "2s", "restart": "random"}, {"at": "3s", "pause": "node-2"})"));
  CHECK(std::get<CrashStep>(s.steps[0].action).target == Target{Target::Kind::Leader, ""});
  CHECK(std::get<RestartStep>(s.steps[1].action).target == Target{Target::Kind::Random, ""});
  CHECK(std::get<PauseStep>(s.steps[2].action).target == Target{Target::Kind::Node, "node-2"});
}

TEST_CASE("a target must be configured by the time of its step") {
  const auto errors = errors_of(with_steps(R"({"at": "1s", "crash": "node-4"}, {"at": "2s", "add_node": true},
    {"at": "3s", "crash": "node-4"}, {"at": "4s", "isolate": "nod-1"})"));
  INFO(listing(errors));
  CHECK(has_error(errors, "steps[0].crash", "no node \"node-4\" is configured by this point"));
  CHECK(has_error(errors, "steps[3].isolate", "did you mean \"node-1\""));
  CHECK(errors.size() == 2);
}

TEST_CASE("add_node takes true, an id or an object, and never reuses an id") {
  const Scenario s = load_ok(with_steps(R"({"at": "1s", "add_node": true}, {"at": "2s", "add_node": "extra"},
    {"at": "3s", "add_node": {}}, {"at": "4s", "add_node": {"id": "node-9"}}, {"at": "5s", "crash": "node-5"})"));
  CHECK(!std::get<AddNodeStep>(s.steps[0].action).id);
  CHECK(std::get<AddNodeStep>(s.steps[1].action).id == "extra");
  CHECK(std::get<AddNodeStep>(s.steps[3].action).id == "node-9");
  const auto errors =
      errors_of(with_steps(R"({"at": "1s", "remove_node": "node-3"}, {"at": "2s", "add_node": "node-3"})"));
  CHECK(has_error(errors, "steps[1].add_node", "was configured before (ids are never reused)"));
  CHECK(has_error(errors_of(with_steps(R"({"at": "1s", "add_node": false})")), "steps[0].add_node",
                  "must be true, a node id"));
}

TEST_CASE("only client writes take a client, and its name is an identifier") {
  CHECK(has_error(errors_of(with_steps(R"({"at": "1s", "crash": "node-1", "client": "a"})")),
                  "steps[0].client", "only client writes"));
  CHECK(has_error(errors_of(with_steps(R"({"at": "1s", "remove_blueprint": "x", "client": "Bad Name"})")),
                  "steps[0].client", "bad client name"));
  const Scenario s = load_ok(with_steps(R"({"at": "1s", "remove_blueprint": "shop", "client": "alice"})"));
  CHECK(std::get<RemoveBlueprintStep>(s.steps[0].action).client == "alice");
}

TEST_CASE("partition groups are lists of targets; overlap is allowed, repeats within a group are not") {
  const Scenario s = load_ok(
      with_steps(R"({"at": "1s", "partition": [["node-1", "node-2"], ["node-2", "node-3"], ["leader"]]})"));
  const auto& p = std::get<PartitionStep>(s.steps[0].action);
  REQUIRE(p.groups.size() == 3);
  CHECK(p.groups[1][0].node == "node-2");
  const auto errors =
      errors_of(with_steps(R"({"at": "1s", "partition": [["node-1", "node-1"], [], "node-3"]})"));
  INFO(listing(errors));
  CHECK(has_error(errors, "steps[0].partition[0][1]", "appears twice in this group"));
  CHECK(has_error(errors, "steps[0].partition[1]", "non-empty list of nodes, not an empty list"));
  CHECK(has_error(errors, "steps[0].partition[2]", "not a string"));
}

TEST_CASE("a link joins two different nodes and needs loss or delay") {
  const Scenario s =
      load_ok(with_steps(R"({"at": "1s", "link": {"from": "node-1", "to": "node-2", "loss": 1}})"));
  const auto& link = std::get<LinkStep>(s.steps[0].action);
  CHECK(link.loss_ppm == 1'000'000u);
  CHECK(link.delay == 0);
  CHECK(has_error(
      errors_of(with_steps(R"({"at": "1s", "link": {"from": "node-1", "to": "node-1", "loss": 1}})")),
      "steps[0].link", "two different nodes"));
  CHECK(has_error(errors_of(with_steps(R"({"at": "1s", "link": {"from": "node-1", "to": "node-2"}})")),
                  "steps[0].link", "needs \"loss\" or \"delay\""));
}

TEST_CASE("heal is true or a target, never false") {
  const Scenario s = load_ok(with_steps(R"({"at": "1s", "heal": true}, {"at": "2s", "heal": "node-2"})"));
  CHECK(!std::get<HealStep>(s.steps[0].action).node);
  CHECK(std::get<HealStep>(s.steps[1].action).node->node == "node-2");
  CHECK(has_error(errors_of(with_steps(R"({"at": "1s", "heal": false})")), "steps[0].heal", "not false"));
}

TEST_CASE("a network step changes only the settings it names") {
  const Scenario s = load_ok(with_steps(R"({"at": "1s", "network": {"drop": 0.1}})"));
  const auto& n = std::get<NetworkStep>(s.steps[0].action);
  CHECK(n.drop_ppm == 100000u);
  CHECK(!n.latency);
  CHECK(!n.duplicate_ppm);
  CHECK(
      has_error(errors_of(with_steps(R"({"at": "1s", "network": {}})")), "steps[0].network", "at least one"));
}

TEST_CASE("scale names an artifact base and a count from 0 to the limit") {
  const Scenario s =
      load_ok(with_steps(R"({"at": "1s", "scale": {"artifact": "org.example:cart", "instances": 0}},
                    {"at": "1s", "blueprint": {"id": "shop", "slices": [{"artifact": "org.example:cart:1.0.0", "instances": 1}]}})"));
  CHECK(std::get<ScaleStep>(s.steps[0].action).base == "org.example:cart");
  auto errors = errors_of(
      with_steps(R"({"at": "1s", "scale": {"artifact": "org.example:cart:1.0.0", "instances": 10001}})"));
  INFO(listing(errors));
  CHECK(has_error(errors, "steps[0].scale.artifact", "bad artifact base"));
  CHECK(has_error(errors, "steps[0].scale.instances", "must be between 0 and 10000, not 10001"));
}

TEST_CASE("a scale of a base no blueprint of the file declares is an error with a did-you-mean") {
  const std::string shop =
      R"({"at": "1s", "blueprint": {"id": "shop", "slices": [{"artifact": "org.example:cart:1.0.0", "instances": 1}]}})";
  auto errors = errors_of(
      with_steps(shop + R"(, {"at": "2s", "scale": {"artifact": "org.example:carts", "instances": 3}})"));
  INFO(listing(errors));
  CHECK(has_error(errors, "steps[1].scale.artifact",
                  "no blueprint in this file declares the base \"org.example:carts\" (did you mean "
                  "\"org.example:cart\"?)"));
  // A file that writes blueprints itself (kv_put) is not judged.
  load_ok(with_steps(
      R"({"at": "1s", "kv_put": {"key": "blueprints/x", "value": "{}"}}, {"at": "2s", "scale": {"artifact": "org.example:carts", "instances": 3}})"));
}

TEST_CASE("kv_put writes strings as-is and other JSON values serialised") {
  const Scenario s =
      load_ok(with_steps(R"({"at": "1s", "kv_put": {"key": "slices/node-1/a", "value": "{not json"}},
    {"at": "1s", "kv_put": {"key": "leader", "value": {"x": 1}}}, {"at": "2s", "kv_remove": "leader"})"));
  CHECK(std::get<KvPutStep>(s.steps[0].action).value == "{not json");
  CHECK(std::get<KvPutStep>(s.steps[1].action).value == R"({"x":1})");
  CHECK(std::get<KvRemoveStep>(s.steps[2].action).key == "leader");
  CHECK(has_error(errors_of(with_steps(R"({"at": "1s", "kv_put": {"key": ""}})")), "steps[0].kv_put.key",
                  "must not be empty"));
  CHECK(has_error(errors_of(with_steps(R"({"at": "1s", "kv_put": {"key": "k"}})")), "steps[0].kv_put",
                  "missing \"value\""));
}

TEST_CASE("blueprint errors carry the step's path") {
  const auto errors = errors_of(with_steps(R"({"at": "1s", "blueprint": {"id": "shop", "slices": [
      {"artifact": "org.example:cart:1.0.0", "instances": 0}]}})"));
  INFO(listing(errors));
  REQUIRE(!errors.empty());
  CHECK(errors[0].path.rfind("steps[0].blueprint.slices[0]", 0) == 0);
}

TEST_CASE("a blueprint above the instance limit is an error") {
  const auto errors = errors_of(with_steps(R"({"at": "1s", "blueprint": {"id": "shop", "slices": [
      {"artifact": "org.example:cart:1.0.0", "instances": 10001}]}})"));
  INFO(listing(errors));
  CHECK(has_error(errors, "steps[0].blueprint.slices[0].instances", "10000"));
}

TEST_CASE("config errors carry the config path") {
  const auto errors = errors_of(
      R"({"cluster": {"nodes": 3}, "config": {"reconciliation": "eager", "reconcilation_interval": "30s"}, "steps": []})");
  INFO(listing(errors));
  CHECK(has_error(errors, "config.reconciliation", ""));
  CHECK(has_error(errors, "config.reconcilation_interval", "reconciliation_interval"));
}

TEST_CASE("a valid config is kept as written") {
  const Scenario s =
      load_ok(R"({"cluster": {"nodes": 3}, "config": {"leader_election": "local"}, "steps": []})");
  CHECK(s.config == nlohmann::json{{"leader_election", "local"}});
}

TEST_CASE("expectations have one kind and their own options") {
  const Scenario s = load_ok(with_steps(R"(
    {"at": "1s", "expect": {"converged": true, "within": "1m"}},
    {"at": "1s", "expect": {"leader": "node-1", "within": "5s"}},
    {"at": "1s", "expect": {"instances": {"org.example:cart:1.0.0": {"total": 3, "active": 2}}}},
    {"at": "1s", "expect": {"available": {"org.example:cart:1.0.0": 2}, "for": "30s"}},
    {"at": "1s", "expect": {"no_violations": true}},
    {"at": "1s", "expect": {"violates": "single-leader-per-term"}})"));
  REQUIRE(s.steps.size() == 6);
  CHECK(std::get<ExpectLeader>(std::get<ExpectStep>(s.steps[1].action).what).node == "node-1");
  const auto& inst = std::get<ExpectInstances>(std::get<ExpectStep>(s.steps[2].action).what);
  CHECK(inst.by_artifact.at("org.example:cart:1.0.0") == InstanceCount{3, 2});
  const auto& avail = std::get<ExpectAvailable>(std::get<ExpectStep>(s.steps[3].action).what);
  CHECK(avail.min_active.at("org.example:cart:1.0.0") == 2);
  CHECK(avail.hold_for == seconds(30));
  CHECK(std::get<ExpectViolates>(std::get<ExpectStep>(s.steps[5].action).what).invariant ==
        "single-leader-per-term");
}

TEST_CASE("expectation mistakes are named") {
  const auto errors = errors_of(with_steps(R"(
    {"at": "1s", "expect": {"violates": "single-leader-per-trem", "within": "1s"}},
    {"at": "1s", "expect": {"converged": false}},
    {"at": "1s", "expect": {"leader": "leader"}},
    {"at": "1s", "expect": {"converged": true, "leader": "node-1"}},
    {"at": "1s", "expect": {"instances": {"cart": {"total": 1}}, "for": "1s"}},
    {"at": "1s", "expect": {"instances": {"org.example:cart:1.0.0": {}}}})"));
  INFO(listing(errors));
  CHECK(has_error(errors, "steps[0].expect.violates",
                  "unknown invariant \"single-leader-per-trem\" (did you mean \"single-leader-per-term\"?)"));
  CHECK(has_error(errors, "steps[0].expect.within", "applies to converged, leader and instances"));
  CHECK(has_error(errors, "steps[1].expect.converged", "must be true, not false"));
  CHECK(has_error(errors, "steps[2].expect.leader", "must name a node id"));
  CHECK(has_error(errors, "steps[3].expect", "exactly one kind; this one has converged, leader"));
  CHECK(has_error(errors, "steps[4].expect.instances.cart", "bad artifact"));
  CHECK(has_error(errors, "steps[4].expect.for", "applies to available and at_most only"));
  CHECK(has_error(errors, "steps[5].expect.instances[\"org.example:cart:1.0.0\"]",
                  "needs \"total\", \"active\" or both"));
}

TEST_CASE("at_most and writes load with their windows") {
  const Scenario s = load_ok(R"({"cluster": {"nodes": 3}, "steps": [
    {"at": "1s", "expect": {"at_most": {"org.example:cart:1.0.0": {"total": 3},
                                        "org.example:web:1.0.0": {"active": 1}}, "for": "30s"}},
    {"at": "2s", "expect": {"writes": {"max": 0, "for": "1m"}}}]})");
  REQUIRE(s.steps.size() == 2);
  const auto& at_most = std::get<ExpectAtMost>(std::get<ExpectStep>(s.steps[0].action).what);
  CHECK(at_most.hold_for == seconds(30));
  CHECK(at_most.by_artifact.at("org.example:cart:1.0.0") == InstanceCount{3, std::nullopt});
  CHECK(at_most.by_artifact.at("org.example:web:1.0.0") == InstanceCount{std::nullopt, 1});
  const auto& writes = std::get<ExpectWrites>(std::get<ExpectStep>(s.steps[1].action).what);
  CHECK(writes.max == 0);
  CHECK(writes.hold_for == seconds(60));
}

TEST_CASE("at_most and writes mistakes are named with their paths") {
  const auto errors = errors_of(with_steps(R"(
    {"at": "1s", "expect": {"at_most": {"org.example:cart:1.0.0": {"totl": 3}}, "for": "1s"}},
    {"at": "1s", "expect": {"at_most": {"org.example:cart:1.0.0": {"total": -1}}, "within": "1s"}},
    {"at": "1s", "expect": {"writes": {"max": 2}}},
    {"at": "1s", "expect": {"writes": {"for": "1s", "maxx": 2}}},
    {"at": "1s", "expect": {"writes": {"max": 2, "for": "1s"}, "for": "1s"}},
    {"at": "1s", "expect": {"at_mots": {}}})"));
  INFO(listing(errors));
  CHECK(has_error(errors, "steps[0].expect.at_most[\"org.example:cart:1.0.0\"].totl",
                  "unknown key \"totl\" (did you mean \"total\"?)"));
  CHECK(
      has_error(errors, "steps[1].expect.within", "applies to converged, leader and instances, not at_most"));
  CHECK(has_error(errors, "steps[2].expect.writes", "needs \"for\""));
  CHECK(has_error(errors, "steps[3].expect.writes.maxx", "did you mean \"max\"?"));
  CHECK(has_error(errors, "steps[3].expect.writes", "needs \"max\""));
  CHECK(has_error(errors, "steps[4].expect.for", "goes inside the writes object"));
  CHECK(has_error(errors, "steps[5].expect.at_mots", "did you mean \"at_most\"?"));
}

TEST_CASE("an expectation window may not end after the run limit") {
  CHECK(has_error(errors_of(with_steps(R"({"at": "167h", "expect": {"converged": true, "within": "2h"}})")),
                  "steps[0].expect.within", "after the 7d run limit"));
}

TEST_CASE("max_events is a positive integer") {
  CHECK(has_error(errors_of(R"({"cluster": {"nodes": 1}, "max_events": 0, "steps": []})"), "max_events",
                  "must be between 1 and"));
  CHECK(load_ok(R"({"cluster": {"nodes": 1}, "max_events": 5000, "steps": []})").max_events == 5000u);
}

TEST_CASE("more steps than the limit is an error, not a crash") {
  std::string steps;
  for (std::size_t i = 0; i <= kMaxSteps; ++i)
    steps += std::string(i ? "," : "") + R"({"at":"1s","heal":true})";
  const auto errors = errors_of(with_steps(steps));
  REQUIRE(errors.size() == 1);
  CHECK(has_error(errors, "steps", "has 100001 steps; the limit is 100000"));
}

TEST_CASE("the number of listed errors is capped, with a count of the rest") {
  std::string steps;
  for (int i = 0; i < 500; ++i) steps += std::string(i ? "," : "") + R"({"at":"1s","crash":"nope"})";
  const auto errors = errors_of(with_steps(steps));
  REQUIRE(errors.size() == 201);
  CHECK(errors.back().message == "... and 300 more errors not listed");
}

TEST_CASE("more than the blueprint limit of distinct ids is an error") {
  std::string steps;
  for (std::size_t i = 0; i <= kMaxBlueprints; ++i) {
    steps += std::string(i ? "," : "") + R"({"at":"1s","blueprint":{"id":"b)" + std::to_string(i) +
             R"(","slices":[{"artifact":"org.example:cart:1.0.0","instances":1}]}})";
  }
  const auto errors = errors_of(with_steps(steps));
  INFO(listing(errors));
  CHECK(has_error(errors, "steps[1000].blueprint", "more than 1000 distinct blueprint ids"));
}

TEST_CASE("a missing file is an error naming it") {
  const LoadResult r = load_scenario_file("/nonexistent/x.json");
  REQUIRE(r.errors.size() == 1);
  CHECK(format_error(r.errors[0]) == "/nonexistent/x.json: cannot open the file");
}

TEST_CASE("a file is read whole across 64 KiB chunks, and one above the size limit is refused") {
  // The loader reads in 64 KiB chunks (issue 14, third pass): a file of
  // several chunks loads whole; one byte over the limit is refused.
  const auto path = std::filesystem::temp_directory_path() / "aether-loader-chunks-test.json";
  const std::string text =
      R"({"cluster": {"nodes": 3}, "steps": [])" + std::string(200 * 1024 + 7, ' ') + "}";
  std::ofstream(path, std::ios::binary) << text;
  const LoadResult whole = load_scenario_file(path.string());
  INFO(listing(whole.errors));
  CHECK(whole.ok());
  std::ofstream(path, std::ios::binary) << std::string(kMaxFileBytes + 1, ' ');
  const LoadResult big = load_scenario_file(path.string());
  REQUIRE(big.errors.size() == 1);
  CHECK(big.errors[0].message.find("limit of 16777216 bytes") != std::string::npos);
  std::filesystem::remove(path);
}

TEST_CASE("the hostile-world cluster keys load, and default to the plain model") {
  const Scenario plain = load_ok(R"({"cluster": {"nodes": 3}, "steps": []})");
  CHECK(plain.cluster.failure_detection_max == 0);
  CHECK(plain.cluster.late_commit == 0);
  CHECK(plain.cluster.stall == StallSpec{});
  CHECK(plain.cluster.restore_lag == 0);
  CHECK(plain.cluster.clock_drift_ppm == 0);
  const Scenario s = load_ok(R"({"cluster": {"nodes": 3, "failure_detection": ["800ms", "2s"],
      "late_commit": "3s", "stall": {"rate": 0.02, "for": ["500ms", "3s"]}, "restore_lag": "2s",
      "clock_drift": 0.2}, "steps": []})");
  CHECK(s.cluster.failure_detection == millis(800));
  CHECK(s.cluster.failure_detection_max == seconds(2));
  CHECK(s.cluster.failure_detection_upper() == seconds(2));
  CHECK(s.cluster.late_commit == seconds(3));
  CHECK(s.cluster.stall == StallSpec{20000, DurationRange{millis(500), seconds(3)}});
  CHECK(s.cluster.restore_lag == seconds(2));
  CHECK(s.cluster.clock_drift_ppm == 200000u);
  // A range with equal ends is a fixed delay.
  const Scenario fixed =
      load_ok(R"({"cluster": {"nodes": 3, "failure_detection": ["2s", "2s"]}, "steps": []})");
  CHECK(fixed.cluster.failure_detection == seconds(2));
  CHECK(fixed.cluster.failure_detection_max == 0);
}

TEST_CASE("bad hostile-world keys are errors with their path") {
  auto cluster = [](const std::string& keys) {
    return errors_of(R"({"cluster": {"nodes": 3, )" + keys + R"(}, "steps": []})");
  };
  CHECK(has_error(cluster(R"("clock_drift": 0.3)"), "cluster.clock_drift", "at most 0.2"));
  CHECK(
      has_error(cluster(R"("failure_detection": ["0s", "2s"])"), "cluster.failure_detection[0]", "above 0"));
  CHECK(has_error(cluster(R"("failure_detection": ["3s", "2s"])"), "cluster.failure_detection", "above max"));
  CHECK(
      has_error(cluster(R"("failure_detection": 5)"), "cluster.failure_detection", "a duration or a range"));
  CHECK(has_error(cluster(R"("stall": {"rate": 0.1})"), "cluster.stall", "missing \"for\""));
  CHECK(has_error(cluster(R"("stall": {"for": ["1s", "2s"]})"), "cluster.stall", "missing \"rate\""));
  CHECK(has_error(cluster(R"("stall": {"rate": 2, "for": ["1s", "2s"]})"), "cluster.stall.rate", "[0, 1]"));
  CHECK(has_error(cluster(R"("late_commit": "soon")"), "cluster.late_commit", "bad duration"));
  CHECK(has_error(cluster(R"("restore_lag": 3)"), "cluster.restore_lag", ""));
}

TEST_CASE("lose_submits and reorder_quorum_events steps load with node or \"*\"") {
  const Scenario s = load_ok(with_steps(
      R"({"at": "1s", "lose_submits": {"node": "*", "writer": "ndm", "rate": 0.1}},
         {"at": "2s", "lose_submits": {"node": "node-2", "writer": "*", "rate": 1}},
         {"at": "3s", "reorder_quorum_events": {"node": "*", "rate": 0.5}},
         {"at": "4s", "reorder_quorum_events": {"node": "node-3", "rate": 0}})"));
  const auto& a = std::get<LoseSubmitsStep>(s.steps[0].action);
  CHECK(!a.node);
  CHECK(a.writer == "ndm");
  CHECK(a.rate_ppm == 100000u);
  const auto& b = std::get<LoseSubmitsStep>(s.steps[1].action);
  CHECK(b.node == std::optional<std::string>("node-2"));
  CHECK(b.writer == "*");
  CHECK(b.rate_ppm == 1000000u);
  CHECK(!std::get<ReorderQuorumEventsStep>(s.steps[2].action).node);
  CHECK(std::get<ReorderQuorumEventsStep>(s.steps[3].action).node == std::optional<std::string>("node-3"));
  CHECK(has_error(
      errors_of(with_steps(R"({"at": "1s", "lose_submits": {"node": "*", "writer": "client", "rate": 1}})")),
      "steps[0].lose_submits.writer", "must be one of cdm, ndm, leader-manager, *"));
  CHECK(has_error(errors_of(with_steps(
                      R"({"at": "1s", "lose_submits": {"node": "node-9", "writer": "cdm", "rate": 1}})")),
                  "steps[0].lose_submits.node", "no node \"node-9\""));
  CHECK(has_error(errors_of(with_steps(
                      R"({"at": "1s", "lose_submits": {"node": "leader", "writer": "cdm", "rate": 1}})")),
                  "steps[0].lose_submits.node", "node id or \"*\""));
  CHECK(has_error(errors_of(with_steps(R"({"at": "1s", "reorder_quorum_events": {"node": "*"}})")),
                  "steps[0].reorder_quorum_events", "missing \"rate\""));
  CHECK(has_error(
      errors_of(with_steps(R"({"at": "1s", "reorder_quorum_events": {"node": "*", "rate": 1, "x": 1}})")),
      "steps[0].reorder_quorum_events.x", "unknown key \"x\""));
}

TEST_CASE("a network step can turn stalls on and off") {
  const Scenario s =
      load_ok(with_steps(R"({"at": "1s", "network": {"stall": {"rate": 0.1, "for": ["1s", "4s"]}}},
                                           {"at": "9s", "network": {"stall": {"rate": 0}}})"));
  const auto& on = std::get<NetworkStep>(s.steps[0].action);
  CHECK(on.stall == std::optional<StallSpec>(StallSpec{100000, DurationRange{seconds(1), seconds(4)}}));
  CHECK(!on.drop_ppm);
  CHECK(std::get<NetworkStep>(s.steps[1].action).stall->rate_ppm == 0);
  CHECK(has_error(errors_of(R"({"cluster": {"nodes": 3, "network": {"stall": {"rate": 0}}}, "steps": []})"),
                  "cluster.network.stall", "unknown key \"stall\""));
}

TEST_CASE("client writes take an optional via naming a configured node") {
  const Scenario s = load_ok(with_steps(
      R"({"at": "1s", "client": "edge", "via": "node-3", "kv_put": {"key": "k", "value": "v"}},
         {"at": "2s", "kv_remove": "k"})"));
  CHECK(std::get<KvPutStep>(s.steps[0].action).via == std::optional<std::string>("node-3"));
  CHECK(std::get<KvPutStep>(s.steps[0].action).client == "edge");
  CHECK(!std::get<KvRemoveStep>(s.steps[1].action).via);
  CHECK(has_error(errors_of(with_steps(R"({"at": "1s", "via": "node-9", "kv_remove": "k"})")), "steps[0].via",
                  "no node \"node-9\""));
  CHECK(has_error(errors_of(with_steps(R"({"at": "1s", "via": "node-1", "crash": "node-2"})")),
                  "steps[0].via", "only client writes"));
  CHECK(has_error(errors_of(with_steps(R"({"at": "1s", "via": "random", "kv_remove": "k"})")), "steps[0].via",
                  "must be a node id"));
}

TEST_CASE("top-level clients give a client a default via") {
  const Scenario s = load_ok(R"({"cluster": {"nodes": 3}, "clients": {"edge": {"via": "node-3"}, "ops": {}},
                                 "steps": []})");
  CHECK(s.clients.at("edge").via == std::optional<std::string>("node-3"));
  CHECK(!s.clients.at("ops").via);
  CHECK(has_error(
      errors_of(R"({"cluster": {"nodes": 3}, "clients": {"edge": {"via": "node-7"}}, "steps": []})"),
      "clients.edge.via", "no node \"node-7\""));
  CHECK(has_error(errors_of(R"({"cluster": {"nodes": 3}, "clients": {"Edge": {}}, "steps": []})"),
                  "clients.Edge", "bad client name"));
  CHECK(has_error(
      errors_of(R"({"cluster": {"nodes": 3}, "clients": {"edge": {"vai": "node-1"}}, "steps": []})"),
      "clients.edge.vai", "did you mean \"via\""));
  CHECK(
      has_error(errors_of(R"({"cluster": {"nodes": 3}, "clients": [], "steps": []})"), "clients", "object"));
}

TEST_CASE("drain and undrain load as client writes of a node target") {
  const Scenario s = load_ok(R"({"cluster": {"nodes": 3}, "steps": [
    {"at": "1s", "drain": "node-2"},
    {"at": "2s", "client": "ops", "via": "node-3", "undrain": "node-2"},
    {"at": "3s", "drain": "leader"},
    {"at": "4s", "crash": "node-1"},
    {"at": "5s", "restart": "node-1"},
    {"at": "6s", "drain": "node-1"}]})");
  REQUIRE(s.steps.size() == 6);
  const auto& drain = std::get<DrainStep>(s.steps[0].action);
  CHECK(drain.target == Target{Target::Kind::Node, "node-2"});
  CHECK_FALSE(drain.undrain);
  CHECK(drain.client == "default");
  const auto& undrain = std::get<DrainStep>(s.steps[1].action);
  CHECK(undrain.undrain);
  CHECK(undrain.client == "ops");
  CHECK(undrain.via == std::optional<std::string>("node-3"));
  CHECK(std::get<DrainStep>(s.steps[2].action).target.kind == Target::Kind::Leader);
  CHECK(std::get<DrainStep>(s.steps[5].action).target.node == "node-1");  // restarted: up again
}

TEST_CASE("drain of a removed node, and drain with a bad shape, are refused with paths") {
  const auto errors = errors_of(R"({"cluster": {"nodes": 3}, "steps": [
    {"at": "1s", "remove_node": "node-3"},
    {"at": "2s", "drain": "node-3"},
    {"at": "3s", "undrain": {"node": "node-1"}},
    {"at": "4s", "drain": "nod-1"}]})");
  CHECK(has_error(errors, "steps[1].drain", "node \"node-3\" is down at this point"));
  CHECK(has_error(errors, "steps[2].undrain", "must be a node id"));
  CHECK(has_error(errors, "steps[3].drain", "did you mean \"node-1\""));
}
