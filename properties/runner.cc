#include "properties/runner.h"

#include <algorithm>
#include <exception>
#include <limits>
#include <memory>
#include <set>

#include <fmt/format.h>

#include "engine/config.h"
#include "engine/deployment_runtime.h"
#include "engine/duration.h"
#include "engine/kv_schema.h"
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

ConvergenceTiming convergence_timing(const scenarios::Scenario& scenario, Nanos reconciliation_interval_ns) {
  const auto& s = scenario.cluster.slices;
  const Nanos longest_phase = std::max({s.load.max, s.activate.max, s.deactivate.max, s.unload.max});
  ConvergenceTiming t;
  t.bound_ns = std::max(engine::seconds(60),
                        2 * scenario.cluster.failure_detection + reconciliation_interval_ns + longest_phase);
  t.quiet_ns = reconciliation_interval_ns + engine::seconds(5);
  return t;
}

namespace {

std::string dur(Nanos ns) {
  return engine::format_duration(ns);
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
  std::vector<std::pair<NodeId, NodeId>> links;
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
  std::optional<NodeId> resolve(const scenarios::Step& step, const scenarios::Target& target, Need need);

  void client_write(const scenarios::Step& step, const std::string& client, engine::KvBatch batch);

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
  std::unique_ptr<RunMonitor> monitor_;
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
};

bool Runner::build() {
  config_ = engine::EngineConfig{};
  const auto errors = engine::parse_engine_config(scenario_.config, config_);
  if (!errors.empty()) {
    result_.input_error = fmt::format("config.{}: {}", errors.front().path, errors.front().message);
    return false;
  }
  if (!config_.leader_timeout_ns) config_.leader_timeout_ns = scenario_.cluster.failure_detection;
  timing_ = convergence_timing(scenario_, config_.reconciliation_interval_ns);

  sim::SimConfig sc;
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

  if (options_.trace_jsonl != nullptr) trace_.set_jsonl_sink(options_.trace_jsonl);
  if (options_.trace_line_observer) trace_.set_line_observer(options_.trace_line_observer);
  trace_.event(0, "run.start").u64("seed", seed_).str("scenario", scenario_.name);

  cluster_ = std::make_unique<sim::SimCluster>(sc, trace_, engine::make_deployment_runtime_factory(config_));
  world_ = std::make_unique<SimWorldQueries>(*cluster_);
  suite_ = std::make_unique<InvariantSuite>(recorder_, *world_, seed_);
  suite_->set_rules(
      CheckRules{config_.leader_election == engine::LeaderElection::Consensus, config_.transient_retry_max});
  ConvergenceRules rules;
  rules.history = suite_.get();
  rules.bound_ns = timing_.bound_ns;
  rules.balance =
      config_.reconciliation == engine::ReconciliationStrategy::Aggressive && config_.auto_rebalancing;
  monitor_ = std::make_unique<RunMonitor>(*suite_, *world_, recorder_, rules, timing_.quiet_ns);
  cluster_->add_observer(suite_.get());
  cluster_->add_observer(monitor_.get());
  cluster_->add_observer(&counters_);
  return true;
}

void Runner::schedule_steps() {
  auto& loop = cluster_->loop();
  bool any_step = false;
  for (const auto& step : scenario_.steps) {
    static_end_ = std::max(static_end_, step.at);
    if (const auto* expect = std::get_if<scenarios::ExpectStep>(&step.action)) {
      const Nanos within = expect->within.value_or(0);
      if (std::holds_alternative<scenarios::ExpectConverged>(expect->what)) {
        static_end_ = std::max(static_end_, step.at + within + timing_.quiet_ns);
      } else if (const auto* available = std::get_if<scenarios::ExpectAvailable>(&expect->what)) {
        static_end_ = std::max(static_end_, step.at + available->hold_for);
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
  if (pending_client_writes_ == 0) {
    decide_t0();
    return;
  }
  // A client write that never commits: give it the whole bound, then judge
  // convergence from S anyway (the state will name what blocks it).
  cluster_->loop().schedule_at(last_step_at_ + timing_.bound_ns, [this] {
    if (!t0_) {
      t0_ = last_step_at_;
      if (!scenario_.check_convergence) return;
      const auto reason = not_owed_reason();
      if (reason.empty()) {
        monitor_->convergence_owed(*t0_, timing_.bound_ns);
      } else {
        monitor_->convergence_not_owed(*t0_, reason);
      }
    }
  });
}

void Runner::decide_t0() {
  if (t0_) return;
  t0_ = std::max(last_step_at_, last_client_commit_);
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

std::string Runner::not_owed_reason() const {
  for (const auto& [artifact, rates] : faults_.failure_rules) {
    if (rates.first != 0 || rates.second != 0) {
      return fmt::format("slice failure rates for {} are not 0", artifact);
    }
  }
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
  if (!faults_.links.empty()) {
    return fmt::format("a link rule {} -> {} is in force", faults_.links.front().first,
                       faults_.links.front().second);
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

std::optional<NodeId> Runner::resolve(const scenarios::Step& step, const scenarios::Target& target,
                                      Need need) {
  const char* want = need_text(static_cast<int>(need));
  switch (target.kind) {
    case scenarios::Target::Kind::Node:
      if (!valid_for(target.node, need)) {
        input_error(step, fmt::format("target {} is not {} at this instant", target.node, want));
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
        input_error(step, fmt::format("target \"leader\" ({}) is not {} at this instant", *leader, want));
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
        input_error(step, fmt::format("target \"random\": no node is {} at this instant", want));
        return std::nullopt;
      }
      return candidates[static_cast<std::size_t>(scenario_prng_.below(candidates.size()))];
    }
  }
  return std::nullopt;
}

void Runner::client_write(const scenarios::Step& step, const std::string& client, engine::KvBatch batch) {
  ++pending_client_writes_;
  const std::string path = step.path;
  cluster_->client_write(client, std::move(batch), [this, path] {
    const Nanos now = cluster_->loop().now();
    result_.client_commits.emplace_back(path, now);
    last_client_commit_ = std::max(last_client_commit_, now);
    --pending_client_writes_;
    if (steps_done_ && pending_client_writes_ == 0) decide_t0();
  });
}

void Runner::run_step(const scenarios::Step& step) {
  if (stopped_) return;
  const Nanos now = cluster_->loop().now();
  auto event = [&](const char* kind, const std::string& node = "") {
    trace_.event(now, "step").str("path", step.path).str("step", kind).str("node", node);
  };
  std::visit(
      [&](const auto& action) {
        using T = std::decay_t<decltype(action)>;
        if constexpr (std::is_same_v<T, scenarios::BlueprintStep>) {
          const std::string id = action.blueprint.value("id", std::string());
          event("blueprint", id);
          client_write(step, action.client,
                       {engine::KvCommand::put(engine::blueprint_key(id), action.blueprint.dump())});
        } else if constexpr (std::is_same_v<T, scenarios::RemoveBlueprintStep>) {
          event("remove_blueprint", action.id);
          client_write(step, action.client, {engine::KvCommand::remove(engine::blueprint_key(action.id))});
        } else if constexpr (std::is_same_v<T, scenarios::ScaleStep>) {
          event("scale", action.base);
          const auto key = engine::slice_target_key(action.base);
          auto value = suite_->canonical().get(key);
          auto current = value ? ref::read_target(*value) : std::nullopt;
          if (!current) {
            input_error(step, fmt::format("scale: {} has no slice-target", action.base));
            return;
          }
          const engine::SliceTarget target{current->version, action.instances,
                                           std::min(current->min_instances, action.instances), current->owner,
                                           current->failed};
          client_write(step, action.client,
                       {engine::KvCommand::put(key, engine::encode_slice_target(target))});
        } else if constexpr (std::is_same_v<T, scenarios::KvPutStep>) {
          event("kv_put", action.key);
          client_write(step, action.client, {engine::KvCommand::put(action.key, action.value)});
        } else if constexpr (std::is_same_v<T, scenarios::KvRemoveStep>) {
          event("kv_remove", action.key);
          client_write(step, action.client, {engine::KvCommand::remove(action.key)});
        } else if constexpr (std::is_same_v<T, scenarios::CrashStep>) {
          if (auto node = resolve(step, action.target, Need::Up)) {
            event("crash", *node);
            cluster_->crash(*node);
          }
        } else if constexpr (std::is_same_v<T, scenarios::RestartStep>) {
          if (auto node = resolve(step, action.target, Need::Crashed)) {
            event("restart", *node);
            cluster_->restart(*node);
          }
        } else if constexpr (std::is_same_v<T, scenarios::PauseStep>) {
          if (auto node = resolve(step, action.target, Need::UpUnpaused)) {
            event("pause", *node);
            cluster_->pause(*node);
          }
        } else if constexpr (std::is_same_v<T, scenarios::ResumeStep>) {
          if (auto node = resolve(step, action.target, Need::Paused)) {
            event("resume", *node);
            cluster_->resume(*node);
          }
        } else if constexpr (std::is_same_v<T, scenarios::AddNodeStep>) {
          const auto node = cluster_->add_node(action.id);
          if (!node) {
            input_error(step, fmt::format("add_node: the id {} was already used", action.id.value_or("")));
            return;
          }
          event("add_node", *node);
        } else if constexpr (std::is_same_v<T, scenarios::RemoveNodeStep>) {
          if (auto node = resolve(step, action.target, Need::Configured)) {
            event("remove_node", *node);
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
          faults_.partitioned = true;
          faults_.healed_into_all.clear();
          faults_.groups.clear();
          for (const auto& g : groups) faults_.groups.emplace_back(g.begin(), g.end());
          cluster_->partition(groups);
        } else if constexpr (std::is_same_v<T, scenarios::IsolateStep>) {
          if (auto node = resolve(step, action.target, Need::UpUnpaused)) {
            event("isolate", *node);
            faults_.isolated.insert(*node);
            cluster_->isolate(*node);
          }
        } else if constexpr (std::is_same_v<T, scenarios::LinkStep>) {
          auto from = resolve(step, action.from, Need::Configured);
          if (!from) return;
          auto to = resolve(step, action.to, Need::Configured);
          if (!to) return;
          event("link", *from + "->" + *to);
          faults_.links.emplace_back(*from, *to);
          cluster_->link(*from, *to, sim::LinkRule{action.loss_ppm, action.delay});
        } else if constexpr (std::is_same_v<T, scenarios::HealStep>) {
          if (!action.node) {
            event("heal");
            faults_ = FaultState{faults_.failure_rules, false, {}, {}, {}, {}};
            cluster_->heal();
            return;
          }
          if (auto node = resolve(step, *action.node, Need::Configured)) {
            event("heal", *node);
            if (faults_.partitioned) faults_.healed_into_all.insert(*node);
            faults_.isolated.erase(*node);
            std::erase_if(faults_.links,
                          [&](const auto& l) { return l.first == *node || l.second == *node; });
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
          cluster_->set_network(settings);
        } else if constexpr (std::is_same_v<T, scenarios::SliceFailuresStep>) {
          event("slice_failures", action.artifact);
          faults_.failure_rules[action.artifact] = {action.transient_ppm, action.fatal_ppm};
          sim::SliceFailureRule rule;
          rule.artifact = action.artifact;
          rule.phase = action.phase == scenarios::FailurePhase::Load       ? sim::FailurePhase::Load
                       : action.phase == scenarios::FailurePhase::Activate ? sim::FailurePhase::Activate
                                                                           : sim::FailurePhase::Any;
          rule.transient_ppm = action.transient_ppm;
          rule.fatal_ppm = action.fatal_ppm;
          cluster_->set_slice_failure_rule(rule);
        } else if constexpr (std::is_same_v<T, scenarios::ExpectStep>) {
          event("expect");
          const Nanos within = action.within.value_or(0);
          std::visit(
              [&](const auto& what) {
                using W = std::decay_t<decltype(what)>;
                if constexpr (std::is_same_v<W, scenarios::ExpectConverged>) {
                  monitor_->expect_converged(step.path, now, within);
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
  result_.counters = counters_.counters;
  result_.pinned = monitor_->pinned_invariants();
  result_.simulated_end = loop.now();

  bool failed = false;
  for (const auto& v : result_.violations) {
    if (std::find(result_.pinned.begin(), result_.pinned.end(), v.invariant) == result_.pinned.end())
      failed = true;
  }
  for (const auto& e : result_.expectations) failed = failed || !e.held;
  if (result_.convergence.owed && !result_.convergence.held) failed = true;
  result_.verdict = failed ? Verdict::Fail : Verdict::Pass;

  for (const auto& e : result_.expectations) {
    trace_.event(loop.now(), "check.expectation")
        .str("path", e.path)
        .flag("held", e.held)
        .str("detail", e.detail);
  }
  trace_.event(loop.now(), "check.convergence")
      .flag("owed", result_.convergence.owed)
      .flag("held", result_.convergence.held)
      .str("blocker", result_.convergence.blocker);
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
