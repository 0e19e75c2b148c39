#include "engine/config.h"

#include <algorithm>
#include <functional>

#include "engine/duration.h"
#include "engine/mutations.h"

namespace aether::engine {

const char* reconciliation_strategy_name(ReconciliationStrategy strategy) {
  return strategy == ReconciliationStrategy::Aggressive ? "aggressive" : "conservative";
}

const char* allocation_strategy_name(AllocationStrategy strategy) {
  return strategy == AllocationStrategy::ResourceAware ? "resource-aware" : "round-robin";
}

const char* leader_election_name(LeaderElection election) {
  return election == LeaderElection::Local ? "local" : "consensus";
}

using Json = nlohmann::json;

const char* json_type_name(const Json& value) {
  if (value.is_null()) return "null";
  if (value.is_boolean()) return "a boolean";
  if (value.is_number()) return "a number";
  if (value.is_string()) return "a string";
  if (value.is_array()) return "an array";
  return "an object";
}

namespace {

struct Parser {
  std::vector<ConfigError>& errors;

  void error(const std::string& path, std::string message) { errors.push_back({path, std::move(message)}); }

  void duration(const Json& value, const std::string& path, Nanos& out, Nanos min_ns) {
    if (!value.is_string()) {
      error(path, std::string("expected a duration string such as \"30s\", got ") + json_type_name(value));
      return;
    }
    std::string why;
    auto parsed = parse_duration(value.get<std::string>(), &why);
    if (!parsed) {
      error(path, why);
      return;
    }
    if (*parsed < min_ns) {
      error(path, "must be at least " + format_duration(min_ns));
      return;
    }
    out = *parsed;
  }

  void integer(const Json& value, const std::string& path, int& out, int min, int max) {
    if (!value.is_number_integer()) {
      error(path, std::string("expected an integer, got ") + json_type_name(value));
      return;
    }
    const auto n = value.get<std::int64_t>();
    if (n < min || n > max) {
      error(path, "must be in " + std::to_string(min) + ".." + std::to_string(max));
      return;
    }
    out = static_cast<int>(n);
  }

  void boolean(const Json& value, const std::string& path, bool& out) {
    if (!value.is_boolean()) {
      error(path, std::string("expected true or false, got ") + json_type_name(value));
      return;
    }
    out = value.get<bool>();
  }

  template <typename E>
  void choice(const Json& value, const std::string& path, E& out,
              const std::vector<std::pair<std::string, E>>& options) {
    std::string names;
    for (const auto& [name, unused] : options) names += (names.empty() ? "" : " | ") + name;
    if (!value.is_string()) {
      error(path, "expected one of " + names + ", got " + json_type_name(value));
      return;
    }
    for (const auto& [name, option] : options) {
      if (value.get<std::string>() == name) {
        out = option;
        return;
      }
    }
    error(path, "unknown value \"" + value.get<std::string>() + "\"; expected one of " + names);
  }

