#include <catch2/catch.hpp>

#include "engine/artifact.h"

using namespace aether::engine;

TEST_CASE("node ids are a lowercase letter then up to 62 of [a-z0-9-]") {
  CHECK(is_valid_node_id("node-1"));
  CHECK(is_valid_node_id("a"));
  CHECK(is_valid_node_id(std::string(63, 'a')));
  CHECK_FALSE(is_valid_node_id(std::string(64, 'a')));
  CHECK_FALSE(is_valid_node_id(""));
  CHECK_FALSE(is_valid_node_id("1node"));
  CHECK_FALSE(is_valid_node_id("Node"));
  CHECK_FALSE(is_valid_node_id("node_1"));
}

TEST_CASE("an artifact parses into group, artifact id and version") {
  auto artifact = parse_artifact("org.example:cart:1.0.0");
  REQUIRE(artifact);
  CHECK(artifact->group_id == "org.example");
  CHECK(artifact->artifact_id == "cart");
  CHECK(artifact->version == "1.0.0");
  CHECK(artifact->base().to_string() == "org.example:cart");
  CHECK(artifact->to_string() == "org.example:cart:1.0.0");
}

TEST_CASE("group ids need at least two dot-separated lowercase segments") {
  CHECK(is_valid_group_id("org.example"));
  CHECK(is_valid_group_id("org.ex_ample-2.x"));
  CHECK_FALSE(is_valid_group_id("org"));
  CHECK_FALSE(is_valid_group_id("org..example"));
  CHECK_FALSE(is_valid_group_id("Org.example"));
  CHECK_FALSE(is_valid_group_id("org.1example"));
}

TEST_CASE("artifact ids are lowercase words joined by single dashes") {
  CHECK(is_valid_artifact_id("cart"));
  CHECK(is_valid_artifact_id("cart-v2-api"));
  CHECK_FALSE(is_valid_artifact_id("cart--api"));
  CHECK_FALSE(is_valid_artifact_id("cart-"));
  CHECK_FALSE(is_valid_artifact_id("-cart"));
  CHECK_FALSE(is_valid_artifact_id("cart_api"));
  CHECK_FALSE(is_valid_artifact_id("2cart"));
}

TEST_CASE("versions are three numbers with an optional suffix") {
  CHECK(is_valid_version("1.0.0"));
  CHECK(is_valid_version("10.20.30-RC.1"));
  CHECK_FALSE(is_valid_version("1.0"));
  CHECK_FALSE(is_valid_version("1.0.0-"));
  CHECK_FALSE(is_valid_version("1.0.0-rc_1"));
  CHECK_FALSE(is_valid_version("1.a.0"));
}

TEST_CASE("a malformed artifact is rejected with a reason") {
  std::string error;
  CHECK_FALSE(parse_artifact("org.example:cart", &error));
  CHECK(error.find("groupId:artifactId:version") != std::string::npos);
  CHECK_FALSE(parse_artifact("org:cart:1.0.0", &error));
  CHECK(error.find("groupId") != std::string::npos);
  CHECK_FALSE(parse_artifact("org.example:cart:1.0", &error));
  CHECK(error.find("version") != std::string::npos);
}

TEST_CASE("artifacts order by their string") {
  auto a = *parse_artifact("org.example:cart:1.0.0");
  auto b = *parse_artifact("org.example:cart-api:1.0.0");
  CHECK((a < b) == (a.to_string() < b.to_string()));
  CHECK(base_of("org.example:cart:1.0.0") == "org.example:cart");
  CHECK(parse_artifact_base("org.example:cart"));
  CHECK_FALSE(parse_artifact_base("org.example:cart:1.0.0"));
}
