#include "properties/runner.h"

#include <algorithm>
#include <exception>
#include <functional>
#include <limits>
#include <memory>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "properties/human_time.h"
#include "properties/reference_model.h"

#include "engine/config.h"
#include "engine/deployment_runtime.h"
#include "engine/duration.h"
#include "engine/kv_schema.h"
#include "properties/report_events.h"
#include "properties/sim_world_queries.h"
#include "sim/cluster.h"

namespace aether::properties {

const char* verdict_name(Verdict verdict) {
  switch (verdict) {
    case Verdict::Pass:
      return "pass";
    case Verdict::Fail:
      return "fail";
    case Verdict::InputError:
      return "input-error";
    case Verdict::FrameworkError:
      return "framework-error";
  }
  return "?";
}

int verdict_exit_code(Verdict verdict) {
  switch (verdict) {
    case Verdict::Pass:
      return 0;
    case Verdict::Fail:
      return 1;
    case Verdict::InputError:
      return 2;
    case Verdict::FrameworkError:
      return 3;
  }
  return 3;
}

namespace {

// The longest depends_on chain (in edges) over every blueprint the scenario
// writes (blueprint steps and raw kv_put of blueprints/*), read as plain JSON:
// a value that does not parse adds nothing. A cycle counts once around.
// ceil(count / max_surge) load-and-activate steps per base that some
// blueprint of the scenario rolls (engine-semantics.md §8.4): the largest count
// any blueprint or scale step asks of the base, the smallest max_surge any
// rolling slice of it gives; summed over bases.
int rolling_update_steps(const scenarios::Scenario& scenario) {
  std::map<std::string, int> count;  // base -> largest count asked
  std::map<std::string, int> surge;  // base -> smallest max_surge of a rolling slice
  auto add_blueprint = [&](const std::string& text) {
    const auto bp = ref::read_blueprint(text);
    if (!bp) return;
    for (const auto& slice : bp->slices) {
      const auto base = slice.artifact.base();
      count[base] = std::max(count[base], slice.instances);
      if (!slice.update.rolling) continue;
      auto [it, inserted] = surge.emplace(base, slice.update.max_surge);
      if (!inserted) it->second = std::min(it->second, slice.update.max_surge);
    }
  };
  for (const auto& step : scenario.steps) {
    if (const auto* bp = std::get_if<scenarios::BlueprintStep>(&step.action))
      add_blueprint(bp->blueprint.dump());
    if (const auto* put = std::get_if<scenarios::KvPutStep>(&step.action);
        put != nullptr && put->key.rfind("blueprints/", 0) == 0) {
      add_blueprint(put->value);
    }
    if (const auto* scale = std::get_if<scenarios::ScaleStep>(&step.action))
      count[scale->base] = std::max(count[scale->base], scale->instances);
  }
  int steps = 0;
  for (const auto& [base, k] : surge) steps += (count[base] + k - 1) / k;
  return steps;
}

int longest_dependency_chain(const scenarios::Scenario& scenario) {
  std::map<std::string, std::set<std::string>> deps;  // artifact -> artifacts it depends on
  auto add_blueprint = [&](const nlohmann::json& bp) {
    if (!bp.is_object() || !bp.contains("slices") || !bp["slices"].is_array()) return;
    for (const auto& slice : bp["slices"]) {
      if (!slice.is_object() || !slice.contains("artifact") || !slice["artifact"].is_string()) continue;
      auto& out = deps[slice["artifact"].get<std::string>()];
      if (!slice.contains("depends_on") || !slice["depends_on"].is_array()) continue;
      for (const auto& d : slice["depends_on"]) {
        if (d.is_string()) out.insert(d.get<std::string>());
      }
    }
  };
  for (const auto& step : scenario.steps) {
    if (const auto* bp = std::get_if<scenarios::BlueprintStep>(&step.action)) add_blueprint(bp->blueprint);
    if (const auto* put = std::get_if<scenarios::KvPutStep>(&step.action)) {
      if (put->key.rfind("blueprints/", 0) == 0) {
        add_blueprint(nlohmann::json::parse(put->value, nullptr, /*allow_exceptions=*/false));
      }
    }
  }
  std::map<std::string, int> memo;
  std::set<std::string> visiting;
  std::function<int(const std::string&)> depth = [&](const std::string& a) -> int {
    if (auto it = memo.find(a); it != memo.end()) return it->second;
    if (!visiting.insert(a).second) return 0;  // a cycle
    int best = 0;
    if (auto it = deps.find(a); it != deps.end()) {
      for (const auto& d : it->second) best = std::max(best, 1 + depth(d));
    }
    visiting.erase(a);
    memo[a] = best;
    return best;
  };
  int longest = 0;
  for (const auto& [artifact, unused] : deps) longest = std::max(longest, depth(artifact));
  return longest;
}

// x / (1 - ppm/1e6), rounded up, in integers.
Nanos divide_by_one_minus(Nanos x, std::uint32_t ppm) {
  const Nanos denom = 1'000'000 - std::min<Nanos>(ppm, 999'999);
  return x / denom * 1'000'000 + ((x % denom) * 1'000'000 + denom - 1) / denom;
}

}  // namespace

ConvergenceTiming convergence_timing(const scenarios::Scenario& scenario,
                                     const engine::EngineConfig& config) {
  const auto& cluster = scenario.cluster;
  const auto& s = cluster.slices;
  const Nanos longest_phase = std::max({s.load.max, s.activate.max, s.deactivate.max, s.unload.max});
  // The network at its worst over the scenario: the cluster's settings and
  // every `network` step.
  Nanos max_latency = cluster.network.latency.max;
  std::uint32_t max_drop = cluster.network.drop_ppm;
  for (const auto& step : scenario.steps) {
    if (const auto* n = std::get_if<scenarios::NetworkStep>(&step.action)) {
      if (n->latency) max_latency = std::max(max_latency, n->latency->max);
      if (n->drop_ppm) max_drop = std::max(max_drop, *n->drop_ppm);
    }
  }
  const auto& t = config.timeouts;
  const Nanos longest_state_timeout =
      std::max({t.loading_ns, t.activating_ns, t.deactivating_ns, t.unloading_ns});
  const int chain = longest_dependency_chain(scenario);

  ConvergenceTiming out;
  out.event_driven = config.reconciliation_interval_ns >= kEventDrivenInterval;
  // The clock drift of engine timers and the hostile-world maxima
  // (simulation.md §3a); the §8 rolling-update and drain durations are named
  // zeros until those features exist.
  const std::uint32_t clock_drift_ppm = cluster.clock_drift_ppm;
  const Nanos late_commit_max = cluster.late_commit;
  Nanos stall_max = cluster.stall.rate_ppm > 0 ? cluster.stall.length.max : 0;
  for (const auto& step : scenario.steps) {
    if (const auto* n = std::get_if<scenarios::NetworkStep>(&step.action);
        n != nullptr && n->stall && n->stall->rate_ppm > 0) {
      stall_max = std::max(stall_max, n->stall->length.max);
    }
  }
  const Nanos restore_lag_max = cluster.restore_lag;
  const int rolling_steps = rolling_update_steps(scenario);  // ceil(count / max_surge) over rolling updates
  // One eviction at a time per draining node: each drain (a `drain` step or a
  // raw DRAINING put) may evict every artifact the scenario declares, each a
  // replacement's load and activation, the source's unload and two
  // reconcile debounces (1s each, engine timers).
  int drains = 0;
  std::set<std::string> artifacts;
  for (const auto& step : scenario.steps) {
    if (const auto* d = std::get_if<scenarios::DrainStep>(&step.action); d != nullptr && !d->undrain)
      ++drains;
    if (const auto* put = std::get_if<scenarios::KvPutStep>(&step.action);
        put != nullptr && put->key.rfind("node-lifecycle/", 0) == 0 && put->value == "DRAINING")
      ++drains;
    if (const auto* bp = std::get_if<scenarios::BlueprintStep>(&step.action);
        bp != nullptr && bp->blueprint.contains("slices") && bp->blueprint["slices"].is_array()) {
      for (const auto& slice : bp->blueprint["slices"]) {
        if (slice.is_object() && slice.contains("artifact") && slice["artifact"].is_string())
          artifacts.insert(slice["artifact"].get<std::string>());
      }
    }
  }
  const int evictions = drains * static_cast<int>(std::max<std::size_t>(artifacts.size(), 1));
  // Each rolling step loads and activates one wave of new instances.
  const Nanos rolling_and_drain =
      rolling_steps * (s.load.max + s.activate.max) +
      evictions * (s.load.max + s.activate.max + s.unload.max +
                   divide_by_one_minus(2 * engine::seconds(1), cluster.clock_drift_ppm));

  auto engine_timer = [&](Nanos x) { return divide_by_one_minus(x, clock_drift_ppm); };
  auto& terms = out.terms;
  terms.emplace_back("leader_timeout", engine_timer(config.effective_leader_timeout_ns()));
  terms.emplace_back("2 x failure_detection", 2 * cluster.failure_detection_upper());
  terms.emplace_back("reconciliation_interval",
                     out.event_driven ? 0 : engine_timer(config.reconciliation_interval_ns));
  terms.emplace_back("transient_backoff_cap", engine_timer(config.transient_backoff_cap_ns));
  terms.emplace_back("write_timeout", engine_timer(config.write_timeout_ns));
  terms.emplace_back("write_retries x write_retry_delay",
                     engine_timer(config.write_retries * config.write_retry_delay_ns));
  terms.emplace_back("command_timeout", engine_timer(config.command_timeout_ns));
  terms.emplace_back("stuck_multiplier x longest state timeout",
                     engine_timer(config.stuck_multiplier * longest_state_timeout));
  terms.emplace_back("(longest dependency chain + 1) x longest slice phase", (chain + 1) * longest_phase);
  terms.emplace_back("late_commit max", late_commit_max);
  terms.emplace_back("stall max", stall_max);
  terms.emplace_back("restore_lag", restore_lag_max);
  terms.emplace_back("rolling updates and drains", rolling_and_drain);
  const Nanos round_trips = 6 + 3 * (chain + 1) + 2 * (rolling_steps + evictions);
  terms.emplace_back("latency: (6 + 3 x (chain + 1) + 2 x (rolling steps + evictions)) x 4 x max latency",
                     divide_by_one_minus(round_trips * 4 * max_latency, max_drop));
  Nanos sum = 0;
  for (const auto& [name, ns] : terms) sum += ns;
  out.bound_ns = std::max(engine::seconds(60), sum);

  const Nanos timeouts = std::max(config.command_timeout_ns, config.write_timeout_ns) + engine::seconds(5);
  const Nanos quiet = out.event_driven
                          ? std::max(engine::seconds(30), timeouts)
                          : std::max(config.reconciliation_interval_ns + engine::seconds(5), timeouts);
  out.quiet_ns = engine_timer(quiet);
  return out;
}

namespace {

std::string dur(Nanos ns) {
  return human_duration(ns);
}

// Engine counters summed over nodes.
class CounterObserver : public sim::WorldObserver {
 public:
  void on_engine_count(Nanos, const NodeId&, const std::string& counter, std::int64_t delta) override {
    counters[counter] += delta;
  }
  std::map<std::string, std::int64_t> counters;
};

// What the scenario has put in force (for whether convergence is owed at T0).
struct FaultState {
  std::map<std::string, std::pair<std::uint32_t, std::uint32_t>> failure_rules;  // artifact|"*" -> rates
  bool partitioned = false;
  std::vector<std::set<NodeId>> groups;
  std::set<NodeId> healed_into_all;  // heal(X) while a partition stands
  std::set<NodeId> isolated;
  // from -> to: the link rule in force (a later rule on the pair replaces it).
  std::map<std::pair<NodeId, NodeId>, sim::LinkRule> links;
  // Fault rates in force that a correct engine cannot be asked to settle
  // under (stall, lose_submits, reorder_quorum_events), by rule: why not owed.
  std::map<std::string, std::string> rates_in_force;
};

class Runner {
 public:
  Runner(const scenarios::Scenario& scenario, const RunOptions& options)
      : scenario_(scenario),
        options_(options),
        seed_(options.seed),
        trace_(kViolationContextEvents * 2),
        recorder_(&trace_),
        scenario_prng_(sim::Prng::stream(options.seed, "scenario")) {}

