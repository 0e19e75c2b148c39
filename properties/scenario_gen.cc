#include "properties/scenario_gen.h"

#include <algorithm>
#include <functional>
#include <set>
#include <stdexcept>
#include <tuple>
#include <utility>

#include <fmt/format.h>

#include "engine/config.h"
#include "engine/duration.h"
#include "properties/runner.h"

namespace aether::properties::gen {

using engine::millis;
using engine::Nanos;
using engine::NodeId;
using engine::seconds;
using scenarios::Target;

const std::vector<StepKindInfo>& step_kinds() {
  static const std::vector<StepKindInfo> kinds = {
      {StepKind::Crash, "crash"},
      {StepKind::Restart, "restart"},
      {StepKind::Pause, "pause"},
      {StepKind::AddNode, "add_node"},
      {StepKind::RemoveNode, "remove_node"},
      {StepKind::Partition, "partition"},
      {StepKind::PartitionMany, "partition3"},
      {StepKind::Bridge, "bridge"},
      {StepKind::Isolate, "isolate"},
      {StepKind::Link, "link"},
      {StepKind::HealAll, "heal"},
      {StepKind::HealNode, "heal_node"},
      {StepKind::Network, "network"},
      {StepKind::SliceFailures, "slice_failures"},
      {StepKind::BlueprintEdit, "blueprint"},
      {StepKind::BlueprintRemove, "remove_blueprint"},
      {StepKind::Scale, "scale"},
      {StepKind::RawSliceTarget, "raw_slice_target"},
      {StepKind::RawMalformed, "raw_malformed"},
      {StepKind::RawCommand, "raw_command"},
      {StepKind::RawRemove, "raw_remove"},
      {StepKind::RawLifecycle, "raw_lifecycle"},
      {StepKind::ExpectNoViolations, "expect_no_violations"},
      {StepKind::LoseSubmits, "lose_submits"},
      {StepKind::ReorderQuorum, "reorder_quorum_events"},
      {StepKind::Stall, "stall"},
      {StepKind::Drain, "drain"},
      {StepKind::Undrain, "undrain"},
      {StepKind::Rollout, "rollout"},
      {StepKind::RemovePutBack, "removal_put_back"},
      {StepKind::ScaleDownLoss, "scale_down_loss"},
      {StepKind::QueuedEdits, "queued_edits"},
      {StepKind::EditRace, "edit_race"},
      {StepKind::QuorumFlap, "quorum_flap"},
      {StepKind::AtomicFailover, "atomic_failover"},
      {StepKind::OwnershipClaim, "ownership_claim"},
      {StepKind::DepartedNode, "departed_node"},
      {StepKind::InjectedCommands, "injected_commands"},
      {StepKind::DependencyPaused, "dependency_paused"},
  };
  return kinds;
}

namespace {

constexpr int kRaw = 1000;  // raw draws are in [0, kRaw)

// Issue 12's episodes (docs/fuzz.md): each a whole schedule, drawn as one step.
const std::vector<StepKind>& episode_kinds() {
  static const std::vector<StepKind> kinds = {
      StepKind::RemovePutBack,    StepKind::ScaleDownLoss,   StepKind::QueuedEdits,    StepKind::EditRace,
      StepKind::QuorumFlap,       StepKind::AtomicFailover,  StepKind::OwnershipClaim, StepKind::DepartedNode,
      StepKind::InjectedCommands, StepKind::DependencyPaused};
  return kinds;
}

bool is_episode(StepKind kind) {
  return std::find(episode_kinds().begin(), episode_kinds().end(), kind) != episode_kinds().end();
}

// Every kind at weight w (the live-only kinds at 0), then the overrides.
std::map<StepKind, int> all_kinds(int w, std::map<StepKind, int> overrides = {}) {
  std::map<StepKind, int> out;
  // Step kinds of live and swarm only (issue 15's features, issue 12's
  // episodes): weight 0 in every other profile, so that their cases stay.
  for (const auto& k : step_kinds())
    out[k.kind] = k.kind == StepKind::Drain || k.kind == StepKind::Undrain || k.kind == StepKind::Rollout ||
                          is_episode(k.kind)
                      ? 0
                      : w;
  for (const auto& [k, v] : overrides) out[k] = v;
  return out;
}

Knobs live_knobs() {
  Knobs k;
  k.weights = all_kinds(3, {{StepKind::Crash, 6},
                            {StepKind::Restart, 6},
                            {StepKind::Pause, 4},
                            {StepKind::Partition, 5},
                            {StepKind::BlueprintEdit, 5},
                            {StepKind::Scale, 4},
                            {StepKind::RawMalformed, 1},
                            {StepKind::RawCommand, 1},
                            {StepKind::RawLifecycle, 2},
                            {StepKind::ExpectNoViolations, 1},
                            {StepKind::LoseSubmits, 2},
                            {StepKind::ReorderQuorum, 2},
                            {StepKind::Stall, 2}});  // live-only kinds: live_features
  return k;
}

// Issue 15's features and issue 12's schedules, on top of live_knobs (the
// other profiles derived from it keep their cases: docs/fuzz.md).
Knobs live_features(Knobs k) {
  k.placement_pct = 40;
  k.atomic_pct = 35;
  k.rolling_pct = 35;
  k.failover_pct = 35;
  k.lost_proposals_pct = 10;
  k.sporadic_pct = 10;
  k.republish_pct = 40;
  k.weights[StepKind::Drain] = 2;
  k.weights[StepKind::Undrain] = 2;
  k.weights[StepKind::Rollout] = 4;
  // Issue 12's episodes (docs/fuzz.md): each the schedule of a mutation
  // point the single steps rarely line up.
  for (const auto kind : episode_kinds()) k.weights[kind] = 2;
  return k;
}

std::optional<Knobs> fixed_knobs(const std::string& profile) {
  if (profile == "live") return live_features(live_knobs());
  if (profile == "chaos") {
    Knobs k = live_knobs();
    k.heal_at_end = false;
    k.expect_converged_at_end = false;
    k.max_steps = 20;
    k.early_faults_pct = 50;
    k.big_cluster_pct = 15;
    k.intensity = 80;
    k.hostile_pct = 50;
    k.weights = all_kinds(4, {{StepKind::ExpectNoViolations, 1}});
    return k;
  }
  if (profile == "partitions") {
    Knobs k = live_knobs();
    k.max_steps = 14;
    k.weights = all_kinds(0, {{StepKind::Partition, 8},
                              {StepKind::PartitionMany, 5},
                              {StepKind::Bridge, 5},
                              {StepKind::Isolate, 5},
                              {StepKind::Link, 6},
                              {StepKind::HealAll, 4},
                              {StepKind::HealNode, 4},
                              {StepKind::Network, 2},
                              {StepKind::ReorderQuorum, 2},  // cuts move quorum: held events get overtaken
                              {StepKind::Scale, 1},
                              {StepKind::BlueprintEdit, 1}});
    return k;
  }
  if (profile == "clients") {
    Knobs k = live_knobs();
    k.max_clients = 3;
    k.max_blueprints = 3;
    k.via_pct = 30;
    k.client_via_pct = 40;
    k.weights = all_kinds(0, {{StepKind::BlueprintEdit, 10},
                              {StepKind::BlueprintRemove, 3},
                              {StepKind::Scale, 6},
                              {StepKind::RawSliceTarget, 3},
                              {StepKind::RawMalformed, 2},
                              {StepKind::RawCommand, 2},
                              {StepKind::RawRemove, 2},
                              {StepKind::RawLifecycle, 2},
                              {StepKind::Crash, 1},
                              {StepKind::Restart, 1},
                              {StepKind::Partition, 1},
                              {StepKind::HealAll, 1}});
    return k;
  }
  if (profile == "local") {
    // Local election splits the brain under any cut of the network, by
    // design (local-election-split-brain.json): no partitions, isolation or
    // links here, and no "leader" targets (no leader entry to aim at). Nor
    // reordered quorum events: a held "lost" keeps a node leading on a view
    // it no longer has quorum for (the engine cannot tell).
    Knobs k = live_knobs();
    k.local_election_pct = 100;
    k.leader_target_pct = 0;
    for (const auto kind : {StepKind::Partition, StepKind::PartitionMany, StepKind::Bridge, StepKind::Isolate,
                            StepKind::Link, StepKind::HealAll, StepKind::HealNode, StepKind::ReorderQuorum})
      k.weights[kind] = 0;
    return k;
  }
  if (profile == "event-driven") {
    Knobs k = live_knobs();
    k.event_driven_pct = 100;
    k.default_interval_pct = 0;
    return k;
  }
  return std::nullopt;
}

// Chance draws shrink to "no" (raw 0), picks to the first option.
class Draws {
 public:
  static int in(int lo, int hi_inclusive) { return *rc::gen::inRange(lo, hi_inclusive + 1); }
  static bool chance(int percent) { return in(0, 99) >= 100 - percent; }
};

// One raw step: kind, gap and four parameters, each in [0, kRaw).
using RawStep = std::tuple<int, int, int, int, int, int>;

std::string base_of(const std::string& artifact) {
  return artifact.substr(0, artifact.rfind(':'));
}

int default_min_available(int instances) {
  return (instances + 1) / 2;
}

struct GenSlice {
  std::string artifact;
  int instances = 1;
  int min_available = 1;
  std::vector<std::string> depends_on;
  // Issue 15 (engine-semantics.md §8.1, §8.4); written only when set.
  int cpu = 0;                             // resources.cpu in millicores (0: not written)
  int memory_mi = 0;                       // resources.memory in Mi (0: not written)
  std::vector<std::string> anti_affinity;  // bases
  bool spread = false;                     // spread: "zone"
  int max_surge = 0;                       // 0: no `update` (immediate); else rolling
  int max_unavailable = 0;
  std::string previous;  // the artifact before the latest version change ("" none)
};

struct GenBlueprint {
  std::string id;
  std::vector<GenSlice> slices;  // dependencies point to earlier slices only
  bool published = false;
  Nanos published_at = 0;
  bool shares_base = false;  // holds a base another blueprint holds (ownership conflict)
  std::string client = "default";
  bool atomic = false;  // atomicity: all-or-nothing
  bool aux = false;     // put by hold_cdm_writes: its slice-target write was lost (late); never scaled
};

nlohmann::json to_json(const GenBlueprint& bp) {
  nlohmann::json slices = nlohmann::json::array();
  for (const auto& s : bp.slices) {
    nlohmann::json slice = {{"artifact", s.artifact}, {"instances", s.instances}};
    if (s.min_available != default_min_available(s.instances)) slice["min_available"] = s.min_available;
    if (!s.depends_on.empty()) slice["depends_on"] = s.depends_on;
    if (s.cpu > 0 || s.memory_mi > 0) {
      nlohmann::json resources = nlohmann::json::object();
      if (s.cpu > 0) resources["cpu"] = s.cpu;
      if (s.memory_mi > 0) resources["memory"] = fmt::format("{}Mi", s.memory_mi);
      slice["resources"] = resources;
    }
    if (!s.anti_affinity.empty()) slice["anti_affinity"] = s.anti_affinity;
    if (s.spread) slice["spread"] = "zone";
    if (s.max_surge > 0)
      slice["update"] = {
          {"strategy", "rolling"}, {"max_surge", s.max_surge}, {"max_unavailable", s.max_unavailable}};
    slices.push_back(slice);
  }
  nlohmann::json out = {{"id", bp.id}, {"slices", slices}};
  if (bp.atomic) out["atomicity"] = "all-or-nothing";
  return out;
}

Target node_target(const NodeId& id) {
  return Target{Target::Kind::Node, id};
}
Target leader_target() {
  return Target{Target::Kind::Leader, {}};
}
Target random_target() {
  return Target{Target::Kind::Random, {}};
}

template <typename T>
const T& pick(const std::vector<T>& from, int raw) {
  return from[static_cast<std::size_t>(raw) % from.size()];
}

std::uint32_t ppm(int raw, std::uint32_t max_ppm) {
  // raw 0 -> the smallest non-zero rate; never 0 (a rate of 0 is a no-op).
  return 1 + static_cast<std::uint32_t>(static_cast<std::uint64_t>(raw) * (max_ppm - 1) / (kRaw - 1));
}

// Builds one scenario; tracks the world the steps leave behind so that every
// target is valid at its instant.
class Generator {
 public:
  explicit Generator(Knobs knobs) : k_(std::move(knobs)) {}

