#include "properties/violations.h"

#include <algorithm>

namespace aether::properties {

void ViolationRecorder::violation(const std::string& invariant, Nanos time, const std::string& node,
                                  const std::string& message) {
  Violation v{invariant, time, node, message, {}};
  if (trace_ != nullptr) {
    v.events = trace_->recent(kViolationContextEvents);
    trace_->event(time, "check.violation")
        .str("invariant", invariant)
        .str("node", node)
        .str("message", message);
  }
  violations_.push_back(std::move(v));
}

bool ViolationRecorder::fired(const std::string& invariant) const {
  return std::any_of(violations_.begin(), violations_.end(),
                     [&](const Violation& v) { return v.invariant == invariant; });
}

std::size_t ViolationRecorder::count_until(Nanos time) const {
  return static_cast<std::size_t>(std::count_if(violations_.begin(), violations_.end(),
                                                [&](const Violation& v) { return v.time <= time; }));
}

}  // namespace aether::properties
