#include "scenarios/json_text.h"

#include <optional>
#include <set>

#include <fmt/format.h>

namespace aether::scenarios {

StrippedText strip_comments(std::string_view text) {
  StrippedText out{std::string(text), std::nullopt};
  std::string& s = out.text;
  std::size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (c == '"') {
      // Skip a string literal, honouring backslash escapes; a newline ends an
      // (invalid) string so one stray quote cannot hide the rest of the file.
      ++i;
      while (i < s.size() && s[i] != '"' && s[i] != '\n') i += (s[i] == '\\' && i + 1 < s.size()) ? 2 : 1;
      if (i < s.size() && s[i] == '"') ++i;
      continue;
    }
    if (c == '/' && i + 1 < s.size() && s[i + 1] == '/') {
      while (i < s.size() && s[i] != '\n') s[i++] = ' ';
      continue;
    }
    if (c == '/' && i + 1 < s.size() && s[i + 1] == '*') {
      const std::size_t start = i;
      s[i] = ' ';
      s[i + 1] = ' ';
      i += 2;
      bool closed = false;
      while (i < s.size()) {
        if (s[i] == '*' && i + 1 < s.size() && s[i + 1] == '/') {
          s[i] = ' ';
          s[i + 1] = ' ';
          i += 2;
          closed = true;
          break;
        }
        if (s[i] != '\n' && s[i] != '\r') s[i] = ' ';
        ++i;
      }
      if (!closed) {
        out.error_offset = start;
        return out;
      }
      continue;
    }
    ++i;
  }
  return out;
}

