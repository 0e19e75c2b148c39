#include <catch2/catch.hpp>

#include <random>
#include <set>
#include <string>
#include <vector>

#include "engine/blueprint.h"

using namespace aether::engine;
using Json = nlohmann::json;

namespace {
std::vector<BlueprintError> errors_of(const char* text) {
  auto result = parse_blueprint_text(text);
  REQUIRE(std::holds_alternative<std::vector<BlueprintError>>(result));
  return std::get<std::vector<BlueprintError>>(result);
}
Blueprint parsed(const char* text) {
  auto result = parse_blueprint_text(text);
  if (auto* errors = std::get_if<std::vector<BlueprintError>>(&result)) {
    for (const auto& e : *errors) INFO(e.path + ": " + e.message);
    FAIL("blueprint did not parse");
  }
  return std::get<Blueprint>(result);
}
}  // namespace

TEST_CASE("a blueprint parses with min_available defaulting to ceil(instances/2)") {
  auto bp = parsed(R"({"id": "shop", "slices": [{"artifact": "org.example:cart:1.0.0", "instances": 5}]})");
  CHECK(bp.id == "shop");
  REQUIRE(bp.slices.size() == 1);
  CHECK(bp.slices[0].instances == 5);
  CHECK(bp.slices[0].min_available == 3);
}

TEST_CASE("slices are ordered dependencies first, ties by artifact string") {
  auto bp = parsed(R"({"id": "shop", "slices": [
    {"artifact": "org.example:web:1.0.0", "instances": 1, "depends_on": ["org.example:db:1.0.0", "org.example:cart:1.0.0"]},
    {"artifact": "org.example:cart:1.0.0", "instances": 1, "depends_on": ["org.example:db:1.0.0"]},
    {"artifact": "org.example:zeta:1.0.0", "instances": 1},
    {"artifact": "org.example:db:1.0.0", "instances": 1}]})");
  std::vector<std::string> order;
  for (const auto& s : bp.slices) order.push_back(s.artifact.artifact_id);
  CHECK(order == std::vector<std::string>{"db", "cart", "web", "zeta"});
}

TEST_CASE("instances below 1 and min_available out of range are errors at their path") {
  auto errors = errors_of(R"({"id": "a", "slices": [{"artifact": "org.example:cart:1.0.0", "instances": 0},
    {"artifact": "org.example:web:1.0.0", "instances": 2, "min_available": 3}]})");
  REQUIRE(errors.size() == 2);
  CHECK(errors[0].path == "slices[0].instances");
  CHECK(errors[1].path == "slices[1].min_available");
}

TEST_CASE("a base listed twice is an error") {
  auto errors = errors_of(R"({"id": "a", "slices": [{"artifact": "org.example:cart:1.0.0", "instances": 1},
    {"artifact": "org.example:cart:2.0.0", "instances": 1}]})");
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].path == "slices[1].artifact");
}

TEST_CASE("a dependency outside the blueprint is an error at its path") {
  auto errors = errors_of(R"({"id": "a", "slices": [{"artifact": "org.example:cart:1.0.0", "instances": 1},
    {"artifact": "org.example:web:1.0.0", "instances": 1, "depends_on": ["org.example:db:1.0.0"]}]})");
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].path == "slices[1].depends_on[0]");
}

TEST_CASE("a dependency cycle is an error naming the cycle") {
  auto errors = errors_of(R"({"id": "a", "slices": [
    {"artifact": "org.example:a:1.0.0", "instances": 1, "depends_on": ["org.example:b:1.0.0"]},
    {"artifact": "org.example:b:1.0.0", "instances": 1, "depends_on": ["org.example:c:1.0.0"]},
    {"artifact": "org.example:c:1.0.0", "instances": 1, "depends_on": ["org.example:a:1.0.0"]},
    {"artifact": "org.example:d:1.0.0", "instances": 1, "depends_on": ["org.example:a:1.0.0"]}]})");
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].message.find("cycle") != std::string::npos);
  CHECK(errors[0].message.find("org.example:b:1.0.0") != std::string::npos);
  CHECK(errors[0].message.find("org.example:d") == std::string::npos);
}

