#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""make-vectors: the cosign signature test vectors of tests/data/sigstore/vectors/.

Usage: tests/data/sigstore/make-vectors.py [--cosign COSIGN] [OUTDIR]
  OUTDIR   default: vectors/ next to this file
  --cosign also (re)write cosign/: what a real cosign (v3.1.3, built by
           contrib/build-go-tools.sh) writes with the ecdsa-p256 key, offline: `cosign
           generate` (a simple-signing payload), `cosign sign-blob` and `cosign attest-blob`
           of manifest.json (bundles: a message signature, a DSSE envelope). Without it,
           cosign/ is left as it is.

Needs python3-cryptography. Writes, for plugin/mv-sigstore.c's unit tests and the seed corpus
of tests/fuzz/fuzz-sigstore.c (README.md next to this file lists every file):
  keys/      PEM public keys (and fingerprints.txt: "NAME SHA256:<hex of the DER's SHA-256>")
  simple/    simple-signing payloads and their base64 signatures (the annotation value),
             Rekor SET annotations
  bundle/    sigstore bundles v0.3 as cosign v3 writes them
  rekor/     decoded Rekor entry bodies
  cosign/    written by cosign itself (--cosign)
  manifest.json, manifest.digest   the manifest every vector signs, and its digest

Deterministic but for ECDSA signatures: the private keys come from fixed seeds (RSA primes
from a seeded search), Ed25519 and RSA PKCS#1 v1.5 signatures are deterministic, and ECDSA
signs with RFC 6979 nonces where python3-cryptography has them (44 and later); with an older
one every ECDSA signature (and what holds it) changes from run to run, equally valid.
No private key is written.
"""

import base64
import hashlib
import json
import os
import random
import subprocess
import sys
import tempfile

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, utils, x25519

SIMPLE_TYPE = "cosign container image signature"
INTOTO_TYPE = "application/vnd.in-toto+json"
PREDICATE = "https://sigstore.dev/cosign/sign/v1"
STATEMENT_V1 = "https://in-toto.io/Statement/v1"
BUNDLE_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
IDENTITY = "registry.example.com/models/tiny:v1"
OTHER_IDENTITY = "registry.example.com/models/other:v1"
INTEGRATED_TIME = 1700000000
LOG_INDEX = 4242

MANIFEST = (
    b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",'
    b'"artifactType":"application/vnd.cncf.model.manifest.v1+json",'
    b'"config":{"mediaType":"application/vnd.cncf.model.config.v1+json","digest":'
    b'"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},'
    b'"layers":[]}'
)


# --- deterministic keys ---------------------------------------------------------------------

def seed_bytes(name, n):
    out = b""
    i = 0
    while len(out) < n:
        out += hashlib.sha256(b"modelvol sigstore vectors %s %d" % (name.encode(), i)).digest()
        i += 1
    return out[:n]


def ec_key(name, curve, bits):
    # A scalar of fewer bits than the group order: below it, never zero.
    d = int.from_bytes(seed_bytes(name, (bits + 7) // 8), "big") >> 8 | 1
    return ec.derive_private_key(d, curve)


def is_probable_prime(n, rng):
    if n < 2:
        return False
    for p in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37):
        if n % p == 0:
            return n == p
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for _ in range(40):
        x = pow(rng.randrange(2, n - 1), d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def rsa_key(name, bits):
    rng = random.Random(seed_bytes(name, 32))
    e = 65537
    primes = []
    while len(primes) < 2:
        # The top two bits set: p * q has exactly `bits` bits.
        c = rng.getrandbits(bits // 2) | (3 << (bits // 2 - 2)) | 1
        if (c - 1) % e != 0 and c not in primes and is_probable_prime(c, rng):
            primes.append(c)
    p, q = primes
    d = pow(e, -1, (p - 1) * (q - 1))
    pub = rsa.RSAPublicNumbers(e, p * q)
    return rsa.RSAPrivateNumbers(p, q, d, rsa.rsa_crt_dmp1(d, p), rsa.rsa_crt_dmq1(d, q),
                                 rsa.rsa_crt_iqmp(p, q), pub).private_key()


def make_keys():
    return {
        "ecdsa-p256": ec_key("ecdsa-p256", ec.SECP256R1(), 256),
        "ecdsa-p384": ec_key("ecdsa-p384", ec.SECP384R1(), 384),
        "ecdsa-p521": ec_key("ecdsa-p521", ec.SECP521R1(), 521),
        "ed25519": ed25519.Ed25519PrivateKey.from_private_bytes(seed_bytes("ed25519", 32)),
        "rsa-2048": rsa_key("rsa-2048", 2048),
    }


def make_refused_keys():
    """Public keys mv_public_key_new refuses as MV_ERROR_UNSUPPORTED."""
    return {
        "rsa-1024": rsa_key("rsa-1024", 1024),
        "ecdsa-secp256k1": ec_key("ecdsa-secp256k1", ec.SECP256K1(), 256),
        "x25519": x25519.X25519PrivateKey.from_private_bytes(seed_bytes("x25519", 32)),
    }


# --- signing --------------------------------------------------------------------------------

def ecdsa(h):
    try:
        return ec.ECDSA(h, deterministic_signing=True)
    except TypeError:
        return ec.ECDSA(h)


def sign(key, data):
    """As cosign v3 signs: P-384 with SHA-384, P-521 with SHA-512, else SHA-256."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        h = {"secp384r1": hashes.SHA384, "secp521r1": hashes.SHA512}.get(key.curve.name,
                                                                         hashes.SHA256)
        return key.sign(data, ecdsa(h()))
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(data)
    return key.sign(data, padding.PKCS1v15(), hashes.SHA256())


