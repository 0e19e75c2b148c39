// Command-line parsing of `aethersim fuzz`, `shrink` and `merge` (the
// exploring commands, docs/cli.md); main.cc dispatches here.
#pragma once

#include <string>
#include <vector>

namespace aether::tools {

int cli_fuzz(const std::string& program, const std::vector<std::string>& args);
int cli_shrink(const std::string& program, const std::vector<std::string>& args);
int cli_merge(const std::vector<std::string>& args);

}  // namespace aether::tools
