#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Store faults (SECURITY-BAR 27, 28), beyond test-crash.sh (which kills at points in time, at
# each layer ref, and at every renameat/linkat):
# - kill -9 at the N-th write, fsync, fdatasync (libostree's ref files: the ref update),
#   syncfs and unlinkat of an import, N sampled over each call's whole range (strace
#   inject, counted per thread), into a store that already holds model A while model B
#   comes in (they share files). After each kill: no process left; the stale staging is
#   reclaimed when the store is next opened; fsck clean; A listed and byte-exact; B absent
#   (and `path` refuses it) or listed and byte-exact; no temporary ref; the next import of B
#   completes and is byte-exact.
# - ENOSPC for real: a store on a 24 MiB tmpfs, a model bigger than what is left: one clear
#   line, nothing of it listed, the staging reclaimed, the model already there intact, byte-exact
#   and mountable; after a prune the space is back. With core.min-free-space-size set, a model
#   that would fit the disk but not the reserve is refused the same way; one that fits imports.
# - EIO and ENOSPC injected (strace error=) at sampled write, fsync, fdatasync, syncfs, renameat
#   and linkat calls: exit 0 with B complete, or exit 1 with one line and B not listed; an
#   error on any fsync, fdatasync or syncfs is never published.
# Runs in a mount namespace of its own: the tmpfs and the mount are gone when it ends, and no
# other test on this host sees them.
if [ -z "${MODELVOL_FAULTS_NS:-}" ] && [ "$(id -u)" = 0 ]; then
  MODELVOL_FAULTS_NS=1 exec unshare --mount --propagation private bash "$0" "$@"
fi
: "${TEST_TMPDIR:=/var/tmp}"
export TEST_TMPDIR
. "$(dirname "$0")/../lib/common.sh"

if ! command -v strace >/dev/null || ! strace -f -qq -o /dev/null -e trace=getpid true 2>/dev/null; then
  skip_all "strace unusable here"
fi
# (LeakSanitizer cannot run under ptrace; the runs under strace are killed or fail anyway.)
TRACED_ASAN="${ASAN_OPTIONS:-}:detect_leaks=0"
export MODELVOL_JOBS=2
# The built-in limits, whatever /etc/modelvol/modelvol.conf says.
printf '[limits]\n' >"$T/default.conf"
export MODELVOL_CONFIG=$T/default.conf

A=localhost:5000/test/faults-a:v1
B=localhost:5000/test/faults-b:v1
mkmodel preset shared --variant a --seed faults --out "$T/lay" --ref "$A" --expect "$T/exp-a" \
  --info "$T/a.json" >/dev/null
mkmodel preset shared --variant b --seed faults --out "$T/lay" --ref "$B" --expect "$T/exp-b" \
  --info "$T/b.json" >/dev/null
db=$(jq -r .manifest "$T/b.json")

# The old state: a store holding A, copied for every fault.
new_root "$T/template"
run_ok "template: import A" -- mvol import "oci:$T/lay:$A"
tmpl=$ROOT

fresh_store() {
  drop_root
  new_root
  cp -a "$tmpl" "$ROOT"
}

drop_root() {
  if [ -n "${ROOT:-}" ] && [ "$ROOT" != "$tmpl" ] && [ -e "$ROOT" ]; then
    chmod -R u+w "$ROOT" 2>/dev/null || true
    rm -rf "$ROOT"
  fi
}

