#!/usr/bin/env bash
# Installs the Debian packages aether-sim needs, if any is missing. Runs
# apt-get as root, or through sudo. Safe to run again: it does nothing when
# everything is present.
set -euo pipefail

packages=(
  cmake g++ ninja-build ccache
  libboost-graph-dev libboost-program-options-dev libfmt-dev nlohmann-json3-dev
  catch2 librapidcheck-dev libbenchmark-dev
  libjemalloc-dev  # the allocator every executable links (CMake option AETHER_JEMALLOC)
  python3 python3-jsonschema
  clang clang-format libclang-rt-dev
  chromium  # tests/reports renders the HTML reports in headless Chromium
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1; then
  sudo=(sudo)
else
  echo "install-deps: missing ${missing[*]}, and neither root nor sudo is available" >&2
  exit 2
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
