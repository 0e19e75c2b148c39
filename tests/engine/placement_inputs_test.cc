// What the CDM feeds placement (engine/placement_inputs.h) over fake inputs:
// resources and anti-affinity read from the applied blueprints, the nodes they
// forbid, the scale-down floor and the rebalancer's barred nodes
// (engine-semantics.md §8.1). No simulator.
#include <catch2/catch.hpp>

#include <random>

#include <nlohmann/json.hpp>

#include "engine/cdm_rechecks.h"
#include "engine/mutations.h"
#include "engine/placement_inputs.h"
#include "engine/resources.h"
#include "tests/engine/cdm_fakes.h"

using namespace aether::engine;
using aether::engine::test::FakeWorld;

namespace {
// db (1 cpu) is anti-affine to cache; web (2 cpu) spreads over zones.
void with_blueprint(FakeWorld& w) {
  std::string why;
  REQUIRE(w.state.put_blueprint("bp", R"({"id": "bp", "slices": [
      {"artifact": "org.x:db:1.0.0", "instances": 2, "anti_affinity": ["org.x:cache"],
       "resources": {"cpu": 1000}},
      {"artifact": "org.x:cache:1.0.0", "instances": 1},
      {"artifact": "org.x:web:1.0.0", "instances": 3, "spread": "zone", "resources": {"cpu": 2000}}]})",
                                &why));
  w.state.recompute_ownership();
}
}  // namespace

TEST_CASE("placement inputs: fields from the applied blueprint; anti-affinity either side") {
  FakeWorld w;
  with_blueprint(w);
  const auto db = placement::placement_of(w.state, "org.x:db:1.0.0");
  CHECK(db.anti_affinity == std::vector<std::string>{"org.x:cache"});
  CHECK(db.resources.cpu == 1000);
  CHECK(placement::placement_of(w.state, "org.x:web:2.0.0").spread_zone);  // any version of the base
  CHECK(placement::placement_of(w.state, "org.x:none:1.0.0").anti_affinity.empty());

  w.put("org.x:cache:1.0.0", "n1", SliceState::Active);
  w.put("org.x:db:1.0.0", "n2", SliceState::Loading);
  w.put("org.x:cache:1.0.0", "n3", SliceState::Failed);  // not live: forbids nothing
  const auto rows = placement::live_rows(w.facts);
  REQUIRE(rows.size() == 2);
  // db's own list forbids cache's node; cache, whose list is empty, is kept off db's node.
  CHECK(placement::forbidden_for(w.facts, "org.x:db:1.0.0", db, rows) == std::set<NodeId>{"n1"});
  const auto cache = placement::placement_of(w.state, "org.x:cache:1.0.0");
  CHECK(placement::forbidden_for(w.facts, "org.x:cache:1.0.0", cache, rows) == std::set<NodeId>{"n2"});
  w.config.mutations.insert(mutation::kIgnoreAntiAffinity);
  CHECK(placement::forbidden_for(w.facts, "org.x:db:1.0.0", db, rows).empty());
  // One node only: the rows of that node.
  const NodeId only = "n2";
  CHECK(placement::live_rows(w.facts, &only).size() == 1);
}

TEST_CASE("placement inputs: the add request counts used resources and the artifact's live nodes") {
  FakeWorld w;
  with_blueprint(w);
  w.topology.attrs["n2"].capacity.cpu = 2500;
  w.put("org.x:db:1.0.0", "n1", SliceState::Active);
  w.put("org.x:web:1.0.0", "n2", SliceState::Active);
  w.put("org.x:db:1.0.0", "n2", SliceState::Unloading);  // not live: uses nothing
  const auto request = placement::add_request(w.facts, w.want("org.x:db:1.0.0", 2), {"n1", "n2", "n3"}, 5);
  CHECK(request.cursor == 5);
  CHECK(request.live == std::set<NodeId>{"n1"});
  CHECK(request.holding == std::set<NodeId>{"n1", "n2"});
  CHECK(request.nodes.at("n2").used.cpu == 2000);
  CHECK(request.nodes.at("n1").used.cpu == 1000);
  CHECK(request.nodes.at("n2").attributes.capacity.cpu == 2500);
  CHECK(request.constraints.demand.cpu == 1000);
  CHECK(request.constraints.capacity);
}

TEST_CASE("placement inputs: a scale-down never goes below min_instances") {
  FakeWorld w;
  auto& desired = w.want("org.x:a:1.0.0", 1, 2);
  w.put("org.x:a:1.0.0", "n1", SliceState::Active);
  w.put("org.x:a:1.0.0", "n2", SliceState::Loading);
  w.put("org.x:a:1.0.0", "n3", SliceState::Active);
  auto request = placement::remove_request(w.facts, "org.x:a:1.0.0", desired, 3);
  REQUIRE(request);
  CHECK(request->count == 1);  // 3 live, count 1, floor 2
  REQUIRE(request->live.size() == 3);
  CHECK(request->live[0].active);
  CHECK_FALSE(request->live[1].active);
  desired.min_instances = 3;
  CHECK_FALSE(placement::remove_request(w.facts, "org.x:a:1.0.0", desired, 3));
  w.config.mutations.insert(mutation::kSkipScaleDownFloor);
  request = placement::remove_request(w.facts, "org.x:a:1.0.0", desired, 3);
  REQUIRE(request);
  CHECK(request->count == 2);
}

