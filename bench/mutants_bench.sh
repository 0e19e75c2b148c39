#!/usr/bin/env bash
# Issue 12 benchmark (figures for the report, never asserted):
#  1. per mutation point, seeds to detection under fuzz alone (`mutants
#     --no-suite`), one profile at a time (live, swarm), for five start
#     seeds; prints the median and the worst per mutant and profile;
#  2. the wall time of `aethersim mutants --jobs 2` killing the whole
#     catalogue (suite first, fuzz for what the suite leaves alive).
# usage: bench/mutants_bench.sh [BUILD_DIR] [OUT_DIR]
#   env: SEEDS=1000 JOBS=2 STARTS="1 1001 2001 3001 4001" SKIP=name,name (points left out)
set -euo pipefail
build=${1:-build}
out=${2:-$build/bench-mutants}
seeds=${SEEDS:-1000}
jobs=${JOBS:-2}
starts=${STARTS:-"1 1001 2001 3001 4001"}
skip=()
if [ -n "${SKIP:-}" ]; then skip=(--skip "$SKIP"); fi
here=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out"
for profile in live swarm; do
  for start in $starts; do
    echo "fuzz $profile from seed $start ..." >&2
    # exit 1 (a survivor) is a figure here, not an error
    "$build/aethersim" mutants --no-suite --quiet --profiles "$profile" --start-seed "$start" --seeds "$seeds" \
      --jobs "$jobs" --seed-timeout 60s "${skip[@]}" --json "$out/fuzz-$profile-$start.json" > "$out/fuzz-$profile-$start.txt" || true
  done
done
echo "whole catalogue, suite then fuzz, --jobs $jobs ..." >&2
begin=$(date +%s.%N)
"$build/aethersim" mutants --quiet --jobs "$jobs" --seeds "$seeds" "${skip[@]}" --json "$out/catalogue.json" "$here/scenarios" \
  > "$out/catalogue.txt" || true
end=$(date +%s.%N)
python3 - "$out" "$seeds" "$begin" "$end" $starts <<'PY'
import json, statistics, sys
out, seeds, begin, end, starts = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5:]
rows = {}
for profile in ("live", "swarm"):
    for start in starts:
        summary = json.load(open(f"{out}/fuzz-{profile}-{start}.json"))
        for m in summary["mutants"]:
            k = m.get("kill")
            n = k["seeds_to_detection"] if k else None  # None: survived the whole range
            rows.setdefault(m["name"], {}).setdefault(profile, []).append(n)
def fmt(values):
    found = [v for v in values if v is not None]
    missed = len(values) - len(found)
    # A survived range counts as "more than seeds" for the median.
    ranked = sorted(v if v is not None else seeds + 1 for v in values)
    med = statistics.median(ranked)
    med_text = f">{seeds}" if med > seeds else f"{med:g}"
    worst = f">{seeds}" if missed else str(max(found))
    return f"{med_text:>7} {worst:>7} {missed:>6}"
print(f"seeds to detection under fuzz alone ({len(starts)} start seeds, {seeds} seeds each)")
print(f"{'mutant':<40} {'live median':>11} {'worst':>7} {'missed':>6}   {'swarm median':>12} {'worst':>7} {'missed':>6}")
for name in sorted(rows):
    print(f"{name:<40} {fmt(rows[name]['live']):>26}   {fmt(rows[name]['swarm']):>27}")
cat = json.load(open(f"{out}/catalogue.json"))
print(f"whole catalogue (suite, then fuzz for survivors): {cat['killed']} of {len(cat['mutants'])} killed "
      f"in {end - begin:.1f}s wall")
PY
