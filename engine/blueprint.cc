#include "engine/blueprint.h"

#include <map>
#include <set>

#include <boost/graph/adjacency_list.hpp>

#include "engine/config.h"
#include "engine/resources.h"

namespace aether::engine {

namespace {

using Json = nlohmann::json;
using Graph = boost::adjacency_list<boost::vecS, boost::vecS, boost::bidirectionalS>;

void check_keys(const Json& object, const std::string& path, const std::vector<std::string>& known,
                std::vector<BlueprintError>& errors) {
  for (const auto& item : object.items()) {
    bool found = false;
    for (const auto& key : known) found = found || key == item.key();
    if (found) continue;
    std::string message = "unknown key \"" + item.key() + "\"";
    if (auto suggestion = closest_name(item.key(), known))
      message += "; did you mean \"" + *suggestion + "\"?";
    errors.push_back({path.empty() ? item.key() : path + "." + item.key(), message});
  }
}

// `update`: {"strategy": "immediate"} or {"strategy": "rolling", "max_surge":
// k >= 1, "max_unavailable": u >= 0}, not both zero (engine-semantics.md §8.4).
UpdatePolicy parse_update(const Json& value, const std::string& path, std::vector<BlueprintError>& errors) {
  UpdatePolicy policy;
  if (!value.is_object()) {
    errors.push_back(
        {path, std::string("expected an update object {strategy, max_surge?, max_unavailable?}, got ") +
                   json_type_name(value)});
    return policy;
  }
  check_keys(value, path, {"strategy", "max_surge", "max_unavailable"}, errors);
  if (!value.contains("strategy")) {
    errors.push_back({path, "missing \"strategy\" (\"immediate\" or \"rolling\")"});
    return policy;
  }
  const auto& strategy = value["strategy"];
  if (!strategy.is_string() || (strategy != "immediate" && strategy != "rolling")) {
    errors.push_back({path + ".strategy", "expected \"immediate\" or \"rolling\""});
    return policy;
  }
  policy.rolling = strategy == "rolling";
  auto count = [&](const char* key, int low, int* out) {
    if (!value.contains(key)) return true;
    const auto& v = value[key];
    const std::string at = path + "." + key;
    if (!policy.rolling) {
      errors.push_back({at, "only a \"rolling\" update takes " + std::string(key)});
      return false;
    }
    if (!v.is_number_integer()) {
      errors.push_back({at, std::string("expected an integer, got ") + json_type_name(v)});
      return false;
    }
    const auto n = v.get<std::int64_t>();
    if (n < low || n > kMaxInstances) {
      errors.push_back({at, "must be in " + std::to_string(low) + ".." + std::to_string(kMaxInstances)});
      return false;
    }
    *out = static_cast<int>(n);
    return true;
  };
  const bool surge_ok = count("max_surge", 0, &policy.max_surge);
  const bool unavailable_ok = count("max_unavailable", 0, &policy.max_unavailable);
  if (policy.rolling && surge_ok && unavailable_ok && policy.max_surge == 0) {
    errors.push_back(
        {path + ".max_surge", policy.max_unavailable == 0
                                  ? "max_surge 0 with max_unavailable 0: the update could never make progress"
                                  : "must be at least 1"});
  }
  return policy;
}

struct RawSlice {
  std::optional<Artifact> artifact;
  bool valid = true;      // every field of the slice parsed (the artifact always did)
  std::size_t index = 0;  // position in the blueprint's slices array
  std::vector<std::pair<std::string, Artifact>> depends_on;  // path, artifact
  SliceSpec spec;
};

// `resources`, `anti_affinity` and `spread` (engine-semantics.md §8.1).
void parse_placement(const Json& value, const std::string& path, RawSlice& raw,
                     std::vector<BlueprintError>& errors) {
  if (value.contains("resources")) {
    std::vector<ResourceError> resource_errors;
    raw.spec.resources = demand_of(parse_capacity(value["resources"], path + ".resources", resource_errors));
    for (auto& error : resource_errors) errors.push_back({std::move(error.path), std::move(error.message)});
  }
  if (value.contains("anti_affinity")) {
    const auto& list = value["anti_affinity"];
    if (!list.is_array()) {
      errors.push_back(
          {path + ".anti_affinity",
           std::string("expected an array of artifact bases (group:artifact), got ") + json_type_name(list)});
    } else {
      std::set<ArtifactBase> bases;
      for (std::size_t j = 0; j < list.size(); ++j) {
        const std::string item_path = path + ".anti_affinity[" + std::to_string(j) + "]";
        std::string why;
        auto base =
            list[j].is_string() ? parse_artifact_base(list[j].get<std::string>(), &why) : std::nullopt;
        if (!list[j].is_string())
          why = std::string("expected an artifact base string, got ") + json_type_name(list[j]);
        if (!base) {
          errors.push_back({item_path, why});
        } else if (raw.artifact && *base == raw.artifact->base()) {
          errors.push_back({item_path,
                            "a slice cannot be anti-affine to itself (one instance per node per "
                            "artifact is the rule already)"});
        } else {
          bases.insert(*base);
        }
      }
      raw.spec.anti_affinity.assign(bases.begin(), bases.end());
    }
  }
  if (value.contains("spread")) {
    const auto& spread = value["spread"];
    if (!spread.is_string() || spread.get<std::string>() != "zone") {
      errors.push_back({path + ".spread", "expected \"zone\" (the only spread for now)"});
    } else {
      raw.spec.spread_zone = true;
    }
  }
}

std::optional<RawSlice> parse_slice(const Json& value, const std::string& path,
                                    std::vector<BlueprintError>& errors) {
  if (!value.is_object()) {
    errors.push_back({path, std::string("expected a slice object, got ") + json_type_name(value)});
    return std::nullopt;
  }
  check_keys(value, path,
             {"artifact", "instances", "min_available", "depends_on", "resources", "anti_affinity", "spread",
              "update"},
             errors);
  RawSlice raw;
  const auto before = errors.size();
  bool instances_ok = false;
  if (!value.contains("artifact")) {
    errors.push_back({path, "missing \"artifact\""});
  } else if (!value["artifact"].is_string()) {
    errors.push_back({path + ".artifact",
                      std::string("expected an artifact string, got ") + json_type_name(value["artifact"])});
  } else {
    std::string why;
    raw.artifact = parse_artifact(value["artifact"].get<std::string>(), &why);
    if (!raw.artifact) errors.push_back({path + ".artifact", why});
  }
  if (!value.contains("instances")) {
    errors.push_back({path, "missing \"instances\""});
  } else if (!value["instances"].is_number_integer()) {
    errors.push_back(
        {path + ".instances", std::string("expected an integer, got ") + json_type_name(value["instances"])});
  } else {
    const auto n = value["instances"].get<std::int64_t>();
    if (n < 1 || n > kMaxInstances) {
      errors.push_back({path + ".instances", "must be in 1.." + std::to_string(kMaxInstances)});
    } else {
      raw.spec.instances = static_cast<int>(n);
      instances_ok = true;
    }
  }
  raw.spec.min_available = default_min_available(raw.spec.instances);
  if (value.contains("min_available")) {
    const auto& m = value["min_available"];
    if (!m.is_number_integer()) {
      errors.push_back(
          {path + ".min_available", std::string("expected an integer, got ") + json_type_name(m)});
    } else {
      const auto n = m.get<std::int64_t>();
      if (!instances_ok) {
        // The range depends on instances, which is itself wrong: nothing to judge.
      } else if (n < 1 || n > raw.spec.instances) {
        errors.push_back({path + ".min_available",
                          "must be in 1..instances (" + std::to_string(raw.spec.instances) + ")"});
      } else {
        raw.spec.min_available = static_cast<int>(n);
      }
    }
  }
  if (value.contains("depends_on")) {
    const auto& deps = value["depends_on"];
    if (!deps.is_array()) {
      errors.push_back(
          {path + ".depends_on", std::string("expected an array of artifacts, got ") + json_type_name(deps)});
    } else {
      for (std::size_t j = 0; j < deps.size(); ++j) {
        const std::string dep_path = path + ".depends_on[" + std::to_string(j) + "]";
        if (!deps[j].is_string()) {
          errors.push_back(
              {dep_path, std::string("expected an artifact string, got ") + json_type_name(deps[j])});
          continue;
        }
        std::string why;
        auto dep = parse_artifact(deps[j].get<std::string>(), &why);
        if (!dep) {
          errors.push_back({dep_path, why});
          continue;
        }
        raw.depends_on.emplace_back(dep_path, *dep);
      }
    }
  }
  parse_placement(value, path, raw, errors);
  if (value.contains("update")) raw.spec.update = parse_update(value["update"], path + ".update", errors);
  // A slice whose artifact parsed still takes part in the blueprint-wide
  // checks (bases once, dependencies inside, no cycle), so that every error is
  // listed at once; `valid` says whether the rest of it parsed too.
  if (!raw.artifact) return std::nullopt;
  raw.valid = errors.size() == before;
  raw.spec.artifact = *raw.artifact;
  return raw;
}

}  // namespace

const SliceSpec* Blueprint::find_base(std::string_view base) const {
  for (const auto& slice : slices) {
    const std::string& group = slice.artifact.group_id;
    const std::string& artifact = slice.artifact.artifact_id;
    if (base.size() == group.size() + 1 + artifact.size() && base[group.size()] == ':' &&
        (artifact.empty() || base.back() == artifact.back()) && base.ends_with(artifact) &&
        base.starts_with(group))
      return &slice;
  }
  return nullptr;
}

const SliceSpec* Blueprint::find(const ArtifactBase& base) const {
  for (const auto& slice : slices) {
    // slice.artifact.base() == base, without building the ArtifactBase.
    if (slice.artifact.group_id == base.group_id && slice.artifact.artifact_id == base.artifact_id)
      return &slice;
  }
  return nullptr;
}

const char* atomicity_name(Atomicity atomicity) {
  return atomicity == Atomicity::AllOrNothing ? "all-or-nothing" : "best-effort";
}

bool is_valid_blueprint_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  if (!alnum(id[0])) return false;
  for (char c : id) {
    if (!alnum(c) && c != '.' && c != '_' && c != '-') return false;
  }
  return true;
}

