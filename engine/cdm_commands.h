// The CDM's output (engine-semantics.md §4 "Commands", "Re-send"): slice
// commands recorded in the slice table as the CDM's intent at once and written
// through the serialized CdmWriter; slice-target and version-routing writes;
// the per-entry timers that go with them (a command's re-send once it went
// out, an observed state's stuck check); logging and counters. The decisions
// these timers take are entry_timers.h's; what to write is decided by the
// CDM and the concept files.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "engine/cdm_facts.h"
#include "engine/cdm_writer.h"
#include "engine/node_runtime.h"
#include "engine/timers.h"

namespace aether::engine {

class CdmCommands {
 public:
  CdmCommands(const NodeServices& services, const EngineConfig& config, TimerSet& timers, SliceTable& table,
              const CdmFacts& facts, CdmWriter& writer, std::function<void(Nanos)> schedule_reconcile);

  // Slice commands (the entry's intent is recorded at once).
  void load(const std::string& artifact, const NodeId& node);
  void unload(const std::string& artifact, const NodeId& node, UnloadWhy why = UnloadWhy::Other);
  void activate(const std::string& artifact, const NodeId& node);
  void remove_slice(const std::string& artifact, const NodeId& node);
  void remove(const std::string& key);
  // UNLOAD the live entries of `base` except those of `keep_artifact` (a
  // version change; without one, a removal); either is re-checked at submit
  // as a removal (UnloadWhy::Removal).
  void unload_live(const std::string& base, const std::optional<std::string>& keep_artifact);
  // Commands that will not be written (dropped at submit, or their batch
  // failed): the intent is forgotten (an entry with nothing observed goes).
  void revert(const std::vector<SliceCommand>& commands);

  // Slice-targets, and version-routing/{base} (§8.4): written with a Put that
  // changes the version of a rolling slice; healed by sync_routing.
  void put_target(const std::string& base, const SliceTarget& target);
  void remove_target(const std::string& base);
  void sync_routing(const std::string& base);

  // Any other write (rollback records, DECOMMISSIONED), and the batch.
  void add(CdmCommand command) { writer_.add(std::move(command)); }
  void flush(std::function<void(bool)> after = nullptr) { writer_.flush(std::move(after)); }
  void schedule_reconcile(Nanos delay_ns) { schedule_reconcile_(delay_ns); }

  // Per-entry timers: a command's re-send after command_timeout unless
  // answered; a reconcile when an observed state passes its stuck bound; a
  // previous leader's unanswered command states taken over as own intents
  // (whether it took any over).
  void arm_resend(const std::string& artifact, const NodeId& node, SliceState command);
  void arm_stuck_check(const std::string& artifact, const NodeId& node);
  // The same for `entry`, table.entries[artifact][node] (no lookup again).
  void arm_stuck_check(const std::string& artifact, const NodeId& node, const SliceEntry& entry);
  bool inherit();

  const EngineConfig& config() const { return config_; }
  const KvClient& kv() const { return services_.kv; }
  Nanos now() const { return timers_.now(); }
  void log(LogLevel level, std::string message);
  void count(const char* counter, std::int64_t delta = 1) { services_.events.count(counter, delta); }

 private:
  const NodeServices& services_;
  const EngineConfig& config_;
  TimerSet& timers_;
  SliceTable& table_;
  const CdmFacts& facts_;
  CdmWriter& writer_;
  std::function<void(Nanos)> schedule_reconcile_;
  // version-routing/{base} for the read of sync_routing (once per desired
  // base per reconcile), built in place: no allocation once it has grown.
  std::string routing_key_;
};

}  // namespace aether::engine
