// The renderings of a report.json model: report.html (self-contained: inline
// CSS and SVG, no script), summary.md, index.html and JUnit XML.
#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "reports/report.h"

namespace aether::reports {

std::string xml_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        // XML 1.0 admits no other control characters.
        out += static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t' ? ' ' : c;
    }
  }
  return out;
}

namespace {

using Json = nlohmann::ordered_json;

std::string esc(const std::string& text) {
  return xml_escape(text);
}

std::string time_of(const Json& v) {
  return v.is_null() ? std::string("not within the run") : human(v.get<Nanos>());
}

std::string str(const Json& j, const char* key) {
  return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : std::string();
}

// "4.763 (cart 4.763)": the total, then the artifacts that lost capacity,
// largest first (at most three; the rest counted).
std::string capacity_text(const Json& failover) {
  std::vector<std::pair<double, std::string>> lost;
  for (const auto& c : failover["lost_capacity"]) {
    const double v = c["instance_seconds"].get<double>();
    if (v > 0) lost.emplace_back(-v, c["artifact"].get<std::string>());
  }
  std::sort(lost.begin(), lost.end());
  std::string out = fmt::format("{:.3f}", failover["lost_capacity_total"].get<double>());
  if (lost.empty()) return out;
  out += " (";
  for (std::size_t i = 0; i < lost.size() && i < 3; ++i)
    out += fmt::format("{}{} {:.3f}", i ? ", " : "", lost[i].second, -lost[i].first);
  if (lost.size() > 3) out += fmt::format(", +{} more", lost.size() - 3);
  return out + ")";
}

std::string leader_text(const Json& f) {
  if (!f["new_leader"].is_null())
    return fmt::format("{} at {}", f["new_leader"].get<std::string>(),
                       human(f["leader_elected_ns"].get<Nanos>()));
  const std::string kept = str(f, "leader_kept");
  return kept.empty() ? "no leader" : "kept: " + kept;
}

// The run's key figures in one line of text (index, JUnit).
std::string key_figures(const Json& r) {
  const auto& conv = r["convergence"];
  std::string converged = !conv["checked"].get<bool>() ? "unchecked"
                          : !conv["owed"].get<bool>()  ? "not owed"
                          : conv["held"].get<bool>()   ? human(conv["converged_ns"].get<Nanos>())
                                                       : "no";
  std::string recovery = "-";
  Nanos longest = -1;
  bool never = false;
  for (const auto& f : r["failovers"]) {
    if (f["recovery_ns"].is_null())
      never = true;
    else
      longest = std::max(longest, f["recovery_ns"].get<Nanos>());
  }
  if (never)
    recovery = "never";
  else if (longest >= 0)
    recovery = human(longest);
  double lost = 0;
  for (const auto& f : r["failovers"]) lost += f["lost_capacity_total"].get<double>();
  return fmt::format("converged {}, recovery {}, moved {}, lost capacity {:.3f} instance-s", converged,
                     recovery, r["metrics"]["instances_moved"].get<std::int64_t>(), lost);
}

// ---------------------------------------------------------------------------
// SVG timeline. One shared time axis; every row is drawn from spans or step
// series aggregated to whole pixels (one element per merged run of pixels,
// never one per event).

constexpr int kLabelWidth = 190;
constexpr int kPlotWidth = 1100;
constexpr int kRowHeight = 18;
constexpr int kChartHeight = 56;

const char* kColorUp = "#cfe8cf";
const char* kColorDown = "#d62728";
const char* kColorPaused = "#ff9f1c";
const char* kColorRemoved = "#7f7f7f";
const char* kColorLeader = "#1f77b4";
const char* kColorNetwork = "#9467bd";
const char* kColorActive = "#2ca02c";
const char* kColorDesired = "#333333";
const char* kColorStep = "#8c8c8c";
const char* kColorViolation = "#d62728";

struct Axis {
  Nanos end = 1;
  int px(Nanos t) const {
    if (end <= 0) return kLabelWidth;
    const long double f =
        static_cast<long double>(std::clamp<Nanos>(t, 0, end)) / static_cast<long double>(end);
    return kLabelWidth + static_cast<int>(f * kPlotWidth);
  }
};

struct PixelSpan {
  int x0 = 0;
  int x1 = 0;
  std::vector<std::string> titles;
};

// Spans to whole pixels, merged where they touch; titles kept (at most 6
// per merged span, then a count).
std::vector<PixelSpan> to_pixels(const Axis& axis,
                                 std::vector<std::pair<std::pair<Nanos, Nanos>, std::string>> spans) {
  std::sort(spans.begin(), spans.end());
  std::vector<PixelSpan> out;
  for (const auto& [range, title] : spans) {
    int x0 = axis.px(range.first);
    int x1 = std::max(axis.px(range.second), x0 + 1);
    if (!out.empty() && x0 <= out.back().x1) {
      out.back().x1 = std::max(out.back().x1, x1);
      out.back().titles.push_back(title);
    } else {
      out.push_back({x0, x1, {title}});
    }
  }
  return out;
}

std::string title_of(const std::vector<std::string>& titles) {
  std::string out;
  for (std::size_t i = 0; i < titles.size() && i < 6; ++i) out += (i ? "\n" : "") + titles[i];
  if (titles.size() > 6) out += fmt::format("\n... and {} more", titles.size() - 6);
  return esc(out);
}

void row_label(std::string& svg, int y, const std::string& text, int height = kRowHeight) {
  svg += fmt::format("<text class=\"label\" x=\"{}\" y=\"{}\">{}</text>\n", kLabelWidth - 8,
                     y + height / 2 + 4, esc(text));
}

void span_rects(std::string& svg, const std::vector<PixelSpan>& spans, int y, const char* color,
                const char* cls, int height = kRowHeight - 4) {
  for (const auto& s : spans) {
    svg += fmt::format(
        "<rect class=\"{}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" "
        "fill=\"{}\"><title>{}</title></rect>\n",
        cls, s.x0, y + 2, s.x1 - s.x0, height, color, title_of(s.titles));
  }
}

std::string section_title(int y, const std::string& text) {
  return fmt::format("<text class=\"section\" x=\"4\" y=\"{}\">{}</text>\n", y + 13, esc(text));
}

// The time axis ends at the run's end, unless the last change (a step, a
// violation, a node, leader, network or instance change, the convergence
// instant) comes before 60% of it: then it ends 15% (at least 1s) after
// that change, and the page says that nothing changes after it.
Nanos last_change(const Json& r) {
  const auto& tl = r["timeline"];
  const Nanos end = tl["end_ns"].get<Nanos>();
  Nanos last = 0;
  auto see = [&](Nanos t) {
    if (t < end) last = std::max(last, t);
  };
  for (const auto& s : tl["steps"]) see(s["at_ns"].get<Nanos>());
  for (const auto& v : r["violations"]) see(v["time_ns"].get<Nanos>());
  for (const char* key : {"node_states", "leader_tenures", "network"}) {
    for (const auto& s : tl[key]) {
      see(s["from_ns"].get<Nanos>());
      see(s["to_ns"].get<Nanos>());
    }
  }
  for (const auto& a : tl["artifacts"])
    for (const auto& p : a["points"]) see(p[0].get<Nanos>());
  const auto& c = r["convergence"];
  if (!c["converged_ns"].is_null()) see(c["converged_ns"].get<Nanos>());
  return last;
}

Nanos shown_end(const Json& r) {
  const Nanos end = std::max<Nanos>(1, r["timeline"]["end_ns"].get<Nanos>());
  const Nanos last = last_change(r);
  if (last * 10 >= end * 6) return end;
  return std::min(end, last + std::max<Nanos>(last * 15 / 100, 1000000000));
}

std::string svg_timeline(const Json& r) {
  const auto& tl = r["timeline"];
  Axis axis;
  axis.end = shown_end(r);
  std::string body;
  int y = 30;

  // Nodes.
  body += section_title(y, "Nodes (up / down / paused / removed)");
  y += 20;
  std::vector<std::string> nodes = tl["nodes"].get<std::vector<std::string>>();
  for (const auto& node : nodes) {
    row_label(body, y, node);
    body += fmt::format(
        "<rect class=\"node-up\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\"><title>{} "
        "up</title></rect>\n",
        kLabelWidth, y + 2, kPlotWidth, kRowHeight - 4, kColorUp, esc(node));
    std::map<std::string, std::vector<std::pair<std::pair<Nanos, Nanos>, std::string>>> by_state;
    for (const auto& s : tl["node_states"]) {
      if (s["node"] != node) continue;
      const auto label = s["label"].get<std::string>();
      by_state[label].push_back(
          {{s["from_ns"].get<Nanos>(), s["to_ns"].get<Nanos>()},
           fmt::format("{} {} from {} to {}", node, label, human(s["from_ns"].get<Nanos>()),
                       human(s["to_ns"].get<Nanos>()))});
    }
    for (const auto& [label, spans] : by_state) {
      const char* color = label == "down" ? kColorDown : label == "paused" ? kColorPaused : kColorRemoved;
      span_rects(body, to_pixels(axis, spans), y, color, ("node-" + label).c_str());
    }
    y += kRowHeight;
  }

  // Leader tenure.
  y += 8;
  body += section_title(y, "Leader tenure");
  y += 20;
  for (const auto& node : nodes) {
    row_label(body, y, node);
    body += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#f3f3f3\"/>\n",
                        kLabelWidth, y + 2, kPlotWidth, kRowHeight - 4);
    std::vector<std::pair<std::pair<Nanos, Nanos>, std::string>> spans;
    for (const auto& s : tl["leader_tenures"]) {
      if (s["node"] != node) continue;
      spans.push_back({{s["from_ns"].get<Nanos>(), s["to_ns"].get<Nanos>()},
                       fmt::format("{} leader from {} to {}", node, human(s["from_ns"].get<Nanos>()),
                                   human(s["to_ns"].get<Nanos>()))});
    }
    span_rects(body, to_pixels(axis, spans), y, kColorLeader, "tenure");
    y += kRowHeight;
  }

