#include "scenarios/loader.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "engine/artifact.h"
#include "engine/blueprint.h"
#include "engine/config.h"
#include "engine/duration.h"
#include "engine/kv_schema.h"
#include "engine/resources.h"
#include "scenarios/json_text.h"

namespace aether::scenarios {

using nlohmann::json;

const std::vector<std::string>& known_invariant_ids() {
  static const std::vector<std::string> ids = {"replica-consistency",
                                               "lifecycle",
                                               "single-leader-per-term",
                                               "command-writer",
                                               "slice-store",
                                               "engine-assert",
                                               "event-budget",
                                               "stale-leader",
                                               "key-writer",
                                               "dependency-order",
                                               "drain-order",
                                               "drain",
                                               "capacity",
                                               "anti-affinity",
                                               "rollback",
                                               "rolling",
                                               "scale-floor",
                                               "availability-floor"};
  return ids;
}

const std::vector<StepKindDoc>& step_kind_docs() {
  static const std::vector<StepKindDoc> docs = {
      {"blueprint",
       "{id, slices: [{artifact, instances, min_available?, depends_on?, update?: {strategy: immediate | "
       "rolling, max_surge?, max_unavailable?}}]}",
       "client write: put or replace blueprints/{id}"},
      {"remove_blueprint", "\"<blueprint id>\"", "client write: remove blueprints/{id}"},
      {"scale", "{artifact: \"group:artifact\", instances}",
       "client write: rewrite that base's slice-target with a new instance count"},
      {"kv_put", "{key, value}", "client write: raw put (a string value is written as-is)"},
      {"kv_remove", "\"<key>\"", "client write: raw remove"},
      {"drain", "<target>",
       "client write: node-lifecycle/{node} = DRAINING (from ON_DUTY); the leader moves its instances away, "
       "then writes DECOMMISSIONED"},
      {"undrain", "<target>",
       "client write: node-lifecycle/{node} = ON_DUTY (from DRAINING or DECOMMISSIONED); cancels a drain"},
      {"crash", "<target>", "stop a node that is up, losing its volatile state"},
      {"restart", "<target>", "start a crashed node as a fresh process"},
      {"pause", "<target>", "freeze a node that is up and not paused"},
      {"resume", "<target>", "unfreeze a paused node"},
      {"add_node", "true | \"<node id>\" | {id?, zone?, capacity?}",
       "configure a new node (default id node-<k+1>; zone: one of cluster.zones or \"default\"; capacity: "
       "as cluster.capacity, default its \"default\")"},
      {"remove_node", "<target>", "stop a configured node forever and drop it from the configuration"},
      {"partition", "[[<target>...], ...]", "replace the partition rule; overlapping groups make a bridge"},
      {"isolate", "<target>", "cut a node from everyone"},
      {"link", "{from, to, loss?, delay?}", "one-way link rule; loss 1 cuts it"},
      {"heal", "true | <target>", "clear all partition/isolate/link rules, or put one node back everywhere"},
      {"network", "{latency?, drop?, duplicate?, stall?}", "change network settings (stall: {rate, for})"},
      {"slice_failures", "{artifact | \"*\", phase?, transient?, fatal?}", "slice-store failure rates"},
      {"expect",
       "{converged | leader | instances | available | no_violations | violates | at_most | writes, within?, "
       "for?}",
       "an expectation checked at `at` (or within a window)"},
      {"lose_submits", "{node: <node id> | \"*\", writer: cdm | ndm | leader-manager | \"*\", rate}",
       "fault point: matching submits never resolve (never decided, never answered)"},
      {"reorder_quorum_events", "{node: <node id> | \"*\", rate}",
       "fault point: engine-facing quorum notifications delivered out of order"},
  };
  return docs;
}

const std::vector<ClusterKeyDoc>& cluster_key_docs() {
  static const std::vector<ClusterKeyDoc> docs = {
      {"cluster.nodes", "(required)", "a node count, or a list of node ids"},
      {"cluster.failure_detection", "1s",
       "a duration, or a range [min, max] drawn per observer and direction (asymmetric views)"},
      {"cluster.network", "latency [1ms, 5ms]", "{latency, drop, duplicate}"},
      {"cluster.kv_order", "seeded", "seeded | adversarial"},
      {"cluster.slices", "(see docs)", "{load, activate, deactivate, unload} duration ranges"},
      {"cluster.late_commit", "0", "a batch of unknown outcome is decided up to this late, or dropped"},
      {"cluster.stall", "off", "{rate, for: [min, max]}: decisions cluster-wide stop for a drawn duration"},
      {"cluster.restore_lag", "0", "a regaining node restores a snapshot up to this old, then catches up"},
      {"cluster.clock_drift", "0", "at most 0.2: each node's timers run at a drawn rate in [1-d, 1+d]"},
      {"cluster.zones", "(all in \"default\")",
       "{\"zone\": [node ids], ...}: each initial node in at most one zone; others in zone \"default\""},
      {"cluster.capacity", "(unlimited)",
       "{\"default\" | node id: {cpu: millicores, memory: bytes or \"<n>Ki|Mi|Gi\"}}; a missing dimension "
       "is unlimited"},
      {"step via", "(any live node)", "client writes: the node a write goes through"},
      {"clients.NAME.via", "(none)", "top level: the default via of client NAME's writes"},
  };
  return docs;
}

namespace {

const std::vector<std::string> kTopKeys = {"name",   "description", "seed",       "cluster",
                                           "config", "run_for",     "max_events", "check_convergence",
                                           "steps",  "clients"};
const std::vector<std::string> kClusterKeys = {
    "nodes", "failure_detection", "network",     "kv_order", "slices",  "late_commit",
    "stall", "restore_lag",       "clock_drift", "zones",    "capacity"};
const std::vector<std::string> kNetworkKeys = {"latency", "drop", "duplicate"};
const std::vector<std::string> kNetworkStepKeys = {"latency", "drop", "duplicate", "stall"};
const std::vector<std::string> kStallKeys = {"rate", "for"};
const std::vector<std::string> kLoseSubmitsKeys = {"node", "writer", "rate"};
const std::vector<std::string> kReorderKeys = {"node", "rate"};
const std::vector<std::string> kLostWriters = {"cdm", "ndm", "leader-manager", "*"};
const std::vector<std::string> kSliceKeys = {"load", "activate", "deactivate", "unload"};
const std::vector<std::string> kClientKinds = {
    "blueprint", "remove_blueprint", "scale", "kv_put", "kv_remove", "drain", "undrain"};
const std::vector<std::string> kExpectKinds = {"converged",     "leader",   "instances", "available",
                                               "no_violations", "violates", "at_most",   "writes"};
constexpr std::uint64_t kMaxMaxEvents = 1'000'000'000'000ULL;
constexpr std::size_t kMaxKeyBytes = 1024;
constexpr std::size_t kMaxValueBytes = 1024 * 1024;
constexpr std::size_t kMaxTextBytes = 4096;
constexpr std::size_t kMaxShownKeyBytes = 100;

std::vector<std::string> step_keys() {
  std::vector<std::string> keys = {"at", "client", "via"};
  for (const auto& doc : step_kind_docs()) keys.push_back(doc.kind);
  return keys;
}

const char* type_name(const json& value) {
  switch (value.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::object:
      return "an object";
    case json::value_t::array:
      return "an array";
    case json::value_t::string:
      return "a string";
    case json::value_t::boolean:
      return "a boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return "an integer";
    case json::value_t::number_float:
      return "a number with a fraction or exponent, or beyond 64-bit integers";
    default:
      return "an unsupported value";
  }
}

bool is_client_identifier(const std::string& name) {
  // Same shape as a node id: it becomes part of the writer "client:<name>".
  return engine::is_valid_node_id(name);
}

// Trailing decimal digits of an id ("node-12" -> 12), as simulation.md §2
// uses for default add_node ids.
std::optional<std::uint64_t> numeric_suffix(const std::string& id) {
  std::size_t start = id.size();
  while (start > 0 && id[start - 1] >= '0' && id[start - 1] <= '9') --start;
  if (start == id.size() || id.size() - start > 18) return std::nullopt;
  return std::stoull(id.substr(start));
}

class Validator {
 public:
  Validator(std::string file, std::vector<ScenarioError>& errors) : file_(std::move(file)), errors_(errors) {}