TEST_CASE("every error of a blueprint is listed at once, blueprint-wide ones included") {
  // A bad min_available, a base listed twice, a dependency outside the
  // blueprint and a cycle, all in one blueprint.
  auto errors = errors_of(R"({"id": "a", "slices": [
    {"artifact": "org.example:a:1.0.0", "instances": 2, "min_available": 5, "depends_on": ["org.example:b:1.0.0"]},
    {"artifact": "org.example:b:1.0.0", "instances": 1, "depends_on": ["org.example:a:1.0.0", "org.example:zz:1.0.0"]},
    {"artifact": "org.example:a:2.0.0", "instances": 0}]})");
  std::set<std::string> paths;
  for (const auto& e : errors) paths.insert(e.path);
  CHECK(paths == std::set<std::string>{"slices[0].min_available", "slices[2].instances", "slices[2].artifact",
                                       "slices[1].depends_on[1]", "slices[0].depends_on"});
  bool cycle = false;
  for (const auto& e : errors) cycle = cycle || e.message.find("cycle") != std::string::npos;
  CHECK(cycle);
}

TEST_CASE("a dependency on a slice whose artifact is malformed is not reported as outside the blueprint") {
  auto errors = errors_of(R"({"id": "a", "slices": [
    {"artifact": "org.example:a:1.0.0", "instances": 1, "depends_on": ["org.example:b:1.0.0"]},
    {"artifact": "org.example:b:1.0", "instances": 1}]})");
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].path == "slices[1].artifact");
}

TEST_CASE("grammar, missing fields, wrong types and unknown keys are errors") {
  auto errors = errors_of(R"({"id": "a", "slice": [], "slices": [{"artifact": "cart", "instances": "2"}]})");
  std::set<std::string> paths;
  for (const auto& e : errors) paths.insert(e.path);
  CHECK(paths == std::set<std::string>{"slice", "slices[0].artifact", "slices[0].instances"});
  CHECK(errors_of(R"({"id": "a", "slices": []})")[0].path == "slices");
  CHECK(errors_of(R"({"slices": [{"artifact": "org.example:cart:1.0.0", "instances": 1}]})")[0].path == "");
  CHECK(errors_of("[1]")[0].path == "");
  CHECK(errors_of("{not json")[0].message == "not valid JSON");
}

TEST_CASE("a blueprint round-trips through JSON") {
  auto bp = parsed(R"({"id": "shop", "slices": [
    {"artifact": "org.example:web:1.0.0", "instances": 3, "depends_on": ["org.example:db:1.0.0"]},
    {"artifact": "org.example:db:1.0.0", "instances": 2, "min_available": 2}]})");
  auto back = parse_blueprint(blueprint_to_json(bp));
  REQUIRE(std::holds_alternative<Blueprint>(back));
  CHECK(std::get<Blueprint>(back) == bp);
}

TEST_CASE("slice-target and slice values round-trip; bad ones are rejected") {
  SliceTarget target{"1.0.0", 3, 2, "shop", true};
  CHECK(parse_slice_target(encode_slice_target(target)) == target);
  CHECK_FALSE(
      parse_slice_target(R"({"version": "1.0.0", "instances": -1, "min_instances": 0, "owner": "a"})"));
  CHECK_FALSE(parse_slice_target("nope"));
  SliceValue value{SliceState::Failed, std::string("lost"), false};
  CHECK(parse_slice_value(encode_slice_value(value)) == value);
  CHECK_FALSE(parse_slice_value(R"({"state": "SLEEPING"})"));
  CHECK(parse_slice_value(R"({"state": "LOAD"})"));
}

TEST_CASE("slice values encode as their JSON object's dump, reason or not") {
  // encode_slice_value writes a value without a reason without building the
  // JSON object: the same bytes as the dump, for every state and flag.
  const SliceState states[] = {SliceState::Load,       SliceState::Loading,      SliceState::Loaded,
                               SliceState::Activate,   SliceState::Activating,   SliceState::Active,
                               SliceState::Deactivate, SliceState::Deactivating, SliceState::Unload,
                               SliceState::Unloading,  SliceState::Failed};
  for (const auto state : states) {
    for (const bool fatal : {false, true}) {
      for (const std::optional<std::string>& reason :
           {std::optional<std::string>{}, std::optional<std::string>{"lost \"x\"\n"}}) {
        const SliceValue value{state, reason, fatal};
        Json expected = Json::object();
        expected["state"] = slice_state_name(state);
        if (reason) expected["failure_reason"] = *reason;
        expected["fatal"] = fatal;
        INFO(expected.dump());
        CHECK(encode_slice_value(value) == expected.dump());
        CHECK(parse_slice_value(encode_slice_value(value)) == value);
      }
    }
  }
}