  // Network rules: one row per rule label (at most 10; the rest share one).
  y += 8;
  body += section_title(y, "Network (partitions, isolations, cut links)");
  y += 20;
  std::vector<std::string> labels;
  std::map<std::string, std::vector<std::pair<std::pair<Nanos, Nanos>, std::string>>> rules;
  for (const auto& s : tl["network"]) {
    std::string label = s["label"].get<std::string>();
    if (rules.count(label) == 0) {
      if (labels.size() >= 10) {
        label = "other rules";
      }
      if (rules.count(label) == 0) labels.push_back(label);
    }
    rules[label].push_back({{s["from_ns"].get<Nanos>(), s["to_ns"].get<Nanos>()},
                            fmt::format("{} from {} to {}", s["label"].get<std::string>(),
                                        human(s["from_ns"].get<Nanos>()), human(s["to_ns"].get<Nanos>()))});
  }
  if (labels.empty()) {
    row_label(body, y, "(none)");
    y += kRowHeight;
  }
  for (const auto& label : labels) {
    row_label(body, y, label.size() > 28 ? label.substr(0, 27) + "…" : label);
    span_rects(body, to_pixels(axis, rules[label]), y, kColorNetwork, "network-rule");
    y += kRowHeight;
  }

  // Artifacts: desired vs counted ACTIVE, step charts aggregated per pixel
  // column (the lowest ACTIVE and highest desired within each column).
  y += 8;
  body += section_title(y, "Instances per artifact: desired (line) vs counted ACTIVE (area)");
  y += 20;
  for (const auto& a : tl["artifacts"]) {
    const auto name = a["artifact"].get<std::string>();
    const auto& points = a["points"];
    std::int64_t top = 1;
    for (const auto& p : points) top = std::max({top, p[1].get<std::int64_t>(), p[2].get<std::int64_t>()});
    std::vector<std::int64_t> active(kPlotWidth, -1);
    std::vector<std::int64_t> desired(kPlotWidth, -1);
    for (std::size_t i = 0; i < points.size(); ++i) {
      const Nanos from = points[i][0].get<Nanos>();
      const Nanos to = i + 1 < points.size() ? points[i + 1][0].get<Nanos>() : axis.end;
      const int x0 = axis.px(from) - kLabelWidth;
      const int x1 = std::max(axis.px(to) - kLabelWidth, x0 + 1);
      for (int x = std::max(0, x0); x < std::min(kPlotWidth, x1); ++x) {
        const auto d = points[i][1].get<std::int64_t>();
        const auto v = points[i][2].get<std::int64_t>();
        active[x] = active[x] < 0 ? v : std::min(active[x], v);
        desired[x] = std::max(desired[x], d);
      }
    }
    auto yv = [&](std::int64_t v) {
      return y + kChartHeight - static_cast<int>(v * (kChartHeight - 4) / top);
    };
    std::string area = fmt::format("M{} {}", kLabelWidth, y + kChartHeight);
    std::string line;
    std::int64_t last_a = -2;
    std::int64_t last_d = -2;
    for (int x = 0; x < kPlotWidth; ++x) {
      const std::int64_t av = std::max<std::int64_t>(0, active[x]);
      if (av != last_a) {
        area += fmt::format(" L{} {} L{} {}", kLabelWidth + x, yv(std::max<std::int64_t>(0, last_a)),
                            kLabelWidth + x, yv(av));
        last_a = av;
      }
      if (desired[x] != last_d && desired[x] >= 0) {
        line += fmt::format("{}{} {} L{} {}", line.empty() ? "M" : " L", kLabelWidth + x,
                            yv(last_d < 0 ? desired[x] : last_d), kLabelWidth + x, yv(desired[x]));
        last_d = desired[x];
      }
    }
    area += fmt::format(" L{} {} L{} {} Z", kLabelWidth + kPlotWidth, yv(std::max<std::int64_t>(0, last_a)),
                        kLabelWidth + kPlotWidth, y + kChartHeight);
    if (last_d >= 0) line += fmt::format(" L{} {}", kLabelWidth + kPlotWidth, yv(last_d));
    row_label(body, y, name.size() > 28 ? "…" + name.substr(name.size() - 27) : name, kChartHeight);
    body +=
        fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#fafafa\" stroke=\"#ddd\"/>\n",
                    kLabelWidth, y, kPlotWidth, kChartHeight);
    std::string summary;
    for (std::size_t i = 0; i < points.size() && i < 12; ++i) {
      summary += fmt::format("{}{}: desired {}, active {}", i ? "\n" : "", human(points[i][0].get<Nanos>()),
                             points[i][1].get<std::int64_t>(), points[i][2].get<std::int64_t>());
    }
    if (points.size() > 12) summary += fmt::format("\n... {} changes in all", points.size());
    body += fmt::format(
        "<g class=\"artifact-chart\"><title>{}\n{}</title><path class=\"active-area\" d=\"{}\" fill=\"{}\" "
        "fill-opacity=\"0.55\"/><path class=\"desired-line\" d=\"{}\" fill=\"none\" stroke=\"{}\" "
        "stroke-width=\"1.5\" stroke-dasharray=\"5 3\"/></g>\n",
        esc(name), esc(summary), area, kColorActive, line, kColorDesired);
    body += fmt::format(
        "<text class=\"tick\" x=\"{0}\" y=\"{1}\" text-anchor=\"end\">{2}</text><text class=\"tick\" "
        "x=\"{0}\" "
        "y=\"{3}\" text-anchor=\"end\">0</text>\n",
        kLabelWidth + kPlotWidth + 24, y + 8, top, y + kChartHeight);
    y += kChartHeight + 6;
  }
  if (tl["artifacts"].empty()) {
    row_label(body, y, "(no artifact desired)");
    y += kRowHeight;
  }
  const int bottom = y;

  // Marks over all rows: steps (grey) and violations (red), one line per
  // pixel column.
  std::string marks;
  {
    std::vector<std::pair<std::pair<Nanos, Nanos>, std::string>> spans;
    for (const auto& s : tl["steps"]) {
      const Nanos t = s["at_ns"].get<Nanos>();
      spans.push_back({{t, t},
                       fmt::format("{} at {}: {}", s["path"].get<std::string>(), human(t),
                                   s["label"].get<std::string>())});
    }
    for (const auto& p : to_pixels(axis, spans)) {
      marks += fmt::format(
          "<line class=\"step-marker\" x1=\"{0}\" x2=\"{0}\" y1=\"22\" y2=\"{1}\" stroke=\"{2}\" "
          "stroke-dasharray=\"2 3\"><title>{3}</title></line>\n",
          p.x0, bottom, kColorStep, title_of(p.titles));
    }
    spans.clear();
    for (const auto& v : r["violations"]) {
      const Nanos t = v["time_ns"].get<Nanos>();
      spans.push_back(
          {{t, t},
           fmt::format("violation {} at {}{}: {}", v["invariant"].get<std::string>(), human(t),
                       v["node"].get<std::string>().empty() ? "" : " on " + v["node"].get<std::string>(),
                       v["message"].get<std::string>())});
    }
    for (const auto& p : to_pixels(axis, spans)) {
      marks += fmt::format(
          "<g class=\"violation-marker\"><title>{3}</title><line x1=\"{0}\" x2=\"{0}\" y1=\"22\" "
          "y2=\"{1}\" stroke=\"{2}\" stroke-width=\"2\"/><path d=\"M{4} 14 L{5} 14 L{0} 22 Z\" "
          "fill=\"{2}\"/></g>\n",
          p.x0, bottom, kColorViolation, title_of(p.titles), p.x0 - 5, p.x0 + 5);
    }
  }

  // Time axis with about 10 round ticks.
  std::string ticks;
  const Nanos steps_ns[] = {1000000,       10000000,      100000000,      1000000000,     2000000000,
                            5000000000,    10000000000,   15000000000,    30000000000,    60000000000,
                            120000000000,  300000000000,  600000000000,   900000000000,   1800000000000,
                            3600000000000, 7200000000000, 21600000000000, 43200000000000, 86400000000000};
  Nanos step = steps_ns[std::size(steps_ns) - 1];
  for (Nanos s : steps_ns) {
    if (axis.end / s <= 10) {
      step = s;
      break;
    }
  }
  for (Nanos t = 0; t <= axis.end; t += step) {
    const int x = axis.px(t);
    ticks += fmt::format(
        "<line x1=\"{0}\" x2=\"{0}\" y1=\"18\" y2=\"{1}\" stroke=\"#eee\"/><text class=\"tick\" "
        "x=\"{0}\" y=\"14\" text-anchor=\"middle\">{2}</text>\n",
        x, bottom, human(t));
  }
  const int height = bottom + 8;
  return fmt::format(
      "<svg class=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" "
      "viewBox=\"0 0 {} {}\" role=\"img\" aria-label=\"run timeline\">\n{}{}{}</svg>\n",
      kLabelWidth + kPlotWidth + 40, height, kLabelWidth + kPlotWidth + 40, height, ticks, body, marks);
}

