#include "properties/slice_model.h"

#include "properties/reference_model.h"

namespace aether::properties {

namespace {

// Absent, unparseable, or a state (with the failure reason a FAILED carries).
struct Judged {
  bool present = false;
  std::optional<ref::SliceVal> value;
};

Judged judge(const std::optional<std::string>& text) {
  Judged j;
  if (!text) return j;
  j.present = true;
  j.value = ref::read_slice_value(*text);
  return j;
}

}  // namespace

std::optional<SliceKey> parse_slice_key(std::string_view key) {
  const auto parsed = ref::classify_key(key);
  if (parsed.kind != ref::KeyKind::Slice) return std::nullopt;
  return SliceKey{parsed.node, parsed.artifact};
}

std::optional<std::string> slice_state_name(const std::string& value) {
  auto parsed = ref::read_slice_value(value);
  if (!parsed) return std::nullopt;
  return std::string(ref::state_name(parsed->state));
}

std::string describe_slice_value(const std::optional<std::string>& value) {
  if (!value) return "(absent)";
  auto name = slice_state_name(*value);
  return name ? *name : std::string("(unparseable)");
}

bool is_command_value(const std::string& value) {
  auto parsed = ref::read_slice_value(value);
  return parsed && ref::is_command(parsed->state);
}

bool lifecycle_allows(SliceWriterRole role, const std::optional<std::string>& applied,
                      const engine::KvCommand& command) {
  const auto ref_role = role == SliceWriterRole::Cdm ? ref::Role::Cdm : ref::Role::Ndm;
  const Judged from = judge(applied);
  if (from.present && !from.value) {
    // The writer had applied a value nobody can parse (a client's raw write):
    // only the CDM's Remove answers it (engine-semantics.md §4, "a slices/*
    // value the CDM cannot parse ... its key is Removed"); rewriting the same
    // bytes is a rewrite.
    if (command.op == engine::KvOp::Remove) return role == SliceWriterRole::Cdm;
    return applied == command.value;
  }
  std::optional<ref::State> from_state;
  if (from.value) from_state = from.value->state;
  if (command.op == engine::KvOp::Remove) return ref::is_edge(ref_role, from_state, std::nullopt);
  auto to = ref::read_slice_value(command.value);
  if (!to) return false;  // the engine never writes a value it cannot read back
  return ref::is_edge(ref_role, from_state, to);
}

bool same_slice_state(const std::optional<std::string>& a, const std::optional<std::string>& b) {
  const Judged ja = judge(a);
  const Judged jb = judge(b);
  if (ja.present != jb.present) return false;
  if (!ja.present) return true;
  if (!ja.value || !jb.value) return !ja.value && !jb.value;
  return ja.value->state == jb.value->state;
}

}  // namespace aether::properties
