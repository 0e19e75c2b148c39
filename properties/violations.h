// Where the checks put what they find: violations of the always-on invariants
// (each with its time, node and the trace events leading to it) and the
// reported-not-failed counts (lost-update, late-commit). One recorder per run,
// shared by every check, so that a report lists findings in the order they
// happened.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "engine/time.h"
#include "sim/trace.h"

namespace aether::properties {

using engine::Nanos;

struct Violation {
  std::string invariant;
  Nanos time = 0;
  std::string node;
  std::string message;
  std::vector<std::string> events;  // JSON lines of the trace events leading to it, oldest first
};

// How many trace events a violation carries.
constexpr std::size_t kViolationContextEvents = 32;

class ViolationRecorder {
 public:
  // `trace` may be null (hand-made feeds in tests); then violations carry no
  // events and nothing is written to a trace.
  // The reported counts start at 0 so that a report always lists them.
  explicit ViolationRecorder(sim::Trace* trace)
      : trace_(trace), reported_{{"late-commit", 0}, {"lost-update", 0}} {}

  void violation(const std::string& invariant, Nanos time, const std::string& node,
                 const std::string& message);
  void report(const std::string& counter, std::int64_t delta = 1) { reported_[counter] += delta; }

  const std::vector<Violation>& violations() const { return violations_; }
  const std::map<std::string, std::int64_t>& reported() const { return reported_; }
  bool fired(const std::string& invariant) const;
  // Violations at or before `time`.
  std::size_t count_until(Nanos time) const;

 private:
  sim::Trace* trace_;
  std::vector<Violation> violations_;
  std::map<std::string, std::int64_t> reported_;
};

}  // namespace aether::properties
