#include <catch2/catch.hpp>

#include <algorithm>
#include <cctype>
#include <random>
#include <string>
#include <string_view>
#include <vector>

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

namespace {
// The validators as they were written before issue 14's seventh pass (split
// into a vector of parts): the reference the allocation-free ones must match.
std::vector<std::string_view> split_ref(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    const auto at = text.find(separator, start);
    if (at == std::string_view::npos) {
      parts.push_back(text.substr(start));
      return parts;
    }
    parts.push_back(text.substr(start, at - start));
    start = at + 1;
  }
}
bool lower_ref(char c) {
  return c >= 'a' && c <= 'z';
}
bool digit_ref(char c) {
  return c >= '0' && c <= '9';
}
bool group_ref(std::string_view text) {
  const auto segments = split_ref(text, '.');
  if (segments.size() < 2) return false;
  for (auto segment : segments) {
    if (segment.empty() || !lower_ref(segment[0])) return false;
    for (char c : segment.substr(1))
      if (!lower_ref(c) && !digit_ref(c) && c != '_' && c != '-') return false;
  }
  return true;
}
bool artifact_id_ref(std::string_view text) {
  if (text.empty() || !lower_ref(text[0])) return false;
  for (auto word : split_ref(text, '-')) {
    if (word.empty()) return false;
    for (char c : word)
      if (!lower_ref(c) && !digit_ref(c)) return false;
  }
  return true;
}
bool version_ref(std::string_view text) {
  // MAJOR.MINOR.PATCH, then an optional -suffix of [A-Za-z0-9.]+.
  const auto dash = text.find('-');
  const std::string_view core = text.substr(0, dash);
  if (dash != std::string_view::npos) {
    const auto suffix = text.substr(dash + 1);
    const auto allowed = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '.'; };
    if (suffix.empty() || !std::all_of(suffix.begin(), suffix.end(), allowed)) return false;
  }
  const auto numbers = split_ref(core, '.');
  if (numbers.size() != 3) return false;
  for (auto number : numbers) {
    if (number.empty()) return false;
    for (char c : number)
      if (!digit_ref(c)) return false;
  }
  return true;
}
}  // namespace

TEST_CASE("artifact validators answer as the split-based ones did (random strings)") {
  // Strings over the grammar's alphabet and its separators, short enough that
  // every shape (empty parts, doubled separators, edges) occurs often.
  std::mt19937_64 rng(20261203);
  const std::string alphabets[] = {"ab0-._:Z9.-:", "09..-aZ"};  // the second makes versions likely
  int valid_groups = 0;
  int valid_ids = 0;
  int valid_versions = 0;
  int artifacts = 0;
  for (int i = 0; i < 200000; ++i) {
    std::string text;
    const std::size_t length = rng() % 12;
    const std::string& alphabet = alphabets[rng() % 2];
    for (std::size_t c = 0; c < length; ++c) text += alphabet[rng() % alphabet.size()];
    INFO(text);
    REQUIRE(is_valid_group_id(text) == group_ref(text));
    REQUIRE(is_valid_artifact_id(text) == artifact_id_ref(text));
    REQUIRE(is_valid_version(text) == version_ref(text));
    valid_groups += group_ref(text);
    valid_ids += artifact_id_ref(text);
    valid_versions += version_ref(text);
    // Whole artifacts: random parts, sometimes valid ones.
    const std::string group = rng() % 2 ? std::string("org.x") : text;
    const std::string id = rng() % 2 ? std::string("cart-2") : text;
    const std::string version = rng() % 2 ? std::string("1.0.0") : text;
    const std::string artifact = group + ":" + id + ":" + version;
    const auto parts = split_ref(artifact, ':');
    const bool expected =
        parts.size() == 3 && group_ref(parts[0]) && artifact_id_ref(parts[1]) && version_ref(parts[2]);
    const auto parsed = parse_artifact(artifact);
    REQUIRE(parsed.has_value() == expected);
    REQUIRE(is_valid_artifact(artifact) == expected);
    REQUIRE(is_valid_artifact(text) == parse_artifact(text).has_value());
    if (parsed) {
      ++artifacts;
      CHECK(parsed->to_string() == artifact);
    }
    const std::string base = group + ":" + id;
    const auto base_parts = split_ref(base, ':');
    REQUIRE(parse_artifact_base(base).has_value() ==
            (base_parts.size() == 2 && group_ref(base_parts[0]) && artifact_id_ref(base_parts[1])));
  }
  CHECK(valid_groups > 100);
  CHECK(valid_ids > 100);
  CHECK(valid_versions > 10);
  CHECK(artifacts > 1000);
}
