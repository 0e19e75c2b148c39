#!/usr/bin/env python3
"""The determinism lint reports each planted violation and nothing else."""
import os
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
lint = os.path.join(here, "determinism_lint.py")
fixtures = os.path.join(here, "fixtures")

result = subprocess.run([sys.executable, lint, fixtures], capture_output=True, text=True)
failures = []
if result.returncode != 1:
    failures.append(f"expected exit 1 on planted violations, got {result.returncode}")

expected = set()
with open(os.path.join(fixtures, "planted_violations.cc")) as handle:
    for number, line in enumerate(handle, 1):
        if "// VIOLATION" in line:
            expected.add((number, line.split("// VIOLATION")[1].strip()))

reported = set()
for out in result.stdout.splitlines():
    if out.startswith("determinism lint:"):
        continue
    path, number, rule = out.split(":", 3)[:3]
    if not path.endswith("planted_violations.cc"):
        failures.append(f"false positive: {out}")
        continue
    reported.add((int(number), rule.strip()))

for miss in sorted(expected - reported):
    failures.append(f"missed planted violation at line {miss[0]} ({miss[1]})")
for extra in sorted(reported - expected):
    failures.append(f"unexpected report at line {extra[0]} ({extra[1]})")

for failure in failures:
    print("FAIL:", failure)
print(f"lint self-test: {len(expected)} planted, {len(reported & expected)} caught, {len(failures)} problem(s)")
sys.exit(1 if failures else 0)
