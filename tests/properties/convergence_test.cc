// The convergence predicate on hand-made canonical stores and worlds: a
// converged cluster passes, and each blocker is produced by a constructed
// situation.
#include <catch2/catch.hpp>

#include "properties/convergence.h"
#include "tests/properties/fake_world.h"

using namespace aether;
using namespace aether::properties;
using namespace aether::properties::testing;
using engine::SliceHolding;
using engine::SliceState;

namespace {

const std::string kCart = "org.example:cart:1.0.0";
const std::string kDb = "org.example:db:2.0.0";

// Three nodes, blueprint "shop" with cart x2 ACTIVE on node-1 and node-2.
struct Converged {
  Converged() : world(3) {
    store["blueprints/shop"] = blueprint_value("shop", {{kCart, 2, {}}});
    store["slice-target/org.example:cart"] = target_value("1.0.0", 2, 1, "shop");
    for (const auto& n : {"node-1", "node-2", "node-3"})
      store[std::string("node-lifecycle/") + n] = "ON_DUTY";
    store["leader"] = "node-1";
    place("node-1", kCart);
    place("node-2", kCart);
  }
  void place(const std::string& node, const std::string& artifact, SliceState state = SliceState::Active) {
    store["slices/" + node + "/" + artifact] = slice_value(state);
    if (state == SliceState::Active) world.nodes[node].held[artifact] = SliceHolding::Active;
    if (state == SliceState::Loaded) world.nodes[node].held[artifact] = SliceHolding::Loaded;
  }
  ConvergenceState eval(bool balance = false) const { return evaluate_convergence(store, world, {balance}); }

  FakeWorld world;
  CanonicalStore::Map store;
};

}  // namespace

TEST_CASE("a cluster with every desired instance ACTIVE and held is converged") {
  Converged c;
  const auto s = c.eval();
  INFO(s.detail);
  CHECK(s.converged);
  CHECK(s.blocker == Blocker::None);
  CHECK(s.leader == "node-1");
}

TEST_CASE("live nodes need their view to hold a majority of the configured nodes") {
  FakeWorld world(5);
  world.cut_off("node-5");
  world.nodes["node-4"].paused = true;
  world.nodes["node-3"].up = false;
  const auto live = liveness(world);
  CHECK(live.majority == 3);
  CHECK(live.live == std::set<NodeId>{"node-1", "node-2"});
}

TEST_CASE("blocker: no quorum when fewer than a majority of nodes are live") {
  Converged c;
  c.world.nodes["node-2"].up = false;
  c.world.nodes["node-3"].up = false;
  const auto s = c.eval();
  CHECK_FALSE(s.converged);
  CHECK(s.blocker == Blocker::NoQuorum);
}

TEST_CASE("blocker: no leader when a live node knows none") {
  Converged c;
  c.world.nodes["node-3"].leader.reset();
  CHECK(c.eval().blocker == Blocker::NoLeader);
}

TEST_CASE("blocker: no leader when live nodes disagree") {
  Converged c;
  c.world.nodes["node-3"].leader = "node-3";
  CHECK(c.eval().blocker == Blocker::NoLeader);
}

TEST_CASE("blocker: no leader when a second CDM is Active") {
  Converged c;
  c.world.nodes["node-2"].cdm_active = true;
  CHECK(c.eval().blocker == Blocker::NoLeader);
}

TEST_CASE("blocker: no leader when the believed leader's CDM is not Active") {
  Converged c;
  c.world.nodes["node-1"].cdm_active = false;
  CHECK(c.eval().blocker == Blocker::NoLeader);
}

namespace {

// A history where every node has been in every view since `since`.
struct FakeHistory final : ConvergenceHistory {
  const ref::PositionedStore& positioned() const override { return store; }
  const ref::FailureEvidence& evidence() const override { return failures; }
  std::optional<Nanos> in_view_since(const NodeId&, const NodeId&) const override { return since; }
  std::optional<std::optional<NodeId>> applied_leader(const NodeId& node) const override {
    auto it = leaders.find(node);
    if (it == leaders.end()) return std::nullopt;
    return it->second;
  }
  Nanos now() const override { return at; }

