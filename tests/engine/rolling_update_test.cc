// Rolling-update planning with fake inputs (no simulator):
// engine-semantics.md §8.4, engine/rolling_update.h.
#include <catch2/catch.hpp>

#include <optional>
#include <random>
#include <string>
#include <vector>

#include "engine/rolling_update.h"

using namespace aether::engine;
using namespace aether::engine::rolling;

namespace {
std::vector<OldEntry> old_active(std::initializer_list<const char*> nodes) {
  std::vector<OldEntry> out;
  for (const char* node : nodes) out.push_back(OldEntry{"org.example:cart:1.0.0", node, true});
  return out;
}
std::vector<std::string> nodes_of(const std::vector<OldEntry>& entries) {
  std::vector<std::string> out;
  for (const auto& e : entries) out.push_back(e.node);
  return out;
}
}  // namespace

TEST_CASE("rolling: the first step loads max_surge new instances and unloads nothing at max_unavailable 0") {
  Input in;
  in.desired = 3;
  in.max_surge = 1;
  in.max_unavailable = 0;
  in.active = 3;
  in.old = old_active({"n1", "n2", "n3"});
  const auto plan = rolling::plan(in);
  CHECK(plan.load == 1);
  CHECK(plan.unload.empty());
}

TEST_CASE("rolling: each new ACTIVE lets one old instance go, last node first, and the next wave loads") {
  Input in;
  in.desired = 3;
  in.max_surge = 1;
  in.new_live = 1;
  in.active = 4;  // 3 old + 1 new ACTIVE
  in.old = old_active({"n1", "n2", "n3"});
  const auto plan = rolling::plan(in);
  CHECK(nodes_of(plan.unload) == std::vector<std::string>{"n3"});
  CHECK(plan.load == 1);  // 1 new + 2 old stay live: one more within desired + max_surge
}

TEST_CASE("rolling: a new instance still loading lets no ACTIVE old one go and blocks further surge") {
  Input in;
  in.desired = 3;
  in.max_surge = 1;
  in.new_live = 1;
  in.active = 3;
  in.old = old_active({"n1", "n2", "n3"});
  const auto plan = rolling::plan(in);
  CHECK(plan.unload.empty());
  CHECK(plan.load == 0);
}

TEST_CASE("rolling: max_unavailable lets that many ACTIVE old instances go at once") {
  Input in;
  in.desired = 4;
  in.max_surge = 1;
  in.max_unavailable = 1;
  in.active = 4;
  in.old = old_active({"n1", "n2", "n3", "n4"});
  const auto plan = rolling::plan(in);
  CHECK(nodes_of(plan.unload) == std::vector<std::string>{"n4"});
  CHECK(plan.load == 2);  // 3 old stay live: 2 new within 4 + 1
}

TEST_CASE("rolling: old entries that are not ACTIVE go at once; ACTIVE ones keep the floor") {
  Input in;
  in.desired = 3;
  in.max_surge = 2;
  in.new_live = 0;
  in.active = 2;
  in.old = old_active({"n1", "n2"});
  in.old.push_back(OldEntry{"org.example:cart:1.1.0", "n4", false});  // loading, of a reversed update
  const auto plan = rolling::plan(in);
  CHECK(nodes_of(plan.unload) == std::vector<std::string>{"n4"});
  CHECK(plan.load == 3);  // 2 old stay live; 3 new within 3 + 2, capped at desired
}

TEST_CASE("rolling: after a crash took ACTIVE below the floor the plan only adds") {
  Input in;
  in.desired = 3;
  in.max_surge = 1;
  in.max_unavailable = 0;
  in.new_live = 1;
  in.active = 2;  // 2 old ACTIVE, the new one still loading; one old lost with its node
  in.old = old_active({"n1", "n2"});
  const auto plan = rolling::plan(in);
  CHECK(plan.unload.empty());
  CHECK(plan.load == 1);  // 1 new + 2 old live: one more within 4
}

TEST_CASE("rolling: never more new-version instances than desired") {
  Input in;
  in.desired = 2;
  in.max_surge = 5;
  in.new_live = 2;
  in.active = 3;
  in.old = old_active({"n1"});
  const auto plan = rolling::plan(in);
  CHECK(plan.load == 0);
  CHECK(nodes_of(plan.unload) == std::vector<std::string>{"n1"});
}

