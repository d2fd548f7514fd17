#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""make-corpus: writes the seed corpora of the fuzz targets, tests/fuzz/corpus/<target>/.

Deterministic: the same script writes the same bytes. Rerun it after changing it, and commit
what it writes (every file is also a regression test: tests/fuzz/meson.build). Files that a
fuzzing run found worth keeping (crashes once fixed, new coverage) go into the same folders
under names of their own; this script never removes files it did not write.

  python3 tests/fuzz/make-corpus.py [--check]   (--check: fail if a file would change)

Seeds: real examples (tests/data/modelpack-spec: the spec's manifest and config examples and
its 27 config test vectors; what tests/lib/mkmodel.py and CRI-O write) and hostile cases
(SECURITY-BAR.md: traversal, NUL bytes, deep nesting, overflows, caps, bombs).
"""

import hashlib
import gzip
import io
import json
import os
import subprocess
import sys
import tarfile

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
SPEC = os.path.join(TOP, "tests", "data", "modelpack-spec")
sys.path.insert(0, os.path.join(TOP, "tests", "lib"))
import mkmodel  # noqa: E402  (tar entries exactly as the integration tests write them)

HEX = "1234567890abcdef" * 4
D256 = "sha256:" + HEX
D512 = "sha512:" + HEX * 2
KINDS = mkmodel.KINDS
FORMATS = mkmodel.FORMATS

written = {}


def put(target, name, data):
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogateescape")
    written[os.path.join(target, name)] = data


def js(obj, **kw):
    return json.dumps(obj, indent=1, **kw) + "\n"


# --------------------------------------------------------------------------- manifests

def descriptor(media_type, size=1234, **extra):
    d = {"mediaType": media_type, "digest": D256, "size": size}
    d.update(extra)
    return d


def modelpack_manifest(family="cncf", formats=FORMATS):
    layers = []
    for kind in KINDS:
        for fmt in formats:
            ann = {f"org.{family}.model.filepath": f"{kind}/file.{fmt}"}
            if fmt == "raw":
                ann[f"org.{family}.model.file.metadata+json"] = json.dumps(
                    {"name": "file", "mode": 493, "uid": 0, "gid": 0, "size": 1234,
                     "mtime": "2023-11-14T22:13:20Z", "typeflag": 48})
            layers.append(descriptor(mkmodel.media_type(family, kind, fmt), annotations=ann))
    return {"schemaVersion": 2, "mediaType": mkmodel.OCI_MANIFEST,
            "artifactType": f"application/vnd.{family}.model.manifest.v1+json",
            "config": descriptor(f"application/vnd.{family}.model.config.v1+json", 301),
            "layers": layers,
            "annotations": {"org.opencontainers.image.created": "2023-11-14T22:13:20Z"}}


def manifests():
    t = "manifest"
    with open(os.path.join(SPEC, "examples", "manifest-example.json"), "rb") as f:
        put(t, "spec-example.json", f.read())
    put(t, "modelpack-cncf.json", js(modelpack_manifest("cncf")))
    put(t, "modelpack-cnai.json", js(modelpack_manifest("cnai")))
    m = modelpack_manifest("cncf", ["raw"])
    del m["artifactType"]
    m["subject"] = descriptor(mkmodel.OCI_MANIFEST)
    m["layers"][0]["urls"] = ["https://example.com/blob"]
    m["layers"][1]["annotations"] = {"org.opencontainers.image.title": "title-only.bin"}
    put(t, "config-type-only-subject-urls.json", js(m))
    put(t, "index.json", js({"schemaVersion": 2, "mediaType": mkmodel.OCI_INDEX, "manifests": [
        descriptor(mkmodel.OCI_MANIFEST, annotations={mkmodel.REF_NAME: "v1"}),
        descriptor(mkmodel.OCI_MANIFEST, artifactType="application/vnd.cncf.model.manifest.v1+json",
                   annotations={mkmodel.REF_NAME: "registry.example.com/org/model:v1"})]}))
    put(t, "docker-manifest-list.json", js({
        "schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
        "manifests": [descriptor("application/vnd.docker.distribution.manifest.v2+json",
                                 platform={"architecture": "amd64", "os": "linux"})]}))
    put(t, "oci-image.json", js({
        "schemaVersion": 2, "mediaType": mkmodel.OCI_MANIFEST,
        "config": descriptor(mkmodel.OCI_IMAGE_CONFIG),
        "layers": [descriptor("application/vnd.oci.image.layer.v1.tar+gzip")]}))
    small = {"schemaVersion": 2, "config": descriptor("application/vnd.cncf.model.config.v1+json"),
             "layers": [descriptor("application/vnd.cncf.model.weight.v1.raw",
                                   annotations={"org.cncf.model.filepath": "w.bin"})]}
    put(t, "minimal.json", json.dumps(small, separators=(",", ":")))
    put(t, "sha512.json", json.dumps(small).replace(D256, D512))

    # Hostile: paths, metadata, types, limits and JSON that json-glib alone would take.
    def hostile(name, **layer_ann):
        m = json.loads(json.dumps(small))
        m["layers"][0]["annotations"] = layer_ann
        put(t, name, js(m))
    hostile("path-dotdot.json", **{"org.cncf.model.filepath": "../../etc/cron.d/x"})
    hostile("path-abs.json", **{"org.cncf.model.filepath": "/etc/passwd"})
    hostile("path-mid-dotdot.json", **{"org.cncf.model.filepath": "a/../b"})
    hostile("path-empty.json", **{"org.cncf.model.filepath": ""})
    hostile("path-escape.json", **{"org.cncf.model.filepath": "a\x1b[31mred\u202e\u200b"})
    hostile("path-whiteout.json", **{"org.cnai.model.filepath": "dir/.wh..wh..opq"})
    hostile("path-long.json", **{"org.cncf.model.filepath": "/".join(["d"] * 300)})
    hostile("metadata-bad.json", **{"org.cncf.model.filepath": "x",
                                    "org.cncf.model.file.metadata+json": '{"mode": -1'})
    hostile("metadata-huge-mode.json", **{"org.cncf.model.filepath": "x",
                                          "org.cncf.model.file.metadata+json":
                                          '{"mode": 18446744073709551615}'})
    hostile("metadata-deep.json", **{"org.cncf.model.filepath": "x",
                                     "org.cncf.model.file.metadata+json":
                                     '{"mode":' + "[" * 40 + "]" * 40 + "}"})
    base = json.dumps(small, separators=(",", ":"))
    put(t, "dup-key.json", base.replace('{"schemaVersion":2,', '{"schemaVersion":2,"schemaVersion":2,'))
    put(t, "escaped-nul.json", base.replace("w.bin", "w\\u0000/../../x"))
    put(t, "lone-surrogate.json", base.replace("w.bin", "w\\ud800.bin"))
    put(t, "surrogate-pair.json", base.replace("w.bin", "w\\ud83d\\ude00.bin"))
    put(t, "int-overflow.json", base.replace('"size":1234', '"size":18446744073709551616', 1))
    put(t, "int-min.json", base.replace('"size":1234', '"size":-9223372036854775808', 1))
    put(t, "negative-size.json", base.replace('"size":1234', '"size":-1', 1))
    put(t, "float-size.json", base.replace('"size":1234', '"size":1.5e3', 1))
    put(t, "schema-1.json", base.replace('"schemaVersion":2', '"schemaVersion":1'))
    put(t, "null-member.json", base.replace('{"schemaVersion":2,', '{"schemaVersion":2,"artifactType":null,'))
    put(t, "bad-media-type.json", base.replace("application/vnd.cncf.model.weight.v1.raw", "not a type"))
    put(t, "bad-digest.json", base.replace(D256, "sha256:" + HEX.upper()))
    put(t, "comment.json", "/* c */" + base)
    put(t, "trailing-comma.json", base[:-1] + ",}")
    put(t, "trailing-data.json", base + "{}")
    put(t, "single-quote.json", base.replace('"schemaVersion"', "'schemaVersion'"))
    put(t, "bom.json", b"\xef\xbb\xbf" + base.encode())
    put(t, "invalid-utf8.json", base.encode().replace(b"w.bin", b"w\xc3\x28.bin"))
    put(t, "raw-control.json", base.replace("w.bin", "w\tbin"))
    put(t, "nul-byte.json", base.encode().replace(b"w.bin", b"w\x00bin"))
    put(t, "deep-33.json", '{"a":' + "[" * 32 + "]" * 32 + "}")
    put(t, "deep-10000.json", "[" * 10000)
    put(t, "too-many-layers.json", base.replace(
        '"layers":[', '"layers":[' + "{}," * 4096, 1))
    put(t, "empty.json", "")
    put(t, "not-object.json", "[1,2,3]")
    put(t, "truncated.json", base[: len(base) // 2])
    put(t, "literals.json", '{"a":[true,false,null,-0,0.5e-3,1E+2,"\\"\\\\\\/\\b\\f\\n\\r\\t"]}')


# --------------------------------------------------------------------------- configs

def configs():
    t = "config"
    with open(os.path.join(SPEC, "examples", "config-example.json"), "rb") as f:
        put(t, "spec-example.json", f.read())
    with open(os.path.join(SPEC, "test-vectors", "config-vectors.json")) as f:
        vectors = json.load(f)["vectors"]
    assert len(vectors) == 27, len(vectors)
    for i, v in enumerate(vectors):
        put(t, f"vector-{i + 1:02d}-{'fail' if v['expect_fail'] else 'pass'}.json", v["config_json"])
    good = {"descriptor": {"name": "m", "createdAt": "2023-11-14T22:13:20Z"},
            "config": {"paramSize": "8b", "capabilities": {"languages": ["en"],
                                                           "inputTypes": ["text"],
                                                           "knowledgeCutoff": "2016-12-31T23:59:60Z"}},
            "modelfs": {"type": "layers", "diffIds": [D256]}}
    put(t, "leap-second.json", js(good))
    for name, value in [("date-offset", "2023-11-14T23:59:60+00:00"),
                        ("date-leap-day", "2024-02-29t00:00:00.123456789z"),
                        ("date-bad-day", "2023-02-29T00:00:00Z"),
                        ("date-bad-leap", "2023-11-14T12:00:60Z"),
                        ("date-short", "2023-11-14T22:13"),
                        ("date-offset-only", "2023-11-14T22:13:20+"),
                        ("date-nul", "2023-11-14T22:13:20Z\u0000")]:
        c = json.loads(json.dumps(good))
        c["descriptor"]["createdAt"] = value
        put(t, name + ".json", js(c))
    c = json.loads(json.dumps(good))
    c["descriptor"].update({f"unknown{i}": i for i in range(150)})
    put(t, "many-findings.json", js(c))
    c = json.loads(json.dumps(good))
    c["config"]["capabilities"]["languages"] = ["en\n", "EN", "e", "\u202eab"]
    c["descriptor"]["name"] = ""
    c["modelfs"]["diffIds"] = []
    put(t, "pattern-minlength.json", js(c))
    put(t, "wrong-types.json", js({"descriptor": [], "config": "x", "modelfs": {"type": 1,
                                                                               "diffIds": [1]}}))
    put(t, "empty-object.json", "{}")
    put(t, "empty.json", "")
    put(t, "deep.json", '{"descriptor":' + "[" * 31 + "]" * 31 + "}")
    put(t, "too-deep.json", '{"descriptor":' + "[" * 32 + "]" * 32 + "}")
    put(t, "escaped-keys.json", '{"descriptor":{"na\\u006de":"x","\\u001b[31m":1}}')


# --------------------------------------------------------------------------- references

def references():
    t = "reference"
    refs = [
        "busybox", "busybox:1.36", "library/busybox", "docker.io/busybox",
        "index.docker.io/org/model:v1", "localhost/model", "localhost:5000/org/model:v1",
        "127.0.0.1:5000/org/model", "[::1]:5000/model:v1", "[2001:db8::1]/org/model",
        "Registry.Example.com/org/model", "Registry/org/model", "my-registry.local:443/a/b/c/d:tag",
        "ghcr.io/modelpack/model_a-b.c__d---e:v1.0-rc_1", "quay.io/org/model:_Tag.With-All_1",
        "quay.io/org/model@" + D256, "quay.io/org/model:v1@" + D256, "busybox@" + D512,
        "localhost:5000", "0/1",
        # invalid
        "", "Busybox", "org/Model", "busybox:", "busybox:-tag", "busybox:ta+g", "busybox@",
        "busybox@sha256:abc", "busybox@sha256:../../x", "busybox@md5:" + HEX[:32], HEX,
        "a" * 256, "example.com/" + "a" * 244, "busybox:" + "t" * 129, "[::1", "[::1]x/a",
        "[fe80::1%eth0]/a", "host:/x", "host:65536/x", "host:99999999999999999999/x",
        "-host/x", "host-/x", "ho..st/x", "a//b", "a/b/", "a__b", "a___b", "a-.b", "a:b:c",
        "a@b@c", "docker.io/library/x:latest@" + D256 + "@" + D256, "x\x1b[31m", "x\u202ey",
        "x y", "x\ty", "/abs", "../up", "x" * 1025,
    ]
    for i, r in enumerate(refs):
        put(t, f"ref-{i:03d}", r)


# --------------------------------------------------------------------------- WWW-Authenticate

def challenges():
    t = "www-authenticate"
    cs = [
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
        'scope="repository:library/busybox:pull"',
        'Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:org/m:pull"',
        'Bearer realm="http://registry.example.com/token",service="registry.example.com"',
        'Bearer realm="http://[::1]:5000/token?x=1",service="s p&a=c"',
        'Bearer realm="https://auth.example.com/token?account=a",scope="repository:a:pull,push"',
        'Basic realm="Registry Realm"', 'basic realm=x', 'BEARER REALM="https://x/"',
        'Bearer', 'Bearer realm="https://x/', 'Bearer realm=https://x/', 'Bearer xrealm="https://x/"',
        'Bearer realm="http://evil.example.com/token"', 'Bearer realm="ftp://x/token"',
        'Bearer realm="https://x/token\r\nX-Injected: 1"', 'Bearer realm="https://x/ t"',
        'Bearer realm="https://x/\x7f",scope="\x01"', 'Bearer realm="https://x\u00e9/"',
        'Bearer realm="https://user:pass@x/token"', 'Bearer realm="https://x:99999/"',
        'Bearer realm="", service=""', 'Bearer ,realm="https://a/",realm="https://b/"',
        'Bearer scope="s",service="v",realm="https://x/t"', 'Negotiate abc', '',
        'Bearer realm="' + "https://x/" + "a" * 3000 + '"',
        # Found by fuzz-www-authenticate: GLib reads these as host-less paths, libcurl as hosts.
        'Bearer scope=",service="v",realm="https:httpt"', 'Bearer realm="https:/evil.example/t"',
        'Bearer realm="http:registry.example.com/token"',
    ]
    for i, c in enumerate(cs):
        put(t, f"challenge-{i:03d}", c)


# --------------------------------------------------------------------------- registries.conf

def regconfs():
    t = "regconf"
    put(t, "mirrors.conf", '''unqualified-search-registries = ["docker.io", "quay.io"]
short-name-mode = "enforcing"

[[registry]]
prefix = "docker.io"
location = "registry-1.docker.io"

[[registry.mirror]]
location = "mirror.example.com:5000/docker"
insecure = true

[[registry.mirror]]
location = "mirror2.example.com"

[[registry]]
prefix = "registry.example.com/org"
location = "localhost:5000/org"
insecure = true

[[registry]]
location = "blocked.example.com"
blocked = true

[[registry]]
prefix = "*.example.org"
location = "[::1]:5000"
''')
    put(t, "v1-style.conf", '''[registries.search]
registries = ['docker.io']
[registries.insecure]
registries = ['localhost:5000']
''')
    put(t, "inline-tables.conf", 'registry = [{prefix = "a", location = "b", mirror = '
                                  '[{location = "c"}, {location = "d", insecure = false}]}]\n')
    put(t, "same-prefix-twice.conf", '[[registry]]\nprefix = "a/b"\n[[registry]]\nprefix = "a/b"\n'
                                     'location = "c"\n')
    put(t, "prefix-slash.conf", '[[registry]]\nprefix = "a/"\nlocation = "b"\n')
    put(t, "empty.conf", "")
    put(t, "registry-not-table.conf", "registry = [1, 2]\n")
    put(t, "registry-not-array.conf", '[registry]\nprefix = "a"\n')
    put(t, "no-prefix-no-location.conf", "[[registry]]\ninsecure = true\n")
    put(t, "mirror-no-location.conf", '[[registry]]\nprefix = "a"\n[[registry.mirror]]\n'
                                      'insecure = true\n')
    put(t, "mirror-not-table.conf", '[[registry]]\nprefix = "a"\nmirror = ["x"]\n')
    put(t, "wrong-types.conf", '[[registry]]\nprefix = 1\nlocation = ["x"]\ninsecure = "yes"\n'
                               'blocked = 1\n')
    put(t, "nul-prefix.conf", '[[registry]]\nprefix = "\\u0000"\nlocation = "x"\n')
    put(t, "nul-mirror.conf", '[[registry]]\nprefix = "a"\n[[registry.mirror]]\n'
                              'location = "m\\u0000n"\n')
    put(t, "nul-inside.conf", '[[registry]]\nprefix = "a\\u0000b"\nlocation = "c\\u0000d"\n')
    put(t, "unicode.conf", '[[registry]]\nprefix = "r\u00e9gistry.example/\u202e"\n')
    put(t, "syntax-error.conf", '[[registry]\nprefix = "a"\n')
    put(t, "deep-array.conf", "x = " + "[" * 300 + "]" * 300 + "\n")
    put(t, "deep-tables.conf", "x = " + "{a = " * 300 + "1" + "}" * 300 + "\n")
    put(t, "raw-nul.conf", b'[[registry]]\nprefix = "a\x00b"\n')
    put(t, "invalid-utf8.conf", b'[[registry]]\nprefix = "a\xff"\n')


# --------------------------------------------------------------------------- hook

SEP = "\n----\n"
ART = "@ARTIFACTS@"
MANIFEST_HEX = "0123456789abcdef" * 4


def hook_manifest(names, sub=""):
    layers = []
    for i, n in enumerate(names):
        layers.append(descriptor("application/vnd.cncf.model.weight.v1.raw",
                                 digest=f"sha256:{i:064x}",
                                 annotations={"org.cncf.model.filepath": sub + n}))
    return {"schemaVersion": 2, "mediaType": mkmodel.OCI_MANIFEST,
            "artifactType": "application/vnd.cncf.model.manifest.v1+json",
            "config": descriptor("application/vnd.cncf.model.config.v1+json"), "layers": layers}


def crio_config(volume, names, sub="", image=MANIFEST_HEX, extra_ann=None):
    """config.json as CRI-O writes it for an image volume (tests/lib/container.sh)."""
    mounts, vols = [], []
    for i, n in enumerate(names):
        src = f"{ART}/blobs/sha256/{i:064x}"
        mounts.append({"destination": f"{volume}/{n}", "type": "bind", "source": src,
                       "options": ["bind", "ro"]})
        vols.append({"container_path": volume, "host_path": src, "readonly": True,
                     "propagation": 0, "selinux_relabel": False, "image": {"image": image}})
    ann = {"io.kubernetes.cri-o.Volumes": json.dumps(vols)}
    ann.update(extra_ann or {})
    return {"ociVersion": "1.0.2", "root": {"path": "rootfs", "readonly": False},
            "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}] + mounts,
            "annotations": ann}


def state(ann=None, pid=4242, cid="c0ffee", bundle="/run/bundle"):
    s = {"ociVersion": "1.0.2", "id": cid, "status": "creating", "pid": pid, "bundle": bundle}
    if ann is not None:
        s["annotations"] = ann
    return s


def hooks():
    t = "hook"
    names = ["model.safetensors", "config.json", "docs/README.md"]

    def put3(name, st, cfg, manifest):
        parts = [x if isinstance(x, str) else json.dumps(x, indent=1) for x in (st, cfg, manifest)]
        put(t, name, SEP.join(parts) + "\n")

    cfg = crio_config("/model", names)
    put3("crio-image-volume", state(cfg["annotations"]), cfg, hook_manifest(names))
    cfg = crio_config("/model", ["a.bin", "b/c.bin"], sub="")
    put3("crio-subpath", state(cfg["annotations"]), cfg,
         hook_manifest(["a.bin", "b/c.bin"], sub="weights/"))
    put3("crio-subpath-disagree", state(cfg["annotations"]), cfg,
         {"layers": [{"digest": f"sha256:{0:064x}", "annotations":
                      {"org.cncf.model.filepath": "x/a.bin"}},
                     {"digest": f"sha256:{1:064x}", "annotations":
                      {"org.cnai.model.filepath": "./y/b/c.bin"}}]})
    put3("crio-unnamed-blob", state(cfg["annotations"]), cfg, hook_manifest(["other"]))
    put3("crio-manifest-not-json", state(cfg["annotations"]), cfg, "not json")
    put3("crio-manifest-layers-odd", state(cfg["annotations"]), cfg,
         {"layers": ["x", 1, None, {"digest": 5, "annotations": []}]})
    cfg2 = crio_config("/model", names, image="sha256:" + MANIFEST_HEX)
    put3("crio-image-with-prefix", state(cfg2["annotations"]), cfg2, hook_manifest(names))
    cfg3 = crio_config("/model", names, image="../../etc")
    put3("crio-bad-image-digest", state(cfg3["annotations"]), cfg3, hook_manifest(names))
    cfg4 = crio_config("/proc/model", names)
    put3("crio-volume-under-proc", state(cfg4["annotations"]), cfg4, hook_manifest(names))
    cfg5 = crio_config("/model", names)
    cfg5["mounts"].append("not an object")
    cfg5["mounts"].append({"destination": 7, "source": None})
    put3("crio-mounts-odd", state(cfg5["annotations"]), cfg5, hook_manifest(names))
    cfg6 = crio_config("/model", names)
    cfg6["annotations"]["io.kubernetes.cri-o.Volumes"] = '[{"container_path": "/m", ' \
        '"host_path": "' + ART + '/blobs/sha256/' + "0" * 64 + '", "image": {"image": 1}}, 2, []]'
    put3("crio-volumes-odd", state(cfg6["annotations"]), cfg6, hook_manifest(names))
    cfg7 = crio_config("/model", names)
    cfg7["annotations"]["io.kubernetes.cri-o.Volumes"] = "{not json"
    put3("crio-volumes-not-json", state(cfg7["annotations"]), cfg7, "")

    def annotated(name, value, st_ann=True, extra=None):
        ann = {"modelvol.io/mounts": value if isinstance(value, str) else json.dumps(value)}
        cfg = {"ociVersion": "1.0.2", "root": {"path": "/abs/rootfs"}, "annotations": ann}
        cfg.update(extra or {})
        put3(name, state(ann if st_ann else None), cfg, "")

    annotated("mounts-one", [{"ref": "registry.example.com/org/llama:v1", "path": "/models"}])
    annotated("mounts-subpath", [{"ref": "localhost:5000/org/m@" + D256, "path": "/m",
                                  "subPath": "weights/q4"}, {"ref": "x", "path": "/n",
                                                             "subPath": ""}])
    annotated("mounts-many", [{"ref": f"r/m{i}", "path": f"/m{i}"} for i in range(65)])
    annotated("mounts-dotdot", [{"ref": "r/m", "path": "/models/../etc"}])
    annotated("mounts-relative", [{"ref": "r/m", "path": "models"}])
    annotated("mounts-root", [{"ref": "r/m", "path": "/"}])
    annotated("mounts-sys", [{"ref": "r/m", "path": "/sys/fs"}, {"ref": "r/m", "path": "/dev"}])
    annotated("mounts-long", [{"ref": "r/m", "path": "/" + "a" * 5000}])
    annotated("mounts-escaped-nul", '[{"ref": "r/m", "path": "/a\\u0000/../x"}]')
    annotated("mounts-unknown-key", [{"ref": "r/m", "path": "/m", "readOnly": False}])
    annotated("mounts-subpath-escape", [{"ref": "r/m", "path": "/m", "subPath": "../../x"}])
    annotated("mounts-subpath-null", [{"ref": "r/m", "path": "/m", "subPath": None}])
    annotated("mounts-types", [1, "x", None, {"ref": 1, "path": "/m"}])
    annotated("mounts-not-array", '{"ref": "r/m"}')
    annotated("mounts-not-json", "[{")
    annotated("mounts-deep", "[" * 200 + "]" * 200)
    annotated("mounts-newline-ref", [{"ref": "r/m\nx=1", "path": "/m"}])
    annotated("mounts-state-only", [{"ref": "r/m", "path": "/m"}], extra={"annotations": {}})
    annotated("mounts-no-root", [{"ref": "r/m", "path": "/m"}], extra={"root": {"path": 3}})
    put3("state-odd", state({"modelvol.io/mounts": 1}, pid="x", cid="../..", bundle="rel"),
         {"annotations": []}, "")
    put3("state-huge-pid", state({}, pid=2 ** 63 - 1, cid="a" * 300), "{}", "")
    put3("state-not-object", "[]", "[]", "")
    # Found by fuzz-hook: json-glib 1.6 takes several top-level values for one, and leaks.
    put3("state-two-values", "[]\n\n[]", "{} {}", "")
    put3("state-scalar-then-array", "6[]", '{"root": {"path": "/r"}}\n{}', "")
    annotated("mounts-two-values", '[] [{"ref": "r/m", "path": "/m"}]')
    deep = '{"a":' + "[" * 20000 + "]" * 20000 + "}"
    put3("state-deep", deep, "{}", "")
    put3("config-deep", state({"modelvol.io/mounts": "[]"}), deep, "")
    cfg8 = crio_config("/model", names)
    cfg8["annotations"]["io.kubernetes.cri-o.Volumes"] = "[" * 100 + "]" * 100
    put3("crio-volumes-deep", state(cfg8["annotations"]), cfg8, "")
    put3("state-empty", "", "", "")
    put(t, "state-only", json.dumps(state({"modelvol.io/mounts": "[]"})))
    put(t, "empty", "")


# --------------------------------------------------------------------------- tar layers

def tar_bytes(entries, fmt=tarfile.PAX_FORMAT):
    out = io.BytesIO()
    if fmt == tarfile.PAX_FORMAT:
        mkmodel.write_tar(entries, out)
    else:
        with tarfile.open(fileobj=out, mode="w|", format=fmt) as tf:
            for e in entries:
                ti = mkmodel.make_tarinfo(e)
                tf.addfile(ti, io.BytesIO(e.get("content", "").encode()) if ti.isfile() else None)
    return out.getvalue()


def gz(data):
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, compresslevel=6, mtime=0) as g:
        g.write(data)
    return out.getvalue()


def zst(data):
    return subprocess.run(["zstd", "-q", "-c", "-3", "-T1", "--no-progress"], input=data,
                          stdout=subprocess.PIPE, check=True).stdout


def header(name, size=0, typeflag=b"0", size_field=None, linkname=b"", prefix=b""):
    """One raw ustar header with a correct checksum, for what tarfile will not write."""
    h = bytearray(512)
    h[0:len(name)] = name
    h[100:108] = b"0000644\0"
    h[108:116] = b"0000000\0"
    h[116:124] = b"0000000\0"
    h[124:136] = size_field if size_field is not None else b"%011o\0" % size
    h[136:148] = b"%011o\0" % 1700000000
    h[156:157] = typeflag
    h[157:157 + len(linkname)] = linkname
    h[257:265] = b"ustar\x0000"
    h[345:345 + len(prefix)] = prefix
    h[148:156] = b"        "
    h[148:156] = b"%06o\0 " % sum(h)
    return bytes(h)


def pad(data):
    return data + b"\0" * (-len(data) % 512)


END = b"\0" * 1024


def tars():
    t = "tar"
    good = [{"name": "weights", "type": "dir"},
            {"name": "weights/model.safetensors", "content": "tensor bytes\n" * 20},
            {"name": "weights/run.sh", "content": "#!/bin/sh\n", "mode": "0755"},
            {"name": "weights/empty", "content": ""},
            {"name": "weights/latest", "type": "symlink", "target": "model.safetensors"},
            {"name": "docs/deep/er/README.md", "content": "# model\n"},
            {"name": "up", "type": "symlink", "target": "weights/../docs"}]
    plain = tar_bytes(good)
    put(t, "good.tar", plain)
    put(t, "good.tar.gz", gz(plain))
    put(t, "good.tar.zst", zst(plain))
    put(t, "good-gnu.tar", tar_bytes(good, tarfile.GNU_FORMAT))
    put(t, "good-ustar.tar", tar_bytes(good[:4], tarfile.USTAR_FORMAT))
    put(t, "dot-root.tar", tar_bytes([{"name": ".", "type": "dir"}, {"name": "./a", "content": "a"}]))
    put(t, "gzip-multi-member.tar.gz", gz(plain[:512 * 3]) + gz(plain[512 * 3:]))
    put(t, "gzip-trailing-garbage.tar.gz", gz(plain) + b"garbage after the end\n")
    put(t, "gzip-truncated.tar.gz", gz(plain)[:200])
    bad_crc = bytearray(gz(plain))
    bad_crc[-8] ^= 0xff
    put(t, "gzip-bad-crc.tar.gz", bytes(bad_crc))
    put(t, "zstd-truncated.tar.zst", zst(plain)[:100])
    put(t, "tar-truncated.tar", plain[:700])
    put(t, "tar-after-end.tar", plain + b"data after the end blocks\n")
    put(t, "gzip-of-gzip.tar.gz", gz(gz(plain)))
    put(t, "bomb.tar.gz", gz(tar_bytes([{"name": "zeros", "content": {"zero": 40 * 1024 * 1024}}])))
    put(t, "zstd-bomb.tar.zst", zst(tar_bytes([{"name": "z", "content": {"zero": 40 * 1024 * 1024}}])))

    def bad(name, entries, fmt=tarfile.PAX_FORMAT):
        put(t, name, tar_bytes(entries, fmt))

    bad("dotdot.tar", [{"name": "../x", "content": "escaped\n"}])
    bad("dotdot-deep.tar", [{"name": "../" * 20 + "tmp/x", "content": "escaped\n"}])
    bad("abs.tar", [{"name": "/etc/cron.d/x", "content": "escaped\n"}])
    bad("mid-dotdot.tar", [{"name": "a/../../x", "content": "escaped\n"}])
    bad("dotdot-only.tar", [{"name": "..", "type": "dir"}])
    bad("symlink-abs.tar", [{"name": "l", "type": "symlink", "target": "/etc"}])
    bad("symlink-up.tar", [{"name": "l", "type": "symlink", "target": "../../x"}])
    bad("symlink-then-write.tar", [{"name": "sub", "type": "dir"},
                                   {"name": "l", "type": "symlink", "target": "sub"},
                                   {"name": "l/through", "content": "via link\n"}])
    bad("hardlink.tar", [{"name": "t", "content": "t\n"},
                         {"name": "h", "type": "hardlink", "target": "/etc/shadow"}])
    bad("chardev.tar", [{"name": "c", "type": "chardev", "major": 1, "minor": 3}])
    bad("blockdev.tar", [{"name": "b", "type": "blockdev"}])
    bad("fifo.tar", [{"name": "p", "type": "fifo"}])
    bad("setuid.tar", [{"name": "s", "content": "#!/bin/sh\n", "mode": "04755"},
                       {"name": "d", "type": "dir", "mode": "01777"}])
    bad("owners-xattrs.tar", [{"name": "o", "content": "o\n", "uid": 2 ** 21 - 1,
                               "uname": "evil\x1b[31m",
                               "pax": {"SCHILY.xattr.security.capability": "\x01\x02",
                                       "SCHILY.xattr.user.x": "y"}}])
    bad("whiteout.tar", [{"name": "d/.wh.file", "content": ""}])
    bad("opaque-whiteout.tar", [{"name": "d/.wh..wh..opq", "content": ""}])
    bad("pax-nul.tar", [{"name": "harmless", "content": "n\n", "pax": {"path": "a\x00/../../x"}}])
    bad("pax-linkpath-nul.tar", [{"name": "l", "type": "symlink", "target": "t",
                                  "pax": {"linkpath": "t\x00/../../../etc"}}])
    bad("pax-long-path.tar", [{"name": "a" * 300 + "/b", "content": "x"}])
    bad("gnu-longname.tar", [{"name": "d/" * 200 + "f", "content": "x"}], tarfile.GNU_FORMAT)
    bad("gnu-longlink.tar", [{"name": "l", "type": "symlink", "target": "t/" * 100 + "x"}],
        tarfile.GNU_FORMAT)
    bad("component-256.tar", [{"name": "c" * 256, "content": "x"}])
    bad("depth-300.tar", [{"name": "/".join(["d"] * 300), "type": "dir"}])
    bad("duplicate.tar", [{"name": "twice", "content": "one\n"}, {"name": "twice", "content": "two\n"}])
    bad("file-then-dir.tar", [{"name": "fd", "content": "f\n"}, {"name": "fd", "type": "dir"}])
    bad("dir-then-symlink.tar", [{"name": "ds", "type": "dir"}, {"name": "ds/i", "content": "i"},
                                 {"name": "ds", "type": "symlink", "target": "x"}])
    bad("control-chars.tar", [{"name": "a\x1b[2Jb\u202e", "content": "x"}])
    bad("non-utf8.tar", [{"name": "caf\udce9", "content": "x"}])
    bad("many-entries.tar", [{"name": f"f{i}", "content": ""} for i in range(100)],
        tarfile.USTAR_FORMAT)

    # Raw headers tarfile would not write.
    put(t, "base256-size.tar", header(b"big", size_field=b"\x80" + b"\0" * 6 + b"\x01" + b"\0" * 4)
        + END)
    put(t, "base256-negative.tar", header(b"neg", size_field=b"\xff" * 12) + END)
    put(t, "octal-overflow.tar", header(b"o", size_field=b"77777777777\0") + END)
    put(t, "pax-huge.tar", header(b"PaxHeaders/x", size=(1 << 20) + 1, typeflag=b"x") + END)
    rec = b"30 path=" + b"a" * 20 + b"\n"
    put(t, "pax-malformed.tar", header(b"PaxHeaders/x", size=9, typeflag=b"x")
        + pad(b"9 path=a") + header(b"f") + END)
    put(t, "pax-record-long.tar", header(b"PaxHeaders/x", size=len(rec), typeflag=b"x")
        + pad(rec.replace(b"30", b"99")) + header(b"f") + END)
    put(t, "pax-zero-len.tar", header(b"PaxHeaders/x", size=4, typeflag=b"x") + pad(b"0 a\n")
        + header(b"f") + END)
    put(t, "pax-global.tar", header(b"g", size=len(rec), typeflag=b"g") + pad(rec) + header(b"f")
        + END)
    put(t, "gnu-longname-nul.tar", header(b"././@LongLink", size=12, typeflag=b"L")
        + pad(b"name\0../../x") + header(b"short") + END)
    # Found by fuzz-tar: an empty extended header has no data at all (memchr on NULL).
    put(t, "gnu-longname-empty.tar", header(b"././@LongLink", typeflag=b"L") + header(b"f") + END)
    put(t, "pax-empty.tar", header(b"PaxHeaders/x", typeflag=b"x") + header(b"f") + END)
    put(t, "gnu-chain-only.tar", header(b"././@LongLink", size=5, typeflag=b"L") + pad(b"name\0")
        + END)
    put(t, "gnu-sparse.tar", header(b"sparse", size=512, typeflag=b"S") + pad(b"x") + END)
    put(t, "link-with-size.tar", header(b"l", size=1024, typeflag=b"2", linkname=b"t")
        + pad(b"y" * 1024) + header(b"f", size=1) + pad(b"z") + END)
    put(t, "unknown-type.tar", header(b"u", size=3, typeflag=b"Z") + pad(b"abc") + END)
    put(t, "volume-header.tar", header(b"vol", typeflag=b"V") + header(b"f") + END)
    put(t, "bad-checksum.tar", header(b"f")[:148] + b"0000000\0" + header(b"f")[156:] + END)
    put(t, "prefix-field.tar", header(b"name", prefix=b"../../etc") + END)
    put(t, "only-end.tar", END)
    put(t, "empty", b"")

    put(t, "one-byte", b"\0")


# --------------------------------------------------------------------------- framed stream

# storage/mv-sandbox-private.h: frame := u8 kind, u8[3] 0, u32 len (LE), len bytes.
E_FILE, E_DIR, E_SYMLINK, E_HARDLINK, E_OTHER = range(5)
W_FILE, W_DIR, W_SYMLINK, W_HARDLINK, W_CHARDEV, W_BLOCKDEV, W_FIFO, W_SOCKET, W_UNKNOWN = range(9)
FRAME_DATA_MAX = 1024 * 1024


def frame(kind, payload=b"", pad=b"\0\0\0", length=None):
    n = len(payload) if length is None else length
    return kind + pad + n.to_bytes(4, "little") + payload


def entry(path, etype=E_FILE, what=None, size=0, mode=0o644, link=b"", sparse=0, zero=0,
          path_len=None, link_len=None):
    path = path.encode("utf-8", "surrogateescape") if isinstance(path, str) else path
    link = link.encode() if isinstance(link, str) else link
    what = {E_FILE: W_FILE, E_DIR: W_DIR, E_SYMLINK: W_SYMLINK,
            E_HARDLINK: W_HARDLINK}.get(etype, W_CHARDEV) if what is None else what
    fixed = (bytes([etype, what, sparse, zero]) + mode.to_bytes(4, "little")
             + (size & (2 ** 64 - 1)).to_bytes(8, "little")
             + (len(path) if path_len is None else path_len).to_bytes(4, "little")
             + (len(link) if link_len is None else link_len).to_bytes(4, "little"))
    return frame(b"E", fixed + path + link)


def file_frames(path, content, mode=0o644, chunk=None):
    out = entry(path, size=len(content), mode=mode)
    chunk = chunk or FRAME_DATA_MAX
    for off in range(0, len(content), chunk):
        out += frame(b"D", content[off:off + chunk])
    return out


END_FRAME = frame(b"Z")


def frames():
    t = "frames"
    # What the child sends for tar/good.tar (the same entries; checked against a real child).
    good = (entry("weights/", E_DIR, mode=0o755)
            + file_frames("weights/model.safetensors", b"tensor bytes\n" * 20)
            + file_frames("weights/run.sh", b"#!/bin/sh\n", mode=0o755)
            + entry("weights/empty")
            + entry("weights/latest", E_SYMLINK, mode=0o777, link="model.safetensors")
            + file_frames("docs/deep/er/README.md", b"# model\n")
            + entry("up", E_SYMLINK, mode=0o777, link="weights/../docs"))
    put(t, "good", good + END_FRAME)
    put(t, "empty-archive", END_FRAME)
    put(t, "chunked-data", file_frames("f", b"x" * 3000, chunk=1000) + END_FRAME)
    put(t, "sparse", entry("s", size=4096, sparse=1) + END_FRAME)
    put(t, "devices", entry("c", E_OTHER, W_CHARDEV) + entry("p", E_OTHER, W_FIFO) + END_FRAME)
    put(t, "hardlink", entry("h", E_HARDLINK, link="/etc/shadow") + END_FRAME)
    put(t, "dot-root", entry(".", E_DIR) + entry("./a", E_DIR) + END_FRAME)
    # Hostile: the child is compromised, or confused.
    put(t, "dotdot", file_frames("../../etc/cron.d/x", b"* * * * * root id\n") + END_FRAME)
    put(t, "abs-symlink", entry("l", E_SYMLINK, link="/etc") + END_FRAME)
    put(t, "nul-in-path", entry(b"a\0/../../x") + END_FRAME)
    put(t, "nul-in-link", entry("l", E_SYMLINK, link=b"t\0/../../x") + END_FRAME)
    put(t, "empty-path", entry(b"") + END_FRAME)
    put(t, "long-path", entry("p" * 4097) + END_FRAME)
    put(t, "path-len-lie", entry("abc", path_len=2) + END_FRAME)
    put(t, "link-len-lie", entry("l", E_SYMLINK, link="t", link_len=4000) + END_FRAME)
    put(t, "len-overflow", frame(b"E", b"\0" * 24, length=0xffffffff) + END_FRAME)
    put(t, "len-short", frame(b"E", b"\0" * 10) + END_FRAME)
    put(t, "bad-kind", frame(b"Q", b"x") + END_FRAME)
    put(t, "bad-pad", frame(b"Z", pad=b"\0\1\0"))
    put(t, "z-with-length", frame(b"Z", b"x"))
    put(t, "bad-type", entry("x", etype=9) + END_FRAME)
    put(t, "bad-what", entry("x", what=200) + END_FRAME)
    put(t, "bad-sparse-flag", entry("x", sparse=2) + END_FRAME)
    put(t, "bad-zero-byte", entry("x", zero=1) + END_FRAME)
    put(t, "bad-mode", entry("x", mode=0o170000) + END_FRAME)
    put(t, "negative-size", entry("x", size=-1) + END_FRAME)
    put(t, "huge-size", entry("x", size=2 ** 62) + frame(b"D", b"abc") + END_FRAME)
    put(t, "data-beyond-size", entry("x", size=2) + frame(b"D", b"abcd") + END_FRAME)
    put(t, "data-short", entry("x", size=10) + frame(b"D", b"abc") + END_FRAME)
    put(t, "data-empty-frame", entry("x", size=1) + frame(b"D") + END_FRAME)
    put(t, "data-len-overflow", entry("x", size=2 ** 31) + frame(b"D", b"ab", length=FRAME_DATA_MAX + 1))
    put(t, "data-without-entry", frame(b"D", b"abc") + END_FRAME)
    put(t, "data-for-directory", entry("d", E_DIR) + frame(b"D", b"abc") + END_FRAME)
    put(t, "entry-mid-file", entry("x", size=5) + entry("y") + END_FRAME)
    put(t, "no-end", good)
    put(t, "after-end", good + END_FRAME + b"more")
    put(t, "two-ends", END_FRAME + END_FRAME)
    put(t, "truncated-header", good[:3])
    put(t, "truncated-entry", good[:20])
    put(t, "truncated-data", good[:90])
    put(t, "too-many-entries", b"".join(entry(f"f{i}") for i in range(70)) + END_FRAME)
    put(t, "duplicate", file_frames("twice", b"1") + file_frames("twice", b"2") + END_FRAME)
    put(t, "escapes", entry("a\x1b[2J\u202eb") + END_FRAME)
    put(t, "whiteout", entry("d/.wh..wh..opq") + END_FRAME)
    put(t, "empty", b"")
    frames_by_offset(t)
    frames_diff_id(t)



# A plain tar from a local file (mv-sandbox-private.h): "BLOB", u32 len, the layer's bytes,
# then frames; 'F' := u64 offset, u64 length into it; 'Z' := u64 end, 64 hex digits of the
# SHA-256 of the layer's bytes before end except the 'F' ranges.
BLOB = bytes((i * 7 + 3) % 251 for i in range(4096))


def blob_prefix(blob=BLOB):
    return b"BLOB" + len(blob).to_bytes(4, "little") + blob


def range_frame(off, length):
    return frame(b"F", (off % 2 ** 64).to_bytes(8, "little") + length.to_bytes(8, "little"))


def end_by_offset(end, ranges, digest=None, blob=BLOB):
    if digest is None:
        h = hashlib.sha256()
        pos = 0
        for off, length in ranges:
            h.update(blob[pos:off])
            pos = off + length
        h.update(blob[pos:end])
        digest = h.hexdigest().encode()
    return frame(b"Z", end.to_bytes(8, "little") + digest)


# A compressed layer's stream ("DIFF" first): 'Z' := 64 lowercase hex digits, its diffID.
def frames_diff_id(t):
    hexd = hashlib.sha256(b"decompressed").hexdigest().encode()
    body = entry("a", size=4) + frame(b"D", b"abcd") + entry("d", E_DIR, mode=0o755)
    put(t, "diff-id-good", b"DIFF" + body + frame(b"Z", hexd))
    put(t, "diff-id-missing", b"DIFF" + body + END_FRAME)
    put(t, "diff-id-upper", b"DIFF" + body + frame(b"Z", hexd.upper()))
    put(t, "diff-id-not-hex", b"DIFF" + body + frame(b"Z", b"g" * 64))
    put(t, "diff-id-short", b"DIFF" + body + frame(b"Z", hexd[:63]))
    put(t, "diff-id-nul", b"DIFF" + body + frame(b"Z", hexd[:10] + b"\0" + hexd[11:]))
    # A plain tar's stream carries none.
    put(t, "diff-id-in-plain", body + frame(b"Z", hexd))


def frames_by_offset(t):
    two = [(512, 100), (1024, 1536)]
    put(t, "by-offset-good", blob_prefix() + entry("a", size=100) + range_frame(512, 100)
        + entry("d", E_DIR, mode=0o755) + entry("d/b", size=1536) + range_frame(1024, 1536)
        + end_by_offset(3072, two))
    put(t, "by-offset-empty-file", blob_prefix() + entry("e") + range_frame(512, 0)
        + end_by_offset(1024, [(512, 0)]))
    # A lying child: outside the layer, wrapping around, backwards, not the entry's size.
    put(t, "by-offset-outside", blob_prefix() + entry("a", size=100) + range_frame(1 << 40, 100)
        + end_by_offset(4096, []))
    put(t, "by-offset-wraps", blob_prefix() + entry("a", size=100) + range_frame(-50, 100)
        + end_by_offset(4096, []))
    put(t, "by-offset-back", blob_prefix() + entry("a", size=100) + range_frame(512, 100)
        + entry("b", size=1536) + range_frame(600, 1536) + end_by_offset(3072, two))
    put(t, "by-offset-length", blob_prefix() + entry("a", size=100) + range_frame(512, 101)
        + end_by_offset(1024, [(512, 101)]))
    put(t, "by-offset-no-range", blob_prefix() + entry("a", size=100) + entry("b", size=100)
        + range_frame(512, 100) + end_by_offset(1024, []))
    put(t, "by-offset-data-frame", blob_prefix() + entry("a", size=4) + frame(b"D", b"abcd")
        + end_by_offset(1024, []))
    # The headers' digest: wrong (the blob changed under the child), end outside the layer.
    put(t, "by-offset-digest", blob_prefix() + entry("a", size=100) + range_frame(512, 100)
        + end_by_offset(1024, [], b"0" * 64))
    put(t, "by-offset-end-beyond", blob_prefix() + entry("a", size=100) + range_frame(512, 100)
        + end_by_offset(5000, [(512, 100)]))
    put(t, "by-offset-end-behind", blob_prefix() + entry("a", size=100) + range_frame(512, 100)
        + end_by_offset(600, [(512, 100)]))
    put(t, "by-offset-plain-end", blob_prefix() + entry("a", size=100) + range_frame(512, 100)
        + END_FRAME)
    short = BLOB[:100]
    put(t, "by-offset-short-blob", blob_prefix(short) + entry("a", size=100) + range_frame(0, 100)
        + end_by_offset(100, [(0, 100)], blob=short))
    # No layer to point into: a range is malformed.
    put(t, "range-in-stream", entry("a", size=100) + range_frame(512, 100) + END_FRAME)


def main():
    check = "--check" in sys.argv[1:]
    manifests()
    configs()
    references()
    challenges()
    regconfs()
    hooks()
    tars()
    frames()
    changed = []
    for rel, data in sorted(written.items()):
        path = os.path.join(HERE, "corpus", rel)
        old = open(path, "rb").read() if os.path.exists(path) else None
        if old == data:
            continue
        changed.append(rel)
        if not check:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)
    for rel in changed:
        print(("would change: " if check else "wrote: ") + rel)
    big = [rel for rel, data in written.items() if len(data) > 64 * 1024]
    if big:
        sys.exit("seeds above 64 KiB: " + ", ".join(big))
    sys.exit(1 if check and changed else 0)


if __name__ == "__main__":
    main()
