// The checks' own reference model of engine-semantics.md (simulation.md §5,
// "Independence"): key and value grammar, the lifecycle table with roles,
// ownership by decided position, desired state from client intent, failure
// evidence (excluded artifacts). Written from the documents, never calling
// engine judging code, so that a mistake in the engine's rules shows up as a
// disagreement (tests/properties/reference_model_test.cc runs both side by
// side) instead of being shared by the checks.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace aether::properties::ref {

// ---- grammar (engine-semantics.md §1) ----------------------------------------
bool is_node_id(std::string_view text);       // [a-z][a-z0-9-]{0,62}
bool is_group_id(std::string_view text);      // [a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)+
bool is_artifact_id(std::string_view text);   // [a-z][a-z0-9]*(-[a-z0-9]+)*
bool is_version(std::string_view text);       // \d+\.\d+\.\d+(-[A-Za-z0-9.]+)?
bool is_blueprint_id(std::string_view text);  // [A-Za-z0-9][A-Za-z0-9._-]{0,127}

struct ArtifactName {
  std::string group;
  std::string id;
  std::string version;
  std::string base() const { return group + ":" + id; }
  std::string text() const { return group + ":" + id + ":" + version; }
};
std::optional<ArtifactName> read_artifact(std::string_view text);
bool is_base(std::string_view text);  // groupId:artifactId
// Everything before the last ':' (for strings already read as artifacts).
std::string base_part(std::string_view artifact);

// ---- slice states and the lifecycle table (§6) --------------------------------
enum class State : std::uint8_t {
  Load,
  Loading,
  Loaded,
  Activate,
  Activating,
  Active,
  Deactivate,
  Deactivating,
  Failed,
  Unload,
  Unloading,
};
const char* state_name(State state);
std::optional<State> read_state(std::string_view text);
bool is_live(State state);     // not FAILED, UNLOAD, UNLOADING
bool is_command(State state);  // LOAD, ACTIVATE, DEACTIVATE, UNLOAD

struct SliceVal {
  State state = State::Load;
  std::optional<std::string> reason;
  bool fatal = false;
};
// `{state, failure_reason?, fatal?}`: a JSON object with only these keys.
std::optional<SliceVal> read_slice_value(std::string_view text);

enum class Role : std::uint8_t { Cdm, Ndm };
// Whether `role` may write `to` (nullopt: Remove) over `from` (nullopt:
// absent), the state it had applied. A write leaving the state unchanged is a
// rewrite, always legal. The CDM's Removes depend on facts the state does not
// show (node gone, stuck, orphan), so any CDM Remove is an edge; the NDM
// removes only from UNLOADING. The NDM's key-of-its-own-node rule is the
// caller's.
bool is_edge(Role role, std::optional<State> from, const std::optional<SliceVal>& to);

// ---- other values (§2) ------------------------------------------------------------
struct TargetVal {
  std::string version;
  int instances = 0;
  int min_instances = 0;
  std::string owner;
  bool failed = false;
  bool operator==(const TargetVal&) const = default;
};
inline constexpr int kMaxInstances = 10000;
// `{version, instances, min_instances, owner, failed?}`.
std::optional<TargetVal> read_target(std::string_view text);

// A slice's `update` (engine-semantics.md §8.4): immediate unless rolling.
struct UpdateVal {
  bool rolling = false;
  int max_surge = 1;
  int max_unavailable = 0;
};
struct BlueprintSlice {
  ArtifactName artifact;
  int instances = 1;
  int min_available = 1;
  std::vector<std::string> depends_on;  // artifact strings, each a slice of the same blueprint
  // Placement (engine-semantics.md §8.1).
  std::int64_t cpu = 0;                      // millicores per instance
  std::int64_t memory = 0;                   // bytes per instance
  std::vector<std::string> anti_affinity{};  // bases, never this slice's own
  bool spread_zone = false;
  UpdateVal update;
};
struct BlueprintVal {
  std::string id;
  bool all_or_nothing = false;         // `atomicity`: "all-or-nothing" (default "best-effort"), §8.3
  std::vector<BlueprintSlice> slices;  // input order
  const BlueprintSlice* find(const std::string& base) const;
};
// The whole of §1's validation: id, non-empty slices, instances in
// 1..kMaxInstances, min_available in 1..instances (default ceil(n/2)),
// depends_on inside the blueprint and not itself, no base twice, no cycle, no
// unknown key; `resources` {cpu >= 0, memory bytes or "<n>Ki|Mi|Gi"},
// `anti_affinity` bases (not the slice's own), `spread` "zone".
// unknown key; `atomicity` "best-effort" or "all-or-nothing" (§8.3).
// `update` {strategy immediate|rolling, max_surge >= 1,
// max_unavailable >= 0} (§8.4).
std::optional<BlueprintVal> read_blueprint(std::string_view text);
// A memory quantity: bytes (integer >= 0) or "<digits>[Ki|Mi|Gi]".
std::optional<std::int64_t> read_memory(const std::string& json_text);

enum class NodeState : std::uint8_t { Joining, OnDuty, Draining, Decommissioned, ShuttingDown };
const char* node_state_name(NodeState state);
std::optional<NodeState> read_node_state(std::string_view text);
std::optional<std::string> read_leader(std::string_view text);  // a valid NodeId

