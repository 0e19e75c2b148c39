// The deployment manager's configuration (engine-semantics.md §7): every key,
// its default, and the parser a scenario's `config` object goes through.
// Parse errors carry a JSON path relative to the config object so that the
// scenario loader can prefix its own path and report them to users.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/time.h"

namespace aether::engine {

enum class ReconciliationStrategy : std::uint8_t { Conservative, Aggressive };
enum class AllocationStrategy : std::uint8_t { RoundRobin, ResourceAware };
enum class LeaderElection : std::uint8_t { Consensus, Local };

const char* reconciliation_strategy_name(ReconciliationStrategy strategy);
const char* allocation_strategy_name(AllocationStrategy strategy);
const char* leader_election_name(LeaderElection election);

// How long a slice may sit in a transitional state before reconcile calls it
// stuck (times `stuck_multiplier`).
struct StateTimeouts {
  Nanos loading_ns = minutes(2);
  Nanos activating_ns = minutes(1);
  Nanos deactivating_ns = seconds(30);
  Nanos unloading_ns = minutes(2);
  bool operator==(const StateTimeouts&) const = default;
};

constexpr Nanos kDefaultLeaderTimeout = seconds(1);

struct EngineConfig {
  ReconciliationStrategy reconciliation = ReconciliationStrategy::Conservative;
  AllocationStrategy allocation = AllocationStrategy::RoundRobin;
  LeaderElection leader_election = LeaderElection::Consensus;
  bool auto_rebalancing = true;
  Nanos reconciliation_interval_ns = seconds(30);
  Nanos blueprint_processing_timeout_ns = minutes(2);
  Nanos activation_recheck_delay_ns = seconds(2);
  int stuck_multiplier = 3;
  int transient_retry_max = 5;
  Nanos transient_backoff_cap_ns = seconds(30);
  StateTimeouts timeouts;
  Nanos command_timeout_ns = seconds(30);
  Nanos write_timeout_ns = seconds(30);
  int write_retries = 2;
  Nanos write_retry_delay_ns = seconds(2);
  // nullopt: not given; the runner sets it to cluster.failure_detection.
  std::optional<Nanos> leader_timeout_ns;
  // Named bug variants (engine/mutations.h) switched on for mutation testing.
  // Empty in every normal run.
  std::set<std::string> mutations;
  // The CDM answers a reconcile that provably changes nothing by its count
  // alone (cluster_deployment_manager.cc, reconcile()). Not a scenario
  // setting: off only in tests that compare it with the full reconcile.
  bool reconcile_early_out = true;

  Nanos effective_leader_timeout_ns() const { return leader_timeout_ns.value_or(kDefaultLeaderTimeout); }
  bool mutation(const char* name) const { return !mutations.empty() && mutations.count(name) > 0; }
  bool operator==(const EngineConfig&) const = default;
};

struct ConfigError {
  std::string path;  // relative to the config object, e.g. "timeouts.loading"
  std::string message;
};

// Fills `out` (starting from whatever it holds, normally the defaults) from
// `object`; returns every error found. `out` is unspecified if any.
std::vector<ConfigError> parse_engine_config(const nlohmann::json& object, EngineConfig& out);

// Every key, with durations in the duration grammar; parses back to `config`.
nlohmann::json engine_config_to_json(const EngineConfig& config);

struct ConfigKeyDoc {
  std::string key;  // dotted for nested keys: "timeouts.loading"
  std::string default_value;
  std::string description;
};

// For `aethersim list config`, in file order.
std::vector<ConfigKeyDoc> engine_config_keys();

// The closest of `candidates` to `word` by edit distance, if close enough to
// be a plausible typo ("did you mean").
// "a string", "an array", ...: how error messages name a JSON value's type.
const char* json_type_name(const nlohmann::json& value);

std::optional<std::string> closest_name(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace aether::engine
