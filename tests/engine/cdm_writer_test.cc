// The CDM's serialized writer with fake services (no simulator): typed
// commands and their encoding, one batch in flight, the write timeout, and
// the submit-time re-check (engine-semantics.md §4).
#include <catch2/catch.hpp>

#include <functional>
#include <map>
#include <optional>
#include <stdexcept>

#include "engine/cdm_writer.h"

using namespace aether::engine;

namespace {

struct FakeServices final : Clock, KvClient, Topology, SliceLoader, Logger, AssertionSink, EngineEvents {
  // Clock: timers fire only when the test advances time.
  Nanos time = 0;
  TimerId next_timer = 0;
  std::map<TimerId, std::pair<Nanos, std::function<void()>>> timers;
  Nanos now() const override { return time; }
  TimerId schedule_after(Nanos delay_ns, std::function<void()> fire) override {
    timers[++next_timer] = {time + delay_ns, std::move(fire)};
    return next_timer;
  }
  void cancel(TimerId id) override { timers.erase(id); }
  void advance(Nanos by) {
    time += by;
    for (auto it = timers.begin(); it != timers.end();) {
      if (it->second.first > time) {
        ++it;
        continue;
      }
      auto fire = std::move(it->second.second);
      it = timers.erase(it);
      fire();
    }
  }
  // KvClient: submits are recorded; the test resolves them.
  std::map<std::string, std::string> store;
  std::vector<std::pair<KvBatch, std::function<void(SubmitOutcome)>>> submits;
  void submit(Writer, KvBatch batch, std::function<void(SubmitOutcome)> done) override {
    submits.emplace_back(std::move(batch), std::move(done));
  }
  std::optional<std::string> get(const std::string& key) const override {
    auto it = store.find(key);
    return it == store.end() ? std::nullopt : std::optional<std::string>(it->second);
  }
  std::vector<std::pair<std::string, std::string>> scan(const std::string&) const override { return {}; }
  void add_listener(KvListener*) override {}
  // Topology, SliceLoader: unused by the writer.
  NodeId me = "node-1";
  const NodeId& self() const override { return me; }
  std::vector<NodeId> me_only{me};
  const std::vector<NodeId>& view() const override { return me_only; }
  std::vector<NodeId> configured_nodes() const override { return {me}; }
  bool has_quorum() const override { return true; }
  void add_listener(TopologyListener*) override {}
  void load(const std::string&, SliceCallback) override {}
  void activate(const std::string&, SliceCallback) override {}
  void deactivate(const std::string&, SliceCallback) override {}
  void unload(const std::string&, SliceCallback) override {}
  SliceHolding holding(const std::string&) const override { return SliceHolding::NotHeld; }
  std::vector<std::pair<std::string, SliceHolding>> held() const override { return {}; }
  // Logger, AssertionSink, EngineEvents.
  void log(LogLevel, std::string_view, std::string) override {}
  [[noreturn]] void fail(std::string_view, std::string message, std::string_view, int) override {
    throw std::runtime_error(message);
  }
  void leader_changed(const std::optional<NodeId>&, bool) override {}
  void cdm_activated(std::optional<std::uint64_t>) override {}
  void cdm_deactivated() override {}
  std::map<std::string, std::int64_t> counters;
  void count(std::string_view counter, std::int64_t delta) override {
    counters[std::string(counter)] += delta;
  }

  NodeServices services() { return NodeServices{me, *this, *this, *this, *this, *this, *this, *this}; }
};

struct Harness {
  FakeServices fake;
  NodeServices services = fake.services();
  EngineConfig config;
  TimerSet timers{fake};
  std::vector<SliceCommand> reverted;
  std::vector<Nanos> reconciles;
  std::vector<SliceCommand> submitted;
  int targets_committed = 0;
  bool resend_wanted = true;
  // rederive_target: nullopt drops the put; a value replaces it.
  std::function<std::optional<SliceTarget>(const TargetPut&)> rederive = [](const TargetPut& put) {
    return std::optional<SliceTarget>(put.target);
  };
  bool dependencies_ready = true;
  std::vector<SliceCommand> activate_checked;
  // recheck_write: false drops the write; it may re-derive the value.
  std::function<bool(KeyWrite&)> recheck = [](KeyWrite&) { return true; };
  CdmWriter writer{
      services, config, timers,
      CdmWriter::Hooks{
          [this](const SliceCommand&) { return resend_wanted; },
          [this](const std::vector<SliceCommand>& c) { reverted.insert(reverted.end(), c.begin(), c.end()); },
          [this](Nanos delay) { reconciles.push_back(delay); },
          [this](const SliceCommand& c) { submitted.push_back(c); },
          [this] { ++targets_committed; },
          [this](const TargetPut& put) { return rederive(put); },
          [this](const SliceCommand& c) {
            activate_checked.push_back(c);
            return dependencies_ready;
          },
          [](const SliceCommand&) { return true; },
          [](const NodeId&) { return true; },
          {},
          [this](KeyWrite& w) { return recheck(w); },
          nullptr,
          [](const SliceCommand&) { return true; },
          [](const TargetRemove&) { return true; },
      }};
};

SliceCommand load(const std::string& node) {
  return SliceCommand{node, "org.x:web:1.0.0", SliceState::Load, {}};
}

}  // namespace