  ref::PositionedStore store;
  ref::FailureEvidence failures;
  Nanos since = 0;
  Nanos at = 0;
  std::map<NodeId, std::optional<NodeId>> leaders;
};

ConvergenceState eval_with(const Converged& c, FakeHistory& h, Nanos bound) {
  h.store.clear();
  for (const auto& [k, v] : c.store) h.store.emplace(k, ref::StoreEntry{v, 0});
  ConvergenceRules rules;
  rules.history = &h;
  rules.bound_ns = bound;
  return evaluate_convergence(c.store, c.world, rules);
}

}  // namespace

TEST_CASE("blocker: node never ON_DUTY when a live node sits in the leader's view longer than the bound") {
  Converged c;
  c.store.erase("node-lifecycle/node-3");
  FakeHistory h;
  h.at = engine::seconds(100);
  h.since = engine::seconds(10);
  auto s = eval_with(c, h, engine::seconds(60));  // 90s in view > 60s
  CHECK_FALSE(s.converged);
  CHECK(s.blocker == Blocker::NeverOnDuty);
  CHECK(s.detail.find("node-3") != std::string::npos);
  c.store["node-lifecycle/node-3"] = "JOINING";
  CHECK(eval_with(c, h, engine::seconds(60)).blocker == Blocker::NeverOnDuty);
  // Within the bound it only lowers the count owed; DRAINING is never owed ON_DUTY.
  CHECK(eval_with(c, h, engine::seconds(120)).converged);
  c.store["node-lifecycle/node-3"] = "DRAINING";
  CHECK(eval_with(c, h, engine::seconds(60)).converged);
}

TEST_CASE("an entry on a live node that is not ON_DUTY is a count mismatch") {
  Converged c;
  c.store["slice-target/org.example:cart"] = target_value("1.0.0", 3, 1, "shop");
  c.place("node-3", kCart);
  c.store.erase("node-lifecycle/node-3");
  const auto s = c.eval();
  CHECK_FALSE(s.converged);
  CHECK(s.blocker == Blocker::CountMismatch);
}

TEST_CASE("with a history, beliefs are the applied leader entries, not the engine's report") {
  Converged c;
  FakeHistory h;
  for (const auto& n : {"node-1", "node-2", "node-3"}) h.leaders[n] = NodeId("node-1");
  CHECK(eval_with(c, h, engine::seconds(60)).converged);
  h.leaders["node-3"] = NodeId("node-2");  // the engine still reports node-1
  const auto s = eval_with(c, h, engine::seconds(60));
  CHECK(s.blocker == Blocker::NoLeader);
  h.leaders["node-3"] = std::nullopt;  // a malformed or removed entry names no one
  CHECK(eval_with(c, h, engine::seconds(60)).blocker == Blocker::NoLeader);
}

TEST_CASE("the count owed lies between the desired count and the scale-down floor") {
  Converged c;
  // A client scaled cart to 1 keeping min_instances 2: 1..2 entries are owed.
  c.store["slice-target/org.example:cart"] = target_value("1.0.0", 1, 2, "shop");
  CHECK(c.eval().converged);  // 2 entries
  c.place("node-3", kCart);
  CHECK(c.eval().blocker == Blocker::CountMismatch);  // 3 > max(1, 2)
  c.store.erase("slices/node-3/" + kCart);
  c.world.nodes["node-3"].held.erase(kCart);
  c.store.erase("slices/node-2/" + kCart);
  c.world.nodes["node-2"].held.erase(kCart);
  CHECK(c.eval().converged);  // 1 entry: the desired count
}

