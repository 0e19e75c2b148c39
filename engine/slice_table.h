// The CDM's slice table (engine-semantics.md §4): one entry per
// `slices/{node}/{artifact}` key with the CDM's own intent (a command it
// recorded and the key has not answered yet) and the observed state. The
// intent wins over the observed state until answered; liveness is decided
// here only (`SliceEntry::live`). Unit-tested without the simulator
// (tests/engine/slice_table_test.cc).
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/kv_schema.h"
#include "engine/time.h"
#include "engine/timers.h"
#include "engine/topology.h"

namespace aether::engine {

struct SliceEntry {
  std::optional<SliceValue> observed;
  std::optional<SliceState> intent;  // own command not yet answered
  Nanos since_ns = 0;
  TimerId resend = 0;
  bool leaving = false;  // source of a move: not live for scale decisions
  // The stored value is unparseable: its Remove is (re)issued until it lands.
  std::optional<Nanos> malformed_remove_at;
  std::string malformed_value;  // those bytes (meaningful with malformed_remove_at)

  // The intent if any, else the observed state.
  std::optional<SliceState> effective() const;
  // Live: effective state not in {FAILED, UNLOAD, UNLOADING}.
  bool live() const;
  // Live and not the leaving source of a move: what scale decisions count.
  bool counts_for_scale() const { return live() && !leaving; }
  // Live by the intent or by the applied value: what placement constraints
  // (anti-affinity, capacity) respect. An UNLOAD recorded but answered by a
  // live value (the NDM's stale write landed after it) still runs there.
  bool occupies() const { return live() || (observed && is_live_state(observed->state)); }
  // Observed in `state` with no own command pending.
  bool settled_in(SliceState state) const { return !intent && observed && observed->state == state; }
};

// The observed state of a key (nullopt: absent).
inline std::optional<SliceState> observed_state(const std::optional<SliceValue>& observed) {
  if (!observed) return std::nullopt;
  return observed->state;
}
// The state that answers a command (engine-semantics.md §4, Re-send). nullopt
// `observed`: the key is absent.
bool answers(SliceState command, std::optional<SliceState> observed);

class SliceTable {
 public:
  using Nodes = std::map<NodeId, SliceEntry>;
  std::map<std::string, Nodes> entries;  // artifact -> node -> entry

  // Entries of `artifact` that count for scale decisions.
  int live_count(const std::string& artifact) const;
  // Entries of `artifact` settled in ACTIVE on nodes of `view` (sorted).
  int active_in(const std::string& artifact, const std::vector<NodeId>& view) const;
  // Whether some entry of `artifact` is settled in ACTIVE (anywhere).
  bool any_active(const std::string& artifact) const;
  // Whether `artifact` has a live entry on `node`.
  bool live_at(const std::string& artifact, const NodeId& node) const;
  // Nodes with any entry at all; nodes with an entry of `artifact`.
  std::set<NodeId> occupied_nodes() const;
  std::set<NodeId> holders(const std::string& artifact) const;
};

}  // namespace aether::engine
