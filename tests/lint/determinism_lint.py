#!/usr/bin/env python3
"""Determinism lint for the simulated world.

Fails when engine/, sim/, properties/ or scenarios/ (or any directory given) uses a source of
nondeterminism: a wall clock, time(), rand()/srand(), std::random_device, a
<random> distribution or engine, threads, or an unordered_* container
(iteration order is unspecified). A line may opt out with a comment
`// determinism-ok: <reason>`; the reason is required.

Usage: determinism_lint.py [DIR...]   (default: engine sim properties scenarios, in the repo)
Exit 0 when clean, 1 with one line per finding (file:line: rule: text).
"""
import os
import re
import sys

RULES = [
    ("wall-clock", re.compile(r"\b(system_clock|steady_clock|high_resolution_clock|gettimeofday|clock_gettime)\b")),
    ("time()", re.compile(r"(?<![\w.>:])(std::)?time\s*\(")),
    ("rand()", re.compile(r"(?<![\w.>:])(std::)?s?rand\s*\(")),
    ("random_device", re.compile(r"\brandom_device\b")),
    ("std-distribution", re.compile(r"\b\w+_distribution\b")),
    ("std-random-engine", re.compile(r"\b(mt19937(_64)?|minstd_rand0?|default_random_engine|ranlux\w+|knuth_b)\b")),
    ("include-random", re.compile(r"#\s*include\s*<random>")),
    ("thread", re.compile(r"\bstd::(thread|jthread|async)\b|#\s*include\s*<(thread|future)>|\bpthread_create\b")),
    ("unordered-container", re.compile(r"\bunordered_(map|set|multimap|multiset)\b")),
]
ALLOW = re.compile(r"//\s*determinism-ok:\s*\S")
SOURCE_SUFFIXES = (".h", ".hh", ".hpp", ".cc", ".cpp", ".cxx")


def strip_comment_and_strings(line):
    """The code part of a line: string literals blanked, // comment dropped."""
    out = []
    i = 0
    in_string = None
    while i < len(line):
        c = line[i]
        if in_string:
            if c == "\\":
                i += 2
                continue
            if c == in_string:
                in_string = None
            out.append(" ")
        elif c in "\"'":
            in_string = c
            out.append(" ")
        elif line.startswith("//", i):
            break
        else:
            out.append(c)
        i += 1
    return "".join(out)


def lint_file(path):
    findings = []
    in_block_comment = False
    with open(path, encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, 1):
            code = line
            if in_block_comment:
                end = code.find("*/")
                if end < 0:
                    continue
                code = code[end + 2:]
                in_block_comment = False
            while "/*" in code:
                start = code.find("/*")
                end = code.find("*/", start + 2)
                if end < 0:
                    code = code[:start]
                    in_block_comment = True
                    break
                code = code[:start] + " " + code[end + 2:]
            # Includes keep their <...>; string blanking would not touch them.
            code = strip_comment_and_strings(code) if not code.lstrip().startswith("#") else code.split("//")[0]
            if ALLOW.search(line):
                continue
            for rule, pattern in RULES:
                if pattern.search(code):
                    findings.append(f"{path}:{number}: {rule}: {line.strip()}")
                    break
    return findings


def main(argv):
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    dirs = argv[1:] or [os.path.join(root, d) for d in ("engine", "sim", "properties", "scenarios")]
    findings = []
    scanned = 0
    for directory in dirs:
        if not os.path.isdir(directory):
            print(f"determinism lint: no such directory: {directory}", file=sys.stderr)
            return 2
        for base, _, files in sorted(os.walk(directory)):
            for name in sorted(files):
                if name.endswith(SOURCE_SUFFIXES):
                    scanned += 1
                    findings.extend(lint_file(os.path.join(base, name)))
    for finding in findings:
        print(finding)
    print(f"determinism lint: {scanned} files, {len(findings)} finding(s)")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
