// Shared bits of the engine's end-to-end test files.
#pragma once

#include <catch2/catch.hpp>

#include "tests/engine/world_harness.h"

namespace aether::engine::testing {

inline const std::string kCart = "org.example:cart:1.0.0";
inline const std::string kCart2 = "org.example:cart:2.0.0";
inline const std::string kCartBase = "org.example:cart";
inline const std::string kDb = "org.example:db:1.0.0";
inline const std::string kWeb = "org.example:web:1.0.0";

// Safety the engine owes in every test: no assertion, every engine write a
// lifecycle edge, never a load of a held artifact.
inline void require_safe(const TestWorld& world) {
  for (const auto& a : world.recorder.asserts) UNSCOPED_INFO("assert: " << a);
  for (const auto& v : world.recorder.lifecycle_violations) UNSCOPED_INFO("lifecycle: " << v);
  for (const auto& r : world.recorder.reloads) UNSCOPED_INFO("reload: " << r);
  CHECK(world.recorder.asserts.empty());
  CHECK(world.recorder.lifecycle_violations.empty());
  CHECK(world.recorder.reloads.empty());
}

inline void require_converged(TestWorld& world, Nanos limit) {
  const bool converged = world.run_until_converged(limit);
  INFO("blocker: " << world.convergence_blocker());
  REQUIRE(converged);
}

// World options with the named mutation point switched on (none: the
// correct engine), then `more`.
inline std::function<void(WorldOptions&)> with_mutation(std::optional<std::string> mutation,
                                                        std::function<void(WorldOptions&)> more = {}) {
  return [mutation, more](WorldOptions& o) {
    if (mutation) o.config.mutations.insert(*mutation);
    if (more) more(o);
  };
}

// Whether `key` ever committed `state` (and `reason`, if given) in this run.
inline bool history_has(const TestWorld& world, const std::string& key, SliceState state,
                        std::optional<std::string> reason = std::nullopt) {
  auto it = world.recorder.history.find(key);
  if (it == world.recorder.history.end()) return false;
  for (const auto& text : it->second) {
    auto value = parse_slice_value(text);
    if (value && value->state == state && (!reason || value->failure_reason == reason)) return true;
  }
  return false;
}

// Whether cart's committed slice-target has the instance count of the
// committed blueprint "shop" (its only slice).
inline bool cart_target_follows_shop(const TestWorld& world) {
  const auto& store = world.cluster->canonical_store();
  auto blueprint = std::get<Blueprint>(parse_blueprint_text(store.at(blueprint_key("shop"))));
  auto target = *parse_slice_target(store.at(slice_target_key(kCartBase)));
  return target.instances == blueprint.slices[0].instances;
}

}  // namespace aether::engine::testing
