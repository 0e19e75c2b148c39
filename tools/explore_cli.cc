#include "tools/explore_cli.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>

#include <fmt/format.h>
#include <boost/program_options.hpp>

#include "engine/duration.h"
#include "properties/scenario_gen.h"
#include "reports/report.h"
#include "tools/fuzz_command.h"
#include "tools/inputs.h"
#include "tools/mutants_command.h"

namespace po = boost::program_options;

namespace aether::tools {

namespace {

constexpr int kUsage = 2;

int usage(const std::string& command, const std::string& message) {
  std::cerr << "aethersim " << command << ": " << message << "\n";
  return kUsage;
}

// A positive duration ("90s", "2m"); nullopt + message otherwise.
std::optional<std::chrono::milliseconds> positive_duration(const std::string& text, std::string* error) {
  const auto ns = engine::parse_duration(text, error);
  if (!ns) return std::nullopt;
  if (*ns <= 0) {
    *error = "\"" + text + "\" is zero: expected a positive duration such as 90s or 10m";
    return std::nullopt;
  }
  return std::chrono::milliseconds(std::max<engine::Nanos>(1, *ns / engine::kNanosPerMilli));
}

std::optional<std::uint64_t> positive_count(const std::string& text, std::string* error) {
  const auto n = parse_seed(text, error);
  if (!n) return std::nullopt;
  if (*n == 0) {
    *error = "must be at least 1";
    return std::nullopt;
  }
  return n;
}

// Can `dir` take files? Creates it if missing; probes with a temporary file.
bool writable_dir(const std::string& dir, std::string* error) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec || !std::filesystem::is_directory(dir)) {
    *error = "cannot create directory " + dir + (ec ? ": " + ec.message() : "");
    return false;
  }
  const auto probe = (std::filesystem::path(dir) / (".aethersim-probe." + std::to_string(getpid()))).string();
  {
    std::ofstream f(probe);
    if (!f) {
      *error = "cannot write in directory " + dir;
      return false;
    }
  }
  std::filesystem::remove(probe, ec);
  return true;
}

bool writable_file_location(const std::string& file, std::string* error) {
  auto parent = std::filesystem::path(file).parent_path();
  if (parent.empty()) parent = ".";
  if (!std::filesystem::is_directory(parent)) {
    *error = "no directory " + parent.string() + " for " + file;
    return false;
  }
  if (access(parent.c_str(), W_OK) != 0) {
    *error = "cannot write in directory " + parent.string();
    return false;
  }
  return true;
}

}  // namespace

std::vector<std::string> parse_command_line(const po::options_description& desc,
                                            const std::vector<std::string>& args, po::variables_map& vm) {
  po::options_description all;
  all.add(desc);
  all.add_options()("inputs", po::value<std::vector<std::string>>());
  po::positional_options_description positional;
  positional.add("inputs", -1);
  po::store(po::command_line_parser(args).options(all).positional(positional).run(), vm);
  po::notify(vm);
  return vm.count("inputs") ? vm["inputs"].as<std::vector<std::string>>() : std::vector<std::string>{};
}

