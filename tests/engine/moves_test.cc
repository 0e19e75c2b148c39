// Moves in flight (engine/moves.h) and the slice-key index
// (engine/slice_key_index.h) over fake inputs. No simulator.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <random>
#include <set>

#include "engine/moves.h"
#include "engine/slice_key_index.h"
#include "tests/engine/cdm_fakes.h"

using namespace aether::engine;
using aether::engine::test::FakeWorld;

TEST_CASE("moves: those through a node; those over once either entry is no longer live, or starved") {
  FakeWorld w;
  MovesInFlight moves{{"org.x:a:1.0.0", {"n1", "n2"}}, {"org.x:b:1.0.0", {"n2", "n3"}}};
  CHECK(moves_through(moves, "n2") == std::vector<std::string>{"org.x:a:1.0.0", "org.x:b:1.0.0"});
  CHECK(moves_through(moves, "n1") == std::vector<std::string>{"org.x:a:1.0.0"});
  CHECK(moves_through(moves, "n9").empty());
  w.put("org.x:a:1.0.0", "n1", SliceState::Active).leaving = true;
  w.put("org.x:a:1.0.0", "n2", SliceState::Loading);
  w.put("org.x:b:1.0.0", "n2", SliceState::Active);
  w.put("org.x:b:1.0.0", "n3", SliceState::Failed);
  CHECK(moves_over(moves, w.facts) == std::vector<std::string>{"org.x:b:1.0.0"});
  // A starved artifact (a dependency not ACTIVE): its move could never end.
  w.want("org.x:a:1.0.0", 1).depends_on = {"org.x:db:1.0.0"};
  CHECK(moves_over(moves, w.facts) == std::vector<std::string>{"org.x:a:1.0.0", "org.x:b:1.0.0"});
  w.put("org.x:db:1.0.0", "n3", SliceState::Active);
  CHECK(moves_over(moves, w.facts) == std::vector<std::string>{"org.x:b:1.0.0"});
}

TEST_CASE("moves: the break step keeps ACTIVE at min_available, evicts from a draining source") {
  FakeWorld w({"n1", "n2", "n3"});
  w.want("org.x:a:1.0.0", 2, 2);
  w.put("org.x:a:1.0.0", "n1", SliceState::Active);  // the source
  w.put("org.x:a:1.0.0", "n2", SliceState::Active);  // the target, ACTIVE now
  w.put("org.x:a:1.0.0", "n3", SliceState::Active);
  auto step = break_step(w.facts, "org.x:a:1.0.0", "n1");
  CHECK(step.action == BreakStep::Action::Unload);
  CHECK(step.why == UnloadWhy::ScaleDown);
  w.topology.nodes = {"n1", "n2"};  // n3 lost during the move: 2 ACTIVE, floor 2
  CHECK(break_step(w.facts, "org.x:a:1.0.0", "n1").action == BreakStep::Action::KeepSource);
  w.lifecycles.values["n1"] = "DRAINING";  // a drained source does not count: an eviction
  step = break_step(w.facts, "org.x:a:1.0.0", "n1");
  CHECK(step.action == BreakStep::Action::Unload);
  CHECK(step.why == UnloadWhy::Eviction);
  w.table.entries["org.x:a:1.0.0"]["n1"].observed->state = SliceState::Failed;
  CHECK(break_step(w.facts, "org.x:a:1.0.0", "n1").action == BreakStep::Action::None);
}

TEST_CASE("slice-key index: follows puts and removes, counts keys per node") {
  SliceKeyIndex index;
  auto put = [&](const std::string& node, const std::string& artifact, const std::string& value) {
    index.track(KvNotification{KvOp::Put, slice_key(node, artifact), value});
  };
  const auto active = encode_slice_value(SliceValue{SliceState::Active, std::nullopt, false});
  put("n1", "org.x:a:1.0.0", active);
  put("n1", "org.x:b:1.0.0", "garbage");  // kept, value unparseable
  put("n2", "org.x:a:1.0.0", active);
  put("n2", "org.x:a:1.0.0", active);                                    // a rewrite is not a new key
  index.track(KvNotification{KvOp::Put, "slice-target/org.x:a", "{}"});  // not a slice key
  CHECK(index.keys().size() == 3);
  CHECK(index.nodes().at("n1") == 2);
  CHECK(index.nodes().at("n2") == 1);
  CHECK_FALSE(index.keys().at(slice_key("n1", "org.x:b:1.0.0")).value);
  index.track(KvNotification{KvOp::Remove, slice_key("n2", "org.x:a:1.0.0"), ""});
  CHECK(index.nodes().count("n2") == 0);
  index.track(KvNotification{KvOp::Remove, slice_key("n9", "org.x:a:1.0.0"), ""});  // unknown: ignored
  CHECK(index.keys().size() == 2);
}

