// Resource quantities (engine-semantics.md §8.1): `{"cpu": millicores,
// "memory": bytes or "<n>Ki|Mi|Gi"}`, the shape of a slice's `resources` and
// of a node's capacity. Parsing reports every error with its JSON path.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/topology.h"

namespace aether::engine {

struct ResourceError {
  std::string path;
  std::string message;
};

// A memory quantity: a non-negative integer (bytes) or a string "<digits>"
// optionally followed by Ki, Mi or Gi. nullopt (and `why`) if malformed.
std::optional<std::int64_t> parse_memory(const nlohmann::json& value, std::string* why);

// `{"cpu"?, "memory"?}`; absent keys are nullopt. Unknown keys, wrong types
// and negative values are errors at `path`.
Capacity parse_capacity(const nlohmann::json& value, const std::string& path,
                        std::vector<ResourceError>& errors);

// A slice's demand: absent dimensions are zero.
inline Resources demand_of(const Capacity& parsed) {
  return Resources{parsed.cpu.value_or(0), parsed.memory.value_or(0)};
}

// Whether `used + extra` fits `capacity` in every limited dimension.
bool fits(const Capacity& capacity, const Resources& used, const Resources& extra);

// The larger of used/capacity over limited dimensions (0 when unlimited).
double load_ratio(const Capacity& capacity, const Resources& used);

// Canonical JSON of a demand or capacity (memory in bytes; absent = omitted).
nlohmann::json resources_to_json(const Resources& resources);
nlohmann::json capacity_to_json(const Capacity& capacity);

}  // namespace aether::engine
