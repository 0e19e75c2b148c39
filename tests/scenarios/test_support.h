// Helpers for the scenario loader tests: load text, look for an error by its
// path and a fragment of its message.
#pragma once

#include <string>
#include <vector>

#include "scenarios/loader.h"

namespace aether::scenarios::testing {

inline std::vector<ScenarioError> errors_of(const std::string& text) {
  return load_scenario_text(text, "t.json").errors;
}

inline bool has_error(const std::vector<ScenarioError>& errors, const std::string& path,
                      const std::string& fragment) {
  for (const auto& e : errors) {
    if (e.path == path && e.message.find(fragment) != std::string::npos) return true;
  }
  return false;
}

inline std::string listing(const std::vector<ScenarioError>& errors) {
  std::string out;
  for (const auto& e : errors) out += format_error(e) + "\n";
  return out;
}

// A valid scenario with `steps` spliced in.
inline std::string with_steps(const std::string& steps) {
  return R"({"name": "t", "cluster": {"nodes": 3}, "steps": [)" + steps + "]}";
}

}  // namespace aether::scenarios::testing
