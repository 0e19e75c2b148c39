#include "scenarios/writer.h"

#include <fmt/format.h>

#include "engine/duration.h"
#include "engine/resources.h"

namespace aether::scenarios {

using ojson = nlohmann::ordered_json;

namespace {

ojson duration(Nanos ns) {
  return engine::format_duration(ns);
}

ojson range(const DurationRange& r) {
  return ojson::array({duration(r.min), duration(r.max)});
}

ojson rate(std::uint32_t ppm) {
  if (ppm == 0) return 0;
  if (ppm == 1'000'000) return 1;
  return static_cast<double>(ppm) / 1'000'000.0;
}

ojson target(const Target& t) {
  switch (t.kind) {
    case Target::Kind::Leader:
      return "leader";
    case Target::Kind::Random:
      return "random";
    case Target::Kind::Node:
      break;
  }
  return t.node;
}

bool default_node_names(const std::vector<NodeId>& nodes) {
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    if (nodes[i] != fmt::format("node-{}", i + 1)) return false;
  }
  return !nodes.empty();
}

const char* phase_name(FailurePhase phase) {
  switch (phase) {
    case FailurePhase::Load:
      return "load";
    case FailurePhase::Activate:
      return "activate";
    case FailurePhase::Any:
      break;
  }
  return "any";
}

ojson expectation(const ExpectStep& e) {
  ojson out = ojson::object();
  std::visit(
      [&](const auto& what) {
        using T = std::decay_t<decltype(what)>;
        if constexpr (std::is_same_v<T, ExpectConverged>) {
          out["converged"] = true;
        } else if constexpr (std::is_same_v<T, ExpectLeader>) {
          out["leader"] = what.node;
        } else if constexpr (std::is_same_v<T, ExpectInstances>) {
          ojson counts = ojson::object();
          for (const auto& [artifact, count] : what.by_artifact) {
            ojson c = ojson::object();
            if (count.total) c["total"] = *count.total;
            if (count.active) c["active"] = *count.active;
            counts[artifact] = c;
          }
          out["instances"] = counts;
        } else if constexpr (std::is_same_v<T, ExpectAvailable>) {
          ojson counts = ojson::object();
          for (const auto& [artifact, n] : what.min_active) counts[artifact] = n;
          out["available"] = counts;
          if (what.hold_for != 0) out["for"] = duration(what.hold_for);
        } else if constexpr (std::is_same_v<T, ExpectNoViolations>) {
          out["no_violations"] = true;
        } else if constexpr (std::is_same_v<T, ExpectViolates>) {
          out["violates"] = what.invariant;
        } else if constexpr (std::is_same_v<T, ExpectAtMost>) {
          ojson counts = ojson::object();
          for (const auto& [artifact, count] : what.by_artifact) {
            ojson c = ojson::object();
            if (count.total) c["total"] = *count.total;
            if (count.active) c["active"] = *count.active;
            counts[artifact] = c;
          }
          out["at_most"] = counts;
          if (what.hold_for != 0) out["for"] = duration(what.hold_for);
        } else if constexpr (std::is_same_v<T, ExpectWrites>) {
          ojson w = ojson::object();
          w["max"] = what.max;
          w["for"] = duration(what.hold_for);
          out["writes"] = w;
        }
      },
      e.what);
  if (e.within) out["within"] = duration(*e.within);
  return out;
}

ojson stall(const StallSpec& st) {
  return ojson{{"rate", rate(st.rate_ppm)}, {"for", range(st.length)}};
}

ojson step(const Step& s) {
  ojson out = ojson::object();
  out["at"] = duration(s.at);
  auto client = [&](const std::string& name) {
    if (name != "default") out["client"] = name;
  };
  std::visit(
      [&](const auto& a) {
        if constexpr (requires { a.via; }) {
          if (a.via) out["via"] = *a.via;
        }
      },
      s.action);
  std::visit(
      [&](const auto& a) {
        using T = std::decay_t<decltype(a)>;
        if constexpr (std::is_same_v<T, BlueprintStep>) {
          out["blueprint"] = ojson::parse(a.blueprint.dump());
          client(a.client);
        } else if constexpr (std::is_same_v<T, RemoveBlueprintStep>) {
          out["remove_blueprint"] = a.id;
          client(a.client);
        } else if constexpr (std::is_same_v<T, ScaleStep>) {
          out["scale"] = ojson{{"artifact", a.base}, {"instances", a.instances}};
          client(a.client);
        } else if constexpr (std::is_same_v<T, KvPutStep>) {
          out["kv_put"] = ojson{{"key", a.key}, {"value", a.value}};
          client(a.client);
        } else if constexpr (std::is_same_v<T, KvRemoveStep>) {
          out["kv_remove"] = a.key;
          client(a.client);
        } else if constexpr (std::is_same_v<T, DrainStep>) {
          out[a.undrain ? "undrain" : "drain"] = target(a.target);
          client(a.client);
        } else if constexpr (std::is_same_v<T, CrashStep>) {
          out["crash"] = target(a.target);
        } else if constexpr (std::is_same_v<T, RestartStep>) {
          out["restart"] = target(a.target);
        } else if constexpr (std::is_same_v<T, PauseStep>) {
          out["pause"] = target(a.target);
        } else if constexpr (std::is_same_v<T, ResumeStep>) {
          out["resume"] = target(a.target);
        } else if constexpr (std::is_same_v<T, AddNodeStep>) {
          if (!a.zone && !a.capacity) {
            out["add_node"] = a.id ? ojson(*a.id) : ojson(true);
          } else {
            ojson node = ojson::object();
            if (a.id) node["id"] = *a.id;
            if (a.zone) node["zone"] = *a.zone;
            if (a.capacity) node["capacity"] = ojson::parse(engine::capacity_to_json(*a.capacity).dump());
            out["add_node"] = node;
          }
        } else if constexpr (std::is_same_v<T, RemoveNodeStep>) {
          out["remove_node"] = target(a.target);
        } else if constexpr (std::is_same_v<T, PartitionStep>) {
          ojson groups = ojson::array();
          for (const auto& g : a.groups) {
            ojson members = ojson::array();
            for (const auto& t : g) members.push_back(target(t));
            groups.push_back(members);
          }
          out["partition"] = groups;
        } else if constexpr (std::is_same_v<T, IsolateStep>) {
          out["isolate"] = target(a.target);
        } else if constexpr (std::is_same_v<T, LinkStep>) {
          out["link"] = ojson{{"from", target(a.from)},
                              {"to", target(a.to)},
                              {"loss", rate(a.loss_ppm)},
                              {"delay", duration(a.delay)}};
        } else if constexpr (std::is_same_v<T, HealStep>) {
          out["heal"] = a.node ? target(*a.node) : ojson(true);
        } else if constexpr (std::is_same_v<T, NetworkStep>) {
          ojson n = ojson::object();
          if (a.latency) n["latency"] = range(*a.latency);
          if (a.drop_ppm) n["drop"] = rate(*a.drop_ppm);
          if (a.duplicate_ppm) n["duplicate"] = rate(*a.duplicate_ppm);
          if (a.stall) n["stall"] = stall(*a.stall);
          out["network"] = n;
        } else if constexpr (std::is_same_v<T, SliceFailuresStep>) {
          out["slice_failures"] = ojson{{"artifact", a.artifact},
                                        {"phase", phase_name(a.phase)},
                                        {"transient", rate(a.transient_ppm)},
                                        {"fatal", rate(a.fatal_ppm)}};
        } else if constexpr (std::is_same_v<T, ExpectStep>) {
          out["expect"] = expectation(a);
        } else if constexpr (std::is_same_v<T, LoseSubmitsStep>) {
          out["lose_submits"] =
              ojson{{"node", a.node ? *a.node : "*"}, {"writer", a.writer}, {"rate", rate(a.rate_ppm)}};
        } else if constexpr (std::is_same_v<T, ReorderQuorumEventsStep>) {
          out["reorder_quorum_events"] = ojson{{"node", a.node ? *a.node : "*"}, {"rate", rate(a.rate_ppm)}};
        }
      },
      s.action);
  return out;
}

}  // namespace

