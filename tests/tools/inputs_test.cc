#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "tools/inputs.h"

using namespace aether::tools;
namespace fs = std::filesystem;

namespace {
// A fresh directory under the build tree's temp area.
fs::path scratch(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("aethersim-inputs-test-" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}
void touch(const fs::path& path) {
  std::ofstream(path) << "{}";
}
}  // namespace

TEST_CASE("a directory means the *.json files directly in it, sorted by path") {
  const fs::path dir = scratch("sorted");
  touch(dir / "b.json");
  touch(dir / "a.json");
  touch(dir / "notes.txt");
  fs::create_directories(dir / "sub");
  touch(dir / "sub" / "c.json");
  const ExpandedInputs in = expand_inputs({dir.string()});
  CHECK(in.errors.empty());
  CHECK(in.files == std::vector<std::string>{(dir / "a.json").string(), (dir / "b.json").string()});
}

TEST_CASE("files keep argument order; missing paths and empty directories are errors") {
  const fs::path dir = scratch("order");
  touch(dir / "z.json");
  fs::create_directories(dir / "empty");
  const ExpandedInputs in =
      expand_inputs({(dir / "z.json").string(), (dir / "missing.json").string(), (dir / "empty").string()});
  CHECK(in.files == std::vector<std::string>{(dir / "z.json").string()});
  REQUIRE(in.errors.size() == 2);
  CHECK(in.errors[0].find("no such file or directory") != std::string::npos);
  CHECK(in.errors[1].find("no *.json files") != std::string::npos);
}

TEST_CASE("loading lists the errors of every invalid file and keeps the valid ones") {
  const fs::path dir = scratch("load");
  std::ofstream(dir / "good.json") << R"({"cluster": {"nodes": 1}, "steps": []})";
  std::ofstream(dir / "bad1.json") << R"({"cluster": {"nodes": 0}, "steps": []})";
  std::ofstream(dir / "bad2.json") << R"({"steps": []})";
  const LoadedInputs loaded =
      load_inputs({(dir / "bad1.json").string(), (dir / "good.json").string(), (dir / "bad2.json").string()});
  CHECK(loaded.invalid_files == 2);
  CHECK(loaded.scenarios.size() == 1);
  REQUIRE(loaded.errors.size() == 2);
  CHECK(loaded.errors[0].find("bad1.json: cluster.nodes") == loaded.errors[0].find("bad1.json"));
  CHECK(loaded.errors[1].find("missing \"cluster\"") != std::string::npos);
}

TEST_CASE("seeds are unsigned 64-bit decimal numbers") {
  std::string error;
  CHECK(parse_seed("0", &error) == 0u);
  CHECK(parse_seed("18446744073709551615", &error) == 18446744073709551615ULL);
  CHECK(!parse_seed("18446744073709551616", &error));
  CHECK(error.find("larger than 2^64-1") != std::string::npos);
  CHECK(!parse_seed("-1", &error));
  CHECK(!parse_seed("", &error));
  CHECK(!parse_seed("1e3", &error));
}

TEST_CASE("a seed range is A..B inclusive with A <= B") {
  std::string error;
  CHECK(parse_seed_range("3..7", &error) == SeedRange{3, 7});
  CHECK(parse_seed_range("5..5", &error) == SeedRange{5, 5});
  CHECK(!parse_seed_range("7..3", &error));
  CHECK(error.find("is empty") != std::string::npos);
  CHECK(!parse_seed_range("7", &error));
  CHECK(!parse_seed_range("1..x", &error));
}

TEST_CASE("--seed overrides the file's seed, a file without one uses 0, --seeds sweeps") {
  aether::scenarios::Scenario with_seed;
  with_seed.seed = 42;
  const aether::scenarios::Scenario without_seed;
  CHECK(seeds_for(with_seed, std::nullopt, std::nullopt) == SeedRange{42, 42});
  CHECK(seeds_for(without_seed, std::nullopt, std::nullopt) == SeedRange{0, 0});
  CHECK(seeds_for(with_seed, 9u, std::nullopt) == SeedRange{9, 9});
  CHECK(seeds_for(with_seed, std::nullopt, SeedRange{1, 4}) == SeedRange{1, 4});
}

TEST_CASE("the run count multiplies files by seeds and saturates") {
  const std::vector<aether::scenarios::Scenario> two(2);
  CHECK(run_count(two, std::nullopt, std::nullopt) == 2u);
  CHECK(run_count(two, std::nullopt, SeedRange{10, 19}) == 20u);
  CHECK(run_count(two, std::nullopt, SeedRange{0, UINT64_MAX}) == UINT64_MAX);
}
