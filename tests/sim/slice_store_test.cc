#include <catch2/catch.hpp>

#include "sim/cluster.h"
#include "tests/sim/test_runtime.h"

using namespace aether::sim;
using namespace aether::sim::testing;
using aether::engine::millis;
using aether::engine::seconds;
using aether::engine::SliceHolding;
using aether::engine::SliceResult;

namespace {
constexpr const char* kArtifact = "org.example:svc:1.0.0";

struct Fixture {
  Trace trace;
  Journal journal;
  SimCluster cluster;
  Fixture() : cluster(config_of(1), trace, journal_factory(journal)) { cluster.loop().run_until(0); }
  aether::engine::SliceLoader& slices() { return runtime_of(cluster, "node-1")->services().slices; }
};
}  // namespace

TEST_CASE("slice operations complete later, after a duration drawn within the phase range") {
  Fixture f;
  std::optional<SliceResult> loaded;
  Nanos loaded_at = -1;
  f.slices().load(kArtifact, [&](SliceResult r) {
    loaded = r;
    loaded_at = f.cluster.now();
  });
  CHECK_FALSE(loaded);  // never inside the call
  CHECK(f.slices().holding(kArtifact) == SliceHolding::NotHeld);
  f.cluster.loop().run_until(seconds(3));
  REQUIRE(loaded);
  CHECK_FALSE(loaded->has_value());
  CHECK(loaded_at >= millis(200));
  CHECK(loaded_at <= seconds(2));
  CHECK(f.slices().holding(kArtifact) == SliceHolding::Loaded);
  std::optional<SliceResult> activated;
  f.slices().activate(kArtifact, [&](SliceResult r) { activated = r; });
  f.cluster.loop().run_until(seconds(4));
  REQUIRE(activated);
  CHECK_FALSE(activated->has_value());
  CHECK(f.cluster.slice_holdings("node-1") ==
        std::map<std::string, SliceHolding>{{kArtifact, SliceHolding::Active}});
  f.slices().deactivate(kArtifact, [](SliceResult) {});
  f.cluster.loop().run_until(seconds(5));
  CHECK(f.slices().holding(kArtifact) == SliceHolding::Loaded);
  f.slices().unload(kArtifact, [](SliceResult) {});
  f.cluster.loop().run_until(seconds(6));
  CHECK(f.slices().held().empty());
}

TEST_CASE("activating an artifact that is not loaded fails transiently") {
  Fixture f;
  std::optional<SliceResult> result;
  f.slices().activate(kArtifact, [&](SliceResult r) { result = r; });
  f.cluster.loop().run_until(seconds(1));
  REQUIRE(result);
  REQUIRE(result->has_value());
  CHECK_FALSE((*result)->fatal);
}

TEST_CASE("a fatal failure rule fails loads with a fatal reason") {
  Fixture f;
  f.cluster.set_slice_failure_rule(SliceFailureRule{kArtifact, FailurePhase::Load, 0, 1'000'000});
  std::optional<SliceResult> result;
  f.slices().load(kArtifact, [&](SliceResult r) { result = r; });
  f.cluster.loop().run_until(seconds(3));
  REQUIRE(result);
  REQUIRE(result->has_value());
  CHECK((*result)->fatal);
  CHECK((*result)->reason == "simulated fatal load failure");
  CHECK(f.slices().holding(kArtifact) == SliceHolding::NotHeld);
}

TEST_CASE("the latest rule for a pattern wins, and an artifact's own rule beats the wildcard") {
  Fixture f;
  f.cluster.set_slice_failure_rule(SliceFailureRule{"*", FailurePhase::Any, 1'000'000, 0});
  f.cluster.set_slice_failure_rule(SliceFailureRule{kArtifact, FailurePhase::Any, 1'000'000, 0});
  f.cluster.set_slice_failure_rule(SliceFailureRule{kArtifact, FailurePhase::Any, 0, 0});
  std::optional<SliceResult> own, other;
  f.slices().load(kArtifact, [&](SliceResult r) { own = r; });
  f.slices().load("org.example:other:1.0.0", [&](SliceResult r) { other = r; });
  f.cluster.loop().run_until(seconds(3));
  REQUIRE(own);
  REQUIRE(other);
  CHECK_FALSE(own->has_value());
  REQUIRE(other->has_value());
  CHECK((*other)->reason == "simulated transient load failure");
  CHECK_FALSE((*other)->fatal);
}

TEST_CASE("a load-phase rule does not fail activations") {
  Fixture f;
  f.cluster.set_slice_failure_rule(SliceFailureRule{"*", FailurePhase::Load, 1'000'000, 0});
  f.cluster.set_slice_failure_rule(SliceFailureRule{"*", FailurePhase::Activate, 0, 0});
  std::optional<SliceResult> result;
  f.slices().load(kArtifact, [&](SliceResult r) { result = r; });
  f.cluster.loop().run_until(seconds(3));
  REQUIRE(result);
  CHECK_FALSE(result->has_value());  // the later "*" rule replaced the load rule
}

TEST_CASE("the slice store is lost on crash") {
  Fixture f;
  f.slices().load(kArtifact, [](SliceResult) {});
  f.cluster.loop().run_until(seconds(3));
  REQUIRE(f.cluster.slice_holdings("node-1").size() == 1);
  f.cluster.crash("node-1");
  CHECK(f.cluster.slice_holdings("node-1").empty());
  f.cluster.restart("node-1");
  f.cluster.loop().run_until(seconds(4));
  CHECK(f.cluster.slice_holdings("node-1").empty());
}

TEST_CASE("observers hear each slice operation start with what was held, and its completion") {
  struct Ops : WorldObserver {
    std::vector<std::string> seen;
    void on_slice_op_start(Nanos, const NodeId& n, const std::string&, SliceOp op,
                           SliceHolding before) override {
      seen.push_back(n + " start " + slice_op_name(op) + " " + std::to_string(static_cast<int>(before)));
    }
    void on_slice_op_done(Nanos, const NodeId& n, const std::string&, SliceOp op,
                          const SliceResult& r) override {
      seen.push_back(n + " done " + slice_op_name(op) + (r ? " failed" : " ok"));
    }
  } ops;
  Fixture f;
  f.cluster.add_observer(&ops);
  f.slices().load(kArtifact, [](SliceResult) {});
  f.cluster.loop().run_until(seconds(3));
  f.slices().load(kArtifact, [](SliceResult) {});
  f.cluster.loop().run_until(seconds(6));
  CHECK(ops.seen == std::vector<std::string>{"node-1 start load 0", "node-1 done load ok",
                                             "node-1 start load 1", "node-1 done load ok"});
}
