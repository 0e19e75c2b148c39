// The CdmWriter's submit-time re-checks (engine/cdm_rechecks.h) over fake
// inputs: each drops a command whose reason no longer holds in the state
// applied at submit (engine-semantics.md §4, §8.1). No simulator.
#include <catch2/catch.hpp>

#include "engine/cdm_rechecks.h"
#include "engine/mutations.h"
#include "tests/engine/cdm_fakes.h"

using namespace aether::engine;
using aether::engine::test::FakeWorld;

namespace {
SliceCommand command(SliceState state, const std::string& artifact, const NodeId& node,
                     UnloadWhy why = UnloadWhy::Other) {
  return SliceCommand{node, artifact, state, std::nullopt, false, why};
}
const auto kNoLoadQueued = [](const NodeId&, const std::string&) { return false; };
void put_blueprint(FakeWorld& w, const std::string& text) {
  std::string why;
  REQUIRE(w.state.put_blueprint("shop", text, &why));
  w.state.recompute_ownership();
}
}  // namespace

TEST_CASE("re-check: a re-send goes only while its intent is recorded and unanswered") {
  FakeWorld w;
  auto& entry = w.put("org.x:a:1.0.0", "n1", SliceState::Loaded);
  const auto activate = command(SliceState::Activate, "org.x:a:1.0.0", "n1");
  CHECK_FALSE(recheck::resend_still_wanted(w.table, activate));  // reverted: no intent
  entry.intent = SliceState::Activate;
  CHECK(recheck::resend_still_wanted(w.table, activate));
  entry.observed->state = SliceState::Activating;  // answered
  CHECK_FALSE(recheck::resend_still_wanted(w.table, activate));
  CHECK_FALSE(recheck::resend_still_wanted(w.table, command(SliceState::Activate, "org.x:a:1.0.0", "n2")));
}

TEST_CASE("re-check: an ACTIVATE waits for the dependencies of the desired state and of the blueprint") {
  FakeWorld w;
  put_blueprint(w, R"({"id": "shop", "slices": [{"artifact": "org.x:db:1.0.0", "instances": 1},
      {"artifact": "org.x:web:1.0.0", "instances": 1, "depends_on": ["org.x:db:1.0.0"]}]})");
  w.want("org.x:web:1.0.0", 1, 0, "shop");  // its slice-target not back: no dependency recorded yet
  const auto activate = command(SliceState::Activate, "org.x:web:1.0.0", "n1");
  CHECK_FALSE(recheck::activate_still_ready(w.facts, activate));  // the blueprint's db is not ACTIVE
  w.put("org.x:db:1.0.0", "n2", SliceState::Active);
  CHECK(recheck::activate_still_ready(w.facts, activate));
  w.state.desired.at("org.x:web").depends_on = {"org.x:cache:1.0.0"};
  CHECK_FALSE(recheck::activate_still_ready(w.facts, activate));
  w.config.mutations.insert(mutation::kActivateBeforeDependencies);
  CHECK(recheck::activate_still_ready(w.facts, activate));
}

