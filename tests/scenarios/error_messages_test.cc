// One case per error class, with the exact text a user sees
// (format_error: "file: path: message" or "file:line:column: message").
#include <catch2/catch.hpp>

#include "test_support.h"

using namespace aether::scenarios;
using namespace aether::scenarios::testing;

namespace {
std::string only_error(const std::string& text) {
  const auto errors = errors_of(text);
  INFO(listing(errors));
  REQUIRE(errors.size() == 1);
  return format_error(errors[0]);
}
std::string step_error(const std::string& step) {
  return only_error(with_steps(step));
}
}  // namespace

TEST_CASE("exact messages: syntax") {
  CHECK(only_error("{\"cluster\": {\"nodes\": 3}, \"steps\": [}") ==
        "t.json:1:37: malformed JSON: syntax error while parsing value - unexpected '}'; expected '[', '{', "
        "or a "
        "literal");
  CHECK(only_error("{\"cluster\": {\"nodes\": 3}, \"steps\": [], \"steps\": []}") ==
        "t.json: steps: duplicate key \"steps\" (each key may appear once)");
  CHECK(only_error("/* open") == "t.json:1:1: unterminated /* comment");
  // Library errors without a position keep no library tag.
  CHECK(only_error(R"({"cluster": {"nodes": 3}, "steps": [], "seed": 1e400})") ==
        "t.json:1:52: malformed JSON: number overflow parsing '1e400'");
}

TEST_CASE("exact messages: an integer beyond 64 bits") {
  CHECK(only_error(R"({"cluster": {"nodes": 3}, "steps": [], "seed": 18446744073709551616})") ==
        "t.json: seed: must be an integer, not a number with a fraction or exponent, or beyond 64-bit "
        "integers");
}

TEST_CASE("exact messages: structure") {
  CHECK(only_error(R"({"cluster": {"nodes": 3}})") == "t.json: missing \"steps\" (an array, possibly empty)");
  CHECK(only_error(R"({"steps": []})") == "t.json: missing \"cluster\" (at least {\"nodes\": N})");
  CHECK(only_error(R"({"cluster": {}, "steps": []})") ==
        "t.json: cluster: missing \"nodes\" (a count, or a list of node ids)");
  CHECK(only_error(R"({"cluster": {"nodes": 3}, "steps": [], "sed": 1})") ==
        "t.json: sed: unknown key \"sed\" (did you mean \"seed\"?)");
  CHECK(step_error(R"({"at": "1s"})") ==
        "t.json: steps[0]: a step needs one action, one of: blueprint, remove_blueprint, scale, kv_put, "
        "kv_remove, drain, undrain, "
        "crash, restart, pause, resume, add_node, remove_node, partition, isolate, link, heal, network, "
        "slice_failures, expect, lose_submits, reorder_quorum_events");
}

TEST_CASE("exact messages: types") {
  CHECK(only_error(R"({"cluster": {"nodes": 3}, "steps": [], "seed": "7"})") ==
        "t.json: seed: must be an integer, not a string");
  CHECK(only_error(R"({"cluster": {"nodes": 3}, "steps": [], "run_for": 60})") ==
        "t.json: run_for: must be a duration string such as \"500ms\", not an integer");
  CHECK(step_error(R"({"at": "1s", "partition": "node-1"})") ==
        "t.json: steps[0].partition: must be a non-empty list of groups (lists of nodes), not a string");
}

TEST_CASE("exact messages: grammar") {
  CHECK(step_error(R"({"at": "1.5s", "heal": true})") ==
        "t.json: steps[0].at: bad duration \"1.5s\": fractions are not allowed; write \"1500ms\"");
  CHECK(step_error(R"({"at": "1d", "heal": true})") ==
        "t.json: steps[0].at: bad duration \"1d\": unknown duration unit \"d\" (ns, us, ms, s, m, h); write "
        "\"24h\"");
  CHECK(step_error(R"({"at": "10sec", "heal": true})") ==
        "t.json: steps[0].at: bad duration \"10sec\": unknown duration unit \"sec\" (ns, us, ms, s, m, h); "
        "write "
        "\"10s\"");
  CHECK(only_error("{\"cluster\": {\"nodes\": 3,\n  },\n \"steps\": []}") ==
        "t.json:1:24: malformed JSON: expected a value after ','; trailing commas are not allowed (remove "
        "this ',')");
  CHECK(only_error(R"({"cluster": {"nodes": ["node_1"]}, "steps": []})") ==
        "t.json: cluster.nodes[0]: bad node id \"node_1\" (a node id is [a-z][a-z0-9-]{0,62})");
  CHECK(step_error(R"({"at": "1s", "slice_failures": {"artifact": "cart:1.0.0", "fatal": 1}})")
            .rfind("t.json: steps[0].slice_failures.artifact: bad artifact \"cart:1.0.0\": ", 0) == 0);
  CHECK(step_error(R"({"at": "1s", "remove_blueprint": "bad id"})") ==
        "t.json: steps[0].remove_blueprint: bad blueprint id \"bad id\" (a blueprint id is "
        "[A-Za-z0-9][A-Za-z0-9._-]{0,127})");
}

