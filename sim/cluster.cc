#include "sim/cluster.h"

#include <algorithm>
#include <cctype>

namespace aether::sim {

using engine::TopologyChange;

namespace {

// The numeric suffix of an id ("node-12" -> 12), 0 if none.
std::uint64_t numeric_suffix(const NodeId& id) {
  std::size_t start = id.size();
  while (start > 0 && std::isdigit(static_cast<unsigned char>(id[start - 1]))) --start;
  if (start == id.size() || id.size() - start > 18) return 0;
  return std::stoull(id.substr(start));
}

}  // namespace

SimCluster::SimCluster(SimConfig config, Trace& trace, engine::NodeRuntimeFactory factory)
    : world_(std::make_unique<World>(std::move(config), trace)), factory_(std::move(factory)) {
  consensus_ =
      std::make_unique<ConsensusKv>(*world_, [this](std::uint64_t position) { on_decided(position); });
  world_->link_cut = [this](const NodeId& from, const NodeId& to) {
    auto a = index_.find(from);
    auto b = index_.find(to);
    if (a == index_.end() || b == index_.end()) return true;
    return !link_active(a->second) || !link_active(b->second) || world_->network.rules_cut(from, to);
  };
  world_->node_active = [this](const NodeId& node) {
    auto found = index_.find(node);
    return found != index_.end() && link_active(found->second) && world_->configured.count(node) > 0;
  };
  world_->vertex_of = [this](const NodeId& node) {
    auto found = index_.find(node);
    return found == index_.end() ? World::kNoVertex : static_cast<std::uint32_t>(found->second);
  };
  consensus_->set_ack_probe([this](const NodeId& node) -> std::optional<Acks> {
    SimNode* submitter = find(node);
    if (submitter == nullptr || !submitter->up() || submitter->paused() || !submitter->quorum()) {
      return std::nullopt;
    }
    return submitter->gather_acks();
  });
  world_->trace.event(0, "cluster.start")
      .list("nodes", world_->config.nodes)
      .u64("seed", world_->config.seed)
      .i64("failure_detection_ns", world_->config.failure_detection_ns);
  for (const auto& id : world_->config.nodes) {
    if (nodes_.count(id)) continue;
    create_node(id);
    world_->configure(id);
  }
  // Fully connected from t=0: every pair uncut, every view full.
  for (auto& row : pair_cut_) std::fill(row.begin(), row.end(), 0);
  std::vector<NodeId> full(world_->configured.begin(), world_->configured.end());
  std::vector<std::uint32_t> full_vertices;
  full_vertices.reserve(full.size());
  for (const NodeId& id : full) full_vertices.push_back(static_cast<std::uint32_t>(index_.at(id)));
  const ViewRef full_view = make_view(std::move(full), std::move(full_vertices));
  for (std::size_t k = 0; k < order_.size(); ++k) {
    view_bits_[k].assign(order_.size(), true);
    nodes_.at(order_[k])->start(full_view, factory_);
  }
}

SimCluster::~SimCluster() {
  // Observers may already be gone (they are often declared after the
  // cluster), and tearing down is not an event of the run: nobody hears it.
  world_->observers.clear();
  // Runtimes die before the services they hold references to.
  for (auto& [id, node] : nodes_) node->shutdown();
}

SimNode* SimCluster::find(const NodeId& node) const {
  auto it = by_id_.find(node);
  return it == by_id_.end() ? nullptr : it->second;
}

SimNode& SimCluster::create_node(const NodeId& id) {
  auto node = std::make_unique<SimNode>(*world_, *consensus_, id,
                                        [this](const NodeId& failed) { on_engine_failure(failed); });
  SimNode& ref = *node;
  const auto placed = nodes_.emplace(id, std::move(node)).first;
  by_id_.emplace(std::string_view(placed->first), &ref);
  node_at_.push_back(&ref);
  departed_.push_back(0);
  index_[id] = order_.size();
  order_.push_back(id);
  // A new vertex starts cut from everyone: links form failure_detection later.
  pair_cut_.emplace_back(pair_cut_.size(), 1);
  for (auto& row : view_bits_) row.push_back(false);
  view_bits_.emplace_back(order_.size(), false);
  by_name_.insert(std::upper_bound(by_name_.begin(), by_name_.end(), id,
                                   [this](const NodeId& name, std::size_t k) { return name < order_[k]; }),
                  order_.size() - 1);
  max_suffix_ = std::max(max_suffix_, numeric_suffix(id));
  held_.emplace_back();
  if (world_->config.clock_drift_ppm > 0) {
    const auto d = static_cast<std::int64_t>(std::min(world_->config.clock_drift_ppm, kMaxClockDriftPpm));
    ref.set_clock_drift(world_->drift_prng.between(-d, d));
  }
  return ref;
}

// ---- links and views --------------------------------------------------------

bool SimCluster::link_active(std::size_t index) const {
  if (departed_[index]) return false;
  const SimNode& node = *node_at_[index];
  return node.up() && !node.paused();
}

bool SimCluster::pair_cut(std::size_t i, std::size_t j) const {
  if (!link_active(i) || !link_active(j)) return true;
  const NodeId& a = order_[i];
  const NodeId& b = order_[j];
  return world_->network.rules_cut(a, b) || world_->network.rules_cut(b, a);
}

void SimCluster::refresh_pair(std::size_t i, std::size_t j) {
  if (departed_[i] || departed_[j]) return;
  std::uint8_t& pair_is_cut = pair_cut_[j][i];
  const bool cut = pair_cut(i, j);
  if (cut == (pair_is_cut != 0)) return;
  pair_is_cut = cut ? 1 : 0;
  PairTimers& pair = timers_of(i, j);
  if (pair.timer != 0) world_->loop.cancel(pair.timer);
  pair.timer = 0;
  if (!world_->detection_ranged()) {
    pair.timer = world_->loop.schedule_after(
        world_->config.failure_detection_ns, [this, i, j] { pair_timer(i, j); }, Lane::Topology);
    return;
  }
  // Asymmetric detection: each end notices after its own drawn delay.
  for (int side = 0; side < 2; ++side) {
    if (pair.side_timer[side] != 0) world_->loop.cancel(pair.side_timer[side]);
    const Nanos delay =
        world_->detection_prng.duration_between(world_->detection_min_ns(), world_->detection_max_ns());
    pair.side_timer[side] = world_->loop.schedule_after(
        delay, [this, i, j, side] { side_timer(i, j, side); }, Lane::Topology);
  }
}

void SimCluster::drop_idle_timers(std::size_t i, std::size_t j) {
  auto found = pair_timers_.find(pair_key(i, j));
  if (found != pair_timers_.end() && found->second.idle()) pair_timers_.erase(found);
}

void SimCluster::side_timer(std::size_t i, std::size_t j, int side) {
  timers_of(i, j).side_timer[side] = 0;
  drop_idle_timers(i, j);
  const bool cut = pair_cut_[j][i] != 0;
  const std::size_t owner = side == 0 ? i : j;
  const std::size_t peer = side == 0 ? j : i;
  SimNode& node = *node_at_[owner];
  if (!node.up() || departed_[owner]) return;
  if (view_bits_[owner][peer] == !cut) return;
  view_bits_[owner][peer] = !cut;
  node.deliver_view_change(cut ? TopologyChange::NodeDown : TopologyChange::NodeAdded, order_[peer],
                           world_view(owner));
  links_changed();  // a peer back in a view can acknowledge a held batch
}

void SimCluster::refresh_links() {
  for (std::size_t j = 0; j < order_.size(); ++j) {
    for (std::size_t i = 0; i < j; ++i) refresh_pair(i, j);
  }
}

void SimCluster::refresh_links_of(const NodeId& node) {
  auto found = index_.find(node);
  if (found == index_.end()) return refresh_links();
  const std::size_t k = found->second;
  // Same order as a full refresh (j outer, i inner) restricted to k's pairs.
  for (std::size_t i = 0; i < k; ++i) refresh_pair(i, k);
  for (std::size_t j = k + 1; j < order_.size(); ++j) refresh_pair(k, j);
}

void SimCluster::pair_timer(std::size_t i, std::size_t j) {
  timers_of(i, j).timer = 0;
  drop_idle_timers(i, j);
  const bool cut = pair_cut_[j][i] != 0;
  for (const auto& [owner, peer] : {std::pair{i, j}, std::pair{j, i}}) {
    SimNode& node = *node_at_[owner];
    if (!node.up() || departed_[owner]) continue;
    if (view_bits_[owner][peer] == !cut) continue;  // no change for this side
    view_bits_[owner][peer] = !cut;
    node.deliver_view_change(cut ? TopologyChange::NodeDown : TopologyChange::NodeAdded, order_[peer],
                             world_view(owner));
  }
  links_changed();  // a peer back in a view can acknowledge a held batch
}

ViewRef SimCluster::world_view(std::size_t owner) {
  const auto& bits = view_bits_[owner];
  // The members a node is told are the same as the last view built (one
  // word compare per 64 vertices): share it (issue 14, eighth pass: a crash
  // heard by n nodes in turn gives each the same members).
  if (last_view_ && bits == last_view_bits_) return last_view_;
  std::vector<NodeId> names;
  std::vector<std::uint32_t> vertices;
  const auto members = static_cast<std::size_t>(std::count(bits.begin(), bits.end(), true));
  names.reserve(members);
  vertices.reserve(members);
  for (std::size_t k : by_name_) {
    if (!bits[k]) continue;
    names.push_back(order_[k]);
    vertices.push_back(static_cast<std::uint32_t>(k));
  }
  last_view_bits_ = bits;
  last_view_ = make_view(std::move(names), std::move(vertices));
  return last_view_;
}

void SimCluster::set_world_view(std::size_t owner, bool alone) {
  auto& bits = view_bits_[owner];
  std::fill(bits.begin(), bits.end(), false);
  if (alone) bits[owner] = true;
}

// ---- node faults --------------------------------------------------------------

void SimCluster::node_fault(const NodeId& node, NodeFault fault, const char* kind) {
  world_->trace.event(now(), kind).str("node", node);
  world_->notify([&](WorldObserver& o) { o.on_node_fault(now(), node, fault); });
}

bool SimCluster::crash(const NodeId& node) {
  SimNode* target = find(node);
  if (target == nullptr || !target->up() || removed_.count(node)) return false;
  node_fault(node, NodeFault::Crash, "node.crash");
  target->stop();
  held_[index_.at(node)].clear();
  set_world_view(index_.at(node), false);
  refresh_links_of(node);
  links_changed();
  return true;
}

bool SimCluster::restart(const NodeId& node) {
  SimNode* target = find(node);
  if (target == nullptr || target->up() || removed_.count(node)) return false;
  node_fault(node, NodeFault::Restart, "node.restart");
  set_world_view(index_.at(node), true);
  target->start(make_view({node}, {static_cast<std::uint32_t>(index_.at(node))}), factory_);
  refresh_links_of(node);
  links_changed();
  return true;
}

bool SimCluster::pause(const NodeId& node) {
  SimNode* target = find(node);
  if (target == nullptr || !target->up() || target->paused() || removed_.count(node)) return false;
  node_fault(node, NodeFault::Pause, "node.pause");
  target->pause();
  refresh_links_of(node);
  links_changed();
  return true;
}

bool SimCluster::resume(const NodeId& node) {
  SimNode* target = find(node);
  if (target == nullptr || !target->up() || !target->paused()) return false;
  node_fault(node, NodeFault::Resume, "node.resume");
  target->unpause();
  refresh_links_of(node);  // its links count as uncut from this instant
  target->replay_queued();
  links_changed();
  return true;
}

std::optional<NodeId> SimCluster::add_node(std::optional<NodeId> id,
                                           std::optional<engine::NodeAttributes> attributes) {
  const NodeId new_id = id ? *id : "node-" + std::to_string(max_suffix_ + 1);
  if (nodes_.count(new_id) || world_->configured.size() >= kMaxSimNodes) return std::nullopt;
  if (attributes) world_->attributes[new_id] = *attributes;
  SimNode& node = create_node(new_id);
  world_->configure(new_id);
  node_fault(new_id, NodeFault::Add, "node.add");
  set_world_view(index_.at(new_id), true);
  node.start(make_view({new_id}, {static_cast<std::uint32_t>(index_.at(new_id))}), factory_);
  // The majority may have grown: every node re-judges its quorum at once.
  for (auto& [other_id, other] : nodes_) {
    if (other_id != new_id && other->up()) other->reevaluate_quorum();
  }
  refresh_links_of(new_id);
  links_changed();
  return new_id;
}

bool SimCluster::remove_node(const NodeId& node) {
  SimNode* target = find(node);
  if (target == nullptr || removed_.count(node)) return false;
  node_fault(node, NodeFault::Remove, "node.remove");
  target->stop();
  removed_.insert(node);
  departed_[index_.at(node)] = 1;
  world_->unconfigure(node);
  world_->network.forget(node);
  const std::size_t index = index_.at(node);
  set_world_view(index, false);
  for (std::size_t j = 0; j < order_.size(); ++j) {
    if (j == index) continue;
    const std::size_t lo = std::min(j, index);
    const std::size_t hi = std::max(j, index);
    auto timers = pair_timers_.find(pair_key(lo, hi));
    if (timers != pair_timers_.end()) {
      PairTimers& pair = timers->second;
      if (pair.timer != 0) world_->loop.cancel(pair.timer);
      for (EventLoop::EventId side : pair.side_timer) {
        if (side != 0) world_->loop.cancel(side);
      }
      pair_timers_.erase(timers);
    }
    pair_cut_[hi][lo] = 1;
  }
  // Peers hear NodeRemoved and judge the new majority at once.
  for (auto& [peer_id, peer] : nodes_) {
    if (!peer->up()) continue;
    const std::size_t owner = index_.at(peer_id);
    view_bits_[owner][index] = false;
    peer->deliver_view_change(TopologyChange::NodeRemoved, node, world_view(owner));
  }
  held_[index].clear();
  links_changed();
  return true;
}

// ---- network --------------------------------------------------------------------

void SimCluster::partition(const std::vector<std::vector<NodeId>>& groups) {
  {
    auto event = world_->trace.event(now(), "net.partition");
    for (std::size_t g = 0; g < groups.size(); ++g) event.list("group" + std::to_string(g), groups[g]);
  }
  world_->network.partition(groups);
  refresh_links();
  links_changed();
}

void SimCluster::isolate(const NodeId& node) {
  world_->trace.event(now(), "net.isolate").str("node", node);
  world_->network.isolate(node);
  refresh_links_of(node);
  links_changed();
}

void SimCluster::link(const NodeId& from, const NodeId& to, LinkRule rule) {
  world_->trace.event(now(), "net.link")
      .str("from", from)
      .str("to", to)
      .u64("loss_ppm", rule.loss_ppm)
      .i64("delay_ns", rule.delay_ns);
  world_->network.link(from, to, rule);
  refresh_links_of(from);
  links_changed();
}

void SimCluster::heal() {
  world_->trace.event(now(), "net.heal");
  world_->network.heal();
  refresh_links();
  links_changed();
}

void SimCluster::heal(const NodeId& node) {
  world_->trace.event(now(), "net.heal").str("node", node);
  world_->network.heal(node);
  refresh_links_of(node);
  links_changed();
}

void SimCluster::set_network(const NetworkSettings& settings) {
  world_->trace.event(now(), "net.settings")
      .i64("latency_min_ns", settings.latency_min_ns)
      .i64("latency_max_ns", settings.latency_max_ns)
      .u64("drop_ppm", settings.drop_ppm)
      .u64("duplicate_ppm", settings.duplicate_ppm);
  world_->network.set_settings(settings);
}

void SimCluster::set_stall(const StallSettings& stall) {
  world_->trace.event(now(), "net.stall")
      .u64("ppm", stall.ppm)
      .i64("min_ns", stall.min_ns)
      .i64("max_ns", stall.max_ns);
  world_->stall = stall;
}

void SimCluster::set_slice_failure_rule(const SliceFailureRule& rule) {
  const char* phase = rule.phase == FailurePhase::Load       ? "load"
                      : rule.phase == FailurePhase::Activate ? "activate"
                                                             : "any";
  world_->trace.event(now(), "slice.failure_rule")
      .str("artifact", rule.artifact)
      .str("phase", phase)
      .u64("transient_ppm", rule.transient_ppm)
      .u64("fatal_ppm", rule.fatal_ppm);
  world_->slice_rules.set(rule);
}

// ---- fault points ---------------------------------------------------------------

void SimCluster::set_lost_submit_rule(const NodeId& node, const std::string& writer, std::uint32_t ppm) {
  world_->trace.event(now(), "fault.lost_submit").str("node", node).str("writer", writer).u64("ppm", ppm);
  auto& rules = world_->lost_submits;
  for (auto& rule : rules) {
    if (!rule.one_shot && rule.node == node && rule.writer == writer) {
      rule.ppm = ppm;
      return;
    }
  }
  rules.push_back(LostSubmitRule{node, writer, ppm, false});
}

void SimCluster::lose_next_submit(const NodeId& node, const std::string& writer) {
  world_->trace.event(now(), "fault.lose_next_submit").str("node", node).str("writer", writer);
  world_->lost_submits.push_back(LostSubmitRule{node, writer, 0, true});
}

void SimCluster::set_quorum_reorder(const NodeId& node, std::uint32_t ppm) {
  world_->trace.event(now(), "fault.quorum_reorder").str("node", node).u64("ppm", ppm);
  world_->quorum_reorder_ppm[node] = ppm;
}

// ---- consensus deliveries and engine failures ------------------------------------

const NodeId* SimCluster::delivery_source(std::uint64_t position, const std::vector<NodeId>& deciders,
                                          const NodeId& to) const {
  // Only over a direct uncut link from a member of the deciding majority
  // (the first submitter first, then the members in id order). A paused
  // receiver still gets it: it queues, as everything addressed to it does.
  const BatchRecord& record = consensus_->decided(position);
  auto can_send = [&](const NodeId& from) {
    if (from == to) return true;
    auto found = index_.find(from);
    if (found == index_.end() || !link_active(found->second)) return false;
    return !world_->network.rules_cut(from, to);
  };
  const NodeId& first = record.submitters.front().node;
  if (std::binary_search(deciders.begin(), deciders.end(), first) && can_send(first)) return &first;
  for (const NodeId& member : deciders) {
    if (can_send(member)) return &member;
  }
  return nullptr;
}

void SimCluster::links_changed() {
  release_held();
  consensus_->links_changed();
}

void SimCluster::release_held() {
  for (std::size_t k = 0; k < held_.size(); ++k) {
    auto& held = held_[k];
    if (held.empty()) continue;
    SimNode& node = *node_at_[k];
    if (!node.up() || departed_[k] || !node.quorum()) {
      held.clear();  // discarded: the restore at regain covers it
      continue;
    }
    std::vector<std::uint64_t> released;
    for (auto it = held.begin(); it != held.end();) {
      if (*it <= node.applied_position()) {
        it = held.erase(it);
      } else if (delivery_source(*it, held_deciders_.at(*it), order_[k]) != nullptr) {
        released.push_back(*it);
        it = held.erase(it);
      } else {
        ++it;
      }
    }
    if (released.empty()) continue;
    const Nanos delay = world_->network.draw_latency(world_->held_prng);
    world_->trace.event(now(), "kv.release")
        .str("node", order_[k])
        .u64("first", released.front())
        .u64("count", released.size())
        .i64("in_ns", delay);
    for (std::uint64_t position : released) node.deliver_decided_after(delay, position);
  }
  // Forget the majorities of positions nobody holds any more.
  for (auto it = held_deciders_.begin(); it != held_deciders_.end();) {
    bool still = false;
    for (const auto& held : held_) still = still || held.count(it->first) > 0;
    it = still ? std::next(it) : held_deciders_.erase(it);
  }
}

void SimCluster::on_decided(std::uint64_t position) {
  const std::vector<NodeId>& deciders = consensus_->latest_deciders();
  // Without partition, isolate or link rules, delivery_source(position, to)
  // is the first of its candidates (the first submitter if it decided, then
  // the deciders in id order) that is `to` itself or up and unpaused; the
  // candidates before the first such one are all inactive: looked up once
  // per decision here, by vertex index, instead of per receiver by name
  // (issue 14, fourth pass; the same source for every receiver).
  const bool no_rules = !world_->network.any_rule_in_force();
  std::vector<std::size_t> inactive_before;  // candidates ahead of `source`, all inactive
  const NodeId* source_for_others = nullptr;
  if (no_rules) {
    const NodeId& first = consensus_->decided(position).submitters.front().node;
    auto consider = [&](const NodeId& candidate) {
      auto found = index_.find(candidate);
      if (found != index_.end() && link_active(found->second)) {
        source_for_others = &candidate;
        return true;
      }
      if (found != index_.end()) inactive_before.push_back(found->second);
      return false;
    };
    bool chosen = std::binary_search(deciders.begin(), deciders.end(), first) && consider(first);
    for (std::size_t m = 0; !chosen && m < deciders.size(); ++m) chosen = consider(deciders[m]);
  }
  // The nodes this position must wake (issue 14, fifth pass): those whose
  // listeners subscribe to one of its keys, and its submitters (a submit
  // waits on it). Every other steady receiver takes it deferred.
  const BatchRecord& record = consensus_->decided(position);
  if (wanted_.size() < node_at_.size()) wanted_.resize(node_at_.size(), 0);
  world_->interests.match(record.commands, [&](std::uint32_t vertex) {
    if (vertex < wanted_.size()) wanted_[vertex] = position;
  });
  for (const Submitter& submitter : record.submitters) {
    auto found = index_.find(submitter.node);
    if (found != index_.end()) wanted_[found->second] = position;
  }
  // One typed event per receiver, in NodeId order (by_name_: every node ever
  // created, as nodes_ iterates), each under the sequence number it takes
  // here; those not deferred are gathered into one fan: the same times,
  // sequence numbers and order as one event each.
  std::vector<EventLoop::TypedFire>& fires = fan_scratch_;
  fires.clear();
  EventLoop& loop = world_->loop;
  const bool defer = world_->config.defer_deliveries;
  const EventLoop::Key horizon = loop.horizon();
  const Nanos at = now();
  const SimNetwork& network = world_->network;
  // The network stream as a local copy while the loop draws (issue 14,
  // seventh pass: nothing else draws from it until the loop ends, and its
  // state stays in registers); the same draws in the same order.
  Prng prng = world_->network_prng;
  auto ahead = [&](std::size_t k) {
    return !inactive_before.empty() &&
           std::find(inactive_before.begin(), inactive_before.end(), k) != inactive_before.end();
  };
  // Without rules, drop or duplicate rate, each receiver with a source draws
  // one latency and nothing else: they are counted first and drawn in one
  // call (Prng::fill_between, the same draws in the same order).
  const bool latency_only = no_rules && network.plain_is_latency();
  std::vector<Nanos>& draws = world_->scratch.draws;
  std::size_t next_draw = 0;
  if (latency_only) {
    std::size_t count = 0;
    for (std::size_t k : by_name_) {
      if (departed_[k] != 0 || !node_at_[k]->up()) continue;
      if (source_for_others != nullptr || ahead(k)) ++count;
    }
    if (draws.size() < count) draws.resize(count);
    prng.fill_between(network.min_latency_ns(), network.max_latency_ns(), draws.data(), count);
  }
  // Each receiver's state is asked for a few receivers ahead (its own lines
  // first, the note slots they point to a few receivers later): by the time
  // try_defer reads them they are in the cache (issue 14, seventh pass).
  constexpr std::size_t kPrefetchAhead = 8;  // receivers
  constexpr std::size_t kPrefetchNotesAhead = 4;
  for (std::size_t r = 0; r < kPrefetchAhead && r < by_name_.size(); ++r)
    node_at_[by_name_[r]]->prefetch_for_defer();
  for (std::size_t r = 0; r < kPrefetchNotesAhead && r < by_name_.size(); ++r)
    node_at_[by_name_[r]]->prefetch_notes();
  for (std::size_t r = 0; r < by_name_.size(); ++r) {
    const std::size_t k = by_name_[r];
    if (r + kPrefetchAhead < by_name_.size()) node_at_[by_name_[r + kPrefetchAhead]]->prefetch_for_defer();
    if (r + kPrefetchNotesAhead < by_name_.size())
      node_at_[by_name_[r + kPrefetchNotesAhead]]->prefetch_notes();
    SimNode* node = node_at_[k];
    if (departed_[k] != 0 || !node->up()) continue;
    const NodeId& id = order_[k];
    const NodeId* source = nullptr;
    if (no_rules) {
      source = ahead(k) ? &id : source_for_others;
    } else {
      source = delivery_source(position, deciders, id);
    }
    if (source == nullptr) {
      // Cut off from the whole deciding majority: nothing new reaches it.
      if (!node->quorum()) continue;  // it would discard it; the restore at regain covers it
      held_[k].insert(position);
      held_deciders_.emplace(position, deciders);
      world_->trace.event(now(), "kv.held").str("node", id).u64("position", position);
      continue;
    }
    DeliveryDraw draw;
    if (latency_only) {
      draw.delay_ns = draws[next_draw++];  // draw_plain: one latency, nothing else drawn
    } else {
      draw = no_rules ? network.draw_plain(prng) : network.draw_delivery(*source, id, prng);
    }
    if (draw.retransmissions > 0) {
      world_->trace.event(now(), "net.drop")
          .str("from", *source)
          .str("to", id)
          .u64("position", position)
          .u64("retransmissions", draw.retransmissions);
    }
    const EventLoop::Key arrival{at + draw.delay_ns, loop.reserve_order(Lane::Normal)};
    EventLoop::Key dup{-1, 0};
    if (draw.duplicated) {
      // Absorbed by the apply cursor, but delivered all the same.
      dup = EventLoop::Key{at + draw.delay_ns + network.draw_latency(prng), loop.reserve_order(Lane::Normal)};
    }
    if (defer && node->try_defer(position, arrival, dup, wanted_[k] == position, horizon)) continue;
    fires.push_back(node->delivery_at(arrival));
    if (dup.time >= 0) fires.push_back(node->delivery_at(dup));
  }
  world_->network_prng = prng;
  world_->loop.schedule_typed_fan(position, fires, Lane::Normal);
}

void SimCluster::on_engine_failure(const NodeId& node) {
  // Stopped once the engine code on the stack has unwound: first thing at this instant.
  const std::uint64_t incarnation = nodes_.at(node)->incarnation();
  world_->loop.schedule_at(
      now(),
      [this, node, incarnation] {
        SimNode& target = *nodes_.at(node);
        if (!target.up() || target.incarnation() != incarnation) return;
        node_fault(node, NodeFault::Crash, "node.crash");
        target.stop();
        held_[index_.at(node)].clear();
        set_world_view(index_.at(node), false);
        refresh_links_of(node);
        links_changed();
      },
      Lane::Step);
}

// ---- client writes --------------------------------------------------------------

void SimCluster::client_write(const std::string& client, engine::KvBatch batch,
                              std::function<void()> on_commit, std::optional<NodeId> via) {
  ClientQueue& queue = clients_[client];
  const std::uint64_t seq = next_client_write_++;
  {
    auto event = world_->trace.event(now(), "client.write");
    trace_commands(event.str("client", client).u64("write", seq), "commands", batch);
  }
  queue.writes.push_back(ClientWriteItem{seq, std::move(batch), std::move(on_commit), std::move(via)});
  if (queue.writes.size() == 1) pump_client(client);
}

bool SimCluster::client_writes_idle() const {
  for (const auto& [name, queue] : clients_) {
    if (!queue.writes.empty()) return false;
  }
  return true;
}

SimNode* SimCluster::client_entry_node() const {
  for (const auto& [id, node] : nodes_) {
    if (removed_.count(id) || !node->up() || node->paused()) continue;
    if (node->quorum() && node->restored()) return node.get();
  }
  return nullptr;
}

SimNode* SimCluster::client_via_node(const NodeId& via) const {
  SimNode* node = find(via);
  if (node == nullptr || removed_.count(via) || !node->up() || node->paused()) return nullptr;
  return node->quorum() && node->restored() ? node : nullptr;
}

void SimCluster::pump_client(const std::string& client) {
  ClientQueue& queue = clients_.at(client);
  if (queue.writes.empty()) return;
  const std::uint64_t seq = queue.writes.front().seq;
  ++queue.attempts;
  const std::optional<NodeId>& via = queue.writes.front().via;
  SimNode* entry = via ? client_via_node(*via) : client_entry_node();
  if (via && entry == nullptr) {
    world_->trace.event(now(), "client.unavailable")
        .str("client", client)
        .u64("write", seq)
        .str("node", *via)
        .u64("attempt", queue.attempts);
  }
  if (entry != nullptr) {
    world_->trace.event(now(), "client.submit")
        .str("client", client)
        .u64("write", seq)
        .str("node", entry->self())
        .u64("attempt", queue.attempts);
    entry->submit_as(
        "client:" + client, queue.writes.front().batch,
        [this, client, seq](engine::SubmitOutcome outcome) { on_client_outcome(client, seq, outcome); });
  }
  queue.retry = world_->loop.schedule_after(kClientRetryNs, [this, client, seq] {
    ClientQueue& q = clients_.at(client);
    q.retry = 0;
    if (!q.writes.empty() && q.writes.front().seq == seq) pump_client(client);
  });
}

void SimCluster::on_client_outcome(const std::string& client, std::uint64_t seq,
                                   engine::SubmitOutcome outcome) {
  ClientQueue& queue = clients_.at(client);
  if (queue.writes.empty() || queue.writes.front().seq != seq) return;  // an older attempt of a done write
  if (outcome != engine::SubmitOutcome::Committed) return;              // the retry timer resubmits
  if (queue.retry != 0) world_->loop.cancel(queue.retry);
  queue.retry = 0;
  queue.attempts = 0;
  auto on_commit = std::move(queue.writes.front().on_commit);
  queue.writes.pop_front();
  world_->trace.event(now(), "client.commit").str("client", client).u64("write", seq);
  if (on_commit) on_commit();
  pump_client(client);
}

// ---- queries ------------------------------------------------------------------------

std::vector<NodeId> SimCluster::configured_nodes() const {
  return {world_->configured.begin(), world_->configured.end()};
}

std::vector<NodeId> SimCluster::all_nodes() const {
  std::vector<NodeId> out;
  for (const auto& [id, node] : nodes_) out.push_back(id);
  return out;
}

bool SimCluster::is_up(const NodeId& node) const {
  const SimNode* target = find(node);
  return target != nullptr && target->up();
}

bool SimCluster::is_paused(const NodeId& node) const {
  const SimNode* target = find(node);
  return target != nullptr && target->up() && target->paused();
}

const std::vector<NodeId>& SimCluster::view(const NodeId& node) const {
  static const std::vector<NodeId> kNone;
  const SimNode* target = find(node);
  return target != nullptr && target->up() ? target->view() : kNone;
}

bool SimCluster::has_quorum(const NodeId& node) const {
  const SimNode* target = find(node);
  return target != nullptr && target->up() && target->quorum();
}

bool SimCluster::is_restored(const NodeId& node) const {
  const SimNode* target = find(node);
  return target != nullptr && target->up() && target->restored();
}

KvMap SimCluster::store(const NodeId& node) const {
  const SimNode* target = find(node);
  return target != nullptr ? target->store_entries() : KvMap{};
}

std::uint64_t SimCluster::store_digest(const NodeId& node) const {
  const SimNode* target = find(node);
  return target != nullptr ? target->store_digest() : 0;
}

std::uint64_t SimCluster::applied_position(const NodeId& node) const {
  const SimNode* target = find(node);
  return target != nullptr ? target->applied_position() : 0;
}

std::map<std::string, engine::SliceHolding> SimCluster::slice_holdings(const NodeId& node) const {
  const SimNode* target = find(node);
  return target != nullptr ? target->slice_holdings() : std::map<std::string, engine::SliceHolding>{};
}

const std::map<std::string, engine::SliceHolding>* SimCluster::slice_holdings_view(const NodeId& node) const {
  const SimNode* target = find(node);
  return target != nullptr ? target->slice_holdings_view() : nullptr;
}

engine::NodeRuntime* SimCluster::runtime(const NodeId& node) const {
  const SimNode* target = find(node);
  return target != nullptr && target->up() ? target->runtime() : nullptr;
}

std::optional<NodeId> SimCluster::leader_belief(const NodeId& node) const {
  engine::NodeRuntime* hosted = runtime(node);
  if (hosted == nullptr) return std::nullopt;
  return hosted->known_leader();
}

std::vector<std::vector<NodeId>> SimCluster::reachability_components() const {
  // Every node ever is a vertex (departed ones are cut from everyone and left out).
  auto cut = [this](const NodeId& a, const NodeId& b) {
    const std::size_t i = index_.at(a);
    const std::size_t j = index_.at(b);
    if (!link_active(i) || !link_active(j) || !world_->configured.count(a) || !world_->configured.count(b)) {
      return true;
    }
    return world_->network.rules_cut(a, b);
  };
  auto components = SimNetwork::components(order_, cut);
  std::vector<std::vector<NodeId>> out;
  for (auto& component : components) {
    if (component.size() == 1) {
      const std::size_t i = index_.at(component.front());
      if (!link_active(i) || !world_->configured.count(component.front())) continue;
    }
    out.push_back(std::move(component));
  }
  return out;
}

}  // namespace aether::sim
