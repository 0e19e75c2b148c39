// The placement fields of the scenario format (engine-semantics.md §8.1):
// cluster.zones, cluster.capacity, add_node zone/capacity, slice resources,
// anti_affinity and spread; each bad shape is an error with its JSON path.
#include <catch2/catch.hpp>

#include "scenarios/writer.h"
#include "test_support.h"

using namespace aether;
using namespace aether::scenarios;
using namespace aether::scenarios::testing;

namespace {
std::string with_cluster(const std::string& extra, const std::string& steps = "") {
  return R"({"name": "t", "cluster": {"nodes": 3)" + extra + R"(}, "steps": [)" + steps + "]}";
}
std::string slice_step(const std::string& fields) {
  return R"({"at": "1s", "blueprint": {"id": "b", "slices": [{"artifact": "g.x:a:1.0.0", "instances": 1)" +
         fields + R"(}, {"artifact": "g.x:c:1.0.0", "instances": 1}]}})";
}
}  // namespace

TEST_CASE("placement fields load: zones, capacity, add_node attributes") {
  const auto loaded = load_scenario_text(
      with_cluster(R"(, "zones": {"a": ["node-1"], "b": ["node-2"]},
                      "capacity": {"default": {"cpu": 4000, "memory": "8Gi"}, "node-3": {"cpu": 500}})",
                   R"({"at": "1s", "add_node": {"zone": "b", "capacity": {"memory": "512Mi"}}},)" +
                       slice_step(R"(, "resources": {"cpu": 250, "memory": "1Mi"}, "anti_affinity": ["g.x:c"],
                                     "spread": "zone")")),
      "t.json");
  INFO(listing(loaded.errors));
  REQUIRE(loaded.errors.empty());
  const auto& cluster = loaded.scenario->cluster;
  CHECK(cluster.attributes_of("node-1").zone == "a");
  CHECK(cluster.attributes_of("node-3").zone == "default");
  CHECK(cluster.attributes_of("node-1").capacity.memory == std::int64_t{8} << 30);
  CHECK(cluster.attributes_of("node-3").capacity.cpu == 500);
  CHECK_FALSE(cluster.attributes_of("node-3").capacity.memory);  // a missing dimension is unlimited
  const auto& add = std::get<AddNodeStep>(loaded.scenario->steps[0].action);
  CHECK(add.zone == "b");
  CHECK(add.capacity->memory == std::int64_t{512} << 20);
  // The writer keeps them: written and loaded again, the scenario is the same.
  const auto again = load_scenario_text(write_scenario(*loaded.scenario), "t.json");
  INFO(listing(again.errors));
  REQUIRE(again.errors.empty());
  CHECK(again.scenario->cluster == cluster);
  CHECK(again.scenario->steps[0].action == loaded.scenario->steps[0].action);
}

TEST_CASE("placement fields: wrong shapes, units, unknown zones and nodes are errors with paths") {
  auto errors = errors_of(with_cluster(R"(, "zones": {"a": ["node-1", "node-9"], "b": ["node-1"]})"));
  INFO(listing(errors));
  CHECK(has_error(errors, "cluster.zones.a[1]", "\"node-9\" is not a node of cluster.nodes"));
  CHECK(has_error(errors, "cluster.zones.b[0]", "already in zone \"a\""));
  errors = errors_of(with_cluster(R"(, "zones": {"a": "node-1"})"));
  CHECK(has_error(errors, "cluster.zones.a", "must be a list of node ids"));
  errors = errors_of(with_cluster(
      R"(, "capacity": {"node-7": {"cpu": 1}, "default": {"cpu": -1, "memory": "8GB", "disk": 1}})"));
  INFO(listing(errors));
  CHECK(has_error(errors, "cluster.capacity.node-7", "neither \"default\" nor a node"));
  CHECK(has_error(errors, "cluster.capacity.default.cpu", "millicores"));
  CHECK(has_error(errors, "cluster.capacity.default.memory", "Ki, Mi or Gi"));
  CHECK(has_error(errors, "cluster.capacity.default.disk", "unknown key"));
  errors = errors_of(
      with_cluster(R"(, "zones": {"east": ["node-1"]})", R"({"at": "1s", "add_node": {"zone": "eats"}})"));
  INFO(listing(errors));
  CHECK(has_error(errors, "steps[0].add_node.zone", "unknown zone \"eats\""));
  CHECK(has_error(errors, "steps[0].add_node.zone", "did you mean \"east\""));
  errors = errors_of(with_cluster("", R"({"at": "1s", "add_node": {"capacity": {"cpu": "1"}}})"));
  CHECK(has_error(errors, "steps[0].add_node.capacity.cpu", "millicores"));
}

TEST_CASE("placement fields: slice resources, anti_affinity and spread are validated") {
  auto errors = errors_of(with_cluster("", slice_step(R"(, "anti_affinity": ["g.x:a"])")));
  INFO(listing(errors));
  CHECK(has_error(errors, "steps[0].blueprint.slices[0].anti_affinity[0]", "anti-affine to itself"));
  errors = errors_of(with_cluster("", slice_step(R"(, "anti_affinity": "g.x:c", "spread": "rack")")));
  INFO(listing(errors));
  CHECK(has_error(errors, "steps[0].blueprint.slices[0].anti_affinity", "expected an array"));
  CHECK(has_error(errors, "steps[0].blueprint.slices[0].spread", "expected \"zone\""));
  errors = errors_of(with_cluster("", slice_step(R"(, "resources": {"cpu": 1.5, "memroy": 1})")));
  INFO(listing(errors));
  CHECK(has_error(errors, "steps[0].blueprint.slices[0].resources.cpu", "millicores"));
  CHECK(has_error(errors, "steps[0].blueprint.slices[0].resources.memroy", "did you mean \"memory\""));
}
