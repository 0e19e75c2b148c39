// The lists the CLI prints and the scenario schema must agree with the code
// they describe: the invariant ids the loader accepts in `violates`, the
// checks' own list, the step kinds, and the engine's configuration keys.
#include <catch2/catch.hpp>

#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "engine/config.h"
#include "properties/invariants.h"
#include "scenarios/loader.h"

namespace {
nlohmann::json schema() {
  std::ifstream in(AETHER_SCHEMA_FILE);
  REQUIRE(in);
  return nlohmann::json::parse(in);
}

std::set<std::string> strings(const nlohmann::json& array) {
  std::set<std::string> out;
  for (const auto& v : array) out.insert(v.get<std::string>());
  return out;
}
}  // namespace

TEST_CASE("the loader accepts exactly the invariant ids the checks define") {
  std::set<std::string> checks;
  for (const auto& doc : aether::properties::invariant_docs()) checks.insert(doc.id);
  const auto& ids = aether::scenarios::known_invariant_ids();
  CHECK(std::set<std::string>(ids.begin(), ids.end()) == checks);
}

TEST_CASE("the schema's violates enum lists the same invariant ids") {
  const auto& ids = aether::scenarios::known_invariant_ids();
  CHECK(strings(schema()["$defs"]["expect"]["properties"]["violates"]["enum"]) ==
        std::set<std::string>(ids.begin(), ids.end()));
}

TEST_CASE("the schema's step kinds are the loader's step kinds") {
  std::set<std::string> kinds;
  for (const auto& doc : aether::scenarios::step_kind_docs()) kinds.insert(doc.kind);
  CHECK(strings(schema()["$defs"]["step_kinds"]["enum"]) == kinds);
}

TEST_CASE("the schema's config keys are the engine's configuration keys") {
  std::set<std::string> top_level;
  std::set<std::string> timeouts;
  for (const auto& doc : aether::engine::engine_config_keys()) {
    if (doc.key.rfind("timeouts.", 0) == 0) {
      timeouts.insert(doc.key.substr(9));
    } else {
      top_level.insert(doc.key);
    }
  }
  const nlohmann::json document = schema();
  const nlohmann::json& config = document["$defs"]["config"]["properties"];
  std::set<std::string> schema_keys;
  for (const auto& [key, unused] : config.items()) schema_keys.insert(key);
  top_level.insert("timeouts");
  CHECK(schema_keys == top_level);
  std::set<std::string> schema_timeouts;
  for (const auto& [key, unused] : config["timeouts"]["properties"].items()) schema_timeouts.insert(key);
  CHECK(schema_timeouts == timeouts);
}
