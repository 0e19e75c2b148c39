#include "engine/kv_schema.h"

#include <array>
#include <type_traits>
#include <utility>

#include <nlohmann/json.hpp>

#include "engine/artifact.h"

namespace aether::engine {

namespace {

using Json = nlohmann::json;

bool fail(std::string* error, std::string message) {
  if (error) *error = std::move(message);
  return false;
}

std::optional<Json> parse_object(std::string_view text, std::string* error) {
  Json value = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded() || !value.is_object()) {
    fail(error, "not a JSON object");
    return std::nullopt;
  }
  return value;
}

bool only_keys(const Json& object, std::initializer_list<const char*> keys, std::string* error) {
  for (const auto& item : object.items()) {
    bool known = false;
    for (const char* key : keys) known = known || item.key() == key;
    if (!known) return fail(error, "unknown key \"" + item.key() + "\"");
  }
  return true;
}

constexpr std::array<std::pair<NodeLifecycle, const char*>, 5> kLifecycleNames = {{
    {NodeLifecycle::Joining, "JOINING"},
    {NodeLifecycle::OnDuty, "ON_DUTY"},
    {NodeLifecycle::Draining, "DRAINING"},
    {NodeLifecycle::Decommissioned, "DECOMMISSIONED"},
    {NodeLifecycle::ShuttingDown, "SHUTTING_DOWN"},
}};

// The parts joined in one allocation (the keys are built on every NDM write,
// every CDM command and every activation; issue 14, ninth pass (2)).
template <typename... Parts>
std::string joined(Parts... parts) {
  static_assert((std::is_same_v<Parts, std::string_view> && ...));
  std::string out;
  out.reserve((parts.size() + ...));
  (out.append(parts), ...);
  return out;
}

}  // namespace

std::string blueprint_key(std::string_view id) {
  return joined(kBlueprintPrefix, id);
}
std::string slice_target_key(std::string_view base) {
  return joined(kSliceTargetPrefix, base);
}
std::string version_routing_key(std::string_view base) {
  return joined(kVersionRoutingPrefix, base);
}
std::string slice_key(std::string_view node, std::string_view artifact) {
  return joined(kSlicePrefix, node, std::string_view("/"), artifact);
}
std::string slice_node_prefix(std::string_view node) {
  return joined(kSlicePrefix, node, std::string_view("/"));
}
std::string node_lifecycle_key(std::string_view node) {
  return joined(kNodeLifecyclePrefix, node);
}

std::optional<std::string> key_suffix(std::string_view key, std::string_view prefix) {
  if (key.size() < prefix.size() || key.substr(0, prefix.size()) != prefix) return std::nullopt;
  return std::string(key.substr(prefix.size()));
}

std::optional<SliceKey> parse_slice_key(std::string_view key) {
  // Validated in place; the two strings are built only for a valid key.
  const std::string_view prefix = kSlicePrefix;
  if (!key.starts_with(prefix)) return std::nullopt;
  const std::string_view rest = key.substr(prefix.size());
  const auto slash = rest.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  const std::string_view node = rest.substr(0, slash);
  const std::string_view artifact = rest.substr(slash + 1);
  if (!is_valid_node_id(node) || !is_valid_artifact(artifact)) return std::nullopt;
  return SliceKey{std::string(node), std::string(artifact)};
}

// The exact text encode_slice_target writes (its keys in nlohmann's sorted
// order, no whitespace), read without a JSON parse (issue 14, seventh pass:
// every activation reads every slice-target). Accepted only where the full
// parse provably gives the same target: counts in canonical decimal (no sign,
// no leading zero) within 0..kMaxInstances; the owner printable ASCII
// without a quote or backslash (the JSON string is then the bytes
// themselves); a valid version (its grammar has neither). Anything else takes
// the full parse.
namespace {

bool take(std::string_view& text, std::string_view literal) {
  if (!text.starts_with(literal)) return false;
  text.remove_prefix(literal.size());
  return true;
}

bool take_count(std::string_view& text, int* out) {
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0 || digits > 5 || (digits > 1 && text[0] == '0')) return false;
  int n = 0;
  for (std::size_t i = 0; i < digits; ++i) n = n * 10 + (text[i] - '0');
  if (n > kMaxInstances) return false;
  *out = n;
  text.remove_prefix(digits);
  return true;
}

