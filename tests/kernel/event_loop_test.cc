#include <catch2/catch.hpp>

#include <set>
#include <string>
#include <vector>

#include "sim/event_loop.h"
#include "sim/prng.h"
#include "tests/kernel/workload.h"

using aether::sim::EventLoop;
using aether::sim::Lane;
using aether::sim::Nanos;
using aether::sim::Prng;

TEST_CASE("events run in time order") {
  EventLoop loop;
  std::vector<int> order;
  loop.schedule_at(30, [&] { order.push_back(3); });
  loop.schedule_at(10, [&] { order.push_back(1); });
  loop.schedule_at(20, [&] { order.push_back(2); });
  loop.run_until(100);
  CHECK(order == std::vector<int>{1, 2, 3});
  CHECK(loop.now() == 100);
  CHECK(loop.events_processed() == 3);
}

TEST_CASE("ties at one instant run in scheduling order") {
  EventLoop loop;
  std::vector<int> order;
  for (int i = 0; i < 50; ++i) loop.schedule_at(5, [&order, i] { order.push_back(i); });
  loop.run_until(5);
  REQUIRE(order.size() == 50);
  for (int i = 0; i < 50; ++i) CHECK(order[static_cast<std::size_t>(i)] == i);
}

TEST_CASE("lanes order events at one instant: steps, then topology, then the rest") {
  EventLoop loop;
  std::vector<std::string> order;
  loop.schedule_at(7, [&] { order.push_back("normal"); });
  loop.schedule_at(
      7, [&] { order.push_back("topology"); }, Lane::Topology);
  loop.schedule_at(
      7, [&] { order.push_back("step"); }, Lane::Step);
  loop.schedule_at(6, [&] { order.push_back("earlier"); });
  loop.run_until(10);
  CHECK(order == std::vector<std::string>{"earlier", "step", "topology", "normal"});
}

TEST_CASE("a cancelled timer never fires, and cancelling twice is a no-op") {
  EventLoop loop;
  bool fired = false;
  auto id = loop.schedule_at(10, [&] { fired = true; });
  CHECK(loop.pending() == 1);
  CHECK(loop.cancel(id));
  CHECK_FALSE(loop.cancel(id));
  CHECK(loop.pending() == 0);
  loop.run_until(20);
  CHECK_FALSE(fired);
  CHECK(loop.events_processed() == 0);
}

TEST_CASE("a stale id does not cancel the event that reused its slot") {
  EventLoop loop;
  int fired = 0;
  auto first = loop.schedule_at(1, [&] { ++fired; });
  loop.run_until(1);
  auto second = loop.schedule_at(2, [&] { fired += 10; });
  CHECK(first != second);
  CHECK_FALSE(loop.cancel(first));
  loop.run_until(2);
  CHECK(fired == 11);
}

TEST_CASE("an event may cancel another due at the same instant") {
  EventLoop loop;
  bool second_fired = false;
  EventLoop::EventId second = 0;
  loop.schedule_at(5, [&] { loop.cancel(second); });
  second = loop.schedule_at(5, [&] { second_fired = true; });
  loop.run_until(5);
  CHECK_FALSE(second_fired);
}

TEST_CASE("events scheduled from inside an event at the same instant run after it") {
  EventLoop loop;
  std::vector<int> order;
  loop.schedule_at(1, [&] {
    order.push_back(1);
    loop.schedule_after(0, [&] { order.push_back(3); });
  });
  loop.schedule_at(1, [&] { order.push_back(2); });
  loop.run_until(1);
  CHECK(order == std::vector<int>{1, 2, 3});
}

TEST_CASE("scheduling in the past is refused") {
  EventLoop loop;
  loop.run_until(100);
  CHECK_THROWS(loop.schedule_at(99, [] {}));
}

TEST_CASE("step runs one event at a time") {
  EventLoop loop;
  int count = 0;
  loop.schedule_at(1, [&] { ++count; });
  loop.schedule_at(2, [&] { ++count; });
  CHECK(loop.next_time() == 1);
  CHECK(loop.step());
  CHECK(count == 1);
  CHECK(loop.now() == 1);
  CHECK(loop.step());
  CHECK_FALSE(loop.step());
  CHECK(loop.next_time() == -1);
}

