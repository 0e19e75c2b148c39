// Liveness (simulation.md §5) as of now, recomputed only after something it
// depends on may have changed: a node's view (on_view) or a node fault
// (crash, restart, pause, resume, add, remove: on_node_fault). Everything
// else the world does leaves it as it was. Issue 14, seventh pass: the
// checks asked for it at the end of every instant, O(nodes x view) each.
// Off (`cached == false`): recomputed on every call, for the test that
// compares the two.
#pragma once

#include <cstdint>

#include "properties/convergence.h"
#include "properties/world_queries.h"
#include "sim/world_observer.h"

namespace aether::properties {

class LivenessCache : public sim::WorldObserver {
 public:
  explicit LivenessCache(const WorldQueries& world, bool cached = true) : world_(world), cached_(cached) {}

  const Liveness& get();
  // Counts the recomputations: unchanged, the liveness is the same.
  std::uint64_t epoch() const { return epoch_; }

  void on_view(Nanos, const NodeId&, const engine::TopologyEvent&) override { dirty_ = true; }
  void on_node_fault(Nanos, const NodeId&, sim::NodeFault) override { dirty_ = true; }

 private:
  const WorldQueries& world_;
  bool cached_;
  bool dirty_ = true;
  std::uint64_t epoch_ = 0;
  Liveness live_;
};

}  // namespace aether::properties
