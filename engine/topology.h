// Topology and quorum events as one node sees them. Views are sorted in plain
// string order and always contain the node itself.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace aether::engine {

using NodeId = std::string;

enum class TopologyChange : std::uint8_t { NodeAdded, NodeRemoved, NodeDown };

struct TopologyEvent {
  TopologyChange change = TopologyChange::NodeAdded;
  NodeId node;               // the node that joined, was removed or went down
  std::vector<NodeId> view;  // the new view, sorted
};

enum class QuorumChange : std::uint8_t { Established, Lost };

struct QuorumEvent {
  QuorumChange change = QuorumChange::Established;
  std::uint64_t sequence = 0;  // strictly increasing per node
};

class TopologyListener {
 public:
  virtual ~TopologyListener() = default;
  virtual void on_topology(const TopologyEvent& event) = 0;
  virtual void on_quorum(const QuorumEvent& event) = 0;
};

class Topology {
 public:
  virtual ~Topology() = default;
  virtual const NodeId& self() const = 0;
  virtual std::vector<NodeId> view() const = 0;              // sorted, includes self
  virtual std::vector<NodeId> configured_nodes() const = 0;  // sorted
  virtual bool has_quorum() const = 0;
  // Listeners are notified in registration order.
  virtual void add_listener(TopologyListener* listener) = 0;
};

}  // namespace aether::engine
