#include <catch2/catch.hpp>

#include <sstream>

#include "properties/human_time.h"
#include "tools/run_command.h"
#include "tools/run_figures_format.h"

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

TEST_CASE("quiet sweeps keep the progress line on a terminal, redrawn in place") {
  RunCommandOptions options;
  options.inputs = {kData + "/idle.json"};
  options.seeds = aether::tools::SeedRange{1, 5};
  options.quiet = true;
  options.progress_on_terminal = true;
  options.progress_interval = std::chrono::milliseconds(0);
  const Outcome o = run(options);
  CHECK(o.err.find("\rprogress: 1/5 runs, 0 failed\033[K") != std::string::npos);
  CHECK(o.err.find("\rprogress: 5/5 runs, 0 failed\033[K") != std::string::npos);
  CHECK(o.err.find('\n') == std::string::npos);  // one line, redrawn
  CHECK(o.out.find("sweep cli-idle seeds 1..5: 5 runs, 5 passed") != std::string::npos);
}

TEST_CASE("a long single run prints its progress: simulated time reached, events/s, ETA") {
  RunCommandOptions options;
  options.inputs = {kData + "/failover.json"};
  options.run_progress_interval = std::chrono::milliseconds(0);
  options.run_progress_every_events = 50;
  const Outcome o = run(options);
  CHECK(o.exit_code == 0);
  CHECK(o.err.find("progress: simulated ") != std::string::npos);
  CHECK(o.err.find(" events, ") != std::string::npos);
  CHECK(o.err.find("events/s") != std::string::npos);
  // With the default interval (2s) a short run stays silent.
  options.run_progress_interval = std::chrono::milliseconds(2000);
  CHECK(run(options).err.empty());
}

TEST_CASE("the run progress line names the simulated time, the end, events/s and an ETA") {
  using aether::tools::run_progress_line;
  const std::string line =
      run_progress_line(aether::engine::seconds(62), 1234567, aether::engine::seconds(300), 2.0,
                        1e9 * 10);  // 10 simulated s per wall s
  CHECK(line ==
        "progress: simulated 1m02s of 5m00s, 1234567 events, 617284 events/s, ETA 23s at the recent rate");
  const std::string unknown = run_progress_line(aether::engine::seconds(5), 10, INT64_MAX, 1.0, 0);
  CHECK(unknown.find("ETA unknown") != std::string::npos);
}

TEST_CASE("percentiles are nearest-rank") {
  using aether::tools::percentile;
  CHECK(percentile({5, 1, 3, 2, 4}, 50) == 3);
  CHECK(percentile({5, 1, 3, 2, 4}, 90) == 5);
  CHECK(percentile({5, 1, 3, 2, 4}, 0) == 1);
  CHECK(percentile({1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 90) == 9);
  CHECK(percentile({7}, 50) == 7);
}

TEST_CASE("human durations: one format, milliseconds cut, minutes and hours from 60s") {
  using aether::properties::human_duration;
  CHECK(human_duration(0) == "0s");
  CHECK(human_duration(40'006'000'000) == "40.006s");
  CHECK(human_duration(123'500'000'000) == "2m03.5s");
  CHECK(human_duration(3'605'000'000'000) == "1h00m05s");
  CHECK(human_duration(1'999'999) == "0.001s");
  CHECK(human_duration(250'000) == "0.00025s");
  CHECK(human_duration(-1'500'000'000) == "-1.5s");
}

TEST_CASE("a large cluster gets one cost line up front") {
  aether::scenarios::Scenario s;
  s.name = "big";
  for (int i = 1; i <= 500; ++i) s.cluster.nodes.push_back("node-" + std::to_string(i));
  const std::string note = aether::tools::large_cluster_note(s);
  CHECK(note.rfind("note: big has 500 nodes: expect about 0.3 million events and 5s of wall time per run",
                   0) == 0);
}