TEST_CASE("run_until a predicate stops as soon as it holds, or at the deadline") {
  EventLoop loop;
  int count = 0;
  for (int i = 1; i <= 10; ++i) loop.schedule_at(i * 10, [&] { ++count; });
  CHECK(loop.run_until([&] { return count == 3; }, 1000));
  CHECK(loop.now() == 30);
  CHECK_FALSE(loop.run_until([&] { return count == 100; }, 75));
  CHECK(count == 7);
  CHECK(loop.now() == 70);
}

TEST_CASE("the same seed gives the same trace hash twice in one process") {
  using aether::sim::testing::run_kernel_workload;
  CHECK(run_kernel_workload(1) == run_kernel_workload(1));
  CHECK(run_kernel_workload(123456789) == run_kernel_workload(123456789));
}

TEST_CASE("different seeds give different trace hashes") {
  using aether::sim::testing::run_kernel_workload;
  std::set<std::uint64_t> hashes;
  for (std::uint64_t seed = 0; seed < 20; ++seed) hashes.insert(run_kernel_workload(seed, 500));
  CHECK(hashes.size() == 20);
}

namespace {
struct Recorder final : aether::sim::EventTarget {
  std::vector<std::string>* order = nullptr;
  void fire(std::uint64_t a, std::uint64_t b) override {
    order->push_back("typed " + std::to_string(a) + "/" + std::to_string(b));
  }
};
}  // namespace

TEST_CASE("typed events carry their two integers and interleave with callbacks by time, lane and sequence") {
  EventLoop loop;
  std::vector<std::string> order;
  Recorder recorder;
  recorder.order = &order;
  loop.schedule_at(5, [&] { order.push_back("callback 5"); });
  loop.schedule_typed_at(5, &recorder, 1, 2);
  loop.schedule_typed_at(3, &recorder, 3, 4);
  loop.schedule_typed_at(5, &recorder, 7, 8, Lane::Topology);
  const auto cancelled = loop.schedule_typed_at(4, &recorder, 9, 9);
  loop.schedule_at(5, [&] { order.push_back("callback 5 later"); });
  CHECK(loop.pending() == 6);
  CHECK(loop.cancel(cancelled));
  CHECK_FALSE(loop.cancel(cancelled));
  loop.run_until(10);
  CHECK(order ==
        std::vector<std::string>{"typed 3/4", "typed 7/8", "callback 5", "typed 1/2", "callback 5 later"});
  CHECK(loop.events_processed() == 5);
  // A slot freed by a typed event serves a callback event next, and the reverse.
  bool ran = false;
  loop.schedule_at(11, [&] { ran = true; });
  loop.schedule_typed_at(12, &recorder, 5, 6);
  loop.run_until(20);
  CHECK(ran);
  CHECK(order.back() == "typed 5/6");
  CHECK_THROWS(loop.schedule_typed_at(1, &recorder, 0, 0));
}

TEST_CASE("a fan of typed events fires exactly as the same events scheduled one by one") {
  // The same schedule twice: once as single typed events, once with the
  // middle group as a fan; the firing order (and the callbacks around it,
  // which take sequence numbers before and after) must be identical.
  auto run = [](bool as_fan) {
    EventLoop loop;
    std::vector<std::string> order;
    Recorder recorder;
    recorder.order = &order;
    Prng prng(7);
    loop.schedule_at(4, [&] { order.push_back("callback 4"); });
    std::vector<EventLoop::TypedFire> fires;
    for (std::uint64_t k = 0; k < 200; ++k) {
      // Many equal times: ties fall by the order the fires were listed in.
      const auto time = static_cast<Nanos>(2 + prng.below(6));
      if (as_fan) {
        fires.push_back(EventLoop::TypedFire{time, &recorder, k});
      } else {
        loop.schedule_typed_at(time, &recorder, 9, k);
      }
    }
    if (as_fan) {
      loop.schedule_typed_fan(9, fires);
      CHECK(fires.empty());
      CHECK(loop.pending() == 201);
    }
    loop.schedule_at(4, [&] { order.push_back("callback 4 later"); });
    loop.schedule_typed_at(5, &recorder, 1, 1, Lane::Topology);
    loop.run_until(3);
    CHECK(loop.events_processed() > 0);
    loop.run_until(100);
    CHECK(loop.pending() == 0);
    CHECK(loop.events_processed() == 203);
    return order;
  };
  const auto single = run(false);
  CHECK(single.size() == 203);
  CHECK(run(true) == single);
}