def sign_digest(key, digest):
    """A signature over a SHA-256 already computed (a bundle's messageSignature)."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(digest, ecdsa(utils.Prehashed(hashes.SHA256())))
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))
    raise ValueError("no prehashed signature with this key")


def pub_der(key):
    return key.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


def pub_pem(key):
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


def b64(data):
    return base64.b64encode(data).decode()


def compact(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


def pae(payload_type, payload):
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


# --- documents ------------------------------------------------------------------------------

def payload(digest, identity=IDENTITY, type_=SIMPLE_TYPE):
    # cosign's field order and "optional": null.
    return compact({"critical": {"identity": {"docker-reference": identity},
                                 "image": {"docker-manifest-digest": digest}, "type": type_},
                    "optional": None})


def statement(hexd, name=None, predicate=PREDICATE):
    subject = {"digest": {"sha256": hexd}}
    if name is not None:
        subject["name"] = name
    return compact({"_type": STATEMENT_V1, "subject": [subject], "predicateType": predicate,
                    "predicate": {}})


def bundle(key, st, payload_type=INTOTO_TYPE, sigs=None, tlog=None, signed_type=None):
    if sigs is None:
        sigs = [sign(key, pae(signed_type or payload_type, st))]
    vm = {"publicKey": {"hint": b64(hashlib.sha256(pub_der(key)).digest())}}
    if tlog is not None:
        vm["tlogEntries"] = tlog
    return compact({"mediaType": BUNDLE_TYPE, "verificationMaterial": vm,
                    "dsseEnvelope": {"payload": b64(st), "payloadType": payload_type,
                                     "signatures": [{"sig": b64(s)} for s in sigs]}})


def message_bundle(key, manifest):
    digest = hashlib.sha256(manifest).digest()
    if isinstance(key, ed25519.Ed25519PrivateKey):
        sig = key.sign(manifest)  # pure Ed25519: what a digest cannot be checked against
    else:
        sig = sign_digest(key, digest)
    return compact({"mediaType": BUNDLE_TYPE,
                    "verificationMaterial": {"publicKey": {
                        "hint": b64(hashlib.sha256(pub_der(key)).digest())}},
                    "messageSignature": {"messageDigest": {"algorithm": "SHA2_256",
                                                           "digest": b64(digest)},
                                         "signature": b64(sig)}})


def hashedrekord_body(hash_hex, sig, key):
    return compact({"apiVersion": "0.0.1", "kind": "hashedrekord",
                    "spec": {"data": {"hash": {"algorithm": "sha256", "value": hash_hex}},
                             "signature": {"content": b64(sig),
                                           "publicKey": {"content": b64(pub_pem(key))}}}})


def dsse_body(st, sig, key, env_bytes):
    return compact({"apiVersion": "0.0.1", "kind": "dsse",
                    "spec": {"envelopeHash": {"algorithm": "sha256",
                                              "value": hashlib.sha256(env_bytes).hexdigest()},
                             "payloadHash": {"algorithm": "sha256",
                                             "value": hashlib.sha256(st).hexdigest()},
                             "signatures": [{"signature": b64(sig),
                                             "verifier": b64(pub_pem(key))}]}})


def set_signature(rekor_key, body, integrated_time=INTEGRATED_TIME):
    # RFC 8785 for these values (ASCII strings, small integers): sorted keys, no white space.
    canon = json.dumps({"body": b64(body), "integratedTime": integrated_time,
                        "logID": hashlib.sha256(pub_der(rekor_key)).hexdigest(),
                        "logIndex": LOG_INDEX}, sort_keys=True, separators=(",", ":"))
    return rekor_key.sign(canon.encode(), ecdsa(hashes.SHA256()))


def set_annotation(rekor_key, body, signed_time=INTEGRATED_TIME):
    return compact({"SignedEntryTimestamp": b64(set_signature(rekor_key, body, signed_time)),
                    "Payload": {"body": b64(body), "integratedTime": INTEGRATED_TIME,
                                "logIndex": LOG_INDEX,
                                "logID": hashlib.sha256(pub_der(rekor_key)).hexdigest()}})


def tlog_entry(rekor_key, body, kind):
    # protojson: int64 as decimal strings.
    return {"logIndex": str(LOG_INDEX),
            "logId": {"keyId": b64(hashlib.sha256(pub_der(rekor_key)).digest())},
            "kindVersion": {"kind": kind, "version": "0.0.1"},
            "integratedTime": str(INTEGRATED_TIME),
            "inclusionPromise": {"signedEntryTimestamp": b64(set_signature(rekor_key, body))},
            "canonicalizedBody": b64(body)}


# --- output ---------------------------------------------------------------------------------

class Writer:
    def __init__(self, root):
        self.root = root
        self.written = []

    def put(self, name, data):
        if isinstance(data, str):
            data = data.encode()
        path = os.path.join(self.root, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        self.written.append(name)


def run_cosign(cosign, w, key, digest):
    """cosign itself, offline (no Rekor, Fulcio or TUF), in a scratch HOME."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": tmp,
               "COSIGN_PASSWORD": "", "SIGSTORE_NO_CACHE": "1", "TUF_ROOT": tmp + "/tuf"}

        def cosign_run(*args):
            return subprocess.run([cosign, *args], env=env, cwd=tmp, check=True,
                                  capture_output=True, timeout=120).stdout

        with open(os.path.join(tmp, "k.pem"), "wb") as f:
            f.write(key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
        with open(os.path.join(tmp, "manifest.json"), "wb") as f:
            f.write(MANIFEST)
        with open(os.path.join(tmp, "predicate.json"), "wb") as f:
            f.write(b"{}")
        cosign_run("import-key-pair", "--key", "k.pem", "--output-key-prefix", "k")
        common = ["--key", "k.key", "--new-bundle-format", "--tlog-upload=false",
                  "--use-signing-config=false", "-y"]
        cosign_run("sign-blob", *common, "--bundle", "message.json", "manifest.json")
        cosign_run("attest-blob", *common, "--predicate", "predicate.json", "--type", PREDICATE,
                   "--bundle", "dsse.json", "manifest.json")
        payload_out = cosign_run("generate", "registry.example.com/models/tiny@" + digest)
        for src, dst in (("message.json", "cosign/message.bundle.json"),
                         ("dsse.json", "cosign/dsse.bundle.json")):
            with open(os.path.join(tmp, src), "rb") as f:
                w.put(dst, f.read())
        w.put("cosign/generate.payload.json", payload_out.rstrip(b"\n"))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    args = sys.argv[1:]
    cosign = None
    if args[:1] == ["--cosign"] and len(args) >= 2:
        cosign, args = args[1], args[2:]
    out = args[0] if args else os.path.join(here, "vectors")
    w = Writer(out)
    keys = make_keys()
    refused = make_refused_keys()
    rekor = ec_key("rekor", ec.SECP256R1(), 256)
    other_rekor = ec_key("rekor-other", ec.SECP256R1(), 256)
    digest = "sha256:" + hashlib.sha256(MANIFEST).hexdigest()
    hexd = digest.split(":", 1)[1]
    other_digest = "sha256:" + hashlib.sha256(b"another manifest").hexdigest()

    w.put("manifest.json", MANIFEST)
    w.put("manifest.digest", digest + "\n")
    w.put("other.digest", other_digest + "\n")

    fingerprints = []
    for name, k in list(keys.items()) + list(refused.items()) + [("rekor", rekor),
                                                                  ("rekor-other", other_rekor)]:
        w.put(f"keys/{name}.pub", pub_pem(k))
        fingerprints.append(f"{name} SHA256:{hashlib.sha256(pub_der(k)).hexdigest()}\n")
    w.put("keys/fingerprints.txt", "".join(fingerprints))

    # Every accepted key: a simple-signing payload and signature, a DSSE bundle.
    simple_sigs = {}
    for name, k in keys.items():
        p = payload(digest)
        simple_sigs[name] = sign(k, p)
        w.put(f"simple/{name}.payload.json", p)
        w.put(f"simple/{name}.sig", b64(simple_sigs[name]))
        w.put(f"bundle/{name}.bundle.json", bundle(k, statement(hexd)))
    # P-384 and P-521 over SHA-256 too: what containers/image and `cosign verify --key` check.
    for name in ("ecdsa-p384", "ecdsa-p521"):
        sig = keys[name].sign(payload(digest), ecdsa(hashes.SHA256()))
        w.put(f"simple/{name}-sha256.sig", b64(sig))

    # Hostile simple-signing payloads, each validly signed by ecdsa-p256.
    k = keys["ecdsa-p256"]
    hostile = {
        "other-digest": payload(other_digest),
        "wrong-identity": payload(digest, OTHER_IDENTITY),
        "wrong-type": payload(digest, type_="atomic container signature"),
        # Hand-written: json cannot emit a duplicate key. The real digest last (what a parser
        # that keeps the last value would take).
        "dup-keys": ('{"critical":{"identity":{"docker-reference":"%s"},"image":'
                     '{"docker-manifest-digest":"%s","docker-manifest-digest":"%s"},'
                     '"type":"%s"},"optional":null}'
                     % (IDENTITY, other_digest, digest, SIMPLE_TYPE)).encode(),
        "unknown-critical": compact({"critical": {"identity": {"docker-reference": IDENTITY},
                                                  "image": {"docker-manifest-digest": digest},
                                                  "type": SIMPLE_TYPE, "extra": "refused"},
                                     "optional": None}),
        "unknown-top": compact({"critical": {"identity": {"docker-reference": IDENTITY},
                                             "image": {"docker-manifest-digest": digest},
                                             "type": SIMPLE_TYPE},
                                "optional": None, "extra": {}}),
        "optional-object": compact({"critical": {"identity": {"docker-reference": IDENTITY},
                                                 "image": {"docker-manifest-digest": digest},
                                                 "type": SIMPLE_TYPE},
                                    "optional": {"creator": "make-vectors.py"}}),
    }
    for name, p in hostile.items():
        w.put(f"simple/{name}.payload.json", p)
        w.put(f"simple/{name}.sig", b64(sign(k, p)))

    # Rekor SETs for the ecdsa-p256 simple signature.
    p = payload(digest)
    sig = simple_sigs["ecdsa-p256"]
    body = hashedrekord_body(hashlib.sha256(p).hexdigest(), sig, k)
    w.put("rekor/hashedrekord.body.json", body)
    w.put("simple/ecdsa-p256.set.json", set_annotation(rekor, body))
    w.put("simple/set-bad-signature.set.json",
          set_annotation(rekor, body, signed_time=INTEGRATED_TIME + 1))
    w.put("simple/set-other-log.set.json", set_annotation(other_rekor, body))
    w.put("simple/set-other-body.set.json",
          set_annotation(rekor, hashedrekord_body(hashlib.sha256(p + b" ").hexdigest(), sig, k)))

    # Hostile bundles (ecdsa-p256).
    st = statement(hexd)
    w.put("bundle/statement.json", st)
    w.put("bundle/other-digest.bundle.json", bundle(k, statement(other_digest[7:])))
    w.put("bundle/named-subject.bundle.json", bundle(k, statement(hexd, name=IDENTITY)))
    w.put("bundle/other-predicate.bundle.json",
          bundle(k, statement(hexd, predicate="https://slsa.dev/provenance/v1")))
    w.put("bundle/other-payload-type.bundle.json", bundle(k, st, payload_type="application/json"))
    # Signed as in-toto, then the payload changed: the PAE no longer matches.
    tampered = json.loads(bundle(k, st))
    tampered["dsseEnvelope"]["payload"] = b64(statement(hexd, name=IDENTITY))
    w.put("bundle/tampered.bundle.json", compact(tampered))
    w.put("bundle/two-signatures.bundle.json",
          bundle(k, st, sigs=[sign(k, pae(INTOTO_TYPE, st)), sign(keys["ecdsa-p384"],
                                                                  pae(INTOTO_TYPE, st))]))
    two_names = compact({"_type": STATEMENT_V1,
                         "subject": [{"name": IDENTITY, "digest": {"sha256": hexd}},
                                     {"name": OTHER_IDENTITY, "digest": {"sha256": hexd}}],
                         "predicateType": PREDICATE, "predicate": {}})
    w.put("bundle/two-names.bundle.json", bundle(k, two_names))
    dup_st = ('{"_type":"%s","subject":[{"digest":{"sha256":"%s","sha256":"%s"}}],'
              '"predicateType":"%s","predicate":{}}'
              % (STATEMENT_V1, other_digest[7:], hexd, PREDICATE)).encode()
    w.put("bundle/dup-keys.bundle.json", bundle(k, dup_st))
    keyless = json.loads(bundle(k, st))
    keyless["verificationMaterial"] = {"certificate": {"rawBytes": b64(b"not a certificate")}}
    w.put("bundle/keyless.bundle.json", compact(keyless))
    snake = json.loads(bundle(k, st))
    snake["dsseEnvelope"]["payload_type"] = INTOTO_TYPE
    w.put("bundle/proto-name.bundle.json", compact(snake))
    for name in ("ecdsa-p256", "rsa-2048", "ed25519"):
        w.put(f"bundle/{name}-message.bundle.json", message_bundle(keys[name], MANIFEST))

    # A bundle with a dsse tlog entry whose SET the rekor key signed.
    sig = sign(k, pae(INTOTO_TYPE, st))
    env = compact({"payload": b64(st), "payloadType": INTOTO_TYPE,
                   "signatures": [{"sig": b64(sig)}]})
    body = dsse_body(st, sig, k, env)
    w.put("rekor/dsse.body.json", body)
    w.put("bundle/ecdsa-p256-tlog.bundle.json",
          bundle(k, st, sigs=[sig], tlog=[tlog_entry(rekor, body, "dsse")]))

    if cosign is not None:
        run_cosign(cosign, w, k, digest)

    print(f"make-vectors: {len(w.written)} files in {out}")


if __name__ == "__main__":
    main()
