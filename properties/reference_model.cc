#include "properties/reference_model.h"

#include <algorithm>
#include <array>
#include <functional>
#include <tuple>
#include <utility>

#include <nlohmann/json.hpp>

namespace aether::properties::ref {

namespace {

using Json = nlohmann::json;

bool lower(char c) {
  return c >= 'a' && c <= 'z';
}
bool digit(char c) {
  return c >= '0' && c <= '9';
}
bool upper(char c) {
  return c >= 'A' && c <= 'Z';
}

std::vector<std::string_view> split(std::string_view text, char sep) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= text.size(); ++i) {
    if (i == text.size() || text[i] == sep) {
      out.push_back(text.substr(start, i - start));
      start = i + 1;
    }
  }
  return out;
}

// [a-z][a-z0-9_-]*
bool group_segment(std::string_view s) {
  if (s.empty() || !lower(s[0])) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return lower(c) || digit(c) || c == '_' || c == '-'; });
}

std::optional<Json> object_of(std::string_view text) {
  Json value = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded() || !value.is_object()) return std::nullopt;
  return value;
}

bool keys_within(const Json& object, std::initializer_list<const char*> allowed) {
  for (const auto& item : object.items()) {
    bool ok = false;
    for (const char* k : allowed) ok = ok || item.key() == k;
    if (!ok) return false;
  }
  return true;
}

constexpr std::array<std::pair<State, const char*>, 11> kStates = {{
    {State::Load, "LOAD"},
    {State::Loading, "LOADING"},
    {State::Loaded, "LOADED"},
    {State::Activate, "ACTIVATE"},
    {State::Activating, "ACTIVATING"},
    {State::Active, "ACTIVE"},
    {State::Deactivate, "DEACTIVATE"},
    {State::Deactivating, "DEACTIVATING"},
    {State::Failed, "FAILED"},
    {State::Unload, "UNLOAD"},
    {State::Unloading, "UNLOADING"},
}};

constexpr std::array<std::pair<NodeState, const char*>, 5> kNodeStates = {{
    {NodeState::Joining, "JOINING"},
    {NodeState::OnDuty, "ON_DUTY"},
    {NodeState::Draining, "DRAINING"},
    {NodeState::Decommissioned, "DECOMMISSIONED"},
    {NodeState::ShuttingDown, "SHUTTING_DOWN"},
}};

}  // namespace

// ---- grammar -------------------------------------------------------------------------

bool is_node_id(std::string_view t) {
  if (t.empty() || t.size() > 63 || !lower(t[0])) return false;
  return std::all_of(t.begin(), t.end(), [](char c) { return lower(c) || digit(c) || c == '-'; });
}

bool is_group_id(std::string_view t) {
  const auto parts = split(t, '.');
  return parts.size() >= 2 && std::all_of(parts.begin(), parts.end(), group_segment);
}

bool is_artifact_id(std::string_view t) {
  if (t.empty() || !lower(t[0])) return false;
  for (auto word : split(t, '-')) {
    if (word.empty()) return false;
    if (!std::all_of(word.begin(), word.end(), [](char c) { return lower(c) || digit(c); })) return false;
  }
  return true;
}

bool is_version(std::string_view t) {
  std::string_view core = t;
  if (const auto dash = t.find('-'); dash != std::string_view::npos) {
    core = t.substr(0, dash);
    const auto suffix = t.substr(dash + 1);
    if (suffix.empty()) return false;
    if (!std::all_of(suffix.begin(), suffix.end(),
                     [](char c) { return lower(c) || upper(c) || digit(c) || c == '.'; }))
      return false;
  }
  const auto numbers = split(core, '.');
  if (numbers.size() != 3) return false;
  return std::all_of(numbers.begin(), numbers.end(),
                     [](std::string_view n) { return !n.empty() && std::all_of(n.begin(), n.end(), digit); });
}

bool is_blueprint_id(std::string_view t) {
  if (t.empty() || t.size() > 128) return false;
  auto alnum = [](char c) { return lower(c) || upper(c) || digit(c); };
  if (!alnum(t[0])) return false;
  return std::all_of(t.begin(), t.end(),
                     [&](char c) { return alnum(c) || c == '.' || c == '_' || c == '-'; });
}

