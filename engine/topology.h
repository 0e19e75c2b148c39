// Topology and quorum events as one node sees them. Views are sorted in plain
// string order and always contain the node itself.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace aether::engine {

using NodeId = std::string;

// Resources an instance needs or a node offers (engine-semantics.md §8.1):
// cpu in millicores, memory in bytes.
struct Resources {
  std::int64_t cpu = 0;
  std::int64_t memory = 0;
  bool operator==(const Resources&) const = default;
};

// A node's capacity; an absent dimension is unlimited.
struct Capacity {
  std::optional<std::int64_t> cpu{};
  std::optional<std::int64_t> memory{};
  bool operator==(const Capacity&) const = default;
};

inline constexpr const char* kDefaultZone = "default";

// What the host reports about a node: its zone and its capacity.
struct NodeAttributes {
  std::string zone = kDefaultZone;
  Capacity capacity{};
  bool operator==(const NodeAttributes&) const = default;
};

enum class TopologyChange : std::uint8_t { NodeAdded, NodeRemoved, NodeDown };

struct TopologyEvent {
  TopologyChange change = TopologyChange::NodeAdded;
  NodeId node;  // the node that joined, was removed or went down
  // The new view, sorted; valid during the call only (issue 14, eighth pass:
  // the host shares one copy of a view among every node that holds it).
  std::span<const NodeId> view;
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
  // Sorted, includes self; valid until the next topology event (issue 14:
  // no copy of a 1,000-node view per query).
  virtual const std::vector<NodeId>& view() const = 0;
  virtual std::vector<NodeId> configured_nodes() const = 0;  // sorted
  virtual bool has_quorum() const = 0;
  // The host's report of a node's zone and capacity (default zone, unlimited
  // capacity unless the host says otherwise).
  virtual NodeAttributes attributes(const NodeId&) const { return {}; }
  // Listeners are notified in registration order.
  virtual void add_listener(TopologyListener* listener) = 0;
};

}  // namespace aether::engine
