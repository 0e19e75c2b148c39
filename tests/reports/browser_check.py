#!/usr/bin/python3
"""Renders real reports in headless Chromium and checks them through the DOM.

Usage: browser_check.py AETHERSIM WORKDIR PASSING.json FAILING.json

Writes the reports of a passing and a failing run and a compare page
(conservative vs aggressive over both files), loads each report.html, the
index and the compare page in Chromium (--dump-dom: the DOM after parsing and rendering),
checks that the timelines, the failover table, the legend and (failing run)
the violation markers are there and that the browser logged no console error,
and keeps a PNG screenshot of each page in WORKDIR/screenshots. If no browser
can run, the test fails and says why."""

import html.parser
import pathlib
import shutil
import subprocess
import sys
import tempfile

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--enable-logging=stderr", "--v=0"]


class Dom(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.elements = []  # (tag, attrs)

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    def count(self, tag=None, cls=None, id_=None):
        n = 0
        for t, a in self.elements:
            if tag and t != tag:
                continue
            if cls and cls not in (a.get("class") or "").split():
                continue
            if id_ and a.get("id") != id_:
                continue
            n += 1
        return n


def browser():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def chromium(exe, args, url):
    with tempfile.TemporaryDirectory() as profile:
        p = subprocess.run([exe, *FLAGS, f"--user-data-dir={profile}", *args, url], capture_output=True, text=True,
                           timeout=120)
    return p


def main():
    aethersim, work, passing, failing = sys.argv[1:5]
    exe = browser()
    if exe is None:
        print("FAIL: no browser can run: chromium is not installed (scripts/install-deps.sh installs it)")
        return 1
    work = pathlib.Path(work)
    subprocess.run(["rm", "-rf", str(work)], check=True)
    shots = work / "screenshots"
    shots.mkdir(parents=True)
    out_dir = work / "r"
    subprocess.run([aethersim, "run", passing, failing, "--report", str(out_dir)], capture_output=True)
    pages = {}
    for folder in sorted(p for p in out_dir.iterdir() if p.is_dir()):
        pages[folder.name] = folder / "report.html"
    pages["index"] = out_dir / "index.html"
    overlays = pathlib.Path(__file__).resolve().parents[2] / "scenarios" / "compare"
    subprocess.run([aethersim, "compare", "--a", str(overlays / "conservative.json"), "--b",
                    str(overlays / "aggressive.json"), passing, failing, "--seeds", "1..3", "--out",
                    str(work / "compare")], capture_output=True)
    pages["compare"] = work / "compare" / "compare.html"
    problems = []
    for name, page in pages.items():
        if not page.is_file():
            problems.append(f"{page}: not written")
            continue
        url = page.resolve().as_uri()
        p = chromium(exe, ["--dump-dom"], url)
        if p.returncode != 0 or "<html" not in p.stdout:
            problems.append(f"{name}: the browser did not render the page (exit {p.returncode}): {p.stderr[-400:]}")
            continue
        console = [l for l in p.stderr.splitlines() if "CONSOLE" in l or "Uncaught" in l]
        if console:
            problems.append(f"{name}: console messages: {console[:3]}")
        dom = Dom()
        dom.feed(p.stdout)
        if name == "compare":
            if dom.count("table", id_="compare") != 1 or dom.count("svg", cls="boxplot") < 6 or dom.count("g", cls="box") < 10:
                problems.append("compare: the table with one box plot per metric is missing")
        elif name == "index":
            if dom.count("table", id_="runs") != 1 or dom.count("a") < 2 * (len(pages) - 1):
                problems.append("index: the runs table with links is missing")
        else:
            failing_page = "mutant" in name
            expect = {
                "timeline svg": dom.count("svg", cls="timeline") == 1,
                "failover table": dom.count("table", id_="failovers") == 1 and dom.count("tr", cls="failover") >= 1,
                "leader tenure bars": dom.count("rect", cls="tenure") >= 1,
                "artifact step charts": dom.count("path", cls="active-area") >= 1
                and dom.count("path", cls="desired-line") >= 1,
                "node down span": dom.count("rect", cls="node-down") >= 1,
                "step markers": dom.count("line", cls="step-marker") >= 1,
                "hover titles": dom.count("title") >= 5,
                "legend": dom.count("div", cls="legend") == 1,
                "verdict": dom.count(id_="verdict") == 1 and dom.count(id_="replay") == 1,
                "expectations": dom.count("ul", id_="expectations") == 1,
                "metrics": dom.count("table", id_="metrics") == 1,
                "violation markers": (dom.count("g", cls="violation-marker") >= 1) == failing_page,
            }
            for what, ok in expect.items():
                if not ok:
                    problems.append(f"{name}: {what} missing or wrong")
        shot = shots / f"{name}.png"
        p = chromium(exe, [f"--screenshot={shot}", "--window-size=1400,2000"], url)
        if not shot.is_file() or shot.stat().st_size < 10000:
            problems.append(f"{name}: no screenshot ({p.stderr[-300:]})")
    for problem in problems:
        print("FAIL:", problem)
    if problems:
        return 1
    print(f"rendered {len(pages)} pages in {exe}; screenshots in {shots}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
