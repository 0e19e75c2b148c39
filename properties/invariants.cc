#include "properties/invariants.h"

#include <algorithm>
#include <memory>
#include <span>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "properties/rollback_check.h"
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
      {invariant::kSliceStore,
       "a node never loads an artifact its slice store already holds, nor starts a second store operation "
       "on an artifact while one runs"},
      {invariant::kEngineAssert, "an assertion or exception inside a simulated node"},
      {invariant::kEventBudget, "the run exceeded max_events (a likely write loop)"},
      {invariant::kStaleLeader,
       "(consensus) a CDM is never Active at the end of an instant, and a cdm batch is never submitted, on a "
       "node whose latest applied leader entry names another node or no one"},
      {invariant::kKeyWriter,
       "each non-slices key is written only by the roles allowed to (blueprints: clients, or an Active CDM "
       "rolling back an all-or-nothing put; slice-target, version-routing, rollback: "
       "clients or an Active CDM; node-lifecycle: its NDM, clients or an Active CDM; leader: leader "
       "managers or clients); an engine slice-target carries what the reference model derives from its "
       "writer's applied state, failed:true only with failure evidence"},
      {invariant::kDependencyOrder,
       "a cdm ACTIVATE commits only if, in its writer's applied state, every dependency had an ACTIVE entry "
       "on a node in the writer's view"},
      {invariant::kDrainOrder,
       "a cdm eviction (UNLOAD of a live entry of an owned, non-excluded base at its version on a DRAINING "
       "node) needs, in its writer's applied state, ACTIVE entries on eligible nodes >= min(count, eligible "
       "nodes), no other eviction of that node pending, and never the last ACTIVE entry with no other live "
       "one"},
      {invariant::kDrain,
       "a DRAINING or DECOMMISSIONED node (in the writer's applied state) never gets a cdm LOAD; a cdm "
       "writes DECOMMISSIONED only for a node with no slices/{node}/* key"},
      {invariant::kCapacity,
       "a cdm LOAD commits only if, in its writer's state (applied at submit, earlier commands of the batch, "
       "its pending UNLOADs), the live entries on the node plus this one fit the node's capacity "
       "(resources from the owner blueprints)"},
      {invariant::kAntiAffinity,
       "a cdm LOAD of X commits only if, in its writer's state, the node holds no live entry of a base that "
       "X's slice lists in anti_affinity or whose slice lists X's base"},
      {invariant::kRollback,
       "an engine's rollback/{id} records the all-or-nothing value blueprints/{id} held and its previous "
       "accepted value; a rolled-back blueprint is rewritten exactly to that previous value, or removed "
       "when there was none"},
      {invariant::kRolling,
       "while version-routing/{base} is in its writer's applied state, a cdm UNLOAD of an ACTIVE entry never "
       "leaves ACTIVE entries over all versions of the base (on nodes in the writer's view) below desired - "
       "max_unavailable of the owner's rolling slice"},
      {invariant::kScaleFloor, "a cdm scale-down never leaves fewer live entries than min_instances"},
      {invariant::kAvailabilityFloor,
       "a cdm scale-down (a move's break step included) never leaves fewer ACTIVE entries than "
       "min(min_instances, ACTIVE before)"},
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

const char* slice_op_text(sim::SliceOp op) {
  switch (op) {
    case sim::SliceOp::Load:
      return "a load";
    case sim::SliceOp::Activate:
      return "an activation";
    case sim::SliceOp::Deactivate:
      return "a deactivation";
    case sim::SliceOp::Unload:
      return "an unload";
  }
  return "an operation";
}

// The Puts of `state` on slices/* keys in `batch`, in batch order.
std::vector<std::pair<std::string, ref::Key>> slice_puts(const sim::BatchRecord& batch, ref::State state) {
  std::vector<std::pair<std::string, ref::Key>> out;
  for (const auto& command : batch.commands) {
    if (command.op != engine::KvOp::Put) continue;
    const auto key = ref::classify_key(command.key);
    const auto value = ref::read_slice_value(command.value);
    if (key.kind == ref::KeyKind::Slice && value && value->state == state) out.emplace_back(command.key, key);
  }
  return out;
}

std::optional<std::string> applied_value(const sim::Submitter& s, const std::string& key) {
  auto it = s.applied.find(key);
  return it == s.applied.end() ? std::nullopt : it->second;
}

}  // namespace

InvariantSuite::InvariantSuite(ViolationRecorder& recorder, const WorldQueries& world, std::uint64_t seed)
    : recorder_(recorder), world_(world), seed_(seed) {}

void InvariantSuite::set_rules(const CheckRules& rules) {
  rules_ = rules;
  evidence_.set_retry_max(rules.transient_retry_max);
}

std::optional<Nanos> InvariantSuite::in_view_since(const NodeId& observer, const NodeId& member) const {
  auto o = in_view_.find(observer);
  if (o == in_view_.end()) return std::nullopt;
  auto m = o->second.find(member);
  if (m == o->second.end()) return std::nullopt;
  return m->second;
}

std::shared_ptr<const ref::Desired> InvariantSuite::desired_at(std::uint64_t position) const {
  // A decided position's store never changes, so neither does what the
  // reference model derives from it: several checks ask for the same
  // writer's position per batch (issue 14, fourth pass). Bounded: cleared
  // when full; callers hold a shared_ptr, so clearing frees nothing in use.
  // Keyed by the latest position at or before it that wrote a blueprints/ or
  // slice-target/ key: the store under those prefixes (values and revisions)
  // is the same from there to `position` (issue 14, fifth pass: most
  // positions write slices/* only).
  constexpr std::size_t kMaxPositions = 16;
  auto change = std::upper_bound(desired_changes_.begin(), desired_changes_.end(), position);
  const std::uint64_t key = change == desired_changes_.begin() ? 0 : *std::prev(change);
  if (auto it = desired_cache_.find(key); it != desired_cache_.end()) return it->second;
  if (desired_cache_.size() >= kMaxPositions) desired_cache_.clear();
  auto desired = std::make_shared<const ref::Desired>(
      ref::desired_from(canonical_.store_at(key, {"blueprints/", "slice-target/"})));
  desired_cache_.emplace(key, desired);
  return desired;
}

std::optional<NodeId> InvariantSuite::leader_at(std::uint64_t position) const {
  // The leader key's value at a decided position never changes (the history
  // only grows past the latest position): the last answer is kept (issue 14,
  // eighth pass: asked for every live node at every convergence evaluation,
  // nearly always at the same position).
  if (leader_memo_ && leader_memo_->first == position) return leader_memo_->second;
  auto value = canonical_.value_at("leader", position);
  std::optional<NodeId> leader = value ? ref::read_leader(*value) : std::nullopt;
  if (caching_ && position <= canonical_.position()) leader_memo_.emplace(position, leader);
  return leader;
}