TEST_CASE("rolling: ignoring max_unavailable (the mutation point) unloads every ACTIVE old instance") {
  Input in;
  in.desired = 3;
  in.max_surge = 1;
  in.active = 3;
  in.old = old_active({"n1", "n2", "n3"});
  in.ignore_max_unavailable = true;
  CHECK(rolling::plan(in).unload.size() == 3);
}

TEST_CASE("rolling: the submit-time floor") {
  CHECK(unload_keeps_floor(3, 3, 0));
  CHECK_FALSE(unload_keeps_floor(2, 3, 0));
  CHECK(unload_keeps_floor(2, 3, 1));
}

// ---------------------------------------------------------------------------
// What the CDM reads for a rolling base, over a fake world.

#include "engine/mutations.h"
#include "tests/engine/cdm_fakes.h"

namespace {
using aether::engine::test::FakeWorld;

// cart 2.0.0 rolls (count 3, max_surge 1, max_unavailable `unavailable`)
// over 1.0.0; the slice-target still records 1.0.0 until `retargeted`.
void rolling_cart(FakeWorld& w, int blueprint_count, int unavailable) {
  std::string why;
  REQUIRE(
      w.state.put_blueprint("shop",
                            R"({"id": "shop", "slices": [{"artifact": "org.x:cart:2.0.0", "instances": )" +
                                std::to_string(blueprint_count) +
                                R"(, "update": {"strategy": "rolling", "max_surge": 1, "max_unavailable": )" +
                                std::to_string(unavailable) + "}}]}",
                            &why));
  w.state.recompute_ownership();
  Desired& desired = w.want("org.x:cart:2.0.0", 3, 1, "shop");
  desired.update = UpdatePolicy{true, 1, 1};
}
SliceCommand unload(const std::string& artifact, const NodeId& node) {
  return SliceCommand{node, artifact, SliceState::Unload, SliceState::Active, false, UnloadWhy::Other};
}
}  // namespace

TEST_CASE("rolling facts: in progress while live entries of another version remain") {
  FakeWorld w({"n1", "n2", "n3"});
  rolling_cart(w, 3, 1);
  CHECK(rolls(w.state, "org.x:cart"));
  CHECK_FALSE(rolls(w.state, "org.x:other"));
  CHECK_FALSE(in_progress(w.facts, "org.x:cart"));
  w.put("org.x:cart:2.0.0", "n1", SliceState::Active);
  w.put("org.x:cart:1.0.0", "n2", SliceState::Failed);  // not live
  CHECK_FALSE(in_progress(w.facts, "org.x:cart"));
  w.put("org.x:cart:1.0.0", "n3", SliceState::Active);
  w.put("org.x:cart:1.0.0", "n9", SliceState::Active);  // out of the view
  CHECK(in_progress(w.facts, "org.x:cart"));
  CHECK(active_over_versions(w.facts, "org.x:cart") == 2);
  w.state.desired.at("org.x:cart").update.rolling = false;
  CHECK_FALSE(in_progress(w.facts, "org.x:cart"));
}

TEST_CASE("rolling floor: the larger count and the smaller max_unavailable of target and blueprint") {
  FakeWorld w;
  rolling_cart(w, 3, 1);
  const Desired& desired = w.state.desired.at("org.x:cart");
  CHECK(active_floor(w.facts, desired, "org.x:cart") == 2);  // 3 - 1
  FakeWorld bigger;
  rolling_cart(bigger, 5, 0);  // a blueprint put since: 5 instances, max_unavailable 0
  bigger.positions["blueprints/shop"] = 9;
  bigger.positions["slice-target/org.x:cart"] = 8;
  CHECK(active_floor(bigger.facts, bigger.state.desired.at("org.x:cart"), "org.x:cart") == 5);
  // A slice-target put after the blueprint wins, floor included.
  bigger.positions["slice-target/org.x:cart"] = 10;
  CHECK(active_floor(bigger.facts, bigger.state.desired.at("org.x:cart"), "org.x:cart") == 2);
}

