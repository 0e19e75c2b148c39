// A tiny engine runtime for sim tests: it registers KV and topology listeners
// on its node, records what it hears as text lines in one shared journal, and
// runs optional hooks so that a test can make it submit, throw or nest writes.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/node_runtime.h"
#include "sim/cluster.h"

namespace aether::sim::testing {

struct Journal {
  std::vector<std::string> lines;
  void add(std::string line) { lines.push_back(std::move(line)); }
  bool contains(const std::string& line) const {
    for (const auto& l : lines)
      if (l == line) return true;
    return false;
  }
};

// A listener with a name, so that registration order shows in the journal.
class NamedKvListener : public engine::KvListener {
 public:
  NamedKvListener(std::string name, engine::NodeId node, Journal& journal)
      : name_(std::move(name)), node_(std::move(node)), journal_(journal) {}
  void on_kv(const engine::KvNotification& n) override {
    const char* origin = n.origin == engine::KvOrigin::Apply     ? "apply"
                         : n.origin == engine::KvOrigin::Restore ? "restore"
                                                                 : "reset";
    journal_.add(node_ + " " + name_ + " " + origin + " " + (n.op == engine::KvOp::Put ? "put " : "remove ") +
                 n.key + (n.op == engine::KvOp::Put ? "=" + n.value : ""));
    if (on_kv_hook) on_kv_hook(n);
  }
  void on_restored(std::uint64_t position) override {
    journal_.add(node_ + " " + name_ + " restored " + std::to_string(position));
    if (on_restored_hook) on_restored_hook(position);
  }
  std::function<void(const engine::KvNotification&)> on_kv_hook;
  std::function<void(std::uint64_t)> on_restored_hook;

 private:
  std::string name_;
  engine::NodeId node_;
  Journal& journal_;
};

class TestRuntime : public engine::NodeRuntime, public engine::TopologyListener {
 public:
  TestRuntime(const engine::NodeServices& services, Journal& journal)
      : services_(services), journal_(journal) {
    for (const char* name : {"ndm", "cdm", "leader-manager"}) {
      listeners_.push_back(std::make_unique<NamedKvListener>(name, services.self, journal));
      services.kv.add_listener(listeners_.back().get());
    }
    services.topology.add_listener(this);
  }
  std::optional<engine::NodeId> known_leader() const override { return leader_; }
  bool cdm_active() const override { return false; }
  std::optional<std::uint64_t> cdm_activation_tag() const override { return std::nullopt; }

  void on_topology(const engine::TopologyEvent& event) override {
    const char* change = event.change == engine::TopologyChange::NodeAdded  ? "added"
                         : event.change == engine::TopologyChange::NodeDown ? "down"
                                                                            : "removed";
    journal_.add(services_.self + " topology " + change + " " + event.node);
  }
  void on_quorum(const engine::QuorumEvent& event) override {
    journal_.add(services_.self + " quorum " +
                 (event.change == engine::QuorumChange::Established ? "established " : "lost ") +
                 std::to_string(event.sequence));
    if (event.change == engine::QuorumChange::Lost) {
      leader_.reset();
      services_.events.leader_changed(std::nullopt, false);
    }
    if (on_quorum_hook) on_quorum_hook(event);
  }
  std::function<void(const engine::QuorumEvent&)> on_quorum_hook;

  NamedKvListener& listener(std::size_t i) { return *listeners_.at(i); }
  const engine::NodeServices& services() const { return services_; }
  std::optional<engine::NodeId> leader_;

 private:
  engine::NodeServices services_;
  Journal& journal_;
  std::vector<std::unique_ptr<NamedKvListener>> listeners_;
};

// A factory whose runtimes write to `journal`; `created` collects them (the
// pointers die with their node: tests use them only while the node lives).
inline engine::NodeRuntimeFactory journal_factory(Journal& journal,
                                                  std::vector<TestRuntime*>* created = nullptr) {
  return [&journal, created](const engine::NodeServices& services) {
    auto runtime = std::make_unique<TestRuntime>(services, journal);
    if (created) created->push_back(runtime.get());
    return runtime;
  };
}

inline SimConfig config_of(int nodes, std::uint64_t seed = 1) {
  SimConfig config;
  for (int i = 1; i <= nodes; ++i) config.nodes.push_back("node-" + std::to_string(i));
  config.seed = seed;
  return config;
}

inline engine::KvBatch put(const std::string& key, const std::string& value) {
  return {engine::KvCommand::put(key, value)};
}

// Lines of the journal that start with `prefix`.
inline std::vector<std::string> lines_of(const Journal& journal, const std::string& prefix) {
  std::vector<std::string> out;
  for (const auto& line : journal.lines)
    if (line.rfind(prefix, 0) == 0) out.push_back(line);
  return out;
}

}  // namespace aether::sim::testing

namespace aether::sim::testing {
inline TestRuntime* runtime_of(SimCluster& cluster, const engine::NodeId& node) {
  return dynamic_cast<TestRuntime*>(cluster.runtime(node));
}
}  // namespace aether::sim::testing
