// `aethersim trace FILE`: a saved --trace (JSON Lines, docs/trace-format.md)
// as a readable, filtered timeline, or (--summary) the leader tenures, node
// up/down intervals, final store contents and the winner of each contested
// client write. Reads the file only; runs nothing.
#pragma once

#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "engine/time.h"

namespace aether::tools {

struct TraceCommandOptions {
  std::string file;
  std::optional<std::string> node;  // events naming this node (node, from, to, peer)
  std::vector<std::string> kinds;   // "kv.decide" or a prefix "kv"; empty: all but the folded ones
  std::optional<engine::Nanos> from;
  std::optional<engine::Nanos> to;
  bool summary = false;
};

// Returns the exit code: 0, or 2 for a file that cannot be read or is not a
// trace (with file:line and what is wrong on `err`).
int trace_command(const TraceCommandOptions& options, std::ostream& out, std::ostream& err);

}  // namespace aether::tools
