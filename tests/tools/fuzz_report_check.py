#!/usr/bin/env python3
"""`aethersim fuzz --report DIR`: every failing seed of the summary has a
report folder (report.json with verdict fail and the seed's replay command,
report.html, summary.md) written by the worker that ran it, and DIR/index.html
links each of them. Usage: fuzz_report_check.py AETHERSIM WORK PROFILE SEEDS"""
import json
import pathlib
import shutil
import subprocess
import sys

program, work, profile, seeds = sys.argv[1], pathlib.Path(sys.argv[2]), sys.argv[3], sys.argv[4]
shutil.rmtree(work, ignore_errors=True)
report_dir, out_dir = work / "report", work / "out"
run = subprocess.run([program, "fuzz", "--profile", profile, "--seeds", seeds, "--jobs", "2", "--no-shrink",
                      "--quiet", "--report", str(report_dir), "--out", str(out_dir)],
                     capture_output=True, text=True)
problems = []
if run.returncode not in (0, 1):
    problems.append(f"exit {run.returncode}: {run.stderr}")
summary = json.loads((out_dir / "summary.json").read_text())
failing = [s for group in summary["failures"] for s in group["seeds"]
           if s["outcome"] in ("fail", "framework-error")]
index = (report_dir / "index.html").read_text() if (report_dir / "index.html").exists() else None
if index is None:
    problems.append("no index.html")
if f"report: {report_dir / 'index.html'} ({len(failing)} failing seed" not in run.stdout:
    problems.append(f"no report line naming {len(failing)} failing seeds:\n{run.stdout}")
for s in failing:
    folder = report_dir / f"seed-{s['seed']}"
    for name in ("report.json", "report.html", "summary.md"):
        if not (folder / name).exists():
            problems.append(f"seed {s['seed']}: no {name}")
    if (folder / "report.json").exists():
        r = json.loads((folder / "report.json").read_text())
        if r["verdict"] != "fail" and s["outcome"] == "fail":
            problems.append(f"seed {s['seed']}: report verdict {r['verdict']}")
        if f"--start-seed {s['seed']}" not in r["replay"]:
            problems.append(f"seed {s['seed']}: replay {r['replay']}")
    if index is not None and f"seed-{s['seed']}/report.html" not in index:
        problems.append(f"seed {s['seed']}: not linked from index.html")
passed = {s for s in range(1, int(seeds) + 1)} - {s["seed"] for g in summary["failures"] for s in g["seeds"]}
for seed in sorted(passed):
    if (report_dir / f"seed-{seed}").exists():
        problems.append(f"seed {seed} passed but has a report folder")
for p in problems:
    print("FAIL:", p)
print(f"{len(failing)} failing seeds with reports checked; {len(problems)} problem(s)")
sys.exit(1 if problems else 0)
