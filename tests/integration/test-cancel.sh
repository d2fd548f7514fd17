#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# SIGINT and SIGTERM during an import cancel it cleanly: exit 1 with one line, no model, no
# leftover in tmp/, fsck clean, and the next import completes (reusing committed layers).
. "$(dirname "$0")/../lib/common.sh"

mkmodel preset big --size-mb 400 --layers 4 --seed cancel --out "$T/big" --ref v1 --expect "$T/exp" >/dev/null
run_ok "create the store" -- mvol df
for sig in INT TERM; do
  rc=0
  "$MODELVOL" --root "$ROOT" import "oci:$T/big:v1" >"$T/out" 2>"$T/err" &
  pid=$!
  # Wait until the import has started writing, then signal it.
  for _ in $(seq 200); do
    [ -n "$(find "$ROOT/tmp" -mindepth 1 -maxdepth 1 2>/dev/null | head -1)" ] && break
    sleep 0.01
  done
  kill -s "$sig" "$pid" 2>/dev/null || true
  wait "$pid" || rc=$?
  if [ "$rc" = 0 ]; then
    tap_ok "SIG$sig: the import finished before the signal (nothing to check)"
    run_ok "SIG$sig: remove it for the next round" -- mvol rm "$(cat "$T/out")"
    run_ok "SIG$sig: prune" -- mvol prune
    continue
  fi
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