std::optional<std::optional<NodeId>> InvariantSuite::applied_leader(const NodeId& node) const {
  if (!rules_.consensus) return std::nullopt;
  if (reset_.count(node) != 0) return std::optional<NodeId>();
  return leader_at(applied_of(node));
}

void InvariantSuite::settle(Nanos now) {
  now_ = now;
  judge_stale_leaders(now);
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
  now_ = now;
  // The batch judges see the canonical store as it was before the batch.
  judge_lifecycle(now, position, batch);
  judge_command_writer(now, position, batch);
  judge_key_writer(now, position, batch);
  judge_dependency_order(now, position, batch);
  judge_drain(now, position, batch);
  judge_placement(now, position, batch);
  judge_rollback(now, position, batch);
  judge_rolling(now, position, batch);
  judge_scale_down(now, position, batch);
  std::map<std::string, std::optional<std::string>> before;
  std::vector<ref::FailureEvidence::Command> commands;
  for (const auto& command : batch.commands) {
    if (!before.count(command.key)) before[command.key] = canonical_.get(command.key);
    commands.push_back({command.op == engine::KvOp::Put, command.key, command.value});
  }
  for (const auto& command : batch.commands) {
    if (command.key.starts_with("blueprints/") || command.key.starts_with("slice-target/")) {
      desired_changes_.push_back(position);
      break;
    }
  }
  if (!canonical_.apply(position, batch.commands)) {
    recorder_.violation(
        invariant::kReplicaConsistency, now, "",
        fmt::format("decided position {} does not follow {}", position, canonical_.position()));
    return;
  }
  // An engine's slice-target stands for the blueprint value it was derived
  // from: ordered at its writer's applied position, not its decided one.
  if (!any_client(batch) && !batch.submitters.empty()) {
    std::uint64_t intent = 0;
    for (std::size_t i = 0; i < batch.submitters.size(); ++i)
      intent = std::max(intent, submit_info(batch, i).applied_position);
    for (const auto& command : batch.commands) {
      if (command.op == engine::KvOp::Put && ref::classify_key(command.key).kind == ref::KeyKind::SliceTarget)
        canonical_.set_intent_position(command.key, intent);
    }
  }
  evidence_.on_batch(position, commands, before, canonical_.positioned());
  record_evictions(position, batch);
  submits_.erase(batch.batch_id);
  pending_cdm_.erase(batch.batch_id);
  decided_at_.push_back(now);
  for (const auto& command : batch.commands) last_commit_at_[command.key] = now;
}

bool InvariantSuite::eviction_pending_at(const std::string& key, std::uint64_t position) const {
  auto it = evictions_.find(key);
  if (it == evictions_.end()) return false;
  bool pending = false;
  for (const auto& [p, value] : it->second) {
    if (p > position) break;
    pending = value;
  }
  return pending;
}

void InvariantSuite::record_evictions(std::uint64_t position, const sim::BatchRecord& batch) {
  for (const auto& command : batch.commands) {
    if (ref::classify_key(command.key).kind != ref::KeyKind::Slice) continue;
    bool pending = batch_evictions_.count(command.key) != 0;
    if (!pending && command.op == engine::KvOp::Put) {
      const auto value = ref::read_slice_value(command.value);
      pending = value && (value->state == ref::State::Unload || value->state == ref::State::Unloading) &&
                eviction_pending_at(command.key, position);
    }
    if (pending == eviction_pending_at(command.key, position)) continue;
    auto& changes = evictions_[command.key];
    if (!changes.empty() && changes.back().first == position) {
      changes.back().second = pending;
    } else {
      changes.emplace_back(position, pending);
    }
  }
  batch_evictions_.clear();
}

std::uint64_t InvariantSuite::applied_of(const NodeId& node) const {
  if (auto live = world_.applied_position(node)) return *live;
  auto it = applied_position_.find(node);
  return it == applied_position_.end() ? 0 : it->second;
}

void InvariantSuite::on_apply(Nanos now, const NodeId& node, std::uint64_t position, std::uint64_t digest) {
  now_ = now;
  applied_position_[node] = position;
  judge_replica(now, node, position, digest, "applying");
}

void InvariantSuite::on_restore(Nanos now, const NodeId& node, std::uint64_t position, std::uint64_t digest) {
  now_ = now;
  applied_position_[node] = position;
  reset_.erase(node);
  judge_replica(now, node, position, digest, "restoring");
}

void InvariantSuite::on_reset(Nanos now, const NodeId& node) {
  now_ = now;
  reset_.insert(node);
}

void InvariantSuite::on_view(Nanos now, const NodeId& node, const engine::TopologyEvent& event) {
  now_ = now;
  auto& members = in_view_[node];
  const std::span<const NodeId> view = event.view;
  // A view is in NodeId order, each member once: one merge walk keeps the
  // members still in it (with their time) and adds the new ones (issue 14,
  // seventh pass: no set built per view change). Anything else: by lookup.
  const bool strictly_sorted =
      std::adjacent_find(view.begin(), view.end(),
                         [](const NodeId& a, const NodeId& b) { return !(a < b); }) == view.end();
  if (!strictly_sorted) {
    const std::set<NodeId> members_now(view.begin(), view.end());
    for (auto it = members.begin(); it != members.end();) {
      it = members_now.count(it->first) != 0 ? std::next(it) : members.erase(it);
    }
    for (const auto& member : members_now) members.emplace(member, now);
    return;
  }
  auto m = members.begin();
  for (const auto& member : view) {
    while (m != members.end() && m->first < member) m = members.erase(m);
    if (m != members.end() && m->first == member) {
      ++m;
    } else {
      members.emplace_hint(m, member, now);
    }
  }
  members.erase(m, members.end());
}

void InvariantSuite::forget_node(const NodeId& node) {
  in_view_.erase(node);
  reset_.insert(node);  // exempt from stale-leader until its next restore
  for (auto it = slice_ops_.begin(); it != slice_ops_.end();) {
    it = it->first.first == node ? slice_ops_.erase(it) : std::next(it);
  }
}

const InvariantSuite::SubmitInfo& InvariantSuite::submit_info(const sim::BatchRecord& batch,
                                                              std::size_t index) const {
  auto it = submits_.find(batch.batch_id);
  if (it != submits_.end() && index < it->second.size()) return it->second[index];
  // Not seen at submit (a hand-made feed): the latest decided state and the
  // current view.
  fallback_info_ = SubmitInfo{};
  fallback_info_.applied_position = canonical_.position();
  if (index < batch.submitters.size()) fallback_info_.view = world_.view(batch.submitters[index].node);
  return fallback_info_;
}

