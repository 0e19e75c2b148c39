#include "engine/drain.h"

#include <algorithm>

#include "engine/lifecycle.h"
#include "engine/mutations.h"

namespace aether::engine::drain {

bool may_evict(const Entry& entry, bool make_before_break) {
  const ArtifactFacts& x = entry.facts;
  const bool last_active = entry.active && x.other_active == 0 && x.other_live == 0;
  if (last_active) return false;
  return !make_before_break || x.active_on_eligible >= x.owed;
}

Plan plan_node(const std::vector<Entry>& entries, bool empty, bool make_before_break) {
  Plan plan;
  if (empty) {
    plan.decommission = true;
    return plan;
  }
  bool pending = false;
  for (const auto& entry : entries) pending = pending || entry.unloading;
  for (const auto& entry : entries) {
    if (!entry.live || !entry.facts.owned_current) continue;  // orphans, versions, FAILED: reconcile (§4)
    if (entry.facts.excluded && may_evict(entry, /*make_before_break=*/false)) {
      if (!pending && !plan.evict && !plan.unload_excluded) plan.unload_excluded = entry.artifact;
      continue;
    }
    if (!entry.facts.excluded && may_evict(entry, make_before_break)) {
      if (!pending && !plan.evict && !plan.unload_excluded) plan.evict = entry.artifact;
    } else {
      plan.blocked.push_back(entry.artifact);
    }
  }
  return plan;
}

Entry entry_of(const CdmFacts& facts, const std::string& artifact, const NodeId& node) {
  Entry out;
  out.artifact = artifact;
  const auto& nodes = facts.table.entries.at(artifact);
  const SliceEntry& entry = nodes.at(node);
  const auto observed = observed_state(entry.observed);
  const auto state = entry.effective();
  out.live = entry.live();
  out.active = observed == SliceState::Active;
  out.unloading = state == SliceState::Unload || state == SliceState::Unloading ||
                  observed == SliceState::Unload || observed == SliceState::Unloading;
  const Desired* desired = facts.state.desired_for(artifact);
  out.facts.owned_current = desired != nullptr && desired->artifact == artifact;
  if (!out.facts.owned_current) return out;
  out.facts.excluded = desired->failed;
  const auto eligible = facts.eligible_nodes();
  // Round-robin: every eligible node holds X or could take one (§8.1 adds constraints).
  out.facts.owed = std::min(desired->count, static_cast<int>(eligible.size()));
  for (const auto& [other, e] : nodes) {
    if (other == node) continue;
    const bool active = e.settled_in(SliceState::Active);
    if (active && std::binary_search(eligible.begin(), eligible.end(), other)) ++out.facts.active_on_eligible;
    // Conservative: live both as the table has it and as the store has it.
    if (active || (e.observed && e.observed->state == SliceState::Active)) ++out.facts.other_active;
    if (e.live() && e.observed && is_live_state(e.observed->state)) ++out.facts.other_live;
  }
  return out;
}

std::vector<Entry> entries_on(const CdmFacts& facts, const NodeId& node) {
  std::vector<Entry> entries;
  for (const auto& [artifact, nodes] : facts.table.entries) {
    if (nodes.count(node)) entries.push_back(entry_of(facts, artifact, node));
  }
  return entries;
}

Plan plan_for(const CdmFacts& facts, const std::vector<Entry>& entries, bool empty) {
  const bool make_before_break = !facts.config.mutation(mutation::kDrainBreakBeforeMake);
  return plan_node(entries, empty, make_before_break);
}

bool command_allowed(const CdmFacts& facts, const SliceCommand& command) {
  if (command.state == SliceState::Load) return facts.on_duty(command.node);
  if (command.why != UnloadWhy::Eviction) return true;
  if (facts.lifecycles.of(command.node) != NodeLifecycle::Draining)
    return true;  // undrained: an ordinary UNLOAD
  auto nodes = facts.table.entries.find(command.artifact);
  if (nodes == facts.table.entries.end() || !nodes->second.count(command.node)) return false;
  // No other eviction of that node in the state applied now.
  for (const auto& [artifact, others] : facts.table.entries) {
    auto it = others.find(command.node);
    if (artifact == command.artifact || it == others.end()) continue;
    const auto observed = observed_state(it->second.observed);
    if (observed == SliceState::Unload || observed == SliceState::Unloading) return false;
  }
  return may_evict(entry_of(facts, command.artifact, command.node),
                   !facts.config.mutation(mutation::kDrainBreakBeforeMake));
}

bool decommission_allowed(const CdmFacts& facts, const NodeId& node, bool store_empty) {
  if (facts.lifecycles.of(node) != NodeLifecycle::Draining) return false;
  for (const auto& [artifact, nodes] : facts.table.entries) {
    if (nodes.count(node)) return false;
  }
  return store_empty;
}

bool Progress::decommission_due(const NodeId& node, Nanos now, Nanos write_timeout) const {
  auto sent = decommission_sent.find(node);
  return sent == decommission_sent.end() || now - sent->second >= write_timeout;
}

void Progress::prune(const CdmFacts& facts) {
  std::erase_if(blocked, [&facts](const auto& entry) {
    return facts.lifecycles.of(entry.first) != NodeLifecycle::Draining ||
           !facts.table.live_at(entry.second, entry.first);
  });
}

std::vector<std::pair<NodeId, NodeLifecycle>> nodes_to_drain(const NodeLifecycles& lifecycles) {
  std::vector<std::pair<NodeId, NodeLifecycle>> out;
  // drained(): the nodes whose value parses DRAINING or DECOMMISSIONED, sorted.
  for (const auto& node : lifecycles.values.drained()) out.emplace_back(node, *lifecycles.of(node));
  return out;
}

void Progress::drain_nodes(const CdmFacts& facts, CdmCommands& out) {
  // Only DRAINING and DECOMMISSIONED nodes have anything to do: the walk over
  // every node this replaces skipped all others (empty in steady state). A
  // copy, in node order as the walk was: nothing here writes a lifecycle.
  for (const auto& [node, state] : nodes_to_drain(facts.lifecycles)) {
    if (state == NodeLifecycle::Decommissioned) {
      // Entries on a DECOMMISSIONED node are unloaded like orphans.
      for (const auto& [artifact, nodes] : facts.table.entries) {
        auto it = nodes.find(node);
        if (it != nodes.end() && it->second.live()) out.unload(artifact, node);
      }
      continue;
    }
    if (state != NodeLifecycle::Draining) continue;
    const auto entries = entries_on(facts, node);
    const bool empty = entries.empty() && out.kv().scan(slice_node_prefix(node)).empty();
    apply(node, plan_for(facts, entries, empty), out);
  }
  prune(facts);
}

void Progress::apply(const NodeId& node, const Plan& plan, CdmCommands& out) {
  if (plan.decommission) {
    if (decommission_due(node, out.now(), out.config().write_timeout_ns)) {
      out.log(LogLevel::Info, "node " + node + " is drained: DECOMMISSIONED");
      out.count("decommissions");
      decommission_sent[node] = out.now();
      out.add(DecommissionPut{node});
    }
    return;
  }
  if (plan.evict) {
    out.log(LogLevel::Info, "draining " + node + ": evicting " + *plan.evict);
    out.count("evictions");
    out.unload(*plan.evict, node, UnloadWhy::Eviction);
  } else if (plan.unload_excluded) {
    out.log(LogLevel::Info, "draining " + node + ": unloading excluded " + *plan.unload_excluded);
    out.unload(*plan.unload_excluded, node);
  }
  for (const auto& artifact : plan.blocked) {
    if (note_blocked(node, artifact)) {
      out.log(LogLevel::Info, "drain of " + node + " blocked: " + artifact + " waits for a replacement");
      out.count("drain-blocked");
    }
  }
}

}  // namespace aether::engine::drain