TEST_CASE("placement inputs: the rebalancer's nodes barred by capacity and anti-affinity") {
  FakeWorld w;
  with_blueprint(w);
  w.want("org.x:db:1.0.0", 2);
  w.want("org.x:cache:1.0.0", 1);
  w.topology.attrs["n3"].capacity.cpu = 500;
  w.topology.attrs["n3"].zone = "z3";
  w.put("org.x:cache:1.0.0", "n1", SliceState::Active);
  w.put("org.x:db:1.0.0", "n2", SliceState::Active);
  const auto input = placement::rebalance_input(
      w.facts, {"n1", "n2", "n3"},
      [](const auto&, const auto& artifact) { return artifact == "org.x:cache:1.0.0"; });
  REQUIRE(input.desired.size() == 2);
  CHECK(input.desired[0].artifact == "org.x:cache:1.0.0");
  CHECK(input.desired[0].moving);
  CHECK(input.desired[0].barred == std::set<NodeId>{"n2"});
  CHECK_FALSE(input.desired[1].moving);
  CHECK(input.desired[1].barred == std::set<NodeId>{"n1", "n3"});  // anti-affinity; 1 cpu > 500m
  CHECK(input.zones.at("n3") == "z3");
  CHECK(input.entries.at("org.x:db:1.0.0").live == std::set<NodeId>{"n2"});
}

TEST_CASE("placement inputs: the allocation's cursor moves on with each plan") {
  FakeWorld w({"n1", "n2", "n3"});
  placement::Allocation allocation{placement::make_strategy(AllocationStrategy::RoundRobin)};
  const auto& desired = w.want("org.x:a:1.0.0", 2);
  const auto plan = allocation.add(w.facts, desired, 2);
  CHECK(plan.nodes.size() == 2);
  CHECK(allocation.cursor == plan.cursor);
  for (const auto& node : plan.nodes) w.put("org.x:a:1.0.0", node, SliceState::Active);
  auto& shrunk = w.want("org.x:a:1.0.0", 1);
  CHECK(allocation.remove(w.facts, "org.x:a:1.0.0", shrunk, 2).size() == 1);
  shrunk.min_instances = 2;
  CHECK(allocation.remove(w.facts, "org.x:a:1.0.0", shrunk, 2).empty());
}

TEST_CASE("placement inputs: live rows carry placement_of's fields, with and without constraints (random)") {
  // live_rows asks placement_of per row only when some stored slice has a
  // placement constraint (otherwise every answer is the default): random
  // blueprints with and without constraints, entries of listed and unlisted
  // artifacts at two versions, against placement_of per row.
  std::mt19937_64 rng(8);
  const std::vector<std::string> bases = {"org.x:a", "org.x:b", "org.x:c", "org.y:a"};
  int constrained = 0;
  int plain = 0;
  for (int round = 0; round < 400; ++round) {
    FakeWorld w;
    std::string why;
    for (const std::string id : {"p", "q"}) {
      nlohmann::json slices = nlohmann::json::array();
      for (const auto& base : bases) {
        if (rng() % 2) continue;
        nlohmann::json slice{{"artifact", base + ":1.0.0"}, {"instances", 1}};
        if (rng() % 4 == 0) slice["resources"] = {{"cpu", 100 * static_cast<int>(rng() % 3)}};
        if (rng() % 4 == 0)
          slice["anti_affinity"] = {bases[rng() % bases.size()] == base ? "org.z:q" : "org.x:b"};
        if (rng() % 6 == 0) slice["spread"] = "zone";
        slices.push_back(slice);
      }
      if (slices.empty() || rng() % 5 == 0) continue;
      w.state.put_blueprint(id, nlohmann::json{{"id", id}, {"slices", slices}}.dump(), &why);
    }
    w.state.recompute_ownership();
    for (int i = 0; i < 6; ++i) {
      const auto artifact = bases[rng() % bases.size()] + (rng() % 2 ? ":1.0.0" : ":2.0.0");
      w.put(artifact, "n" + std::to_string(rng() % 3), rng() % 3 ? SliceState::Active : SliceState::Failed);
    }
    for (const auto& row : placement::live_rows(w.facts)) {
      const auto want = placement::placement_of(w.state, *row.artifact);
      CHECK(row.want.resources == want.resources);
      CHECK(row.want.anti_affinity == want.anti_affinity);
      CHECK(row.want.spread_zone == want.spread_zone);
      CHECK(row.base == base_of(*row.artifact));
      (want.resources != Resources{} || !want.anti_affinity.empty() || want.spread_zone ? constrained
                                                                                        : plain)++;
    }
  }
  CHECK(constrained > 100);
  CHECK(plain > 100);
}

