// The CDM's shared queries (engine/cdm_facts.h) over fake inputs: which nodes
// are eligible, which entries count for scale, ACTIVE in the view, and when
// dependencies are ready (engine-semantics.md §4, §8.2). No simulator.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <random>

#include "engine/mutations.h"
#include "engine/sorted_merge.h"
#include "tests/engine/cdm_fakes.h"

using namespace aether::engine;
using aether::engine::test::FakeWorld;

TEST_CASE("cdm facts: eligible nodes are in the view and ON_DUTY") {
  FakeWorld w;
  w.lifecycles.values["n2"] = "DRAINING";
  w.lifecycles.values.erase("n3");        // not registered yet
  w.lifecycles.values["n9"] = "ON_DUTY";  // out of the view
  CHECK(w.facts.eligible_nodes() == std::vector<NodeId>{"n1"});
  CHECK(w.facts.eligible("n1"));
  CHECK_FALSE(w.facts.eligible("n2"));
  CHECK_FALSE(w.facts.eligible("n9"));
  CHECK(w.facts.on_duty("n9"));
  CHECK(w.lifecycles.drained("n2"));
  CHECK(w.lifecycles.any_drained());
  w.lifecycles.values["n2"] = "DECOMMISSIONED";
  CHECK(w.lifecycles.drained("n2"));
  w.lifecycles.values["n2"] = "ON_DUTY";
  CHECK_FALSE(w.lifecycles.any_drained());
  // The mutation point makes every node in the view eligible.
  w.config.mutations.insert(mutation::kIgnoreEligibility);
  CHECK(w.facts.eligible_nodes() == std::vector<NodeId>{"n1", "n2", "n3"});
}

TEST_CASE("cdm facts: the drained nodes remembered between node-lifecycle writes follow every write") {
  FakeWorld w({"n1", "n2", "n3"});
  CHECK_FALSE(w.lifecycles.any_drained());  // remembered: none drained
  w.lifecycles.values["n3"] = "DECOMMISSIONED";
  w.lifecycles.values["n1"] = "DRAINING";
  CHECK(w.lifecycles.values.drained() == std::vector<NodeId>{"n1", "n3"});
  CHECK(w.lifecycles.drained("n1"));
  CHECK_FALSE(w.lifecycles.drained("n2"));
  w.lifecycles.values.erase("n1");
  CHECK_FALSE(w.lifecycles.drained("n1"));
  w.lifecycles.values["n3"] = "not a lifecycle";  // unparseable: not drained
  CHECK_FALSE(w.lifecycles.any_drained());
  w.lifecycles.values["n2"] = "DRAINING";
  CHECK(w.lifecycles.any_drained());
  CHECK(w.lifecycles.values.drained() == std::vector<NodeId>{"n2"});
}

TEST_CASE("cdm facts: live count leaves out drained, out-of-view and leaving entries") {
  FakeWorld w({"n1", "n2", "n3"});
  w.put("g:a:1", "n1", SliceState::Active);
  w.put("g:a:1", "n2", SliceState::Loading);
  w.put("g:a:1", "n3", SliceState::Active).leaving = true;  // a move's source
  w.put("g:a:1", "n4", SliceState::Active);                 // out of the view
  w.put("g:a:1", "n5", SliceState::Failed);
  CHECK(w.facts.live_count("g:a:1") == 2);
  w.lifecycles.values["n2"] = "DRAINING";
  CHECK(w.facts.live_count("g:a:1") == 1);
  CHECK(w.facts.live_count("g:other:1") == 0);
  w.config.mutations.insert(mutation::kScaleCountsOutOfView);
  CHECK(w.facts.live_count("g:a:1") == 3);  // n1, n2 and n4 (the leaving source still not)
}

TEST_CASE("cdm facts: ACTIVE counted for a move's break step and ACTIVE in the view") {
  FakeWorld w({"n1", "n2", "n3"});
  w.put("g:a:1", "n1", SliceState::Active);
  w.put("g:a:1", "n2", SliceState::Active);
  w.put("g:a:1", "n3", SliceState::Active).intent = SliceState::Unload;  // not settled
  w.put("g:a:1", "n4", SliceState::Active);                              // out of the view
  CHECK(w.facts.active_in_view("g:a:1") == 2);
  CHECK(w.facts.active_counted("g:a:1") == 2);
  w.lifecycles.values["n2"] = "DRAINING";
  CHECK(w.facts.active_in_view("g:a:1") == 2);
  CHECK(w.facts.active_counted("g:a:1") == 1);
}

