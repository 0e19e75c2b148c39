// The rebalancer of aggressive reconciliation (engine-semantics.md §4
// "Strategies"): which make-before-break moves to start. Pure: it sees the
// eligible nodes and, per artifact, where its entries are; the CDM records the
// moves and writes the LOADs. Unit-tested without the simulator
// (tests/engine/rebalancer_test.cc).
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "engine/topology.h"

namespace aether::engine::rebalancer {

// One desired artifact, in the CDM's desired order (by base).
struct DesiredArtifact {
  std::string artifact;
  std::vector<std::string> depends_on;
  bool failed = false;  // permanently failed
  bool moving = false;  // a move of it is in progress
  // Its dependencies are not ready: it cannot become ACTIVE, so a move of it
  // could never end (make-before-break waits for an ACTIVE target). Neither
  // moved nor counted in the load, like a permanently failed artifact.
  bool starved = false;
  // Placement constraints (engine-semantics.md §8.1): eligible nodes a move
  // may not target (anti-affinity, capacity), and zone spread.
  std::set<NodeId> barred{};
  bool spread_zone = false;
};

struct Input {
  std::vector<NodeId> eligible;  // sorted
  std::vector<DesiredArtifact> desired;
  // Every artifact of the slice table (desired or not): nodes with an entry,
  // nodes with a live entry, nodes whose entry counts for scale decisions.
  struct Entries {
    std::set<NodeId> present;
    std::set<NodeId> live;
    std::set<NodeId> scale;
  };
  std::map<std::string, Entries> entries;
  std::map<NodeId, std::string> zones{};  // of the eligible nodes; absent: "default"
};

struct Move {
  std::string artifact;
  NodeId source;
  NodeId target;
  bool operator==(const Move&) const = default;
};

// Load = live entries per eligible node over artifacts not permanently failed
// and not depending (transitively) on one. For each such artifact without a
// move: the most-loaded node holding an instance that counts for scale and
// the least-loaded eligible node without any entry of it (first in sorted
// order on ties); a move when they differ by more than 1. Moves update the
// load seen by later artifacts.
std::vector<Move> plan_moves(const Input& input);

}  // namespace aether::engine::rebalancer
