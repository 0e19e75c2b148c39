// Run figures (FiguresObserver) fed by hand-made decisions and slice-store
// changes, settled at instant ends as the runner does; counted incrementally
// (per changed key and node) and from scratch at every settle, which must
// agree.
#include <catch2/catch.hpp>

#include "properties/run_figures.h"
#include "tests/properties/fake_world.h"

namespace aether::properties::testing {
namespace {

using engine::KvCommand;
using engine::SliceHolding;
using engine::SliceState;
const std::string kCart = "org.example:cart:1.0.0";

struct Figures {
  explicit Figures(bool incremental)
      : world(3),
        recorder(nullptr),
        suite(recorder, world, 1),
        live(world, false),
        figures(suite, world, live) {
    figures.set_incremental(incremental);
  }

  void commit(Nanos now, engine::KvBatch commands, const std::string& writer = "client:default") {
    const auto b = batch(std::move(commands), {submitter("node-1", writer)});
    suite.on_decide(now, ++position, b);
    figures.on_decide(now, position, b);
  }
  // What a slice operation that completes at `now` leaves in node's store.
  void op_done(Nanos now, const NodeId& node, sim::SliceOp op, SliceHolding after) {
    world.nodes[node].held[kCart] = after;
    figures.on_slice_op_done(now, node, kCart, op, engine::SliceResult{});
  }

  FakeWorld world;
  ViolationRecorder recorder;
  InvariantSuite suite;
  LivenessCache live;  // the fake world changes without telling observers
  FiguresObserver figures;
  std::uint64_t position = 0;
};

// cart x2 ACTIVE on node-1 and node-2; at 10s node-2's store deactivates it
// while its key stays ACTIVE (its DEACTIVATING write lost), and it comes back
// at 20s.
RunFigures play(bool incremental) {
  Figures f(incremental);
  f.world.nodes["node-1"].held[kCart] = SliceHolding::Active;
  f.world.nodes["node-2"].held[kCart] = SliceHolding::Active;
  f.commit(engine::seconds(1),
           {KvCommand::put("blueprints/shop", blueprint_value("shop", {{kCart, 2, {}}})),
            KvCommand::put("slice-target/org.example:cart", target_value("1.0.0", 2, 1, "shop")),
            KvCommand::put("slices/node-1/" + kCart, slice_value(SliceState::Active)),
            KvCommand::put("slices/node-2/" + kCart, slice_value(SliceState::Active))});
  f.figures.settle(engine::seconds(1));
  f.figures.fault(engine::seconds(5), "crash node-3");
  f.figures.settle(engine::seconds(5));
  f.op_done(engine::seconds(10), "node-2", sim::SliceOp::Deactivate, SliceHolding::Loaded);
  f.figures.settle(engine::seconds(10));
  f.op_done(engine::seconds(20), "node-2", sim::SliceOp::Activate, SliceHolding::Active);
  f.figures.settle(engine::seconds(20));
  f.figures.finish(engine::seconds(30), std::nullopt, "");
  return f.figures.figures();
}

}  // namespace
}  // namespace aether::properties::testing

using aether::engine::seconds;
using aether::properties::testing::play;

TEST_CASE("a slice store change under an unchanged ACTIVE key moves the counts") {
  for (bool incremental : {true, false}) {
    INFO("incremental " << incremental);
    const aether::properties::RunFigures figures = play(incremental);
    REQUIRE(figures.full_at == seconds(1));
    CHECK(figures.worst_active == 1);
    CHECK(figures.worst_desired == 2);
    CHECK(figures.worst_at == seconds(10));
    REQUIRE(figures.failovers.size() == 1);
    CHECK(figures.failovers[0].lost);
    CHECK(figures.failovers[0].recovered_at == seconds(20));
    const auto& points = figures.bases.at("org.example:cart");
    REQUIRE(points.size() == 3);
    CHECK(points[1].at == seconds(10));
    CHECK(points[1].active == 1);
    CHECK(points[2].at == seconds(20));
    CHECK(points[2].active == 2);
  }
}
