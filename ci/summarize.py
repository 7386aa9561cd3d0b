#!/usr/bin/env python3
"""Adds up criterion results (from meson's testlog.json) and pytest's JUnit XML
files into one closing line: 'N passed, N failed, N skipped'."""
import json
import re
import sys
import xml.etree.ElementTree as ET


def criterion_counts(testlog):
    passed = failed = 0
    try:
        lines = open(testlog).read().splitlines()
    except OSError:
        return 0, 0
    for line in lines:
        t = json.loads(line)
        out = (t.get("stdout") or "") + (t.get("stderr") or "")
        m = re.search(r"Synthesis: Tested: (\d+) \| Passing: (\d+) \| Failing: (\d+) \| Crashing: (\d+)", out)
        if m:
            passed += int(m.group(2))
            failed += int(m.group(3)) + int(m.group(4))
        elif t.get("result") == "OK":
            passed += 1
        else:
            failed += 1
    return passed, failed


def junit_counts(path):
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    p = f = s = 0
    for suite in suites:
        tests = int(suite.get("tests", 0))
        fails = int(suite.get("failures", 0)) + int(suite.get("errors", 0))
        skips = int(suite.get("skipped", 0))
        p += tests - fails - skips
        f += fails
        s += skips
    return p, f, s


def main():
    up, uf = criterion_counts(sys.argv[1])
    ip = iff = isk = 0
    for path in sys.argv[2:]:
        try:
            a, b, c = junit_counts(path)
        except (OSError, ET.ParseError):
            continue
        ip, iff, isk = ip + a, iff + b, isk + c
    print(f"unit (criterion): {up} passed, {uf} failed")
    print(f"integration (pytest): {ip} passed, {iff} failed, {isk} skipped")
    print(f"{up + ip} passed, {uf + iff} failed, {isk} skipped")
    return 1 if uf + iff else 0


if __name__ == "__main__":
    sys.exit(main())
