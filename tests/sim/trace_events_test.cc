#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "sim/cluster.h"
#include "tests/sim/test_runtime.h"

using namespace aether::sim;
using namespace aether::sim::testing;
using aether::engine::seconds;

namespace {
std::vector<std::string> lines_with(const std::vector<std::string>& lines, const std::string& needle) {
  std::vector<std::string> out;
  for (const auto& line : lines)
    if (line.find(needle) != std::string::npos) out.push_back(line);
  return out;
}
}  // namespace

TEST_CASE("a submit is traced with its submitter, writer, CDM state and the applied state per key") {
  Trace trace;
  std::vector<std::string> lines;
  trace.set_line_observer([&](std::uint64_t, const std::string& line) { lines.push_back(line); });
  Journal journal;
  SimCluster cluster(config_of(3), trace, journal_factory(journal));
  cluster.loop().run_until(0);
  runtime_of(cluster, "node-2")->services().kv.submit(aether::engine::Writer::Cdm, put("k", "v"), [](auto) {
  });
  cluster.loop().run_until(seconds(1));
  const auto submits = lines_with(lines, "\"kind\":\"kv.submit\"");
  REQUIRE(submits.size() == 1);
  CHECK(submits[0].find("\"node\":\"node-2\"") != std::string::npos);
  CHECK(submits[0].find("\"writer\":\"cdm\"") != std::string::npos);
  CHECK(submits[0].find("\"cdm_active\":false") != std::string::npos);
  CHECK(submits[0].find("\"applied\":[\"k\"]") != std::string::npos);
  CHECK(submits[0].find("\"commands\":[\"put k=v\"]") != std::string::npos);
  CHECK(lines_with(lines, "\"kind\":\"kv.decide\"").size() == 1);
  CHECK(lines_with(lines, "\"kind\":\"kv.apply\"").size() == 3);
}

TEST_CASE("a view change is traced before the quorum change it causes") {
  Trace trace;
  std::vector<std::string> lines;
  trace.set_line_observer([&](std::uint64_t, const std::string& line) { lines.push_back(line); });
  SimCluster cluster(config_of(3), trace);
  cluster.isolate("node-3");
  cluster.loop().run_until(seconds(1));
  const auto node3 = lines_with(lines, "\"node\":\"node-3\"");
  std::vector<std::string> kinds;
  for (const auto& line : node3) {
    if (line.find("\"kind\":\"view\"") != std::string::npos) kinds.push_back("view");
    if (line.find("\"kind\":\"quorum\"") != std::string::npos && line.find("\"lost\"") != std::string::npos) {
      kinds.push_back("lost");
    }
  }
  CHECK(kinds == std::vector<std::string>{"view", "view", "lost"});
}
