#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The modelvol.io/mounts annotation with runc: a stored model by name (whole and subPath), a
# model pulled by the hook from a registry on the allowlist, and every refusal: a registry
# off the allowlist, annotation pulls off, unknown models and hostile values (relative, "..",
# "/", /proc, /sys, /dev, NUL, huge, bad JSON, unknown keys, bad subPath), pull limits from
# [registries] (a bad value; a registry that trickles ends on the timeout). A refusal fails
# container creation with the hook's one line, mounts nothing and pulls nothing. The fast
# path: no annotation, no output, success. OCI state on stdin: oversized, malformed, a dead
# pid, a host process: clear errors.
. "$(dirname "$0")/../lib/common.sh"
. "$TESTS_LIB/registry.sh"
. "$TESTS_LIB/container.sh"

registry_start "$T/reg" >/dev/null
R=$REGISTRY
cat >"$T/registries.conf" <<EOF
[[registry]]
location = "$R"
insecure = true
EOF
CONF=$T/modelvol.conf
write_conf() {
  cat >"$CONF" <<EOF
[store]
root=$ROOT
[hook]
annotation-pulls=$1
pull-allowlist=$2
[registries]
conf=$T/registries.conf
${3:-}
EOF
}
write_conf allowlist "$R/org/allowed;registry.invalid"

mkmodel preset shared --variant a --seed ann --out "$T/la" --ref v1 --expect "$T/exp-a" >/dev/null
mkmodel preset shared --variant b --seed ann --out "$T/lb" --ref v1 --expect "$T/exp-b" >/dev/null
run_ok "push model a" -- ocipush "oci:$T/la:v1" "$R/org/stored:v1"
run_ok "push model b (allowed org)" -- ocipush "oci:$T/lb:v1" "$R/org/allowed/b:v1"
run_ok "push model b elsewhere" -- ocipush "oci:$T/lb:v1" "$R/other/b:v1"
run_ok "operator pulls model a" -- mvol pull --tls-verify=false "$R/org/stored:v1"

# shellcheck disable=SC2016
LIST='for d in "$@"; do (cd "$d" && find . -type f | sort | while read -r f; do echo "$d $(sha256sum "$f")"; done); done; touch /data/a/x 2>&1 | grep -q "Read-only" && echo EROFS'
expected() { (cd "$2" && find . -type f | sort | while read -r f; do echo "$1 $(sha256sum "$f")"; done); }

annotated_bundle() { # DIR JSON SCRIPT
  make_bundle "$1" "$3"
  bundle_jq "$1" '.annotations["modelvol.io/mounts"] = $a' --arg a "$2"
  bundle_add_hook "$1" "$CONF"
}

before=$(host_mounts)
annotated_bundle "$T/b1" "[{\"ref\": \"$R/org/stored:v1\", \"path\": \"/data/a\"}, {\"ref\": \"$R/org/stored:v1\", \"path\": \"/data/w\", \"subPath\": \"weights\"}]" "set -- /data/a /data/w; $LIST"
ctr_run "$T/b1" mv-ann-1
assert_eq "$LAST_RC" 0 "a container asking for a stored model runs"
{ expected /data/a "$T/exp-a"; (cd "$T/exp-a/weights" && find . -type f | sort | while read -r f; do echo "/data/w $(sha256sum "$f")"; done); echo EROFS; } >"$T/want1"
check "the model and its subPath are mounted byte-exact and read-only" -- diff -u "$T/want1" <(echo "$LAST_STDOUT")

annotated_bundle "$T/b2" "[{\"ref\": \"$R/org/allowed/b:v1\", \"path\": \"/data/a\"}]" "set -- /data/a; $LIST"
ctr_run "$T/b2" mv-ann-2
assert_eq "$LAST_RC" 0 "a model from an allowlisted registry path is pulled and mounted"
check "the pulled model is byte-exact" -- diff -u <(expected /data/a "$T/exp-b"; echo EROFS) <(echo "$LAST_STDOUT")
run_ok "it is stored under its name" -- mvol inspect "$R/org/allowed/b:v1"

