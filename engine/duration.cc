#include "engine/duration.h"

#include <array>
#include <numeric>
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

// A unit people write that the grammar does not have, and what it means.
constexpr std::array<std::pair<std::string_view, Nanos>, 21> kAliases = {{
    {"d", hours(24)},      {"day", hours(24)},     {"days", hours(24)},      {"hr", hours(1)},
    {"hrs", hours(1)},     {"hour", hours(1)},     {"hours", hours(1)},      {"min", minutes(1)},
    {"mins", minutes(1)},  {"minute", minutes(1)}, {"minutes", minutes(1)},  {"sec", seconds(1)},
    {"secs", seconds(1)},  {"second", seconds(1)}, {"seconds", seconds(1)},  {"msec", millis(1)},
    {"millis", millis(1)}, {"usec", micros(1)},    {"\xc2\xb5s", micros(1)}, {"nsec", 1},
    {"S", seconds(1)},
}};

Nanos unit_scale(std::string_view unit) {
  for (const auto& [name, value] : kUnits) {
    if (unit == name) return value;
  }
  return 0;
}

// "1.5s": the same duration without a fraction ("1500ms"), when it is a
// whole number of nanoseconds; empty otherwise.
std::string without_fraction(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
  if (i == 0 || i >= text.size() || text[i] != '.' || i > 9) return "";
  const std::size_t dot = i++;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
  const std::size_t fraction_digits = i - dot - 1;
  const Nanos scale = unit_scale(text.substr(i));
  if (fraction_digits == 0 || fraction_digits > 9 || scale == 0) return "";
  Nanos whole = 0;
  for (std::size_t k = 0; k < dot; ++k) whole = whole * 10 + (text[k] - '0');
  Nanos fraction = 0;
  Nanos denominator = 1;
  for (std::size_t k = dot + 1; k < i; ++k) {
    fraction = fraction * 10 + (text[k] - '0');
    denominator *= 10;
  }
  if (whole > kMaxDuration / scale) return "";
  // fraction * scale / denominator must be whole nanoseconds.
  const Nanos g = std::gcd(scale, denominator);
  if (fraction % (denominator / g) != 0) return "";
  return format_duration(whole * scale + fraction / (denominator / g) * (scale / g));
}

}  // namespace

std::optional<Nanos> parse_duration(std::string_view text, std::string* error) {
  auto fail = [&](std::string message) -> std::optional<Nanos> {
    if (error) *error = std::move(message);
    return std::nullopt;
  };
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits < text.size() && text[digits] == '.') {
    const std::string exact = without_fraction(text);
    return fail(exact.empty() ? "fractions are not allowed; use a smaller unit (ns, us, ms, s, m, h)"
                              : "fractions are not allowed; write \"" + exact + "\"");
  }
  if (digits == 0) return fail("a duration is digits and a unit (ns, us, ms, s, m, h), such as \"500ms\"");
  if (digits > 1 && text[0] == '0') return fail("a duration has no leading zeros");
  const std::string_view unit = text.substr(digits);
  Nanos scale = 0;
  for (const auto& [name, value] : kUnits) {
    if (unit == name) scale = value;
  }
  if (scale == 0) {
    for (const auto& [alias, value] : kAliases) {
      if (unit != alias || digits > 9) continue;
      Nanos count = 0;
      for (std::size_t i = 0; i < digits; ++i) count = count * 10 + (text[i] - '0');
      return fail("unknown duration unit \"" + std::string(unit) + "\" (ns, us, ms, s, m, h); write \"" +
                  format_duration(count * value) + "\"");
    }
    return fail(unit.empty() ? "a duration needs a unit (ns, us, ms, s, m, h)"
                             : "unknown duration unit \"" + std::string(unit) + "\" (ns, us, ms, s, m, h)");
  }
  if (digits > 18) return fail("a duration is at most 7d (168h)");
  Nanos count = 0;
  for (std::size_t i = 0; i < digits; ++i) count = count * 10 + (text[i] - '0');
  if (count > kMaxDuration / scale) return fail("a duration is at most 7d (168h)");
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