void InvariantSuite::on_submit(Nanos now, const sim::BatchRecord& batch, const sim::Submitter& submitter) {
  now_ = now;
  SubmitInfo info;
  info.applied_position = applied_of(submitter.node);
  info.view = world_.view(submitter.node);
  auto& infos = submits_[batch.batch_id];
  infos.resize(batch.submitters.empty() ? 0 : batch.submitters.size() - 1);
  infos.push_back(std::move(info));
  if (submitter.writer == "cdm") {
    pending_cdm_[batch.batch_id].push_back(
        PendingCdm{submitter.node, submitter.cdm_tag, now, batch.commands, submitter.cdm_active});
  }

  // stale-leader, second half: a cdm batch from a node whose applied leader
  // entry names another node or no one.
  if (!rules_.consensus || submitter.writer != "cdm" || reset_.count(submitter.node) != 0) return;
  const auto leader = leader_at(infos.back().applied_position);
  if (leader == submitter.node) return;
  std::string commands;
  for (const auto& command : batch.commands) {
    if (!commands.empty()) commands += ", ";
    commands += (command.op == engine::KvOp::Put ? "Put " : "Remove ") + command.key;
  }
  recorder_.violation(invariant::kStaleLeader, now, submitter.node,
                      fmt::format("cdm@{} submitted batch {} ({}) while its latest applied leader entry "
                                  "(position {}) names {}",
                                  submitter.node, batch.batch_id, commands, infos.back().applied_position,
                                  leader ? *leader : std::string("no one")));
}

void InvariantSuite::on_batch_dropped(Nanos now, const sim::BatchRecord& batch) {
  now_ = now;
  submits_.erase(batch.batch_id);
  pending_cdm_.erase(batch.batch_id);
}

void InvariantSuite::judge_stale_leaders(Nanos now) {
  if (!rules_.consensus) return;
  for (const auto& [node, act] : cdms_.active()) {
    if (reset_.count(node) != 0 || !world_.is_up(node)) continue;
    const auto leader = applied_leader(node);
    if (!leader || *leader == node) continue;
    if (!stale_reported_.emplace(node, act.since).second) continue;
    recorder_.violation(
        invariant::kStaleLeader, now, node,
        fmt::format(
            "{}'s CDM (activated at {} ns, tag {}) is Active at the end of an instant while its latest "
            "applied leader entry (position {}) names {}",
            node, act.since, tag_text(act.tag), applied_of(node),
            *leader ? **leader : std::string("no one")));
  }
}

namespace {

bool starts_with(const std::string& key, std::string_view prefix) {
  return key.compare(0, prefix.size(), prefix) == 0;
}

// Whether `s` may write `command` by the key-writer roles; `why` says who may.
// `rollback_rewrite`: for a blueprints/{id} command, the batch is an
// all-or-nothing rollback by this submitter (rollback_check.h).
bool key_writer_allows(const sim::Submitter& s, const engine::KvCommand& command, bool rollback_rewrite,
                       std::string* who) {
  const bool client = is_client(s);
  const bool active_cdm = s.writer == "cdm" && s.cdm_active;
  const auto key = ref::classify_key(command.key);
  const bool put = command.op == engine::KvOp::Put;
  if (starts_with(command.key, "slices/")) return true;  // lifecycle and command-writer judge these
  if (key.kind == ref::KeyKind::Blueprint) {
    *who = "clients, or a CDM Active at submit rolling back an all-or-nothing put (removing rollback/{id})";
    return client || (active_cdm && rollback_rewrite);
  }
  if (key.kind == ref::KeyKind::SliceTarget || starts_with(command.key, "version-routing/") ||
      starts_with(command.key, "rollback/")) {
    *who = "clients or a CDM Active at submit";
    return client || active_cdm;
  }
  if (key.kind == ref::KeyKind::NodeLifecycle) {
    if (put) {
      *who = "node " + key.node + "'s NDM, clients or a CDM Active at submit";
      return client || active_cdm || (s.writer == "ndm" && s.node == key.node);
    }
    *who = "clients or a CDM Active at submit";
    return client || active_cdm;
  }
  if (key.kind == ref::KeyKind::Leader) {
    *who = "leader managers or clients";
    return client || s.writer == "leader-manager";
  }
  *who = "clients";
  return client;
}

std::string op_text(const engine::KvCommand& command) {
  return command.op == engine::KvOp::Put ? "Put " + command.key + " = " + command.value
                                         : "Remove " + command.key;
}

}  // namespace