# config.json holds uint64 values (RLIM_INFINITY) beyond what the strict integer rule of
# registry documents allows: the hook reads no number there and lets them pass.
annotated_bundle "$T/b3" "[{\"ref\": \"$R/org/stored:v1\", \"path\": \"/data/a\"}]" 'cat /data/a/config.json >/dev/null && echo MOUNTED'
python3 - "$T/b3/config.json" <<'PY'  # jq would turn the integer into a float
import json, sys
c = json.load(open(sys.argv[1]))
c["process"]["rlimits"] = [{"type": "RLIMIT_CORE", "hard": 18446744073709551615, "soft": 0}]
json.dump(c, open(sys.argv[1], "w"))
PY
check "the bundle holds a uint64 rlimit" -- grep -q 18446744073709551615 "$T/b3/config.json"
ctr_run "$T/b3" mv-ann-3
assert_eq "$LAST_RC/$LAST_STDOUT" "0/MOUNTED" "a config.json with RLIM_INFINITY rlimits gets its model mounted"

hook_refuses() { # DESC PATTERN JSON
  local desc=$1 pat=$2 json=$3 id
  id=mv-ann-bad-$((TESTS_RUN + 1))
  annotated_bundle "$T/bad" "$json" 'echo STARTED'
  ctr_run "$T/bad" "$id"
  if [ "$LAST_RC" -ne 0 ] && ! grep -q STARTED <<<"$LAST_STDOUT" \
    && grep -q "stderr: modelvol-hook: .*$pat" <<<"$LAST_STDERR"; then
    tap_ok "$desc: the container does not start; the hook says /$pat/"
  else
    tap_not_ok "$desc"
    diag "exit $LAST_RC" "stdout: $LAST_STDOUT" "stderr: $LAST_STDERR"
  fi
  rm -rf "$T/bad"
}

hook_refuses "a registry path off the allowlist" "not on \[hook\] pull-allowlist" "[{\"ref\": \"$R/other/b:v1\", \"path\": \"/m\"}]"
hook_refuses "an unknown model" "not in the store" "[{\"ref\": \"$R/org/stored:nope\", \"path\": \"/m\"}]"
write_conf off "$R/org/allowed"
hook_refuses "annotation pulls off" "may not pull" "[{\"ref\": \"$R/org/allowed/b:v2\", \"path\": \"/m\"}]"
write_conf allowlist "$R/org/allowed"
check "nothing was pulled for the refused ones" -- bash -c '! "$@" inspect "$1" 2>/dev/null' _ "$R/other/b:v1" "$MODELVOL" --root "$ROOT"
S=$R/org/stored:v1
hook_refuses "a relative path" "is not absolute" "[{\"ref\": \"$S\", \"path\": \"data/m\"}]"
hook_refuses "a path with .." "path '/data/../etc' is not normalized" "[{\"ref\": \"$S\", \"path\": \"/data/../etc\"}]"
hook_refuses "a non-normalized path" "" "[{\"ref\": \"$S\", \"path\": \"/data//m\"}]"
hook_refuses "the root" "is the container's root" "[{\"ref\": \"$S\", \"path\": \"/\"}]"
hook_refuses "/proc" "under /proc" "[{\"ref\": \"$S\", \"path\": \"/proc/m\"}]"
hook_refuses "/sys" "under /sys" "[{\"ref\": \"$S\", \"path\": \"/sys\"}]"
hook_refuses "/dev" "under /dev" "[{\"ref\": \"$S\", \"path\": \"/dev/shm/m\"}]"
hook_refuses "a NUL in the path" "NUL" "[{\"ref\": \"$S\", \"path\": \"/data\\u0000/../../etc\"}]"
hook_refuses "a newline in the path" "" "[{\"ref\": \"$S\", \"path\": \"/data\\n/m\"}]"
hook_refuses "a huge value" "larger than" "[{\"ref\": \"$S\", \"path\": \"/$(head -c 70000 /dev/zero | tr '\0' a)\"}]"
hook_refuses "a long path" "" "[{\"ref\": \"$S\", \"path\": \"/$(head -c 5000 /dev/zero | tr '\0' a)\"}]"
hook_refuses "not JSON" "not a JSON array" '[{"ref": '
hook_refuses "an unknown key" "unknown key 'readOnly'" "[{\"ref\": \"$S\", \"path\": \"/m\", \"readOnly\": false}]"
hook_refuses "a missing path" "needs string" "[{\"ref\": \"$S\"}]"
hook_refuses "a subPath with .." "subPath" "[{\"ref\": \"$S\", \"path\": \"/m\", \"subPath\": \"../x\"}]"
hook_refuses "a subPath not in the model" "subPath 'nope'" "[{\"ref\": \"$S\", \"path\": \"/m\", \"subPath\": \"nope\"}]"
hook_refuses "a bad reference" "" "[{\"ref\": \"UPPER/Case:v1\", \"path\": \"/m\"}]"