TEST_CASE("re-check: a LOAD is dropped when anti-affinity or capacity no longer allow it") {
  FakeWorld w;
  put_blueprint(w, R"({"id": "shop", "slices": [
      {"artifact": "org.x:db:1.0.0", "instances": 2, "anti_affinity": ["org.x:cache"], "resources": {"cpu": 600}},
      {"artifact": "org.x:cache:1.0.0", "instances": 1, "resources": {"cpu": 600}}]})");
  w.want("org.x:db:1.0.0", 2, 0, "shop");
  w.topology.attrs["n2"].capacity.cpu = 1000;
  const auto load_n1 = command(SliceState::Load, "org.x:db:1.0.0", "n1");
  CHECK(recheck::load_still_allowed(w.facts, load_n1));
  w.put("org.x:cache:1.0.0", "n1", SliceState::Loading);  // a late LOAD committed meanwhile
  CHECK_FALSE(recheck::load_still_allowed(w.facts, load_n1));
  // Its own intent on n2 is not counted twice: 600m fits 1000m; another 600m would not.
  w.table.entries["org.x:db:1.0.0"]["n2"].intent = SliceState::Load;
  const auto load_n2 = command(SliceState::Load, "org.x:db:1.0.0", "n2");
  CHECK(recheck::load_still_allowed(w.facts, load_n2));
  w.state.desired.erase("org.x:cache");
  w.put("org.x:other:1.0.0", "n2", SliceState::Active);  // no resources: still fits
  CHECK(recheck::load_still_allowed(w.facts, load_n2));
  w.put("org.x:cache:1.0.0", "n2", SliceState::Active);  // cache is anti-affine, and 1200m > 1000m
  CHECK_FALSE(recheck::load_still_allowed(w.facts, load_n2));
  w.config.mutations.insert(mutation::kIgnoreAntiAffinity);
  CHECK_FALSE(recheck::load_still_allowed(w.facts, load_n2));  // capacity still
  w.config.mutations.insert(mutation::kIgnoreCapacity);
  CHECK(recheck::load_still_allowed(w.facts, load_n2));
  // Not the desired artifact: not re-checked.
  CHECK(recheck::load_still_allowed(w.facts, command(SliceState::Load, "org.x:zzz:1.0.0", "n1")));
}

TEST_CASE("re-check: a removal is dropped once its artifact is desired again") {
  FakeWorld w;
  const auto removal = command(SliceState::Unload, "org.x:web:1.0.0", "n1", UnloadWhy::Removal);
  CHECK(recheck::unload_still_wanted(w.facts, removal, kNoLoadQueued));
  // The blueprint is back (its slice-target not yet): wanted by the ownership rule.
  put_blueprint(w, R"({"id": "shop", "slices": [{"artifact": "org.x:web:1.0.0", "instances": 1}]})");
  CHECK_FALSE(recheck::unload_still_wanted(w.facts, removal, kNoLoadQueued));
  w.want("org.x:web:1.0.0", 1, 0, "shop");
  CHECK_FALSE(recheck::unload_still_wanted(w.facts, removal, kNoLoadQueued));
  // Another version is wanted: the removal of 1.0.0 stands.
  CHECK(recheck::unload_still_wanted(
      w.facts, command(SliceState::Unload, "org.x:web:0.9.0", "n1", UnloadWhy::Removal), kNoLoadQueued));
}

TEST_CASE("re-check: an old version's removal is dropped once the owner rolls its updates") {
  FakeWorld w;
  put_blueprint(w, R"({"id": "shop", "slices": [{"artifact": "org.x:web:2.0.0", "instances": 1,
      "update": {"strategy": "rolling"}}]})");
  const auto removal = command(SliceState::Unload, "org.x:web:1.0.0", "n1", UnloadWhy::Removal);
  CHECK_FALSE(recheck::unload_still_wanted(w.facts, removal, kNoLoadQueued));  // the rolling plan's now
}

TEST_CASE("re-check: a scale-down of a base removed and put back keeps the put-back's floor") {
  FakeWorld w;  // no desired state: the put-back's slice-target is not back yet
  w.put("org.x:web:1.0.0", "n1", SliceState::Active).intent = SliceState::Unload;  // the victim
  w.put("org.x:web:1.0.0", "n2", SliceState::Active);
  const auto down = command(SliceState::Unload, "org.x:web:1.0.0", "n1", UnloadWhy::ScaleDown);
  CHECK(recheck::unload_still_wanted(w.facts, down, kNoLoadQueued));  // a removal now
  put_blueprint(w, R"({"id": "shop", "slices": [{"artifact": "org.x:web:1.0.0", "instances": 2,
      "min_available": 2}]})");
  CHECK_FALSE(recheck::unload_still_wanted(w.facts, down, kNoLoadQueued));  // 1 live < 2
}

TEST_CASE("re-check: the scale-down victim never counts, even with its intent reverted") {
  FakeWorld w;
  w.want("org.x:a:1.0.0", 1, 2);
  w.put("org.x:a:1.0.0", "n1", SliceState::Loaded);  // the victim: its UNLOAD intent reverted meanwhile
  w.put("org.x:a:1.0.0", "n2", SliceState::Active);
  const auto down = command(SliceState::Unload, "org.x:a:1.0.0", "n1", UnloadWhy::ScaleDown);
  CHECK_FALSE(recheck::unload_still_wanted(w.facts, down, kNoLoadQueued));  // 1 left < floor 2
  w.put("org.x:a:1.0.0", "n3", SliceState::Loading);
  CHECK(recheck::unload_still_wanted(w.facts, down, kNoLoadQueued));
}

