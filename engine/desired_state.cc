#include "engine/desired_state.h"

#include <algorithm>
#include <utility>
#include <variant>

namespace aether::engine {

namespace {

std::optional<Blueprint> parse_blueprint_value(const std::string& id, const std::string& text,
                                               std::string* why) {
  auto result = parse_blueprint_text(text);
  if (auto* errors = std::get_if<std::vector<BlueprintError>>(&result)) {
    const auto& first = errors->front();
    *why = (first.path.empty() ? "" : first.path + ": ") + first.message;
    return std::nullopt;
  }
  auto blueprint = std::get<Blueprint>(std::move(result));
  if (blueprint.id != id) {
    *why = "id \"" + blueprint.id + "\" does not match its key";
    return std::nullopt;
  }
  return blueprint;
}

// blueprint.find(*parse_artifact_base(base)), nullptr when `base` does not
// parse, compared as text without the parse (wanted() runs per owned base
// per reconcile, issue 14): a parsed blueprint's group and artifact ids are
// valid and hold no ':', so "group:artifact" equals `base` exactly when
// `base` parses to that slice's base. The artifact id is compared before
// the group (the slices of a blueprint mostly share their group), its last
// byte first (no call); the conjunction is pure, so its order changes no
// answer.
const SliceSpec* slice_of(const Blueprint& blueprint, std::string_view base) {
  return blueprint.find_base(base);
}
}  // namespace

const BlueprintParses::Parsed& BlueprintParses::parse(const std::string& id, const std::string& text) {
  for (const auto& entry : entries_) {
    if (entry.text.size() == text.size() && entry.id == id && entry.text == text) return entry.parsed;
  }
  if (entries_.size() >= kCapacity) entries_.erase(entries_.begin());
  Parsed parsed;
  parsed.blueprint = parse_blueprint_value(id, text, &parsed.why);
  entries_.push_back(Entry{id, text, std::move(parsed)});
  return entries_.back().parsed;
}

bool DesiredState::put_blueprint(const std::string& id, const std::string& text, std::string* why,
                                 BlueprintParses* parses) {
  auto& slot = blueprints[id];
  if (parses == nullptr) {
    slot = parse_blueprint_value(id, text, why);
  } else {
    const auto& parsed = parses->parse(id, text);
    slot = parsed.blueprint;
    if (!slot) *why = parsed.why;
  }
  return slot.has_value();
}

void DesiredState::recompute_ownership(const std::map<std::string, std::uint64_t>& positions) {
  ownership = compute_ownership(blueprints, targets, positions);
  // A rejected value changes nothing (§4): the bases whose committed
  // slice-target names a blueprint whose value is rejected stay its own, even
  // those the rejected value no longer lists.
  for (const auto& [base, target] : targets) {
    if (ownership.owner_of.count(base) || !ownership.rejected.count(target.owner)) continue;
    ownership.owner_of[base] = target.owner;
  }
}

bool DesiredState::target_put_keeps_ownership(const std::string& base, const std::string& owner) const {
  if (auto stored = targets.find(base); stored != targets.end()) return stored->second.owner == owner;
  // No slice-target at `base` yet and `owner` not rejected. The
  // rejected-owner rule passes over the new one (its owner is not rejected);
  // compute_ownership's first pass puts base -> owner only if `owner` is a
  // valid blueprint that lists the base, else nothing changes. Then `owner`
  // is accepted (valid, not rejected) and, listing the base, owns it now
  // (its second pass gives an accepted blueprint every base it lists). With
  // base -> owner put first, the second pass takes the same steps: a
  // blueprint before `owner` (in position order) that lists the base was
  // blocked without it, by another base (had it been accepted, the base
  // would be its own: an owned base is never given to another), whose owner
  // is the same with it; a blueprint that does not list the base sees the
  // same owners; `owner` finds the base its own (not blocked) and everything
  // else as before; after it both runs hold base -> owner.
  return ownership.rejected.count(owner) == 0;
}

std::optional<WantedRef> DesiredState::wanted_ref(const std::string& base) const {
  auto owner = ownership.owner_of.find(base);
  if (owner == ownership.owner_of.end()) return std::nullopt;
  return wanted_ref(base, owner->second);
}

std::optional<WantedRef> DesiredState::wanted_ref(const std::string& base, const std::string& owner) const {
  auto blueprint = blueprints.find(owner);
  if (blueprint == blueprints.end() || !blueprint->second) return std::nullopt;
  return wanted_ref(base, owner, &*blueprint->second, ownership.rejected.count(owner) != 0);
}

std::optional<WantedRef> DesiredState::wanted_ref(const std::string& base, const std::string& owner,
                                                  const Blueprint* blueprint, bool rejected) const {
  if (blueprint == nullptr) return std::nullopt;
  const auto* slice = slice_of(*blueprint, base);
  if (rejected) {
    // Its last accepted deployment, as its slice-target records it.
    auto target = targets.find(base);
    if (target == targets.end() || target->second.owner != owner) return std::nullopt;
    const std::string& version = target->second.version;
    return WantedRef{&owner,
                     &version,
                     target->second.instances,
                     target->second.min_instances,
                     slice && slice->artifact.version == version ? slice->update : UpdatePolicy{},
                     slice,
                     true};
  }
  if (!slice) return std::nullopt;
  return WantedRef{
      &owner, &slice->artifact.version, slice->instances, slice->min_available, slice->update, slice, false};
}

std::optional<Wanted> DesiredState::wanted(const std::string& base) const {
  const auto ref = wanted_ref(base);
  if (!ref) return std::nullopt;
  const SliceSpec* slice = ref->slice;
  Wanted out;
  out.owner = *ref->owner;
  if (slice) {
    out.resources = slice->resources;
    for (const auto& other : slice->anti_affinity) out.anti_affinity.push_back(other.to_string());
    out.spread_zone = slice->spread_zone;
  }
  out.version = *ref->version;
  out.instances = ref->instances;
  out.min_available = ref->min_available;
  out.update = ref->update;
  // The artifact is `base:version` (the accepted slice's artifact is that too).
  out.artifact = base + ":" + out.version;
  out.depends_on = depends_of(*ref);
  return out;
}

std::vector<std::string> DesiredState::depends_of(const WantedRef& ref) const {
  std::vector<std::string> out;
  const SliceSpec* slice = ref.slice;
  if (!slice) return out;
  out.reserve(slice->depends_on.size());
  if (ref.rejected) {
    // Dependencies by base, at the versions the dependencies are held at.
    for (const auto& dep : slice->depends_on) {
      const auto dep_base = dep.base().to_string();
      auto dep_target = targets.find(dep_base);
      out.push_back(dep_target != targets.end() && dep_target->second.owner == *ref.owner
                        ? dep_base + ":" + dep_target->second.version
                        : dep.to_string());
    }
    return out;
  }
  for (const auto& dep : slice->depends_on) out.push_back(dep.to_string());
  return out;
}

const SliceSpec* DesiredState::placement_slice(const std::string& base) const {
  const auto ref = wanted_ref(base);
  return ref ? ref->slice : nullptr;
}

const Desired* DesiredState::desired_for(const std::string& artifact) const {
  // desired.find(base_of(artifact)), the base a view into the artifact (no copy).
  const std::string_view text = artifact;
  const auto colon = text.rfind(':');
  auto it = desired.find(colon == std::string_view::npos ? text : text.substr(0, colon));
  return it == desired.end() ? nullptr : &it->second;
}

void DesiredState::set_desired(const std::string& base, const SliceTarget& target) {
  // wanted(base)'s artifact, dependencies and update policy, without building
  // the whole Wanted (issue 14, ninth pass): its artifact is `base:version`.
  const auto want = wanted_ref(base);
  if (!want) return;
  Desired out;
  out.owner = target.owner;
  out.count = target.instances;
  out.min_instances = target.min_instances;
  out.failed = target.failed;
  auto known = desired.lower_bound(base);
  const bool exists = known != desired.end() && known->first == base;
  // The in-memory flag of the same artifact wins over a slice-target put: it
  // is set by a fatal failure and cleared only by a put of the owner blueprint.
  if (exists && want->is_artifact(base, known->second.artifact)) out.failed = known->second.failed;
  out.artifact.reserve(base.size() + 1 + want->version->size());
  out.artifact.append(base).append(1, ':').append(*want->version);
  out.depends_on = depends_of(*want);
  out.update = want->update;
  if (exists) {
    known->second = std::move(out);
  } else {
    desired.emplace_hint(known, base, std::move(out));
  }
}

SliceTarget DesiredState::target_for(const Wanted& want) {
  return SliceTarget{want.version, want.instances, want.min_available, want.owner, false};
}

std::optional<RebuiltTarget> DesiredState::rebuilt_target(
    const std::string& base, std::optional<std::uint64_t> blueprint_position,
    std::optional<std::uint64_t> target_position) const {
  // wanted(base)'s version and counts, without building it (its owner is
  // the base's owner; nullopt when the base has none).
  const auto want = wanted_ref(base);
  if (!want) return std::nullopt;
  const std::string* owner = want->owner;
  // The owner blueprint put after its slice-target (while nobody led, so no
  // CDM rewrote the target): its counts win over the older ones. A rejected
  // value changes nothing: its owner keeps what the target records.
  const bool blueprint_newer = !ownership.rejected.count(*owner) && blueprint_position && target_position &&
                               *blueprint_position > *target_position;
  auto target = targets.find(base);
  if (target != targets.end() && target->second.owner == *owner && target->second.version == *want->version &&
      !blueprint_newer) {
    return RebuiltTarget{target->second, false};
  }
  // target_for(*wanted(base)).
  return RebuiltTarget{SliceTarget{*want->version, want->instances, want->min_available, *owner, false},
                       true};
}

bool DesiredState::note_transient_failure(const std::string& artifact, Nanos now, int retry_max,
                                          Nanos backoff_cap) {
  const int failures = ++transient_failures[artifact];
  if (failures >= retry_max) return true;
  backoff_until[artifact] = now + std::min<Nanos>(seconds(1) << std::min(failures - 1, 30), backoff_cap);
  return false;
}

void DesiredState::clear_failures(const std::string& artifact) {
  transient_failures.erase(artifact);
  backoff_until.erase(artifact);
}

void OwnTargetWrites::applied(const std::string& base, const std::string& value, bool echo_counts_as_intent) {
  if (auto own = written.find(base);
      own != written.end() && own->second.first == value && !echo_counts_as_intent) {
    intent[base] = own->second.second;  // its own echo: as old as what it was derived from
    written.erase(own);
  } else {
    intent.erase(base);
  }
}

}  // namespace aether::engine
