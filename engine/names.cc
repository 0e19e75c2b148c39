#include "engine/kv_client.h"
#include "engine/logger.h"

namespace aether::engine {

const char* writer_name(Writer writer) {
  switch (writer) {
    case Writer::Cdm:
      return "cdm";
    case Writer::Ndm:
      return "ndm";
    case Writer::LeaderManager:
      return "leader-manager";
  }
  return "?";
}

const char* log_level_name(LogLevel level) {
  switch (level) {
    case LogLevel::Debug:
      return "debug";
    case LogLevel::Info:
      return "info";
    case LogLevel::Warn:
      return "warn";
    case LogLevel::Error:
      return "error";
  }
  return "?";
}

}  // namespace aether::engine
