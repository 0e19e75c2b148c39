// Decided batches per second of wall time through the consensus KV model:
// every node keeps one write in flight (resubmitting when it completes), and
// every decided batch is delivered to and applied on every node. Figures only;
// nothing is asserted.
#include <benchmark/benchmark.h>

#include <memory>
#include <string>

#include "engine/node_runtime.h"
#include "sim/cluster.h"

namespace {

using namespace aether;

// A runtime that only writes: one batch in flight, the next when it completes.
class WriterRuntime final : public engine::NodeRuntime, public engine::KvListener {
 public:
  explicit WriterRuntime(const engine::NodeServices& services) : services_(services) {
    services.kv.add_listener(this);
  }
  std::optional<engine::NodeId> known_leader() const override { return std::nullopt; }
  bool cdm_active() const override { return false; }
  std::optional<std::uint64_t> cdm_activation_tag() const override { return std::nullopt; }
  void on_kv(const engine::KvNotification&) override {}
  void on_restored(std::uint64_t) override { write(); }

 private:
  void write() {
    const std::string key = "bench/" + services_.self + "/" + std::to_string(next_ % 16);
    services_.kv.submit(engine::Writer::Ndm, {engine::KvCommand::put(key, std::to_string(next_++))},
                        [this](engine::SubmitOutcome) { write(); });
  }
  engine::NodeServices services_;
  std::uint64_t next_ = 0;
};

void BM_DecidedBatches(benchmark::State& state) {
  const int nodes = static_cast<int>(state.range(0));
  sim::SimConfig config;
  for (int i = 1; i <= nodes; ++i) config.nodes.push_back("node-" + std::to_string(i));
  config.seed = 7;
  sim::Trace trace;
  sim::SimCluster cluster(config, trace, [](const engine::NodeServices& services) {
    return std::make_unique<WriterRuntime>(services);
  });
  std::uint64_t decided_before = cluster.canonical_position();
  for (auto _ : state) {
    cluster.loop().run_until(cluster.now() + engine::millis(100));
  }
  const auto decided = cluster.canonical_position() - decided_before;
  state.counters["decided_batches_per_s"] =
      benchmark::Counter(static_cast<double>(decided), benchmark::Counter::kIsRate);
  state.counters["applies_per_s"] =
      benchmark::Counter(static_cast<double>(decided) * nodes, benchmark::Counter::kIsRate);
  state.counters["sim_events"] = static_cast<double>(cluster.loop().events_processed());
}
BENCHMARK(BM_DecidedBatches)->Arg(5)->Arg(100)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
