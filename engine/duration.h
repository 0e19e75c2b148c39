// Durations as people write them in scenario files and configuration:
// ^(0|[1-9][0-9]*)(ns|us|ms|s|m|h)$, at most 7 days.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "engine/time.h"

namespace aether::engine {

constexpr Nanos kMaxDuration = 7 * 24 * hours(1);

// The duration, or nullopt with `error` saying what is wrong.
std::optional<Nanos> parse_duration(std::string_view text, std::string* error = nullptr);

// The shortest exact spelling of `ns` in the grammar above ("1500ms", "2m").
std::string format_duration(Nanos ns);

}  // namespace aether::engine
