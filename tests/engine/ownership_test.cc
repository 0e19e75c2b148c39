#include <catch2/catch.hpp>

#include "engine/ownership.h"

using namespace aether::engine;

namespace {
Blueprint bp(const std::string& id, std::vector<std::string> artifacts) {
  Blueprint out{id, {}};
  for (const auto& a : artifacts) out.slices.push_back(SliceSpec{*parse_artifact(a), 1, 1, {}});
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
