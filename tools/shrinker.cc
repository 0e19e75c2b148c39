#include "tools/shrinker.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "scenarios/loader.h"
#include "scenarios/writer.h"

namespace aether::tools {

using scenarios::Scenario;
using scenarios::Step;
using Clock = std::chrono::steady_clock;

std::optional<Scenario> round_trip(const Scenario& scenario) {
  auto copy = scenario;
  for (std::size_t i = 0; i < copy.steps.size(); ++i) copy.steps[i].path = "steps[" + std::to_string(i) + "]";
  const auto loaded = scenarios::load_scenario_text(scenarios::write_scenario(copy), scenario.file);
  if (!loaded.ok()) return std::nullopt;
  auto out = *loaded.scenario;
  out.file = scenario.file;
  return out;
}

namespace {

bool names_node(const scenarios::Target& t, const std::string& node) {
  return t.kind == scenarios::Target::Kind::Node && t.node == node;
}

// The scenario without node `node` (steps aimed at it dropped, partition
// groups without it); nullopt if nothing is left to make sense of.
std::optional<Scenario> without_node(const Scenario& s, const std::string& node) {
  Scenario out = s;
  out.cluster.nodes.erase(std::remove(out.cluster.nodes.begin(), out.cluster.nodes.end(), node),
                          out.cluster.nodes.end());
  if (out.cluster.nodes.empty()) return std::nullopt;
  std::vector<Step> steps;
  for (auto step : out.steps) {
    bool keep = true;
    std::visit(
        [&](auto& a) {
          using A = std::decay_t<decltype(a)>;
          if constexpr (requires { a.target; }) {
            if (names_node(a.target, node)) keep = false;
          } else if constexpr (std::is_same_v<A, scenarios::LinkStep>) {
            if (names_node(a.from, node) || names_node(a.to, node)) keep = false;
          } else if constexpr (std::is_same_v<A, scenarios::HealStep>) {
            if (a.node && names_node(*a.node, node)) keep = false;
          } else if constexpr (std::is_same_v<A, scenarios::PartitionStep>) {
            std::vector<std::vector<scenarios::Target>> groups;
            for (auto g : a.groups) {
              g.erase(std::remove_if(g.begin(), g.end(), [&](const auto& t) { return names_node(t, node); }),
                      g.end());
              if (!g.empty()) groups.push_back(g);
            }
            if (groups.empty()) keep = false;
            a.groups = groups;
          } else if constexpr (std::is_same_v<A, scenarios::KvPutStep> ||
                               std::is_same_v<A, scenarios::KvRemoveStep>) {
            if (a.key.find("/" + node + "/") != std::string::npos || a.key == "node-lifecycle/" + node)
              keep = false;
          }
        },
        step.action);
    if (keep) steps.push_back(step);
  }
  out.steps = steps;
  return out;
}

class Shrinker {
 public:
  Shrinker(std::uint64_t seed, SeedOutcome original, const ShrinkOptions& options)
      : seed_(seed),
        original_(std::move(original)),
        options_(options),
        deadline_(Clock::now() + options.budget) {}

  ShrinkResult run(const Scenario& start) {
    ShrinkResult result;
    result.original = original_;
    result.final_outcome = original_;
    best_ = round_trip(start).value_or(start);
    bool progress = true;
    while (progress && !out_of_time()) {
      progress = false;
      progress |= drop_steps();
      progress |= drop_nodes();
      progress |= simplify_steps();
      progress |= simplify_settings();
    }
    result.minimal = best_;
    result.attempts = attempts_;
    result.accepted = accepted_;
    result.out_of_budget = out_of_time();
    if (!last_outcome_.key.empty()) result.final_outcome = last_outcome_;
    return result;
  }

 private:
  bool out_of_time() const { return Clock::now() >= deadline_ || (options_.stop && options_.stop()); }

  // Tries a candidate; keeps it if it fails the same way.
  bool attempt(const Scenario& candidate, const std::string& what) {
    if (out_of_time()) return false;
    const auto valid = round_trip(candidate);
    if (!valid) return false;
    if (scenarios::write_scenario(*valid) == scenarios::write_scenario(best_)) return false;
    ++attempts_;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now());
    const auto timeout = original_.key == "hang" ? options_.run_timeout
                                                 : std::min(options_.run_timeout,
                                                            std::max(left, std::chrono::milliseconds(1000)));
    const Scenario c = *valid;
    const auto seed = seed_;
    const auto outcome =
        run_isolated([c, seed] { return run_in_process(c, seed, InProcessOptions{}); }, timeout);
    if (outcome.key != original_.key) return false;
    best_ = *valid;
    last_outcome_ = outcome;
    ++accepted_;
    if (options_.progress) {
      options_.progress(fmt::format("  shrink: {} -> {} steps, {} nodes ({} tried, {} kept)", what,
                                    best_.steps.size(), best_.cluster.nodes.size(), attempts_, accepted_));
    }
    return true;
  }

  bool drop_steps() {
    bool any = false;
    for (std::size_t chunk = std::max<std::size_t>(1, best_.steps.size() / 2); chunk >= 1 && !out_of_time();
         chunk /= 2) {
      for (std::size_t start = 0; start < best_.steps.size() && !out_of_time();) {
        Scenario c = best_;
        const auto end = std::min(c.steps.size(), start + chunk);
        c.steps.erase(c.steps.begin() + static_cast<std::ptrdiff_t>(start),
                      c.steps.begin() + static_cast<std::ptrdiff_t>(end));
        if (attempt(c, fmt::format("dropped steps {}..{}", start, end - 1))) {
          any = true;  // the same start now names the next chunk
        } else {
          start += chunk;
        }
      }
      if (chunk == 1) break;
    }
    return any;
  }

