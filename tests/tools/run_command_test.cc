#include <catch2/catch.hpp>

#include <sstream>

#include "tools/run_command.h"

using aether::tools::run_command;
using aether::tools::RunCommandOptions;

namespace {
const std::string kData = AETHER_CLI_DATA;

struct Outcome {
  int exit_code = 0;
  std::string out;
  std::string err;
};

Outcome run(RunCommandOptions options) {
  std::ostringstream out;
  std::ostringstream err;
  const int code = run_command(options, out, err);
  return {code, out.str(), err.str()};
}
}  // namespace

TEST_CASE("a sweep reports progress on stderr") {
  RunCommandOptions options;
  options.inputs = {kData + "/idle.json"};
  options.seeds = aether::tools::SeedRange{1, 5};
  options.progress_interval = std::chrono::milliseconds(0);
  const Outcome o = run(options);
  CHECK(o.exit_code == 0);
  CHECK(o.err.find("progress: 1/5 runs, 0 failed") != std::string::npos);
  CHECK(o.err.find("progress: 5/5 runs, 0 failed") != std::string::npos);
}

TEST_CASE("quiet sweeps report no progress and no passing lines") {
  RunCommandOptions options;
  options.inputs = {kData + "/idle.json"};
  options.seeds = aether::tools::SeedRange{1, 5};
  options.quiet = true;
  options.progress_interval = std::chrono::milliseconds(0);
  const Outcome o = run(options);
  CHECK(o.err.empty());
  CHECK(o.out.find("PASS") == std::string::npos);
  CHECK(o.out.find("5 runs, 5 passed") != std::string::npos);
}

TEST_CASE("a single run reports no progress") {
  RunCommandOptions options;
  options.inputs = {kData + "/idle.json"};
  options.progress_interval = std::chrono::milliseconds(0);
  CHECK(run(options).err.empty());
}

TEST_CASE("the replay command names the program as invoked, the file and the seed") {
  RunCommandOptions options;
  options.program = "/opt/my tools/aethersim";
  options.inputs = {kData + "/idle.json"};
  options.seed = 99;
  const Outcome o = run(options);
  CHECK(o.out.find("replay: '/opt/my tools/aethersim' run " + kData + "/idle.json --seed 99") !=
        std::string::npos);
}

TEST_CASE("the summary carries the version and the exit code") {
  RunCommandOptions options;
  options.inputs = {kData + "/idle.json", kData + "/failing.json"};
  const Outcome o = run(options);
  CHECK(o.exit_code == 1);
  CHECK(o.out.find(aether::tools::version_string() + ": 2 runs, 1 passed, 1 failed") != std::string::npos);
  CHECK(o.out.find("; exit 1\n") != std::string::npos);
}
