#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Crash safety (SECURITY-BAR item 27): kill -9 an import of a ~300 MB model at several points in
# time, and a small import at the N-th rename/link syscall (strace inject). After each kill: no
# process of that import is left, fsck is clean, and the model is either absent from ls or
# complete and byte-exact. The next import completes; its staging is swept. Kills at the N-th
# write, fsync, fdatasync, syncfs and unlinkat, and EIO/ENOSPC, are in test-faults.sh.
: "${TEST_TMPDIR:=/var/tmp}"
export TEST_TMPDIR
. "$(dirname "$0")/../lib/common.sh"

SIZE_MB=${CRASH_SIZE_MB:-300}
BIG=localhost:5000/test/big:v1
mkmodel preset big --size-mb "$SIZE_MB" --layers 3 --seed crash --out "$T/big" --ref "$BIG" \
  --expect "$T/exp-big" --info "$T/big.json" >/dev/null
dbig=$(jq -r .manifest "$T/big.json")

now_ms() { date +%s%3N; }

# verify_after_kill DESC DIGEST EXPECT: the invariants after a crash.
verify_after_kill() {
  local desc=$1 digest=$2 exp=$3 present
  run_ok "$desc: fsck clean" -- mvol fsck
  present=$(mvol --json ls | jq --arg d "$digest" '[.models[] | select(.digest == $d)] | length')
  if [ "$present" = 0 ]; then
    tap_ok "$desc: model absent"
    expect_fail 1 '.' "$desc: path of the absent model fails" -- mvol path "$digest"
  else
    run_ok "$desc: model listed, path" -- mvol path "$digest"
    assert_tree_eq "$LAST_STDOUT" "$exp" "$desc: listed model is complete and byte-exact"
  fi
}

# group_left PGID: the processes of a process group still running (zombies are not) after
# up to 5 s: the unpacker children die with the importer (PR_SET_PDEATHSIG), but a loaded
# machine may take a moment to schedule them.
group_left() {
  local left
  for _ in $(seq 50); do
    left=$(ps -e -o pid=,pgid=,stat= | awk -v g="$1" '$2 == g && $3 !~ /^Z/ {printf "%s ", $1}')
    [ -z "$left" ] && break
    sleep 0.1
  done
  echo "$left"
}

# kill_import_after MS DESC REF: starts the import in its own process group, SIGKILLs the
# modelvol process after MS milliseconds, and checks that no process of the group survives.
kill_import_after() {
  local ms=$1 desc=$2 src=$3 pid rc=0 left
  setsid "$MODELVOL" --root "$ROOT" import "$src" >"$T/kill.out" 2>"$T/kill.err" &
  pid=$!
  CLEANUP_PIDS+=("$pid")
  sleep "$(awk -v m="$ms" 'BEGIN {printf "%.3f", m / 1000}')"
  kill -9 "$pid" 2>/dev/null || true
  { wait "$pid"; } 2>/dev/null || rc=$?
  CLEANUP_PIDS=()
  if [ $rc -eq 137 ]; then
    echo "#   $desc: killed after ${ms} ms"
  else
    echo "#   $desc: the import ended by itself before the kill (exit $rc)"
  fi
  # Children of the import (unpacker, decompressor) must not outlive it. A zombie is not
  # running: under ASan, a kill that lands in the exit-time leak check orphans LSan's tracer
  # task, which init reaps in its own time.
  left=$(group_left "$pid")
  if [ -z "$left" ]; then
    tap_ok "$desc: no process of the killed import is left"
  else
    tap_not_ok "$desc: no process of the killed import is left"
    diag "still running in process group $pid: $left" "$(ps -o pid,ppid,stat,args -g "$pid" 2>/dev/null)"
    kill -9 -- "-$pid" 2>/dev/null || true
    sleep 0.2
  fi
}

