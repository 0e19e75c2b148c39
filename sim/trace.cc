#include "sim/trace.h"

#include <bit>
#include <cstring>
#include <stdexcept>

namespace aether::sim {

namespace {

enum FieldType : std::uint8_t { kU64 = 1, kI64 = 2, kBool = 3, kStr = 4, kList = 5 };

// At most 10 bytes; returns the end of what it wrote.
char* put_varint(char* out, std::uint64_t value) {
  while (value >= 0x80) {
    *out++ = static_cast<char>((value & 0x7F) | 0x80);
    value >>= 7;
  }
  *out++ = static_cast<char>(value);
  return out;
}

constexpr std::size_t kMaxVarint = 10;

char* put_bytes(char* out, std::string_view bytes) {
  out = put_varint(out, bytes.size());
  if (!bytes.empty()) std::memcpy(out, bytes.data(), bytes.size());
  return out + bytes.size();
}

std::uint64_t zigzag(std::int64_t v) {
  return (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63);
}
std::int64_t unzigzag(std::uint64_t v) {
  return static_cast<std::int64_t>(v >> 1) ^ -static_cast<std::int64_t>(v & 1);
}

struct Reader {
  std::string_view in;
  std::size_t pos = 0;
  bool done() const { return pos >= in.size(); }
  std::uint64_t varint() {
    std::uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos >= in.size()) throw std::runtime_error("trace record truncated");
      const auto byte = static_cast<unsigned char>(in[pos++]);
      value |= static_cast<std::uint64_t>(byte & 0x7F) << shift;
      if (!(byte & 0x80)) return value;
    }
    throw std::runtime_error("trace varint too long");
  }
  std::string_view bytes() {
    const std::uint64_t n = varint();
    if (n > in.size() - pos) throw std::runtime_error("trace record truncated");
    std::string_view out = in.substr(pos, n);
    pos += n;
    return out;
  }
  std::uint8_t byte() {
    if (pos >= in.size()) throw std::runtime_error("trace record truncated");
    return static_cast<std::uint8_t>(in[pos++]);
  }
};

void json_string(std::string& out, std::string_view s) {
  out.push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (c < 0x20) {
          static const char* hex = "0123456789abcdef";
          out += "\\u00";
          out.push_back(hex[c >> 4]);
          out.push_back(hex[c & 0xF]);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out.push_back('"');
}

constexpr std::uint64_t kMul = 0x9E3779B97F4A7C15ULL;

std::uint64_t mix(std::uint64_t h) {
  h ^= h >> 32;
  h *= 0xD6E8FEB86659FD93ULL;
  h ^= h >> 32;
  return h;
}

}  // namespace

std::uint64_t hash_bytes(std::uint64_t seed, std::string_view bytes) {
  std::uint64_t h = seed ^ (bytes.size() * kMul);
  std::size_t i = 0;
  for (; i + 8 <= bytes.size(); i += 8) {
    // The 8 bytes as a little-endian word: one load where that is native.
    std::uint64_t word = 0;
    if constexpr (std::endian::native == std::endian::little) {
      std::memcpy(&word, bytes.data() + i, 8);
    } else {
      for (int b = 7; b >= 0; --b) word = (word << 8) | static_cast<unsigned char>(bytes[i + b]);
    }
    h = (h ^ word) * kMul;
    h ^= h >> 29;
  }
  std::uint64_t tail = 0;
  for (std::size_t b = bytes.size(); b > i; --b)
    tail = (tail << 8) | static_cast<unsigned char>(bytes[b - 1]);
  h = (h ^ tail) * kMul;
  return mix(h);
}

std::string hash_hex(std::uint64_t hash) {
  static const char* hex = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i) {
    out[static_cast<std::size_t>(i)] = hex[hash & 0xF];
    hash >>= 4;
  }
  return out;
}

Trace::Trace(std::size_t recent_capacity) : hash_(0x243F6A8885A308D3ULL), ring_(recent_capacity) {}

TraceEvent Trace::event(Nanos time, std::string_view kind) {
  record_size_ = 0;
  char* out = room(2 * kMaxVarint + kind.size());
  out = put_bytes(out, kind);
  advance(put_varint(out, zigzag(time)));
  return TraceEvent(*this);
}

void Trace::put_key(std::uint8_t type, std::string_view key) {
  char* out = room(1 + kMaxVarint + key.size());
  *out++ = static_cast<char>(type);
  advance(put_bytes(out, key));
}