namespace {
// add_request's and load_still_allowed's bodies as they were before the
// constraint-free shortcut (issue 14, eighth pass): every row read.
placement::AddRequest add_request_by_rows(const CdmFacts& facts, const Desired& desired,
                                          std::vector<NodeId> candidates) {
  placement::AddRequest request;
  request.eligible = std::move(candidates);
  for (const auto& node : request.eligible) request.nodes[node].attributes = facts.topology.attributes(node);
  const auto rows = placement::live_rows(facts);
  placement::add_used(request.nodes, rows);
  for (const auto& row : rows) {
    if (*row.artifact != desired.artifact) continue;
    for (const NodeId* node : row.live) request.live.insert(*node);
  }
  const Wanted mine = placement::placement_of(facts.state, desired.artifact);
  request.constraints.forbidden = placement::forbidden_for(facts, desired.artifact, mine, rows);
  request.constraints.demand = mine.resources;
  request.constraints.spread_zone = mine.spread_zone;
  return request;
}
bool load_allowed_by_rows(const CdmFacts& facts, const SliceCommand& command) {
  const Desired* desired = facts.state.desired_for(command.artifact);
  if (!desired || desired->artifact != command.artifact) return true;
  const auto rows = placement::live_rows(facts, &command.node);
  std::map<NodeId, placement::NodeInfo> nodes;
  auto& info = nodes[command.node];
  info.attributes = facts.topology.attributes(command.node);
  placement::add_used(nodes, rows);
  const Wanted mine = placement::placement_of(facts.state, command.artifact);
  if (facts.table.live_at(command.artifact, command.node)) {
    info.used.cpu -= mine.resources.cpu;
    info.used.memory -= mine.resources.memory;
  }
  if (placement::forbidden_for(facts, command.artifact, mine, rows).count(command.node)) return false;
  return facts.config.mutation(mutation::kIgnoreCapacity) ||
         fits(info.attributes.capacity, info.used, mine.resources);
}
}  // namespace

TEST_CASE("placement inputs: add request and LOAD re-check read every row only under constraints (random)") {
  std::mt19937_64 rng(88);
  const std::vector<std::string> bases = {"org.x:a", "org.x:b", "org.x:c"};
  const SliceState states[] = {SliceState::Load, SliceState::Loading, SliceState::Active, SliceState::Failed,
                               SliceState::Unload};
  int refused = 0;
  for (int round = 0; round < 600; ++round) {
    FakeWorld w({"n1", "n2", "n3", "n4"});
    if (rng() % 3 == 0) w.topology.attrs["n2"].capacity.cpu = static_cast<std::int64_t>(rng() % 3) - 1;
    nlohmann::json slices = nlohmann::json::array();
    for (const auto& base : bases) {
      nlohmann::json slice{{"artifact", base + ":1.0.0"}, {"instances", 2}};
      if (rng() % 8 == 0) slice["resources"] = {{"cpu", 100}};
      if (rng() % 8 == 0) slice["anti_affinity"] = {base == "org.x:a" ? "org.x:b" : "org.x:a"};
      slices.push_back(slice);
    }
    std::string why;
    w.state.put_blueprint("p", nlohmann::json{{"id", "p"}, {"slices", slices}}.dump(), &why);
    w.state.recompute_ownership();
    for (const auto& base : bases) w.want(base + ":1.0.0", 2);
    for (int i = 0; i < 7; ++i) {
      auto& entry = w.put(bases[rng() % bases.size()] + ":1.0.0", "n" + std::to_string(1 + rng() % 4),
                          states[rng() % std::size(states)]);
      if (rng() % 3 == 0) entry.intent = SliceState::Load;
    }
    if (rng() % 5 == 0) w.config.mutations.insert(mutation::kIgnoreCapacity);
    for (const auto& base : bases) {
      const Desired& desired = w.state.desired.at(base);
      const auto got = placement::add_request(w.facts, desired, {"n1", "n2", "n3", "n4"}, 0);
      const auto want = add_request_by_rows(w.facts, desired, {"n1", "n2", "n3", "n4"});
      CHECK(got.live == want.live);
      CHECK(got.constraints.forbidden == want.constraints.forbidden);
      CHECK(got.constraints.demand == want.constraints.demand);
      CHECK(got.constraints.spread_zone == want.constraints.spread_zone);
      for (const auto& [node, info] : want.nodes) CHECK(got.nodes.at(node).used == info.used);
      for (const auto& node : {"n1", "n2", "n3", "n4"}) {
        SliceCommand load;
        load.node = node;
        load.artifact = desired.artifact;
        const bool allowed = recheck::load_still_allowed(w.facts, load);
        CHECK(allowed == load_allowed_by_rows(w.facts, load));
        refused += !allowed;
      }
    }
  }
  CHECK(refused > 50);
}
