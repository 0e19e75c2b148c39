#include "tools/compare_command.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <ostream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "engine/config.h"
#include "properties/runner.h"
#include "reports/report.h"
#include "tools/run_command.h"

namespace aether::tools {

namespace {

struct Overlay {
  std::string file;
  std::string name;
  std::string description;
  nlohmann::json config = nlohmann::json::object();
};

// An overlay file: {"name", "description"?, "config": {engine keys}}.
std::optional<Overlay> load_overlay(const std::string& path, std::ostream& err) {
  std::ifstream in(path);
  if (!in) {
    err << fmt::format("aethersim compare: {}: cannot open: no such file or not readable\n", path);
    return std::nullopt;
  }
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text.str());
  } catch (const nlohmann::json::parse_error& e) {
    err << fmt::format("aethersim compare: {}: malformed JSON at byte {}: {}\n", path, e.byte, e.what());
    return std::nullopt;
  }
  if (!j.is_object()) {
    err << fmt::format("aethersim compare: {}: an overlay is an object {{\"name\", \"config\"}}\n", path);
    return std::nullopt;
  }
  Overlay o;
  o.file = path;
  bool ok = true;
  for (const auto& [key, value] : j.items()) {
    if (key == "name" && value.is_string()) {
      o.name = value.get<std::string>();
    } else if (key == "description" && value.is_string()) {
      o.description = value.get<std::string>();
    } else if (key == "config" && value.is_object()) {
      o.config = value;
    } else {
      err << fmt::format(
          "aethersim compare: {}: {}: unknown key or wrong type (name: string, description: "
          "string, config: object of engine keys)\n",
          path, key);
      ok = false;
    }
  }
  engine::EngineConfig probe;
  for (const auto& e : engine::parse_engine_config(o.config, probe)) {
    err << fmt::format("aethersim compare: {}: config.{}: {}\n", path, e.path, e.message);
    ok = false;
  }
  if (o.name.empty()) o.name = path;
  if (!ok) return std::nullopt;
  return o;
}

struct Metric {
  const char* key;
  const char* label;
  const char* unit;  // "s", "", "instance-s"
};
const Metric kMetrics[] = {
    {"converged", "time to converge", "s"}, {"recovery", "failover recovery (longest)", "s"},
    {"moved", "instances moved", ""},       {"lost_capacity", "lost capacity", "instance-s"},
    {"writes", "KV writes (engine)", ""},   {"failed", "runs not passing", ""},
};

// The metrics of one run; a metric the run does not have (never converged,
// never recovered) is absent.
std::map<std::string, double> measure(const properties::RunResult& r, const nlohmann::ordered_json& report) {
  std::map<std::string, double> m;
  const auto& f = r.figures;
  if (f.converged_at) m["converged"] = static_cast<double>(*f.converged_at) / 1e9;
  if (auto longest = f.longest_recovery()) m["recovery"] = static_cast<double>(*longest) / 1e9;
  m["moved"] = static_cast<double>(f.moved());
  double lost = 0;
  for (const auto& failover : report["failovers"]) lost += failover["lost_capacity_total"].get<double>();
  m["lost_capacity"] = lost;
  m["writes"] = static_cast<double>(f.engine_writes);
  m["failed"] = r.verdict == properties::Verdict::Pass ? 0 : 1;
  return m;
}

double rank(std::vector<double> v, int p) {  // nearest rank (docs/cli.md)
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  std::size_t k = (static_cast<std::size_t>(p) * n + 99) / 100;
  if (k == 0) k = 1;
  return v[k - 1];
}

std::string num(double v, const char* unit) {
  if (std::string(unit) == "s") return reports::human(static_cast<std::int64_t>(v * 1e9));
  if (v == static_cast<double>(static_cast<std::int64_t>(v)))
    return fmt::format("{}", static_cast<std::int64_t>(v));
  return fmt::format("{:.3f}", v);
}

struct Row {
  const Metric* metric;
  std::vector<double> a, b, diff;  // diff: b - a on the seeds where both have the metric
  std::string winner;
};

std::string box(const std::vector<double>& v, double lo, double hi, int y, const char* color,
                const std::string& title) {
  if (v.empty()) return "";
  auto x = [&](double value) { return 200 + (hi > lo ? (value - lo) / (hi - lo) * 500 : 250); };
  const double mn = rank(v, 0), q1 = rank(v, 25), med = rank(v, 50), q3 = rank(v, 75), p90 = rank(v, 90),
               mx = *std::max_element(v.begin(), v.end());
  return fmt::format(
      "<g class=\"box\"><title>{}</title><line x1=\"{:.1f}\" x2=\"{:.1f}\" y1=\"{}\" y2=\"{}\" "
      "stroke=\"#555\"/>"
      "<rect x=\"{:.1f}\" y=\"{}\" width=\"{:.1f}\" height=\"14\" fill=\"{}\" fill-opacity=\"0.6\" "
      "stroke=\"#333\"/>"
      "<line x1=\"{:.1f}\" x2=\"{:.1f}\" y1=\"{}\" y2=\"{}\" stroke=\"#000\" stroke-width=\"2\"/>"
      "<line x1=\"{:.1f}\" x2=\"{:.1f}\" y1=\"{}\" y2=\"{}\" stroke=\"#d62728\" stroke-width=\"2\"/></g>\n",
      title, x(mn), x(mx), y + 7, y + 7, x(q1), y, std::max(1.0, x(q3) - x(q1)), color, x(med), x(med), y,
      y + 14, x(p90), x(p90), y + 2, y + 12);
}

