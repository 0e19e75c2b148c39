// Reading scenario text into JSON, strictly: `//` and `/* */` comments are
// blanked out (so lines and columns still match the file), duplicate keys are
// errors with their JSON path, nesting depth and size are bounded so that no
// input can exhaust the stack or memory. nlohmann's own parser would keep the
// last of two duplicate keys silently, hence the SAX handler here.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "scenarios/error.h"

namespace aether::scenarios {

// Documented input limits (docs/scenario-format.md, "Limits").
constexpr std::size_t kMaxFileBytes = 16 * 1024 * 1024;
constexpr std::size_t kMaxNestingDepth = 64;
// JSON values (scalars, objects, arrays) in one file: bounds the memory of the
// parsed document (a legitimate file at the step limit has far fewer).
constexpr std::size_t kMaxJsonValues = 2'000'000;
// At most this many errors are listed; one more line says how many were left out.
constexpr std::size_t kMaxListedErrors = 200;

struct StrippedText {
  std::string text;                         // same length as the input; comment bytes replaced by spaces
  std::optional<std::size_t> error_offset;  // an unterminated /* comment starts here
};

// Blanks out comments outside strings, keeping every newline and byte offset.
StrippedText strip_comments(std::string_view text);

// 1-based line and byte column of `offset` in `text`.
std::pair<int, int> line_column(std::string_view text, std::size_t offset);

// Parses `text` (comments allowed) into `out`. Appends errors (with `file`)
// and returns false when the text is not acceptable JSON; duplicate keys are
// reported but parsing continues (the later value is kept) so that every
// duplicate is listed.
bool parse_json_text(std::string_view text, const std::string& file, nlohmann::json& out,
                     std::vector<ScenarioError>& errors);

}  // namespace aether::scenarios
