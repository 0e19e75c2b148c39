// The checks' thin view of the engine's slice vocabulary: `slices/{node}/
// {artifact}` keys, slice values and the lifecycle table. Every answer comes
// from the checks' own reference model (properties/reference_model.h), never
// from the engine's code: a wrong edge in the engine's table must not be
// shared by the check that judges it.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "engine/kv_client.h"
#include "engine/topology.h"

namespace aether::properties {

struct SliceKey {
  engine::NodeId node;
  std::string artifact;
};

// `slices/{node}/{artifact}` split; nullopt for any other key.
std::optional<SliceKey> parse_slice_key(std::string_view key);

// The lifecycle state name a stored slice value holds ("LOAD", "ACTIVE", ...);
// nullopt for a value the engine cannot parse.
std::optional<std::string> slice_state_name(const std::string& value);

// For messages: "(absent)", "(unparseable)" or the state name.
std::string describe_slice_value(const std::optional<std::string>& value);

// True for the command states LOAD, ACTIVATE, DEACTIVATE, UNLOAD.
bool is_command_value(const std::string& value);

enum class SliceWriterRole : std::uint8_t { Cdm, Ndm };

// Whether `role` may commit `command` on a key whose value it had applied as
// `applied` (nullopt: absent), by the engine's lifecycle table
// (engine-semantics.md §6). A rewrite of the same state is always legal.
bool lifecycle_allows(SliceWriterRole role, const std::optional<std::string>& applied,
                      const engine::KvCommand& command);

// Whether two stored values hold the same lifecycle state (absent equals
// absent; unparseable equals unparseable).
bool same_slice_state(const std::optional<std::string>& a, const std::optional<std::string>& b);

}  // namespace aether::properties
