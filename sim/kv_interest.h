// Which nodes' listeners subscribe to which keys (issue 14, fifth pass): the
// per-node subscriptions of engine::KvInterest, indexed so that a decided
// batch finds the few nodes it must wake without asking every node.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "engine/kv_client.h"

namespace aether::sim {

class KvInterestIndex {
 public:
  // Replaces `vertex`'s interest (the union over its listeners).
  void set(std::uint32_t vertex, const engine::KvInterest& interest);
  void clear(std::uint32_t vertex) { set(vertex, engine::KvInterest{}); }
  // Calls mark(vertex) for every vertex subscribed to some key of `batch`
  // (a vertex may be marked more than once).
  template <typename Mark>
  void match(const engine::KvBatch& batch, Mark&& mark) const {
    for (std::uint32_t vertex : all_) mark(vertex);
    if (by_prefix_.empty()) return;
    for (const engine::KvCommand& command : batch) {
      const std::string_view key = command.key;
      for (std::size_t slash = key.find('/'); slash != std::string_view::npos;
           slash = key.find('/', slash + 1)) {
        mark_all(key.substr(0, slash + 1), mark);
      }
      mark_all(key, mark);
    }
  }

 private:
  template <typename Mark>
  void mark_all(std::string_view key, Mark& mark) const {
    auto it = by_prefix_.find(key);
    if (it == by_prefix_.end()) return;
    for (std::uint32_t vertex : it->second) mark(vertex);
  }
  void unlink(std::uint32_t vertex, const std::string& prefix);

  std::vector<std::uint32_t> all_;  // vertices subscribed to every key
  // A prefix ("…/") or a whole key -> the vertices subscribed to it.
  std::map<std::string, std::vector<std::uint32_t>, std::less<>> by_prefix_;
  std::vector<std::vector<std::string>> of_;  // by vertex: its entries in by_prefix_
};

}  // namespace aether::sim