# verify_store DESC: the store is exactly the old or the new state.
verify_store() {
  local desc=$1 present
  run_ok "$desc: fsck clean" -- mvol fsck
  run_ok "$desc: A listed, path" -- mvol path "$A"
  assert_tree_eq "$LAST_STDOUT" "$T/exp-a" "$desc: A byte-exact"
  present=$(mvol --json ls | jq --arg d "$db" '[.models[] | select(.digest == $d)] | length')
  if [ "$present" = 0 ]; then
    echo "#   $desc: B absent"
    expect_fail 1 '.' "$desc: path of the absent B fails" -- mvol path "$db"
  else
    echo "#   $desc: B present"
    run_ok "$desc: B listed, path" -- mvol path "$db"
    assert_tree_eq "$LAST_STDOUT" "$T/exp-b" "$desc: listed B is complete and byte-exact"
  fi
  assert_eq "$(find "$ROOT/repo/refs" -name 'tmp.*' | head -3)" "" "$desc: no temporary ref file"
  assert_eq "$(ostree --repo="$ROOT/repo" refs |
    grep -Ev '^modelvol/((model|layer)/sha256/[0-9a-f]{64}|name/.+)$' | head -3)" "" \
    "$desc: only well-formed refs"
}

# assert_reclaimed DESC: nothing left in <root>/tmp, no libostree staging or partial commit.
assert_reclaimed() {
  assert_eq "$(find "$ROOT/tmp" -mindepth 1 -maxdepth 1 | head -3)" "" "$1: <root>/tmp empty"
  assert_eq "$(find "$ROOT/repo" \( -name '*.commitpartial' -o -name 'staging-*' \) | head -3)" "" \
    "$1: no libostree staging or .commitpartial"
}

# next_import DESC: the interrupted import completes; staging and partial files are gone.
next_import() {
  local desc=$1
  run_ok "$desc: the next import completes" -- mvol import "oci:$T/lay:$B"
  assert_eq "$LAST_STDOUT" "$db" "$desc: next import: digest"
  run_ok "$desc: then B's path" -- mvol path "$B"
  assert_tree_eq "$LAST_STDOUT" "$T/exp-b" "$desc: then B byte-exact"
  assert_reclaimed "$desc: then"
}

strerror_re() {
  case $1 in
    EIO) echo 'Input/output error' ;;
    ENOSPC) echo 'No space left on device' ;;
  esac
}

# points TOTAL K: all of 1..TOTAL when TOTAL <= K, else K of them spread out, 1 and TOTAL kept.
points() {
  python3 -c 'import sys
t, k = int(sys.argv[1]), int(sys.argv[2])
print(" ".join(str(n) for n in (range(1, t + 1) if t <= k else
      sorted({1, t} | {max(1, round(t * i / (k - 1))) for i in range(1, k - 1)}))))' "$1" "$2"
}

# traced ROOT_IMPORT_ARGS...: the import of B under strace with the given -e options, in a
# process group of its own; sets $LAST_RC, $LAST_STDERR, and checks nothing of it is left.
traced() {
  local desc=$1 pid rc=0
  shift
  setsid env ASAN_OPTIONS="$TRACED_ASAN" strace -f -qq -o "$T/traced.trace" "$@" \
    "$MODELVOL" --root "$ROOT" import "oci:$T/lay:$B" >"$T/traced.out" 2>"$T/traced.err" &
  pid=$!
  CLEANUP_PIDS+=("$pid")
  { wait "$pid"; } 2>/dev/null || rc=$?
  CLEANUP_PIDS=()
  LAST_RC=$rc
  LAST_STDERR=$(error_lines "$T/traced.err") # (not the plain progress lines)
  INJECTED=$(grep -c 'INJECTED' "$T/traced.trace" || true)
  sleep 0.2
  assert_eq "$(ps -e -o pgid=,stat= | awk -v g="$pid" '$1 == g && $2 !~ /^Z/' | head -3)" "" \
    "$desc: no process of the import is left"
}

# --- how many calls an import makes, per thread (strace counts per syscall and per thread) ---
fresh_store
ASAN_OPTIONS="$TRACED_ASAN" strace -f -qq -o "$T/count.trace" \
  -e trace=write,fsync,fdatasync,syncfs,unlinkat,renameat,linkat \
  "$MODELVOL" --root "$ROOT" import "oci:$T/lay:$B" >/dev/null 2>&1
declare -A most
for sc in write fsync fdatasync syncfs unlinkat renameat linkat; do
  most[$sc]=$(awk -v s="$sc(" 'index($2, s) == 1 {n[$1]++} END {m = 0; for (p in n) if (n[p] > m) m = n[p]; print m}' "$T/count.trace")
  echo "# import of B: at most ${most[$sc]} $sc calls in one thread"