  // Messages can quote the input (and the engine's parsers do); a few
  // hundred bytes say what is wrong, a quoted 10 MB string does not.
  void error(const std::string& path, std::string message) {
    constexpr std::size_t kMaxMessageBytes = 600;
    if (message.size() > kMaxMessageBytes) message = message.substr(0, kMaxMessageBytes) + "...";
    errors_.push_back({file_, path, 0, 0, std::move(message)});
  }

  Scenario run(const json& doc) {
    Scenario scenario;
    scenario.file = file_;
    if (!doc.is_object()) {
      error("", fmt::format("a scenario is a JSON object, not {}", type_name(doc)));
      return scenario;
    }
    check_keys(doc, "", kTopKeys);
    if (auto it = doc.find("name"); it != doc.end()) {
      if (auto name = text(*it, "name", false)) scenario.name = *name;
    } else {
      scenario.name = default_name();
    }
    if (auto it = doc.find("description"); it != doc.end()) {
      if (auto d = text(*it, "description", true)) scenario.description = *d;
    }
    if (auto it = doc.find("seed"); it != doc.end()) {
      if (auto seed = unsigned_integer(*it, "seed", 0, UINT64_MAX)) scenario.seed = *seed;
    }
    if (auto it = doc.find("cluster"); it != doc.end()) {
      cluster(*it, scenario.cluster);
    } else {
      error("", "missing \"cluster\" (at least {\"nodes\": N})");
    }
    if (auto it = doc.find("config"); it != doc.end()) config(*it, scenario.config);
    if (auto it = doc.find("clients"); it != doc.end()) clients(*it, scenario);
    if (auto it = doc.find("run_for"); it != doc.end()) scenario.run_for = duration(*it, "run_for");
    if (auto it = doc.find("max_events"); it != doc.end()) {
      if (auto n = unsigned_integer(*it, "max_events", 1, kMaxMaxEvents)) scenario.max_events = *n;
    }
    if (auto it = doc.find("check_convergence"); it != doc.end()) {
      if (it->is_boolean()) {
        scenario.check_convergence = it->get<bool>();
      } else {
        error("check_convergence", fmt::format("must be true or false, not {}", type_name(*it)));
      }
    }
    if (auto it = doc.find("steps"); it != doc.end()) {
      steps(*it, scenario);
      check_scale_bases();
    } else {
      error("", "missing \"steps\" (an array, possibly empty)");
    }
    return scenario;
  }

 private:
  std::string default_name() const {
    std::string stem = file_;
    if (auto slash = stem.find_last_of('/'); slash != std::string::npos) stem = stem.substr(slash + 1);
    if (auto dot = stem.rfind(".json"); dot != std::string::npos && dot + 5 == stem.size()) stem.resize(dot);
    return stem.empty() ? "scenario" : stem;
  }

  // Reports every key of `object` not in `allowed`, with a suggestion.
  void check_keys(const json& object, const std::string& path, const std::vector<std::string>& allowed) {
    for (const auto& [key, value] : object.items()) {
      if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) continue;
      // Long keys are shown shortened and get no suggestion (the edit
      // distance would cost time proportional to their length).
      const bool long_key = key.size() > kMaxShownKeyBytes;
      std::string message =
          fmt::format("unknown key \"{}{}\"", key.substr(0, kMaxShownKeyBytes), long_key ? "..." : "");
      if (auto near = long_key ? std::nullopt : engine::closest_name(key, allowed)) {
        message += fmt::format(" (did you mean \"{}\"?)", *near);
      } else {
        message += fmt::format(" (expected one of: {})", fmt::join(allowed, ", "));
      }
      error(member_path(path, key), std::move(message));
    }
  }

  bool is_object(const json& value, const std::string& path) {
    if (value.is_object()) return true;
    error(path, fmt::format("must be an object, not {}", type_name(value)));
    return false;
  }

  std::optional<std::string> text(const json& value, const std::string& path, bool allow_empty) {
    if (!value.is_string()) {
      error(path, fmt::format("must be a string, not {}", type_name(value)));
      return std::nullopt;
    }
    const auto& s = value.get_ref<const std::string&>();
    if (!allow_empty && s.empty()) {
      error(path, "must not be empty");
      return std::nullopt;
    }
    if (s.size() > kMaxTextBytes) {
      error(path, fmt::format("is {} bytes long; at most {}", s.size(), kMaxTextBytes));
      return std::nullopt;
    }
    return s;
  }

  std::optional<std::uint64_t> unsigned_integer(const json& value, const std::string& path, std::uint64_t min,
                                                std::uint64_t max) {
    if (value.is_number_unsigned()) {
      const auto n = value.get<std::uint64_t>();
      if (n >= min && n <= max) return n;
      error(path, fmt::format("must be between {} and {}, not {}", min, max, n));
      return std::nullopt;
    }
    if (value.is_number_integer()) {
      error(path, fmt::format("must be between {} and {}, not {}", min, max, value.get<std::int64_t>()));
      return std::nullopt;
    }
    error(path, fmt::format("must be an integer, not {}", type_name(value)));
    return std::nullopt;
  }

  std::optional<Nanos> duration(const json& value, const std::string& path) {
    if (!value.is_string()) {
      error(path, fmt::format("must be a duration string such as \"500ms\", not {}", type_name(value)));
      return std::nullopt;
    }
    const auto& text = value.get_ref<const std::string&>();
    if (text.size() > 32) {
      error(path, fmt::format("bad duration \"{}...\": far too long for a duration", text.substr(0, 32)));
      return std::nullopt;
    }
    std::string why;
    auto ns = engine::parse_duration(text, &why);
    if (!ns) error(path, fmt::format("bad duration \"{}\": {}", text, why));
    return ns;
  }

  // A rate in [0, 1] (or [0, 1) when `below_one`), as parts per million.
  std::optional<std::uint32_t> rate(const json& value, const std::string& path, bool below_one) {
    if (!value.is_number()) {
      error(path, fmt::format("must be a number in [0, 1], not {}", type_name(value)));
      return std::nullopt;
    }
    const double x = value.get<double>();
    if (!(x >= 0.0 && x <= 1.0) || (below_one && x >= 1.0)) {
      error(path, fmt::format("must be in [0, {}, not {}", below_one ? "1)" : "1]", value.dump()));
      return std::nullopt;
    }
    return static_cast<std::uint32_t>(std::llround(x * 1'000'000.0));
  }

  std::optional<DurationRange> range(const json& value, const std::string& path, bool positive) {
    if (!value.is_array() || value.size() != 2) {
      error(path, fmt::format("must be [min, max], two durations, not {}",
                              value.is_array() ? "an array of " + std::to_string(value.size())
                                               : std::string(type_name(value))));
      return std::nullopt;
    }
    auto min = duration(value[0], index_path(path, 0));
    auto max = duration(value[1], index_path(path, 1));
    if (!min || !max) return std::nullopt;
    if (*min > *max) {
      error(path,
            fmt::format("min {} is above max {}", value[0].get<std::string>(), value[1].get<std::string>()));
      return std::nullopt;
    }
    if (positive && *min == 0) {
      error(index_path(path, 0), "must be above 0 (every message takes some time)");
      return std::nullopt;
    }
    return DurationRange{*min, *max};
  }