BlueprintParse parse_blueprint(const nlohmann::json& object) {
  std::vector<BlueprintError> errors;
  if (!object.is_object()) {
    errors.push_back(
        {"", std::string("expected a blueprint object {id, slices}, got ") + json_type_name(object)});
    return errors;
  }
  check_keys(object, "", {"id", "slices", "atomicity"}, errors);
  Blueprint blueprint;
  if (object.contains("atomicity")) {
    const auto& a = object["atomicity"];
    if (a.is_string() && a.get<std::string>() == atomicity_name(Atomicity::BestEffort)) {
      blueprint.atomicity = Atomicity::BestEffort;
    } else if (a.is_string() && a.get<std::string>() == atomicity_name(Atomicity::AllOrNothing)) {
      blueprint.atomicity = Atomicity::AllOrNothing;
    } else {
      std::string message = "expected \"best-effort\" or \"all-or-nothing\"";
      if (a.is_string()) {
        if (auto suggestion = closest_name(a.get<std::string>(), {atomicity_name(Atomicity::BestEffort),
                                                                  atomicity_name(Atomicity::AllOrNothing)}))
          message += "; did you mean \"" + *suggestion + "\"?";
      } else {
        message += std::string(", got ") + json_type_name(a);
      }
      errors.push_back({"atomicity", message});
    }
  }
  if (!object.contains("id")) {
    errors.push_back({"", "missing \"id\""});
  } else if (!object["id"].is_string() || !is_valid_blueprint_id(object["id"].get<std::string>())) {
    errors.push_back({"id",
                      "expected a blueprint id: letters, digits, '.', '_', '-' (at most 128), "
                      "starting with a letter or digit"});
  } else {
    blueprint.id = object["id"].get<std::string>();
  }
  std::vector<RawSlice> raws;  // every slice whose artifact parsed, in input order
  bool slices_ok = true;
  bool all_artifacts_known = true;  // false: some slice's artifact did not parse
  if (!object.contains("slices")) {
    errors.push_back({"", "missing \"slices\""});
    slices_ok = false;
  } else if (!object["slices"].is_array() || object["slices"].empty()) {
    errors.push_back({"slices", "expected a non-empty array of slices"});
    slices_ok = false;
  } else {
    const auto& slices = object["slices"];
    for (std::size_t i = 0; i < slices.size(); ++i) {
      auto raw = parse_slice(slices[i], "slices[" + std::to_string(i) + "]", errors);
      if (raw) {
        raw->index = i;
        if (!raw->valid) slices_ok = false;
        raws.push_back(std::move(*raw));
      } else {
        slices_ok = false;
        all_artifacts_known = false;
      }
    }
  }

  // Bases once; dependencies inside the blueprint.
  std::map<std::string, std::size_t> by_base;
  std::map<std::string, std::size_t> by_artifact;
  for (std::size_t i = 0; i < raws.size(); ++i) {
    const auto base = raws[i].spec.artifact.base().to_string();
    auto [it, inserted] = by_base.emplace(base, i);
    if (!inserted) {
      errors.push_back(
          {"slices[" + std::to_string(raws[i].index) + "].artifact",
           "base " + base + " is already listed at slices[" + std::to_string(raws[it->second].index) + "]"});
    }
    by_artifact.emplace(raws[i].spec.artifact.to_string(), i);
  }
  Graph graph(raws.size());
  for (std::size_t i = 0; i < raws.size(); ++i) {
    std::set<Artifact> deps;
    for (const auto& [dep_path, dep] : raws[i].depends_on) {
      auto it = by_artifact.find(dep.to_string());
      if (it == by_artifact.end()) {
        // With a slice whose artifact did not parse, the target may be that
        // slice: its own error is listed; do not guess here.
        if (all_artifacts_known)
          errors.push_back({dep_path, dep.to_string() + " is not a slice of this blueprint"});
        continue;
      }
      if (it->second == i) {
        errors.push_back({dep_path, "a slice cannot depend on itself"});
        continue;
      }
      if (deps.insert(dep).second) boost::add_edge(it->second, i, graph);  // dependency -> dependant
    }
    raws[i].spec.depends_on.assign(deps.begin(), deps.end());
  }

  // Kahn's algorithm over the Boost graph; among ready slices the smallest
  // artifact string goes first.
  std::vector<std::size_t> in_degree(raws.size());
  std::set<std::pair<std::string, std::size_t>> ready;
  for (std::size_t v = 0; v < raws.size(); ++v) {
    in_degree[v] = boost::in_degree(v, graph);
    if (in_degree[v] == 0) ready.emplace(raws[v].spec.artifact.to_string(), v);
  }
  std::vector<std::size_t> order;
  while (!ready.empty()) {
    const auto v = ready.begin()->second;
    ready.erase(ready.begin());
    order.push_back(v);
    for (auto [e, end] = boost::out_edges(v, graph); e != end; ++e) {
      const auto w = boost::target(*e, graph);
      if (--in_degree[w] == 0) ready.emplace(raws[w].spec.artifact.to_string(), w);
    }
  }
  if (order.size() != raws.size()) {
    // Walk backwards from a leftover slice (in input order) until a slice repeats: that is a cycle.
    std::size_t start = 0;
    while (in_degree[start] == 0) ++start;
    std::vector<std::size_t> walk{start};
    std::map<std::size_t, std::size_t> seen{{start, 0}};
    while (true) {
      std::size_t next = 0;
      for (auto [e, end] = boost::in_edges(walk.back(), graph); e != end; ++e) {
        const auto u = boost::source(*e, graph);
        if (in_degree[u] != 0) {
          next = u;
          break;
        }
      }
      if (auto it = seen.find(next); it != seen.end()) {
        std::string text;
        for (std::size_t k = it->second; k < walk.size(); ++k)
          text += raws[walk[k]].spec.artifact.to_string() + " -> ";
        text += raws[next].spec.artifact.to_string();
        errors.push_back({"slices[" + std::to_string(raws[next].index) + "].depends_on",
                          "dependency cycle (depends on): " + text});
        return errors;
      }
      seen.emplace(next, walk.size());
      walk.push_back(next);
    }
  }
  if (!slices_ok || !errors.empty()) return errors;
  for (auto v : order) blueprint.slices.push_back(raws[v].spec);
  return blueprint;
}

