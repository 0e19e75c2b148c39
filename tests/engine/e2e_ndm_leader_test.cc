// End-to-end: the NodeDeploymentManager on its own keys, leader election,
// failover and aggressive rebalancing.
#include "tests/engine/e2e_test_util.h"

using namespace aether::engine;
using namespace aether::engine::testing;

TEST_CASE("e2e: the NDM acts only on its own node's keys") {
  TestWorld world(3);
  world.run_for(seconds(2));
  world.put(slice_key("node-3", kCart), encode_slice_value({SliceState::Load, std::nullopt, false}));
  world.run_for(seconds(10));
  for (const auto& op : world.recorder.slice_ops) CHECK(op.node == "node-3");
  std::set<NodeId> ndm_writers;
  for (const auto& submit : world.recorder.submits) {
    for (const auto& command : submit.commands) {
      if (submit.writer == "ndm" && command.key == slice_key("node-3", kCart))
        ndm_writers.insert(submit.node);
    }
  }
  CHECK(ndm_writers == std::set<NodeId>{"node-3"});
  require_safe(world);
}

TEST_CASE("e2e: the NDM writes LOADING before LOADED") {
  TestWorld world(3);
  world.put_blueprint(one_slice_blueprint("shop", kCart, 3));
  require_converged(world, seconds(60));
  for (const auto& [node, value] : world.entries(kCart)) {
    const auto& history = world.recorder.history.at(slice_key(node, kCart));
    auto loading = std::find_if(history.begin(), history.end(), [](const std::string& v) {
      return parse_slice_value(v)->state == SliceState::Loading;
    });
    auto loaded = std::find_if(history.begin(), history.end(), [](const std::string& v) {
      return parse_slice_value(v)->state == SliceState::Loaded;
    });
    REQUIRE(loading != history.end());
    REQUIRE(loaded != history.end());
    CHECK(loading < loaded);
  }
  require_safe(world);
}

TEST_CASE("e2e: the NDM processes a LOAD committed while it was down") {
  TestWorld world(3, [](WorldOptions& o) {
    o.tweak = [](aether::sim::SimConfig& c) { c.failure_detection_ns = seconds(5); };
  });
  world.put_blueprint(one_slice_blueprint("shop", kCart, 2));
  require_converged(world, seconds(60));
  REQUIRE(world.entries(kCart).count("node-3") == 0);
  world.cluster->crash("node-3");
  REQUIRE(world.scale(kCartBase, 3));  // the only place left is node-3, still in the leader's view
  REQUIRE(world.run_until([&] { return world.entries(kCart).count("node-3") == 1; }, seconds(3)));
  CHECK(world.entries(kCart).at("node-3").state == SliceState::Load);
  world.cluster->restart("node-3");
  require_converged(world, seconds(60));
  CHECK(world.count_in(kCart, SliceState::Active) == 3);
  CHECK(history_has(world, slice_key("node-3", kCart), SliceState::Loading));
  require_safe(world);
}

TEST_CASE("e2e: after a restart the NDM reports an ACTIVE slice it no longer holds as lost") {
  TestWorld world(3, [](WorldOptions& o) {
    o.tweak = [](aether::sim::SimConfig& c) { c.failure_detection_ns = seconds(5); };
  });
  world.put_blueprint(one_slice_blueprint("shop", kCart, 3));
  require_converged(world, seconds(60));
  world.cluster->crash("node-3");
  world.run_for(millis(500));
  world.cluster->restart("node-3");  // back before anyone noticed it was gone
  REQUIRE(world.run_until(
      [&] {
        return history_has(world, slice_key("node-3", kCart), SliceState::Failed, std::string(kLostReason));
      },
      seconds(30)));
  require_converged(world, seconds(90));
  CHECK(world.count_in(kCart, SliceState::Active) == 3);
  require_safe(world);
}

TEST_CASE("e2e: consensus elects the smallest configured node in view") {
  TestWorld world(3);
  world.cluster->crash("node-1");
  world.run_for(seconds(10));
  CHECK(world.leader() == std::string("node-2"));
  CHECK(world.cluster->leader_belief("node-3") == std::string("node-2"));
  require_safe(world);
}

