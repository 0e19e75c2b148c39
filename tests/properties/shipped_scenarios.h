// The shipped scenario files (scenarios/ and scenarios/fuzz-findings/), in
// path order, for tests that play every one of them.
#pragma once

#include <algorithm>
#include <filesystem>
#include <vector>

namespace aether::properties::testing {

inline std::vector<std::filesystem::path> shipped_scenario_files() {
  std::vector<std::filesystem::path> files;
  for (const char* dir : {AETHER_SOURCE_DIR "/scenarios", AETHER_SOURCE_DIR "/scenarios/fuzz-findings"}) {
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      if (entry.path().extension() == ".json") files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace aether::properties::testing
