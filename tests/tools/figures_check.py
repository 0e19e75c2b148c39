#!/usr/bin/env python3
"""Checks that the figures on `aethersim run` verdict lines agree with the
run's own trace (docs/cli.md, "Figures"; docs/trace-format.md).

usage: figures_check.py AETHERSIM OUTDIR SCENARIO...

For each scenario: runs it with --trace, then checks
  end=        the time of run.end
  converged=  check.convergence's converged_ns (or not-owed/no/unchecked as its flags say)
  recovery=   one entry per instant with a crash, pause, isolate, partition or remove_node step;
              each failover line names that instant, and fault + recovery = the recovery instant
  worst=A/B@T A <= B and T is an instant of the trace
  writes=     decided batches with a submitter that is not a client
  met_ns      every held check.expectation carries the instant it was met, not after the run's end,
              and the run's "expectation ... met at T" line says the same instant
and that every time on the line is in the one human format.
"""
import json
import os
import re
import subprocess
import sys

HUMAN = r"(?:[0-9]+h[0-9]{2}m[0-9]{2}|[0-9]+m[0-9]{2}|[0-9]+)(?:\.[0-9]+)?s"
FAULTS = {"crash", "pause", "isolate", "partition", "remove_node"}


def human(ns):
    """docs/cli.md "Times": milliseconds cut, except under 1ms."""
    if ns < 0:
        return "-" + human(-ns)
    if ns >= 1_000_000:
        ns -= ns % 1_000_000
    whole, rest = divmod(ns, 1_000_000_000)
    fraction = ("." + f"{rest:09d}".rstrip("0")) if rest else ""
    if whole < 60:
        return f"{whole}{fraction}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}{fraction}s"
    return f"{whole // 3600}h{(whole // 60) % 60:02d}m{whole % 60:02d}{fraction}s"


def parse_human(text):
    m = re.fullmatch(r"(?:([0-9]+)h)?(?:([0-9]+)m)?([0-9]+)(?:\.([0-9]{1,9}))?s", text)
    assert m, text
    ns = int(m.group(1) or 0) * 3600 + int(m.group(2) or 0) * 60 + int(m.group(3))
    ns *= 1_000_000_000
    if m.group(4):
        ns += int((m.group(4) + "000000000")[:9])
    return ns


def check(aethersim, outdir, scenario):
    problems = []
    trace_path = os.path.join(outdir, os.path.basename(scenario) + ".figures.jsonl")
    run = subprocess.run([aethersim, "run", scenario, "--trace", trace_path], capture_output=True, text=True)
    lines = run.stdout.splitlines()
    verdict = next((l for l in lines if re.match(r"(PASS|FAIL) ", l)), None)
    if verdict is None:
        return [f"{scenario}: no PASS/FAIL line in\n{run.stdout}{run.stderr}"]
    fields = dict(re.findall(r" ([a-z]+)=([^ ]+)", verdict.split(" replay: ")[0]))
    events = [json.loads(l) for l in open(trace_path, encoding="utf-8")]
    instants = {e["t"] for e in events}

    def bad(message):
        problems.append(f"{scenario}: {message}\n  {verdict}")

    end = next(e for e in events if e["kind"] == "run.end")["t"]
    if fields.get("end") != human(end):
        bad(f"end={fields.get('end')} but run.end is at {human(end)}")
    conv = next(e for e in events if e["kind"] == "check.convergence")
    if "converged_ns" in conv:
        if fields.get("converged") != human(conv["converged_ns"]):
            bad(f"converged={fields.get('converged')} but the trace says {human(conv['converged_ns'])}")
    elif fields.get("converged") not in ("not-owed", "no", "unchecked"):
        bad(f"converged={fields.get('converged')} but the trace has no converged_ns")

    fault_instants = sorted({e["t"] for e in events if e["kind"] == "step" and e.get("step") in FAULTS})
    recovery = fields.get("recovery", "")
    entries = [] if recovery == "-" else recovery.split(",")
    if len(entries) != len(fault_instants):
        bad(f"{len(entries)} recovery entries for {len(fault_instants)} fault instants")
    failover_lines = [l for l in lines if l.startswith("  failover ")]
    for line, t, entry in zip(failover_lines, fault_instants, entries):
        m = re.match(rf"  failover .* at ({HUMAN}): (.*)$", line)
        if not m or m.group(1) != human(t):
            bad(f"failover line {line!r} does not name the fault instant {human(t)}")
            continue
        again = re.search(rf"ACTIVE again at ({HUMAN}) \(recovery ({HUMAN})\)", m.group(2))
        if again:
            if entry != again.group(2):
                bad(f"recovery entry {entry} differs from the failover line's {again.group(2)}")
            recovered = parse_human(again.group(1))
            if parse_human(entry) != recovered - t:
                bad(f"recovery {entry} is not {again.group(1)} - {human(t)}")
            if not any(human(i) == again.group(1) for i in instants if i >= t):
                bad(f"the recovery instant {again.group(1)} is no instant of the trace")
            if recovered > end:
                bad("recovered after the run's end")

    worst = fields.get("worst", "-")
    if worst != "-":
        m = re.fullmatch(rf"([0-9]+)/([0-9]+)@({HUMAN})", worst)
        if not m or int(m.group(1)) > int(m.group(2)):
            bad(f"worst={worst} is not A/B@T with A <= B")
        elif not any(human(i) == m.group(3) for i in instants):
            bad(f"worst={worst}: {m.group(3)} is no instant of the trace")

    submitters = {}
    for e in events:
        if e["kind"] == "kv.submit":
            submitters.setdefault(e["batch"], []).append(e["writer"])
    engine_writes = sum(
        1 for e in events if e["kind"] == "kv.decide"
        and any(not w.startswith("client:") for w in submitters.get(e["batch"], [])))
    if fields.get("writes") != str(engine_writes):
        bad(f"writes={fields.get('writes')} but the trace has {engine_writes} decided engine batches")

    met_lines = dict(re.findall(rf"^  expectation (steps\[[0-9]+\]) met at ({HUMAN}) ", run.stdout, re.M))
    for e in events:
        if e["kind"] != "check.expectation" or not e["held"]:
            continue
        if "met_ns" not in e or e["met_ns"] > end:
            bad(f"held expectation {e['path']} has no met_ns at or before the run's end: {e}")
        elif met_lines.get(e["path"]) != human(e["met_ns"]):
            bad(f"expectation {e['path']}: the line says met at {met_lines.get(e['path'])}, "
                f"the trace {human(e['met_ns'])}")
    return problems


def main():
    aethersim, outdir = sys.argv[1:3]
    os.makedirs(outdir, exist_ok=True)
    problems = []
    for scenario in sys.argv[3:]:
        problems += check(aethersim, outdir, scenario)
    for p in problems:
        print(p)
    print(f"{len(sys.argv) - 3} scenarios checked; {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
