// Worker processes of `aethersim fuzz` and `shrink`: whatever a seed does to
// its process (segfault, abort, escaped exception, hang) becomes an outcome
// of that seed, and the parent goes on.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <stdexcept>

#include "properties/scenario_gen.h"
#include "tools/fuzz_command.h"
#include "tools/isolated_run.h"

using namespace aether;
using namespace aether::tools;
using namespace std::chrono_literals;

TEST_CASE("a worker's outcome comes back through the pipe") {
  const auto o = run_isolated(
      [] {
        SeedOutcome s;
        s.outcome = "fail";
        s.key = "invariant:lifecycle";
        s.message = "line one\nline two";
        s.trace_hash = 0xfeedULL;
        s.probes["zombie-write"] = 2;
        return s;
      },
      10s);
  CHECK(o.outcome == "fail");
  CHECK(o.key == "invariant:lifecycle");
  CHECK(o.trace_hash == 0xfeedULL);
  CHECK(o.probes.at("zombie-write") == 2);
}

TEST_CASE("a segfault, an abort, an exception and an exit are outcomes of the seed") {
  const auto segv = run_isolated(
      []() -> SeedOutcome {
        std::raise(SIGSEGV);
        return {};
      },
      10s);
  CHECK(segv.outcome == "crash");
  CHECK(segv.key == "crash:SIGSEGV");
  const auto abrt = run_isolated([]() -> SeedOutcome { std::abort(); }, 10s);
  CHECK(abrt.key == "crash:SIGABRT");
  const auto thrown = run_isolated([]() -> SeedOutcome { throw std::runtime_error("boom"); }, 10s);
  CHECK(thrown.outcome == "framework-error");
  CHECK(thrown.message.find("boom") != std::string::npos);
  const auto exited = run_isolated([]() -> SeedOutcome { _exit(7); }, 10s);
  CHECK(exited.key == "exit:7");
}

TEST_CASE("a hang is killed by the watchdog and recorded") {
  const auto o = run_isolated(
      []() -> SeedOutcome {
        for (;;) pause();
      },
      300ms);
  CHECK(o.outcome == "timeout");
  CHECK(o.key == "hang");
}

TEST_CASE("a generated case runs in a worker and reports probes") {
  const auto c = properties::gen::generate_case("live", 3);
  const auto o = run_isolated(
      [&c] {
        InProcessOptions options;
        options.probes = true;
        options.recheck = true;
        return run_in_process(c.scenario, 3, options);
      },
      60s);
  CHECK(o.outcome != "crash");
  CHECK(o.rechecked);
  CHECK(o.key != "nondeterminism");
  CHECK(o.probes.size() >= 6);
}

TEST_CASE("the rechecked seeds are a hash of the seed, about the asked share") {
  int hits = 0;
  for (std::uint64_t s = 0; s < 20000; ++s) hits += rechecked_seed(s, 50'000) ? 1 : 0;
  CHECK(hits > 800);
  CHECK(hits < 1200);
  CHECK_FALSE(rechecked_seed(12345, 0));
  CHECK(rechecked_seed(12345, 1'000'000));
}