void InvariantSuite::judge_key_writer(Nanos now, std::uint64_t position, const sim::BatchRecord& batch) {
  if (batch.submitters.empty()) return;
  // Roles: some one submitter may write every command of the batch.
  std::string first_refusal;
  bool some_writer = false;
  for (std::size_t i = 0; i < batch.submitters.size(); ++i) {
    const auto& s = batch.submitters[i];
    bool all = true;
    for (const auto& command : batch.commands) {
      std::string who;
      bool rollback_rewrite = false;
      if (const auto key = ref::classify_key(command.key);
          key.kind == ref::KeyKind::Blueprint && !is_client(s)) {
        const WriterState writer{canonical_, submit_info(batch, i).applied_position, s.applied};
        rollback_rewrite = is_rollback_rewrite(writer, batch.commands, key.id);
      }
      if (!key_writer_allows(s, command, rollback_rewrite, &who)) {
        if (first_refusal.empty()) {
          first_refusal = fmt::format(
              "{} by {}@{}{} (allowed: {})", op_text(command), s.writer, s.node,
              s.writer == "cdm" ? (s.cdm_active ? " (CDM Active)" : " (CDM not Active)") : "", who);
        }
        all = false;
        break;
      }
    }
    some_writer = some_writer || all;
  }
  if (!some_writer) {
    recorder_.violation(
        invariant::kKeyWriter, now, batch.submitters.front().node,
        fmt::format("position {}: {}; writers {}", position, first_refusal, writers_of(batch)));
    return;
  }
  if (any_client(batch)) return;

  // Content of engine slice-target Puts: what the reference model derives
  // from the state the writer had applied at submit (plus the batch's own
  // earlier commands); failed:true only with failure evidence there. A
  // merged batch passes if it is right for any of its submitters.
  std::string first_wrong;
  bool right_for_some = false;
  for (std::size_t i = 0; i < batch.submitters.size(); ++i) {
    const auto& s = batch.submitters[i];
    const auto& info = submit_info(batch, i);
    std::optional<ref::PositionedStore> state;
    bool right = true;
    for (std::size_t c = 0; c < batch.commands.size() && right; ++c) {
      const auto& command = batch.commands[c];
      const auto key = ref::classify_key(command.key);
      if (command.op != engine::KvOp::Put || key.kind != ref::KeyKind::SliceTarget) continue;
      if (!state) state = writer_state(s, info, {"blueprints/", "slice-target/"});
      const ref::Desired desired = ref::desired_from(*state);
      const auto* d = desired.find(key.base);
      const auto written = ref::read_target(command.value);
      std::string wrong;
      if (!written) {
        wrong = "the value does not parse";
      } else if (d == nullptr) {
        wrong = "the base has no owner in the writer's applied state";
      } else if (written->owner != d->owner || written->version != d->version ||
                 written->instances != d->count || written->min_instances != d->min_instances) {
        wrong =
            fmt::format("the reference model derives owner {}, version {}, instances {}, min_instances {}",
                        d->owner, d->version, d->count, d->min_instances);
      } else if (written->failed) {
        const std::string artifact = key.base + ":" + written->version;
        const bool echoed = d->target && d->target->failed;  // the stored flag carried forward
        if (!echoed && !evidence_.had_evidence_at(artifact, info.applied_position)) {
          wrong = fmt::format("failed:true without failure evidence for {} at position {} ({} now)", artifact,
                              info.applied_position, evidence_.describe(artifact));
        }
      }
      if (!wrong.empty()) {
        right = false;
        if (first_wrong.empty()) {
          first_wrong = fmt::format("{} by {}@{} (applied position {}): {}", op_text(command), s.writer,
                                    s.node, info.applied_position, wrong);
        }
      }
      // Later commands of the batch see this one.
      (*state)[command.key] = ref::StoreEntry{command.value, info.applied_position + 1};
    }
    right_for_some = right_for_some || right;
  }
  if (!right_for_some) {
    recorder_.violation(invariant::kKeyWriter, now, batch.submitters.front().node,
                        fmt::format("position {}: {}; writers {}", position, first_wrong, writers_of(batch)));
  }
}

void InvariantSuite::judge_rollback(Nanos now, std::uint64_t position, const sim::BatchRecord& batch) {
  if (any_client(batch) || batch.submitters.empty()) return;
  bool touches = false;
  for (const auto& command : batch.commands) {
    const bool record_put = command.op == engine::KvOp::Put && starts_with(command.key, "rollback/");
    touches = touches || record_put || ref::classify_key(command.key).kind == ref::KeyKind::Blueprint;
  }
  if (!touches) return;
  // A merged batch passes if it is right for any of its cdm submitters (other
  // writers of these keys are key-writer's).
  std::string first_wrong;
  for (std::size_t i = 0; i < batch.submitters.size(); ++i) {
    const auto& s = batch.submitters[i];
    if (s.writer != "cdm") continue;
    const auto& info = submit_info(batch, i);
    const WriterState writer{canonical_, info.applied_position, s.applied};
    const auto wrong = judge_rollback_writes(writer, batch.commands);
    if (wrong.empty()) return;
    if (first_wrong.empty())
      first_wrong =
          fmt::format("{} by {}@{} (applied position {})", wrong, s.writer, s.node, info.applied_position);
  }
  if (first_wrong.empty()) return;  // no cdm submitter
  recorder_.violation(invariant::kRollback, now, batch.submitters.front().node,
                      fmt::format("position {}: {}; writers {}", position, first_wrong, writers_of(batch)));
}

void InvariantSuite::judge_dependency_order(Nanos now, std::uint64_t position,
                                            const sim::BatchRecord& batch) {
  if (any_client(batch)) return;
  const auto activates = slice_puts(batch, ref::State::Activate);
  if (activates.empty()) return;
  std::string first_missing;
  bool ready_for_some = false;
  for (std::size_t i = 0; i < batch.submitters.size(); ++i) {
    const auto& s = batch.submitters[i];
    if (s.writer != "cdm") continue;
    const auto& info = submit_info(batch, i);
    const auto desired_at_writer = desired_at(info.applied_position);
    const ref::Desired& desired = *desired_at_writer;
    bool ready = true;
    for (const auto& [key_text, key] : activates) {
      const auto* d = desired.find(key.base);
      if (d == nullptr) continue;  // no owner: no dependencies known
      // A rejected owner keeps its last accepted deployment (engine-semantics
      // §4), whose dependencies the store no longer holds (the rejected value
      // may list others): not judged.
      if (!d->owner_accepted) continue;
      for (const auto& dep : d->depends_on) {
        bool active = false;
        for (const auto& node : info.view) {
          if (active) break;  // one ACTIVE entry is enough
          const auto dep_key = "slices/" + node + "/" + dep;
          auto applied = s.applied.find(dep_key);
          const auto value = applied != s.applied.end() ? applied->second
                                                        : canonical_.value_at(dep_key, info.applied_position);
          const auto parsed = value ? ref::read_slice_value(*value) : std::nullopt;
          active = active || (parsed && parsed->state == ref::State::Active);
        }
        if (!active) {
          ready = false;
          if (first_missing.empty()) {
            first_missing = fmt::format(
                "ACTIVATE {} by cdm@{}: dependency {} had no ACTIVE entry on a node of "
                "its view [{}] at its applied position {}",
                key_text, s.node, dep, fmt::join(info.view, ", "), info.applied_position);
          }
        }
      }
    }
    ready_for_some = ready_for_some || ready;
  }
  if (!ready_for_some && !first_missing.empty()) {
    recorder_.violation(
        invariant::kDependencyOrder, now, activates.front().second.node,
        fmt::format("position {}: {}; writers {}", position, first_missing, writers_of(batch)));
  }
}

