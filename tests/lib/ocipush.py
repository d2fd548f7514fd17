#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""ocipush: push one entry of an OCI image layout to a registry (distribution API, plain HTTP).

Usage:
  ocipush.py [--user USER:PASS] oci:DIR[:NAME|@sha256:HEX] HOST:PORT/REPO[:TAG|@DIGEST]

NAME matches org.opencontainers.image.ref.name in DIR/index.json; without it, the layout must
hold exactly one entry. Blobs go up with POST /v2/<repo>/blobs/uploads/ then a monolithic
PUT <location>?digest=; blobs the registry already has (HEAD 200) are skipped. An index is
pushed after its child manifests (by digest). The manifest goes up with PUT
/v2/<repo>/manifests/<tag> and its own mediaType as Content-Type. The registry's
Docker-Content-Digest must equal the layout's digest. Prints the pushed digest.
Standard library only (http.client); plain HTTP, or unverified HTTPS with OCIPUSH_TLS=1; meant
for 127.0.0.1 test registries.
"""

import argparse
import base64
import hashlib
import http.client
import ssl
import json
import os
import sys
import urllib.parse

REF_NAME = "org.opencontainers.image.ref.name"
INDEX_TYPES = ("application/vnd.oci.image.index.v1+json",
               "application/vnd.docker.distribution.manifest.list.v2+json")


class PushError(Exception):
    pass


class Registry:
    def __init__(self, hostport, repo, auth=None, verbose=False):
        self.hostport = hostport
        self.repo = repo
        self.verbose = verbose
        self.headers = {}
        if auth:
            self.headers["Authorization"] = "Basic " + base64.b64encode(auth.encode()).decode()
        self.conn = None

    def _conn(self):
        if self.conn is None:
            host, _, port = self.hostport.rpartition(":")
            if os.environ.get("OCIPUSH_TLS") == "1":
                # A test registry with a throwaway CA: TLS without verification.
                self.conn = http.client.HTTPSConnection(
                    host, int(port), timeout=120, context=ssl._create_unverified_context())
            else:
                self.conn = http.client.HTTPConnection(host, int(port), timeout=120)
        return self.conn

    def request(self, method, path, body=None, headers=None, expect=(200,)):
        h = dict(self.headers)
        h.update(headers or {})
        for attempt in range(2):
            c = self._conn()
            try:
                if hasattr(body, "seek"):
                    body.seek(0)
                c.request(method, path, body=body, headers=h)
                r = c.getresponse()
                data = r.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        if self.verbose:
            print(f"ocipush: {method} {path} -> {r.status}", file=sys.stderr)
        if r.status not in expect:
            raise PushError(f"{method} {path}: HTTP {r.status} {r.reason}: "
                            f"{data[:500].decode(errors='replace').strip()}")
        return r, data

    def has_blob(self, digest):
        r, _ = self.request("HEAD", f"/v2/{self.repo}/blobs/{digest}", expect=(200, 404))
        return r.status == 200

    def push_blob(self, digest, path, size):
        if self.has_blob(digest):
            return False
        r, _ = self.request("POST", f"/v2/{self.repo}/blobs/uploads/", body=b"",
                            headers={"Content-Length": "0"}, expect=(202,))
        loc = r.getheader("Location")
        if not loc:
            raise PushError("upload POST: no Location header")
        u = urllib.parse.urlsplit(loc)
        if u.netloc and u.netloc != self.hostport:
            raise PushError(f"upload Location on another host: {loc}")
        q = urllib.parse.parse_qsl(u.query, keep_blank_values=True)
        q.append(("digest", digest))
        target = (u.path or "/") + "?" + urllib.parse.urlencode(q)
        with open(path, "rb") as f:
            self.request("PUT", target, body=f,
                         headers={"Content-Type": "application/octet-stream",
                                  "Content-Length": str(size)}, expect=(201,))
        return True

    def push_manifest(self, ref, media_type, data):
        r, _ = self.request("PUT", f"/v2/{self.repo}/manifests/{ref}", body=data,
                            headers={"Content-Type": media_type,
                                     "Content-Length": str(len(data))}, expect=(201,))
        return r.getheader("Docker-Content-Digest")


class LayoutSource:
    def __init__(self, root):
        self.root = root
        with open(os.path.join(root, "index.json")) as f:
            self.index = json.load(f)

    def blob_path(self, digest):
        algo, _, hexd = digest.partition(":")
        if algo not in ("sha256", "sha512") or not hexd or "/" in hexd or "." in hexd:
            raise PushError(f"bad digest {digest!r}")
        return os.path.join(self.root, "blobs", algo, hexd)

    def read_blob(self, desc):
        with open(self.blob_path(desc["digest"]), "rb") as f:
            data = f.read()
        algo = desc["digest"].split(":")[0]
        got = algo + ":" + hashlib.new(algo, data).hexdigest()
        if got != desc["digest"]:
            raise PushError(f"layout blob {desc['digest']} hashes to {got}")
        return data

    def resolve(self, entry):
        ms = self.index.get("manifests", [])
        if entry is None:
            if len(ms) != 1:
                raise PushError(f"index.json has {len(ms)} entries; name one")
            return ms[0]
        if entry.startswith("@"):
            for m in ms:
                if m["digest"] == entry[1:]:
                    return m
            raise PushError(f"no entry with digest {entry[1:]}")
        found = [m for m in ms if m.get("annotations", {}).get(REF_NAME) == entry]
        if len(found) != 1:
            raise PushError(f"{len(found)} entries named {entry!r} in index.json")
        return found[0]


def push_desc(reg, src, desc, tag, log):
    """Pushes the manifest or index @desc and everything it references, then names it @tag
    (or its digest when @tag is None). Blob bytes are pushed as stored, unverified: a
    corrupted fixture reaches the registry as is only if the registry accepts it."""
    data = src.read_blob(desc)
    obj = json.loads(data)
    mt = obj.get("mediaType") or desc.get("mediaType")
    if mt in INDEX_TYPES:
        for child in obj.get("manifests", []):
            push_desc(reg, src, child, None, log)
    else:
        blobs = [obj["config"]] + obj.get("layers", [])
        for b in blobs:
            p = src.blob_path(b["digest"])
            size = os.path.getsize(p)
            if reg.push_blob(b["digest"], p, size):
                log(f"pushed blob {b['digest']} ({size} bytes)")
    got = reg.push_manifest(tag or desc["digest"], mt, data)
    if got and got != desc["digest"]:
        raise PushError(f"registry says manifest digest {got}, layout says {desc['digest']}")
    log(f"pushed {mt} {desc['digest']} as {tag or desc['digest']}")
    return desc["digest"]


def parse_src(s):
    if not s.startswith("oci:"):
        raise PushError("source must be oci:DIR[:NAME|@DIGEST]")
    rest = s[4:]
    at = rest.find("@sha")
    colon = rest.find(":")
    if at >= 0 and (colon < 0 or at < colon):
        return rest[:at], rest[at:]
    if colon >= 0:
        return rest[:colon], rest[colon + 1:]
    return rest, None


def parse_dest(s):
    for pre in ("docker://", "http://"):
        if s.startswith(pre):
            s = s[len(pre):]
    hostport, _, rest = s.partition("/")
    if not rest or ":" not in hostport:
        raise PushError("destination must be HOST:PORT/REPO[:TAG]")
    if "@" in rest:
        repo, _, ref = rest.partition("@")
        return hostport, repo, None
    repo, _, tag = rest.rpartition(":") if ":" in rest else (rest, "", "latest")
    return hostport, repo, tag


def main(argv=None):
    ap = argparse.ArgumentParser(prog="ocipush.py", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--user", help="USER:PASS for Basic auth (or $OCIPUSH_USER)")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("source")
    ap.add_argument("dest")
    a = ap.parse_args(argv)
    log = (lambda m: print(f"ocipush: {m}", file=sys.stderr)) if a.verbose else (lambda m: None)
    try:
        d, entry = parse_src(a.source)
        hostport, repo, tag = parse_dest(a.dest)
        src = LayoutSource(d)
        desc = src.resolve(entry)
        reg = Registry(hostport, repo, a.user or os.environ.get("OCIPUSH_USER"), a.verbose)
        reg.request("GET", "/v2/", expect=(200,))
        print(push_desc(reg, src, desc, tag, log))
    except (PushError, OSError, ValueError, KeyError, http.client.HTTPException) as e:
        print(f"ocipush: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