TEST_CASE("exact messages: ranges and limits") {
  CHECK(step_error(R"({"at": "1s", "network": {"duplicate": 2}})") ==
        "t.json: steps[0].network.duplicate: must be in [0, 1], not 2");
  CHECK(only_error(R"({"cluster": {"nodes": 2001}, "steps": []})") ==
        "t.json: cluster.nodes: must be between 1 and 2000, not 2001");
  CHECK(step_error(R"({"at": "1s", "scale": {"artifact": "org.example:cart", "instances": -1}})") ==
        "t.json: steps[0].scale.instances: must be between 0 and 10000, not -1");
}

TEST_CASE("exact messages: references") {
  CHECK(
      step_error(R"({"at": "1s", "restart": "node-4"})") ==
      "t.json: steps[0].restart: no node \"node-4\" is configured by this point (did you mean \"node-1\"?)");
  CHECK(step_error(R"({"at": "1s", "expect": {"violates": "split-brain"}})") ==
        "t.json: steps[0].expect.violates: unknown invariant \"split-brain\" (one of: replica-consistency, "
        "lifecycle, single-leader-per-term, command-writer, slice-store, engine-assert, event-budget, "
        "stale-leader, key-writer, dependency-order, drain-order, drain, capacity, anti-affinity, rollback, "
        "rolling, scale-floor, availability-floor)");
}

TEST_CASE("exact messages: drain and undrain") {
  CHECK(step_error(R"({"at": "1s", "drain": "node-4"})") ==
        "t.json: steps[0].drain: no node \"node-4\" is configured by this point (did you mean \"node-1\"?)");
  CHECK(step_error(R"({"at": "1s", "undrain": 3})") ==
        "t.json: steps[0].undrain: must be a node id, \"leader\" or \"random\", not an integer");
  CHECK(
      only_error(R"({"cluster": {"nodes": 3}, "steps": [{"at": "1s", "crash": "node-2"},
                                                          {"at": "2s", "drain": "node-2"}]})") ==
      "t.json: steps[1].drain: node \"node-2\" is down at this point (steps[0].crash stops it and no restart "
      "follows); drain needs a node that is up");
}

TEST_CASE("exact messages: order") {
  CHECK(step_error(R"({"at": "1m", "heal": true}, {"at": "59s", "heal": true})") ==
        "t.json: steps[1].at: 59s is before the previous step's 1m (at must not decrease)");
}

TEST_CASE("exact messages: a slice's rolling update") {
  auto with_update = [](const std::string& update) {
    return step_error(
        R"({"at": "1s", "blueprint": {"id": "shop", "slices": [{"artifact": "org.example:cart:1.0.0",
        "instances": 3, "update": )" +
        update + "}]}}");
  };
  CHECK(with_update(R"({"strategy": "rolling", "max_surge": 0, "max_unavailable": 0})") ==
        "t.json: steps[0].blueprint.slices[0].update.max_surge: max_surge 0 with max_unavailable 0: the "
        "update could never make progress");
  CHECK(with_update(R"({"strategy": "rolling", "max_surge": "2"})") ==
        "t.json: steps[0].blueprint.slices[0].update.max_surge: expected an integer, got a string");
  CHECK(
      with_update(R"({"strategy": "rolling", "max_unavailabel": 1})") ==
      "t.json: steps[0].blueprint.slices[0].update.max_unavailabel: unknown key \"max_unavailabel\"; did you "
      "mean \"max_unavailable\"?");
  CHECK(with_update(R"({"strategy": "canary"})") ==
        "t.json: steps[0].blueprint.slices[0].update.strategy: expected \"immediate\" or \"rolling\"");
}
