// Scenarios built in C++ for the runner tests: a cluster of n nodes and a
// list of steps, each with its JSON path, as the loader would produce them.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "scenarios/model.h"

namespace aether::properties::testing {

inline scenarios::Target node(const std::string& id) {
  return scenarios::Target{scenarios::Target::Kind::Node, id};
}
inline scenarios::Target leader() {
  return scenarios::Target{scenarios::Target::Kind::Leader, {}};
}
inline scenarios::Target random_node() {
  return scenarios::Target{scenarios::Target::Kind::Random, {}};
}

class ScenarioBuilder {
 public:
  explicit ScenarioBuilder(int nodes, std::string name = "test") {
    scenario_.name = std::move(name);
    for (int i = 1; i <= nodes; ++i) scenario_.cluster.nodes.push_back("node-" + std::to_string(i));
  }
  ScenarioBuilder& config(nlohmann::json config) {
    scenario_.config = std::move(config);
    return *this;
  }
  ScenarioBuilder& step(engine::Nanos at, scenarios::StepAction action) {
    scenarios::Step s;
    s.at = at;
    s.action = std::move(action);
    s.path = "steps[" + std::to_string(scenario_.steps.size()) + "]";
    scenario_.steps.push_back(std::move(s));
    return *this;
  }
  ScenarioBuilder& blueprint(engine::Nanos at, const std::string& id, const std::string& artifact,
                             int instances) {
    nlohmann::json bp = {{"id", id}, {"slices", {{{"artifact", artifact}, {"instances", instances}}}}};
    return step(at, scenarios::BlueprintStep{bp, "default"});
  }
  template <typename What>
  ScenarioBuilder& expect(engine::Nanos at, const What& what,
                          std::optional<engine::Nanos> within = std::nullopt) {
    scenarios::ExpectStep e;
    e.what.template emplace<What>(what);
    e.within = within;
    return step(at, scenarios::StepAction(std::in_place_type<scenarios::ExpectStep>, std::move(e)));
  }
  ScenarioBuilder& check_convergence(bool on) {
    scenario_.check_convergence = on;
    return *this;
  }
  ScenarioBuilder& max_events(std::uint64_t n) {
    scenario_.max_events = n;
    return *this;
  }
  scenarios::Scenario& get() { return scenario_; }

 private:
  scenarios::Scenario scenario_;
};

}  // namespace aether::properties::testing