BlueprintParse parse_blueprint_text(std::string_view text) {
  Json object = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (object.is_discarded()) return std::vector<BlueprintError>{{"", "not valid JSON"}};
  return parse_blueprint(object);
}

nlohmann::json blueprint_to_json(const Blueprint& blueprint) {
  Json slices = Json::array();
  for (const auto& slice : blueprint.slices) {
    Json item = Json::object();
    item["artifact"] = slice.artifact.to_string();
    item["instances"] = slice.instances;
    item["min_available"] = slice.min_available;
    if (!slice.depends_on.empty()) {
      item["depends_on"] = Json::array();
      for (const auto& dep : slice.depends_on) item["depends_on"].push_back(dep.to_string());
    }
    if (slice.resources != Resources{}) item["resources"] = resources_to_json(slice.resources);
    if (!slice.anti_affinity.empty()) {
      item["anti_affinity"] = Json::array();
      for (const auto& base : slice.anti_affinity) item["anti_affinity"].push_back(base.to_string());
    }
    if (slice.spread_zone) item["spread"] = "zone";
    if (slice.update.rolling) {
      item["update"] = Json{{"strategy", "rolling"},
                            {"max_surge", slice.update.max_surge},
                            {"max_unavailable", slice.update.max_unavailable}};
    }
    slices.push_back(std::move(item));
  }
  Json out{{"id", blueprint.id}, {"slices", std::move(slices)}};
  if (blueprint.atomicity != Atomicity::BestEffort) out["atomicity"] = atomicity_name(blueprint.atomicity);
  return out;
}

}  // namespace aether::engine
