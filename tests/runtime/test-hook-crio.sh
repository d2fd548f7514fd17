#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# CRI-O's image volume of a ModelPack artifact, reproduced: the artifact is pulled with skopeo
# from a real docker-registry into an OCI layout at <graphroot>/artifacts (CRI-O's artifact
# store), and the bundle gets what CRI-O 1.33+ writes for the volume (one read-only bind mount
# per layer blob at <volume>/<filepath>, the io.kubernetes.cri-o.Volumes annotation). With
# modelvol-hook, runc's container sees the real tree: right bytes, nested directories from tar,
# tar+gzip and tar+zstd layers, EROFS on write, ro,nosuid,nodev; a subPath volume gets the
# sub-tree; both families work. Without the hook it sees CRI-O's tar files, and a
# non-ModelPack artifact is left exactly as CRI-O made it. Two containers share inodes; prune
# while they run removes nothing; after both stop, prune reclaims the (unnamed) model.
. "$(dirname "$0")/../lib/common.sh"
. "$TESTS_LIB/registry.sh"
. "$TESTS_LIB/container.sh"

registry_start "$T/reg" >/dev/null
R=$REGISTRY
GRAPH=$T/graph
ART=$GRAPH/artifacts
mkdir -p "$GRAPH"
CONF=$T/modelvol.conf
cat >"$CONF" <<EOF
[store]
root=$ROOT
[crio]
graphroot=$GRAPH
EOF

cat >"$T/spec.json" <<'EOF'
{"family": "cncf", "layers": [
 {"kind": "weight", "format": "raw", "path": "weights/model-1.safetensors", "content": {"random": 300000, "seed": "crio-1"}},
 {"kind": "weight", "format": "raw", "path": "weights/model-2.safetensors", "content": {"random": 200000, "seed": "crio-2"}},
 {"kind": "weight.config", "format": "raw", "path": "config.json", "content": "{\"model_type\": \"test\"}\n"},
 {"kind": "weight.config", "format": "tar", "path": "tokenizer", "entries": [
   {"name": "tokenizer/vocab.txt", "content": "a b c\n"},
   {"name": "tokenizer/merges/m.txt", "content": "x y\n"}]},
 {"kind": "doc", "format": "tar+gzip", "path": "docs", "entries": [{"name": "docs/README.md", "content": "# model\n"}]},
 {"kind": "code", "format": "tar+zstd", "path": "code", "entries": [{"name": "code/run.py", "content": "print(1)\n"}]}
]}
EOF
mkmodel build --spec "$T/spec.json" --out "$T/l-cncf" --ref v1 --expect "$T/exp" >/dev/null
mkmodel build --spec "$T/spec.json" --family cnai --out "$T/l-cnai" --ref v1 >/dev/null
run_ok "push the cncf model" -- ocipush "oci:$T/l-cncf:v1" "$R/org/llama:v1"
run_ok "push the cnai model" -- ocipush "oci:$T/l-cnai:v1" "$R/org/llama-legacy:v1"
run_ok "skopeo pulls it into CRI-O's artifact store" -- skopeo copy --src-tls-verify=false \
  "docker://$R/org/llama:v1" "oci:$ART:$R/org/llama:v1"
run_ok "skopeo pulls the cnai one too" -- skopeo copy --src-tls-verify=false \
  "docker://$R/org/llama-legacy:v1" "oci:$ART:$R/org/llama-legacy:v1"
DIG=$(jq -r --arg r "$R/org/llama:v1" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $r) | .digest' "$ART/index.json")
DIG2=$(jq -r --arg r "$R/org/llama-legacy:v1" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $r) | .digest' "$ART/index.json")

# What the container reports: every file with its hash, every directory, a write attempt and
# the mount's options.
# shellcheck disable=SC2016
REPORT='ls -l /proc/1/fd /proc/1/cwd | sed "s/^/FD /"; mount -o remount,rw /model 2>/dev/null && echo REMOUNT-RW; cd /model && find . -type d | sort | sed "s/^/D /"; find . -type f | sort | while read -r f; do echo "F $(sha256sum "$f")"; done;
  if touch /model/new 2>/tmp/err; then echo WRITE-OK; else echo "WRITE-FAILED $(cat /tmp/err)"; fi;
  awk "\$5 == \"/model\" {print \"MOUNT \" \$6}" /proc/self/mountinfo | tail -n 1'
