// Invariant assertions in production code. A failed assertion is handed to the
// node's AssertionSink, which must not return: production aborts, the
// simulator turns it into an `engine-assert` violation of the run (with its
// seed) by unwinding to its dispatch boundary.
#pragma once

#include <string>
#include <string_view>

namespace aether::engine {

class AssertionSink {
 public:
  virtual ~AssertionSink() = default;
  [[noreturn]] virtual void fail(std::string_view condition, std::string message, std::string_view file,
                                 int line) = 0;
};

}  // namespace aether::engine

// Usage: AETHER_ASSERT(sink, state == Expected, "why it must hold: " + detail);
// The message is only built when the condition fails.
#define AETHER_ASSERT(sink, condition, message)               \
  do {                                                        \
    if (!(condition)) {                                       \
      (sink).fail(#condition, (message), __FILE__, __LINE__); \
    }                                                         \
  } while (false)
