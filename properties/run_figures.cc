#include "properties/run_figures.h"

#include <algorithm>

#include "engine/kv_schema.h"
#include "properties/convergence.h"
#include "properties/reference_model.h"

namespace aether::properties {

std::optional<Nanos> RunFigures::longest_recovery() const {
  if (failovers.empty() || unrecovered()) return std::nullopt;
  Nanos longest = 0;
  for (const auto& f : failovers) longest = std::max(longest, *f.recovery());
  return longest;
}

std::int64_t RunFigures::lost_capacity_ns(const std::string& base, Nanos from, Nanos to) const {
  auto it = bases.find(base);
  if (it == bases.end() || to <= from) return 0;
  const auto& points = it->second;
  std::int64_t total = 0;
  for (std::size_t i = 0; i < points.size(); ++i) {
    const Nanos start = std::max(from, points[i].at);
    const Nanos end = std::min(to, i + 1 < points.size() ? points[i + 1].at : to);
    if (end <= start) continue;
    total += (points[i].desired - points[i].active) * (end - start);
  }
  return total;
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
  for (const auto& command : batch.commands) {
    const std::string_view key = command.key;
    if (key.rfind(engine::kBlueprintPrefix, 0) == 0 || key.rfind(engine::kSliceTargetPrefix, 0) == 0) {
      desired_dirty_ = true;
    } else if (key.rfind(engine::kSlicePrefix, 0) == 0) {
      // The canonical store replayed: an ACTIVE put adds the instance, any
      // other put or a remove takes it away.
      // Read with the checks' reference model, as the checks read them.
      std::optional<ref::SliceVal> value;
      if (command.op == engine::KvOp::Put) value = ref::read_slice_value(command.value);
      const ref::Key parsed = ref::classify_key(command.key);
      auto old = active_keys_.find(command.key);
      if (old != active_keys_.end()) uncount(old->second);
      if (value && parsed.kind == ref::KeyKind::Slice && value->state == ref::State::Active) {
        active_keys_[command.key] = {parsed.node, parsed.artifact, parsed.base};
        dirty_keys_.insert(command.key);
      } else if (old != active_keys_.end()) {
        active_keys_.erase(old);
      }
    }
  }
  const bool engine_write =
      std::any_of(batch.submitters.begin(), batch.submitters.end(),
                  [](const sim::Submitter& s) { return s.writer.rfind("client:", 0) != 0; });
  if (engine_write) ++figures_.engine_writes;
}

void FiguresObserver::on_node_fault(Nanos, const NodeId& node, sim::NodeFault) {
  live_dirty_ = true;
  dirty_nodes_.insert(node);  // up or not, a new slice store at a restart
}

void FiguresObserver::on_slice_op_done(Nanos, const NodeId& node, const std::string&, sim::SliceOp op,
                                       const engine::SliceResult& result) {
  touch();
  dirty_nodes_.insert(node);  // a completed operation is what changes a slice store
  if (op == sim::SliceOp::Activate && !result) ++pending_activations_;
}

void FiguresObserver::rebuild_slots() {
  ++desired_epoch_;
  slots_.clear();
  slots_.reserve(desired_now_.size());
  for (const auto& [base, n] : desired_now_) slots_.push_back({&base, n, &figures_.bases[base]});
  // figures_.bases gains a series only for a desired base (just above), so
  // the bases desired once but not now are fixed until the next rebuild.
  stale_points_.clear();
  for (auto& [base, points] : figures_.bases) {
    if (desired_now_.count(base) == 0) stale_points_.push_back(&points);
  }
  counted_.assign(slots_.size(), 0);
}

void FiguresObserver::settle(Nanos now) {
  if (live_dirty_) touch();
  if (settled_generation_ == generation_) return;
  settled_generation_ = generation_;

  if (desired_dirty_) {
    desired_dirty_ = false;
    desired_now_.clear();
    // The client intent the checks owe (the reference model's desired count).
    const DesiredState state = desired_state(suite_.canonical().positioned(), &suite_.evidence());
    for (const auto& [base, d] : state.owned) {
      if (!d.excluded && d.count > 0) desired_now_[base] = d.count;
    }
    rebuild_slots();
  }
  live_dirty_ = false;
  const Liveness& live = live_cache_.get();
  const std::uint64_t live_epoch = live_cache_.epoch();
  // Counted instances: ACTIVE key on a live node whose slice store holds the
  // artifact active (the definition of simulation.md §5), per base. Kept per
  // key (issue 14, seventh pass): a key's count changes only with its own
  // decided value, its node's slice store (a completed operation, a node
  // fault) or its node's liveness or base's desired count (a new epoch: all
  // recounted).
  const bool all =
      !incremental_ || tallied_desired_epoch_ != desired_epoch_ || tallied_live_epoch_ != live_epoch;
  if (all) {
    std::fill(counted_.begin(), counted_.end(), 0);
    // active_keys_ is in key order, slices/{node}/...: one holdings lookup per node.
    const NodeId* holder = nullptr;
    const WorldQueries::Holdings* held = nullptr;
    for (auto& [name, key] : active_keys_) {
      key.counted_slot = kNoSlot;
      if (holder == nullptr || *holder != key.node) {
        holder = &key.node;
        held = world_.slice_holdings_view(key.node);
      }
      count(key, live, live_epoch, held);
    }
    tallied_desired_epoch_ = desired_epoch_;
    tallied_live_epoch_ = live_epoch;
  } else {
    for (const auto& node : dirty_nodes_) {
      const std::string prefix = std::string(engine::kSlicePrefix) + node + "/";
      const WorldQueries::Holdings* held = world_.slice_holdings_view(node);
      for (auto it = active_keys_.lower_bound(prefix);
           it != active_keys_.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
        uncount(it->second);
        count(it->second, live, live_epoch, held);
      }
    }
    for (const auto& name : dirty_keys_) {
      auto it = active_keys_.find(name);
      if (it == active_keys_.end()) continue;
      uncount(it->second);
      count(it->second, live, live_epoch, world_.slice_holdings_view(it->second.node));
    }
  }
  dirty_nodes_.clear();
  dirty_keys_.clear();
  // want/have: desired and counted instances (counted capped per base at
  // its desired count); placeable/placed: the same with each base's desired
  // count capped at the live nodes (at most one instance per node), what the
  // cluster can run now.
  std::int64_t want = 0;
  std::int64_t have = 0;
  std::int64_t placeable = 0;
  std::int64_t placed = 0;
  const auto live_nodes = static_cast<std::int64_t>(live.live.size());
  for (std::size_t k = 0; k < slots_.size(); ++k) {
    const std::int64_t n = slots_[k].desired;
    const std::int64_t count = counted_[k];
    want += n;
    have += std::min(count, n);
    const std::int64_t can = std::min(n, live_nodes);
    placeable += can;
    placed += std::min(count, can);
    // The report's series: desired vs counted (capped at desired).
    put_point(*slots_[k].points, now, n, std::min(n, count));
  }
  for (auto* points : stale_points_) {
    if (!points->empty() && (points->back().desired != 0 || points->back().active != 0))
      put_point(*points, now, 0, 0);
  }
  const bool full = placed == placeable;

  // The desired counts as of the last settle; growth after full_at is what
  // rose since. Unchanged epoch: the same counts, no growth.
  auto take_desired = [&] {
    if (desired_seen_epoch_ == desired_epoch_) return;
    if (figures_.full_at) {
      for (const auto& [base, n] : desired_now_) {
        auto before = desired_.find(base);
        const std::int64_t was = before == desired_.end() ? 0 : before->second;
        if (n > was) figures_.desired_growth += n - was;
      }
    }
    desired_ = desired_now_;
    desired_seen_epoch_ = desired_epoch_;
  };
  if (!figures_.full_at && full && placeable > 0) {
    figures_.full_at = now;
    figures_.worst_active = have;
    figures_.worst_desired = want;
    figures_.worst_at = now;
    pending_activations_ = 0;
    desired_ = desired_now_;  // taken whole, without growth
    desired_seen_epoch_ = desired_epoch_;
  } else if (figures_.full_at) {
    take_desired();
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

void FiguresObserver::uncount(ActiveKey& key) {
  if (key.counted_slot == kNoSlot) return;
  --counted_[key.counted_slot];
  key.counted_slot = kNoSlot;
}

void FiguresObserver::count(ActiveKey& key, const Liveness& live, std::uint64_t live_epoch,
                            const WorldQueries::Holdings* held) {
  if (key.live_epoch != live_epoch) {
    key.live = live.live.count(key.node) > 0;
    key.live_epoch = live_epoch;
  }
  if (key.slot_epoch != desired_epoch_) {
    // slots_ is in base order (desired_now_'s).
    auto found =
        std::lower_bound(slots_.begin(), slots_.end(), key.base,
                         [](const BaseSlot& slot, const std::string& base) { return *slot.base < base; });
    key.slot = found == slots_.end() || *found->base != key.base
                   ? kNoSlot
                   : static_cast<std::size_t>(found - slots_.begin());
    key.slot_epoch = desired_epoch_;
  }
  if (!key.live || key.slot == kNoSlot || !WorldQueries::holds_active_in(held, key.artifact)) return;
  ++counted_[key.slot];
  key.counted_slot = key.slot;
}

void FiguresObserver::put_point(std::vector<BasePoint>& points, Nanos now, std::int64_t desired,
                                std::int64_t active) {
  if (!points.empty() && points.back().desired == desired && points.back().active == active) return;
  if (!points.empty() && points.back().at == now) {
    points.back().desired = desired;
    points.back().active = active;
    return;
  }
  points.push_back({now, desired, active});
}

void FiguresObserver::finish(Nanos end, std::optional<Nanos> converged_at, std::string convergence_note) {
  settle(end);
  figures_.run_end = end;
  figures_.converged_at = converged_at;
  figures_.convergence_note = std::move(convergence_note);
}

}  // namespace aether::properties
