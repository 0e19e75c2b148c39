// Desired state of the ClusterDeploymentManager (engine-semantics.md §4
// "Desired state"): the committed blueprints and slice-targets, who owns each
// base, what each owner wants of it, and per-artifact failure accounting.
// Pure: no KV, timers or logging; the CDM feeds it committed values and turns
// its answers into commands. Unit-tested without the simulator
// (tests/engine/desired_state_test.cc).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/blueprint.h"
#include "engine/kv_schema.h"
#include "engine/ownership.h"
#include "engine/time.h"

namespace aether::engine {

// What the CDM holds for a base: the artifact (base:version) it deploys and
// the counts of the owned slice-target.
struct Desired {
  std::string artifact;
  std::string owner;
  int count = 0;
  int min_instances = 0;
  bool failed = false;
  std::vector<std::string> depends_on;
  UpdatePolicy update;  // the owner blueprint's slice's (§8.4)
};

// What the owner of a base wants of it: its accepted blueprint's slice, or,
// for an owner whose committed value is rejected, its slice-target (a
// rejected value changes nothing, §4).
struct Wanted {
  std::string owner;
  std::string artifact;
  std::string version;
  int instances = 0;
  int min_available = 0;
  std::vector<std::string> depends_on;
  // Placement (§8.1), from the owner's committed value's slice for the base
  // (any version; none if that value does not list it).
  Resources resources{};
  std::vector<std::string> anti_affinity{};  // bases, sorted
  bool spread_zone = false;
  UpdatePolicy update;
};

// What wanted(base) reports of the owner's counts and version, by reference
// into the DesiredState (valid until its next write) and without building a
// Wanted: the per-base walks of every reconcile (plan_target_sync) and the
// target-put path compare only these (issue 14, seventh pass). For the same
// state, wanted(base) has the same owner, version, instances,
// min_available and update, and its artifact is `base:version`
// (tests/engine/desired_state_test.cc compares the two).
struct WantedRef {
  const std::string* owner = nullptr;
  const std::string* version = nullptr;
  int instances = 0;
  int min_available = 0;
  UpdatePolicy update{};
  const SliceSpec* slice = nullptr;  // the owner blueprint's slice for the base, if it lists it
  bool rejected = false;             // the owner's value is rejected: counts from its slice-target

  // Whether `artifact` is wanted(base)->artifact (`base:version`), compared
  // without building it.
  bool is_artifact(const std::string& base, const std::string& artifact) const {
    return artifact.size() == base.size() + 1 + version->size() && artifact.starts_with(base) &&
           artifact[base.size()] == ':' && artifact.ends_with(*version);
  }
};

// A slice-target to hold at activation, and whether it must be written.
struct RebuiltTarget {
  SliceTarget target;
  bool rewrite = false;  // missing, mismatching, or older than its owner blueprint
};

// The slice-targets a leader wrote, with the decided position they were
// derived at, and the intent position of each applied slice-target that was
// the echo of such a write: the echo stands for the blueprint value it was
// derived from, not for a client's later intent (docs/decisions.md, issue 9).
struct OwnTargetWrites {
  std::uint64_t latest_applied = 0;                                      // latest decided position applied
  std::map<std::string, std::pair<std::string, std::uint64_t>> written;  // base -> (value, derived at)
  std::map<std::string, std::uint64_t> intent;                           // base -> intent position

  // A slice-target Put of `value` for `base` goes out now.
  void wrote(const std::string& base, std::string value) {
    written[base] = {std::move(value), latest_applied};
  }
  // slice-target/{base} = `value` was applied: its own echo (unless
  // `echo_counts_as_intent`, the mutation point) is as old as what it was
  // derived from; any other value is a client's intent at its own position.
  void applied(const std::string& base, const std::string& value, bool echo_counts_as_intent);
};

// Parsed blueprint values by exact id and text (the parse, validation and
// the id check included, is a pure function of both), shared by the CDMs of
// one runtime factory (make_deployment_runtime_factory): a node in
// production, every node of one simulated cluster. A new leader term reads
// every blueprint at activation; with this it does not parse again a value
// parsed before (issue 14, seventh pass). Bounded: the last kCapacity
// distinct values. Not thread-safe (one event loop uses it).
class BlueprintParses {
 public:
  struct Parsed {
    std::optional<Blueprint> blueprint;  // nullopt if invalid
    std::string why;                     // then: why
  };
  static constexpr std::size_t kCapacity = 64;
  const Parsed& parse(const std::string& id, const std::string& text);