  void cluster(const json& value, ClusterSpec& out) {
    if (!is_object(value, "cluster")) return;
    check_keys(value, "cluster", kClusterKeys);
    out.nodes.clear();
    if (!value.contains("nodes")) error("cluster", "missing \"nodes\" (a count, or a list of node ids)");
    const std::size_t errors_before_nodes = errors_.size();
    if (auto it = value.find("nodes"); it != value.end()) nodes(*it, out.nodes);
    nodes_known_ = !out.nodes.empty() && errors_.size() == errors_before_nodes;
    for (const auto& id : out.nodes) note_configured(id);
    if (auto it = value.find("failure_detection"); it != value.end()) {
      if (it->is_array()) {
        if (auto r = range(*it, "cluster.failure_detection", false)) {
          if (r->min == 0) {
            error("cluster.failure_detection[0]", "must be above 0");
          } else {
            out.failure_detection = r->min;
            out.failure_detection_max = r->max > r->min ? r->max : 0;
          }
        }
      } else if (it->is_string()) {
        if (auto d = duration(*it, "cluster.failure_detection")) {
          if (*d == 0) {
            error("cluster.failure_detection", "must be above 0");
          } else {
            out.failure_detection = *d;
          }
        }
      } else {
        error("cluster.failure_detection",
              fmt::format("must be a duration or a range [min, max], not {}", type_name(*it)));
      }
    }
    hostile_cluster_keys(value, out);
    placement_cluster_keys(value, out);
    if (auto it = value.find("network"); it != value.end()) {
      if (is_object(*it, "cluster.network")) {
        check_keys(*it, "cluster.network", kNetworkKeys);
        network_fields(*it, "cluster.network", out.network);
      }
    }
    if (auto it = value.find("kv_order"); it != value.end()) {
      if (auto order = text(*it, "cluster.kv_order", false)) {
        if (*order == "seeded") {
          out.kv_order = KvOrder::Seeded;
        } else if (*order == "adversarial") {
          out.kv_order = KvOrder::Adversarial;
        } else {
          error("cluster.kv_order", fmt::format("must be \"seeded\" or \"adversarial\", not \"{}\"", *order));
        }
      }
    }
    if (auto it = value.find("slices"); it != value.end()) {
      if (is_object(*it, "cluster.slices")) {
        check_keys(*it, "cluster.slices", kSliceKeys);
        DurationRange* fields[] = {&out.slices.load, &out.slices.activate, &out.slices.deactivate,
                                   &out.slices.unload};
        for (std::size_t i = 0; i < kSliceKeys.size(); ++i) {
          if (auto f = it->find(kSliceKeys[i]); f != it->end()) {
            if (auto r = range(*f, "cluster.slices." + kSliceKeys[i], false)) *fields[i] = *r;
          }
        }
      }
    }
  }

  // `cluster.zones` and `cluster.capacity` (engine-semantics.md §8.1).
  void placement_cluster_keys(const json& value, ClusterSpec& out) {
    if (auto it = value.find("zones"); it != value.end() && is_object(*it, "cluster.zones")) {
      std::map<NodeId, std::string> zone_of;
      for (const auto& [zone, members] : it->items()) {
        const std::string path = member_path("cluster.zones", zone);
        if (!is_zone_name(zone)) {
          error(path,
                "a zone name is letters, digits, '-' or '_' (1 to 63), starting with a letter or digit");
          continue;
        }
        if (!members.is_array()) {
          error(path, fmt::format("must be a list of node ids, not {}", type_name(members)));
          continue;
        }
        auto& list = out.zones[zone];
        for (std::size_t i = 0; i < members.size(); ++i) {
          const std::string item = index_path(path, i);
          auto id = node_id(members[i], item);
          if (!id) continue;
          if (nodes_known_ && std::find(out.nodes.begin(), out.nodes.end(), *id) == out.nodes.end()) {
            std::string message = fmt::format("\"{}\" is not a node of cluster.nodes", *id);
            if (auto near = engine::closest_name(*id, out.nodes))
              message += fmt::format(" (did you mean \"{}\"?)", *near);
            error(item, std::move(message));
            continue;
          }
          if (auto [at, fresh] = zone_of.emplace(*id, zone); !fresh) {
            error(item, fmt::format("node \"{}\" is already in zone \"{}\" (a node is in one zone)", *id,
                                    at->second));
            continue;
          }
          list.push_back(*id);
        }
      }
      for (const auto& [zone, members] : out.zones) zones_.insert(zone);
    }
    zones_.insert(engine::kDefaultZone);
    if (auto it = value.find("capacity"); it != value.end() && is_object(*it, "cluster.capacity")) {
      for (const auto& [name, limit] : it->items()) {
        const std::string path = member_path("cluster.capacity", name);
        if (name != "default" && nodes_known_ &&
            std::find(out.nodes.begin(), out.nodes.end(), name) == out.nodes.end()) {
          std::vector<std::string> known = out.nodes;
          known.push_back("default");
          std::string message =
              fmt::format("\"{}\" is neither \"default\" nor a node of cluster.nodes", name);
          if (auto near = engine::closest_name(name, known))
            message += fmt::format(" (did you mean \"{}\"?)", *near);
          error(path, std::move(message));
          continue;
        }
        if (auto parsed = capacity(limit, path)) out.capacity[name] = *parsed;
      }
    }
  }

  std::optional<engine::Capacity> capacity(const json& value, const std::string& path) {
    std::vector<engine::ResourceError> problems;
    auto parsed = engine::parse_capacity(value, path, problems);
    for (auto& problem : problems) error(problem.path, std::move(problem.message));
    if (!problems.empty()) return std::nullopt;
    return parsed;
  }

  static bool is_zone_name(const std::string& name) {
    if (name.empty() || name.size() > 63) return false;
    auto alnum = [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    };
    if (!alnum(name[0])) return false;
    return std::all_of(name.begin(), name.end(), [&](char c) { return alnum(c) || c == '-' || c == '_'; });
  }

  // The simulation.md §3a keys of `cluster`.
  void hostile_cluster_keys(const json& value, ClusterSpec& out) {
    if (auto it = value.find("late_commit"); it != value.end()) {
      if (auto d = duration(*it, "cluster.late_commit")) out.late_commit = *d;
    }
    if (auto it = value.find("restore_lag"); it != value.end()) {
      if (auto d = duration(*it, "cluster.restore_lag")) out.restore_lag = *d;
    }
    if (auto it = value.find("stall"); it != value.end()) {
      if (auto stall = stall_spec(*it, "cluster.stall")) out.stall = *stall;
    }
    if (auto it = value.find("clock_drift"); it != value.end()) {
      if (auto r = rate(*it, "cluster.clock_drift", false)) {
        if (*r > kMaxClockDriftPpm) {
          error("cluster.clock_drift", fmt::format("must be at most 0.2, not {}", it->dump()));
        } else {
          out.clock_drift_ppm = *r;
        }
      }
    }
  }

  std::optional<StallSpec> stall_spec(const json& value, const std::string& path) {
    if (!is_object(value, path)) return std::nullopt;
    check_keys(value, path, kStallKeys);
    const std::size_t before = errors_.size();
    StallSpec out;
    if (auto it = value.find("rate"); it != value.end()) {
      if (auto r = rate(*it, member_path(path, "rate"), false)) out.rate_ppm = *r;
    } else {
      error(path, "missing \"rate\" (the chance per decision, in [0, 1])");
    }
    if (auto it = value.find("for"); it != value.end()) {
      if (auto r = range(*it, member_path(path, "for"), false)) out.length = *r;
    } else if (out.rate_ppm > 0) {
      error(path, "missing \"for\" ([min, max], how long decisions stop)");
    }
    if (out.rate_ppm > 0 && out.length.max == 0) {
      error(member_path(path, "for"), "must be above 0 when rate is above 0");
    }
    if (errors_.size() != before) return std::nullopt;
    return out;
  }

  // A fault point's node: a configured node id or "*" (every node: nullopt).
  bool node_or_all(const json& value, const std::string& path, std::optional<NodeId>& out) {
    if (value.is_string() && value.get_ref<const std::string&>() == "*") {
      out.reset();
      return true;
    }
    auto t = target(value, path);
    if (!t) return false;
    if (t->kind != Target::Kind::Node) {
      error(path, "must be a node id or \"*\"");
      return false;
    }
    out = t->node;
    return true;
  }

