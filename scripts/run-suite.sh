#!/usr/bin/env bash
# README command 1 (the main job): install what is missing, build aethersim and
# run the shipped scenario suite, printing a line per scenario and a summary.
# Extra arguments go to `aethersim run` (e.g. --stats, --seeds 1..20).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build --target aethersim
exec build/aethersim run scenarios/ "$@"
