#include <catch2/catch.hpp>

#include <set>

#include "sim/cluster.h"
#include "tests/sim/test_runtime.h"

using namespace aether::sim;
using namespace aether::sim::testing;
using aether::engine::KvBatch;
using aether::engine::KvCommand;
using aether::engine::millis;
using aether::engine::seconds;
using aether::engine::SubmitOutcome;
using aether::engine::Writer;
using Ids = std::vector<std::string>;

namespace {

struct Outcome {
  std::optional<SubmitOutcome> value;
  aether::engine::Nanos at = -1;
};

std::function<void(SubmitOutcome)> record(Outcome& out, SimCluster& cluster) {
  return [&out, &cluster](SubmitOutcome o) {
    out.value = o;
    out.at = cluster.now();
  };
}

struct DecisionLog : WorldObserver {
  std::vector<std::uint64_t> decided_batches;
  std::vector<std::uint64_t> dropped_batches;
  std::vector<std::size_t> submitters_at_decide;
  void on_decide(Nanos, std::uint64_t, const BatchRecord& record) override {
    decided_batches.push_back(record.batch_id);
    submitters_at_decide.push_back(record.submitters.size());
  }
  void on_batch_dropped(Nanos, const BatchRecord& record) override {
    dropped_batches.push_back(record.batch_id);
  }
};

void submit(SimCluster& cluster, const std::string& node, KvBatch batch,
            std::function<void(SubmitOutcome)> done, Writer writer = Writer::Ndm) {
  runtime_of(cluster, node)->services().kv.submit(writer, std::move(batch), std::move(done));
}

SimConfig slow_network(std::uint64_t seed) {
  // Decisions take longer than failure detection, so quorum can be lost while
  // a submit is pending.
  SimConfig config = config_of(3, seed);
  config.network.latency_min_ns = seconds(1);
  config.network.latency_max_ns = seconds(2);
  config.failure_detection_ns = millis(500);
  return config;
}

}  // namespace

TEST_CASE("a committed submit is applied on every node in decided order") {
  Trace trace;
  Journal journal;
  SimCluster cluster(config_of(3), trace, journal_factory(journal));
  cluster.loop().run_until(0);
  Outcome out;
  submit(cluster, "node-1", put("a", "1"), record(out, cluster));
  CHECK_FALSE(out.value);  // never from inside submit
  cluster.loop().run_until(seconds(1));
  CHECK(out.value == SubmitOutcome::Committed);
  CHECK(cluster.canonical_position() == 1);
  for (const auto& node : cluster.configured_nodes()) {
    CHECK(cluster.store(node) == KvMap{{"a", "1"}});
    CHECK(cluster.applied_position(node) == 1);
  }
}

TEST_CASE("a submit without quorum fails at once and is never decided") {
  Trace trace;
  Journal journal;
  DecisionLog log;
  SimCluster cluster(config_of(3), trace, journal_factory(journal));
  cluster.add_observer(&log);
  cluster.isolate("node-3");
  cluster.loop().run_until(seconds(2));
  REQUIRE_FALSE(cluster.has_quorum("node-3"));
  Outcome out;
  submit(cluster, "node-3", put("minority", "x"), record(out, cluster));
  cluster.loop().run_until(seconds(2));
  CHECK(out.value == SubmitOutcome::Failed);
  CHECK(out.at == seconds(2));
  cluster.loop().run_until(seconds(30));
  CHECK(log.decided_batches.empty());
  CHECK(log.dropped_batches.empty());  // it never became a batch
  CHECK(cluster.canonical_store().count("minority") == 0);
}

TEST_CASE("the majority side keeps deciding while a minority is cut off") {
  Trace trace;
  Journal journal;
  SimCluster cluster(config_of(5), trace, journal_factory(journal));
  cluster.partition({{"node-1", "node-2", "node-3"}, {"node-4", "node-5"}});
  cluster.loop().run_until(seconds(2));
  Outcome out;
  submit(cluster, "node-2", put("k", "v"), record(out, cluster));
  cluster.loop().run_until(seconds(3));
  CHECK(out.value == SubmitOutcome::Committed);
  CHECK(cluster.store("node-1") == KvMap{{"k", "v"}});
  CHECK(cluster.store("node-4").empty());  // deliveries without quorum are discarded
  CHECK(cluster.applied_position("node-4") == 0);
  cluster.heal();
  cluster.loop().run_until(seconds(5));
  CHECK(cluster.store("node-4") == KvMap{{"k", "v"}});  // restored on regain
  CHECK(cluster.applied_position("node-4") == 1);
}

