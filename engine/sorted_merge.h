// One step of a merge of sorted sequences (issue 14, fifth pass): a walk of
// sorted keys that asks a second sorted sequence for each of them, moving
// forward only, costs the two lengths instead of one lookup by name per key.
#pragma once

#include <algorithm>
#include <compare>
#include <cstddef>

namespace aether::engine {

// Whether the sorted range at `it` holds `key`, moving `it` past the smaller
// elements; `key_of` reads an element's key. Successive calls must ask keys
// in increasing order.
// One three-way comparison per step (a string's `<` then `==` compared the
// same bytes twice).
template <typename It, typename Key, typename KeyOf>
bool merge_has(It& it, It end, const Key& key, KeyOf key_of) {
  for (; it != end; ++it) {
    const auto order = key_of(*it) <=> key;
    if (order >= 0) return order == 0;
  }
  return false;
}

// map.find(key) for a map asked keys in increasing order: `it` (at first
// map.begin()) moves forward only (merge_has over the map's keys).
template <typename Map>
typename Map::const_iterator merge_find(typename Map::const_iterator& it, const Map& map,
                                        const typename Map::key_type& key) {
  const auto key_of = [](const typename Map::value_type& entry) -> const auto& {
    return entry.first;
  };
  return merge_has(it, map.end(), key, key_of) ? it : map.end();
}

// Whether the sorted range [it, end) holds `key`, moving `it` to the first
// element not below it: by steps that double from `it`, then a binary search
// in the last step. Asking sorted keys spread thinly over a long range (an
// artifact's entries against the view) costs about log(gap) comparisons
// each, where a binary search over the whole range costs log(length).
template <typename It, typename Key>
bool gallop_has(It& it, It end, const Key& key) {
  auto low = it;
  auto high = it;
  for (std::ptrdiff_t step = 1; high != end && *high < key; step *= 2) {
    low = high + 1;
    high = end - low > step ? low + step : end;
  }
  it = std::lower_bound(low, high, key);
  return it != end && *it == key;
}

}  // namespace aether::engine
