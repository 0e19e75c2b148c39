#include "properties/convergence.h"

#include <algorithm>
#include <string_view>
#include <unordered_set>  // determinism-ok: membership tests only, never iterated

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "properties/rollback_check.h"
#include "sim/name_hash.h"

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
    case Blocker::RollbackPending:
      return "rollback pending";
  }
  return "?";
}

Liveness liveness(const WorldQueries& world) {
  Liveness out;
  out.configured = world.configured_nodes();
  out.majority = out.configured.size() / 2 + 1;
  // Both sorted (configured_nodes and view say so): one merge walk per node.
  const std::vector<NodeId>& configured = out.configured;
  for (const auto& node : configured) {
    if (!world.is_up(node) || world.is_paused(node)) continue;
    const std::vector<NodeId>& view = world.view(node);
    std::size_t in_view = 0;
    auto c = configured.begin();
    for (const auto& peer : view) {
      while (c != configured.end() && *c < peer) ++c;
      if (c == configured.end()) break;
      if (*c == peer) ++in_view;
    }
    if (in_view >= out.majority) out.live.insert(out.live.end(), node);
  }
  return out;
}

bool DesiredState::is_excluded(const std::string& base) const {
  auto it = owned.find(base);
  return it != owned.end() && it->second.excluded;
}

bool DesiredState::may_stay_loaded(const std::string& base) const {
  auto it = owned.find(base);
  return it != owned.end() && (it->second.excluded || it->second.starved);
}

namespace {

// Keys of one prefix, in key order.
template <typename Map, typename Fn>
void for_prefix(const Map& store, std::string_view prefix, Fn fn) {
  for (auto it = store.lower_bound(std::string(prefix)); it != store.end(); ++it) {
    if (it->first.compare(0, prefix.size(), prefix) != 0) break;
    fn(it->first, it->second);
  }
}

// The committed node-lifecycle values of nodes asked for in increasing
// order: one walk of the prefix's range instead of a lookup (and a key
// built) per node (issue 14, eighth pass: every evaluation asks for every
// node of the leader's view). A node asked out of order is looked up.
class LifecycleReader {
 public:
  explicit LifecycleReader(const CanonicalStore::Map& store)
      : store_(store), at_(store.lower_bound(std::string(kPrefix))) {}
  // The value of node-lifecycle/{node}; nullptr when absent.
  const std::string* value(const NodeId& node) {
    if (!last_.empty() && node < last_) {
      auto it = store_.find(std::string(kPrefix) + node);
      return it == store_.end() ? nullptr : &it->second;
    }
    last_ = node;
    for (; at_ != store_.end() && at_->first.starts_with(kPrefix); ++at_) {
      const int order = std::string_view(at_->first).substr(kPrefix.size()).compare(node);
      if (order == 0) return &at_->second;
      if (order > 0) break;
    }
    return nullptr;
  }

 private:
  static constexpr std::string_view kPrefix = "node-lifecycle/";
  const CanonicalStore::Map& store_;
  CanonicalStore::Map::const_iterator at_;
  NodeId last_;
};

ref::PositionedStore unpositioned(const CanonicalStore::Map& store) {
  ref::PositionedStore out;
  for (const auto& [key, value] : store) out.emplace(key, ref::StoreEntry{value, 0});
  return out;
}

}  // namespace

DesiredState desired_state(const ref::PositionedStore& store, const ref::FailureEvidence* evidence) {
  const ref::Desired desired = ref::desired_from(store);
  const ref::FailureEvidence none;
  const auto excluded = ref::excluded_bases(desired, evidence != nullptr ? *evidence : none);
  DesiredState out;
  for (const auto& [base, d] : desired.bases) {
    DesiredBase b;
    b.owner = d.owner;
    b.version = d.version;
    b.count = d.count;
    b.min_instances = d.min_instances;
    for (const auto& dep : d.depends_on) b.depends_on.push_back(ref::base_part(dep));
    b.excluded = excluded.count(base) != 0;
    b.cpu = d.cpu;
    b.memory = d.memory;
    b.anti_affinity = d.anti_affinity;
    b.spread_zone = d.spread_zone;
    b.rolling = d.update.rolling;
    b.max_unavailable = d.update.max_unavailable;
    out.owned.emplace(base, std::move(b));
  }
  // A dependency with desired 0 may have no entry at all: the floor only
  // stops scale-down, it never places (engine-semantics.md §4). It can be
  // ready only through an ACTIVE entry it still has. So can a dependency on
  // a version its base's owner does not deploy (`depends_on` names an
  // artifact, version included: simulation.md §5 dependency-order).
  auto never_ready = [&](const DesiredBase& d, const std::string& artifact) {
    const bool owned_version = artifact == ref::base_part(artifact) + ":" + d.version;
    if (owned_version && d.count != 0) return false;
    if (owned_version && d.min_instances == 0) return true;
    for (auto it = store.lower_bound("slices/"); it != store.end() && it->first.compare(0, 7, "slices/") == 0;
         ++it) {
      const auto key = ref::classify_key(it->first);
      if (key.kind != ref::KeyKind::Slice || key.artifact != artifact) continue;
      const auto value = ref::read_slice_value(it->second.value);
      if (value && value->state == ref::State::Active) return false;
    }
    return true;
  };
  // Starved: some dependency can never be ready (desired 0 or another
  // version than its owner's, and no ACTIVE entry, see above) or has no owner, directly or through a starved
  // dependency (a fixpoint over the dependency graph).
  for (bool changed = true; changed;) {
    changed = false;
    for (auto& [base, b] : out.owned) {
      if (b.starved) continue;
      for (const auto& dep_artifact : desired.bases.at(base).depends_on) {
        auto d = out.owned.find(ref::base_part(dep_artifact));
        if (d == out.owned.end() || never_ready(d->second, dep_artifact) || d->second.starved) {
          b.starved = true;
          changed = true;
          break;
        }
      }
    }
  }
  return out;
}

