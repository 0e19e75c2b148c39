#include "sim/consensus_kv.h"

#include <algorithm>
#include <iterator>

#include "sim/trace.h"

namespace aether::sim {

namespace {

// A hash of a batch's commands in order (op, key, value of each): equal
// batches hash alike; a hit is confirmed by comparing the commands.
std::uint64_t content_hash(const engine::KvBatch& batch) {
  std::uint64_t h = batch.size();
  for (const auto& command : batch) {
    h = hash_bytes(h + (command.op == engine::KvOp::Put ? 1 : 2), command.key);
    h = hash_bytes(h, command.value);
  }
  return h;
}

}  // namespace

void NodeSet::insert_sorted(const NodeList& sorted) {
  if (sorted->empty()) return;
  if (empty() || (list().size() == 1 && std::binary_search(sorted->begin(), sorted->end(), list().front()))) {
    // The usual case (a fresh batch's submitter among its deciders): the
    // union is `sorted`, shared (issue 14, ninth pass: no copy by name).
    nodes_.clear();
    shared_ = sorted;
    return;
  }
  const std::vector<NodeId>& now = list();
  std::vector<NodeId> merged;
  merged.reserve(now.size() + sorted->size());
  std::set_union(now.begin(), now.end(), sorted->begin(), sorted->end(), std::back_inserter(merged));
  nodes_ = std::move(merged);
  shared_.reset();
}

TraceEvent& trace_commands(TraceEvent& event, std::string_view field, const engine::KvBatch& batch) {
  event.begin_list(field, batch.size());
  for (const auto& command : batch) {
    if (command.op == engine::KvOp::Put) {
      event.item({"put ", command.key, "=", command.value});
    } else {
      event.item({"remove ", command.key});
    }
  }
  return event;
}

SubmitTicket ConsensusKv::submit(Submitter submitter_in, engine::KvBatch batch, std::optional<Acks> acks) {
  const std::uint64_t hash = content_hash(batch);
  const std::uint64_t submission = next_submission_++;
  std::uint64_t batch_id = find_same(hash, batch);
  const bool merged = batch_id != 0;
  if (!merged) {
    batch_id = next_batch_++;
    Pending fresh;
    fresh.record.batch_id = batch_id;
    fresh.record.commands = std::move(batch);
    fresh.content_hash = hash;
    fresh.submit_seq = ++submit_seq_;
    by_content_.emplace(hash, batch_id);
    pending_.emplace(batch_id, std::move(fresh));
  }
  Pending& pending = pending_.at(batch_id);
  pending.record.submitters.push_back(std::move(submitter_in));
  const Submitter& submitter = pending.record.submitters.back();
  pending.submissions.push_back(submission);
  pending.live.insert(submission);
  pending.submission_node[submission] = submitter.node;
  pending.holders.insert(submitter.node);
  submission_batch_[submission] = batch_id;

  {
    auto event = world_.trace.event(world_.now(), "kv.submit");
    event.u64("batch", batch_id)
        .str("node", submitter.node)
        .str("writer", submitter.writer)
        .flag("merged", merged)
        .flag("cdm_active", submitter.cdm_active);
    if (submitter.cdm_tag) event.u64("cdm_tag", *submitter.cdm_tag);
    event.begin_list("applied", submitter.applied.size());
    for (const auto& [key, value] : submitter.applied) {
      if (value) {
        event.item({key, "=", *value});
      } else {
        event.item({key});
      }
    }
    if (!merged) trace_commands(event, "commands", pending.record.commands);
  }
  world_.notify([&](WorldObserver& o) { o.on_submit(world_.now(), pending.record, submitter); });

  if (pending.limbo) {
    // A live submitter revives a batch whose submitters had all failed.
    world_.loop.cancel(pending.limbo_event);
    pending.limbo = false;
    pending.limbo_waiting = false;
    pending.limbo_event = 0;
  }
  pending.orphan = false;
  if (pending.group == 0) {
    if (acks) {
      pending.held = false;
      leave(pending, std::move(acks->deciders));
      join_group(batch_id, world_.now() + acks->delay_ns);
    } else if (!pending.held) {
      // Too few peers answer: the batch stays on its node until they do.
      pending.held = true;
      world_.trace.event(world_.now(), "kv.hold").u64("batch", batch_id).str("node", submitter.node);
    }
  }
  return SubmitTicket{batch_id, submission};
}

void ConsensusKv::leave(Pending& batch, std::vector<NodeId> deciders) {
  batch.left = true;
  NodeList list = std::make_shared<const std::vector<NodeId>>(std::move(deciders));
  batch.holders.insert_sorted(list);
  batch.deciders = std::move(list);
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

bool ConsensusKv::hold_for_stall(bool& drawn) {
  const StallSettings& stall = world_.stall;
  if (world_.now() < stalled_until_) return true;
  if (stall.ppm == 0 || drawn) return false;
  drawn = true;
  if (!world_.stall_prng.chance_ppm(stall.ppm)) return false;
  const Nanos length = world_.stall_prng.duration_between(stall.min_ns, stall.max_ns);
  if (length <= 0) return false;
  stalled_until_ = world_.now() + length;
  world_.trace.event(world_.now(), "kv.stall").i64("for_ns", length).i64("until_ns", stalled_until_);
  return true;
}

void ConsensusKv::decide_group(std::uint64_t group_id) {
  auto it = groups_.find(group_id);
  if (it == groups_.end()) return;
  if (hold_for_stall(it->second.stall_drawn)) {
    // Every decision waits for the stall's end (views and quorum hold).
    it->second.event = world_.loop.schedule_at(stalled_until_, [this, group_id] { decide_group(group_id); });
    it->second.latest_ns = std::max(it->second.latest_ns, stalled_until_);
    return;
  }
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

std::uint64_t ConsensusKv::find_same(std::uint64_t hash, const engine::KvBatch& batch) const {
  auto [first, last] = by_content_.equal_range(hash);
  for (auto at = first; at != last; ++at) {
    if (pending_.at(at->second).record.commands == batch) return at->second;
  }
  return 0;
}

ConsensusKv::Pending ConsensusKv::take_pending(std::uint64_t batch_id) {
  auto it = pending_.find(batch_id);
  Pending batch = std::move(it->second);
  pending_.erase(it);
  auto [first, last] = by_content_.equal_range(batch.content_hash);
  for (auto at = first; at != last; ++at) {
    if (at->second == batch_id) {
      by_content_.erase(at);
      break;
    }
  }
  for (std::uint64_t submission : batch.submissions) submission_batch_.erase(submission);
  return batch;
}

void ConsensusKv::decide(std::uint64_t batch_id) {
  Pending batch = take_pending(batch_id);
  const std::uint64_t next = log_.size() + 1;
  for (const auto& command : batch.record.commands) {
    if (command.op == engine::KvOp::Put) {
      canonical_.put(command.key, command.value);
      versions_.put(next, command.key, command.value);
    } else {
      canonical_.remove(command.key);
      versions_.remove(next, command.key);
    }
  }
  versions_.set_digest(next, canonical_.digest());
  if (!batch.deciders || batch.deciders->empty()) {
    // Decided without a recorded majority (cannot happen through submit; kept total).
    batch.deciders = std::make_shared<const std::vector<NodeId>>(batch.holders.begin(), batch.holders.end());
  }
  std::vector<engine::KvNotification> notifications;
  notifications.reserve(batch.record.commands.size());
  for (const auto& command : batch.record.commands) {
    notifications.push_back(
        engine::KvNotification{command.op, command.key, command.value, next, engine::KvOrigin::Apply, next});
  }
  notifications_.push_back(std::move(notifications));
  log_.push_back(std::move(batch.record));
  decided_submissions_.push_back(std::move(batch.submissions));
  latest_deciders_ = std::move(batch.deciders);
  decided_at_.push_back(world_.now());
  const std::uint64_t position = log_.size();
  world_.trace.event(world_.now(), "kv.decide")
      .u64("position", position)
      .u64("batch", batch_id)
      .u64("digest", canonical_.digest());
  world_.notify([&](WorldObserver& o) { o.on_decide(world_.now(), position, log_.back()); });
  on_decided_(position);
  // What each submitter had applied is read by the checks at the decision
  // (on_decide) and never after: the log does not keep it (issue 14, ninth
  // pass: a fifth of the heap at 300 nodes).
  for (Submitter& submitter : log_[position - 1].submitters) {
    decltype(submitter.applied)().swap(submitter.applied);
  }
}

std::uint64_t ConsensusKv::position_at(Nanos at) const {
  return static_cast<std::uint64_t>(std::upper_bound(decided_at_.begin(), decided_at_.end(), at) -
                                    decided_at_.begin());
}

KvMap ConsensusKv::snapshot_at(std::uint64_t position) const {
  return position == log_.size() ? canonical_.entries() : versions_.snapshot(position);
}

void ConsensusKv::fail(std::uint64_t submission_id, SubmitFailure why) {
  auto found = submission_batch_.find(submission_id);
  if (found == submission_batch_.end()) return;  // already decided or dropped
  const std::uint64_t batch_id = found->second;
  Pending& batch = pending_.at(batch_id);
  if (batch.live.erase(submission_id) == 0) return;
  batch.submission_node.erase(submission_id);
  if (why == SubmitFailure::QuorumLost) batch.soft_failed = true;
  if (!batch.live.empty() || batch.limbo || batch.orphan) return;
  leave_group(batch);
  batch.held = false;
  if (!batch.left) {
    // It never left its node: it waits there for a path (a zombie write in
    // the making) unless every submitter crashed.
    if (!batch.soft_failed) return drop(batch_id);
    batch.orphan = true;
    world_.trace.event(world_.now(), "kv.orphan").u64("batch", batch_id);
    try_orphan(batch_id);
    return;
  }
  if (batch.soft_failed || world_.config.late_commit_ns > 0) {
    enter_limbo(batch_id);
  } else {
    drop(batch_id);
  }
}

void ConsensusKv::try_orphan(std::uint64_t batch_id) {
  auto it = pending_.find(batch_id);
  if (it == pending_.end() || !it->second.orphan) return;
  Pending& batch = it->second;
  if (batch.holders.empty()) return drop(batch_id);
  if (deciding_majority(batch.holders).empty()) return;  // no path yet
  batch.orphan = false;
  enter_limbo(batch_id);
}

void ConsensusKv::enter_limbo(std::uint64_t batch_id) {
  Pending& batch = pending_.at(batch_id);
  batch.limbo = true;
  batch.limbo_waiting = false;
  const Nanos window_ns =
      world_.config.late_commit_ns > 0 ? world_.config.late_commit_ns : world_.max_round_trip_ns();
  const bool decided_later = world_.faults_prng.chance_ppm(kPpmOne / 2);
  const Nanos within_ns = world_.faults_prng.duration_between(0, window_ns);
  batch.window_end = world_.now() + window_ns;
  world_.trace.event(world_.now(), "kv.limbo")
      .u64("batch", batch_id)
      .flag("decided_later", decided_later)
      .i64("resolve_in_ns", within_ns);
  batch.limbo_event = world_.loop.schedule_after(within_ns, [this, batch_id, decided_later] {
    auto it = pending_.find(batch_id);
    if (it == pending_.end() || !it->second.limbo) return;
    it->second.limbo_event = 0;
    if (decided_later) {
      try_late_decide(batch_id);
    } else {
      it->second.limbo = false;
      drop(batch_id);
    }
  });
}

void ConsensusKv::try_late_decide(std::uint64_t batch_id) {
  auto it = pending_.find(batch_id);
  if (it == pending_.end() || !it->second.limbo) return;
  Pending& batch = it->second;
  if (batch.limbo_event != 0) world_.loop.cancel(batch.limbo_event);
  batch.limbo_event = 0;
  if (hold_for_stall(batch.stall_drawn)) {
    batch.limbo_waiting = false;
    batch.limbo_event = world_.loop.schedule_at(stalled_until_, [this, batch_id] {
      auto found = pending_.find(batch_id);
      if (found == pending_.end()) return;
      found->second.limbo_event = 0;
      try_late_decide(batch_id);
    });
    return;
  }
  std::vector<NodeId> majority = deciding_majority(batch.holders);
  if (!majority.empty()) {
    batch.limbo = false;
    batch.limbo_waiting = false;
    batch.deciders = std::make_shared<const std::vector<NodeId>>(std::move(majority));
    decide(batch_id);
    return;
  }
  if (world_.now() >= batch.window_end) {
    batch.limbo = false;
    drop(batch_id);
    return;
  }
  // No deciding majority now: wait for one (links_changed) until the window ends.
  batch.limbo_waiting = true;
  batch.limbo_event = world_.loop.schedule_at(batch.window_end, [this, batch_id] {
    auto found = pending_.find(batch_id);
    if (found == pending_.end() || !found->second.limbo) return;
    found->second.limbo_event = 0;
    found->second.limbo = false;
    drop(batch_id);
  });
}

void ConsensusKv::links_changed() {
  if (pending_.empty()) return;
  std::vector<std::uint64_t> ids;
  for (const auto& [id, batch] : pending_) {
    if (batch.held || batch.orphan || batch.limbo_waiting) ids.push_back(id);
  }
  for (std::uint64_t id : ids) {
    auto it = pending_.find(id);
    if (it == pending_.end()) continue;
    Pending& batch = it->second;
    if (batch.held && batch.group == 0 && probe_) {
      for (const auto& [submission, node] : batch.submission_node) {
        std::optional<Acks> acks = probe_(node);
        if (!acks) continue;
        batch.held = false;
        world_.trace.event(world_.now(), "kv.unhold").u64("batch", id).str("node", node);
        leave(batch, std::move(acks->deciders));
        join_group(id, world_.now() + acks->delay_ns);
        break;
      }
    } else if (batch.orphan) {
      try_orphan(id);
    } else if (batch.limbo_waiting) {
      try_late_decide(id);
    }
  }
}

void ConsensusKv::node_stopped(const NodeId& node) {
  std::vector<std::uint64_t> lost;
  for (auto& [id, batch] : pending_) {
    if (batch.holders.erase(node) != 0 && batch.orphan && batch.holders.empty()) lost.push_back(id);
  }
  for (std::uint64_t id : lost) drop(id);
}

std::vector<NodeId> ConsensusKv::deciding_majority(const NodeSet& holders) const {
  const std::size_t need = world_.majority();
  auto active = [&](const NodeId& n) { return !world_.node_active || world_.node_active(n); };
  auto linked = [&](const NodeId& a, const NodeId& b) {
    return !world_.link_cut || (!world_.link_cut(a, b) && !world_.link_cut(b, a));
  };
  std::vector<NodeId> best;
  for (const NodeId& holder : holders) {
    if (world_.configured.count(holder) == 0 || !active(holder)) continue;
    // Candidates: the holder's configured, active peers linked both ways.
    std::vector<NodeId> candidates;
    for (const NodeId& peer : world_.configured) {
      if (peer != holder && active(peer) && linked(holder, peer)) candidates.push_back(peer);
    }
    if (candidates.size() + 1 < need) continue;
    const std::size_t n = candidates.size();
    std::vector<std::vector<bool>> adjacent(n, std::vector<bool>(n, false));
    bool complete = true;
    for (std::size_t i = 0; i < n; ++i) {
      for (std::size_t j = i + 1; j < n; ++j) {
        const bool link = linked(candidates[i], candidates[j]);
        adjacent[i][j] = adjacent[j][i] = link;
        complete = complete && link;
      }
    }
    std::vector<std::size_t> chosen;
    if (complete) {
      for (std::size_t i = 0; i < n; ++i) chosen.push_back(i);
    } else {
      // Largest clique among the candidates: exhaustive with pruning while
      // small, greedy (most-linked first) beyond 24 candidates.
      std::vector<std::size_t> current;
      if (n <= 24) {
        std::function<void(std::size_t)> grow = [&](std::size_t from) {
          if (current.size() > chosen.size()) chosen = current;
          for (std::size_t k = from; k < n; ++k) {
            if (current.size() + (n - k) <= chosen.size()) return;
            bool fits = true;
            for (std::size_t c : current) fits = fits && adjacent[c][k];
            if (!fits) continue;
            current.push_back(k);
            grow(k + 1);
            current.pop_back();
          }
        };
        grow(0);
      } else {
        std::vector<std::size_t> order(n);
        for (std::size_t i = 0; i < n; ++i) order[i] = i;
        auto degree = [&](std::size_t i) { return std::count(adjacent[i].begin(), adjacent[i].end(), true); };
        std::stable_sort(order.begin(), order.end(),
                         [&](std::size_t a, std::size_t b) { return degree(a) > degree(b); });
        for (std::size_t k : order) {
          bool fits = true;
          for (std::size_t c : chosen) fits = fits && adjacent[c][k];
          if (fits) chosen.push_back(k);
        }
        std::sort(chosen.begin(), chosen.end());
      }
    }
    if (chosen.size() + 1 < need) continue;
    std::vector<NodeId> members{holder};
    for (std::size_t i : chosen) members.push_back(candidates[i]);
    std::sort(members.begin(), members.end());
    if (members.size() > best.size() || (members.size() == best.size() && members < best)) best = members;
  }
  return best;
}

void ConsensusKv::drop(std::uint64_t batch_id) {
  Pending batch = take_pending(batch_id);
  if (batch.limbo_event != 0) world_.loop.cancel(batch.limbo_event);
  world_.trace.event(world_.now(), "kv.drop").u64("batch", batch_id);
  world_.notify([&](WorldObserver& o) { o.on_batch_dropped(world_.now(), batch.record); });
}

}  // namespace aether::sim