# kill_when_refs N DESC SRC: SIGKILLs the import as soon as N layer refs exist in the store.
kill_when_refs() {
  local n=$1 desc=$2 src=$3 pid rc=0
  setsid "$MODELVOL" --root "$ROOT" import "$src" >"$T/kill.out" 2>"$T/kill.err" &
  pid=$!
  CLEANUP_PIDS+=("$pid")
  python3 - "$pid" "$ROOT/repo/refs/heads/modelvol/layer/sha256" "$n" <<'PY'
import os, signal, sys, time
pid, d, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
while True:
    try:
        if len([f for f in os.listdir(d) if not f.startswith("tmp")]) >= n:
            os.kill(pid, signal.SIGKILL)
            break
    except FileNotFoundError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        break
    if open(f"/proc/{pid}/stat").read().split()[2] == "Z":
        break
    time.sleep(0.002)
PY
  { wait "$pid"; } 2>/dev/null || rc=$?
  CLEANUP_PIDS=()
  if [ $rc -eq 137 ]; then
    echo "#   $desc: killed with $(ls "$ROOT/repo/refs/heads/modelvol/layer/sha256" | wc -l) layer refs"
  else
    echo "#   $desc: the import ended by itself before the kill (exit $rc)"
  fi
  sleep 0.2
  assert_eq "$(group_left "$pid")" "" "$desc: no process of the killed import is left"
}

drop_root() {
  chmod -R u+w "$ROOT" 2>/dev/null || true
  rm -rf "$ROOT"
}

# --- full imports, for timing and reference --------------------------------------------------------
full_ms=
for i in 1 2; do
  new_root
  t0=$(now_ms)
  run_ok "baseline $i: full import of a ${SIZE_MB} MB model" -- mvol import "oci:$T/big:$BIG"
  ms=$(($(now_ms) - t0))
  echo "# full import $i: $ms ms"
  if [ -z "$full_ms" ] || [ "$ms" -lt "$full_ms" ]; then full_ms=$ms; fi
  assert_eq "$LAST_STDOUT" "$dbig" "baseline $i: digest"
  [ $i = 1 ] && assert_tree_eq "$(mvol path "$BIG")" "$T/exp-big" "baseline: byte-exact"
  drop_root
done

# --- kill -9 at fractions of the full import time, each in a fresh store -------------------------
for pct in 3 10 25 40 55 70 85 95; do
  new_root
  kill_import_after $((full_ms * pct / 100)) "kill at ${pct}%" "oci:$T/big:$BIG"
  verify_after_kill "kill at ${pct}%" "$dbig" "$T/exp-big"
  drop_root
done

# --- kill -9 as soon as the k-th layer ref appears (in the middle of the next layer) -------------
nlayers=$(jq '.layers | length' "$T/big.json")
for k in $(seq 1 $((nlayers - 1))); do
  new_root
  kill_when_refs "$k" "kill after layer ref $k" "oci:$T/big:$BIG"
  verify_after_kill "kill after layer ref $k" "$dbig" "$T/exp-big"
  drop_root
done

# --- repeated kills in one store, each later, then an import that completes ----------------------
new_root
for pct in 30 60 90; do
  kill_import_after $((full_ms * pct / 100)) "store kept, kill at ${pct}%" "oci:$T/big:$BIG"
  verify_after_kill "store kept, kill at ${pct}%" "$dbig" "$T/exp-big"
done
run_ok "after the kills: the next import completes" -- mvol import "oci:$T/big:$BIG"
assert_eq "$LAST_STDOUT" "$dbig" "after the kills: digest"
run_ok "after the kills: path" -- mvol path "$BIG"
assert_tree_eq "$LAST_STDOUT" "$T/exp-big" "after the kills: byte-exact"
check "after the kills: fsck clean" -- mvol fsck
assert_eq "$(find "$ROOT/tmp" -mindepth 1 -maxdepth 1 | head -3)" "" "after the kills: <root>/tmp swept"
assert_eq "$(find "$ROOT/repo" -name '*.commitpartial' | head -3)" "" "after the kills: no .commitpartial left"
echo "# repo/tmp after recovery: $(find "$ROOT/repo/tmp" -mindepth 1 -maxdepth 1 | wc -l) entries"
drop_root
rm -rf "$T/exp-big" "$T/big"

