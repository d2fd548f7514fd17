#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""mkmodel: writes ModelPack AI-model artifacts into OCI image layouts, for tests.

Deterministic: the same spec gives the same bytes and digests (fixed mtimes, uid/gid 0,
gzip without name or time, zstd -T1 at a fixed level, seeded PRNG content).

Usage:
  mkmodel.py build  --spec FILE.json|FILE.py|- --out LAYOUT [options]
  mkmodel.py preset NAME --out LAYOUT [options]
  mkmodel.py spec   NAME [preset options]        print a preset's spec as JSON
  mkmodel.py list                                list presets

Common options (build and preset):
  --ref NAME        org.opencontainers.image.ref.name of the index.json entry (default:
                    the spec's "ref", else "latest"). An entry with the same name is replaced;
                    other entries of an existing layout are kept (several models per layout).
  --family F        cncf or cnai (overrides the spec's "family").
  --config MODE     valid (default), empty ({}), or a path to a JSON file used verbatim.
  --wrap-index      index.json points at an OCI index that lists the model manifest.
  --expect DIR      also write the model tree as modelvol must place it (canonical modes).
  --info FILE       write a JSON description: digests, layers, blob paths, fault.
  Prints the model manifest digest (sha256:...) on stdout.

Preset options: --family, --seed S, --files N (many-files), --size-mb N and --layers N (big),
  --variant a|b (shared), --sentinel DIR (bad-* presets aim escapes at DIR).

Spec (JSON object, or a .py file defining SPEC or spec()):
{
  "family": "cncf", "ref": "localhost:5000/org/m:v1",
  "config": "valid" | "empty" | {...object...},
  "artifactType": "<override>" | null (omit),      "configMediaType": "<override>",
  "manifestAnnotations": {...},  "wrapIndex": false,
  "layers": [
    {"kind": "weight", "format": "raw", "path": "model.safetensors",
     "content": CONTENT, "mode": 493 | "0755" (-> file.metadata+json), "metadata": false},
    {"kind": "code", "format": "tar+gzip", "path": "annotation value (label only)",
     "entries": [
        {"name": "src/run.sh", "type": "file", "content": CONTENT, "mode": "0744"},
        {"name": "src", "type": "dir", "mode": "0700"},
        {"name": "latest", "type": "symlink", "target": "src/run.sh"},
        {"name": "h", "type": "hardlink", "target": "src/run.sh"},
        {"name": "c", "type": "chardev", "major": 1, "minor": 3},
        {"name": "b", "type": "blockdev"}, {"name": "p", "type": "fifo"},
        ... optional "pax": {...}, "uid", "gid", "uname", "gname" ]},
    ... per-layer: "mediaType" (override), "annotations" (extra), "fault":
        "digest" (flip one byte of the blob after writing; descriptor keeps the true digest)
      | "size" with "sizeDelta": N (descriptor size = real size + N)
      | "truncate" (cut the blob in half; digest is of the cut bytes)
      | "trailing" (append garbage to the compressed stream; digest covers it)
    ... hand-built bytes (tests/lib/rawtar.py), instead of "entries":
        "tar": GEN   the uncompressed tar stream verbatim (then compressed as "format" says)
        "blob": GEN  the blob verbatim (no compression applied; "format" names the media type;
                     the config's diffId for it is the blob's own digest)
        "expect": [entries]  what modelvol must make of such a layer (for --expect)
      GEN: {"gen": NAME, ...keyword arguments} (rawtar.GENERATORS)
  ]
}
CONTENT: "text" | {"text": s} | {"random": N, "seed": s} | {"zero": N} | {"repeat": s, "size": N}
"""

import argparse
import copy
import gzip
import hashlib
import io
import json
import os
import random
import re
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile

import rawtar

MTIME = 1700000000  # 2023-11-14T22:13:20Z, every tar member and metadata
MTIME_RFC3339 = "2023-11-14T22:13:20Z"
CHUNK = 1 << 20
KINDS = ["weight", "weight.config", "doc", "code", "dataset"]
FORMATS = ["raw", "tar", "tar+gzip", "tar+zstd"]
FAMILIES = ["cncf", "cnai"]
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_IMAGE_CONFIG = "application/vnd.oci.image.config.v1+json"
REF_NAME = "org.opencontainers.image.ref.name"


def die(msg):
    print(f"mkmodel: {msg}", file=sys.stderr)
    sys.exit(2)


# --------------------------------------------------------------------------- content

class Content(io.RawIOBase):
    """A readable stream of a CONTENT spec, generated on the fly (big files stay cheap)."""

    def __init__(self, spec):
        super().__init__()
        if isinstance(spec, str):
            spec = {"text": spec}
        if spec is None:
            spec = {"text": ""}
        self.rng = None
        self.data = None
        if "text" in spec:
            self.data = spec["text"].encode()
            self.size = len(self.data)
        elif "hex" in spec:
            self.data = bytes.fromhex(spec["hex"])
            self.size = len(self.data)
        elif "random" in spec:
            self.size = int(spec["random"])
            self.rng = random.Random(str(spec.get("seed", "seed")))
        elif "zero" in spec:
            self.size = int(spec["zero"])
            self.fill = b"\0"
        elif "repeat" in spec:
            self.size = int(spec["size"])
            self.fill = spec["repeat"].encode() or b"\0"
        else:
            die(f"bad content spec {spec!r}")
        self.pos = 0

    def readable(self):
        return True

    def _gen(self, n):
        if self.data is not None:
            return self.data[self.pos:self.pos + n]
        if self.rng is not None:
            return self.rng.randbytes(n)
        off = self.pos % len(self.fill)
        reps = (off + n) // len(self.fill) + 1
        return (self.fill * reps)[off:off + n]

    def read(self, n=-1):
        left = self.size - self.pos
        if n is None or n < 0 or n > left:
            n = left
        if n <= 0:
            return b""
        out = bytearray()
        while len(out) < n:
            # The PRNG is consumed in CHUNK pieces so any read pattern gives the same bytes.
            if self.rng is not None:
                if not hasattr(self, "_buf") or self._bufpos >= len(self._buf):
                    self._buf = self.rng.randbytes(min(CHUNK, self.size - self.pos))
                    self._bufpos = 0
                take = min(n - len(out), len(self._buf) - self._bufpos)
                out += self._buf[self._bufpos:self._bufpos + take]
                self._bufpos += take
                self.pos += take
            else:
                piece = self._gen(min(CHUNK, n - len(out)))
                out += piece
                self.pos += len(piece)
        return bytes(out)

    def readinto(self, b):
        d = self.read(len(b))
        b[:len(d)] = d
        return len(d)


def copy_content(spec, out):
    src = Content(spec)
    while True:
        b = src.read(CHUNK)
        if not b:
            break
        out.write(b)


def parse_mode(m, default):
    if m is None:
        return default
    if isinstance(m, str):
        return int(m, 8)
    return int(m)


def canonical_file_mode(mode):
    return 0o755 if mode & 0o111 else 0o644


# --------------------------------------------------------------------------- hashing io

class HashWriter:
    def __init__(self, f):
        self.f = f
        self.h = hashlib.sha256()
        self.n = 0

    def write(self, b):
        self.h.update(b)
        self.n += len(b)
        return self.f.write(b)

    def flush(self):
        self.f.flush()

    def tell(self):
        return self.n


def sha256_file(path):
    h = hashlib.sha256()
    n = 0
    with open(path, "rb") as f:
        while True:
            b = f.read(CHUNK)
            if not b:
                break
            h.update(b)
            n += len(b)
    return "sha256:" + h.hexdigest(), n


# --------------------------------------------------------------------------- layout

class Layout:
    def __init__(self, root):
        self.root = root
        self.blobs = os.path.join(root, "blobs", "sha256")
        os.makedirs(self.blobs, exist_ok=True)
        ol = os.path.join(root, "oci-layout")
        if not os.path.exists(ol):
            with open(ol, "w") as f:
                f.write('{"imageLayoutVersion":"1.0.0"}')
        self.tmp = tempfile.mkdtemp(prefix=".mkmodel-", dir=root)

    def cleanup(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def blob_path(self, digest):
        return os.path.join(self.blobs, digest.split(":", 1)[1])

    def put_bytes(self, data):
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        p = self.blob_path(digest)
        if not os.path.exists(p):
            with open(p + ".tmp", "wb") as f:
                f.write(data)
            os.rename(p + ".tmp", p)
        return digest, len(data)

    def put_file(self, path, overwrite=False):
        digest, size = sha256_file(path)
        p = self.blob_path(digest)
        if os.path.exists(p) and not overwrite:
            os.unlink(path)
        else:
            os.rename(path, p)
        return digest, size

    def tmpfile(self, suffix=""):
        fd, p = tempfile.mkstemp(dir=self.tmp, suffix=suffix)
        os.close(fd)
        return p

    def set_entry(self, ref, desc):
        ip = os.path.join(self.root, "index.json")
        if os.path.exists(ip):
            with open(ip) as f:
                index = json.load(f)
        else:
            index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}
        ms = [m for m in index.get("manifests", [])
              if m.get("annotations", {}).get(REF_NAME) != ref]
        d = dict(desc)
        d["annotations"] = {REF_NAME: ref}
        ms.append(d)
        index["manifests"] = ms
        with open(ip + ".tmp", "w") as f:
            json.dump(index, f, indent=2, sort_keys=True)
            f.write("\n")
        os.rename(ip + ".tmp", ip)


def canonical_json(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


# --------------------------------------------------------------------------- tar

def make_tarinfo(e):
    name = e["name"]
    ti = tarfile.TarInfo(name)
    ti.mtime = MTIME
    ti.uid = int(e.get("uid", 0))
    ti.gid = int(e.get("gid", 0))
    ti.uname = e.get("uname", "")
    ti.gname = e.get("gname", "")
    t = e.get("type", "file")
    if t == "file":
        ti.type = tarfile.REGTYPE
        ti.mode = parse_mode(e.get("mode"), 0o644)
        ti.size = Content(e.get("content")).size
    elif t == "dir":
        ti.type = tarfile.DIRTYPE
        ti.mode = parse_mode(e.get("mode"), 0o755)
    elif t == "symlink":
        ti.type = tarfile.SYMTYPE
        ti.linkname = e["target"]
        ti.mode = 0o777
    elif t == "hardlink":
        ti.type = tarfile.LNKTYPE
        ti.linkname = e["target"]
        ti.mode = parse_mode(e.get("mode"), 0o644)
    elif t in ("chardev", "blockdev"):
        ti.type = tarfile.CHRTYPE if t == "chardev" else tarfile.BLKTYPE
        ti.devmajor = int(e.get("major", 1))
        ti.devminor = int(e.get("minor", 3))
        ti.mode = parse_mode(e.get("mode"), 0o666)
    elif t == "fifo":
        ti.type = tarfile.FIFOTYPE
        ti.mode = parse_mode(e.get("mode"), 0o644)
    else:
        die(f"unknown tar entry type {t!r}")
    if "pax" in e:
        ti.pax_headers = dict(e["pax"])
    return ti


def write_tar(entries, out):
    """Writes a tar stream of @entries to the file object @out."""
    # tarfile never rewrites names on addfile(): '../x', '/abs' and 'a/../../x' go out as given.
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT,
                      encoding="utf-8", errors="surrogateescape") as tf:
        for e in entries:
            ti = make_tarinfo(e)
            if ti.type == tarfile.REGTYPE:
                tf.addfile(ti, Content(e.get("content")))
            else:
                tf.addfile(ti)


# --------------------------------------------------------------------------- builder

def media_type(family, kind, fmt):
    return f"application/vnd.{family}.model.{kind}.v1.{fmt}"


def build_layer(lay, spec, family, idx):
    kind = spec.get("kind", "weight")
    fmt = spec.get("format", "raw")
    if kind not in KINDS and "mediaType" not in spec:
        die(f"layer {idx}: unknown kind {kind!r}")
    if fmt not in FORMATS and "mediaType" not in spec:
        die(f"layer {idx}: unknown format {fmt!r}")
    ann = {}
    path = spec.get("path")
    uncompressed = lay.tmpfile()
    with open(uncompressed, "wb") as f:
        hw = HashWriter(f)
        if fmt == "raw":
            copy_content(spec.get("content"), hw)
        elif "blob" in spec or "tar" in spec:
            for piece in rawtar.generate(spec.get("blob") or spec["tar"]):
                hw.write(piece)
        else:
            write_tar(spec.get("entries", []), hw)
    diff_id = "sha256:" + hw.h.hexdigest()
    if fmt == "raw":
        if path is None:
            die(f"layer {idx}: a raw layer needs a path")
        if spec.get("metadata", "mode" in spec):
            mode = parse_mode(spec.get("mode"), 0o644)
            ann[f"org.{family}.model.file.metadata+json"] = json.dumps(
                {"name": os.path.basename(path), "mode": mode, "uid": 0, "gid": 0,
                 "size": hw.n, "mtime": MTIME_RFC3339, "typeflag": 48},
                sort_keys=True, separators=(",", ":"))
    if path is not None:
        ann[f"org.{family}.model.filepath"] = path
    ann.update(spec.get("annotations", {}))

    blob = uncompressed
    if "blob" in spec:
        pass
    elif fmt.endswith("+gzip"):
        blob = lay.tmpfile(".gz")
        with open(uncompressed, "rb") as src, open(blob, "wb") as dst:
            with gzip.GzipFile(filename="", mode="wb", fileobj=dst, compresslevel=6,
                               mtime=0) as gz:
                shutil.copyfileobj(src, gz, CHUNK)
        os.unlink(uncompressed)
    elif fmt.endswith("+zstd"):
        blob = lay.tmpfile(".zst")
        with open(uncompressed, "rb") as src, open(blob, "wb") as dst:
            subprocess.run(["zstd", "-q", "-c", "-3", "-T1", "--no-progress"], stdin=src,
                           stdout=dst, check=True)
        os.unlink(uncompressed)

    fault = spec.get("fault")
    if fault == "truncate":
        sz = os.path.getsize(blob)
        with open(blob, "r+b") as f:
            f.truncate(max(1, sz // 2))
    elif fault == "trailing":
        with open(blob, "ab") as f:
            f.write(b"garbage after the end of the stream\n" * 4)
    # A "digest" fault corrupts the blob in place: always start again from good bytes.
    digest, size = lay.put_file(blob, overwrite=(fault == "digest"))
    desc = {"mediaType": spec.get("mediaType", media_type(family, kind, fmt)),
            "digest": digest, "size": size}
    if ann:
        desc["annotations"] = ann
    if fault == "digest":
        p = lay.blob_path(digest)
        with open(p, "r+b") as f:
            f.seek(size // 2)
            b = f.read(1)
            f.seek(size // 2)
            f.write(bytes([b[0] ^ 0x01]))
    elif fault == "size":
        desc["size"] = size + int(spec.get("sizeDelta", 1))
    elif fault not in (None, "truncate", "trailing"):
        die(f"layer {idx}: unknown fault {fault!r}")
    return desc, diff_id


def claimed_diff_ids(spec, layers, diff_ids):
    """The config's modelfs.diffIds: the true ones unless the spec's "diffIds" says otherwise:
    "none" (no list), "short" (the last one left out), or {"INDEX": "wrong" | "blob" | a
    digest}, "wrong" being the digest of other bytes and "blob" the layer's blob digest (as
    modctl lists them, compressed or not)."""
    claims = spec.get("diffIds")
    if claims is None:
        return list(diff_ids)
    if claims == "none":
        return None
    if claims == "short":
        return list(diff_ids[:-1])
    out = list(diff_ids)
    for k, v in claims.items():
        i = int(k)
        out[i] = {"wrong": "sha256:" + hashlib.sha256(b"not this layer").hexdigest(),
                  "blob": layers[i]["digest"]}.get(v, v)
    return out


def valid_config(spec, diff_ids):
    name = spec.get("modelName", "test-model")
    return {
        "descriptor": {
            "createdAt": MTIME_RFC3339,
            "authors": ["modelvol tests <tests@modelvol.invalid>"],
            "vendor": "modelvol",
            "family": "testlm",
            "name": name,
            "version": "1.0",
            "title": name,
            "description": "A generated ModelPack model for modelvol's tests.",
            "licenses": ["Apache-2.0"],
        },
        "config": {
            "architecture": "transformer",
            "format": "safetensors",
            "paramSize": "1m",
            "precision": "float16",
            "capabilities": {"inputTypes": ["text"], "outputTypes": ["text"]},
        },
        "modelfs": {"type": "layers"} if diff_ids is None else {"type": "layers", "diffIds": diff_ids or [
            "sha256:" + hashlib.sha256(b"").hexdigest()]},
    }


def build(spec, out, ref=None, family=None, config=None, wrap_index=None, expect=None,
          info=None):
    spec = copy.deepcopy(spec)
    family = family or spec.get("family", "cncf")
    if family not in FAMILIES:
        die(f"unknown family {family!r}")
    ref = ref or spec.get("ref") or "latest"
    if config is not None:
        spec["config"] = config
    if wrap_index is not None:
        spec["wrapIndex"] = wrap_index
    lay = Layout(out)
    try:
        layers = []
        diff_ids = []
        for i, ls in enumerate(spec.get("layers", [])):
            d, diff = build_layer(lay, ls, family, i)
            layers.append(d)
            diff_ids.append(diff)

        cfg = spec.get("config", "valid")
        if cfg == "valid":
            cfg_bytes = canonical_json(valid_config(spec, claimed_diff_ids(spec, layers, diff_ids)))
        elif cfg == "empty":
            cfg_bytes = b"{}"
        elif isinstance(cfg, dict):
            cfg_bytes = canonical_json(cfg)
        elif isinstance(cfg, str) and os.path.exists(cfg):
            with open(cfg, "rb") as f:
                cfg_bytes = f.read()
        else:
            die(f"bad config {cfg!r}")
        cdig, csize = lay.put_bytes(cfg_bytes)
        manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST}
        at = spec.get("artifactType", f"application/vnd.{family}.model.manifest.v1+json")
        if at is not None:
            manifest["artifactType"] = at
        manifest["config"] = {
            "mediaType": spec.get("configMediaType",
                                  f"application/vnd.{family}.model.config.v1+json"),
            "digest": cdig, "size": csize}
        manifest["layers"] = layers
        if spec.get("manifestAnnotations"):
            manifest["annotations"] = spec["manifestAnnotations"]
        mbytes = json.dumps(manifest, indent=2).encode()
        mdig, msize = lay.put_bytes(mbytes)
        mdesc = {"mediaType": OCI_MANIFEST, "digest": mdig, "size": msize}
        if at is not None:
            mdesc["artifactType"] = at
        top = mdesc
        if spec.get("wrapIndex"):
            index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [mdesc]}
            idig, isize = lay.put_bytes(json.dumps(index, indent=2).encode())
            top = {"mediaType": OCI_INDEX, "digest": idig, "size": isize}
        lay.set_entry(ref, top)
    finally:
        lay.cleanup()

    if expect:
        write_expect(spec, expect)
    if info:
        fault = spec.get("fault")
        lay_info = []
        for ls, d, diff in zip(spec.get("layers", []), layers, diff_ids):
            li = {"digest": d["digest"], "mediaType": d["mediaType"], "size": d["size"],
                  "diffId": diff, "kind": ls.get("kind", "weight"),
                  "format": ls.get("format", "raw"), "path": ls.get("path"),
                  "blob": lay.blob_path(d["digest"])}
            if ls.get("fault"):
                li["fault"] = ls["fault"]
                # The thing at fault of a blob-level fault is the layer: name its digest.
                if fault is None:
                    fault = d["digest"]
            lay_info.append(li)
        with open(info, "w") as f:
            json.dump({"manifest": mdig, "top": top["digest"], "topMediaType": top["mediaType"],
                       "config": cdig, "ref": ref, "family": family, "layers": lay_info,
                       "layout": os.path.abspath(out), "fault": fault}, f, indent=2)
            f.write("\n")
    return mdig


# --------------------------------------------------------------------------- expected tree

def valid_rel(p):
    if not p or p.startswith("/") or "\0" in p:
        return False
    parts = [c for c in p.split("/") if c not in ("",)]
    return all(c not in (".", "..") for c in parts) and bool(parts)


def norm(p):
    return "/".join(c for c in p.split("/") if c not in ("", "."))


def write_expect(spec, dest):
    """Writes the tree modelvol must produce: files 0644/0755, dirs 0755, symlinks kept."""
    tree = {}  # path -> ("file", content, mode) | ("dir",) | ("symlink", target)

    def add_dirs(p):
        parts = p.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            d = "/".join(parts[:i])
            if tree.get(d, ("dir",))[0] != "dir":
                die(f"expected tree: {d} is not a directory")
            tree[d] = ("dir",)

    def put(p, node):
        if p in tree and node[0] != "dir" and tree[p] != node:
            die(f"expected tree: conflicting entries for {p} (this spec is a bad input)")
        if p in tree and node[0] == "dir" and tree[p][0] != "dir":
            die(f"expected tree: {p} is both a dir and a file")
        tree[p] = node

    for i, ls in enumerate(spec.get("layers", [])):
        if ls.get("fault"):
            die(f"layer {i} has a fault; no expected tree")
        fmt = ls.get("format", "raw")
        if fmt == "raw":
            p = ls["path"]
            if not valid_rel(p):
                die(f"raw path {p!r} is invalid; no expected tree")
            p = norm(p)
            add_dirs(p)
            mode = parse_mode(ls.get("mode"), 0o644) if ls.get("metadata", "mode" in ls) else 0o644
            put(p, ("file", json.dumps(ls.get("content"), sort_keys=True),
                    canonical_file_mode(mode), ls.get("content")))
            continue
        if ("tar" in ls or "blob" in ls) and "expect" not in ls:
            die(f"layer {i}: hand-built bytes and no \"expect\"; no expected tree")
        for e in ls.get("expect", ls.get("entries", [])):
            n = e["name"]
            if not valid_rel(n):
                die(f"tar name {n!r} is invalid; no expected tree")
            n = norm(n)
            t = e.get("type", "file")
            add_dirs(n)
            if t == "dir":
                put(n, ("dir",))
            elif t == "file":
                mode = parse_mode(e.get("mode"), 0o644)
                put(n, ("file", json.dumps(e.get("content"), sort_keys=True),
                        canonical_file_mode(mode), e.get("content")))
            elif t == "symlink":
                put(n, ("symlink", e["target"]))
            else:
                die(f"tar entry type {t} is refused by modelvol; no expected tree")

    # Symlinks must resolve inside the tree and nothing may be placed through one.
    for p, node in tree.items():
        comps = p.split("/")
        for i in range(1, len(comps)):
            if tree.get("/".join(comps[:i]), ("dir",))[0] != "dir":
                die(f"expected tree: {p} lies under a non-directory")
        if node[0] == "symlink":
            tgt = node[1]
            if tgt.startswith("/"):
                die(f"symlink {p} -> {tgt} is absolute; no expected tree")
            depth = len(comps) - 1
            for c in tgt.split("/"):
                if c == "..":
                    depth -= 1
                elif c not in ("", "."):
                    depth += 1
                if depth < 0:
                    die(f"symlink {p} -> {tgt} leaves the tree; no expected tree")

    if os.path.lexists(dest):
        shutil.rmtree(dest)
    os.makedirs(dest)
    os.chmod(dest, 0o755)
    for p in sorted(tree):
        node = tree[p]
        full = os.path.join(dest, p)
        if node[0] == "dir":
            os.makedirs(full, exist_ok=True)
            os.chmod(full, 0o755)
    for p in sorted(tree):
        node = tree[p]
        full = os.path.join(dest, p)
        if node[0] == "file":
            with open(full, "wb") as f:
                copy_content(node[3], f)
            os.chmod(full, node[2])
            os.utime(full, (MTIME, MTIME))
        elif node[0] == "symlink":
            os.symlink(node[1], full)


# --------------------------------------------------------------------------- presets

def rnd(n, seed):
    return {"random": n, "seed": seed}


def preset_all_kinds(a):
    """Every kind x format: raw files (one executable), tars with dirs, exec bits, a
    relative symlink, an empty file and an empty dir; tar layers share a directory."""
    s = a.seed
    layers = []
    for kind in KINDS:
        k = kind.replace(".", "-")
        for fmt in FORMATS:
            f = fmt.replace("+", "-")
            if fmt == "raw":
                ls = {"kind": kind, "format": fmt, "path": f"{k}/{k}-raw.bin",
                      "content": rnd(4096 + 17 * len(layers), f"{s}/{k}/{f}")}
                if kind == "code":
                    ls["path"] = "bin/run.sh"
                    ls["content"] = "#!/bin/sh\necho modelvol test model\n"
                    ls["mode"] = "0755"
                elif kind == "doc":
                    ls["path"] = "README.md"
                    ls["content"] = "# test model\n\nGenerated by mkmodel.py.\n"
                    ls["mode"] = "0600"      # canonical 0644
                elif kind == "weight.config":
                    ls["path"] = "config.json"
                    ls["content"] = '{"hidden_size": 64, "num_layers": 2}\n'
                layers.append(ls)
                continue
            d = f"{k}/{f}"
            entries = [
                {"name": k, "type": "dir", "mode": "0755"},
                {"name": d, "type": "dir", "mode": "0700"},        # canonical 0755
                {"name": f"{d}/data.bin", "content": rnd(65536 + len(layers), f"{s}/{d}")},
                {"name": f"{d}/notes.txt", "content": f"{kind} as {fmt}\n", "mode": "0600"},
                {"name": f"{d}/tool.sh", "content": "#!/bin/sh\nexit 0\n", "mode": "0744"},
                {"name": f"{d}/empty", "content": ""},
                {"name": f"{d}/emptydir", "type": "dir"},
                {"name": f"{d}/deep/er/file.txt", "content": f"{d} deep\n"},
                {"name": f"{d}/latest", "type": "symlink", "target": "data.bin"},
                {"name": f"{d}/up", "type": "symlink", "target": "../../README.md"},
            ]
            if kind == "weight" and fmt == "tar":
                entries.append({"name": "shared/from-weight-tar.txt", "content": "a\n"})
            if kind == "dataset" and fmt == "tar+zstd":
                entries.append({"name": "shared", "type": "dir"})
                entries.append({"name": "shared/from-dataset-zstd.txt", "content": "b\n"})
            ls = {"kind": kind, "format": fmt, "path": k, "entries": entries}
            if kind == "doc" and fmt == "tar":
                ls["path"] = "label-not-a-place"   # tar placement ignores filepath
            layers.append(ls)
    return {"family": a.family, "ref": "localhost:5000/test/all-kinds:v1", "layers": layers}


def preset_shared(a):
    """Model a and b share most files (dedup). Shard 1 is raw in a and in a tar in b."""
    s = a.seed
    size = 512 * 1024
    shard = lambda i: rnd(size, f"{s}/shard-{i}")
    v = a.variant
    layers = []
    if v == "a":
        layers.append({"kind": "weight", "format": "tar", "path": "model-1.safetensors",
                       "entries": [{"name": "model-1.safetensors", "content": shard(1)}]})
    else:
        layers.append({"kind": "weight", "format": "raw", "path": "model-1.safetensors",
                       "content": shard(1)})
    layers.append({"kind": "weight", "format": "tar+gzip" if v == "a" else "tar+zstd",
                   "path": "weights",
                   "entries": [{"name": "weights/model-2.safetensors", "content": shard(2)},
                               {"name": "weights/model-3.safetensors", "content": shard(3)}]})
    layers.append({"kind": "weight", "format": "raw", "path": "model-4.safetensors",
                   "content": shard(4 if v == "a" else 44)})
    layers.append({"kind": "weight.config", "format": "raw", "path": "config.json",
                   "content": '{"model_type": "test", "vocab_size": 1000}\n'})
    layers.append({"kind": "weight.config", "format": "tar", "path": "tokenizer.json",
                   "entries": [{"name": "tokenizer.json", "content": rnd(20000, f"{s}/tok")},
                               {"name": "tokenizer_config.json", "content": "{}\n"}]})
    layers.append({"kind": "code", "format": "raw", "path": "run.py", "mode": "0755",
                   "content": "#!/usr/bin/env python3\nprint('hi')\n"})
    if v == "b":
        layers.append({"kind": "doc", "format": "raw", "path": "README.md",
                       "content": "# model b\n"})
    return {"family": a.family, "ref": f"localhost:5000/test/shared-{v}:v1", "layers": layers}


def preset_many_files(a):
    """N small files over several layers; some byte-identical (dedup inside one model)."""
    n = a.files
    s = a.seed
    per = max(1, n // 3)
    layers = []
    fmts = ["tar", "tar+gzip", "tar+zstd"]
    made = 0
    for li, fmt in enumerate(fmts):
        entries = []
        count = per if li < 2 else n - made
        for j in range(count):
            i = made + j
            content = f"file {i}\n" if i % 10 else "identical content\n"
            if i % 50 == 7:
                content = rnd(3000 + i, f"{s}/{i}")
            entries.append({"name": f"layer{li}/d{i % 17:02d}/f{i:06d}.txt",
                            "content": content, "mode": "0755" if i % 97 == 0 else "0644"})
        made += count
        layers.append({"kind": "dataset", "format": fmt, "path": f"layer{li}",
                       "entries": entries})
    layers.append({"kind": "weight", "format": "raw", "path": "weights.bin",
                   "content": rnd(100000, f"{s}/w")})
    return {"family": a.family, "ref": "localhost:5000/test/many-files:v1", "layers": layers}


def preset_big(a):
    """size-mb MiB of PRNG weights in `layers` raw layers, plus a small tar."""
    total = a.size_mb * 1024 * 1024
    n = max(1, a.layers)
    layers = []
    for i in range(n):
        sz = total // n + (total % n if i == n - 1 else 0)
        layers.append({"kind": "weight", "format": "raw" if i % 2 == 0 else "tar",
                       "path": f"model-{i + 1:05d}-of-{n:05d}.safetensors",
                       **({"content": rnd(sz, f"{a.seed}/big/{i}")} if i % 2 == 0 else
                          {"entries": [{"name": f"model-{i + 1:05d}-of-{n:05d}.safetensors",
                                        "content": rnd(sz, f"{a.seed}/big/{i}")}]})})
    layers.append({"kind": "weight.config", "format": "tar+gzip", "path": "config.json",
                   "entries": [{"name": "config.json", "content": '{"big": true}\n'},
                               {"name": "generation_config.json", "content": "{}\n"}]})
    return {"family": a.family, "ref": "localhost:5000/test/big:v1", "layers": layers}


def preset_odd_metadata(a):
    """Good input with hostile metadata that must be canonicalized: setuid/setgid/sticky,
    bits above 07777, uid/gid/uname/gname, PAX xattrs (none may be applied)."""
    xattrs = {"SCHILY.xattr.user.evil": "1", "SCHILY.xattr.security.capability": "\x01",
              "SCHILY.xattr.trusted.overlay.opaque": "y", "SCHILY.xattr.security.selinux":
              "system_u:object_r:shadow_t:s0"}
    entries = [
        {"name": "odd", "type": "dir", "mode": "01777"},
        {"name": "odd/setuid", "content": "#!/bin/sh\n", "mode": "04755"},
        {"name": "odd/setgid", "content": "g\n", "mode": "02644"},
        {"name": "odd/sticky-exec", "content": "s\n", "mode": "01711"},
        {"name": "odd/owned", "content": "o\n", "uid": 1000, "gid": 1000, "uname": "evil",
         "gname": "evil", "mode": "0640"},
        {"name": "odd/big-uid", "content": "u\n", "uid": 2 ** 31, "gid": 2 ** 31},
        {"name": "odd/xattrs", "content": "x\n", "pax": xattrs},
        {"name": "odd/dir-0700", "type": "dir", "mode": "0700"},
        {"name": "odd/dir-0700/f", "content": "f\n", "mode": "0400"},
    ]
    return {"family": a.family, "ref": "localhost:5000/test/odd-metadata:v1", "layers": [
        {"kind": "code", "format": "tar", "path": "odd", "entries": entries},
        {"kind": "code", "format": "raw", "path": "raw-setuid", "mode": "04755",
         "content": "#!/bin/sh\n"},
        {"kind": "doc", "format": "raw", "path": "raw-0400", "mode": "0400", "content": "r\n"},
    ]}


def _good_files(a):
    return [{"name": "good/first.txt", "content": "written before the bad entry\n"}]


def _bad_tar(a, entries, fmt="tar", fault_name=None, ref=None):
    return {"family": a.family, "ref": ref or "localhost:5000/test/bad:v1",
            "fault": fault_name,
            "layers": [
                {"kind": "doc", "format": "raw", "path": "README.md", "content": "ok\n"},
                {"kind": "weight", "format": fmt, "path": "weights",
                 "entries": _good_files(a) + entries}]}


def _sentinel(a):
    return os.path.abspath(a.sentinel) if a.sentinel else "/tmp/modelvol-sentinel"


def preset_bad_dotdot(a):
    return _bad_tar(a, [{"name": "../x", "content": "escaped\n"}], fault_name="../x")


def preset_bad_dotdot_deep(a):
    # Enough '..' to reach '/' from any staging dir, then down into the sentinel dir.
    name = "../" * 40 + _sentinel(a).lstrip("/") + "/dotdot-owned"
    return _bad_tar(a, [{"name": name, "content": "escaped\n"}], fault_name="../../..")


def preset_bad_abs(a):
    name = _sentinel(a) + "/abs-owned"
    return _bad_tar(a, [{"name": name, "content": "escaped\n"}], fault_name=name)


def preset_bad_dotdot_mid(a):
    return _bad_tar(a, [{"name": "a/../../x", "content": "escaped\n"}], fault_name="a/../../x")


def preset_bad_symlink_abs(a):
    return _bad_tar(a, [{"name": "escape-abs", "type": "symlink", "target": "/etc"}],
                    fault_name="escape-abs")


def preset_bad_symlink_abs_write(a):
    return _bad_tar(a, [{"name": "escape-sentinel", "type": "symlink", "target": _sentinel(a)},
                        {"name": "escape-sentinel/symlink-owned", "content": "escaped\n"}],
                    fmt="tar+gzip", fault_name="escape-sentinel")


def preset_bad_symlink_rel(a):
    return _bad_tar(a, [{"name": "escape-rel", "type": "symlink", "target": "../../x"}],
                    fault_name="escape-rel")


def preset_bad_symlink_write(a):
    return _bad_tar(a, [{"name": "sub", "type": "dir"},
                        {"name": "dirlink", "type": "symlink", "target": "sub"},
                        {"name": "dirlink/through-link", "content": "via symlink\n"}],
                    fault_name="dirlink")


def preset_bad_hardlink(a):
    return _bad_tar(a, [{"name": "hl-target", "content": "target\n"},
                        {"name": "hardlink-member", "type": "hardlink",
                         "target": "hl-target"}], fault_name="hardlink-member")


def preset_bad_chardev(a):
    return _bad_tar(a, [{"name": "chardev-member", "type": "chardev", "major": 1,
                         "minor": 3}], fault_name="chardev-member")


def preset_bad_fifo(a):
    return _bad_tar(a, [{"name": "fifo-member", "type": "fifo"}], fault_name="fifo-member")


def preset_bad_dotdot_only(a):
    return _bad_tar(a, [{"name": "..", "type": "dir"}], fault_name="..")


def preset_bad_whiteout(a):
    return _bad_tar(a, [{"name": "good/.wh.first.txt", "content": ""}], fault_name=".wh.first.txt")


def preset_bad_opaque_whiteout(a):
    return _bad_tar(a, [{"name": "good/.wh..wh..opq", "content": ""}], fault_name=".wh..wh..opq")


def preset_bad_pax_nul(a):
    # A PAX path with a NUL: the ustar name is harmless, the PAX record is not.
    return _bad_tar(a, [{"name": "pax-nul-harmless", "content": "n\n",
                         "pax": {"path": "pax-nul\x00/../../x"}}], fault_name="pax-nul")


def preset_bad_dup_in_tar(a):
    return _bad_tar(a, [{"name": "twice.txt", "content": "one\n"},
                        {"name": "twice.txt", "content": "two\n"}], fault_name="twice.txt")


def preset_bad_file_then_dir(a):
    return _bad_tar(a, [{"name": "fd", "content": "file\n"},
                        {"name": "fd", "type": "dir"}], fault_name="fd")


def preset_bad_dir_then_symlink(a):
    return _bad_tar(a, [{"name": "ds", "type": "dir"}, {"name": "ds/inside", "content": "i\n"},
                        {"name": "ds", "type": "symlink", "target": "good"}], fault_name="ds")


def _bad_blob(a, fmt, fault, **kw):
    # Content unique per fault, so a corrupted blob never stands in for another's good one.
    seed = f"{a.seed}/blob/{fmt}/{fault}/{kw}"
    entries = [{"name": "weights/blob.bin", "content": rnd(200000, seed)}]
    ls = {"kind": "weight", "format": fmt, "path": "weights", "fault": fault, **kw}
    if fmt == "raw":
        ls.update(path="weights.bin", content=rnd(200000, seed))
    else:
        ls["entries"] = entries
    return {"family": a.family, "ref": "localhost:5000/test/bad:v1",
            "layers": [{"kind": "doc", "format": "raw", "path": "README.md", "content": "ok\n"},
                       ls]}


def preset_bad_digest(a):
    return _bad_blob(a, "tar+gzip", "digest")


def preset_bad_digest_raw(a):
    return _bad_blob(a, "raw", "digest")


def preset_bad_size_larger(a):
    return _bad_blob(a, "raw", "size", sizeDelta=16)


def preset_bad_size_smaller(a):
    return _bad_blob(a, "tar", "size", sizeDelta=-1)


def preset_bad_gzip_truncated(a):
    return _bad_blob(a, "tar+gzip", "truncate")


def preset_bad_zstd_truncated(a):
    return _bad_blob(a, "tar+zstd", "truncate")


def preset_bad_raw_path(a):
    return {"family": a.family, "ref": "localhost:5000/test/bad:v1", "fault": "../../etc/x",
            "layers": [{"kind": "doc", "format": "raw", "path": "README.md", "content": "ok\n"},
                       {"kind": "code", "format": "raw", "path": "../../etc/x",
                        "content": "escaped\n"}]}


def preset_bad_raw_abs(a):
    p = _sentinel(a) + "/raw-abs-owned"
    return {"family": a.family, "ref": "localhost:5000/test/bad:v1", "fault": p,
            "layers": [{"kind": "doc", "format": "raw", "path": "README.md", "content": "ok\n"},
                       {"kind": "code", "format": "raw", "path": p, "content": "escaped\n"}]}


def preset_bad_dup_path(a):
    return {"family": a.family, "ref": "localhost:5000/test/bad:v1", "fault": "dup/conflict.bin",
            "layers": [{"kind": "weight", "format": "raw", "path": "dup/conflict.bin",
                        "content": "first version\n"},
                       {"kind": "weight", "format": "tar", "path": "dup",
                        "entries": [{"name": "dup/conflict.bin", "content": "second version\n"}]}]}


def preset_not_modelpack(a):
    """A plain OCI container image (config application/vnd.oci.image.config.v1+json)."""
    tar_entries = [{"name": "etc", "type": "dir"},
                   {"name": "etc/os-release", "content": "ID=test\n"}]
    return {"family": a.family, "ref": "localhost:5000/test/image:v1",
            "artifactType": None, "configMediaType": OCI_IMAGE_CONFIG,
            "fault": "not-modelpack",
            "config": {"architecture": "amd64", "os": "linux",
                       "rootfs": {"type": "layers", "diff_ids": []}},
            "layers": [{"kind": "weight", "format": "tar+gzip", "path": "x",
                        "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                        "entries": tar_entries}]}


def _hostile(doc, fmt, gen, expect=None, where="tar"):
    """A preset of two layers: a raw README and one layer of hand-built bytes (rawtar)."""
    def preset(a):
        layer = {"kind": "weight", "format": fmt, "path": "weights", where: gen}
        if expect is not None:
            layer["expect"] = expect
        return {"family": a.family, "ref": "localhost:5000/test/hostile:v1",
                "layers": [{"kind": "doc", "format": "raw", "path": "README.md",
                            "content": "ok\n"}, layer]}
    preset.__doc__ = doc
    return preset


def _diff_ids(doc, fmt, claims):
    """Two layers, the second of format FMT, and a config whose diffIds are CLAIMS (see
    claimed_diff_ids)."""
    def preset(a):
        layer = {"kind": "weight", "format": fmt, "path": "weights/w.bin"}
        if fmt == "raw":
            layer["content"] = {"random": 4096, "seed": "diff-ids"}
        else:
            layer["entries"] = [{"name": "weights/w.bin",
                                 "content": {"random": 4096, "seed": "diff-ids"}},
                                {"name": "weights/notes.txt", "content": "compressed\n"}]
        return {"family": a.family, "ref": "localhost:5000/test/hostile:v1", "diffIds": claims,
                "layers": [{"kind": "doc", "format": "raw", "path": "README.md",
                            "content": "ok\n"}, layer]}
    preset.__doc__ = doc
    return preset


def _t(kind):
    return {"gen": "tar", "kind": kind}


# Hostile layers (SECURITY-BAR 16, 17, 19-21, 23), for tests/integration/test-hostile-layers.sh.
# Those with an expected tree are accepted (canonicalized); all others must be refused.
HOSTILE = {
    # bar 23's last case: the config's modelfs.diffIds against the uncompressed digests.
    "hostile-diffid-gzip": _diff_ids("tar+gzip layer, its diffId wrong", "tar+gzip", {"1": "wrong"}),
    "hostile-diffid-zstd": _diff_ids("tar+zstd layer, its diffId wrong", "tar+zstd", {"1": "wrong"}),
    "hostile-diffid-tar": _diff_ids("plain tar layer, its diffId wrong", "tar", {"1": "wrong"}),
    "hostile-diffid-raw": _diff_ids("raw layer, its diffId wrong", "raw", {"1": "wrong"}),
    "hostile-diffid-blob": _diff_ids("tar+gzip layer listed by its blob digest, as modctl does",
                                     "tar+gzip", {"1": "blob"}),
    "hostile-diffid-none": _diff_ids("a config without modelfs.diffIds", "tar+zstd", "none"),
    "hostile-diffid-short": _diff_ids("one diffId for two layers", "tar+gzip", "short"),
    "hostile-diffid-right": _diff_ids("tar+gzip layer, every diffId right", "tar+gzip", None),
    "hostile-modes": _hostile(
        "modes above 07777, setuid/setgid/sticky, uid 2^31/2^63-1/2^32, uname/gname "
        "(canonicalized)", "tar", {"gen": "modes"}, rawtar.MODES_EXPECT),
    "hostile-xattrs": _hostile(
        "PAX xattrs security.capability/selinux, trusted.overlay.*, user.*, ACLs, fflags "
        "(none applied)", "tar+gzip", {"gen": "xattrs"}, rawtar.XATTRS_EXPECT),
    "hostile-dup-dotslash": _hostile("a.txt then ./a.txt", "tar", _t("dup-dotslash")),
    "hostile-dup-other-mode": _hostile("m.sh 0755 then m.sh 0644, same bytes", "tar+gzip",
                                       _t("dup-same-bytes-other-mode")),
    "hostile-dup-pax-rename": _hostile("PAX path renames a later member onto an earlier one",
                                       "tar", _t("dup-pax-rename")),
    "hostile-dir-slash-then-file": _hostile("d/ (dir) then d (file)", "tar",
                                            _t("dup-dir-slash-then-file")),
    "hostile-symlink-then-dir": _hostile("s -> good, then dir s, then s/through", "tar",
                                         _t("symlink-then-dir")),
    "hostile-dir-then-file": _hostile("dir d with d/f, then file d", "tar+zstd",
                                      _t("dir-then-file")),
    "hostile-file-then-symlink": _hostile("file f then symlink f", "tar",
                                          _t("file-then-symlink")),
    "hostile-symlink-then-file": _hostile("symlink l then file l", "tar",
                                          _t("symlink-then-file")),
    "hostile-size-8eib": _hostile("size field 2^63 (base-256)", "tar", _t("size-8eib")),
    "hostile-size-negative": _hostile("size field -1 (base-256)", "tar", _t("size-negative")),
    "hostile-size-int64-max": _hostile("size field 2^63-1, stream ends", "tar+gzip",
                                       _t("size-int64-max")),
    "hostile-pax-size-negative": _hostile("PAX size=-1", "tar", _t("pax-size-negative")),
    "hostile-pax-size-8eib": _hostile("PAX size=2^63", "tar", _t("pax-size-8eib")),
    "hostile-pax-size-smaller": _hostile("PAX size=0 over a member hiding a header", "tar",
                                         _t("pax-size-smaller")),
    "hostile-sparse-gnu": _hostile("GNU sparse (S) with a 1 TiB apparent size", "tar",
                                   _t("sparse-gnu-1tb")),
    "hostile-sparse-pax": _hostile("PAX sparse 1.0 with a 1 TiB apparent size", "tar+gzip",
                                   _t("sparse-pax-1tb")),
    "hostile-pax-huge": _hostile("PAX header above 1 MiB", "tar+gzip", _t("pax-huge")),
    "hostile-pax-global-huge": _hostile("PAX global header above 1 MiB", "tar+zstd",
                                        _t("pax-global-huge")),
    "hostile-gnu-longname-huge": _hostile("GNU long name above 1 MiB", "tar+gzip",
                                          _t("gnu-longname-huge")),
    "hostile-gnu-longname-pathmax": _hostile("GNU long name above PATH_MAX", "tar",
                                             _t("gnu-longname-pathmax")),
    "hostile-gnu-longlink-pathmax": _hostile("GNU long link name above PATH_MAX", "tar",
                                             _t("gnu-longlink-pathmax")),
    "hostile-component-256": _hostile("a path component of 256 bytes", "tar",
                                      _t("component-256")),
    "hostile-depth-257": _hostile("a path of 257 levels", "tar", _t("depth-257")),
    "hostile-depth-256": _hostile(
        "a path of 256 levels (accepted)", "tar", _t("depth-256"),
        [{"name": "good/first.txt", "content": "written before the bad entry\n"},
         {"name": "d/" * 255 + "f", "content": "deep\n"}]),
    "hostile-pax-chain": _hostile("10000 PAX headers before one member", "tar+gzip",
                                  _t("pax-chain")),
    "hostile-many-entries": _hostile("3000 empty files (test with a lower max-entries)",
                                     "tar+zstd", {"gen": "many", "n": 3000}),
    "hostile-truncated-header": _hostile("plain tar cut inside a header", "tar",
                                         _t("truncated-header")),
    "hostile-truncated-data": _hostile("plain tar cut inside file data", "tar",
                                       _t("truncated-data")),
    "hostile-truncated-pax": _hostile("plain tar cut inside a PAX header", "tar",
                                      _t("truncated-pax")),
    "hostile-no-end-blocks": _hostile(
        "tar without its end-of-archive blocks (accepted)", "tar", _t("no-end-blocks"),
        [{"name": "good/first.txt", "content": "written before the bad entry\n"},
         {"name": "last.txt", "content": "no end blocks follow\n"}]),
    "hostile-one-end-block": _hostile(
        "tar ending in one zero block (accepted)", "tar+gzip", _t("one-end-block"),
        [{"name": "good/first.txt", "content": "written before the bad entry\n"},
         {"name": "last.txt", "content": "one end block\n"}]),
    "hostile-zero-padding": _hostile(
        "64 KiB of zeros after the end blocks (accepted)", "tar", _t("zero-padding"),
        [{"name": "good/first.txt", "content": "written before the bad entry\n"},
         {"name": "last.txt", "content": "padded\n"}]),
    "hostile-zero-padding-too-long": _hostile("2 MiB of zeros after the end blocks",
                                              "tar+gzip", _t("zero-padding-too-long")),
    "hostile-after-end-member": _hostile("a member after the end blocks", "tar",
                                         _t("after-end-member")),
    "hostile-after-end-garbage": _hostile("garbage after the end blocks", "tar+zstd",
                                          _t("after-end-garbage")),
    "hostile-after-one-zero-block": _hostile("a member after one zero block", "tar+gzip",
                                             _t("after-one-zero-block")),
    "hostile-gzip-bomb": _hostile("gzip, 256 KiB inflating to 256 MiB (lower max-layer-bytes)",
                                  "tar+gzip", {"gen": "gzip-bomb", "size_mib": 256},
                                  where="blob"),
    "hostile-zstd-bomb": _hostile("zstd, 3.2 MB of RLE blocks inflating to 100 GiB",
                                  "tar+zstd", {"gen": "zstd-bomb", "size": 100 << 30},
                                  where="blob"),
    "hostile-zstd-window": _hostile("zstd frame asking for a 2 GiB window", "tar+zstd",
                                    {"gen": "zstd", "kind": "window-2g"}, where="blob"),
    "hostile-zstd-content-size": _hostile(
        "zstd single-segment frame of 1 TiB content (window = content)", "tar+zstd",
        {"gen": "zstd", "kind": "content-size-1t"}, where="blob"),
    "hostile-gzip-bad-crc": _hostile("gzip trailer with a wrong CRC-32", "tar+gzip",
                                     {"gen": "gzip", "kind": "bad-crc"}, where="blob"),
    "hostile-gzip-bad-isize": _hostile("gzip trailer with a wrong length", "tar+gzip",
                                       {"gen": "gzip", "kind": "bad-isize"}, where="blob"),
    "hostile-gzip-trailing-garbage": _hostile("garbage after the gzip member", "tar+gzip",
                                              {"gen": "gzip", "kind": "trailing-garbage"},
                                              where="blob"),
    "hostile-gzip-trailing-zeros": _hostile("zero bytes after the gzip member", "tar+gzip",
                                            {"gen": "gzip", "kind": "trailing-zeros"},
                                            where="blob"),
    "hostile-gzip-truncated-trailer": _hostile("gzip cut inside its trailer", "tar+gzip",
                                               {"gen": "gzip", "kind": "truncated-trailer"},
                                               where="blob"),
    "hostile-gzip-second-member-bad": _hostile(
        "a second gzip member with a wrong CRC", "tar+gzip",
        {"gen": "gzip", "kind": "second-member-bad"}, where="blob"),
    "hostile-gzip-multi-member": _hostile(
        "three gzip members, cut inside a header and inside data (accepted)", "tar+gzip",
        {"gen": "gzip", "kind": "multi-member"}, rawtar.GOOD_EXPECT, where="blob"),
    "hostile-gzip-empty-members": _hostile(
        "empty gzip members around the real one (accepted)", "tar+gzip",
        {"gen": "gzip", "kind": "empty-members"}, rawtar.GOOD_EXPECT, where="blob"),
    "hostile-gzip-not-gzip": _hostile("a tar+gzip layer holding zstd", "tar+gzip",
                                      {"gen": "gzip", "kind": "not-gzip"}, where="blob"),
    "hostile-zstd-trailing-garbage": _hostile("garbage after the zstd frame", "tar+zstd",
                                              {"gen": "zstd", "kind": "trailing-garbage"},
                                              where="blob"),
    "hostile-zstd-bad-checksum": _hostile("zstd frame with a wrong content checksum",
                                          "tar+zstd", {"gen": "zstd", "kind": "bad-checksum"},
                                          where="blob"),
    "hostile-zstd-truncated-frame": _hostile("zstd frame without its last block", "tar+zstd",
                                             {"gen": "zstd", "kind": "truncated-frame"},
                                             where="blob"),
    "hostile-zstd-multi-frame": _hostile(
        "two zstd frames, cut inside a header (accepted)", "tar+zstd",
        {"gen": "zstd", "kind": "multi-frame"}, rawtar.GOOD_EXPECT, where="blob"),
    "hostile-zstd-skippable-frame": _hostile(
        "skippable frames before and after the data (accepted)", "tar+zstd",
        {"gen": "zstd", "kind": "skippable-frame"}, rawtar.GOOD_EXPECT, where="blob"),
}


PRESETS = {
    "all-kinds": preset_all_kinds,
    "shared": preset_shared,
    "many-files": preset_many_files,
    "big": preset_big,
    "odd-metadata": preset_odd_metadata,
    "bad-dotdot": preset_bad_dotdot,
    "bad-dotdot-only": preset_bad_dotdot_only,
    "bad-whiteout": preset_bad_whiteout,
    "bad-opaque-whiteout": preset_bad_opaque_whiteout,
    "bad-pax-nul": preset_bad_pax_nul,
    "bad-dup-in-tar": preset_bad_dup_in_tar,
    "bad-file-then-dir": preset_bad_file_then_dir,
    "bad-dir-then-symlink": preset_bad_dir_then_symlink,
    "bad-dotdot-deep": preset_bad_dotdot_deep,
    "bad-abs": preset_bad_abs,
    "bad-dotdot-mid": preset_bad_dotdot_mid,
    "bad-symlink-abs": preset_bad_symlink_abs,
    "bad-symlink-abs-write": preset_bad_symlink_abs_write,
    "bad-symlink-rel": preset_bad_symlink_rel,
    "bad-symlink-write": preset_bad_symlink_write,
    "bad-hardlink": preset_bad_hardlink,
    "bad-chardev": preset_bad_chardev,
    "bad-fifo": preset_bad_fifo,
    "bad-digest": preset_bad_digest,
    "bad-digest-raw": preset_bad_digest_raw,
    "bad-size-larger": preset_bad_size_larger,
    "bad-size-smaller": preset_bad_size_smaller,
    "bad-gzip-truncated": preset_bad_gzip_truncated,
    "bad-zstd-truncated": preset_bad_zstd_truncated,
    "bad-raw-path": preset_bad_raw_path,
    "bad-raw-abs": preset_bad_raw_abs,
    "bad-dup-path": preset_bad_dup_path,
    "not-modelpack": preset_not_modelpack,
    **HOSTILE,
}


# --------------------------------------------------------------------------- CLI

def load_spec(path):
    if path == "-":
        return json.load(sys.stdin)
    if path.endswith(".py"):
        ns = {"__file__": path, "__name__": "mkmodel_spec"}
        with open(path) as f:
            exec(compile(f.read(), path, "exec"), ns)
        if "spec" in ns and callable(ns["spec"]):
            return ns["spec"]()
        if "SPEC" in ns:
            return ns["SPEC"]
        die(f"{path} defines neither SPEC nor spec()")
    with open(path) as f:
        return json.load(f)


def add_preset_args(p):
    p.add_argument("--family", choices=FAMILIES, default=None)
    p.add_argument("--seed", default="modelvol")
    p.add_argument("--files", type=int, default=1000)
    p.add_argument("--size-mb", type=int, default=64)
    p.add_argument("--layers", type=int, default=3)
    p.add_argument("--variant", choices=["a", "b"], default="a")
    p.add_argument("--sentinel", default=None)


def add_build_args(p):
    p.add_argument("--out", required=True, help="OCI layout directory (created or extended)")
    p.add_argument("--ref", default=None)
    p.add_argument("--config", default=None, help="valid | empty | FILE.json")
    p.add_argument("--wrap-index", action="store_true", default=None)
    p.add_argument("--expect", default=None, help="write the expected model tree here")
    p.add_argument("--info", default=None, help="write a JSON description here")


def main(argv=None):
    ap = argparse.ArgumentParser(prog="mkmodel.py", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    pb = sub.add_parser("build", help="build from a JSON or .py spec")
    pb.add_argument("--spec", required=True)
    pb.add_argument("--family", choices=FAMILIES, default=None)
    add_build_args(pb)
    pp = sub.add_parser("preset", help="build a named preset")
    pp.add_argument("name", choices=sorted(PRESETS))
    add_preset_args(pp)
    add_build_args(pp)
    ps = sub.add_parser("spec", help="print a preset's spec")
    ps.add_argument("name", choices=sorted(PRESETS))
    add_preset_args(ps)
    sub.add_parser("list", help="list presets")
    a = ap.parse_args(argv)

    if a.cmd == "list":
        add_preset_args(ap_defaults := argparse.ArgumentParser())
        d = ap_defaults.parse_args([])
        d.family = "cncf"
        for n in sorted(PRESETS):
            doc = (PRESETS[n].__doc__ or "").strip().splitlines()
            if not doc:
                sp = PRESETS[n](d)
                faults = [f"layer {i} {ls['format']}: {ls['fault']}"
                          for i, ls in enumerate(sp["layers"]) if ls.get("fault")]
                doc = ["bad input: " + (sp.get("fault") or "; ".join(faults))]
            print(f"{n:24s} {doc[0]}")
        return 0
    if a.cmd in ("preset", "spec"):
        fam = a.family
        a.family = a.family or "cncf"
        spec = PRESETS[a.name](a)
        a.family = fam
        if a.cmd == "spec":
            json.dump(spec, sys.stdout, indent=2)
            print()
            return 0
    else:
        spec = load_spec(a.spec)
    config = a.config
    d = build(spec, a.out, ref=a.ref, family=a.family, config=config, wrap_index=a.wrap_index,
              expect=a.expect, info=a.info)
    print(d)
    return 0


if __name__ == "__main__":
    sys.exit(main())
