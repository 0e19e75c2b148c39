// Rolling-update planning with fake inputs (no simulator):
// engine-semantics.md §8.4, engine/rolling_update.h.
#include <catch2/catch.hpp>

#include "engine/rolling_update.h"

using namespace aether::engine;
using namespace aether::engine::rolling;

namespace {
std::vector<OldEntry> old_active(std::initializer_list<const char*> nodes) {
  std::vector<OldEntry> out;
  for (const char* node : nodes) out.push_back(OldEntry{"org.example:cart:1.0.0", node, true});
  return out;
}
std::vector<std::string> nodes_of(const std::vector<OldEntry>& entries) {
  std::vector<std::string> out;
  for (const auto& e : entries) out.push_back(e.node);
  return out;
}
}  // namespace

TEST_CASE("rolling: the first step loads max_surge new instances and unloads nothing at max_unavailable 0") {
  Input in;
  in.desired = 3;
  in.max_surge = 1;
  in.max_unavailable = 0;
  in.active = 3;
  in.old = old_active({"n1", "n2", "n3"});
  const auto plan = rolling::plan(in);
  CHECK(plan.load == 1);
  CHECK(plan.unload.empty());
}

TEST_CASE("rolling: each new ACTIVE lets one old instance go, last node first, and the next wave loads") {
  Input in;
  in.desired = 3;
  in.max_surge = 1;
  in.new_live = 1;
  in.active = 4;  // 3 old + 1 new ACTIVE
  in.old = old_active({"n1", "n2", "n3"});
  const auto plan = rolling::plan(in);
  CHECK(nodes_of(plan.unload) == std::vector<std::string>{"n3"});
  CHECK(plan.load == 1);  // 1 new + 2 old stay live: one more within desired + max_surge
}

TEST_CASE("rolling: a new instance still loading lets no ACTIVE old one go and blocks further surge") {
  Input in;
  in.desired = 3;
  in.max_surge = 1;
  in.new_live = 1;
  in.active = 3;
  in.old = old_active({"n1", "n2", "n3"});
  const auto plan = rolling::plan(in);
  CHECK(plan.unload.empty());
  CHECK(plan.load == 0);
}

TEST_CASE("rolling: max_unavailable lets that many ACTIVE old instances go at once") {
  Input in;
  in.desired = 4;
  in.max_surge = 1;
  in.max_unavailable = 1;
  in.active = 4;
  in.old = old_active({"n1", "n2", "n3", "n4"});
  const auto plan = rolling::plan(in);
  CHECK(nodes_of(plan.unload) == std::vector<std::string>{"n4"});
  CHECK(plan.load == 2);  // 3 old stay live: 2 new within 4 + 1
}

TEST_CASE("rolling: old entries that are not ACTIVE go at once; ACTIVE ones keep the floor") {
  Input in;
  in.desired = 3;
  in.max_surge = 2;
  in.new_live = 0;
  in.active = 2;
  in.old = old_active({"n1", "n2"});
  in.old.push_back(OldEntry{"org.example:cart:1.1.0", "n4", false});  // loading, of a reversed update
  const auto plan = rolling::plan(in);
  CHECK(nodes_of(plan.unload) == std::vector<std::string>{"n4"});
  CHECK(plan.load == 3);  // 2 old stay live; 3 new within 3 + 2, capped at desired
}

TEST_CASE("rolling: after a crash took ACTIVE below the floor the plan only adds") {
  Input in;
  in.desired = 3;
  in.max_surge = 1;
  in.max_unavailable = 0;
  in.new_live = 1;
  in.active = 2;  // 2 old ACTIVE, the new one still loading; one old lost with its node
  in.old = old_active({"n1", "n2"});
  const auto plan = rolling::plan(in);
  CHECK(plan.unload.empty());
  CHECK(plan.load == 1);  // 1 new + 2 old live: one more within 4
}

TEST_CASE("rolling: never more new-version instances than desired") {
  Input in;
  in.desired = 2;
  in.max_surge = 5;
  in.new_live = 2;
  in.active = 3;
  in.old = old_active({"n1"});
  const auto plan = rolling::plan(in);
  CHECK(plan.load == 0);
  CHECK(nodes_of(plan.unload) == std::vector<std::string>{"n1"});
}

TEST_CASE("rolling: ignoring max_unavailable (the mutation point) unloads every ACTIVE old instance") {
  Input in;
  in.desired = 3;
  in.max_surge = 1;
  in.active = 3;
  in.old = old_active({"n1", "n2", "n3"});
  in.ignore_max_unavailable = true;
  CHECK(rolling::plan(in).unload.size() == 3);
}

TEST_CASE("rolling: the submit-time floor") {
  CHECK(unload_keeps_floor(3, 3, 0));
  CHECK_FALSE(unload_keeps_floor(2, 3, 0));
  CHECK(unload_keeps_floor(2, 3, 1));
}
