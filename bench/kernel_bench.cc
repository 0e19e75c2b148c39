// Kernel throughput: the event loop with the trace hash on (file sink off)
// next to a bare std::priority_queue loop doing the same scheduling pattern.
// Each processed event records one small trace event and schedules its
// successor a drawn delay later, keeping a steady population of pending
// events.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <queue>
#include <vector>

#include "sim/event_loop.h"
#include "sim/prng.h"
#include "sim/trace.h"

namespace {

using aether::sim::EventLoop;
using aether::sim::Nanos;
using aether::sim::Prng;
using aether::sim::Trace;

constexpr int kPopulation = 1024;

void BM_EventLoopWithTraceHash(benchmark::State& state) {
  const auto events_per_iteration = static_cast<std::uint64_t>(state.range(0));
  std::uint64_t total = 0;
  for (auto _ : state) {
    // One context pointer per callback: it fits std::function's small buffer,
    // as the simulator's own callbacks are meant to.
    struct Context {
      EventLoop loop;
      Trace trace;
      Prng prng{1};
      std::uint64_t remaining = 0;
      void tick() {
        trace.event(loop.now(), "tick").u64("n", remaining);
        if (remaining > 0) {
          --remaining;
          loop.schedule_after(static_cast<Nanos>(prng.below(1000)), [this] { tick(); });
        }
      }
    } ctx;
    ctx.remaining = events_per_iteration;
    for (int i = 0; i < kPopulation; ++i) ctx.loop.schedule_at(static_cast<Nanos>(i), [&ctx] { ctx.tick(); });
    while (ctx.loop.step()) {
    }
    EventLoop& loop = ctx.loop;
    Trace& trace = ctx.trace;
    total += loop.events_processed();
    benchmark::DoNotOptimize(trace.hash());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(total));
}

void BM_BarePriorityQueue(benchmark::State& state) {
  const auto events_per_iteration = static_cast<std::uint64_t>(state.range(0));
  std::uint64_t total = 0;
  struct Item {
    Nanos time;
    std::uint64_t seq;
    bool operator>(const Item& o) const { return time != o.time ? time > o.time : seq > o.seq; }
  };
  for (auto _ : state) {
    std::priority_queue<Item, std::vector<Item>, std::greater<>> queue;
    Prng prng(1);
    std::uint64_t seq = 0, checksum = 0, remaining = events_per_iteration, processed = 0;
    for (int i = 0; i < kPopulation; ++i) queue.push(Item{i, seq++});
    while (!queue.empty()) {
      const Item item = queue.top();
      queue.pop();
      ++processed;
      checksum = checksum * 31 + static_cast<std::uint64_t>(item.time) + remaining;
      if (remaining > 0) {
        --remaining;
        queue.push(Item{item.time + static_cast<Nanos>(prng.below(1000)), seq++});
      }
    }
    total += processed;
    benchmark::DoNotOptimize(checksum);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(total));
}

BENCHMARK(BM_EventLoopWithTraceHash)->Arg(1'000'000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_BarePriorityQueue)->Arg(1'000'000)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
