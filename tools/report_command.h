// `aethersim report TRACE --out DIR [--scenario FILE]`: the report of a run
// (docs/reports.md) rebuilt from its saved --trace file, without running.
#pragma once

#include <iosfwd>
#include <optional>
#include <string>

namespace aether::tools {

struct ReportCommandOptions {
  std::string program = "aethersim";
  std::string trace;
  std::string out;
  std::optional<std::string> scenario;  // the scenario file: its path and description go into the report
};

// 0 when written; 2 for a missing, truncated or non-trace file, a scenario
// file that is invalid or not the trace's, or an --out folder that cannot be
// written (nothing is written then).
int report_command(const ReportCommandOptions& options, std::ostream& out, std::ostream& err);

}  // namespace aether::tools