  std::optional<StepAction> lose_submits(const json& v, const std::string& path) {
    if (!is_object(v, path)) return std::nullopt;
    check_keys(v, path, kLoseSubmitsKeys);
    const std::size_t before = errors_.size();
    LoseSubmitsStep step;
    if (auto it = v.find("node"); it != v.end()) {
      node_or_all(*it, member_path(path, "node"), step.node);
    } else {
      error(path, "missing \"node\" (a node id or \"*\")");
    }
    if (auto it = v.find("writer"); it != v.end()) {
      if (auto w = text(*it, member_path(path, "writer"), false)) {
        if (std::find(kLostWriters.begin(), kLostWriters.end(), *w) == kLostWriters.end()) {
          error(member_path(path, "writer"), fmt::format("must be one of {}, not \"{}\"",
                                                         fmt::join(kLostWriters, ", "), w->substr(0, 80)));
        } else {
          step.writer = *w;
        }
      }
    } else {
      error(path, "missing \"writer\" (cdm, ndm, leader-manager or \"*\")");
    }
    if (auto it = v.find("rate"); it != v.end()) {
      if (auto r = rate(*it, member_path(path, "rate"), false)) step.rate_ppm = *r;
    } else {
      error(path, "missing \"rate\" (in [0, 1])");
    }
    if (errors_.size() != before) return std::nullopt;
    return step;
  }

  std::optional<StepAction> reorder_quorum_events(const json& v, const std::string& path) {
    if (!is_object(v, path)) return std::nullopt;
    check_keys(v, path, kReorderKeys);
    const std::size_t before = errors_.size();
    ReorderQuorumEventsStep step;
    if (auto it = v.find("node"); it != v.end()) {
      node_or_all(*it, member_path(path, "node"), step.node);
    } else {
      error(path, "missing \"node\" (a node id or \"*\")");
    }
    if (auto it = v.find("rate"); it != v.end()) {
      if (auto r = rate(*it, member_path(path, "rate"), false)) step.rate_ppm = *r;
    } else {
      error(path, "missing \"rate\" (in [0, 1])");
    }
    if (errors_.size() != before) return std::nullopt;
    return step;
  }

  // Top-level "clients": {"name": {"via": NODE}}, NODE an initial node.
  void clients(const json& value, Scenario& scenario) {
    if (!is_object(value, "clients")) return;
    for (const auto& [name, spec] : value.items()) {
      const std::string path = member_path("clients", name);
      if (!is_client_identifier(name)) {
        error(path, fmt::format("bad client name \"{}\" (a client name is [a-z][a-z0-9-]{{0,62}})",
                                name.substr(0, 80)));
        continue;
      }
      if (!is_object(spec, path)) continue;
      check_keys(spec, path, {"via"});
      ClientSpec out;
      if (auto it = spec.find("via"); it != spec.end()) {
        auto t = target(*it, member_path(path, "via"));
        if (!t) continue;
        if (t->kind != Target::Kind::Node) {
          error(member_path(path, "via"), "must be a node id (the node the client writes through)");
          continue;
        }
        out.via = t->node;
      }
      scenario.clients[name] = out;
    }
  }

  // A client write's optional "via": a node id configured by that point.
  bool via(const json& step, const std::string& path, bool is_client, std::optional<NodeId>& out) {
    auto it = step.find("via");
    if (it == step.end()) return true;
    const std::string via_path = member_path(path, "via");
    if (!is_client) {
      error(via_path, fmt::format("only client writes ({}) take a via", fmt::join(kClientKinds, ", ")));
      return false;
    }
    auto t = target(*it, via_path);
    if (!t) return false;
    if (t->kind != Target::Kind::Node) {
      error(via_path, "must be a node id (the node the client writes through)");
      return false;
    }
    out = t->node;
    return true;
  }

  void nodes(const json& value, std::vector<NodeId>& out) {
    const std::string path = "cluster.nodes";
    if (value.is_number_integer() || value.is_number_unsigned()) {
      if (auto n = unsigned_integer(value, path, 1, kMaxNodes)) {
        for (std::uint64_t i = 1; i <= *n; ++i) out.push_back(fmt::format("node-{}", i));
      }
      return;
    }
    if (!value.is_array()) {
      error(path, fmt::format("must be a node count or a list of node ids, not {}", type_name(value)));
      return;
    }
    if (value.empty() || value.size() > kMaxNodes) {
      error(path, fmt::format("must list 1 to {} nodes, not {}", kMaxNodes, value.size()));
      return;
    }
    std::set<std::string> seen;
    for (std::size_t i = 0; i < value.size(); ++i) {
      const std::string item_path = index_path(path, i);
      auto id = node_id(value[i], item_path);
      if (!id) continue;
      if (!seen.insert(*id).second) {
        error(item_path, fmt::format("node \"{}\" is listed twice", *id));
        continue;
      }
      out.push_back(*id);
    }
  }

  std::optional<NodeId> node_id(const json& value, const std::string& path) {
    if (!value.is_string()) {
      error(path, fmt::format("must be a node id string, not {}", type_name(value)));
      return std::nullopt;
    }
    const auto& id = value.get_ref<const std::string&>();
    if (!engine::is_valid_node_id(id)) {
      error(path, fmt::format("bad node id \"{}\" (a node id is [a-z][a-z0-9-]{{0,62}})", id.substr(0, 80)));
      return std::nullopt;
    }
    return id;
  }

  void network_fields(const json& value, const std::string& path, NetworkSettings& out) {
    if (auto it = value.find("latency"); it != value.end()) {
      if (auto r = range(*it, member_path(path, "latency"), true)) out.latency = *r;
    }
    if (auto it = value.find("drop"); it != value.end()) {
      if (auto r = rate(*it, member_path(path, "drop"), true)) out.drop_ppm = *r;
    }
    if (auto it = value.find("duplicate"); it != value.end()) {
      if (auto r = rate(*it, member_path(path, "duplicate"), false)) out.duplicate_ppm = *r;
    }
  }

  void config(const json& value, json& out) {
    if (!is_object(value, "config")) return;
    engine::EngineConfig parsed;
    const auto config_errors = engine::parse_engine_config(value, parsed);
    for (const auto& e : config_errors) {
      error(e.path.empty() ? "config" : "config." + e.path, e.message);
    }
    if (config_errors.empty()) out = value;
  }

  // Node ids configured so far (in step order), for targets and add_node.
  void note_configured(const NodeId& id) {
    ever_configured_.insert(id);
    if (auto n = numeric_suffix(id)) largest_suffix_ = std::max(largest_suffix_, *n);
  }

  std::optional<Target> target(const json& value, const std::string& path) {
    if (!value.is_string()) {
      error(path, fmt::format("must be a node id, \"leader\" or \"random\", not {}", type_name(value)));
      return std::nullopt;
    }
    const auto& s = value.get_ref<const std::string&>();
    if (s == "leader") return Target{Target::Kind::Leader, {}};
    if (s == "random") return Target{Target::Kind::Random, {}};
    auto id = node_id(value, path);
    if (!id) return std::nullopt;
    if (nodes_known_ && !ever_configured_.count(*id)) {
      std::vector<std::string> known(ever_configured_.begin(), ever_configured_.end());
      known.push_back("leader");
      known.push_back("random");
      std::string message = fmt::format("no node \"{}\" is configured by this point", *id);
      if (auto near = engine::closest_name(*id, known))
        message += fmt::format(" (did you mean \"{}\"?)", *near);
      error(path, std::move(message));
      return std::nullopt;
    }
    return Target{Target::Kind::Node, *id};
  }

