#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""promparse: checks a Prometheus text exposition (format 0.0.4) strictly and prints its samples.

Usage: promparse.py FILE|-

Parses the text twice: with prometheus_client's own parser (Debian python3-prometheus-client),
which must accept it, and with the strict rules below, which tell more than that parser does:
every family has exactly one HELP and one TYPE line before its samples and appears once; names
are modelvol_*; counters end in _total; a histogram has buckets with ascending le ending in
+Inf, cumulative counts, _count equal to the +Inf bucket and a _sum, per label set; no sample
twice. Both parses must give the same samples. Prints one line per sample,
`name{label="value",...} value` (labels sorted, integral values without a fraction), and exits
0; or prints what is wrong on stderr and exits 1.
"""
import math
import re
import sys

from prometheus_client.parser import text_string_to_metric_families

NAME = re.compile(r"^modelvol_[a-z0-9_]+$")
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\.)*)"(,|$)')
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


def fail(msg):
    print(f"promparse: {msg}", file=sys.stderr)
    sys.exit(1)


def fmt(v):
    if v == int(v) and not math.isinf(v):
        return str(int(v))
    return repr(v)


def key(name, labels):
    return name + "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def parse_labels(s, where):
    labels = {}
    pos = 0
    while pos < len(s):
        m = LABEL.match(s, pos)
        if not m:
            fail(f"{where}: bad labels {{{s}}}")
        if m.group(1) in labels:
            fail(f"{where}: label {m.group(1)} twice")
        labels[m.group(1)] = m.group(2)
        pos = m.end()
    return labels


def strict(text):
    families = {}  # name -> {"help", "type", "samples": [(name, labels, value)]}
    current = None
    samples = {}
    if not text.endswith("\n"):
        fail("text does not end with a newline")
    for n, line in enumerate(text.split("\n")[:-1], 1):
        where = f"line {n}"
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            parts = line.split(" ", 3)
            if len(parts) < 4 or not NAME.match(parts[2]):
                fail(f"{where}: bad {parts[1]} line")
            fam = families.setdefault(parts[2], {"help": None, "type": None, "samples": []})
            if fam["samples"] or (current is not None and current != parts[2] and (fam["help"] or fam["type"])):
                fail(f"{where}: {parts[1]} of {parts[2]} after its samples or split up")
            slot = parts[1].lower()
            if fam[slot] is not None:
                fail(f"{where}: second {parts[1]} for {parts[2]}")
            if slot == "type" and parts[3] not in TYPES:
                fail(f"{where}: unknown type {parts[3]}")
            fam[slot] = parts[3]
            current = parts[2]
            continue
        if line.startswith("#") or line == "":
            fail(f"{where}: unexpected line {line!r}")
        m = SAMPLE.match(line)
        if not m:
            fail(f"{where}: bad sample line {line!r}")
        name, labels = m.group(1), parse_labels(m.group(3) or "", where)
        try:
            value = float(m.group(4))
        except ValueError:
            fail(f"{where}: bad value {m.group(4)!r}")
        fam = families.get(current)
        if fam is None or fam["type"] is None or fam["help"] is None:
            fail(f"{where}: sample {name} before its family's HELP and TYPE")
        allowed = {current}
        if fam["type"] == "histogram":
            allowed = {current + "_bucket", current + "_sum", current + "_count"}
        if name not in allowed:
            fail(f"{where}: sample {name} does not belong to family {current} ({fam['type']})")
        k = key(name, labels)
        if k in samples:
            fail(f"{where}: sample {k} twice")
        samples[k] = value
        fam["samples"].append((name, labels, value))
    for fname, fam in families.items():
        if fam["type"] is None or fam["help"] is None:
            fail(f"family {fname} lacks HELP or TYPE")
        if fam["type"] == "counter" and not fname.endswith("_total"):
            fail(f"counter {fname} does not end in _total")
        if fam["type"] == "counter" and any(v < 0 for _, _, v in fam["samples"]):
            fail(f"counter {fname} is negative")
        if fam["type"] == "histogram":
            groups = {}
            for name, labels, v in fam["samples"]:
                rest = {k: x for k, x in labels.items() if k != "le"}
                g = groups.setdefault(key("", rest), {"buckets": [], "sum": None, "count": None})
                if name.endswith("_bucket"):
                    if "le" not in labels:
                        fail(f"{fname}: a bucket without le")
                    g["buckets"].append((float(labels["le"]), v))
                elif name.endswith("_sum"):
                    g["sum"] = v
                else:
                    g["count"] = v
            for gk, g in groups.items():
                les = [le for le, _ in g["buckets"]]
                counts = [c for _, c in g["buckets"]]
                if not les or les[-1] != math.inf or les != sorted(les) or len(set(les)) != len(les):
                    fail(f"{fname}{gk}: buckets not ascending to +Inf: {les}")
                if counts != sorted(counts):
                    fail(f"{fname}{gk}: buckets not cumulative: {counts}")
                if g["sum"] is None or g["count"] is None or g["count"] != counts[-1]:
                    fail(f"{fname}{gk}: _sum/_count missing or _count != +Inf bucket")
    return samples


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "-"
    text = sys.stdin.read() if path == "-" else open(path, encoding="utf-8").read()
    ours = strict(text)
    theirs = {}
    try:
        for fam in text_string_to_metric_families(text):
            for s in fam.samples:
                theirs[key(s.name, s.labels)] = s.value
    except Exception as e:  # the library raises ValueError and friends
        fail(f"prometheus_client rejects it: {e}")
    if ours != theirs:
        fail(f"the two parses differ: {sorted(set(ours.items()) ^ set(theirs.items()))[:6]}")
    for k in sorted(ours):
        print(f"{k} {fmt(ours[k])}")


main()