TEST_CASE("cdm writer: typed commands are encoded to KV commands") {
  CHECK(encode_command(SliceCommand{"node-2", "org.x:web:1.0.0", SliceState::Activate, SliceState::Loaded}) ==
        KvCommand::put("slices/node-2/org.x:web:1.0.0", R"({"fatal":false,"state":"ACTIVATE"})"));
  CHECK(encode_command(KeyRemove{"node-lifecycle/node-3"}) == KvCommand::remove("node-lifecycle/node-3"));
  CHECK(encode_command(TargetPut{"org.x:web", SliceTarget{"1.0.0", 3, 2, "shop", false}}) ==
        KvCommand::put("slice-target/org.x:web",
                       encode_slice_target(SliceTarget{"1.0.0", 3, 2, "shop", false})));
  CHECK(encode_command(TargetRemove{"org.x:web"}) == KvCommand::remove("slice-target/org.x:web"));
}

TEST_CASE("cdm writer: one batch in flight; the next goes when the previous commits") {
  Harness h;
  h.writer.add(load("node-2"));
  h.writer.add(TargetPut{"org.x:web", SliceTarget{"1.0.0", 1, 1, "shop", false}});
  h.writer.flush();
  CHECK(h.writer.target_pending("org.x:web"));
  h.writer.add(load("node-3"));
  h.writer.flush();
  REQUIRE(h.fake.submits.size() == 1);  // serialized
  CHECK(h.fake.submits[0].first.size() == 2);
  CHECK(h.submitted.size() == 1);  // re-send timer armed for the slice command only
  h.fake.submits[0].second(SubmitOutcome::Committed);
  CHECK_FALSE(h.writer.target_pending("org.x:web"));
  CHECK(h.targets_committed == 1);
  REQUIRE(h.fake.submits.size() == 2);
  CHECK(h.fake.submits[1].first == KvBatch{encode_command(load("node-3"))});
  CHECK(h.reverted.empty());
}

TEST_CASE("cdm writer: a write timeout reverts the batch's intents, reconciles in 5s and frees the queue") {
  Harness h;
  bool committed = true;
  h.writer.add(load("node-2"));
  h.writer.flush([&](bool ok) { committed = ok; });
  h.writer.add(load("node-3"));
  h.writer.flush();
  REQUIRE(h.fake.submits.size() == 1);
  h.fake.advance(h.config.write_timeout_ns);
  CHECK_FALSE(committed);
  REQUIRE(h.reverted.size() == 1);
  CHECK(h.reverted[0].node == "node-2");
  CHECK(h.reconciles == std::vector<Nanos>{seconds(5)});
  CHECK(h.fake.counters["write-timeouts"] == 1);
  REQUIRE(h.fake.submits.size() == 2);
  // The late report of the timed-out batch changes nothing.
  h.fake.submits[0].second(SubmitOutcome::Committed);
  CHECK(h.fake.submits.size() == 2);
  CHECK(h.reverted.size() == 1);
}

TEST_CASE("cdm writer: at submit an overtaken command is dropped, a re-send no longer wanted is skipped") {
  Harness h;
  // The key moved to ACTIVE meanwhile: LOAD decided from absent is no edge from ACTIVE.
  h.fake.store["slices/node-2/org.x:web:1.0.0"] = R"({"fatal":false,"state":"ACTIVE"})";
  h.writer.add(load("node-2"));
  h.writer.add(KeyRemove{"slices/node-9/org.x:old:1.0.0"});
  h.writer.flush();
  REQUIRE(h.reverted.size() == 1);
  CHECK(h.reconciles == std::vector<Nanos>{seconds(1)});
  REQUIRE(h.fake.submits.size() == 1);
  CHECK(h.fake.submits[0].first == KvBatch{KvCommand::remove("slices/node-9/org.x:old:1.0.0")});
  h.fake.submits[0].second(SubmitOutcome::Committed);
  h.resend_wanted = false;
  h.writer.add(SliceCommand{"node-3", "org.x:web:1.0.0", SliceState::Load, SliceState::Load, true});
  bool after = false;
  h.writer.flush([&](bool ok) { after = ok; });
  CHECK(after);  // nothing left to write: done at once
  CHECK(h.fake.submits.size() == 1);
}