TEST_CASE("e2e: consensus keeps a committed leader outside the view until leader_timeout") {
  TestWorld world(3, [](WorldOptions& o) { o.config.leader_timeout_ns = seconds(20); });
  world.run_for(seconds(2));
  REQUIRE(world.cluster->leader_belief("node-3") == std::string("node-1"));
  world.cluster->partition({{"node-1", "node-2"}, {"node-2", "node-3"}});
  world.run_for(seconds(5));
  auto view = world.cluster->view("node-3");
  CHECK(std::find(view.begin(), view.end(), "node-1") == view.end());
  CHECK(world.cluster->has_quorum("node-3"));
  CHECK(world.cluster->leader_belief("node-3") == std::string("node-1"));
  world.run_for(seconds(20));
  CHECK(world.cluster->leader_belief("node-3") == std::string("node-2"));
  CHECK(world.cluster->leader_belief("node-1") == std::string("node-2"));
  require_safe(world);
}

TEST_CASE("e2e: local mode elects the first node of the view") {
  TestWorld world(3, [](WorldOptions& o) { o.config.leader_election = LeaderElection::Local; });
  world.run_for(seconds(2));
  CHECK(world.leader() == std::string("node-1"));
  REQUIRE(world.recorder.activations.size() == 1);
  CHECK_FALSE(world.recorder.activations[0].tag);
  world.cluster->crash("node-1");
  world.run_for(seconds(5));
  CHECK(world.leader() == std::string("node-2"));
  require_safe(world);
}

TEST_CASE("e2e: after the leader crashes a new leader rebuilds and the cluster converges") {
  TestWorld world(5);
  world.put_blueprint(R"({"id": "shop", "slices": [
    {"artifact": "org.example:web:1.0.0", "instances": 3, "depends_on": ["org.example:db:1.0.0"]},
    {"artifact": "org.example:db:1.0.0", "instances": 2}]})");
  require_converged(world, seconds(60));
  REQUIRE(world.scale("org.example:web", 4));
  require_converged(world, seconds(60));
  world.cluster->crash("node-1");
  require_converged(world, seconds(90));
  CHECK(world.leader() == std::string("node-2"));
  CHECK(world.count_in(kWeb, SliceState::Active) == 4);  // the scale survived failover
  world.cluster->restart("node-1");
  require_converged(world, seconds(90));
  CHECK(world.leader() == std::string("node-2"));  // a smaller id never pre-empts
  CHECK(world.recorder.counter("leader-activations") == 2);
  require_safe(world);
}

TEST_CASE("e2e: aggressive mode rebalances after a join without dropping below min_available") {
  TestWorld world(3, [](WorldOptions& o) {
    o.config.reconciliation = ReconciliationStrategy::Aggressive;
    o.config.reconciliation_interval_ns = seconds(5);
  });
  world.put_blueprint(R"({"id": "shop", "slices": [
    {"artifact": "org.example:cart:1.0.0", "instances": 3},
    {"artifact": "org.example:web:1.0.0", "instances": 3}]})");
  require_converged(world, seconds(60));
  world.cluster->add_node();
  world.cluster->add_node();
  int lowest_active = 3;
  auto balanced = [&] {
    for (const auto& artifact : {kCart, kWeb})
      lowest_active = std::min(lowest_active, world.count_in(artifact, SliceState::Active));
    if (!world.converged()) return false;
    std::map<NodeId, int> load;
    for (const auto& node : world.eligible_nodes()) load[node] = 0;
    for (const auto& artifact : {kCart, kWeb}) {
      for (const auto& [node, value] : world.entries(artifact)) ++load[node];
    }
    if (load.size() != 5) return false;
    int lo = 100, hi = 0;
    for (const auto& [node, n] : load) {
      lo = std::min(lo, n);
      hi = std::max(hi, n);
    }
    return hi - lo <= 1;
  };
  REQUIRE(world.run_until(balanced, seconds(180)));
  CHECK(lowest_active >= 2);
  CHECK(world.recorder.counter("moves") >= 2);
  require_safe(world);
}