TEST_CASE("identical pending batches merge into one decision and all submitters complete") {
  Trace trace;
  Journal journal;
  DecisionLog log;
  SimCluster cluster(config_of(3), trace, journal_factory(journal));
  cluster.add_observer(&log);
  cluster.loop().run_until(0);
  Outcome first, second;
  submit(cluster, "node-1", put("same", "1"), record(first, cluster));
  submit(cluster, "node-2", put("same", "1"), record(second, cluster), Writer::Cdm);
  cluster.loop().run_until(seconds(1));
  CHECK(first.value == SubmitOutcome::Committed);
  CHECK(second.value == SubmitOutcome::Committed);
  CHECK(log.decided_batches.size() == 1);
  CHECK(log.submitters_at_decide == std::vector<std::size_t>{2});
  CHECK(cluster.canonical_position() == 1);
}

TEST_CASE("adversarial order decides a group in reverse submit order") {
  Trace trace;
  SimConfig config = config_of(3);
  config.kv_order = KvOrderMode::Adversarial;
  config.network.latency_min_ns = millis(1);  // equal round trips: both batches fall in one group
  config.network.latency_max_ns = millis(1);
  Journal journal;
  SimCluster cluster(config, trace, journal_factory(journal));
  cluster.loop().run_until(0);
  submit(cluster, "node-1", put("k", "first"), [](auto) {});
  submit(cluster, "node-1", put("k", "second"), [](auto) {});
  cluster.loop().run_until(seconds(1));
  CHECK(cluster.canonical_store() == KvMap{{"k", "first"}});
}

TEST_CASE("a submit failed at quorum loss is later decided or dropped, and both happen across seeds") {
  std::set<std::string> outcomes;
  for (std::uint64_t seed = 1; seed <= 40 && outcomes.size() < 2; ++seed) {
    Trace trace;
    Journal journal;
    DecisionLog log;
    SimCluster cluster(slow_network(seed), trace, journal_factory(journal));
    cluster.add_observer(&log);
    cluster.loop().run_until(0);
    Outcome out;
    submit(cluster, "node-1", put("k", std::to_string(seed)), record(out, cluster));
    cluster.isolate("node-1");
    cluster.loop().run_until(millis(500));
    REQUIRE(out.value == SubmitOutcome::Failed);
    REQUIRE(log.decided_batches.empty());
    cluster.loop().run_until(millis(500) + cluster.network_settings().latency_max_ns * 2);
    REQUIRE(log.decided_batches.size() + log.dropped_batches.size() == 1);
    outcomes.insert(log.decided_batches.empty() ? "dropped" : "decided");
  }
  CHECK(outcomes == std::set<std::string>{"decided", "dropped"});
}

TEST_CASE("a crashed submitter's undecided batch is dropped") {
  Trace trace;
  DecisionLog log;
  Journal journal;
  SimCluster cluster(config_of(3), trace, journal_factory(journal));
  cluster.add_observer(&log);
  cluster.loop().run_until(0);
  submit(cluster, "node-1", put("k", "v"), [](auto) {});
  cluster.crash("node-1");
  cluster.loop().run_until(seconds(5));
  CHECK(log.decided_batches.empty());
  CHECK(log.dropped_batches.size() == 1);
}

TEST_CASE("a crashed submitter's batch merged with a live submitter's is decided") {
  Trace trace;
  DecisionLog log;
  Journal journal;
  SimCluster cluster(config_of(3), trace, journal_factory(journal));
  cluster.add_observer(&log);
  cluster.loop().run_until(0);
  Outcome live;
  submit(cluster, "node-1", put("k", "v"), [](auto) {});
  submit(cluster, "node-2", put("k", "v"), record(live, cluster));
  cluster.crash("node-1");
  cluster.loop().run_until(seconds(5));
  CHECK(log.decided_batches.size() == 1);
  CHECK(live.value == SubmitOutcome::Committed);
}

TEST_CASE(
    "each command notifies the handlers in registration order, even for unchanged values and absent keys") {
  Trace trace;
  Journal journal;
  SimCluster cluster(config_of(1), trace, journal_factory(journal));
  cluster.loop().run_until(0);
  submit(cluster, "node-1", put("a", "1"), [](auto) {});
  cluster.loop().run_until(seconds(1));
  submit(cluster, "node-1", KvBatch{KvCommand::put("a", "1"), KvCommand::remove("absent")}, [](auto) {});
  cluster.loop().run_until(seconds(2));
  CHECK(lines_of(journal, "node-1 ") ==
        Ids{"node-1 quorum established 1", "node-1 ndm restored 0", "node-1 cdm restored 0",
            "node-1 leader-manager restored 0", "node-1 ndm apply put a=1", "node-1 cdm apply put a=1",
            "node-1 leader-manager apply put a=1", "node-1 ndm apply put a=1", "node-1 cdm apply put a=1",
            "node-1 leader-manager apply put a=1", "node-1 ndm apply remove absent",
            "node-1 cdm apply remove absent", "node-1 leader-manager apply remove absent"});
}