TEST_CASE("the desired count comes from the later of the owner blueprint and its slice-target") {
  Converged c;  // blueprint: 2; slice-target: 2
  FakeHistory h;
  h.at = 1;
  auto with_positions = [&](std::uint64_t blueprint_at, std::uint64_t target_at) {
    ConvergenceRules rules;
    rules.history = &h;
    h.store.clear();
    for (const auto& [k, v] : c.store) h.store.emplace(k, ref::StoreEntry{v, 1});
    h.store["blueprints/shop"].position = blueprint_at;
    h.store["slice-target/org.example:cart"].position = target_at;
    return evaluate_convergence(c.store, c.world, rules);
  };
  // A stale slice-target asking for 3 (an older one that overtook the client's intent).
  c.store["slice-target/org.example:cart"] = target_value("1.0.0", 3, 1, "shop");
  CHECK(with_positions(10, 5).converged);                          // the blueprint is later: 2 owed
  CHECK(with_positions(5, 10).blocker == Blocker::CountMismatch);  // the slice-target is later: 3 owed
}

TEST_CASE("a node that is not ON_DUTY only lowers the count owed") {
  Converged c;
  c.store["slice-target/org.example:cart"] = target_value("1.0.0", 3, 1, "shop");
  c.store.erase("node-lifecycle/node-3");
  c.store["node-lifecycle/node-3"] = "ON_DUTY";
  CHECK(c.eval().blocker == Blocker::CountMismatch);  // 3 eligible: 3 owed, 2 placed
  c.store.erase("node-lifecycle/node-3");
  c.store["slice-target/org.example:cart"] = target_value("1.0.0", 2, 1, "shop");
  CHECK(c.eval().converged);
}

TEST_CASE("blocker: ghost when the KV says ACTIVE and the slice store disagrees") {
  Converged c;
  c.world.nodes["node-2"].held.clear();
  CHECK(c.eval().blocker == Blocker::Ghost);
  c.world.nodes["node-2"].held[kCart] = SliceHolding::Loaded;
  CHECK(c.eval().blocker == Blocker::Ghost);
}

TEST_CASE("blocker: stuck state for an entry short of ACTIVE") {
  Converged c;
  c.place("node-2", kCart, SliceState::Loading);
  c.world.nodes["node-2"].held.erase(kCart);
  CHECK(c.eval().blocker == Blocker::StuckState);
}

TEST_CASE("blocker: stuck state for a slice store holding an artifact without an ACTIVE key") {
  Converged c;
  c.world.nodes["node-3"].held[kDb] = SliceHolding::Loaded;
  CHECK(c.eval().blocker == Blocker::StuckState);
}

TEST_CASE("blocker: count mismatch for too few, too many, stale-version and ownerless entries") {
  SECTION("too few") {
    Converged c;
    c.store["slice-target/org.example:cart"] = target_value("1.0.0", 3, 1, "shop");
    CHECK(c.eval().blocker == Blocker::CountMismatch);
  }
  SECTION("more desired than eligible nodes: min(count, eligible)") {
    Converged c;
    c.store["slice-target/org.example:cart"] = target_value("1.0.0", 5, 1, "shop");
    c.place("node-3", kCart);
    CHECK(c.eval().converged);
  }
  SECTION("too many") {
    Converged c;
    c.place("node-3", kCart);
    CHECK(c.eval().blocker == Blocker::CountMismatch);
  }
  SECTION("wrong version") {
    Converged c;
    c.store.erase("slices/node-2/" + kCart);
    c.world.nodes["node-2"].held.clear();
    c.place("node-2", "org.example:cart:0.9.0");
    CHECK(c.eval().blocker == Blocker::CountMismatch);
  }
  SECTION("a base without an owner") {
    Converged c;
    c.place("node-3", kDb);
    CHECK(c.eval().blocker == Blocker::CountMismatch);
  }
  SECTION("an entry on a node that is not eligible") {
    Converged c;
    c.world.nodes["node-3"].up = false;
    c.store["slices/node-3/" + kCart] = slice_value(SliceState::Active);
    c.store["slice-target/org.example:cart"] = target_value("1.0.0", 3, 1, "shop");
    CHECK(c.eval().blocker == Blocker::CountMismatch);
  }
}

TEST_CASE("blockers are named by priority: stuck state before ghost before count mismatch") {
  Converged c;
  c.place("node-3", kDb);                         // count mismatch (no owner)
  c.world.nodes["node-1"].held.clear();           // ghost
  c.place("node-2", kCart, SliceState::Loading);  // stuck state
  c.world.nodes["node-2"].held.erase(kCart);
  const auto s = c.eval();
  CHECK(s.blocker == Blocker::StuckState);
  CHECK(s.detail.find("more finding") != std::string::npos);
}