  std::optional<std::string> artifact(const json& value, const std::string& path) {
    if (!value.is_string()) {
      error(path, fmt::format("must be an artifact string group:artifact:version, not {}", type_name(value)));
      return std::nullopt;
    }
    std::string why;
    if (!engine::parse_artifact(value.get_ref<const std::string&>(), &why)) {
      error(path,
            fmt::format("bad artifact \"{}\": {}", value.get_ref<const std::string&>().substr(0, 200), why));
      return std::nullopt;
    }
    return value.get<std::string>();
  }

  // `available` and `at_most` name an artifact or a whole base (every version
  // of it, e.g. both sides of a rolling update).
  std::optional<std::string> artifact_or_base(const json& value, const std::string& path) {
    if (value.is_string() && engine::parse_artifact_base(value.get_ref<const std::string&>()))
      return value.get<std::string>();
    return artifact(value, path);
  }

  std::optional<std::string> artifact_base(const json& value, const std::string& path) {
    if (!value.is_string()) {
      error(path, fmt::format("must be an artifact base string group:artifact, not {}", type_name(value)));
      return std::nullopt;
    }
    const auto& s = value.get_ref<const std::string&>();
    std::string why;
    if (!engine::parse_artifact_base(s, &why)) {
      error(path, fmt::format("bad artifact base \"{}\": {}", s.substr(0, 200), why));
      return std::nullopt;
    }
    return s;
  }

  void steps(const json& value, Scenario& scenario) {
    if (!value.is_array()) {
      error("steps", fmt::format("must be an array of steps, not {}", type_name(value)));
      return;
    }
    if (value.size() > kMaxSteps) {
      error("steps", fmt::format("has {} steps; the limit is {}", value.size(), kMaxSteps));
      return;
    }
    Nanos previous_at = 0;
    const auto allowed = step_keys();
    for (std::size_t i = 0; i < value.size(); ++i) {
      const std::string path = index_path("steps", i);
      const json& step = value[i];
      if (!is_object(step, path)) continue;
      check_keys(step, path, allowed);
      Step out;
      out.path = path;
      bool ok = true;
      if (auto it = step.find("at"); it != step.end()) {
        if (auto at = duration(*it, member_path(path, "at"))) {
          if (*at < previous_at) {
            error(member_path(path, "at"),
                  fmt::format("{} is before the previous step's {} (at must not decrease)",
                              engine::format_duration(*at), engine::format_duration(previous_at)));
            ok = false;
          } else {
            out.at = *at;
            previous_at = *at;
          }
        } else {
          ok = false;
        }
      } else {
        error(path, "missing \"at\" (a duration from the start of the run)");
        ok = false;
      }
      std::vector<std::string> kinds;
      for (const auto& doc : step_kind_docs()) {
        if (step.contains(doc.kind)) kinds.push_back(doc.kind);
      }
      if (kinds.empty()) {
        std::vector<std::string> all;
        for (const auto& doc : step_kind_docs()) all.push_back(doc.kind);
        error(path, fmt::format("a step needs one action, one of: {}", fmt::join(all, ", ")));
        continue;
      }
      if (kinds.size() > 1) {
        error(path, fmt::format("a step has exactly one action; this one has {}", fmt::join(kinds, ", ")));
        continue;
      }
      const std::string& kind = kinds.front();
      std::string client = "default";
      const bool is_client = std::find(kClientKinds.begin(), kClientKinds.end(), kind) != kClientKinds.end();
      if (auto it = step.find("client"); it != step.end()) {
        if (!is_client) {
          error(member_path(path, "client"),
                fmt::format("only client writes ({}) take a client", fmt::join(kClientKinds, ", ")));
          ok = false;
        } else if (auto name = text(*it, member_path(path, "client"), false)) {
          if (is_client_identifier(*name)) {
            client = *name;
          } else {
            error(member_path(path, "client"),
                  fmt::format("bad client name \"{}\" (a client name is [a-z][a-z0-9-]{{0,62}})",
                              name->substr(0, 80)));
            ok = false;
          }
        }
      }
      std::optional<NodeId> via_node;
      if (!via(step, path, is_client, via_node)) ok = false;
      auto action = step_action(kind, step.at(kind), member_path(path, kind), client, out.at);
      if (!action || !ok) continue;
      if (via_node) {
        std::visit(
            [&](auto& a) {
              if constexpr (requires { a.via; }) a.via = via_node;
            },
            *action);
      }
      out.action = std::move(*action);
      scenario.steps.push_back(std::move(out));
    }
  }

  std::optional<StepAction> step_action(const std::string& kind, const json& v, const std::string& path,
                                        const std::string& client, Nanos at) {
    if (kind == "blueprint") return blueprint(v, path, client);
    if (kind == "remove_blueprint") {
      auto id = text(v, path, false);
      if (!id) return std::nullopt;
      if (!engine::is_valid_blueprint_id(*id)) {
        error(path,
              fmt::format("bad blueprint id \"{}\" (a blueprint id is [A-Za-z0-9][A-Za-z0-9._-]{{0,127}})",
                          id->substr(0, 80)));
        return std::nullopt;
      }
      return RemoveBlueprintStep{*id, client};
    }
    if (kind == "scale") return scale(v, path, client);
    if (kind == "kv_put") return kv_put(v, path, client);
    if (kind == "kv_remove") {
      auto key = kv_key(v, path);
      if (!key) return std::nullopt;
      return KvRemoveStep{*key, client};
    }
    if (kind == "drain" || kind == "undrain") return drain(kind, v, path, client);
    if (kind == "crash" || kind == "restart" || kind == "pause" || kind == "resume" || kind == "isolate" ||
        kind == "remove_node") {
      auto t = target(v, path);
      if (!t) return std::nullopt;
      if (t->kind == Target::Kind::Node) {
        if (kind == "crash") crashed_[t->node] = path;
        if (kind == "restart") crashed_.erase(t->node);
        if (kind == "remove_node") crashed_[t->node] = path;
      }
      if (kind == "crash") return CrashStep{*t};
      if (kind == "restart") return RestartStep{*t};
      if (kind == "pause") return PauseStep{*t};
      if (kind == "resume") return ResumeStep{*t};
      if (kind == "isolate") return IsolateStep{*t};
      return RemoveNodeStep{*t};
    }
    if (kind == "add_node") return add_node(v, path);
    if (kind == "partition") return partition(v, path);
    if (kind == "link") return link(v, path);
    if (kind == "heal") {
      if (v.is_boolean()) {
        if (v.get<bool>()) return HealStep{std::nullopt};
        error(path, "must be true (heal everything) or a node target, not false");
        return std::nullopt;
      }
      auto t = target(v, path);
      if (!t) return std::nullopt;
      return HealStep{*t};
    }
    if (kind == "network") {
      if (!is_object(v, path)) return std::nullopt;
      check_keys(v, path, kNetworkStepKeys);
      if (v.empty()) {
        error(path, "must change at least one of latency, drop, duplicate, stall");
        return std::nullopt;
      }
      const std::size_t before = errors_.size();
      NetworkSettings settings;
      network_fields(v, path, settings);
      std::optional<StallSpec> stall;
      if (auto it = v.find("stall"); it != v.end()) stall = stall_spec(*it, member_path(path, "stall"));
      if (errors_.size() != before) return std::nullopt;
      NetworkStep step;
      step.stall = stall;
      if (v.contains("latency")) step.latency = settings.latency;
      if (v.contains("drop")) step.drop_ppm = settings.drop_ppm;
      if (v.contains("duplicate")) step.duplicate_ppm = settings.duplicate_ppm;
      return step;
    }
    if (kind == "slice_failures") return slice_failures(v, path);
    if (kind == "lose_submits") return lose_submits(v, path);
    if (kind == "reorder_quorum_events") return reorder_quorum_events(v, path);
    if (kind == "expect") return expect(v, path, at);
    error(path, "unknown step kind");
    return std::nullopt;
  }