  scenarios::Scenario make(const std::vector<RawStep>& raws) {
    auto& s = scenario_;
    s.name = "generated";
    s.max_events = 3'000'000;
    setup_cluster();
    setup_config();
    setup_blueprints();
    initial_at_most();
    setup_schedules();

    Nanos at = k_.early_faults_pct > 0 && early_ ? millis(500) : seconds(10);
    for (const auto& raw : raws) {
      const auto [kind_raw, gap_raw, a, b, c, d] = raw;
      at = std::max(at + gap(gap_raw), at_floor_);  // at_floor_: after a failover crash already emitted
      flush_pending(at);
      emit(choose_kind(kind_raw, at), at, a, b, c, d);
    }
    at = std::max({at + millis(200), at_floor_, end_floor_});
    for (const auto& p : pending_) at = std::max(at, p.at);
    flush_pending(at);
    if (k_.heal_at_end) heal_everything(at);
    s.check_convergence = k_.heal_at_end;
    // Early faults land before the blueprints of 1s: the file lists steps by time.
    std::stable_sort(s.steps.begin(), s.steps.end(),
                     [](const scenarios::Step& x, const scenarios::Step& y) { return x.at < y.at; });
    for (std::size_t i = 0; i < s.steps.size(); ++i) s.steps[i].path = "steps[" + std::to_string(i) + "]";
    if (k_.heal_at_end && final_expect_ && !s.steps.empty())
      add_final_expect(std::max(at, s.steps.back().at));
    if (!client_via_.empty()) s.clients["alice"].via = client_via_;
    return s;
  }