TEST_CASE("a permanently failed artifact and its dependants are left out of the count rules") {
  Converged c;
  c.store["blueprints/shop"] = blueprint_value("shop", {{kCart, 2, {kDb}}, {kDb, 2, {}}});
  c.store["slice-target/org.example:db"] = target_value("2.0.0", 2, 1, "shop", /*failed=*/true);
  // db failed permanently: one instance stays ACTIVE; cart waits LOADED on node-3.
  c.place("node-1", kDb);
  c.store.erase("slices/node-2/" + kCart);
  c.world.nodes["node-2"].held.erase(kCart);
  c.place("node-3", kCart, SliceState::Loaded);
  const auto desired = desired_state(c.store);
  CHECK(desired.is_excluded("org.example:db"));
  CHECK(desired.is_excluded("org.example:cart"));
  const auto s = c.eval();
  INFO(s.detail);
  CHECK(s.converged);
}

TEST_CASE("a dependency at desired 0 starves its dependants unless it kept an ACTIVE entry at its floor") {
  Converged c;
  c.store["blueprints/shop"] = blueprint_value("shop", {{kCart, 2, {kDb}}, {kDb, 1, {}}});
  // db scaled to 0 with a floor of 1 before it was ever placed (fuzz live,
  // seed 317): the floor places nothing, db has no entry, cart waits LOADED.
  c.store["slice-target/org.example:db"] = target_value("2.0.0", 0, 1, "shop");
  c.place("node-1", kCart, SliceState::Loaded);
  c.place("node-2", kCart, SliceState::Loaded);
  CHECK(desired_state(c.store).may_stay_loaded("org.example:cart"));
  {
    const auto s = c.eval();
    INFO(s.detail);
    CHECK(s.converged);
  }
  // db kept ACTIVE at its floor: cart is owed ACTIVE.
  c.place("node-3", kDb);
  CHECK_FALSE(desired_state(c.store).may_stay_loaded("org.example:cart"));
  const auto s = c.eval();
  CHECK_FALSE(s.converged);
  CHECK(s.blocker == Blocker::StuckState);
}

TEST_CASE("a dependency on a version its base's owner does not deploy starves its dependants") {
  // fuzz clients, seed 461: shop's cart depends on db 3.0.0, but ops owns db
  // at 2.0.0 (shop is rejected; cart is shop's through its slice-target):
  // db 3.0.0 is never placed, so cart waits LOADED.
  Converged c;
  c.store["blueprints/ops"] = blueprint_value("ops", {{kDb, 1, {}}});
  c.store["blueprints/shop"] =
      blueprint_value("shop", {{"org.example:db:3.0.0", 1, {}}, {kCart, 1, {"org.example:db:3.0.0"}}});
  c.store["slice-target/org.example:db"] = target_value("2.0.0", 1, 1, "ops");
  c.store["slice-target/org.example:cart"] = target_value("1.0.0", 1, 1, "shop");
  c.place("node-1", kDb);
  c.place("node-2", kCart, SliceState::Loaded);
  CHECK(desired_state(c.store).may_stay_loaded("org.example:cart"));
  // An ACTIVE db 3.0.0 entry would make it ready: then cart is owed ACTIVE.
  c.place("node-3", "org.example:db:3.0.0");
  CHECK_FALSE(desired_state(c.store).may_stay_loaded("org.example:cart"));
}

TEST_CASE("an excluded artifact loaded under a LOADED key must be loaded, inactive") {
  Converged c;
  c.store["slice-target/org.example:cart"] = target_value("1.0.0", 2, 1, "shop", true);
  c.place("node-3", kCart, SliceState::Loaded);
  CHECK(c.eval().converged);
  c.world.nodes["node-3"].held[kCart] = SliceHolding::Active;
  CHECK(c.eval().blocker == Blocker::StuckState);
}

