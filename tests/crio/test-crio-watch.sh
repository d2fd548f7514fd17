#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# `modelvol watch` beside the real CRI-O: a crictl pull (the kubelet's PullImage) of a
# ModelPack artifact lands in CRI-O's artifact store, the service imports it unnamed and checks
# it out, and the first container start is warm (the hook mounts, imports nothing). Then, as
# docs/operator-guide.md says: prune keeps the model while a container uses it; after the
# container is gone and `crictl rmi` removed the artifact from CRI-O, `modelvol prune` reclaims
# it, and the service does not bring it back.
. "$(dirname "$0")/../lib/common.sh"
. "$TESTS_LIB/registry.sh"
. "$TESTS_LIB/container.sh"
. "$TESTS_LIB/crio.sh"

crio_setup '[watch]
prune-interval=2'
mkmodel preset shared --variant b --seed crio-watch --out "$T/l" --ref v1 --expect "$T/exp" >/dev/null
ocipush "oci:$T/l:v1" "$R/org/llama:v1" >/dev/null
crio_start "$T/crio"

MODELVOL_CONFIG=$CRIO_MODELVOL_CONF "$MODELVOL" watch >"$T/watch.log" 2>&1 &
WATCH_PID=$!
CLEANUP_PIDS+=("$WATCH_PID")

# shellcheck disable=SC2034  # read by wait_until (tests/lib/crio.sh)
WAIT_LOG=$T/watch.log
metric() { mvol metrics | awk -v k="$1" '$1 == k {print $2}'; }

run_ok "crictl pull of the artifact" -- cri pull "$R/org/llama:v1"
DIG=$(jq -r --arg r "$R/org/llama:v1" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $r) | .digest' "$CRIO_GRAPHROOT/artifacts/index.json")
wait_until "the service imports what CRI-O pulled" 120 -- has_model "$DIG"
assert_eq "$(mvol ls --json | jq -r --arg d "$DIG" '.models[] | select(.digest == $d) | .names | length')" 0 "unnamed"
imports=$(metric 'modelvol_imports_total{outcome="ok"}')

crio_pod p1
crio_image_mount_config "$T/c1.json" c1 'cd /model && find . -type f | sort | xargs sha256sum; sleep 600' "$R/org/llama:v1" /model
crio_run "$CRIO_POD" "$T/c1.json"
assert_eq "$LAST_RC" 0 "the first container starts"
C1=$LAST_CTR
for _ in $(seq 1 100); do [ -n "$(cri logs "$C1" 2>/dev/null)" ] && break; sleep 0.1; done
check "with the model, byte-exact" -- bash -c 'diff <(cd "$1" && find . -type f | sort | xargs sha256sum) <(echo "$2")' _ "$T/exp" "$(cri logs "$C1" 2>/dev/null)"
assert_eq "$(metric 'modelvol_imports_total{outcome="ok"}')" "$imports" "warm: the hook imported nothing"
assert_eq "$(metric 'modelvol_mounts_total{kind="hook",outcome="ok"}')" 1 "the hook mounted it"

run_ok "prune while the container runs" -- mvol prune
check "keeps the model in use" -- has_model "$DIG"
crio_rm -f "$C1"
run_ok "crictl rmi of the artifact" -- cri rmi "$R/org/llama:v1"
check "CRI-O's artifact store no longer lists it" -- bash -c '! grep -q "$1" "$2"' _ "${DIG#sha256:}" "$CRIO_GRAPHROOT/artifacts/index.json"
run_ok "modelvol prune after the container and the artifact are gone" -- mvol prune
check "reclaims the model" -- lacks_model "$DIG"
sleep 5   # two of the service's ticks
check "and the service does not bring it back" -- lacks_model "$DIG"
check "the service is still running" -- kill -0 "$WATCH_PID"
kill -TERM "$WATCH_PID"
wrc=0
wait "$WATCH_PID" || wrc=$?
assert_eq "$wrc" 0 "the service exits 0 on SIGTERM"

finish