  // `drain` / `undrain`: a node target that is configured and, as far as the
  // file says, not crashed or removed by an earlier step (a "leader" or
  // "random" crash is judged when the step runs).
  std::optional<StepAction> drain(const std::string& kind, const json& v, const std::string& path,
                                  const std::string& client) {
    auto t = target(v, path);
    if (!t) return std::nullopt;
    if (t->kind == Target::Kind::Node) {
      if (auto down = crashed_.find(t->node); down != crashed_.end()) {
        error(path, fmt::format("node \"{}\" is down at this point ({} stops it and no restart follows); "
                                "{} needs a node that is up",
                                t->node, down->second, kind));
        return std::nullopt;
      }
    }
    return DrainStep{*t, kind == "undrain", client};
  }

  std::optional<StepAction> blueprint(const json& v, const std::string& path, const std::string& client) {
    if (!is_object(v, path)) return std::nullopt;
    auto parsed = engine::parse_blueprint(v);
    if (auto* problems = std::get_if<std::vector<engine::BlueprintError>>(&parsed)) {
      for (const auto& e : *problems) error(e.path.empty() ? path : path + "." + e.path, e.message);
      return std::nullopt;
    }
    const auto& bp = std::get<engine::Blueprint>(parsed);
    bool ok = true;
    for (std::size_t i = 0; i < bp.slices.size(); ++i) {
      if (bp.slices[i].instances > kMaxInstancesPerArtifact) {
        error(fmt::format("{}.slices[{}].instances", path, i),
              fmt::format("{} instances; the limit per artifact is {}", bp.slices[i].instances,
                          kMaxInstancesPerArtifact));
        ok = false;
      }
    }
    blueprint_ids_.insert(bp.id);
    for (const auto& slice : bp.slices) declared_bases_.insert(engine::base_of(slice.artifact.to_string()));
    if (blueprint_ids_.size() > kMaxBlueprints && !blueprint_limit_reported_) {
      blueprint_limit_reported_ = true;
      error(path, fmt::format("more than {} distinct blueprint ids in one scenario", kMaxBlueprints));
      ok = false;
    }
    if (!ok) return std::nullopt;
    return BlueprintStep{v, client};
  }

  std::optional<StepAction> scale(const json& v, const std::string& path, const std::string& client) {
    if (!is_object(v, path)) return std::nullopt;
    check_keys(v, path, {"artifact", "instances"});
    std::optional<std::string> base;
    std::optional<std::uint64_t> instances;
    if (auto it = v.find("artifact"); it != v.end()) {
      base = artifact_base(*it, member_path(path, "artifact"));
    } else {
      error(path, "missing \"artifact\" (group:artifact)");
    }
    if (auto it = v.find("instances"); it != v.end()) {
      instances = unsigned_integer(*it, member_path(path, "instances"), 0, kMaxInstancesPerArtifact);
    } else {
      error(path, "missing \"instances\"");
    }
    if (!base || !instances) return std::nullopt;
    scales_.emplace_back(member_path(path, "artifact"), *base);
    return ScaleStep{*base, static_cast<int>(*instances), client};
  }

  // A `scale` of a base that no blueprint step of the file declares can only
  // fail when it runs (no slice-target): say so now, with a did-you-mean.
  // A file that writes blueprints or slice-targets by kv_put is not judged.
  void check_scale_bases() {
    if (kv_writes_desired_state_) return;
    const std::vector<std::string> declared(declared_bases_.begin(), declared_bases_.end());
    for (const auto& [path, base] : scales_) {
      if (declared_bases_.count(base) != 0) continue;
      std::string message = fmt::format("no blueprint in this file declares the base \"{}\"", base);
      if (auto near = engine::closest_name(base, declared)) {
        message += fmt::format(" (did you mean \"{}\"?)", *near);
      } else if (!declared.empty()) {
        message += fmt::format(" (declared: {})", fmt::join(declared, ", "));
      }
      error(path, std::move(message));
    }
  }

  std::optional<std::string> kv_key(const json& v, const std::string& path) {
    auto key = text(v, path, false);
    if (key && key->size() > kMaxKeyBytes) {
      error(path, fmt::format("a key is at most {} bytes", kMaxKeyBytes));
      return std::nullopt;
    }
    return key;
  }

  std::optional<StepAction> kv_put(const json& v, const std::string& path, const std::string& client) {
    if (!is_object(v, path)) return std::nullopt;
    check_keys(v, path, {"key", "value"});
    std::optional<std::string> key;
    std::optional<std::string> value;
    if (auto it = v.find("key"); it != v.end()) {
      key = kv_key(*it, member_path(path, "key"));
    } else {
      error(path, "missing \"key\"");
    }
    if (auto it = v.find("value"); it != v.end()) {
      // A string is written byte for byte (so malformed values are possible);
      // any other JSON value is written as its compact serialisation.
      value = it->is_string() ? it->get<std::string>() : it->dump();
      if (value->size() > kMaxValueBytes) {
        error(member_path(path, "value"), fmt::format("a value is at most {} bytes", kMaxValueBytes));
        value.reset();
      }
    } else {
      error(path, "missing \"value\"");
    }
    if (!key || !value) return std::nullopt;
    if (key->rfind(engine::kBlueprintPrefix, 0) == 0 || key->rfind(engine::kSliceTargetPrefix, 0) == 0) {
      kv_writes_desired_state_ = true;
    }
    return KvPutStep{*key, *value, client};
  }

  std::optional<StepAction> add_node(const json& v, const std::string& path) {
    std::optional<NodeId> explicit_id;
    std::optional<std::string> zone;
    std::optional<engine::Capacity> node_capacity;
    if (v.is_boolean() && v.get<bool>()) {
    } else if (v.is_string()) {
      explicit_id = node_id(v, path);
      if (!explicit_id) return std::nullopt;
    } else if (v.is_object()) {
      check_keys(v, path, {"id", "zone", "capacity"});
      if (auto it = v.find("id"); it != v.end()) {
        explicit_id = node_id(*it, member_path(path, "id"));
        if (!explicit_id) return std::nullopt;
      }
      if (auto it = v.find("zone"); it != v.end()) {
        auto name = text(*it, member_path(path, "zone"), false);
        if (!name) return std::nullopt;
        if (!zones_.count(*name)) {
          std::vector<std::string> known(zones_.begin(), zones_.end());
          std::string message =
              fmt::format("unknown zone \"{}\" (zones: cluster.zones and \"default\")", *name);
          if (auto near = engine::closest_name(*name, known))
            message += fmt::format("; did you mean \"{}\"?", *near);
          error(member_path(path, "zone"), std::move(message));
          return std::nullopt;
        }
        zone = *name;
      }
      if (auto it = v.find("capacity"); it != v.end()) {
        node_capacity = capacity(*it, member_path(path, "capacity"));
        if (!node_capacity) return std::nullopt;
      }
    } else {
      error(path, fmt::format("must be true, a node id or {{\"id\", \"zone\", \"capacity\"}}, not {}",
                              type_name(v)));
      return std::nullopt;
    }
    const NodeId id = explicit_id ? *explicit_id : fmt::format("node-{}", largest_suffix_ + 1);
    if (ever_configured_.count(id)) {
      error(path, fmt::format("node \"{}\" was configured before (ids are never reused)", id));
      return std::nullopt;
    }
    if (ever_configured_.size() >= kMaxNodes) {
      error(path, fmt::format("more than {} nodes configured over the run", kMaxNodes));
      return std::nullopt;
    }
    note_configured(id);
    return AddNodeStep{explicit_id, zone, node_capacity};
  }