std::pair<int, int> line_column(std::string_view text, std::size_t offset) {
  int line = 1;
  int column = 1;
  for (std::size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return {line, column};
}

namespace {

using nlohmann::json;

// Builds the DOM like nlohmann's json_sax_dom_parser, and also tracks the JSON
// path, the keys seen in each open object and the nesting depth.
class StrictDomBuilder {
 public:
  StrictDomBuilder(json& root, const std::string& file, std::string_view text,
                   std::vector<ScenarioError>& errors)
      : root_(root), file_(file), text_(text), errors_(errors) {}

  bool null() { return put(json(nullptr)); }
  bool boolean(bool value) { return put(json(value)); }
  bool number_integer(json::number_integer_t value) { return put(json(value)); }
  bool number_unsigned(json::number_unsigned_t value) { return put(json(value)); }
  bool number_float(json::number_float_t value, const json::string_t&) { return put(json(value)); }
  bool string(json::string_t& value) { return put(json(std::move(value))); }
  bool binary(json::binary_t&) { return put(json()); }

  bool start_object(std::size_t) { return open(json::object()); }
  bool start_array(std::size_t) { return open(json::array()); }
  bool end_object() { return close(); }
  bool end_array() { return close(); }

  bool key(json::string_t& name) {
    Frame& frame = frames_.back();
    if (!frame.keys.insert(name).second) {
      const std::string shown = name.size() > 100 ? name.substr(0, 100) + "..." : name;
      errors_.push_back({file_, member_path(frame.path, name), 0, 0,
                         fmt::format("duplicate key \"{}\" (each key may appear once)", shown)});
    }
    frame.pending_key = name;
    return true;
  }

  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception& ex) {
    // nlohmann's message reads "[json.exception.parse_error.101] parse error at
    // line 1, column 5: syntax error while parsing ..."; keep what follows the
    // position and compute line:column ourselves from the byte offset.
    std::string message = ex.what();
    const auto column_at = message.find("column");
    const auto colon = column_at == std::string::npos ? std::string::npos : message.find(": ", column_at);
    if (colon != std::string::npos) {
      message = message.substr(colon + 2);
    } else if (message.rfind("[json.exception.", 0) == 0 && message.find("] ") != std::string::npos) {
      // Other errors ("[json.exception.out_of_range.406] number overflow
      // parsing '1e400'") carry no position: drop the library's tag.
      message = message.substr(message.find("] ") + 2);
    }
    const std::size_t offset = position > 0 ? position - 1 : 0;
    if (const auto comma = trailing_comma(offset)) {
      // `[1, 2,]` or `{"a": 1,}`: name the comma, not the bracket after it.
      const auto [line, column] = line_column(text_, *comma);
      errors_.push_back(
          {file_, "", line, column,
           "malformed JSON: expected a value after ','; trailing commas are not allowed (remove this "
           "',')"});
      return false;
    }
    const auto [line, column] = line_column(text_, offset);
    errors_.push_back({file_, "", line, column, "malformed JSON: " + message});
    return false;
  }

  bool aborted() const { return depth_exceeded_ || too_many_; }

 private:
  // The offset of a ',' that directly precedes (whitespace aside) the '}' or
  // ']' at `offset`.
  std::optional<std::size_t> trailing_comma(std::size_t offset) const {
    if (offset >= text_.size() || (text_[offset] != '}' && text_[offset] != ']')) return std::nullopt;
    std::size_t i = offset;
    while (i > 0) {
      const char c = text_[--i];
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r') continue;
      if (c == ',') return i;
      return std::nullopt;
    }
    return std::nullopt;
  }

  struct Frame {
    json* value = nullptr;
    std::string path;
    std::set<std::string> keys;
    std::string pending_key;
    std::size_t next_index = 0;
  };

  // Where the next value goes, and its path.
  std::pair<json*, std::string> slot() {
    if (frames_.empty()) return {&root_, ""};
    Frame& frame = frames_.back();
    if (frame.value->is_object()) {
      return {&(*frame.value)[frame.pending_key], member_path(frame.path, frame.pending_key)};
    }
    frame.value->push_back(json());
    return {&frame.value->back(), index_path(frame.path, frame.next_index++)};
  }

  bool count_value() {
    if (++values_ <= kMaxJsonValues) return true;
    too_many_ = true;
    errors_.push_back(
        {file_, "", 0, 0, fmt::format("more than {} JSON values in one file (the limit)", kMaxJsonValues)});
    return false;
  }

  bool put(json value) {
    if (!count_value()) return false;
    *slot().first = std::move(value);
    return true;
  }

  bool open(json value) {
    if (!count_value()) return false;
    if (frames_.size() >= kMaxNestingDepth) {
      depth_exceeded_ = true;
      const std::string where = frames_.empty() ? "" : frames_.back().path;
      errors_.push_back({file_, "", 0, 0,
                         fmt::format("JSON nested deeper than {} levels (at {})", kMaxNestingDepth,
                                     where.empty() ? "the top level" : where.substr(0, 200))});
      return false;
    }
    auto [target, path] = slot();
    *target = std::move(value);
    frames_.push_back(Frame{target, std::move(path), {}, {}, 0});
    return true;
  }

  bool close() {
    frames_.pop_back();
    return true;
  }

  json& root_;
  const std::string& file_;
  std::string_view text_;
  std::vector<ScenarioError>& errors_;
  std::vector<Frame> frames_;
  bool depth_exceeded_ = false;
  bool too_many_ = false;
  std::size_t values_ = 0;
};

}  // namespace

bool parse_json_text(std::string_view text, const std::string& file, nlohmann::json& out,
                     std::vector<ScenarioError>& errors) {
  if (text.size() > kMaxFileBytes) {
    errors.push_back(
        {file, "", 0, 0, fmt::format("file is {} bytes; the limit is {} bytes", text.size(), kMaxFileBytes)});
    return false;
  }
  const StrippedText stripped = strip_comments(text);
  if (stripped.error_offset) {
    const auto [line, column] = line_column(text, *stripped.error_offset);
    errors.push_back({file, "", line, column, "unterminated /* comment"});
    return false;
  }
  out = nlohmann::json();
  StrictDomBuilder builder(out, file, stripped.text, errors);
  const bool ok = nlohmann::json::sax_parse(stripped.text, &builder, nlohmann::json::input_format_t::json,
                                            /*strict=*/true);
  if (!ok || builder.aborted()) {
    out = nlohmann::json();
    return false;
  }
  return true;
}

}  // namespace aether::scenarios
