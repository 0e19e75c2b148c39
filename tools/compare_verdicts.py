#!/usr/bin/env python3
"""Compare the verdicts of two aethersim binaries over a seed sweep.

Usage: tools/compare_verdicts.py BASELINE_BIN NEW_BIN [--seeds A..B] [--jobs J] [PATH ...]

Runs `BIN run PATH... --seeds A..B` with both binaries and compares, per
(scenario, seed): the verdict, the figures on the run line (end, converged
instant, recovery, worst, moved, writes) and every detail line under it
(convergence status with T0/bound, blockers, violation ids, expectations).
A sweep prints no failure lines, so every run that did not pass is run
again alone with both binaries and compared line by line (violation ids,
blockers, expectations). Wall times, event counts, trace hashes and the replay command are ignored:
they may legitimately change with a faster simulator. Exit 0 when every run
agrees, 1 when any differs (each difference is printed), 2 on usage errors.
"""
import argparse
import re
import subprocess
import sys

RUN_LINE = re.compile(r"^(PASS|FAIL|ERROR|FAULT|[A-Z-]+) (\S+) seed=(\d+) (.*)$")
IGNORED = re.compile(r"\s(wall|events|hash|events/s|sim-s/wall-s)=\S+")


def single(binary, path, seed):
    """One run's verdict line and every detail line (violations, blockers, expectations)."""
    proc = subprocess.run([binary, "run", path, "--seed", str(seed)], capture_output=True, text=True)
    runs = parse(proc.stdout, {})
    return next(iter(runs.values()), ["(no run line) exit %d %s" % (proc.returncode, proc.stderr.strip())])


def parse(stdout, files):
    runs = {}
    current = None
    for line in stdout.splitlines():
        m = RUN_LINE.match(line)
        if m and not line.startswith(" "):
            verdict, name, seed, rest = m.groups()
            rest, _, replay = rest.partition(" replay: ")
            replay = replay.split()
            if len(replay) >= 3:
                files[name] = replay[2]
            rest = IGNORED.sub("", " " + rest).strip()
            current = (name, int(seed))
            runs[current] = [verdict + " " + rest]
        elif line.startswith("  ") and current is not None:
            runs[current].append(line.strip())
        else:
            current = None  # tables, summary, progress
    return runs


def sweep(binary, paths, seeds, jobs, files):
    cmd = [binary, "run", *paths, "--seeds", seeds, "--jobs", str(jobs)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode not in (0, 1):
        sys.exit(f"{' '.join(cmd)}: exit {proc.returncode}\n{proc.stderr}")
    return parse(proc.stdout, files)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("baseline")
    ap.add_argument("new")
    ap.add_argument("paths", nargs="*", default=["scenarios/"])
    ap.add_argument("--seeds", default="1..200")
    ap.add_argument("--jobs", type=int, default=1)
    args = ap.parse_intermixed_args()  # paths may follow the options
    if not re.fullmatch(r"\d+\.\.\d+", args.seeds):
        print("--seeds: expected A..B", file=sys.stderr)
        return 2
    files = {}
    base = sweep(args.baseline, args.paths, args.seeds, args.jobs, files)
    new = sweep(args.new, args.paths, args.seeds, args.jobs, files)
    # A sweep prints no failure details: every run that did not pass in either
    # binary is run alone with both, and all its lines are compared.
    rerun = 0
    for key in sorted(set(base) & set(new)):
        if base[key] == new[key] and base[key][0].startswith("PASS"):
            continue
        if key[0] in files:
            rerun += 1
            base[key] = single(args.baseline, files[key[0]], key[1])
            new[key] = single(args.new, files[key[0]], key[1])
    differ = 0
    for key in sorted(set(base) | set(new)):
        a, b = base.get(key), new.get(key)
        if a != b:
            differ += 1
            if differ <= 20:
                print(f"DIFFERS {key[0]} seed={key[1]}")
                print("  baseline: " + (" | ".join(a) if a else "(missing)"))
                print("  new:      " + (" | ".join(b) if b else "(missing)"))
    verdicts = {}
    for v in base.values():
        verdicts[v[0].split()[0]] = verdicts.get(v[0].split()[0], 0) + 1
    summary = ", ".join(f"{n} {k}" for k, n in sorted(verdicts.items()))
    print(f"compared {len(set(base) | set(new))} runs (seeds {args.seeds}; baseline {summary}): "
          f"{differ} differ ({rerun} non-passing runs compared in full, violations and blockers included)")
    return 1 if differ or not base else 0


if __name__ == "__main__":
    sys.exit(main())
