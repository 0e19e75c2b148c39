#include "tools/trace_command.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <ostream>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "properties/human_time.h"

namespace aether::tools {

using properties::human_duration;
using Json = nlohmann::ordered_json;
using engine::Nanos;

namespace {

struct Event {
  Nanos t = 0;
  std::string kind;
  Json json;
  std::size_t line = 0;
};

std::string str(const Json& e, const char* key) {
  auto it = e.find(key);
  return it != e.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::int64_t num(const Json& e, const char* key) {
  auto it = e.find(key);
  return it != e.end() && it->is_number() ? it->get<std::int64_t>() : -1;
}

// A command as the trace writes it: "put key=value" or "remove key".
struct Command {
  bool put = false;
  std::string key;
  std::string value;
};

Command parse_command(const std::string& text) {
  Command c;
  if (text.rfind("put ", 0) == 0) {
    c.put = true;
    const auto eq = text.find('=', 4);
    c.key = text.substr(4, eq == std::string::npos ? std::string::npos : eq - 4);
    if (eq != std::string::npos) c.value = text.substr(eq + 1);
  } else if (text.rfind("remove ", 0) == 0) {
    c.key = text.substr(7);
  } else {
    c.key = text;
  }
  return c;
}

std::string joined(const Json& list, const char* separator) {
  std::string out;
  for (const auto& item : list) {
    if (!out.empty()) out += separator;
    out += item.is_string() ? item.get<std::string>() : item.dump();
  }
  return out;
}

// What the trace says about each batch and each decided position.
struct Batch {
  std::string writer;  // first submitter's writer
  std::string node;    // first submitter's node
  Nanos submitted = -1;
  std::vector<std::string> commands;
  std::vector<std::string> joined_by;  // later submitters, writer@node
};
struct Decision {
  std::uint64_t batch = 0;
  Nanos decided = 0;
  std::vector<std::string> applied_on;
  Nanos last_apply = -1;
};

struct Model {
  std::vector<Event> events;
  std::map<std::uint64_t, Batch> batches;
  std::map<std::uint64_t, Decision> positions;  // position -> decision
  std::vector<std::string> initial_nodes;
  Nanos end = 0;
};

bool load(const std::string& file, Model& model, std::ostream& err) {
  std::ifstream in(file);
  if (!in) {
    err << fmt::format("aethersim trace: {}: cannot open the file\n", file);
    return false;
  }
  std::string line;
  std::size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty()) continue;
    Json j = Json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) {
      err << fmt::format(
          "aethersim trace: {}:{}: not a JSON object; a trace is the JSON Lines file `aethersim run --trace` "
          "writes\n",
          file, number);
      return false;
    }
    auto t = j.find("t");
    auto kind = j.find("kind");
    if (t == j.end() || !t->is_number_integer() || kind == j.end() || !kind->is_string()) {
      err << fmt::format("aethersim trace: {}:{}: an event needs an integer \"t\" and a string \"kind\"\n",
                         file, number);
      return false;
    }
    Event e{t->get<Nanos>(), kind->get<std::string>(), std::move(j), number};
    model.end = std::max(model.end, e.t);
    model.events.push_back(std::move(e));
  }
  if (model.events.empty()) {
    err << fmt::format("aethersim trace: {}: no events (an empty file is not a trace)\n", file);
    return false;
  }
  for (const auto& e : model.events) {
    const Json& j = e.json;
    if (e.kind == "cluster.start" && j.contains("nodes")) {
      for (const auto& n : j["nodes"]) model.initial_nodes.push_back(n.get<std::string>());
    } else if (e.kind == "kv.submit") {
      auto& b = model.batches[static_cast<std::uint64_t>(num(j, "batch"))];
      if (b.submitted < 0) {
        b.writer = str(j, "writer");
        b.node = str(j, "node");
        b.submitted = e.t;
      } else {
        b.joined_by.push_back(str(j, "writer") + "@" + str(j, "node"));
      }
      if (j.contains("commands")) {
        for (const auto& c : j["commands"]) b.commands.push_back(c.get<std::string>());
      }
    } else if (e.kind == "kv.decide") {
      auto& d = model.positions[static_cast<std::uint64_t>(num(j, "position"))];
      d.batch = static_cast<std::uint64_t>(num(j, "batch"));
      d.decided = e.t;
    } else if (e.kind == "kv.apply") {
      auto& d = model.positions[static_cast<std::uint64_t>(num(j, "position"))];
      d.applied_on.push_back(str(j, "node"));
      d.last_apply = std::max(d.last_apply, e.t);
    }
  }
  return true;
}

