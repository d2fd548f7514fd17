#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""mkimage: an ordinary OCI container image of busybox-static, as an OCI image layout.

Usage:
  mkimage.py --out DIR --ref NAME [--busybox /bin/busybox] [--cmd ARG]... [--file SRC:DEST]...

One gzip layer holds /bin/busybox, a symlink for each applet it lists, and the usual empty
directories (/proc, /sys, /dev, /tmp, /etc, /root); --file adds a regular file (mode 0644).
The config is a plain image config (amd64/linux, Cmd from --cmd, default ["sh"]). The
manifest is an OCI image manifest; DIR/index.json names it NAME. Tests push it with ocipush.py
to a local registry: CRI-O's pause image, and the workload image of tests/crio/.
Prints the manifest digest. Standard library only; the layer is reproducible (fixed mtimes).
"""

import argparse
import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile


def add_blob(out, data):
    dig = hashlib.sha256(data).hexdigest()
    path = os.path.join(out, "blobs", "sha256", dig)
    with open(path, "wb") as f:
        f.write(data)
    return "sha256:" + dig


def tar_dir(tf, name, mode=0o755):
    ti = tarfile.TarInfo(name)
    ti.type = tarfile.DIRTYPE
    ti.mode = mode
    ti.mtime = 0
    tf.addfile(ti)


def tar_file(tf, name, data, mode):
    ti = tarfile.TarInfo(name)
    ti.size = len(data)
    ti.mode = mode
    ti.mtime = 0
    tf.addfile(ti, io.BytesIO(data))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--ref", required=True)
    ap.add_argument("--busybox", default="/bin/busybox")
    ap.add_argument("--cmd", action="append")
    ap.add_argument("--file", action="append", default=[])
    a = ap.parse_args()

    with open(a.busybox, "rb") as f:
        bb = f.read()
    applets = subprocess.run([a.busybox, "--list"], check=True, capture_output=True,
                             text=True).stdout.split()
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for d in ("bin", "proc", "sys", "dev", "etc", "root"):
            tar_dir(tf, d)
        tar_dir(tf, "tmp", 0o1777)
        tar_file(tf, "bin/busybox", bb, 0o755)
        for ap_name in sorted(set(applets)):
            if ap_name == "busybox":
                continue
            ti = tarfile.TarInfo("bin/" + ap_name)
            ti.type = tarfile.SYMTYPE
            ti.linkname = "busybox"
            ti.mtime = 0
            tf.addfile(ti)
        for spec in a.file:
            src, dest = spec.split(":", 1)
            with open(src, "rb") as f:
                tar_file(tf, dest.lstrip("/"), f.read(), 0o644)
    diff = raw.getvalue()
    gz = gzip.compress(diff, mtime=0)

    os.makedirs(os.path.join(a.out, "blobs", "sha256"), exist_ok=True)
    layer = add_blob(a.out, gz)
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Cmd": a.cmd or ["sh"], "Env": ["PATH=/bin"], "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(diff).hexdigest()]},
    }
    cfg = json.dumps(config, sort_keys=True).encode()
    cfg_dig = add_blob(a.out, cfg)
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": cfg_dig, "size": len(cfg)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": layer, "size": len(gz)}],
    }
    mb = json.dumps(manifest, sort_keys=True).encode()
    mdig = add_blob(a.out, mb)
    idx_path = os.path.join(a.out, "index.json")
    index = {"schemaVersion": 2, "manifests": []}
    if os.path.exists(idx_path):
        with open(idx_path) as f:
            index = json.load(f)
    index["manifests"] = [m for m in index["manifests"]
                          if m.get("annotations", {}).get("org.opencontainers.image.ref.name") != a.ref]
    index["manifests"].append({"mediaType": manifest["mediaType"], "digest": mdig, "size": len(mb),
                               "annotations": {"org.opencontainers.image.ref.name": a.ref}})
    with open(idx_path, "w") as f:
        json.dump(index, f)
    with open(os.path.join(a.out, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    print(mdig)
    return 0


if __name__ == "__main__":
    sys.exit(main())
