#include <catch2/catch.hpp>

#include "scenarios/json_text.h"
#include "test_support.h"

using namespace aether::scenarios;
using namespace aether::scenarios::testing;

TEST_CASE("comments are blanked out and every offset is kept") {
  const std::string text = "{\n  // a line comment\n  \"a\": /* inline */ 1\n}";
  const StrippedText stripped = strip_comments(text);
  REQUIRE(stripped.text.size() == text.size());
  CHECK(stripped.text.find("comment") == std::string::npos);
  CHECK(stripped.text.find("inline") == std::string::npos);
  CHECK(std::count(stripped.text.begin(), stripped.text.end(), '\n') == 3);
  CHECK(nlohmann::json::parse(stripped.text) == nlohmann::json{{"a", 1}});
}

TEST_CASE("comment markers inside strings are text") {
  const std::string text = R"({"url": "http://x/*y*/", "q": "a\"//b"})";
  CHECK(strip_comments(text).text == text);
}

TEST_CASE("a multi-line block comment keeps its newlines") {
  const StrippedText stripped = strip_comments("/* one\ntwo\n*/ {}");
  CHECK(stripped.text == "      \n   \n   {}");
}

TEST_CASE("an unterminated block comment is an error at its start") {
  const auto errors = errors_of("{\n  \"name\": \"x\", /* never closed\n}");
  REQUIRE(errors.size() == 1);
  CHECK(format_error(errors[0]) == "t.json:2:16: unterminated /* comment");
}

TEST_CASE("malformed JSON is reported with line and column after comments") {
  const auto errors = errors_of("{\n  // comment\n  \"name\": \"x\",\n  \"seed\": 7,,\n}");
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].line == 4);
  CHECK(errors[0].column == 13);
  CHECK(errors[0].message.find("malformed JSON") == 0);
}

TEST_CASE("an empty file is malformed JSON at 1:1") {
  const auto errors = errors_of("");
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].line == 1);
  CHECK(errors[0].column == 1);
}

TEST_CASE("duplicate keys are errors with their JSON path, each one listed") {
  const auto errors = errors_of(R"({"name": "a", "name": "b", "cluster": {"nodes": 3},
    "steps": [{"at": "1s", "crash": "node-1"}, {"at": "2s", "at": "3s", "restart": "node-1"}]})");
  CHECK(has_error(errors, "name", "duplicate key \"name\""));
  CHECK(has_error(errors, "steps[1].at", "duplicate key \"at\""));
  CHECK(errors.size() == 2);
}

TEST_CASE("nesting deeper than the limit is refused without recursion") {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  const auto errors = errors_of(deep);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].message.find("nested deeper than 64") != std::string::npos);
}

TEST_CASE("nesting just within the limit is parsed") {
  nlohmann::json out;
  std::vector<ScenarioError> errors;
  const std::string text = std::string(kMaxNestingDepth, '[') + std::string(kMaxNestingDepth, ']');
  CHECK(parse_json_text(text, "t.json", out, errors));
  CHECK(errors.empty());
}

TEST_CASE("a document with more values than the limit is refused") {
  std::string text = "[0";
  for (std::size_t i = 0; i < kMaxJsonValues; ++i) text += ",0";
  text += "]";
  const auto errors = errors_of(text);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].message == "more than 2000000 JSON values in one file (the limit)");
}

TEST_CASE("a file above the size limit is refused before parsing") {
  const std::string big(kMaxFileBytes + 1, ' ');
  const auto errors = errors_of(big);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].message.find("limit is 16777216 bytes") != std::string::npos);
}

TEST_CASE("paths quote keys that are not plain identifiers") {
  CHECK(member_path("", "steps") == "steps");
  CHECK(member_path("steps[3]", "at") == "steps[3].at");
  CHECK(member_path("x", "org.example:cart:1.0.0") == "x[\"org.example:cart:1.0.0\"]");
  CHECK(index_path("steps[3].partition", 1) == "steps[3].partition[1]");
}
