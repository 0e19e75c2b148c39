// Loading a scenario file: text -> JSON (json_text.h) -> strict validation ->
// Scenario. Validation is complete before anything runs and lists every error
// (file, JSON path or line:column, what is wrong). The few errors that depend
// on the state of the world (a target not valid at its instant, a `scale` of
// a base with no slice-target) are found by the runner instead.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "scenarios/error.h"
#include "scenarios/model.h"

namespace aether::scenarios {

struct LoadResult {
  std::optional<Scenario> scenario;  // set iff errors is empty
  std::vector<ScenarioError> errors;
  bool ok() const { return errors.empty(); }
};

// `file` names the source in errors and becomes Scenario::file; a file
// without "name" is named after it (its stem).
LoadResult load_scenario_text(std::string_view text, const std::string& file);
LoadResult load_scenario_file(const std::string& path);

// Validates an already-parsed JSON document (no duplicate-key or comment
// handling: use load_scenario_text for files).
LoadResult load_scenario_json(const nlohmann::json& document, const std::string& file);

// The invariant ids a `violates` expectation may name (simulation.md §5).
const std::vector<std::string>& known_invariant_ids();

// One line per step kind, for `aethersim list steps`.
struct StepKindDoc {
  std::string kind;
  std::string syntax;
  std::string description;
};
const std::vector<StepKindDoc>& step_kind_docs();

// One line per `cluster` key, for `aethersim list config`.
struct ClusterKeyDoc {
  std::string key;
  std::string default_value;
  std::string description;
};
const std::vector<ClusterKeyDoc>& cluster_key_docs();

}  // namespace aether::scenarios
