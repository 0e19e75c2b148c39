// Desired state with fake inputs (no simulator): engine-semantics.md §4
// "Desired state", "Activation" and failure accounting.
#include <catch2/catch.hpp>

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "engine/desired_state.h"

using namespace aether::engine;

namespace {
const std::string kWebBase = "org.x:web";
const std::string kCartBase = "org.x:cart";

std::string blueprint_text(const std::string& id, const std::string& slices) {
  return R"({"id": ")" + id + R"(", "slices": [)" + slices + "]}";
}
std::string slice(const std::string& artifact, int instances) {
  return R"({"artifact": ")" + artifact + R"(", "instances": )" + std::to_string(instances) + "}";
}

DesiredState with_web(int blueprint_count, std::optional<SliceTarget> target) {
  DesiredState state;
  std::string why;
  REQUIRE(
      state.put_blueprint("shop", blueprint_text("shop", slice("org.x:web:1.0.0", blueprint_count)), &why));
  if (target) state.targets[kWebBase] = *target;
  state.recompute_ownership();
  return state;
}

// Blueprint a owns cart; b lists cart too, so b is rejected, and b's web
// slice-target records its last accepted deployment (web 1.0.0).
DesiredState with_rejected_owner() {
  DesiredState state;
  std::string why;
  REQUIRE(state.put_blueprint("a", blueprint_text("a", slice("org.x:cart:1.0.0", 1)), &why));
  REQUIRE(state.put_blueprint(
      "b", blueprint_text("b", slice("org.x:cart:1.0.0", 1) + ", " + slice("org.x:web:2.0.0", 4)), &why));
  state.targets[kCartBase] = SliceTarget{"1.0.0", 1, 1, "a", false};
  state.targets[kWebBase] = SliceTarget{"1.0.0", 2, 1, "b", false};
  state.recompute_ownership();
  return state;
}
}  // namespace

TEST_CASE("desired state: an invalid blueprint is stored as listing nothing, with the reason") {
  DesiredState state;
  std::string why;
  CHECK_FALSE(state.put_blueprint("shop", R"({"id": "shop", "slices": "no"})", &why));
  CHECK_FALSE(why.empty());
  CHECK_FALSE(state.put_blueprint("shop", blueprint_text("other", slice("org.x:web:1.0.0", 1)), &why));
  CHECK(why.find("does not match its key") != std::string::npos);
  REQUIRE(state.blueprints.count("shop") == 1);
  CHECK_FALSE(state.blueprints["shop"].has_value());
  state.recompute_ownership();
  CHECK_FALSE(state.wanted(kWebBase).has_value());
}

TEST_CASE("desired state: the owner's accepted blueprint says what a base wants") {
  auto state = with_web(3, std::nullopt);
  auto want = state.wanted(kWebBase);
  REQUIRE(want);
  CHECK(want->owner == "shop");
  CHECK(want->artifact == "org.x:web:1.0.0");
  CHECK(want->instances == 3);
  CHECK(want->min_available == 2);
  CHECK(DesiredState::target_for(*want) == SliceTarget{"1.0.0", 3, 2, "shop", false});
}

TEST_CASE("desired state: at activation a matching slice-target's counts win (a scale survives failover)") {
  auto state = with_web(2, SliceTarget{"1.0.0", 5, 1, "shop", false});
  auto rebuilt = state.rebuilt_target(kWebBase, 10, 20);  // target put after the blueprint
  REQUIRE(rebuilt);
  CHECK_FALSE(rebuilt->rewrite);
  CHECK(rebuilt->target.instances == 5);
  // Positions unknown: the committed target still wins.
  rebuilt = state.rebuilt_target(kWebBase, std::nullopt, std::nullopt);
  REQUIRE(rebuilt);
  CHECK_FALSE(rebuilt->rewrite);
}

TEST_CASE("desired state: at activation an owner blueprint put after its slice-target wins") {
  auto state = with_web(3, SliceTarget{"1.0.0", 2, 1, "shop", true});
  auto rebuilt = state.rebuilt_target(kWebBase, 30, 20);
  REQUIRE(rebuilt);
  CHECK(rebuilt->rewrite);
  CHECK(rebuilt->target == SliceTarget{"1.0.0", 3, 2, "shop", false});  // as a blueprint put writes it
}

TEST_CASE("desired state: at activation a missing or mismatching slice-target is rewritten") {
  auto missing = with_web(2, std::nullopt);
  auto rebuilt = missing.rebuilt_target(kWebBase, 5, std::nullopt);
  REQUIRE(rebuilt);
  CHECK(rebuilt->rewrite);
  CHECK(rebuilt->target.instances == 2);
  auto other_version = with_web(2, SliceTarget{"0.9.0", 4, 1, "shop", false});
  rebuilt = other_version.rebuilt_target(kWebBase, 5, 9);
  REQUIRE(rebuilt);
  CHECK(rebuilt->rewrite);
  CHECK(rebuilt->target.version == "1.0.0");
  CHECK_FALSE(other_version.rebuilt_target("org.x:none", 1, 2).has_value());
}