void InvariantSuite::judge_placement(Nanos now, std::uint64_t position, const sim::BatchRecord& batch) {
  if (any_client(batch)) return;
  const bool any_load = std::any_of(batch.commands.begin(), batch.commands.end(), [](const auto& c) {
    const auto value = c.op == engine::KvOp::Put ? ref::read_slice_value(c.value) : std::nullopt;
    return value && value->state == ref::State::Load && ref::classify_key(c.key).kind == ref::KeyKind::Slice;
  });
  if (!any_load) return;
  struct Finding {
    const char* invariant;
    NodeId node;
    std::string detail;
  };
  std::optional<Finding> first;
  bool fine_for_some = false;
  for (std::size_t i = 0; i < batch.submitters.size(); ++i) {
    const auto& s = batch.submitters[i];
    if (s.writer != "cdm") continue;
    const auto& info = submit_info(batch, i);
    const auto desired_at_writer = desired_at(info.applied_position);
    const ref::Desired& desired = *desired_at_writer;
    // The writer's slices: applied at submit, then its pending UNLOADs.
    std::map<std::string, std::string> slices;
    for (const auto& [key, entry] : canonical_.store_at(info.applied_position, {"slices/"}))
      slices[key] = entry.value;
    for (const auto& [key, value] : s.applied) {
      if (key.rfind("slices/", 0) != 0) continue;
      if (value) {
        slices[key] = *value;
      } else {
        slices.erase(key);
      }
    }
    for (const auto& [id, list] : pending_cdm_) {
      if (id == batch.batch_id) continue;
      for (const auto& pending : list) {
        if (pending.node != s.node) continue;
        for (const auto& c : pending.commands) {
          const auto value = c.op == engine::KvOp::Put ? ref::read_slice_value(c.value) : std::nullopt;
          if (value && value->state == ref::State::Unload) slices[c.key] = c.value;
        }
      }
    }
    auto live_on = [&](const NodeId& node) {
      std::vector<std::string> artifacts;
      const std::string prefix = "slices/" + node + "/";
      for (auto it = slices.lower_bound(prefix); it != slices.end() && it->first.rfind(prefix, 0) == 0;
           ++it) {
        const auto value = ref::read_slice_value(it->second);
        if (value && ref::is_live(value->state)) artifacts.push_back(it->first.substr(prefix.size()));
      }
      return artifacts;
    };
    std::optional<Finding> found;
    for (const auto& c : batch.commands) {
      const auto key = ref::classify_key(c.key);
      const auto value = c.op == engine::KvOp::Put ? ref::read_slice_value(c.value) : std::nullopt;
      if (!found && key.kind == ref::KeyKind::Slice && value && value->state == ref::State::Load) {
        const auto* mine = desired.find(key.base);
        std::int64_t cpu = mine ? mine->cpu : 0;
        std::int64_t memory = mine ? mine->memory : 0;
        for (const auto& other : live_on(key.node)) {
          if (other == key.artifact) continue;
          const auto other_base = ref::base_part(other);
          const auto* theirs = desired.find(other_base);
          if (theirs != nullptr) {
            cpu += theirs->cpu;
            memory += theirs->memory;
          }
          auto lists = [](const ref::DesiredBase* d, const std::string& base) {
            return d != nullptr && std::find(d->anti_affinity.begin(), d->anti_affinity.end(), base) !=
                                       d->anti_affinity.end();
          };
          if (other_base != key.base && (lists(mine, other_base) || lists(theirs, key.base))) {
            found = Finding{
                invariant::kAntiAffinity, key.node,
                fmt::format("LOAD {} by cdm@{}: {} holds a live entry of {} (anti-affine) at its applied "
                            "position {}",
                            c.key, s.node, key.node, other, info.applied_position)};
          }
        }
        const auto capacity = world_.attributes(key.node).capacity;
        if (!found &&
            ((capacity.cpu && cpu > *capacity.cpu) || (capacity.memory && memory > *capacity.memory))) {
          found = Finding{
              invariant::kCapacity, key.node,
              fmt::format("LOAD {} by cdm@{}: live entries on {} would need cpu {}m, memory {} bytes; its "
                          "capacity is cpu {}, memory {} (writer's applied position {})",
                          c.key, s.node, key.node, cpu, memory,
                          capacity.cpu ? std::to_string(*capacity.cpu) + "m" : "unlimited",
                          capacity.memory ? std::to_string(*capacity.memory) : "unlimited",
                          info.applied_position)};
        }
      }
      if (key.kind != ref::KeyKind::Slice) continue;
      if (c.op == engine::KvOp::Put) {
        slices[c.key] = c.value;
      } else {
        slices.erase(c.key);
      }
    }
    if (!found) {
      fine_for_some = true;
    } else if (!first) {
      first = found;
    }
  }
  if (!fine_for_some && first) {
    recorder_.violation(
        first->invariant, now, first->node,
        fmt::format("position {}: {}; writers {}", position, first->detail, writers_of(batch)));
  }
}