# Pull limits in [registries]: refused by name when they make no sense; a timeout ends a pull
# from a registry that trickles (2000 B/s, above the low-speed limit) instead of holding up
# the container's creation.
write_conf allowlist "$R/org/allowed" "timeout=soon"
hook_refuses "a bad [registries] timeout" "\[registries\] timeout must be a whole number" "[{\"ref\": \"$S\", \"path\": \"/m\"}]"
mkmodel preset big --size-mb 1 --layers 1 --seed slowhook --out "$T/lc" --ref v1 >/dev/null
run_ok "push model c" -- ocipush "oci:$T/lc:v1" "$R/org/allowed/c:v1"
echo '[{"match": "/blobs/", "method": "GET", "actions": ["throttle:2000"]}]' >"$T/trickle.json"
: >"$T/trickle.log"
faultproxy TP "$R" "$T/trickle.json" "$T/trickle.log"
printf '[[registry]]\nlocation = "%s"\ninsecure = true\n' "$TP" >>"$T/registries.conf"
write_conf allowlist "$TP/org/allowed" "timeout=2"
start=$SECONDS
hook_refuses "a registry that trickles, [registries] timeout=2" "not done by the overall deadline" "[{\"ref\": \"$TP/org/allowed/c:v1\", \"path\": \"/m\"}]"
check "the timeout ended it within 20 s (took $((SECONDS - start)) s)" -- test $((SECONDS - start)) -lt 20
write_conf allowlist "$R/org/allowed"
assert_eq "$(host_mounts)" "$before" "the host's mount table is unchanged"
check "no use record is left behind" -- bash -c '! ls "$1"/run/uses/*/mv-ann-* 2>/dev/null' _ "$ROOT"

# The fast path: nothing of ours, nothing done, nothing said.
make_bundle "$T/plain" 'echo plain'
bundle_add_hook "$T/plain" "$CONF"
ctr_run "$T/plain" mv-ann-plain
assert_eq "$LAST_RC/$LAST_STDOUT" "0/plain" "a container with nothing for the hook runs untouched"
state='{"ociVersion": "1.0.2", "id": "x", "status": "creating", "pid": 1, "bundle": "/nonexistent"}'
expect_exit 0 "the hook's no-op path on a bare state" -- bash -c '"$1" --config "$2" createRuntime <<<"$3"' _ "$MODELVOL_HOOK" "$CONF" "$state"
assert_eq "$LAST_STDERR$LAST_STDOUT" "" "and says nothing"

# The OCI state itself.
mkdir -p "$T/sb"
jq -n --arg a "[{\"ref\": \"$S\", \"path\": \"/m\"}]" '{root: {path: "rootfs"}, mounts: [], annotations: {"modelvol.io/mounts": $a}}' >"$T/sb/config.json"
hook_state() { # PID
  jq -n --arg b "$T/sb" --arg a "[{\"ref\": \"$S\", \"path\": \"/m\"}]" --argjson p "$1" \
    '{ociVersion: "1.0.2", id: "state-test", status: "creating", pid: $p, bundle: $b, annotations: {"modelvol.io/mounts": $a}}'
}
expect_fail 1 'modelvol-hook: .*larger than the limit' "an oversized state" -- \
  bash -c 'head -c 2000000 /dev/zero | tr "\0" " " | "$1" --config "$2" createRuntime' _ "$MODELVOL_HOOK" "$CONF"
expect_fail 1 'modelvol-hook: the OCI state is not valid JSON' "a malformed state" -- \
  bash -c '"$1" --config "$2" createRuntime <<<"{\"annotations\": {\"modelvol.io/mounts\": " ' _ "$MODELVOL_HOOK" "$CONF"
sleep 0.01 &
dead=$!
wait $dead
expect_fail 1 "modelvol-hook: container process $dead is gone" "a dead pid" -- \
  bash -c '"$1" --config "$2" createRuntime <<<"$3"' _ "$MODELVOL_HOOK" "$CONF" "$(hook_state $dead)"
sleep 30 &
CLEANUP_PIDS+=($!)
expect_fail 1 "modelvol-hook: process $! has no mount namespace of its own" "a host process" -- \
  bash -c '"$1" --config "$2" createRuntime <<<"$3"' _ "$MODELVOL_HOOK" "$CONF" "$(hook_state $!)"
assert_eq "$(host_mounts)" "$before" "the host's mount table is still unchanged"

finish
