// The versioned store behind every node's local store (issue 14): a node at
// position p reads exactly what the canonical store held after p.
#include <catch2/catch.hpp>

#include "sim/kv_store.h"

using aether::sim::KvMap;
using aether::sim::KvStore;
using aether::sim::KvStoreDigest;
using aether::sim::VersionedKv;

TEST_CASE("VersionedKv answers every decided position") {
  VersionedKv versions;
  KvStore canonical;
  std::vector<KvMap> after{{}};  // after[p]: the store after position p
  auto decide = [&](std::uint64_t p,
                    const std::vector<std::pair<std::string, std::optional<std::string>>>& cmds) {
    for (const auto& [key, value] : cmds) {
      if (value) {
        canonical.put(key, *value);
        versions.put(p, key, *value);
      } else {
        canonical.remove(key);
        versions.remove(p, key);
      }
    }
    versions.set_digest(p, canonical.digest());
    after.push_back(canonical.entries());
  };
  decide(1, {{"slices/a/x", "1"}, {"slices/b/x", "1"}});
  decide(2, {{"slices/a/x", "2"}, {"leader", "a"}});
  decide(3, {{"slices/a/x", std::nullopt}, {"never", std::nullopt}});
  decide(4, {{"slices/a/x", "4"}, {"slices/a/x", "5"}, {"slices/b/x", std::nullopt}});  // last write wins

  for (std::uint64_t p = 0; p < after.size(); ++p) {
    INFO("position " << p);
    CHECK(versions.snapshot(p) == after[p]);
    CHECK(versions.digest_at(p) == KvStoreDigest::of(after[p]));
    for (const std::string key : {"slices/a/x", "slices/b/x", "leader", "never"}) {
      const std::string* value = versions.get(key, p);
      auto expected = after[p].find(key);
      CHECK((value == nullptr) == (expected == after[p].end()));
      if (value != nullptr && expected != after[p].end()) CHECK(*value == expected->second);
    }
    KvMap scanned;
    versions.for_each("slices/", p,
                      [&](const std::string& k, const std::string& v) { scanned.emplace(k, v); });
    KvMap expected_scan;
    for (const auto& [k, v] : after[p])
      if (k.rfind("slices/", 0) == 0) expected_scan.emplace(k, v);
    CHECK(scanned == expected_scan);
  }
  CHECK(*versions.get("slices/a/x", 4) == "5");
  CHECK(versions.get("slices/a/x", 3) == nullptr);
}
