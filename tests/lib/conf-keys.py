#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Lists every modelvol.conf key the C code reads, one "section key" line each, sorted.

   conf-keys.py SRCDIR

Keys come from g_key_file_get_*/g_key_file_has_key calls with literal section and key, and
from the key tables below (a call whose key is not a literal must be one of them). A call
this script cannot read fails it with the file and line, so a new key can never go
undocumented unnoticed: teach TABLES about the new table."""
import pathlib
import re
import sys

CALL = re.compile(r'g_key_file_(?:get_(?!keys\b|groups\b|start_group\b|comment\b)\w+|has_key)\s*\(\s*[^,]+,\s*("(?:[^"\\]|\\.)*"|[^,]+),\s*'
                  r'("(?:[^"\\]|\\.)*"|[^,)]+)')
# file -> (section, regex of the table body, regex of one entry's key)
TABLES = {
    "storage/mv-limits.c": ("limits", r"\}\s*keys\[\]\s*=\s*\{(.*?)\n\};", r'\{\s*"([a-z0-9-]+)",\s*FIELD'),
    "hooks/modelvol-hook-main.c": ("registries", r"\}\s*pull_limit_keys\[\]\s*=\s*\{(.*?)\n\};",
                                   r'\{\s*"([a-z0-9-]+)",\s*"MODELVOL_'),
    # modelvol watch (branch watch): its [watch] keys, checked against this list.
    "helper/mv-builtin-watch.c": ("watch", r"known\[\]\s*=\s*\{(.*?)\};", r'"([a-z0-9-]+)"'),
}


def main():
    src = pathlib.Path(sys.argv[1])
    keys = set()
    bad = []
    for path in sorted(src.glob("*/**/*.c")):
        rel = path.relative_to(src).as_posix()
        if rel.startswith(("tests/", "build")):
            continue
        text = path.read_text()
        for m in CALL.finditer(text):
            sec, key = m.group(1).strip(), m.group(2).strip()
            line = text.count("\n", 0, m.start()) + 1
            if sec.startswith('"') and key.startswith('"'):
                keys.add((sec.strip('"'), key.strip('"')))
            elif rel not in TABLES:
                bad.append(f"{rel}:{line}: g_key_file call with a non-literal section or key")
        if rel in TABLES:
            sec, body_re, entry_re = TABLES[rel]
            body = re.search(body_re, text, re.S)
            entries = re.findall(entry_re, body.group(1)) if body else []
            if not entries:
                bad.append(f"{rel}: its key table was not found (conf-keys.py TABLES)")
            keys.update((sec, k) for k in entries)
    if bad:
        for b in bad:
            print(f"conf-keys.py: {b}", file=sys.stderr)
        sys.exit(1)
    for sec, key in sorted(keys):
        print(sec, key)


main()
