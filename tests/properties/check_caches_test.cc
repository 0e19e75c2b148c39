// The checks' caches (issue 14, seventh pass; docs/decisions.md): liveness
// is recomputed only after a view change or a node fault, the convergence
// check's parse of the slices/ entries only after a decided batch, the run
// figures' ACTIVE counts only for the keys and nodes that changed. If any
// other world change could move them, a cached run would judge a stale
// world. Every shipped scenario and generated cases of every fuzz profile are
// played with the caches on and off (RunOptions::cache_checks): traces,
// verdicts, violations, expectations, convergence and run figures must be
// identical.
#include <catch2/catch.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "properties/runner.h"
#include "properties/scenario_gen.h"
#include "scenarios/loader.h"
#include "tests/properties/shipped_scenarios.h"

using namespace aether;
using namespace aether::properties;

namespace {

struct Played {
  RunResult result;
  std::vector<std::string> lines;
};

Played play(const scenarios::Scenario& scenario, std::uint64_t seed, bool cached) {
  Played out;
  RunOptions options;
  options.seed = seed;
  options.cache_checks = cached;
  options.trace_line_observer = [&](std::uint64_t, const std::string& line) { out.lines.push_back(line); };
  out.result = run_scenario(scenario, options);
  return out;
}

void require_same(const scenarios::Scenario& scenario, std::uint64_t seed) {
  const Played cached = play(scenario, seed, true);
  const Played fresh = play(scenario, seed, false);
  const RunResult& a = cached.result;
  const RunResult& b = fresh.result;
  REQUIRE(a.verdict == b.verdict);
  REQUIRE(a.violations.size() == b.violations.size());
  for (std::size_t i = 0; i < b.violations.size(); ++i) {
    CHECK(a.violations[i].invariant == b.violations[i].invariant);
    CHECK(a.violations[i].message == b.violations[i].message);
  }
  REQUIRE(a.expectations.size() == b.expectations.size());
  for (std::size_t i = 0; i < b.expectations.size(); ++i) {
    CHECK(a.expectations[i].held == b.expectations[i].held);
    CHECK(a.expectations[i].detail == b.expectations[i].detail);
    CHECK(a.expectations[i].met_at == b.expectations[i].met_at);
  }
  CHECK(a.convergence.held == b.convergence.held);
  CHECK(a.convergence.converged_at == b.convergence.converged_at);
  CHECK(a.convergence.blocker == b.convergence.blocker);
  CHECK(a.convergence.detail == b.convergence.detail);
  const RunFigures& fa = a.figures;
  const RunFigures& fb = b.figures;
  CHECK(fa.full_at == fb.full_at);
  CHECK(fa.worst_active == fb.worst_active);
  CHECK(fa.worst_desired == fb.worst_desired);
  CHECK(fa.worst_at == fb.worst_at);
  CHECK(fa.moved() == fb.moved());
  REQUIRE(fa.failovers.size() == fb.failovers.size());
  for (std::size_t i = 0; i < fb.failovers.size(); ++i) {
    CHECK(fa.failovers[i].lost == fb.failovers[i].lost);
    CHECK(fa.failovers[i].recovered_at == fb.failovers[i].recovered_at);
  }
  REQUIRE(fa.bases.size() == fb.bases.size());
  for (const auto& [base, points] : fb.bases) {
    const auto& mine = fa.bases.at(base);
    REQUIRE(mine.size() == points.size());
    for (std::size_t i = 0; i < points.size(); ++i) {
      CHECK(mine[i].at == points[i].at);
      CHECK(mine[i].desired == points[i].desired);
      CHECK(mine[i].active == points[i].active);
    }
  }
  REQUIRE(cached.lines.size() == fresh.lines.size());
  for (std::size_t i = 0; i < fresh.lines.size(); ++i) {
    INFO("trace line " << i + 1);
    REQUIRE(cached.lines[i] == fresh.lines[i]);
  }
}

}  // namespace

TEST_CASE("the checks' caches change nothing in any shipped scenario") {
  const auto files = testing::shipped_scenario_files();
  REQUIRE(files.size() > 100);
  for (const auto& file : files) {
    const auto loaded = scenarios::load_scenario_file(file.string());
    REQUIRE(loaded.ok());
    for (std::uint64_t seed : {std::uint64_t{1}, std::uint64_t{7}}) {
      INFO(file.filename().string() << " seed " << seed);
      require_same(*loaded.scenario, seed);
    }
  }
}

TEST_CASE("the checks' caches change nothing in any fuzz profile") {
  int compared = 0;
  for (const auto& profile : gen::profiles()) {
    for (std::uint64_t seed = 1; seed <= 8; ++seed) {
      const gen::GeneratedCase generated = gen::generate_case(profile.name, seed);
      INFO(profile.name << " seed " << seed);
      require_same(generated.scenario, seed);
      ++compared;
    }
  }
  CHECK(compared == static_cast<int>(gen::profiles().size()) * 8);
}
