#!/usr/bin/env python3
"""Compare the traces of two aethersim binaries, event by event.

Usage: tools/compare_traces.py BASELINE_BIN NEW_BIN [--seeds A..B] [--jobs J]
           [--ignore-kind KIND ...] [--ignore-field FIELD ...] [PATH ...]

Runs `BIN run FILE --seed S --trace T` with both binaries for every scenario
file under PATH (directories are searched recursively for *.json) and every
seed, drops the trace lines whose "kind" is an ignored kind and the ignored
fields from every line, and compares what is left line by line. This is the
check for a change that may alter only what the ignored kinds and fields say
(issue 14, fifth pass: deferred deliveries drop the kv.apply lines of
positions a node applies without waking, and the event counts) while every
other event -- every engine decision, write, slice operation, view change and
check -- must stay at the same instant in the same order. Prints the first
difference of each differing run. Exit 0 when every trace agrees, 1 when any
differs, 2 on usage errors.
"""
import argparse
import concurrent.futures
import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile


def scenario_files(paths):
    out = []
    for path in paths:
        p = pathlib.Path(path)
        if p.is_dir():
            out.extend(sorted(str(f) for f in p.rglob("*.json")))
        else:
            out.append(str(p))
    return out


def trace(binary, path, seed, kinds, fields, workdir):
    fd, name = tempfile.mkstemp(suffix=".jsonl", dir=workdir)
    os.close(fd)
    try:
        proc = subprocess.run([binary, "run", path, "--seed", str(seed), "--trace", name],
                              capture_output=True, text=True)
        if proc.returncode not in (0, 1):
            return [f"(exit {proc.returncode}) {proc.stderr.strip()}"]
        lines = []
        with open(name, encoding="utf-8") as f:
            for raw in f:
                event = json.loads(raw)
                if event.get("kind") in kinds:
                    continue
                for field in fields:
                    event.pop(field, None)
                lines.append(json.dumps(event, sort_keys=True))
        return lines
    finally:
        os.unlink(name)


def compare(job):
    baseline, new, path, seed, kinds, fields, workdir = job
    a = trace(baseline, path, seed, kinds, fields, workdir)
    b = trace(new, path, seed, kinds, fields, workdir)
    if a == b:
        return None
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return f"{path} seed={seed}: line {i + 1}\n  baseline: {x}\n  new:      {y}"
    return f"{path} seed={seed}: {len(a)} lines vs {len(b)} lines"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("baseline")
    ap.add_argument("new")
    ap.add_argument("paths", nargs="*", default=["scenarios/"])
    ap.add_argument("--seeds", default="1..2")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--ignore-kind", action="append", default=[])
    ap.add_argument("--ignore-field", action="append", default=[])
    args = ap.parse_intermixed_args()
    m = re.fullmatch(r"(\d+)\.\.(\d+)", args.seeds)
    if not m:
        print("--seeds: expected A..B", file=sys.stderr)
        return 2
    files = scenario_files(args.paths)
    if not files:
        print("no scenario files", file=sys.stderr)
        return 2
    seeds = range(int(m.group(1)), int(m.group(2)) + 1)
    with tempfile.TemporaryDirectory() as workdir:
        jobs = [(args.baseline, args.new, f, s, set(args.ignore_kind), args.ignore_field, workdir)
                for f in files for s in seeds]
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            results = list(pool.map(compare, jobs))
    differ = [r for r in results if r is not None]
    for r in differ[:20]:
        print("DIFFERS " + r)
    print(f"compared {len(jobs)} traces ({len(files)} files, seeds {args.seeds}; ignoring kinds "
          f"{sorted(args.ignore_kind) or 'none'}, fields {args.ignore_field or 'none'}): {len(differ)} differ")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
