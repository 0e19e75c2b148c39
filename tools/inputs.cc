#include "tools/inputs.h"

#include <algorithm>
#include <filesystem>
#include <limits>

#include <fmt/format.h>

namespace aether::tools {

namespace fs = std::filesystem;

ExpandedInputs expand_inputs(const std::vector<std::string>& arguments) {
  ExpandedInputs out;
  for (const auto& argument : arguments) {
    std::error_code ec;
    const fs::path path(argument);
    if (fs::is_directory(path, ec)) {
      std::vector<std::string> found;
      for (const auto& entry : fs::directory_iterator(path, ec)) {
        std::error_code file_ec;
        if (entry.path().extension() == ".json" && entry.is_regular_file(file_ec)) {
          found.push_back(entry.path().string());
        }
      }
      if (ec) {
        out.errors.push_back(fmt::format("{}: cannot list the directory: {}", argument, ec.message()));
        continue;
      }
      std::sort(found.begin(), found.end());
      if (found.empty()) out.errors.push_back(fmt::format("{}: no *.json files in this directory", argument));
      out.files.insert(out.files.end(), found.begin(), found.end());
    } else if (fs::exists(path, ec)) {
      out.files.push_back(argument);
    } else {
      out.errors.push_back(fmt::format("{}: no such file or directory", argument));
    }
  }
  return out;
}

LoadedInputs load_inputs(const std::vector<std::string>& files) {
  LoadedInputs out;
  for (const auto& file : files) {
    scenarios::LoadResult result = scenarios::load_scenario_file(file);
    if (!result.ok()) {
      ++out.invalid_files;
      for (const auto& error : result.errors) out.errors.push_back(scenarios::format_error(error));
      continue;
    }
    out.scenarios.push_back(std::move(*result.scenario));
  }
  return out;
}

std::optional<std::uint64_t> parse_seed(const std::string& text, std::string* error) {
  auto fail = [&](std::string message) -> std::optional<std::uint64_t> {
    if (error) *error = std::move(message);
    return std::nullopt;
  };
  if (text.empty() || text.size() > 20) return fail(fmt::format("\"{}\" is not a seed (0 to 2^64-1)", text));
  std::uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return fail(fmt::format("\"{}\" is not a seed (0 to 2^64-1)", text));
    const std::uint64_t digit = static_cast<std::uint64_t>(c - '0');
    if (value > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) {
      return fail(fmt::format("\"{}\" is larger than 2^64-1", text));
    }
    value = value * 10 + digit;
  }
  return value;
}

std::optional<SeedRange> parse_seed_range(const std::string& text, std::string* error) {
  const auto dots = text.find("..");
  if (dots == std::string::npos) {
    if (error) *error = fmt::format("\"{}\" is not a seed range A..B", text);
    return std::nullopt;
  }
  auto first = parse_seed(text.substr(0, dots), error);
  if (!first) return std::nullopt;
  auto last = parse_seed(text.substr(dots + 2), error);
  if (!last) return std::nullopt;
  if (*first > *last) {
    if (error) *error = fmt::format("seed range {} is empty (A must not exceed B)", text);
    return std::nullopt;
  }
  return SeedRange{*first, *last};
}

SeedRange seeds_for(const scenarios::Scenario& scenario, const std::optional<std::uint64_t>& seed_option,
                    const std::optional<SeedRange>& range_option) {
  if (range_option) return *range_option;
  const std::uint64_t seed = seed_option ? *seed_option : scenario.seed.value_or(0);
  return {seed, seed};
}

std::uint64_t run_count(const std::vector<scenarios::Scenario>& scenarios,
                        const std::optional<std::uint64_t>& seed_option,
                        const std::optional<SeedRange>& range_option) {
  constexpr auto kMax = std::numeric_limits<std::uint64_t>::max();
  std::uint64_t total = 0;
  for (const auto& s : scenarios) {
    const SeedRange r = seeds_for(s, seed_option, range_option);
    const std::uint64_t span = r.last - r.first;
    if (span == kMax || total > kMax - (span + 1)) return kMax;
    total += span + 1;
  }
  return total;
}

}  // namespace aether::tools
