// Failover reports (docs/reports.md): the report model (report.json, schema
// docs/report.schema.json) built from a run's RunResult and the trace lines
// the run wrote (collected while it ran through RunOptions::trace_line_observer,
// never by re-running), and its renderings: a self-contained report.html,
// summary.md, an index.html over several runs and JUnit XML.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "properties/runner.h"
#include "scenarios/model.h"

namespace aether::reports {

using Nanos = std::int64_t;

// What a report needs from the trace beyond the RunResult: node states,
// leader tenures, network rules, steps, KV commits per writer, CDM
// activations and CDM writes, successful activations. Feed it every trace
// line of the run in order (line()), then end() at the run's end.
class TraceCollector {
 public:
  void line(std::string_view json_line);
  // The event kinds line() uses (a live run renders only these for it).
  static bool wants(std::string_view kind);
  void end(Nanos run_end);

  struct Span {
    std::string node;   // node spans and tenures; empty for network rules
    std::string label;  // "down", "paused", "removed"; network: "partition ..."
    Nanos from = 0;
    Nanos to = 0;  // the run's end when still open
  };
  struct StepMark {
    Nanos at = 0;
    std::string path;
    std::string label;  // "crash node-2"
  };
  struct Moment {
    Nanos at = 0;
    std::string node;
  };

  std::vector<std::string> nodes;  // in order of first appearance
  std::vector<Span> node_states;
  std::vector<Span> tenures;  // a node that reports itself leader, until it stops or goes down
  std::vector<Span> network;
  std::vector<StepMark> steps;
  std::vector<Moment> views_lost;  // view changes removed/down
  std::vector<Moment> cdm_activations;
  std::vector<Moment> cdm_writes;   // decided batches with a cdm submitter (its node)
  std::vector<Moment> activations;  // successful activate operations
  std::map<std::string, std::int64_t> commits_by_writer;
  std::string scenario;
  std::uint64_t seed = 0;
  bool saw_run_start = false;
  bool saw_run_end = false;

 private:
  void open_state(const std::string& node, const std::string& label, Nanos t);
  void close_state(const std::string& node, Nanos t);
  void open_tenure(const std::string& node, Nanos t);
  void close_tenure(const std::string& node, Nanos t);
  void close_network(Nanos t, const std::string& only_node);
  void add_node(const std::string& node);

  std::map<std::string, std::size_t> open_states_;                 // node -> index in node_states
  std::map<std::string, std::size_t> open_tenures_;                // node -> index in tenures
  std::vector<std::pair<std::string, std::size_t>> open_network_;  // (node or "", index)
  std::map<std::uint64_t, std::vector<std::pair<std::string, std::string>>> batches_;  // submitters
  std::set<std::string> known_;
  Nanos last_t_ = 0;
};

struct ReportContext {
  std::string version;  // "aethersim 0.1.0"
  std::string replay;   // the exact replay command
  double wall_s = 0;    // the run's wall time (0 when unknown)
  // The resolved configuration ({"cluster", "engine"}) when it does not come
  // from the scenario (a report built from a saved trace).
  std::optional<nlohmann::ordered_json> config;
};

// report.json (docs/report.schema.json).
nlohmann::ordered_json build_report(const scenarios::Scenario& scenario, const properties::RunResult& result,
                                    const TraceCollector& trace, const ReportContext& context);

// A report from a saved `--trace` file (its report.* events carry what the
// world events do not). `scenario` names the file and description when
// known (else only its name, from run.start, is used); `program` is the
// aethersim to name in the replay command. Throws std::runtime_error naming
// the file, the line and what is wrong (missing, not a trace, truncated).
struct TraceReport {
  nlohmann::ordered_json report;
  std::string scenario_name;
  std::uint64_t seed = 0;
};
TraceReport report_from_trace(const std::string& path, const std::string& program,
                              const std::optional<scenarios::Scenario>& scenario, const std::string& version);

// The renderings; each takes a report.json model.
std::string render_html(const nlohmann::ordered_json& report);
std::string render_summary(const nlohmann::ordered_json& report);

// One run of an index.html / JUnit file: its report folder (relative to the
// index) and its report.
struct IndexEntry {
  std::string folder;
  nlohmann::ordered_json report;
};
std::string render_index(const std::vector<IndexEntry>& runs, const std::string& version);
std::string render_junit(const std::vector<IndexEntry>& runs);

// Writes report.json, report.html and summary.md into `dir` (created).
// Throws std::runtime_error naming the path on failure.
void write_report_folder(const std::string& dir, const nlohmann::ordered_json& report);

// Writes `content` to `path` atomically (a temporary file in the same folder,
// then rename). Throws std::runtime_error naming the path on failure.
void write_atomic(const std::string& path, const std::string& content);

// Creates `dir` (and parents) and checks a file can be written in it; returns
// an error text ("" when fine).
std::string check_writable_dir(const std::string& dir);

// Text escaped for HTML and XML (& < > " ' ; other control characters but
// newline and tab become spaces): report pages and every JUnit file.
std::string xml_escape(const std::string& text);

// "1m2.5s" style durations (docs/cli.md).
std::string human(Nanos ns);

}  // namespace aether::reports
