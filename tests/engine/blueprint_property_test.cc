// Properties of blueprint parsing over generated blueprints: any acyclic
// blueprint parses, orders every dependency before its dependant, and
// round-trips through blueprint_to_json.
#include <rapidcheck.h>
#include <rapidcheck/catch.h>
#include <catch2/catch.hpp>

#include "engine/blueprint.h"
#include "engine/lifecycle.h"

using namespace aether::engine;

TEST_CASE("generated acyclic blueprints parse, order dependencies first and round-trip") {
  rc::prop("blueprint properties", [] {
    const int count = *rc::gen::inRange(1, 12);
    nlohmann::json slices = nlohmann::json::array();
    std::vector<std::string> artifacts;
    for (int i = 0; i < count; ++i) {
      const int major = *rc::gen::inRange(0, 3);
      artifacts.push_back("org.gen:svc-" + std::to_string(i) + ":" + std::to_string(major) + ".0.0");
    }
    for (int i = 0; i < count; ++i) {
      const int instances = *rc::gen::inRange(1, 20);
      nlohmann::json slice{{"artifact", artifacts[i]}, {"instances", instances}};
      if (*rc::gen::arbitrary<bool>()) slice["min_available"] = *rc::gen::inRange(1, instances + 1);
      nlohmann::json deps = nlohmann::json::array();
      for (int j = 0; j < i; ++j) {  // only earlier slices: acyclic by construction
        if (*rc::gen::inRange(0, 4) == 0) deps.push_back(artifacts[j]);
      }
      if (!deps.empty()) slice["depends_on"] = deps;
      slices.push_back(slice);
    }
    // Present the slices in a shuffled order: the parser must sort them.
    const auto order = *rc::gen::container<std::vector<int>>(count, rc::gen::arbitrary<int>());
    std::vector<std::pair<int, int>> keyed;
    for (int i = 0; i < count; ++i) keyed.emplace_back(order[i], i);
    std::sort(keyed.begin(), keyed.end());
    nlohmann::json shuffled = nlohmann::json::array();
    for (const auto& [key, index] : keyed) shuffled.push_back(slices[index]);

    auto parsed = parse_blueprint(nlohmann::json{{"id", "gen"}, {"slices", shuffled}});
    RC_ASSERT(std::holds_alternative<Blueprint>(parsed));
    const auto& blueprint = std::get<Blueprint>(parsed);
    RC_ASSERT(blueprint.slices.size() == static_cast<std::size_t>(count));
    std::set<std::string> seen;
    for (const auto& slice : blueprint.slices) {
      for (const auto& dep : slice.depends_on) RC_ASSERT(seen.count(dep.to_string()) == 1);
      RC_ASSERT(slice.min_available >= 1);
      RC_ASSERT(slice.min_available <= slice.instances);
      seen.insert(slice.artifact.to_string());
    }
    auto again = parse_blueprint(blueprint_to_json(blueprint));
    RC_ASSERT(std::holds_alternative<Blueprint>(again));
    RC_ASSERT(std::get<Blueprint>(again) == blueprint);
  });
}

TEST_CASE("a rewrite is legal for either role from any state") {
  rc::prop("rewrite", [](bool cdm, std::uint8_t raw) {
    const auto state = static_cast<SliceState>(raw % 11);
    const auto role = cdm ? LifecycleRole::Cdm : LifecycleRole::Ndm;
    RC_ASSERT(is_legal_transition(role, state, state));
  });
}
