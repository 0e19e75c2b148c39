// The aggressive rebalancer's move plan with fake inputs (no simulator).
#include <catch2/catch.hpp>

#include "engine/rebalancer.h"

using namespace aether::engine;
using namespace aether::engine::rebalancer;

namespace {
Input::Entries on(std::set<NodeId> nodes) {
  return Input::Entries{nodes, nodes, nodes};
}
}  // namespace

TEST_CASE("rebalancer: moves one instance from a most-loaded to a least-loaded node lacking it") {
  Input input;
  input.eligible = {"n1", "n2", "n3"};
  input.desired = {{"a:x:1", {}, false, false}, {"a:y:1", {}, false, false}, {"a:z:1", {}, false, false}};
  input.entries = {{"a:x:1", on({"n1"})}, {"a:y:1", on({"n1"})}, {"a:z:1", on({"n1", "n2"})}};
  // Load n1 3, n2 1, n3 0: x moves to n3 (n1 -> 2, n3 -> 1), then y and z stay (difference 1).
  CHECK(plan_moves(input) == std::vector<Move>{{"a:x:1", "n1", "n3"}});
}

TEST_CASE("rebalancer: nothing moves when balanced, with a move in progress, or with one node") {
  Input input;
  input.eligible = {"n1", "n2"};
  input.desired = {{"a:x:1", {}, false, false}, {"a:y:1", {}, false, false}};
  input.entries = {{"a:x:1", on({"n1"})}, {"a:y:1", on({"n2"})}};
  CHECK(plan_moves(input).empty());
  input.entries = {{"a:x:1", on({"n1"})}, {"a:y:1", on({"n1"})}, {"orphan:o:1", on({"n1"})}};
  input.desired[0].moving = true;
  input.desired[1].moving = true;
  CHECK(plan_moves(input).empty());
  input.eligible = {"n1"};
  input.desired[0].moving = false;
  CHECK(plan_moves(input).empty());
}

TEST_CASE("rebalancer: permanently failed artifacts and their dependants neither count nor move") {
  Input input;
  input.eligible = {"n1", "n2", "n3"};
  input.desired = {
      {"a:db:1", {}, true, false}, {"a:web:1", {"a:db:1"}, false, false}, {"a:x:1", {}, false, false}};
  input.entries = {{"a:db:1", on({"n1"})}, {"a:web:1", on({"n1"})}, {"a:x:1", on({"n1"})}};
  CHECK(plan_moves(input).empty());  // load n1 1 (x only): balanced enough
  input.desired[0].failed = false;
  CHECK(plan_moves(input) == std::vector<Move>{{"a:db:1", "n1", "n2"}, {"a:web:1", "n1", "n3"}});
}

TEST_CASE(
    "rebalancer: a starved artifact (dependencies not ready) and its dependants neither count nor move") {
  Input input;
  input.eligible = {"n1", "n2", "n3"};
  input.desired = {
      {"a:db:1", {}, false, false}, {"a:web:1", {"a:db:1"}, false, false}, {"a:x:1", {}, false, false}};
  input.desired[0].starved = true;
  input.entries = {{"a:db:1", on({"n1"})}, {"a:web:1", on({"n1"})}, {"a:x:1", on({"n1"})}};
  // A move of db or web could never end (its target never ACTIVE); n1's load is x alone.
  CHECK(plan_moves(input).empty());
  input.desired[0].starved = false;
  input.desired[1].starved = true;
  CHECK(plan_moves(input) == std::vector<Move>{{"a:db:1", "n1", "n2"}});
}

TEST_CASE("rebalancer: a leaving source does not count as a source, a present entry blocks a target") {
  Input input;
  input.eligible = {"n1", "n2", "n3"};
  input.desired = {{"a:x:1", {}, false, false}};
  Input::Entries x{{"n1", "n2"}, {"n1"}, {}};  // n2: a dead (FAILED) entry; n1 leaving
  input.entries = {{"a:x:1", x}, {"a:y:1", on({"n1"})}, {"a:z:1", on({"n1"})}};
  CHECK(plan_moves(input).empty());
  input.entries["a:x:1"].scale = {"n1"};
  CHECK(plan_moves(input) == std::vector<Move>{{"a:x:1", "n1", "n3"}});  // n2 holds an entry of x
}

TEST_CASE("rebalancer: a move never targets a barred node") {
  Input input;
  input.eligible = {"n1", "n2", "n3"};
  input.desired = {{"a:x:1", {}, false, false}, {"a:y:1", {}, false, false}};
  input.entries = {{"a:x:1", on({"n1"})}, {"a:y:1", on({"n1"})}};
  input.desired[0].barred = {"n2", "n3"};  // anti-affinity or capacity
  CHECK(plan_moves(input) == std::vector<Move>{{"a:y:1", "n1", "n2"}});
}

TEST_CASE("rebalancer: a zone-spread artifact first evens out its zones") {
  Input input;
  input.eligible = {"n1", "n2", "n3", "n4"};
  input.zones = {{"n1", "a"}, {"n2", "a"}, {"n3", "b"}, {"n4", "c"}};
  input.desired = {{"a:x:1", {}, false, false}};
  input.desired[0].spread_zone = true;
  input.entries = {{"a:x:1", on({"n1", "n2", "n3"})}};
  // Zone a holds 2, c none: one moves from zone a to n4 (node loads alone would not move it).
  CHECK(plan_moves(input) == std::vector<Move>{{"a:x:1", "n1", "n4"}});
  // Zone c barred: zones cannot be evened out, and no load move goes to a fuller zone.
  input.desired[0].barred = {"n4"};
  CHECK(plan_moves(input).empty());
}
