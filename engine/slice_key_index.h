// The local KV's slices/* keys that parse, in key order (the order of a
// scan), with the parsed value (nullopt: unparseable), and how many such keys
// each node has: what the CDM's adopt_unknown_keys and remove_absent_nodes
// read instead of scanning and parsing every slice key on each reconcile
// (issue 14, third pass). Built from the activation scan, then kept in step
// with every KV notification. Unit-tested in tests/engine/moves_test.cc.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/cdm_facts.h"
#include "engine/kv_client.h"
#include "engine/kv_schema.h"
#include "engine/slice_table.h"

namespace aether::engine {

class SliceKeyIndex {
 public:
  struct Key {
    SliceKey slice;
    std::optional<SliceValue> value;
  };

  void put(const std::string& key, const SliceKey& slice, std::optional<SliceValue> value);
  // Follows one notification, whatever its origin.
  void track(const KvNotification& n);
  // The same for a slices/* key with its parse already made: `slice` is
  // parse_slice_key(n.key) (asked at least for a Put), `value`
  // parse_slice_value(n.value) for a Put of a valid key.
  void track(const KvNotification& n, const std::optional<SliceKey>& slice,
             const std::optional<SliceValue>& value);

  const std::map<std::string, Key, std::less<>>& keys() const { return keys_; }
  const std::map<NodeId, std::size_t>& nodes() const { return nodes_; }  // keys per node
  // The nodes with a key, per artifact (the slice table's order), each list
  // sorted without duplicates: a vector, walked on every reconcile
  // (unknown_keys), where a set's nodes cost a pointer chase each.
  const std::map<std::string, std::vector<NodeId>, std::less<>>& by_artifact() const { return by_artifact_; }

 private:
  std::map<std::string, Key, std::less<>> keys_;
  std::map<NodeId, std::size_t> nodes_;
  std::map<std::string, std::vector<NodeId>, std::less<>> by_artifact_;
};

// Nodes out of `view` (sorted) with a slices/* key in the index, and, with
// `lifecycles`, with a node-lifecycle value: whose keys a reconcile removes.
std::set<NodeId> absent_nodes(const SliceKeyIndex& index, const NodeLifecycles* lifecycles,
                              const std::vector<NodeId>& view);
// Parseable keys the slice table has no entry for (a node-gone cleanup whose
// removal failed, the node then back in the view), in key order; a key whose
// removal is still on its way (`remove_pending`) is not adopted: it would
// count an entry the CDM is deleting.
std::vector<const SliceKeyIndex::Key*> unknown_keys(
    const SliceKeyIndex& index, const SliceTable& table,
    const std::function<bool(const std::string&)>& remove_pending);

}  // namespace aether::engine