TEST_CASE("desired state: a rejected owner keeps what its slice-target records, however late its put") {
  auto state = with_rejected_owner();
  CHECK(state.ownership.rejected.count("b") == 1);
  CHECK(state.ownership.owner(kWebBase) == std::string("b"));
  auto rebuilt = state.rebuilt_target(kWebBase, 50, 10);
  REQUIRE(rebuilt);
  CHECK_FALSE(rebuilt->rewrite);
  CHECK(rebuilt->target == SliceTarget{"1.0.0", 2, 1, "b", false});
}

TEST_CASE("desired state: placement_slice is the slice whose placement fields wanted() reports") {
  // Same lookup as wanted(), without the copy (issue 14): accepted owner,
  // rejected owner with and without its own slice-target, no owner.
  auto state = with_rejected_owner();
  REQUIRE(state.ownership.rejected.count("b") == 1);
  const SliceSpec* cart = state.placement_slice(kCartBase);
  REQUIRE(cart != nullptr);
  CHECK(cart->artifact.to_string() == "org.x:cart:1.0.0");
  CHECK(state.wanted(kCartBase).has_value());
  const SliceSpec* web = state.placement_slice(kWebBase);  // rejected owner, its own target
  REQUIRE(web != nullptr);
  CHECK(web->artifact.to_string() == "org.x:web:2.0.0");
  CHECK(state.wanted(kWebBase).has_value());
  state.targets[kWebBase].owner = "a";  // rejected owner without its own target: wanted() is nullopt
  CHECK_FALSE(state.wanted(kWebBase).has_value());
  CHECK(state.placement_slice(kWebBase) == nullptr);
  for (const std::string other :
       {"org.x:none", "org.x:car", "org.x:cartx", "org.y:cart", "org.x:cart:1.0.0"}) {
    INFO(other);
    CHECK_FALSE(state.wanted(other).has_value());
    CHECK(state.placement_slice(other) == nullptr);
  }
}

TEST_CASE("desired state: the in-memory failed flag of the same artifact survives a slice-target put") {
  auto state = with_web(2, SliceTarget{"1.0.0", 2, 1, "shop", false});
  state.set_desired(kWebBase, SliceTarget{"1.0.0", 2, 1, "shop", false});
  REQUIRE(state.desired_for("org.x:web:1.0.0"));
  state.desired[kWebBase].failed = true;
  state.set_desired(kWebBase, SliceTarget{"1.0.0", 4, 1, "shop", false});  // a scale
  const Desired* desired = state.desired_for("org.x:web:1.0.0");
  REQUIRE(desired);
  CHECK(desired->failed);
  CHECK(desired->count == 4);
  CHECK(state.desired_for("org.x:web:2.0.0") == desired);  // by base: the caller compares artifacts
}

TEST_CASE("desired state: transient failures back off 1s, 2s, ... up to the cap, then count as fatal") {
  DesiredState state;
  const std::string web = "org.x:web:1.0.0";
  CHECK_FALSE(state.note_transient_failure(web, seconds(100), 4, seconds(3)));
  CHECK(state.backoff_until[web] == seconds(101));
  CHECK_FALSE(state.note_transient_failure(web, seconds(200), 4, seconds(3)));
  CHECK(state.backoff_until[web] == seconds(202));
  CHECK_FALSE(state.note_transient_failure(web, seconds(300), 4, seconds(3)));
  CHECK(state.backoff_until[web] == seconds(303));                        // 4s capped at 3s
  CHECK(state.note_transient_failure(web, seconds(400), 4, seconds(3)));  // the 4th: fatal
  state.clear_failures(web);
  CHECK(state.transient_failures.count(web) == 0);
  CHECK(state.backoff_until.count(web) == 0);
  CHECK_FALSE(state.note_transient_failure(web, seconds(500), 4, seconds(3)));
}

namespace {
// wanted_ref(base) reports what wanted(base) has (issue 14, seventh pass):
// nullopt alike, and the same owner, version, counts, update policy and
// artifact (`base:version`).
void check_ref_matches(const DesiredState& state, const std::string& base) {
  INFO(base);
  const auto want = state.wanted(base);
  const auto ref = state.wanted_ref(base);
  REQUIRE(want.has_value() == ref.has_value());
  if (!want) return;
  CHECK(*ref->owner == want->owner);
  CHECK(*ref->version == want->version);
  CHECK(ref->instances == want->instances);
  CHECK(ref->min_available == want->min_available);
  CHECK(ref->update == want->update);
  CHECK(ref->is_artifact(base, want->artifact));
  CHECK(ref->rejected == (state.ownership.rejected.count(want->owner) == 1));
  for (const std::string& other : {want->artifact + "0", base + ":" + want->version + ".1", base + ":",
                                   base.substr(0, base.size() - 1) + "x:" + want->version, std::string()}) {
    CHECK_FALSE(ref->is_artifact(base, other));
  }
}
}  // namespace

