#include "sim/consensus_kv.h"

#include <algorithm>

namespace aether::sim {

namespace {

std::string content_key(const engine::KvBatch& batch) {
  std::string out;
  for (const auto& command : batch) {
    out.push_back(command.op == engine::KvOp::Put ? 'P' : 'R');
    out += std::to_string(command.key.size());
    out.push_back(':');
    out += command.key;
    out += std::to_string(command.value.size());
    out.push_back(':');
    out += command.value;
  }
  return out;
}

}  // namespace

std::vector<std::string> describe_batch(const engine::KvBatch& batch) {
  std::vector<std::string> out;
  out.reserve(batch.size());
  for (const auto& command : batch) {
    if (command.op == engine::KvOp::Put) {
      out.push_back("put " + command.key + "=" + command.value);
    } else {
      out.push_back("remove " + command.key);
    }
  }
  return out;
}

SubmitTicket ConsensusKv::submit(const Submitter& submitter, const engine::KvBatch& batch,
                                 Nanos decision_delay_ns) {
  std::string content = content_key(batch);
  const std::uint64_t submission = next_submission_++;
  std::uint64_t batch_id = 0;
  bool merged = false;
  auto found = by_content_.find(content);
  if (found != by_content_.end()) {
    batch_id = found->second;
    merged = true;
  } else {
    batch_id = next_batch_++;
    Pending fresh;
    fresh.record.batch_id = batch_id;
    fresh.record.commands = batch;
    fresh.content = content;
    fresh.submit_seq = ++submit_seq_;
    by_content_.emplace(std::move(content), batch_id);
    pending_.emplace(batch_id, std::move(fresh));
  }
  Pending& pending = pending_.at(batch_id);
  pending.record.submitters.push_back(submitter);
  pending.submissions.push_back(submission);
  pending.live.insert(submission);
  submission_batch_[submission] = batch_id;

  {
    auto event = world_.trace.event(world_.now(), "kv.submit");
    event.u64("batch", batch_id)
        .str("node", submitter.node)
        .str("writer", submitter.writer)
        .flag("merged", merged)
        .flag("cdm_active", submitter.cdm_active);
    if (submitter.cdm_tag) event.u64("cdm_tag", *submitter.cdm_tag);
    std::vector<std::string> applied;
    for (const auto& [key, value] : submitter.applied) applied.push_back(value ? key + "=" + *value : key);
    event.list("applied", applied);
    if (!merged) event.list("commands", describe_batch(batch));
  }
  world_.notify([&](WorldObserver& o) { o.on_submit(world_.now(), pending.record, submitter); });

  if (pending.limbo) {
    // A live submitter revives a batch whose submitters had all failed.
    world_.loop.cancel(pending.limbo_event);
    pending.limbo = false;
    pending.limbo_event = 0;
  }
  if (pending.group == 0) join_group(batch_id, world_.now() + decision_delay_ns);
  return SubmitTicket{batch_id, submission};
}

void ConsensusKv::join_group(std::uint64_t batch_id, Nanos decision_ns) {
  Pending& batch = pending_.at(batch_id);
  auto open = groups_.find(open_group_);
  const Nanos window_ns = world_.network.max_latency_ns();
  if (open == groups_.end() || decision_ns < open->second.first_ns - window_ns ||
      decision_ns > open->second.first_ns + window_ns) {
    open_group_ = next_group_++;
    Group group;
    group.first_ns = decision_ns;
    group.latest_ns = decision_ns;
    open = groups_.emplace(open_group_, std::move(group)).first;
  }
  Group& group = open->second;
  group.batches.push_back(batch_id);
  batch.group = open->first;
  if (group.event == 0 || decision_ns > group.latest_ns) {
    if (group.event != 0) world_.loop.cancel(group.event);
    group.latest_ns = std::max(group.latest_ns, decision_ns);
    const std::uint64_t group_id = open->first;
    group.event = world_.loop.schedule_at(group.latest_ns, [this, group_id] { decide_group(group_id); });
  }
}

void ConsensusKv::leave_group(Pending& batch) {
  if (batch.group == 0) return;
  auto it = groups_.find(batch.group);
  batch.group = 0;
  if (it == groups_.end()) return;
  auto& members = it->second.batches;
  members.erase(std::remove(members.begin(), members.end(), batch.record.batch_id), members.end());
  if (members.empty()) {
    world_.loop.cancel(it->second.event);
    if (open_group_ == it->first) open_group_ = 0;
    groups_.erase(it);
  }
}

void ConsensusKv::decide_group(std::uint64_t group_id) {
  auto it = groups_.find(group_id);
  if (it == groups_.end()) return;
  std::vector<std::uint64_t> members = std::move(it->second.batches);
  if (open_group_ == group_id) open_group_ = 0;
  groups_.erase(it);
  // Members in submit order (batch ids grow with first submits), then the
  // permutation of the configured kv_order.
  std::sort(members.begin(), members.end(), [&](std::uint64_t a, std::uint64_t b) {
    return pending_.at(a).submit_seq < pending_.at(b).submit_seq;
  });
  if (world_.config.kv_order == KvOrderMode::Adversarial) {
    std::reverse(members.begin(), members.end());
  } else {
    world_.order_prng.shuffle(members);
  }
  for (std::uint64_t batch_id : members) {
    pending_.at(batch_id).group = 0;
    decide(batch_id);
  }
}

ConsensusKv::Pending ConsensusKv::take_pending(std::uint64_t batch_id) {
  auto it = pending_.find(batch_id);
  Pending batch = std::move(it->second);
  pending_.erase(it);
  by_content_.erase(batch.content);
  for (std::uint64_t submission : batch.submissions) submission_batch_.erase(submission);
  return batch;
}

void ConsensusKv::decide(std::uint64_t batch_id) {
  Pending batch = take_pending(batch_id);
  for (const auto& command : batch.record.commands) {
    if (command.op == engine::KvOp::Put) {
      canonical_.put(command.key, command.value);
      revisions_[command.key] = log_.size() + 1;
    } else {
      canonical_.remove(command.key);
      revisions_.erase(command.key);
    }
  }
  log_.push_back(std::move(batch.record));
  decided_submissions_.push_back(std::move(batch.submissions));
  const std::uint64_t position = log_.size();
  world_.trace.event(world_.now(), "kv.decide")
      .u64("position", position)
      .u64("batch", batch_id)
      .u64("digest", canonical_.digest());
  world_.notify([&](WorldObserver& o) { o.on_decide(world_.now(), position, log_.back()); });
  on_decided_(position);
}

void ConsensusKv::fail(std::uint64_t submission_id, SubmitFailure why) {
  auto found = submission_batch_.find(submission_id);
  if (found == submission_batch_.end()) return;  // already decided or dropped
  const std::uint64_t batch_id = found->second;
  Pending& batch = pending_.at(batch_id);
  if (batch.live.erase(submission_id) == 0) return;
  if (why == SubmitFailure::QuorumLost) batch.soft_failed = true;
  if (!batch.live.empty() || batch.limbo) return;
  leave_group(batch);
  if (batch.soft_failed) {
    enter_limbo(batch_id);
  } else {
    drop(batch_id);
  }
}

void ConsensusKv::enter_limbo(std::uint64_t batch_id) {
  Pending& batch = pending_.at(batch_id);
  batch.limbo = true;
  const bool decided_later = world_.faults_prng.chance_ppm(kPpmOne / 2);
  const Nanos within_ns = world_.faults_prng.duration_between(0, world_.max_round_trip_ns());
  world_.trace.event(world_.now(), "kv.limbo")
      .u64("batch", batch_id)
      .flag("decided_later", decided_later)
      .i64("resolve_in_ns", within_ns);
  batch.limbo_event = world_.loop.schedule_after(within_ns, [this, batch_id, decided_later] {
    auto it = pending_.find(batch_id);
    if (it == pending_.end() || !it->second.limbo) return;
    it->second.limbo = false;
    it->second.limbo_event = 0;
    if (decided_later) {
      decide(batch_id);
    } else {
      drop(batch_id);
    }
  });
}

void ConsensusKv::drop(std::uint64_t batch_id) {
  Pending batch = take_pending(batch_id);
  world_.trace.event(world_.now(), "kv.drop").u64("batch", batch_id);
  world_.notify([&](WorldObserver& o) { o.on_batch_dropped(world_.now(), batch.record); });
}

}  // namespace aether::sim
