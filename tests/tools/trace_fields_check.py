#!/usr/bin/env python3
"""Checks every event of saved traces against docs/trace-format.md.

usage: trace_fields_check.py AETHERSIM DOC OUTDIR SCENARIO...

Runs each scenario with --trace and checks each event: its kind is listed in
one of the doc's event tables, its fields (beyond t and kind) are listed for
that kind, in the documented order, and every field the doc does not mark
optional (`name`?) is present. `group0`, `group1`, ... stands for any
groupN.
"""
import json
import os
import re
import subprocess
import sys


def documented_kinds(doc_text):
    kinds = {}
    in_table = False
    for line in doc_text.splitlines():
        if line.startswith("## Event kinds"):
            in_table = True
            continue
        if line.startswith("## "):
            in_table = False
        if not in_table or not line.startswith("| `"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        names = re.findall(r"`([a-z._]+)`", cells[0])
        # Drop the explanations in parentheses (they hold example values).
        fields_text = cells[1]
        while True:
            stripped = re.sub(r"\([^()]*\)", "", fields_text)
            if stripped == fields_text:
                break
            fields_text = stripped
        fields = []
        for m in re.finditer(r"`([a-z_0-9]+)`(\?)?", fields_text):
            fields.append((m.group(1), m.group(2) == "?"))
        repeated = "..." in fields_text
        for name in names:
            kinds[name] = (fields, repeated)
    return kinds


def step_kinds(doc_text):
    """The '## Step events by step kind' table: step kind -> [(field, optional)]."""
    steps = {}
    in_table = False
    for line in doc_text.splitlines():
        if line.startswith("## "):
            in_table = line.startswith("## Step events")
            continue
        if not in_table or not line.startswith("| `"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        fields_text = re.sub(r"\([^()]*\)", "", cells[1])
        fields = [(m.group(1), m.group(2) == "?") for m in re.finditer(r"`([a-z_0-9]+)`(\?)?", fields_text)]
        for name in re.findall(r"`([a-z_]+)`", cells[0]):
            steps[name] = fields
    return steps


def check_step(event, steps, where):
    kind = event.get("step")
    if kind not in steps:
        return [f"{where}: step kind {kind!r} is not in the step table"]
    keys = [k for k in event.keys() if k not in ("t", "kind", "path", "step")]
    names = [n for n, _ in steps[kind]]
    present = [n for n, optional in steps[kind] if not optional or n in keys]
    if keys != present:
        return [f"{where}: step {kind} has fields {keys}, the doc says {names}"]
    return []


def check_event(event, kinds, where):
    kind = event.get("kind")
    if kind not in kinds:
        return [f"{where}: kind {kind!r} is not documented"]
    fields, repeated = kinds[kind]
    names = [n for n, _ in fields]
    keys = [k for k in event.keys() if k not in ("t", "kind")]
    problems = []
    position = -1
    for key in keys:
        index = None
        if key in names:
            index = names.index(key)
        elif repeated and re.fullmatch(r"group[0-9]+", key) and "group0" in names:
            index = names.index("group0")
            position = index - 1  # repeated fields share one position
        if index is None:
            problems.append(f"{where}: {kind} has field {key!r}, not documented for it ({', '.join(names)})")
            continue
        if index < position:
            problems.append(f"{where}: {kind} field {key!r} is out of the documented order ({', '.join(names)})")
        position = index
    for name, optional in fields:
        if optional or name in keys:
            continue
        if repeated and name.startswith("group"):
            continue
        problems.append(f"{where}: {kind} lacks the documented field {name!r}")
    return problems


def main():
    aethersim, doc, outdir = sys.argv[1:4]
    scenarios = sys.argv[4:]
    doc_text = open(doc, encoding="utf-8").read()
    kinds = documented_kinds(doc_text)
    steps = step_kinds(doc_text)
    if not kinds or not steps:
        print(f"no event tables found in {doc}")
        return 1
    os.makedirs(outdir, exist_ok=True)
    problems = []
    seen = set()
    events = 0
    for scenario in scenarios:
        trace = os.path.join(outdir, os.path.basename(scenario) + ".jsonl")
        subprocess.run([aethersim, "run", scenario, "--trace", trace], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=False)
        with open(trace, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                event = json.loads(line)
                events += 1
                seen.add(event["kind"])
                problems += check_event(event, kinds, f"{trace}:{number}")
                if event["kind"] == "step":
                    problems += check_step(event, steps, f"{trace}:{number}")
    for p in problems[:50]:
        print(p)
    print(f"{events} events of {len(seen)} kinds checked against {len(kinds)} documented kinds; "
          f"{len(problems)} problems")
    return 1 if problems or events == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