namespace {
struct SubmitJournal : WorldObserver {
  Journal& journal;
  explicit SubmitJournal(Journal& j) : journal(j) {}
  void on_submit(Nanos, const BatchRecord& record, const Submitter& s) override {
    journal.add("submit " + s.node + " " + s.writer + " " + record.commands.front().key);
  }
};
}  // namespace

TEST_CASE("writes made inside a handler are submitted after the notification round, never re-entrantly") {
  Trace trace;
  Journal journal;
  SubmitJournal submits(journal);
  SimCluster cluster(config_of(1), trace, journal_factory(journal));
  cluster.add_observer(&submits);
  cluster.loop().run_until(0);
  auto* runtime = runtime_of(cluster, "node-1");
  runtime->listener(0).on_kv_hook = [&](const aether::engine::KvNotification& n) {
    if (n.key == "a" && n.origin == aether::engine::KvOrigin::Apply) {
      runtime->services().kv.submit(Writer::Ndm, put("b", "from-handler"), [](auto) {});
      journal.add("handler submitted");
    }
  };
  submit(cluster, "node-1", KvBatch{KvCommand::put("a", "1"), KvCommand::put("c", "1")}, [](auto) {});
  cluster.loop().run_until(seconds(1));
  auto lines = journal.lines;
  auto index = [&](const std::string& line) {
    return std::find(lines.begin(), lines.end(), line) - lines.begin();
  };
  CHECK(index("handler submitted") < index("node-1 leader-manager apply put c=1"));
  CHECK(index("node-1 leader-manager apply put c=1") < index("submit node-1 ndm b"));
  CHECK(cluster.canonical_store() == KvMap{{"a", "1"}, {"b", "from-handler"}, {"c", "1"}});
}

TEST_CASE("quorum loss: QuorumLost, leader none, store reset per key, then pending submits fail") {
  Trace trace;
  Journal journal;
  SimCluster cluster(slow_network(3), trace, journal_factory(journal));
  cluster.loop().run_until(0);
  submit(cluster, "node-3", KvBatch{KvCommand::put("a", "1"), KvCommand::put("b", "2")}, [](auto) {});
  cluster.loop().run_until(seconds(10));
  REQUIRE(cluster.store("node-3").size() == 2);
  submit(cluster, "node-3", put("pending", "p"), [&](SubmitOutcome o) {
    journal.add(std::string("node-3 submit ") + (o == SubmitOutcome::Failed ? "failed" : "committed"));
  });
  cluster.isolate("node-3");
  cluster.loop().run_until(seconds(10) + millis(500));
  CHECK(lines_of(journal, "node-3 ") == Ids{"node-3 quorum established 1",
                                            "node-3 ndm restored 0",
                                            "node-3 cdm restored 0",
                                            "node-3 leader-manager restored 0",
                                            "node-3 ndm apply put a=1",
                                            "node-3 cdm apply put a=1",
                                            "node-3 leader-manager apply put a=1",
                                            "node-3 ndm apply put b=2",
                                            "node-3 cdm apply put b=2",
                                            "node-3 leader-manager apply put b=2",
                                            "node-3 topology down node-1",
                                            "node-3 topology down node-2",
                                            "node-3 quorum lost 2",
                                            "node-3 ndm reset remove a",
                                            "node-3 cdm reset remove a",
                                            "node-3 leader-manager reset remove a",
                                            "node-3 ndm reset remove b",
                                            "node-3 cdm reset remove b",
                                            "node-3 leader-manager reset remove b",
                                            "node-3 submit failed"});
  CHECK(cluster.store("node-3").empty());
}