  // The cluster goes first: its teardown may still reach the observers.
  ~Runner() { cluster_.reset(); }
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;

  RunResult run();

 private:
  bool build();
  void schedule_steps();
  void run_step(const scenarios::Step& step);
  void steps_done();
  void decide_t0();
  std::string not_owed_reason() const;
  Nanos end_time() const;
  void input_error(const scenarios::Step& step, const std::string& message);

  // Targets.
  enum class Need : std::uint8_t { Up, UpUnpaused, Crashed, Paused, Configured };
  bool valid_for(const NodeId& node, Need need) const;
  std::optional<NodeId> leader_target() const;
  std::string valid_targets_now(Need need) const;
  std::optional<NodeId> resolve(const scenarios::Step& step, const scenarios::Target& target, Need need);

  void client_write(const scenarios::Step& step, const std::string& client, engine::KvBatch batch,
                    const std::optional<NodeId>& via = std::nullopt);

  const scenarios::Scenario& scenario_;
  const RunOptions& options_;
  std::uint64_t seed_;
  sim::Trace trace_;
  ViolationRecorder recorder_;
  sim::Prng scenario_prng_;
  engine::EngineConfig config_;
  ConvergenceTiming timing_;
  std::unique_ptr<sim::SimCluster> cluster_;
  std::unique_ptr<SimWorldQueries> world_;
  std::unique_ptr<InvariantSuite> suite_;
  std::unique_ptr<LivenessCache> live_;
  std::unique_ptr<RunMonitor> monitor_;
  std::unique_ptr<FiguresObserver> figures_;
  CounterObserver counters_;
  RunResult result_;
  bool stopped_ = false;
  FaultState faults_;
  Nanos static_end_ = 0;
  Nanos last_step_at_ = 0;  // S: the last step that is not `expect`
  bool steps_done_ = false;
  int pending_client_writes_ = 0;
  Nanos last_client_commit_ = 0;
  std::optional<Nanos> t0_;
  std::map<std::string, Nanos> expect_cutoff_;  // step path -> next non-expect step's instant
  int pending_at_t0_ = 0;                       // client writes left out of T0
};

bool Runner::build() {
  config_ = engine::EngineConfig{};
  const auto errors = engine::parse_engine_config(scenario_.config, config_);
  if (!errors.empty()) {
    result_.input_error = fmt::format("config.{}: {}", errors.front().path, errors.front().message);
    return false;
  }
  if (!config_.leader_timeout_ns) config_.leader_timeout_ns = scenario_.cluster.failure_detection_upper();
  timing_ = convergence_timing(scenario_, config_);

  sim::SimConfig sc;
  sc.defer_deliveries = options_.defer_deliveries;
  sc.nodes = scenario_.cluster.nodes;
  sc.failure_detection_ns = scenario_.cluster.failure_detection;
  sc.network.latency_min_ns = scenario_.cluster.network.latency.min;
  sc.network.latency_max_ns = scenario_.cluster.network.latency.max;
  sc.network.drop_ppm = scenario_.cluster.network.drop_ppm;
  sc.network.duplicate_ppm = scenario_.cluster.network.duplicate_ppm;
  sc.kv_order = scenario_.cluster.kv_order == scenarios::KvOrder::Adversarial ? sim::KvOrderMode::Adversarial
                                                                              : sim::KvOrderMode::Seeded;
  const auto& sl = scenario_.cluster.slices;
  sc.slices.load = {sl.load.min, sl.load.max};
  sc.slices.activate = {sl.activate.min, sl.activate.max};
  sc.slices.deactivate = {sl.deactivate.min, sl.deactivate.max};
  sc.slices.unload = {sl.unload.min, sl.unload.max};
  sc.seed = seed_;
  sc.failure_detection_max_ns = scenario_.cluster.failure_detection_max;
  sc.late_commit_ns = scenario_.cluster.late_commit;
  sc.stall = sim::StallSettings{scenario_.cluster.stall.rate_ppm, scenario_.cluster.stall.length.min,
                                scenario_.cluster.stall.length.max};
  sc.restore_lag_ns = scenario_.cluster.restore_lag;
  sc.clock_drift_ppm = scenario_.cluster.clock_drift_ppm;
  // Placement attributes the hosts report (engine-semantics.md §8.1).
  sc.default_attributes = scenario_.cluster.attributes_of("");
  for (const auto& node : scenario_.cluster.nodes)
    sc.attributes[node] = scenario_.cluster.attributes_of(node);
  if (sc.stall.ppm > 0) faults_.rates_in_force["stall"] = "stall rate is not 0";

  if (options_.trace_jsonl != nullptr) trace_.set_jsonl_sink(options_.trace_jsonl);
  if (options_.trace_line_observer) trace_.set_line_observer(options_.trace_line_observer);
  if (options_.trace_line_filter) trace_.set_line_filter(options_.trace_line_filter);
  trace_.event(0, "run.start").u64("seed", seed_).str("scenario", scenario_.name);

  cluster_ = std::make_unique<sim::SimCluster>(sc, trace_, engine::make_deployment_runtime_factory(config_));
  world_ = std::make_unique<SimWorldQueries>(*cluster_);
  suite_ = std::make_unique<InvariantSuite>(recorder_, *world_, seed_);
  suite_->set_rules(CheckRules{
      config_.leader_election == engine::LeaderElection::Consensus, config_.transient_retry_max,
      config_.stuck_multiplier, config_.timeouts.loading_ns, config_.timeouts.activating_ns,
      config_.timeouts.deactivating_ns, config_.timeouts.unloading_ns, scenario_.cluster.clock_drift_ppm});
  ConvergenceRules rules;
  rules.history = suite_.get();
  rules.bound_ns = timing_.bound_ns;
  rules.balance =
      config_.reconciliation == engine::ReconciliationStrategy::Aggressive && config_.auto_rebalancing;
  suite_->set_caching(options_.cache_checks);
  live_ = std::make_unique<LivenessCache>(*world_, options_.cache_checks);
  cluster_->add_observer(live_.get());
  monitor_ = std::make_unique<RunMonitor>(*suite_, *world_, *live_, recorder_, rules, timing_.quiet_ns);
  monitor_->set_caching(options_.cache_checks);
  cluster_->add_observer(suite_.get());
  cluster_->add_observer(monitor_.get());
  cluster_->add_observer(&counters_);
  figures_ = std::make_unique<FiguresObserver>(*suite_, *world_, *live_);
  figures_->set_incremental(options_.cache_checks);
  cluster_->add_observer(figures_.get());
  return true;
}

void Runner::schedule_steps() {
  auto& loop = cluster_->loop();
  bool any_step = false;
  // The quiet window of a mid-run `expect converged` ends at the next step
  // (in file order) that is not `expect`.
  std::optional<Nanos> next_action;
  for (auto it = scenario_.steps.rbegin(); it != scenario_.steps.rend(); ++it) {
    if (std::holds_alternative<scenarios::ExpectStep>(it->action)) {
      if (next_action) expect_cutoff_[it->path] = *next_action;
    } else {
      next_action = it->at;
    }
  }
  for (const auto& step : scenario_.steps) {
    static_end_ = std::max(static_end_, step.at);
    if (const auto* expect = std::get_if<scenarios::ExpectStep>(&step.action)) {
      const Nanos within = expect->within.value_or(0);
      if (std::holds_alternative<scenarios::ExpectConverged>(expect->what)) {
        static_end_ = std::max(static_end_, step.at + within + timing_.quiet_ns);
      } else if (const auto* available = std::get_if<scenarios::ExpectAvailable>(&expect->what)) {
        static_end_ = std::max(static_end_, step.at + available->hold_for);
      } else if (const auto* at_most = std::get_if<scenarios::ExpectAtMost>(&expect->what)) {
        static_end_ = std::max(static_end_, step.at + at_most->hold_for);
      } else if (const auto* writes = std::get_if<scenarios::ExpectWrites>(&expect->what)) {
        static_end_ = std::max(static_end_, step.at + writes->hold_for);
      } else {
        static_end_ = std::max(static_end_, step.at + within);
      }
    } else {
      last_step_at_ = std::max(last_step_at_, step.at);
      any_step = true;
    }
    loop.schedule_at(
        step.at, [this, &step] { run_step(step); }, sim::Lane::Step);
  }
  if (scenario_.run_for) static_end_ = std::max(static_end_, *scenario_.run_for);
  if (!any_step) last_step_at_ = 0;
  // After every step at S (same lane, scheduled later): the steps are done.
  loop.schedule_at(
      last_step_at_, [this] { steps_done(); }, sim::Lane::Step);
}

Nanos Runner::end_time() const {
  Nanos end = static_end_;
  if (scenario_.check_convergence) {
    if (!t0_) return std::numeric_limits<Nanos>::max();
    if (monitor_->convergence().owed) {
      end = std::max(end, *t0_ + timing_.bound_ns + timing_.quiet_ns);
    }
  }
  return end;
}

void Runner::input_error(const scenarios::Step& step, const std::string& message) {
  if (!result_.input_error.empty()) return;
  result_.input_error = fmt::format("{} at {}: {}", step.path, dur(step.at), message);
  stopped_ = true;
}

void Runner::steps_done() {
  steps_done_ = true;
  decide_t0();
}

// T0 = max(S, the last client commit). A client write still pending is left
// out of T0 (and reported); if it commits later, within `bound` of S, T0
// moves to its commit and the implicit window starts again from there.
void Runner::decide_t0() {
  t0_ = std::max(last_step_at_, last_client_commit_);
  pending_at_t0_ = pending_client_writes_;
  if (!scenario_.check_convergence) {
    monitor_->convergence_not_checked();
    return;
  }
  const auto reason = not_owed_reason();
  if (reason.empty()) {
    monitor_->convergence_owed(*t0_, timing_.bound_ns);
  } else {
    monitor_->convergence_not_owed(*t0_, reason);
  }
}

// Artifacts some blueprint in the canonical store deploys, read as plain
// JSON (a value that does not parse deploys nothing).
std::set<std::string> deployed_artifacts(const CanonicalStore::Map& store) {
  std::set<std::string> out;
  const std::string prefix = "blueprints/";
  for (auto it = store.lower_bound(prefix); it != store.end() && it->first.rfind(prefix, 0) == 0; ++it) {
    const auto bp = nlohmann::json::parse(it->second, nullptr, /*allow_exceptions=*/false);
    if (!bp.is_object() || !bp.contains("slices") || !bp["slices"].is_array()) continue;
    for (const auto& slice : bp["slices"]) {
      if (slice.is_object() && slice.contains("artifact") && slice["artifact"].is_string())
        out.insert(slice["artifact"].get<std::string>());
    }
  }
  return out;
}

// simulation.md §5, the rule of T0: convergence is owed unless something a
// correct engine cannot overcome is in force. Empty when owed.
std::string Runner::not_owed_reason() const {
  const auto deployed = deployed_artifacts(suite_->canonical().entries());
  if (!faults_.rates_in_force.empty()) return faults_.rates_in_force.begin()->second;
  for (const auto& [artifact, rates] : faults_.failure_rules) {
    if (rates.first == 0 && rates.second == 0) continue;
    if (artifact == "*" ? !deployed.empty() : deployed.count(artifact) != 0) {
      return fmt::format("slice failure rates for {} are not 0", artifact);
    }
  }
  // Issue 10 adds stall, lost-submit and quorum-reorder rates to sim/: when
  // one is in force, convergence is not owed. None exists yet.
  const auto configured = world_->configured_nodes();
  if (faults_.partitioned) {
    // Group indices each node talks in; the extra group is the nodes named
    // nowhere plus those healed into every group.
    const std::size_t extra = faults_.groups.size();
    std::map<NodeId, std::set<std::size_t>> member;
    for (const auto& node : configured) {
      for (std::size_t g = 0; g < faults_.groups.size(); ++g) {
        if (faults_.groups[g].count(node) != 0) member[node].insert(g);
      }
      if (member[node].empty() || faults_.healed_into_all.count(node) != 0) {
        member[node].insert(extra);
        if (faults_.healed_into_all.count(node) != 0) {
          for (std::size_t g = 0; g < faults_.groups.size(); ++g) member[node].insert(g);
        }
      }
    }
    for (std::size_t i = 0; i < configured.size(); ++i) {
      for (std::size_t j = i + 1; j < configured.size(); ++j) {
        const auto& a = member[configured[i]];
        const auto& b = member[configured[j]];
        const bool talk = std::any_of(a.begin(), a.end(), [&](std::size_t g) { return b.count(g) != 0; });
        if (!talk)
          return fmt::format("a partition is in force ({} and {} cannot talk)", configured[i], configured[j]);
      }
    }
  }
  if (!faults_.isolated.empty()) return fmt::format("{} is isolated", *faults_.isolated.begin());
  for (const auto& [link, rule] : faults_.links) {
    // A link that only loses some messages (retransmitted) is slow, not cut.
    if (rule.loss_ppm >= 990'000 || rule.delay_ns > 0) {
      return fmt::format("a link rule {} -> {} is in force (loss {}ppm, delay {})", link.first, link.second,
                         rule.loss_ppm, dur(rule.delay_ns));
    }
  }
  const auto& net = cluster_->network_settings();
  const Nanos timeout = std::min(config_.command_timeout_ns, config_.write_timeout_ns);
  if (4 * net.latency_max_ns >= timeout) {
    return fmt::format("4 x the maximum latency ({}) is not below min(write_timeout, command_timeout) ({})",
                       dur(4 * net.latency_max_ns), dur(timeout));
  }
  std::size_t up = 0;
  for (const auto& node : configured) {
    if (world_->is_paused(node)) return fmt::format("{} is paused", node);
    if (world_->is_up(node)) ++up;
  }
  if (up < configured.size() / 2 + 1) {
    return fmt::format("only {} of {} configured nodes are up", up, configured.size());
  }
  return "";
}

bool Runner::valid_for(const NodeId& node, Need need) const {
  const auto configured = world_->configured_nodes();
  const bool is_configured = std::binary_search(configured.begin(), configured.end(), node);
  if (!is_configured) return false;
  switch (need) {
    case Need::Up:
      return world_->is_up(node);
    case Need::UpUnpaused:
      return world_->is_up(node) && !world_->is_paused(node);
    case Need::Crashed:
      return !world_->is_up(node);
    case Need::Paused:
      return world_->is_up(node) && world_->is_paused(node);
    case Need::Configured:
      return true;
  }
  return false;
}

std::optional<NodeId> Runner::leader_target() const {
  if (config_.leader_election == engine::LeaderElection::Consensus) {
    auto value = suite_->canonical().get(std::string(engine::kLeaderKey));
    if (!value) return std::nullopt;
    return ref::read_leader(*value);
  }
  for (const auto& node : world_->configured_nodes()) {
    if (world_->is_up(node) && world_->cdm_active(node)) return node;
  }
  return std::nullopt;
}

const char* need_text(int need) {
  static const char* kText[] = {"up", "up and not paused", "crashed", "paused", "configured"};
  return kText[need];
}

// Which nodes a target of `need` may name now, and the state of every
// configured node: "valid now: node-2, node-3; up: node-2, node-3; paused:
// node-4; crashed: node-1".
std::string Runner::valid_targets_now(Need need) const {
  std::vector<std::string> valid;
  std::vector<std::string> up;
  std::vector<std::string> paused;
  std::vector<std::string> crashed;
  for (const auto& node : world_->configured_nodes()) {
    if (valid_for(node, need)) valid.push_back(node);
    if (!world_->is_up(node)) {
      crashed.push_back(node);
    } else if (world_->is_paused(node)) {
      paused.push_back(node);
    } else {
      up.push_back(node);
    }
  }
  auto list = [](const std::vector<std::string>& nodes) {
    return nodes.empty() ? std::string("none") : fmt::format("{}", fmt::join(nodes, ", "));
  };
  return fmt::format("valid now: {}; up: {}; paused: {}; crashed: {}", list(valid), list(up), list(paused),
                     list(crashed));
}

std::optional<NodeId> Runner::resolve(const scenarios::Step& step, const scenarios::Target& target,
                                      Need need) {
  const char* want = need_text(static_cast<int>(need));
  switch (target.kind) {
    case scenarios::Target::Kind::Node:
      if (!valid_for(target.node, need)) {
        input_error(step, fmt::format("target {} is not {} at this instant ({})", target.node, want,
                                      valid_targets_now(need)));
        return std::nullopt;
      }
      return target.node;
    case scenarios::Target::Kind::Leader: {
      auto leader = leader_target();
      if (!leader) {
        input_error(step, "target \"leader\": there is no leader at this instant");
        return std::nullopt;
      }
      if (!valid_for(*leader, need)) {
        input_error(step, fmt::format("target \"leader\" ({}) is not {} at this instant ({})", *leader, want,
                                      valid_targets_now(need)));
        return std::nullopt;
      }
      return leader;
    }
    case scenarios::Target::Kind::Random: {
      std::vector<NodeId> candidates;
      for (const auto& node : world_->configured_nodes()) {
        if (valid_for(node, need)) candidates.push_back(node);
      }
      if (candidates.empty()) {
        input_error(step, fmt::format("target \"random\": no node is {} at this instant ({})", want,
                                      valid_targets_now(need)));
        return std::nullopt;
      }
      return candidates[static_cast<std::size_t>(scenario_prng_.below(candidates.size()))];
    }
  }
  return std::nullopt;
}

void Runner::client_write(const scenarios::Step& step, const std::string& client, engine::KvBatch batch,
                          const std::optional<NodeId>& via) {
  ++pending_client_writes_;
  const std::string path = step.path;
  std::optional<NodeId> through = via;
  if (!through) {
    // The client's default (top-level "clients").
    if (auto spec = scenario_.clients.find(client); spec != scenario_.clients.end())
      through = spec->second.via;
  }
  cluster_->client_write(
      client, std::move(batch),
      [this, path] {
        const Nanos now = cluster_->loop().now();
        result_.client_commits.emplace_back(path, now);
        last_client_commit_ = std::max(last_client_commit_, now);
        --pending_client_writes_;
        if (!steps_done_) return;
        if (now <= last_step_at_ + timing_.bound_ns) {
          decide_t0();
        } else {
          pending_at_t0_ = pending_client_writes_;  // committed too late to move T0
        }
      },
      through);
}

void Runner::run_step(const scenarios::Step& step) {
  if (stopped_) return;
  const Nanos now = cluster_->loop().now();
  // A `step` event: path, step kind, then the fields of that kind
  // (docs/trace-format.md): `node` only for node targets.
  // event(kind), event(kind, node) or event(kind, {{"field", value}, ...}).
  struct StepEvent {
    sim::Trace& trace;
    Nanos now;
    const scenarios::Step& step;
    void operator()(const char* kind,
                    std::initializer_list<std::pair<const char*, std::string>> fields = {}) const {
      auto e = trace.event(now, "step");
      e.str("path", step.path).str("step", kind);
      for (const auto& [key, value] : fields) e.str(key, value);
    }
    void operator()(const char* kind, const std::string& node) const { (*this)(kind, {{"node", node}}); }
  };
  const StepEvent event{trace_, now, step};
  std::visit(
      [&](const auto& action) {
        using T = std::decay_t<decltype(action)>;
        if constexpr (std::is_same_v<T, scenarios::BlueprintStep>) {
          const std::string id = action.blueprint.value("id", std::string());
          event("blueprint", {{"id", id}});
          client_write(step, action.client,
                       {engine::KvCommand::put(engine::blueprint_key(id), action.blueprint.dump())},
                       action.via);
        } else if constexpr (std::is_same_v<T, scenarios::RemoveBlueprintStep>) {
          event("remove_blueprint", {{"id", action.id}});
          client_write(step, action.client, {engine::KvCommand::remove(engine::blueprint_key(action.id))},
                       action.via);
        } else if constexpr (std::is_same_v<T, scenarios::ScaleStep>) {
          trace_.event(now, "step")
              .str("path", step.path)
              .str("step", "scale")
              .str("artifact", action.base)
              .u64("instances", static_cast<std::uint64_t>(action.instances));
          const auto key = engine::slice_target_key(action.base);
          auto value = suite_->canonical().get(key);
          auto current = value ? ref::read_target(*value) : std::nullopt;
          if (!current) {
            input_error(step, fmt::format("scale: {} has no slice-target at this instant (no blueprint that "
                                          "declares it has committed yet)",
                                          action.base));
            return;
          }
          const engine::SliceTarget target{current->version, action.instances,
                                           std::min(current->min_instances, action.instances), current->owner,
                                           current->failed};
          client_write(step, action.client,
                       {engine::KvCommand::put(key, engine::encode_slice_target(target))}, action.via);
        } else if constexpr (std::is_same_v<T, scenarios::KvPutStep>) {
          event("kv_put", {{"key", action.key}});
          client_write(step, action.client, {engine::KvCommand::put(action.key, action.value)}, action.via);
        } else if constexpr (std::is_same_v<T, scenarios::KvRemoveStep>) {
          event("kv_remove", {{"key", action.key}});
          client_write(step, action.client, {engine::KvCommand::remove(action.key)}, action.via);
        } else if constexpr (std::is_same_v<T, scenarios::DrainStep>) {
          const char* kind = action.undrain ? "undrain" : "drain";
          auto node = resolve(step, action.target, Need::Up);
          if (!node) return;
          event(kind, {{"node", *node}});
          // The operator's API reads the node's lifecycle first
          // (engine-semantics.md §8.2): drain only from ON_DUTY, undrain only
          // from DRAINING or DECOMMISSIONED.
          const auto key = engine::node_lifecycle_key(*node);
          const auto value = suite_->canonical().get(key);
          const auto state = value ? ref::read_node_state(*value) : std::nullopt;
          const bool from_ok =
              action.undrain ? (state == ref::NodeState::Draining || state == ref::NodeState::Decommissioned)
                             : state == ref::NodeState::OnDuty;
          if (!from_ok) {
            input_error(step, fmt::format("{}: {} is {} at this instant; {} needs {}", kind, key,
                                          value ? *value : std::string("absent"), kind,
                                          action.undrain ? "DRAINING or DECOMMISSIONED" : "ON_DUTY"));
            return;
          }
          const auto to = action.undrain ? ref::NodeState::OnDuty : ref::NodeState::Draining;
          client_write(step, action.client, {engine::KvCommand::put(key, ref::node_state_name(to))},
                       action.via);
        } else if constexpr (std::is_same_v<T, scenarios::CrashStep>) {
          if (auto node = resolve(step, action.target, Need::Up)) {
            event("crash", {{"node", *node}});
            figures_->fault(now, "crash " + *node);
            cluster_->crash(*node);
          }
        } else if constexpr (std::is_same_v<T, scenarios::RestartStep>) {
          if (auto node = resolve(step, action.target, Need::Crashed)) {
            event("restart", {{"node", *node}});
            cluster_->restart(*node);
          }
        } else if constexpr (std::is_same_v<T, scenarios::PauseStep>) {
          if (auto node = resolve(step, action.target, Need::UpUnpaused)) {
            event("pause", {{"node", *node}});
            figures_->fault(now, "pause " + *node);
            cluster_->pause(*node);
          }
        } else if constexpr (std::is_same_v<T, scenarios::ResumeStep>) {
          if (auto node = resolve(step, action.target, Need::Paused)) {
            event("resume", {{"node", *node}});
            cluster_->resume(*node);
          }
        } else if constexpr (std::is_same_v<T, scenarios::AddNodeStep>) {
          engine::NodeAttributes attributes = scenario_.cluster.attributes_of("");
          if (action.zone) attributes.zone = *action.zone;
          if (action.capacity) attributes.capacity = *action.capacity;
          const auto node = cluster_->add_node(action.id, attributes);
          if (!node) {
            input_error(step, fmt::format("add_node: the id {} was already used", action.id.value_or("")));
            return;
          }
          event("add_node", {{"node", *node}});
        } else if constexpr (std::is_same_v<T, scenarios::RemoveNodeStep>) {
          if (auto node = resolve(step, action.target, Need::Configured)) {
            event("remove_node", {{"node", *node}});
            figures_->fault(now, "remove_node " + *node);
            cluster_->remove_node(*node);
          }
        } else if constexpr (std::is_same_v<T, scenarios::PartitionStep>) {
          std::vector<std::vector<NodeId>> groups;
          for (const auto& group : action.groups) {
            std::vector<NodeId> members;
            for (const auto& target : group) {
              auto node = resolve(step, target, Need::Configured);
              if (!node) return;
              members.push_back(*node);
            }
            groups.push_back(std::move(members));
          }
          event("partition");
          figures_->fault(now, "partition");
          faults_.partitioned = true;
          faults_.healed_into_all.clear();
          faults_.groups.clear();
          for (const auto& g : groups) faults_.groups.emplace_back(g.begin(), g.end());
          cluster_->partition(groups);
        } else if constexpr (std::is_same_v<T, scenarios::IsolateStep>) {
          if (auto node = resolve(step, action.target, Need::UpUnpaused)) {
            event("isolate", {{"node", *node}});
            figures_->fault(now, "isolate " + *node);
            faults_.isolated.insert(*node);
            cluster_->isolate(*node);
          }
        } else if constexpr (std::is_same_v<T, scenarios::LinkStep>) {
          auto from = resolve(step, action.from, Need::Configured);
          if (!from) return;
          auto to = resolve(step, action.to, Need::Configured);
          if (!to) return;
          event("link", {{"from", *from}, {"to", *to}});
          faults_.links[{*from, *to}] = sim::LinkRule{action.loss_ppm, action.delay};
          cluster_->link(*from, *to, sim::LinkRule{action.loss_ppm, action.delay});
        } else if constexpr (std::is_same_v<T, scenarios::HealStep>) {
          if (!action.node) {
            event("heal");
            faults_ = FaultState{faults_.failure_rules, false, {}, {}, {}, {}, faults_.rates_in_force};
            cluster_->heal();
            return;
          }
          if (auto node = resolve(step, *action.node, Need::Configured)) {
            event("heal", {{"node", *node}});
            if (faults_.partitioned) faults_.healed_into_all.insert(*node);
            faults_.isolated.erase(*node);
            std::erase_if(faults_.links,
                          [&](const auto& l) { return l.first.first == *node || l.first.second == *node; });
            cluster_->heal(*node);
          }
        } else if constexpr (std::is_same_v<T, scenarios::NetworkStep>) {
          event("network");
          auto settings = cluster_->network_settings();
          if (action.latency) {
            settings.latency_min_ns = action.latency->min;
            settings.latency_max_ns = action.latency->max;
          }
          if (action.drop_ppm) settings.drop_ppm = *action.drop_ppm;
          if (action.duplicate_ppm) settings.duplicate_ppm = *action.duplicate_ppm;
          if (action.latency || action.drop_ppm || action.duplicate_ppm) cluster_->set_network(settings);
          if (action.stall) {
            const auto& st = *action.stall;
            cluster_->set_stall(sim::StallSettings{st.rate_ppm, st.length.min, st.length.max});
            faults_.rates_in_force.erase("stall");
            if (st.rate_ppm > 0) faults_.rates_in_force["stall"] = "stall rate is not 0";
          }
        } else if constexpr (std::is_same_v<T, scenarios::SliceFailuresStep>) {
          event("slice_failures", {{"artifact", action.artifact}});
          faults_.failure_rules[action.artifact] = {action.transient_ppm, action.fatal_ppm};
          sim::SliceFailureRule rule;
          rule.artifact = action.artifact;
          rule.phase = action.phase == scenarios::FailurePhase::Load       ? sim::FailurePhase::Load
                       : action.phase == scenarios::FailurePhase::Activate ? sim::FailurePhase::Activate
                                                                           : sim::FailurePhase::Any;
          rule.transient_ppm = action.transient_ppm;
          rule.fatal_ppm = action.fatal_ppm;
          cluster_->set_slice_failure_rule(rule);
        } else if constexpr (std::is_same_v<T, scenarios::LoseSubmitsStep>) {
          if (action.node && !resolve(step, scenarios::Target{scenarios::Target::Kind::Node, *action.node},
                                      Need::Configured)) {
            return;
          }
          const std::string node = action.node.value_or("");
          const std::string writer = action.writer == "*" ? "" : action.writer;
          event("lose_submits",
                {{"node", node.empty() ? "*" : node}, {"writer", writer.empty() ? "*" : writer}});
          cluster_->set_lost_submit_rule(node, writer, action.rate_ppm);
          const std::string rule =
              fmt::format("lose_submits {} {}", node.empty() ? "*" : node, writer.empty() ? "*" : writer);
          faults_.rates_in_force.erase(rule);
          if (action.rate_ppm > 0) faults_.rates_in_force[rule] = rule + " rate is not 0";
        } else if constexpr (std::is_same_v<T, scenarios::ReorderQuorumEventsStep>) {
          if (action.node && !resolve(step, scenarios::Target{scenarios::Target::Kind::Node, *action.node},
                                      Need::Configured)) {
            return;
          }
          event("reorder_quorum_events", action.node.value_or("*"));
          cluster_->set_quorum_reorder(action.node.value_or(""), action.rate_ppm);
          const std::string rule = fmt::format("reorder_quorum_events {}", action.node.value_or("*"));
          faults_.rates_in_force.erase(rule);
          if (action.rate_ppm > 0) faults_.rates_in_force[rule] = rule + " rate is not 0";
        } else if constexpr (std::is_same_v<T, scenarios::ExpectStep>) {
          event("expect");
          const Nanos within = action.within.value_or(0);
          std::visit(
              [&](const auto& what) {
                using W = std::decay_t<decltype(what)>;
                if constexpr (std::is_same_v<W, scenarios::ExpectConverged>) {
                  const auto cut = expect_cutoff_.find(step.path);
                  monitor_->expect_converged(
                      step.path, now, within,
                      cut == expect_cutoff_.end() ? std::nullopt : std::optional<Nanos>(cut->second));
                } else if constexpr (std::is_same_v<W, scenarios::ExpectLeader>) {
                  monitor_->expect_leader(step.path, now, within, what.node);
                } else if constexpr (std::is_same_v<W, scenarios::ExpectInstances>) {
                  std::map<std::string, std::pair<std::optional<int>, std::optional<int>>> counts;
                  for (const auto& [artifact, c] : what.by_artifact) counts[artifact] = {c.total, c.active};
                  monitor_->expect_instances(step.path, now, within, std::move(counts));
                } else if constexpr (std::is_same_v<W, scenarios::ExpectAvailable>) {
                  monitor_->expect_available(step.path, now, what.hold_for, what.min_active);
                } else if constexpr (std::is_same_v<W, scenarios::ExpectNoViolations>) {
                  monitor_->expect_no_violations(step.path, now);
                } else if constexpr (std::is_same_v<W, scenarios::ExpectViolates>) {
                  monitor_->expect_violates(step.path, now, what.invariant);
                } else if constexpr (std::is_same_v<W, scenarios::ExpectAtMost>) {
                  std::map<std::string, std::pair<std::optional<int>, std::optional<int>>> limits;
                  for (const auto& [artifact, c] : what.by_artifact) limits[artifact] = {c.total, c.active};
                  monitor_->expect_at_most(step.path, now, what.hold_for, std::move(limits));
                } else if constexpr (std::is_same_v<W, scenarios::ExpectWrites>) {
                  monitor_->expect_writes(step.path, now, what.hold_for, what.max);
                }
              },
              action.what);
        }
      },
      step.action);
}

RunResult Runner::run() {
  result_.seed = seed_;
  if (!build()) {
    result_.verdict = Verdict::InputError;
    return result_;
  }
  schedule_steps();
  auto& loop = cluster_->loop();
  Nanos end = 0;
  while (!stopped_) {
    end = end_time();
    const Nanos next = loop.next_time();
    if (next < 0 || next > end) break;
    loop.step();
    if (loop.events_processed() > scenario_.max_events) {
      recorder_.violation(invariant::kEventBudget, loop.now(), "",
                          fmt::format("more than {} events by {}", scenario_.max_events, dur(loop.now())));
      stopped_ = true;
      break;
    }
    if (loop.next_time() != loop.now()) {
      suite_->settle(loop.now());
      monitor_->settle(loop.now());
      figures_->settle(loop.now());
    }
    if (options_.progress && loop.events_processed() % options_.progress_every == 0) {
      options_.progress(loop.now(), loop.events_processed(), end);
    }
  }
  if (!result_.input_error.empty()) {
    result_.verdict = Verdict::InputError;
    result_.events = loop.events_processed();
    result_.trace_hash = trace_.hash();
    result_.simulated_end = loop.now();
    return result_;
  }
  if (!stopped_) {
    end = end_time();
    if (end != std::numeric_limits<Nanos>::max() && end > loop.now()) loop.run_until(end);
  }
  suite_->settle(loop.now());
  monitor_->finish(loop.now());

  result_.violations = recorder_.violations();
  result_.reported = recorder_.reported();
  result_.expectations = monitor_->results();
  result_.convergence = monitor_->convergence();
  result_.convergence.pending_client_writes = pending_at_t0_;
  result_.counters = counters_.counters;
  result_.pinned = monitor_->pinned_invariants();
  result_.simulated_end = loop.now();
  {
    const auto& c = result_.convergence;
    std::string note;
    if (!c.checked) {
      note = "not checked";
    } else if (!c.owed) {
      note = "not owed: " + c.not_owed_reason;
    } else if (!c.held) {
      note = "not converged: " + (c.blocker.empty() ? std::string("?") : c.blocker);
    }
    figures_->finish(loop.now(), c.held ? c.converged_at : std::nullopt, std::move(note));
    result_.figures = figures_->figures();
  }

  bool failed = false;
  for (const auto& v : result_.violations) {
    if (std::find(result_.pinned.begin(), result_.pinned.end(), v.invariant) == result_.pinned.end())
      failed = true;
  }
  for (const auto& e : result_.expectations) failed = failed || !e.held;
  if (result_.convergence.owed && !result_.convergence.held) failed = true;
  result_.verdict = failed ? Verdict::Fail : Verdict::Pass;

  for (const auto& e : result_.expectations) {
    auto event = trace_.event(loop.now(), "check.expectation");
    event.str("path", e.path).flag("held", e.held);
    if (e.met_at) event.i64("met_ns", *e.met_at);  // the instant it was met (docs/trace-format.md)
    event.str("detail", e.detail);
  }
  {
    auto event = trace_.event(loop.now(), "check.convergence");
    event.flag("owed", result_.convergence.owed).flag("held", result_.convergence.held);
    if (result_.convergence.held && result_.convergence.converged_at) {
      event.i64("converged_ns", *result_.convergence.converged_at);
    }
    event.str("blocker", result_.convergence.blocker);
    if (!result_.convergence.unplaced.empty())
      event.str("unplaced", fmt::format("{}", fmt::join(result_.convergence.unplaced, "; ")));
  }
  write_report_events(trace_, loop.now(), result_, scenario_, engine::engine_config_to_json(config_),
                      loop.events_processed());
  trace_.event(loop.now(), "run.end").str("verdict", verdict_name(result_.verdict));
  result_.events = loop.events_processed();
  result_.trace_hash = trace_.hash();
  return result_;
}

}  // namespace

RunResult run_scenario(const scenarios::Scenario& scenario, const RunOptions& options) {
  try {
    Runner runner(scenario, options);
    return runner.run();
  } catch (const std::exception& e) {
    RunResult result;
    result.seed = options.seed;
    result.verdict = Verdict::FrameworkError;
    result.framework_error = e.what();
    return result;
  }
}

}  // namespace aether::properties
