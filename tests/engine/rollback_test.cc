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

// ---------------------------------------------------------------------------
// AllOrNothing: what a leader keeps of puts in flight, over a fake world.

#include "tests/engine/cdm_fakes.h"

namespace {
using aether::engine::test::FakeWorld;

const std::string kShopV1 =
    R"({"id": "shop", "atomicity": "all-or-nothing", "slices": [{"artifact": "org.x:web:1.0.0", "instances": 2}]})";
const std::string kShopV2 =
    R"({"id": "shop", "atomicity": "all-or-nothing", "slices": [{"artifact": "org.x:web:2.0.0", "instances": 2}]})";
const std::string kShopBestEffort =
    R"({"id": "shop", "slices": [{"artifact": "org.x:web:3.0.0", "instances": 2}]})";

// Applies blueprints/shop = `text` to the world and to `aon` as the CDM does.
std::optional<RollbackRecord> apply(FakeWorld& w, AllOrNothing& aon, const std::string& text) {
  const auto before = aon.text("shop");
  const bool before_accepted = w.state.blueprints.count("shop") && w.state.blueprints.at("shop") &&
                               w.state.ownership.rejected.count("shop") == 0;
  aon.texts["shop"] = text;
  std::string why;
  w.state.put_blueprint("shop", text, &why);
  w.state.recompute_ownership();
  return aon.note_put(w.state, "shop", text, before, before_accepted);
}
}  // namespace

TEST_CASE("all-or-nothing: an accepted put records the previous accepted value; best-effort ends it") {
  FakeWorld w;
  AllOrNothing aon;
  auto first = apply(w, aon, kShopV1);
  REQUIRE(first);
  CHECK(*first == RollbackRecord{kShopV1, std::nullopt});  // nothing before: rolling back removes it
  auto second = apply(w, aon, kShopV2);
  REQUIRE(second);
  CHECK(*second == RollbackRecord{kShopV2, kShopV1});
  CHECK(aon.in_flight.at("shop") == *second);
  CHECK_FALSE(apply(w, aon, kShopBestEffort));  // the caller ends the put in flight
  CHECK(aon.end("shop"));
  CHECK_FALSE(aon.end("shop"));
}

TEST_CASE("all-or-nothing: record adoption at activation (malformed, stale, continued)") {
  AllOrNothing aon;
  aon.texts["shop"] = kShopV2;
  std::string why;
  CHECK(aon.adopt("shop", "not json", &why) == AllOrNothing::Adoption::Malformed);
  CHECK_FALSE(why.empty());
  // A client replaced blueprints/shop while nobody led: the record is stale.
  const auto other = encode_rollback_record(RollbackRecord{kShopV1, std::nullopt});
  CHECK(aon.adopt("shop", other, &why) == AllOrNothing::Adoption::Stale);
  CHECK(aon.adopt("gone", other, &why) == AllOrNothing::Adoption::Stale);
  CHECK(aon.in_flight.empty());
  const auto record = RollbackRecord{kShopV2, kShopV1};
  CHECK(aon.adopt("shop", encode_rollback_record(record), &why) == AllOrNothing::Adoption::Adopted);
  CHECK(aon.in_flight.at("shop") == record);
}

TEST_CASE("all-or-nothing: the in-flight verdict from the desired state and ACTIVE entries in the view") {
  FakeWorld w({"n1", "n2", "n3"});
  AllOrNothing aon;
  REQUIRE(apply(w, aon, kShopV2));
  auto verdicts = aon.verdicts(w.facts);
  REQUIRE(verdicts.size() == 1);
  CHECK(verdicts[0].second == InFlightVerdict::Waiting);  // no slice-target of the put yet
  Desired& desired = w.want("org.x:web:2.0.0", 2, 1, "shop");
  w.put("org.x:web:2.0.0", "n1", SliceState::Active);
  w.put("org.x:web:2.0.0", "n9", SliceState::Active);  // out of the view
  CHECK(aon.verdicts(w.facts)[0].second == InFlightVerdict::Waiting);
  w.put("org.x:web:2.0.0", "n2", SliceState::Active);
  CHECK(aon.verdicts(w.facts)[0].second == InFlightVerdict::Completed);
  desired.failed = true;
  CHECK(aon.verdicts(w.facts)[0].second == InFlightVerdict::RollBack);
  CHECK(AllOrNothing{}.verdicts(w.facts).empty());
}

TEST_CASE("all-or-nothing: the rollback rewrite, its echo and its re-check at submit") {
  FakeWorld w;
  AllOrNothing aon;
  apply(w, aon, kShopV1);
  aon.end("shop");  // V1 completed
  apply(w, aon, kShopV2);
  const auto write = aon.roll_back("shop");
  CHECK(aon.in_flight.empty());
  CHECK(write.touch_blueprint);
  CHECK(write.blueprint_value == std::optional<std::string>(kShopV1));
  // The record's removal goes (no newer record); the rewrite goes over V2.
  KeyWrite remove_record{rollback_key("shop"), std::nullopt};
  CHECK(aon.recheck(remove_record) == AllOrNothing::Recheck::Write);
  KeyWrite rewrite{"blueprints/shop", kShopV1};
  CHECK(aon.recheck(rewrite) == AllOrNothing::Recheck::Write);
  // Its echo is not a new put in flight: a rollback is never rolled back.
  CHECK_FALSE(apply(w, aon, kShopV1));
  CHECK(aon.echoes.empty());

  // A client value that committed before the rewrite's submit wins.
  apply(w, aon, kShopV2);
  REQUIRE(aon.roll_back("shop").touch_blueprint);
  aon.texts["shop"] = kShopBestEffort;
  KeyWrite late{"blueprints/shop", kShopV1};
  CHECK(aon.recheck(late) == AllOrNothing::Recheck::Replaced);
  CHECK(aon.echoes.empty());
  KeyWrite again{"blueprints/shop", kShopV1};
  CHECK(aon.recheck(again) == AllOrNothing::Recheck::Drop);  // nothing being rolled back
}

TEST_CASE("all-or-nothing: a queued record is re-encoded at submit, or dropped once over") {
  FakeWorld w;
  AllOrNothing aon;
  apply(w, aon, kShopV1);
  KeyWrite put{rollback_key("shop"), std::string("stale")};
  CHECK(aon.recheck(put) == AllOrNothing::Recheck::Write);
  CHECK(put.value == encode_rollback_record(aon.in_flight.at("shop")));
  KeyWrite remove{rollback_key("shop"), std::nullopt};
  CHECK(aon.recheck(remove) == AllOrNothing::Recheck::Drop);  // a newer put's record supersedes it
  aon.end("shop");
  KeyWrite over{rollback_key("shop"), std::string("x")};
  CHECK(aon.recheck(over) == AllOrNothing::Recheck::Drop);
  KeyWrite other{"slice-target/x", std::string("y")};
  CHECK(aon.recheck(other) == AllOrNothing::Recheck::Write);
}