TEST_CASE("desired state: wanted_ref answers as wanted() (random states)") {
  // Three blueprints over four bases, rolling or not, random counts and
  // versions, random slice-targets (any owner, some versions the blueprints
  // do not list), so that accepted, rejected and unowned bases all occur.
  std::mt19937_64 rng(20261203);
  const std::vector<std::string> bases = {"org.x:web", "org.x:cart", "org.x:db", "org.y:web"};
  const std::vector<std::string> versions = {"1.0.0", "2.0.0", "1.0.0-rc.1"};
  const std::vector<std::string> ids = {"a", "b", "c", "gone"};
  auto pick = [&rng](const auto& items) { return items[rng() % items.size()]; };
  int accepted = 0;
  int rejected = 0;
  for (int round = 0; round < 400; ++round) {
    DesiredState state;
    std::string why;
    for (const char* id : {"a", "b", "c"}) {
      if (rng() % 4 == 0) continue;
      std::string slices;
      for (const auto& base : bases) {
        if (rng() % 3 != 0) continue;
        std::string one = R"({"artifact": ")" + base + ":" + pick(versions) + R"(", "instances": )" +
                          std::to_string(1 + rng() % 4);
        if (rng() % 2) one += R"(, "update": {"strategy": "rolling", "max_surge": 2, "max_unavailable": 1})";
        slices += (slices.empty() ? "" : ", ") + one + "}";
      }
      state.put_blueprint(id, blueprint_text(id, slices), &why);
    }
    for (const auto& base : bases) {
      if (rng() % 3 == 0) continue;
      state.targets[base] = SliceTarget{pick(versions), static_cast<int>(rng() % 5),
                                        static_cast<int>(rng() % 3), pick(ids), rng() % 5 == 0};
    }
    std::map<std::string, std::uint64_t> positions;
    for (const auto& id : ids) positions[id] = rng() % 10;
    state.recompute_ownership(positions);
    for (const auto& base : bases) {
      check_ref_matches(state, base);
      if (const auto want = state.wanted(base))
        ++(state.ownership.rejected.count(want->owner) ? rejected : accepted);
    }
    check_ref_matches(state, "org.x:none");
  }
  CHECK(accepted > 100);  // both branches are exercised
  CHECK(rejected > 10);
}

TEST_CASE("desired state: a blueprint put through BlueprintParses stores what the plain parse stores") {
  // The cache answers by exact id and text (issue 14, seventh pass): valid,
  // invalid and mismatching-id values, each put many times in random order,
  // more distinct values than the capacity (evictions), give the same
  // stored blueprint, the same validity and the same reason as a parse.
  std::mt19937_64 rng(20261203);
  std::vector<std::pair<std::string, std::string>> values;  // (id, text)
  for (int i = 0; i < 90; ++i) {
    const std::string id = "bp" + std::to_string(i % 7);
    const std::string other = i % 11 == 0 ? "elsewhere" : id;  // the id must match its key
    std::string text = blueprint_text(
        other, slice("org.x:s" + std::to_string(i % 5) + ":1.0." + std::to_string(i), 1 + i % 3));
    if (i % 13 == 0) text = blueprint_text(id, slice("org.x:bad name:1.0.0", 1));
    if (i % 17 == 0) text = "not json " + std::to_string(i);
    values.emplace_back(id, text);
  }
  // The same text under two keys: valid under its own id only.
  const std::string shared = blueprint_text("shared", slice("org.x:web:1.0.0", 2));
  values.emplace_back("shared", shared);
  values.emplace_back("other", shared);
  BlueprintParses parses;
  DesiredState cached;
  DesiredState plain;
  int invalid = 0;
  for (int round = 0; round < 2000; ++round) {
    const auto& [id, text] = values[rng() % values.size()];
    INFO(id + " " + text);
    std::string why_cached = "unset";
    std::string why_plain = "unset";
    const bool ok_cached = cached.put_blueprint(id, text, &why_cached, &parses);
    const bool ok_plain = plain.put_blueprint(id, text, &why_plain);
    REQUIRE(ok_cached == ok_plain);
    REQUIRE(why_cached == why_plain);
    REQUIRE(cached.blueprints == plain.blueprints);
    invalid += !ok_plain;
  }
  CHECK(invalid > 100);
}