TEST_CASE("cdm writer: a CDM write that is no lifecycle edge from the state it was decided on asserts") {
  Harness h;
  h.fake.store["slices/node-2/org.x:web:1.0.0"] = R"({"fatal":false,"state":"ACTIVE"})";
  h.writer.add(SliceCommand{"node-2", "org.x:web:1.0.0", SliceState::Load, SliceState::Active});
  CHECK_THROWS_WITH(h.writer.flush(), Catch::Contains("is not a lifecycle edge"));
}

TEST_CASE(
    "cdm writer: a queued slice-target put is re-derived at submit; dropped, the owed targets are synced") {
  Harness h;
  h.writer.add(load("node-2"));  // in flight: the target put waits behind it
  h.writer.flush();
  h.writer.add(TargetPut{"org.x:web", SliceTarget{"1.0.0", 1, 1, "shop", false}});
  h.writer.add(TargetPut{"org.x:db", SliceTarget{"1.0.0", 1, 1, "shop", false}});
  h.writer.flush();
  // Meanwhile a scale committed (web now wants 4) and db lost its owner.
  h.rederive = [](const TargetPut& put) -> std::optional<SliceTarget> {
    if (put.base == "org.x:db") return std::nullopt;
    return SliceTarget{"1.0.0", 4, 2, "shop", false};
  };
  REQUIRE(h.fake.submits.size() == 1);
  h.fake.submits[0].second(SubmitOutcome::Committed);
  CHECK(h.targets_committed == 1);  // the drop syncs the owed targets (the first batch wrote none)
  REQUIRE(h.fake.submits.size() == 2);
  CHECK(h.fake.submits[1].first ==
        KvBatch{KvCommand::put("slice-target/org.x:web",
                               encode_slice_target(SliceTarget{"1.0.0", 4, 2, "shop", false}))});
  CHECK_FALSE(h.writer.target_pending("org.x:db"));
  CHECK(h.writer.target_pending("org.x:web"));
  CHECK(h.reconciles == std::vector<Nanos>{seconds(1)});
}

TEST_CASE(
    "cdm writer: an ACTIVATE whose dependencies are no longer ready at submit is dropped and reverted") {
  Harness h;
  h.fake.store["slices/node-2/org.x:web:1.0.0"] = R"({"fatal":false,"state":"LOADED"})";
  const SliceCommand activate{"node-2", "org.x:web:1.0.0", SliceState::Activate, SliceState::Loaded};
  h.dependencies_ready = false;
  h.writer.add(activate);
  h.writer.add(load("node-3"));
  h.writer.flush();
  REQUIRE(h.activate_checked.size() == 1);  // only the ACTIVATE is re-checked
  REQUIRE(h.reverted.size() == 1);
  CHECK(h.reverted[0].state == SliceState::Activate);
  CHECK(h.reconciles == std::vector<Nanos>{seconds(1)});
  REQUIRE(h.fake.submits.size() == 1);
  CHECK(h.fake.submits[0].first == KvBatch{encode_command(load("node-3"))});
  h.fake.submits[0].second(SubmitOutcome::Committed);
  h.dependencies_ready = true;
  h.writer.add(activate);
  h.writer.flush();
  REQUIRE(h.fake.submits.size() == 2);
  CHECK(h.fake.submits[1].first == KvBatch{encode_command(activate)});
}

TEST_CASE("cdm writer: a KeyWrite is re-checked at submit: dropped, re-derived or written as queued") {
  CHECK(encode_command(KeyWrite{"rollback/shop", std::string("{}")}) ==
        KvCommand::put("rollback/shop", "{}"));
  CHECK(encode_command(KeyWrite{"blueprints/shop", std::nullopt}) == KvCommand::remove("blueprints/shop"));
  Harness h;
  h.writer.add(load("node-2"));
  h.writer.flush();  // in flight: the next batch waits
  h.writer.add(KeyWrite{"rollback/shop", std::string("queued")});
  h.writer.add(KeyWrite{"blueprints/shop", std::string("old")});
  h.writer.add(KeyWrite{"rollback/ops", std::nullopt});
  h.writer.flush();
  h.recheck = [](KeyWrite& w) {
    if (w.key == "blueprints/shop") return false;  // the value it guarded changed meanwhile
    if (w.value) w.value = "fresh";                // re-derived from the state applied now
    return true;
  };
  REQUIRE(h.fake.submits.size() == 1);
  h.fake.submits[0].second(SubmitOutcome::Committed);
  REQUIRE(h.fake.submits.size() == 2);
  CHECK(h.fake.submits[1].first ==
        KvBatch{KvCommand::put("rollback/shop", "fresh"), KvCommand::remove("rollback/ops")});
}