TEST_CASE("slice keys name a valid node and artifact") {
  auto key = parse_slice_key(slice_key("node-1", "org.example:cart:1.0.0"));
  REQUIRE(key);
  CHECK(key->node == "node-1");
  CHECK(key->artifact == "org.example:cart:1.0.0");
  CHECK_FALSE(parse_slice_key("slices/node-1"));
  CHECK_FALSE(parse_slice_key("slices/Node/org.example:cart:1.0.0"));
  CHECK_FALSE(parse_slice_key("slice-target/org.example:cart"));
  CHECK(parse_node_lifecycle("ON_DUTY") == NodeLifecycle::OnDuty);
  CHECK(parse_leader_value("node-2") == std::string("node-2"));
  CHECK_FALSE(parse_leader_value("{}"));
}

TEST_CASE("slice keys parse as the split of key_suffix and parse_artifact did (random keys)") {
  // parse_slice_key validates in place: against the old way, over keys built
  // from valid and broken pieces (extra or missing slashes, other prefixes).
  std::mt19937_64 rng(14);
  const std::vector<std::string> prefixes = {"slices/", "slices", "slice/", "", "slices//"};
  const std::vector<std::string> nodes = {"node-1", "n", "Node", "", "node/2", "a-", "node-1/x"};
  const std::vector<std::string> artifacts = {"org.example:cart:1.0.0",
                                              "org.x:a-b:2.0.0-rc.1",
                                              "org.x:a",
                                              "org.x:a:1.0",
                                              "x:a:1.0.0",
                                              "org.x:a:1.0.0/",
                                              "",
                                              "org.x:A:1.0.0",
                                              "org.x:a:1.0.0:1"};
  int valid = 0;
  for (int i = 0; i < 5000; ++i) {
    std::string key = prefixes[rng() % prefixes.size()] + nodes[rng() % nodes.size()];
    if (rng() % 8) key += "/";
    key += artifacts[rng() % artifacts.size()];
    std::optional<SliceKey> expected;
    if (auto rest = key_suffix(key, kSlicePrefix)) {
      const auto slash = rest->find('/');
      if (slash != std::string::npos) {
        SliceKey out{rest->substr(0, slash), rest->substr(slash + 1)};
        if (is_valid_node_id(out.node) && parse_artifact(out.artifact)) expected = out;
      }
    }
    INFO(key);
    REQUIRE(parse_slice_key(key) == expected);
    valid += expected.has_value();
  }
  CHECK(valid > 40);
}

TEST_CASE("find_base answers as find over the parsed base (random texts)") {
  const auto parsed = parse_blueprint_text(R"({"id": "p", "slices": [
      {"artifact": "org.x:a:1.0.0", "instances": 1}, {"artifact": "org.x:a-b:1.0.0", "instances": 1},
      {"artifact": "org.xy:b:2.0.0", "instances": 1}, {"artifact": "org.x.y:c:1.0.0", "instances": 1}]})");
  REQUIRE(std::holds_alternative<Blueprint>(parsed));
  const Blueprint& bp = std::get<Blueprint>(parsed);
  std::mt19937_64 rng(57);
  const std::vector<std::string> groups = {"org.x", "org.xy", "org.x.y", "org", "Org.x", "", "org.x:"};
  const std::vector<std::string> ids = {"a", "a-b", "b", "c", "A", "", "a:b", "b-"};
  const std::vector<std::string> noise = {"", "", "", ":", ":1.0.0", "x", "-"};
  int found = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string text = groups[rng() % groups.size()] + (rng() % 8 ? ":" : "") + ids[rng() % ids.size()] +
                       noise[rng() % noise.size()];
    const auto base = parse_artifact_base(text);
    const SliceSpec* expected = base ? bp.find(*base) : nullptr;
    INFO(text);
    REQUIRE(bp.find_base(text) == expected);
    found += expected != nullptr;
  }
  CHECK(found > 100);
}

TEST_CASE("a slice's update: immediate by default, rolling with max_surge and max_unavailable") {
  auto bp = parsed(R"({"id": "shop", "slices": [
    {"artifact": "org.example:web:1.0.0", "instances": 3},
    {"artifact": "org.example:db:1.0.0", "instances": 2, "update": {"strategy": "immediate"}},
    {"artifact": "org.example:cart:1.0.0", "instances": 4,
     "update": {"strategy": "rolling", "max_surge": 2, "max_unavailable": 1}},
    {"artifact": "org.example:api:1.0.0", "instances": 1, "update": {"strategy": "rolling"}}]})");
  CHECK_FALSE(bp.find(*parse_artifact_base("org.example:web"))->update.rolling);
  CHECK_FALSE(bp.find(*parse_artifact_base("org.example:db"))->update.rolling);
  CHECK(bp.find(*parse_artifact_base("org.example:cart"))->update == UpdatePolicy{true, 2, 1});
  CHECK(bp.find(*parse_artifact_base("org.example:api"))->update == UpdatePolicy{true, 1, 0});
  auto back = parse_blueprint(blueprint_to_json(bp));
  REQUIRE(std::holds_alternative<Blueprint>(back));
  CHECK(std::get<Blueprint>(back) == bp);
}