// ---- keys (§2) --------------------------------------------------------------------
enum class KeyKind : std::uint8_t { Slice, SliceTarget, Blueprint, NodeLifecycle, Leader, Other };
struct Key {
  KeyKind kind = KeyKind::Other;
  std::string node;      // Slice, NodeLifecycle
  std::string artifact;  // Slice
  std::string base;      // Slice (base of the artifact), SliceTarget
  std::string id;        // Blueprint (the suffix; not validated)
};
// Slice keys need a valid node and artifact, slice-target keys a valid base,
// node-lifecycle keys a valid node; anything else is Other.
Key classify_key(std::string_view key);

// ---- ownership (§4 "Ownership") ---------------------------------------------------
struct BlueprintEntry {
  std::optional<BlueprintVal> value;  // nullopt: invalid (or its id differs from the key)
  std::uint64_t position = 0;         // decided position of the value
};
struct OwnershipResult {
  std::map<std::string, std::string> owner_of;  // base -> blueprint id
  std::set<std::string> accepted;               // blueprint ids whose value is accepted
  bool is_accepted(const std::string& id) const { return accepted.count(id) != 0; }
};
// Acceptance judged in order of decided position (ties by id), each value
// against the ownership the earlier-judged values give (a slice-target whose
// owner is not judged yet counts for that owner if its value still lists the
// base or is invalid: the trace of an earlier accepted value); the owner of a base
// is the committed slice-target's owner O if O exists and O's value is either
// accepted and lists the base or not accepted; else the lowest accepted id
// listing the base.
OwnershipResult ownership(const std::map<std::string, BlueprintEntry>& blueprints,
                          const std::map<std::string, TargetVal>& targets);

// ---- desired state (simulation.md §5) ---------------------------------------------
struct StoreEntry {
  std::string value;
  std::uint64_t position = 0;  // decided position of the value
};
using PositionedStore = std::map<std::string, StoreEntry>;

struct DesiredBase {
  std::string owner;
  bool owner_accepted = false;
  std::string version;  // the owner blueprint's (accepted) or its slice-target's (rejected)
  std::string artifact;
  int count = 0;
  int min_instances = 0;
  std::vector<std::string> depends_on;  // artifact strings of the owner blueprint's slice
  bool target_failed = false;           // the matching committed slice-target says failed
  std::optional<TargetVal> target;      // the committed slice-target, if it matches owner and version
  // Placement, from the owner blueprint's value's slice for the base (any version).
  std::int64_t cpu = 0;
  std::int64_t memory = 0;
  std::vector<std::string> anti_affinity{};
  bool spread_zone = false;
  UpdateVal update;  // the owner blueprint's slice's (immediate if unknown)
};
struct Desired {
  std::map<std::string, DesiredBase> bases;
  OwnershipResult ownership;
  const DesiredBase* find(const std::string& base) const;
};
Desired desired_from(const PositionedStore& store);

// Entries owed: [min(count, E), min(max(count, min_instances), E)].
struct OwedRange {
  int low = 0;
  int high = 0;
};
OwedRange owed_range(int count, int min_instances, int eligible);

// ---- failure evidence (excluded artifacts) ----------------------------------------
// Fed every decided batch in order; counts as engine-semantics.md §4 counts:
// per artifact, consecutive transient failures (an unparseable slices/* value
// counts as one; reason `lost` and same-value FAILED rewrites do not; a
// committed ACTIVE resets the transient count only), a fatal FAILED marks it;
// a put of the owner blueprint clears both. An artifact with a fatal mark or
// `retry_max` consecutive transient failures has evidence; the history lets a
// check ask at any decided position.
class FailureEvidence {
 public:
  explicit FailureEvidence(int retry_max = 5) : retry_max_(retry_max) {}
  void set_retry_max(int retry_max) { retry_max_ = retry_max; }
  struct Command {
    bool put = true;
    std::string key;
    std::string value;
  };
  // `before`: the value of each key the batch touches before it; `after`:
  // the store after the batch.
  void on_batch(std::uint64_t position, const std::vector<Command>& batch,
                const std::map<std::string, std::optional<std::string>>& before,
                const PositionedStore& after);
  bool has_evidence(const std::string& artifact) const;
  bool had_evidence_at(const std::string& artifact, std::uint64_t position) const;
  std::string describe(const std::string& artifact) const;  // "3 transient", "fatal", ...

 private:
  struct Count {
    int transient = 0;
    bool fatal = false;
  };
  void set(std::uint64_t position, const std::string& artifact, Count count);
  int retry_max_;
  std::map<std::string, Count> counts_;
  std::map<std::string, std::vector<std::pair<std::uint64_t, bool>>> history_;  // changes of has_evidence
};

// Bases excluded from the count rules: an artifact of the base with evidence
// (its owner's artifact), a matching slice-target saying failed, and bases
// depending on one, transitively.
std::set<std::string> excluded_bases(const Desired& desired, const FailureEvidence& evidence,
                                     std::optional<std::uint64_t> at_position = std::nullopt);

}  // namespace aether::properties::ref
