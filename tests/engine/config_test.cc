#include <catch2/catch.hpp>

#include "engine/config.h"
#include "engine/mutations.h"

using namespace aether::engine;
using Json = nlohmann::json;

TEST_CASE("an empty config object keeps every default") {
  EngineConfig config;
  CHECK(parse_engine_config(Json::object(), config).empty());
  CHECK(config == EngineConfig{});
  CHECK(config.reconciliation_interval_ns == seconds(30));
  CHECK(config.timeouts.loading_ns == minutes(2));
  CHECK(config.effective_leader_timeout_ns() == seconds(1));
  CHECK_FALSE(config.leader_timeout_ns);
}

TEST_CASE("every key parses") {
  EngineConfig config;
  auto errors = parse_engine_config(Json::parse(R"({
    "reconciliation": "aggressive", "allocation": "round-robin", "leader_election": "local",
    "auto_rebalancing": false, "reconciliation_interval": "5s", "blueprint_processing_timeout": "1m",
    "activation_recheck_delay": "500ms", "stuck_multiplier": 2, "transient_retry_max": 3,
    "transient_backoff_cap": "10s", "timeouts": {"loading": "10s", "activating": "5s",
    "deactivating": "3s", "unloading": "4s"}, "command_timeout": "7s", "write_timeout": "8s",
    "write_retries": 1, "write_retry_delay": "1s", "leader_timeout": "3s",
    "mutations": ["cdm-skip-scale-down-floor"]})"),
                                    config);
  CHECK(errors.empty());
  CHECK(config.reconciliation == ReconciliationStrategy::Aggressive);
  CHECK(config.leader_election == LeaderElection::Local);
  CHECK_FALSE(config.auto_rebalancing);
  CHECK(config.activation_recheck_delay_ns == millis(500));
  CHECK(config.timeouts.deactivating_ns == seconds(3));
  CHECK(config.leader_timeout_ns == seconds(3));
  CHECK(config.mutation(mutation::kSkipScaleDownFloor));
  CHECK_FALSE(config.mutation(mutation::kNdmReloadHeld));
}

TEST_CASE("config round-trips through JSON") {
  EngineConfig config;
  config.reconciliation = ReconciliationStrategy::Aggressive;
  config.timeouts.unloading_ns = millis(1500);
  config.leader_timeout_ns = seconds(2);
  EngineConfig back;
  CHECK(parse_engine_config(engine_config_to_json(config), back).empty());
  CHECK(back == config);
}

TEST_CASE("an unknown key is an error with a suggestion") {
  EngineConfig config;
  auto errors = parse_engine_config(Json::parse(R"({"reconciliation_intervall": "5s"})"), config);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].path == "reconciliation_intervall");
  CHECK(errors[0].message.find("did you mean \"reconciliation_interval\"") != std::string::npos);
}

TEST_CASE("nested errors carry the nested path") {
  EngineConfig config;
  auto errors =
      parse_engine_config(Json::parse(R"({"timeouts": {"loading": "2x", "activatin": "1s"}})"), config);
  REQUIRE(errors.size() == 2);
  CHECK(errors[0].path == "timeouts.activatin");
  CHECK(errors[0].message.find("activating") != std::string::npos);
  CHECK(errors[1].path == "timeouts.loading");
}

TEST_CASE("wrong types and out-of-range values are errors") {
  EngineConfig config;
  auto errors =
      parse_engine_config(Json::parse(R"({"stuck_multiplier": "3", "write_retries": -1, "auto_rebalancing": 1,
                      "reconciliation": "eager", "command_timeout": 30, "mutations": ["nope"]})"),
                          config);
  std::set<std::string> paths;
  for (const auto& e : errors) paths.insert(e.path);
  CHECK(paths == std::set<std::string>{"stuck_multiplier", "write_retries", "auto_rebalancing",
                                       "reconciliation", "command_timeout", "mutations[0]"});
  CHECK_FALSE(parse_engine_config(Json::array(), config).empty());
}

TEST_CASE("the key list documents every top-level key the parser accepts") {
  EngineConfig config;
  for (const auto& doc : engine_config_keys()) {
    CHECK_FALSE(doc.description.empty());
    const auto dot = doc.key.find('.');
    Json probe = Json::object();
    probe[doc.key.substr(0, dot)] = nullptr;
    auto errors = parse_engine_config(probe, config);
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].message.find("unknown key") == std::string::npos);
  }
}

TEST_CASE("mutation points are listed with descriptions") {
  REQUIRE_FALSE(mutation_points().empty());
  for (const auto& doc : mutation_points()) {
    CHECK(is_known_mutation(doc.name));
    CHECK_FALSE(doc.description.empty());
  }
  CHECK_FALSE(is_known_mutation("no-such-mutation"));
}