TEST_CASE("a rejected blueprint owns nothing the CDM would place") {
  Converged c;
  const std::string kSearch = "org.example:search:1.0.0";
  c.store["blueprints/zoo"] = blueprint_value("zoo", {{kCart, 1, {}}, {kSearch, 2, {}}});
  auto s = c.eval();
  INFO(s.detail);
  CHECK(s.converged);
}

TEST_CASE("an owned base whose slice-target is not committed yet owes the blueprint's count") {
  Converged c;
  c.store["blueprints/shop"] = blueprint_value("shop", {{kCart, 2, {}}, {kDb, 1, {}}});
  CHECK(c.eval().blocker == Blocker::CountMismatch);  // the engine must write it and place db
  c.place("node-3", kDb);
  CHECK(c.eval().converged);
}

TEST_CASE("the balance rule applies only when asked for") {
  Converged c;
  c.store["blueprints/shop"] = blueprint_value("shop", {{kCart, 2, {}}, {kDb, 1, {}}});
  c.store["slice-target/org.example:db"] = target_value("2.0.0", 1, 1, "shop");
  c.place("node-1", kDb);  // loads 2, 1, 0
  CHECK(c.eval(false).converged);
  CHECK(c.eval(true).blocker == Blocker::CountMismatch);
  c.store.erase("slices/node-1/" + kDb);
  c.world.nodes["node-1"].held.erase(kDb);
  c.place("node-3", kDb);  // loads 1, 1, 1
  CHECK(c.eval(true).converged);
}

TEST_CASE("instance tallies count live entries and counted instances") {
  Converged c;
  c.place("node-3", kCart, SliceState::Loading);
  c.world.nodes["node-2"].held[kCart] = SliceHolding::Loaded;  // ACTIVE key, not active: not counted
  const auto live = liveness(c.world);
  const auto t = tally_instances(c.store, c.world, live, kCart);
  CHECK(t.total == 3);
  CHECK(t.active == 1);
}

TEST_CASE("expect leader needs every live node to believe it and its CDM Active") {
  Converged c;
  const auto live = liveness(c.world);
  CHECK(leader_mismatch(c.world, live, "node-1").empty());
  CHECK_FALSE(leader_mismatch(c.world, live, "node-2").empty());
  c.world.nodes["node-3"].leader = "node-2";
  CHECK_FALSE(leader_mismatch(c.world, live, "node-1").empty());
}

TEST_CASE(
    "drain blocked: an entry §8.2 forbids evicting is allowed on a DRAINING node, an evictable one is not") {
  // cart x2 on node-1 and node-2; node-2 drains. node-3 is eligible and
  // lacks cart: owed min(2, 2) = 2 ACTIVE on eligible nodes, only 1 there,
  // so node-2's entry may not go yet, but the count is short: not converged.
  Converged c;
  c.store["node-lifecycle/node-2"] = "DRAINING";
  auto s = c.eval();
  CHECK_FALSE(s.converged);
  CHECK(s.blocker == Blocker::CountMismatch);
  // The replacement on node-3 is ACTIVE: node-2's entry is evictable, so it
  // must be gone.
  c.place("node-3", kCart);
  s = c.eval();
  CHECK_FALSE(s.converged);
  CHECK(s.detail.find("slices/node-2/") != std::string::npos);
  c.store.erase("slices/node-2/" + kCart);
  c.world.nodes["node-2"].held.clear();
  CHECK(c.eval().converged);
  // Every node draining: node-1 keeps the last ACTIVE entry (drain blocked),
  // a second one on node-3 is evictable (node-1's is another live entry).
  for (const auto& n : {"node-1", "node-2", "node-3"})
    c.store[std::string("node-lifecycle/") + n] = "DRAINING";
  CHECK_FALSE(c.eval().converged);
  c.store.erase("slices/node-3/" + kCart);
  c.world.nodes["node-3"].held.clear();
  s = c.eval();
  INFO(s.detail);
  CHECK(s.converged);
  CHECK(s.drain_blocked == std::vector<std::string>{"slices/node-1/" + kCart});
  CHECK(s.detail.find("drain blocked") != std::string::npos);
  // DECOMMISSIONED is not DRAINING: nothing there is allowed.
  c.store["node-lifecycle/node-1"] = "DECOMMISSIONED";
  CHECK_FALSE(c.eval().converged);
}