std::optional<ArtifactName> read_artifact(std::string_view text) {
  const auto parts = split(text, ':');
  if (parts.size() != 3 || !is_group_id(parts[0]) || !is_artifact_id(parts[1]) || !is_version(parts[2]))
    return std::nullopt;
  return ArtifactName{std::string(parts[0]), std::string(parts[1]), std::string(parts[2])};
}

bool is_base(std::string_view text) {
  const auto parts = split(text, ':');
  return parts.size() == 2 && is_group_id(parts[0]) && is_artifact_id(parts[1]);
}

std::string base_part(std::string_view artifact) {
  const auto at = artifact.rfind(':');
  return std::string(at == std::string_view::npos ? artifact : artifact.substr(0, at));
}

// ---- states and the table -------------------------------------------------------------

const char* state_name(State state) {
  for (const auto& [s, name] : kStates) {
    if (s == state) return name;
  }
  return "?";
}

std::optional<State> read_state(std::string_view text) {
  for (const auto& [s, name] : kStates) {
    if (text == name) return s;
  }
  return std::nullopt;
}

bool is_live(State s) {
  return s != State::Failed && s != State::Unload && s != State::Unloading;
}

bool is_command(State s) {
  return s == State::Load || s == State::Activate || s == State::Deactivate || s == State::Unload;
}

namespace {
std::optional<SliceVal> parse_slice_value_text(std::string_view text) {
  auto object = object_of(text);
  if (!object || !keys_within(*object, {"state", "failure_reason", "fatal"})) return std::nullopt;
  const Json& o = *object;
  if (!o.contains("state") || !o["state"].is_string()) return std::nullopt;
  auto state = read_state(o["state"].get<std::string>());
  if (!state) return std::nullopt;
  SliceVal out;
  out.state = *state;
  if (o.contains("failure_reason") && !o["failure_reason"].is_null()) {
    if (!o["failure_reason"].is_string()) return std::nullopt;
    out.reason = o["failure_reason"].get<std::string>();
  }
  if (o.contains("fatal")) {
    if (!o["fatal"].is_boolean()) return std::nullopt;
    out.fatal = o["fatal"].get<bool>();
  }
  return out;
}

// read_slice_value runs for every slice command the checks judge (several
// times per command) and reads the same few texts again and again; it is a
// pure function of the text, so its results are memoized per thread
// (bounded: cleared when full). Issue 14, fourth pass.
template <typename T, typename Read>
std::optional<T> memoized(std::map<std::string, std::optional<T>, std::less<>>& cache, std::string_view text,
                          Read read) {
  constexpr std::size_t kMaxTexts = 256;
  if (auto it = cache.find(text); it != cache.end()) return it->second;
  if (cache.size() >= kMaxTexts) cache.clear();
  return cache.emplace(std::string(text), read(text)).first->second;
}
}  // namespace

std::optional<SliceVal> read_slice_value(std::string_view text) {
  thread_local std::map<std::string, std::optional<SliceVal>, std::less<>> cache;
  return memoized(cache, text, parse_slice_value_text);
}

bool is_edge(Role role, std::optional<State> from, const std::optional<SliceVal>& to) {
  const std::optional<State> to_state = to ? std::optional<State>(to->state) : std::nullopt;
  if (from == to_state) return true;  // a rewrite
  using S = State;
  if (role == Role::Cdm) {
    if (!to) return true;                    // Removes: facts the state does not show
    if (!from) return to->state == S::Load;  // the only way a key is created
    switch (to->state) {
      case S::Unload:
        return *from != S::Unload && *from != S::Unloading;
      case S::Activate:
        return *from == S::Loaded;
      case S::Deactivate:
        return *from == S::Active;
      default:
        return false;
    }
  }
  if (!from) return false;
  if (!to) return *from == S::Unloading;
  const S t = to->state;
  switch (*from) {
    case S::Load:
      return t == S::Loading;
    case S::Loading:
      return t == S::Loaded || t == S::Failed;
    case S::Activate:
    case S::Activating:
      return t == (*from == S::Activate ? S::Activating : S::Active) || t == S::Failed;
    case S::Deactivate:
      return t == S::Deactivating || t == S::Loaded || t == S::Failed;
    case S::Deactivating:
      return t == S::Loaded || t == S::Failed;
    case S::Unload:
      return t == S::Unloading;
    case S::Loaded:
    case S::Active:
      return t == S::Failed && to->reason == std::string("lost");
    default:
      return false;
  }
}

// ---- other values -----------------------------------------------------------------------

