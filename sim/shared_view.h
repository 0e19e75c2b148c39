// A view as the world delivers it (issue 14, eighth pass): immutable and
// shared by every node that holds the same members, so that a crash seen by n
// nodes builds the new view once instead of n copies of n names (and frees
// none of them until the last holder moves on).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/topology.h"

namespace aether::sim {

struct SharedView {
  std::vector<engine::NodeId> names;    // sorted, no repeats
  std::vector<std::uint32_t> vertices;  // World::vertex_of of each name, same order; empty: not known
  bool vertices_known() const { return vertices.size() == names.size(); }
  // `names` as a trace list field (encode_trace_list), encoded once by
  // make_view: every node's `view` line writes the same bytes.
  std::string trace_list;
};

using ViewRef = std::shared_ptr<const SharedView>;

// `names` sorted (sorted here if not); `vertices` in the order of `names` as
// given, used only when `names` was already sorted and the sizes match.
ViewRef make_view(std::vector<engine::NodeId> names, std::vector<std::uint32_t> vertices = {});

// The view with no member (a stopped node's).
const ViewRef& empty_view();

}  // namespace aether::sim
