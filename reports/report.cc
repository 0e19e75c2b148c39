#include "reports/report.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include <fmt/format.h>

#include "engine/config.h"
#include "properties/human_time.h"
#include "scenarios/writer.h"

namespace aether::reports {

std::string human(Nanos ns) {
  return properties::human_duration(ns);
}

namespace {

// Where the value of `"key":` starts in a trace line (first occurrence), or
// npos. No allocation: this runs on every trace line of a reported run.
std::size_t value_at(std::string_view line, std::string_view key) {
  std::size_t from = 0;
  while (true) {
    const auto at = line.find(key, from);
    if (at == std::string_view::npos) return at;
    const auto after = at + key.size();
    if (at > 0 && line[at - 1] == '"' && after + 1 < line.size() && line[after] == '"' &&
        line[after + 1] == ':')
      return after + 2;
    from = at + 1;
  }
}

// The value of `"key":"..."`; node ids, writers and ops carry no escapes.
std::string_view str_field(std::string_view line, std::string_view key) {
  auto start = value_at(line, key);
  if (start == std::string_view::npos || start >= line.size() || line[start] != '"') return {};
  ++start;
  const auto end = line.find('"', start);
  if (end == std::string_view::npos) return {};
  return line.substr(start, end - start);
}

std::optional<std::int64_t> int_field(std::string_view line, std::string_view key) {
  std::size_t i = value_at(line, key);
  if (i == std::string_view::npos) return std::nullopt;
  bool negative = false;
  if (i < line.size() && line[i] == '-') {
    negative = true;
    ++i;
  }
  std::int64_t value = 0;
  bool any = false;
  while (i < line.size() && line[i] >= '0' && line[i] <= '9') {
    value = value * 10 + (line[i] - '0');
    ++i;
    any = true;
  }
  if (!any) return std::nullopt;
  return negative ? -value : value;
}

std::uint64_t u64_field(std::string_view line, std::string_view key) {
  const auto at = value_at(line, key);
  if (at == std::string_view::npos) return 0;
  std::uint64_t value = 0;
  for (std::size_t i = at; i < line.size() && line[i] >= '0' && line[i] <= '9'; ++i)
    value = value * 10 + static_cast<std::uint64_t>(line[i] - '0');
  return value;
}

std::string join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) out += (i ? sep : "") + parts[i];
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------
// TraceCollector

void TraceCollector::add_node(const std::string& node) {
  if (node.empty() || known_.count(node)) return;
  known_.insert(node);
  nodes.push_back(node);
}

void TraceCollector::open_state(const std::string& node, const std::string& label, Nanos t) {
  close_state(node, t);
  open_states_[node] = node_states.size();
  node_states.push_back({node, label, t, t});
}

void TraceCollector::close_state(const std::string& node, Nanos t) {
  auto it = open_states_.find(node);
  if (it == open_states_.end()) return;
  node_states[it->second].to = t;
  open_states_.erase(it);
}

void TraceCollector::open_tenure(const std::string& node, Nanos t) {
  if (open_tenures_.count(node)) return;
  open_tenures_[node] = tenures.size();
  tenures.push_back({node, "leader", t, t});
}

void TraceCollector::close_tenure(const std::string& node, Nanos t) {
  auto it = open_tenures_.find(node);
  if (it == open_tenures_.end()) return;
  tenures[it->second].to = t;
  open_tenures_.erase(it);
}

void TraceCollector::close_network(Nanos t, const std::string& only_node) {
  std::vector<std::pair<std::string, std::size_t>> kept;
  for (const auto& [node, index] : open_network_) {
    if (only_node.empty() || node == only_node) {
      network[index].to = t;
    } else {
      kept.emplace_back(node, index);
    }
  }
  open_network_ = std::move(kept);
}

bool TraceCollector::wants(std::string_view kind) {
  return kind == "kv.submit" || kind == "kv.decide" || kind == "kv.drop" || kind == "slice.done" ||
         kind == "view" || kind == "leader" || kind == "cdm.activated" || kind == "run.start" ||
         kind == "run.end" || kind == "cluster.start" || kind == "step" || kind.rfind("node.", 0) == 0 ||
         kind.rfind("net.", 0) == 0;
}

void TraceCollector::line(std::string_view text) {
  const std::string_view kind = str_field(text, "kind");
  const Nanos t = int_field(text, "t").value_or(last_t_);
  last_t_ = t;
  if (kind == "kv.submit") {
    auto& subs = batches_[u64_field(text, "batch")];
    std::pair<std::string, std::string> s{std::string(str_field(text, "node")),
                                          std::string(str_field(text, "writer"))};
    if (std::find(subs.begin(), subs.end(), s) == subs.end()) subs.push_back(std::move(s));
    return;
  }
  if (kind == "kv.decide") {
    auto it = batches_.find(u64_field(text, "batch"));
    if (it == batches_.end()) return;
    std::set<std::string> writers;
    std::set<std::string> cdm_nodes;
    for (const auto& [node, writer] : it->second) {
      writers.insert(writer);
      if (writer == "cdm") cdm_nodes.insert(node);
    }
    for (const auto& w : writers) ++commits_by_writer[w];
    for (const auto& n : cdm_nodes) cdm_writes.push_back({t, n});
    batches_.erase(it);
    return;
  }
  if (kind == "kv.drop") {
    batches_.erase(u64_field(text, "batch"));
    return;
  }
  if (kind == "slice.done") {
    if (str_field(text, "op") == "activate" && text.find("\"ok\":true") != std::string_view::npos)
      activations.push_back({t, std::string(str_field(text, "node"))});
    return;
  }
  if (kind == "view") {
    const auto change = str_field(text, "change");
    if (change == "removed" || change == "down")
      views_lost.push_back({t, std::string(str_field(text, "node"))});
    return;
  }
  if (kind == "leader") {
    const std::string node(str_field(text, "node"));
    const std::string leader(str_field(text, "leader"));
    if (!node.empty() && node == leader) {
      open_tenure(node, t);
    } else {
      close_tenure(node, t);
    }
    return;
  }
  if (kind == "cdm.activated") {
    cdm_activations.push_back({t, std::string(str_field(text, "node"))});
    return;
  }
  const bool wanted = kind == "run.start" || kind == "run.end" || kind == "cluster.start" ||
                      kind.rfind("node.", 0) == 0 || kind.rfind("net.", 0) == 0 || kind == "step";
  if (!wanted) return;
  const auto j = nlohmann::json::parse(text);
  const auto s = [&](const char* key) {
    return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : std::string();
  };
  if (kind == "run.start") {
    saw_run_start = true;
    scenario = s("scenario");
    seed = j.value("seed", std::uint64_t{0});
  } else if (kind == "run.end") {
    saw_run_end = true;
  } else if (kind == "cluster.start") {
    for (const auto& n : j.at("nodes")) add_node(n.get<std::string>());
  } else if (kind == "node.crash" || kind == "node.pause" || kind == "node.remove") {
    const std::string node = s("node");
    add_node(node);
    open_state(node, kind == "node.crash" ? "down" : kind == "node.pause" ? "paused" : "removed", t);
    close_tenure(node, t);
  } else if (kind == "node.restart" || kind == "node.resume" || kind == "node.add") {
    add_node(s("node"));
    close_state(s("node"), t);
  } else if (kind == "net.partition") {
    close_network(t, "");
    std::vector<std::string> groups;
    for (const auto& [key, value] : j.items()) {
      if (key.rfind("group", 0) != 0) continue;
      std::vector<std::string> members;
      for (const auto& m : value) members.push_back(m.get<std::string>());
      groups.push_back(join(members, ","));
    }
    open_network_.emplace_back("", network.size());
    network.push_back({"", "partition " + join(groups, " | "), t, t});
  } else if (kind == "net.isolate") {
    open_network_.emplace_back(s("node"), network.size());
    network.push_back({s("node"), "isolate " + s("node"), t, t});
  } else if (kind == "net.link") {
    const auto loss = j.value("loss_ppm", std::int64_t{0});
    const auto delay = j.value("delay_ns", std::int64_t{0});
    std::string label = loss >= 1000000 ? fmt::format("cut {} -> {}", s("from"), s("to"))
                                        : fmt::format("link {} -> {} loss {}ppm delay {}", s("from"), s("to"),
                                                      loss, human(delay));
    if (loss == 0 && delay == 0) {
      // A rule back to normal ends the earlier rule of that link.
      std::vector<std::pair<std::string, std::size_t>> kept;
      for (const auto& [node, index] : open_network_) {
        if (network[index].node == s("from") &&
            network[index].label.find("-> " + s("to")) != std::string::npos)
          network[index].to = t;
        else
          kept.emplace_back(node, index);
      }
      open_network_ = std::move(kept);
      return;
    }
    open_network_.emplace_back(s("from"), network.size());
    network.push_back({s("from"), label, t, t});
  } else if (kind == "net.heal") {
    close_network(t, s("node"));
  } else if (kind == "step") {
    std::string label = s("step");
    for (const char* key : {"node", "id", "artifact", "key", "from", "to", "writer"}) {
      if (j.contains(key)) label += " " + s(key);
    }
    if (j.contains("instances")) label += fmt::format(" x{}", j["instances"].get<std::int64_t>());
    steps.push_back({t, s("path"), label});
  }
}

void TraceCollector::end(Nanos run_end) {
  for (const auto& [node, index] : open_states_) node_states[index].to = run_end;
  open_states_.clear();
  for (const auto& [node, index] : open_tenures_) tenures[index].to = run_end;
  open_tenures_.clear();
  for (const auto& [node, index] : open_network_) network[index].to = run_end;
  open_network_.clear();
}

// ---------------------------------------------------------------------------
// The model

namespace {

nlohmann::ordered_json opt_ns(const std::optional<Nanos>& v) {
  return v ? nlohmann::ordered_json(*v) : nlohmann::ordered_json(nullptr);
}

nlohmann::ordered_json span_json(const TraceCollector::Span& s) {
  nlohmann::ordered_json j;
  if (!s.node.empty()) j["node"] = s.node;
  j["label"] = s.label;
  j["from_ns"] = s.from;
  j["to_ns"] = s.to;
  return j;
}

// Instance-seconds with millisecond precision (a fixed decimal rendering
// keeps report.json byte-identical across runs).
nlohmann::ordered_json instance_seconds(std::int64_t instance_ns) {
  return nlohmann::ordered_json(static_cast<double>(instance_ns / 1000000) / 1000.0);
}

}  // namespace

nlohmann::ordered_json build_report(const scenarios::Scenario& scenario, const properties::RunResult& r,
                                    const TraceCollector& trace, const ReportContext& context) {
  const auto& fig = r.figures;
  const Nanos end = r.simulated_end;
  nlohmann::ordered_json j;
  j["format"] = "aethersim-report/1";
  j["version"] = context.version;
  j["scenario"] = {{"name", scenario.name}, {"file", scenario.file}, {"description", scenario.description}};
  j["seed"] = r.seed;
  j["replay"] = context.replay;

  nlohmann::ordered_json config;
  config["cluster"] =
      scenarios::scenario_to_json(scenario).value("cluster", nlohmann::ordered_json::object());
  engine::EngineConfig engine_config;
  engine::parse_engine_config(scenario.config, engine_config);
  config["engine"] = nlohmann::ordered_json::parse(engine::engine_config_to_json(engine_config).dump());
  j["config"] = config;

  j["verdict"] = properties::verdict_name(r.verdict);
  if (!r.input_error.empty()) j["input_error"] = r.input_error;
  if (!r.framework_error.empty()) j["framework_error"] = r.framework_error;

  auto violations = nlohmann::ordered_json::array();
  for (const auto& v : r.violations) {
    const bool pinned = std::find(r.pinned.begin(), r.pinned.end(), v.invariant) != r.pinned.end();
    violations.push_back({{"invariant", v.invariant},
                          {"time_ns", v.time},
                          {"node", v.node},
                          {"message", v.message},
                          {"pinned", pinned},
                          {"events", v.events}});
  }
  j["violations"] = violations;

  auto expectations = nlohmann::ordered_json::array();
  for (const auto& e : r.expectations) {
    expectations.push_back({{"path", e.path},
                            {"description", e.description},
                            {"held", e.held},
                            {"met_ns", opt_ns(e.met_at)},
                            {"detail", e.detail}});
  }
  j["expectations"] = expectations;

  const auto& c = r.convergence;
  j["convergence"] = {{"checked", c.checked},
                      {"owed", c.owed},
                      {"not_owed_reason", c.not_owed_reason},
                      {"held", c.held},
                      {"converged_ns", opt_ns(c.converged_at)},
                      {"blocker", c.blocker},
                      {"detail", c.detail},
                      {"t0_ns", opt_ns(c.t0)},
                      {"bound_ns", c.bound_ns},
                      {"quiet_ns", c.quiet_ns}};

  // Instances lost: decreases of a base's counted ACTIVE count while its
  // desired count did not fall.
  std::int64_t lost = 0;
  for (const auto& [base, points] : fig.bases) {
    for (std::size_t i = 1; i < points.size(); ++i) {
      if (points[i].active < points[i - 1].active && points[i].desired >= points[i - 1].desired)
        lost += points[i - 1].active - points[i].active;
    }
  }
  auto reported = [&](const char* key) {
    auto it = r.reported.find(key);
    return it == r.reported.end() ? std::int64_t{0} : it->second;
  };
  nlohmann::ordered_json metrics;
  metrics["events"] = r.events;
  metrics["simulated_ns"] = end;
  metrics["wall_s"] = context.wall_s;
  metrics["kv_commits_by_writer"] = trace.commits_by_writer;
  metrics["engine_writes"] = fig.engine_writes;
  metrics["leader_changes"] = trace.tenures.size();
  metrics["instances_placed"] = trace.activations.size();
  metrics["instances_moved"] = fig.moved();
  metrics["instances_lost"] = lost;
  metrics["lost_updates"] = reported("lost-update");
  metrics["late_commits"] = reported("late-commit");
  metrics["worst"] = fig.worst_permille() ? nlohmann::ordered_json{{"active", fig.worst_active},
                                                                   {"desired", fig.worst_desired},
                                                                   {"at_ns", fig.worst_at}}
                                          : nlohmann::ordered_json(nullptr);
  metrics["engine_counters"] = r.counters;
  j["metrics"] = metrics;

  auto failovers = nlohmann::ordered_json::array();
  for (std::size_t i = 0; i < fig.failovers.size(); ++i) {
    const auto& f = fig.failovers[i];
    const Nanos window_end = i + 1 < fig.failovers.size() ? fig.failovers[i + 1].fault_at : end;
    const Nanos until = f.lost && f.recovered_at ? *f.recovered_at : window_end;
    nlohmann::ordered_json fj;
    fj["fault"] = f.fault;
    fj["fault_ns"] = f.fault_at;
    std::optional<Nanos> detection;
    std::string detection_node;
    for (const auto& v : trace.views_lost) {
      if (v.at >= f.fault_at && v.at < window_end) {
        detection = v.at;
        detection_node = v.node;
        break;
      }
    }
    fj["detection_ns"] = opt_ns(detection);
    fj["detection_node"] = detection_node;
    const TraceCollector::Span* tenure = nullptr;
    for (const auto& t : trace.tenures) {
      if (t.from >= f.fault_at && t.from < window_end) {
        tenure = &t;
        break;
      }
    }
    std::string kept;
    for (const auto& t : trace.tenures) {
      if (t.from < f.fault_at && t.to > f.fault_at) kept = t.node;
    }
    fj["new_leader"] = tenure ? nlohmann::ordered_json(tenure->node) : nlohmann::ordered_json(nullptr);
    fj["leader_elected_ns"] = tenure ? nlohmann::ordered_json(tenure->from) : nlohmann::ordered_json(nullptr);
    fj["leader_kept"] = tenure ? std::string() : kept;
    std::optional<Nanos> activation_done;
    if (tenure) {
      std::optional<Nanos> activated;
      for (const auto& a : trace.cdm_activations) {
        if (a.node == tenure->node && a.at >= f.fault_at && a.at < window_end) {
          activated = a.at;
          break;
        }
      }
      if (activated) {
        activation_done = activated;
        for (const auto& w : trace.cdm_writes) {
          if (w.node == tenure->node && w.at >= *activated && w.at < window_end) {
            activation_done = w.at;
            break;
          }
        }
      }
    }
    fj["activation_done_ns"] = opt_ns(activation_done);
    std::optional<Nanos> all_active = f.lost ? f.recovered_at : std::optional<Nanos>(f.fault_at);
    fj["placeable_lost"] = f.lost;
    fj["all_active_ns"] = opt_ns(all_active);
    fj["recovery_ns"] = opt_ns(f.recovery());
    std::int64_t moved = 0;
    for (const auto& a : trace.activations) {
      if (a.at >= f.fault_at && a.at <= until) ++moved;
    }
    fj["instances_moved"] = moved;
    fj["lost_capacity_until_ns"] = until;
    auto capacity = nlohmann::ordered_json::array();
    std::int64_t total = 0;
    for (const auto& [base, points] : fig.bases) {
      const std::int64_t ns = fig.lost_capacity_ns(base, f.fault_at, until);
      total += ns;
      capacity.push_back({{"artifact", base}, {"instance_seconds", instance_seconds(ns)}});
    }
    fj["lost_capacity"] = capacity;
    fj["lost_capacity_total"] = instance_seconds(total);
    failovers.push_back(fj);
  }
  j["failovers"] = failovers;

  nlohmann::ordered_json timeline;
  timeline["end_ns"] = end;
  timeline["nodes"] = trace.nodes;
  auto states = nlohmann::ordered_json::array();
  for (const auto& s : trace.node_states) states.push_back(span_json(s));
  timeline["node_states"] = states;
  auto tenures = nlohmann::ordered_json::array();
  for (const auto& s : trace.tenures) tenures.push_back(span_json(s));
  timeline["leader_tenures"] = tenures;
  auto network = nlohmann::ordered_json::array();
  for (const auto& s : trace.network) network.push_back(span_json(s));
  timeline["network"] = network;
  auto steps = nlohmann::ordered_json::array();
  for (const auto& s : trace.steps) steps.push_back({{"path", s.path}, {"at_ns", s.at}, {"label", s.label}});
  timeline["steps"] = steps;
  auto artifacts = nlohmann::ordered_json::array();
  for (const auto& [base, points] : fig.bases) {
    auto p = nlohmann::ordered_json::array();
    for (const auto& point : points) p.push_back({point.at, point.desired, point.active});
    artifacts.push_back({{"artifact", base}, {"points", p}});
  }
  timeline["artifacts"] = artifacts;
  j["timeline"] = timeline;
  return j;
}

// ---------------------------------------------------------------------------
// Files

void write_atomic(const std::string& path, const std::string& content) {
  const std::string temp = path + ".tmp." + std::to_string(::getpid());
  std::FILE* f = std::fopen(temp.c_str(), "wb");
  if (f == nullptr) throw std::runtime_error(fmt::format("{}: cannot write: {}", path, std::strerror(errno)));
  const bool ok = std::fwrite(content.data(), 1, content.size(), f) == content.size();
  const bool closed = std::fclose(f) == 0;
  if (!ok || !closed) {
    std::remove(temp.c_str());
    throw std::runtime_error(fmt::format("{}: cannot write (disk full?)", path));
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    const int e = errno;
    std::remove(temp.c_str());
    throw std::runtime_error(fmt::format("{}: cannot rename into place: {}", path, std::strerror(e)));
  }
}

std::string check_writable_dir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return fmt::format("{}: cannot create the folder: {}", dir, ec.message());
  if (!std::filesystem::is_directory(dir)) return fmt::format("{}: not a folder", dir);
  if (::access(dir.c_str(), W_OK | X_OK) != 0)
    return fmt::format("{}: cannot write there: {}", dir, std::strerror(errno));
  return "";
}

void write_report_folder(const std::string& dir, const nlohmann::ordered_json& report) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw std::runtime_error(fmt::format("{}: cannot create the folder: {}", dir, ec.message()));
  write_atomic(dir + "/report.json", report.dump(2) + "\n");
  write_atomic(dir + "/report.html", render_html(report));
  write_atomic(dir + "/summary.md", render_summary(report));
}

}  // namespace aether::reports