void InvariantSuite::judge_rolling(Nanos now, std::uint64_t position, const sim::BatchRecord& batch) {
  if (any_client(batch)) return;
  const auto unloads = slice_puts(batch, ref::State::Unload);
  if (unloads.empty()) return;
  std::string first_wrong;
  bool right_for_some = false;
  for (std::size_t i = 0; i < batch.submitters.size(); ++i) {
    const auto& s = batch.submitters[i];
    if (s.writer != "cdm") continue;
    const auto& info = submit_info(batch, i);
    std::set<std::string> rolling;  // bases with version-routing in the writer's applied state
    for (const auto& [key_text, key] : unloads) {
      if (canonical_.value_at("version-routing/" + key.base, info.applied_position)) rolling.insert(key.base);
    }
    bool right = true;
    if (!rolling.empty()) {
      const auto desired_at_writer = desired_at(info.applied_position);
      const ref::Desired& desired = *desired_at_writer;
      const auto slices = canonical_.store_at(info.applied_position, {"slices/"});
      auto in_view = [&](const NodeId& node) {
        return std::find(info.view.begin(), info.view.end(), node) != info.view.end();
      };
      auto active_at = [&](const std::string& key_text) {
        auto it = slices.find(key_text);
        const auto value = it == slices.end() ? std::nullopt : ref::read_slice_value(it->second.value);
        return value && value->state == ref::State::Active;
      };
      for (const auto& base : rolling) {
        const auto* d = desired.find(base);
        if (d == nullptr || !d->update.rolling) continue;  // no owner, or not a rolling slice
        const int lowest = d->count - d->update.max_unavailable;
        int active = 0;
        for (const auto& [key_text, entry] : slices) {
          const auto key = ref::classify_key(key_text);
          if (key.kind == ref::KeyKind::Slice && key.base == base && in_view(key.node) && active_at(key_text))
            ++active;
        }
        for (const auto& [key_text, key] : unloads) {
          if (key.base != base || !in_view(key.node) || !active_at(key_text)) continue;
          --active;  // an UNLOAD of an ACTIVE entry; never below min(floor, ACTIVE before)
          if (active < lowest) {
            right = false;
            if (first_wrong.empty()) {
              first_wrong = fmt::format(
                  "UNLOAD {} by cdm@{} during the rolling update of {} (version-routing at its applied "
                  "position {}): leaves {} ACTIVE over all versions on its view, below desired {} - "
                  "max_unavailable {}",
                  key_text, s.node, base, info.applied_position, active, d->count, d->update.max_unavailable);
            }
          }
        }
      }
    }
    right_for_some = right_for_some || right;
  }
  if (!right_for_some && !first_wrong.empty()) {
    recorder_.violation(invariant::kRolling, now, unloads.front().second.node,
                        fmt::format("position {}: {}; writers {}", position, first_wrong, writers_of(batch)));
  }
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

namespace {

std::optional<Nanos> state_timeout(const CheckRules& rules, ref::State state) {
  switch (state) {
    case ref::State::Loading:
      return rules.loading_ns;
    case ref::State::Activating:
      return rules.activating_ns;
    case ref::State::Deactivating:
      return rules.deactivating_ns;
    case ref::State::Unloading:
      return rules.unloading_ns;
    default:
      return std::nullopt;
  }
}

std::optional<ref::State> state_of(const ref::PositionedStore& store, const std::string& key) {
  auto it = store.find(key);
  if (it == store.end()) return std::nullopt;
  auto value = ref::read_slice_value(it->second.value);
  if (!value) return std::nullopt;
  return value->state;
}

}  // namespace

// scale-floor and availability-floor (simulation.md §5, "Scale-down"): a cdm
// UNLOAD of a live entry of an owned, non-excluded base at its intended
// version, on a node that is neither DRAINING nor DECOMMISSIONED, with no rolling update, that is
// not stuck cleanup, judged on the writer's state: what it had applied at
// submit plus the commands of its activation still pending in the world and
// not overtaken, restricted to nodes in its view.
void InvariantSuite::judge_scale_down(Nanos now, std::uint64_t position, const sim::BatchRecord& batch) {
  if (any_client(batch)) return;
  bool has_unload = false;
  for (const auto& command : batch.commands) {
    const auto value = command.op == engine::KvOp::Put ? ref::read_slice_value(command.value) : std::nullopt;
    has_unload = has_unload || (value && value->state == ref::State::Unload);
  }
  if (!has_unload) return;
  std::string first_floor;
  std::string first_availability;
  bool ok_for_some = false;
  bool judged_any = false;
  for (std::size_t i = 0; i < batch.submitters.size(); ++i) {
    const auto& s = batch.submitters[i];
    if (s.writer != "cdm") continue;
    judged_any = true;
    const auto& info = submit_info(batch, i);
    ref::PositionedStore state = canonical_.store_at(info.applied_position);
    for (const auto& [k, v] : s.applied) {
      if (!v) {
        state.erase(k);
        continue;
      }
      // A value it applied keeps the position it was decided at: stamped
      // with the applied position, an old slice-target would look newer
      // than a blueprint put after it (ownership and counts by position).
      auto known = state.find(k);
      if (known == state.end() || known->second.value != *v)
        state[k] = ref::StoreEntry{*v, info.applied_position};
    }
    // Its activation's commands still pending, oldest first, not overtaken.
    std::vector<const PendingCdm*> pending;
    for (const auto& [id, list] : pending_cdm_) {
      if (id == batch.batch_id) continue;
      for (const auto& p : list) {
        if (p.active && p.node == s.node && p.tag == s.cdm_tag && p.submitted_at <= s.submitted_at)
          pending.push_back(&p);
      }
    }
    std::sort(pending.begin(), pending.end(),
              [](const PendingCdm* a, const PendingCdm* b) { return a->submitted_at < b->submitted_at; });
    for (const auto* p : pending) {
      for (const auto& command : p->commands) {
        auto last = last_commit_at_.find(command.key);
        if (last != last_commit_at_.end() && last->second >= p->submitted_at) continue;  // overtaken
        if (command.op == engine::KvOp::Put) {
          state[command.key] = ref::StoreEntry{command.value, info.applied_position};
        } else {
          state.erase(command.key);
        }
      }
    }
    const std::set<NodeId> view(info.view.begin(), info.view.end());
    const ref::Desired desired = ref::desired_from(state);
    const auto excluded = ref::excluded_bases(desired, evidence_, info.applied_position);
    // DRAINING or DECOMMISSIONED: its entries do not count for scale
    // decisions, and unloading them is a drain's or an orphan's, not a
    // scale-down (engine-semantics.md §8.2).
    auto draining = [&](const NodeId& node) {
      auto it = state.find("node-lifecycle/" + node);
      return it != state.end() && (it->second.value == "DRAINING" || it->second.value == "DECOMMISSIONED");
    };
    // Live and ACTIVE entries of `artifact` on nodes in the view, not drained.
    auto tally = [&](const std::string& artifact) {
      std::pair<int, int> live_active{0, 0};
      for (const auto& node : view) {
        if (draining(node)) continue;
        const auto st = state_of(state, "slices/" + node + "/" + artifact);
        if (st && ref::is_live(*st)) ++live_active.first;
        if (st == ref::State::Active) ++live_active.second;
      }
      return live_active;
    };
    bool ok = true;
    for (const auto& command : batch.commands) {
      const auto key = ref::classify_key(command.key);
      const auto value =
          command.op == engine::KvOp::Put ? ref::read_slice_value(command.value) : std::nullopt;
      const bool unload = key.kind == ref::KeyKind::Slice && value && value->state == ref::State::Unload;
      bool scale_down = false;
      std::pair<int, int> before{0, 0};
      const ref::DesiredBase* d = nullptr;
      if (unload) {
        d = desired.find(key.base);
        const auto current = state_of(state, command.key);
        // A rolling step (version-routing/{base} in the writer's state) is
        // not a scale-down: availability-floor's rolling clause (desired -
        // max_unavailable over all versions, simulation.md §5) is judged by
        // the `rolling` invariant (judge_rolling).
        scale_down = d != nullptr && excluded.count(key.base) == 0 && d->artifact == key.artifact &&
                     current && ref::is_live(*current) && view.count(key.node) != 0 && !draining(key.node) &&
                     state.count("version-routing/" + key.base) == 0;
        if (scale_down) {
          // Stuck cleanup: in its state (since its value first showed it) long enough.
          if (const auto timeout = state_timeout(rules_, *current)) {
            std::uint64_t since = info.applied_position;
            for (std::uint64_t p = info.applied_position; p > 0; --p) {
              const auto v = canonical_.value_at(command.key, p);
              const auto parsed = v ? ref::read_slice_value(*v) : std::nullopt;
              if (!parsed || parsed->state != *current) break;
              since = p;
            }
            const Nanos stuck_after =
                rules_.stuck_multiplier * *timeout / 1'000'000 * (1'000'000 - rules_.clock_drift_ppm);
            if (since < decided_at_.size() && s.submitted_at - decided_at_[since] >= stuck_after)
              scale_down = false;
          }
        }
        if (scale_down) before = tally(key.artifact);
      }
      if (command.op == engine::KvOp::Put) {
        state[command.key] = ref::StoreEntry{command.value, info.applied_position};
      } else {
        state.erase(command.key);
      }
      if (!scale_down) continue;
      const auto after = tally(key.artifact);
      if (after.first < d->min_instances) {
        ok = false;
        if (first_floor.empty()) {
          first_floor = fmt::format(
              "UNLOAD {} by cdm@{} leaves {} live entries of {} (min_instances {}, {} before) "
              "in its state at applied position {} with its pending commands",
              command.key, s.node, after.first, key.artifact, d->min_instances, before.first,
              info.applied_position);
        }
      }
      if (after.second < std::min(d->min_instances, before.second)) {
        ok = false;
        if (first_availability.empty()) {
          first_availability = fmt::format(
              "UNLOAD {} by cdm@{} leaves {} ACTIVE entries of {} (min_instances {}, {} ACTIVE before) "
              "in its state at applied position {} with its pending commands",
              command.key, s.node, after.second, key.artifact, d->min_instances, before.second,
              info.applied_position);
        }
      }
    }
    ok_for_some = ok_for_some || ok;
  }
  if (!judged_any || ok_for_some) return;
  const auto& node = batch.submitters.front().node;
  if (!first_floor.empty()) {
    recorder_.violation(invariant::kScaleFloor, now, node,
                        fmt::format("position {}: {}; writers {}", position, first_floor, writers_of(batch)));
  }
  if (!first_availability.empty()) {
    recorder_.violation(
        invariant::kAvailabilityFloor, now, node,
        fmt::format("position {}: {}; writers {}", position, first_availability, writers_of(batch)));
  }
}

void InvariantSuite::on_node_fault(Nanos now, const NodeId& node, sim::NodeFault fault) {
  now_ = now;
  switch (fault) {
    case sim::NodeFault::Crash:
    case sim::NodeFault::Restart:
    case sim::NodeFault::Remove:
      cdms_.stopped(node);
      forget_node(node);
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
  now_ = now;
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
  now_ = now;
  auto [running, fresh] = slice_ops_.emplace(std::make_pair(node, artifact), op);
  if (!fresh) {
    recorder_.violation(invariant::kSliceStore, now, node,
                        fmt::format("{} starts {} of {} while its {} of it is still running", node,
                                    slice_op_text(op), artifact, slice_op_text(running->second)));
    running->second = op;
  }
  if (op != sim::SliceOp::Load || held_before == engine::SliceHolding::NotHeld) return;
  recorder_.violation(invariant::kSliceStore, now, node,
                      fmt::format("{} loads {} while its slice store already holds it ({})", node, artifact,
                                  held_before == engine::SliceHolding::Active ? "active" : "loaded"));
}

void InvariantSuite::on_slice_op_done(Nanos now, const NodeId& node, const std::string& artifact,
                                      sim::SliceOp, const engine::SliceResult&) {
  now_ = now;
  slice_ops_.erase(std::make_pair(node, artifact));
}

void InvariantSuite::on_engine_assert(Nanos now, const NodeId& node, const std::string& message) {
  cdms_.stopped(node);
  recorder_.violation(invariant::kEngineAssert, now, node,
                      fmt::format("seed {}: engine on {} failed: {}", seed_, node, message));
}

}  // namespace aether::properties

namespace aether::properties {

ref::PositionedStore InvariantSuite::writer_state(const sim::Submitter& s, const SubmitInfo& info,
                                                  const std::vector<std::string>& prefixes) const {
  auto state = canonical_.store_at(info.applied_position, prefixes);
  for (const auto& [k, v] : s.applied) {  // exactly what it had applied for the batch's keys
    if (std::none_of(prefixes.begin(), prefixes.end(),
                     [&](const std::string& p) { return starts_with(k, p); }))
      continue;
    if (v) {
      auto old = state.find(k);
      state[k] = ref::StoreEntry{
          *v, old != state.end() && old->second.value == *v ? old->second.position : info.applied_position};
    } else {
      state.erase(k);
    }
  }
  return state;
}

namespace {

std::optional<std::string> value_in(const ref::PositionedStore& state, const std::string& key) {
  auto it = state.find(key);
  return it == state.end() ? std::nullopt : std::optional<std::string>(it->second.value);
}

std::optional<ref::NodeState> node_state_in(const ref::PositionedStore& state, const NodeId& node) {
  auto value = value_in(state, "node-lifecycle/" + node);
  return value ? ref::read_node_state(*value) : std::nullopt;
}

std::optional<ref::State> slice_state_in(const ref::PositionedStore& state, const std::string& key) {
  auto value = value_in(state, key);
  auto parsed = value ? ref::read_slice_value(*value) : std::nullopt;
  return parsed ? std::optional<ref::State>(parsed->state) : std::nullopt;
}

bool drained(std::optional<ref::NodeState> state) {
  return state == ref::NodeState::Draining || state == ref::NodeState::Decommissioned;
}

// What one cdm submitter's batch does wrong under `drain` and `drain-order`,
// judged on the state it had applied (plus the batch's earlier commands).
struct DrainFindings {
  std::string drain;
  std::string order;
};

}  // namespace

void InvariantSuite::judge_drain(Nanos now, std::uint64_t position, const sim::BatchRecord& batch) {
  batch_evictions_.clear();
  if (any_client(batch)) return;  // the operator's own writes
  // Cheap filter: only LOADs, UNLOADs and DECOMMISSIONED puts matter.
  bool relevant = false;
  for (const auto& command : batch.commands) {
    if (command.op != engine::KvOp::Put) continue;
    const auto key = ref::classify_key(command.key);
    if (key.kind == ref::KeyKind::NodeLifecycle) {
      relevant = relevant || ref::read_node_state(command.value) == ref::NodeState::Decommissioned;
    } else if (key.kind == ref::KeyKind::Slice) {
      const auto value = ref::read_slice_value(command.value);
      relevant =
          relevant || (value && (value->state == ref::State::Load || value->state == ref::State::Unload));
    }
  }
  if (!relevant) return;
  std::optional<DrainFindings> first;
  bool clean_for_some = false;
  std::optional<std::set<std::string>> classified;  // evictions for every cdm submitter judged
  for (std::size_t i = 0; i < batch.submitters.size() && !clean_for_some; ++i) {
    const auto& s = batch.submitters[i];
    if (s.writer != "cdm") continue;
    const auto& info = submit_info(batch, i);
    auto state = writer_state(s, info, {"slices/", "node-lifecycle/", "blueprints/", "slice-target/"});
    // desired_from reads only blueprints/ and slice-target/ entries: when the
    // submitter's own applied values hold none of those keys, they are the
    // store's at its applied position, which desired_at caches (issue 14,
    // seventh pass).
    const bool own_desired_keys = std::any_of(s.applied.begin(), s.applied.end(), [](const auto& entry) {
      return starts_with(entry.first, "blueprints/") || starts_with(entry.first, "slice-target/");
    });
    const auto desired_held = own_desired_keys
                                  ? std::make_shared<const ref::Desired>(ref::desired_from(state))
                                  : desired_at(info.applied_position);
    const ref::Desired& desired = *desired_held;
    const auto excluded = ref::excluded_bases(desired, evidence_, info.applied_position);
    std::vector<NodeId> eligible;
    for (const auto& node : info.view) {
      if (node_state_in(state, node) == ref::NodeState::OnDuty) eligible.push_back(node);
    }
    std::sort(eligible.begin(), eligible.end());
    // An eviction of `base` at `artifact` (an owned, non-excluded base at its version)?
    auto evictable = [&](const ref::Key& key) {
      const auto* d = desired.find(key.base);
      return d != nullptr && excluded.count(key.base) == 0 && key.base + ":" + d->version == key.artifact;
    };
    DrainFindings found;
    std::set<std::string> evictions;  // this batch's, by this submitter's state
    for (const auto& command : batch.commands) {
      const auto key = ref::classify_key(command.key);
      if (command.op == engine::KvOp::Put && key.kind == ref::KeyKind::NodeLifecycle &&
          ref::read_node_state(command.value) == ref::NodeState::Decommissioned && found.drain.empty()) {
        const std::string prefix = "slices/" + key.node + "/";
        auto it = state.lower_bound(prefix);
        if (it != state.end() && starts_with(it->first, prefix)) {
          found.drain = fmt::format("DECOMMISSIONED for {} by cdm@{} while {} exists in its applied state",
                                    key.node, s.node, it->first);
        }
      }
      if (key.kind != ref::KeyKind::Slice) {
        if (command.op == engine::KvOp::Put) state[command.key] = ref::StoreEntry{command.value, position};
        continue;
      }
      const auto value =
          command.op == engine::KvOp::Put ? ref::read_slice_value(command.value) : std::nullopt;
      const auto node_state = node_state_in(state, key.node);
      if (value && value->state == ref::State::Load && drained(node_state) && found.drain.empty()) {
        found.drain = fmt::format("LOAD {} by cdm@{} to a node {} in its applied state", command.key, s.node,
                                  ref::node_state_name(*node_state));
      }
      const auto before = slice_state_in(state, command.key);
      // Stuck cleanup (LOADING/ACTIVATING past their timeouts) is not an
      // eviction: states with a timeout are left out (docs/checks.md).
      const bool eviction = value && value->state == ref::State::Unload &&
                            node_state == ref::NodeState::Draining && before && ref::is_live(*before) &&
                            *before != ref::State::Loading && *before != ref::State::Activating &&
                            *before != ref::State::Deactivating && evictable(key);
      if (eviction) evictions.insert(command.key);
      if (eviction && found.order.empty()) {
        const auto* d = desired.find(key.base);
        int active_on_eligible = 0;
        int other_active = 0;
        int other_live = 0;
        for (const auto& [k, entry] : state) {
          const auto other = ref::classify_key(k);
          if (other.kind != ref::KeyKind::Slice || other.artifact != key.artifact || other.node == key.node)
            continue;
          const auto st = slice_state_in(state, k);
          if (!st) continue;
          if (*st == ref::State::Active) {
            ++other_active;
            if (std::binary_search(eligible.begin(), eligible.end(), other.node)) ++active_on_eligible;
          }
          if (ref::is_live(*st)) ++other_live;
        }
        const int owed = std::min(d->count, static_cast<int>(eligible.size()));
        std::string pending;
        const std::string prefix = "slices/" + key.node + "/";
        for (auto it = state.lower_bound(prefix); it != state.end() && starts_with(it->first, prefix); ++it) {
          if (it->first == command.key) continue;
          const auto st = slice_state_in(state, it->first);
          const auto other = ref::classify_key(it->first);
          // Pending: an UNLOAD this check classified as an eviction when it
          // committed (or earlier in this batch), still UNLOAD/UNLOADING.
          if ((st == ref::State::Unload || st == ref::State::Unloading) && evictable(other) &&
              (evictions.count(it->first) != 0 || eviction_pending_at(it->first, info.applied_position)))
            pending = it->first;
        }
        if (active_on_eligible < owed) {
          found.order = fmt::format(
              "eviction UNLOAD {} by cdm@{}: {} ACTIVE on eligible nodes [{}], owed min({}, {}) = {}",
              command.key, s.node, active_on_eligible, fmt::join(eligible, ", "), d->count, eligible.size(),
              owed);
        } else if (!pending.empty()) {
          found.order = fmt::format("eviction UNLOAD {} by cdm@{} while the eviction of {} is pending",
                                    command.key, s.node, pending);
        } else if (*before == ref::State::Active && other_active == 0 && other_live == 0) {
          found.order = fmt::format("eviction UNLOAD {} by cdm@{}: its last ACTIVE entry, no other live one",
                                    command.key, s.node);
        }
      }
      if (command.op == engine::KvOp::Put) {
        state[command.key] = ref::StoreEntry{command.value, position};
      } else {
        state.erase(command.key);
      }
    }
    if (!classified) {
      classified = std::move(evictions);
    } else {
      std::erase_if(*classified, [&](const std::string& key) { return evictions.count(key) == 0; });
    }
    if (found.drain.empty() && found.order.empty()) {
      clean_for_some = true;
    } else if (!first) {
      first = found;
    }
  }
  if (classified) batch_evictions_ = std::move(*classified);
  if (clean_for_some || !first) return;
  const auto node = batch.submitters.front().node;
  if (!first->drain.empty()) {
    recorder_.violation(
        invariant::kDrain, now, node,
        fmt::format("position {}: {}; writers {}", position, first->drain, writers_of(batch)));
  }
  if (!first->order.empty()) {
    recorder_.violation(
        invariant::kDrainOrder, now, node,
        fmt::format("position {}: {}; writers {}", position, first->order, writers_of(batch)));
  }
}

}  // namespace aether::properties
