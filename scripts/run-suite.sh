#!/usr/bin/env bash
# README command 1 (the main job): install what is missing, build aethersim and
# run the shipped scenario suite, printing a line per scenario and a summary,
# and write a report per run (build/reports/index.html).
# Extra arguments go to `aethersim run` (e.g. --stats, --seeds 1..20).
# The build prints one line; its full log is kept in build/build.log and
# shown only when the build fails.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
mkdir -p build
log=build/build.log
if [ -x build/aethersim ]; then
  echo "run-suite: building aethersim (log: $log)..."
else
  echo "run-suite: building aethersim for the first time, about 5 minutes on 2 cores (log: $log)..."
fi
if ! { cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo &&
       cmake --build build --target aethersim; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "run-suite: the build failed; the log above is also in $log" >&2
  exit 2
fi
# Reports for every run (docs/reports.md): build/reports/index.html (its path
# is printed at the end) and JUnit XML for CI.
rm -rf build/reports
exec build/aethersim run scenarios/ --report "$PWD/build/reports" --junit "$PWD/build/reports/junit.xml" "$@"
