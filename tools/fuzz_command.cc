#include "tools/fuzz_command.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <ostream>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "properties/probes.h"
#include "properties/scenario_gen.h"
#include "reports/report.h"
#include "scenarios/writer.h"
#include "tools/inputs.h"
#include "tools/isolated_run.h"
#include "tools/run_command.h"
#include "tools/shrinker.h"

namespace aether::tools {

using Clock = std::chrono::steady_clock;
using nlohmann::ordered_json;

namespace {

constexpr const char* kSummaryFormat = "aethersim-fuzz-summary/1";

volatile std::sig_atomic_t g_interrupted = 0;
extern "C" void on_interrupt(int) {
  g_interrupted = 1;
}

struct FailureRecord {
  std::uint64_t seed = 0;
  ordered_json json;  // as written in the summary
};

// What a summary adds up: everything in it is a sum or a union over seeds,
// so shards merge into the unsharded bytes.
struct Aggregate {
  std::uint64_t runs = 0;
  std::uint64_t passed = 0;
  std::uint64_t failed = 0;
  std::uint64_t rechecked = 0;
  std::uint64_t events = 0;
  std::map<std::string, std::pair<std::int64_t, std::int64_t>> probes;  // name -> hits, seeds
  std::map<std::string, std::vector<FailureRecord>> failures;           // key -> by seed

  void add(const Aggregate& o) {
    runs += o.runs;
    passed += o.passed;
    failed += o.failed;
    rechecked += o.rechecked;
    events += o.events;
    for (const auto& [name, hs] : o.probes) {
      probes[name].first += hs.first;
      probes[name].second += hs.second;
    }
    for (const auto& [key, list] : o.failures) {
      auto& into = failures[key];
      into.insert(into.end(), list.begin(), list.end());
      std::sort(into.begin(), into.end(),
                [](const FailureRecord& a, const FailureRecord& b) { return a.seed < b.seed; });
    }
  }
};

struct Meta {
  std::string version;
  std::string profile;
  std::uint64_t start_seed = 0;
  std::uint64_t seeds = 0;  // the range [start_seed, start_seed + seeds) that was run
  std::optional<std::pair<std::uint64_t, std::uint64_t>> shard;
  std::uint32_t recheck_ppm = 0;
  bool interrupted = false;
};

ordered_json build_summary(const Meta& m, const Aggregate& a) {
  ordered_json j;
  j["format"] = kSummaryFormat;
  j["version"] = m.version;
  j["profile"] = m.profile;
  j["start_seed"] = m.start_seed;
  j["seeds"] = m.seeds;
  if (m.shard) j["shard"] = fmt::format("{}/{}", m.shard->first, m.shard->second);
  j["recheck_ppm"] = m.recheck_ppm;
  if (m.interrupted) j["interrupted"] = true;
  j["runs"] = a.runs;
  j["passed"] = a.passed;
  j["failed"] = a.failed;
  j["rechecked"] = a.rechecked;
  j["events"] = a.events;
  ordered_json failures = ordered_json::array();
  for (const auto& [key, list] : a.failures) {
    ordered_json group;
    group["key"] = key;
    group["count"] = list.size();
    ordered_json seeds = ordered_json::array();
    for (const auto& f : list) seeds.push_back(f.json);
    group["seeds"] = seeds;
    failures.push_back(group);
  }
  j["failures"] = failures;
  ordered_json probes = ordered_json::array();
  ordered_json never = ordered_json::array();
  for (const auto& doc : properties::probe_docs()) {
    const auto it = a.probes.find(doc.name);
    const auto hs = it == a.probes.end() ? std::pair<std::int64_t, std::int64_t>{0, 0} : it->second;
    probes.push_back({{"name", doc.name}, {"hits", hs.first}, {"seeds", hs.second}});
    if (hs.first == 0) never.push_back(doc.name);
  }
  j["probes"] = probes;
  j["never_hit"] = never;
  return j;
}

std::optional<std::pair<Meta, Aggregate>> parse_summary(const ordered_json& j, std::string* error) {
  try {
    if (j.at("format").get<std::string>() != kSummaryFormat) {
      *error = "format: not an " + std::string(kSummaryFormat) + " file";
      return std::nullopt;
    }
    Meta m;
    m.version = j.at("version").get<std::string>();
    m.profile = j.at("profile").get<std::string>();
    m.start_seed = j.at("start_seed").get<std::uint64_t>();
    m.seeds = j.at("seeds").get<std::uint64_t>();
    m.recheck_ppm = j.at("recheck_ppm").get<std::uint32_t>();
    m.interrupted = j.value("interrupted", false);
    if (j.contains("shard")) {
      std::string e;
      const auto text = j.at("shard").get<std::string>();
      const auto slash = text.find('/');
      if (slash == std::string::npos) throw std::runtime_error("shard: expected I/N");
      m.shard = {std::stoull(text.substr(0, slash)), std::stoull(text.substr(slash + 1))};
    }
    Aggregate a;
    a.runs = j.at("runs").get<std::uint64_t>();
    a.passed = j.at("passed").get<std::uint64_t>();
    a.failed = j.at("failed").get<std::uint64_t>();
    a.rechecked = j.at("rechecked").get<std::uint64_t>();
    a.events = j.at("events").get<std::uint64_t>();
    for (const auto& g : j.at("failures")) {
      auto& list = a.failures[g.at("key").get<std::string>()];
      for (const auto& s : g.at("seeds")) {
        FailureRecord f;
        f.seed = s.at("seed").get<std::uint64_t>();
        f.json = s;
        list.push_back(f);
      }
    }
    for (const auto& p : j.at("probes")) {
      a.probes[p.at("name").get<std::string>()] = {p.at("hits").get<std::int64_t>(),
                                                   p.at("seeds").get<std::int64_t>()};
    }
    return std::make_pair(m, a);
  } catch (const std::exception& e) {
    *error = std::string("not a fuzz summary: ") + e.what();
    return std::nullopt;
  }
}

std::string human_duration(std::chrono::milliseconds ms) {
  return fmt::format("{:.1f}s", static_cast<double>(ms.count()) / 1000.0);
}

class Campaign {
 public:
  Campaign(const FuzzOptions& options, std::ostream& out, std::ostream& err)
      : o_(options), out_(out), err_(err), tty_(isatty(STDERR_FILENO) == 1) {}