// Placement constraints (engine-semantics.md §8.1) at convergence.
namespace {
const std::string kApi = "org.example:api:1.0.0";
std::string api_blueprint(const std::string& fields, int instances) {
  return R"({"id": "shop", "slices": [{"artifact": "org.example:api:1.0.0", "instances": )" +
         std::to_string(instances) + fields + "}]}";
}
struct Placed : Converged {
  Placed(const std::string& fields, int instances) {
    store["blueprints/shop"] = api_blueprint(fields, instances);
    store.erase("slice-target/org.example:cart");
    store["slice-target/org.example:api"] = target_value("1.0.0", instances, 1, "shop");
    store.erase("slices/node-1/" + kCart);
    store.erase("slices/node-2/" + kCart);
    world.nodes["node-1"].held.clear();
    world.nodes["node-2"].held.clear();
  }
};
}  // namespace

TEST_CASE("zone spread: zones that differ by more than 1 block convergence where a node could even them") {
  Placed c(R"(, "spread": "zone")", 2);
  c.world.attributes_of["node-1"].zone = "a";
  c.world.attributes_of["node-2"].zone = "a";
  c.world.attributes_of["node-3"].zone = "b";
  c.place("node-1", kApi);
  c.place("node-2", kApi);
  const auto s = c.eval(true);
  CHECK_FALSE(s.converged);
  CHECK(s.detail.find("zone spread") != std::string::npos);
  CHECK(c.eval(false).converged);  // zones even out only under aggressive reconciliation
  // node-3 full: no placement evens the zones, so they are not owed.
  c.world.attributes_of["node-3"].capacity.cpu = 100;
  c.store["blueprints/shop"] = api_blueprint(R"(, "spread": "zone", "resources": {"cpu": 500})", 2);
  const auto full = c.eval(true);
  INFO(full.detail);
  CHECK(full.converged);
}

TEST_CASE("an instance no eligible node can take is excused and named; one that fits is owed") {
  Placed c(R"(, "anti_affinity": ["org.example:cart"])", 3);
  c.store["blueprints/shop"] =
      R"({"id": "shop", "slices": [{"artifact": "org.example:api:1.0.0", "instances": 3, "anti_affinity": ["org.example:cart"]},
          {"artifact": "org.example:cart:1.0.0", "instances": 1}]})";
  c.store["slice-target/org.example:cart"] = target_value("1.0.0", 1, 1, "shop");
  c.place("node-1", kApi);
  c.place("node-2", kApi);
  c.place("node-3", kCart);
  const auto s = c.eval();
  INFO(s.detail);
  CHECK(s.converged);
  REQUIRE(s.unplaced.size() == 1);
  CHECK(s.unplaced[0] == "org.example:api: 1 unplaced (anti-affinity)");
  // Without the constraint node-3 could take it: a count mismatch.
  c.store["blueprints/shop"] =
      R"({"id": "shop", "slices": [{"artifact": "org.example:api:1.0.0", "instances": 3},
          {"artifact": "org.example:cart:1.0.0", "instances": 1}]})";
  const auto owed = c.eval();
  CHECK_FALSE(owed.converged);
  CHECK(owed.blocker == Blocker::CountMismatch);
  // Capacity: node-3 too small for one more api next to the cart.
  c.store["blueprints/shop"] =
      R"({"id": "shop", "slices": [{"artifact": "org.example:api:1.0.0", "instances": 3, "resources": {"cpu": 600}},
          {"artifact": "org.example:cart:1.0.0", "instances": 1, "resources": {"cpu": 600}}]})";
  c.world.attributes_of["node-3"].capacity.cpu = 1000;
  const auto capacity = c.eval();
  INFO(capacity.detail);
  CHECK(capacity.converged);
  REQUIRE(capacity.unplaced.size() == 1);
  CHECK(capacity.unplaced[0] == "org.example:api: 1 unplaced (capacity)");
}
