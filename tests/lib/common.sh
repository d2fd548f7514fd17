# shellcheck shell=bash
# SPDX-License-Identifier: Apache-2.0
# Shared helpers for tests/integration/test-*.sh. Source it first thing:
#   . "$(dirname "$0")/../lib/common.sh"
#
# Gives: strict mode; $T, a per-test temp dir removed on exit (KEEP_TMP=1 keeps it);
# $ROOT, a fresh store root ($T/root) and `mvol ARGS` = "$MODELVOL" --root "$ROOT" ARGS;
# $MKMODEL and $OCIPUSH; TAP-style checks that count failures; the script exits 1 at the end
# if any check failed, or at once (with the line) if an unchecked command fails.
# shellcheck disable=SC2034  # LAST_* and friends are read by the test scripts
set -euo pipefail
shopt -s inherit_errexit 2>/dev/null || true
export LC_ALL=C

TESTS_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRCDIR=$(cd "$TESTS_LIB/../.." && pwd)
TEST_NAME=$(basename "$0" .sh)

MODELVOL=${MODELVOL:-build/helper/modelvol}
if [ "${MODELVOL#/}" = "$MODELVOL" ]; then
  if [ -x "$PWD/$MODELVOL" ]; then MODELVOL=$PWD/$MODELVOL; else MODELVOL=$SRCDIR/$MODELVOL; fi
fi
if [ ! -x "$MODELVOL" ]; then
  echo "$TEST_NAME: modelvol binary not found at $MODELVOL (set MODELVOL)" >&2
  exit 1
fi
export MODELVOL
unset MODELVOL_ROOT

MKMODEL=(python3 "$TESTS_LIB/mkmodel.py")
OCIPUSH=(python3 "$TESTS_LIB/ocipush.py")

T=$(mktemp -d "${TEST_TMPDIR:-${TMPDIR:-/tmp}}/modelvol-$TEST_NAME.XXXXXX")
ROOT=$T/root
TESTS_RUN=0
TESTS_FAILED=0
FAILED_NAMES=()
CLEANUP_PIDS=()
CLEANUP_FILES=() # removed at exit (files a test made outside $T, such as a /dev/log socket)
TEST_START=$SECONDS

_common_exit() {
  local rc=$?
  set +e
  for p in "${CLEANUP_PIDS[@]}"; do
    kill -9 "$p" 2>/dev/null
    wait "$p" 2>/dev/null
  done
  for f in "${CLEANUP_FILES[@]}"; do
    rm -f "$f"
  done
  if declare -F registry_stop >/dev/null; then registry_stop; fi
  if [ "${KEEP_TMP:-0}" = 1 ]; then
    echo "# kept $T"
  else
    # A store may hold read-only dirs: make them writable before removing.
    chmod -R u+w "$T" 2>/dev/null
    rm -rf "$T"
  fi
  if [ $rc -ne 0 ] && [ $rc -ne 77 ] && [ -z "${_COMMON_DONE:-}" ]; then
    echo "# $TEST_NAME: aborted (exit $rc) after $TESTS_RUN checks, $TESTS_FAILED failed"
    rc=1
  fi
  exit $rc
}
trap _common_exit EXIT
trap 'echo "# $TEST_NAME: line $LINENO: command failed: $BASH_COMMAND" >&2' ERR

# --- reporting ------------------------------------------------------------------------------

tap_ok() {
  TESTS_RUN=$((TESTS_RUN + 1))
  echo "ok $TESTS_RUN - $*"
}

# skip_all REASON: the whole test cannot run here: a TAP plan of no tests, with the reason
# (meson reports the test as skipped); never a pass.
skip_all() {
  _COMMON_DONE=1
  echo "1..0 # SKIP $*"
  exit 0
}

# tap_skip REASON: a check that could not run here, reported as a skip (never a pass).
tap_skip() {
  TESTS_RUN=$((TESTS_RUN + 1))
  echo "ok $TESTS_RUN - # SKIP $*"
}

tap_not_ok() {
  TESTS_RUN=$((TESTS_RUN + 1))
  TESTS_FAILED=$((TESTS_FAILED + 1))
  FAILED_NAMES+=("$*")
  echo "not ok $TESTS_RUN - $*"
}

# diag LINES...: indented detail for the last check (goes to stdout, after "not ok").
diag() {
  local l
  for l in "$@"; do
    printf '%s\n' "$l" | sed 's/^/#   /'
  done
}

