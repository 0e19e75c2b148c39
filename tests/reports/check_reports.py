#!/usr/bin/python3
"""Runs real scenarios with --report and --junit and checks what users rely on.

Usage: check_reports.py AETHERSIM SCHEMA WORKDIR PASSING.json FAILING.json

- every report.json validates against docs/report.schema.json (and the schema
  rejects broken reports, so the check cannot pass on a schema that accepts
  everything);
- the figures agree with the run line (recovery) and with the report's own
  timeline (lost capacity recomputed here from the desired/ACTIVE points);
- the failing run's report carries its violation with the events leading to
  it; the JUnit file has one testcase per run, a failure with message and
  replay command; index.html links every run;
- report.html is self-contained (no script, no network reference);
- two runs give the same report.json apart from wall time; no temporary file
  is left behind; an unwritable --report folder is refused before running;
- `aethersim report TRACE` rebuilds the same report.json from the saved
  trace; a missing, truncated or non-trace file exits 2 naming it and leaves
  no file."""

import copy
import json
import os
import pathlib
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import jsonschema

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def run(args):
    p = subprocess.run(args, capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def main():
    aethersim, schema_path, work, passing, failing = sys.argv[1:6]
    work = pathlib.Path(work)
    subprocess.run(["rm", "-rf", str(work)], check=True)
    work.mkdir(parents=True)
    schema = json.load(open(schema_path))
    validator = jsonschema.Draft202012Validator(schema)

    out_dir = work / "r"
    junit = work / "junit.xml"
    # Two worker processes: each run's folder is written where it ran, the index
    # and the JUnit file by the parent.
    code, out, err = run([aethersim, "run", passing, failing, "--jobs", "2", "--report", str(out_dir), "--junit",
                          str(junit)])
    check(code == 1, f"exit 1 expected (one failing run), got {code}: {err}")
    check(f"report: {out_dir}/index.html" in out, "the index path is printed")

    folders = sorted(p for p in out_dir.iterdir() if p.is_dir())
    check(len(folders) == 2, f"one folder per run: {folders}")
    reports = {}
    for folder in folders:
        for name in ("report.json", "report.html", "summary.md"):
            check((folder / name).is_file(), f"{folder}/{name} written")
        r = json.load(open(folder / "report.json"))
        reports[r["verdict"]] = (folder, r)
        errors = list(validator.iter_errors(r))
        check(not errors, f"{folder}/report.json valid: {[e.message for e in errors[:3]]}")
        html = (folder / "report.html").read_text()
        check("<script" not in html.lower(), f"{folder}: no script")
        check(not re.search(r'(src|href)="(https?:)?//', html), f"{folder}: no network reference")
        check(html.count("<svg class=\"timeline\"") == 1, f"{folder}: one timeline SVG")
        # Lost capacity, recomputed from the timeline's own points.
        points = {a["artifact"]: a["points"] for a in r["timeline"]["artifacts"]}
        for f in r["failovers"]:
            check(f["detection_ns"] is None or f["detection_ns"] >= f["fault_ns"], "detection after the fault")
            check(f["all_active_ns"] is None or f["all_active_ns"] >= f["fault_ns"], "all ACTIVE after the fault")
            for c in f["lost_capacity"]:
                pts = points.get(c["artifact"], [])
                total = 0
                for i, (at, desired, active) in enumerate(pts):
                    nxt = pts[i + 1][0] if i + 1 < len(pts) else f["lost_capacity_until_ns"]
                    lo, hi = max(at, f["fault_ns"]), min(nxt, f["lost_capacity_until_ns"])
                    if hi > lo:
                        total += (desired - active) * (hi - lo)
                expected = (total // 1000000) / 1000.0
                check(abs(c["instance_seconds"] - expected) < 1e-9,
                      f"lost capacity of {c['artifact']}: {c['instance_seconds']} vs recomputed {expected}")
        # Same report on a second run, apart from the wall time.
        again = work / ("again-" + folder.name)
        run([aethersim, "run", r["scenario"]["file"], "--seed", str(r["seed"]), "--report", str(again)])
        r2 = json.load(open(next(p for p in again.iterdir() if p.is_dir()) / "report.json"))
        r2["metrics"]["wall_s"] = r["metrics"]["wall_s"]
        check(r == r2, f"{folder}: report.json deterministic apart from wall_s")

    check(set(reports) == {"pass", "fail"}, f"a passing and a failing report: {list(reports)}")
    if "pass" in reports:
        _, r = reports["pass"]
        check(len(r["failovers"]) >= 1, "the passing run has a failover")
        f = r["failovers"][0]
        check(f["new_leader"] is not None and f["leader_elected_ns"] > f["fault_ns"],
              f"a new leader elected after the leader's crash: {f}")
        check(f["activation_done_ns"] is not None and f["activation_done_ns"] >= f["leader_elected_ns"],
              "CDM activation done after the election")
        _, line_out, _ = run([aethersim, "run", r["scenario"]["file"], "--seed", str(r["seed"])])
        m = re.search(r" recovery=(\S+) ", line_out)
        check(m is not None, "run line has recovery=")
        if m and f["recovery_ns"] is not None:
            check(line_out.count("all instances ACTIVE again") == len(r["failovers"]), "one line per failover")
        check(r["metrics"]["kv_commits_by_writer"].get("cdm", 0) > 0, "KV commits per writer counted")
        check(r["metrics"]["leader_changes"] >= 2, "leader changes counted")
    if "fail" in reports:
        folder, r = reports["fail"]
        v = [x for x in r["violations"] if not x["pinned"]]
        check(any(x["invariant"] == "slice-store" for x in v), f"the failing run's violations: {[x['invariant'] for x in v]}")
        check(v and len(v[0]["events"]) > 0, "the violation carries the events leading to it")
        check(any(not e["held"] for e in r["expectations"]), "failed expectations listed")
        check("violation-marker" in (folder / "report.html").read_text(), "violation marked on the timeline")
        summary = (folder / "summary.md").read_text()
        check(summary.startswith("# FAIL ") and "slice-store" in summary, "summary.md has verdict and violation")

    # The schema is not a rubber stamp.
    if reports:
        _, r = next(iter(reports.values()))
        for mutate in (lambda x: x.pop("failovers"), lambda x: x.__setitem__("verdict", "ok"),
                       lambda x: x["metrics"].__setitem__("events", -1)):
            bad = copy.deepcopy(r)
            mutate(bad)
            check(not validator.is_valid(bad), "the schema rejects a broken report")

    # JUnit.
    tree = ET.parse(junit)
    cases = tree.getroot().findall(".//testcase")
    check(len(cases) == 2, f"one testcase per run: {len(cases)}")
    failed = [c for c in cases if c.find("failure") is not None]
    check(len(failed) == 1, "one failure")
    if failed:
        f = failed[0].find("failure")
        check(failed[0].get("classname", "").endswith(".json"), "classname is the file")
        check("violation" in f.get("message", "") or "expectation" in f.get("message", ""), "failure message")
        check("replay: " in (f.text or "") and "--seed" in (f.text or ""), "failure carries the replay command")
    suite = tree.getroot().find("testsuite")
    check(suite is not None and suite.get("tests") == "2" and suite.get("failures") == "1", "testsuite counts")

    index = (out_dir / "index.html").read_text()
    for folder in folders:
        check(f'href="{folder.name}/report.html"' in index, f"index links {folder.name}")

    leftovers = [p for p in work.rglob("*.tmp.*")]
    check(not leftovers, f"no temporary files left: {leftovers}")

    # An unwritable --report folder is refused before anything runs.
    blocker = work / "a-file"
    blocker.write_text("x")
    code, out, err = run([aethersim, "run", passing, "--report", str(blocker / "sub")])
    check(code == 2 and "nothing was run" in err and "PASS" not in out, f"unwritable --report: {code} {err}")
    code, out, err = run([aethersim, "run", passing, "--junit", str(work)])
    check(code == 2 and "--junit" in err, f"--junit on a folder: {code} {err}")

    # A one-hour, 5-node run with 11 failovers: the page stays small because
    # everything is aggregated to the pixel grid.
    hour = pathlib.Path(__file__).resolve().parents[2] / "bench" / "data" / "report-failover-hour.json"
    run([aethersim, "run", str(hour), "--report", str(work / "hour")])
    pages = list((work / "hour").glob("*/report.html"))
    check(len(pages) == 1, "the one-hour run's report")
    if pages:
        html = pages[0].read_text()
        svg = html[html.find("<svg class=\"timeline\""):]
        elements = svg.count("<rect") + svg.count("<path") + svg.count("<line")
        check(len(html) < 1_000_000, f"one-hour report under 1 MB: {len(html)} bytes")
        check(elements < 2000, f"one-hour timeline aggregated: {elements} SVG shapes")
        check(html.count('class="failover"') == 11, "eleven failovers in the table")

    # `aethersim report TRACE`: the same report from the saved trace.
    trace = work / "failing.jsonl"
    live = work / "live"
    run([aethersim, "run", failing, "--trace", str(trace), "--report", str(live)])
    code, out, err = run([aethersim, "report", str(trace), "--out", str(work / "from-trace"), "--scenario", failing])
    check(code == 0 and "report: " in out, f"report TRACE: {code} {err}")
    if code == 0:
        a = json.load(open(next(p for p in live.iterdir() if p.is_dir()) / "report.json"))
        b = json.load(open(work / "from-trace" / "report.json"))
        b["metrics"]["wall_s"] = a["metrics"]["wall_s"]
        check(a == b, "report TRACE gives the live run's report.json (apart from wall_s): "
              + str([k for k in a if a[k] != b.get(k)]))
        check((work / "from-trace" / "report.html").is_file(), "report TRACE writes report.html")
    lines = trace.read_text().splitlines()
    (work / "truncated.jsonl").write_text("\n".join(lines[: len(lines) // 2]) + "\n")
    (work / "cut.jsonl").write_text(trace.read_text()[:3000])
    for bad, why in ((work / "missing.jsonl", "cannot open"), (work / "truncated.jsonl", "truncated"),
                     (work / "cut.jsonl", "not a trace line"), (pathlib.Path(passing), "not a trace")):
        target = work / ("bad-" + bad.stem)
        code, out, err = run([aethersim, "report", str(bad), "--out", str(target)])
        check(code == 2 and why in err and str(bad) in err, f"report {bad.name}: exit 2 naming it ({why}): {code} {err}")
        check(not target.exists(), f"report {bad.name}: no partial files")
    code, out, err = run([aethersim, "report", str(trace), "--out", str(blocker / "sub")])
    check(code == 2 and "--out" in err, f"report to an unwritable folder: {code} {err}")

    if failures:
        print(f"{len(failures)} check(s) failed")
        return 1
    print("reports ok:", ", ".join(str(f) for f in folders))
    return 0


if __name__ == "__main__":
    sys.exit(main())
