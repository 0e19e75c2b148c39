#include "engine/resources.h"

#include <algorithm>
#include <limits>

#include "engine/config.h"

namespace aether::engine {

std::optional<std::int64_t> parse_memory(const nlohmann::json& value, std::string* why) {
  constexpr const char* kShape = "expected bytes (an integer >= 0) or a string like \"512Mi\" (Ki, Mi or Gi)";
  if (value.is_number_integer()) {
    const auto n = value.get<std::int64_t>();
    if (n < 0) {
      if (why) *why = kShape;
      return std::nullopt;
    }
    return n;
  }
  if (!value.is_string()) {
    if (why) *why = std::string(kShape) + ", got " + json_type_name(value);
    return std::nullopt;
  }
  const auto text = value.get<std::string>();
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  const std::string unit = text.substr(digits);
  std::int64_t scale = 0;
  if (unit.empty()) scale = 1;
  if (unit == "Ki") scale = std::int64_t{1} << 10;
  if (unit == "Mi") scale = std::int64_t{1} << 20;
  if (unit == "Gi") scale = std::int64_t{1} << 30;
  if (digits == 0 || digits > 12 || scale == 0) {
    if (why) *why = std::string(kShape) + ", got \"" + text + "\"";
    return std::nullopt;
  }
  return std::stoll(text.substr(0, digits)) * scale;
}

Capacity parse_capacity(const nlohmann::json& value, const std::string& path,
                        std::vector<ResourceError>& errors) {
  Capacity out;
  if (!value.is_object()) {
    errors.push_back(
        {path, std::string("expected an object {\"cpu\", \"memory\"}, got ") + json_type_name(value)});
    return out;
  }
  const std::vector<std::string> known{"cpu", "memory"};
  for (const auto& item : value.items()) {
    if (item.key() == "cpu") {
      if (!item.value().is_number_integer() || item.value().get<std::int64_t>() < 0) {
        errors.push_back(
            {path + ".cpu",
             std::string("expected millicores (an integer >= 0), got ") +
                 (item.value().is_number_integer() ? "a negative number" : json_type_name(item.value()))});
      } else {
        out.cpu = item.value().get<std::int64_t>();
      }
    } else if (item.key() == "memory") {
      std::string why;
      if (auto bytes = parse_memory(item.value(), &why)) {
        out.memory = *bytes;
      } else {
        errors.push_back({path + ".memory", why});
      }
    } else {
      std::string message = "unknown key \"" + item.key() + "\"";
      if (auto suggestion = closest_name(item.key(), known))
        message += "; did you mean \"" + *suggestion + "\"?";
      errors.push_back({path + "." + item.key(), message});
    }
  }
  return out;
}

bool fits(const Capacity& capacity, const Resources& used, const Resources& extra) {
  if (capacity.cpu && used.cpu + extra.cpu > *capacity.cpu) return false;
  if (capacity.memory && used.memory + extra.memory > *capacity.memory) return false;
  return true;
}

double load_ratio(const Capacity& capacity, const Resources& used) {
  auto ratio = [](std::optional<std::int64_t> limit, std::int64_t amount) {
    if (!limit) return 0.0;
    if (*limit == 0) return amount > 0 ? std::numeric_limits<double>::infinity() : 0.0;
    return static_cast<double>(amount) / static_cast<double>(*limit);
  };
  return std::max(ratio(capacity.cpu, used.cpu), ratio(capacity.memory, used.memory));
}

nlohmann::json resources_to_json(const Resources& resources) {
  return nlohmann::json{{"cpu", resources.cpu}, {"memory", resources.memory}};
}

nlohmann::json capacity_to_json(const Capacity& capacity) {
  nlohmann::json out = nlohmann::json::object();
  if (capacity.cpu) out["cpu"] = *capacity.cpu;
  if (capacity.memory) out["memory"] = *capacity.memory;
  return out;
}

}  // namespace aether::engine
