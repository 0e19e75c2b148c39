#include "properties/run_figures.h"

#include <algorithm>

#include "engine/artifact.h"
#include "engine/kv_schema.h"
#include "properties/convergence.h"

namespace aether::properties {

std::optional<Nanos> RunFigures::longest_recovery() const {
  if (failovers.empty() || unrecovered()) return std::nullopt;
  Nanos longest = 0;
  for (const auto& f : failovers) longest = std::max(longest, *f.recovery());
  return longest;
}

bool RunFigures::unrecovered() const {
  return std::any_of(failovers.begin(), failovers.end(), [](const auto& f) { return !f.recovery(); });
}

void FiguresObserver::fault(Nanos now, std::string label) {
  // Several faults at one instant are one failover.
  if (!figures_.failovers.empty() && figures_.failovers.back().fault_at == now) {
    figures_.failovers.back().fault += ", " + label;
    return;
  }
  FailoverFigure f;
  f.fault_at = now;
  f.fault = std::move(label);
  figures_.failovers.push_back(std::move(f));
  touch();
}

void FiguresObserver::on_decide(Nanos, std::uint64_t, const sim::BatchRecord& batch) {
  touch();
  const bool engine_write =
      std::any_of(batch.submitters.begin(), batch.submitters.end(),
                  [](const sim::Submitter& s) { return s.writer.rfind("client:", 0) != 0; });
  if (engine_write) ++figures_.engine_writes;
}

void FiguresObserver::on_slice_op_done(Nanos, const NodeId&, const std::string&, sim::SliceOp op,
                                       const engine::SliceResult& result) {
  touch();
  if (op == sim::SliceOp::Activate && !result) ++pending_activations_;
}

void FiguresObserver::settle(Nanos now) {
  if (settled_generation_ == generation_) return;
  settled_generation_ = generation_;
  const auto& store = suite_.canonical().entries();

  std::map<std::string, std::int64_t> desired;
  const DesiredState state = desired_state(store);
  for (const auto& [base, d] : state.owned) {
    if (!d.excluded && d.target && d.target->instances > 0) desired[base] = d.target->instances;
  }
  // Counted instances: ACTIVE key on a live node whose slice store holds the
  // artifact active (the definition of simulation.md §5), per base.
  const Liveness live = liveness(world_);
  std::map<std::string, std::int64_t> counted;
  std::map<NodeId, std::vector<std::pair<std::string, engine::SliceHolding>>> holdings;
  const std::string prefix(engine::kSlicePrefix);
  for (auto it = store.lower_bound(prefix);
       it != store.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
    auto key = engine::parse_slice_key(it->first);
    if (!key || live.live.count(key->node) == 0) continue;
    auto value = engine::parse_slice_value(it->second);
    if (!value || value->state != engine::SliceState::Active) continue;
    auto held = holdings.find(key->node);
    if (held == holdings.end()) held = holdings.emplace(key->node, world_.slice_holdings(key->node)).first;
    for (const auto& [artifact, holding] : held->second) {
      if (artifact == key->artifact && holding == engine::SliceHolding::Active) {
        ++counted[engine::base_of(key->artifact)];
        break;
      }
    }
  }
  std::int64_t want = 0;
  std::int64_t have = 0;
  for (const auto& [base, n] : desired) {
    want += n;
    auto c = counted.find(base);
    have += c == counted.end() ? 0 : std::min(c->second, n);
  }
  const bool full = have == want;

  if (!figures_.full_at && full && want > 0) {
    figures_.full_at = now;
    figures_.worst_active = have;
    figures_.worst_desired = want;
    figures_.worst_at = now;
    pending_activations_ = 0;
    desired_ = desired;
  } else if (figures_.full_at) {
    for (const auto& [base, n] : desired) {
      auto before = desired_.find(base);
      const std::int64_t was = before == desired_.end() ? 0 : before->second;
      if (n > was) figures_.desired_growth += n - was;
    }
    desired_ = desired;
    figures_.activations_after_full += pending_activations_;
    pending_activations_ = 0;
    // A lower fraction than the worst so far (cross-multiplied; nothing
    // desired counts as 100%).
    if (want > 0 && have * figures_.worst_desired < figures_.worst_active * want) {
      figures_.worst_active = have;
      figures_.worst_desired = want;
      figures_.worst_at = now;
    }
  } else {
    pending_activations_ = 0;
  }

  for (auto& f : figures_.failovers) {
    if (f.recovered_at || now < f.fault_at) continue;
    if (!full) {
      f.lost = true;
    } else if (f.lost) {
      f.recovered_at = now;
    }
  }
}

void FiguresObserver::finish(Nanos end, std::optional<Nanos> converged_at, std::string convergence_note) {
  settle(end);
  figures_.run_end = end;
  figures_.converged_at = converged_at;
  figures_.convergence_note = std::move(convergence_note);
}

}  // namespace aether::properties