expected_report() {
  (cd "$1" && find . -type d | sort | sed "s/^/D /"
    find . -type f | sort | while read -r f; do echo "F $(sha256sum "$f")"; done)
}
expected_report "$T/exp" >"$T/want"

before=$(host_mounts)
make_bundle "$T/b1" "$REPORT"
crio_image_volume "$T/b1" "$ART" "$DIG" /model
cp -a "$T/b1" "$T/b0"   # the same bundle, without the hook
bundle_add_hook "$T/b1" "$CONF"

ctr_run "$T/b1" mv-crio-1
assert_eq "$LAST_RC" 0 "the container with the hook runs"
[ "$LAST_RC" = 0 ] || diag "$LAST_STDERR"
grep -E '^[DF] ' <<<"$LAST_STDOUT" >"$T/got" || true
check "the volume holds the real model tree, byte-exact" -- diff -u "$T/want" "$T/got"
check "tar layers are unpacked into nested directories" -- grep -qx 'D ./tokenizer/merges' "$T/got"
check "writes fail with EROFS" -- grep -q 'WRITE-FAILED.*Read-only file system' <<<"$LAST_STDOUT"
mflags=$(grep '^MOUNT ' <<<"$LAST_STDOUT" | cut -d' ' -f2)
check "mounted ro,nosuid,nodev ($mflags)" -- bash -c '[[ ",$1," == *,ro,* && ",$1," == *,nosuid,* && ",$1," == *,nodev,* ]]' _ "$mflags"
check "a remount read-write from inside the container fails" -- bash -c '! grep -q REMOUNT-RW <<<"$1"' _ "$LAST_STDOUT"
check "no fd of the hook reaches the container's init" -- bash -c '! grep "^FD " <<<"$1" | grep -Eq "$2|pidfd|memfd|oci-state|\\.lock"' _ "$LAST_STDOUT" "$ROOT"
grep '^FD ' <<<"$LAST_STDOUT" | sed 's/^/# /' || true
assert_eq "$(host_mounts)" "$before" "the host's mount table is unchanged"
check "the model is in the store, by CRI-O's digest (imported from its store)" -- has_model "$DIG"
check "poststop dropped the use record" -- bash -c '! ls "$1"/run/uses/*/mv-crio-1 2>/dev/null' _ "$ROOT"
# Metrics: the hook counted its mount (with its latency) and the import it made.
mvol metrics >"$T/m1.prom"
check "metrics: one hook mount, timed, and one import" -- bash -c 'grep -qx "modelvol_mounts_total{kind=\"hook\",outcome=\"ok\"} 1" "$1" && grep -qx "modelvol_mount_duration_seconds_count{kind=\"hook\"} 1" "$1" && grep -qx "modelvol_imports_total{outcome=\"ok\"} 1" "$1"' _ "$T/m1.prom"

# SECURITY-BAR 39: what CRI-O pulled (perhaps with a pod's own pull secret) is stored
# unnamed, so no other pod reaches it by reference or digest through the annotation.
for ref in "$R/org/llama:v1" "$R/org/llama@$DIG"; do
  make_bundle "$T/steal" 'echo STARTED'
  bundle_jq "$T/steal" '.annotations["modelvol.io/mounts"] = $a' --arg a "[{\"ref\": \"$ref\", \"path\": \"/m\"}]"
  bundle_add_hook "$T/steal" "$CONF"
  ctr_run "$T/steal" mv-crio-steal
  check "an annotation cannot reach CRI-O's image volume model as $ref" -- bash -c '[ "$1" -ne 0 ] && grep -q "modelvol-hook: model .* is not in the store" <<<"$2"' _ "$LAST_RC" "$LAST_STDERR"
  rm -rf "$T/steal"