DesiredState desired_state(const CanonicalStore::Map& store) {
  return desired_state(unpositioned(store), nullptr);
}

namespace {

class Findings {
 public:
  // `detail` makes the text: called only when this finding is the one the
  // state reports (issue 14, seventh pass: a state far from converged has
  // thousands of findings, and only the first of the gravest is kept).
  template <typename MakeDetail>
  void add(Blocker blocker, MakeDetail&& detail) {
    ++count_;
    if (blocker_ == Blocker::None || blocker < blocker_) {
      blocker_ = blocker;
      detail_ = detail();
    }
  }
  bool empty() const { return count_ == 0; }
  void note_unplaced(std::string note) { unplaced_.push_back(std::move(note)); }
  ConvergenceState state(std::optional<NodeId> leader) const {
    ConvergenceState out;
    out.leader = std::move(leader);
    out.unplaced = unplaced_;
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
  std::vector<std::string> unplaced_;
};

// artifact == base + ":" + version, without building the string.
bool is_artifact(std::string_view artifact, std::string_view base, std::string_view version) {
  return artifact.size() == base.size() + 1 + version.size() && artifact.starts_with(base) &&
         artifact[base.size()] == ':' && artifact.ends_with(version);
}

using Entry = SliceEntries::Entry;

// Whom `node` believes: its latest applied `leader` entry where the world
// shows it (consensus), else its engine's report.
std::optional<NodeId> believed_leader(const WorldQueries& world, const ConvergenceRules& rules,
                                      const NodeId& node) {
  if (rules.history != nullptr) {
    if (auto applied = rules.history->applied_leader(node)) return *applied;
  }
  return world.known_leader(node);
}

const char* holding_name(engine::SliceHolding holding) {
  return holding == engine::SliceHolding::Loaded ? "loaded, inactive" : "not loaded";
}

}  // namespace

SliceEntries parse_slice_entries(const CanonicalStore::Map& store) {
  SliceEntries out;
  for_prefix(store, "slices/", [&](const std::string& key_text, const std::string& value) {
    // Keys the engine cannot parse are invisible to it; they cannot block convergence.
    const auto key = ref::classify_key(key_text);
    if (key.kind != ref::KeyKind::Slice) return;
    Entry entry{key.node, key.artifact, ref::read_slice_value(value)};
    if (entry.value) out.by_node[entry.node][entry.artifact] = entry.value->state;
    out.by_base[key.base].push_back(std::move(entry));
  });
  return out;
}

void SliceIndex::note(const std::string& key) {
  if (built_ && key.rfind("slices/", 0) == 0) dirty_keys_.insert(key);
}

void SliceIndex::forget(const std::string& key) {
  auto old = parsed_.find(key);
  if (old == parsed_.end()) return;
  const Entry& entry = old->second.entry;
  if (entry.value) {
    auto node = out_.by_node.find(entry.node);
    node->second.erase(entry.artifact);  // (node, artifact) names one key
    if (node->second.empty()) out_.by_node.erase(node);
  }
  auto keys = keys_of_base_.find(old->second.base);
  keys->second.erase(key);
  if (keys->second.empty()) keys_of_base_.erase(keys);
  dirty_bases_.insert(old->second.base);
  parsed_.erase(old);
}

void SliceIndex::read(const CanonicalStore::Map& store, const std::string& key) {
  auto it = store.find(key);
  if (it == store.end()) return;
  const auto parsed = ref::classify_key(key);
  if (parsed.kind != ref::KeyKind::Slice) return;
  Entry entry{parsed.node, parsed.artifact, ref::read_slice_value(it->second)};
  if (entry.value) out_.by_node[entry.node][entry.artifact] = entry.value->state;
  keys_of_base_[parsed.base].insert(key);
  dirty_bases_.insert(parsed.base);
  parsed_.emplace(key, Parsed{parsed.base, std::move(entry)});
}

const SliceEntries& SliceIndex::entries(const CanonicalStore::Map& store) {
  if (!built_) {
    for_prefix(store, "slices/", [&](const std::string& key, const std::string&) { read(store, key); });
    built_ = true;
  }
  for (const auto& key : dirty_keys_) {
    forget(key);
    read(store, key);
  }
  dirty_keys_.clear();
  // A base's entries in key order, as parse_slice_entries lists them.
  for (const auto& base : dirty_bases_) {
    auto keys = keys_of_base_.find(base);
    if (keys == keys_of_base_.end()) {
      out_.by_base.erase(base);
      continue;
    }
    auto& entries = out_.by_base[base];
    entries.clear();
    for (const auto& key : keys->second) entries.push_back(parsed_.at(key).entry);
  }
  dirty_bases_.clear();
  return out_;
}

ConvergenceState evaluate_convergence(const CanonicalStore::Map& store, const WorldQueries& world,
                                      const ConvergenceRules& rules) {
  return evaluate_convergence(store, world, rules, liveness(world));
}

ConvergenceState evaluate_convergence(const CanonicalStore::Map& store, const WorldQueries& world,
                                      const ConvergenceRules& rules, const Liveness& live,
                                      const SliceEntries* slices, const DesiredState* known_desired) {
  Findings findings;
  if (live.live.size() < live.majority) {
    findings.add(Blocker::NoQuorum, [&] {
      return fmt::format("only {} of {} configured nodes are live (a majority is {})", live.live.size(),
                         live.configured.size(), live.majority);
    });
    return findings.state(std::nullopt);
  }

  // One leader L, believed by every live node, live itself, and the only
  // Active CDM among up, unpaused nodes.
  std::optional<NodeId> leader;
  for (const auto& node : live.live) {
    auto believed = believed_leader(world, rules, node);
    if (!believed) {
      findings.add(Blocker::NoLeader, [&] { return fmt::format("{} knows no leader", node); });
      break;
    }
    if (leader && *leader != *believed) {
      findings.add(Blocker::NoLeader, [&] {
        return fmt::format("live nodes disagree on the leader ({} and {})", *leader, *believed);
      });
      break;
    }
    leader = believed;
  }
  if (findings.empty()) {
    if (live.live.count(*leader) == 0) {
      findings.add(Blocker::NoLeader,
                   [&] { return fmt::format("the believed leader {} is not live", *leader); });
    } else if (!world.cdm_active(*leader)) {
      findings.add(Blocker::NoLeader,
                   [&] { return fmt::format("the leader {} has no Active CDM", *leader); });
    }
  }
  if (findings.empty()) {
    for (const auto& node : live.configured) {
      if (node != *leader && world.is_up(node) && !world.is_paused(node) && world.cdm_active(node)) {
        findings.add(Blocker::NoLeader, [&] {
          return fmt::format("{} has an Active CDM besides the leader {}", node, *leader);
        });
        break;
      }
    }
  }
  if (!findings.empty()) return findings.state(std::nullopt);

  // Eligible nodes: live, in the leader's view, committed node-lifecycle
  // ON_DUTY. A live node in L's view longer than the bound whose
  // node-lifecycle is absent or JOINING is a blocker of its own.
  const auto& leader_view = world.view(*leader);
  std::set<NodeId> eligible;
  std::set<NodeId> not_on_duty;  // live, in the leader's view, not ON_DUTY
  LifecycleReader lifecycles(store);
  for (const auto& node : leader_view) {
    if (live.live.count(node) == 0) continue;
    const std::string* lifecycle = lifecycles.value(node);
    const std::string_view value = lifecycle == nullptr ? std::string_view() : std::string_view(*lifecycle);
    // A view is in NodeId order: each name goes in at the end (a hint only).
    if (value == ref::node_state_name(ref::NodeState::OnDuty)) {
      eligible.insert(eligible.end(), node);
      continue;
    }
    not_on_duty.insert(not_on_duty.end(), node);
    // Only absent or JOINING is owed ON_DUTY (DRAINING, DECOMMISSIONED, a
    // malformed client value are not).
    if (lifecycle != nullptr && value != ref::node_state_name(ref::NodeState::Joining)) continue;
    bool overdue = false;  // without a view history the time cannot be judged
    if (rules.history != nullptr) {
      const auto since = rules.history->in_view_since(*leader, node);
      overdue = since && rules.history->now() - *since > rules.bound_ns;
    }
    if (overdue) {
      findings.add(Blocker::NeverOnDuty, [&] {
        return fmt::format("{} is live in {}'s view but node-lifecycle/{} is {}", node, *leader, node,
                           lifecycle == nullptr ? "absent" : *lifecycle);
      });
    }
  }

  // Membership by hash (issue 14, seventh pass: tested per entry, thousands
  // of times per evaluation at 1,000 nodes); the sets keep the order.
  using Names =
      std::unordered_set<std::string_view, sim::NameHash>;  // determinism-ok: membership only, never iterated
  const Names eligible_names(eligible.begin(), eligible.end());
  const Names not_on_duty_names(not_on_duty.begin(), not_on_duty.end());
  auto is_eligible = [&](const NodeId& node) { return eligible_names.count(node) != 0; };
  auto is_not_on_duty = [&](const NodeId& node) { return not_on_duty_names.count(node) != 0; };

  // A copy: the starved flags below are this evaluation's.
  DesiredState desired = known_desired != nullptr ? *known_desired
                         : rules.history != nullptr
                             ? desired_state(rules.history->positioned(), &rules.history->evidence())
                             : desired_state(store);
  std::optional<SliceEntries> own;
  if (slices == nullptr) slices = &own.emplace(parse_slice_entries(store));
  const auto& by_base = slices->by_base;
  static const std::map<std::string, ref::State> kNoEntries;
  auto by_node = [&](const NodeId& node) -> const std::map<std::string, ref::State>& {
    auto it = slices->by_node.find(node);
    return it == slices->by_node.end() ? kNoEntries : it->second;
  };

  // A drain the engine may not finish (engine-semantics.md §8.2): an ACTIVE
  // entry on a DRAINING node in L's view whose eviction is forbidden (X's
  // ACTIVE entries on eligible nodes below min(count, eligible), or its last
  // ACTIVE entry with no other live one) is allowed: "drain blocked".
  std::set<std::string> drain_blocked;  // slices/{node}/{artifact}
  // The nodes whose committed node-lifecycle is DRAINING: gathered once, not
  // looked up per entry (issue 14, eighth pass); none in most states.
  Names draining;
  for_prefix(store, "node-lifecycle/", [&](const std::string& key_text, const std::string& value) {
    if (value == ref::node_state_name(ref::NodeState::Draining))
      draining.insert(std::string_view(key_text).substr(std::string_view("node-lifecycle/").size()));
  });
  // A live entry on a DRAINING node in L's view.
  auto on_draining = [&](const Entry& entry) {
    return !draining.empty() && draining.count(entry.node) != 0 && is_not_on_duty(entry.node) &&
           entry.value && ref::is_live(entry.value->state);
  };
  auto active_on_draining = [&](const Entry& entry) {
    return on_draining(entry) && entry.value->state == ref::State::Active;
  };
  for (const auto& [base, entries] : by_base) {
    auto owned = desired.owned.find(base);
    if (owned == desired.owned.end()) continue;
    if (owned->second.excluded) {
      // A base with failure evidence may be permanently failed: no new
      // placement (§4), so no replacement its eviction could wait for; the
      // check cannot tell, so its ACTIVE entries may stay (both admitted).
      for (const auto& entry : entries) {
        if (active_on_draining(entry))
          drain_blocked.insert(fmt::format("slices/{}/{}", entry.node, entry.artifact));
      }
      continue;
    }
    for (const auto& entry : entries) {
      if (!active_on_draining(entry) || !is_artifact(entry.artifact, base, owned->second.version)) continue;
      int active_on_eligible = 0;
      int other_active = 0;
      int other_live = 0;
      for (const auto& other : entries) {
        if (other.node == entry.node || other.artifact != entry.artifact || !other.value) continue;
        if (other.value->state == ref::State::Active) {
          ++other_active;
          if (is_eligible(other.node)) ++active_on_eligible;
        }
        if (ref::is_live(other.value->state)) ++other_live;
      }
      const int owed = std::min(owned->second.count, static_cast<int>(eligible.size()));
      if (active_on_eligible < owed || (other_active == 0 && other_live == 0)) {
        drain_blocked.insert(fmt::format("slices/{}/{}", entry.node, entry.artifact));
      }
    }
  }

  // Placement constraints (engine-semantics.md §8.1): whether `node` could
  // take one more instance of `base` now, else what blocks it.
  auto lists = [](const DesiredBase* d, const std::string& other) {
    return d != nullptr &&
           std::find(d->anti_affinity.begin(), d->anti_affinity.end(), other) != d->anti_affinity.end();
  };
  auto blocker_on = [&](const std::string& base, const DesiredBase& want, const NodeId& node) -> std::string {
    std::int64_t cpu = want.cpu;
    std::int64_t memory = want.memory;
    for (const auto& [artifact, state] : by_node(node)) {
      if (!ref::is_live(state)) continue;
      const auto other = ref::base_part(artifact);
      if (other == base) return "nodes";  // holds one already
      auto theirs = desired.owned.find(other);
      const DesiredBase* them = theirs == desired.owned.end() ? nullptr : &theirs->second;
      if (lists(&want, other) || lists(them, base)) return "anti-affinity";
      if (them != nullptr) {
        cpu += them->cpu;
        memory += them->memory;
      }
    }
    const auto capacity = world.attributes(node).capacity;
    if ((capacity.cpu && cpu > *capacity.cpu) || (capacity.memory && memory > *capacity.memory))
      return "capacity";
    return "";
  };
  // A dependency that can never be ready because no eligible node could
  // take an instance (no live entry of it on an eligible node, every one
  // blocked by its constraints, §8.1) starves its dependants like one with
  // desired 0: a correct engine leaves them LOADED (transitively).
  for (bool more = true; more;) {
    more = false;
    for (auto& [base, want] : desired.owned) {
      if (want.starved || want.excluded) continue;
      for (const auto& dep : want.depends_on) {
        auto d = desired.owned.find(dep);
        if (d == desired.owned.end() || d->second.excluded) continue;
        bool never = d->second.starved;
        if (!never && d->second.count > 0) {
          auto it = by_base.find(dep);
          const bool held =
              it != by_base.end() && std::any_of(it->second.begin(), it->second.end(), [&](const Entry& e) {
                // Of the owner's version: an old version's entry (a blocked
                // rolling update) is not the dependency the dependant names.
                return is_eligible(e.node) && e.value && ref::is_live(e.value->state) &&
                       is_artifact(e.artifact, dep, d->second.version);
              });
          never = !held && !eligible.empty() &&
                  std::none_of(eligible.begin(), eligible.end(),
                               [&](const NodeId& node) { return blocker_on(dep, d->second, node).empty(); });
        }
        if (never) {
          want.starved = true;
          more = true;
          break;
        }
      }
    }
  }
  // A starved base's live entry on a DRAINING node may stay as well: its
  // eviction is make-before-break (§8.2) and the replacement could never
  // become ACTIVE.
  for (const auto& [base, want] : desired.owned) {
    auto it = by_base.find(base);
    if (!want.starved || it == by_base.end()) continue;
    for (const auto& entry : it->second) {
      if (on_draining(entry)) drain_blocked.insert(fmt::format("slices/{}/{}", entry.node, entry.artifact));
    }
  }

  // A rolling update that cannot progress (engine-semantics.md §8.4 with
  // §8.1): entries of another version remain, no old ACTIVE entry may go
  // (ACTIVE over both versions on eligible nodes would fall below
  // desired - max_unavailable), no old entry is anything but ACTIVE (those go
  // at once), and no eligible node could take a new-version instance. A
  // correct engine waits there forever; convergence owes only what can be
  // placed, so the old entries and the routing key are allowed
  // (docs/decisions.md, "Generators draw issue 15's features").
  std::set<std::string> rolling_blocked;  // bases
  std::set<std::string> blocked_owners;   // owners of a base left unplaced or blocked
  for (const auto& [base, want] : desired.owned) {
    auto it = by_base.find(base);
    if (!want.rolling || want.excluded || it == by_base.end()) continue;
    const std::string artifact = base + ":" + want.version;
    int active = 0;
    int fresh = 0;
    bool old = false;
    bool old_not_active = false;
    for (const auto& entry : it->second) {
      // ACTIVE over both versions counts every node live in L's view, as
      // the `rolling` invariant does (an ACTIVE entry on a DRAINING node
      // serves until evicted); new-version entries only on eligible nodes.
      const bool eligible_node = is_eligible(entry.node);
      if ((!eligible_node && !is_not_on_duty(entry.node)) || !entry.value) continue;
      const auto state = entry.value->state;
      if (state == ref::State::Active) ++active;
      if (entry.artifact == artifact) {
        fresh += eligible_node && ref::is_live(state) ? 1 : 0;
      } else if (ref::is_live(state)) {
        old = true;
        old_not_active = old_not_active || state != ref::State::Active;
      }
    }
    if (!old || old_not_active || active - 1 >= want.count - want.max_unavailable || fresh >= want.count)
      continue;
    const bool placeable = std::any_of(eligible.begin(), eligible.end(), [&](const NodeId& node) {
      return blocker_on(base, want, node).empty();
    });
    if (!placeable) {
      rolling_blocked.insert(base);
      blocked_owners.insert(want.owner);
      // Its ACTIVE entries on DRAINING nodes (of either version) stay as
      // well: an eviction is make-before-break (§8.2), its replacement would
      // be of the new version, and none can be placed; unloading first would
      // take ACTIVE over both versions lower (§8.4).
      for (const auto& entry : it->second) {
        if (active_on_draining(entry))
          drain_blocked.insert(fmt::format("slices/{}/{}", entry.node, entry.artifact));
      }
      findings.note_unplaced(
          fmt::format("{}: rolling update blocked (no node can take {}; max_unavailable {})", base, artifact,
                      want.max_unavailable));
    }
  }

  for (const auto& [base, entries] : by_base) {
    auto owned = desired.owned.find(base);
    for (const auto& entry : entries) {
      // The key, made only for a drain-blocked lookup or a finding's text.
      const auto where = [&] { return fmt::format("slices/{}/{}", entry.node, entry.artifact); };
      if (owned == desired.owned.end()) {
        findings.add(Blocker::CountMismatch,
                     [&] { return fmt::format("{}: base {} has no owner", where(), base); });
        continue;
      }
      if (!drain_blocked.empty() && drain_blocked.count(where()) != 0)
        continue;  // allowed, not owed elsewhere
      if (!is_eligible(entry.node)) {
        if (is_not_on_duty(entry.node)) {
          findings.add(Blocker::CountMismatch,
                       [&] { return fmt::format("{}: {} is live but not ON_DUTY", where(), entry.node); });
        } else {
          findings.add(Blocker::CountMismatch,
                       [&] { return fmt::format("{}: {} is not eligible", where(), entry.node); });
        }
        continue;
      }
      if (!entry.value) {
        findings.add(Blocker::StuckState, [&] { return fmt::format("{}: value cannot be parsed", where()); });
        continue;
      }
      const auto state = entry.value->state;
      if (owned->second.excluded) {
        if (state != ref::State::Active && state != ref::State::Loaded) {
          findings.add(Blocker::StuckState, [&] {
            return fmt::format("{}: {} (excluded artifact)", where(), ref::state_name(state));
          });
        }
        continue;
      }
      const bool starved_loaded = owned->second.starved && state == ref::State::Loaded;
      if (state != ref::State::Active && !starved_loaded) {
        findings.add(Blocker::StuckState,
                     [&] { return fmt::format("{}: {}", where(), ref::state_name(state)); });
      }
      if (!is_artifact(entry.artifact, base, owned->second.version) && rolling_blocked.count(base) == 0) {
        findings.add(Blocker::CountMismatch, [&] {
          return fmt::format("{}: version differs from the owner {}'s {}", where(), owned->second.owner,
                             owned->second.version);
        });
      }
    }
  }
  auto zone_of = [&](const NodeId& node) { return world.attributes(node).zone; };
  bool constrained = false;  // some owned slice has a constraint in force
  // No rolling update unfinished (simulation.md §5, engine-semantics.md §8.4):
  // the CDM removes version-routing/{base} once no other version remains, and
  // on a removal of the base's owner.
  for_prefix(store, "version-routing/", [&](const std::string& key_text, const std::string& value) {
    if (rolling_blocked.count(key_text.substr(std::string_view("version-routing/").size())) != 0) return;
    findings.add(Blocker::CountMismatch,
                 [&] { return fmt::format("{} = {}: rolling update unfinished", key_text, value); });
  });
  for (const auto& [base, want] : desired.owned) {
    // A base with failure evidence is owed nothing, but it still tells
    // whether its all-or-nothing put may stay in flight: its failures may
    // not have turned fatal (the engine counts them per leader term, §4), and
    // a slice that can never be placed keeps a put in flight (§8.3). Both
    // outcomes are admitted: only the placeability is judged below.
    // A starved base (a dependency never ready) can never have an ACTIVE
    // entry, so its owner's all-or-nothing put can never complete either.
    if (want.starved) blocked_owners.insert(want.owner);
    if (!want.excluded) constrained = constrained || !want.anti_affinity.empty() || want.spread_zone;
    if (!want.excluded && (want.cpu > 0 || want.memory > 0)) {
      for (const auto& node : eligible) {
        const auto capacity = world.attributes(node).capacity;
        constrained = constrained || capacity.cpu || capacity.memory;
      }
    }
    const auto owed = ref::owed_range(want.count, want.min_instances, static_cast<int>(eligible.size()));
    auto it = by_base.find(base);
    int actual = 0;  // entries on eligible nodes (the others are judged above)
    if (it != by_base.end()) {
      // A blocked rolling update's old entries stay by design: not counted.
      const bool new_only = rolling_blocked.count(base) != 0;
      for (const auto& entry : it->second)
        if (is_eligible(entry.node) && (!new_only || is_artifact(entry.artifact, base, want.version)))
          ++actual;
    }
    if (actual < owed.low) {
      // Owed only what can be placed: excused if no eligible node could take one.
      std::map<std::string, int> blocked;  // constraint -> nodes it blocks
      bool placeable = false;
      for (const auto& node : eligible) {
        const auto why = blocker_on(base, want, node);
        if (why.empty()) {
          placeable = true;
          break;  // `blocked` is read only when no node could take one
        }
        if (why != "nodes") ++blocked[why];
      }
      if (!placeable) {
        std::vector<std::string> names;
        for (const auto& [name, n] : blocked) names.push_back(name);
        blocked_owners.insert(want.owner);
        if (want.excluded) continue;  // owed nothing: no note either
        findings.note_unplaced(
            fmt::format("{}: {} unplaced ({})", base, owed.low - actual,
                        names.empty() ? "nodes" : fmt::format("{}", fmt::join(names, ", "))));
        continue;
      }
    }
    if (want.excluded) continue;
    if (want.spread_zone && rules.balance && !eligible.empty()) {
      // Zones even out under aggressive reconciliation: live entries per zone
      // (zones of the eligible nodes) differ by at most 1 where a node of an
      // emptier zone could take one.
      std::map<std::string, int> per_zone;
      for (const auto& node : eligible) per_zone[zone_of(node)];
      if (it != by_base.end()) {
        for (const auto& entry : it->second) {
          if (is_eligible(entry.node) && entry.value && ref::is_live(entry.value->state))
            ++per_zone[zone_of(entry.node)];
        }
      }
      int most = 0;
      for (const auto& [zone, n] : per_zone) most = std::max(most, n);
      for (const auto& node : eligible) {
        const auto zone = zone_of(node);
        if (per_zone[zone] + 1 < most && blocker_on(base, want, node).empty()) {
          findings.add(Blocker::CountMismatch, [&] {
            return fmt::format(
                "{}: zone spread: zone {} holds {} live entries, another {}, and {} could "
                "take one",
                base, zone, per_zone[zone], most, node);
          });
          break;
        }
      }
    }
    if (actual < owed.low || actual > owed.high) {
      findings.add(Blocker::CountMismatch, [&] {
        return fmt::format("{}: {} entries, owed {}..{} (desired {}, min_instances {}, {} eligible nodes)",
                           base, actual, owed.low, owed.high, want.count, want.min_instances,
                           eligible.size());
      });
    }
  }

  // Ground truth on every live node: loaded artifacts are its ACTIVE keys, all
  // active; an excluded artifact may be loaded and inactive under a LOADED key.
  for (const auto& node : live.live) {
    const auto& keys = by_node(node);
    // Read in place (NotHeld entries count as absent).
    static const WorldQueries::Holdings kNothing;
    const WorldQueries::Holdings* view = world.slice_holdings_view(node);
    const WorldQueries::Holdings& held = view != nullptr ? *view : kNothing;
    // Both in artifact order: one merge walk finds each key's holding
    // (issue 14, eighth pass), and below each holding's key.
    auto h = held.begin();
    for (const auto& [artifact, state] : keys) {
      while (h != held.end() && h->first < artifact) ++h;
      const auto holding =
          h != held.end() && h->first == artifact ? h->second : engine::SliceHolding::NotHeld;
      if (state == ref::State::Active && holding != engine::SliceHolding::Active) {
        findings.add(Blocker::Ghost, [&] {
          return fmt::format("slices/{}/{} is ACTIVE but the slice store has it {}", node, artifact,
                             holding_name(holding));
        });
      }
      const bool excluded_loaded =
          state == ref::State::Loaded && desired.may_stay_loaded(ref::base_part(artifact));
      if (excluded_loaded && holding != engine::SliceHolding::Loaded) {
        findings.add(Blocker::StuckState, [&] {
          return fmt::format("slices/{}/{} is LOADED but the slice store does not hold it loaded", node,
                             artifact);
        });
      }
    }
    auto k = keys.begin();
    for (const auto& [artifact, holding] : held) {
      if (holding == engine::SliceHolding::NotHeld) continue;
      while (k != keys.end() && k->first < artifact) ++k;
      const bool explained =
          k != keys.end() && k->first == artifact &&
          (k->second == ref::State::Active ||
           (k->second == ref::State::Loaded && desired.may_stay_loaded(ref::base_part(artifact))));
      if (!explained) {
        findings.add(Blocker::StuckState, [&] {
          return fmt::format("{}'s slice store holds {} ({}) without an ACTIVE key", node, artifact,
                             holding == engine::SliceHolding::Active ? "active" : "loaded");
        });
      }
    }
  }

  // engine-semantics.md §8.3: an all-or-nothing put ends complete (its record
  // removed) or rolled back; none may stay in flight.
  // An all-or-nothing put completes once every slice reached min(count,
  // eligible) ACTIVE entries (§8.3): one with a slice that can never get
  // there (unplaced under its constraints, or a blocked rolling update) stays
  // in flight by design; convergence owes only what can be placed.
  // A blueprint some of whose bases another blueprint owns (its value is
  // rejected, §4) deploys nothing of its own: its put can never complete,
  // and no failure of its own slices can roll it back. It stays in flight
  // (and would resume if it were accepted again).
  auto owns_all_its_bases = [&](const std::string& id) {
    auto it = store.find("blueprints/" + id);
    const auto value = it == store.end() ? std::nullopt : ref::read_blueprint(it->second);
    if (!value) return true;
    return std::all_of(value->slices.begin(), value->slices.end(), [&](const ref::BlueprintSlice& slice) {
      auto owned = desired.owned.find(slice.artifact.base());
      return owned == desired.owned.end() || owned->second.owner == id;
    });
  };
  for (const auto& [id, why] : rollbacks_pending(store)) {
    if (blocked_owners.count(id) != 0) {
      findings.note_unplaced(fmt::format("rollback/{}: in flight (a slice of the put cannot be placed)", id));
      continue;
    }
    if (!owns_all_its_bases(id)) {
      findings.note_unplaced(
          fmt::format("rollback/{}: in flight (another blueprint owns a base it lists)", id));
      continue;
    }
    findings.add(Blocker::RollbackPending, [&] { return why; });
  }
  // With placement constraints in force the node balance is not judged
  // (docs/decisions.md, "Engine: placement strategies and constraints").
  if (rules.balance && !eligible.empty() && !constrained) {
    std::map<NodeId, int> load;
    for (const auto& node : eligible) load[node] = 0;
    for (const auto& [base, entries] : by_base) {
      // A starved base (a dependency never ready) is parked like an excluded
      // one: never moved, so not counted (engine-semantics.md §4 as amended,
      // docs/decisions.md "Open fuzz findings worked off").
      if (desired.may_stay_loaded(base)) continue;
      for (const auto& entry : entries) {
        if (entry.value && ref::is_live(entry.value->state) && load.count(entry.node) != 0) {
          ++load[entry.node];
        }
      }
    }
    auto [lo, hi] = std::minmax_element(load.begin(), load.end(),
                                        [](const auto& a, const auto& b) { return a.second < b.second; });
    if (hi->second - lo->second > 1) {
      findings.add(Blocker::CountMismatch, [&] {
        return fmt::format("unbalanced: {} holds {} live entries, {} holds {}", hi->first, hi->second,
                           lo->first, lo->second);
      });
    }
  }
  auto out = findings.state(leader);
  out.drain_blocked.assign(drain_blocked.begin(), drain_blocked.end());
  if (out.converged && !out.drain_blocked.empty()) {
    out.detail = fmt::format("drain blocked: {}", fmt::join(out.drain_blocked, ", "));
  }
  return out;
}

InstanceTally tally_instances(const CanonicalStore::Map& store, const WorldQueries& world,
                              const Liveness& live, const std::string& artifact) {
  InstanceTally out;
  const bool whole_base = ref::is_base(artifact);  // every version of a base
  for_prefix(store, "slices/", [&](const std::string& key_text, const std::string& value) {
    const auto key = ref::classify_key(key_text);
    if (key.kind != ref::KeyKind::Slice || (whole_base ? key.base != artifact : key.artifact != artifact))
      return;
    auto parsed = ref::read_slice_value(value);
    if (!parsed || !ref::is_live(parsed->state)) return;
    ++out.total;
    if (world.is_up(key.node)) ++out.on_up_nodes;
    if (parsed->state != ref::State::Active || live.live.count(key.node) == 0) return;
    if (world.holds_active(key.node, key.artifact)) ++out.active;
  });
  return out;
}

std::string leader_mismatch(const WorldQueries& world, const Liveness& live, const NodeId& node,
                            const ConvergenceHistory* history) {
  ConvergenceRules rules;
  rules.history = history;
  if (live.live.count(node) == 0) return fmt::format("{} is not live", node);
  if (!world.cdm_active(node)) return fmt::format("{} has no Active CDM", node);
  for (const auto& other : live.live) {
    auto believed = believed_leader(world, rules, other);
    if (believed != node) {
      return fmt::format("{} believes {}", other, believed ? *believed : std::string("no leader"));
    }
  }
  return "";
}

}  // namespace aether::properties
