// A hash of a short name (node ids, artifacts) for lookup-only hash tables
// (issue 14, eighth pass): the trace's hash_bytes, 8 bytes at a time, where
// std::hash of a string goes through _Hash_bytes. The tables it serves are
// never iterated, so its values reach no decision and no trace line.
#pragma once

#include <cstddef>
#include <string_view>

#include "sim/trace.h"

namespace aether::sim {

struct NameHash {
  std::size_t operator()(std::string_view name) const noexcept {
    return static_cast<std::size_t>(hash_bytes(0, name));
  }
};

}  // namespace aether::sim