// kv.apply is folded into its decision's line and engine.count is left out,
// unless asked for by --kinds (kv.notify: traces written before issue 14's
// second pass, which removed it).
bool folded(const std::string& kind) {
  return kind == "kv.apply" || kind == "kv.notify" || kind == "engine.count";
}

bool kind_selected(const std::string& kind, const std::vector<std::string>& kinds) {
  if (kinds.empty()) return !folded(kind);
  return std::any_of(kinds.begin(), kinds.end(), [&](const std::string& k) {
    return kind == k ||
           (kind.size() > k.size() && kind.compare(0, k.size(), k) == 0 && kind[k.size()] == '.');
  });
}

bool names_node(const Event& e, const Model& model, const std::string& node) {
  for (const char* key : {"node", "from", "to", "peer"}) {
    if (str(e.json, key) == node) return true;
  }
  if (e.kind == "kv.decide") {
    auto b = model.batches.find(static_cast<std::uint64_t>(num(e.json, "batch")));
    return b != model.batches.end() && b->second.node == node;
  }
  return false;
}

std::string field_text(const std::string& key, const Json& value) {
  if (key.size() > 3 && key.compare(key.size() - 3, 3, "_ns") == 0 && value.is_number_integer()) {
    return fmt::format("{}={}", key.substr(0, key.size() - 3), human_duration(value.get<Nanos>()));
  }
  if (value.is_string()) {
    const auto& s = value.get_ref<const std::string&>();
    if (s.find(' ') == std::string::npos && !s.empty()) return key + "=" + s;
    return key + "=" + value.dump();
  }
  if (value.is_array()) return key + "=[" + joined(value, ", ") + "]";
  return key + "=" + value.dump();
}

std::string batch_text(const Model& model, std::uint64_t id) {
  auto b = model.batches.find(id);
  if (b == model.batches.end()) return fmt::format("batch {}", id);
  std::string out = fmt::format("batch {} by {}@{}", id, b->second.writer, b->second.node);
  if (!b->second.joined_by.empty()) out += fmt::format(" (+{})", fmt::join(b->second.joined_by, ", "));
  return out;
}

std::string event_text(const Event& e, const Model& model) {
  const Json& j = e.json;
  if (e.kind == "kv.decide") {
    const auto position = static_cast<std::uint64_t>(num(j, "position"));
    const auto id = static_cast<std::uint64_t>(num(j, "batch"));
    std::string out = fmt::format("#{} {}", position, batch_text(model, id));
    if (auto b = model.batches.find(id); b != model.batches.end()) {
      out += fmt::format(", submitted {}", human_duration(b->second.submitted));
      out += ": " + (b->second.commands.empty() ? std::string("(no commands)")
                                                : fmt::format("{}", fmt::join(b->second.commands, "; ")));
    }
    if (auto d = model.positions.find(position);
        d != model.positions.end() && !d->second.applied_on.empty()) {
      out += fmt::format(" | notified {} node{} by {}", d->second.applied_on.size(),
                         d->second.applied_on.size() == 1 ? "" : "s", human_duration(d->second.last_apply));
    }
    return out;
  }
  if (e.kind == "kv.submit") {
    const auto id = static_cast<std::uint64_t>(num(j, "batch"));
    const bool merged = j.value("merged", false);
    std::string out = fmt::format("batch {} {}@{}{}", id, str(j, "writer"), str(j, "node"),
                                  merged ? " joins the pending batch" : "");
    if (j.contains("commands")) out += ": " + joined(j["commands"], "; ");
    return out;
  }
  std::string out;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key() == "t" || it.key() == "kind") continue;
    if (!out.empty()) out += " ";
    out += field_text(it.key(), it.value());
  }
  return out;
}

