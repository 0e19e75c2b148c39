#include "engine/artifact.h"

#include <array>

namespace aether::engine {

namespace {

bool is_lower(char c) {
  return c >= 'a' && c <= 'z';
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_alpha(char c) {
  return is_lower(c) || (c >= 'A' && c <= 'Z');
}

// Character classes of the grammars below as one table lookup each (slice
// keys are validated on every notification; issue 14, ninth pass (2)):
// kGroup [a-z0-9_-], kId [a-z0-9], kNode [a-z0-9-], kSuffix [A-Za-z0-9.].
enum : unsigned char { kGroup = 1, kId = 2, kNode = 4, kSuffix = 8 };
constexpr std::array<unsigned char, 256> kClasses = [] {
  std::array<unsigned char, 256> table{};
  for (int c = 'a'; c <= 'z'; ++c) table[c] = kGroup | kId | kNode | kSuffix;
  for (int c = '0'; c <= '9'; ++c) table[c] = kGroup | kId | kNode | kSuffix;
  for (int c = 'A'; c <= 'Z'; ++c) table[c] = kSuffix;
  table['_'] = kGroup;
  table['-'] = kGroup | kNode;
  table['.'] = kSuffix;
  return table;
}();
bool in_class(char c, unsigned char bits) {
  return (kClasses[static_cast<unsigned char>(c)] & bits) != 0;
}

// `text` split at `separator` into exactly `n` parts (written to `parts`);
// false if it has another number of parts. No allocation (issue 14: slice
// keys are parsed per notification).
bool split_exactly(std::string_view text, char separator, std::string_view* parts, std::size_t n) {
  std::size_t start = 0;
  for (std::size_t i = 0; i + 1 < n; ++i) {
    const auto at = text.find(separator, start);
    if (at == std::string_view::npos) return false;
    parts[i] = text.substr(start, at - start);
    start = at + 1;
  }
  if (text.find(separator, start) != std::string_view::npos) return false;
  parts[n - 1] = text.substr(start);
  return true;
}

// Whether `text` split at `separator` has at least `min_parts` parts, each
// passing `part_ok`.
template <typename PartOk>
bool parts_all(std::string_view text, char separator, std::size_t min_parts, PartOk part_ok) {
  std::size_t parts = 0;
  std::size_t start = 0;
  while (true) {
    const auto at = text.find(separator, start);
    if (!part_ok(text.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start)))
      return false;
    ++parts;
    if (at == std::string_view::npos) return parts >= min_parts;
    start = at + 1;
  }
}

// [a-z][a-z0-9_-]*
bool is_group_segment(std::string_view text) {
  if (text.empty() || !is_lower(text[0])) return false;
  for (char c : text.substr(1)) {
    if (!is_lower(c) && !is_digit(c) && c != '_' && c != '-') return false;
  }
  return true;
}

bool is_number(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (!is_digit(c)) return false;
  }
  return true;
}

bool fail(std::string* error, std::string message) {
  if (error) *error = std::move(message);
  return false;
}

bool check_parts(std::string_view group, std::string_view artifact, std::string* error) {
  if (!is_valid_group_id(group)) {
    return fail(error, "groupId \"" + std::string(group) +
                           "\" must be dot-separated lowercase segments such as \"org.example\"");
  }
  if (!is_valid_artifact_id(artifact)) {
    return fail(error, "artifactId \"" + std::string(artifact) +
                           "\" must be lowercase letters and digits, words joined by single '-'");
  }
  return true;
}

}  // namespace

bool is_valid_node_id(std::string_view text) {
  if (text.empty() || text.size() > 63 || !is_lower(text[0])) return false;
  for (char c : text) {
    if (!in_class(c, kNode)) return false;
  }
  return true;
}

bool is_valid_group_id(std::string_view text) {
  return parts_all(text, '.', 2, is_group_segment);
}

