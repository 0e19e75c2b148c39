#include "engine/placement.h"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <string_view>
#include <tuple>

#include "engine/resources.h"
#include "engine/sorted_merge.h"

namespace aether::engine::placement {

namespace {

const NodeInfo& info_of(const std::map<NodeId, NodeInfo>& nodes, const NodeId& node) {
  static const NodeInfo kDefault;
  auto it = nodes.find(node);
  return it == nodes.end() ? kDefault : it->second;
}

}  // namespace

const char* blocker_name(Blocker blocker) {
  switch (blocker) {
    case Blocker::None:
      return "none";
    case Blocker::Nodes:
      return "nodes";
    case Blocker::AntiAffinity:
      return "anti-affinity";
    case Blocker::Capacity:
      return "capacity";
  }
  return "none";
}

std::string zone_of(const std::map<NodeId, NodeInfo>& nodes, const NodeId& node) {
  return info_of(nodes, node).attributes.zone;
}

// A set of places in the eligible list, with the next member from a place.
class AllocationStrategy::Candidates {
 public:
  explicit Candidates(const AddRequest& request);

  bool empty() const { return remaining_ == 0; }
  // Why no candidate is left: no free eligible node, every free one
  // forbidden, or none with room.
  Blocker blocker() const {
    return free_ == chosen_      ? Blocker::Nodes
           : allowed_ == chosen_ ? Blocker::AntiAffinity
                                 : Blocker::Capacity;
  }
  // The group to place in: under zone spread the zone with the fewest live
  // entries of the slice among those with a candidate, ties by zone name
  // (groups are numbered in zone-name order); else the only one.
  std::size_t group() const;
  // The chosen node joins `holding`: it is no candidate any more, and its
  // zone counts one more live entry.
  void take(std::size_t group, std::size_t place);

  // The first candidate of `group` in sorted order on a node with no entry at
  // all (`busy` is the request's: it does not grow with the plan).
  std::optional<std::size_t> first_idle(std::size_t group) const;
  // The first candidate of `group` at `start` or after, wrapping around.
  std::size_t next_from(std::size_t group, std::size_t start) const;
  // The candidate of `group` with the least load ratio (the request's used
  // resources), ties by place (NodeId).
  std::size_t least_loaded(std::size_t group);

  std::size_t size() const { return size_; }

 private:
  // Places as bits: set, clear, the first member at `from` or after.
  struct Bits {
    std::vector<std::uint64_t> words;
    void set(std::size_t place) { words[place / 64] |= std::uint64_t{1} << (place % 64); }
    void clear(std::size_t place) { words[place / 64] &= ~(std::uint64_t{1} << (place % 64)); }
    bool test(std::size_t place) const { return (words[place / 64] >> (place % 64)) & 1U; }
    std::optional<std::size_t> first_from(std::size_t from) const;
  };
  struct Group {
    Bits members;
    Bits idle;  // members on a node with no entry at all
    std::size_t count = 0;
    int live = 0;                      // live entries of the slice in the zone (zone spread)
    std::vector<std::size_t> by_load;  // members by (load, place), built on first use
    std::size_t next_by_load = 0;
    bool ordered = false;
  };

