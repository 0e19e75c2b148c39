#include <catch2/catch.hpp>

#include <cstdio>
#include <string>

#include "sim/trace.h"

using aether::sim::Trace;

TEST_CASE("an event renders as one JSON line with typed fields") {
  Trace trace;
  std::vector<std::string> lines;
  trace.set_line_observer([&](std::uint64_t, const std::string& line) { lines.push_back(line); });
  trace.event(1500, "kv.submit")
      .str("node", "node-1")
      .u64("batch", 7)
      .i64("delta", -3)
      .flag("cdm_active", true)
      .list("writers", {"cdm", "client:\"a\""});
  REQUIRE(lines.size() == 1);
  CHECK(lines[0] == R"({"t":1500,"kind":"kv.submit","node":"node-1","batch":7,"delta":-3,"cdm_active":true,)"
                    R"("writers":["cdm","client:\"a\""]})");
  CHECK(trace.count() == 1);
}

TEST_CASE("the hash depends on every field, its type and its order") {
  auto hash_of = [](auto build) {
    Trace trace;
    build(trace);
    return trace.hash();
  };
  const auto base = hash_of([](Trace& t) { t.event(1, "a").u64("x", 1).str("y", "z"); });
  CHECK(base == hash_of([](Trace& t) { t.event(1, "a").u64("x", 1).str("y", "z"); }));
  CHECK(base != hash_of([](Trace& t) { t.event(2, "a").u64("x", 1).str("y", "z"); }));
  CHECK(base != hash_of([](Trace& t) { t.event(1, "b").u64("x", 1).str("y", "z"); }));
  CHECK(base != hash_of([](Trace& t) { t.event(1, "a").u64("x", 2).str("y", "z"); }));
  CHECK(base != hash_of([](Trace& t) { t.event(1, "a").i64("x", 1).str("y", "z"); }));
  CHECK(base != hash_of([](Trace& t) { t.event(1, "a").str("y", "z").u64("x", 1); }));
  CHECK(base != hash_of([](Trace& t) { t.event(1, "a").u64("x", 1).str("y", "z2"); }));
  // Two events are not the same as one event holding both field sets.
  CHECK(hash_of([](Trace& t) {
          t.event(1, "a").u64("x", 1);
          t.event(1, "a").u64("x", 1);
        }) != hash_of([](Trace& t) { t.event(1, "a").u64("x", 1).u64("x", 1); }));
}

TEST_CASE("the hash of a fixed event stream is the same on every platform") {
  // A golden value: the encoding is explicit little-endian with no pointers or
  // floating point, so this must hold on every compiler and architecture.
  Trace trace;
  trace.event(0, "start").u64("seed", 7);
  trace.event(1'000'000, "view").str("node", "node-1").list("view", {"node-1", "node-2"});
  trace.event(-1, "neg").i64("v", -42).flag("f", false);
  CHECK(aether::sim::hash_hex(trace.hash()) == "28e0fafc78a574a7");
}

TEST_CASE("recent keeps the last events, oldest first") {
  Trace trace(4);
  for (int i = 0; i < 10; ++i) trace.event(i, "e").u64("i", static_cast<std::uint64_t>(i));
  auto last = trace.recent(3);
  REQUIRE(last.size() == 3);
  CHECK(last[0] == R"({"t":7,"kind":"e","i":7})");
  CHECK(last[2] == R"({"t":9,"kind":"e","i":9})");
  CHECK(trace.recent(100).size() == 4);
}

TEST_CASE("the JSON Lines sink writes every event") {
  std::FILE* file = std::tmpfile();
  REQUIRE(file != nullptr);
  Trace trace;
  trace.set_jsonl_sink(file);
  trace.event(5, "x").str("s", "a\nb");
  trace.event(6, "y");
  std::fflush(file);
  std::rewind(file);
  char buffer[256] = {};
  const auto n = std::fread(buffer, 1, sizeof buffer - 1, file);
  std::fclose(file);
  CHECK(std::string(buffer, n) == "{\"t\":5,\"kind\":\"x\",\"s\":\"a\\nb\"}\n{\"t\":6,\"kind\":\"y\"}\n");
}