// Up to the closing quote; printable ASCII other than '"' and '\\' only.
bool take_plain_string(std::string_view& text, std::string* out) {
  std::size_t end = 0;
  while (end < text.size() && text[end] != '"') {
    const char c = text[end];
    if (c < 0x20 || c > 0x7e || c == '\\') return false;
    ++end;
  }
  if (end == text.size()) return false;
  out->assign(text.substr(0, end));
  text.remove_prefix(end + 1);
  return true;
}

std::optional<SliceTarget> parse_encoded_slice_target(std::string_view text) {
  SliceTarget out;
  if (!take(text, R"({"failed":)")) return std::nullopt;
  if (take(text, "true")) {
    out.failed = true;
  } else if (!take(text, "false")) {
    return std::nullopt;
  }
  if (!take(text, R"(,"instances":)") || !take_count(text, &out.instances) ||
      !take(text, R"(,"min_instances":)") || !take_count(text, &out.min_instances) ||
      !take(text, R"(,"owner":")") || !take_plain_string(text, &out.owner) ||
      !take(text, R"(,"version":")") || !take_plain_string(text, &out.version) || text != "}" ||
      !is_valid_version(out.version))
    return std::nullopt;
  return out;
}

}  // namespace

std::optional<SliceTarget> parse_slice_target(std::string_view text, std::string* error) {
  if (auto fast = parse_encoded_slice_target(text)) return fast;
  auto object = parse_object(text, error);
  if (!object) return std::nullopt;
  if (!only_keys(*object, {"version", "instances", "min_instances", "owner", "failed"}, error))
    return std::nullopt;
  SliceTarget out;
  const auto& o = *object;
  if (!o.contains("version") || !o["version"].is_string() ||
      !is_valid_version(o["version"].get<std::string>())) {
    fail(error, "version: expected a version string");
    return std::nullopt;
  }
  out.version = o["version"].get<std::string>();
  for (auto [name, field] :
       {std::pair{"instances", &out.instances}, std::pair{"min_instances", &out.min_instances}}) {
    if (!o.contains(name) || !o[name].is_number_integer()) {
      fail(error, std::string(name) + ": expected an integer");
      return std::nullopt;
    }
    const auto n = o[name].get<std::int64_t>();
    if (n < 0 || n > kMaxInstances) {
      fail(error, std::string(name) + ": must be in 0.." + std::to_string(kMaxInstances));
      return std::nullopt;
    }
    *field = static_cast<int>(n);
  }
  if (!o.contains("owner") || !o["owner"].is_string()) {
    fail(error, "owner: expected a blueprint id");
    return std::nullopt;
  }
  out.owner = o["owner"].get<std::string>();
  if (o.contains("failed")) {
    if (!o["failed"].is_boolean()) {
      fail(error, "failed: expected true or false");
      return std::nullopt;
    }
    out.failed = o["failed"].get<bool>();
  }
  return out;
}

std::string encode_slice_target(const SliceTarget& target) {
  Json out = Json::object();
  out["version"] = target.version;
  out["instances"] = target.instances;
  out["min_instances"] = target.min_instances;
  out["owner"] = target.owner;
  out["failed"] = target.failed;
  return out.dump();
}

std::optional<VersionRouting> parse_version_routing(std::string_view text, std::string* error) {
  auto object = parse_object(text, error);
  if (!object || !only_keys(*object, {"from", "to"}, error)) return std::nullopt;
  VersionRouting out;
  for (auto [key, field] : {std::pair{"from", &out.from}, std::pair{"to", &out.to}}) {
    const auto& o = *object;
    if (!o.contains(key) || !o[key].is_string() || !is_valid_version(o[key].get<std::string>())) {
      fail(error, std::string(key) + ": expected a version string");
      return std::nullopt;
    }
    *field = o[key].get<std::string>();
  }
  return out;
}