  const AddRequest& request_;
  std::size_t size_ = 0;
  std::size_t free_ = 0;     // eligible nodes not in `holding`
  std::size_t allowed_ = 0;  // ... nor forbidden
  std::size_t chosen_ = 0;
  std::size_t remaining_ = 0;
  bool spread_ = false;
  std::vector<Group> groups_;
  std::vector<const NodeInfo*> infos_;  // per place
};

std::optional<std::size_t> AllocationStrategy::Candidates::Bits::first_from(std::size_t from) const {
  std::size_t word = from / 64;
  if (word >= words.size()) return std::nullopt;
  std::uint64_t bits = words[word] & (~std::uint64_t{0} << (from % 64));
  while (true) {
    if (bits != 0) return word * 64 + static_cast<std::size_t>(std::countr_zero(bits));
    if (++word == words.size()) return std::nullopt;
    bits = words[word];
  }
}

namespace {

const NodeId& same(const NodeId& node) {
  return node;
}
const NodeId& first_of(const std::pair<const NodeId, NodeInfo>& item) {
  return item.first;
}

}  // namespace

AllocationStrategy::Candidates::Candidates(const AddRequest& request)
    : request_(request), size_(request.eligible.size()), spread_(request.constraints.spread_zone) {
  static const NodeInfo kDefault;
  const auto& constraints = request.constraints;
  auto info_at = request.nodes.begin();
  auto holding_at = request.holding.begin();
  auto forbidden_at = request.constraints.forbidden.begin();
  auto busy_at = request.busy.begin();
  std::vector<std::size_t> places;  // the candidates' places
  std::vector<bool> busy;
  infos_.reserve(size_);
  for (std::size_t place = 0; place < size_; ++place) {
    const NodeId& node = request.eligible[place];
    const NodeInfo& info =
        merge_has(info_at, request.nodes.end(), node, first_of) ? info_at->second : kDefault;
    infos_.push_back(&info);
    if (merge_has(holding_at, request.holding.end(), node, same)) continue;
    ++free_;
    if (merge_has(forbidden_at, constraints.forbidden.end(), node, same)) continue;
    ++allowed_;
    if (constraints.capacity && !fits(info.attributes.capacity, info.used, constraints.demand)) continue;
    places.push_back(place);
    busy.push_back(merge_has(busy_at, request.busy.end(), node, same));
  }
  remaining_ = places.size();
  // Groups: the candidates' zones in name order under zone spread, else one.
  std::map<std::string_view, std::size_t> zones;
  if (spread_) {
    for (const std::size_t place : places) zones.emplace(infos_[place]->attributes.zone, 0);
    std::size_t id = 0;
    for (auto& [zone, group] : zones) group = id++;
  }
  groups_.resize(spread_ ? zones.size() : 1);
  for (auto& group : groups_) {
    group.members.words.assign((size_ + 63) / 64, 0);
    group.idle.words.assign((size_ + 63) / 64, 0);
  }
  for (std::size_t i = 0; i < places.size(); ++i) {
    Group& group = groups_[spread_ ? zones.at(infos_[places[i]]->attributes.zone) : 0];
    group.members.set(places[i]);
    if (!busy[i]) group.idle.set(places[i]);
    ++group.count;
  }
  if (!spread_) return;
  // Live entries by zone (a node the request does not describe is in the default zone).
  auto live_info = request.nodes.begin();
  for (const auto& node : request.live) {
    const std::string& zone = merge_has(live_info, request.nodes.end(), node, first_of)
                                  ? live_info->second.attributes.zone
                                  : kDefault.attributes.zone;
    if (auto it = zones.find(zone); it != zones.end()) ++groups_[it->second].live;
  }
}

std::size_t AllocationStrategy::Candidates::group() const {
  if (!spread_) return 0;
  std::optional<std::size_t> best;
  for (std::size_t id = 0; id < groups_.size(); ++id) {
    if (groups_[id].count == 0) continue;
    if (!best || groups_[id].live < groups_[*best].live) best = id;
  }
  return *best;
}

void AllocationStrategy::Candidates::take(std::size_t group, std::size_t place) {
  Group& g = groups_[group];
  g.members.clear(place);
  g.idle.clear(place);
  --g.count;
  ++g.live;
  --remaining_;
  ++chosen_;
}

std::optional<std::size_t> AllocationStrategy::Candidates::first_idle(std::size_t group) const {
  return groups_[group].idle.first_from(0);
}

std::size_t AllocationStrategy::Candidates::next_from(std::size_t group, std::size_t start) const {
  const Bits& members = groups_[group].members;
  if (auto place = members.first_from(start)) return *place;
  return *members.first_from(0);
}

std::size_t AllocationStrategy::Candidates::least_loaded(std::size_t group) {
  Group& g = groups_[group];
  if (!g.ordered) {
    std::vector<std::pair<double, std::size_t>> loads;
    for (auto place = g.members.first_from(0); place; place = g.members.first_from(*place + 1)) {
      const NodeInfo& info = *infos_[*place];
      loads.emplace_back(load_ratio(info.attributes.capacity, info.used), *place);
    }
    // By load, ties by place: the first of equal loads in sorted order, as a
    // scan keeping the first strictly smaller one chooses.
    std::stable_sort(loads.begin(), loads.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const auto& [load, place] : loads) g.by_load.push_back(place);
    g.ordered = true;
  }
  while (!g.members.test(g.by_load[g.next_by_load])) ++g.next_by_load;
  return g.by_load[g.next_by_load];
}

AddPlan AllocationStrategy::plan_add(const AddRequest& request) const {
  // A node chosen joins `holding` and is never a candidate again, and nothing
  // else about a candidate changes during the plan (its used resources grow
  // only once chosen): each round's candidates are the first round's minus
  // the nodes chosen, so they are found once (issue 14, fifth pass).
  AddPlan plan;
  plan.cursor = request.cursor;
  if (request.count <= 0) return plan;
  Candidates candidates(request);
  while (static_cast<int>(plan.nodes.size()) < request.count) {
    if (candidates.empty()) {
      plan.blocked = candidates.blocker();
      break;
    }
    const std::size_t group = candidates.group();
    const std::size_t place = pick(candidates, group, plan.cursor);
    plan.nodes.push_back(request.eligible[place]);
    candidates.take(group, place);
  }
  return plan;
}

std::vector<NodeId> AllocationStrategy::plan_remove(const RemoveRequest& request) const {
  if (request.count <= 0) return {};
  std::vector<NodeId> inactive;
  std::vector<NodeId> active;
  for (const auto& entry : request.live) (entry.active ? active : inactive).push_back(entry.node);
  std::vector<NodeId> order(inactive.rbegin(), inactive.rend());
  order.insert(order.end(), active.rbegin(), active.rend());
  if (!request.spread_zone) {
    if (static_cast<int>(order.size()) > request.count) order.resize(static_cast<std::size_t>(request.count));
    return order;
  }
  auto zone = [&](const NodeId& node) {
    auto it = request.zones.find(node);
    return it == request.zones.end() ? std::string(kDefaultZone) : it->second;
  };
  std::map<std::string, int> zone_live;
  for (const auto& node : order) ++zone_live[zone(node)];
  std::vector<NodeId> victims;
  while (static_cast<int>(victims.size()) < request.count && !order.empty()) {
    // The zone with the most live entries; ties by zone name.
    std::string fullest;
    int most = -1;
    for (const auto& [name, live] : zone_live) {
      if (live > most) std::tie(most, fullest) = std::tie(live, name);
    }
    auto it =
        std::find_if(order.begin(), order.end(), [&](const NodeId& node) { return zone(node) == fullest; });
    victims.push_back(*it);
    order.erase(it);
    --zone_live[fullest];
  }
  return victims;
}

std::size_t RoundRobin::pick(Candidates& candidates, std::size_t group, std::size_t& cursor) const {
  // First nodes with no entry at all, in sorted order.
  if (auto idle = candidates.first_idle(group)) return *idle;
  // Then by the cursor over the sorted eligible nodes; it moves past the node chosen.
  const std::size_t place = candidates.next_from(group, cursor % candidates.size());
  cursor = place + 1;
  return place;
}

std::size_t ResourceAware::pick(Candidates& candidates, std::size_t group, std::size_t& cursor) const {
  // A node this plan chose is no candidate any more, so the request's usage is
  // current for every candidate.
  (void)cursor;
  return candidates.least_loaded(group);
}

std::unique_ptr<AllocationStrategy> make_strategy(engine::AllocationStrategy kind) {
  switch (kind) {
    case engine::AllocationStrategy::RoundRobin:
      return std::make_unique<RoundRobin>();
    case engine::AllocationStrategy::ResourceAware:
      return std::make_unique<ResourceAware>();
  }
  return std::make_unique<RoundRobin>();
}

}  // namespace aether::engine::placement
