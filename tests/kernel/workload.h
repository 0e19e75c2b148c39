// A seeded, busy kernel workload for determinism tests: timers that schedule
// timers, cancellations, ties at one instant and every trace field type.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sim/event_loop.h"
#include "sim/prng.h"
#include "sim/trace.h"

namespace aether::sim::testing {

inline std::uint64_t run_kernel_workload(std::uint64_t seed, int events = 5000) {
  EventLoop loop;
  Trace trace;
  Prng prng = Prng::stream(seed, "workload");
  std::vector<EventLoop::EventId> cancellable;
  int scheduled = 0;
  std::function<void(int)> tick = [&](int id) {
    trace.event(loop.now(), "tick")
        .u64("id", static_cast<std::uint64_t>(id))
        .i64("delta", prng.between(-5, 5))
        .flag("odd", id % 2 == 1)
        .str("node", "node-" + std::to_string(id % 7))
        .list("tags", {"a", std::to_string(id % 3)});
    const int children = static_cast<int>(prng.below(3));
    for (int c = 0; c < children && scheduled < events; ++c, ++scheduled) {
      const int child = scheduled;
      // Round to 1ms so that many events tie at one instant.
      const Nanos delay =
          prng.duration_between(0, engine::millis(20)) / engine::millis(1) * engine::millis(1);
      auto handle = loop.schedule_after(delay, [&tick, child] { tick(child); });
      if (prng.chance_ppm(100'000)) cancellable.push_back(handle);
    }
    if (!cancellable.empty() && prng.chance_ppm(300'000)) {
      const auto k = prng.below(cancellable.size());
      if (loop.cancel(cancellable[k])) trace.event(loop.now(), "cancel").u64("k", k);
      cancellable.erase(cancellable.begin() + static_cast<std::ptrdiff_t>(k));
    }
  };
  for (int i = 0; i < 8; ++i, ++scheduled) loop.schedule_at(0, [&tick, i] { tick(i); });
  while (loop.step()) {
  }
  trace.event(loop.now(), "end").u64("processed", loop.events_processed());
  return trace.hash();
}

}  // namespace aether::sim::testing
