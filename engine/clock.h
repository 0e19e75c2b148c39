// Clock and timers: the engine's only notion of time. Production wires a real
// timer wheel behind it; the simulator wires its event loop. A cancelled timer
// never fires; cancelling an unknown or already fired timer is a no-op.
#pragma once

#include <cstdint>
#include <functional>

#include "engine/time.h"

namespace aether::engine {

using TimerId = std::uint64_t;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual Nanos now() const = 0;
  // Runs `fire` once, `delay_ns` (>= 0) from now, unless cancelled first.
  virtual TimerId schedule_after(Nanos delay_ns, std::function<void()> fire) = 0;
  virtual void cancel(TimerId id) = 0;
};

}  // namespace aether::engine