std::optional<TargetVal> read_target(std::string_view text) {
  auto object = object_of(text);
  if (!object || !keys_within(*object, {"version", "instances", "min_instances", "owner", "failed"}))
    return std::nullopt;
  const Json& o = *object;
  TargetVal out;
  if (!o.contains("version") || !o["version"].is_string() || !is_version(o["version"].get<std::string>()))
    return std::nullopt;
  out.version = o["version"].get<std::string>();
  for (auto [name, field] :
       {std::pair{"instances", &out.instances}, std::pair{"min_instances", &out.min_instances}}) {
    if (!o.contains(name) || !o[name].is_number_integer()) return std::nullopt;
    const auto n = o[name].get<std::int64_t>();
    if (n < 0 || n > kMaxInstances) return std::nullopt;
    *field = static_cast<int>(n);
  }
  if (!o.contains("owner") || !o["owner"].is_string()) return std::nullopt;
  out.owner = o["owner"].get<std::string>();
  if (o.contains("failed")) {
    if (!o["failed"].is_boolean()) return std::nullopt;
    out.failed = o["failed"].get<bool>();
  }
  return out;
}

const BlueprintSlice* BlueprintVal::find(const std::string& base) const {
  // base() == base, compared in place (no string built per slice).
  for (const auto& s : slices) {
    const std::string& group = s.artifact.group;
    const std::string& name = s.artifact.id;
    if (base.size() == group.size() + 1 + name.size() && base.compare(0, group.size(), group) == 0 &&
        base[group.size()] == ':' && base.compare(group.size() + 1, name.size(), name) == 0)
      return &s;
  }
  return nullptr;
}

