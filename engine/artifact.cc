#include "engine/artifact.h"

#include <vector>

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

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    const auto at = text.find(separator, start);
    if (at == std::string_view::npos) {
      parts.push_back(text.substr(start));
      return parts;
    }
    parts.push_back(text.substr(start, at - start));
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
    if (!is_lower(c) && !is_digit(c) && c != '-') return false;
  }
  return true;
}

bool is_valid_group_id(std::string_view text) {
  const auto segments = split(text, '.');
  if (segments.size() < 2) return false;
  for (auto segment : segments) {
    if (!is_group_segment(segment)) return false;
  }
  return true;
}

bool is_valid_artifact_id(std::string_view text) {
  if (text.empty() || !is_lower(text[0])) return false;
  const auto words = split(text, '-');
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (words[i].empty()) return false;
    for (char c : words[i]) {
      if (!is_lower(c) && !is_digit(c)) return false;
    }
  }
  return true;
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
  const auto numbers = split(core, '.');
  if (numbers.size() != 3) return false;
  for (auto number : numbers) {
    if (!is_number(number)) return false;
  }
  return true;
}

std::optional<Artifact> parse_artifact(std::string_view text, std::string* error) {
  const auto parts = split(text, ':');
  if (parts.size() != 3) {
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

std::optional<ArtifactBase> parse_artifact_base(std::string_view text, std::string* error) {
  const auto parts = split(text, ':');
  if (parts.size() != 2) {
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
