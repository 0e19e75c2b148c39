#include "sim/slice_store.h"

namespace aether::sim {

using engine::SliceHolding;

const SliceFailureRule* SliceFailureRules::find(const std::string& artifact) const {
  auto it = rules_.find(artifact);
  if (it != rules_.end()) return &it->second;
  it = rules_.find("*");
  return it != rules_.end() ? &it->second : nullptr;
}

bool SliceFailureRules::any_failures() const {
  for (const auto& [pattern, rule] : rules_) {
    if (rule.transient_ppm > 0 || rule.fatal_ppm > 0) return true;
  }
  return false;
}

const char* slice_op_name(SliceOp op) {
  switch (op) {
    case SliceOp::Load:
      return "load";
    case SliceOp::Activate:
      return "activate";
    case SliceOp::Deactivate:
      return "deactivate";
    case SliceOp::Unload:
      return "unload";
  }
  return "?";
}

void SimSliceStore::load(const std::string& artifact, engine::SliceCallback done) {
  start(artifact, SliceOp::Load, std::move(done));
}
void SimSliceStore::activate(const std::string& artifact, engine::SliceCallback done) {
  start(artifact, SliceOp::Activate, std::move(done));
}
void SimSliceStore::deactivate(const std::string& artifact, engine::SliceCallback done) {
  start(artifact, SliceOp::Deactivate, std::move(done));
}
void SimSliceStore::unload(const std::string& artifact, engine::SliceCallback done) {
  start(artifact, SliceOp::Unload, std::move(done));
}

SliceHolding SimSliceStore::holding(const std::string& artifact) const {
  auto it = held_.find(artifact);
  return it == held_.end() ? SliceHolding::NotHeld : it->second;
}

std::vector<std::pair<std::string, SliceHolding>> SimSliceStore::held() const {
  return {held_.begin(), held_.end()};
}

engine::SliceResult SimSliceStore::draw_failure(const std::string& artifact, SliceOp op) {
  if (op != SliceOp::Load && op != SliceOp::Activate) return std::nullopt;
  const SliceFailureRule* rule = rules_.find(artifact);
  if (rule == nullptr) return std::nullopt;
  const bool applies = rule->phase == FailurePhase::Any ||
                       (rule->phase == FailurePhase::Load && op == SliceOp::Load) ||
                       (rule->phase == FailurePhase::Activate && op == SliceOp::Activate);
  if (!applies) return std::nullopt;
  if (rule->fatal_ppm > 0 && prng_.chance_ppm(rule->fatal_ppm)) {
    return engine::SliceFailure{std::string("simulated fatal ") + slice_op_name(op) + " failure", true};
  }
  if (rule->transient_ppm > 0 && prng_.chance_ppm(rule->transient_ppm)) {
    return engine::SliceFailure{std::string("simulated transient ") + slice_op_name(op) + " failure", false};
  }
  return std::nullopt;
}

void SimSliceStore::start(const std::string& artifact, SliceOp op, engine::SliceCallback done) {
  host_.report_slice_start(artifact, op, holding(artifact));
  const PhaseRange* range = &durations_.load;
  Lane lane = Lane::Normal;
  switch (op) {
    case SliceOp::Load:
      range = &durations_.load;
      break;
    case SliceOp::Activate:
      range = &durations_.activate;
      break;
    case SliceOp::Deactivate:
      range = &durations_.deactivate;
      lane = Lane::Topology;  // deactivations precede activations at one instant
      break;
    case SliceOp::Unload:
      range = &durations_.unload;
      lane = Lane::Topology;
      break;
  }
  const Nanos duration_ns = prng_.duration_between(range->min_ns, range->max_ns);
  engine::SliceResult result = draw_failure(artifact, op);
  host_.schedule_slice_completion(
      duration_ns, lane, [this, artifact, op, result = std::move(result), done = std::move(done)]() mutable {
        if (!result && op == SliceOp::Activate && holding(artifact) == SliceHolding::NotHeld) {
          result = engine::SliceFailure{"not loaded", false};
        }
        if (!result) {
          switch (op) {
            case SliceOp::Load:
              held_[artifact] = SliceHolding::Loaded;
              break;
            case SliceOp::Activate:
              if (holding(artifact) != SliceHolding::NotHeld) held_[artifact] = SliceHolding::Active;
              break;
            case SliceOp::Deactivate:
              if (holding(artifact) == SliceHolding::Active) held_[artifact] = SliceHolding::Loaded;
              break;
            case SliceOp::Unload:
              held_.erase(artifact);
              break;
          }
        }
        host_.report_slice_done(artifact, op, result);
        done(result);
      });
}

}  // namespace aether::sim
