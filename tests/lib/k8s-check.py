#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Checks contrib/kubernetes/*.yaml for the fields each must have, and prints what the
tests check further as JSON: the DaemonSet's hostPath mounts and env, the image volume
references, the modelvol.io/mounts value, the CDI annotations and device names, the paths
the containers list. One line per problem on stderr and exit 1 if any.

   k8s-check.py DIR"""
import json
import pathlib
import re
import sys

import yaml

problems = []


def need(cond, what):
    if not cond:
        problems.append(what)
    return cond


def load(path):
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    need(len(docs) == 1, f"{path.name}: one document expected, got {len(docs)}")
    return docs[0] if docs else {}


def pod_spec_checks(name, spec, volumes_required=False):
    ctrs = spec.get("containers") or []
    need(ctrs, f"{name}: no containers")
    vols = {v.get("name"): v for v in spec.get("volumes") or []}
    for c in ctrs:
        need(c.get("name") and c.get("image"), f"{name}: a container without name or image")
        for m in c.get("volumeMounts") or []:
            need(m.get("name") in vols, f"{name}: volumeMount {m.get('name')} has no volume")
            need(str(m.get("mountPath", "")).startswith("/"), f"{name}: mountPath not absolute")
    return ctrs, vols


def daemonset(doc):
    out = {}
    need(doc.get("apiVersion") == "apps/v1", "daemonset: apiVersion apps/v1")
    need(doc.get("kind") == "DaemonSet", "daemonset: kind DaemonSet")
    need(doc.get("metadata", {}).get("namespace"), "daemonset: a namespace")
    spec = doc.get("spec", {})
    tmpl = spec.get("template", {})
    sel = spec.get("selector", {}).get("matchLabels", {})
    labels = tmpl.get("metadata", {}).get("labels", {})
    need(sel and all(labels.get(k) == v for k, v in sel.items()),
         "daemonset: selector.matchLabels must match the template's labels")
    ps = tmpl.get("spec", {})
    need(ps.get("hostPID") is True, "daemonset: hostPID (nsenter into PID 1 for systemctl)")
    need(ps.get("tolerations"), "daemonset: tolerations (every node)")
    ctrs, vols = pod_spec_checks("daemonset", ps)
    c = ctrs[0] if ctrs else {}
    need(c.get("securityContext", {}).get("privileged") is True, "daemonset: privileged")
    env = {e["name"]: e.get("value") for e in c.get("env") or []}
    need(env.get("MODELVOL_ACTION") == "install", "daemonset: MODELVOL_ACTION=install")
    need(env.get("HOST_ROOT") == "/host", "daemonset: HOST_ROOT=/host")
    cmd = " ".join((c.get("command") or []) + (c.get("args") or []))
    need("node-install.sh" in cmd and "$MODELVOL_ACTION" in cmd,
         "daemonset: runs node-install.sh \"$MODELVOL_ACTION\"")
    mounts = []
    for m in c.get("volumeMounts") or []:
        hp = vols.get(m.get("name"), {}).get("hostPath", {})
        need(hp.get("path", "").startswith("/"), f"daemonset: volume {m.get('name')} is a hostPath")
        need(m.get("mountPath") == env.get("HOST_ROOT", "") + hp.get("path", ""),
             f"daemonset: {m.get('name')} is mounted at HOST_ROOT + its host path")
        mounts.append({"path": hp.get("path"), "readOnly": bool(m.get("readOnly"))})
    out["hostPaths"] = mounts
    out["env"] = env
    out["image"] = c.get("image")
    return out


def pod_common(name, doc):
    need(doc.get("apiVersion") == "v1", f"{name}: apiVersion v1")
    need(doc.get("kind") == "Pod", f"{name}: kind Pod")
    ctrs, vols = pod_spec_checks(name, doc.get("spec", {}))
    return ctrs, vols, doc.get("metadata", {}).get("annotations") or {}


def image_volume(doc):
    ctrs, vols, _ = pod_common("pod-image-volume", doc)
    refs = []
    for v in vols.values():
        img = v.get("image")
        if img is None:
            continue
        need(isinstance(img.get("reference"), str), "pod-image-volume: image.reference")
        need(img.get("pullPolicy") in ("Always", "Never", "IfNotPresent"),
             "pod-image-volume: image.pullPolicy Always, Never or IfNotPresent")
        refs.append(img.get("reference"))
    need(refs, "pod-image-volume: an image volume")
    mounts = []
    for c in ctrs:
        for m in c.get("volumeMounts") or []:
            if "image" in vols.get(m.get("name"), {}):
                need(m.get("readOnly") is True, "pod-image-volume: image volume mounts readOnly")
                mounts.append({"path": m.get("mountPath"), "subPath": m.get("subPath", "")})
    return {"refs": refs, "mounts": mounts, "command": " ".join(ctrs[0].get("command", []))}


def annotation(doc):
    ctrs, _, ann = pod_common("pod-annotation", doc)
    value = ann.get("modelvol.io/mounts")
    need(isinstance(value, str), "pod-annotation: a modelvol.io/mounts annotation (a string)")
    entries = []
    try:
        entries = json.loads(value or "")
    except ValueError:
        need(False, "pod-annotation: modelvol.io/mounts is not JSON")
    return {"value": value, "refs": [e.get("ref") for e in entries if isinstance(e, dict)],
            "entries": entries, "command": " ".join(ctrs[0].get("command", []))}


# The CDI spec's annotation rules (container-device-interface, pkg/parser and annotations).
CDI_KEY_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$")
CDI_VENDOR = r"[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?"
CDI_CLASS = r"[A-Za-z0-9]([A-Za-z0-9_-]*[A-Za-z0-9])?"
CDI_DEVICE = r"[A-Za-z0-9]([A-Za-z0-9_.:-]*[A-Za-z0-9])?"
CDI_QUALIFIED = re.compile(rf"^{CDI_VENDOR}/{CDI_CLASS}=({CDI_DEVICE})$")


def cdi(doc):
    ctrs, _, ann = pod_common("pod-cdi", doc)
    devices = []
    for k, v in ann.items():
        if not k.startswith("cdi.k8s.io/"):
            continue
        need(CDI_KEY_NAME.match(k[len("cdi.k8s.io/"):]), f"pod-cdi: annotation key {k} (CDI rules)")
        for d in str(v).split(","):
            m = CDI_QUALIFIED.match(d)
            need(m, f"pod-cdi: {d!r} is not a qualified CDI device name")
            need(d.startswith("modelvol.io/model="), f"pod-cdi: {d!r} is not of kind modelvol.io/model")
            if m:
                devices.append(d.split("=", 1)[1])
    need(devices, "pod-cdi: a cdi.k8s.io/ annotation")
    return {"devices": devices, "command": " ".join(ctrs[0].get("command", []))}


def main():
    d = pathlib.Path(sys.argv[1])
    facts = {
        "daemonset": daemonset(load(d / "daemonset.yaml")),
        "imageVolume": image_volume(load(d / "pod-image-volume.yaml")),
        "annotation": annotation(load(d / "pod-annotation.yaml")),
        "cdi": cdi(load(d / "pod-cdi.yaml")),
    }
    for p in problems:
        print(f"k8s-check.py: {p}", file=sys.stderr)
    print(json.dumps(facts, indent=1))
    sys.exit(1 if problems else 0)


main()
