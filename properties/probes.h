// Probes (product.md "Exploring"): named situations worth reaching, observed
// on a run's trace (never an engine change). A fuzz campaign counts each per
// run and flags the ones no seed reached, so a team sees what its generators
// actually exercise. `aethersim list probes` prints them.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace aether::properties {

struct ProbeDoc {
  std::string name;
  std::string description;
};
const std::vector<ProbeDoc>& probe_docs();

// Feed every trace line (JSON, trace-format.md) in order; read hits().
class ProbeSet {
 public:
  void observe(const std::string& line);
  // Probe name -> times observed in this run (every probe listed, 0 if never).
  std::map<std::string, std::int64_t> hits() const;

 private:
  void hit(const char* name) { ++hits_[name]; }
  std::map<std::string, std::int64_t> hits_;
  std::map<std::string, int> loads_in_flight_;            // node -> loads started and not done
  std::map<std::string, bool> quorum_lost_;               // node -> lost and not yet regained
  std::map<std::uint64_t, std::uint64_t> cdm_batch_tag_;  // pending cdm batch -> tag of its submitter
  std::map<std::uint64_t, std::string> cdm_batch_node_;   // pending cdm batch -> submitting node
  std::map<std::uint64_t, std::int64_t>
      cdm_batch_epoch_;                              // pending cdm batch -> node's activation count at submit
  std::map<std::string, std::int64_t> activations_;  // node -> CDM activations (+ crashes) so far
  std::uint64_t max_decided_tag_ = 0;
  // Client writes of a blueprints/* key: (client, write) -> key, queue order.
  std::map<std::pair<std::string, std::uint64_t>, std::pair<std::string, std::uint64_t>> client_writes_;
  std::uint64_t client_order_ = 0;
  std::map<std::string, std::uint64_t> last_committed_order_;  // key -> queue order of its latest commit
  std::map<std::string, std::string> last_committed_client_;
  std::string leader_;
  std::map<std::string, bool> has_quorum_;  // node -> its latest quorum event was "established"
  std::set<std::string> stale_spell_;       // nodes cut off (kv.held) with quorum, until release or loss
  std::set<std::uint64_t> late_batches_;    // batches held (kv.hold) or in limbo, not yet decided or dropped
};

}  // namespace aether::properties
