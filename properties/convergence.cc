#include "properties/convergence.h"

#include <algorithm>

#include <fmt/format.h>

#include "engine/artifact.h"
#include "engine/blueprint.h"
#include "engine/lifecycle.h"
#include "engine/ownership.h"

namespace aether::properties {

const char* blocker_name(Blocker blocker) {
  switch (blocker) {
    case Blocker::None:
      return "none";
    case Blocker::NoQuorum:
      return "no quorum";
    case Blocker::NoLeader:
      return "no leader";
    case Blocker::NeverOnDuty:
      return "node never ON_DUTY";
    case Blocker::WriteLoop:
      return "write loop";
    case Blocker::StuckState:
      return "stuck state";
    case Blocker::Ghost:
      return "ghost";
    case Blocker::CountMismatch:
      return "count mismatch";
  }
  return "?";
}

Liveness liveness(const WorldQueries& world) {
  Liveness out;
  out.configured = world.configured_nodes();
  out.majority = out.configured.size() / 2 + 1;
  const std::set<NodeId> configured(out.configured.begin(), out.configured.end());
  for (const auto& node : out.configured) {
    if (!world.is_up(node) || world.is_paused(node)) continue;
    std::size_t in_view = 0;
    for (const auto& peer : world.view(node)) in_view += configured.count(peer);
    if (in_view >= out.majority) out.live.insert(node);
  }
  return out;
}

bool DesiredState::is_excluded(const std::string& base) const {
  auto it = owned.find(base);
  return it != owned.end() && it->second.excluded;
}

namespace {

// Keys of one prefix, in key order.
template <typename Fn>
void for_prefix(const CanonicalStore::Map& store, std::string_view prefix, Fn fn) {
  for (auto it = store.lower_bound(std::string(prefix)); it != store.end(); ++it) {
    if (it->first.compare(0, prefix.size(), prefix) != 0) break;
    fn(it->first.substr(prefix.size()), it->second);
  }
}

}  // namespace

DesiredState desired_state(const CanonicalStore::Map& store) {
  std::map<std::string, std::optional<engine::Blueprint>> blueprints;
  for_prefix(store, engine::kBlueprintPrefix, [&](const std::string& id, const std::string& value) {
    auto parsed = engine::parse_blueprint_text(value);
    if (auto* bp = std::get_if<engine::Blueprint>(&parsed); bp != nullptr && bp->id == id) {
      blueprints[id] = std::move(*bp);
    } else {
      blueprints[id] = std::nullopt;
    }
  });
  std::map<std::string, engine::SliceTarget> targets;
  for_prefix(store, engine::kSliceTargetPrefix, [&](const std::string& base, const std::string& value) {
    if (auto target = engine::parse_slice_target(value)) targets[base] = *target;
  });
  const auto ownership = engine::compute_ownership(blueprints, targets);

  DesiredState out;
  for (const auto& [base, owner] : ownership.owner_of) {
    // A rejected blueprint is ignored by the CDM: it owns nothing it would act on.
    if (ownership.rejected.count(owner) != 0) continue;
    DesiredBase desired;
    desired.owner = owner;
    auto target = targets.find(base);
    if (target != targets.end() && target->second.owner == owner) desired.target = target->second;
    const auto& blueprint = blueprints.at(owner);
    if (blueprint) {
      auto parsed_base = engine::parse_artifact_base(base);
      if (parsed_base) {
        if (const auto* spec = blueprint->find(*parsed_base)) {
          for (const auto& dep : spec->depends_on) desired.depends_on.push_back(dep.base().to_string());
        }
      }
    }
    desired.excluded = desired.target && desired.target->failed;
    out.owned.emplace(base, std::move(desired));
  }
  // Dependants of an excluded base are excluded, transitively.
  for (bool changed = true; changed;) {
    changed = false;
    for (auto& [base, desired] : out.owned) {
      if (desired.excluded) continue;
      for (const auto& dep : desired.depends_on) {
        if (out.is_excluded(dep)) {
          desired.excluded = true;
          changed = true;
          break;
        }
      }
    }
  }
  return out;
}

namespace {

class Findings {
 public:
  void add(Blocker blocker, std::string detail) {
    ++count_;
    if (blocker_ == Blocker::None || blocker < blocker_) {
      blocker_ = blocker;
      detail_ = std::move(detail);
    }
  }
  bool empty() const { return count_ == 0; }
  ConvergenceState state(std::optional<NodeId> leader) const {
    ConvergenceState out;
    out.leader = std::move(leader);
    out.converged = count_ == 0;
    out.blocker = blocker_;
    if (count_ > 1) {
      out.detail = fmt::format("{} (and {} more finding{})", detail_, count_ - 1, count_ > 2 ? "s" : "");
    } else {
      out.detail = detail_;
    }
    return out;
  }

