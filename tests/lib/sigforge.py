#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""sigforge: hand-built cosign signature attachments, good and hostile, pushed to a registry.

Usage:
  sigforge.py KIND [options] HOST:PORT/REPO@sha256:HEX
  sigforge.py move-tag HOST:PORT/REPO:TAG --to sha256:HEX

Builds, signs and pushes a signature for the manifest REPO@sha256:HEX in one of the two forms
cosign v3 writes (tests/data/sigstore/README.md has real ones):
  --form simple  the tag sha256-<hex>.sig: an OCI manifest with one
                 application/vnd.dev.cosign.simplesigning.v1+json layer (the payload)
                 annotated dev.cosignproject.cosign/signature (base64 signature over the
                 payload bytes) and, for rekor-*, dev.sigstore.cosign/bundle; config is the
                 image config cosign writes. --append keeps the layers already there.
  --form bundle  a manifest with artifactType application/vnd.dev.sigstore.bundle.v0.3+json,
                 an empty config, one layer holding a Sigstore bundle v0.3 (a DSSE envelope
                 of payloadType application/vnd.in-toto+json around an in-toto statement
                 whose subject is the digest, predicateType https://sigstore.dev/cosign/sign/v1;
                 verificationMaterial.publicKey.hint = base64 sha256 of the key's DER SPKI)
                 and the subject descriptor; pushed by digest. Unless the registry answers
                 GET /v2/<repo>/referrers/<digest> with an OCI index (or --fallback says so),
                 the descriptor is also added to the index tagged sha256-<hex> (the referrers
                 tag schema), as cosign (go-containerregistry) does.

KIND:
  good                   a valid signature made with --key.
  wrong-key              valid, but made with a fresh key of the same type (not --key).
  tampered-payload       signed, then the payload changed (the signature no longer matches).
  other-digest           valid, but for another manifest digest (--other-digest, default a
                         made-up one): the signature of something else, replayed.
  wrong-identity REF     valid, but the docker-reference is REF (simple form); in the bundle
                         form the in-toto subject gets the name REF (cosign's has none).
  bad-base64             the signature is not base64 (a character outside the alphabet).
  dup-keys               the payload has docker-manifest-digest twice (bundle: the subject's
                         "sha256" twice), validly signed: --dup-order real-last (default:
                         another digest first, the real one last, which parsers that keep the
                         last value, such as Go's, accept) or real-first.
  oversized              --what layer (default): the payload (simple) or bundle layer padded
                         to --size bytes (default 4 MiB + 1), validly signed; --what manifest:
                         the signature manifest itself padded to --size with an annotation.
  unknown-critical-key   simple: an extra key in "critical" (containers/image refuses unknown
                         keys there); bundle: an extra top-level bundle field.
  rekor-set              simple form only: a valid signature plus a dev.sigstore.cosign/bundle
                         annotation: a hashedrekord v0.0.1 entry body and a SignedEntryTimestamp,
                         an ECDSA P-256 signature by --rekor-key over the canonical JSON
                         {body, integratedTime, logID, logIndex} (logID = hex sha256 of the
                         Rekor key's DER SPKI), as cosign's VerifyBundle checks it.
  rekor-bad-set          as rekor-set, but the SET signs another integratedTime.
  rekor-other-body       as rekor-set, but the (validly SET-signed) body is the entry of another
                         payload hash.
  move-tag               PUTs the manifest with digest --to under TAG (after signing, to check
                         that a pull of TAG verifies what the tag names now).

Options: --key PEM (PKCS#8 or traditional PEM private key: ECDSA P-256/P-384/P-521, Ed25519,
RSA), --hash sha256|sha384|sha512 (ECDSA and RSA; default sha384 for P-384, sha512 for
P-521, else sha256: what cosign v3.1.3 signs with), --user USER:PASS, --out DIR (also write
every pushed blob and manifest there, named by role), --no-push (only --out), --fallback
auto|always|never (bundle form). Plain HTTP, or unverified HTTPS with OCIPUSH_TLS=1, as
tests/lib/ocipush.py. Prints the digest of the signature manifest it pushed.
Ed25519 signs pure Ed25519 (what cosign's key verification checks); cosign itself signs
Ed25519ph, which its own verify then refuses.
"""

import argparse
import base64
import hashlib
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ocipush  # noqa: E402

from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa  # noqa: E402

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
SIMPLE_TYPE = "application/vnd.dev.cosign.simplesigning.v1+json"
BUNDLE_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
SIG_ANN = "dev.cosignproject.cosign/signature"
REKOR_ANN = "dev.sigstore.cosign/bundle"
INTOTO_TYPE = "application/vnd.in-toto+json"
PREDICATE = "https://sigstore.dev/cosign/sign/v1"
COSIGN_TYPE = "cosign container image signature"
MANIFEST_ACCEPT = ",".join([OCI_MANIFEST, OCI_INDEX,
                            "application/vnd.docker.distribution.manifest.v2+json",
                            "application/vnd.docker.distribution.manifest.list.v2+json"])
HASHES = {"sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512}


class ForgeError(Exception):
    pass


def compact(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


def sha256_digest(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def b64(data):
    return base64.b64encode(data).decode()


# --- keys -----------------------------------------------------------------------------------

def load_key(path):
    with open(path, "rb") as f:
        return serialization.load_pem_private_key(f.read(), password=None)


def fresh_key_like(key):
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return ec.generate_private_key(key.curve)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return ed25519.Ed25519PrivateKey.generate()
    if isinstance(key, rsa.RSAPrivateKey):
        return rsa.generate_private_key(public_exponent=65537, key_size=key.key_size)
    raise ForgeError(f"unsupported key type {type(key).__name__}")


def default_hash(key):
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return {"secp384r1": "sha384", "secp521r1": "sha512"}.get(key.curve.name, "sha256")
    return "sha256"


def sign(key, data, hash_name):
    h = HASHES[hash_name]()
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(data, ec.ECDSA(h))
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(data)
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), h)
    raise ForgeError(f"unsupported key type {type(key).__name__}")


def pub_der(key):
    return key.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


def pub_pem(key):
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


def pae(payload_type, payload):
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


# --- registry -------------------------------------------------------------------------------

class Target:
    def __init__(self, ref, user):
        hostport, _, rest = ref.partition("/")
        if "@" not in rest or ":" not in hostport:
            raise ForgeError("target must be HOST:PORT/REPO@sha256:HEX")
        self.hostport = hostport
        self.repo, _, self.digest = rest.partition("@")
        if not self.digest.startswith("sha256:") or len(self.digest) != 71:
            raise ForgeError(f"bad digest {self.digest!r}")
        self.identity = f"{hostport}/{self.repo}"
        self.reg = ocipush.Registry(hostport, self.repo, user)

    def get_manifest(self, ref, accept=MANIFEST_ACCEPT):
        r, data = self.reg.request("GET", f"/v2/{self.repo}/manifests/{ref}",
                                   headers={"Accept": accept}, expect=(200, 404))
        if r.status == 404:
            return None, None
        return data, (r.getheader("Content-Type") or "").split(";")[0].strip()

    def push_bytes(self, data):
        digest = sha256_digest(data)
        if self.reg.has_blob(digest):
            return digest
        r, _ = self.reg.request("POST", f"/v2/{self.repo}/blobs/uploads/", body=b"",
                                headers={"Content-Length": "0"}, expect=(202,))
        loc = r.getheader("Location")
        if not loc:
            raise ForgeError("upload POST: no Location header")
        u = ocipush.urllib.parse.urlsplit(loc)
        q = ocipush.urllib.parse.parse_qsl(u.query, keep_blank_values=True)
        q.append(("digest", digest))
        target = (u.path or "/") + "?" + ocipush.urllib.parse.urlencode(q)
        self.reg.request("PUT", target, body=data,
                         headers={"Content-Type": "application/octet-stream",
                                  "Content-Length": str(len(data))}, expect=(201,))
        return digest

    def push_manifest(self, ref, media_type, data):
        self.reg.request("PUT", f"/v2/{self.repo}/manifests/{ref}", body=data,
                         headers={"Content-Type": media_type,
                                  "Content-Length": str(len(data))}, expect=(201,))
        return sha256_digest(data)

    def has_referrers_api(self):
        r, _ = self.reg.request("GET", f"/v2/{self.repo}/referrers/{self.digest}",
                                headers={"Accept": OCI_INDEX}, expect=(200, 400, 404, 405, 406))
        ct = (r.getheader("Content-Type") or "").split(";")[0].strip()
        return r.status == 200 and ct == OCI_INDEX


class Out:
    """Collects what is pushed; writes it to --out and pushes it unless --no-push."""

    def __init__(self, target, out_dir, push):
        self.t = target
        self.dir = out_dir
        self.push = push
        if out_dir:
            os.makedirs(out_dir, exist_ok=True)

    def save(self, role, data):
        if self.dir:
            with open(os.path.join(self.dir, role), "wb") as f:
                f.write(data)

    def blob(self, role, data):
        self.save(role, data)
        if self.push:
            self.t.push_bytes(data)
        return {"digest": sha256_digest(data), "size": len(data)}

    def manifest(self, role, ref, media_type, data):
        self.save(role, data)
        if self.push:
            self.t.push_manifest(ref, media_type, data)
        return sha256_digest(data)


# --- payloads -------------------------------------------------------------------------------

def simple_payload(identity, digest, kind, a):
    if kind == "dup-keys":
        other = a.other_digest or sha256_digest(b"sigforge other manifest")
        first, last = (other, digest) if a.dup_order == "real-last" else (digest, other)
        # Hand-written: json cannot emit a duplicate key.
        return ('{"critical":{"identity":{"docker-reference":%s},"image":'
                '{"docker-manifest-digest":%s,"docker-manifest-digest":%s},"type":%s},'
                '"optional":null}' % (json.dumps(identity), json.dumps(first), json.dumps(last),
                                      json.dumps(COSIGN_TYPE))).encode()
    critical = {"identity": {"docker-reference": identity},
                "image": {"docker-manifest-digest": digest}, "type": COSIGN_TYPE}
    if kind == "unknown-critical-key":
        critical["sigforge-unknown"] = "must be refused"
    optional = None
    if kind == "oversized" and a.what == "layer":
        optional = {"padding": ""}
        base = len(compact({"critical": critical, "optional": optional}))
        optional["padding"] = "x" * max(0, a.size - base)
    return compact({"critical": critical, "optional": optional})


def statement(digest, kind, a):
    hexd = digest.split(":", 1)[1]
    if kind == "dup-keys":
        other = (a.other_digest or sha256_digest(b"sigforge other manifest")).split(":", 1)[1]
        first, last = (other, hexd) if a.dup_order == "real-last" else (hexd, other)
        return ('{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":"%s",'
                '"sha256":"%s"},"annotations":{}}],"predicateType":"%s","predicate":{}}'
                % (first, last, PREDICATE)).encode()
    subject = {"digest": {"sha256": hexd}, "annotations": {}}
    if kind == "wrong-identity":
        subject["name"] = a.ref_arg
    return compact({"_type": "https://in-toto.io/Statement/v1", "subject": [subject],
                    "predicateType": PREDICATE, "predicate": {}})


# --- Rekor ----------------------------------------------------------------------------------

def hashedrekord_body(payload_hash_hex, sig_b64, key):
    entry = {"apiVersion": "0.0.1", "kind": "hashedrekord",
             "spec": {"data": {"hash": {"algorithm": "sha256", "value": payload_hash_hex}},
                      "signature": {"content": sig_b64,
                                    "publicKey": {"content": b64(pub_pem(key))}}}}
    return b64(compact(entry))


def rekor_annotation(kind, payload, sig_b64, key, rekor_key):
    if not isinstance(rekor_key, ec.EllipticCurvePrivateKey):
        raise ForgeError("--rekor-key must be an ECDSA key (cosign's VerifySET takes ECDSA only)")
    phash = hashlib.sha256(payload).hexdigest()
    if kind == "rekor-other-body":
        phash = hashlib.sha256(payload + b" other").hexdigest()
    body = hashedrekord_body(phash, sig_b64, key)
    integrated = int(time.time()) - 60
    payload_obj = {"body": body, "integratedTime": integrated, "logIndex": 4242,
                   "logID": hashlib.sha256(pub_der(rekor_key)).hexdigest()}
    signed = dict(payload_obj)
    if kind == "rekor-bad-set":
        signed["integratedTime"] = integrated + 1
    # RFC 8785 canonical JSON: for these values (ASCII strings, small integers) sorted keys
    # and no whitespace is exactly it.
    canon = json.dumps(signed, sort_keys=True, separators=(",", ":")).encode()
    set_sig = rekor_key.sign(canon, ec.ECDSA(hashes.SHA256()))
    return json.dumps({"SignedEntryTimestamp": b64(set_sig), "Payload": payload_obj},
                      separators=(",", ":"))


# --- the two forms --------------------------------------------------------------------------

def forge_simple(t, out, kind, key, a):
    signer = fresh_key_like(key) if kind == "wrong-key" else key
    digest = t.digest
    if kind == "other-digest":
        digest = a.other_digest or sha256_digest(b"sigforge other manifest")
    identity = a.ref_arg if kind == "wrong-identity" else t.identity
    payload = simple_payload(identity, digest, kind, a)
    sig = sign(signer, payload, a.hash or default_hash(key))
    if kind == "tampered-payload":
        obj = json.loads(payload)
        obj["optional"] = {"sigforge": "changed after signing"}
        payload = compact(obj)
    sig_b64 = b64(sig)
    if kind == "bad-base64":
        sig_b64 = sig_b64[:10] + "!" + sig_b64[11:]
    ann = {SIG_ANN: sig_b64}
    if kind.startswith("rekor-"):
        if not a.rekor_key:
            raise ForgeError(f"{kind} needs --rekor-key")
        ann[REKOR_ANN] = rekor_annotation(kind, payload, sig_b64, signer, load_key(a.rekor_key))
    layer = dict(mediaType=SIMPLE_TYPE, **out.blob("payload.json", payload), annotations=ann)
    layers = []
    tag = digest_tag(t.digest) + ".sig"
    if a.append and out.push:
        old, _ = t.get_manifest(tag, OCI_MANIFEST)
        if old:
            layers = [x for x in json.loads(old).get("layers", [])
                      if x.get("digest") != layer["digest"]]
    layers.append(layer)
    config = compact({"architecture": "", "created": "0001-01-01T00:00:00Z",
                      "history": [{"created": "0001-01-01T00:00:00Z"}], "os": "",
                      "rootfs": {"type": "layers", "diff_ids": [x["digest"] for x in layers]},
                      "config": {}})
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": dict(mediaType=OCI_CONFIG, **out.blob("config.json", config)),
                "layers": layers}
    if kind == "oversized" and a.what == "manifest":
        pad_manifest(manifest, a.size)
    return out.manifest("manifest.json", tag, OCI_MANIFEST, compact(manifest))


def forge_bundle(t, out, kind, key, a):
    if kind.startswith("rekor-"):
        raise ForgeError(f"{kind}: only --form simple (hashedrekord in the legacy annotation)")
    signer = fresh_key_like(key) if kind == "wrong-key" else key
    digest = t.digest
    if kind == "other-digest":
        digest = a.other_digest or sha256_digest(b"sigforge other manifest")
    st = statement(digest, kind, a)
    sig = sign(signer, pae(INTOTO_TYPE, st), a.hash or default_hash(key))
    if kind == "tampered-payload":
        obj = json.loads(st)
        obj["predicate"] = {"sigforge": "changed after signing"}
        st = compact(obj)
    sig_b64 = b64(sig)
    if kind == "bad-base64":
        sig_b64 = sig_b64[:10] + "!" + sig_b64[11:]
    bundle = {"mediaType": BUNDLE_TYPE,
              "verificationMaterial": {"publicKey": {
                  "hint": b64(hashlib.sha256(pub_der(signer)).digest())}},
              "dsseEnvelope": {"payload": b64(st), "payloadType": INTOTO_TYPE,
                               "signatures": [{"sig": sig_b64}]}}
    if kind == "unknown-critical-key":
        bundle["sigforgeUnknown"] = {"critical": True}
    data = compact(bundle)
    if kind == "oversized" and a.what == "layer":
        # Pad with whitespace inside the JSON: still the same bundle for a JSON parser.
        data = data[:-1] + b" " * max(0, a.size - len(data)) + b"}"
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    ann = {"dev.sigstore.bundle.content": "dsse-envelope",
           "dev.sigstore.bundle.predicateType": PREDICATE,
           "org.opencontainers.image.created": created}
    subj_raw, subj_type = t.get_manifest(t.digest) if out.push else (None, None)
    if out.push and subj_raw is None:
        raise ForgeError(f"{t.identity}@{t.digest}: no such manifest")
    subject = {"mediaType": subj_type or OCI_MANIFEST,
               "size": len(subj_raw) if subj_raw else 0, "digest": t.digest}
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": dict(mediaType=OCI_EMPTY, **out.blob("config.json", b"{}"),
                               artifactType=BUNDLE_TYPE),
                "layers": [dict(mediaType=BUNDLE_TYPE, **out.blob("bundle.json", data))],
                "annotations": ann, "subject": subject, "artifactType": BUNDLE_TYPE}
    if kind == "oversized" and a.what == "manifest":
        pad_manifest(manifest, a.size)
    raw = compact(manifest)
    mdigest = sha256_digest(raw)
    out.manifest("manifest.json", mdigest, OCI_MANIFEST, raw)
    fallback = a.fallback == "always" or (
        a.fallback == "auto" and not (out.push and t.has_referrers_api()))
    if fallback:
        tag = digest_tag(t.digest)
        idx = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}
        if out.push:
            old, _ = t.get_manifest(tag, OCI_INDEX)
            if old:
                idx = json.loads(old)
        idx["manifests"] = [m for m in idx.get("manifests", []) if m.get("digest") != mdigest]
        idx["manifests"].append({"mediaType": OCI_MANIFEST, "size": len(raw), "digest": mdigest,
                                 "artifactType": BUNDLE_TYPE, "annotations": ann})
        out.manifest("fallback-index.json", tag, OCI_INDEX, compact(idx))
    return mdigest


def pad_manifest(manifest, size):
    manifest.setdefault("annotations", {})["dev.sigforge/padding"] = ""
    base = len(compact(manifest))
    manifest["annotations"]["dev.sigforge/padding"] = "x" * max(0, size - base)


def digest_tag(digest):
    return digest.replace(":", "-", 1)


KINDS = ["good", "wrong-key", "tampered-payload", "other-digest", "wrong-identity", "bad-base64",
         "dup-keys", "oversized", "unknown-critical-key", "rekor-set", "rekor-bad-set",
         "rekor-other-body", "move-tag"]


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = argparse.ArgumentParser(prog="sigforge.py", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("kind", choices=KINDS)
    ap.add_argument("ref_arg", nargs="?", help="wrong-identity: the identity to sign")
    ap.add_argument("target")
    ap.add_argument("--form", choices=["simple", "bundle"], default="simple")
    ap.add_argument("--key", help="PEM private key")
    ap.add_argument("--hash", choices=sorted(HASHES))
    ap.add_argument("--rekor-key", help="rekor-*: the test Rekor's ECDSA P-256 private key")
    ap.add_argument("--other-digest", help="other-digest, dup-keys: the other sha256:HEX")
    ap.add_argument("--dup-order", choices=["real-last", "real-first"], default="real-last")
    ap.add_argument("--what", choices=["layer", "manifest"], default="layer")
    ap.add_argument("--size", type=int, default=4 * 1024 * 1024 + 1)
    ap.add_argument("--append", action="store_true", help="simple: keep the layers already there")
    ap.add_argument("--fallback", choices=["auto", "always", "never"], default="auto")
    ap.add_argument("--to", help="move-tag: the digest the tag is to name")
    ap.add_argument("--user", help="USER:PASS for Basic auth (or $OCIPUSH_USER)")
    ap.add_argument("--out", help="also write what is pushed into this directory")
    ap.add_argument("--no-push", action="store_true")
    a = ap.parse_args(argv)
    if a.kind == "wrong-identity" and not a.ref_arg:
        ap.error("wrong-identity needs REF")
    if a.kind != "wrong-identity" and a.ref_arg:
        ap.error("unexpected argument " + a.ref_arg)
    user = a.user or os.environ.get("OCIPUSH_USER")
    try:
        if a.kind == "move-tag":
            hostport, _, rest = a.target.partition("/")
            repo, _, tag = rest.rpartition(":")
            if not repo or not tag or not a.to:
                raise ForgeError("move-tag HOST:PORT/REPO:TAG --to sha256:HEX")
            reg = ocipush.Registry(hostport, repo, user)
            r, data = reg.request("GET", f"/v2/{repo}/manifests/{a.to}",
                                  headers={"Accept": MANIFEST_ACCEPT})
            mt = (r.getheader("Content-Type") or OCI_MANIFEST).split(";")[0].strip()
            reg.push_manifest(tag, mt, data)
            print(sha256_digest(data))
            return 0
        if not a.key:
            raise ForgeError(f"{a.kind} needs --key")
        t = Target(a.target, user)
        out = Out(t, a.out, not a.no_push)
        key = load_key(a.key)
        forge = forge_simple if a.form == "simple" else forge_bundle
        print(forge(t, out, a.kind, key, a))
    except (ForgeError, ocipush.PushError, OSError, ValueError, KeyError,
            ocipush.http.client.HTTPException) as e:
        print(f"sigforge: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