  int run() {
    g_interrupted = 0;
    // Ctrl-C stops the campaign (and any shrink) and still writes the summary.
    struct Restore {
      void (*previous)(int);
      ~Restore() { std::signal(SIGINT, previous); }
    } restore{std::signal(SIGINT, on_interrupt)};
    seeds_ = SeedList(o_);
    start_ = Clock::now();
    last_progress_ = start_;
    run_pool();
    const auto wall = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start_);
    if (tty_ && !o_.quiet) err_ << "\r\033[K";

    // The seeds that count: the prefix of the shard's seeds that finished.
    std::size_t done = 0;
    while (done < seeds_.size() && results_.count(seeds_[done])) ++done;
    Meta meta;
    meta.version = version_string();
    meta.profile = o_.profile;
    meta.start_seed = o_.start_seed;
    meta.seeds = done == seeds_.size() ? o_.seeds : (done == 0 ? 0 : seeds_[done - 1] + 1 - o_.start_seed);
    if (o_.sharded) meta.shard = {o_.shard_index, o_.shard_count};
    meta.recheck_ppm = o_.recheck_ppm;
    meta.interrupted = interrupted_;

    Aggregate agg;
    int exit_code = 0;
    for (std::size_t i = 0; i < done; ++i) {
      const auto seed = seeds_[i];
      const auto& r = results_.at(seed);
      ++agg.runs;
      agg.events += r.events;
      if (r.rechecked) ++agg.rechecked;
      for (const auto& [name, hits] : r.probes) {
        agg.probes[name].first += hits;
        if (hits > 0) ++agg.probes[name].second;
      }
      if (!r.failed()) {
        ++agg.passed;
        continue;
      }
      ++agg.failed;
      exit_code = std::max(exit_code, r.outcome == "framework-error" ? 3 : 1);
      agg.failures[r.key].push_back(record_failure(seed, r));
    }
    for (const auto& doc : properties::probe_docs()) agg.probes[doc.name];  // every probe listed