  bool drop_nodes() {
    bool any = false;
    for (std::size_t i = best_.cluster.nodes.size(); i-- > 0 && !out_of_time();) {
      if (best_.cluster.nodes.size() <= 1 || i >= best_.cluster.nodes.size()) continue;
      const auto node = best_.cluster.nodes[i];
      const auto c = without_node(best_, node);
      if (c && attempt(*c, "dropped " + node)) any = true;
    }
    return any;
  }

  bool simplify_steps() {
    bool any = false;
    for (std::size_t i = 0; i < best_.steps.size() && !out_of_time(); ++i) {
      // Move earlier: to the previous step's instant, then halfway.
      const engine::Nanos previous = i == 0 ? 0 : best_.steps[i - 1].at;
      for (const engine::Nanos at : {previous, previous + (best_.steps[i].at - previous) / 2}) {
        if (at >= best_.steps[i].at) continue;
        Scenario c = best_;
        const auto delta = c.steps[i].at - at;
        for (std::size_t k = i; k < c.steps.size(); ++k) c.steps[k].at -= delta;  // keeps the gaps after it
        if (attempt(c, fmt::format("moved steps[{}] earlier", i))) {
          any = true;
          break;
        }
      }
      if (i >= best_.steps.size()) break;
      // Lower counts and rates.
      Scenario c = best_;
      bool changed = false;
      std::visit(
          [&](auto& a) {
            using A = std::decay_t<decltype(a)>;
            if constexpr (std::is_same_v<A, scenarios::ScaleStep>) {
              if (a.instances > 0) {
                a.instances = a.instances / 2;
                changed = true;
              }
            } else if constexpr (std::is_same_v<A, scenarios::BlueprintStep>) {
              auto& slices = a.blueprint["slices"];
              for (auto& s : slices) {
                const int n = s.value("instances", 1);
                if (n > 1) {
                  s["instances"] = n / 2 > 0 ? n / 2 : 1;
                  s.erase("min_available");
                  changed = true;
                }
              }
            } else if constexpr (std::is_same_v<A, scenarios::SliceFailuresStep>) {
              if (a.fatal_ppm > 0 && a.transient_ppm > 0) {
                a.fatal_ppm = 0;
                changed = true;
              }
            } else if constexpr (std::is_same_v<A, scenarios::LinkStep>) {
              if (a.delay > 0 && a.loss_ppm > 0) {
                a.delay = 0;
                changed = true;
              }
            }
          },
          c.steps[i].action);
      if (changed && attempt(c, fmt::format("lowered steps[{}]", i))) any = true;
      // Drop one slice of a blueprint (one nothing depends on).
      if (const auto* bp = std::get_if<scenarios::BlueprintStep>(&best_.steps[i].action)) {
        const auto& slices = bp->blueprint["slices"];
        for (std::size_t k = 0; slices.size() > 1 && k < slices.size() && !out_of_time(); ++k) {
          const auto artifact = slices[k].value("artifact", std::string());
          bool needed = false;
          for (const auto& other : slices)
            if (other.contains("depends_on"))
              for (const auto& d : other["depends_on"]) needed = needed || d == artifact;
          if (needed) continue;
          Scenario d = best_;
          auto& dslices = std::get<scenarios::BlueprintStep>(d.steps[i].action).blueprint["slices"];
          dslices.erase(k);
          if (attempt(d, fmt::format("dropped slice {} of steps[{}]", artifact, i))) {
            any = true;
            break;
          }
        }
      }
    }
    return any;
  }

  bool simplify_settings() {
    bool any = false;
    // Config keys (mutations last: a planted failure needs them).
    std::vector<std::string> keys;
    for (const auto& [k, v] : best_.config.items()) keys.push_back(k);
    for (const auto& k : keys) {
      if (out_of_time()) break;
      Scenario c = best_;
      c.config.erase(k);
      if (attempt(c, "dropped config " + k)) any = true;
    }
    const scenarios::ClusterSpec defaults;
    auto try_cluster = [&](auto&& edit, const char* what) {
      Scenario c = best_;
      edit(c.cluster);
      if (!(c.cluster == best_.cluster) && attempt(c, what)) any = true;
    };
    try_cluster([&](scenarios::ClusterSpec& cl) { cl.kv_order = defaults.kv_order; }, "default kv_order");
    try_cluster([&](scenarios::ClusterSpec& cl) { cl.network = defaults.network; }, "default network");
    try_cluster([&](scenarios::ClusterSpec& cl) { cl.slices = defaults.slices; }, "default slice durations");
    try_cluster([&](scenarios::ClusterSpec& cl) { cl.failure_detection = defaults.failure_detection; },
                "default failure_detection");
    return any;
  }

  std::uint64_t seed_;
  SeedOutcome original_;
  SeedOutcome last_outcome_;
  ShrinkOptions options_;
  Clock::time_point deadline_;
  Scenario best_;
  int attempts_ = 0;
  int accepted_ = 0;
};

}  // namespace

ShrinkResult shrink_scenario(const Scenario& scenario, std::uint64_t seed, const SeedOutcome& original,
                             const ShrinkOptions& options) {
  Shrinker s(seed, original, options);
  return s.run(scenario);
}

}  // namespace aether::tools