TEST_CASE("cdm facts: a dependency is ready with a settled ACTIVE entry on a node in the view") {
  FakeWorld w({"n1", "n2"});
  const std::vector<std::string> deps{"g:db:1"};
  CHECK(w.facts.dependencies_ready({}));
  CHECK_FALSE(w.facts.dependencies_ready(deps));
  w.put("g:db:1", "n7", SliceState::Active);  // out of the view
  CHECK_FALSE(w.facts.dependencies_ready(deps));
  w.put("g:db:1", "n1", SliceState::Loaded);
  CHECK_FALSE(w.facts.dependencies_ready(deps));
  w.config.mutations.insert(mutation::kDependencyOutOfView);
  CHECK(w.facts.dependencies_ready(deps));
  w.config.mutations.clear();
  w.put("g:db:1", "n1", SliceState::Active);
  CHECK(w.facts.dependencies_ready(deps));
  CHECK_FALSE(w.facts.dependencies_ready({"g:db:1", "g:cache:1"}));
}

TEST_CASE("cdm facts: a blueprint is fully ACTIVE at min(count, eligible) ACTIVE entries") {
  FakeWorld w({"n1", "n2"});
  std::string why;
  REQUIRE(w.state.put_blueprint(
      "bp", R"({"id": "bp", "slices": [{"artifact": "org.x:a:1.0.0", "instances": 3}]})", &why));
  w.state.recompute_ownership();
  CHECK(w.facts.fully_active("unknown"));
  w.want("org.x:a:1.0.0", 3);
  CHECK_FALSE(w.facts.fully_active("bp"));
  w.put("org.x:a:1.0.0", "n1", SliceState::Active);
  CHECK_FALSE(w.facts.fully_active("bp"));
  w.put("org.x:a:1.0.0", "n2", SliceState::Active);
  CHECK(w.facts.fully_active("bp"));  // min(3, 2 eligible)
}

TEST_CASE("cdm facts: a slice-target is newer than its owner blueprint by decided position") {
  FakeWorld w;
  CHECK(w.facts.target_is_newer("org.x:a", "bp"));  // positions unknown: the target's counts stand
  w.positions["blueprints/bp"] = 10;
  w.positions["slice-target/org.x:a"] = 9;
  CHECK_FALSE(w.facts.target_is_newer("org.x:a", "bp"));
  w.positions["slice-target/org.x:a"] = 10;  // one batch wrote both
  CHECK(w.facts.target_is_newer("org.x:a", "bp"));
  // The echo of this term's own write, derived at position 8, stands for that
  // position, not for the position it was applied at.
  w.own_targets.latest_applied = 8;
  w.own_targets.wrote("org.x:a", "value");
  w.own_targets.applied("org.x:a", "value", false);
  CHECK(w.own_targets.written.empty());
  CHECK(w.own_targets.intent.at("org.x:a") == 8);
  CHECK_FALSE(w.facts.target_is_newer("org.x:a", "bp"));
  // A client's value (not the own write) is its own intent.
  w.own_targets.applied("org.x:a", "client", false);
  CHECK(w.own_targets.intent.empty());
  CHECK(w.facts.target_is_newer("org.x:a", "bp"));
  // The mutation point: the echo counts as a fresh intent.
  w.own_targets.wrote("org.x:a", "value");
  w.own_targets.applied("org.x:a", "value", true);
  CHECK(w.own_targets.intent.empty());
  w.positions["slice-target/org.x:a"] = 9;
  w.config.mutations.insert(mutation::kTargetWinsAtActivation);
  CHECK(w.facts.target_is_newer("org.x:a", "bp"));
}

TEST_CASE("sorted merge: walking sorted keys in step answers as a search of the whole range (random)") {
  std::mt19937_64 rng(20261203);
  int hits = 0;
  for (int round = 0; round < 2000; ++round) {
    std::vector<std::string> range;
    std::vector<std::string> keys;
    const auto size = static_cast<int>(rng() % 300);
    for (int i = 0; i < size; ++i) range.push_back("n" + std::to_string(rng() % 500));
    for (int i = 0; i < static_cast<int>(rng() % 40); ++i) keys.push_back("n" + std::to_string(rng() % 520));
    std::sort(range.begin(), range.end());
    range.erase(std::unique(range.begin(), range.end()), range.end());
    std::sort(keys.begin(), keys.end());
    std::map<std::string, int> map;
    for (const auto& key : range) map[key] = static_cast<int>(map.size());
    auto gallop = range.cbegin();
    auto merge = range.cbegin();
    auto in_map = map.cbegin();
    for (const auto& key : keys) {
      const bool expected = std::binary_search(range.begin(), range.end(), key);
      INFO("round " << round << " key " << key);
      REQUIRE(gallop_has(gallop, range.cend(), key) == expected);
      REQUIRE(merge_has(merge, range.cend(), key,
                        [](const std::string& s) -> const std::string& { return s; }) == expected);
      REQUIRE(merge_find(in_map, map, key) == map.find(key));
      hits += expected ? 1 : 0;
    }
  }
  CHECK(hits > 1000);
}
