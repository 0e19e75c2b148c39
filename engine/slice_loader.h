// The node's slice store, as the NodeDeploymentManager drives it. Every
// operation completes later (never inside the call), exactly once, with
// success or a failure {reason, fatal}; a started operation always completes
// unless the node dies.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace aether::engine {

struct SliceFailure {
  std::string reason;
  bool fatal = false;
};

// nullopt: the operation succeeded.
using SliceResult = std::optional<SliceFailure>;
using SliceCallback = std::function<void(SliceResult)>;

enum class SliceHolding : std::uint8_t { NotHeld, Loaded, Active };

class SliceLoader {
 public:
  virtual ~SliceLoader() = default;
  virtual void load(const std::string& artifact, SliceCallback done) = 0;
  virtual void activate(const std::string& artifact, SliceCallback done) = 0;
  virtual void deactivate(const std::string& artifact, SliceCallback done) = 0;
  virtual void unload(const std::string& artifact, SliceCallback done) = 0;
  virtual SliceHolding holding(const std::string& artifact) const = 0;
  // Everything held, in artifact order.
  virtual std::vector<std::pair<std::string, SliceHolding>> held() const = 0;
};

}  // namespace aether::engine
