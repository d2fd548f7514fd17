#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The sandboxed unpacker (SECURITY-BAR 25, 26): tar layers are parsed by modelvol-unpack, a
# child running as nobody with no capabilities, no_new_privs and a seccomp filter. A
# deliberately compromised build of it (tests only, MODELVOL_TEST_UNPACK_EVIL) that opens
# /etc/shadow, writes a host file, execs, opens a socket, mounts or ptraces is denied or
# killed; a crash, a hang (watchdog) and a kill -9 from outside surface as one clear error; one
# that lies about where a plain tar member's data lies, or about a compressed layer's diffID,
# is refused;
# nothing is committed, no process is left, the host is unchanged, and the next import works.
. "$(dirname "$0")/../lib/common.sh"

EVIL=${MODELVOL_UNPACK_EVIL:-$(dirname "$MODELVOL")/../storage/modelvol-unpack-evil}
if [ ! -x "$EVIL" ]; then
  skip_all "$EVIL not built (tests disabled?)"
fi
mkmodel preset all-kinds --out "$T/l" --ref v1 --expect "$T/exp" >/dev/null
mounts_before=$(awk '{print $5}' /proc/self/mountinfo | sort)
rm -f /tmp/modelvol-unpack-escape

evil() { # MODE CMD...: runs CMD with the compromised unpacker in MODE
  local mode=$1
  shift
  MODELVOL_TEST_UNPACK_HELPER=$EVIL MODELVOL_TEST_UNPACK_EVIL=$mode "$@"
}

# Denied with an errno: the unpacker carries on, having got nothing.
run_ok "an unpacker that opens /etc/shadow is denied (and the import goes on)" -- \
  evil open "$MODELVOL" --root "$ROOT" import "oci:$T/l:v1"
check "it never reported reading /etc/shadow" -- bash -c '! grep -q shadow <<<"$1"' _ "$LAST_STDERR"
run_ok "an unpacker that writes a host file is denied" -- evil write-host "$MODELVOL" --root "$ROOT" import "oci:$T/l:v1"
run_ok "remove the model" -- mvol rm "$LAST_STDOUT"
run_ok "prune its layers" -- mvol prune
check "no file appeared on the host" -- test ! -e /tmp/modelvol-unpack-escape

# Killed by the filter: the import fails with one line, and nothing is stored.
for mode in exec socket mount ptrace; do
  expect_fail 1 "unpacker: killed by signal 31 \(a forbidden system call\)" "an unpacker that calls $mode is killed" -- \
    evil $mode "$MODELVOL" --root "$ROOT" import "oci:$T/l:v1"
  assert_eq "$(model_count)" 0 "$mode: no model is stored"
done
# (SIGSEGV; under ASan its report ends in abort(), which the filter turns into SIGSYS.)
expect_fail 1 "unpacker: killed by signal (11|31)" "an unpacker that crashes" -- evil crash "$MODELVOL" --root "$ROOT" import "oci:$T/l:v1"
assert_eq "$(model_count)" 0 "crash: no model is stored"

# A plain tar in a local layout is read by the child itself, which only says where each
# member's data lies ('F' frames); the bytes come from the blob. A child that lies about where
# (outside the layer, backwards over what came before, not the entry's size, or shifted, which
# the digest of the tar headers it read shows) is refused, and nothing is stored.
cat >"$T/by-offset.json" <<'JSON'
{"family": "cncf", "ref": "t/by-offset:v1", "layers": [
  {"kind": "weight", "format": "tar", "path": "w", "entries": [
    {"name": "small.bin", "content": {"random": 70000, "seed": "s"}},
    {"name": "big.bin", "content": {"random": 5000000, "seed": "b"}}]}]}
JSON
mkmodel build --spec "$T/by-offset.json" --out "$T/bo" --ref v1 --expect "$T/bo-exp" >/dev/null
for lie in "offset-outside:member data at offset [0-9]+ \([0-9]+ bytes\) lies outside the layer" \
  "offset-back:member data at offset 0 overlaps what came before" \
  "offset-length:unpacker: malformed frame" \
  "offset-shift:tar headers read by the unpacker are not the bytes read here"; do
  expect_fail 1 "${lie#*:}" "an unpacker that lies about member offsets (${lie%%:*}) is refused" -- \
    evil "${lie%%:*}" "$MODELVOL" --root "$ROOT" import "oci:$T/bo:v1"
  assert_eq "$(model_count)" 0 "${lie%%:*}: no model is stored"
done
# Only the child sees a compressed layer's decompressed stream: it reports the stream's digest
# in its end frame, and the parent holds that against the config's diffIds. A child that
# misreports it has the layer refused.
expect_fail 1 "the layer's uncompressed content is sha256:[0-9a-f]{64}, but the config's modelfs\.diffIds\[[0-9]+\] is" \
  "an unpacker that misreports a compressed layer's diffID is refused" -- \
  evil diff-id "$MODELVOL" --root "$ROOT" import "oci:$T/l:v1"