    const auto summary = build_summary(meta, agg);
    std::string summary_path;
    if (o_.summary_file || o_.out_dir) {
      summary_path =
          o_.summary_file ? *o_.summary_file : (std::filesystem::path(*o_.out_dir) / "summary.json").string();
      std::string error;
      if (!write_atomically(summary_path, summary_text(summary), &error)) {
        err_ << "aethersim fuzz: --out: " << error << "\n";
        return 2;
      }
    }
    if (o_.junit) write_junit(agg, wall);
    if (o_.report_dir) write_report_index();
    const double seconds = std::max(1e-9, static_cast<double>(wall.count()) / 1000.0);
    out_ << fmt::format(
        "{} fuzz {}: {} seed{} run{}, {} passed, {} failed, {} rechecked, {} probe{} never hit in {} wall "
        "({:.1f} seeds/s){}{}; exit {}\n",
        version_string(), o_.profile, agg.runs, agg.runs == 1 ? "" : "s",
        agg.runs == 0 ? "" : fmt::format(" ({}..{})", seeds_.front(), seeds_[done == 0 ? 0 : done - 1]),
        agg.passed, agg.failed, agg.rechecked, summary["never_hit"].size(),
        summary["never_hit"].size() == 1 ? "" : "s", human_duration(wall),
        static_cast<double>(agg.runs) / seconds,
        interrupted_ ? " (interrupted)" : (budget_hit_ ? " (time budget spent)" : ""),
        summary_path.empty() ? "" : "; summary " + summary_path, exit_code);
    if (o_.stats && agg.runs > 0) {
      rusage children{};
      getrusage(RUSAGE_CHILDREN, &children);
      const double cpu = static_cast<double>(children.ru_utime.tv_sec + children.ru_stime.tv_sec) +
                         static_cast<double>(children.ru_utime.tv_usec + children.ru_stime.tv_usec) / 1e6;
      out_ << fmt::format(
          "  stats: {:.2f} ms of worker CPU per seed ({:.0f} seeds per CPU-second), {} events/seed\n",
          1000.0 * cpu / static_cast<double>(agg.runs), static_cast<double>(agg.runs) / std::max(cpu, 1e-9),
          agg.events / agg.runs);
    }
    for (const auto& name : summary["never_hit"])
      out_ << "  probe never hit: " << name.get<std::string>() << "\n";
    return exit_code;
  }

 private:
  void run_pool() {
    std::size_t next = 0;
    PoolHooks hooks;
    hooks.next = [&]() -> std::optional<PoolTask> {
      if (o_.time_budget && !budget_hit_ && Clock::now() - start_ >= *o_.time_budget) budget_hit_ = true;
      if (budget_hit_ || next >= seeds_.size()) return std::nullopt;
      const auto seed = seeds_[next++];
      return PoolTask{seed, work(seed)};
    };
    hooks.done = [&](std::uint64_t seed, SeedOutcome outcome) { finished(seed, std::move(outcome)); };
    hooks.abort = [&] {
      if (!g_interrupted || interrupted_) return false;
      interrupted_ = true;
      return true;
    };
    hooks.after_round = [&] { progress(false); };
    tools::run_pool(o_.jobs, o_.seed_timeout, hooks);
  }

