#include "properties/probes.h"

#include <string_view>

namespace aether::properties {

namespace {

constexpr const char* kLeaderChangeDuringLoad = "leader-change-during-load";
constexpr const char* kQuorumLostRegained = "quorum-lost-and-regained";
constexpr const char* kDeposedBatchAfterSuccessor = "deposed-leader-batch-after-successor";
constexpr const char* kClientEditsReordered = "concurrent-client-edits-reordered";
constexpr const char* kCrashBetweenWrites = "crash-between-writes-of-a-reconcile";
constexpr const char* kZombieWrite = "zombie-write";
constexpr const char* kQuorumEventOutOfOrder = "quorum-event-delivered-out-of-order";
constexpr const char* kStaleReadCutOff = "stale-read-served-by-a-cut-off-node";
constexpr const char* kHeldBatchDecidedLate = "zombie-write-held-batch-decided-late";

// The kinds a probe looks at; other lines are skipped without parsing.
bool interesting(const std::string& line) {
  const auto k = line.find("\"kind\":\"");
  if (k == std::string::npos) return false;
  // Long enough for the longest prefix below ("fault.quorum_held\"" is 18).
  const auto kind = std::string_view(line).substr(k + 8, 24);
  for (const char* prefix :
       {"kv.submit\"", "kv.decide\"", "kv.drop\"", "leader\"", "cdm.activated\"", "cdm.deactivated\"",
        "slice.start\"", "slice.done\"", "quorum\"", "node.crash\"", "client.write\"", "client.commit\"",
        "fault.quorum_held", "kv.held\"", "kv.release\"", "kv.hold\"", "kv.limbo\"", "node.restart\""}) {
    if (kind.substr(0, std::string_view(prefix).size()) == prefix) return true;
  }
  return false;
}

// Field access on one compact trace line (trace-format.md: keys in a fixed
// order, string values without escapes for the fields read here); cheaper
// than parsing every line as JSON.
class Line {
 public:
  explicit Line(const std::string& line) : line_(line) {}
  std::string str(const char* key) const {
    const auto at = value_at(key);
    if (at == std::string::npos || line_[at] != '"') return {};
    const auto end = line_.find('"', at + 1);
    return end == std::string::npos ? std::string() : line_.substr(at + 1, end - at - 1);
  }
  std::uint64_t u64(const char* key) const {
    auto at = value_at(key);
    std::uint64_t v = 0;
    if (at == std::string::npos) return 0;
    for (; at < line_.size() && line_[at] >= '0' && line_[at] <= '9'; ++at)
      v = v * 10 + static_cast<std::uint64_t>(line_[at] - '0');
    return v;
  }
  // The text right after `"key":[`, for lists.
  std::string_view list(const char* key) const {
    const auto at = value_at(key);
    if (at == std::string::npos || line_[at] != '[') return {};
    return std::string_view(line_).substr(at + 1);
  }

