#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Models that pods ask for by name, through the real CRI-O: the modelvol.io/mounts annotation
# on the pod (CRI-O copies sandbox annotations into each container's spec, where hooks.d's
# `when.annotations` matches it) and on the container; and CDI devices from `modelvol cdi
# generate`, by the CRI CDIDevices field and by a cdi.k8s.io/ annotation (CRI-O's own CDI).
# Bytes are exact, mounts read-only, use records go when the container goes, a model that is
# not in the store fails creation with the hook's one line, and so does a stored model whose
# signature verdict the policy in force no longer accepts (audit mode mounts it).
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

# Signatures: before it mounts a stored model, the hook checks the verdict the model's pull
# left against the policy in force now ([signatures] of its modelvol.conf, read at each
# container creation). The signature is hand-made (tests/lib/sigforge.py, python3-cryptography):
# test-signatures.sh covers cosign's own.
for k in k1 k2; do
  openssl ecparam -name prime256v1 -genkey -noout 2>/dev/null | openssl pkcs8 -topk8 -nocrypt -out "$T/$k.pem"
  openssl pkey -in "$T/$k.pem" -pubout -out "$T/$k.pub" 2>/dev/null
done
mkdir -p "$T/registries.d"
printf 'default-docker:\n  use-sigstore-attachments: true\n' >"$T/registries.d/default.yaml"
for k in k1 k2; do
  jq -n --arg r "$R" --arg key "$T/$k.pub" '{default: [{type: "insecureAcceptAnything"}],
    transports: {docker: {($r + "/org/signed"): [{type: "sigstoreSigned", keyPath: $key,
      signedIdentity: {type: "matchRepository"}}]}}}' >"$T/policy-$k.json"
done
mkmodel preset shared --variant a --seed crio-ann --out "$T/ls" --ref v1 >/dev/null
ds=$(ocipush "oci:$T/ls:v1" "$R/org/signed:v1")
run_ok "sigforge signs org/signed with k1" -- python3 "$TESTS_LIB/sigforge.py" good --form simple --key "$T/k1.pem" "$R/org/signed@$ds"
run_ok "modelvol pull of the signed model under the k1 policy" -- \
  mvol pull --tls-verify=false --policy "$T/policy-k1.json" --registries-d "$T/registries.d" "$R/org/signed:v1"
cp "$CRIO_MODELVOL_CONF" "$T/modelvol.conf.base"
sig_conf() { # POLICY [MODE]
  { cat "$T/modelvol.conf.base"; printf '[signatures]\npolicy=%s\nregistries-d=%s\n' "$1" "$T/registries.d"
    [ -z "${2:-}" ] || printf 'mode=%s\n' "$2"; } >"$CRIO_MODELVOL_CONF"
}
sann=$(jq -cn --arg r "$R/org/signed:v1" '[{ref: $r, path: "/models/llama"}]')
sig_ctr() { # NAME: a container of $CRIO_POD that mounts org/signed by annotation
  crio_ctr_config "$T/$1.json" "$1" x ".annotations[\"modelvol.io/mounts\"] = $(jq -Rn --arg a "$sann" '$a')"
  jq --arg s "$REPORT" '.command = ["/bin/sh", "-c", $s, "/models/llama"]' "$T/$1.json" >"$T/$1.j" && mv "$T/$1.j" "$T/$1.json"
  crio_run "$CRIO_POD" "$T/$1.json"
}
sig_conf "$T/policy-k1.json"
sig_ctr s1
assert_eq "$LAST_RC" 0 "a model whose stored verdict satisfies the policy in force starts"
[ "$LAST_RC" = 0 ] || diag "$LAST_STDERR"
report_ok "signed model"
crio_rm "$LAST_CTR"
sig_conf "$T/policy-k2.json"
before=$(cri ps -a -q | sort)
sig_ctr s2
check "the policy now names another key: creation fails" -- test "$LAST_RC" != 0
line="modelvol-hook: .*$(re_escape "$R/org/signed:v1"): policy $(re_escape "$T/policy-k2.json") \(scope $(re_escape "$R/org/signed")\) needs a signature the stored verdict does not give"
check "with modelvol-hook's line naming the model, the policy and the scope" -- grep -Eq "$line" <<<"$LAST_STDERR"
check "and the line is in CRI-O's log" -- grep -Eq "$line" "$CRIO_LOG"
assert_eq "$(cri ps -a -q | sort)" "$before" "no container is left"
assert_eq "$(uses)" 0 "and no use record"
sig_conf "$T/policy-k2.json" audit
# The warning goes to syslog (a runtime drops a successful hook's stderr). Where this machine
# has no syslog socket, the test listens on /dev/log for the while (and removes it again).
syslog_own=
if [ ! -e /dev/log ]; then
  syslog_own=1
  CLEANUP_FILES+=(/dev/log)
  python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/dev/log")
