// A quick hash of a short name (node ids, artifacts) for lookup-only hash
// tables (issue 14, eighth pass): std::hash of a string goes through
// _Hash_bytes (~50 instructions for a 9-byte node id); this reads 8 bytes at
// a time. The tables it serves are never iterated, so its values reach no
// decision and no trace line.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace aether::sim {

struct NameHash {
  std::size_t operator()(std::string_view name) const noexcept {
    std::uint64_t h = 0x9E3779B97F4A7C15ULL ^ name.size();
    std::size_t i = 0;
    for (; i + 8 <= name.size(); i += 8) {
      std::uint64_t word = 0;
      std::memcpy(&word, name.data() + i, 8);
      h = (h ^ word) * 0xFF51AFD7ED558CCDULL;
      h ^= h >> 32;
    }
    std::uint64_t tail = 0;
    for (std::size_t b = name.size(); b > i; --b)
      tail = (tail << 8) | static_cast<unsigned char>(name[b - 1]);
    h = (h ^ tail) * 0xC4CEB9FE1A85EC53ULL;
    return static_cast<std::size_t>(h ^ (h >> 29));
  }
};

}  // namespace aether::sim
