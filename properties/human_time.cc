#include "properties/human_time.h"

#include <fmt/format.h>

namespace aether::properties {

std::string human_duration(engine::Nanos ns) {
  if (ns < 0) return "-" + human_duration(-ns);
  constexpr engine::Nanos kSecond = 1'000'000'000;
  const engine::Nanos whole = ns / kSecond;
  std::string fraction;
  constexpr engine::Nanos kMilli = 1'000'000;
  if (ns >= kMilli) ns -= ns % kMilli;
  if (const engine::Nanos rest = ns % kSecond; rest != 0) {
    fraction = fmt::format(".{:09}", rest);
    while (fraction.back() == '0') fraction.pop_back();
  }
  if (whole < 60) return fmt::format("{}{}s", whole, fraction);
  if (whole < 3600) return fmt::format("{}m{:02}{}s", whole / 60, whole % 60, fraction);
  return fmt::format("{}h{:02}m{:02}{}s", whole / 3600, (whole / 60) % 60, whole % 60, fraction);
}

}  // namespace aether::properties