  std::function<SeedOutcome()> work(std::uint64_t seed) const {
    const auto profile = o_.profile;
    InProcessOptions options;
    options.probes = true;
    options.recheck = rechecked_seed(seed, o_.recheck_ppm);
    if (o_.report_dir) {
      options.report_folder = (std::filesystem::path(*o_.report_dir) / report_folder(seed)).string();
      options.replay = replay(seed);
    }
    return [profile, seed, options] {
      const auto c = properties::gen::generate_case(profile, seed);
      return run_in_process(c.scenario, seed, options);
    };
  }

  static std::string report_folder(std::uint64_t seed) { return fmt::format("seed-{}", seed); }
  std::string replay(std::uint64_t seed) const {
    return fmt::format("{} fuzz --profile {} --seeds 1 --start-seed {}", o_.program, o_.profile, seed);
  }

  // --report: DIR/index.html over the failing seeds' reports (each written
  // by the worker that ran the seed, from that run).
  void write_report_index() {
    std::vector<reports::IndexEntry> entries;
    for (const auto& [seed, outcome] : results_) {
      if (!outcome.failed()) continue;
      const auto file = std::filesystem::path(*o_.report_dir) / report_folder(seed) / "report.json";
      std::ifstream in(file);
      if (!in) continue;  // a crash or hang: no report (the summary has the failure)
      auto report = nlohmann::ordered_json::parse(in, nullptr, /*allow_exceptions=*/false);
      if (report.is_discarded()) continue;
      entries.push_back({report_folder(seed), std::move(report)});
    }
    try {
      const auto index = (std::filesystem::path(*o_.report_dir) / "index.html").string();
      reports::write_atomic(index, reports::render_index(entries, version_string()));
      out_ << fmt::format("report: {} ({} failing seed{} with a report)\n", index, entries.size(),
                          entries.size() == 1 ? "" : "s");
    } catch (const std::exception& e) {
      err_ << "aethersim fuzz: --report: " << e.what() << "\n";
    }
  }

  void finished(std::uint64_t seed, SeedOutcome outcome) {
    if (outcome.failed()) ++failures_;
    if (o_.print_cases || outcome.failed()) {
      if (tty_ && !o_.quiet) err_ << "\r\033[K";
      std::string draw;
      if (o_.profile == "swarm") draw = "\n  " + properties::gen::generate_case(o_.profile, seed).draw;
      out_ << fmt::format("{} seed={} hash={:016x} events={}{}{}{}\n", outcome.failed() ? "FAIL" : "PASS",
                          seed, outcome.trace_hash, outcome.events,
                          outcome.failed() ? " " + outcome.key + ": " : "",
                          outcome.failed() ? outcome.message : "", draw);
      out_.flush();
    }
    results_[seed] = std::move(outcome);
  }

  void progress(bool force) {
    if (o_.quiet) return;
    const auto now = Clock::now();
    const auto interval = tty_ ? std::chrono::milliseconds(250) : o_.progress_interval;
    if (!force && now - last_progress_ < interval) return;
    last_progress_ = now;
    const double elapsed = std::max(1e-9, std::chrono::duration<double>(now - start_).count());
    const double rate = static_cast<double>(results_.size()) / elapsed;
    const double eta = rate > 0 ? static_cast<double>(seeds_.size() - results_.size()) / rate : 0;
    const auto line = fmt::format("fuzz {}: {}/{} seeds, {:.1f} seeds/s, {} failed, ETA {:.0f}s", o_.profile,
                                  results_.size(), seeds_.size(), rate, failures_, eta);
    if (tty_) {
      err_ << "\r\033[K" << line << std::flush;
    } else {
      err_ << line << "\n" << std::flush;
    }
  }

