// The floors' mutation points (issue 9 finish): each a schedule on which the
// correct engine keeps the scale-down floor (or finishes a drain) and the
// mutant visibly does not (so none is an equivalent mutant).
#include <algorithm>

#include "engine/mutations.h"
#include "tests/engine/e2e_test_util.h"

using namespace aether::engine;
using namespace aether::engine::testing;

namespace {
using Mutation = std::optional<std::string>;

// cart 2 on 4 nodes; one holder is drained. Whether it is DECOMMISSIONED
// within 90s (its entry must be replaced first: make-before-break).
bool drained_holder_decommissioned(Mutation mutation) {
  TestWorld world(4, with_mutation(mutation));
  world.put_blueprint(one_slice_blueprint("shop", kCart, 2));
  require_converged(world, seconds(60));
  const NodeId holder = world.entries(kCart).begin()->first;
  world.put(node_lifecycle_key(holder), "DRAINING");
  return world.run_until(
      [&] {
        const auto& store = world.cluster->canonical_store();
        auto it = store.find(node_lifecycle_key(holder));
        return it != store.end() && it->second == "DECOMMISSIONED";
      },
      seconds(90));
}

// The fewest ACTIVE cart instances seen while `world` runs for `duration`.
int min_active_over(TestWorld& world, Nanos duration) {
  int least = world.count_in(kCart, SliceState::Active);
  world.run_until(
      [&] {
        least = std::min(least, world.count_in(kCart, SliceState::Active));
        return false;
      },
      duration);
  return least;
}

// cart 4 (min_available 3); the CDM's next submit is lost, so a scale-down
// to 3 waits behind it while node-2 restarts and loses its instance.
int min_active_after_lost_instance(Mutation mutation) {
  TestWorld world(5, with_mutation(mutation));
  world.put_blueprint(R"({"id": "shop", "slices": [
    {"artifact": "org.example:cart:1.0.0", "instances": 4, "min_available": 3}]})");
  require_converged(world, seconds(60));
  for (const auto& node : world.cluster->configured_nodes()) world.cluster->lose_next_submit(node, "cdm");
  world.put_blueprint(one_slice_blueprint("other", kWeb, 1));
  world.run_for(millis(100));
  REQUIRE(world.scale(kCartBase, 3));
  world.run_for(millis(100));
  world.cluster->crash("node-2");
  world.run_for(millis(100));
  world.cluster->restart("node-2");
  world.run_for(seconds(1));
  return min_active_over(world, seconds(40));
}

// shop (cart 3, min_available 2) removed and put back at once, five times,
// each while the CDM writes another blueprint's slice-target: the cart
// UNLOADs that commit. A removal the CDM applied before the put-back may
// rightly go out; one still queued when the put-back is applied may not.
int cart_unloads_over_put_backs(Mutation mutation, std::uint64_t seed) {
  TestWorld world(4, with_mutation(mutation, [seed](WorldOptions& o) { o.seed = seed; }));
  const std::string shop = R"({"id": "shop", "slices": [
    {"artifact": "org.example:cart:1.0.0", "instances": 3, "min_available": 2}]})";
  world.put_blueprint(shop);
  require_converged(world, seconds(60));
  for (int round = 0; round < 5; ++round) {
    world.put_blueprint(one_slice_blueprint("other" + std::to_string(round),
                                            "org.example:web" + std::to_string(round) + ":1.0.0", 1));
    world.remove_blueprint("shop");
    world.put_blueprint(shop);
    world.run_for(seconds(15));
  }
  int unloads = 0;
  for (const auto& [key, values] : world.recorder.history) {
    if (key.find(kCart) == std::string::npos || key.rfind("slices/", 0) != 0) continue;
    for (const auto& value : values) {
      const auto parsed = parse_slice_value(value);
      unloads += parsed && parsed->state == SliceState::Unload ? 1 : 0;
    }
  }
  return unloads;
}

}  // namespace

TEST_CASE("mutation cdm-scale-counts-out-of-view: a DRAINING holder's entry counts, so no replacement") {
  CHECK(drained_holder_decommissioned(std::nullopt));
  CHECK_FALSE(drained_holder_decommissioned(std::string(mutation::kScaleCountsOutOfView)));
}

TEST_CASE("mutation cdm-skip-scale-down-recheck: a queued scale-down goes out below the floor") {
  CHECK(min_active_after_lost_instance(std::nullopt) >= 3);
  CHECK(min_active_after_lost_instance(std::string(mutation::kSkipScaleDownRecheck)) < 3);
}

TEST_CASE("mutation cdm-skip-removal-recheck: a queued removal goes out after the blueprint came back") {
  int correct = 0;
  int mutant = 0;
  for (std::uint64_t seed = 1; seed <= 8; ++seed) {
    correct += cart_unloads_over_put_backs(std::nullopt, seed);
    mutant += cart_unloads_over_put_backs(std::string(mutation::kSkipRemovalRecheck), seed);
  }
  INFO("cart UNLOADs committed over seeds 1..8: correct " << correct << ", mutant " << mutant);
  CHECK(mutant > correct);
}