void Trace::commit() {
  const std::string_view bytes = record();
  hash_ = hash_bytes(hash_, bytes);
  ++count_;
  if (!ring_.empty()) {
    ring_[ring_next_].assign(bytes);
    ring_next_ = (ring_next_ + 1) % ring_.size();
  }
  bool observe = static_cast<bool>(line_observer_);
  if (observe && line_filter_) {
    // The record starts with its kind: varint length, then the bytes.
    std::size_t length = 0;
    std::size_t at = 0;
    for (int shift = 0; at < bytes.size(); shift += 7) {
      const auto byte = static_cast<unsigned char>(bytes[at++]);
      length |= static_cast<std::size_t>(byte & 0x7F) << shift;
      if ((byte & 0x80) == 0) break;
    }
    observe = line_filter_(bytes.substr(at, length));
  }
  if (jsonl_ != nullptr || observe) {
    std::string line = to_json(bytes);
    if (observe) line_observer_(count_ - 1, line);
    if (jsonl_ != nullptr) {
      line.push_back('\n');
      std::fwrite(line.data(), 1, line.size(), jsonl_);
    }
  }
}

std::vector<std::string> Trace::recent(std::size_t n) const {
  std::vector<std::string> out;
  const std::size_t available = static_cast<std::size_t>(std::min<std::uint64_t>(count_, ring_.size()));
  n = std::min(n, available);
  for (std::size_t k = n; k > 0; --k) {
    const std::size_t index = (ring_next_ + ring_.size() - k) % ring_.size();
    out.push_back(to_json(ring_[index]));
  }
  return out;
}

std::string Trace::to_json(std::string_view record) {
  Reader r{record};
  std::string out = "{\"t\":";
  const std::string_view kind = r.bytes();
  out += std::to_string(unzigzag(r.varint()));
  out += ",\"kind\":";
  json_string(out, kind);
  while (!r.done()) {
    const std::uint8_t type = r.byte();
    out.push_back(',');
    json_string(out, r.bytes());
    out.push_back(':');
    switch (type) {
      case kU64:
        out += std::to_string(r.varint());
        break;
      case kI64:
        out += std::to_string(unzigzag(r.varint()));
        break;
      case kBool:
        out += r.byte() ? "true" : "false";
        break;
      case kStr:
        json_string(out, r.bytes());
        break;
      case kList: {
        const std::uint64_t n = r.varint();
        out.push_back('[');
        for (std::uint64_t i = 0; i < n; ++i) {
          if (i) out.push_back(',');
          json_string(out, r.bytes());
        }
        out.push_back(']');
        break;
      }
      default:
        throw std::runtime_error("trace record: unknown field type");
    }
  }
  out.push_back('}');
  return out;
}

TraceEvent::~TraceEvent() {
  trace_.commit();
}

TraceEvent& TraceEvent::u64(std::string_view key, std::uint64_t value) {
  trace_.put_key(kU64, key);
  trace_.advance(put_varint(trace_.room(kMaxVarint), value));
  return *this;
}

TraceEvent& TraceEvent::i64(std::string_view key, std::int64_t value) {
  trace_.put_key(kI64, key);
  trace_.advance(put_varint(trace_.room(kMaxVarint), zigzag(value)));
  return *this;
}

TraceEvent& TraceEvent::flag(std::string_view key, bool value) {
  trace_.put_key(kBool, key);
  char* out = trace_.room(1);
  *out++ = value ? 1 : 0;
  trace_.advance(out);
  return *this;
}

TraceEvent& TraceEvent::str(std::string_view key, std::string_view value) {
  trace_.put_key(kStr, key);
  trace_.advance(put_bytes(trace_.room(kMaxVarint + value.size()), value));
  return *this;
}

TraceEvent& TraceEvent::list(std::string_view key, const std::vector<std::string>& values) {
  trace_.put_key(kList, key);
  trace_.advance(put_varint(trace_.room(kMaxVarint), values.size()));
  for (const auto& v : values) trace_.advance(put_bytes(trace_.room(kMaxVarint + v.size()), v));
  return *this;
}

TraceEvent& TraceEvent::encoded_list(std::string_view key, std::string_view encoded) {
  trace_.put_key(kList, key);
  char* out = trace_.room(encoded.size());
  if (!encoded.empty()) std::memcpy(out, encoded.data(), encoded.size());
  trace_.advance(out + encoded.size());
  return *this;
}

TraceEvent& TraceEvent::begin_list(std::string_view key, std::size_t count) {
  trace_.put_key(kList, key);
  trace_.advance(put_varint(trace_.room(kMaxVarint), count));
  return *this;
}

TraceEvent& TraceEvent::item(std::initializer_list<std::string_view> parts) {
  std::size_t size = 0;
  for (std::string_view part : parts) size += part.size();
  char* out = put_varint(trace_.room(kMaxVarint + size), size);
  for (std::string_view part : parts) {
    if (!part.empty()) std::memcpy(out, part.data(), part.size());
    out += part.size();
  }
  trace_.advance(out);
  return *this;
}

std::string encode_trace_list(const std::vector<std::string>& values) {
  std::size_t size = kMaxVarint;
  for (const auto& v : values) size += kMaxVarint + v.size();
  std::string out(size, '\0');
  char* end = put_varint(out.data(), values.size());
  for (const auto& v : values) end = put_bytes(end, v);
  out.resize(static_cast<std::size_t>(end - out.data()));
  return out;
}

}  // namespace aether::sim
