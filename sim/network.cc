#include "sim/network.h"

#include <algorithm>

#include <boost/graph/adjacency_list.hpp>
#include <boost/graph/connected_components.hpp>

namespace aether::sim {

void SimNetwork::partition(std::vector<std::vector<NodeId>> groups) {
  groups_.clear();
  group_of_.clear();
  everywhere_.clear();
  partitioned_ = true;
  for (auto& group : groups) {
    const std::size_t index = groups_.size();
    groups_.emplace_back(group.begin(), group.end());
    for (const auto& node : groups_.back()) group_of_[node].push_back(index);
  }
}

void SimNetwork::isolate(const NodeId& node) {
  isolated_.insert(node);
}

void SimNetwork::link(const NodeId& from, const NodeId& to, LinkRule rule) {
  links_[{from, to}] = rule;
}

void SimNetwork::heal() {
  partitioned_ = false;
  groups_.clear();
  group_of_.clear();
  everywhere_.clear();
  isolated_.clear();
  links_.clear();
}

void SimNetwork::heal(const NodeId& node) {
  if (partitioned_) everywhere_.insert(node);
  isolated_.erase(node);
  for (auto it = links_.begin(); it != links_.end();) {
    if (it->first.first == node || it->first.second == node) {
      it = links_.erase(it);
    } else {
      ++it;
    }
  }
}

void SimNetwork::forget(const NodeId& node) {
  heal(node);
  everywhere_.erase(node);
}

bool SimNetwork::same_group(const NodeId& a, const NodeId& b) const {
  if (!partitioned_ || a == b) return true;
  if (everywhere_.count(a) || everywhere_.count(b)) return true;
  auto ga = group_of_.find(a);
  auto gb = group_of_.find(b);
  if (ga == group_of_.end() || gb == group_of_.end()) {
    return ga == group_of_.end() && gb == group_of_.end();  // both in the implicit group
  }
  for (std::size_t g : ga->second) {
    if (std::find(gb->second.begin(), gb->second.end(), g) != gb->second.end()) return true;
  }
  return false;
}

bool SimNetwork::rules_cut(const NodeId& from, const NodeId& to) const {
  if (from == to) return false;
  if (isolated_.count(from) || isolated_.count(to)) return true;
  if (!same_group(from, to)) return true;
  auto it = links_.find({from, to});
  return it != links_.end() && it->second.loss_ppm >= kPpmOne;
}

bool SimNetwork::any_rule_in_force() const {
  return partitioned_ || !isolated_.empty() || !links_.empty();
}

DeliveryDraw SimNetwork::draw_delivery(const NodeId& from, const NodeId& to, Prng& prng) const {
  if (links_.empty()) return draw_plain(prng);
  DeliveryDraw draw;
  std::uint32_t loss_ppm = 0;
  // A cut link (or a node's link to itself) does not carry the message: the
  // consensus protocol relays it through the others, at plain latency.
  // (No link rule at all, the common case, returned above: draw_plain.)
  auto it = from == to || rules_cut(from, to) ? links_.end() : links_.find({from, to});
  if (it != links_.end()) {
    loss_ppm = std::min(it->second.loss_ppm, kPpmOne - 1);
    draw.delay_ns += it->second.delay_ns;
  }
  const std::uint32_t drop_ppm = std::min(settings_.drop_ppm, kPpmOne - 1);
  draw.delay_ns += draw_latency(prng);
  while (draw.retransmissions < kMaxRetransmissions &&
         ((drop_ppm > 0 && prng.chance_ppm(drop_ppm)) || (loss_ppm > 0 && prng.chance_ppm(loss_ppm)))) {
    ++draw.retransmissions;
    draw.delay_ns += draw_latency(prng);
  }
  if (settings_.duplicate_ppm > 0) draw.duplicated = prng.chance_ppm(settings_.duplicate_ppm);
  return draw;
}

std::vector<std::vector<NodeId>> SimNetwork::components(
    const std::vector<NodeId>& nodes, const std::function<bool(const NodeId&, const NodeId&)>& cut) {
  using Graph = boost::adjacency_list<boost::vecS, boost::vecS, boost::undirectedS>;
  Graph graph(nodes.size());
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    for (std::size_t j = i + 1; j < nodes.size(); ++j) {
      if (!cut(nodes[i], nodes[j]) && !cut(nodes[j], nodes[i])) boost::add_edge(i, j, graph);
    }
  }
  std::vector<int> component(nodes.size());
  const int count = nodes.empty() ? 0 : boost::connected_components(graph, component.data());
  std::vector<std::vector<NodeId>> out(static_cast<std::size_t>(count));
  for (std::size_t i = 0; i < nodes.size(); ++i)
    out[static_cast<std::size_t>(component[i])].push_back(nodes[i]);
  for (auto& group : out) std::sort(group.begin(), group.end());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace aether::sim
