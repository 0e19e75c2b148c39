// Command-line parsing of `aethersim fuzz`, `shrink`, `merge` and `mutants` (the
// exploring commands, docs/cli.md); main.cc dispatches here.
#pragma once

#include <string>
#include <vector>

#include <boost/program_options.hpp>

namespace aether::tools {

// Parses `args` against `desc`, the bare words (files, directories) returned
// in order; every aethersim command parses its arguments this way.
std::vector<std::string> parse_command_line(const boost::program_options::options_description& desc,
                                            const std::vector<std::string>& args,
                                            boost::program_options::variables_map& vm);

int cli_fuzz(const std::string& program, const std::vector<std::string>& args);
int cli_shrink(const std::string& program, const std::vector<std::string>& args);
int cli_merge(const std::vector<std::string>& args);
int cli_mutants(const std::string& program, const std::vector<std::string>& args);

}  // namespace aether::tools
