#include "properties/invariants.h"

#include <algorithm>

#include <fmt/format.h>

#include "properties/slice_model.h"

namespace aether::properties {

std::vector<InvariantDoc> invariant_docs() {
  return {
      {invariant::kReplicaConsistency,
       "after a node reaches decided position p (apply or restore) its store equals the canonical store at "
       "p"},
      {invariant::kLifecycle,
       "every committed engine Put/Remove of a slices/* key is an edge of the lifecycle table from the state "
       "its writer had applied, by the role allowed to write it"},
      {invariant::kSingleLeaderPerTerm,
       "two CDMs on up, unpaused nodes are never Active at once unless one activation tag is strictly "
       "greater"},
      {invariant::kCommandWriter,
       "LOAD/ACTIVATE/DEACTIVATE/UNLOAD are committed only from a cdm writer whose CDM was Active at submit"},
      {invariant::kSliceStore, "a node never loads an artifact its slice store already holds"},
      {invariant::kEngineAssert, "an assertion or exception inside a simulated node"},
      {invariant::kEventBudget, "the run exceeded max_events (a likely write loop)"},
  };
}

bool is_invariant_id(const std::string& id) {
  const auto docs = invariant_docs();
  return std::any_of(docs.begin(), docs.end(), [&](const InvariantDoc& d) { return d.id == id; });
}

const CdmTracker::Activation* CdmTracker::find(const NodeId& node) const {
  auto it = active_.find(node);
  return it == active_.end() ? nullptr : &it->second;
}

namespace {

bool is_client(const sim::Submitter& s) {
  return s.writer.rfind("client:", 0) == 0;
}

bool any_client(const sim::BatchRecord& batch) {
  return std::any_of(batch.submitters.begin(), batch.submitters.end(), is_client);
}

std::string writers_of(const sim::BatchRecord& batch) {
  std::string out;
  for (const auto& s : batch.submitters) {
    if (!out.empty()) out += ", ";
    out += s.writer + "@" + s.node;
  }
  return out;
}

std::string tag_text(std::optional<std::uint64_t> tag) {
  return tag ? std::to_string(*tag) : std::string("untagged");
}

std::optional<std::string> applied_value(const sim::Submitter& s, const std::string& key) {
  auto it = s.applied.find(key);
  return it == s.applied.end() ? std::nullopt : it->second;
}

}  // namespace

InvariantSuite::InvariantSuite(ViolationRecorder& recorder, const WorldQueries& world, std::uint64_t seed)
    : recorder_(recorder), world_(world), seed_(seed) {}

void InvariantSuite::settle(Nanos now) {
  if (leaders_to_judge_.empty()) return;
  auto nodes = std::move(leaders_to_judge_);
  leaders_to_judge_.clear();
  std::set<NodeId> judged;  // each overlapping pair is reported once
  for (const auto& node : nodes) {
    judge_leaders(now, node, judged);
    judged.insert(node);
  }
}

void InvariantSuite::on_decide(Nanos now, std::uint64_t position, const sim::BatchRecord& batch) {
  // The batch judges see the canonical store as it was before the batch.
  judge_lifecycle(now, position, batch);
  judge_command_writer(now, position, batch);
  if (!canonical_.apply(position, batch.commands)) {
    recorder_.violation(
        invariant::kReplicaConsistency, now, "",
        fmt::format("decided position {} does not follow {}", position, canonical_.position()));
  }
}

void InvariantSuite::on_apply(Nanos now, const NodeId& node, std::uint64_t position, std::uint64_t digest) {
  judge_replica(now, node, position, digest, "applying");
}

void InvariantSuite::on_restore(Nanos now, const NodeId& node, std::uint64_t position, std::uint64_t digest) {
  judge_replica(now, node, position, digest, "restoring");
}

void InvariantSuite::judge_replica(Nanos now, const NodeId& node, std::uint64_t position,
                                   std::uint64_t digest, const char* how) {
  const auto expected = canonical_.digest_at(position);
  if (!expected) {
    recorder_.violation(invariant::kReplicaConsistency, now, node,
                        fmt::format("{} reached position {} by {}, which was never decided (latest {})", node,
                                    position, how, canonical_.position()));
    return;
  }
  if (*expected != digest) {
    recorder_.violation(invariant::kReplicaConsistency, now, node,
                        fmt::format("{} after {} position {}: store digest {} differs from the canonical {}",
                                    node, how, position, sim::hash_hex(digest), sim::hash_hex(*expected)));
  }
}

void InvariantSuite::judge_lifecycle(Nanos now, std::uint64_t position, const sim::BatchRecord& batch) {
  if (any_client(batch)) return;  // client writes are outside the table
  // A merged batch passes if it is legal for ANY of its writers: some one
  // submitter for whom every slices/* command of the batch is an edge. For
  // each submitter, the first command on a key is judged from what that
  // submitter had applied, later ones from the batch's own earlier commands.
  const std::size_t writers = batch.submitters.size();
  std::vector<std::map<std::string, std::optional<std::string>>> seen(writers);
  std::vector<std::string> first_illegal(writers);              // empty: every command legal so far
  std::map<std::string, std::optional<std::string>> committed;  // canonical predecessor within the batch
  std::string first_key_node;
  bool any_slice_command = false;
  int lost_updates = 0;  // commands that landed on a state their writer(s) never saw
  for (const auto& command : batch.commands) {
    const auto key = parse_slice_key(command.key);
    std::optional<std::string> next;
    if (command.op == engine::KvOp::Put) next = command.value;
    if (!key) {
      for (auto& s : seen) s[command.key] = next;
      committed[command.key] = next;
      continue;
    }
    if (!any_slice_command) first_key_node = key->node;
    any_slice_command = true;
    bool writer_saw_predecessor = false;
    if (!committed.count(command.key)) committed[command.key] = canonical_.get(command.key);
    for (std::size_t i = 0; i < writers; ++i) {
      const auto& s = batch.submitters[i];
      if (!seen[i].count(command.key)) seen[i][command.key] = applied_value(s, command.key);
      const auto& from = seen[i][command.key];
      if (same_slice_state(from, committed[command.key])) writer_saw_predecessor = true;
      std::optional<SliceWriterRole> role;
      if (s.writer == "cdm") role = SliceWriterRole::Cdm;
      if (s.writer == "ndm" && s.node == key->node) role = SliceWriterRole::Ndm;
      if (first_illegal[i].empty() && !(role && lifecycle_allows(*role, from, command))) {
        first_illegal[i] =
            fmt::format("{}@{} had applied {}: {} {} -> {}", s.writer, s.node, describe_slice_value(from),
                        command.op == engine::KvOp::Put ? "Put" : "Remove", command.key,
                        command.op == engine::KvOp::Put ? describe_slice_value(command.value) : "(removed)");
      }
      seen[i][command.key] = next;
    }
    if (!writer_saw_predecessor) ++lost_updates;
    committed[command.key] = next;
  }
  if (!any_slice_command) return;
  const bool legal_for_some_writer =
      std::any_of(first_illegal.begin(), first_illegal.end(), [](const std::string& e) { return e.empty(); });
  if (!legal_for_some_writer) {
    std::string judged;
    for (const auto& e : first_illegal) judged += (judged.empty() ? "" : "; ") + e;
    recorder_.violation(
        invariant::kLifecycle, now, first_key_node,
        fmt::format("position {}: not a lifecycle edge for any of its writers ({})", position, judged));
  } else {
    for (int i = 0; i < lost_updates; ++i) recorder_.report(reported::kLostUpdate);
  }
}

void InvariantSuite::judge_command_writer(Nanos now, std::uint64_t position, const sim::BatchRecord& batch) {
  bool has_command = false;
  std::string first_command;
  for (const auto& command : batch.commands) {
    if (command.op == engine::KvOp::Put && parse_slice_key(command.key) && is_command_value(command.value)) {
      has_command = true;
      first_command = command.key + " = " + describe_slice_value(command.value);
      break;
    }
  }
  if (!has_command || any_client(batch)) return;
  bool legal = false;
  for (const auto& s : batch.submitters) {
    if (s.writer == "cdm" && s.cdm_active) legal = true;
  }
  if (!legal) {
    const auto& s = batch.submitters.front();
    recorder_.violation(invariant::kCommandWriter, now, s.node,
                        fmt::format("position {}: command {} submitted by {} without an Active CDM", position,
                                    first_command, writers_of(batch)));
    return;
  }
  // Late commit: every Active-CDM submitter has been deposed (or re-activated)
  // since it submitted.
  bool current = false;
  for (const auto& s : batch.submitters) {
    if (s.writer != "cdm" || !s.cdm_active) continue;
    const auto* now_active = cdms_.find(s.node);
    if (now_active != nullptr && now_active->since <= s.submitted_at && now_active->tag == s.cdm_tag) {
      current = true;
    }
  }
  if (!current) recorder_.report(reported::kLateCommit);
}

void InvariantSuite::on_node_fault(Nanos, const NodeId& node, sim::NodeFault fault) {
  switch (fault) {
    case sim::NodeFault::Crash:
    case sim::NodeFault::Restart:
    case sim::NodeFault::Remove:
      cdms_.stopped(node);
      break;
    case sim::NodeFault::Resume:
      // The resumed node first takes the view and quorum changes that fell due
      // while it was paused; its CDM is judged at the end of the instant.
      if (cdms_.find(node) != nullptr) leaders_to_judge_.insert(node);
      break;
    case sim::NodeFault::Pause:
    case sim::NodeFault::Add:
      break;
  }
}

void InvariantSuite::on_cdm_activated(Nanos now, const NodeId& node, std::optional<std::uint64_t> tag) {
  cdms_.activated(now, node, tag);
  leaders_to_judge_.insert(node);
}

void InvariantSuite::on_cdm_deactivated(Nanos, const NodeId& node) {
  cdms_.stopped(node);
}

void InvariantSuite::judge_leaders(Nanos now, const NodeId& node, const std::set<NodeId>& judged) {
  const auto* mine = cdms_.find(node);
  if (mine == nullptr || !world_.is_up(node) || world_.is_paused(node)) return;
  for (const auto& [other, act] : cdms_.active()) {
    if (other == node || judged.count(other) != 0 || !world_.is_up(other) || world_.is_paused(other))
      continue;
    const bool ordered = mine->tag && act.tag && *mine->tag != *act.tag;
    if (!ordered) {
      recorder_.violation(invariant::kSingleLeaderPerTerm, now, node,
                          fmt::format("CDMs of {} (tag {}) and {} (tag {}) are Active at once", node,
                                      tag_text(mine->tag), other, tag_text(act.tag)));
    }
  }
}

void InvariantSuite::on_slice_op_start(Nanos now, const NodeId& node, const std::string& artifact,
                                       sim::SliceOp op, engine::SliceHolding held_before) {
  if (op != sim::SliceOp::Load || held_before == engine::SliceHolding::NotHeld) return;
  recorder_.violation(invariant::kSliceStore, now, node,
                      fmt::format("{} loads {} while its slice store already holds it ({})", node, artifact,
                                  held_before == engine::SliceHolding::Active ? "active" : "loaded"));
}

void InvariantSuite::on_engine_assert(Nanos now, const NodeId& node, const std::string& message) {
  cdms_.stopped(node);
  recorder_.violation(invariant::kEngineAssert, now, node,
                      fmt::format("seed {}: engine on {} failed: {}", seed_, node, message));
}

}  // namespace aether::properties
