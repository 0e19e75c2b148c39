// One step of a merge of sorted sequences (issue 14, fifth pass): a walk of
// sorted keys that asks a second sorted sequence for each of them, moving
// forward only, costs the two lengths instead of one lookup by name per key.
#pragma once

namespace aether::engine {

// Whether the sorted range at `it` holds `key`, moving `it` past the smaller
// elements; `key_of` reads an element's key. Successive calls must ask keys
// in increasing order.
template <typename It, typename Key, typename KeyOf>
bool merge_has(It& it, It end, const Key& key, KeyOf key_of) {
  while (it != end && key_of(*it) < key) ++it;
  return it != end && key_of(*it) == key;
}

}  // namespace aether::engine
