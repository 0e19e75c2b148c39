#include "engine/lifecycle.h"

#include <array>
#include <utility>

namespace aether::engine {

namespace {
constexpr std::array<std::pair<SliceState, const char*>, 11> kNames = {{
    {SliceState::Load, "LOAD"},
    {SliceState::Loading, "LOADING"},
    {SliceState::Loaded, "LOADED"},
    {SliceState::Activate, "ACTIVATE"},
    {SliceState::Activating, "ACTIVATING"},
    {SliceState::Active, "ACTIVE"},
    {SliceState::Deactivate, "DEACTIVATE"},
    {SliceState::Deactivating, "DEACTIVATING"},
    {SliceState::Failed, "FAILED"},
    {SliceState::Unload, "UNLOAD"},
    {SliceState::Unloading, "UNLOADING"},
}};

using S = SliceState;

bool cdm_put(std::optional<S> from, S to) {
  if (!from) return to == S::Load;  // the only way a key is created
  switch (to) {
    case S::Unload:
      return *from != S::Unload && *from != S::Unloading;
    case S::Activate:
      return *from == S::Loaded;
    case S::Deactivate:
      return *from == S::Active;
    default:
      return false;
  }
}

bool ndm_put(std::optional<S> from, S to, std::string_view reason) {
  if (!from) return false;
  switch (*from) {
    case S::Load:
      return to == S::Loading;
    case S::Loading:
      return to == S::Loaded || to == S::Failed;
    case S::Activate:
      return to == S::Activating || to == S::Failed;
    case S::Activating:
      return to == S::Active || to == S::Failed;
    case S::Deactivate:
      return to == S::Deactivating || to == S::Loaded || to == S::Failed;
    case S::Deactivating:
      return to == S::Loaded || to == S::Failed;
    case S::Unload:
      return to == S::Unloading;
    case S::Loaded:
    case S::Active:
      return to == S::Failed && reason == kLostReason;
    default:
      return false;
  }
}
}  // namespace

const char* slice_state_name(SliceState state) {
  for (const auto& [value, name] : kNames) {
    if (value == state) return name;
  }
  return "?";
}

std::optional<SliceState> parse_slice_state(std::string_view text) {
  for (const auto& [value, name] : kNames) {
    if (text == name) return value;
  }
  return std::nullopt;
}

bool is_live_state(SliceState state) {
  return state != S::Failed && state != S::Unload && state != S::Unloading;
}

bool is_command_state(SliceState state) {
  return state == S::Load || state == S::Activate || state == S::Deactivate || state == S::Unload;
}

const char* lifecycle_role_name(LifecycleRole role) {
  return role == LifecycleRole::Cdm ? "cdm" : "ndm";
}

bool is_legal_transition(LifecycleRole role, std::optional<SliceState> from, std::optional<SliceState> to,
                         std::string_view failure_reason) {
  if (from == to) return true;  // a rewrite (absent -> Remove included)
  if (!to) return role == LifecycleRole::Cdm || from == S::Unloading;
  if (role == LifecycleRole::Cdm) return cdm_put(from, *to);
  return ndm_put(from, *to, failure_reason);
}

std::optional<Nanos> state_timeout_ns(SliceState state, const StateTimeouts& timeouts) {
  switch (state) {
    case S::Loading:
      return timeouts.loading_ns;
    case S::Activating:
      return timeouts.activating_ns;
    case S::Deactivating:
      return timeouts.deactivating_ns;
    case S::Unloading:
      return timeouts.unloading_ns;
    default:
      return std::nullopt;
  }
}

}  // namespace aether::engine
