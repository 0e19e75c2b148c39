#include "tools/report_command.h"

#include <ostream>
#include <stdexcept>

#include <fmt/format.h>

#include "reports/report.h"
#include "tools/inputs.h"
#include "tools/run_command.h"

namespace aether::tools {

int report_command(const ReportCommandOptions& options, std::ostream& out, std::ostream& err) {
  std::optional<scenarios::Scenario> scenario;
  if (options.scenario) {
    const LoadedInputs loaded = load_inputs({*options.scenario});
    if (loaded.invalid_files > 0 || loaded.scenarios.size() != 1) {
      for (const auto& e : loaded.errors) err << e << "\n";
      err << fmt::format("aethersim report: --scenario {}: invalid; nothing was written\n",
                         *options.scenario);
      return 2;
    }
    scenario = loaded.scenarios.front();
  }
  reports::TraceReport built;
  try {
    // The whole report is built in memory first: a bad trace leaves no file.
    built = reports::report_from_trace(options.trace, options.program, scenario, version_string());
  } catch (const std::exception& e) {
    err << "aethersim report: " << e.what() << "; nothing was written\n";
    return 2;
  }
  const std::string problem = reports::check_writable_dir(options.out);
  if (!problem.empty()) {
    err << "aethersim report: --out " << problem << "; nothing was written\n";
    return 2;
  }
  try {
    reports::write_report_folder(options.out, built.report);
    reports::write_atomic(options.out + "/index.html",
                          reports::render_index({{".", built.report}}, version_string()));
  } catch (const std::exception& e) {
    err << "aethersim report: " << e.what() << "\n";
    return 2;
  }
  out << fmt::format("report: {}/report.html ({} seed {}, {})\n", options.out, built.scenario_name,
                     built.seed, built.report["verdict"].get<std::string>());
  return 0;
}

}  // namespace aether::tools