assert_eq "$(model_count)" 0 "diff-id: no model is stored"
run_ok "fsck is clean after the lies" -- mvol fsck
run_ok "the real unpacker imports the same layout" -- mvol import "oci:$T/bo:v1"
bo=$LAST_STDOUT
run_ok "path" -- mvol path "$bo"
assert_tree_eq "$LAST_STDOUT" "$T/bo-exp" "and its tree is byte-exact"
run_ok "remove it" -- mvol rm "$bo"
run_ok "prune its layer" -- mvol prune

# A hung unpacker: the watchdog stops it. Meanwhile, its confinement is visible in /proc.
printf '[limits]\nunpack-timeout=3\n' >"$T/short-watchdog.conf"
MODELVOL_CONFIG=$T/short-watchdog.conf MODELVOL_TEST_UNPACK_HELPER=$EVIL MODELVOL_TEST_UNPACK_EVIL=hang "$MODELVOL" --root "$ROOT" import "oci:$T/l:v1" >"$T/hang.out" 2>"$T/hang.err" &
imp=$!
CLEANUP_PIDS+=("$imp")
child=
for _ in $(seq 100); do
  child=$(pgrep -n -P "$imp" -x modelvol-unpack || true) # comm: 15 bytes of modelvol-unpack-evil
  [ -n "$child" ] && break
  sleep 0.05
done
if [ -n "$child" ]; then
  # Right after the spawn it is still setting itself up: wait for the filter.
  for _ in $(seq 100); do
    st=$(cat "/proc/$child/status" 2>/dev/null || true)
    grep -Eq '^Seccomp:\s+2' <<<"$st" && break
    sleep 0.02
  done
  diag "$(grep -E '^(Uid|Gid|CapEff|CapBnd|NoNewPrivs|Seccomp):' <<<"$st" | tr '\t' ' ')"
  check "the unpacker runs as nobody" -- grep -Eq '^Uid:\s+65534\s+65534\s+65534' <<<"$st"
  check "with no capabilities, not even in its bounding set" -- grep -Eq "^CapBnd:\s+0+$" <<<"$st"
  check "with no_new_privs" -- grep -Eq '^NoNewPrivs:\s+1' <<<"$st"
  check "under a seccomp filter" -- grep -Eq '^Seccomp:\s+2' <<<"$st"
  check "in a network namespace of its own" -- bash -c '[ "$(readlink /proc/$1/ns/net)" != "$(readlink /proc/self/ns/net)" ]' _ "$child"
  check "with only stdin, stdout and stderr open" -- bash -c '[ "$(ls /proc/$1/fd | sort | tr "\n" " ")" = "0 1 2 " ]' _ "$child"
else
  tap_not_ok "the hung unpacker was found"
fi
rc=0
wait "$imp" || rc=$?
CLEANUP_PIDS=()
assert_eq "$rc" 1 "a hung unpacker fails the import"
check "with one line naming the watchdog" -- grep -q 'unpacker: no progress for 3 s' "$T/hang.err"
check "and the child is gone" -- bash -c '[ "$1" -gt 0 ] && { ! kill -0 "$1" 2>/dev/null || grep -q "^State:.*Z" "/proc/$1/status"; }' _ "${child:-0}"

# The real unpacker killed from outside mid-layer.
"$MODELVOL" --root "$ROOT" import "oci:$T/l:v1" >/dev/null 2>&1 &
imp=$!
CLEANUP_PIDS+=("$imp")
for _ in $(seq 200); do
  pkill -9 -P "$imp" -x modelvol-unpack && break
  sleep 0.005
done
rc=0
wait "$imp" || rc=$?
CLEANUP_PIDS=()
diag "import with its unpacker killed: exit $rc"
check "a kill -9 of the unpacker never leaves a model half-stored" -- bash -c '[ "$1" -ne 0 ] || "${@:2}" fsck >/dev/null' _ "$rc" "$MODELVOL" --root "$ROOT"
run_ok "fsck is clean" -- mvol fsck

assert_eq "$(awk '{print $5}' /proc/self/mountinfo | sort)" "$mounts_before" "the host's mount table is unchanged"
check "no unpacker process of ours is left" -- bash -c '! pgrep -f "modelvol-unpack.*" -P 1 -u 65534 -n >/dev/null || ! pgrep -x modelvol-unpack -g "$1" >/dev/null' _ "$$"
run_ok "the next import works" -- mvol import "oci:$T/l:v1"
run_ok "path" -- mvol path "$LAST_STDOUT"
assert_tree_eq "$LAST_STDOUT" "$T/exp" "and the tree is byte-exact"

# On a CPU without the SHA extensions the child hashes with libcrypto, set up before the
# filter: the compressed layers' diffIDs still come out right (all-kinds has tar+gzip and
# tar+zstd layers, and a config listing their uncompressed digests).
new_root
run_ok "libcrypto's SHA-256 in the filtered child gives the right diffIDs" -- \
  env MODELVOL_TEST_NO_SHA_EXT=1 "$MODELVOL" --root "$ROOT" import "oci:$T/l:v1"
run_ok "path" -- mvol path "$LAST_STDOUT"
assert_tree_eq "$LAST_STDOUT" "$T/exp" "and the tree is byte-exact"

finish
