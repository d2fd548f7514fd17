#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""mklayers: the layers of tests/integration/test-aarch64.sh, and what mv-unpack-driver must
print for them (expected.txt: one "E TYPE MODE SIZE SHA256|- PATH[ -> TARGET]" line per
member, in order, then "OK N"), derived from the members as written, not read back.

Usage: mklayers.py OUTDIR   -> OUTDIR/layer.tar, layer.tar.gz, expected.txt (zstd is the
test's: `zstd` writes layer.tar.zst from layer.tar)
"""
import gzip
import hashlib
import io
import random
import sys
import tarfile

out = sys.argv[1]
big = random.Random(25).randbytes(3 * 1024 * 1024 + 5)  # more than one 1 MiB data frame
MEMBERS = [  # name, type, mode, data or link target
    ("m/", "dir", 0o755, None),
    ("m/sub/", "dir", 0o700, None),
    ("m/small.txt", "file", 0o644, b"hello from aarch64\n"),
    ("m/run.sh", "file", 0o755, b"#!/bin/sh\nexit 0\n"),
    ("m/empty", "file", 0o644, b""),
    ("m/sub/big.bin", "file", 0o644, big),
    ("m/latest", "symlink", 0o777, "sub/big.bin"),
    ("m/again", "hardlink", 0o644, "m/small.txt"),
    ("m/sub/deep/x.txt", "file", 0o600, b"deep\n"),
]
TYPES = {"dir": tarfile.DIRTYPE, "file": tarfile.REGTYPE, "symlink": tarfile.SYMTYPE,
         "hardlink": tarfile.LNKTYPE}

expected = []
with tarfile.open(f"{out}/layer.tar", "w", format=tarfile.PAX_FORMAT) as tf:
    for name, kind, mode, val in MEMBERS:
        ti = tarfile.TarInfo(name.rstrip("/"))
        ti.type, ti.mode, ti.mtime = TYPES[kind], mode, 1700000000
        if kind == "file":
            ti.size = len(val)
            tf.addfile(ti, io.BytesIO(val))
            line = f"E file {mode:04o} {len(val)} sha256:{hashlib.sha256(val).hexdigest()} {name}"
        else:
            ti.linkname = val or ""
            tf.addfile(ti)
            line = f"E {kind} {mode:04o} 0 - {name}" + (f" -> {val}" if val else "")
        expected.append(line)
with open(f"{out}/layer.tar", "rb") as f, open(f"{out}/layer.tar.gz", "wb") as g:
    g.write(gzip.compress(f.read(), mtime=0))
with open(f"{out}/expected.txt", "w") as f:
    f.write("\n".join(expected + [f"OK {len(MEMBERS)}"]) + "\n")