done

# --- kill -9 at the N-th call ----------------------------------------------------------------------
declare -A kill_k=([write]=5 [fsync]=5 [fdatasync]=4 [syncfs]=4 [unlinkat]=4)
for sc in write fsync fdatasync syncfs unlinkat; do
  [ "${most[$sc]}" -gt 0 ] || continue
  for n in $(points "${most[$sc]}" "${kill_k[$sc]}"); do
    d="kill at $sc $n/${most[$sc]}"
    fresh_store
    traced "$d" -e trace="$sc" -e inject="$sc:signal=KILL:when=$n"
    [ "$LAST_RC" -eq 137 ] || echo "#   $d: not killed (exit $LAST_RC)"
    leftovers=$(find "$ROOT/tmp" "$ROOT/repo/tmp" -mindepth 1 -maxdepth 1 \( -path "$ROOT/tmp/*" -o -name 'staging-*' \) | wc -l)
    run_ok "$d: the store opens (ls)" -- mvol --json ls
    assert_reclaimed "$d: on open, stale staging reclaimed ($leftovers left by the kill)"
    verify_store "$d"
    next_import "$d"
  done
done

# A kill between the removal of a stale staging directory and of its lock file (in the sweep,
# or in libostree) leaves the lock alone: the next open sweeps it too.
fresh_store
: >"$ROOT/repo/tmp/staging-b97ee540-cc48-4c7b-99b8-aec37092b577-Lone01-lock"
run_ok "a lone staging lock: the store opens (ls)" -- mvol --json ls
assert_reclaimed "a lone staging lock: on open"

# --- errors injected: EIO and ENOSPC ---------------------------------------------------------------
# (The main thread's only write is its final report: a write error is injected from the 2nd call
# on. strace injects an error by turning the call into syscall -1, which the unpacker's seccomp
# filter kills: an error injected there surfaces as "unpacker: killed by signal 31".)
declare -A err_k=([write]=3 [fsync]=3 [fdatasync]=3 [syncfs]=3 [renameat]=2 [linkat]=2)
for err in EIO ENOSPC; do
  scs="write fsync fdatasync syncfs renameat linkat"
  [ "$err" = ENOSPC ] && scs="write fsync renameat" # and a real full disk below
  for sc in $scs; do
    [ "${most[$sc]}" -gt 1 ] || continue
    first=1
    [ "$sc" = write ] && first=2
    for n in $(points $((most[$sc] - first + 1)) "${err_k[$sc]}"); do
      n=$((n + first - 1))
      d="$err at $sc $n/${most[$sc]}"
      fresh_store
      traced "$d" -e trace="$sc" -e inject="$sc:error=$err:when=$n"
      present=$(mvol --json ls | jq --arg d "$db" '[.models[] | select(.digest == $d)] | length')
      if [ "$INJECTED" = 0 ]; then
        # (strace counts per thread, and the threads share the work differently each run)
        echo "#   $d: no thread made that many calls this time (exit $LAST_RC)"
        assert_eq "$LAST_RC/$present" "0/1" "$d: nothing injected: B imported"
      elif [ "$LAST_RC" -eq 0 ]; then
        echo "#   $d: import succeeded (the error was handled)"
        assert_eq "$present" 1 "$d: exit 0 and B listed"
        case $sc in
          fsync | fdatasync | syncfs) tap_not_ok "$d: an $sc error was published" ;;
        esac
      else
        echo "#   $d: exit $LAST_RC: $LAST_STDERR"
        assert_eq "$LAST_RC/$(printf '%s\n' "$LAST_STDERR" | grep -c .)" "1/1" "$d: exit 1 with one stderr line"
        assert_eq "$present" 0 "$d: failed import publishes nothing"
      fi
      case $sc in
        fsync | fdatasync | syncfs)
          [ "$LAST_RC" -eq 0 ] || assert_match "$LAST_STDERR" "$(strerror_re "$err")" "$d: the error is named"
          ;;
      esac
      run_ok "$d: the store opens (ls)" -- mvol --json ls
      assert_reclaimed "$d: on open"
      verify_store "$d"
      next_import "$d"
    done
  done