TEST_CASE("rolling input: old entries (ACTIVE only when settled in the view), new live, the mutation") {
  FakeWorld w({"n1", "n2", "n3"});
  rolling_cart(w, 3, 1);
  w.put("org.x:cart:2.0.0", "n1", SliceState::Loading);
  w.put("org.x:cart:1.0.0", "n2", SliceState::Active);
  w.put("org.x:cart:1.0.0", "n3", SliceState::Active).intent = SliceState::Unload;  // not live
  w.put("org.x:cart:1.0.0", "n9", SliceState::Active);                              // out of the view
  const Desired& desired = w.state.desired.at("org.x:cart");
  auto input = input_for(w.facts, "org.x:cart", desired);
  CHECK(input.desired == 3);
  CHECK(input.max_surge == 1);
  CHECK(input.max_unavailable == 1);
  CHECK(input.new_live == 1);
  CHECK(input.active == 1);
  REQUIRE(input.old.size() == 2);
  CHECK(input.old[0].node == "n2");
  CHECK(input.old[0].active);
  CHECK(input.old[1].node == "n9");
  CHECK_FALSE(input.old[1].active);
  CHECK_FALSE(input.ignore_max_unavailable);
  w.config.mutations.insert(mutation::kRollingIgnoresMaxUnavailable);
  CHECK(input_for(w.facts, "org.x:cart", desired).ignore_max_unavailable);
}

TEST_CASE("version routing: written with a version change while old entries exist, healed, removed") {
  FakeWorld w({"n1", "n2"});
  rolling_cart(w, 3, 1);
  w.state.targets["org.x:cart"] = SliceTarget{"1.0.0", 3, 1, "shop", false};
  const SliceTarget to2{"2.0.0", 3, 1, "shop", false};
  CHECK_FALSE(routing_for_target(w.facts, "org.x:cart", to2, std::nullopt));  // no old entry
  w.put("org.x:cart:1.0.0", "n1", SliceState::Active);
  CHECK(routing_for_target(w.facts, "org.x:cart", to2, std::nullopt) == VersionRouting{"1.0.0", "2.0.0"});
  CHECK_FALSE(routing_for_target(w.facts, "org.x:cart", to2, VersionRouting{"1.0.0", "2.0.0"}));
  // A retarget mid-update: the version being rolled out becomes the old one.
  CHECK(routing_for_target(w.facts, "org.x:cart", to2, VersionRouting{"1.0.0", "1.5.0"}) ==
        VersionRouting{"1.5.0", "2.0.0"});

  using Action = RoutingSync::Action;
  auto sync = sync_routing(w.facts, "org.x:cart", std::nullopt);  // missing: rewritten
  CHECK(sync.action == Action::Put);
  CHECK(sync.routing == VersionRouting{"1.0.0", "2.0.0"});
  const auto stored = encode_version_routing(VersionRouting{"1.0.0", "2.0.0"});
  CHECK(sync_routing(w.facts, "org.x:cart", stored).action == Action::None);
  w.table.entries.erase("org.x:cart:1.0.0");  // no old entry left: the update is over
  CHECK(sync_routing(w.facts, "org.x:cart", stored).action == Action::Remove);
  CHECK(sync_routing(w.facts, "org.x:cart", std::nullopt).action == Action::None);
  CHECK(sync_routing(w.facts, "org.x:gone", stored).action == Action::Remove);  // no owner
}

TEST_CASE("rolling re-check: an UNLOAD of an ACTIVE entry keeps ACTIVE over both versions at the floor") {
  FakeWorld w({"n1", "n2", "n3"});
  rolling_cart(w, 3, 1);  // floor 2
  w.put("org.x:cart:2.0.0", "n1", SliceState::Active);
  w.put("org.x:cart:1.0.0", "n2", SliceState::Active).intent = SliceState::Unload;  // this UNLOAD
  w.put("org.x:cart:1.0.0", "n3", SliceState::Active);
  const auto active = encode_slice_value(SliceValue{SliceState::Active, std::nullopt, false});
  CHECK(unload_allowed(w.facts, unload("org.x:cart:1.0.0", "n2"), true, active));  // 2 left
  w.table.entries["org.x:cart:1.0.0"]["n3"].intent = SliceState::Unload;           // 1 left
  CHECK_FALSE(unload_allowed(w.facts, unload("org.x:cart:1.0.0", "n2"), true, active));
  CHECK(unload_allowed(w.facts, unload("org.x:cart:1.0.0", "n2"), false, active));  // no routing key
  const auto loading = encode_slice_value(SliceValue{SliceState::Loading, std::nullopt, false});
  CHECK(unload_allowed(w.facts, unload("org.x:cart:1.0.0", "n2"), true, loading));  // not ACTIVE
  CHECK(unload_allowed(w.facts, unload("org.x:cart:1.0.0", "n9"), true, active));   // out of the view
  w.config.mutations.insert(mutation::kRollingIgnoresMaxUnavailable);
  CHECK(unload_allowed(w.facts, unload("org.x:cart:1.0.0", "n2"), true, active));
}