  FailureRecord record_failure(std::uint64_t seed, const SeedOutcome& r) {
    FailureRecord f;
    f.seed = seed;
    f.json["seed"] = seed;
    f.json["outcome"] = r.outcome;
    f.json["message"] = r.message;
    f.json["replay"] = replay(seed);
    if (o_.profile == "swarm") f.json["draw"] = properties::gen::generate_case(o_.profile, seed).draw;
    if (o_.out_dir) {
      const auto c = properties::gen::generate_case(o_.profile, seed);
      const auto base = std::filesystem::path(*o_.out_dir);
      const auto case_file = (base / fmt::format("seed-{}.json", seed)).string();
      const auto min_file = (base / fmt::format("seed-{}.min.json", seed)).string();
      std::string error;
      auto scenario = c.scenario;
      if (write_atomically(case_file, scenarios::write_scenario(scenario), &error))
        f.json["case_file"] = case_file;
      if (o_.shrink && r.key != "nondeterminism" && g_interrupted == 0) {
        ShrinkOptions so;
        so.budget = o_.shrink_budget;
        so.run_timeout = o_.seed_timeout;
        so.stop = [] { return g_interrupted != 0; };  // Ctrl-C: keep what is shrunk, write the summary
        out_ << fmt::format("shrinking seed {} ({}), budget {}\n", seed, r.key,
                            human_duration(o_.shrink_budget));
        const auto shrunk = shrink_scenario(scenario, seed, r, so);
        auto minimal = shrunk.minimal;
        minimal.name = fmt::format("fuzz-{}-{}-min", o_.profile, seed);
        minimal.seed = seed;
        if (write_atomically(min_file, scenarios::write_scenario(minimal), &error)) {
          f.json["shrunk_file"] = min_file;
          f.json["replay_file"] = fmt::format("{} run {} --seed {}", o_.program, min_file, seed);
          out_ << fmt::format("  shrunk to {} steps, {} nodes ({} runs{}): {}\n  replay: {}\n",
                              minimal.steps.size(), minimal.cluster.nodes.size(), shrunk.attempts,
                              shrunk.out_of_budget ? ", budget spent" : "", min_file,
                              f.json["replay_file"].get<std::string>());
        }
      } else {
        f.json["replay_file"] = fmt::format("{} run {} --seed {}", o_.program, case_file, seed);
      }
    }
    return f;
  }

  void write_junit(const Aggregate& agg, std::chrono::milliseconds wall) {
    std::ostringstream x;
    x << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    x << fmt::format(
        "<testsuites>\n  <testsuite name=\"aethersim fuzz {}\" tests=\"{}\" failures=\"{}\" "
        "time=\"{:.3f}\">\n",
        reports::xml_escape(o_.profile), agg.failed + 1, agg.failed + (agg.failed > 0 ? 1 : 0),
        static_cast<double>(wall.count()) / 1000.0);
    for (const auto& [key, list] : agg.failures) {
      for (const auto& f : list) {
        std::string body = f.json.value("message", "") + "\nreplay: " + f.json.value("replay", "");
        if (f.json.contains("replay_file")) body += "\nreplay file: " + f.json.value("replay_file", "");
        x << fmt::format(
            "    <testcase classname=\"fuzz.{}\" name=\"seed {}\">\n      <failure "
            "message=\"{}\">{}</failure>\n"
            "    </testcase>\n",
            reports::xml_escape(o_.profile), f.seed, reports::xml_escape(key), reports::xml_escape(body));
      }
    }
    x << fmt::format("    <testcase classname=\"fuzz.{}\" name=\"campaign\">",
                     reports::xml_escape(o_.profile));
    if (agg.failed > 0) {
      x << fmt::format("\n      <failure message=\"{} of {} seeds failed\"/>\n    ", agg.failed, agg.runs);
    }
    x << "</testcase>\n  </testsuite>\n</testsuites>\n";
    std::string error;
    if (!write_atomically(*o_.junit, x.str(), &error)) err_ << "aethersim fuzz: --junit: " << error << "\n";
  }

