#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""artifact.py LAYOUT REF FILE...: adds a non-ModelPack OCI artifact (artifactType
application/vnd.example.data.v1, empty config, one text/plain layer per FILE titled with its
base name) to an OCI image layout, as `oras push` or `podman artifact add` would. Prints the
manifest digest."""
import hashlib, json, os, sys

def put(layout, data):
    d = hashlib.sha256(data).hexdigest()
    os.makedirs(os.path.join(layout, "blobs", "sha256"), exist_ok=True)
    with open(os.path.join(layout, "blobs", "sha256", d), "wb") as f:
        f.write(data)
    return "sha256:" + d

layout, ref, files = sys.argv[1], sys.argv[2], sys.argv[3:]
os.makedirs(layout, exist_ok=True)
with open(os.path.join(layout, "oci-layout"), "w") as f:
    json.dump({"imageLayoutVersion": "1.0.0"}, f)
layers = []
for p in files:
    data = open(p, "rb").read()
    layers.append({"mediaType": "text/plain", "digest": put(layout, data), "size": len(data),
                   "annotations": {"org.opencontainers.image.title": os.path.basename(p)}})
config = b"{}"
manifest = json.dumps({
    "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "artifactType": "application/vnd.example.data.v1",
    "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": put(layout, config),
               "size": len(config)},
    "layers": layers}).encode()
md = put(layout, manifest)
idx_path = os.path.join(layout, "index.json")
idx = json.load(open(idx_path)) if os.path.exists(idx_path) else {"schemaVersion": 2, "manifests": []}
idx["manifests"] = [m for m in idx["manifests"]
                    if m.get("annotations", {}).get("org.opencontainers.image.ref.name") != ref]
idx["manifests"].append({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md,
                         "size": len(manifest),
                         "annotations": {"org.opencontainers.image.ref.name": ref}})
json.dump(idx, open(idx_path, "w"))
print(md)