 private:
  struct Entry {
    std::string id;
    std::string text;
    Parsed parsed;
  };
  std::vector<Entry> entries_;  // oldest first
};

class DesiredState {
 public:
  std::map<std::string, std::optional<Blueprint>> blueprints;  // committed; nullopt if invalid
  std::map<std::string, SliceTarget> targets;                  // committed, parseable ones
  Ownership ownership;
  std::map<std::string, Desired, std::less<>> desired;  // by base (found by a view too: desired_for)
  std::map<std::string, int> transient_failures;        // by artifact: consecutive transient failures
  std::map<std::string, Nanos> backoff_until;           // by artifact

  // Stores the committed value of blueprints/{id}: false (and `why`) if it is
  // invalid, which is stored as a blueprint that lists nothing.
  // With `parses`, a value parsed before is taken from it (the same answer).
  bool put_blueprint(const std::string& id, const std::string& text, std::string* why,
                     BlueprintParses* parses = nullptr);
  // The ownership rule, plus: bases whose committed slice-target names a
  // blueprint whose value is rejected stay its own. `positions`: blueprint
  // id -> decided position of its committed value (acceptance is judged in
  // that order, §4).
  void recompute_ownership(const std::map<std::string, std::uint64_t>& positions = {});
  // Whether storing a slice-target of `owner` at `base` leaves
  // recompute_ownership's answer as it is, `ownership` being that answer
  // for the state now and the same positions: the base's slice-target
  // already names `owner` (only the bases and owners of slice-targets are
  // read), or there is none and `owner` is not rejected (the proof at the
  // definition).
  bool target_put_keeps_ownership(const std::string& base, const std::string& owner) const;
  std::optional<Wanted> wanted(const std::string& base) const;
  // wanted(base) without building it (WantedRef above): nullopt exactly when
  // wanted(base) is.
  std::optional<WantedRef> wanted_ref(const std::string& base) const;
  // wanted(base)->depends_on for `ref`, wanted_ref(base)'s answer.
  std::vector<std::string> depends_of(const WantedRef& ref) const;
  // wanted_ref(base) for a base owned by `owner`, which must be the value
  // of ownership.owner_of's entry for it (a walk of owner_of, without
  // looking the base up again).
  std::optional<WantedRef> wanted_ref(const std::string& base, const std::string& owner) const;
  // wanted_ref(base, owner) with the owner's blueprint (`blueprint`: nullptr
  // when blueprints holds none or an invalid one for it) and whether
  // ownership.rejected holds it, both as that overload looks them up: a walk
  // over the bases of one owner looks them up once (issue 14, ninth pass (2)).
  std::optional<WantedRef> wanted_ref(const std::string& base, const std::string& owner,
                                      const Blueprint* blueprint, bool rejected) const;
  // The blueprint slice whose placement fields (resources, anti_affinity,
  // spread_zone) wanted(base) reports; nullptr when wanted(base) is nullopt
  // or reports none. The same lookup without building a Wanted (the
  // placement hot path, issue 14).
  const SliceSpec* placement_slice(const std::string& base) const;
  const Desired* desired_for(const std::string& artifact) const;
  // Desired state of `base` from its owned slice-target; keeps the in-memory
  // failed flag of the same artifact (cleared only by a put of the owner).
  void set_desired(const std::string& base, const SliceTarget& target);
  // The slice-target `want` calls for (as a put of the owner blueprint writes it).
  static SliceTarget target_for(const Wanted& want);
  // Activation (§4): a matching committed slice-target's counts win (a
  // `scale` survives failover) unless the accepted owner blueprint was put
  // after it (decided positions, as etcd's mod revision); nullopt if the base
  // has no owner or its owner wants nothing of it.
  std::optional<RebuiltTarget> rebuilt_target(const std::string& base,
                                              std::optional<std::uint64_t> blueprint_position,
                                              std::optional<std::uint64_t> target_position) const;
  // Failure accounting: one more consecutive transient failure at `now`.
  // Returns true if it is now to be treated as fatal (transient_retry_max
  // reached); otherwise the backoff min(2^(n-1)s, cap) is recorded.
  bool note_transient_failure(const std::string& artifact, Nanos now, int retry_max, Nanos backoff_cap);
  // A put of the owner blueprint clears the artifact's failure accounting.
  void clear_failures(const std::string& artifact);
};

}  // namespace aether::engine