done

# --- a full disk: a store on a small tmpfs ----------------------------------------------------------
MNT=$T/small
mkdir -p "$MNT" "$T/mnt"
mount -t tmpfs -o size=24m,mode=0700 modelvol-test-faults "$MNT"
drop_root
new_root "$MNT/root"
run_ok "tmpfs: import A" -- mvol import "oci:$T/lay:$A"
mkmodel preset big --size-mb 40 --layers 3 --seed faults-big --out "$T/big" --ref big:v1 \
  --info "$T/big.json" >/dev/null
dbig=$(jq -r .manifest "$T/big.json")
free_before=$(df --output=avail -k "$MNT" | tail -1)
ls_before=$(mvol --json ls | jq -c .)
expect_fail 1 'No space left on device|min-free-space' "tmpfs: a model bigger than the free space" -- \
  mvol import "oci:$T/big:big:v1"
echo "#   tmpfs: $LAST_STDERR"
assert_eq "$(mvol --json ls | jq -c .)" "$ls_before" "tmpfs: ls unchanged"
check "tmpfs: nothing of it listed" -- bash -c '! "$0" --root "$1" --json ls | grep -q "$2"' "$MODELVOL" "$ROOT" "${dbig#sha256:}"
assert_reclaimed "tmpfs: after the failure and the next open"
run_ok "tmpfs: fsck clean" -- mvol fsck
run_ok "tmpfs: A's path" -- mvol path "$A"
assert_tree_eq "$LAST_STDOUT" "$T/exp-a" "tmpfs: A byte-exact"
run_ok "tmpfs: mount A" -- mvol mount "$A" "$T/mnt"
assert_tree_eq "$T/mnt" "$T/exp-a" "tmpfs: A mounted byte-exact"
run_ok "tmpfs: umount A" -- mvol umount "$T/mnt"
run_ok "tmpfs: prune" -- mvol prune
free_after=$(df --output=avail -k "$MNT" | tail -1)
echo "# tmpfs: $free_before KiB free before the big import, $free_after KiB after it and a prune"
assert_lt "$((free_before - free_after))" 512 "tmpfs: the space is back (within 512 KiB)"
# min-free-space is kept: 16 MB reserved, a 10 MB model fails though the disk has room for it.
run_ok "tmpfs: reserve 16 MB (core.min-free-space-size)" -- \
  ostree --repo="$ROOT/repo" config set core.min-free-space-size 16MB
mkmodel preset big --size-mb 10 --layers 2 --seed faults-mid --out "$T/mid" --ref mid:v1 >/dev/null
free_before=$(df --output=avail -k "$MNT" | tail -1)
echo "# tmpfs: $free_before KiB free, 16 MB reserved, a 10 MiB model"
expect_fail 1 'min-free-space' "tmpfs: a model that fits the disk but not the reserve" -- \
  mvol import "oci:$T/mid:mid:v1"
echo "#   tmpfs: $LAST_STDERR"
assert_eq "$(mvol --json ls | jq -c .)" "$ls_before" "tmpfs: ls unchanged"
assert_reclaimed "tmpfs: after the refusal and the next open"
run_ok "tmpfs: prune" -- mvol prune
assert_lt "$((free_before - $(df --output=avail -k "$MNT" | tail -1)))" 512 "tmpfs: the space is back again"
run_ok "tmpfs: a model that fits the reserve imports" -- mvol import "oci:$T/lay:$B"
run_ok "tmpfs: its path" -- mvol path "$B"
assert_tree_eq "$LAST_STDOUT" "$T/exp-b" "tmpfs: it is byte-exact"
check "tmpfs: fsck clean at the end" -- mvol fsck
umount "$MNT"

finish
