#include <catch2/catch.hpp>

#include "tools/trace_compare.h"

using aether::tools::TraceComparer;

namespace {
TraceComparer compare(const std::vector<std::string>& first, const std::vector<std::string>& second) {
  TraceComparer comparer;
  for (const auto& line : first) comparer.record_first(line);
  for (const auto& line : second) comparer.compare_second(line);
  return comparer;
}
}  // namespace

TEST_CASE("identical traces do not diverge") {
  CHECK(!compare({"a", "b", "c"}, {"a", "b", "c"}).result());
}

TEST_CASE("the first differing line is named with the line before it") {
  const auto d = compare({"a", "b", "c", "d"}, {"a", "b", "x", "y"}).result();
  REQUIRE(d);
  CHECK(d->index == 2);
  CHECK(d->second_line == "x");
  CHECK(d->last_common == "b");
  CHECK(!d->first_ended);
  CHECK(!d->second_ended);
}

TEST_CASE("a second run with extra events diverges where the first ended") {
  const auto d = compare({"a"}, {"a", "extra"}).result();
  REQUIRE(d);
  CHECK(d->index == 1);
  CHECK(d->first_ended);
  CHECK(d->second_line == "extra");
}

TEST_CASE("a second run that stops early diverges where it ended") {
  const auto d = compare({"a", "b"}, {"a"}).result();
  REQUIRE(d);
  CHECK(d->index == 1);
  CHECK(d->second_ended);
  CHECK(d->last_common == "a");
}

TEST_CASE("a divergence at the first event has no common line") {
  const auto d = compare({"a"}, {"b"}).result();
  REQUIRE(d);
  CHECK(d->index == 0);
  CHECK(d->last_common.empty());
}
