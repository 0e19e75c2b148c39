// Where engine log lines go. The simulator records them in the trace.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace aether::engine {

enum class LogLevel : std::uint8_t { Debug, Info, Warn, Error };

const char* log_level_name(LogLevel level);

class Logger {
 public:
  virtual ~Logger() = default;
  virtual void log(LogLevel level, std::string_view component, std::string message) = 0;
};

}  // namespace aether::engine
