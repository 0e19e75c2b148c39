#include <catch2/catch.hpp>

#include <set>

#include "sim/kv_interest.h"

using aether::engine::KvBatch;
using aether::engine::KvCommand;
using aether::engine::KvInterest;
using aether::sim::KvInterestIndex;

namespace {
std::set<std::uint32_t> marked(const KvInterestIndex& index, const KvBatch& batch) {
  std::set<std::uint32_t> out;
  index.match(batch, [&](std::uint32_t vertex) { out.insert(vertex); });
  return out;
}
}  // namespace

TEST_CASE("the interest index finds the nodes subscribed to a batch's keys") {
  KvInterestIndex index;
  index.set(0, KvInterest{false, {"slices/node-1/", "blueprints/"}, {"node-lifecycle/node-1"}});
  index.set(1, KvInterest{false, {"slices/node-2/", "blueprints/"}, {"leader"}});
  index.set(2, KvInterest{true, {}, {}});
  index.set(3, KvInterest{});  // nothing
  CHECK(marked(index, {KvCommand::put("slices/node-2/g:a:1.0.0", "x")}) == std::set<std::uint32_t>{1, 2});
  CHECK(marked(index, {KvCommand::put("blueprints/shop", "x")}) == std::set<std::uint32_t>{0, 1, 2});
  CHECK(marked(index, {KvCommand::remove("leader")}) == std::set<std::uint32_t>{1, 2});
  // A whole key is matched exactly, never as a prefix.
  CHECK(marked(index, {KvCommand::put("leader/x", "y")}) == std::set<std::uint32_t>{2});
  CHECK(marked(index, {KvCommand::put("node-lifecycle/node-10", "ON_DUTY")}) == std::set<std::uint32_t>{2});
  CHECK(marked(index, {KvCommand::put("node-lifecycle/node-1", "ON_DUTY"),
                       KvCommand::put("leader", "node-2")}) == std::set<std::uint32_t>{0, 1, 2});
  // A prefix matches at '/' boundaries only.
  CHECK(marked(index, {KvCommand::put("slices/node-10/g:a:1.0.0", "x")}) == std::set<std::uint32_t>{2});
  // Replacing an interest drops the old one.
  index.set(2, KvInterest{false, {"slices/"}, {}});
  CHECK(marked(index, {KvCommand::put("other", "x")}).empty());
  CHECK(marked(index, {KvCommand::put("slices/node-9/g:a:1.0.0", "x")}) == std::set<std::uint32_t>{2});
  index.clear(0);
  CHECK(marked(index, {KvCommand::put("blueprints/shop", "x")}) == std::set<std::uint32_t>{1});
  CHECK_THROWS(index.set(4, KvInterest{false, {"slices"}, {}}));
}