  std::optional<StepAction> partition(const json& v, const std::string& path) {
    if (!v.is_array() || v.empty()) {
      error(path, fmt::format("must be a non-empty list of groups (lists of nodes), not {}",
                              v.is_array() ? "an empty list" : type_name(v)));
      return std::nullopt;
    }
    PartitionStep step;
    bool ok = true;
    for (std::size_t g = 0; g < v.size(); ++g) {
      const std::string group_path = index_path(path, g);
      if (!v[g].is_array() || v[g].empty()) {
        error(group_path, fmt::format("a group is a non-empty list of nodes, not {}",
                                      v[g].is_array() ? "an empty list" : type_name(v[g])));
        ok = false;
        continue;
      }
      std::vector<Target> group;
      std::set<std::string> seen;
      for (std::size_t m = 0; m < v[g].size(); ++m) {
        const std::string member = index_path(group_path, m);
        auto t = target(v[g][m], member);
        if (!t) {
          ok = false;
          continue;
        }
        const std::string label = t->kind == Target::Kind::Node ? t->node : v[g][m].get<std::string>();
        if (t->kind != Target::Kind::Random && !seen.insert(label).second) {
          error(member, fmt::format("\"{}\" appears twice in this group", label));
          ok = false;
          continue;
        }
        group.push_back(*t);
      }
      step.groups.push_back(std::move(group));
    }
    if (!ok) return std::nullopt;
    return step;
  }

  std::optional<StepAction> link(const json& v, const std::string& path) {
    if (!is_object(v, path)) return std::nullopt;
    check_keys(v, path, {"from", "to", "loss", "delay"});
    LinkStep step;
    bool ok = true;
    for (const char* end : {"from", "to"}) {
      auto it = v.find(end);
      if (it == v.end()) {
        error(path, fmt::format("missing \"{}\"", end));
        ok = false;
        continue;
      }
      auto t = target(*it, member_path(path, end));
      if (!t) {
        ok = false;
        continue;
      }
      (std::string(end) == "from" ? step.from : step.to) = *t;
    }
    if (ok && step.from.kind == Target::Kind::Node && step.from == step.to) {
      error(path, "a link joins two different nodes");
      ok = false;
    }
    if (auto it = v.find("loss"); it != v.end()) {
      if (auto r = rate(*it, member_path(path, "loss"), false)) {
        step.loss_ppm = *r;
      } else {
        ok = false;
      }
    }
    if (auto it = v.find("delay"); it != v.end()) {
      if (auto d = duration(*it, member_path(path, "delay"))) {
        step.delay = *d;
      } else {
        ok = false;
      }
    }
    if (ok && !v.contains("loss") && !v.contains("delay")) {
      error(path, "a link rule needs \"loss\" or \"delay\"");
      ok = false;
    }
    if (!ok) return std::nullopt;
    return step;
  }

  std::optional<StepAction> slice_failures(const json& v, const std::string& path) {
    if (!is_object(v, path)) return std::nullopt;
    check_keys(v, path, {"artifact", "phase", "transient", "fatal"});
    SliceFailuresStep step;
    bool ok = true;
    if (auto it = v.find("artifact"); it != v.end()) {
      if (it->is_string() && it->get_ref<const std::string&>() == "*") {
        step.artifact = "*";
      } else if (auto a = artifact(*it, member_path(path, "artifact"))) {
        step.artifact = *a;
      } else {
        ok = false;
      }
    } else {
      error(path, "missing \"artifact\" (an artifact or \"*\")");
      ok = false;
    }
    if (auto it = v.find("phase"); it != v.end()) {
      auto phase = text(*it, member_path(path, "phase"), false);
      if (phase == "load") {
        step.phase = FailurePhase::Load;
      } else if (phase == "activate") {
        step.phase = FailurePhase::Activate;
      } else if (phase == "any") {
        step.phase = FailurePhase::Any;
      } else {
        if (phase)
          error(member_path(path, "phase"), fmt::format("must be load, activate or any, not \"{}\"", *phase));
        ok = false;
      }
    }
    for (const char* field : {"transient", "fatal"}) {
      if (auto it = v.find(field); it != v.end()) {
        if (auto r = rate(*it, member_path(path, field), false)) {
          (std::string(field) == "transient" ? step.transient_ppm : step.fatal_ppm) = *r;
        } else {
          ok = false;
        }
      }
    }
    if (ok && step.transient_ppm + step.fatal_ppm > 1'000'000) {
      error(path, "transient + fatal must not exceed 1");
      ok = false;
    }
    if (!ok) return std::nullopt;
    return step;
  }

  std::optional<StepAction> expect(const json& v, const std::string& path, Nanos at) {
    if (!is_object(v, path)) return std::nullopt;
    std::vector<std::string> allowed = kExpectKinds;
    allowed.push_back("within");
    allowed.push_back("for");
    check_keys(v, path, allowed);
    std::vector<std::string> kinds;
    for (const auto& k : kExpectKinds) {
      if (v.contains(k)) kinds.push_back(k);
    }
    if (kinds.size() != 1) {
      error(path, kinds.empty()
                      ? fmt::format("an expectation needs one of: {}", fmt::join(kExpectKinds, ", "))
                      : fmt::format("an expectation has exactly one kind; this one has {}",
                                    fmt::join(kinds, ", ")));
      return std::nullopt;
    }
    const std::string kind = kinds.front();
    const std::string kpath = member_path(path, kind);
    const json& body = v.at(kind);
    ExpectStep step;
    bool ok = true;
    if (auto it = v.find("within"); it != v.end()) {
      if (kind != "converged" && kind != "leader" && kind != "instances") {
        error(member_path(path, "within"),
              fmt::format("\"within\" applies to converged, leader and instances, not {}", kind));
        ok = false;
      } else if (auto d = duration(*it, member_path(path, "within"))) {
        step.within = *d;
        if (at + *d > kMaxRunLength) {
          error(member_path(path, "within"), "the window ends after the 7d run limit");
          ok = false;
        }
      } else {
        ok = false;
      }
    }
    if (v.contains("for") && kind != "available" && kind != "at_most") {
      error(member_path(path, "for"),
            kind == "writes" ? "\"for\" of writes goes inside the writes object: {\"writes\": {\"max\": N, "
                               "\"for\": DUR}}"
                             : "\"for\" applies to available and at_most only");
      ok = false;
    }
    if (kind == "at_most" || kind == "writes") {
      if (!limit_expectation(kind, body, v, path, at, step)) ok = false;
      if (!ok) return std::nullopt;
      return step;
    }
    if (kind == "converged" || kind == "no_violations") {
      if (!body.is_boolean() || !body.get<bool>()) {
        error(kpath, fmt::format("must be true, not {}", body.is_boolean() ? "false" : type_name(body)));
        ok = false;
      }
      if (kind == "converged") {
        step.what = ExpectConverged{};
      } else {
        step.what = ExpectNoViolations{};
      }
    } else if (kind == "leader") {
      if (auto t = target(body, kpath)) {
        if (t->kind != Target::Kind::Node) {
          error(kpath, "must name a node id");
          ok = false;
        } else {
          step.what = ExpectLeader{t->node};
        }
      } else {
        ok = false;
      }
    } else if (kind == "violates") {
      auto id = text(body, kpath, false);
      const auto& ids = known_invariant_ids();
      if (id && std::find(ids.begin(), ids.end(), *id) != ids.end()) {
        step.what = ExpectViolates{*id};
      } else {
        if (id) {
          std::string message = fmt::format("unknown invariant \"{}\"", *id);
          if (auto near = engine::closest_name(*id, ids))
            message += fmt::format(" (did you mean \"{}\"?)", *near);
          else
            message += fmt::format(" (one of: {})", fmt::join(ids, ", "));
          error(kpath, std::move(message));
        }
        ok = false;
      }
    } else if (kind == "instances") {
      ExpectInstances what;
      if (!is_object(body, kpath) || body.empty()) {
        if (body.is_object()) error(kpath, "must name at least one artifact");
        ok = false;
      } else {
        for (const auto& [name, counts] : body.items()) {
          const std::string apath = member_path(kpath, name);
          if (!artifact_or_base(json(name), apath)) {
            ok = false;
            continue;
          }
          if (!is_object(counts, apath)) {
            ok = false;
            continue;
          }
          check_keys(counts, apath, {"total", "active"});
          InstanceCount count;
          if (auto it = counts.find("total"); it != counts.end()) {
            auto n = unsigned_integer(*it, member_path(apath, "total"), 0, kMaxInstancesPerArtifact);
            if (n)
              count.total = static_cast<int>(*n);
            else
              ok = false;
          }
          if (auto it = counts.find("active"); it != counts.end()) {
            auto n = unsigned_integer(*it, member_path(apath, "active"), 0, kMaxInstancesPerArtifact);
            if (n)
              count.active = static_cast<int>(*n);
            else
              ok = false;
          }
          if (!count.total && !count.active) {
            error(apath, "needs \"total\", \"active\" or both");
            ok = false;
          }
          what.by_artifact[name] = count;
        }
      }
      step.what = std::move(what);
    } else if (kind == "available") {
      ExpectAvailable what;
      if (!is_object(body, kpath) || body.empty()) {
        if (body.is_object()) error(kpath, "must name at least one artifact");
        ok = false;
      } else {
        for (const auto& [name, count] : body.items()) {
          const std::string apath = member_path(kpath, name);
          if (!artifact_or_base(json(name), apath)) {
            ok = false;
            continue;
          }
          auto n = unsigned_integer(count, apath, 0, kMaxInstancesPerArtifact);
          if (n)
            what.min_active[name] = static_cast<int>(*n);
          else
            ok = false;
        }
      }
      if (auto it = v.find("for"); it != v.end()) {
        if (auto d = duration(*it, member_path(path, "for"))) {
          what.hold_for = *d;
          if (at + *d > kMaxRunLength) {
            error(member_path(path, "for"), "the window ends after the 7d run limit");
            ok = false;
          }
        } else {
          ok = false;
        }
      }
      step.what = std::move(what);
    }
    if (!ok) return std::nullopt;
    return step;
  }