 private:
  std::size_t value_at(const char* key) const {
    const std::string needle = std::string(",\"") + key + "\":";
    const auto at = line_.find(needle);
    return at == std::string::npos ? std::string::npos : at + needle.size();
  }
  const std::string& line_;
};

}  // namespace

const std::vector<ProbeDoc>& probe_docs() {
  static const std::vector<ProbeDoc> docs = {
      {kLeaderChangeDuringLoad, "the reported leader changes while a slice LOAD is in flight on some node"},
      {kQuorumLostRegained, "a node loses its quorum and later regains it"},
      {kDeposedBatchAfterSuccessor,
       "a cdm batch of an older leader term is decided after a batch of a newer term"},
      {kClientEditsReordered, "two clients write one blueprint key and the later-queued write commits first"},
      {kCrashBetweenWrites, "a node crashes while one of its CDM's batches is still undecided"},
      {kZombieWrite, "a cdm batch is decided after its submitter's CDM was deactivated or the node crashed"},
      {kQuorumEventOutOfOrder, "a quorum event is held back and delivered after the next one (fault point)"},
      {kStaleReadCutOff,
       "a node that still believes it has quorum is cut off from the deciding majority (kv.held): its store "
       "is "
       "stale and it serves reads from it (once per cut-off spell)"},
      {kHeldBatchDecidedLate,
       "a batch held on a cut-off submitter (kv.hold) or whose outcome became unknown to its caller "
       "(kv.limbo) is decided later anyway"},
  };
  return docs;
}

std::map<std::string, std::int64_t> ProbeSet::hits() const {
  std::map<std::string, std::int64_t> out;
  for (const auto& d : probe_docs()) {
    const auto it = hits_.find(d.name);
    out[d.name] = it == hits_.end() ? 0 : it->second;
  }
  return out;
}

void ProbeSet::observe(const std::string& line) {
  if (!interesting(line)) return;
  const Line e(line);
  const auto kind = e.str("kind");
  if (kind == "slice.start" || kind == "slice.done") {
    if (e.str("op") != "load") return;
    auto& n = loads_in_flight_[e.str("node")];
    n += kind == "slice.start" ? 1 : (n > 0 ? -1 : 0);
  } else if (kind == "leader") {
    const auto leader = e.str("leader");
    if (leader != leader_ && !leader_.empty()) {
      for (const auto& [node, n] : loads_in_flight_)
        if (n > 0) {
          hit(kLeaderChangeDuringLoad);
          break;
        }
    }
    leader_ = leader;
  } else if (kind == "quorum") {
    const auto node = e.str("node");
    has_quorum_[node] = e.str("change") != "lost";
    if (e.str("change") == "lost") {
      quorum_lost_[node] = true;
      stale_spell_.erase(node);
    } else if (quorum_lost_[node]) {
      quorum_lost_[node] = false;
      hit(kQuorumLostRegained);
    }
  } else if (kind == "kv.submit") {
    if (e.str("writer") != "cdm") return;
    const auto batch = e.u64("batch");
    const auto node = e.str("node");
    cdm_batch_tag_[batch] = e.u64("cdm_tag");
    cdm_batch_node_[batch] = node;
    cdm_batch_epoch_[batch] = activations_[node];
  } else if (kind == "kv.decide" || kind == "kv.drop") {
    const auto batch = e.u64("batch");
    if (late_batches_.erase(batch) > 0 && kind == "kv.decide") hit(kHeldBatchDecidedLate);
    const auto it = cdm_batch_node_.find(batch);
    if (it == cdm_batch_node_.end()) return;
    if (kind == "kv.decide") {
      const auto tag = cdm_batch_tag_[batch];
      if (tag != 0 && tag < max_decided_tag_) hit(kDeposedBatchAfterSuccessor);
      if (tag > max_decided_tag_) max_decided_tag_ = tag;
      if (activations_[it->second] != cdm_batch_epoch_[batch]) hit(kZombieWrite);
    }
    cdm_batch_tag_.erase(batch);
    cdm_batch_epoch_.erase(batch);
    cdm_batch_node_.erase(it);
  } else if (kind == "cdm.activated" || kind == "cdm.deactivated") {
    ++activations_[e.str("node")];
  } else if (kind == "node.crash") {
    const auto node = e.str("node");
    for (const auto& [batch, n] : cdm_batch_node_)
      if (n == node) {
        hit(kCrashBetweenWrites);
        break;
      }
    ++activations_[node];
    loads_in_flight_.erase(node);
    has_quorum_.erase(node);
    stale_spell_.erase(node);
  } else if (kind == "client.write") {
    // One command putting a blueprint: "commands":["put blueprints/{id}={...}"]
    const auto commands = e.list("commands");
    const std::string_view prefix = "\"put blueprints/";
    if (commands.substr(0, prefix.size()) != prefix) return;
    const auto eq = commands.find('=');
    if (eq == std::string_view::npos) return;
    const auto key = std::string(commands.substr(5, eq - 5));
    client_writes_[{e.str("client"), e.u64("write")}] = {key, ++client_order_};
  } else if (kind == "client.commit") {
    const auto it = client_writes_.find({e.str("client"), e.u64("write")});
    if (it == client_writes_.end()) return;
    const auto& [key, order] = it->second;
    const auto client = e.str("client");
    const auto last = last_committed_order_.find(key);
    if (last != last_committed_order_.end() && last->second > order && last_committed_client_[key] != client)
      hit(kClientEditsReordered);
    if (last == last_committed_order_.end() || order > last->second) {
      last_committed_order_[key] = order;
      last_committed_client_[key] = client;
    }
    client_writes_.erase(it);
  } else if (kind == "fault.quorum_held") {
    hit(kQuorumEventOutOfOrder);
  } else if (kind == "kv.held") {
    // The node is cut off from the deciding majority yet its latest quorum
    // event says established: it reads its stale store as current.
    const auto node = e.str("node");
    const auto q = has_quorum_.find(node);
    if (q != has_quorum_.end() && q->second && stale_spell_.insert(node).second) hit(kStaleReadCutOff);
  } else if (kind == "kv.release") {
    stale_spell_.erase(e.str("node"));
  } else if (kind == "kv.hold" || kind == "kv.limbo") {
    late_batches_.insert(e.u64("batch"));
  } else if (kind == "node.restart") {
    has_quorum_.erase(e.str("node"));
  }
}

}  // namespace aether::properties