  void unknown_key(const std::string& path, const std::string& key, const std::vector<std::string>& known) {
    std::string message = "unknown key \"" + key + "\"";
    if (auto suggestion = closest_name(key, known)) message += "; did you mean \"" + *suggestion + "\"?";
    error(path, message);
  }
};

using Handler = std::function<void(Parser&, const Json&, const std::string&, EngineConfig&)>;

const std::vector<std::pair<std::string, Handler>>& top_level_handlers() {
  static const std::vector<std::pair<std::string, Handler>> handlers = {
      {"reconciliation",
       [](Parser& p, const Json& v, const std::string& path, EngineConfig& c) {
         p.choice<ReconciliationStrategy>(v, path, c.reconciliation,
                                          {{"conservative", ReconciliationStrategy::Conservative},
                                           {"aggressive", ReconciliationStrategy::Aggressive}});
       }},
      {"allocation",
       [](Parser& p, const Json& v, const std::string& path, EngineConfig& c) {
         p.choice<AllocationStrategy>(v, path, c.allocation,
                                      {{"round-robin", AllocationStrategy::RoundRobin},
                                       {"resource-aware", AllocationStrategy::ResourceAware}});
       }},
      {"leader_election",
       [](Parser& p, const Json& v, const std::string& path, EngineConfig& c) {
         p.choice<LeaderElection>(
             v, path, c.leader_election,
             {{"consensus", LeaderElection::Consensus}, {"local", LeaderElection::Local}});
       }},
      {"auto_rebalancing", [](Parser& p, const Json& v, const std::string& path,
                              EngineConfig& c) { p.boolean(v, path, c.auto_rebalancing); }},
      {"reconciliation_interval",
       [](Parser& p, const Json& v, const std::string& path, EngineConfig& c) {
         p.duration(v, path, c.reconciliation_interval_ns, millis(1));
       }},
      {"blueprint_processing_timeout",
       [](Parser& p, const Json& v, const std::string& path, EngineConfig& c) {
         p.duration(v, path, c.blueprint_processing_timeout_ns, millis(1));
       }},
      {"activation_recheck_delay",
       [](Parser& p, const Json& v, const std::string& path, EngineConfig& c) {
         p.duration(v, path, c.activation_recheck_delay_ns, 0);
       }},
      {"stuck_multiplier", [](Parser& p, const Json& v, const std::string& path,
                              EngineConfig& c) { p.integer(v, path, c.stuck_multiplier, 1, 1000); }},
      {"transient_retry_max", [](Parser& p, const Json& v, const std::string& path,
                                 EngineConfig& c) { p.integer(v, path, c.transient_retry_max, 1, 1000); }},
      {"transient_backoff_cap",
       [](Parser& p, const Json& v, const std::string& path, EngineConfig& c) {
         p.duration(v, path, c.transient_backoff_cap_ns, millis(1));
       }},
      {"timeouts",
       [](Parser& p, const Json& v, const std::string& path, EngineConfig& c) {
         if (!v.is_object()) {
           p.error(path,
                   std::string("expected an object {loading, activating, deactivating, unloading}, got ") +
                       json_type_name(v));
           return;
         }
         const std::vector<std::pair<std::string, Nanos*>> fields = {
             {"loading", &c.timeouts.loading_ns},
             {"activating", &c.timeouts.activating_ns},
             {"deactivating", &c.timeouts.deactivating_ns},
             {"unloading", &c.timeouts.unloading_ns},
         };
         std::vector<std::string> names;
         for (const auto& field : fields) names.push_back(field.first);
         for (const auto& [key, value] : v.items()) {
           auto it =
               std::find_if(fields.begin(), fields.end(), [&](const auto& f) { return f.first == key; });
           if (it == fields.end()) {
             p.unknown_key(path + "." + key, key, names);
             continue;
           }
           p.duration(value, path + "." + key, *it->second, millis(1));
         }
       }},
      {"command_timeout", [](Parser& p, const Json& v, const std::string& path,
                             EngineConfig& c) { p.duration(v, path, c.command_timeout_ns, millis(1)); }},
      {"write_timeout", [](Parser& p, const Json& v, const std::string& path,
                           EngineConfig& c) { p.duration(v, path, c.write_timeout_ns, millis(1)); }},
      {"write_retries", [](Parser& p, const Json& v, const std::string& path,
                           EngineConfig& c) { p.integer(v, path, c.write_retries, 0, 100); }},
      {"write_retry_delay", [](Parser& p, const Json& v, const std::string& path,
                               EngineConfig& c) { p.duration(v, path, c.write_retry_delay_ns, 0); }},
      {"leader_timeout",
       [](Parser& p, const Json& v, const std::string& path, EngineConfig& c) {
         Nanos value = kDefaultLeaderTimeout;
         const auto before = p.errors.size();
         p.duration(v, path, value, millis(1));
         if (p.errors.size() == before) c.leader_timeout_ns = value;
       }},
      {"mutations",
       [](Parser& p, const Json& v, const std::string& path, EngineConfig& c) {
         if (!v.is_array()) {
           p.error(path, std::string("expected an array of mutation names, got ") + json_type_name(v));
           return;
         }
         std::vector<std::string> known;
         for (const auto& doc : mutation_points()) known.push_back(doc.name);
         for (std::size_t i = 0; i < v.size(); ++i) {
           const std::string item_path = path + "[" + std::to_string(i) + "]";
           if (!v[i].is_string()) {
             p.error(item_path, std::string("expected a mutation name, got ") + json_type_name(v[i]));
             continue;
           }
           const auto name = v[i].get<std::string>();
           if (!is_known_mutation(name)) {
             std::string message = "unknown mutation \"" + name + "\"";
             if (auto suggestion = closest_name(name, known))
               message += "; did you mean \"" + *suggestion + "\"?";
             p.error(item_path, message);
             continue;
           }
           c.mutations.insert(name);
         }
       }},
  };
  return handlers;
}

}  // namespace

std::vector<ConfigError> parse_engine_config(const nlohmann::json& object, EngineConfig& out) {
  std::vector<ConfigError> errors;
  Parser parser{errors};
  if (!object.is_object()) {
    parser.error("", std::string("expected an object, got ") + json_type_name(object));
    return errors;
  }
  const auto& handlers = top_level_handlers();
  std::vector<std::string> names;
  for (const auto& handler : handlers) names.push_back(handler.first);
  for (const auto& [key, value] : object.items()) {
    auto it = std::find_if(handlers.begin(), handlers.end(), [&](const auto& h) { return h.first == key; });
    if (it == handlers.end()) {
      parser.unknown_key(key, key, names);
      continue;
    }
    it->second(parser, value, key, out);
  }
  return errors;
}

nlohmann::json engine_config_to_json(const EngineConfig& config) {
  Json out = Json::object();
  out["reconciliation"] = reconciliation_strategy_name(config.reconciliation);
  out["allocation"] = allocation_strategy_name(config.allocation);
  out["leader_election"] = leader_election_name(config.leader_election);
  out["auto_rebalancing"] = config.auto_rebalancing;
  out["reconciliation_interval"] = format_duration(config.reconciliation_interval_ns);
  out["blueprint_processing_timeout"] = format_duration(config.blueprint_processing_timeout_ns);
  out["activation_recheck_delay"] = format_duration(config.activation_recheck_delay_ns);
  out["stuck_multiplier"] = config.stuck_multiplier;
  out["transient_retry_max"] = config.transient_retry_max;
  out["transient_backoff_cap"] = format_duration(config.transient_backoff_cap_ns);
  out["timeouts"] = Json{{"loading", format_duration(config.timeouts.loading_ns)},
                         {"activating", format_duration(config.timeouts.activating_ns)},
                         {"deactivating", format_duration(config.timeouts.deactivating_ns)},
                         {"unloading", format_duration(config.timeouts.unloading_ns)}};
  out["command_timeout"] = format_duration(config.command_timeout_ns);
  out["write_timeout"] = format_duration(config.write_timeout_ns);
  out["write_retries"] = config.write_retries;
  out["write_retry_delay"] = format_duration(config.write_retry_delay_ns);
  if (config.leader_timeout_ns) out["leader_timeout"] = format_duration(*config.leader_timeout_ns);
  if (!config.mutations.empty()) {
    out["mutations"] = Json::array();
    for (const auto& name : config.mutations) out["mutations"].push_back(name);
  }
  return out;
}

std::vector<ConfigKeyDoc> engine_config_keys() {
  return {
      {"reconciliation", "conservative",
       "conservative fixes instance counts only; aggressive also rebalances"},
      {"allocation", "round-robin",
       "placement strategy: round-robin (a cursor over the nodes) or resource-aware (slice resources must "
       "fit "
       "the node's capacity; least loaded first)"},
      {"leader_election", "consensus",
       "consensus: a `leader` KV entry; local: first node of each node's view"},
      {"auto_rebalancing", "true", "under aggressive reconciliation, move instances to even out load"},
      {"reconciliation_interval", "30s", "period of the leader's full reconcile"},
      {"blueprint_processing_timeout", "2m", "a blueprint not fully ACTIVE by then is reported"},
      {"activation_recheck_delay", "2s",
       "after becoming leader: re-read the view and drop absent nodes' keys"},
      {"stuck_multiplier", "3", "a slice is stuck after this many times its state timeout"},
      {"transient_retry_max", "5", "consecutive transient failures before an artifact counts as fatal"},
      {"transient_backoff_cap", "30s", "cap of the transient retry backoff 2^(n-1)s"},
      {"timeouts.loading", "2m", "LOADING state timeout"},
      {"timeouts.activating", "1m", "ACTIVATING state timeout"},
      {"timeouts.deactivating", "30s", "DEACTIVATING state timeout"},
      {"timeouts.unloading", "2m", "UNLOADING state timeout"},
      {"command_timeout", "30s", "re-send a command not answered within this"},
      {"write_timeout", "30s", "a KV write not completed by then has an unknown outcome (CDM and NDM)"},
      {"write_retries", "2", "NDM retries of a timed-out write"},
      {"write_retry_delay", "2s", "NDM delay between write retries"},
      {"leader_timeout", "cluster.failure_detection",
       "consensus: clear a known leader out of view this long"},
      {"mutations", "[]", "named engine bug variants to switch on (aethersim list mutations); testing only"},
  };
}

std::optional<std::string> closest_name(const std::string& word, const std::vector<std::string>& candidates) {
  std::optional<std::string> best;
  std::size_t best_distance = 0;
  for (const auto& candidate : candidates) {
    std::vector<std::size_t> row(candidate.size() + 1);
    for (std::size_t j = 0; j <= candidate.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= word.size(); ++i) {
      std::size_t diagonal = row[0];
      row[0] = i;
      for (std::size_t j = 1; j <= candidate.size(); ++j) {
        const std::size_t above = row[j];
        const std::size_t cost = word[i - 1] == candidate[j - 1] ? 0 : 1;
        row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + cost});
        diagonal = above;
      }
    }
    const std::size_t distance = row[candidate.size()];
    if (!best || distance < best_distance) {
      best = candidate;
      best_distance = distance;
    }
  }
  // A plausible typo: at most a third of the word, and at least 1 edit allowed.
  if (best && best_distance <= std::max<std::size_t>(2, word.size() / 3)) return best;
  return std::nullopt;
}

}  // namespace aether::engine
