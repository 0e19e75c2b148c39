// The slice-store fake (simulation.md §4): per node, which artifacts are
// actually loaded and active. Operations take a duration drawn per phase from
// the `slices` stream and complete later through the node (never inside the
// call); failure rules decide transient and fatal failures. Everything is
// lost on crash (the node builds a fresh store per incarnation).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "engine/slice_loader.h"
#include "engine/time.h"
#include "sim/event_loop.h"
#include "sim/prng.h"
#include "sim/world_observer.h"

namespace aether::sim {

struct PhaseRange {
  Nanos min_ns = 0;
  Nanos max_ns = 0;
  bool operator==(const PhaseRange&) const = default;
};

struct SlicePhaseDurations {
  PhaseRange load{engine::millis(200), engine::seconds(2)};
  PhaseRange activate{engine::millis(10), engine::millis(100)};
  PhaseRange deactivate{engine::millis(10), engine::millis(50)};
  PhaseRange unload{engine::millis(10), engine::millis(200)};
  bool operator==(const SlicePhaseDurations&) const = default;
};

enum class FailurePhase : std::uint8_t { Load, Activate, Any };

// `artifact` is an artifact or "*" (every artifact without its own rule).
struct SliceFailureRule {
  std::string artifact = "*";
  FailurePhase phase = FailurePhase::Any;
  std::uint32_t transient_ppm = 0;
  std::uint32_t fatal_ppm = 0;
  bool operator==(const SliceFailureRule&) const = default;
};

// The latest rule per pattern wins; an artifact's own rule beats "*".
class SliceFailureRules {
 public:
  void set(const SliceFailureRule& rule) { rules_[rule.artifact] = rule; }
  const SliceFailureRule* find(const std::string& artifact) const;
  // Whether any rule has a non-zero rate.
  bool any_failures() const;
  const std::map<std::string, SliceFailureRule>& rules() const { return rules_; }

 private:
  std::map<std::string, SliceFailureRule> rules_;
};

const char* slice_op_name(SliceOp op);

// What the store needs from its node: scheduling completions (the node drops
// them if it dies or restarts) and reporting to observers and trace.
class SliceStoreHost {
 public:
  virtual ~SliceStoreHost() = default;
  virtual void schedule_slice_completion(Nanos delay_ns, Lane lane, std::function<void()> complete) = 0;
  virtual void report_slice_start(const std::string& artifact, SliceOp op, engine::SliceHolding before) = 0;
  virtual void report_slice_done(const std::string& artifact, SliceOp op,
                                 const engine::SliceResult& result) = 0;
};

class SimSliceStore final : public engine::SliceLoader {
 public:
  SimSliceStore(SliceStoreHost& host, Prng& prng, const SlicePhaseDurations& durations,
                const SliceFailureRules& rules)
      : host_(host), prng_(prng), durations_(durations), rules_(rules) {}

  void load(const std::string& artifact, engine::SliceCallback done) override;
  void activate(const std::string& artifact, engine::SliceCallback done) override;
  void deactivate(const std::string& artifact, engine::SliceCallback done) override;
  void unload(const std::string& artifact, engine::SliceCallback done) override;
  engine::SliceHolding holding(const std::string& artifact) const override;
  std::vector<std::pair<std::string, engine::SliceHolding>> held() const override;

  const std::map<std::string, engine::SliceHolding>& holdings() const { return held_; }
  // Drops everything (crash).
  void clear() { held_.clear(); }

 private:
  void start(const std::string& artifact, SliceOp op, engine::SliceCallback done);
  engine::SliceResult draw_failure(const std::string& artifact, SliceOp op);

  SliceStoreHost& host_;
  Prng& prng_;
  const SlicePhaseDurations& durations_;
  const SliceFailureRules& rules_;
  std::map<std::string, engine::SliceHolding> held_;
};

}  // namespace aether::sim
