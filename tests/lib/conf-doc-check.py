#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Compares the keys the code reads (conf-keys.py output on stdin) with a modelvol.conf
example and the modelvol.conf(5) scdoc source. One line per problem; exit 1 if any.

   conf-keys.py SRC | conf-doc-check.py EXAMPLE MANPAGE.scd"""
import re
import sys


def example_keys(path):
    """(section, key) of every 'key=' or '#key=' line, under the [section] it follows."""
    keys, sec = set(), None
    for line in open(path):
        m = re.match(r"^\[([a-z0-9-]+)\]\s*$", line)
        if m:
            sec = m.group(1)
            continue
        m = re.match(r"^#?([a-z0-9-]+)=", line)
        if m and sec:
            keys.add((sec, m.group(1)))
    return keys


def man_keys(path):
    """(section, key) of every *key*= under a '# [section]' heading."""
    keys, sec = set(), None
    for line in open(path):
        m = re.match(r"^# \[([a-z0-9-]+)\]", line)
        if m:
            sec = m.group(1)
            continue
        if line.startswith("# "):
            sec = None
            continue
        if sec:
            for k in re.findall(r"\*([a-z0-9-]+)\*=", line):
                keys.add((sec, k))
    return keys


code = {tuple(l.split()) for l in sys.stdin if l.strip()}
problems = []
for name, have in (("example", example_keys(sys.argv[1])), ("man page", man_keys(sys.argv[2]))):
    for sec, key in sorted(code - have):
        problems.append(f"[{sec}] {key}: read by the code, missing from the {name}")
    for sec, key in sorted(have - code):
        problems.append(f"[{sec}] {key}: in the {name}, but no code reads it")
for p in problems:
    print(p)
sys.exit(1 if problems else 0)
