#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# A real kubelet ($KUBELET_VERSION, standalone: static pods from a manifest directory, no API
# server) on the real CRI-O with modelvol-hook. A static pod with an `image` volume of a
# ModelPack artifact, mounted whole in one container and with `subPath` in another, runs and
# reads the real unpacked tree (each container writes what it sees to a hostPath). Removing
# the manifest deletes the pod, and with it our use records.
# The kubelet gives every container hugepage limits (0 for each page size the kernel has), so
# runc needs the hugetlb cgroup controller. This machine's kernel has it (/proc/cgroups) but
# its cgroup v1 tree does not mount it: the test then runs in a mount namespace of its own
# with the controller mounted there (the empty mount point it makes is removed afterwards).
if [ -z "${MVTEST_IN_MNTNS:-}" ] && awk '$1 == "hugetlb" && $4 == 1 {f = 1} END {exit !f}' /proc/cgroups \
  && ! grep -q ' - cgroup [^ ]* [^ ]*hugetlb' /proc/self/mountinfo; then
  made=
  [ -d /sys/fs/cgroup/hugetlb ] || { mkdir /sys/fs/cgroup/hugetlb && made=1; }
  rc=0
  MVTEST_IN_MNTNS=1 unshare -m --propagation private bash -c \
    'mount -t cgroup -o hugetlb hugetlb /sys/fs/cgroup/hugetlb && exec bash "$0"' "$0" || rc=$?
  [ -z "$made" ] || rmdir /sys/fs/cgroup/hugetlb
  exit $rc
fi
. "$(dirname "$0")/../lib/common.sh"
. "$TESTS_LIB/registry.sh"
. "$TESTS_LIB/container.sh"
. "$TESTS_LIB/crio.sh"

[ -x "$KUBELET_BIN" ] || _crio_missing "$KUBELET_BIN is not built"

crio_setup
cat >"$T/spec.json" <<'EOF'
{"family": "cncf", "layers": [
 {"kind": "weight", "format": "raw", "path": "weights/model-1.safetensors", "content": {"random": 400000, "seed": "kubelet-1"}},
 {"kind": "weight.config", "format": "raw", "path": "config.json", "content": "{\"model_type\": \"kubelet\"}\n"},
 {"kind": "weight.config", "format": "tar+gzip", "path": "tokenizer", "entries": [
   {"name": "tokenizer/vocab.txt", "content": "a b c\n"}]},
 {"kind": "weight", "format": "tar+zstd", "path": "weights-extra", "entries": [
   {"name": "weights/extra/shard.bin", "content": {"random": 50000, "seed": "kubelet-2"}}]}
]}
EOF
mkmodel build --spec "$T/spec.json" --out "$T/l" --ref v1 --expect "$T/exp" >/dev/null
ocipush "oci:$T/l:v1" "$R/org/llama:v1" >/dev/null
crio_start "$T/crio"

K=$T/kubelet
mkdir -p "$K/manifests" "$K/root" "$K/pod-logs" "$T/out"
kport=$(registry_free_port)
hport=$(registry_free_port)
cat >"$K/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
staticPodPath: $K/manifests
fileCheckFrequency: 1s
syncFrequency: 2s
containerRuntimeEndpoint: unix://$CRIO_SOCK
cgroupDriver: cgroupfs
cgroupsPerQOS: false
enforceNodeAllocatable: []
failCgroupV1: false
failSwapOn: false
featureGates:
  ImageVolume: true
address: 127.0.0.1
port: $kport
healthzBindAddress: 127.0.0.1
healthzPort: $hport
readOnlyPort: 0
authentication:
  anonymous:
    enabled: true
  webhook:
    enabled: false
authorization:
  mode: AlwaysAllow
podLogsDir: $K/pod-logs
resolvConf: ""
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: "1Mi"
  nodefs.available: "0%"
  imagefs.available: "0%"
localStorageCapacityIsolation: false
serializeImagePulls: false
EOF
"$KUBELET_BIN" --config "$K/config.yaml" --root-dir "$K/root" --hostname-override modelvol-test-node \
  --v=2 >"$K/kubelet.log" 2>&1 &
KUBELET_PID=$!
# shellcheck disable=SC2034  # read by crio_stop and wait_until (tests/lib/crio.sh)
CRIO_KILL_FIRST=$KUBELET_PID

# shellcheck disable=SC2034
WAIT_LOG=$K/kubelet.log
wait_until "the kubelet answers on its healthz port" 120 -- curl -sf "http://127.0.0.1:$hport/healthz"

# shellcheck disable=SC2016
cat >"$K/manifests/model-reader.yaml" <<EOF
apiVersion: v1
kind: Pod
metadata:
  name: model-reader
  namespace: default
spec:
  hostNetwork: true
  restartPolicy: Always
  terminationGracePeriodSeconds: 1
  containers:
  - name: whole
    image: $R/busybox:1
    command: ["/bin/sh", "-c", "cd /model && (find . -type f | sort | xargs sha256sum; touch x 2>&1 | grep -q Read-only && echo EROFS) > /out/whole.tmp && mv /out/whole.tmp /out/whole; sleep 3600"]
    volumeMounts:
    - {name: model, mountPath: /model}
    - {name: out, mountPath: /out}
  - name: sub
    image: $R/busybox:1
    command: ["/bin/sh", "-c", "cd /model && find . -type f | sort | xargs sha256sum > /out/sub.tmp && mv /out/sub.tmp /out/sub; sleep 3600"]
    volumeMounts:
    - {name: model, mountPath: /model, subPath: weights}
    - {name: out, mountPath: /out}
  volumes:
  - name: model
    image:
      reference: $R/org/llama:v1
      pullPolicy: IfNotPresent
  - name: out
    hostPath:
      path: $T/out
      type: Directory
EOF
wait_until "the static pod's containers report" 300 -- test -s "$T/out/whole" -a -s "$T/out/sub"
want_whole=$( (cd "$T/exp" && find . -type f | sort | xargs sha256sum); echo EROFS)
want_sub=$(cd "$T/exp/weights" && find . -type f | sort | xargs sha256sum)
assert_eq "$(cat "$T/out/whole" 2>/dev/null)" "$want_whole" "the image volume is the real tree, byte-exact and read-only"
assert_eq "$(cat "$T/out/sub" 2>/dev/null)" "$want_sub" "with subPath: the sub-tree (tar and raw layers under it)"
DIG=$(jq -r --arg r "$R/org/llama:v1" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $r) | .digest' "$CRIO_GRAPHROOT/artifacts/index.json")
check "the kubelet's PullImage put it in CRI-O's artifact store and the hook imported it" -- has_model "$DIG"
uses() { find "$ROOT/run/uses" -type f 2>/dev/null | wc -l; }
check "two use records while the pod runs" -- test "$(uses)" -eq 2

rm "$K/manifests/model-reader.yaml"
no_containers() { [ -z "$(cri ps -a -q)" ]; }
wait_until "deleting the static pod removes its containers" 180 -- no_containers
wait_until "and drops our use records" 60 -- test "$(uses)" -eq 0
run_ok "prune after the pod is gone" -- mvol prune
check "the kubelet is still running" -- kill -0 "$KUBELET_PID"

finish
