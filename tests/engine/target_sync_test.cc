// Desired-state sync (engine/target_sync.h) over fake inputs: which
// slice-target writes a reconcile issues (engine-semantics.md §4). No simulator.
#include <catch2/catch.hpp>

#include "engine/mutations.h"
#include "engine/target_sync.h"
#include "tests/engine/cdm_fakes.h"

using namespace aether::engine;
using aether::engine::test::FakeWorld;
using Kind = TargetSyncAction::Kind;

namespace {
void put_blueprint(FakeWorld& w, const std::string& id, const std::string& artifact) {
  std::string why;
  REQUIRE(w.state.put_blueprint(
      id, R"({"id": ")" + id + R"(", "slices": [{"artifact": ")" + artifact + R"(", "instances": 2}]})",
      &why));
  w.state.recompute_ownership();
}
const auto kNothingPending = [](const std::string&) { return false; };
}  // namespace

TEST_CASE("target sync: a missing or mismatching owned slice-target is written from the blueprint") {
  FakeWorld w;
  put_blueprint(w, "shop", "org.x:web:2.0.0");
  auto actions = plan_target_sync(w.facts, kNothingPending);
  REQUIRE(actions.size() == 1);
  CHECK(actions[0].kind == Kind::FromBlueprint);
  CHECK(actions[0].base == "org.x:web");
  w.state.targets["org.x:web"] = SliceTarget{"1.0.0", 2, 1, "shop", false};  // another version
  CHECK(plan_target_sync(w.facts, kNothingPending)[0].kind == Kind::FromBlueprint);
  // A write queued or in flight: left alone.
  CHECK(plan_target_sync(w.facts, [](const std::string& base) { return base == "org.x:web"; }).empty());
  // Matching, with desired state and the same failed flag: nothing.
  w.state.targets["org.x:web"] = SliceTarget{"2.0.0", 2, 1, "shop", false};
  w.want("org.x:web:2.0.0", 2, 1, "shop");
  CHECK(plan_target_sync(w.facts, kNothingPending).empty());
}

TEST_CASE("target sync: counts of an older slice-target than its owner blueprint are rewritten") {
  FakeWorld w;
  put_blueprint(w, "shop", "org.x:web:2.0.0");  // 2 instances
  w.state.targets["org.x:web"] = SliceTarget{"2.0.0", 5, 1, "shop", false};
  w.want("org.x:web:2.0.0", 5, 1, "shop");
  w.positions["blueprints/shop"] = 9;
  w.positions["slice-target/org.x:web"] = 8;  // the rewrite after the blueprint was lost
  auto actions = plan_target_sync(w.facts, kNothingPending);
  REQUIRE(actions.size() == 1);
  CHECK(actions[0].kind == Kind::FromBlueprint);
  w.positions["slice-target/org.x:web"] = 10;  // a client's scale after the blueprint: kept
  CHECK(plan_target_sync(w.facts, kNothingPending).empty());
}

TEST_CASE("target sync: the CDM's failed flag is written back; unowned slice-targets are removed") {
  FakeWorld w;
  put_blueprint(w, "shop", "org.x:web:2.0.0");
  w.state.targets["org.x:web"] = SliceTarget{"2.0.0", 2, 1, "shop", false};
  w.want("org.x:web:2.0.0", 2, 1, "shop").failed = true;
  w.state.targets["org.x:gone"] = SliceTarget{"1.0.0", 1, 1, "nobody", false};
  auto actions = plan_target_sync(w.facts, kNothingPending);
  REQUIRE(actions.size() == 2);
  CHECK(actions[0].kind == Kind::FixFailedFlag);
  CHECK(actions[0].target.failed);
  CHECK(actions[0].target.instances == 2);
  CHECK(actions[1].kind == Kind::Remove);
  CHECK(actions[1].base == "org.x:gone");
}

TEST_CASE("target sync: a matching slice-target with no desired state is written again, or adopted") {
  FakeWorld w;
  put_blueprint(w, "shop", "org.x:web:2.0.0");
  w.state.targets["org.x:web"] = SliceTarget{"2.0.0", 4, 1, "shop", false};
  auto actions = plan_target_sync(w.facts, kNothingPending);
  REQUIRE(actions.size() == 1);
  CHECK(actions[0].kind == Kind::FromBlueprint);
  // A rejected owner keeps what its slice-target records: adopted as desired state.
  w.state.ownership.rejected.insert("shop");
  actions = plan_target_sync(w.facts, kNothingPending);
  REQUIRE(actions.size() == 1);
  CHECK(actions[0].kind == Kind::AdoptRejected);
  CHECK(actions[0].target.instances == 4);
}

TEST_CASE("cdm facts: blueprint positions for the ownership rule, none under the id-order mutation") {
  FakeWorld w;
  put_blueprint(w, "a", "org.x:a:1.0.0");
  put_blueprint(w, "b", "org.x:b:1.0.0");
  w.positions["blueprints/a"] = 7;
  CHECK(w.facts.blueprint_positions() == std::map<std::string, std::uint64_t>{{"a", 7}});
  w.config.mutations.insert(mutation::kOwnershipByIdOrder);
  CHECK(w.facts.blueprint_positions().empty());
}

TEST_CASE("target put: adopted, rewritten from the blueprint, or the base forgotten") {
  FakeWorld w;
  CHECK(on_target_put(w.facts, "org.x:web", SliceTarget{"2.0.0", 2, 1, "shop", false}) ==
        TargetPutAction::NoOwner);
  put_blueprint(w, "shop", "org.x:web:2.0.0");  // 2 instances, min_available 1 (default)
  CHECK(on_target_put(w.facts, "org.x:web", SliceTarget{"1.0.0", 2, 1, "shop", false}) ==
        TargetPutAction::Rewrite);  // another version
  // A client's scale, decided after the blueprint: adopted.
  w.positions["blueprints/shop"] = 5;
  w.positions["slice-target/org.x:web"] = 6;
  const SliceTarget scaled{"2.0.0", 4, 1, "shop", false};
  CHECK(on_target_put(w.facts, "org.x:web", scaled) == TargetPutAction::Adopt);
  // The same counts from before the blueprint's value: the blueprint wins.
  w.positions["slice-target/org.x:web"] = 4;
  CHECK(on_target_put(w.facts, "org.x:web", scaled) == TargetPutAction::Rewrite);
  CHECK(on_target_put(w.facts, "org.x:web", SliceTarget{"2.0.0", 2, 1, "shop", false}) ==
        TargetPutAction::Adopt);  // what the blueprint says anyway
}