TEST_CASE("quorum regain: QuorumEstablished, restore in key order, on_restored, then submits may go") {
  Trace trace;
  Journal journal;
  SimCluster cluster(config_of(3), trace, journal_factory(journal));
  cluster.isolate("node-3");
  cluster.loop().run_until(seconds(2));
  submit(cluster, "node-1", KvBatch{KvCommand::put("b", "2"), KvCommand::put("a", "1")}, [](auto) {});
  cluster.loop().run_until(seconds(3));
  std::optional<SubmitOutcome> early;
  runtime_of(cluster, "node-3")->on_quorum_hook = [&](const aether::engine::QuorumEvent& e) {
    if (e.change != aether::engine::QuorumChange::Established) return;
    runtime_of(cluster, "node-3")->services().kv.submit(Writer::Ndm, put("early", "x"), [&](SubmitOutcome o) {
      early = o;
    });
  };
  const auto before = journal.lines.size();
  cluster.heal();
  cluster.loop().run_until(seconds(5));
  std::vector<std::string> after;
  for (auto i = before; i < journal.lines.size(); ++i) {
    if (journal.lines[i].rfind("node-3 ", 0) == 0 && journal.lines[i].find("topology") == std::string::npos) {
      after.push_back(journal.lines[i]);
    }
  }
  CHECK(after == Ids{"node-3 quorum established 3", "node-3 ndm restore put a=1",
                     "node-3 cdm restore put a=1", "node-3 leader-manager restore put a=1",
                     "node-3 ndm restore put b=2", "node-3 cdm restore put b=2",
                     "node-3 leader-manager restore put b=2", "node-3 ndm restored 1",
                     "node-3 cdm restored 1", "node-3 leader-manager restored 1"});
  CHECK(early == SubmitOutcome::Failed);  // before the restore: fails at once
  CHECK(cluster.applied_position("node-3") == 1);
}

TEST_CASE("the submitter's CDM state and applied values travel with the submit") {
  struct Capture : WorldObserver {
    std::vector<Submitter> seen;
    void on_submit(Nanos, const BatchRecord&, const Submitter& s) override { seen.push_back(s); }
  } capture;
  Trace trace;
  Journal journal;
  SimCluster cluster(config_of(3), trace, journal_factory(journal));
  cluster.add_observer(&capture);
  cluster.loop().run_until(0);
  submit(cluster, "node-2", put("k", "old"), [](auto) {});
  cluster.loop().run_until(seconds(1));
  submit(
      cluster, "node-2", KvBatch{KvCommand::put("k", "new"), KvCommand::remove("gone")}, [](auto) {},
      Writer::LeaderManager);
  REQUIRE(capture.seen.size() == 2);
  CHECK(capture.seen[1].node == "node-2");
  CHECK(capture.seen[1].writer == "leader-manager");
  CHECK_FALSE(capture.seen[1].cdm_active);
  CHECK(capture.seen[1].applied ==
        std::map<std::string, std::optional<std::string>>{{"gone", std::nullopt}, {"k", std::string("old")}});
}

TEST_CASE("a submit that no majority can answer waits, and fails when the submitter loses quorum") {
  Trace trace;
  Journal journal;
  DecisionLog log;
  SimCluster cluster(config_of(3), trace, journal_factory(journal));
  cluster.add_observer(&log);
  cluster.loop().run_until(0);
  cluster.isolate("node-3");  // still in quorum for failure_detection, but nobody answers
  Outcome out;
  submit(cluster, "node-3", put("k", "v"), record(out, cluster));
  cluster.loop().run_until(seconds(1) - 1);
  CHECK_FALSE(out.value);
  CHECK(log.decided_batches.empty());
  cluster.loop().run_until(seconds(1));
  CHECK(out.value == SubmitOutcome::Failed);
}

TEST_CASE("a decision reaches a node behind a one-way cut at plain latency, relayed by the others") {
  Trace trace;
  Journal journal;
  SimCluster cluster(config_of(3), trace, journal_factory(journal));
  cluster.loop().run_until(0);
  cluster.link("node-1", "node-2", LinkRule{1'000'000, 0});
  Outcome out;
  submit(cluster, "node-1", put("k", "v"), record(out, cluster));
  // Round trip to node-3 (<= 10ms), then one latency (<= 5ms) to node-2.
  cluster.loop().run_until(millis(15));
  CHECK(out.value == SubmitOutcome::Committed);
  CHECK(cluster.store("node-2") == KvMap{{"k", "v"}});
}

TEST_CASE("a batch whose submitter failed still merges with an identical submit, which then completes") {
  for (std::uint64_t seed = 1; seed <= 10; ++seed) {
    Trace trace;
    Journal journal;
    DecisionLog log;
    SimCluster cluster(slow_network(seed), trace, journal_factory(journal));
    cluster.add_observer(&log);
    cluster.loop().run_until(0);
    Outcome failed, merged;
    submit(cluster, "node-1", put("k", "v"), record(failed, cluster));
    cluster.isolate("node-1");
    cluster.loop().run_until(millis(500));
    REQUIRE(failed.value == SubmitOutcome::Failed);
    submit(cluster, "node-2", put("k", "v"), record(merged, cluster));
    cluster.loop().run_until(seconds(20));
    CHECK(merged.value == SubmitOutcome::Committed);
    CHECK(log.decided_batches.size() == 1);
    CHECK(log.submitters_at_decide == std::vector<std::size_t>{2});
    CHECK(log.dropped_batches.empty());
  }
}