std::optional<std::int64_t> read_memory(const std::string& json_text) {
  const Json m = Json::parse(json_text, nullptr, false);
  if (m.is_number_integer()) {
    const auto n = m.get<std::int64_t>();
    return n >= 0 ? std::optional<std::int64_t>(n) : std::nullopt;
  }
  if (!m.is_string()) return std::nullopt;
  const std::string t = m.get<std::string>();
  static const std::vector<std::pair<std::string, std::int64_t>> units = {
      {"Gi", 1024LL * 1024 * 1024}, {"Mi", 1024LL * 1024}, {"Ki", 1024LL}, {"", 1}};
  for (const auto& [unit, scale] : units) {
    if (t.size() < unit.size() || t.compare(t.size() - unit.size(), unit.size(), unit) != 0) continue;
    const std::string digits = t.substr(0, t.size() - unit.size());
    if (digits.empty() || digits.size() > 12 ||
        !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return std::nullopt;
    return std::stoll(digits) * scale;
  }
  return std::nullopt;
}

namespace {

// `resources`, `anti_affinity`, `spread` of one slice object; false if malformed.
bool read_placement(const Json& s, BlueprintSlice& slice) {
  if (s.contains("resources")) {
    const auto& r = s["resources"];
    if (!r.is_object() || !keys_within(r, {"cpu", "memory"})) return false;
    if (r.contains("cpu")) {
      if (!r["cpu"].is_number_integer() || r["cpu"].get<std::int64_t>() < 0) return false;
      slice.cpu = r["cpu"].get<std::int64_t>();
    }
    if (r.contains("memory")) {
      auto bytes = read_memory(r["memory"].dump());
      if (!bytes) return false;
      slice.memory = *bytes;
    }
  }
  if (s.contains("anti_affinity")) {
    if (!s["anti_affinity"].is_array()) return false;
    for (const auto& b : s["anti_affinity"]) {
      if (!b.is_string() || !is_base(b.get<std::string>())) return false;
      const auto base = b.get<std::string>();
      if (base == slice.artifact.base()) return false;
      if (std::find(slice.anti_affinity.begin(), slice.anti_affinity.end(), base) ==
          slice.anti_affinity.end())
        slice.anti_affinity.push_back(base);
    }
  }
  if (s.contains("spread")) {
    if (!s["spread"].is_string() || s["spread"].get<std::string>() != "zone") return false;
    slice.spread_zone = true;
  }
  return true;
}

std::optional<UpdateVal> read_update(const Json& u) {
  if (!u.is_object() || !keys_within(u, {"strategy", "max_surge", "max_unavailable"})) return std::nullopt;
  if (!u.contains("strategy") || !u["strategy"].is_string()) return std::nullopt;
  UpdateVal out;
  const auto strategy = u["strategy"].get<std::string>();
  if (strategy == "immediate") {
    if (u.contains("max_surge") || u.contains("max_unavailable")) return std::nullopt;
    return out;
  }
  if (strategy != "rolling") return std::nullopt;
  out.rolling = true;
  for (auto [key, field, low] :
       {std::tuple{"max_surge", &out.max_surge, 1}, std::tuple{"max_unavailable", &out.max_unavailable, 0}}) {
    if (!u.contains(key)) continue;
    if (!u[key].is_number_integer()) return std::nullopt;
    const auto n = u[key].get<std::int64_t>();
    if (n < low || n > kMaxInstances) return std::nullopt;
    *field = static_cast<int>(n);
  }
  return out;
}
}  // namespace

std::optional<BlueprintVal> read_blueprint(std::string_view text) {
  auto object = object_of(text);
  if (!object || !keys_within(*object, {"id", "slices", "atomicity"})) return std::nullopt;
  const Json& o = *object;
  bool all_or_nothing = false;
  if (o.contains("atomicity")) {
    if (o["atomicity"] == Json("all-or-nothing")) {
      all_or_nothing = true;
    } else if (o["atomicity"] != Json("best-effort")) {
      return std::nullopt;
    }
  }
  if (!o.contains("id") || !o["id"].is_string() || !is_blueprint_id(o["id"].get<std::string>()))
    return std::nullopt;
  if (!o.contains("slices") || !o["slices"].is_array() || o["slices"].empty()) return std::nullopt;
  BlueprintVal out;
  out.id = o["id"].get<std::string>();
  out.all_or_nothing = all_or_nothing;
  for (const auto& s : o["slices"]) {
    if (!s.is_object() || !keys_within(s, {"artifact", "instances", "min_available", "depends_on",
                                           "resources", "anti_affinity", "spread", "update"}))
      return std::nullopt;
    BlueprintSlice slice;
    if (!s.contains("artifact") || !s["artifact"].is_string()) return std::nullopt;
    auto artifact = read_artifact(s["artifact"].get<std::string>());
    if (!artifact) return std::nullopt;
    slice.artifact = *artifact;
    if (!s.contains("instances") || !s["instances"].is_number_integer()) return std::nullopt;
    const auto n = s["instances"].get<std::int64_t>();
    if (n < 1 || n > kMaxInstances) return std::nullopt;
    slice.instances = static_cast<int>(n);
    slice.min_available = (slice.instances + 1) / 2;
    if (s.contains("min_available")) {
      if (!s["min_available"].is_number_integer()) return std::nullopt;
      const auto m = s["min_available"].get<std::int64_t>();
      if (m < 1 || m > slice.instances) return std::nullopt;
      slice.min_available = static_cast<int>(m);
    }
    if (s.contains("depends_on")) {
      if (!s["depends_on"].is_array()) return std::nullopt;
      for (const auto& d : s["depends_on"]) {
        if (!d.is_string() || !read_artifact(d.get<std::string>())) return std::nullopt;
        const auto dep = d.get<std::string>();
        if (std::find(slice.depends_on.begin(), slice.depends_on.end(), dep) == slice.depends_on.end())
          slice.depends_on.push_back(dep);
      }
    }
    if (!read_placement(s, slice)) return std::nullopt;
    if (s.contains("update")) {
      auto update = read_update(s["update"]);
      if (!update) return std::nullopt;
      slice.update = *update;
    }
    out.slices.push_back(std::move(slice));
  }
  std::set<std::string> bases;
  std::map<std::string, const BlueprintSlice*> by_artifact;
  for (const auto& s : out.slices) {
    if (!bases.insert(s.artifact.base()).second) return std::nullopt;  // a base twice
    by_artifact[s.artifact.text()] = &s;
  }
  for (const auto& s : out.slices) {
    for (const auto& d : s.depends_on) {
      if (d == s.artifact.text() || by_artifact.count(d) == 0) return std::nullopt;
    }
  }
  // No cycle: repeatedly take out slices whose dependencies are all taken.
  std::set<std::string> done;
  for (bool progress = true; progress && done.size() < out.slices.size();) {
    progress = false;
    for (const auto& s : out.slices) {
      if (done.count(s.artifact.text()) != 0) continue;
      if (std::all_of(s.depends_on.begin(), s.depends_on.end(),
                      [&](const std::string& d) { return done.count(d) != 0; })) {
        done.insert(s.artifact.text());
        progress = true;
      }
    }
  }
  if (done.size() != out.slices.size()) return std::nullopt;
  return out;
}

const char* node_state_name(NodeState state) {
  for (const auto& [s, name] : kNodeStates) {
    if (s == state) return name;
  }
  return "?";
}

std::optional<NodeState> read_node_state(std::string_view text) {
  for (const auto& [s, name] : kNodeStates) {
    if (text == name) return s;
  }
  return std::nullopt;
}

std::optional<std::string> read_leader(std::string_view text) {
  if (!is_node_id(text)) return std::nullopt;
  return std::string(text);
}

// ---- keys ---------------------------------------------------------------------------------

namespace {
Key classify_key_text(std::string_view key) {
  Key out;
  auto suffix = [&](std::string_view prefix) -> std::optional<std::string_view> {
    if (key.substr(0, prefix.size()) != prefix) return std::nullopt;
    return key.substr(prefix.size());
  };
  if (key == "leader") {
    out.kind = KeyKind::Leader;
  } else if (auto rest = suffix("slices/")) {
    const auto slash = rest->find('/');
    if (slash == std::string_view::npos) return out;
    const auto node = rest->substr(0, slash);
    const auto artifact = rest->substr(slash + 1);
    if (!is_node_id(node) || !read_artifact(artifact)) return out;
    out.kind = KeyKind::Slice;
    out.node = std::string(node);
    out.artifact = std::string(artifact);
    out.base = base_part(artifact);
  } else if (auto rest2 = suffix("slice-target/")) {
    if (!is_base(*rest2)) return out;
    out.kind = KeyKind::SliceTarget;
    out.base = std::string(*rest2);
  } else if (auto rest3 = suffix("blueprints/")) {
    out.kind = KeyKind::Blueprint;
    out.id = std::string(*rest3);
  } else if (auto rest4 = suffix("node-lifecycle/")) {
    if (!is_node_id(*rest4)) return out;
    out.kind = KeyKind::NodeLifecycle;
    out.node = std::string(*rest4);
  }
  return out;
}
}  // namespace

Key classify_key(std::string_view key) {
  // A pure function of the key, asked for every key of every decided batch
  // by several checks: memoized per thread like the value readers (issue 14,
  // fifth pass). Bounded: cleared when full.
  constexpr std::size_t kMaxKeys = 4096;
  thread_local std::map<std::string, Key, std::less<>> cache;
  if (auto it = cache.find(key); it != cache.end()) return it->second;
  if (cache.size() >= kMaxKeys) cache.clear();
  return cache.emplace(std::string(key), classify_key_text(key)).first->second;
}

// ---- ownership -------------------------------------------------------------------------------

namespace {

bool lists(const BlueprintEntry& entry, const std::string& base) {
  return entry.value && entry.value->find(base) != nullptr;
}

// The owner of `base` given the blueprints judged so far (`judged`) and
// which of them are accepted, as `judging` (empty: none) sees it. The
// slice-target's owner O counts once judged if accepted and listing the base,
// or not accepted (it keeps its last accepted deployment). Before O's current
// value is judged, the slice-target is the trace of an earlier accepted value
// of O: O counts if its current value still lists the base or is invalid (a
// valid value that dropped the base gives it up).
std::optional<std::string> owner_among(const std::string& base,
                                       const std::map<std::string, BlueprintEntry>& blueprints,
                                       const std::map<std::string, TargetVal>& targets,
                                       const std::set<std::string>& judged,
                                       const std::set<std::string>& accepted, const std::string& judging) {
  if (auto t = targets.find(base); t != targets.end()) {
    const auto& o = t->second.owner;
    if (auto entry = blueprints.find(o); entry != blueprints.end()) {
      if (judged.count(o) != 0) {
        const bool is_accepted = accepted.count(o) != 0;
        if ((is_accepted && lists(entry->second, base)) || !is_accepted) return o;
      } else if (o != judging && (!entry->second.value || lists(entry->second, base))) {
        return o;
      }
    }
  }
  for (const auto& id : accepted) {  // sorted: the lowest id first
    if (lists(blueprints.at(id), base)) return id;
  }
  return std::nullopt;
}

}  // namespace

OwnershipResult ownership(const std::map<std::string, BlueprintEntry>& blueprints,
                          const std::map<std::string, TargetVal>& targets) {
  std::vector<std::pair<std::uint64_t, std::string>> order;
  for (const auto& [id, entry] : blueprints) order.emplace_back(entry.position, id);
  std::sort(order.begin(), order.end());
  std::set<std::string> judged;
  OwnershipResult out;
  for (const auto& [position, id] : order) {
    const auto& entry = blueprints.at(id);
    bool accept = entry.value.has_value();
    if (accept) {
      for (const auto& s : entry.value->slices) {
        auto o = owner_among(s.artifact.base(), blueprints, targets, judged, out.accepted, id);
        if (o && *o != id) accept = false;
      }
    }
    judged.insert(id);
    if (accept) out.accepted.insert(id);
  }
  std::set<std::string> bases;
  for (const auto& [base, target] : targets) bases.insert(base);
  for (const auto& [id, entry] : blueprints) {
    if (!entry.value) continue;
    for (const auto& s : entry.value->slices) bases.insert(s.artifact.base());
  }
  for (const auto& base : bases) {
    if (auto o = owner_among(base, blueprints, targets, judged, out.accepted, "")) out.owner_of[base] = *o;
  }
  return out;
}

// ---- desired state ------------------------------------------------------------------------

const DesiredBase* Desired::find(const std::string& base) const {
  auto it = bases.find(base);
  return it == bases.end() ? nullptr : &it->second;
}

namespace {
// desired_from runs at every decided position (the checks' hot path) and
// reads the same blueprint and slice-target texts again and again. Both
// readers are pure functions of the text, so their results are memoized per
// thread (`memoized`, above). Issue 14, third pass.
std::optional<BlueprintVal> read_blueprint_memoized(std::string_view text) {
  thread_local std::map<std::string, std::optional<BlueprintVal>, std::less<>> cache;
  return memoized(cache, text, read_blueprint);
}

std::optional<TargetVal> read_target_memoized(std::string_view text) {
  thread_local std::map<std::string, std::optional<TargetVal>, std::less<>> cache;
  return memoized(cache, text, read_target);
}
}  // namespace

Desired desired_from(const PositionedStore& store) {
  std::map<std::string, BlueprintEntry> blueprints;
  std::map<std::string, TargetVal> targets;
  std::map<std::string, std::uint64_t> target_positions;
  for (const auto& [key, entry] : store) {
    // Only these two prefixes classify as a blueprint or a slice-target.
    if (key.rfind("blueprints/", 0) != 0 && key.rfind("slice-target/", 0) != 0) continue;
    const Key k = classify_key(key);
    if (k.kind == KeyKind::Blueprint) {
      BlueprintEntry b;
      b.position = entry.position;
      b.value = read_blueprint_memoized(entry.value);
      if (b.value && b.value->id != k.id) b.value.reset();
      blueprints[k.id] = std::move(b);
    } else if (k.kind == KeyKind::SliceTarget) {
      if (auto t = read_target_memoized(entry.value)) {
        targets[k.base] = *t;
        target_positions[k.base] = entry.position;
      }
    }
  }
  Desired out;
  out.ownership = ownership(blueprints, targets);
  for (const auto& [base, owner] : out.ownership.owner_of) {
    DesiredBase d;
    d.owner = owner;
    d.owner_accepted = out.ownership.is_accepted(owner);
    const auto& bp = blueprints.at(owner);
    const BlueprintSlice* slice = bp.value ? bp.value->find(base) : nullptr;
    auto target = targets.find(base);
    if (d.owner_accepted) {
      d.version = slice->artifact.version;
      d.count = slice->instances;
      d.min_instances = slice->min_available;
      if (target != targets.end() && target->second.owner == owner && target->second.version == d.version) {
        d.target = target->second;
        d.target_failed = target->second.failed;
        if (target_positions.at(base) >= bp.position) {  // a tie: the same batch, or no positions known
          d.count = target->second.instances;
          d.min_instances = target->second.min_instances;
        }
      }
    } else {
      // A rejected owner keeps what its slice-target records (the owner of a
      // base is a rejected blueprint only through its slice-target).
      const auto& t = target->second;
      d.version = t.version;
      d.count = t.instances;
      d.min_instances = t.min_instances;
      d.target = t;
      d.target_failed = t.failed;
      if (slice != nullptr && slice->artifact.version != t.version) slice = nullptr;
    }
    d.artifact = base + ":" + d.version;
    if (slice != nullptr) d.depends_on = slice->depends_on;
    if (const BlueprintSlice* spec = bp.value ? bp.value->find(base) : nullptr; spec != nullptr) {
      d.cpu = spec->cpu;
      d.memory = spec->memory;
      d.anti_affinity = spec->anti_affinity;
      d.spread_zone = spec->spread_zone;
    }
    if (slice != nullptr) d.update = slice->update;
    out.bases.emplace(base, std::move(d));
  }
  return out;
}

OwedRange owed_range(int count, int min_instances, int eligible) {
  return {std::min(count, eligible), std::min(std::max(count, min_instances), eligible)};
}

// ---- failure evidence ---------------------------------------------------------------------

void FailureEvidence::set(std::uint64_t position, const std::string& artifact, Count count) {
  const bool before = has_evidence(artifact);
  if (count.transient == 0 && !count.fatal) {
    counts_.erase(artifact);
  } else {
    counts_[artifact] = count;
  }
  const bool after = has_evidence(artifact);
  if (before != after) history_[artifact].emplace_back(position, after);
}

void FailureEvidence::on_batch(std::uint64_t position, const std::vector<Command>& batch,
                               const std::map<std::string, std::optional<std::string>>& before,
                               const PositionedStore& after) {
  std::map<std::string, std::optional<std::string>> seen;  // earlier commands of this batch
  auto previous = [&](const std::string& key) -> std::optional<std::string> {
    if (auto it = seen.find(key); it != seen.end()) return it->second;
    auto it = before.find(key);
    return it == before.end() ? std::nullopt : it->second;
  };
  std::optional<Desired> desired;  // after the batch, computed on the first blueprint put
  for (const auto& command : batch) {
    const Key k = classify_key(command.key);
    const auto prev = previous(command.key);
    seen[command.key] = command.put ? std::optional<std::string>(command.value) : std::nullopt;
    if (!command.put) continue;
    if (k.kind == KeyKind::Slice) {
      Count c;
      if (auto it = counts_.find(k.artifact); it != counts_.end()) c = it->second;
      const auto value = read_slice_value(command.value);
      if (!value) {
        if (prev == command.value) continue;
        ++c.transient;
      } else if (value->state == State::Active) {
        c.transient = 0;
      } else if (value->state == State::Failed) {
        if (prev == command.value || value->reason == std::string("lost")) continue;
        if (value->fatal) {
          c.fatal = true;
        } else {
          ++c.transient;
        }
      } else {
        continue;
      }
      set(position, k.artifact, c);
    } else if (k.kind == KeyKind::Blueprint) {
      if (!desired) desired = desired_from(after);
      for (const auto& [base, d] : desired->bases) {
        if (d.owner != k.id) continue;
        std::vector<std::string> artifacts;
        for (const auto& [artifact, count] : counts_) {
          if (base_part(artifact) == base) artifacts.push_back(artifact);
        }
        for (const auto& a : artifacts) set(position, a, Count{});
      }
    }
  }
}

bool FailureEvidence::has_evidence(const std::string& artifact) const {
  auto it = counts_.find(artifact);
  return it != counts_.end() && (it->second.fatal || it->second.transient >= retry_max_);
}

bool FailureEvidence::had_evidence_at(const std::string& artifact, std::uint64_t position) const {
  auto it = history_.find(artifact);
  if (it == history_.end()) return false;
  bool state = false;
  for (const auto& [p, value] : it->second) {
    if (p > position) break;
    state = value;
  }
  return state;
}

std::string FailureEvidence::describe(const std::string& artifact) const {
  auto it = counts_.find(artifact);
  if (it == counts_.end()) return "no failures";
  if (it->second.fatal) return "a fatal failure";
  return std::to_string(it->second.transient) + " consecutive transient failures";
}

std::set<std::string> excluded_bases(const Desired& desired, const FailureEvidence& evidence,
                                     std::optional<std::uint64_t> at_position) {
  std::set<std::string> out;
  for (const auto& [base, d] : desired.bases) {
    const bool evident =
        at_position ? evidence.had_evidence_at(d.artifact, *at_position) : evidence.has_evidence(d.artifact);
    if (evident || d.target_failed) out.insert(base);
  }
  for (bool changed = true; changed;) {
    changed = false;
    for (const auto& [base, d] : desired.bases) {
      if (out.count(base) != 0) continue;
      for (const auto& dep : d.depends_on) {
        if (out.count(base_part(dep)) != 0) {
          out.insert(base);
          changed = true;
          break;
        }
      }
    }
  }
  return out;
}

}  // namespace aether::properties::ref
