// The checks wired to the real simulated world without the engine: a tiny
// runtime that throws inside a KV notification shows that an exception in a
// simulated node becomes an `engine-assert` violation carrying the seed, and
// that replica-consistency stays silent while the world applies batches.
#include <catch2/catch.hpp>

#include <memory>
#include <stdexcept>

#include "properties/invariants.h"
#include "properties/sim_world_queries.h"
#include "sim/cluster.h"

using namespace aether;
using namespace aether::properties;

namespace {

// Throws when it is notified of the key "boom"; otherwise does nothing.
class ThrowingRuntime final : public engine::NodeRuntime, public engine::KvListener {
 public:
  explicit ThrowingRuntime(const engine::NodeServices& services) { services.kv.add_listener(this); }
  std::optional<NodeId> known_leader() const override { return std::nullopt; }
  bool cdm_active() const override { return false; }
  std::optional<std::uint64_t> cdm_activation_tag() const override { return std::nullopt; }
  void on_kv(const engine::KvNotification& n) override {
    if (n.key == "boom" && n.origin == engine::KvOrigin::Apply) throw std::runtime_error("boom applied");
  }
  void on_restored(std::uint64_t) override {}
};

struct Wired {
  Wired() : recorder(&trace) {
    sim::SimConfig config;
    config.nodes = {"node-1", "node-2", "node-3"};
    config.seed = 99;
    cluster = std::make_unique<sim::SimCluster>(config, trace, [](const engine::NodeServices& services) {
      return std::make_unique<ThrowingRuntime>(services);
    });
    world = std::make_unique<SimWorldQueries>(*cluster);
    suite = std::make_unique<InvariantSuite>(recorder, *world, 99);
    cluster->add_observer(suite.get());
  }
  ~Wired() { cluster.reset(); }

  sim::Trace trace;
  ViolationRecorder recorder;
  std::unique_ptr<sim::SimCluster> cluster;
  std::unique_ptr<SimWorldQueries> world;
  std::unique_ptr<InvariantSuite> suite;
};

}  // namespace

TEST_CASE("replica-consistency stays silent while the real world applies client writes") {
  Wired w;
  for (int i = 0; i < 5; ++i) {
    w.cluster->client_write("c", {engine::KvCommand::put("k" + std::to_string(i), "v")});
  }
  w.cluster->client_write("c", {engine::KvCommand::remove("k2")});
  w.cluster->loop().run_until(engine::seconds(5));
  CHECK(w.suite->canonical().position() == 6);
  CHECK(w.recorder.violations().empty());
}

TEST_CASE("an exception inside a simulated node becomes an engine-assert violation with the seed") {
  Wired w;
  w.cluster->client_write("c", {engine::KvCommand::put("boom", "1")});
  w.cluster->loop().run_until(engine::seconds(5));
  REQUIRE_FALSE(w.recorder.violations().empty());
  const auto& v = w.recorder.violations().front();
  CHECK(v.invariant == invariant::kEngineAssert);
  CHECK(v.message.find("seed 99") != std::string::npos);
  CHECK(v.message.find("boom") != std::string::npos);
  CHECK_FALSE(v.events.empty());
}