 private:
  Blocker blocker_ = Blocker::None;
  std::string detail_;
  std::size_t count_ = 0;
};

struct Entry {
  NodeId node;
  std::string artifact;
  std::optional<engine::SliceValue> value;
};

}  // namespace

ConvergenceState evaluate_convergence(const CanonicalStore::Map& store, const WorldQueries& world,
                                      const ConvergenceRules& rules) {
  Findings findings;
  const Liveness live = liveness(world);
  if (live.live.size() < live.majority) {
    findings.add(Blocker::NoQuorum, fmt::format("only {} of {} configured nodes are live (a majority is {})",
                                                live.live.size(), live.configured.size(), live.majority));
    return findings.state(std::nullopt);
  }

  // One leader L, believed by every live node, live itself, and the only
  // Active CDM among up, unpaused nodes.
  std::optional<NodeId> leader;
  for (const auto& node : live.live) {
    auto believed = world.known_leader(node);
    if (!believed) {
      findings.add(Blocker::NoLeader, fmt::format("{} knows no leader", node));
      break;
    }
    if (leader && *leader != *believed) {
      findings.add(Blocker::NoLeader,
                   fmt::format("live nodes disagree on the leader ({} and {})", *leader, *believed));
      break;
    }
    leader = believed;
  }
  if (findings.empty()) {
    if (live.live.count(*leader) == 0) {
      findings.add(Blocker::NoLeader, fmt::format("the believed leader {} is not live", *leader));
    } else if (!world.cdm_active(*leader)) {
      findings.add(Blocker::NoLeader, fmt::format("the leader {} has no Active CDM", *leader));
    }
  }
  if (findings.empty()) {
    for (const auto& node : live.configured) {
      if (node != *leader && world.is_up(node) && !world.is_paused(node) && world.cdm_active(node)) {
        findings.add(Blocker::NoLeader,
                     fmt::format("{} has an Active CDM besides the leader {}", node, *leader));
        break;
      }
    }
  }
  if (!findings.empty()) return findings.state(std::nullopt);

  // Eligible nodes: live, in the leader's view, committed node-lifecycle ON_DUTY.
  const auto leader_view = world.view(*leader);
  std::set<NodeId> eligible;
  std::set<NodeId> not_on_duty;  // live, in the leader's view, not ON_DUTY
  for (const auto& node : leader_view) {
    if (live.live.count(node) == 0) continue;
    auto it = store.find(engine::node_lifecycle_key(node));
    auto state = it == store.end() ? std::nullopt : engine::parse_node_lifecycle(it->second);
    if (state == engine::NodeLifecycle::OnDuty) {
      eligible.insert(node);
    } else {
      not_on_duty.insert(node);
    }
  }

  const DesiredState desired = desired_state(store);
  std::map<std::string, std::vector<Entry>> by_base;
  std::map<NodeId, std::map<std::string, engine::SliceState>> by_node;  // parsed entries on each node
  for_prefix(store, engine::kSlicePrefix, [&](const std::string& suffix, const std::string& value) {
    // Keys the engine cannot parse are invisible to it; they cannot block convergence.
    auto key = engine::parse_slice_key(std::string(engine::kSlicePrefix) + suffix);
    if (!key) return;
    Entry entry{key->node, key->artifact, engine::parse_slice_value(value)};
    if (entry.value) by_node[entry.node][entry.artifact] = entry.value->state;
    by_base[engine::base_of(key->artifact)].push_back(std::move(entry));
  });

  for (const auto& [base, entries] : by_base) {
    auto owned = desired.owned.find(base);
    for (const auto& entry : entries) {
      const std::string where = fmt::format("slices/{}/{}", entry.node, entry.artifact);
      if (owned == desired.owned.end()) {
        findings.add(Blocker::CountMismatch, fmt::format("{}: base {} has no owner", where, base));
        continue;
      }
      if (eligible.count(entry.node) == 0) {
        if (not_on_duty.count(entry.node) != 0) {
          findings.add(Blocker::NeverOnDuty,
                       fmt::format("{}: {} is live but not ON_DUTY", where, entry.node));
        } else {
          findings.add(Blocker::CountMismatch, fmt::format("{}: {} is not eligible", where, entry.node));
        }
        continue;
      }
      if (!entry.value) {
        findings.add(Blocker::StuckState, fmt::format("{}: value cannot be parsed", where));
        continue;
      }
      const auto state = entry.value->state;
      if (owned->second.excluded) {
        if (state != engine::SliceState::Active && state != engine::SliceState::Loaded) {
          findings.add(Blocker::StuckState,
                       fmt::format("{}: {} (excluded artifact)", where, engine::slice_state_name(state)));
        }
        continue;
      }
      if (state != engine::SliceState::Active) {
        findings.add(Blocker::StuckState, fmt::format("{}: {}", where, engine::slice_state_name(state)));
      }
      const auto& target = owned->second.target;
      if (target && base + ":" + target->version != entry.artifact) {
        findings.add(Blocker::CountMismatch,
                     fmt::format("{}: version differs from the slice-target's {}", where, target->version));
      }
    }
  }
  for (const auto& [base, want] : desired.owned) {
    if (want.excluded) continue;
    // A missing owned slice-target asks for nothing: the CDM allocates only from
    // a committed slice-target.
    const int count = want.target ? want.target->instances : 0;
    const auto expected =
        std::min<std::size_t>(static_cast<std::size_t>(std::max(count, 0)), eligible.size());
    auto it = by_base.find(base);
    const std::size_t actual = it == by_base.end() ? 0 : it->second.size();
    if (actual != expected) {
      findings.add(Blocker::CountMismatch,
                   fmt::format("{}: {} entries, expected {} (desired {}, {} eligible nodes)", base, actual,
                               expected, count, eligible.size()));
    }
  }

  // Ground truth on every live node: loaded artifacts are its ACTIVE keys, all
  // active; an excluded artifact may be loaded and inactive under a LOADED key.
  for (const auto& node : live.live) {
    const auto& keys = by_node[node];
    std::map<std::string, engine::SliceHolding> held;
    for (const auto& [artifact, holding] : world.slice_holdings(node)) {
      if (holding != engine::SliceHolding::NotHeld) held[artifact] = holding;
    }
    for (const auto& [artifact, state] : keys) {
      auto h = held.find(artifact);
      const auto holding = h == held.end() ? engine::SliceHolding::NotHeld : h->second;
      if (state == engine::SliceState::Active && holding != engine::SliceHolding::Active) {
        findings.add(
            Blocker::Ghost,
            fmt::format("slices/{}/{} is ACTIVE but the slice store has it {}", node, artifact,
                        holding == engine::SliceHolding::Loaded ? "loaded, inactive" : "not loaded"));
      }
      const bool excluded_loaded =
          state == engine::SliceState::Loaded && desired.is_excluded(engine::base_of(artifact));
      if (excluded_loaded && holding != engine::SliceHolding::Loaded) {
        findings.add(Blocker::StuckState,
                     fmt::format("slices/{}/{} is LOADED but the slice store does not hold it loaded", node,
                                 artifact));
      }
    }
    for (const auto& [artifact, holding] : held) {
      auto k = keys.find(artifact);
      const bool explained =
          k != keys.end() &&
          (k->second == engine::SliceState::Active ||
           (k->second == engine::SliceState::Loaded && desired.is_excluded(engine::base_of(artifact))));
      if (!explained) {
        findings.add(Blocker::StuckState,
                     fmt::format("{}'s slice store holds {} ({}) without an ACTIVE key", node, artifact,
                                 holding == engine::SliceHolding::Active ? "active" : "loaded"));
      }
    }
  }

  if (rules.balance && !eligible.empty()) {
    std::map<NodeId, int> load;
    for (const auto& node : eligible) load[node] = 0;
    for (const auto& [base, entries] : by_base) {
      if (desired.is_excluded(base)) continue;
      for (const auto& entry : entries) {
        if (entry.value && engine::is_live_state(entry.value->state) && load.count(entry.node) != 0) {
          ++load[entry.node];
        }
      }
    }
    auto [lo, hi] = std::minmax_element(load.begin(), load.end(),
                                        [](const auto& a, const auto& b) { return a.second < b.second; });
    if (hi->second - lo->second > 1) {
      findings.add(Blocker::CountMismatch, fmt::format("unbalanced: {} holds {} live entries, {} holds {}",
                                                       hi->first, hi->second, lo->first, lo->second));
    }
  }

  if (!findings.empty() && !not_on_duty.empty()) {
    findings.add(Blocker::NeverOnDuty,
                 fmt::format("{} is live in the leader's view but its node-lifecycle is not ON_DUTY",
                             *not_on_duty.begin()));
  }
  return findings.state(leader);
}

InstanceTally tally_instances(const CanonicalStore::Map& store, const WorldQueries& world,
                              const Liveness& live, const std::string& artifact) {
  InstanceTally out;
  for_prefix(store, engine::kSlicePrefix, [&](const std::string& suffix, const std::string& value) {
    auto key = engine::parse_slice_key(std::string(engine::kSlicePrefix) + suffix);
    if (!key || key->artifact != artifact) return;
    auto parsed = engine::parse_slice_value(value);
    if (!parsed || !engine::is_live_state(parsed->state)) return;
    ++out.total;
    if (parsed->state != engine::SliceState::Active || live.live.count(key->node) == 0) return;
    for (const auto& [held, holding] : world.slice_holdings(key->node)) {
      if (held == artifact && holding == engine::SliceHolding::Active) ++out.active;
    }
  });
  return out;
}

std::string leader_mismatch(const WorldQueries& world, const Liveness& live, const NodeId& node) {
  if (live.live.count(node) == 0) return fmt::format("{} is not live", node);
  if (!world.cdm_active(node)) return fmt::format("{} has no Active CDM", node);
  for (const auto& other : live.live) {
    auto believed = world.known_leader(other);
    if (believed != node) {
      return fmt::format("{} believes {}", other, believed ? *believed : std::string("no leader"));
    }
  }
  return "";
}

}  // namespace aether::properties