  const FuzzOptions& o_;
  std::ostream& out_;
  std::ostream& err_;
  bool tty_;
  // The shard's seeds, s in [start, start + seeds) with s mod N == I, by index
  // (a campaign of 10^9 seeds must not hold them all).
  class SeedList {
   public:
    SeedList() = default;
    explicit SeedList(const FuzzOptions& o) {
      const std::uint64_t n = o.sharded ? o.shard_count : 1;
      const std::uint64_t i = o.sharded ? o.shard_index : 0;
      first_ = o.start_seed + (i + n - o.start_seed % n) % n;
      step_ = n;
      const std::uint64_t end = o.start_seed + o.seeds;
      size_ = first_ >= end ? 0 : (end - first_ + n - 1) / n;
    }
    std::size_t size() const { return static_cast<std::size_t>(size_); }
    std::uint64_t operator[](std::size_t k) const { return first_ + step_ * k; }
    std::uint64_t front() const { return first_; }

   private:
    std::uint64_t first_ = 0;
    std::uint64_t step_ = 1;
    std::uint64_t size_ = 0;
  };
  SeedList seeds_;
  std::map<std::uint64_t, SeedOutcome> results_;
  Clock::time_point start_;
  Clock::time_point last_progress_;
  bool interrupted_ = false;
  bool budget_hit_ = false;
  std::uint64_t failures_ = 0;
};

}  // namespace

bool rechecked_seed(std::uint64_t seed, std::uint32_t recheck_ppm) {
  std::uint64_t h = seed + 0x9E3779B97F4A7C15ULL;
  h = (h ^ (h >> 30)) * 0xBF58476D1CE4E5B9ULL;
  h = (h ^ (h >> 27)) * 0x94D049BB133111EBULL;
  h ^= h >> 31;
  return h % 1'000'000 < recheck_ppm;
}

std::string summary_text(const ordered_json& summary) {
  return summary.dump(2) + "\n";
}

bool write_atomically(const std::string& path, const std::string& text, std::string* error) {
  try {
    reports::write_atomic(path, text);  // one atomic-write mechanism for every file aethersim writes
    return true;
  } catch (const std::exception& e) {
    *error = e.what();
    return false;
  }
}

int fuzz_command(const FuzzOptions& options, std::ostream& out, std::ostream& err) {
  Campaign c(options, out, err);
  return c.run();
}