namespace {
// sync_routing as it was before issue 14's seventh pass (no early-out when
// nothing is stored and the slice does not roll): the reference for the
// early-out.
RoutingSync sync_routing_ref(const aether::engine::CdmFacts& facts, const std::string& base,
                             const std::optional<std::string>& stored) {
  const auto applied = stored ? parse_version_routing(*stored) : std::nullopt;
  const auto remove = stored ? RoutingSync{RoutingSync::Action::Remove, {}} : RoutingSync{};
  auto desired = facts.state.desired.find(base);
  if (desired == facts.state.desired.end()) return remove;
  auto version_of = [](const std::string& artifact) { return artifact.substr(artifact.rfind(':') + 1); };
  const std::string version = version_of(desired->second.artifact);
  std::optional<std::string> other;
  for (const auto& [artifact, nodes] : facts.table.entries) {
    if (base_of(artifact) == base && artifact != desired->second.artifact && !nodes.empty())
      other = version_of(artifact);
  }
  if (!other) return remove;
  // Not rolling, or the applied routing already rolls to the desired version.
  if (!desired->second.update.rolling || (applied && applied->to == version)) return {};
  return RoutingSync{RoutingSync::Action::Put, VersionRouting{applied ? applied->to : *other, version}};
}
}  // namespace

TEST_CASE("version routing: sync_routing answers as the walk without its early-out (random worlds)") {
  // Bases that share prefixes ("org.x:cart", "org.x:cartx"), one without a
  // ':' (its artifacts are the base itself), desired or not, rolling or not,
  // entries of several versions (some rows empty), stored routing missing,
  // valid or unparseable.
  std::mt19937_64 rng(20261203);
  const std::vector<std::string> bases = {"org.x:cart", "org.x:cartx", "org.x:car", "plain"};
  const std::vector<std::string> versions = {"1.0.0", "1.5.0", "2.0.0"};
  const std::vector<std::optional<std::string>> stored = {
      std::nullopt, encode_version_routing({"1.0.0", "2.0.0"}), encode_version_routing({"1.0.0", "1.5.0"}),
      std::string("not json")};
  int puts = 0;
  int skipped = 0;
  for (int round = 0; round < 3000; ++round) {
    FakeWorld w({"n1", "n2"});
    for (const auto& base : bases) {
      if (rng() % 3 != 0) {
        Desired& desired = w.want(base + ":" + versions[rng() % versions.size()], 2);
        desired.update.rolling = rng() % 2 == 0;
      }
      for (const auto& version : versions) {
        if (rng() % 2) continue;
        auto& row = w.table.entries[base + ":" + version];
        if (rng() % 4) row["n1"].observed = SliceValue{SliceState::Active, std::nullopt, false};
      }
      if (rng() % 8 == 0) w.table.entries[base];  // an artifact that is the base itself
    }
    for (const auto& base : bases) {
      for (const auto& value : stored) {
        INFO("round " << round << " base " << base);
        const auto got = sync_routing(w.facts, base, value);
        const auto expected = sync_routing_ref(w.facts, base, value);
        REQUIRE(got.action == expected.action);
        REQUIRE(got.routing == expected.routing);
        puts += got.action == RoutingSync::Action::Put;
        auto desired = w.state.desired.find(base);
        skipped += !value && desired != w.state.desired.end() && !desired->second.update.rolling;
      }
    }
  }
  CHECK(puts > 1000);
  CHECK(skipped > 1000);
}
