// The one way aether-sim writes a duration or an instant for people, in every
// message, verdict line, summary and trace reading (docs/cli.md, "Times"):
// seconds with the fraction trimmed ("40.006s", "0.5s", "0s"), minutes and
// hours from 60s up ("2m03.5s", "1h00m05s"). Milliseconds are the finest
// unit shown (the rest is cut, never rounded up), except that a duration
// under 1ms shows its digits ("0.00025s"), so nothing nonzero prints as 0s.
// The JSON trace keeps integer nanoseconds.
#pragma once

#include <string>

#include "engine/time.h"

namespace aether::properties {

std::string human_duration(engine::Nanos ns);

}  // namespace aether::properties