TEST_CASE("re-check: a scale-down keeps live and ACTIVE entries at the floor") {
  FakeWorld w;
  w.want("org.x:a:1.0.0", 1, 2);
  w.put("org.x:a:1.0.0", "n1", SliceState::Active).intent = SliceState::Unload;  // this UNLOAD
  w.put("org.x:a:1.0.0", "n2", SliceState::Active);
  w.put("org.x:a:1.0.0", "n3", SliceState::Active);
  const auto down = command(SliceState::Unload, "org.x:a:1.0.0", "n1", UnloadWhy::ScaleDown);
  CHECK(recheck::unload_still_wanted(w.facts, down, kNoLoadQueued));  // 2 live and 2 ACTIVE left
  w.table.entries["org.x:a:1.0.0"]["n3"].observed->state = SliceState::Loading;
  CHECK_FALSE(recheck::unload_still_wanted(w.facts, down, kNoLoadQueued));  // 2 live, 1 ACTIVE left
  w.table.entries["org.x:a:1.0.0"]["n1"].observed->state = SliceState::Loaded;
  CHECK(recheck::unload_still_wanted(w.facts, down,
                                     kNoLoadQueued));  // a victim not ACTIVE: only the live floor
  w.lifecycles.values["n3"] = "DRAINING";
  CHECK_FALSE(recheck::unload_still_wanted(w.facts, down, kNoLoadQueued));  // 1 live counts for scale
  // A LOAD still queued behind the UNLOAD is not counted live.
  w.lifecycles.values["n3"] = "ON_DUTY";
  w.table.entries["org.x:a:1.0.0"]["n3"].intent = SliceState::Load;
  CHECK(recheck::unload_still_wanted(w.facts, down, kNoLoadQueued));
  CHECK_FALSE(recheck::unload_still_wanted(
      w.facts, down, [](const NodeId& node, const std::string&) { return node == "n3"; }));
  // A scale-down of an artifact no longer desired: a removal now, still wanted.
  CHECK(recheck::unload_still_wanted(
      w.facts, command(SliceState::Unload, "org.x:a:0.1.0", "n1", UnloadWhy::ScaleDown), kNoLoadQueued));
}

TEST_CASE("re-check: a queued slice-target Put is re-derived from the owner blueprint applied now") {
  FakeWorld w;
  const SliceTarget queued{"1.0.0", 2, 1, "shop", false};
  CHECK_FALSE(recheck::rederived_target(w.facts, "org.x:web", queued));  // no owner
  CHECK(recheck::target_remove_still_wanted(w.facts, TargetRemove{"org.x:web"}));
  put_blueprint(w, R"({"id": "shop", "slices": [{"artifact": "org.x:web:2.0.0", "instances": 3}]})");
  CHECK_FALSE(recheck::target_remove_still_wanted(w.facts, TargetRemove{"org.x:web"}));
  auto fresh = recheck::rederived_target(w.facts, "org.x:web", queued);
  REQUIRE(fresh);
  CHECK(fresh->version == "2.0.0");
  CHECK(fresh->instances == 3);
  // A matching applied target newer than the blueprint keeps its counts (a scale).
  w.state.targets["org.x:web"] = SliceTarget{"2.0.0", 5, 1, "shop", false};
  fresh = recheck::rederived_target(w.facts, "org.x:web", queued);
  REQUIRE(fresh);
  CHECK(fresh->instances == 5);
  // A failed mark cleared since: nothing to write.
  CHECK_FALSE(recheck::rederived_target(w.facts, "org.x:web", SliceTarget{"1.0.0", 2, 1, "shop", true}));
  w.config.mutations.insert(mutation::kStaleTargetWrites);
  CHECK(recheck::rederived_target(w.facts, "org.x:web", queued) == queued);
}
