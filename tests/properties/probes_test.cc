// Probes: named situations observed on a run's trace (properties/probes.h).
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "properties/probes.h"

using aether::properties::ProbeSet;

namespace {
std::int64_t feed(const std::vector<std::string>& lines, const std::string& probe) {
  ProbeSet p;
  for (const auto& l : lines) p.observe(l);
  return p.hits().at(probe);
}
}  // namespace

TEST_CASE("quorum lost and regained") {
  const std::vector<std::string> lines = {
      R"({"t":0,"kind":"quorum","node":"node-1","change":"established","sequence":1})",
      R"({"t":5,"kind":"quorum","node":"node-1","change":"lost","sequence":2})",
      R"({"t":9,"kind":"quorum","node":"node-1","change":"established","sequence":3})"};
  CHECK(feed(lines, "quorum-lost-and-regained") == 1);
  CHECK(feed({lines[0], lines[1]}, "quorum-lost-and-regained") == 0);
}

TEST_CASE("a leader change while a load is in flight") {
  const std::vector<std::string> lines = {
      R"({"t":0,"kind":"leader","node":"node-2","leader":"node-1","local":false})",
      R"({"t":1,"kind":"slice.start","node":"node-3","artifact":"a:b:1.0.0","op":"load","held":"none"})",
      R"({"t":2,"kind":"leader","node":"node-2","leader":"node-2","local":true})"};
  CHECK(feed(lines, "leader-change-during-load") == 1);
  auto done = lines;
  done.insert(done.begin() + 2,
              R"({"t":1,"kind":"slice.done","node":"node-3","artifact":"a:b:1.0.0","op":"load","ok":true})");
  CHECK(feed(done, "leader-change-during-load") == 0);
}

TEST_CASE("a deposed leader's batch decided after its successor's, and zombie writes") {
  const std::vector<std::string> lines = {
      R"({"t":0,"kind":"kv.submit","batch":7,"node":"node-1","writer":"cdm","merged":false,"cdm_active":true,"cdm_tag":3,"applied":[]})",
      R"({"t":1,"kind":"cdm.deactivated","node":"node-1"})",
      R"({"t":2,"kind":"kv.submit","batch":8,"node":"node-2","writer":"cdm","merged":false,"cdm_active":true,"cdm_tag":9,"applied":[]})",
      R"({"t":3,"kind":"kv.decide","position":10,"batch":8,"digest":1})",
      R"({"t":4,"kind":"kv.decide","position":11,"batch":7,"digest":2})"};
  CHECK(feed(lines, "deposed-leader-batch-after-successor") == 1);
  CHECK(feed(lines, "zombie-write") == 1);
  CHECK(feed({lines[0], lines[4]}, "zombie-write") == 0);
}

TEST_CASE("a crash with an undecided cdm batch") {
  const std::vector<std::string> lines = {
      R"({"t":0,"kind":"kv.submit","batch":7,"node":"node-1","writer":"cdm","merged":false,"cdm_active":true,"cdm_tag":3,"applied":[]})",
      R"({"t":1,"kind":"node.crash","node":"node-1"})"};
  CHECK(feed(lines, "crash-between-writes-of-a-reconcile") == 1);
  CHECK(feed({lines[1]}, "crash-between-writes-of-a-reconcile") == 0);
}

TEST_CASE("two clients' edits of one blueprint committed out of queue order") {
  const std::vector<std::string> lines = {
      R"({"t":0,"kind":"client.write","client":"alice","write":1,"commands":["put blueprints/shop={\"id\":\"shop\"}"]})",
      R"({"t":0,"kind":"client.write","client":"bob","write":1,"commands":["put blueprints/shop={\"id\":\"shop\"}"]})",
      R"({"t":5,"kind":"client.commit","client":"bob","write":1})",
      R"({"t":6,"kind":"client.commit","client":"alice","write":1})"};
  CHECK(feed(lines, "concurrent-client-edits-reordered") == 1);
  CHECK(feed({lines[0], lines[1], lines[3], lines[2]}, "concurrent-client-edits-reordered") == 0);
}

TEST_CASE("a stale read served by a cut-off node that still believes it has quorum") {
  const std::vector<std::string> lines = {
      R"({"t":0,"kind":"quorum","node":"node-3","change":"established","sequence":1})",
      R"({"t":5,"kind":"kv.held","node":"node-3","position":12})",
      R"({"t":6,"kind":"kv.held","node":"node-3","position":13})",
      R"({"t":9,"kind":"kv.release","node":"node-3","first":12,"count":2,"in_ns":3})",
      R"({"t":20,"kind":"kv.held","node":"node-3","position":30})"};
  CHECK(feed(lines, "stale-read-served-by-a-cut-off-node") == 2);  // one per cut-off spell
  const std::vector<std::string> lost = {
      R"({"t":0,"kind":"quorum","node":"node-3","change":"established","sequence":1})",
      R"({"t":4,"kind":"quorum","node":"node-3","change":"lost","sequence":2})",
      R"({"t":5,"kind":"kv.held","node":"node-3","position":12})"};
  CHECK(feed(lost, "stale-read-served-by-a-cut-off-node") == 0);
  CHECK(feed({lines[1]}, "stale-read-served-by-a-cut-off-node") == 0);
}

TEST_CASE("a zombie write: a held or limbo batch decided later") {
  const std::vector<std::string> lines = {
      R"({"t":0,"kind":"kv.hold","batch":4,"node":"node-1"})",
      R"({"t":5,"kind":"kv.unhold","batch":4,"node":"node-1"})",
      R"({"t":6,"kind":"kv.decide","position":9,"batch":4,"digest":1})",
      R"({"t":7,"kind":"kv.limbo","batch":5,"decided_later":true,"resolve_in_ns":100})",
      R"({"t":8,"kind":"kv.decide","position":10,"batch":5,"digest":2})",
      R"({"t":9,"kind":"kv.hold","batch":6,"node":"node-1"})",
      R"({"t":10,"kind":"kv.drop","batch":6})",
      R"({"t":11,"kind":"kv.decide","position":11,"batch":7,"digest":3})"};
  CHECK(feed(lines, "zombie-write-held-batch-decided-late") == 2);
  CHECK(feed({lines[2], lines[4]}, "zombie-write-held-batch-decided-late") == 0);
}

TEST_CASE("a quorum event delivered out of order (the fault point's trace line)") {
  const std::vector<std::string> lines = {
      R"({"t":36276000000,"kind":"fault.quorum_reorder","node":"","ppm":371622})",
      R"({"t":41967024250,"kind":"quorum","node":"node-1","change":"lost","sequence":2})",
      R"({"t":41967024250,"kind":"fault.quorum_held","node":"node-1","sequence":2})"};
  CHECK(feed(lines, "quorum-event-delivered-out-of-order") == 1);
  CHECK(feed({lines[0], lines[1]}, "quorum-event-delivered-out-of-order") == 0);
}

TEST_CASE("every probe is listed, never-hit ones at 0") {
  ProbeSet p;
  CHECK(p.hits().size() == aether::properties::probe_docs().size());
  CHECK(p.hits().size() >= 6);
}