ojson scenario_to_json(const Scenario& scenario) {
  ojson out = ojson::object();
  out["name"] = scenario.name;
  if (!scenario.description.empty()) out["description"] = scenario.description;
  if (scenario.seed) out["seed"] = *scenario.seed;
  const ClusterSpec& c = scenario.cluster;
  ojson cluster = ojson::object();
  if (default_node_names(c.nodes)) {
    cluster["nodes"] = c.nodes.size();
  } else {
    cluster["nodes"] = c.nodes;
  }
  if (c.failure_detection_max > c.failure_detection) {
    cluster["failure_detection"] = range(DurationRange{c.failure_detection, c.failure_detection_max});
  } else {
    cluster["failure_detection"] = duration(c.failure_detection);
  }
  cluster["network"] = ojson{{"latency", range(c.network.latency)},
                             {"drop", rate(c.network.drop_ppm)},
                             {"duplicate", rate(c.network.duplicate_ppm)}};
  cluster["kv_order"] = c.kv_order == KvOrder::Seeded ? "seeded" : "adversarial";
  cluster["slices"] = ojson{{"load", range(c.slices.load)},
                            {"activate", range(c.slices.activate)},
                            {"deactivate", range(c.slices.deactivate)},
                            {"unload", range(c.slices.unload)}};
  // The simulation.md §3a keys, only when not at their defaults.
  if (c.late_commit != 0) cluster["late_commit"] = duration(c.late_commit);
  if (c.stall != StallSpec{}) cluster["stall"] = stall(c.stall);
  if (c.restore_lag != 0) cluster["restore_lag"] = duration(c.restore_lag);
  if (c.clock_drift_ppm != 0) cluster["clock_drift"] = rate(c.clock_drift_ppm);
  if (!c.zones.empty()) cluster["zones"] = ojson::parse(nlohmann::json(c.zones).dump());
  if (!c.capacity.empty()) {
    ojson capacity = ojson::object();
    for (const auto& [node, limit] : c.capacity)
      capacity[node] = ojson::parse(engine::capacity_to_json(limit).dump());
    cluster["capacity"] = capacity;
  }
  out["cluster"] = cluster;
  if (!scenario.config.empty()) out["config"] = ojson::parse(scenario.config.dump());
  if (!scenario.clients.empty()) {
    ojson clients = ojson::object();
    for (const auto& [name, spec] : scenario.clients) {
      ojson entry = ojson::object();
      if (spec.via) entry["via"] = *spec.via;
      clients[name] = entry;
    }
    out["clients"] = clients;
  }
  if (scenario.run_for) out["run_for"] = duration(*scenario.run_for);
  if (scenario.max_events != kDefaultMaxEvents) out["max_events"] = scenario.max_events;
  if (!scenario.check_convergence) out["check_convergence"] = false;
  ojson steps = ojson::array();
  for (const auto& s : scenario.steps) steps.push_back(step(s));
  out["steps"] = steps;
  return out;
}

std::string write_scenario(const Scenario& scenario) {
  return scenario_to_json(scenario).dump(2) + "\n";
}

}  // namespace aether::scenarios
