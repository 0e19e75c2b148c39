#include "sim/kv_interest.h"

#include <algorithm>
#include <stdexcept>

namespace aether::sim {

void KvInterestIndex::unlink(std::uint32_t vertex, const std::string& prefix) {
  auto it = by_prefix_.find(prefix);
  if (it == by_prefix_.end()) return;
  std::erase(it->second, vertex);
  if (it->second.empty()) by_prefix_.erase(it);
}

void KvInterestIndex::set(std::uint32_t vertex, const engine::KvInterest& interest) {
  if (vertex >= of_.size()) of_.resize(vertex + 1);
  for (const std::string& prefix : of_[vertex]) unlink(vertex, prefix);
  of_[vertex].clear();
  std::erase(all_, vertex);
  if (interest.all) {
    all_.insert(std::lower_bound(all_.begin(), all_.end(), vertex), vertex);
    return;
  }
  auto link = [&](const std::string& entry) {
    auto& vertices = by_prefix_[entry];
    if (std::find(vertices.begin(), vertices.end(), vertex) != vertices.end()) return;
    vertices.push_back(vertex);
    of_[vertex].push_back(entry);
  };
  for (const std::string& prefix : interest.prefixes) {
    if (prefix.empty() || prefix.back() != '/')
      throw std::logic_error("KvInterest: a prefix must end with '/': '" + prefix + "'");
    link(prefix);
  }
  for (const std::string& key : interest.keys) link(key);
}

}  // namespace aether::sim