# --- kill -9 at the N-th renameat / linkat (strace inject; counters are per syscall), small model ---
if command -v strace >/dev/null && strace -f -qq -o /dev/null -e trace=getpid true 2>/dev/null; then
  S=localhost:5000/test/small:v1
  mkmodel preset shared --seed crash-small --out "$T/small" --ref "$S" --expect "$T/exp-small" \
    --info "$T/small.json" >/dev/null
  dsmall=$(jq -r .manifest "$T/small.json")
  new_root
  strace -f -qq -o "$T/strace.log" -e trace=renameat,renameat2,linkat "$MODELVOL" --root "$ROOT" \
    import "oci:$T/small:$S" >/dev/null 2>&1 || true
  drop_root
  for sc in renameat linkat renameat2; do
    total=$(grep -c " $sc(" "$T/strace.log" || true)
    echo "# small import: $total $sc calls"
    [ "$total" -gt 0 ] || continue
    # every call when there are few (each ref update is one), else 12 spread out
    points=$(python3 -c 'import sys; t=int(sys.argv[1]); print(" ".join(str(n) for n in (range(1, t+1) if t <= 30 else sorted({max(1, round(t*k/12)) for k in range(1, 13)}))))' "$total")
    for n in $points; do
      new_root
      rc=0
      setsid strace -f -qq -o /dev/null -e trace=$sc -e inject=$sc:signal=KILL:when=$n \
        "$MODELVOL" --root "$ROOT" import "oci:$T/small:$S" >/dev/null 2>"$T/strace.err" &
      spid=$!
      CLEANUP_PIDS+=("$spid")
      { wait "$spid"; } 2>/dev/null || rc=$?
      CLEANUP_PIDS=()
      [ $rc -eq 137 ] || echo "#   $sc $n/$total: not killed (exit $rc)"
      assert_eq "$(group_left "$spid")" "" "$sc $n/$total: no process left"
      verify_after_kill "$sc $n/$total" "$dsmall" "$T/exp-small"
      run_ok "$sc $n/$total: the next import completes" -- mvol import "oci:$T/small:$S"
      assert_tree_eq "$(mvol path "$S")" "$T/exp-small" "$sc $n/$total: then byte-exact"
      drop_root
    done
  done
else
  tap_skip "strace unusable here: syscall-point kills"
fi

# A kill between libostree's link of a ref under its temp name and the rename over the ref
# leaves "tmp.XXXXXX" beside the refs (test-faults meets it now and then): the next open of
# the store removes such files, and nothing else.
new_root
run_ok "ref temp files: import S" -- mvol import "oci:$T/small:$S"
refs=$ROOT/repo/refs/heads/modelvol
layer_dir=$(dirname "$(find "$refs/layer" -type f | head -n 1)")
name_dir=$(dirname "$(find "$refs/name" -type f | head -n 1)")
printf x >"$layer_dir/tmp.AbC123"
printf x >"$name_dir/tmp.q9Z8y7"
printf x >"$layer_dir/tmp.not-1"
before=$(find "$refs" -type f ! -name 'tmp.*' | sort)
run_ok "ref temp files: the store opens" -- mvol ls
check "ref temp files: both are gone" -- test ! -e "$layer_dir/tmp.AbC123" -a ! -e "$name_dir/tmp.q9Z8y7"
check "ref temp files: a file of another shape stays" -- test -e "$layer_dir/tmp.not-1"
assert_eq "$(find "$refs" -type f ! -name 'tmp.*' | sort)" "$before" "ref temp files: every ref stays"
rm -f "$layer_dir/tmp.not-1"
run_ok "ref temp files: fsck clean" -- mvol fsck

finish
