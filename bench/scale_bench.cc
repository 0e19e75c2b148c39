// Scale: a cluster of N nodes (10 instances per node: max(20, N/10)
// artifacts, 100 of them at 1,000 nodes) converges, then loses 5% of its
// nodes (crashed, highest names first) and recovers: every instance ACTIVE on
// an up node again. Per size it prints wall time, simulated seconds per wall
// second, events per wall second, peak RSS and the growth ratio to the
// previous size. Each size runs in its own process (peak RSS is per process).
// A plain main, not Google Benchmark: one run per size is the measurement.
//
//   build/bench/scale_bench [--limit SECONDS] [SIZE ...]   (default 10 100 300 1000 2000)
//   build/bench/scale_bench --one N --limit SECONDS        (one size, one line)
//
// A size that exceeds --limit wall seconds (default 300) stops there and says
// so (the simulated instant reached is printed). No test asserts these timings.
#include <sys/resource.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/deployment_runtime.h"
#include "engine/kv_schema.h"
#include "sim/cluster.h"

namespace {

using aether::engine::KvCommand;
using aether::engine::Nanos;
using aether::engine::NodeId;
using aether::engine::seconds;

struct Shape {
  int artifacts = 0;
  int per_artifact = 0;
};

Shape shape_of(int nodes) {
  Shape s;
  s.artifacts = std::max(20, nodes / 10);
  s.per_artifact = 10 * nodes / s.artifacts;
  return s;
}

std::string blueprint(const Shape& s) {
  nlohmann::json slices = nlohmann::json::array();
  for (int i = 0; i < s.artifacts; ++i)
    slices.push_back(
        {{"artifact", "org.scale:svc-" + std::to_string(i) + ":1.0.0"}, {"instances", s.per_artifact}});
  return nlohmann::json{{"id", "scale"}, {"slices", slices}}.dump();
}

// ACTIVE instances on up nodes, in the committed store. The probe is not
// part of the simulated run, only its measurement (issue 14, eighth pass: it
// was ~7% of the 1,000-node run): it walks the `slices/` range only, asks
// whether a node is up once per run of its keys (keys sort by node), and
// parses a key last, for the entries that would count.
long active_on_up_nodes(const aether::sim::SimCluster& cluster) {
  constexpr std::string_view kPrefix = "slices/";
  const auto& store = cluster.canonical_store();
  long active = 0;
  std::string node;  // the node of the current run of keys
  bool node_up = false;
  for (auto it = store.lower_bound(std::string(kPrefix)); it != store.end(); ++it) {
    const std::string& key = it->first;
    if (!key.starts_with(kPrefix)) break;
    const std::string_view rest = std::string_view(key).substr(kPrefix.size());
    const std::string_view key_node = rest.substr(0, rest.find('/'));
    if (key_node != node) {
      node.assign(key_node);
      node_up = cluster.is_up(node);
    }
    if (!node_up) continue;
    auto parsed = aether::engine::parse_slice_value(it->second);
    if (!parsed || parsed->state != aether::engine::SliceState::Active) continue;
    auto parsed_key = aether::engine::parse_slice_key(key);
    if (parsed_key && parsed_key->node == node) ++active;
  }
  return active;
}

double peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // KiB on Linux
}

