// Timers and callbacks that die with their owner. A TimerSet cancels every
// timer it scheduled when it is destroyed or cleared, and a LifeToken lets a
// callback handed to the KV store or the slice store find out that the object
// that asked for it is gone (a deactivated CDM, a destroyed runtime).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <set>

#include "engine/clock.h"

namespace aether::engine {

class TimerSet {
 public:
  explicit TimerSet(Clock& clock) : clock_(clock) {}
  ~TimerSet() { cancel_all(); }
  TimerSet(const TimerSet&) = delete;
  TimerSet& operator=(const TimerSet&) = delete;

  TimerId after(Nanos delay_ns, std::function<void()> fire) {
    auto id = std::make_shared<TimerId>(0);
    const TimerId timer =
        clock_.schedule_after(delay_ns < 0 ? 0 : delay_ns, [this, id, fire = std::move(fire)] {
          live_.erase(*id);
          ++fired_;
          fire();
        });
    *id = timer;
    live_.insert(timer);
    ++armed_;
    return timer;
  }
  void cancel(TimerId id) {
    if (live_.erase(id) > 0) clock_.cancel(id);
  }
  void cancel_all() {
    for (TimerId id : live_) clock_.cancel(id);
    live_.clear();
  }
  bool pending(TimerId id) const { return live_.count(id) > 0; }
  Nanos now() const { return clock_.now(); }
  // How many of its timers have fired (counted before the callback runs),
  // and how many it has armed: a caller tells "nothing of mine ran or was
  // scheduled since" by these counts (the CDM's reconcile early-out).
  std::uint64_t fired() const { return fired_; }
  std::uint64_t armed() const { return armed_; }

 private:
  Clock& clock_;
  std::set<TimerId> live_;
  std::uint64_t fired_ = 0;
  std::uint64_t armed_ = 0;
};

// Callbacks capture `token.watch()` and call `alive()` before touching their owner.
class LifeToken {
 public:
  LifeToken() : token_(std::make_shared<char>(0)) {}
  std::weak_ptr<char> watch() const { return token_; }

 private:
  std::shared_ptr<char> token_;
};

}  // namespace aether::engine