# check DESC -- CMD...: ok when CMD exits 0.
check() {
  local desc=$1 out rc=0
  shift
  [ "${1:-}" = "--" ] && shift
  out=$("$@" 2>&1) || rc=$?
  if [ $rc -eq 0 ]; then
    tap_ok "$desc"
  else
    tap_not_ok "$desc"
    diag "command: $*" "exit: $rc" "$out"
  fi
  return 0
}

# assert_eq GOT WANT DESC
assert_eq() {
  if [ "$1" == "$2" ]; then
    tap_ok "$3"
  else
    tap_not_ok "$3"
    diag "got:  $1" "want: $2"
  fi
}

# assert_match STRING ERE DESC
assert_match() {
  if printf '%s\n' "$1" | grep -Eq -- "$2"; then
    tap_ok "$3"
  else
    tap_not_ok "$3"
    diag "string: $1" "does not match: $2"
  fi
}

# assert_lt A B DESC  (integers)
assert_lt() {
  if [ "$1" -lt "$2" ]; then tap_ok "$3"; else tap_not_ok "$3"; diag "$1 is not < $2"; fi
}

# re_escape STRING: STRING as a literal ERE.
re_escape() {
  printf '%s' "$1" | sed -e 's/[][\.*^$+?(){}|/]/\\&/g'
}

# Plain progress lines of pull and import (stderr when it is not a terminal; see
# helper/mv-progress.c). They are the only lines besides the one error line that a failing
# command may print on stderr.
PROGRESS_LINE_RE='^(Copying blob [0-9a-f]{12} |Copied [0-9]+ blobs? \()'

# error_lines FILE: the lines of FILE that are not plain progress lines.
error_lines() {
  grep -Ev "$PROGRESS_LINE_RE" "$1" || true
}

# expect_fail CODE ERE [DESC] -- CMD...
# Runs CMD; passes when it exits CODE and its stderr is exactly ONE line matching ERE (after
# any plain progress lines, which come before it). Leaves the error line in $LAST_STDERR and
# stdout in $LAST_STDOUT.
expect_fail() {
  local code=$1 pat=$2 desc rc=0 nlines
  shift 2
  desc="exits $code with one stderr line matching /$pat/"
  if [ "${1:-}" != "--" ]; then desc="$1: $desc"; shift; fi
  [ "${1:-}" = "--" ] && shift
  LAST_STDOUT=$("$@" 2>"$T/.stderr") || rc=$?
  LAST_STDERR=$(error_lines "$T/.stderr")
  nlines=$(error_lines "$T/.stderr" | wc -l)
  if [ $rc -eq "$code" ] && [ "$nlines" -eq 1 ] && [ "$(tail -n 1 "$T/.stderr")" = "$LAST_STDERR" ] \
    && grep -Eq -- "$pat" <<<"$LAST_STDERR"; then
    tap_ok "$desc"
  else
    tap_not_ok "$desc"
    diag "command: $*" "exit: $rc (want $code); error lines: $nlines (want 1, last)" "stderr:" \
      "$(cat "$T/.stderr")"
  fi
  return 0
}

# run_ok DESC -- CMD...: like check, but keeps stdout in $LAST_STDOUT, stderr in $LAST_STDERR
# and the exit code in $LAST_RC. Always returns 0.
run_ok() {
  local desc=$1
  shift
  [ "${1:-}" = "--" ] && shift
  LAST_RC=0
  LAST_STDOUT=$("$@" 2>"$T/.stderr") || LAST_RC=$?
  LAST_STDERR=$(cat "$T/.stderr")
  if [ $LAST_RC -eq 0 ]; then
    tap_ok "$desc"
  else
    tap_not_ok "$desc"
    diag "command: $*" "exit: $LAST_RC" "stderr:" "$LAST_STDERR"
  fi
  return 0
}

# expect_exit CODE DESC -- CMD...: passes when CMD exits CODE (any output).
expect_exit() {
  local code=$1 desc=$2 rc=0
  shift 2
  [ "${1:-}" = "--" ] && shift
  LAST_STDOUT=$("$@" 2>"$T/.stderr") || rc=$?
  LAST_STDERR=$(cat "$T/.stderr")
  if [ $rc -eq "$code" ]; then
    tap_ok "$desc (exit $code)"
  else
    tap_not_ok "$desc (exit $code)"
    diag "command: $*" "exit: $rc" "stderr:" "$LAST_STDERR"
  fi
  return 0
}

# finish: prints the summary and exits 1 if anything failed. Call at the end of every script.
finish() {
  _COMMON_DONE=1
  echo "1..$TESTS_RUN"
  if [ $TESTS_FAILED -gt 0 ]; then
    echo "# $TEST_NAME: FAILED $TESTS_FAILED of $TESTS_RUN checks ($((SECONDS - TEST_START))s):"
    local n
    for n in "${FAILED_NAMES[@]}"; do echo "#   - $n"; done
    exit 1
  fi
  echo "# $TEST_NAME: all $TESTS_RUN checks passed ($((SECONDS - TEST_START))s)"
  exit 0
}