std::string legend() {
  auto item = [](const char* color, const char* text, const char* extra = "") {
    return fmt::format(
        "<span class=\"key\"><svg width=\"22\" height=\"12\"><rect width=\"22\" height=\"12\" "
        "fill=\"{}\" {}/></svg> {}</span>",
        color, extra, text);
  };
  return std::string("<div class=\"legend\">") + item(kColorUp, "node up") +
         item(kColorDown, "node down (crash)") + item(kColorPaused, "node paused") +
         item(kColorRemoved, "node removed") + item(kColorLeader, "leader tenure") +
         item(kColorNetwork, "network rule in force") +
         item(kColorActive, "counted ACTIVE instances", "fill-opacity=\"0.55\"") +
         "<span class=\"key\"><svg width=\"22\" height=\"12\"><line x1=\"0\" x2=\"22\" y1=\"6\" y2=\"6\" "
         "stroke=\"#333\" stroke-width=\"1.5\" stroke-dasharray=\"5 3\"/></svg> desired instances</span>"
         "<span class=\"key\"><svg width=\"22\" height=\"12\"><line x1=\"11\" x2=\"11\" y1=\"0\" y2=\"12\" "
         "stroke=\"#8c8c8c\" stroke-dasharray=\"2 3\"/></svg> scenario step</span>"
         "<span class=\"key\"><svg width=\"22\" height=\"12\"><line x1=\"11\" x2=\"11\" y1=\"0\" y2=\"12\" "
         "stroke=\"#d62728\" stroke-width=\"2\"/></svg> violation</span></div>\n";
}