int shrink_command(const ShrinkCommandOptions& o, std::ostream& out, std::ostream& err) {
  const auto loaded = load_inputs({o.file});
  if (loaded.invalid_files != 0 || loaded.scenarios.empty()) {
    for (const auto& e : loaded.errors) err << e << "\n";
    return 2;
  }
  const auto& scenario = loaded.scenarios.front();
  const auto seed = o.seed.value_or(scenario.seed.value_or(0));
  auto out_file = o.out_file;
  if (!out_file) {
    auto p = std::filesystem::path(o.file);
    out_file = (p.parent_path() / (p.stem().string() + ".min.json")).string();
  }
  const auto timeout = std::chrono::milliseconds(60'000);
  const auto original =
      run_isolated([&scenario, seed] { return run_in_process(scenario, seed, InProcessOptions{}); }, timeout);
  if (!original.failed()) {
    err << fmt::format("aethersim shrink: {} passes with seed {}: nothing to shrink\n", o.file, seed);
    return 2;
  }
  if (original.key == "input-error") {
    err << fmt::format("aethersim shrink: {}: input error: {}\n", o.file, original.message);
    return 2;
  }
  out << fmt::format("original failure: {} seed={} {}: {}\n", o.file, seed, original.key, original.message);
  out << fmt::format("  {} steps, {} nodes; shrinking with a budget of {}\n", scenario.steps.size(),
                     scenario.cluster.nodes.size(), human_duration(o.budget));
  out.flush();
  ShrinkOptions so;
  so.budget = o.budget;
  so.run_timeout = timeout;
  so.progress = [&out](const std::string& line) { out << line << "\n" << std::flush; };
  const auto start = Clock::now();
  const auto r = shrink_scenario(scenario, seed, original, so);
  auto minimal = r.minimal;
  minimal.seed = seed;
  if (!minimal.name.empty()) minimal.name += "-min";
  const auto text = scenarios::write_scenario(minimal);
  std::string error;
  if (!write_atomically(*out_file, text, &error)) {
    err << "aethersim shrink: --out: " << error << "\n";
    return 2;
  }
  const auto wall = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  out << fmt::format("minimal: {} steps, {} nodes after {} runs in {}{}; same failure: {}: {}\n",
                     minimal.steps.size(), minimal.cluster.nodes.size(), r.attempts, human_duration(wall),
                     r.out_of_budget ? " (budget spent)" : "", r.final_outcome.key, r.final_outcome.message);
  out << text;
  out << fmt::format("written to {}; replay: {} run {} --seed {}\n", *out_file, o.program, *out_file, seed);
  return 0;
}

int merge_command(const std::vector<std::string>& inputs, const std::optional<std::string>& out_file,
                  std::ostream& out, std::ostream& err) {
  if (inputs.empty()) {
    err << "aethersim merge: no summaries given (aethersim merge --help)\n";
    return 2;
  }
  std::optional<Meta> meta;
  Aggregate total;
  std::set<std::uint64_t> indexes;
  std::uint64_t count = 0;
  for (const auto& path : inputs) {
    std::ifstream f(path);
    if (!f) {
      err << fmt::format("aethersim merge: {}: cannot read\n", path);
      return 2;
    }
    const auto j = ordered_json::parse(f, nullptr, false);
    if (j.is_discarded()) {
      err << fmt::format("aethersim merge: {}: malformed JSON\n", path);
      return 2;
    }
    std::string error;
    const auto parsed = parse_summary(j, &error);
    if (!parsed) {
      err << fmt::format("aethersim merge: {}: {}\n", path, error);
      return 2;
    }
    const auto& [m, a] = *parsed;
    if (!m.shard) {
      err << fmt::format("aethersim merge: {}: not a shard summary (no \"shard\")\n", path);
      return 2;
    }
    if (!meta) {
      meta = m;
      count = m.shard->second;
    } else {
      auto mismatch = [&](const char* field) {
        err << fmt::format("aethersim merge: {}: {} differs from {}'s\n", path, field, inputs.front());
        return 2;
      };
      if (m.version != meta->version) return mismatch("version");
      if (m.profile != meta->profile) return mismatch("profile");
      if (m.start_seed != meta->start_seed) return mismatch("start_seed");
      if (m.seeds != meta->seeds) return mismatch("seeds (the shards ran different seed ranges)");
      if (m.recheck_ppm != meta->recheck_ppm) return mismatch("recheck_ppm");
      if (m.shard->second != count) return mismatch("shard count");
      meta->interrupted = meta->interrupted || m.interrupted;
    }
    if (!indexes.insert(m.shard->first).second) {
      err << fmt::format("aethersim merge: {}: shard {}/{} given twice\n", path, m.shard->first, count);
      return 2;
    }
    total.add(a);
  }
  if (indexes.size() != count) {
    std::string missing;
    for (std::uint64_t i = 0; i < count; ++i)
      if (!indexes.count(i)) missing += (missing.empty() ? "" : ", ") + fmt::format("{}/{}", i, count);
    err << fmt::format("aethersim merge: missing shard{} {}\n", count - indexes.size() == 1 ? "" : "s",
                       missing);
    return 2;
  }
  meta->shard.reset();
  const auto text = summary_text(build_summary(*meta, total));
  if (out_file) {
    std::string error;
    if (!write_atomically(*out_file, text, &error)) {
      err << "aethersim merge: --out: " << error << "\n";
      return 2;
    }
    out << fmt::format("merged {} shards: {} runs, {} passed, {} failed; written to {}\n", count, total.runs,
                       total.passed, total.failed, *out_file);
  } else {
    out << text;
  }
  return total.failed > 0 ? 1 : 0;
}

}  // namespace aether::tools
