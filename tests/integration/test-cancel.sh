#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# SIGINT and SIGTERM during an import cancel it cleanly: exit 1 with one line, no model, no
# leftover in tmp/, fsck clean, and the next import completes (reusing committed layers).
#
# The signal must land while the import is provably running, never after it won a race: the
# layout is served through eiofs (tests/lib/eiofs.c) with --hold, so that the importer's read
# of the middle of the last layer blocks until the test has sent the signal; only then is the
# read let through, and the import must notice the cancellation and stop.
if [ -z "${MODELVOL_CANCEL_NS:-}" ] && [ "$(id -u)" = 0 ]; then
  MODELVOL_CANCEL_NS=1 exec unshare --mount --propagation private bash "$0" "$@"
fi
. "$(dirname "$0")/../lib/common.sh"
. "$TESTS_LIB/eiofs.sh"

mkmodel preset big --size-mb 64 --layers 4 --seed cancel --out "$T/big" --ref v1 --expect "$T/exp" \
  --info "$T/big.json" >/dev/null
# The largest layer blob, held at its middle.
blob=$(jq -r '[.layers[]] | max_by(.size) | .digest' "$T/big.json")
size=$(jq -r '[.layers[]] | max_by(.size) | .size' "$T/big.json")
rel=blobs/sha256/${blob#sha256:}
MNT=$T/mnt
mkdir -p "$MNT"
run_ok "create the store" -- mvol df
for sig in INT TERM; do
  rc=0
  rm -f "$T/release"
  eio_mount "$T/big" "$MNT" --file "$rel" --offset $((size / 2)) --hold "$T/release"
  "$MODELVOL" --root "$ROOT" import "oci:$MNT:v1" >"$T/out" 2>"$T/err" &
  pid=$!
  held_in_the_middle() { # the held read is waiting
    for _ in $(seq 600); do
      grep -q '^HOLD read' "$T/eio.log" && return 0
      kill -0 "$pid" 2>/dev/null || return 1
      sleep 0.05
    done
    return 1
  }
  check "SIG$sig: the import is held in the middle of layer $blob" -- held_in_the_middle
  kill -s "$sig" "$pid"
  sleep 0.2
  check "SIG$sig: the import is still running at the signal" -- kill -0 "$pid"
  touch "$T/release"
  wait "$pid" || rc=$?
  eio_umount
  assert_eq "$rc" 1 "SIG$sig: the import exits 1"
  assert_eq "$(error_lines "$T/err" | wc -l)" 1 "SIG$sig: with one error line"
  assert_eq "$(tail -n 1 "$T/err")" "$(error_lines "$T/err")" "SIG$sig: after any progress lines"
  assert_match "$(error_lines "$T/err")" "[Cc]ancel" "SIG$sig: saying it was cancelled"
  assert_eq "$(model_count)" 0 "SIG$sig: no model is visible"
  assert_eq "$(find "$ROOT/tmp" -mindepth 1 | wc -l)" 0 "SIG$sig: nothing left in tmp/"
  run_ok "SIG$sig: fsck clean" -- mvol fsck
  # Layers committed before the signal are kept for the next import, and prune reclaims them.
  run_ok "SIG$sig: prune" -- mvol prune
done
run_ok "the next import completes (one layer at a time)" -- mvol import --jobs 1 "oci:$T/big:v1"
run_ok "path" -- mvol path "$LAST_STDOUT"
assert_tree_eq "$LAST_STDOUT" "$T/exp" "byte-exact"

finish
