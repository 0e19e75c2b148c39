// The simulated network's rules: latency settings, partitions (groups, with
// bridges and an implicit group of unnamed nodes), isolations and one-way link
// rules (simulation.md §2). It answers whether a directed link is cut by the
// rules and draws delivery delays; node status (down, paused) is the
// cluster's business and is combined with these rules there.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include "engine/time.h"
#include "engine/topology.h"
#include "sim/prng.h"

namespace aether::sim {

using engine::NodeId;

struct NetworkSettings {
  Nanos latency_min_ns = engine::millis(1);
  Nanos latency_max_ns = engine::millis(5);
  std::uint32_t drop_ppm = 0;       // < kPpmOne: a dropped message is retransmitted
  std::uint32_t duplicate_ppm = 0;  // duplicates are absorbed by the apply cursor
  bool operator==(const NetworkSettings&) const = default;
};

// A one-way rule on from->to. loss_ppm == kPpmOne cuts the link; below that a
// lost message is retransmitted (one more drawn latency).
struct LinkRule {
  std::uint32_t loss_ppm = 0;
  Nanos delay_ns = 0;
  bool operator==(const LinkRule&) const = default;
};

// One message's fate: when it arrives and how often it was retransmitted.
// Retransmissions are bounded so that a loss rate close to 1 cannot stall the
// run; the bound is far beyond any rate a scenario can usefully give.
constexpr std::uint32_t kMaxRetransmissions = 1000;

struct DeliveryDraw {
  Nanos delay_ns = 0;
  std::uint32_t retransmissions = 0;
  bool duplicated = false;
};

class SimNetwork {
 public:
  explicit SimNetwork(NetworkSettings settings) : settings_(settings) {}

  const NetworkSettings& settings() const { return settings_; }
  void set_settings(const NetworkSettings& settings) { settings_ = settings; }

  // Replaces the partition rule. Nodes in no group form one extra group.
  void partition(std::vector<std::vector<NodeId>> groups);
  void isolate(const NodeId& node);
  void link(const NodeId& from, const NodeId& to, LinkRule rule);
  // Clears partition, isolate and link rules.
  void heal();
  // `node` joins every group (the implicit one included); isolate and link
  // rules naming it are cleared; the rest of the partition stands.
  void heal(const NodeId& node);
  // Forgets rules naming a node that left the cluster for good.
  void forget(const NodeId& node);

  // Whether the rules cut from->to (node status not considered).
  bool rules_cut(const NodeId& from, const NodeId& to) const;
  // Whether any partition, isolate or link rule is in force.
  bool any_rule_in_force() const;

  // Delay of one message from->to: a drawn latency plus the link's delay, and
  // one more drawn latency per drop or link loss (retransmission). Link rules
  // do not apply to a link the rules cut (the message is relayed by others)
  // nor from a node to itself.
  DeliveryDraw draw_delivery(const NodeId& from, const NodeId& to, Prng& prng) const;
  Nanos draw_latency(Prng& prng) const {
    return prng.duration_between(settings_.latency_min_ns, settings_.latency_max_ns);
  }
  // draw_delivery when no link rule is in force (links_ empty): the same
  // draws, inline and without the endpoints (issue 14, fifth pass).
  DeliveryDraw draw_plain(Prng& prng) const {
    DeliveryDraw draw;
    const std::uint32_t drop_ppm = std::min(settings_.drop_ppm, kPpmOne - 1);
    draw.delay_ns = draw_latency(prng);
    while (draw.retransmissions < kMaxRetransmissions && drop_ppm > 0 && prng.chance_ppm(drop_ppm)) {
      ++draw.retransmissions;
      draw.delay_ns += draw_latency(prng);
    }
    if (settings_.duplicate_ppm > 0) draw.duplicated = prng.chance_ppm(settings_.duplicate_ppm);
    return draw;
  }
  // Whether draw_plain is exactly one draw_latency (no drop or duplicate
  // rate): the hot loops then draw latencies only (issue 14, seventh pass).
  bool plain_is_latency() const { return settings_.drop_ppm == 0 && settings_.duplicate_ppm == 0; }
  Nanos min_latency_ns() const { return settings_.latency_min_ns; }
  Nanos max_latency_ns() const { return settings_.latency_max_ns; }

  // Connected components of the "can talk both ways" graph over `nodes` (in
  // the given order; `cut(a, b)` says whether a->b is cut). Boost.Graph with
  // vecS vertices; components are sorted, and listed by smallest member.
  static std::vector<std::vector<NodeId>> components(
      const std::vector<NodeId>& nodes, const std::function<bool(const NodeId&, const NodeId&)>& cut);

 private:
  bool same_group(const NodeId& a, const NodeId& b) const;

  NetworkSettings settings_;
  bool partitioned_ = false;
  std::vector<std::set<NodeId>> groups_;
  std::map<NodeId, std::vector<std::size_t>> group_of_;  // named nodes -> their groups
  std::set<NodeId> everywhere_;                          // healed into every group
  std::set<NodeId> isolated_;
  std::map<std::pair<NodeId, NodeId>, LinkRule> links_;
};

}  // namespace aether::sim
