// The checks are deterministic: a generated scenario played twice with the
// same seed gives the same verdict, violations, reported counts, convergence
// outcome and trace hash.
#include <rapidcheck.h>
#include <rapidcheck/catch.h>
#include <catch2/catch.hpp>

#include "properties/runner.h"
#include "tests/properties/scenario_builder.h"

using namespace aether;
using namespace aether::properties;
using namespace aether::properties::testing;
using engine::millis;
using engine::seconds;

namespace {

// A small random fault schedule over `nodes` nodes after one blueprint.
scenarios::Scenario generated(int nodes, const std::vector<std::pair<int, int>>& faults, bool aggressive,
                              bool local) {
  ScenarioBuilder b(nodes, "generated");
  nlohmann::json config = nlohmann::json::object();
  if (aggressive) config["reconciliation"] = "aggressive";
  if (local) config["leader_election"] = "local";
  b.config(config).check_convergence(!local);
  nlohmann::json bp = {
      {"id", "shop"},
      {"slices",
       {{{"artifact", "org.example:cart:1.0.0"}, {"instances", 2}, {"depends_on", {"org.example:db:1.0.0"}}},
        {{"artifact", "org.example:db:1.0.0"}, {"instances", 1}}}}};
  b.step(seconds(1), scenarios::BlueprintStep{bp, "default"});
  engine::Nanos at = seconds(2);
  for (const auto& [kind, who] : faults) {
    at += millis(500 + 700 * (who % 5));
    const auto id = "node-" + std::to_string(1 + who % nodes);
    switch (kind % 4) {
      case 0:
        b.step(at, scenarios::PartitionStep{{{node(id)}}});
        break;
      case 1:
        b.step(at, scenarios::HealStep{});
        break;
      case 2:
        b.step(at, scenarios::ScaleStep{"org.example:cart", who % 4, "default"});
        break;
      default:
        b.step(at, scenarios::IsolateStep{node(id)});
        break;
    }
  }
  b.step(at + seconds(1), scenarios::HealStep{});
  b.get().run_for = at + seconds(20);
  return b.get();
}

bool same(const RunResult& a, const RunResult& b) {
  if (a.verdict != b.verdict || a.trace_hash != b.trace_hash || a.events != b.events) return false;
  if (a.violations.size() != b.violations.size() || a.reported != b.reported) return false;
  for (std::size_t i = 0; i < a.violations.size(); ++i) {
    const auto& x = a.violations[i];
    const auto& y = b.violations[i];
    if (x.invariant != y.invariant || x.time != y.time || x.node != y.node || x.message != y.message ||
        x.events != y.events) {
      return false;
    }
  }
  return a.convergence.held == b.convergence.held &&
         a.convergence.converged_at == b.convergence.converged_at &&
         a.convergence.blocker == b.convergence.blocker && a.convergence.detail == b.convergence.detail &&
         a.client_commits == b.client_commits && a.counters == b.counters;
}

}  // namespace

TEST_CASE("the same generated scenario and seed give the same verdicts and trace hash") {
  rc::prop("replaying a run reproduces it", [] {
    const int nodes = *rc::gen::inRange(3, 7);
    const auto faults = *rc::gen::container<std::vector<std::pair<int, int>>>(
        *rc::gen::inRange(0, 6), rc::gen::pair(rc::gen::inRange(0, 4), rc::gen::inRange(0, 100)));
    const bool aggressive = *rc::gen::arbitrary<bool>();
    const bool local = *rc::gen::arbitrary<bool>();
    const auto seed = *rc::gen::inRange<std::uint64_t>(0, 1000);
    const auto scenario = generated(nodes, faults, aggressive, local);
    RunOptions options;
    options.seed = seed;
    const auto first = run_scenario(scenario, options);
    const auto second = run_scenario(scenario, options);
    RC_ASSERT(first.verdict != Verdict::FrameworkError);
    RC_ASSERT(same(first, second));
  });
}
