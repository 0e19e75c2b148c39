#include "engine/duration.h"

#include <array>
#include <utility>

namespace aether::engine {

namespace {
constexpr std::array<std::pair<std::string_view, Nanos>, 6> kUnits = {{
    {"h", hours(1)},
    {"m", minutes(1)},
    {"s", seconds(1)},
    {"ms", millis(1)},
    {"us", micros(1)},
    {"ns", 1},
}};
}  // namespace

std::optional<Nanos> parse_duration(std::string_view text, std::string* error) {
  auto fail = [&](std::string message) -> std::optional<Nanos> {
    if (error) *error = std::move(message);
    return std::nullopt;
  };
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0) return fail("a duration is digits and a unit (ns, us, ms, s, m, h), such as \"500ms\"");
  if (digits > 1 && text[0] == '0') return fail("a duration has no leading zeros");
  const std::string_view unit = text.substr(digits);
  Nanos scale = 0;
  for (const auto& [name, value] : kUnits) {
    if (unit == name) scale = value;
  }
  if (scale == 0) {
    return fail(unit.empty() ? "a duration needs a unit (ns, us, ms, s, m, h)"
                             : "unknown duration unit \"" + std::string(unit) + "\" (ns, us, ms, s, m, h)");
  }
  if (digits > 18) return fail("a duration is at most 7d");
  Nanos count = 0;
  for (std::size_t i = 0; i < digits; ++i) count = count * 10 + (text[i] - '0');
  if (count > kMaxDuration / scale) return fail("a duration is at most 7d");
  return count * scale;
}

std::string format_duration(Nanos ns) {
  if (ns == 0) return "0s";
  for (const auto& [name, value] : kUnits) {
    if (ns % value == 0) return std::to_string(ns / value) + std::string(name);
  }
  return std::to_string(ns) + "ns";
}

}  // namespace aether::engine
