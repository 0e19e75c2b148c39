#include "scenarios/error.h"

#include <fmt/format.h>

namespace aether::scenarios {

std::string format_error(const ScenarioError& error) {
  if (error.line > 0) return fmt::format("{}:{}:{}: {}", error.file, error.line, error.column, error.message);
  if (error.path.empty()) return fmt::format("{}: {}", error.file, error.message);
  return fmt::format("{}: {}: {}", error.file, error.path, error.message);
}

namespace {
bool is_plain_key(const std::string& key) {
  if (key.empty()) return false;
  for (char c : key) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string quoted(const std::string& key) {
  std::string out = "\"";
  for (char c : key) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
      continue;
    }
    out += c;
  }
  return out + "\"";
}
}  // namespace

std::string member_path(const std::string& parent, const std::string& key) {
  // No legitimate key is this long; keep paths (and error lines) short.
  constexpr std::size_t kMaxKeyInPath = 100;
  if (key.size() > kMaxKeyInPath) return parent + "[" + quoted(key.substr(0, kMaxKeyInPath) + "...") + "]";
  if (!is_plain_key(key)) return parent + "[" + quoted(key) + "]";
  return parent.empty() ? key : parent + "." + key;
}

std::string index_path(const std::string& parent, std::size_t index) {
  return parent + "[" + std::to_string(index) + "]";
}

}  // namespace aether::scenarios
