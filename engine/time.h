// Virtual time as the engine sees it: integer nanoseconds since the start of
// the world. The engine never reads an OS clock; it is handed a Clock.
#pragma once

#include <cstdint>

namespace aether::engine {

using Nanos = std::int64_t;

constexpr Nanos kNanosPerMicro = 1'000;
constexpr Nanos kNanosPerMilli = 1'000'000;
constexpr Nanos kNanosPerSecond = 1'000'000'000;

constexpr Nanos micros(std::int64_t n) {
  return n * kNanosPerMicro;
}
constexpr Nanos millis(std::int64_t n) {
  return n * kNanosPerMilli;
}
constexpr Nanos seconds(std::int64_t n) {
  return n * kNanosPerSecond;
}
constexpr Nanos minutes(std::int64_t n) {
  return n * 60 * kNanosPerSecond;
}
constexpr Nanos hours(std::int64_t n) {
  return n * 3600 * kNanosPerSecond;
}

}  // namespace aether::engine
