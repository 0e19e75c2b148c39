// The model back to JSON (a scenario file without comments). Loading what the
// writer produces gives an equal Scenario; the shrinker uses this to save
// smaller reproductions.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "scenarios/model.h"

namespace aether::scenarios {

// Keys in the order people write them (name, description, seed, cluster, ...).
nlohmann::ordered_json scenario_to_json(const Scenario& scenario);

// scenario_to_json, indented by two spaces, with a final newline.
std::string write_scenario(const Scenario& scenario);

}  // namespace aether::scenarios
