#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Models that pods ask for by name, through the real CRI-O: the modelvol.io/mounts annotation
# on the pod (CRI-O copies sandbox annotations into each container's spec, where hooks.d's
# `when.annotations` matches it) and on the container; and CDI devices from `modelvol cdi
# generate`, by the CRI CDIDevices field and by a cdi.k8s.io/ annotation (CRI-O's own CDI).
# Bytes are exact, mounts read-only, use records go when the container goes, and a model that
# is not in the store fails creation with the hook's one line.
. "$(dirname "$0")/../lib/common.sh"
. "$TESTS_LIB/registry.sh"
. "$TESTS_LIB/container.sh"
. "$TESTS_LIB/crio.sh"

crio_setup
mkmodel preset shared --variant a --seed crio-ann --out "$T/l" --ref v1 --expect "$T/exp" >/dev/null
ocipush "oci:$T/l:v1" "$R/org/llama:v1" >/dev/null
run_ok "modelvol pull of the model" -- mvol pull --tls-verify=false "$R/org/llama:v1"
crio_start "$T/crio"

# shellcheck disable=SC2016
REPORT='cd "$0" && find . -type f | sort | while read -r f; do echo "F $(sha256sum "$f")"; done; touch x 2>&1 | grep -q "Read-only" && echo EROFS; awk -v p="$0" "\$5 == p {print \"MOUNT \" \$6}" /proc/self/mountinfo'
want=$( (cd "$T/exp" && find . -type f | sort | while read -r f; do echo "F $(sha256sum "$f")"; done); echo EROFS)
report_ok() { # DESC: the last container's report
  crio_wait_exit "$LAST_CTR"
  assert_eq "$(grep -v '^MOUNT' <<<"$LAST_STDOUT")" "$want" "$1: the model, byte-exact and read-only"
  local m
  m=$(grep '^MOUNT ' <<<"$LAST_STDOUT" | tail -n 1 | cut -d' ' -f2)
  check "$1: ro,nosuid,nodev ($m)" -- bash -c '[[ ",$1," == *,ro,* && ",$1," == *,nosuid,* && ",$1," == *,nodev,* ]]' _ "$m"
}
uses() { find "$ROOT/run/uses" -type f 2>/dev/null | wc -l; }
ann=$(jq -cn --arg r "$R/org/llama:v1" '[{ref: $r, path: "/models/llama"}]')

# On the pod: the kubelet passes pod annotations in the sandbox config.
crio_pod pa ".annotations[\"modelvol.io/mounts\"] = $(jq -Rn --arg a "$ann" '$a')"
crio_ctr_config "$T/a1.json" a1 "sleep 0.5; $REPORT"
jq --arg s "$REPORT" '.command = ["/bin/sh", "-c", $s, "/models/llama"]' "$T/a1.json" >"$T/a1.j" && mv "$T/a1.j" "$T/a1.json"
crio_run "$CRIO_POD" "$T/a1.json"
assert_eq "$LAST_RC" 0 "a container of a pod with the annotation starts"
[ "$LAST_RC" = 0 ] || diag "$LAST_STDERR"
CTR=$LAST_CTR
report_ok "pod annotation"
check "a use record while the container exists" -- test "$(uses)" -ge 1
crio_rm "$CTR"
assert_eq "$(uses)" 0 "removing the container drops its use record"

# On the container.
crio_pod pc
crio_ctr_config "$T/a2.json" a2 x ".annotations[\"modelvol.io/mounts\"] = $(jq -Rn --arg a "$ann" '$a')"
jq --arg s "$REPORT" '.command = ["/bin/sh", "-c", $s, "/models/llama"]' "$T/a2.json" >"$T/a2.j" && mv "$T/a2.j" "$T/a2.json"
crio_run "$CRIO_POD" "$T/a2.json"
assert_eq "$LAST_RC" 0 "a container with the annotation starts"
report_ok "container annotation"
crio_rm "$LAST_CTR"

# A model that is not in the store (and not pullable: no such repository).
bad=$(jq -cn --arg r "$R/org/missing:v1" '[{ref: $r, path: "/models/x"}]')
crio_ctr_config "$T/a3.json" a3 'echo STARTED' ".annotations[\"modelvol.io/mounts\"] = $(jq -Rn --arg a "$bad" '$a')"
before=$(cri ps -a -q | sort)
crio_run "$CRIO_POD" "$T/a3.json"
check "a missing model fails creation" -- test "$LAST_RC" != 0
check "with modelvol-hook's line naming it" -- grep -q "modelvol-hook: .*org/missing:v1" <<<"$LAST_STDERR"
check "and the line is in CRI-O's log" -- grep -q "modelvol-hook: .*org/missing:v1" "$CRIO_LOG"
assert_eq "$(cri ps -a -q | sort)" "$before" "no container is left"

# CDI: modelvol cdi generate into CRI-O's cdi_spec_dirs.
run_ok "cdi generate into CRI-O's CDI directory" -- mvol cdi generate --output "$CRIO_DIR/cdi"
DEV=$(sed -n 's|^modelvol.io/model=||p' <<<"$LAST_STDOUT" | head -n 1)
check "one device ($DEV)" -- test -n "$DEV"
crio_ctr_config "$T/d1.json" d1 x ".CDI_devices = [{name: \"modelvol.io/model=$DEV\"}]"
jq --arg s "$REPORT" --arg p "/models/$DEV" '.command = ["/bin/sh", "-c", $s, $p]' "$T/d1.json" >"$T/d1.j" && mv "$T/d1.j" "$T/d1.json"
crio_run "$CRIO_POD" "$T/d1.json"
assert_eq "$LAST_RC" 0 "a container with the CDI device (CRI CDIDevices) starts"
[ "$LAST_RC" = 0 ] || diag "$LAST_STDERR"
report_ok "CDI device"
crio_rm "$LAST_CTR"
crio_ctr_config "$T/d2.json" d2 x ".annotations[\"cdi.k8s.io/modelvol\"] = \"modelvol.io/model=$DEV\""
jq --arg s "$REPORT" --arg p "/models/$DEV" '.command = ["/bin/sh", "-c", $s, $p]' "$T/d2.json" >"$T/d2.j" && mv "$T/d2.j" "$T/d2.json"
crio_run "$CRIO_POD" "$T/d2.json"
assert_eq "$LAST_RC" 0 "a container with the CDI annotation starts"
report_ok "CDI annotation"
crio_rm "$LAST_CTR"

finish