# --- modelvol -------------------------------------------------------------------------------

# mvol ARGS...: modelvol on this test's store.
mvol() {
  "$MODELVOL" --root "$ROOT" "$@"
}

# mkmodel ARGS...: the fixture generator.
mkmodel() {
  "${MKMODEL[@]}" "$@"
}

ocipush() {
  "${OCIPUSH[@]}" "$@"
}

# new_root [DIR]: switch to a fresh store root (default $T/root-N).
_ROOTS=0
new_root() {
  _ROOTS=$((_ROOTS + 1))
  ROOT=${1:-$T/root-$_ROOTS}
}

# model_count: number of models in `ls --json`.
model_count() {
  mvol --json ls | jq '.models | length'
}

# tree_listing DIR: one line per entry: path, type, octal mode, size for files, symlink target.
tree_listing() {
  (cd "$1" && find . -mindepth 1 \( -type f -printf '%P %y %m %s\n' \) -o \
    \( -type l -printf '%P %y -> %l\n' \) -o -printf '%P %y %m\n' | sort)
}

# assert_tree_eq GOT EXPECTED DESC: same names, types, modes, symlink targets and bytes.
assert_tree_eq() {
  local got=$1 want=$2 desc=$3 d1 d2
  d1=$(diff <(tree_listing "$got") <(tree_listing "$want") 2>&1) || true
  d2=$(diff -r --no-dereference "$got" "$want" 2>&1) || true
  if [ -z "$d1" ] && [ -z "$d2" ]; then
    tap_ok "$desc"
  else
    tap_not_ok "$desc"
    diag "listing diff (< got, > want):" "$(printf '%s\n' "$d1" | head -20)" \
      "content diff:" "$(printf '%s\n' "$d2" | head -20)"
  fi
}

# assert_canonical_modes DIR DESC: files 0644/0755, dirs 0755, nothing else but symlinks.
assert_canonical_modes() {
  local bad
  bad=$(cd "$1" && find . -mindepth 1 \( -type f ! -perm 644 ! -perm 755 -printf '%P %m\n' \) \
    -o \( -type d ! -perm 755 -printf '%P %m\n' \) -o \( ! -type f ! -type d ! -type l \
    -printf '%P %y\n' \) | head -20)
  if [ -z "$bad" ]; then tap_ok "$2"; else tap_not_ok "$2"; diag "$bad"; fi
}

# snapshot DIR [EXCLUDE_DIR]: every name under DIR with type, mode, size, inode and a hash of
# file bytes, EXCLUDE_DIR (a path under DIR) left out. For "nothing written outside" checks.
snapshot() {
  local dir=$1 ex=${2:-/nonexistent}
  find "$dir" -path "$ex" -prune -o -printf '%p %y %m %s %i %l\n' | sort
  find "$dir" -path "$ex" -prune -o -type f -print0 | sort -z | xargs -0r md5sum
}

# serve VAR CMD...: starts CMD, a test server of tests/lib that prints its port on stdout once
# it listens, in the background (killed at exit), and sets VAR to 127.0.0.1:PORT.
serve() {
  local var=$1 portfile
  shift
  portfile=$(mktemp "$T/.port.XXXXXX")
  "$@" >"$portfile" 2>>"$T/servers.err" &
  CLEANUP_PIDS+=($!)
  for _ in $(seq 100); do [ -s "$portfile" ] && break; sleep 0.1; done
  if [ ! -s "$portfile" ]; then
    echo "serve: $* did not start" >&2
    return 1
  fi
  printf -v "$var" '127.0.0.1:%s' "$(head -n 1 "$portfile")"
}

# faultproxy VAR UPSTREAM RULES.json LOG: tests/lib/faultproxy.py in front of UPSTREAM.
faultproxy() {
  serve "$1" python3 "$TESTS_LIB/faultproxy.py" "$2" "$3" "$4"
}

# assert_snapshot_eq BEFORE AFTER DESC: two `snapshot` outputs are the same (else their diff).
assert_snapshot_eq() {
  if [ "$1" = "$2" ]; then
    tap_ok "$3"
  else
    tap_not_ok "$3"
    diag "$(diff <(echo "$1") <(echo "$2") | head -20)"
  fi
}

# wait_for_file PATH SECONDS
wait_for_file() {
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    [ -e "$1" ] && return 0
    sleep 0.1
  done
  return 1
}
