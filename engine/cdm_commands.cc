#include "engine/cdm_commands.h"

#include <utility>

#include "engine/assertion.h"
#include "engine/entry_timers.h"
#include "engine/lifecycle.h"
#include "engine/mutations.h"
#include "engine/rolling_update.h"

namespace aether::engine {

namespace {
constexpr const char* kComponent = "cdm";
}  // namespace

CdmCommands::CdmCommands(const NodeServices& services, const EngineConfig& config, TimerSet& timers,
                         SliceTable& table, const CdmFacts& facts, CdmWriter& writer,
                         std::function<void(Nanos)> schedule_reconcile)
    : services_(services),
      config_(config),
      timers_(timers),
      table_(table),
      facts_(facts),
      writer_(writer),
      schedule_reconcile_(std::move(schedule_reconcile)) {}

void CdmCommands::log(LogLevel level, std::string message) {
  services_.logger.log(level, kComponent, std::move(message));
}

void CdmCommands::load(const std::string& artifact, const NodeId& node) {
  SliceEntry& entry = table_.entries[artifact][node];
  const auto from = entry.effective();
  entry.intent = SliceState::Load;
  entry.since_ns = timers_.now();
  writer_.add(SliceCommand{node, artifact, SliceState::Load, from});
  count("allocations");
}

void CdmCommands::unload(const std::string& artifact, const NodeId& node, UnloadWhy why) {
  SliceEntry& entry = table_.entries[artifact][node];
  const auto from = entry.effective();
  if (from == SliceState::Unload || from == SliceState::Unloading) return;
  entry.intent = SliceState::Unload;
  // A cleanup is decided on the FAILED value observed, whatever was in flight.
  const auto decided_from = why == UnloadWhy::Cleanup ? std::optional(SliceState::Failed) : from;
  writer_.add(SliceCommand{node, artifact, SliceState::Unload, decided_from, false, why});
  count("unloads");
}

void CdmCommands::activate(const std::string& artifact, const NodeId& node) {
  SliceEntry& entry = table_.entries[artifact][node];
  const auto from = entry.effective();
  AETHER_ASSERT(services_.assertions, entry.intent != SliceState::Unload,
                "the CDM never activates a key it recorded as UNLOAD: " + slice_key(node, artifact));
  entry.intent = SliceState::Activate;
  writer_.add(SliceCommand{node, artifact, SliceState::Activate, from});
}

void CdmCommands::remove_slice(const std::string& artifact, const NodeId& node) {
  remove(slice_key(node, artifact));
}

void CdmCommands::remove(const std::string& key) {
  writer_.add(KeyRemove{key});
}

void CdmCommands::unload_live(const std::string& base, const std::optional<std::string>& keep) {
  std::vector<std::pair<std::string, NodeId>> victims;
  for (const auto& [artifact, nodes] : table_.entries) {
    if (base_of(artifact) != base || artifact == keep) continue;
    for (const auto& [node, entry] : nodes) {
      if (entry.live()) victims.emplace_back(artifact, node);
    }
  }
  // A version change is re-checked at submit like a removal: dropped if
  // that version is wanted again by then (a blueprint put back to it).
  for (const auto& [artifact, node] : victims) unload(artifact, node, UnloadWhy::Removal);
}

void CdmCommands::revert(const std::vector<SliceCommand>& commands) {
  for (const auto& command : commands) {
    auto nodes = table_.entries.find(command.artifact);
    if (nodes == table_.entries.end()) continue;
    auto it = nodes->second.find(command.node);
    if (it == nodes->second.end() || it->second.intent != command.state) continue;
    timers_.cancel(it->second.resend);
    if (!it->second.observed) {
      nodes->second.erase(it);
    } else {
      it->second.intent.reset();
      it->second.resend = 0;
    }
  }
}

void CdmCommands::put_target(const std::string& base, const SliceTarget& target) {
  const auto stored = services_.kv.get(version_routing_key(base));
  const auto applied = stored ? parse_version_routing(*stored) : std::nullopt;
  if (auto routing = rolling::routing_for_target(facts_, base, target, applied)) {
    writer_.add(RoutingPut{base, *routing});
  }
  writer_.add(TargetPut{base, target});
}

void CdmCommands::remove_target(const std::string& base) {
  writer_.add(TargetRemove{base});
}

void CdmCommands::sync_routing(const std::string& base) {
  if (writer_.routing_pending(base)) return;
  routing_key_.assign(kVersionRoutingPrefix).append(base);  // version_routing_key(base)
  const auto sync = rolling::sync_routing(facts_, base, services_.kv.get(routing_key_));
  if (sync.action == rolling::RoutingSync::Action::Remove) writer_.add(RoutingRemove{base});
  if (sync.action == rolling::RoutingSync::Action::Put) writer_.add(RoutingPut{base, sync.routing});
}

void CdmCommands::arm_resend(const std::string& artifact, const NodeId& node, SliceState command) {
  auto nodes = table_.entries.find(artifact);
  if (nodes == table_.entries.end() || !nodes->second.count(node)) return;
  SliceEntry& entry = nodes->second[node];
  timers_.cancel(entry.resend);
  entry.resend = 0;
  if (config_.mutation(mutation::kNoCommandResend)) return;
  entry.resend = timers_.after(config_.command_timeout_ns, [this, artifact, node, command] {
    auto it = table_.entries.find(artifact);
    if (it == table_.entries.end() || !it->second.count(node)) return;
    it->second[node].resend = 0;
    const auto resend = entry_timers::on_resend(facts_, artifact, node, command);
    if (resend.action == entry_timers::Resend::Action::Rearm) arm_resend(artifact, node, command);
    if (resend.action != entry_timers::Resend::Action::Send) return;
    log(LogLevel::Info,
        "re-sending " + std::string(slice_state_name(command)) + " to " + slice_key(node, artifact));
    count("resent-commands");
    writer_.add(SliceCommand{node, artifact, command, command, true, resend.why});
    flush();
  });
}

void CdmCommands::arm_stuck_check(const std::string& artifact, const NodeId& node) {
  // Stuck detection runs when the entry's bound passes (§4), not only when
  // something else reconciles (the periodic reconcile may be off or rare).
  arm_stuck_check(artifact, node, table_.entries[artifact][node]);
}

void CdmCommands::arm_stuck_check(const std::string& artifact, const NodeId& node, const SliceEntry& entry) {
  const auto due = entry_timers::stuck_due(entry, config_);
  if (!due) return;
  const Nanos since = entry.since_ns;
  const SliceState state = entry.observed->state;
  timers_.after(*due - timers_.now(), [this, artifact, node, since, state] {
    if (entry_timers::still_in(table_, artifact, node, since, state)) schedule_reconcile_(0);
  });
}

bool CdmCommands::inherit() {
  // A command state this leader did not write (a previous leader's, whose
  // chain the node may have abandoned) is taken over as its own: re-sent
  // after command_timeout unless answered (§4 Re-send).
  bool any = false;
  for (auto& [artifact, nodes] : table_.entries) {
    for (auto& [node, entry] : nodes) {
      if (entry.intent || entry.resend != 0 || !entry.observed || !is_command_state(entry.observed->state))
        continue;
      entry.intent = entry.observed->state;
      arm_resend(artifact, node, entry.observed->state);
      any = true;
    }
  }
  return any;
}

}  // namespace aether::engine