std::string esc(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '<')
      out += "&lt;";
    else if (c == '&')
      out += "&amp;";
    else if (c == '"')
      out += "&quot;";
    else
      out += c;
  }
  return out;
}

}  // namespace

int compare_command(const CompareCommandOptions& options, std::ostream& out, std::ostream& err) {
  const auto a = load_overlay(options.a, err);
  const auto b = load_overlay(options.b, err);
  if (!a || !b) return 2;
  if (options.inputs.empty()) {
    err << "aethersim compare: no scenario files given (aethersim compare --help)\n";
    return 2;
  }
  const ExpandedInputs expanded = expand_inputs(options.inputs);
  const LoadedInputs loaded = load_inputs(expanded.files);
  if (!expanded.errors.empty() || loaded.invalid_files > 0) {
    for (const auto& e : expanded.errors) err << e << "\n";
    for (const auto& e : loaded.errors) err << e << "\n";
    err << "aethersim compare: invalid inputs; nothing was run\n";
    return 2;
  }
  if (options.out) {
    const std::string problem = reports::check_writable_dir(*options.out);
    if (!problem.empty()) {
      err << "aethersim compare: --out " << problem << "; nothing was run\n";
      return 2;
    }
  }
  std::vector<Row> rows;
  for (const auto& metric : kMetrics) rows.push_back({&metric, {}, {}, {}, {}});
  std::size_t runs = 0;
  for (const auto& scenario : loaded.scenarios) {
    const SeedRange range = seeds_for(scenario, std::nullopt, options.seeds);
    for (std::uint64_t seed = range.first;; ++seed) {
      std::map<std::string, double> measured[2];
      for (int side = 0; side < 2; ++side) {
        scenarios::Scenario s = scenario;
        for (const auto& [key, value] : (side == 0 ? *a : *b).config.items()) s.config[key] = value;
        reports::TraceCollector collector;
        properties::RunOptions run_options;
        run_options.seed = seed;
        run_options.trace_line_observer = [&collector](std::uint64_t, const std::string& line) {
          collector.line(line);
        };
        run_options.trace_line_filter = &reports::TraceCollector::wants;
        properties::RunResult r = properties::run_scenario(s, run_options);
        collector.end(r.simulated_end);
        const auto report = reports::build_report(s, r, collector, reports::ReportContext{});
        measured[side] = measure(r, report);
        ++runs;
      }
      for (auto& row : rows) {
        auto ia = measured[0].find(row.metric->key);
        auto ib = measured[1].find(row.metric->key);
        if (ia != measured[0].end()) row.a.push_back(ia->second);
        if (ib != measured[1].end()) row.b.push_back(ib->second);
        if (ia != measured[0].end() && ib != measured[1].end()) row.diff.push_back(ib->second - ia->second);
      }
      if (seed == range.last) break;
    }
  }
  // Lower is better for every metric; the winner is the side whose paired
  // differences favour it at the median (a tie: "tie").
  std::string text =
      fmt::format("compare A = {} ({}) vs B = {} ({}): {} runs\n", a->name, a->file, b->name, b->file, runs);
  text += fmt::format("  {:<28} {:>30}   {:>30}   {:>20}  {}\n", "metric", "A median / p90 / max",
                      "B median / p90 / max", "B - A median (seeds)", "wins");
  for (auto& row : rows) {
    auto stats = [&](const std::vector<double>& v) {
      if (v.empty()) return std::string("-");
      return fmt::format("{} / {} / {}", num(rank(v, 50), row.metric->unit),
                         num(rank(v, 90), row.metric->unit),
                         num(*std::max_element(v.begin(), v.end()), row.metric->unit));
    };
    std::string median_diff = "-";
    if (!row.diff.empty()) {
      std::vector<double> sorted = row.diff;
      std::sort(sorted.begin(), sorted.end());
      const double d = sorted[(sorted.size() - 1) / 2];
      const bool negative = d < 0;
      median_diff = (negative ? "-" : "+") + num(negative ? -d : d, row.metric->unit);
      const auto better_b = std::count_if(row.diff.begin(), row.diff.end(), [](double x) { return x < 0; });
      const auto better_a = std::count_if(row.diff.begin(), row.diff.end(), [](double x) { return x > 0; });
      row.winner = better_a == better_b ? "tie" : better_a > better_b ? "A" : "B";
      row.winner +=
          fmt::format(" (A better on {}, B on {} of {} seeds)", better_a, better_b, row.diff.size());
    } else {
      row.winner = "-";
    }
    text += fmt::format(
        "  {:<28} {:>30}   {:>30}   {:>20}  {}\n",
        fmt::format("{}{}", row.metric->label,
                    std::string(row.metric->unit).empty() ? "" : fmt::format(" ({})", row.metric->unit)),
        stats(row.a), stats(row.b), fmt::format("{} ({})", median_diff, row.diff.size()), row.winner);
  }
  out << text;
  if (options.out) {
    std::string h =
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>aethersim compare</title>"
        "<style>body{font-family:system-ui,sans-serif;margin:24px;color:#222}table{border-collapse:collapse;"
        "font-size:13px}td,th{border:1px solid #ddd;padding:4px 8px}th{background:#f3f3f3}svg text{font-size:"
        "11px}</style></head><body>\n";
    h += fmt::format(
        "<h1>Compare: A = {} vs B = {}</h1>\n<p>{} runs. A: {} ({}). B: {} ({}). Lower is better for "
        "every metric.</p>\n",
        esc(a->name), esc(b->name), runs, esc(a->description), esc(a->file), esc(b->description),
        esc(b->file));
    h += "<p><svg width=\"420\" height=\"16\"><rect x=\"0\" y=\"2\" width=\"20\" height=\"12\" "
         "fill=\"#1f77b4\" "
         "fill-opacity=\"0.6\"/><text x=\"26\" y=\"12\">A</text><rect x=\"60\" y=\"2\" width=\"20\" "
         "height=\"12\" "
         "fill=\"#ff7f0e\" fill-opacity=\"0.6\"/><text x=\"86\" y=\"12\">B</text><line x1=\"130\" x2=\"130\" "
         "y1=\"0\" "
         "y2=\"16\" stroke=\"#000\" stroke-width=\"2\"/><text x=\"136\" y=\"12\">median</text><line "
         "x1=\"200\" "
         "x2=\"200\" y1=\"0\" y2=\"16\" stroke=\"#d62728\" stroke-width=\"2\"/><text x=\"206\" y=\"12\">p90; "
         "box: "
         "p25-p75, whiskers: min-max</text></svg></p>\n";
    h += "<table id=\"compare\"><tr><th>metric</th><th>A median / p90 / max</th><th>B median / p90 / "
         "max</th><th>B - "
         "A (median of paired)</th><th>wins</th><th>distribution</th></tr>\n";
    for (const auto& row : rows) {
      double lo = 0, hi = 0;
      bool first = true;
      for (const auto* v : {&row.a, &row.b}) {
        for (double x : *v) {
          lo = first ? x : std::min(lo, x);
          hi = first ? x : std::max(hi, x);
          first = false;
        }
      }
      std::string svg = fmt::format(
          "<svg class=\"boxplot\" width=\"720\" height=\"44\"><text x=\"4\" y=\"14\">A</text><text x=\"4\" "
          "y=\"36\">B</text><text x=\"196\" y=\"42\" text-anchor=\"end\">{}</text><text x=\"700\" y=\"42\" "
          "text-anchor=\"end\">{}</text>{}{}</svg>",
          esc(num(lo, row.metric->unit)), esc(num(hi, row.metric->unit)),
          box(row.a, lo, hi, 2, "#1f77b4", fmt::format("A: {} values", row.a.size())),
          box(row.b, lo, hi, 24, "#ff7f0e", fmt::format("B: {} values", row.b.size())));
      auto stats = [&](const std::vector<double>& v) {
        if (v.empty()) return std::string("-");
        return fmt::format("{} / {} / {}", num(rank(v, 50), row.metric->unit),
                           num(rank(v, 90), row.metric->unit),
                           num(*std::max_element(v.begin(), v.end()), row.metric->unit));
      };
      std::string d = "-";
      if (!row.diff.empty()) {
        std::vector<double> sorted = row.diff;
        std::sort(sorted.begin(), sorted.end());
        const double m = sorted[(sorted.size() - 1) / 2];
        d = (m < 0 ? "-" : "+") + num(m < 0 ? -m : m, row.metric->unit);
      }
      h += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                       esc(row.metric->label), esc(stats(row.a)), esc(stats(row.b)), esc(d), esc(row.winner),
                       svg);
    }
    h += "</table>\n</body></html>\n";
    try {
      reports::write_atomic(*options.out + "/compare.html", h);
      reports::write_atomic(*options.out + "/compare.txt", text);
    } catch (const std::exception& e) {
      err << "aethersim compare: " << e.what() << "\n";
      return 2;
    }
    out << fmt::format("compare: {}/compare.html\n", *options.out);
  }
  return 0;
}

}  // namespace aether::tools
