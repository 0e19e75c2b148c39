#include <catch2/catch.hpp>

#include "sim/network.h"

using aether::sim::LinkRule;
using aether::sim::NetworkSettings;
using aether::sim::Prng;
using aether::sim::SimNetwork;

TEST_CASE("a partition lets two nodes talk iff some group holds both") {
  SimNetwork net{NetworkSettings{}};
  net.partition({{"a", "b"}, {"c"}});
  CHECK_FALSE(net.rules_cut("a", "b"));
  CHECK(net.rules_cut("a", "c"));
  CHECK(net.rules_cut("c", "b"));
}

TEST_CASE("nodes named in no group form one extra group") {
  SimNetwork net{NetworkSettings{}};
  net.partition({{"a"}});
  CHECK_FALSE(net.rules_cut("x", "y"));
  CHECK(net.rules_cut("a", "x"));
}

TEST_CASE("a node in two groups is a bridge that does not relay") {
  SimNetwork net{NetworkSettings{}};
  net.partition({{"a", "bridge"}, {"bridge", "c"}});
  CHECK_FALSE(net.rules_cut("a", "bridge"));
  CHECK_FALSE(net.rules_cut("bridge", "c"));
  CHECK(net.rules_cut("a", "c"));
}

TEST_CASE("a new partition replaces the previous one") {
  SimNetwork net{NetworkSettings{}};
  net.partition({{"a"}, {"b"}});
  net.partition({{"a", "b"}, {"c"}});
  CHECK_FALSE(net.rules_cut("a", "b"));
  CHECK(net.rules_cut("a", "c"));
}

TEST_CASE("heal of one node puts it in every group, the implicit one included") {
  SimNetwork net{NetworkSettings{}};
  net.partition({{"a"}, {"b"}});
  net.isolate("a");
  net.link("a", "b", LinkRule{1'000'000, 0});
  net.heal("a");
  CHECK_FALSE(net.rules_cut("a", "b"));
  CHECK_FALSE(net.rules_cut("a", "unnamed"));
  CHECK(net.rules_cut("b", "unnamed"));  // the rest of the partition stands
  CHECK(net.any_rule_in_force());
}

TEST_CASE("heal clears partition, isolate and link rules") {
  SimNetwork net{NetworkSettings{}};
  net.partition({{"a"}, {"b"}});
  net.isolate("c");
  net.link("d", "e", LinkRule{1'000'000, 0});
  net.heal();
  CHECK_FALSE(net.any_rule_in_force());
  CHECK_FALSE(net.rules_cut("a", "b"));
  CHECK_FALSE(net.rules_cut("c", "d"));
  CHECK_FALSE(net.rules_cut("d", "e"));
}

TEST_CASE("isolate cuts a node from everyone, both ways") {
  SimNetwork net{NetworkSettings{}};
  net.isolate("a");
  CHECK(net.rules_cut("a", "b"));
  CHECK(net.rules_cut("b", "a"));
  CHECK_FALSE(net.rules_cut("b", "c"));
}

TEST_CASE("a one-way link with loss 1 cuts only that direction") {
  SimNetwork net{NetworkSettings{}};
  net.link("a", "b", LinkRule{1'000'000, 0});
  CHECK(net.rules_cut("a", "b"));
  CHECK_FALSE(net.rules_cut("b", "a"));
}

TEST_CASE("loss below 1 does not cut; it costs retransmissions of one drawn latency each") {
  NetworkSettings settings;
  settings.latency_min_ns = 1000;
  settings.latency_max_ns = 1000;
  SimNetwork net{settings};
  net.link("a", "b", LinkRule{900'000, 5});
  CHECK_FALSE(net.rules_cut("a", "b"));
  Prng prng(7);
  bool saw_retransmission = false;
  for (int i = 0; i < 50; ++i) {
    const auto draw = net.draw_delivery("a", "b", prng);
    CHECK(draw.delay_ns == 5 + 1000 * (1 + static_cast<std::int64_t>(draw.retransmissions)));
    saw_retransmission = saw_retransmission || draw.retransmissions > 0;
  }
  CHECK(saw_retransmission);
}

TEST_CASE("components follow links that work both ways") {
  auto comps = SimNetwork::components({"a", "b", "c", "d"}, [](const std::string& x, const std::string& y) {
    return (x == "c" || y == "c") || (x == "a" && y == "d");  // c is isolated; a->d is one-way cut
  });
  CHECK(comps == std::vector<std::vector<std::string>>{{"a", "b", "d"}, {"c"}});
}