TEST_CASE("a bad update is an error at its path") {
  auto one = [](const char* update) {
    const std::string text = std::string(R"({"id": "a", "slices": [{"artifact": "org.example:cart:1.0.0",
        "instances": 2, "update": )") +
                             update + "}]}";
    auto result = parse_blueprint_text(text);
    REQUIRE(std::holds_alternative<std::vector<BlueprintError>>(result));
    return std::get<std::vector<BlueprintError>>(result).at(0);
  };
  auto e = one(R"({"strategy": "rolling", "max_surge": 0, "max_unavailable": 0})");
  CHECK(e.path == "slices[0].update.max_surge");
  CHECK(e.message.find("max_unavailable 0") != std::string::npos);
  CHECK(one(R"({"strategy": "rolling", "max_surge": "1"})").path == "slices[0].update.max_surge");
  CHECK(one(R"({"strategy": "rolling", "max_unavailable": -1})").path == "slices[0].update.max_unavailable");
  CHECK(one(R"({"strategy": "blue-green"})").path == "slices[0].update.strategy");
  CHECK(one(R"({"max_surge": 1})").path == "slices[0].update");
  CHECK(one(R"({"strategy": "immediate", "max_surge": 1})").path == "slices[0].update.max_surge");
  CHECK(one(R"("rolling")").path == "slices[0].update");
  auto unknown = one(R"({"strategy": "rolling", "max_surg": 2})");
  CHECK(unknown.path == "slices[0].update.max_surg");
  CHECK(unknown.message.find("did you mean \"max_surge\"") != std::string::npos);
}

TEST_CASE("version-routing values round-trip; bad ones are rejected") {
  VersionRouting routing{"1.0.0", "1.1.0"};
  CHECK(parse_version_routing(encode_version_routing(routing)) == routing);
  CHECK(version_routing_key("org.example:cart") == "version-routing/org.example:cart");
  CHECK_FALSE(parse_version_routing(R"({"from": "1.0.0"})"));
  CHECK_FALSE(parse_version_routing(R"({"from": "1.0.0", "to": "x", "extra": 1})"));
  CHECK_FALSE(parse_version_routing(R"({"from": "1.0.0", "to": "latest"})"));
}

TEST_CASE("slice-target: the encoded-text fast path reads what the JSON parse reads (random texts)") {
  // parse_slice_target reads encode_slice_target's exact text without a JSON
  // parse (issue 14, seventh pass). "{ " + rest is the same JSON document
  // that never takes the fast path: both must answer alike for encoded
  // targets (owners with quotes, backslashes, control and non-ASCII bytes,
  // counts at the edges) and for those texts with one byte changed, added or
  // dropped (leading zeros, signs, out-of-range counts, broken strings).
  std::mt19937_64 rng(20261203);
  const std::vector<std::string> owners = {
      "a", "shop", "b-2.x_y", "quo\"te", "back\\slash", "tab\there", "\x7f", "caf\xc3\xa9", "", "{}", "a b"};
  const std::vector<std::string> versions = {"1.0.0", "10.20.30-rc.1", "0.0.0", "1.0", "x"};
  const std::vector<int> counts = {0, 1, 7, 10, 99, 10000, 10001, 99999, 100000};
  const std::string bytes = "0123456789-+.,:\"{}\\ aetrufl\xff\x01";
  int accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    SliceTarget target{versions[rng() % versions.size()], counts[rng() % counts.size()],
                       counts[rng() % counts.size()], owners[rng() % owners.size()], rng() % 2 == 0};
    std::string text = encode_slice_target(target);
    if (rng() % 2 && text.size() > 2) {
      const std::size_t at = 1 + rng() % (text.size() - 1);
      const char byte = bytes[rng() % bytes.size()];
      switch (rng() % 3) {
        case 0:
          text[at] = byte;
          break;
        case 1:
          text.insert(text.begin() + static_cast<std::ptrdiff_t>(at), byte);
          break;
        default:
          text.erase(at, 1);
          break;
      }
    }
    INFO(text);
    REQUIRE(text.front() == '{');
    const auto fast = parse_slice_target(text);
    const auto slow = parse_slice_target("{ " + text.substr(1));
    REQUIRE(fast == slow);
    accepted += fast.has_value();
  }
  CHECK(accepted > 2000);
}
