#include <catch2/catch.hpp>

#include "engine/ownership.h"

using namespace aether::engine;

namespace {
Blueprint bp(const std::string& id, std::vector<std::string> artifacts) {
  Blueprint out{id, {}};
  for (const auto& a : artifacts) out.slices.push_back(SliceSpec{*parse_artifact(a), 1, 1, {}, {}});
  return out;
}
}  // namespace

TEST_CASE("without slice-targets the lowest blueprint id owns a base") {
  std::map<std::string, std::optional<Blueprint>> bps{{"b", bp("b", {"org.x:cart:1.0.0"})},
                                                      {"a", bp("a", {"org.x:cart:2.0.0"})}};
  auto own = compute_ownership(bps, {});
  CHECK(own.owner("org.x:cart") == std::string("a"));
  CHECK(own.rejected == std::set<std::string>{"b"});
}

TEST_CASE("the committed slice-target's owner keeps the base while it still lists it") {
  std::map<std::string, std::optional<Blueprint>> bps{{"b", bp("b", {"org.x:cart:1.0.0"})},
                                                      {"a", bp("a", {"org.x:cart:2.0.0"})}};
  std::map<std::string, SliceTarget> targets{{"org.x:cart", SliceTarget{"1.0.0", 1, 1, "b", false}}};
  auto own = compute_ownership(bps, targets);
  CHECK(own.owner("org.x:cart") == std::string("b"));
  CHECK(own.rejected == std::set<std::string>{"a"});
}

TEST_CASE("a slice-target owner that no longer lists the base loses it") {
  std::map<std::string, std::optional<Blueprint>> bps{{"b", bp("b", {"org.x:web:1.0.0"})},
                                                      {"c", bp("c", {"org.x:cart:2.0.0"})}};
  std::map<std::string, SliceTarget> targets{{"org.x:cart", SliceTarget{"1.0.0", 1, 1, "b", false}}};
  auto own = compute_ownership(bps, targets);
  CHECK(own.owner("org.x:cart") == std::string("c"));
  CHECK(own.owner("org.x:web") == std::string("b"));
}

TEST_CASE("an invalid blueprint lists nothing and a blueprint owns all of its bases or none") {
  std::map<std::string, std::optional<Blueprint>> bps{
      {"a", std::nullopt},
      {"b", bp("b", {"org.x:cart:1.0.0"})},
      {"c", bp("c", {"org.x:cart:1.0.0", "org.x:web:1.0.0"})}};
  std::map<std::string, SliceTarget> targets{{"org.x:cart", SliceTarget{"1.0.0", 1, 1, "a", false}}};
  auto own = compute_ownership(bps, targets);
  CHECK(own.owner("org.x:cart") == std::string("b"));
  CHECK_FALSE(own.owner("org.x:web"));
  CHECK(own.rejected == std::set<std::string>{"c"});
}

TEST_CASE("acceptance is judged in order of the values' decided positions, not ids") {
  // engine-semantics.md §4; scenarios/regression-ownership-by-decided-position.json.
  std::map<std::string, std::optional<Blueprint>> bps{
      {"shop", bp("shop", {"org.x:shop0:1.0.0", "org.x:shop1:1.0.0"})},
      {"ops", bp("ops", {"org.x:shop0:1.0.0", "org.x:ops1:1.0.0"})}};
  // shop's value was decided first: it is accepted, ops (lower id) is rejected.
  auto own = compute_ownership(bps, {}, {{"shop", 12}, {"ops", 13}});
  CHECK(own.owner("org.x:shop0") == std::string("shop"));
  CHECK(own.owner("org.x:shop1") == std::string("shop"));
  CHECK_FALSE(own.owner("org.x:ops1"));
  CHECK(own.rejected == std::set<std::string>{"ops"});
  // The other order: a swap has the other answer.
  own = compute_ownership(bps, {}, {{"shop", 14}, {"ops", 13}});
  CHECK(own.owner("org.x:shop0") == std::string("ops"));
  CHECK(own.owner("org.x:ops1") == std::string("ops"));
  CHECK(own.rejected == std::set<std::string>{"shop"});
  // A slice-target's owner still keeps a base it lists, whatever the order.
  std::map<std::string, SliceTarget> targets{{"org.x:shop0", SliceTarget{"1.0.0", 1, 1, "ops", false}}};
  own = compute_ownership(bps, targets, {{"shop", 12}, {"ops", 13}});
  CHECK(own.owner("org.x:shop0") == std::string("ops"));
  CHECK(own.rejected == std::set<std::string>{"shop"});
}