  // Draws taken before the steps (so that they shrink first).
  void draw_shape() {
    const bool big = Draws::chance(k_.big_cluster_pct);
    nodes_ = big ? Draws::in(10, 11) : Draws::in(k_.min_nodes, k_.max_nodes);
    fd_ = Draws::chance(25) ? seconds(2) : seconds(1);
    adversarial_ = Draws::chance(25);
    duplicate_ = Draws::chance(15) ? static_cast<std::uint32_t>(Draws::in(1, 200'000)) : 0;
    slow_ = Draws::chance(k_.slow_slices_pct);
    early_ = Draws::chance(k_.early_faults_pct);
    local_ = Draws::chance(k_.local_election_pct);
    aggressive_ = Draws::chance(50);
    rebalance_off_ = aggressive_ && Draws::chance(30);
    event_driven_ = Draws::chance(k_.event_driven_pct);
    default_interval_ = !event_driven_ && Draws::chance(k_.default_interval_pct);
    short_interval_ = Draws::chance(50);
    final_expect_ = k_.expect_converged_at_end && Draws::chance(30);
    draw_hostile();
    const int blueprint_count = Draws::in(1, k_.max_blueprints);
    for (int i = 0; i < blueprint_count; ++i) {
      GenBlueprint bp;
      bp.id = std::vector<std::string>{"shop", "ops", "web"}[static_cast<std::size_t>(i)];
      const int slice_count = Draws::in(1, 3);
      for (int j = 0; j < slice_count; ++j) {
        GenSlice slice;
        // A later blueprint may reuse an earlier blueprint's first base: ownership conflict.
        if (j == 0 && i > 0 && Draws::chance(k_.shared_base_pct)) {
          slice.artifact = blueprints_[0].slices[0].artifact;
          bp.shares_base = true;
          blueprints_[0].shares_base = true;
        } else {
          slice.artifact = fmt::format("org.example:{}{}:1.0.0", bp.id, j);
        }
        slice.instances = Draws::in(1, 4);
        slice.min_available =
            Draws::chance(30) ? Draws::in(1, slice.instances) : default_min_available(slice.instances);
        if (j > 0 && Draws::chance(45)) slice.depends_on.push_back(bp.slices[j - 1].artifact);  // chains
        bp.slices.push_back(slice);
      }
      bp.client = pick_client(Draws::in(0, kRaw - 1));
      blueprints_.push_back(bp);
    }
    draw_features();
  }

 private:
  struct Pending {
    Nanos at;
    scenarios::StepAction action;
    std::function<void()> effect;
  };

  // Issue 15's features and issue 12's schedules (Knobs); no draw at all
  // where a knob is 0, so the profiles without them keep their cases.
  void draw_features() {
    if (k_.atomic_pct > 0)
      for (auto& bp : blueprints_) bp.atomic = Draws::chance(k_.atomic_pct);
    for (auto& bp : blueprints_) {
      if (k_.rolling_pct == 0) continue;
      for (auto& sl : bp.slices) {
        if (!Draws::chance(k_.rolling_pct)) continue;
        sl.max_surge = Draws::in(1, 2);
        sl.max_unavailable = Draws::in(0, 1);
        sl.instances = std::max(sl.instances, 3);  // more than max_unavailable to keep available
      }
    }
    if (k_.placement_pct > 0 && Draws::chance(k_.placement_pct)) {
      zones_ = Draws::chance(60) ? Draws::in(2, 3) : 0;
      resource_aware_ = Draws::chance(50);
      if (Draws::chance(60)) capacity_cpu_ = 1000 * Draws::in(1, 4);
      if (Draws::chance(30)) capacity_memory_gi_ = Draws::in(1, 4);
      if (Draws::chance(40)) {
        small_node_ = "node-" + std::to_string(Draws::in(1, nodes_));
        small_cpu_ = 250 * Draws::in(0, 2);
      }
      const bool limits = capacity_cpu_ > 0 || capacity_memory_gi_ > 0 || !small_node_.empty();
      std::vector<std::string> bases;  // every base drawn, for anti_affinity
      for (const auto& bp : blueprints_)
        for (const auto& sl : bp.slices) bases.push_back(base_of(sl.artifact));
      for (auto& bp : blueprints_) {
        for (auto& sl : bp.slices) {
          if ((limits || resource_aware_) && Draws::chance(70)) {
            sl.cpu = 250 * Draws::in(1, 4);
            if (capacity_memory_gi_ > 0 && Draws::chance(50)) sl.memory_mi = 256 * Draws::in(1, 4);
          }
          if (Draws::chance(35)) {
            const auto& other = bases[static_cast<std::size_t>(Draws::in(0, kRaw - 1)) % bases.size()];
            if (other != base_of(sl.artifact)) sl.anti_affinity.push_back(other);
          }
          sl.spread = zones_ > 0 && Draws::chance(40);
        }
      }
    }
    if (k_.lost_proposals_pct > 0 && Draws::chance(k_.lost_proposals_pct) && !local_)
      lost_proposals_until_ = millis(500 * Draws::in(2, 10));
    if (k_.sporadic_pct > 0 && Draws::chance(k_.sporadic_pct)) {
      sporadic_node_ = "node-" + std::to_string(Draws::in(1, std::min(nodes_, 3)));
      sporadic_gap_ = seconds(Draws::in(20, 30));
      // On every initial node, so that the node holds an instance. Distinct
      // values, as before the fix of a rewrite of the same bytes
      // (scenarios/regression-unparseable-same-bytes-rewrite.json), so that
      // seeds keep their cases.
      auto& sl = blueprints_.front().slices.front();
      sl.instances = std::max(sl.instances, nodes_);
      sporadic_artifact_ = sl.artifact;
    }
    if (k_.republish_pct > 0 && Draws::chance(k_.republish_pct))
      republish_at_ = millis(500 * Draws::in(6, 14));
  }

  // The fixed-time steps of draw_features' schedules (before the raw steps).
  void setup_schedules() {
    if (lost_proposals_until_ > 0) {
      // Every node's first leader proposals are lost; only retried ones elect.
      scenarios::LoseSubmitsStep lose;
      lose.writer = "leader-manager";
      lose.rate_ppm = 1'000'000;
      add_step(0, lose);
      lose.rate_ppm = 0;
      add_step(lost_proposals_until_, lose);
    }
    if (republish_at_ > 0 && !early_) {  // no edit before it (the first raw step comes at 10s)
      // An unchanged republish inside the initial `at_most` window (if any):
      // a put alone must not allocate (allocation follows the slice-target).
      for (const auto& bp : blueprints_)
        add_step(republish_at_, scenarios::BlueprintStep{to_json(bp), bp.client});
    }
    if (!sporadic_node_.empty()) {
      // The same slice key overwritten with garbage six times, each long
      // after the last: transient failures that are never consecutive.
      for (int i = 0; i < 6; ++i)
        add_step(seconds(20) + i * sporadic_gap_,
                 scenarios::KvPutStep{"slices/" + sporadic_node_ + "/" + sporadic_artifact_,
                                      fmt::format("garbage-{}", i + 1)});
      end_floor_ = seconds(20) + 6 * sporadic_gap_;
      raw_or_failures_ = true;
    }
  }

  // The hostile world's cluster keys (simulation.md §3a), each on by chance.
  void draw_hostile() {
    // Not under local election: asymmetric views make two nodes each first of
    // its own view, two CDMs at once, by design (as under a network cut).
    if (Draws::chance(k_.hostile_pct) && !local_) fd_max_ = fd_ + fd_ * Draws::in(1, 3) / 2;
    if (Draws::chance(k_.hostile_pct)) late_commit_ = millis(100 * Draws::in(5, 50));
    if (Draws::chance(k_.hostile_pct)) restore_lag_ = millis(100 * Draws::in(5, 50));
    if (Draws::chance(k_.hostile_pct))
      clock_drift_ppm_ = 1'000 * static_cast<std::uint32_t>(Draws::in(1, 100));
    if (Draws::chance(k_.hostile_pct / 2)) {
      cluster_stall_.rate_ppm = 1'000 * static_cast<std::uint32_t>(Draws::in(1, 10));
      cluster_stall_.length.min = millis(100 * Draws::in(1, 5));
      cluster_stall_.length.max = cluster_stall_.length.min + millis(100 * Draws::in(1, 20));
      stall_on_ = true;
    }
    if (k_.max_clients > 1 && Draws::chance(k_.client_via_pct)) {
      client_via_ = "node-" + std::to_string(Draws::in(1, nodes_));
      ++pinned_[client_via_];  // never removed: the client's writes go through it
    }
    tight_ = Draws::chance(k_.tight_expect_pct);
  }

  Nanos fd_upper() const { return std::max(fd_, fd_max_); }

  // `at_most` over the initial allocation (a trigger: the blueprints of 1s),
  // only where a correct engine cannot exceed the counts: no fault before
  // 10s, no base claimed twice, no moves (aggressive rebalancing), no stall
  // (a timed-out write decided late may be re-issued elsewhere), quick loads.
  void initial_at_most() {
    if (!tight_ || early_ || slow_ || stall_on_ || late_commit_ > 0 || (aggressive_ && !rebalance_off_))
      return;
    if (std::any_of(blueprints_.begin(), blueprints_.end(),
                    [](const GenBlueprint& bp) { return bp.shares_base; }))
      return;
    scenarios::ExpectAtMost most;
    for (const auto& bp : blueprints_)
      for (const auto& sl : bp.slices) most.by_artifact[sl.artifact].total = sl.instances;
    most.hold_for = seconds(8);  // [1s, 9s]: the first generated step comes at 10s or later
    scenarios::ExpectStep e;
    e.what = most;
    add_step(seconds(1), e);
  }

  void setup_cluster() {
    auto& c = scenario_.cluster;
    c.failure_detection_max = fd_max_;
    c.late_commit = late_commit_;
    c.restore_lag = restore_lag_;
    c.clock_drift_ppm = clock_drift_ppm_;
    c.stall = cluster_stall_;
    for (int i = 1; i <= nodes_; ++i) {
      const auto id = "node-" + std::to_string(i);
      c.nodes.push_back(id);
      configured_.push_back(id);
    }
    last_suffix_ = nodes_;
    c.failure_detection = fd_;
    for (int i = 1; i <= nodes_ && zones_ > 0; ++i)
      c.zones[zone_of(i)].push_back("node-" + std::to_string(i));
    if (capacity_cpu_ > 0 || capacity_memory_gi_ > 0) {
      engine::Capacity limit;
      if (capacity_cpu_ > 0) limit.cpu = capacity_cpu_;
      if (capacity_memory_gi_ > 0) limit.memory = std::int64_t{capacity_memory_gi_} << 30;
      c.capacity["default"] = limit;
    }
    if (!small_node_.empty()) c.capacity[small_node_] = engine::Capacity{small_cpu_, std::nullopt};
    if (adversarial_) c.kv_order = scenarios::KvOrder::Adversarial;
    c.network.duplicate_ppm = duplicate_;
    initial_network_ = c.network;
    if (slow_) {
      c.slices.load = {seconds(1), seconds(20)};
      c.slices.unload = {millis(500), seconds(12)};
    }
  }

  void setup_config() {
    nlohmann::json config = nlohmann::json::object();
    config["reconciliation"] = aggressive_ ? "aggressive" : "conservative";
    if (aggressive_ && rebalance_off_) config["auto_rebalancing"] = false;
    config["leader_election"] = local_ ? "local" : "consensus";
    if (resource_aware_) config["allocation"] = "resource-aware";
    if (event_driven_) {
      config["reconciliation_interval"] = "1h";
    } else if (!default_interval_) {
      config["reconciliation_interval"] = short_interval_ ? "5s" : "10s";
    }
    scenario_.config = config;
  }

  void setup_blueprints() {
    for (std::size_t i = 0; i < blueprints_.size(); ++i) {
      auto& bp = blueprints_[i];
      bp.published = true;
      bp.published_at = seconds(1);
      add_step(seconds(1), scenarios::BlueprintStep{to_json(bp), bp.client});
    }
  }

  std::string pick_client(int raw) const {
    static const std::vector<std::string> names = {"default", "alice", "bob"};
    return names[static_cast<std::size_t>(raw % std::max(1, k_.max_clients))];
  }

  Nanos gap(int raw) const {
    // Bursts (0..500ms) overlap faults; the rest are 200ms..8s apart.
    if (raw < 300) return millis(raw * 500 / 300);
    return millis(200 + (raw - 300) * 7800 / (kRaw - 300));
  }

  void add_step(Nanos at, scenarios::StepAction action) {
    scenarios::Step step;
    step.at = at;
    step.action = std::move(action);
    scenario_.steps.push_back(std::move(step));
  }

  void flush_pending(Nanos until) {
    std::stable_sort(pending_.begin(), pending_.end(),
                     [](const Pending& x, const Pending& y) { return x.at < y.at; });
    while (!pending_.empty() && pending_.front().at <= until) {
      auto p = std::move(pending_.front());
      pending_.erase(pending_.begin());
      add_step(p.at, std::move(p.action));
      if (p.effect) p.effect();
    }
  }

  // ---- world tracking -------------------------------------------------
  std::vector<NodeId> live_named() const {
    std::vector<NodeId> out;
    for (const auto& n : configured_)
      if (crashed_.count(n) == 0 && paused_.count(n) == 0) out.push_back(n);
    return out;
  }
  int crashed_count() const { return anon_ ? anon_crashed_ : static_cast<int>(crashed_.size()); }
  int paused_count() const { return anon_ ? anon_paused_ : static_cast<int>(paused_.size()); }
  int live_count() const { return static_cast<int>(configured_.size()) - crashed_count() - paused_count(); }
  bool net_rules() const { return partition_ || !isolated_.empty() || links_; }
  // A stall, lost-submit or quorum-reorder rate in force (convergence is not owed under one).
  bool fault_points() const { return stall_on_ || !lose_rules_.empty() || !reorder_rules_.empty(); }
  // Nothing is broken and nothing was for a while: a leader exists and is up.
  bool calm(Nanos at) const {
    return crashed_count() == 0 && paused_count() == 0 && !net_rules() && !network_changed_ &&
           !fault_points() && pending_.empty() && at >= last_disturbance_ + seconds(15) && at >= seconds(15);
  }
  void disturbed(Nanos at) { last_disturbance_ = std::max(last_disturbance_, at); }

  // Goes anonymous: from now on node faults are aimed by count ("random").
  void go_anonymous() {
    if (anon_) return;
    anon_ = true;
    anon_crashed_ = static_cast<int>(crashed_.size());
    anon_paused_ = static_cast<int>(paused_.size());
  }

  bool applicable(StepKind kind, Nanos at) const {
    const bool any_published = std::any_of(blueprints_.begin(), blueprints_.end(),
                                           [](const GenBlueprint& bp) { return bp.published; });
    switch (kind) {
      case StepKind::Crash:
        return anon_ ? (live_count() > 0 && paused_count() == 0) : !live_named().empty();
      case StepKind::Restart:
        return crashed_count() > 0;
      case StepKind::Pause:
        return live_count() > 0;
      case StepKind::AddNode:
        return configured_.size() < 12 && at >= last_add_ + 2 * fd_upper();
      case StepKind::RemoveNode:
        return !anon_ && configured_.size() > 3 &&
               std::any_of(configured_.begin(), configured_.end(),
                           [this](const NodeId& n) { return paused_.count(n) == 0 && pinned(n) == 0; });
      case StepKind::Partition:
      case StepKind::Bridge:
        return configured_.size() >= 3;
      case StepKind::PartitionMany:
        return configured_.size() >= 4;
      case StepKind::Isolate:
        return live_count() > 0;
      case StepKind::Link:
        return configured_.size() >= 2;
      case StepKind::HealAll:
        return net_rules();
      case StepKind::HealNode:
        return net_rules();
      case StepKind::Network:
      case StepKind::SliceFailures:
      case StepKind::BlueprintEdit:
      case StepKind::RawMalformed:
      case StepKind::RawLifecycle:
      case StepKind::ExpectNoViolations:
        return true;
      case StepKind::BlueprintRemove:
        return any_published;
      case StepKind::Scale:
        return !scalable_bases(at).empty();
      case StepKind::RawSliceTarget:
      case StepKind::RawCommand:
      case StepKind::RawRemove:
      case StepKind::LoseSubmits:
      case StepKind::ReorderQuorum:
        return true;
      case StepKind::Stall:
        return !stall_pending_;  // healing profiles: one bounded stall at a time
      case StepKind::Drain:
        return !drain_candidates(at).empty();
      case StepKind::Undrain:
        return !undrain_candidates(at).empty();
      case StepKind::Rollout:
      case StepKind::RemovePutBack:
      case StepKind::QueuedEdits:
      case StepKind::EditRace:
      case StepKind::InjectedCommands:
        return any_published;
      case StepKind::ScaleDownLoss:
        return !published_indices(true).empty();
      case StepKind::QuorumFlap:
        return !local_;
      case StepKind::AtomicFailover:
        return !local_ && !published_indices(true).empty();
      case StepKind::OwnershipClaim:
        return !claimable_bases().empty();
      case StepKind::DependencyPaused:
        return !local_ && std::any_of(blueprints_.begin(), blueprints_.end(), [](const GenBlueprint& bp) {
          return bp.published && bp.slices.size() < 4;
        });
      case StepKind::DepartedNode:
        return !local_ && configured_.size() > 3 &&
               std::any_of(configured_.begin(), configured_.end(),
                           [this](const NodeId& n) { return pinned(n) == 0; });
    }
    return false;
  }

  std::optional<std::size_t> blueprint_index(const std::string& id) const {
    for (std::size_t i = 0; i < blueprints_.size(); ++i)
      if (blueprints_[i].id == id) return i;
    return std::nullopt;
  }

  // Bases of the first blueprint ("shop", published) that "ops" (its id
  // sorts first) does not list yet, while ops has room for one more slice.
  std::vector<std::string> claimable_bases() const {
    std::vector<std::string> out;
    if (blueprints_.empty() || !blueprints_.front().published) return out;
    const auto ops = blueprint_index("ops");
    if (ops && blueprints_[*ops].slices.size() >= 4) return out;
    for (const auto& sl : blueprints_.front().slices) {
      const bool listed =
          ops && std::any_of(blueprints_[*ops].slices.begin(), blueprints_[*ops].slices.end(),
                             [&](const GenSlice& o) { return base_of(o.artifact) == base_of(sl.artifact); });
      if (!listed) out.push_back(sl.artifact);
    }
    return out;
  }

  // Nodes whose committed lifecycle is surely ON_DUTY and that are up: in a
  // calm world (every node up for 15s), never drained or raw-written, and
  // fewer than half the nodes drained.
  std::vector<NodeId> drain_candidates(Nanos at) const {
    std::vector<NodeId> out;
    if (!calm(at) || 2 * (drained_.size() + 1) >= configured_.size()) return out;
    for (const auto& n : configured_)
      if (drained_.count(n) == 0 && lifecycle_touched_.count(n) == 0) out.push_back(n);
    return out;
  }
  // Nodes a `drain` step drained (DRAINING or DECOMMISSIONED since), up now.
  std::vector<NodeId> undrain_candidates(Nanos at) const {
    std::vector<NodeId> out;
    for (const auto& [n, since] : drained_) {
      const bool up = anon_ ? calm(at) : crashed_.count(n) == 0 && paused_.count(n) == 0;
      if (up && lifecycle_touched_.count(n) == 0 && at >= since + seconds(1)) out.push_back(n);
    }
    return out;
  }

  std::string zone_of(int suffix) const {
    return std::string(1, static_cast<char>('a' + (suffix - 1) % zones_));
  }

  // A version change of `sl` (the new artifact, or its previous one back).
  void set_version(GenBlueprint& bp, GenSlice& sl, std::string artifact) {
    const auto old = sl.artifact;
    sl.previous = old;
    sl.artifact = std::move(artifact);
    for (auto& other : bp.slices)
      for (auto& dep : other.depends_on)
        if (dep == old) dep = sl.artifact;
    // The other blueprint holding this base now holds another version.
    for (auto& other : blueprints_)
      if (&other != &bp)
        for (auto& osl : other.slices)
          if (base_of(osl.artifact) == base_of(old)) bp.shares_base = other.shares_base = true;
  }

  // After an edit of an all-or-nothing or rolling blueprint in a calm world:
  // now and then the leader crashes while the put is in flight (its new
  // leader must finish or roll back from the KV alone). The next raw step
  // comes after the crash.
  void maybe_failover(Nanos at, const GenBlueprint& bp, int raw) {
    if (k_.failover_pct == 0 || local_ || !calm(at) || raw % 100 >= k_.failover_pct) return;
    const bool rolling =
        std::any_of(bp.slices.begin(), bp.slices.end(), [](const GenSlice& sl) { return sl.max_surge > 0; });
    if (!bp.atomic && !rolling) return;
    crash_leader(at + millis(50 + (raw * 7) % 1'500));
  }

  // The leader crashes at `when` (the next raw step comes after it).
  void crash_leader(Nanos when) {
    go_anonymous();
    ++anon_crashed_;
    add_step(when, scenarios::CrashStep{leader_target()});
    disturbed(when);
    at_floor_ = when + millis(1);
  }

  // Bases whose slice-target surely exists at `at`: published, owned alone,
  // and no fault since well after the publish.
  std::vector<std::string> scalable_bases(Nanos at) const {
    std::vector<std::string> out;
    if (via_stuck_) return out;  // an edit pinned to a cut-off node may add a base later
    if (!calm(at) && !(last_disturbance_ < 0 && at >= seconds(8))) return out;
    for (const auto& bp : blueprints_) {
      if (!bp.published || bp.shares_base || bp.aux || at < bp.published_at + seconds(8)) continue;
      if (last_disturbance_ >= 0 && last_disturbance_ < bp.published_at + seconds(8) &&
          last_disturbance_ >= bp.published_at)
        continue;
      for (const auto& sl : bp.slices) out.push_back(base_of(sl.artifact));
    }
    return out;
  }

  StepKind choose_kind(int raw, Nanos at) const {
    std::vector<std::pair<StepKind, int>> options;
    int total = 0;
    for (const auto& info : step_kinds()) {
      const auto it = k_.weights.find(info.kind);
      const int w = it == k_.weights.end() ? 0 : it->second;
      if (w > 0 && applicable(info.kind, at)) {
        options.emplace_back(info.kind, w);
        total += w;
      }
    }
    if (options.empty()) return StepKind::ExpectNoViolations;
    int point = raw * total / kRaw;
    for (const auto& [kind, w] : options) {
      if (point < w) return kind;
      point -= w;
    }
    return options.back().first;
  }

  std::vector<std::string> all_artifacts() const {
    std::vector<std::string> out;
    for (const auto& bp : blueprints_)
      for (const auto& sl : bp.slices)
        if (std::find(out.begin(), out.end(), sl.artifact) == out.end()) out.push_back(sl.artifact);
    return out;
  }

  // A fault aimed at the leader, a random node, or a named one.
  enum class Aim { Named, Leader, Random };
  Aim aim(int raw, Nanos at) const {
    if (raw >= kRaw * k_.leader_target_pct / 100) return anon_ ? Aim::Random : Aim::Named;
    if (calm(at) && !local_) return raw % 2 == 0 ? Aim::Leader : Aim::Random;
    return Aim::Random;
  }

  std::vector<Target> split_targets(const std::vector<NodeId>& nodes) const {
    std::vector<Target> out;
    for (const auto& n : nodes) out.push_back(node_target(n));
    return out;
  }

  void emit(StepKind kind, Nanos at, int a, int b, int c, int d) {
    if (kind == StepKind::SliceFailures || kind == StepKind::RawSliceTarget ||
        kind == StepKind::RawMalformed || kind == StepKind::RawCommand || kind == StepKind::RawRemove ||
        kind == StepKind::RawLifecycle)
      raw_or_failures_ = true;
    switch (kind) {
      case StepKind::Crash: {
        auto how = aim(a, at);
        // A random crash could hit a paused node and break its pending resume.
        if (how != Aim::Named && !anon_ && !paused_.empty()) how = Aim::Named;
        if (how == Aim::Named && !anon_) {
          const auto n = pick(live_named(), b);
          crashed_.insert(n);
          add_step(at, scenarios::CrashStep{node_target(n)});
        } else {
          go_anonymous();
          ++anon_crashed_;
          add_step(at, scenarios::CrashStep{how == Aim::Leader ? leader_target() : random_target()});
        }
        disturbed(at);
        break;
      }
      case StepKind::Restart: {
        if (anon_) {
          --anon_crashed_;
          add_step(at, scenarios::RestartStep{random_target()});
        } else {
          const auto n = pick(std::vector<NodeId>(crashed_.begin(), crashed_.end()), b);
          crashed_.erase(n);
          add_step(at, scenarios::RestartStep{node_target(n)});
        }
        disturbed(at);
        break;
      }
      case StepKind::Pause: {
        // Shorter than failure detection (b < 500) or longer (up to 4x).
        const Nanos length = b < 500 ? fd_ * (1 + b) / 600 : fd_upper() + fd_upper() * (b - 500) * 3 / 500;
        auto how = aim(a, at);
        // A random resume must not pick a named pause's node.
        if (how != Aim::Named && !anon_ && !paused_.empty()) how = Aim::Named;
        if (how == Aim::Named && !anon_) {
          const auto n = pick(live_named(), c);
          paused_.insert(n);
          add_step(at, scenarios::PauseStep{node_target(n)});
          pending_.push_back({at + length, scenarios::ResumeStep{node_target(n)}, [this, n] {
                                if (paused_.erase(n) > 0 && anon_) --anon_paused_;
                              }});
        } else {
          go_anonymous();
          ++anon_paused_;
          add_step(at, scenarios::PauseStep{how == Aim::Leader ? leader_target() : random_target()});
          pending_.push_back(
              {at + length, scenarios::ResumeStep{random_target()}, [this] { --anon_paused_; }});
        }
        disturbed(at + length);
        break;
      }
      case StepKind::AddNode: {
        last_add_ = at;
        configured_.push_back("node-" + std::to_string(++last_suffix_));
        scenarios::AddNodeStep add;
        if (zones_ > 0) add.zone = zone_of(last_suffix_);
        add_step(at, add);
        disturbed(at);
        break;
      }
      case StepKind::RemoveNode: {
        std::vector<NodeId> candidates;  // not paused: their pending resume must stay valid
        for (const auto& n : configured_)
          if (paused_.count(n) == 0 && pinned(n) == 0) candidates.push_back(n);
        const auto n = pick(candidates, b);
        configured_.erase(std::find(configured_.begin(), configured_.end(), n));
        crashed_.erase(n);
        paused_.erase(n);
        drained_.erase(n);
        // An isolate rule naming it stays in force (the final heal clears it).
        add_step(at, scenarios::RemoveNodeStep{node_target(n)});
        disturbed(at);
        break;
      }
      case StepKind::Partition: {
        // A rotation of the node list cut in two (both sides non-empty).
        const auto n = configured_.size();
        const auto cut = 1 + static_cast<std::size_t>(b) % (n - 1);
        const auto start = static_cast<std::size_t>(a) % n;
        std::vector<NodeId> left, right;
        for (std::size_t i = 0; i < n; ++i) (i < cut ? left : right).push_back(configured_[(start + i) % n]);
        add_step(at, scenarios::PartitionStep{{split_targets(left), split_targets(right)}});
        // The side without a majority: a client pinned there is stuck until the heal.
        minority_.clear();
        for (const auto* side : {&left, &right})
          if (2 * side->size() < n) minority_ = *side;
        partition_ = true;
        disturbed(at);
        break;
      }
      case StepKind::PartitionMany: {
        const auto n = configured_.size();
        const auto groups = std::min<std::size_t>(3 + static_cast<std::size_t>(b) % 2, n);
        std::vector<std::vector<Target>> parts(groups);
        for (std::size_t i = 0; i < n; ++i)
          parts[(i + static_cast<std::size_t>(a)) % groups].push_back(node_target(configured_[i]));
        add_step(at, scenarios::PartitionStep{parts});
        minority_.clear();  // the rule replaces the previous one
        partition_ = true;
        disturbed(at);
        break;
      }
      case StepKind::Bridge: {
        // Two groups sharing one node: each side reaches the bridge only.
        const auto n = configured_.size();
        const auto bridge = static_cast<std::size_t>(a) % n;
        std::vector<Target> left{node_target(configured_[bridge])}, right{node_target(configured_[bridge])};
        std::size_t k = 0;
        for (std::size_t i = 0; i < n; ++i) {
          if (i == bridge) continue;
          (k++ % 2 == static_cast<std::size_t>(b) % 2 ? left : right).push_back(node_target(configured_[i]));
        }
        add_step(at, scenarios::PartitionStep{{left, right}});
        minority_.clear();
        partition_ = true;
        disturbed(at);
        break;
      }
      case StepKind::Isolate: {
        if (!anon_) {
          const auto n = pick(live_named(), b);
          isolated_.insert(n);
          add_step(at, scenarios::IsolateStep{node_target(n)});
        } else {
          isolated_.insert("?");
          add_step(at, scenarios::IsolateStep{random_target()});
        }
        disturbed(at);
        break;
      }
      case StepKind::Link: {
        const auto n = configured_.size();
        const auto from = static_cast<std::size_t>(a) % n;
        const auto to = (from + 1 + static_cast<std::size_t>(b) % (n - 1)) % n;
        scenarios::LinkStep link{node_target(configured_[from]), node_target(configured_[to])};
        if (c < 600)
          link.loss_ppm = c < 300 ? 1'000'000 : ppm(d, 10'000 * static_cast<std::uint32_t>(k_.intensity));
        if (c >= 300) link.delay = millis(1 + d * 2);
        add_step(at, link);
        links_ = true;
        disturbed(at);
        break;
      }
      case StepKind::HealAll: {
        add_step(at, scenarios::HealStep{});
        partition_ = false;
        links_ = false;
        isolated_.clear();
        minority_.clear();
        via_stuck_ = false;
        disturbed(at);
        break;
      }
      case StepKind::HealNode: {
        // Puts one node back in every group; the other rules stay (so the
        // world tracking keeps them all in force).
        const auto healed = pick(configured_, b);
        minority_.erase(std::remove(minority_.begin(), minority_.end(), healed), minority_.end());
        add_step(at, scenarios::HealStep{node_target(healed)});
        disturbed(at);
        break;
      }
      case StepKind::Network: {
        scenarios::NetworkStep net;
        if (a < 400) {
          net.drop_ppm = ppm(b, 3'000 * static_cast<std::uint32_t>(k_.intensity));
        } else if (a < 700) {
          net.latency = scenarios::DurationRange{millis(1 + b / 50), millis(5 + b / 5)};
        } else {
          net.duplicate_ppm = ppm(b, 5'000 * static_cast<std::uint32_t>(k_.intensity));
        }
        add_step(at, net);
        network_changed_ = true;
        disturbed(at);
        break;
      }
      case StepKind::SliceFailures: {
        auto artifacts = all_artifacts();
        artifacts.insert(artifacts.begin(), "*");
        scenarios::SliceFailuresStep f;
        f.artifact = pick(artifacts, a);
        f.phase = std::vector<scenarios::FailurePhase>{
            scenarios::FailurePhase::Any, scenarios::FailurePhase::Load,
            scenarios::FailurePhase::Activate}[static_cast<std::size_t>(b) % 3];
        f.transient_ppm = ppm(c, 5'000 * static_cast<std::uint32_t>(k_.intensity));
        if (d >= 800) f.fatal_ppm = ppm(d - 800, 1'000 * static_cast<std::uint32_t>(k_.intensity));
        failure_rules_.insert(f.artifact);
        add_step(at, f);
        disturbed(at);
        break;
      }
      case StepKind::BlueprintEdit: {
        auto& bp = blueprints_[static_cast<std::size_t>(a) % blueprints_.size()];
        // An edit drawn before the value it edits was published (a profile
        // whose steps start before the initial blueprints at 1s) would be
        // overwritten by that value while the model keeps the edit: it goes
        // after it, by more than a client write's latency so the two are not
        // decided the other way round (fuzz clients seed 1880 scaled a base
        // no value declared).
        if (at < bp.published_at + millis(500)) at = bp.published_at + millis(500);
        const auto client = pick_client(d);
        // A republish is never pinned (`scale` relies on its slice-target); edits may be.
        const std::optional<NodeId> via = bp.published ? pick_via(a, d) : std::nullopt;
        if (!bp.published) {
          bp.published = true;  // publishing again
        } else if (b < 250 && bp.slices.size() < 4) {
          GenSlice sl;
          sl.artifact = fmt::format("org.example:{}x{}:1.0.0", bp.id, ++added_);
          sl.instances = 1 + c % 4;
          sl.min_available = default_min_available(sl.instances);
          if (c % 2 == 1) sl.depends_on.push_back(bp.slices.back().artifact);
          bp.slices.push_back(sl);
        } else if (b < 450) {
          // A new version of one slice: a rolling replacement.
          auto& sl = bp.slices[static_cast<std::size_t>(c) % bp.slices.size()];
          set_version(bp, sl, fmt::format("{}:{}.0.0", base_of(sl.artifact), ++versions_ + 1));
        } else {
          auto& sl = bp.slices[static_cast<std::size_t>(c) % bp.slices.size()];
          sl.instances = 1 + c % 5;
          sl.min_available = d < 300 ? 1 + d % sl.instances : default_min_available(sl.instances);
        }
        bp.published_at = at;
        add_step(at, scenarios::BlueprintStep{to_json(bp), client, via});
        if (k_.max_clients > 1 && c % 3 == 2) {
          // A race: another client writes another count of the same blueprint
          // at the same instant; the decided order picks the winner.
          GenBlueprint rival = bp;
          rival.slices.front().instances = 1 + rival.slices.front().instances % 4;
          rival.slices.front().min_available = default_min_available(rival.slices.front().instances);
          add_step(at, scenarios::BlueprintStep{to_json(rival), pick_client(d + 1)});
        }
        maybe_failover(at, bp, a + 3 * c + 7 * d);
        break;
      }
      case StepKind::BlueprintRemove: {
        std::vector<GenBlueprint*> published;
        for (auto& bp : blueprints_)
          if (bp.published) published.push_back(&bp);
        auto* bp = published[static_cast<std::size_t>(a) % published.size()];
        bp->published = false;
        add_step(at, scenarios::RemoveBlueprintStep{bp->id, pick_client(d)});
        break;
      }
      case StepKind::Scale: {
        const auto bases = scalable_bases(at);
        // 0 now and then: everything of that base unloads.
        add_step(at, scenarios::ScaleStep{pick(bases, a), b < k_.zero_scale_pct * 10 ? 0 : 1 + b % 5,
                                          pick_client(d), pick_via(b, d)});
        break;
      }
      case StepKind::RawSliceTarget: {
        // A slice-target written by a client: min_instances may exceed instances.
        const auto& bp = blueprints_[static_cast<std::size_t>(a) % blueprints_.size()];
        const auto& sl = bp.slices[static_cast<std::size_t>(b) % bp.slices.size()];
        const int instances = c % 5;
        const int min_instances = instances + (d % 3);
        const nlohmann::json value = {{"version", sl.artifact.substr(sl.artifact.rfind(':') + 1)},
                                      {"instances", instances},
                                      {"min_instances", min_instances},
                                      {"owner", bp.id},
                                      {"failed", false}};
        add_step(at, scenarios::KvPutStep{"slice-target/" + base_of(sl.artifact), value.dump(),
                                          pick_client(d), pick_via(c, d)});
        disturbed(at);  // `scale` waits until the engine has rewritten it
        break;
      }
      case StepKind::RawMalformed: {
        const auto artifacts = all_artifacts();
        std::string key;
        std::string value;
        switch (a % 4) {
          case 0:
            key = "slices/" + pick(configured_, b) + "/" + pick(artifacts, c);
            value = "{not json";
            break;
          case 1:
            key = "blueprints/broken";
            value = R"({"id":"broken","slices":[]})";
            break;
          case 2:
            key = "leader";
            value = "no-such-node";
            disturbed(at);
            break;
          default:
            key = "slice-target/" + base_of(pick(artifacts, c));
            value = R"({"version":7})";
            disturbed(at);
            break;
        }
        add_step(at, scenarios::KvPutStep{key, value, pick_client(d)});
        break;
      }
      case StepKind::RawCommand: {
        // A client injecting a command the CDM never sent.
        static const std::vector<std::string> states = {"LOAD",       "ACTIVATE", "UNLOAD",
                                                        "DEACTIVATE", "ACTIVE",   "FAILED"};
        const auto state = pick(states, c);
        nlohmann::json value = {{"state", state}, {"fatal", false}};
        add_step(at, scenarios::KvPutStep{"slices/" + pick(configured_, a) + "/" + pick(all_artifacts(), b),
                                          value.dump(), pick_client(d)});
        break;
      }
      case StepKind::RawRemove: {
        if (a < 400) {
          add_step(at, scenarios::KvRemoveStep{"leader", pick_client(d)});
          disturbed(at);
        } else {
          add_step(at,
                   scenarios::KvRemoveStep{"slices/" + pick(configured_, b) + "/" + pick(all_artifacts(), c),
                                           pick_client(d)});
        }
        break;
      }
      case StepKind::RawLifecycle: {
        // Nodes in view but not ON_DUTY. JOINING only where convergence is not
        // owed (nothing obliges the engine to undo a client's JOINING).
        std::vector<std::string> states = {"DRAINING", "ON_DUTY"};
        if (!k_.heal_at_end) states.insert(states.end(), {"JOINING", "DECOMMISSIONED", "SHUTTING_DOWN"});
        const auto& node = pick(configured_, a);
        lifecycle_touched_.insert(node);  // no `drain`/`undrain` of it: its state is unknown
        add_step(at, scenarios::KvPutStep{"node-lifecycle/" + node, pick(states, b), pick_client(d)});
        break;
      }
      case StepKind::Drain: {
        const auto n = pick(drain_candidates(at), a);
        drained_[n] = at;
        add_step(at, scenarios::DrainStep{node_target(n), false, pick_client(d)});
        raw_or_failures_ = true;  // a blocked drain may keep the engine busy: no `writes` at the end
        break;
      }
      case StepKind::Undrain: {
        const auto n = pick(undrain_candidates(at), a);
        drained_.erase(n);
        add_step(at, scenarios::DrainStep{node_target(n), true, pick_client(d)});
        break;
      }
      case StepKind::Rollout: {
        // A version change of one slice (a rolling one where there is one),
        // or back to its previous version (a reversal mid-way, or later).
        std::vector<GenBlueprint*> published;
        for (auto& bp : blueprints_)
          if (bp.published) published.push_back(&bp);
        auto& bp = *published[static_cast<std::size_t>(a) % published.size()];
        // Not before the value it edits is decided (early faults start at
        // 500ms, the blueprints at 1s): the initial put would overwrite it.
        if (at < bp.published_at + millis(500)) at = bp.published_at + millis(500);
        std::vector<GenSlice*> slices;
        for (auto& sl : bp.slices)
          if (sl.max_surge > 0) slices.push_back(&sl);
        if (slices.empty())
          for (auto& sl : bp.slices) slices.push_back(&sl);
        auto& sl = *slices[static_cast<std::size_t>(b) % slices.size()];
        // Reversals of rolling slices only, as drawn since an immediate
        // slice's quick reversal was an open finding (fixed since:
        // scenarios/regression-finding-version-reversal-scale-floor.json);
        // kept so that seeds keep their cases.
        if (!sl.previous.empty() && sl.max_surge > 0 && c < 400) {
          set_version(bp, sl, sl.previous);
        } else {
          set_version(bp, sl, fmt::format("{}:{}.0.0", base_of(sl.artifact), ++versions_ + 1));
        }
        bp.published_at = at;
        add_step(at, scenarios::BlueprintStep{to_json(bp), pick_client(d)});
        maybe_failover(at, bp, a + 3 * c + 7 * d);
        break;
      }
      case StepKind::LoseSubmits: {
        static const std::vector<std::string> writers = {"*", "cdm", "ndm", "leader-manager"};
        scenarios::LoseSubmitsStep lose;
        if (b >= 400) lose.node = pick(configured_, a);
        lose.writer = pick(writers, c);
        lose.rate_ppm = ppm(d, 2'000 * static_cast<std::uint32_t>(k_.intensity));
        const auto rule = std::make_pair(lose.node.value_or("*"), lose.writer);
        lose_rules_.insert(rule);
        if (lose.node) ++pinned_[*lose.node];
        add_step(at, lose);
        if (k_.heal_at_end || c >= 500) {
          // Bounded: off again after 1-20s (healing profiles owe convergence).
          const Nanos until = at + millis(1'000 + 19 * (b % 1'000));
          scenarios::LoseSubmitsStep off = lose;
          off.rate_ppm = 0;
          pending_.push_back({until, off, [this, rule] { clear_lose(rule); }});
          disturbed(until);
        } else {
          disturbed(at);
        }
        break;
      }
      case StepKind::ReorderQuorum: {
        scenarios::ReorderQuorumEventsStep reorder;
        if (b >= 700) reorder.node = pick(configured_, a);
        // 10% up: a held quorum event needs a quorum change while the rule is on.
        reorder.rate_ppm = 100'000 + ppm(d, 9'000 * static_cast<std::uint32_t>(k_.intensity));
        const auto rule = reorder.node.value_or("*");
        reorder_rules_.insert(rule);
        if (reorder.node) ++pinned_[*reorder.node];
        add_step(at, reorder);
        if (k_.heal_at_end || c >= 500) {
          const Nanos until = at + millis(5'000 + 25 * (c % 1'000));
          scenarios::ReorderQuorumEventsStep off = reorder;
          off.rate_ppm = 0;
          pending_.push_back({until, off, [this, rule] { clear_reorder(rule); }});
          disturbed(until);
        } else {
          disturbed(at);
        }
        break;
      }
      case StepKind::Stall: {
        scenarios::NetworkStep net;
        if (stall_on_ && (k_.heal_at_end || a >= 500)) {
          // A stall in force (the cluster's, or a chaos one): off mid-run.
          net.stall = scenarios::StallSpec{};
          stall_on_ = false;
          add_step(at, net);
          disturbed(at);
          break;
        }
        scenarios::StallSpec on;
        on.rate_ppm = ppm(b, 300 * static_cast<std::uint32_t>(k_.intensity));
        on.length.min = millis(100 + c % 900);
        on.length.max = on.length.min + millis(100 + 3 * (d % 1'000));
        net.stall = on;
        stall_on_ = true;
        add_step(at, net);
        if (k_.heal_at_end || c >= 500) {
          const Nanos until = at + millis(1'000 + 14 * (a % 1'000));
          scenarios::NetworkStep off;
          off.stall = scenarios::StallSpec{};
          stall_pending_ = true;
          pending_.push_back({until, off, [this] {
                                stall_on_ = false;
                                stall_pending_ = false;
                              }});
          disturbed(until + on.length.max);
        } else {
          disturbed(at);
        }
        break;
      }
      case StepKind::ExpectNoViolations: {
        scenarios::ExpectStep e;
        e.what = scenarios::ExpectNoViolations{};
        add_step(at, e);
        break;
      }
      case StepKind::RemovePutBack:
      case StepKind::ScaleDownLoss:
      case StepKind::QueuedEdits:
      case StepKind::EditRace:
      case StepKind::QuorumFlap:
      case StepKind::AtomicFailover:
      case StepKind::OwnershipClaim:
      case StepKind::DepartedNode:
      case StepKind::InjectedCommands:
      case StepKind::DependencyPaused:
        emit_episode(kind, at, a, b, c);
        break;
    }
  }

  // ---- issue 12's episodes ---------------------------------------------
  std::vector<std::size_t> published_indices(bool unshared_only = false) const {
    std::vector<std::size_t> out;
    for (std::size_t i = 0; i < blueprints_.size(); ++i)
      if (blueprints_[i].published && !(unshared_only && (blueprints_[i].shares_base || blueprints_[i].aux)))
        out.push_back(i);
    return out;
  }

  // A count change of one slice (a different count, the default floor).
  static void recount(GenSlice& sl, int instances) {
    sl.instances = instances;
    sl.min_available = default_min_available(instances);
  }

  void put_blueprint(Nanos at, std::size_t i, const std::string& client) {
    auto& bp = blueprints_[i];
    bp.published = true;
    bp.published_at = at;
    add_step(at, scenarios::BlueprintStep{to_json(bp), client});
  }

  // The CDM's writes held up: every CDM submit is lost for a moment while
  // a new blueprint is put (its slice-target write is lost and completes,
  // unknown, only at write_timeout, 30s by default), so the CDM's next
  // batches wait in its serialized queue. A new blueprint, not a count
  // change (a lost count rewrite was an open finding when this was drawn,
  // fixed since: scenarios/regression-lost-target-count-rewrite.json; kept
  // so that seeds keep their cases). Returns when to go on.
  Nanos hold_cdm_writes(Nanos at) {
    scenarios::LoseSubmitsStep lose;
    lose.writer = "cdm";
    lose.rate_ppm = 1'000'000;
    add_step(at, lose);
    GenBlueprint bp;
    bp.id = fmt::format("aux{}", ++aux_);
    bp.aux = true;
    GenSlice sl;
    sl.artifact = fmt::format("org.example:{}0:1.0.0", bp.id);
    bp.slices.push_back(sl);
    blueprints_.push_back(bp);
    put_blueprint(at, blueprints_.size() - 1, bp.client);
    // Long enough for the put to commit and the CDM to submit (late commits too).
    const Nanos until = at + millis(500) + late_commit_;
    lose.rate_ppm = 0;
    add_step(until, lose);
    disturbed(until);
    return until + millis(50);
  }

  void emit_episode(StepKind kind, Nanos at, int a, int b, int c) {
    Nanos end = at;
    switch (kind) {
      case StepKind::RemovePutBack: {
        // The removal's UNLOADs and slice-target Removes wait behind the held
        // write; the put-back commits before they are submitted
        // (cdm-skip-removal-recheck: regression-removal-after-put-back).
        const auto x = pick(published_indices(), a);
        const Nanos t = hold_cdm_writes(settle(at));
        const auto& bp = blueprints_[x];
        add_step(t, scenarios::RemoveBlueprintStep{bp.id, bp.client});
        put_blueprint(t, x, bp.client);
        end = t + engine::EngineConfig{}.write_timeout_ns;
        break;
      }
      case StepKind::ScaleDownLoss: {
        // A slice at k instances, all required; scaled to k-1 while the
        // CDM's writes are held, then a node restarts (its instance is
        // reported lost): the queued scale-down UNLOAD would go below the
        // floor (cdm-skip-scale-down-recheck:
        // regression-scale-down-recheck-at-submit).
        const auto x = pick(published_indices(true), a);
        auto& sl = blueprints_[x].slices[static_cast<std::size_t>(b) % blueprints_[x].slices.size()];
        const int k = std::min<int>(4, static_cast<int>(configured_.size()));
        Nanos t = settle(at);
        sl.instances = k;
        sl.min_available = k;
        put_blueprint(t, x, blueprints_[x].client);
        disturbed(t);
        t = hold_cdm_writes(t + seconds(15));
        add_step(t, scenarios::ScaleStep{
                        base_of(blueprints_[x]
                                    .slices[static_cast<std::size_t>(b) % blueprints_[x].slices.size()]
                                    .artifact),
                        k - 1, blueprints_[x].client});
        const Target node = anon_ ? random_target() : node_target(pick(configured_, c));
        add_step(t + millis(100), scenarios::CrashStep{node});
        add_step(t + millis(200), scenarios::RestartStep{node});
        disturbed(t + millis(200));
        end = t + engine::EngineConfig{}.write_timeout_ns;
        break;
      }
      case StepKind::QueuedEdits: {
        // Two count edits of one slice while the CDM's writes are held: the
        // first one's slice-target write, derived when queued, is stale at
        // submit (cdm-stale-target-writes).
        const auto x = pick(published_indices(), a);
        const Nanos t = hold_cdm_writes(settle(at));
        auto& sl = blueprints_[x].slices[static_cast<std::size_t>(b) % blueprints_[x].slices.size()];
        recount(sl, 1 + (sl.instances + c % 3) % 4);
        put_blueprint(t, x, blueprints_[x].client);
        recount(sl, 1 + sl.instances % 4);
        put_blueprint(t + millis(200), x, blueprints_[x].client);
        end = t + engine::EngineConfig{}.write_timeout_ns;
        break;
      }
      case StepKind::EditRace: {
        // Two clients write two counts of one slice 1ms apart: the CDM's
        // slice-target derived from the first is often in flight when the
        // second commits (cdm-echo-counts-as-intent, cdm-unserialized-writes:
        // concurrent-blueprint-edits-stale-echo).
        const auto x = pick(published_indices(), a);
        at = std::max(at, blueprints_[x].published_at + millis(500));
        auto& sl = blueprints_[x].slices[static_cast<std::size_t>(b) % blueprints_[x].slices.size()];
        recount(sl, 1 + (sl.instances + c % 3) % 4);
        put_blueprint(at, x, "alice");
        recount(sl, 1 + sl.instances % 4);
        put_blueprint(at + millis(1), x, "bob");
        end = at + millis(1);
        break;
      }
      case StepKind::QuorumFlap: {
        // The leader's quorum notifications held back while it is cut off
        // just long enough to lose quorum but not the followers' trust; healed
        // within the hold, so a stale Lost arrives after Established
        // (lm-acts-on-stale-quorum-events: stale-quorum-event-after-heal).
        // Views drop and come back after failure detection on both sides, so
        // the followers keep the leader only with a leader_timeout longer
        // than the cut plus its way back: 3x failure detection, set for the
        // whole case (the default is failure detection).
        scenario_.config["leader_timeout"] = engine::format_duration(3 * fd_upper());
        const Nanos t = settle(at);
        add_step(t, scenarios::ReorderQuorumEventsStep{std::nullopt, 1'000'000});
        add_step(t + millis(100), scenarios::IsolateStep{leader_target()});
        // Lost once failure detection saw it (<= its upper bound), back
        // within the hold (2x failure detection) after the heal.
        const Nanos heal = t + millis(100) + fd_upper() + fd_ * (2 + b % 6) / 10;
        add_step(heal, scenarios::HealStep{});
        end = heal + 2 * fd_upper() + seconds(1);
        add_step(end, scenarios::ReorderQuorumEventsStep{std::nullopt, 0});
        disturbed(end);
        break;
      }
      case StepKind::AtomicFailover: {
        // An edit that makes a blueprint all-or-nothing; the leader crashes
        // while the put is in flight (cdm-rollback-forgotten-after-failover).
        // Not of a blueprint sharing a base: a put of it whose base's
        // slice-target a client rewrites to the other owner stays in flight
        // (swarm seeds under this branch; not analysed).
        const auto x = pick(published_indices(true), a);
        const Nanos t = settle(at);
        auto& bp = blueprints_[x];
        bp.atomic = true;
        // A new version: its loads keep the put in flight for a while.
        auto& sl = bp.slices[static_cast<std::size_t>(b) % bp.slices.size()];
        set_version(bp, sl, fmt::format("{}:{}.0.0", base_of(sl.artifact), ++versions_ + 1));
        put_blueprint(t, x, bp.client);
        crash_leader(t + millis(50 + (c * 7) % 1'000));
        return;
      }
      case StepKind::OwnershipClaim: {
        // "ops" (its id sorts before "shop") claims a base shop's value,
        // decided earlier, holds; then a client overwrites that base's
        // slice-target with an unparseable value, so ownership is judged from
        // the blueprints alone: ops is rejected, not shop
        // (cdm-ownership-by-id-order: regression-ownership-by-decided-position).
        const auto claimed = pick(claimable_bases(), b);
        at = std::max(at, blueprints_.front().published_at + millis(500));
        if (!blueprint_index("ops")) {
          GenBlueprint ops;
          ops.id = "ops";
          GenSlice own;
          own.artifact = "org.example:ops0:1.0.0";
          ops.slices.push_back(own);
          blueprints_.push_back(ops);
        }
        const auto ops = *blueprint_index("ops");
        GenSlice sl;
        sl.artifact = claimed;
        recount(sl, 1 + c % 3);
        blueprints_[ops].slices.insert(blueprints_[ops].slices.begin(), sl);
        blueprints_.front().shares_base = blueprints_[ops].shares_base = true;
        put_blueprint(at, ops, blueprints_[ops].client);
        end = at + millis(500 + c % 1'000);
        add_step(end, scenarios::KvPutStep{"slice-target/" + base_of(claimed), R"({"version":7})"});
        raw_or_failures_ = true;
        disturbed(end);
        break;
      }
      case StepKind::DepartedNode: {
        // Every node cut off from every other (no quorum, nobody leads); a
        // node is removed meanwhile, then the heal: the next leader must
        // remove its keys at activation (cdm-departed-node-keys-kept).
        const Nanos t = settle(at);
        std::vector<std::vector<Target>> groups;
        for (const auto& n : configured_) groups.push_back({node_target(n)});
        add_step(t, scenarios::PartitionStep{groups});
        std::vector<NodeId> candidates;
        for (const auto& n : configured_)
          if (pinned(n) == 0) candidates.push_back(n);
        const auto gone = pick(candidates, b);
        const Nanos removed = t + 2 * fd_upper() + seconds(1);
        add_step(removed, scenarios::RemoveNodeStep{node_target(gone)});
        configured_.erase(std::find(configured_.begin(), configured_.end(), gone));
        drained_.erase(gone);
        end = removed + millis(500);
        add_step(end, scenarios::HealStep{});
        disturbed(end);
        break;
      }
      case StepKind::InjectedCommands: {
        // A client injects a LOAD of a deployed artifact on three nodes, then
        // an UNLOAD on a node, in a calm world: the leader must answer both
        // (its re-sends: cdm-no-command-resend, injected-commands).
        const Nanos t = settle(at);
        std::vector<std::string> artifacts;
        for (const auto i : published_indices())
          for (const auto& sl : blueprints_[i].slices) artifacts.push_back(sl.artifact);
        const auto& artifact = pick(artifacts, b);
        // On three nodes: one of them likelier holds no instance of it.
        const int n_nodes = static_cast<int>(configured_.size());
        for (const int n : std::set<int>{a % n_nodes, (a + 1) % n_nodes, (a + 2) % n_nodes})
          add_step(t, scenarios::KvPutStep{"slices/" + pick(configured_, n) + "/" + artifact,
                                           R"({"fatal":false,"state":"LOAD"})"});
        end = t + seconds(10);
        add_step(end, scenarios::KvPutStep{"slices/" + pick(configured_, c) + "/" + artifact,
                                           R"({"fatal":false,"state":"UNLOAD"})"});
        raw_or_failures_ = true;
        disturbed(end);
        break;
      }
      case StepKind::DependencyPaused: {
        // A dependency of one instance; the leader and a minority of nodes
        // paused (past failure detection and leader_timeout), a dependant
        // added meanwhile: the new leader keeps the paused nodes' entries for
        // a while after activation and must not take the dependency's
        // ACTIVE entry there as ready (cdm-dependency-ready-out-of-view:
        // dependency-on-paused-node).
        std::vector<std::size_t> roomy;
        for (const auto i : published_indices())
          if (blueprints_[i].slices.size() < 4) roomy.push_back(i);
        const auto x = pick(roomy, a);
        Nanos t = settle(at);
        if (blueprints_[x].slices.front().instances != 1) {
          recount(blueprints_[x].slices.front(), 1);
          put_blueprint(t, x, blueprints_[x].client);
          disturbed(t);
          t += seconds(15);
        }
        const int paused = static_cast<int>(configured_.size() - 1) / 2;  // a majority stays up
        add_step(t, scenarios::PauseStep{leader_target()});
        for (int i = 1; i < paused; ++i) add_step(t + millis(10), scenarios::PauseStep{random_target()});
        auto& bp = blueprints_[x];
        GenSlice dependant;
        dependant.artifact = fmt::format("org.example:{}x{}:1.0.0", bp.id, ++added_);
        recount(dependant, 2);
        dependant.depends_on.push_back(bp.slices.front().artifact);
        bp.slices.push_back(dependant);
        put_blueprint(t + millis(300), x, bp.client);
        end = t + 2 * fd_upper() + seconds(1 + b % 3);
        for (int i = 0; i < paused; ++i) add_step(end, scenarios::ResumeStep{random_target()});
        disturbed(end);
        break;
      }
      default:
        break;
    }
    at_floor_ = std::max(at_floor_, end + millis(1));
  }

  // Everything healed, restarted, resumed and cleared: convergence is owed.
  void heal_everything(Nanos at) {
    // Now and then one crashed node stays down (a majority stays up, so
    // convergence is still owed: simulation.md §5). Not tracked by name
    // after an anonymous fault: assume the worst.
    const bool leave_one = !anon_ && !crashed_.empty() && 2 * (configured_.size() - 1) > configured_.size() &&
                           Draws::chance(k_.leave_crashed_pct);
    left_crashed_ = anon_ || leave_one;
    clear_faults(at, leave_one);
  }

  // Every fault in force cleared at `at` (but the first crashed node if
  // `leave_one`); the world tracking follows.
  void clear_faults(Nanos at, bool leave_one) {
    if (net_rules()) add_step(at, scenarios::HealStep{});
    partition_ = links_ = via_stuck_ = false;
    isolated_.clear();
    minority_.clear();
    if (anon_) {
      for (int i = 0; i < anon_crashed_; ++i) add_step(at, scenarios::RestartStep{random_target()});
      anon_crashed_ = 0;
    } else {
      std::set<NodeId> left;
      for (const auto& n : crashed_) {
        if (leave_one && n == *crashed_.begin()) {
          left.insert(n);
        } else {
          add_step(at, scenarios::RestartStep{node_target(n)});
        }
      }
      crashed_ = left;
    }
    if (network_changed_) {
      scenarios::NetworkStep net;
      net.latency = initial_network_.latency;
      net.drop_ppm = initial_network_.drop_ppm;
      net.duplicate_ppm = initial_network_.duplicate_ppm;
      add_step(at, net);
      network_changed_ = false;
    }
    for (const auto& artifact : failure_rules_) {
      scenarios::SliceFailuresStep f;
      f.artifact = artifact;
      add_step(at, f);
    }
    failure_rules_.clear();
    // The fault points still in force (a cluster stall; bounded ones are off already).
    if (stall_on_) {
      scenarios::NetworkStep net;
      net.stall = scenarios::StallSpec{};
      add_step(at, net);
      stall_on_ = false;
    }
    for (const auto& rule : std::set<std::pair<std::string, std::string>>(lose_rules_)) {
      scenarios::LoseSubmitsStep off;
      if (rule.first != "*") off.node = rule.first;
      off.writer = rule.second;
      add_step(at, off);
      clear_lose(rule);
    }
    for (const auto& node : std::set<std::string>(reorder_rules_)) {
      scenarios::ReorderQuorumEventsStep off;
      if (node != "*") off.node = node;
      add_step(at, off);
      clear_reorder(node);
    }
  }

  // An episode's calm: pending resumes and bounded faults flushed, every
  // fault in force cleared, then 15s without disturbance. Returns its end.
  Nanos settle(Nanos at) {
    for (const auto& p : pending_) at = std::max(at, p.at);
    flush_pending(at);
    if (crashed_count() > 0 || net_rules() || network_changed_ || !failure_rules_.empty() || fault_points()) {
      clear_faults(at, false);
      disturbed(at);
    }
    return std::max({at, last_disturbance_ + seconds(15), seconds(15)});
  }

  void clear_lose(const std::pair<std::string, std::string>& rule) {
    if (lose_rules_.erase(rule) > 0 && rule.first != "*") --pinned_[rule.first];
  }
  void clear_reorder(const std::string& node) {
    if (reorder_rules_.erase(node) > 0 && node != "*") --pinned_[node];
  }
  int pinned(const NodeId& n) const {
    const auto it = pinned_.find(n);
    return it == pinned_.end() ? 0 : it->second;
  }

  // A client write pinned `via` a node (shrinks to none): a node of the side
  // without a majority while a cut is in force (the client is stuck there
  // until the heal), else a live node when the network is whole.
  std::optional<NodeId> pick_via(int a, int d) {
    if ((a * 31 + d) % 100 < 100 - k_.via_pct) return std::nullopt;
    std::vector<NodeId> cut_off;  // the partition's minority side and isolated nodes, still configured
    for (const auto& n : configured_)
      if (isolated_.count(n) > 0 || std::find(minority_.begin(), minority_.end(), n) != minority_.end())
        cut_off.push_back(n);
    if (!cut_off.empty()) {
      via_stuck_ = true;
      return pick(cut_off, d);
    }
    if (anon_ || net_rules()) return std::nullopt;
    const auto live = live_named();
    if (live.empty()) return std::nullopt;
    return pick(live, d);
  }

  void add_final_expect(Nanos at) {
    // Within the bound a correct engine needs (simulation.md §5), plus room
    // for client writes still pending at the heal.
    engine::EngineConfig config;
    engine::parse_engine_config(scenario_.config, config);  // the generator writes only valid keys
    if (!config.leader_timeout_ns) config.leader_timeout_ns = scenario_.cluster.failure_detection_upper();
    const auto timing = convergence_timing(scenario_, config);
    scenarios::ExpectStep e;
    e.what = scenarios::ExpectConverged{};
    e.within = timing.bound_ns + seconds(30);
    add_step(at, e);
    scenario_.steps.back().path = "steps[" + std::to_string(scenario_.steps.size() - 1) + "]";
    // Churn after convergence: once converged (by `within`) and quiet, a
    // correct engine writes nothing more. Only where nothing can keep it
    // busy by design: no node left down, no raw writes or slice failures
    // (exclusions, drains, injected states).
    if (tight_ && !left_crashed_ && !raw_or_failures_) {
      scenarios::ExpectStep w;
      w.what = scenarios::ExpectWrites{0, seconds(10)};
      add_step(at + *e.within + timing.quiet_ns, w);
      scenario_.steps.back().path = "steps[" + std::to_string(scenario_.steps.size() - 1) + "]";
    }
  }

 public:
  // Draw results (filled by draw_shape).
  int nodes_ = 3;
  Nanos fd_ = seconds(1);
  bool adversarial_ = false;
  std::uint32_t duplicate_ = 0;
  bool slow_ = false;
  bool early_ = false;
  bool local_ = false;
  bool aggressive_ = false;
  bool rebalance_off_ = false;
  bool event_driven_ = false;
  bool default_interval_ = false;
  bool short_interval_ = false;
  bool final_expect_ = false;

 private:
  Knobs k_;
  scenarios::Scenario scenario_;
  scenarios::NetworkSettings initial_network_;
  std::vector<GenBlueprint> blueprints_;
  std::vector<NodeId> configured_;
  std::set<NodeId> crashed_;
  std::set<NodeId> paused_;
  std::set<NodeId> isolated_;
  std::set<std::string> failure_rules_;
  std::vector<Pending> pending_;
  // The hostile world (draw_hostile) and its faults in force.
  Nanos fd_max_ = 0;
  Nanos late_commit_ = 0;
  Nanos restore_lag_ = 0;
  std::uint32_t clock_drift_ppm_ = 0;
  scenarios::StallSpec cluster_stall_;
  bool stall_on_ = false;
  bool stall_pending_ = false;
  std::set<std::pair<std::string, std::string>> lose_rules_;  // (node or "*", writer)
  std::set<std::string> reorder_rules_;                       // node or "*"
  std::map<NodeId, int> pinned_;  // named by a fault point or a client's `via`: never removed
  std::vector<NodeId> minority_;  // the side of the latest two-group partition without a majority
  bool via_stuck_ = false;        // a write pinned to a cut-off node is pending until the heal
  NodeId client_via_;             // alice's top-level `via` ("" none)
  bool tight_ = false;
  bool left_crashed_ = false;     // a crashed node stays down at the end
  bool raw_or_failures_ = false;  // raw writes or slice failures were emitted
  bool anon_ = false;
  int anon_crashed_ = 0;
  int anon_paused_ = 0;
  bool partition_ = false;
  bool links_ = false;
  bool network_changed_ = false;
  Nanos last_disturbance_ = -1;
  int last_suffix_ = 0;
  // Issue 15's features and issue 12's schedules (draw_features).
  int zones_ = 0;  // zones "a", "b", "c": node-i in zone (i - 1) % zones_
  bool resource_aware_ = false;
  int capacity_cpu_ = 0;        // cluster.capacity "default" cpu (0: none)
  int capacity_memory_gi_ = 0;  // and memory (0: none)
  NodeId small_node_;           // a node of its own small cpu capacity ("" none)
  std::int64_t small_cpu_ = 0;
  Nanos lost_proposals_until_ = 0;  // leader-manager submits lost over [0, this) (0: off)
  NodeId sporadic_node_;            // its slice key gets garbage six times ("" off)
  std::string sporadic_artifact_;
  Nanos sporadic_gap_ = 0;
  Nanos republish_at_ = 0;              // every blueprint republished unchanged (0: off)
  std::map<NodeId, Nanos> drained_;     // drained by a `drain` step (and when), not undrained since
  std::set<NodeId> lifecycle_touched_;  // a raw node-lifecycle write named it
  Nanos at_floor_ = 0;                  // the next raw step comes no earlier (after a failover crash)
  Nanos end_floor_ = 0;                 // the final heal comes no earlier (after the sporadic writes)
  int added_ = 0;
  int versions_ = 0;
  int aux_ = 0;  // blueprints aux1, aux2, ... (hold_cdm_writes)
  Nanos last_add_ = -seconds(10);
};

// swarm: which kinds are on and how hard, drawn per seed.
std::pair<Knobs, std::string> swarm_knobs() {
  Knobs k = live_knobs();
  k.heal_at_end = Draws::chance(60);
  k.expect_converged_at_end = k.heal_at_end;
  k.intensity = Draws::in(1, 100);
  k.max_steps = Draws::in(4, 24);
  k.local_election_pct = Draws::chance(20) ? 100 : 0;
  k.event_driven_pct = Draws::chance(20) ? 100 : 0;
  k.max_clients = Draws::in(1, 3);
  k.hostile_pct = Draws::chance(50) ? Draws::in(10, 100) : 0;
  k.via_pct = Draws::chance(50) ? Draws::in(10, 60) : 0;
  std::string draw = fmt::format(
      "swarm draw: heal_at_end={} intensity={} max_steps={} election={} interval={} "
      "clients={} hostile={}% via={}% kinds:",
      k.heal_at_end ? "yes" : "no", k.intensity, k.max_steps,
      k.local_election_pct == 100 ? "local" : "consensus", k.event_driven_pct == 100 ? "1h" : "drawn",
      k.max_clients, k.hostile_pct, k.via_pct);
  k.weights.clear();
  for (const auto& info : step_kinds()) {
    // Issue 12's episodes at a lower weight: each is a whole schedule, and
    // ten of them at full weight would crowd out the single steps.
    const int w = Draws::chance(50) ? (is_episode(info.kind) ? Draws::in(2, 5) : Draws::in(1, 10)) : 0;
    k.weights[info.kind] = w;
    if (w > 0) draw += fmt::format(" {}={}", info.name, w);
  }
  if (k.local_election_pct == 100) {  // local election splits the brain under any network cut
    for (const auto kind : {StepKind::Partition, StepKind::PartitionMany, StepKind::Bridge, StepKind::Isolate,
                            StepKind::Link, StepKind::HealAll, StepKind::HealNode, StepKind::ReorderQuorum})
      k.weights[kind] = 0;
    draw += " (network cuts and quorum reorder off: local election)";
  }
  // Issue 15's features and issue 12's schedules, each on for half the seeds.
  const auto feature = [](int lo, int hi) { return Draws::chance(50) ? Draws::in(lo, hi) : 0; };
  k.placement_pct = feature(30, 100);
  k.atomic_pct = feature(30, 100);
  k.rolling_pct = feature(30, 100);
  // A failover needs an all-or-nothing or rolling blueprint: likelier with one.
  k.failover_pct = (k.atomic_pct > 0 || k.rolling_pct > 0) && Draws::chance(80) ? Draws::in(40, 90) : 0;
  k.lost_proposals_pct = feature(20, 60);
  k.sporadic_pct = feature(20, 60);
  k.republish_pct = feature(30, 100);
  draw += fmt::format(
      " features: placement={}% all-or-nothing={}% rolling={}% failover={}% lost_proposals={}% "
      "sporadic={}% republish={}%",
      k.placement_pct, k.atomic_pct, k.rolling_pct, k.failover_pct, k.lost_proposals_pct, k.sporadic_pct,
      k.republish_pct);
  return {k, draw};
}

GeneratedCase make_case(const Knobs& knobs, std::string draw) {
  Generator g(knobs);
  g.draw_shape();
  const auto raw_gen =
      rc::gen::tuple(rc::gen::inRange(0, kRaw), rc::gen::inRange(0, kRaw), rc::gen::inRange(0, kRaw),
                     rc::gen::inRange(0, kRaw), rc::gen::inRange(0, kRaw), rc::gen::inRange(0, kRaw));
  // The container's length follows the size (0..max_steps); each raw step is
  // drawn at the nominal size so that its numbers span [0, kRaw).
  const auto raws = *rc::gen::resize(
      knobs.max_steps, rc::gen::container<std::vector<RawStep>>(rc::gen::resize(rc::kNominalSize, raw_gen)));
  GeneratedCase out;
  out.scenario = g.make(raws);
  if (!draw.empty()) out.scenario.description = draw;
  out.draw = std::move(draw);
  return out;
}

}  // namespace

const std::vector<ProfileInfo>& profiles() {
  static const std::vector<ProfileInfo> list = {
      {"live", "faults bounded then healed: every check and convergence owed (3-11 nodes, all step kinds)"},
      {"chaos", "unbounded faults of every kind, never healed: safety only"},
      {"partitions", "partitions of 2 and 3+ groups, bridges, isolation, one-way links, heals of one node"},
      {"clients", "up to 3 clients editing, scaling, removing and raw-writing blueprints at once"},
      {"local",
       "live with local election (first node of each view leads), node faults and edits, no network cuts"},
      {"event-driven", "live with reconciliation_interval 1h: every trigger must act on its own"},
      {"swarm", "each seed draws which fault kinds are on and how hard (the draw is printed)"},
  };
  return list;
}

bool is_profile(const std::string& name) {
  return std::any_of(profiles().begin(), profiles().end(),
                     [&](const ProfileInfo& p) { return p.name == name; });
}

rc::Gen<GeneratedCase> case_gen(const std::string& profile) {
  if (profile == "swarm") {
    return rc::gen::exec([] {
      auto [knobs, draw] = swarm_knobs();
      return make_case(knobs, draw);
    });
  }
  const auto knobs = fixed_knobs(profile);
  if (!knobs) throw std::invalid_argument("unknown profile \"" + profile + "\"");
  return case_gen(*knobs);
}

rc::Gen<GeneratedCase> case_gen(const Knobs& knobs) {
  return rc::gen::exec([k = knobs] { return make_case(k, ""); });
}

std::optional<Knobs> profile_knobs(const std::string& profile) {
  return fixed_knobs(profile);
}

std::uint64_t case_key(const std::string& profile, std::uint64_t seed) {
  // FNV-1a over the profile name, then the seed's bytes, then a final mix.
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const char c : profile) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
  for (int i = 0; i < 8; ++i) h = (h ^ ((seed >> (8 * i)) & 0xff)) * 0x100000001b3ULL;
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  return h;
}

GeneratedCase generate_case(const std::string& profile, std::uint64_t seed) {
  const auto gen = case_gen(profile);
  auto out = gen(rc::Random(case_key(profile, seed)), rc::kNominalSize).value();
  out.scenario.name = fmt::format("fuzz-{}-{}", profile, seed);
  out.scenario.seed = seed;
  return out;
}

}  // namespace aether::properties::gen