TEST_CASE("fans interleave with each other and with events scheduled while they fire") {
  EventLoop loop;
  std::vector<std::string> order;
  Recorder recorder;
  recorder.order = &order;
  std::vector<EventLoop::TypedFire> fires{{30, &recorder, 1}, {10, &recorder, 2}, {20, &recorder, 3}};
  loop.schedule_typed_fan(1, fires);
  fires = {{25, &recorder, 1}, {10, &recorder, 2}, {5, &recorder, 3}};
  loop.schedule_typed_fan(2, fires, Lane::Topology);
  loop.schedule_at(10, [&] {
    order.push_back("callback 10");
    loop.schedule_typed_at(20, &recorder, 3, 0);
  });
  std::vector<EventLoop::TypedFire> none;
  loop.schedule_typed_fan(3, none);  // nothing to schedule
  loop.run_until(100);
  CHECK(order == std::vector<std::string>{"typed 2/3", "typed 2/2", "typed 1/2", "callback 10", "typed 1/3",
                                          "typed 3/0", "typed 2/1", "typed 1/1"});
  // A fire in the past is refused.
  fires = {{50, &recorder, 1}};
  CHECK_THROWS(loop.schedule_typed_fan(1, fires));
}

TEST_CASE("a reserved key holds the place an event scheduled then would have had") {
  // Issue 14, fifth pass: deferred deliveries reserve their sequence numbers
  // and are scheduled under them later, if at all.
  EventLoop loop;
  std::vector<std::string> order;
  Recorder recorder;
  recorder.order = &order;
  loop.schedule_at(5, [&] { order.push_back("before"); });
  const std::uint64_t reserved = loop.reserve_order(Lane::Normal);
  loop.schedule_at(5, [&] { order.push_back("after"); });
  loop.schedule_at(2, [&] {
    // Scheduled later, it still runs between the two callbacks at 5.
    loop.schedule_typed_keyed(5, reserved, &recorder, 1, 1);
    // Keys at or before the running event are refused.
    CHECK(loop.horizon() == EventLoop::Key{2, loop.horizon().order});
    CHECK_THROWS(loop.schedule_typed_keyed(2, loop.horizon().order, &recorder, 0, 0));
    CHECK_THROWS(loop.schedule_typed_keyed(1, reserved, &recorder, 0, 0));
  });
  const std::uint64_t unused = loop.reserve_order(Lane::Normal);  // reserved, never scheduled: no event
  CHECK(unused > reserved);
  loop.run_until(4);
  // Between events, after the instant: everything at or before now counts.
  CHECK(loop.horizon() == EventLoop::Key{4, ~std::uint64_t{0}});
  loop.run_until(10);
  CHECK(order == std::vector<std::string>{"before", "typed 1/1", "after"});
  CHECK(loop.events_processed() == 4);
  // A keyed event is cancellable like any other.
  const std::uint64_t later = loop.reserve_order(Lane::Normal);
  const auto id = loop.schedule_typed_keyed(20, later, &recorder, 2, 2);
  CHECK(loop.cancel(id));
  loop.run_until(30);
  CHECK(order.size() == 3);
}

TEST_CASE("the horizon between events at one instant is the last event run") {
  EventLoop loop;
  loop.schedule_at(5, [] {});
  loop.schedule_at(5, [] {});
  CHECK(loop.step());
  const EventLoop::Key mid = loop.horizon();
  CHECK(mid.time == 5);
  CHECK(mid.order != ~std::uint64_t{0});  // another event is due at 5
  CHECK(loop.step());
  CHECK(loop.horizon() == EventLoop::Key{5, ~std::uint64_t{0}});
  CHECK(mid <= loop.horizon());
}