void print_timeline(const TraceCommandOptions& options, const Model& model, std::ostream& out,
                    std::ostream& err) {
  // A --kinds entry that matches nothing is probably a typo: say which kinds
  // the trace has.
  std::set<std::string> present;
  for (const auto& e : model.events) present.insert(e.kind);
  for (const auto& k : options.kinds) {
    const bool any = std::any_of(present.begin(), present.end(),
                                 [&](const std::string& kind) { return kind_selected(kind, {k}); });
    if (!any) {
      err << fmt::format("aethersim trace: no event of kind \"{}\" in {} (kinds present: {})\n", k,
                         options.file, fmt::join(present, ", "));
    }
  }
  std::size_t shown = 0;
  for (const auto& e : model.events) {
    if (options.from && e.t < *options.from) continue;
    if (options.to && e.t > *options.to) continue;
    if (!kind_selected(e.kind, options.kinds)) continue;
    if (options.node && !names_node(e, model, *options.node)) continue;
    out << fmt::format("{:>12}  {:<18} {}\n", human_duration(e.t), e.kind, event_text(e, model));
    ++shown;
  }
  out << fmt::format("{} of {} events shown (trace ends at {})\n", shown, model.events.size(),
                     human_duration(model.end));
}

// --summary.
void print_summary(const Model& model, std::ostream& out) {
  // Leader tenures: a node's CDM Active, until deactivated, the node stops
  // (crash, pause, remove) or the trace ends.
  out << "leader tenures (CDM Active):\n";
  std::map<std::string, std::pair<Nanos, std::string>> open;  // node -> (since, tag)
  std::vector<std::pair<Nanos, std::string>> tenures;         // (start, line)
  auto close = [&](const std::string& node, Nanos at, const std::string& why) {
    auto it = open.find(node);
    if (it == open.end()) return;
    tenures.emplace_back(
        it->second.first,
        fmt::format("  {:<12} {} .. {}  ({}{})", node, human_duration(it->second.first), human_duration(at),
                    why, it->second.second.empty() ? "" : ", tag " + it->second.second));
    open.erase(it);
  };
  // Node up/down intervals.
  std::map<std::string, std::vector<std::pair<Nanos, std::string>>> changes;  // node -> (t, state)
  for (const auto& n : model.initial_nodes) changes[n].push_back({0, "up"});
  for (const auto& e : model.events) {
    const std::string node = str(e.json, "node");
    if (e.kind == "cdm.activated") {
      const auto tag = num(e.json, "tag");
      open[node] = {e.t, tag >= 0 ? std::to_string(tag) : ""};
    } else if (e.kind == "cdm.deactivated") {
      close(node, e.t, "deactivated");
    } else if (e.kind == "node.crash" || e.kind == "node.pause" || e.kind == "node.remove") {
      close(node, e.t, e.kind.substr(5));
    }
    static const std::map<std::string, std::string> kStates = {
        {"node.crash", "crashed"}, {"node.restart", "up"}, {"node.pause", "paused"},
        {"node.resume", "up"},     {"node.add", "up"},     {"node.remove", "removed"}};
    if (auto s = kStates.find(e.kind); s != kStates.end()) changes[node].push_back({e.t, s->second});
  }
  for (auto it = open.begin(); it != open.end();) {
    const auto node = it->first;
    ++it;
    close(node, model.end, "at the trace's end");
  }
  std::sort(tenures.begin(), tenures.end());
  if (tenures.empty()) out << "  none\n";
  for (const auto& t : tenures) out << t.second << "\n";

  out << "nodes (up/paused/crashed/removed intervals):\n";
  for (const auto& [node, list] : changes) {
    std::string line = fmt::format("  {:<12}", node);
    for (std::size_t i = 0; i < list.size(); ++i) {
      const Nanos until = i + 1 < list.size() ? list[i + 1].first : model.end;
      if (i + 1 < list.size() && list[i + 1].first == list[i].first) continue;
      line += fmt::format(" {} {}..{}", list[i].second, human_duration(list[i].first),
                          i + 1 < list.size() ? human_duration(until) : "end");
      if (i + 1 < list.size()) line += ",";
    }
    out << line << "\n";
  }

  // Final store: every decided batch's commands, in position order.
  std::map<std::string, std::string> store;
  std::map<std::string, std::vector<std::pair<std::uint64_t, std::string>>>
      client_puts;  // key -> (position, client)
  for (const auto& [position, d] : model.positions) {
    if (d.batch == 0) continue;  // applied but never decided in this trace
    auto b = model.batches.find(d.batch);
    if (b == model.batches.end()) continue;
    for (const auto& text : b->second.commands) {
      const Command c = parse_command(text);
      if (c.put) {
        store[c.key] = c.value;
      } else {
        store.erase(c.key);
      }
      if (b->second.writer.rfind("client:", 0) == 0) {
        client_puts[c.key].push_back({position, b->second.writer.substr(7)});
      }
    }
  }
  out << fmt::format("final store ({} keys, decided batches replayed in order):\n", store.size());
  for (const auto& [key, value] : store) out << fmt::format("  {} = {}\n", key, value);

  // Contested keys: written by the client writes of two or more clients
  // whose writes were in flight at the same time (queued .. committed).
  struct Write {
    std::string client;
    std::int64_t id = 0;
    Nanos queued = 0;
    Nanos committed = -1;
  };
  std::vector<Write> writes;
  for (const auto& e : model.events) {
    if (e.kind == "client.write") writes.push_back({str(e.json, "client"), num(e.json, "write"), e.t, -1});
    if (e.kind == "client.commit") {
      for (auto& w : writes) {
        if (w.client == str(e.json, "client") && w.id == num(e.json, "write")) w.committed = e.t;
      }
    }
  }
  // The write a decided client batch belongs to: its client's write in
  // flight when it was decided (a client's writes go one after another).
  auto write_of = [&](const std::string& client, Nanos decided) -> const Write* {
    for (const auto& w : writes) {
      if (w.client == client && w.queued <= decided && (w.committed < 0 || w.committed >= decided)) return &w;
    }
    return nullptr;
  };
  out << "contested keys (concurrent client writes; the last decided wins):\n";
  std::size_t contested = 0;
  for (const auto& [key, puts] : client_puts) {
    std::set<std::string> clients;
    for (const auto& p : puts) clients.insert(p.second);
    if (clients.size() < 2) continue;
    // Windows of each write; keep the writes that overlap another client's.
    std::vector<std::pair<std::uint64_t, const Write*>> ws;
    for (const auto& [position, client] : puts) {
      if (const Write* w = write_of(client, model.positions.at(position).decided))
        ws.push_back({position, w});
    }
    std::vector<std::pair<std::uint64_t, const Write*>> concurrent;
    for (const auto& a : ws) {
      const bool overlaps = std::any_of(ws.begin(), ws.end(), [&](const auto& b) {
        if (a.second->client == b.second->client) return false;
        const Nanos a_end = a.second->committed < 0 ? model.end : a.second->committed;
        const Nanos b_end = b.second->committed < 0 ? model.end : b.second->committed;
        return a.second->queued <= b_end && b.second->queued <= a_end;
      });
      if (overlaps) concurrent.push_back(a);
    }
    if (concurrent.size() < 2) continue;
    ++contested;
    const auto& winner = concurrent.back();  // highest position: decided last
    std::string who;
    for (const auto& [position, w] : concurrent) {
      if (!who.empty()) who += ", ";
      who += fmt::format("{} write {} (queued {}, decided #{})", w->client, w->id, human_duration(w->queued),
                         position);
    }
    out << fmt::format("  {}: {}; won: {} write {}{}\n", key, who, winner.second->client, winner.second->id,
                       puts.back().first == winner.first ? "" : " (a later write replaced it)");
  }
  if (contested == 0) out << "  none\n";
}

}  // namespace

int trace_command(const TraceCommandOptions& options, std::ostream& out, std::ostream& err) {
  Model model;
  if (!load(options.file, model, err)) return 2;
  if (options.summary) {
    print_summary(model, out);
  } else {
    print_timeline(options, model, out, err);
  }
  return 0;
}

}  // namespace aether::tools