print("ready", flush=True)
with open(sys.argv[1], "a") as log:
    while True:
        log.write(s.recv(65536).decode(errors="replace") + "\n")
        log.flush()' "$T/syslog" >"$T/syslog.ready" &
  SYSLOG_PID=$!
  CLEANUP_PIDS+=("$SYSLOG_PID")
  for _ in $(seq 50); do [ -s "$T/syslog.ready" ] && break; sleep 0.1; done
fi
sig_ctr s3
assert_eq "$LAST_RC" 0 "in audit mode the hook mounts it anyway"
[ "$LAST_RC" = 0 ] || diag "$LAST_STDERR"
if [ -n "$syslog_own" ]; then
  kill "$SYSLOG_PID" 2>/dev/null || true
  wait "$SYSLOG_PID" 2>/dev/null || true
  rm -f /dev/log
  check "and says so in syslog, naming the model and the policy" -- \
    grep -q "modelvol-hook\[[0-9]*\]: warning: audit mode: mounting $R/org/signed:v1 although .*policy-k2.json" "$T/syslog"
else
  tap_skip "the audit warning in syslog: this machine has its own /dev/log"
fi
report_ok "audit mode"
crio_rm "$LAST_CTR"

# The hook's own pulls (annotation-pulls from the allowlist) are checked before anything is
# stored: an unsigned model the policy wants signed fails creation, and stays out of the store.
mkmodel preset shared --variant b --seed crio-ann-u --out "$T/lu" --ref v1 >/dev/null
ocipush "oci:$T/lu:v1" "$R/org/unsigned:v1" >/dev/null
jq -n --arg r "$R" --arg key "$T/k1.pub" '{default: [{type: "reject"}],
  transports: {docker: {($r + "/org"): [{type: "sigstoreSigned", keyPath: $key,
    signedIdentity: {type: "matchRepository"}}]}}}' >"$T/policy-org.json"
printf '[[registry]]\nlocation = "%s"\ninsecure = true\n' "$R" >"$T/registries.conf"
sig_conf "$T/policy-org.json"
printf '[hook]\nannotation-pulls=allowlist\npull-allowlist=%s\n[registries]\nconf=%s\n' "$R/org" "$T/registries.conf" >>"$CRIO_MODELVOL_CONF"
sann=$(jq -cn --arg r "$R/org/unsigned:v1" '[{ref: $r, path: "/models/llama"}]')
before=$(cri ps -a -q | sort)
sig_ctr s4
check "the hook's pull of an unsigned model: creation fails" -- test "$LAST_RC" != 0
line="modelvol-hook: .*$(re_escape "$R/org/unsigned:v1"): refused by signature policy $(re_escape "$T/policy-org.json") \(scope $(re_escape "$R/org")\): no cosign signature"
check "with the refusal line, in CRI-O's log" -- grep -Eq "$line" "$CRIO_LOG"
assert_eq "$(cri ps -a -q | sort)" "$before" "no container is left"
expect_fail 1 "org/unsigned:v1" "and the model is not in the store" -- mvol inspect "$R/org/unsigned:v1"
sann=$(jq -cn --arg r "$R/org/signed:v1" '[{ref: $r, path: "/models/llama"}]')
cp "$T/modelvol.conf.base" "$CRIO_MODELVOL_CONF"

finish
