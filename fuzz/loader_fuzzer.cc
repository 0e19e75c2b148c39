// libFuzzer target over the scenario loader: any byte string must load or be
// refused with errors, never crash, hang or exhaust memory. An input that
// loads must also survive the writer: load(write(s)) == s.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "scenarios/loader.h"
#include "scenarios/writer.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace aether::scenarios;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const LoadResult first = load_scenario_text(text, "fuzz.json");
  if (first.ok() != first.errors.empty() || (!first.ok() && first.scenario)) __builtin_trap();
  for (const auto& error : first.errors) {
    if (error.message.empty() || format_error(error).empty()) __builtin_trap();
  }
  if (!first.ok()) return 0;
  const LoadResult second = load_scenario_text(write_scenario(*first.scenario), "fuzz.json");
  if (!second.ok() || !(*second.scenario == *first.scenario)) __builtin_trap();
  return 0;
}