int run_one(int nodes, double limit_s) {
  const auto start = std::chrono::steady_clock::now();
  auto wall = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  const Shape shape = shape_of(nodes);
  const long target = static_cast<long>(shape.artifacts) * shape.per_artifact;

  aether::sim::SimConfig config;
  for (int i = 1; i <= nodes; ++i) config.nodes.push_back("node-" + std::to_string(i));
  config.seed = 42;
  aether::engine::EngineConfig engine_config;
  engine_config.leader_timeout_ns = config.failure_detection_ns;
  aether::sim::Trace trace;
  aether::sim::SimCluster cluster(config, trace,
                                  aether::engine::make_deployment_runtime_factory(engine_config));
  cluster.client_write("default", {KvCommand::put(aether::engine::blueprint_key("scale"), blueprint(shape))});

  const Nanos step = seconds(1);
  const Nanos sim_limit = seconds(3600);
  bool timed_out = false;
  auto run_until_active = [&]() -> bool {
    while (cluster.now() < sim_limit) {
      cluster.loop().run_until(cluster.now() + step);
      if (active_on_up_nodes(cluster) == target) return true;
      if (wall() > limit_s) {
        timed_out = true;
        return false;
      }
    }
    return false;
  };
  const bool converged = run_until_active();
  const Nanos converged_at = cluster.now();
  bool recovered = false;
  Nanos lost_at = 0;
  if (converged) {
    const int lose = std::max(1, nodes / 20);
    for (int i = 0; i < lose; ++i) cluster.crash("node-" + std::to_string(nodes - i));
    lost_at = cluster.now();
    recovered = run_until_active();
  }
  const double wall_s = wall();
  const double sim_s = static_cast<double>(cluster.now()) / 1e9;
  std::printf(
      "nodes=%d instances=%ld artifacts=%d converged=%s@%.0fs recovered=%s@+%.0fs sim=%.0fs wall=%.3fs "
      "sim_s_per_wall_s=%.1f events=%llu events_per_s=%.0f peak_rss_mib=%.1f trace=%s%s\n",
      nodes, target, shape.artifacts, converged ? "yes" : "no", static_cast<double>(converged_at) / 1e9,
      recovered ? "yes" : "no", static_cast<double>(cluster.now() - lost_at) / 1e9, sim_s, wall_s,
      sim_s / wall_s, static_cast<unsigned long long>(cluster.loop().events_processed()),
      static_cast<double>(cluster.loop().events_processed()) / wall_s, peak_rss_mib(),
      aether::sim::hash_hex(trace.hash()).c_str(), timed_out ? " TIME-LIMIT" : "");
  std::fflush(stdout);
  return recovered ? 0 : 1;
}

double field(const std::string& line, const std::string& name) {
  const auto at = line.find(" " + name + "=");
  if (at == std::string::npos) return 0;
  return std::atof(line.c_str() + at + name.size() + 2);
}

}  // namespace

int main(int argc, char** argv) {
  double limit_s = 300;
  int one = 0;
  std::vector<int> sizes;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--limit") == 0 && i + 1 < argc) {
      limit_s = std::atof(argv[++i]);
    } else if (std::strcmp(argv[i], "--one") == 0 && i + 1 < argc) {
      one = std::atoi(argv[++i]);
    } else if (std::atoi(argv[i]) > 0) {
      sizes.push_back(std::atoi(argv[i]));
    } else {
      std::fprintf(stderr, "usage: %s [--limit SECONDS] [SIZE ...]\n", argv[0]);
      return 2;
    }
  }
  if (one > 0) return run_one(one, limit_s);
  if (sizes.empty()) sizes = {10, 100, 300, 1000, 2000};
  double prev_wall = 0, prev_rss = 0;
  int prev_size = 0, status = 0;
  for (int size : sizes) {
    const std::string cmd =
        std::string(argv[0]) + " --one " + std::to_string(size) + " --limit " + std::to_string(limit_s);
    FILE* pipe = popen(cmd.c_str(), "r");
    if (pipe == nullptr) return 3;
    std::string line;
    char buffer[1024];
    while (std::fgets(buffer, sizeof buffer, pipe) != nullptr) line += buffer;
    if (pclose(pipe) != 0) status = 1;
    if (!line.empty() && line.back() == '\n') line.pop_back();
    const double wall_s = field(line, "wall"), rss = field(line, "peak_rss_mib");
    std::printf("%s", line.c_str());
    if (prev_size > 0 && prev_wall > 0)
      std::printf(" growth_from_%d: time=%.1fx memory=%.1fx", prev_size, wall_s / prev_wall, rss / prev_rss);
    std::printf("\n");
    std::fflush(stdout);
    prev_size = size;
    prev_wall = wall_s;
    prev_rss = rss;
  }
  return status;
}