bool is_valid_artifact_id(std::string_view text) {
  // Words of [a-z0-9] joined by single '-', the first starting with [a-z].
  if (text.empty() || !is_lower(text[0])) return false;
  char previous = 0;
  for (char c : text) {
    if (c == '-' ? previous == '-' : !is_lower(c) && !is_digit(c)) return false;
    previous = c;
  }
  return previous != '-';
}

bool is_valid_version(std::string_view text) {
  std::string_view core = text;
  const auto dash = text.find('-');
  if (dash != std::string_view::npos) {
    core = text.substr(0, dash);
    const auto suffix = text.substr(dash + 1);
    if (suffix.empty()) return false;
    for (char c : suffix) {
      if (!is_alpha(c) && !is_digit(c) && c != '.') return false;
    }
  }
  std::string_view numbers[3];
  return split_exactly(core, '.', numbers, 3) && is_number(numbers[0]) && is_number(numbers[1]) &&
         is_number(numbers[2]);
}

std::optional<Artifact> parse_artifact(std::string_view text, std::string* error) {
  std::string_view parts[3];
  if (!split_exactly(text, ':', parts, 3)) {
    fail(error, "an artifact is groupId:artifactId:version, such as \"org.example:cart:1.0.0\"; got \"" +
                    std::string(text) + "\"");
    return std::nullopt;
  }
  if (!check_parts(parts[0], parts[1], error)) return std::nullopt;
  if (!is_valid_version(parts[2])) {
    fail(error,
         "version \"" + std::string(parts[2]) + "\" must be MAJOR.MINOR.PATCH with an optional -suffix");
    return std::nullopt;
  }
  return Artifact{std::string(parts[0]), std::string(parts[1]), std::string(parts[2])};
}

bool is_valid_artifact(std::string_view text) {
  // One pass over the three grammars above (none admits a ':', so the
  // parts end at the two colons), without a find per separator.
  const std::size_t n = text.size();
  std::size_t i = 0;
  auto word = [&](auto ok) {
    while (i < n && ok(text[i])) ++i;
  };
  const auto group_char = [](char c) { return in_class(c, kGroup); };
  const auto id_char = [](char c) { return in_class(c, kId); };
  // groupId: [a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)+
  int segments = 0;
  do {
    if (segments > 0) ++i;  // the '.'
    if (i >= n || !is_lower(text[i])) return false;
    ++i;
    word(group_char);
    ++segments;
  } while (i < n && text[i] == '.');
  if (segments < 2 || i >= n || text[i] != ':') return false;
  ++i;
  // artifactId: [a-z][a-z0-9]*(-[a-z0-9]+)*
  if (i >= n || !is_lower(text[i])) return false;
  word(id_char);
  while (i < n && text[i] == '-') {
    ++i;
    if (i >= n || !id_char(text[i])) return false;
    word(id_char);
  }
  if (i >= n || text[i] != ':') return false;
  ++i;
  // version: \d+\.\d+\.\d+(-[A-Za-z0-9.]+)?
  for (int number = 0; number < 3; ++number) {
    if (number > 0) {
      if (i >= n || text[i] != '.') return false;
      ++i;
    }
    if (i >= n || !is_digit(text[i])) return false;
    word(is_digit);
  }
  if (i == n) return true;
  if (text[i] != '-' || i + 1 == n) return false;
  for (++i; i < n; ++i) {
    if (!in_class(text[i], kSuffix)) return false;
  }
  return true;
}

std::optional<ArtifactBase> parse_artifact_base(std::string_view text, std::string* error) {
  std::string_view parts[2];
  if (!split_exactly(text, ':', parts, 2)) {
    fail(error, "an artifact base is groupId:artifactId, such as \"org.example:cart\"; got \"" +
                    std::string(text) + "\"");
    return std::nullopt;
  }
  if (!check_parts(parts[0], parts[1], error)) return std::nullopt;
  return ArtifactBase{std::string(parts[0]), std::string(parts[1])};
}

std::string base_of(std::string_view artifact) {
  const auto at = artifact.rfind(':');
  return std::string(at == std::string_view::npos ? artifact : artifact.substr(0, at));
}

}  // namespace aether::engine