const char* kCss =
    R"(body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:24px;color:#222;background:#fff}
h1{font-size:22px;margin:0 0 8px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
.verdict{display:inline-block;padding:3px 10px;border-radius:4px;color:#fff;font-weight:bold;margin-right:8px}
.pass{background:#2ca02c}.fail{background:#d62728}.input-error,.framework-error{background:#7f7f7f}
code,pre{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px}
pre{background:#f6f6f6;padding:8px;overflow-x:auto;white-space:pre-wrap}
.replay{background:#f6f6f6;padding:6px 8px;display:block;margin:6px 0}
table{border-collapse:collapse;font-size:13px}th,td{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f3f3f3}.held{color:#2ca02c;font-weight:bold}.failed{color:#d62728;font-weight:bold}
svg.timeline text{font-size:11px;fill:#333}svg.timeline .label{text-anchor:end}svg.timeline .section{font-weight:bold;font-size:12px}
svg.timeline .tick{fill:#666;font-size:10px}
.legend{font-size:12px;margin:6px 0 10px}.legend .key{margin-right:16px;white-space:nowrap}.legend svg{vertical-align:middle}
.muted{color:#777}
)";

}  // namespace

std::string render_html(const Json& r) {
  const std::string verdict = r["verdict"].get<std::string>();
  std::string h = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n";
  h += fmt::format("<title>{} seed {}: {}</title>\n<style>{}</style></head><body>\n",
                   esc(r["scenario"]["name"].get<std::string>()), r["seed"].get<std::uint64_t>(),
                   esc(verdict), kCss);
  h += fmt::format(
      "<h1><span class=\"verdict {0}\" id=\"verdict\">{1}</span>{2} <span class=\"muted\">seed "
      "{3}</span></h1>\n",
      esc(verdict),
      esc(verdict == "pass"   ? "PASS"
          : verdict == "fail" ? "FAIL"
                              : verdict),
      esc(r["scenario"]["name"].get<std::string>()), r["seed"].get<std::uint64_t>());
  h += fmt::format("<p>{}</p>\n", esc(r["scenario"]["description"].get<std::string>()));
  h += fmt::format("<p>Replay: <code class=\"replay\" id=\"replay\">{}</code></p>\n",
                   esc(r["replay"].get<std::string>()));
  h += fmt::format("<p class=\"muted\">{} &middot; file {} &middot; {}</p>\n",
                   esc(r["version"].get<std::string>()), esc(r["scenario"]["file"].get<std::string>()),
                   esc(key_figures(r)));
  if (r.contains("input_error"))
    h += fmt::format("<pre>input error: {}</pre>\n", esc(r["input_error"].get<std::string>()));
  if (r.contains("framework_error"))
    h += fmt::format("<pre>framework error: {}</pre>\n", esc(r["framework_error"].get<std::string>()));

  h += "<h2>Failovers</h2>\n";
  if (r["failovers"].empty()) {
    h += "<p id=\"failovers\" class=\"muted\">No failover: no disruptive fault step in this run.</p>\n";
  } else {
    h += "<table id=\"failovers\" "
         "class=\"failover-table\"><thead><tr><th>fault</th><th>at</th><th>detected</th>"
         "<th>new leader (elected)</th><th>CDM activation done</th><th>all ACTIVE again</th><th>recovery</th>"
         "<th>moved</th><th>lost capacity (instance-s)</th></tr></thead><tbody>\n";
    for (const auto& f : r["failovers"]) {
      h += fmt::format(
          "<tr class=\"failover\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
          "<td>{}</td><td>{}</td><td>{}</td></tr>\n",
          esc(f["fault"].get<std::string>()), human(f["fault_ns"].get<Nanos>()),
          f["detection_ns"].is_null() ? "-" : human(f["detection_ns"].get<Nanos>()), esc(leader_text(f)),
          f["activation_done_ns"].is_null() ? "-" : human(f["activation_done_ns"].get<Nanos>()),
          time_of(f["all_active_ns"]),
          f["recovery_ns"].is_null() ? "never" : human(f["recovery_ns"].get<Nanos>()),
          f["instances_moved"].get<std::int64_t>(), esc(capacity_text(f)));
    }
    h += "</tbody></table>\n";
  }

  h += "<h2>Timeline</h2>\n" + legend();
  const Nanos run_end = r["timeline"]["end_ns"].get<Nanos>();
  if (shown_end(r) < run_end) {
    h += fmt::format(
        "<p class=\"muted\" id=\"axis-note\">Shown up to {}: nothing changes from {} to the run's end at "
        "{}.</p>\n",
        human(shown_end(r)), human(last_change(r)), human(run_end));
  }
  h += svg_timeline(r);

  h += "<h2>Violations</h2>\n";
  if (r["violations"].empty()) {
    h += "<p id=\"violations\" class=\"muted\">None.</p>\n";
  } else {
    h += "<div id=\"violations\">\n";
    for (const auto& v : r["violations"]) {
      h += fmt::format("<div class=\"violation\"><p><b class=\"failed\">{}</b> at {}{}{}: {}</p>\n<pre>",
                       esc(v["invariant"].get<std::string>()), human(v["time_ns"].get<Nanos>()),
                       v["node"].get<std::string>().empty() ? "" : " on ", esc(v["node"].get<std::string>()),
                       esc(v["message"].get<std::string>()));
      if (v["pinned"].get<bool>()) h += "(pinned by a violates expectation: does not fail the run)\n";
      for (const auto& e : v["events"]) h += esc(e.get<std::string>()) + "\n";
      h += "</pre></div>\n";
    }
    h += "</div>\n";
  }

  h += "<h2>Expectations</h2>\n<ul id=\"expectations\">\n";
  for (const auto& e : r["expectations"]) {
    h += fmt::format(
        "<li><span class=\"{}\">{}</span> {} ({}){}{}</li>\n", e["held"].get<bool>() ? "held" : "failed",
        e["held"].get<bool>() ? "held" : "did not hold", esc(e["path"].get<std::string>()),
        esc(e["description"].get<std::string>()),
        e["met_ns"].is_null() ? "" : " met at " + human(e["met_ns"].get<Nanos>()),
        e["detail"].get<std::string>().empty() ? "" : ": " + esc(e["detail"].get<std::string>()));
  }
  if (r["expectations"].empty()) h += "<li class=\"muted\">none in this scenario</li>\n";
  const auto& c = r["convergence"];
  std::string conv = !c["checked"].get<bool>() ? "not checked (check_convergence false)"
                     : !c["owed"].get<bool>()  ? "not owed: " + c["not_owed_reason"].get<std::string>()
                     : c["held"].get<bool>()   ? "held: converged at " + human(c["converged_ns"].get<Nanos>())
                                               : "NOT converged: blocker " + c["blocker"].get<std::string>() +
                                                   ": " + c["detail"].get<std::string>();
  h += fmt::format("</ul>\n<p id=\"convergence\">Convergence {}</p>\n", esc(conv));

  h += "<h2>Metrics</h2>\n<table id=\"metrics\"><tbody>\n";
  const auto& m = r["metrics"];
  auto row = [&](const std::string& k, const std::string& v) {
    h += fmt::format("<tr><th>{}</th><td>{}</td></tr>\n", esc(k), esc(v));
  };
  row("events", std::to_string(m["events"].get<std::uint64_t>()));
  row("simulated time", human(m["simulated_ns"].get<Nanos>()));
  row("wall time", fmt::format("{:.3f}s", m["wall_s"].get<double>()));
  for (const auto& [w, n] : m["kv_commits_by_writer"].items())
    row("KV commits by " + w, std::to_string(n.get<std::int64_t>()));
  row("engine writes", std::to_string(m["engine_writes"].get<std::int64_t>()));
  row("leader changes", std::to_string(m["leader_changes"].get<std::int64_t>()));
  row("instances placed / moved / lost",
      fmt::format("{} / {} / {}", m["instances_placed"].get<std::int64_t>(),
                  m["instances_moved"].get<std::int64_t>(), m["instances_lost"].get<std::int64_t>()));
  row("lost updates / late commits",
      fmt::format("{} / {}", m["lost_updates"].get<std::int64_t>(), m["late_commits"].get<std::int64_t>()));
  if (!m["worst"].is_null())
    row("worst moment",
        fmt::format("{}/{} ACTIVE at {}", m["worst"]["active"].get<std::int64_t>(),
                    m["worst"]["desired"].get<std::int64_t>(), human(m["worst"]["at_ns"].get<Nanos>())));
  for (const auto& [k, n] : m["engine_counters"].items())
    row("engine counter " + k, std::to_string(n.get<std::int64_t>()));
  h += "</tbody></table>\n";
  h += fmt::format(
      "<h2>Configuration</h2>\n<details><summary>resolved cluster and engine "
      "configuration</summary><pre>{}</pre></details>\n",
      esc(r["config"].dump(2)));
  h += "</body></html>\n";
  return h;
}

std::string render_summary(const Json& r) {
  const std::string verdict = r["verdict"].get<std::string>();
  std::string md = fmt::format("# {} {} (seed {})\n\n",
                               verdict == "pass"   ? "PASS"
                               : verdict == "fail" ? "FAIL"
                                                   : verdict,
                               r["scenario"]["name"].get<std::string>(), r["seed"].get<std::uint64_t>());
  md += fmt::format("Replay: `{}`\n\n{}\n\n", r["replay"].get<std::string>(), key_figures(r));
  if (!r["failovers"].empty()) {
    md +=
        "## Failovers\n\n| fault | at | detected | new leader | CDM activation done | all ACTIVE again | "
        "recovery | "
        "moved | lost capacity (instance-s) |\n|---|---|---|---|---|---|---|---|---|\n";
    for (const auto& f : r["failovers"]) {
      md += fmt::format("| {} | {} | {} | {} | {} | {} | {} | {} | {} |\n", f["fault"].get<std::string>(),
                        human(f["fault_ns"].get<Nanos>()),
                        f["detection_ns"].is_null() ? "-" : human(f["detection_ns"].get<Nanos>()),
                        leader_text(f),
                        f["activation_done_ns"].is_null() ? "-" : human(f["activation_done_ns"].get<Nanos>()),
                        time_of(f["all_active_ns"]),
                        f["recovery_ns"].is_null() ? "never" : human(f["recovery_ns"].get<Nanos>()),
                        f["instances_moved"].get<std::int64_t>(), capacity_text(f));
    }
    md += "\n";
  }
  if (!r["violations"].empty()) {
    md += "## Violations\n\n";
    for (const auto& v : r["violations"])
      md += fmt::format("- `{}` at {}{}: {}\n", v["invariant"].get<std::string>(),
                        human(v["time_ns"].get<Nanos>()),
                        v["node"].get<std::string>().empty() ? "" : " on " + v["node"].get<std::string>(),
                        v["message"].get<std::string>());
    md += "\n";
  }
  const auto& m = r["metrics"];
  md += "## Metrics\n\n| metric | value |\n|---|---|\n";
  md += fmt::format(
      "| events | {} |\n| simulated time | {} |\n| engine writes | {} |\n| leader changes | {} |\n",
      m["events"].get<std::uint64_t>(), human(m["simulated_ns"].get<Nanos>()),
      m["engine_writes"].get<std::int64_t>(), m["leader_changes"].get<std::int64_t>());
  md += fmt::format(
      "| instances placed / moved / lost | {} / {} / {} |\n| lost updates / late commits | {} / {} |\n",
      m["instances_placed"].get<std::int64_t>(), m["instances_moved"].get<std::int64_t>(),
      m["instances_lost"].get<std::int64_t>(), m["lost_updates"].get<std::int64_t>(),
      m["late_commits"].get<std::int64_t>());
  for (const auto& [w, n] : m["kv_commits_by_writer"].items())
    md += fmt::format("| KV commits by {} | {} |\n", w, n.get<std::int64_t>());
  return md;
}

std::string render_index(const std::vector<IndexEntry>& runs, const std::string& version) {
  std::size_t passed = 0;
  for (const auto& e : runs) passed += e.report["verdict"] == "pass" ? 1 : 0;
  std::string h =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>aethersim reports</title>\n";
  h += fmt::format(
      "<style>{}</style></head><body>\n<h1>aethersim reports</h1>\n<p class=\"muted\">{}: {} runs, {} "
      "passed, {} did not pass</p>\n",
      kCss, esc(version), runs.size(), passed, runs.size() - passed);
  h +=
      "<table id=\"runs\"><thead><tr><th>verdict</th><th>scenario</th><th>seed</th><th>failovers</th><th>key "
      "figures</th><th>report</th></tr></thead><tbody>\n";
  for (const auto& e : runs) {
    const auto& r = e.report;
    const std::string verdict = r["verdict"].get<std::string>();
    h += fmt::format(
        "<tr><td><span class=\"verdict {0}\">{0}</span></td><td>{1}</td><td>{2}</td><td>{3}</td><td>{4}</td>"
        "<td><a href=\"{5}/report.html\">report</a> &middot; <a href=\"{5}/report.json\">json</a> "
        "&middot; <a href=\"{5}/summary.md\">md</a></td></tr>\n",
        esc(verdict), esc(r["scenario"]["name"].get<std::string>()), r["seed"].get<std::uint64_t>(),
        r["failovers"].size(), esc(key_figures(r)), esc(e.folder));
  }
  h += "</tbody></table>\n</body></html>\n";
  return h;
}

std::string render_junit(const std::vector<IndexEntry>& runs) {
  std::size_t failures = 0;
  std::size_t errors = 0;
  double time = 0;
  std::string cases;
  for (const auto& e : runs) {
    const auto& r = e.report;
    const std::string verdict = r["verdict"].get<std::string>();
    const double wall = r["metrics"]["wall_s"].get<double>();
    time += wall;
    std::string name = r["scenario"]["name"].get<std::string>();
    if (runs.size() > 1) name += fmt::format(" seed={}", r["seed"].get<std::uint64_t>());
    cases += fmt::format("    <testcase name=\"{}\" classname=\"{}\" time=\"{:.3f}\"", esc(name),
                         esc(r["scenario"]["file"].get<std::string>()), wall);
    if (verdict == "pass") {
      cases += "/>\n";
      continue;
    }
    std::string message;
    std::string text;
    for (const auto& v : r["violations"]) {
      if (v["pinned"].get<bool>()) continue;
      if (message.empty())
        message = "violation " + v["invariant"].get<std::string>() + ": " + v["message"].get<std::string>();
      text += fmt::format("violation {} at {}: {}\n", v["invariant"].get<std::string>(),
                          human(v["time_ns"].get<Nanos>()), v["message"].get<std::string>());
    }
    for (const auto& x : r["expectations"]) {
      if (x["held"].get<bool>()) continue;
      const std::string line =
          fmt::format("expectation {} ({}) did not hold: {}", x["path"].get<std::string>(),
                      x["description"].get<std::string>(), x["detail"].get<std::string>());
      if (message.empty()) message = line;
      text += line + "\n";
    }
    const auto& c = r["convergence"];
    if (c["checked"].get<bool>() && c["owed"].get<bool>() && !c["held"].get<bool>()) {
      const std::string line =
          "not converged: blocker " + c["blocker"].get<std::string>() + ": " + c["detail"].get<std::string>();
      if (message.empty()) message = line;
      text += line + "\n";
    }
    if (r.contains("input_error")) message = "input error: " + r["input_error"].get<std::string>();
    if (r.contains("framework_error"))
      message = "framework error: " + r["framework_error"].get<std::string>();
    if (message.empty()) message = verdict;
    text += "replay: " + r["replay"].get<std::string>() + "\n";
    const bool error = verdict != "fail";
    (error ? errors : failures) += 1;
    cases += fmt::format(">\n      <{0} message=\"{1}\" type=\"{2}\">{3}</{0}>\n    </testcase>\n",
                         error ? "error" : "failure", esc(message), esc(verdict), esc(text));
  }
  return fmt::format(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites tests=\"{0}\" failures=\"{1}\" errors=\"{2}\" "
      "time=\"{3:.3f}\">\n  <testsuite name=\"aethersim\" tests=\"{0}\" failures=\"{1}\" errors=\"{2}\" "
      "skipped=\"0\" time=\"{3:.3f}\">\n{4}  </testsuite>\n</testsuites>\n",
      runs.size(), failures, errors, time, cases);
}

}  // namespace aether::reports
