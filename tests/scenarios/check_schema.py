#!/usr/bin/python3
"""Checks scenario files against docs/scenario.schema.json.

Usage: check_schema.py SCHEMA FILE_OR_DIR...
Comments (// and /* */) are removed first, as the loader does. The schema is
also checked to reject a few files that are known to be wrong, so this test
cannot pass on a schema that accepts everything. Exit 0 if every file is
valid, 1 otherwise."""

import json
import pathlib
import sys

import jsonschema


def strip_comments(text):
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            j = i + 1
            while j < n and text[j] != '"' and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(text[i:j])
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            if j < 0:
                raise ValueError("unterminated /* comment")
            out.append("".join(ch if ch == "\n" else " " for ch in text[i : j + 2]))
            i = j + 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


KNOWN_BAD = [
    {"cluster": {"nodes": 3}},  # no steps
    {"cluster": {"nodes": 3}, "steps": [], "extra": 1},
    {"cluster": {"nodes": 3}, "steps": [{"at": "1x", "crash": "node-1"}]},
    {"cluster": {"nodes": 3}, "steps": [{"at": "1s", "crash": "node-1", "pause": "node-2"}]},
    {"cluster": {"nodes": 3}, "steps": [{"at": "1s", "crash": "node-1", "client": "a"}]},
    {"cluster": {"nodes": 3, "network": {"drop": 1}}, "steps": []},
    {"cluster": {"nodes": 3}, "steps": [{"at": "1s", "expect": {"violates": "nope"}}]},
    {"cluster": {"nodes": 3}, "steps": [{"at": "1s", "expect": {"converged": True, "for": "1s"}}]},
]


def main(argv):
    if len(argv) < 3:
        print(__doc__)
        return 2
    schema = json.loads(pathlib.Path(argv[1]).read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    failures = 0
    for bad in KNOWN_BAD:
        if validator.is_valid(bad):
            print(f"schema accepts a known-bad document: {json.dumps(bad)}")
            failures += 1
    files = []
    for arg in argv[2:]:
        path = pathlib.Path(arg)
        files.extend(sorted(path.glob("*.json")) if path.is_dir() else [path])
    if not files:
        print("no scenario files found")
        return 1
    for path in files:
        try:
            document = json.loads(strip_comments(path.read_text()))
        except ValueError as error:
            print(f"{path}: not JSON: {error}")
            failures += 1
            continue
        errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
        for error in errors:
            where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
            print(f"{path}: {where.lstrip('.') or '(top level)'}: {error.message}")
        failures += len(errors)
    print(f"{len(files)} files checked, {failures} problems")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