TEST_CASE("slice-key index: nodes out of the view, and keys the table lost") {
  FakeWorld w({"n1", "n2"});
  SliceKeyIndex index;
  const auto active = encode_slice_value(SliceValue{SliceState::Active, std::nullopt, false});
  index.track(KvNotification{KvOp::Put, slice_key("n1", "org.x:a:1.0.0"), active});
  index.track(KvNotification{KvOp::Put, slice_key("n3", "org.x:a:1.0.0"), active});
  index.track(KvNotification{KvOp::Put, slice_key("n2", "org.x:b:1.0.0"), "garbage"});
  index.track(KvNotification{KvOp::Put, slice_key("n2", "org.x:c:1.0.0"), active});
  w.lifecycles.values["n4"] = "ON_DUTY";
  CHECK(absent_nodes(index, nullptr, w.topology.nodes) == std::set<NodeId>{"n3"});
  CHECK(absent_nodes(index, &w.lifecycles, w.topology.nodes) == std::set<NodeId>{"n3", "n4"});
  w.put("org.x:a:1.0.0", "n1", SliceState::Active);
  const auto none = [](const std::string&) { return false; };
  auto unknown = unknown_keys(index, w.table, none);
  REQUIRE(unknown.size() == 2);  // n2's c and n3's a; n2's b does not parse
  CHECK(unknown[0]->slice.node == "n2");
  CHECK(unknown[1]->slice.node == "n3");
  const auto pending_n3 = [](const std::string& key) { return key == slice_key("n3", "org.x:a:1.0.0"); };
  CHECK(unknown_keys(index, w.table, pending_n3).size() == 1);
}

TEST_CASE("slice-key index: keys the table lost, as the plain scan in key order finds them (random)") {
  // The plain scan walks the index in key order and looks each key up in the
  // table; unknown_keys walks the index by artifact in step with the table.
  // Node names where key order is not node order ("a-b" sorts before "a" in
  // "slices/a-b/..." against "slices/a/...").
  const std::vector<NodeId> nodes{"a", "a-b", "ab", "b", "n1", "n1-2", "n10"};
  const std::vector<std::string> artifacts{"org.x:a:1.0.0", "org.x:a:1.0.1", "org.x:b:1.0.0",
                                           "org.y:a:2.0.0"};
  const auto active = encode_slice_value(SliceValue{SliceState::Active, std::nullopt, false});
  std::mt19937_64 rng(20261203);
  auto below = [&](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
  std::size_t found = 0;
  for (int round = 0; round < 300; ++round) {
    SliceKeyIndex index;
    FakeWorld w;
    std::set<std::string> pending;
    for (int step = 0; step < 40; ++step) {
      const auto key = slice_key(nodes[below(nodes.size())], artifacts[below(artifacts.size())]);
      const auto op = below(10);
      if (op < 6) {
        index.track(KvNotification{KvOp::Put, key, op == 0 ? "garbage" : active});
      } else if (op < 8) {
        index.track(KvNotification{KvOp::Remove, key, ""});
      } else {
        pending.insert(key);
      }
      if (below(3) == 0)
        w.put(artifacts[below(artifacts.size())], nodes[below(nodes.size())], SliceState::Active);
    }
    std::size_t by_artifact = 0;
    for (const auto& [artifact, holders] : index.by_artifact()) by_artifact += holders.size();
    REQUIRE(by_artifact == index.keys().size());
    // The lists per artifact: the indexed keys' nodes, sorted, no duplicate.
    std::map<std::string, std::vector<NodeId>, std::less<>> holders;
    for (const auto& [key, indexed] : index.keys())
      holders[indexed.slice.artifact].push_back(indexed.slice.node);
    for (auto& [artifact, list] : holders) std::sort(list.begin(), list.end());
    REQUIRE(index.by_artifact() == holders);
    const auto is_pending = [&](const std::string& key) { return pending.count(key) > 0; };
    std::vector<const SliceKeyIndex::Key*> expected;
    for (const auto& [key, indexed] : index.keys()) {
      if (!indexed.value || is_pending(key)) continue;
      auto row = w.table.entries.find(indexed.slice.artifact);
      if (row != w.table.entries.end() && row->second.count(indexed.slice.node)) continue;
      expected.push_back(&indexed);
    }
    INFO("round " << round);
    REQUIRE(unknown_keys(index, w.table, is_pending) == expected);
    found += expected.size();
  }
  CHECK(found > 300);
}

TEST_CASE("absent nodes: the walk in step with the view finds what a search per node finds (random)") {
  // Node names where string order is not numeric order; views, keys and
  // lifecycle values over overlapping random node sets.
  std::mt19937_64 rng(20261203);
  auto node = [&] { return "n" + std::to_string(rng() % 60) + (rng() % 5 == 0 ? "-x" : ""); };
  std::size_t found = 0;
  for (int round = 0; round < 500; ++round) {
    FakeWorld w(std::vector<NodeId>{});
    std::set<NodeId> view;
    for (int i = 0; i < static_cast<int>(rng() % 50); ++i) view.insert(node());
    w.topology.nodes.assign(view.begin(), view.end());
    SliceKeyIndex index;
    const auto active = encode_slice_value(SliceValue{SliceState::Active, std::nullopt, false});
    for (int i = 0; i < static_cast<int>(rng() % 60); ++i)
      index.track(KvNotification{KvOp::Put, slice_key(node(), "org.x:a:1.0.0"), active});
    for (int i = 0; i < static_cast<int>(rng() % 30); ++i) w.lifecycles.values[node()] = "ON_DUTY";
    for (const bool with_lifecycles : {false, true}) {
      std::set<NodeId> expected;
      const auto& v = w.topology.nodes;
      for (const auto& [n, keys] : index.nodes())
        if (!std::binary_search(v.begin(), v.end(), n)) expected.insert(n);
      if (with_lifecycles) {
        for (const auto& [n, value] : w.lifecycles.values)
          if (!std::binary_search(v.begin(), v.end(), n)) expected.insert(n);
      }
      INFO("round " << round);
      REQUIRE(absent_nodes(index, with_lifecycles ? &w.lifecycles : nullptr, v) == expected);
      found += expected.size();
    }
  }
  CHECK(found > 1000);
}