  // `at_most` ({artifact: {total?, active?}} with "for" beside it) and
  // `writes` ({max, for}): the two "never more than" expectations.
  bool limit_expectation(const std::string& kind, const json& body, const json& v, const std::string& path,
                         Nanos at, ExpectStep& step) {
    const std::string kpath = member_path(path, kind);
    bool ok = true;
    auto window = [&](const json& value, const std::string& wpath) -> std::optional<Nanos> {
      auto d = duration(value, wpath);
      if (d && at + *d > kMaxRunLength) {
        error(wpath, "the window ends after the 7d run limit");
        return std::nullopt;
      }
      return d;
    };
    if (kind == "writes") {
      ExpectWrites what;
      if (!is_object(body, kpath)) return false;
      check_keys(body, kpath, {"max", "for"});
      if (auto it = body.find("max"); it != body.end()) {
        if (auto n = unsigned_integer(*it, member_path(kpath, "max"), 0, 1'000'000'000))
          what.max = static_cast<int>(*n);
        else
          ok = false;
      } else {
        error(kpath, "needs \"max\" (the most engine batches allowed in the window)");
        ok = false;
      }
      if (auto it = body.find("for"); it != body.end()) {
        if (auto d = window(*it, member_path(kpath, "for")))
          what.hold_for = *d;
        else
          ok = false;
      } else {
        error(kpath, "needs \"for\" (the window's length)");
        ok = false;
      }
      step.what = what;
      return ok;
    }
    ExpectAtMost what;
    if (!is_object(body, kpath) || body.empty()) {
      if (body.is_object()) error(kpath, "must name at least one artifact");
      ok = false;
    } else {
      for (const auto& [name, counts] : body.items()) {
        const std::string apath = member_path(kpath, name);
        if (!artifact_or_base(json(name), apath) || !is_object(counts, apath)) {
          ok = false;
          continue;
        }
        check_keys(counts, apath, {"total", "active"});
        InstanceCount count;
        for (const char* field : {"total", "active"}) {
          auto it = counts.find(field);
          if (it == counts.end()) continue;
          auto n = unsigned_integer(*it, member_path(apath, field), 0, kMaxInstancesPerArtifact);
          if (!n) {
            ok = false;
            continue;
          }
          (std::string(field) == "total" ? count.total : count.active) = static_cast<int>(*n);
        }
        if (!count.total && !count.active) {
          error(apath, "needs \"total\", \"active\" or both");
          ok = false;
        }
        what.by_artifact[name] = count;
      }
    }
    if (auto it = v.find("for"); it != v.end()) {
      if (auto d = window(*it, member_path(path, "for")))
        what.hold_for = *d;
      else
        ok = false;
    }
    step.what = std::move(what);
    return ok;
  }

  std::string file_;
  std::vector<ScenarioError>& errors_;
  std::set<NodeId> ever_configured_;
  std::map<NodeId, std::string> crashed_;  // node -> the path of the step that crashed or removed it
  std::set<std::string> zones_;            // cluster.zones and "default", for add_node
  bool nodes_known_ = false;               // false when cluster.nodes is missing or wrong
  std::uint64_t largest_suffix_ = 0;
  std::set<std::string> blueprint_ids_;
  std::set<std::string> declared_bases_;                     // bases of every blueprint step's slices
  std::vector<std::pair<std::string, std::string>> scales_;  // (path, base) of every scale step
  bool kv_writes_desired_state_ = false;
  bool blueprint_limit_reported_ = false;
};

void cap_errors(std::vector<ScenarioError>& errors, const std::string& file) {
  if (errors.size() <= kMaxListedErrors) return;
  const std::size_t left_out = errors.size() - kMaxListedErrors;
  errors.resize(kMaxListedErrors);
  errors.push_back({file, "", 0, 0, fmt::format("... and {} more errors not listed", left_out)});
}

}  // namespace

LoadResult load_scenario_json(const nlohmann::json& document, const std::string& file) {
  LoadResult result;
  Validator validator(file, result.errors);
  Scenario scenario = validator.run(document);
  cap_errors(result.errors, file);
  if (result.errors.empty()) result.scenario = std::move(scenario);
  return result;
}

namespace {
// Validation after JSON parsing, with the errors capped once at the end.
LoadResult validate_parsed(const nlohmann::json& document, const std::string& file,
                           std::vector<ScenarioError> errors) {
  LoadResult result;
  result.errors = std::move(errors);
  Validator validator(file, result.errors);
  Scenario scenario = validator.run(document);
  cap_errors(result.errors, file);
  if (result.errors.empty()) result.scenario = std::move(scenario);
  return result;
}
}  // namespace

LoadResult load_scenario_text(std::string_view text, const std::string& file) {
  LoadResult result;
  json document;
  if (!parse_json_text(text, file, document, result.errors)) {
    cap_errors(result.errors, file);
    return result;
  }
  return validate_parsed(document, file, std::move(result.errors));
}

LoadResult load_scenario_file(const std::string& path) {
  LoadResult result;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    result.errors.push_back({path, "", 0, 0, "cannot open the file"});
    return result;
  }
  // Read in 64 KiB chunks and stop one byte beyond the limit, so a huge file
  // is refused without being read whole and a small one costs no 16 MiB
  // buffer (issue 14, third pass).
  constexpr std::size_t kChunk = 64 * 1024;
  std::string text;
  while (in && text.size() <= kMaxFileBytes) {
    const std::size_t before = text.size();
    const std::size_t want = std::min(kChunk, kMaxFileBytes + 1 - before);
    text.resize(before + want);
    in.read(text.data() + before, static_cast<std::streamsize>(want));
    text.resize(before + static_cast<std::size_t>(in.gcount()));
  }
  if (in.bad()) {
    result.errors.push_back({path, "", 0, 0, "cannot read the file"});
    return result;
  }
  if (text.size() > kMaxFileBytes) {
    result.errors.push_back(
        {path, "", 0, 0, fmt::format("file is larger than the limit of {} bytes", kMaxFileBytes)});
    return result;
  }
  return load_scenario_text(text, path);
}

}  // namespace aether::scenarios