int cli_fuzz(const std::string& program, const std::vector<std::string>& args) {
  po::options_description desc("aethersim fuzz [options]");
  desc.add_options()("profile", po::value<std::string>(),
                     "P: the generator profile (aethersim list profiles); live")(
      "seeds", po::value<std::string>(), "N: how many seeds (default 100)")(
      "start-seed", po::value<std::string>(), "S: the first seed (default 1); seeds S..S+N-1")(
      "time-budget", po::value<std::string>(), "DUR: start no new seed after this much wall time")(
      "jobs", po::value<std::string>(), "J: worker processes at once (default 1)")(
      "shard", po::value<std::string>(),
      "I/N: run the seeds s with s mod N == I; N alone takes I from "
      "JOB_COMPLETION_INDEX")("out", po::value<std::string>(),
                              "DIR: the summary (DIR/summary.json) and a case + shrunk file per failure")(
      "summary", po::value<std::string>(), "FILE: write the JSON summary here (default DIR/summary.json)")(
      "junit", po::value<std::string>(),
      "FILE: JUnit XML, a testcase per failing seed and one for the campaign")(
      "report", po::value<std::string>(),
      "DIR: a failure report per failing seed (DIR/seed-N/report.html, report.json, summary.md) and "
      "DIR/index.html")("recheck", po::value<std::string>(),
                        "P: percent of seeds run twice, trace hashes compared (default 5)")(
      "shrink-budget", po::value<std::string>(), "DUR: shrinking budget per failure (default 60s)")(
      "no-shrink", "record failures without shrinking them")(
      "seed-timeout", po::value<std::string>(), "DUR: wall-clock watchdog per seed (default 60s)")(
      "print-cases", "one line per seed (swarm: with the draw)")("quiet", "no progress line")(
      "stats", "add the workers' CPU time per seed (a figure that survives a busy machine)")("help,h",
                                                                                             "this text");
  po::variables_map vm;
  const auto rest = parse_command_line(desc, args, vm);
  if (vm.count("help")) {
    std::cout << desc
              << "\nA seed alone replays a case: aethersim fuzz --profile P --seeds 1 --start-seed S.\n"
                 "Exit 0 if every seed passed, 1 if one failed (3: framework fault), 2 bad usage.\n"
                 "The summary schema is in docs/fuzz.md.\n";
    return 0;
  }
  if (!rest.empty())
    return usage("fuzz", "unexpected argument \"" + rest.front() + "\" (fuzz takes options only)");
  FuzzOptions o;
  o.program = program;
  std::string error;
  if (vm.count("profile")) {
    o.profile = vm["profile"].as<std::string>();
    if (!properties::gen::is_profile(o.profile)) {
      std::string names;
      for (const auto& p : properties::gen::profiles()) names += (names.empty() ? "" : ", ") + p.name;
      return usage("fuzz", fmt::format("--profile: unknown profile \"{}\" (one of {})", o.profile, names));
    }
  }
  if (vm.count("seeds")) {
    const auto n = positive_count(vm["seeds"].as<std::string>(), &error);
    if (!n) return usage("fuzz", "--seeds: " + error);
    o.seeds = *n;
  }
  if (vm.count("start-seed")) {
    const auto n = parse_seed(vm["start-seed"].as<std::string>(), &error);
    if (!n) return usage("fuzz", "--start-seed: " + error);
    o.start_seed = *n;
  }
  if (o.start_seed + o.seeds < o.start_seed) return usage("fuzz", "--seeds: the range overflows 64 bits");
  if (vm.count("time-budget")) {
    o.time_budget = positive_duration(vm["time-budget"].as<std::string>(), &error);
    if (!o.time_budget) return usage("fuzz", "--time-budget: " + error);
  }
  if (vm.count("jobs")) {
    const auto n = positive_count(vm["jobs"].as<std::string>(), &error);
    if (!n || *n > 256) return usage("fuzz", "--jobs: expected 1..256" + (n ? std::string() : ": " + error));
    o.jobs = static_cast<int>(*n);
  }
  if (vm.count("shard")) {
    const auto text = vm["shard"].as<std::string>();
    const auto slash = text.find('/');
    std::string index_text;
    std::string count_text = text;
    if (slash != std::string::npos) {
      index_text = text.substr(0, slash);
      count_text = text.substr(slash + 1);
    } else {
      const char* env = std::getenv("JOB_COMPLETION_INDEX");  // NOLINT(concurrency-mt-unsafe)
      if (env == nullptr)
        return usage("fuzz",
                     "--shard: expected I/N, or N with JOB_COMPLETION_INDEX set (a Kubernetes Indexed Job)");
      index_text = env;
    }
    const auto count = positive_count(count_text, &error);
    if (!count) return usage("fuzz", "--shard: N: " + error + " (expected I/N with 0 <= I < N)");
    const auto index = parse_seed(index_text, &error);
    if (!index) return usage("fuzz", "--shard: I: " + error + " (expected I/N with 0 <= I < N)");
    if (*index >= *count)
      return usage("fuzz", fmt::format("--shard: {}/{}: the index must be below the count (0 <= I < N)",
                                       *index, *count));
    o.sharded = true;
    o.shard_index = *index;
    o.shard_count = *count;
  }
  if (vm.count("recheck")) {
    auto text = vm["recheck"].as<std::string>();
    if (!text.empty() && text.back() == '%') text.pop_back();
    char* end = nullptr;
    const double p = std::strtod(text.c_str(), &end);
    if (text.empty() || end == nullptr || *end != '\0' || !(p >= 0 && p <= 100))
      return usage("fuzz", "--recheck: expected a percentage 0..100, such as 5 or 2.5");
    o.recheck_ppm = static_cast<std::uint32_t>(p * 10'000 + 0.5);
  }
  if (vm.count("shrink-budget")) {
    const auto d = positive_duration(vm["shrink-budget"].as<std::string>(), &error);
    if (!d) return usage("fuzz", "--shrink-budget: " + error);
    o.shrink_budget = *d;
  }
  o.shrink = vm.count("no-shrink") == 0;
  if (vm.count("seed-timeout")) {
    const auto d = positive_duration(vm["seed-timeout"].as<std::string>(), &error);
    if (!d) return usage("fuzz", "--seed-timeout: " + error);
    o.seed_timeout = *d;
  }
  // A file inside --out's directory (created below) is fine.
  const auto in_out_dir = [&vm](const std::string& file) {
    return vm.count("out") && std::filesystem::path(file).parent_path().lexically_normal() ==
                                  std::filesystem::path(vm["out"].as<std::string>()).lexically_normal();
  };
  if (vm.count("summary")) {
    o.summary_file = vm["summary"].as<std::string>();
    if (!in_out_dir(*o.summary_file) && !writable_file_location(*o.summary_file, &error))
      return usage("fuzz", "--summary: " + error);
  }
  if (vm.count("junit")) {
    o.junit = vm["junit"].as<std::string>();
    if (!in_out_dir(*o.junit) && !writable_file_location(*o.junit, &error))
      return usage("fuzz", "--junit: " + error);
  }
  if (vm.count("report")) {
    o.report_dir = vm["report"].as<std::string>();
    if (const auto why = reports::check_writable_dir(*o.report_dir); !why.empty())
      return usage("fuzz", "--report: " + why);
  }
  // Last: --out creates its directory, so every other flag is checked first.
  if (vm.count("out")) {
    o.out_dir = vm["out"].as<std::string>();
    if (!writable_dir(*o.out_dir, &error)) return usage("fuzz", "--out: " + error);
  }
  o.print_cases = vm.count("print-cases") > 0;
  o.quiet = vm.count("quiet") > 0;
  o.stats = vm.count("stats") > 0;
  return fuzz_command(o, std::cout, std::cerr);
}

int cli_shrink(const std::string& program, const std::vector<std::string>& args) {
  po::options_description desc("aethersim shrink FILE [options]");
  desc.add_options()("seed", po::value<std::string>(), "N: the run seed (default: the file's seed, else 0)")(
      "out", po::value<std::string>(),
      "FILE: where the minimal scenario goes (default FILE's stem + .min.json)")(
      "budget", po::value<std::string>(), "DUR: wall-clock budget (default 60s)")("help,h", "this text");
  po::variables_map vm;
  const auto inputs = parse_command_line(desc, args, vm);
  if (vm.count("help")) {
    std::cout << desc
              << "\nDelta-debugs a failing scenario: drops steps, nodes, slices, config keys; lowers\n"
                 "counts; moves faults earlier; keeps only candidates that fail the same way (same\n"
                 "invariant id or blocker). Prints the original failure, progress, the minimal file.\n";
    return 0;
  }
  if (inputs.size() != 1) return usage("shrink", "give exactly one scenario FILE (aethersim shrink --help)");
  ShrinkCommandOptions o;
  o.program = program;
  o.file = inputs.front();
  std::string error;
  if (vm.count("seed")) {
    o.seed = parse_seed(vm["seed"].as<std::string>(), &error);
    if (!o.seed) return usage("shrink", "--seed: " + error);
  }
  if (vm.count("budget")) {
    const auto d = positive_duration(vm["budget"].as<std::string>(), &error);
    if (!d) return usage("shrink", "--budget: " + error);
    o.budget = *d;
  }
  if (vm.count("out")) {
    o.out_file = vm["out"].as<std::string>();
    if (!writable_file_location(*o.out_file, &error)) return usage("shrink", "--out: " + error);
  }
  return shrink_command(o, std::cout, std::cerr);
}

int cli_merge(const std::vector<std::string>& args) {
  po::options_description desc("aethersim merge SUMMARY.json... [options]");
  desc.add_options()("out", po::value<std::string>(),
                     "FILE: write the merged summary here (default: stdout)")("help,h", "this text");
  po::variables_map vm;
  const auto inputs = parse_command_line(desc, args, vm);
  if (vm.count("help")) {
    std::cout << desc
              << "\nMerges the summaries of the N shards of one campaign (--shard I/N) into the summary\n"
                 "the unsharded campaign writes, byte for byte. Exit 1 if a seed failed, 2 bad input.\n";
    return 0;
  }
  std::optional<std::string> out;
  if (vm.count("out")) {
    out = vm["out"].as<std::string>();
    std::string error;
    if (!writable_file_location(*out, &error)) return usage("merge", "--out: " + error);
  }
  return merge_command(inputs, out, std::cout, std::cerr);
}

std::vector<std::string> comma_list(const std::vector<std::string>& values) {
  std::vector<std::string> out;
  for (const auto& value : values) {
    std::size_t start = 0;
    while (start <= value.size()) {
      const auto comma = std::min(value.find(',', start), value.size());
      if (comma > start) out.push_back(value.substr(start, comma - start));
      start = comma + 1;
    }
  }
  return out;
}

int cli_mutants(const std::string& program, const std::vector<std::string>& args) {
  po::options_description desc("aethersim mutants [FILE|DIR...] [options]");
  desc.add_options()("seeds", po::value<std::string>(),
                     "N: fuzz seeds per profile for a mutant the suite left alive (default 1000)")(
      "jobs", po::value<std::string>(), "J: worker processes at once (default 1)")(
      "only", po::value<std::vector<std::string>>(),
      "NAME[,NAME...]: only these mutation points (repeatable)")(
      "skip", po::value<std::vector<std::string>>(),
      "NAME[,NAME...]: leave these mutation points out (repeatable)")(
      "out", po::value<std::string>(),
      "DIR: each fuzz kill shrunk and offered as a scenario (DIR/NAME.json)")(
      "json", po::value<std::string>(), "FILE: the JSON summary (docs/mutants.md)")(
      "suite-seeds", po::value<std::string>(), "K: run each suite scenario with seeds 1..K (default 3)")(
      "no-fuzz", "the shipped suite only")("no-suite", "fuzz only (no suite, no suite baseline)")(
      "profiles", po::value<std::string>(), "P,...: fuzz profiles (default live,swarm)")(
      "start-seed", po::value<std::string>(), "S: the first fuzz seed (default 1)")(
      "seed-timeout", po::value<std::string>(), "DUR: wall-clock watchdog per run (default 60s)")(
      "shrink-budget", po::value<std::string>(), "DUR: shrinking budget per fuzz kill (default 60s)")(
      "quiet", "no progress line; no message lines for killed mutants")("help,h", "this text");
  po::variables_map vm;
  MutantsOptions o;
  o.program = program;
  o.inputs = parse_command_line(desc, args, vm);
  if (vm.count("help")) {
    std::cout << desc
              << "\nFor each mutation point (aethersim list mutations), runs the suite (default\n"
                 "scenarios/, each file with seeds 1..K) with the mutation on; a mutant the suite\n"
                 "leaves alive gets a bounded fuzz (live and swarm, N seeds each). The unmutated\n"
                 "engine must pass the same suite runs first (else exit 3); a fuzz kill counts only\n"
                 "if the unmutated engine passes that seed. Prints a table: mutant, killed or\n"
                 "survived, by which scenario and seed or fuzz seed, which invariant, expectation\n"
                 "or blocker, and runs or seeds to detection. Exit 0 all killed, 1 one survived,\n"
                 "2 bad usage, 3 the unmutated engine fails. Summary schema: docs/mutants.md.\n";
    return 0;
  }
  std::string error;
  if (vm.count("seeds")) {
    const auto n = positive_count(vm["seeds"].as<std::string>(), &error);
    if (!n) return usage("mutants", "--seeds: " + error);
    o.fuzz_seeds = *n;
  }
  if (vm.count("suite-seeds")) {
    const auto n = positive_count(vm["suite-seeds"].as<std::string>(), &error);
    if (!n || *n > 1000) return usage("mutants", "--suite-seeds: expected 1..1000" + (n ? "" : ": " + error));
    o.suite_seeds = *n;
  }
  if (vm.count("start-seed")) {
    const auto n = parse_seed(vm["start-seed"].as<std::string>(), &error);
    if (!n) return usage("mutants", "--start-seed: " + error);
    o.start_seed = *n;
  }
  if (o.start_seed + o.fuzz_seeds < o.start_seed)
    return usage("mutants", "--seeds: the range overflows 64 bits");
  if (vm.count("jobs")) {
    const auto n = positive_count(vm["jobs"].as<std::string>(), &error);
    if (!n || *n > 256)
      return usage("mutants", "--jobs: expected 1..256" + (n ? std::string() : ": " + error));
    o.jobs = static_cast<int>(*n);
  }
  if (vm.count("only")) o.only = comma_list(vm["only"].as<std::vector<std::string>>());
  if (vm.count("skip")) o.skip = comma_list(vm["skip"].as<std::vector<std::string>>());
  if (vm.count("profiles")) {
    o.profiles = comma_list({vm["profiles"].as<std::string>()});
    if (o.profiles.empty()) return usage("mutants", "--profiles: name at least one profile");
  }
  o.suite = vm.count("no-suite") == 0;
  o.fuzz = vm.count("no-fuzz") == 0;
  if (!o.suite && !o.fuzz) return usage("mutants", "--no-suite and --no-fuzz leave nothing to run");
  if (!o.suite && !o.inputs.empty())
    return usage("mutants", "--no-suite: unexpected argument \"" + o.inputs.front() + "\"");
  for (const char* name : {"seed-timeout", "shrink-budget"}) {
    if (!vm.count(name)) continue;
    const auto d = positive_duration(vm[name].as<std::string>(), &error);
    if (!d) return usage("mutants", std::string("--") + name + ": " + error);
    (std::string(name) == "seed-timeout" ? o.seed_timeout : o.shrink_budget) = *d;
  }
  if (vm.count("json")) {
    o.json_file = vm["json"].as<std::string>();
    if (!writable_file_location(*o.json_file, &error)) return usage("mutants", "--json: " + error);
  }
  if (vm.count("out")) {
    o.out_dir = vm["out"].as<std::string>();
    if (!writable_dir(*o.out_dir, &error)) return usage("mutants", "--out: " + error);
  }
  o.quiet = vm.count("quiet") > 0;
  return mutants_command(o, std::cout, std::cerr);
}

}  // namespace aether::tools
