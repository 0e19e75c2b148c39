// The pure rules of all-or-nothing blueprints (engine/rollback.h,
// engine-semantics.md §8.3), without the simulator.
#include <catch2/catch.hpp>

#include "engine/blueprint.h"
#include "engine/rollback.h"

using namespace aether::engine;

TEST_CASE("rollback record: encoded and parsed, with the none marker") {
  const RollbackRecord with{R"({"id":"shop"})", std::string(R"({"id":"shop","v":1})")};
  const RollbackRecord none{R"({"id":"shop"})", std::nullopt};
  CHECK(parse_rollback_record(encode_rollback_record(with)) == with);
  CHECK(parse_rollback_record(encode_rollback_record(none)) == none);
  CHECK(encode_rollback_record(none).find("\"previous\":null") != std::string::npos);
  std::string why;
  CHECK_FALSE(parse_rollback_record("[]", &why));
  CHECK_FALSE(parse_rollback_record(R"({"put":"x"})", &why));
  CHECK(why.find("previous") != std::string::npos);
  CHECK_FALSE(parse_rollback_record(R"({"put":1,"previous":null})"));
  CHECK_FALSE(parse_rollback_record(R"({"put":"x","previous":null,"extra":1})"));
  CHECK(rollback_key("shop") == "rollback/shop");
}

TEST_CASE("rollback record: the previous accepted value, or none") {
  CHECK(record_for_put("B", std::string("A"), true) == RollbackRecord{"B", std::string("A")});
  CHECK(record_for_put("B", std::string("A"), false) ==
        RollbackRecord{"B", std::nullopt});                                              // rejected/invalid
  CHECK(record_for_put("B", std::nullopt, false) == RollbackRecord{"B", std::nullopt});  // first put
}

TEST_CASE("in-flight verdict: complete at min(count, eligible) ACTIVE per slice; any failure rolls back") {
  // Waiting until every slice-target is this put's.
  CHECK(judge_in_flight({{false, 0, 0, false}, {true, 2, 2, false}}, 5) == InFlightVerdict::Waiting);
  CHECK(judge_in_flight({{true, 2, 1, false}, {true, 1, 1, false}}, 5) == InFlightVerdict::Waiting);
  CHECK(judge_in_flight({{true, 2, 2, false}, {true, 1, 1, false}}, 5) == InFlightVerdict::Completed);
  CHECK(judge_in_flight({{true, 5, 2, false}}, 2) == InFlightVerdict::Completed);  // fewer eligible nodes
  CHECK(judge_in_flight({{true, 2, 2, false}, {true, 1, 0, true}}, 5) == InFlightVerdict::RollBack);
  // A failure flag of a slice-target that is not yet this put's (older version) does not count.
  CHECK(judge_in_flight({{false, 2, 0, true}}, 5) == InFlightVerdict::Waiting);
}

TEST_CASE("rollback write: only over the value being rolled back") {
  const RollbackRecord record{"B", std::string("A")};
  const auto write = rollback_write(record, std::string("B"));
  CHECK(write.touch_blueprint);
  CHECK(write.blueprint_value == std::string("A"));
  CHECK_FALSE(rollback_write(record, std::string("C")).touch_blueprint);  // a client's newer value wins
  CHECK_FALSE(rollback_write(record, std::nullopt).touch_blueprint);
  const auto removal = rollback_write(RollbackRecord{"B", std::nullopt}, std::string("B"));
  CHECK(removal.touch_blueprint);
  CHECK_FALSE(removal.blueprint_value);
}

TEST_CASE("blueprint atomicity: parsed, defaulted, validated with a path") {
  const auto parse = [](const std::string& text) { return parse_blueprint_text(text); };
  const std::string slices = R"("slices": [{"artifact": "org.x:web:1.0.0", "instances": 1}])";
  auto plain = parse(R"({"id": "shop", )" + slices + "}");
  REQUIRE(std::holds_alternative<Blueprint>(plain));
  CHECK(std::get<Blueprint>(plain).atomicity == Atomicity::BestEffort);
  auto aon = parse(R"({"id": "shop", "atomicity": "all-or-nothing", )" + slices + "}");
  REQUIRE(std::holds_alternative<Blueprint>(aon));
  CHECK(std::get<Blueprint>(aon).atomicity == Atomicity::AllOrNothing);
  CHECK(blueprint_to_json(std::get<Blueprint>(aon))["atomicity"] == "all-or-nothing");
  CHECK_FALSE(blueprint_to_json(std::get<Blueprint>(plain)).contains("atomicity"));
  auto bad = parse(R"({"id": "shop", "atomicity": "all-or-nothin", )" + slices + "}");
  REQUIRE(std::holds_alternative<std::vector<BlueprintError>>(bad));
  const auto& errors = std::get<std::vector<BlueprintError>>(bad);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].path == "atomicity");
  CHECK(errors[0].message.find("did you mean \"all-or-nothing\"") != std::string::npos);
  auto typed = parse(R"({"id": "shop", "atomicity": true, )" + slices + "}");
  REQUIRE(std::holds_alternative<std::vector<BlueprintError>>(typed));
  CHECK(std::get<std::vector<BlueprintError>>(typed)[0].message.find("got a boolean") != std::string::npos);
}
