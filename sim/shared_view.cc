#include "sim/shared_view.h"

#include <algorithm>
#include <utility>

#include "sim/trace.h"

namespace aether::sim {

ViewRef make_view(std::vector<engine::NodeId> names, std::vector<std::uint32_t> vertices) {
  auto view = std::make_shared<SharedView>();
  const bool sorted = std::is_sorted(names.begin(), names.end());
  if (!sorted) std::sort(names.begin(), names.end());
  if (sorted && vertices.size() == names.size()) view->vertices = std::move(vertices);
  view->names = std::move(names);
  view->trace_list = encode_trace_list(view->names);
  return view;
}

const ViewRef& empty_view() {
  static const ViewRef empty = make_view({});
  return empty;
}

}  // namespace aether::sim
