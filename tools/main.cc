// aethersim: the command line of aether-sim (docs/cli.md). Commands: run,
// validate, list, plus --version and --help. Exit codes: 0 all checks held,
// 1 a check failed, 2 bad input or usage, 3 a fault of the framework itself.
#include <unistd.h>

#include <iostream>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <boost/program_options.hpp>

#include "engine/config.h"
#include "engine/duration.h"
#include "engine/mutations.h"
#include "properties/probes.h"
#include "properties/runner.h"
#include "properties/scenario_gen.h"
#include "scenarios/loader.h"
#include "tools/compare_command.h"
#include "tools/explore_cli.h"
#include "tools/inputs.h"
#include "tools/report_command.h"
#include "tools/run_command.h"
#include "tools/trace_command.h"

namespace po = boost::program_options;
using namespace aether;

namespace {

constexpr int kUsageError = 2;

const char* kOverview =
    "usage: aethersim <command> [options] [arguments]\n"
    "\n"
    "Deterministic simulation and checking of a cluster deployment manager.\n"
    "\n"
    "commands:\n"
    "  run FILE|DIR...         play scenarios under every check; one verdict line per run\n"
    "  validate FILE|DIR...    check scenario files without running them\n"
    "  compare --a A.json --b B.json FILE|DIR...\n"
    "                          the same scenarios and seeds under two engine configs:\n"
    "                          per metric both distributions and which wins\n"
    "  report TRACE --out DIR  a run's failover report (report.json, report.html,\n"
    "                          summary.md) from a saved --trace\n"
    "  trace FILE              a saved --trace as a readable, filtered timeline\n"
    "                          (--node, --kinds, --from, --to) or a --summary\n"
    "  list invariants|steps|config|mutations|profiles|probes\n"
    "                          print the invariant ids, the step kinds, the engine\n"
    "                          configuration keys with their defaults, the engine's\n"
    "                          named bug variants, the fuzz profiles or the probes\n"
    "  fuzz [--profile P] [--seeds N] [--jobs J] [--shard I/N] [--out DIR] ...\n"
    "                          generated scenarios, one per seed, in worker processes\n"
    "  shrink FILE [--seed N] [--out FILE] [--budget DUR]\n"
    "                          reduce a failing scenario to a minimal one that fails the same way\n"
    "  merge SUMMARY.json... [--out FILE]\n"
    "                          merge the summaries of a sharded fuzz campaign\n"
    "  mutants [FILE|DIR...] [--seeds N] [--jobs J] [--only NAME] [--out DIR] [--json FILE]\n"
    "                          each engine mutation point against the shipped suite and a\n"
    "                          bounded fuzz: what kills it, after how many runs; exit 1 if one survives\n"
    "\n"
    "options:\n"
    "  --version               print the version\n"
    "  -h, --help              this text; 'aethersim <command> --help' for a command\n"
    "\n"
    "DIR means the *.json files directly in it, sorted by path. Exit codes: 0 all\n"
    "checks held, 1 a check failed, 2 bad input or usage, 3 a framework fault; with\n"
    "several runs the highest wins.\n";

po::options_description run_options_description() {
  po::options_description desc("aethersim run FILE|DIR... [options]");
  desc.add_options()("seed", po::value<std::string>(),
                     "N: run every file with seed N (overrides its \"seed\")")(
      "seeds", po::value<std::string>(), "A..B: run every file once per seed from A to B inclusive")(
      "trace", po::value<std::string>(), "FILE: write the trace as JSON Lines (needs a single run)")(
      "report", po::value<std::string>(),
      "DIR: write a report folder per run (report.json, report.html, summary.md) and DIR/index.html")(
      "junit", po::value<std::string>(), "FILE: write JUnit XML, one testcase per run")(
      "stats", "add events per wall second and simulated seconds per wall second")(
      "quiet",
      "print only single runs that did not pass, sweep tables and the summary; progress only on a terminal")(
      "jobs,j", po::value<unsigned>(), "J: run seeds in J worker processes (output identical to --jobs 1)")(
      "fail-fast", "stop after the first run (in run order) that did not pass")(
      "check-determinism",
      "run each scenario twice and compare traces event by event (a divergence exits 3)")("help,h",
                                                                                          "this text");
  return desc;
}

const char* kRunNotes =
    "\nEvery input is validated first; if any is invalid, all errors are listed and\n"
    "nothing runs (exit 2). A file without \"seed\" uses 0. Each verdict line prints\n"
    "the exact command that replays it. Exit codes: 0 all checks held, 1 a check\n"
    "failed, 2 bad input or usage, 3 a framework fault; the highest over all runs.\n";

using tools::parse_command_line;

int command_run(const std::string& program, const std::vector<std::string>& args) {
  const auto desc = run_options_description();
  po::variables_map vm;
  tools::RunCommandOptions options;
  options.program = program;
  options.inputs = parse_command_line(desc, args, vm);
  if (vm.count("help")) {
    std::cout << desc << kRunNotes;
    return 0;
  }
  std::string error;
  if (vm.count("seed") && vm.count("seeds")) {
    std::cerr << "aethersim run: give --seed or --seeds, not both\n";
    return kUsageError;
  }
  if (vm.count("seed")) {
    options.seed = tools::parse_seed(vm["seed"].as<std::string>(), &error);
    if (!options.seed) {
      std::cerr << "aethersim run: --seed: " << error << "\n";
      return kUsageError;
    }
  }
  if (vm.count("seeds")) {
    options.seeds = tools::parse_seed_range(vm["seeds"].as<std::string>(), &error);
    if (!options.seeds) {
      std::cerr << "aethersim run: --seeds: " << error << "\n";
      return kUsageError;
    }
  }
  if (vm.count("trace")) options.trace_file = vm["trace"].as<std::string>();
  if (vm.count("report")) options.report_dir = vm["report"].as<std::string>();
  if (vm.count("junit")) options.junit_file = vm["junit"].as<std::string>();
  options.stats = vm.count("stats") > 0;
  options.quiet = vm.count("quiet") > 0;
  options.check_determinism = vm.count("check-determinism") > 0;
  if (vm.count("jobs")) options.jobs = vm["jobs"].as<unsigned>();
  options.fail_fast = vm.count("fail-fast") > 0;
  options.progress_on_terminal = ::isatty(2) != 0;
  return tools::run_command(options, std::cout, std::cerr);
}

int command_validate(const std::vector<std::string>& args) {
  po::options_description desc("aethersim validate FILE|DIR...");
  desc.add_options()("help,h", "this text");
  po::variables_map vm;
  const auto inputs = parse_command_line(desc, args, vm);
  if (vm.count("help")) {
    std::cout << desc
              << "\nChecks scenario files strictly (syntax, types, unknown and duplicate keys,\n"
                 "grammar, limits) without running them. Exit 0 if all are valid, 2 otherwise.\n";
    return 0;
  }
  if (inputs.empty()) {
    std::cerr << "aethersim validate: no scenario files given (aethersim validate --help)\n";
    return kUsageError;
  }
  const auto expanded = tools::expand_inputs(inputs);
  for (const auto& e : expanded.errors) std::cerr << e << "\n";
  std::size_t invalid = expanded.errors.size();
  for (const auto& file : expanded.files) {
    const auto loaded = tools::load_inputs({file});
    if (loaded.invalid_files == 0) {
      std::cout << "valid   " << file << "\n";
    } else {
      ++invalid;
      std::cout << "INVALID " << file << "\n";
      for (const auto& e : loaded.errors) std::cerr << e << "\n";
    }
  }
  std::cout << fmt::format("{} file{} checked, {} invalid\n", expanded.files.size(),
                           expanded.files.size() == 1 ? "" : "s", invalid);
  return invalid == 0 ? 0 : kUsageError;
}

// A time as `aethersim trace` prints it ("40.006s", "2m03.5s", "1h00m05s"),
// for --from/--to; nullopt if it is not one.
std::optional<engine::Nanos> parse_human_time(const std::string& text) {
  static const std::regex kHuman(R"(^(?:([0-9]+)h)?(?:([0-9]+)m)?([0-9]+)(?:\.([0-9]{1,9}))?s$)");
  std::smatch m;
  if (!std::regex_match(text, m, kHuman)) return std::nullopt;
  engine::Nanos ns = 0;
  if (m[1].matched) ns += std::stoll(m[1].str()) * 3600 * engine::kNanosPerSecond;
  if (m[2].matched) ns += std::stoll(m[2].str()) * 60 * engine::kNanosPerSecond;
  if (m[3].str().size() > 12) return std::nullopt;
  ns += std::stoll(m[3].str()) * engine::kNanosPerSecond;
  if (m[4].matched) ns += std::stoll((m[4].str() + "000000000").substr(0, 9));
  return ns;
}

int command_trace(const std::vector<std::string>& args) {
  po::options_description desc("aethersim trace FILE [options]");
  desc.add_options()("node", po::value<std::string>(), "N: only events naming node N (node, from, to, peer)")(
      "kinds", po::value<std::string>(),
      "K,...: only these event kinds; a prefix such as kv takes kv.*; naming kv.apply or "
      "engine.count shows them")("from", po::value<std::string>(), "T: only events at or after T (e.g. 20s)")(
      "to", po::value<std::string>(), "T: only events at or before T")(
      "summary", "leader tenures, node up/down intervals, final store, contested client writes")("help,h",
                                                                                                 "this text");
  po::variables_map vm;
  const auto inputs = parse_command_line(desc, args, vm);
  if (vm.count("help")) {
    std::cout << desc
              << "\nReads a trace saved by `aethersim run FILE --trace OUT` and prints one line per\n"
                 "event with its simulated time. Each kv.decide line shows the batch's writer,\n"
                 "submit time, commands and how many nodes it woke (the others apply it\n"
                 "silently); the per-node kv.apply and engine.count events are left out\n"
                 "unless --kinds names them.\n"
                 "Exit 0, or 2 for a file that is not a trace.\n";
    return 0;
  }
  if (inputs.size() != 1) {
    std::cerr << "aethersim trace: give one trace file (aethersim trace --help)\n";
    return kUsageError;
  }
  tools::TraceCommandOptions options;
  options.file = inputs[0];
  if (vm.count("node")) options.node = vm["node"].as<std::string>();
  if (vm.count("kinds")) {
    std::stringstream list(vm["kinds"].as<std::string>());
    for (std::string kind; std::getline(list, kind, ',');) {
      if (!kind.empty()) options.kinds.push_back(kind);
    }
  }
  for (const char* bound : {"from", "to"}) {
    if (!vm.count(bound)) continue;
    std::string why;
    const auto text = vm[bound].as<std::string>();
    auto t = engine::parse_duration(text, &why);
    if (!t) t = parse_human_time(text);
    if (!t) {
      std::cerr << fmt::format("aethersim trace: --{} {}: {}\n", bound, text, why);
      return kUsageError;
    }
    (std::string(bound) == "from" ? options.from : options.to) = *t;
  }
  if (options.from && options.to && *options.from > *options.to) {
    std::cerr << "aethersim trace: --from is after --to\n";
    return kUsageError;
  }
  options.summary = vm.count("summary") > 0;
  return tools::trace_command(options, std::cout, std::cerr);
}

int command_report(const std::string& program, const std::vector<std::string>& args) {
  po::options_description desc("aethersim report TRACE --out DIR [options]");
  desc.add_options()("out", po::value<std::string>(),
                     "DIR: where report.json, report.html and summary.md go")(
      "scenario", po::value<std::string>(),
      "FILE: the run's scenario file (its path and description go into the report and the replay command)")(
      "help,h", "this text");
  po::variables_map vm;
  const auto inputs = parse_command_line(desc, args, vm);
  if (vm.count("help")) {
    std::cout
        << desc
        << "\nRebuilds the report of a run from the trace it saved (`aethersim run FILE --trace OUT`),\n"
           "without running anything (docs/reports.md). Exit 0, or 2 for a missing, truncated or\n"
           "non-trace file or an --out folder that cannot be written (nothing is written then).\n";
    return 0;
  }
  if (inputs.size() != 1 || !vm.count("out")) {
    std::cerr << "aethersim report: give one trace file and --out DIR (aethersim report --help)\n";
    return kUsageError;
  }
  tools::ReportCommandOptions options;
  options.program = program;
  options.trace = inputs[0];
  options.out = vm["out"].as<std::string>();
  if (vm.count("scenario")) options.scenario = vm["scenario"].as<std::string>();
  return tools::report_command(options, std::cout, std::cerr);
}

int command_compare(const std::vector<std::string>& args) {
  po::options_description desc("aethersim compare --a A.json --b B.json FILE|DIR... [options]");
  desc.add_options()("a", po::value<std::string>(), "A.json: the first configuration overlay")(
      "b", po::value<std::string>(), "B.json: the second configuration overlay")(
      "seeds", po::value<std::string>(),
      "A..B: run every file once per seed from A to B (default: its seed)")(
      "out", po::value<std::string>(), "DIR: also write compare.html (SVG box plots) and compare.txt")(
      "help,h", "this text");
  po::variables_map vm;
  const auto inputs = parse_command_line(desc, args, vm);
  if (vm.count("help")) {
    std::cout
        << desc
        << "\nAn overlay is {\"name\": ..., \"description\": ..., \"config\": {engine keys}}; its config\n"
           "keys replace the scenario's (docs/reports.md, \"Comparing configurations\"). Exit 0, or 2\n"
           "for an invalid overlay or input.\n";
    return 0;
  }
  if (!vm.count("a") || !vm.count("b")) {
    std::cerr << "aethersim compare: give --a and --b (aethersim compare --help)\n";
    return kUsageError;
  }
  tools::CompareCommandOptions options;
  options.a = vm["a"].as<std::string>();
  options.b = vm["b"].as<std::string>();
  options.inputs = inputs;
  if (vm.count("out")) options.out = vm["out"].as<std::string>();
  if (vm.count("seeds")) {
    std::string error;
    options.seeds = tools::parse_seed_range(vm["seeds"].as<std::string>(), &error);
    if (!options.seeds) {
      std::cerr << "aethersim compare: --seeds: " << error << "\n";
      return kUsageError;
    }
  }
  return tools::compare_command(options, std::cout, std::cerr);
}

int command_list(const std::vector<std::string>& args) {
  po::options_description desc("aethersim list invariants|steps|config|mutations|profiles|probes");
  desc.add_options()("help,h", "this text");
  po::variables_map vm;
  const auto what = parse_command_line(desc, args, vm);
  if (vm.count("help")) {
    std::cout << desc
              << "\n  invariants  the always-on invariant ids, one line of explanation each\n"
                 "  steps       the scenario step kinds, their syntax and meaning\n"
                 "  config      the engine configuration keys, their defaults and meaning\n"
                 "  mutations   the engine's named bug variants (config key `mutations`)\n"
                 "  profiles    the generator profiles of `aethersim fuzz`\n"
                 "  probes      the situations a fuzz campaign counts (never-hit ones are flagged)\n";
    return 0;
  }
  if (what.size() != 1) {
    std::cerr << "aethersim list: name one of invariants, steps, config, mutations, profiles, probes\n";
    return kUsageError;
  }
  if (what[0] == "invariants") {
    for (const auto& doc : properties::invariant_docs()) {
      std::cout << fmt::format("{:<24} {}\n", doc.id, doc.explanation);
    }
    return 0;
  }
  if (what[0] == "steps") {
    for (const auto& doc : scenarios::step_kind_docs()) {
      std::cout << fmt::format("{:<16} {}\n{:<16} {}\n", doc.kind, doc.syntax, "", doc.description);
    }
    return 0;
  }
  if (what[0] == "config") {
    for (const auto& doc : engine::engine_config_keys()) {
      std::cout << fmt::format("{:<30} {:<14} {}\n", doc.key, doc.default_value, doc.description);
    }
    // The scenario's world keys (simulation.md §2, §3a), after the engine's.
    for (const auto& doc : scenarios::cluster_key_docs()) {
      std::cout << fmt::format("{:<30} {:<14} {}\n", doc.key, doc.default_value, doc.description);
    }
    return 0;
  }
  if (what[0] == "mutations") {
    for (const auto& doc : engine::mutation_points()) {
      std::cout << fmt::format("{:<36} {}\n", doc.name, doc.description);
    }
    return 0;
  }
  if (what[0] == "profiles") {
    for (const auto& p : properties::gen::profiles())
      std::cout << fmt::format("{:<14} {}\n", p.name, p.summary);
    return 0;
  }
  if (what[0] == "probes") {
    for (const auto& p : properties::probe_docs())
      std::cout << fmt::format("{:<38} {}\n", p.name, p.description);
    return 0;
  }
  std::cerr << fmt::format(
      "aethersim list: unknown list \"{}\" (invariants, steps, config, mutations, profiles, probes)\n",
      what[0]);
  return kUsageError;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string program = argc > 0 ? argv[0] : "aethersim";
  std::vector<std::string> args(argv + (argc > 0 ? 1 : 0), argv + argc);
  try {
    if (args.empty()) {
      std::cerr << kOverview;
      return kUsageError;
    }
    const std::string command = args.front();
    const std::vector<std::string> rest(args.begin() + 1, args.end());
    if (command == "--version") {
      std::cout << tools::version_string() << "\n";
      return 0;
    }
    if (command == "--help" || command == "-h" || command == "help") {
      std::cout << kOverview;
      return 0;
    }
    if (command == "run") return command_run(program, rest);
    if (command == "validate") return command_validate(rest);
    if (command == "list") return command_list(rest);
    if (command == "trace") return command_trace(rest);
    if (command == "report") return command_report(program, rest);
    if (command == "compare") return command_compare(rest);
    if (command == "fuzz") return tools::cli_fuzz(program, rest);
    if (command == "shrink") return tools::cli_shrink(program, rest);
    if (command == "merge") return tools::cli_merge(rest);
    if (command == "mutants") return tools::cli_mutants(program, rest);
    std::cerr << fmt::format(
        "aethersim: unknown command \"{}\" (run, validate, list, trace, report, compare, fuzz, shrink, "
        "merge, mutants; "
        "aethersim --help)\n",
        command);
    return kUsageError;
  } catch (const po::error& e) {
    std::cerr << "aethersim: " << e.what() << "\n";
    return kUsageError;
  } catch (const std::exception& e) {
    std::cerr << "aethersim: internal error: " << e.what() << "\n";
    return 3;
  }
}
