#include "properties/liveness_cache.h"

namespace aether::properties {

const Liveness& LivenessCache::get() {
  if (dirty_ || !cached_) {
    Liveness now = liveness(world_);
    // An unchanged result keeps its epoch: what callers keyed on it holds.
    if (epoch_ == 0 || now.live != live_.live || now.configured != live_.configured) ++epoch_;
    live_ = std::move(now);
    dirty_ = false;
  }
  return live_;
}

}  // namespace aether::properties
