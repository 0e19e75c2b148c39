// An input error in a scenario file: where it is (a JSON path such as
// "steps[3].partition[1]", or a line and column when the text is not JSON) and
// what is wrong. The loader lists every error it finds, never just the first.
#pragma once

#include <string>
#include <vector>

namespace aether::scenarios {

struct ScenarioError {
  std::string file;     // as given to the loader
  std::string path;     // JSON path; "" with line == 0 means the whole file
  int line = 0;         // 1-based; 0 when the error has a JSON path instead
  int column = 0;       // 1-based byte column
  std::string message;  // what is wrong
  bool operator==(const ScenarioError&) const = default;
};

// "file:3:14: message", "file: steps[3].at: message" or "file: message".
std::string format_error(const ScenarioError& error);

// JSON path helpers: member("steps[3]", "at") == "steps[3].at"; keys that are
// not plain identifiers are quoted: member("", "a:b") == "[\"a:b\"]".
std::string member_path(const std::string& parent, const std::string& key);
std::string index_path(const std::string& parent, std::size_t index);

}  // namespace aether::scenarios