done
mvol metrics >"$T/m2.prom"
check "metrics: the two refused hook runs count as mount errors" -- grep -qx 'modelvol_mounts_total{kind="hook",outcome="error"} 2' "$T/m2.prom"

ctr_run "$T/b0" mv-crio-0
assert_eq "$LAST_RC" 0 "the container without the hook runs"
check "without the hook, CRI-O's tar layer is a tar file" -- grep -q '^F [0-9a-f]*  ./tokenizer$' <<<"$LAST_STDOUT"
check "without the hook, nothing is unpacked" -- bash -c '! grep -q "tokenizer/vocab.txt" <<<"$1"' _ "$LAST_STDOUT"

# The legacy family, the second time warm (already in the store: a plain mount).
make_bundle "$T/b2" "$REPORT"
crio_image_volume "$T/b2" "$ART" "$DIG2" /model
bundle_add_hook "$T/b2" "$CONF"
ctr_run "$T/b2" mv-crio-2
grep -E '^[DF] ' <<<"$LAST_STDOUT" >"$T/got2" || true
check "the vnd.cnai model is mounted byte-exact" -- diff -u "$T/want" "$T/got2"

# subPath: CRI-O keeps the layers under the prefix and strips it; the hook mounts the sub-tree.
make_bundle "$T/b3" 'find /model | sort'
crio_image_volume "$T/b3" "$ART" "$DIG" /model weights
bundle_add_hook "$T/b3" "$CONF"
ctr_run "$T/b3" mv-crio-3
assert_eq "$LAST_RC" 0 "the subPath container runs"
assert_eq "$LAST_STDOUT" "$(printf '/model\n/model/model-1.safetensors\n/model/model-2.safetensors')" "a subPath volume shows the sub-tree"

# A non-ModelPack artifact is left as CRI-O made it.
echo "hello from a plain artifact" >"$T/hello.txt"
ODIG=$(python3 "$TESTS_LIB/artifact.py" "$ART" "$R/org/plain:v1" "$T/hello.txt")
make_bundle "$T/b4" 'cat /data/hello.txt; awk "\$5 == \"/data/hello.txt\" {print \"MOUNT \" \$6}" /proc/self/mountinfo'
crio_image_volume "$T/b4" "$ART" "$ODIG" /data
bundle_add_hook "$T/b4" "$CONF"
ctr_run "$T/b4" mv-crio-4
assert_eq "$LAST_RC" 0 "the container with a non-ModelPack artifact runs"
check "a non-ModelPack artifact keeps CRI-O's per-blob mount" -- grep -q '^hello from a plain artifact$' <<<"$LAST_STDOUT"
check "and nothing was imported for it" -- lacks_model "$ODIG"

# Two running containers share the model's inodes; prune while they run removes nothing.
for i in 5 6; do
  make_bundle "$T/b$i" 'sleep 600'
  crio_image_volume "$T/b$i" "$ART" "$DIG" /model
  bundle_add_hook "$T/b$i" "$CONF"
  check "start container $i (detached)" -- ctr_start "$T/b$i" "mv-crio-$i"
done
i5=$(runc exec mv-crio-5 stat -c %i /model/weights/model-1.safetensors 2>&1)
i6=$(runc exec mv-crio-6 stat -c %i /model/weights/model-1.safetensors 2>&1)
assert_eq "$i5" "$i6" "two containers see the same inode"
run_ok "prune while both run" -- mvol prune
check "the model in use survives prune" -- has_model "$DIG"
check "its files are still readable in a container" -- runc exec mv-crio-5 cat /model/config.json
ctr_stop mv-crio-5
run_ok "prune with one container left" -- mvol prune
check "still kept for the other container" -- has_model "$DIG"
ctr_stop mv-crio-6
run_ok "prune after both stopped" -- mvol prune
check "the unnamed model is reclaimed" -- lacks_model "$DIG"
assert_eq "$(host_mounts)" "$before" "the host's mount table is unchanged at the end"

finish
