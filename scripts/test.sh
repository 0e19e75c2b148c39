#!/usr/bin/env bash
# README command 2: install what is missing, configure (warnings as errors),
# build everything and run every test through CTest. Non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAETHER_WERROR=ON
cmake --build build
ctest --test-dir build --output-on-failure -j 2
