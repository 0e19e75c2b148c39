#include <catch2/catch.hpp>

#include <string>

#include "engine/duration.h"

using aether::engine::format_duration;
using aether::engine::parse_duration;

TEST_CASE("durations in every unit parse to nanoseconds") {
  CHECK(parse_duration("0") == std::nullopt);
  CHECK(parse_duration("0s") == 0);
  CHECK(parse_duration("7ns") == 7);
  CHECK(parse_duration("3us") == 3'000);
  CHECK(parse_duration("500ms") == 500'000'000);
  CHECK(parse_duration("2s") == 2'000'000'000);
  CHECK(parse_duration("10m") == 600'000'000'000);
  CHECK(parse_duration("1h") == 3'600'000'000'000);
  CHECK(parse_duration("168h") == aether::engine::kMaxDuration);
}

TEST_CASE("malformed durations are refused with a reason") {
  for (const char* bad : {"", "s", "5", "05s", "1.5s", "-1s", "1 s", "1sec", "1S", "10d"}) {
    std::string error;
    CHECK(parse_duration(bad, &error) == std::nullopt);
    CHECK_FALSE(error.empty());
  }
}

TEST_CASE("durations beyond 7 days are refused, without overflow") {
  std::string error;
  CHECK(parse_duration("169h", &error) == std::nullopt);
  CHECK(error == "a duration is at most 7d (168h)");
  CHECK(parse_duration("99999999999999999999999h", &error) == std::nullopt);
  CHECK(parse_duration("604800001ms") == std::nullopt);
}

TEST_CASE("a bad duration suggests the spelling that works") {
  std::string error;
  CHECK(parse_duration("1.5s", &error) == std::nullopt);
  CHECK(error == "fractions are not allowed; write \"1500ms\"");
  CHECK(parse_duration("0.25m", &error) == std::nullopt);
  CHECK(error == "fractions are not allowed; write \"15s\"");
  CHECK(parse_duration("1.0000000001s", &error) == std::nullopt);
  CHECK(error == "fractions are not allowed; use a smaller unit (ns, us, ms, s, m, h)");
  CHECK(parse_duration("1d", &error) == std::nullopt);
  CHECK(error == "unknown duration unit \"d\" (ns, us, ms, s, m, h); write \"24h\"");
  CHECK(parse_duration("10sec", &error) == std::nullopt);
  CHECK(error == "unknown duration unit \"sec\" (ns, us, ms, s, m, h); write \"10s\"");
  CHECK(parse_duration("2minutes", &error) == std::nullopt);
  CHECK(error == "unknown duration unit \"minutes\" (ns, us, ms, s, m, h); write \"2m\"");
}

TEST_CASE("format_duration picks the largest exact unit and round-trips") {
  CHECK(format_duration(0) == "0s");
  CHECK(format_duration(1'500'000'000) == "1500ms");
  CHECK(format_duration(120'000'000'000) == "2m");
  CHECK(format_duration(1) == "1ns");
  for (aether::engine::Nanos ns : {1LL, 999LL, 1'000'000LL, 61'000'000'000LL, 7'200'000'000'000LL}) {
    CHECK(parse_duration(format_duration(ns)) == ns);
  }
}
