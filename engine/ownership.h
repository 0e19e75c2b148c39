// Which blueprint owns each artifact base (engine-semantics.md §4). One
// function, shared by the ClusterDeploymentManager and the checks, so that
// both agree on whose slice-target counts.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "engine/blueprint.h"
#include "engine/kv_schema.h"

namespace aether::engine {

struct Ownership {
  std::map<std::string, std::string> owner_of;  // base -> blueprint id
  // Valid blueprints that do not own every base they list (another blueprint
  // owns one of them); the CDM ignores them until ownership changes.
  std::set<std::string> rejected;

  std::optional<std::string> owner(const std::string& base) const;
};

// `blueprints`: id -> parsed blueprint, nullopt if the committed value is
// invalid (an invalid blueprint lists nothing). `targets`: base -> committed
// slice-target (unparseable ones left out).
//
// 1. A base whose slice-target names an owner that is a valid blueprint still
//    listing it belongs to that owner.
// 2. Then valid blueprints are judged in order of their values' decided
//    positions (`positions`: id -> decided position, etcd's mod revision; a
//    missing id counts as 0; ties by id): one that lists a base owned by
//    another blueprint is rejected; otherwise it takes every base it lists.
// So the earliest-decided value wins among unclaimed blueprints (a swap has
// one answer), and a blueprint owns all of its bases or (unless a
// slice-target says otherwise) none.
Ownership compute_ownership(const std::map<std::string, std::optional<Blueprint>>& blueprints,
                            const std::map<std::string, SliceTarget>& targets,
                            const std::map<std::string, std::uint64_t>& positions = {});

}  // namespace aether::engine