std::string encode_version_routing(const VersionRouting& routing) {
  Json out = Json::object();
  out["from"] = routing.from;
  out["to"] = routing.to;
  return out.dump();
}

// The exact text encode_slice_value writes without a failure reason
// ({"fatal":false,"state":"ACTIVE"}): read without a JSON parse (issue 14,
// the hot path of every reconcile). Anything else takes the full parse.
static std::optional<SliceValue> parse_encoded_slice_value(std::string_view text) {
  constexpr std::string_view kFalse = R"({"fatal":false,"state":")";
  constexpr std::string_view kTrue = R"({"fatal":true,"state":")";
  constexpr std::string_view kEnd = R"("})";
  SliceValue out;
  if (text.substr(0, kFalse.size()) == kFalse) {
    text.remove_prefix(kFalse.size());
  } else if (text.substr(0, kTrue.size()) == kTrue) {
    text.remove_prefix(kTrue.size());
    out.fatal = true;
  } else {
    return std::nullopt;
  }
  if (text.size() < kEnd.size() || text.substr(text.size() - kEnd.size()) != kEnd) return std::nullopt;
  text.remove_suffix(kEnd.size());
  auto state = parse_slice_state(text);  // a name has no quote or backslash: the JSON string is the name
  if (!state) return std::nullopt;
  out.state = *state;
  return out;
}

std::optional<SliceValue> parse_slice_value(std::string_view text, std::string* error) {
  if (auto fast = parse_encoded_slice_value(text)) return fast;
  auto object = parse_object(text, error);
  if (!object) return std::nullopt;
  if (!only_keys(*object, {"state", "failure_reason", "fatal"}, error)) return std::nullopt;
  const auto& o = *object;
  SliceValue out;
  if (!o.contains("state") || !o["state"].is_string()) {
    fail(error, "state: expected a slice state");
    return std::nullopt;
  }
  auto state = parse_slice_state(o["state"].get<std::string>());
  if (!state) {
    fail(error, "state: unknown slice state \"" + o["state"].get<std::string>() + "\"");
    return std::nullopt;
  }
  out.state = *state;
  if (o.contains("failure_reason") && !o["failure_reason"].is_null()) {
    if (!o["failure_reason"].is_string()) {
      fail(error, "failure_reason: expected a string");
      return std::nullopt;
    }
    out.failure_reason = o["failure_reason"].get<std::string>();
  }
  if (o.contains("fatal")) {
    if (!o["fatal"].is_boolean()) {
      fail(error, "fatal: expected true or false");
      return std::nullopt;
    }
    out.fatal = o["fatal"].get<bool>();
  }
  return out;
}

std::string encode_slice_value(const SliceValue& value) {
  if (!value.failure_reason) {
    // The exact bytes the JSON dump below writes without a reason (its keys
    // sorted, no whitespace; a state name needs no escaping), without
    // building a JSON object: every NDM state write and every CDM command
    // encodes one (issue 14, eighth pass).
    return joined(
        std::string_view(value.fatal ? R"({"fatal":true,"state":")" : R"({"fatal":false,"state":")"),
        std::string_view(slice_state_name(value.state)), std::string_view(R"("})"));
  }
  Json out = Json::object();
  out["state"] = slice_state_name(value.state);
  if (value.failure_reason) out["failure_reason"] = *value.failure_reason;
  out["fatal"] = value.fatal;
  return out.dump();
}

const char* node_lifecycle_name(NodeLifecycle state) {
  for (const auto& [value, name] : kLifecycleNames) {
    if (value == state) return name;
  }
  return "?";
}

std::optional<NodeLifecycle> parse_node_lifecycle(std::string_view text) {
  for (const auto& [value, name] : kLifecycleNames) {
    if (text == name) return value;
  }
  return std::nullopt;
}

std::optional<NodeId> parse_leader_value(std::string_view text) {
  if (!is_valid_node_id(text)) return std::nullopt;
  return NodeId(text);
}

}  // namespace aether::engine
