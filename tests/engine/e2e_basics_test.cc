// End-to-end: the deployment runtime on the real simulated world.
#include <catch2/catch.hpp>

#include "tests/engine/e2e_test_util.h"

using namespace aether::engine;
using namespace aether::engine::testing;

TEST_CASE("e2e: CDMs start Dormant and only the leader's ever writes") {
  TestWorld world(3);
  CHECK(world.active_cdms().empty());
  world.run_for(seconds(10));
  REQUIRE(world.leader() == std::string("node-1"));
  CHECK(world.recorder.submits_by("cdm", std::string("node-2")) == 0);
  CHECK(world.recorder.submits_by("cdm", std::string("node-3")) == 0);
  require_safe(world);
}

TEST_CASE("e2e: the leader's CDM activates tagged with the position of the leader entry") {
  TestWorld world(3);
  world.run_for(seconds(5));
  REQUIRE(world.recorder.activations.size() == 1);
  CHECK(world.recorder.activations[0].node == "node-1");
  REQUIRE(world.recorder.activations[0].tag);
  const auto& batch = world.cluster->decided_batch(*world.recorder.activations[0].tag);
  REQUIRE(batch.commands.size() == 1);
  CHECK(batch.commands[0].key == "leader");
  CHECK(batch.commands[0].value == "node-1");
}

TEST_CASE("e2e: a blueprint's instances become ACTIVE on distinct nodes") {
  TestWorld world(5);
  world.run_for(seconds(2));
  world.put_blueprint(one_slice_blueprint("shop", kCart, 3));
  REQUIRE(world.run_until_converged(seconds(60)));
  CHECK(world.count_in(kCart, SliceState::Active) == 3);
  CHECK(world.entries(kCart).size() == 3);
  require_safe(world);
}

TEST_CASE("e2e: the leader's CDM returns to Dormant when it loses quorum") {
  TestWorld world(3);
  world.run_for(seconds(3));
  REQUIRE(world.leader() == std::string("node-1"));
  world.cluster->isolate("node-1");
  world.run_for(seconds(5));
  auto* runtime = world.cluster->runtime("node-1");
  REQUIRE(runtime);
  CHECK_FALSE(runtime->cdm_active());
  CHECK(world.leader() == std::string("node-2"));
  require_safe(world);
}
