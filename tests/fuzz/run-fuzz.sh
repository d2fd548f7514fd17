#!/bin/bash
# Short fuzzing run (CI: .ci/run calls it after tests/run.sh). Builds the libFuzzer targets of
# tests/fuzz with clang (-fsanitize=fuzzer,address,undefined) in a build directory of their
# own and runs each from its seed corpus for a bounded time. Fails on any crash, sanitizer
# report, leak, timeout or out-of-memory; the input that did it is kept under
# $FUZZ_BUILDDIR/fuzz-artifacts/ and the reproducer command is printed.
#
# Usage: tests/fuzz/run-fuzz.sh [TARGET...]      (default: every target)
#   FUZZ_SECONDS   seconds per target (default 25)
#   FUZZ_BUILDDIR  build directory (default build-fuzz)
#   FUZZ_ARGS      more libFuzzer arguments (-jobs=N -workers=N, -dict=..., ...)
# New inputs go to $FUZZ_BUILDDIR/fuzz-corpus/TARGET, never into the seed corpus; see
# docs/security.md ("Fuzzing and static analysis") for longer runs and keeping what they find.
set -euo pipefail
cd "$(dirname "$0")/../.."
src=$PWD
builddir=${FUZZ_BUILDDIR:-$src/build-fuzz}
seconds=${FUZZ_SECONDS:-25}

# Per target: the largest input worth trying. Layers and hook inputs need room for a few
# tar headers or a config.json; references and headers are short.
declare -A max_len=(
  [manifest]=65536 [config]=16384 [reference]=2048 [www-authenticate]=4096
  [regconf]=8192 [hook]=65536 [tar]=131072 [frames]=65536 [policy]=16384 [sigstore]=65536
)
all_targets=(manifest config reference www-authenticate regconf hook tar frames policy sigstore)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")
for t in "${targets[@]}"; do
  [ -n "${max_len[$t]:-}" ] || { echo "run-fuzz: unknown target '$t' (${all_targets[*]})" >&2; exit 2; }
done

if ! command -v clang >/dev/null || ! command -v clang++ >/dev/null; then
  echo "run-fuzz: clang missing (contrib/install-deps.sh installs it)" >&2
  exit 1
fi
if [ ! -f "$builddir/build.ninja" ]; then
  CC=clang CXX=clang++ meson setup "$builddir" -Dfuzzing=true -Db_sanitize=address,undefined \
    -Db_lundef=false -Dbuildtype=debugoptimized -Dman=disabled
fi
ninja -C "$builddir" -j2 "${targets[@]/#/tests/fuzz/fuzz-}"

# Leaks fail the run as in the suite; GLib's type system is the one suppression (lsan.supp).
export ASAN_OPTIONS="detect_leaks=1:fast_unwind_on_malloc=0"
export LSAN_OPTIONS="suppressions=$src/tests/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export G_SLICE=always-malloc

go_tar_testdata=/usr/share/go-1.19/src/archive/tar/testdata
failed=()
for t in "${targets[@]}"; do
  work=$builddir/fuzz-corpus/$t
  artifacts=$builddir/fuzz-artifacts
  mkdir -p "$work" "$artifacts"
  echo "=== fuzz-$t: ${seconds}s, max_len ${max_len[$t]}"
  # The first corpus directory receives new inputs: the work one, not the repository's.
  # -timeout: one input may take 10 s at most (the slowest seeds take well under one).
  seeds=("$src/tests/fuzz/corpus/$t")
  # Go's archive/tar test inputs (golang-1.19-src) seed the tar target too, where installed.
  [ "$t" = tar ] && [ -d "$go_tar_testdata" ] && seeds+=("$go_tar_testdata")
  if ! "$builddir/tests/fuzz/fuzz-$t" "$work" "${seeds[@]}" \
      -max_total_time="$seconds" -max_len="${max_len[$t]}" -rss_limit_mb=2048 -timeout=10 \
      -artifact_prefix="$artifacts/$t-" -print_final_stats=1 ${FUZZ_ARGS:-} \
      >"$builddir/fuzz-$t.log" 2>&1; then
    failed+=("$t")
    tail -n 60 "$builddir/fuzz-$t.log"
    echo "--- fuzz-$t FAILED (log: $builddir/fuzz-$t.log); reproduce with:"
    for a in "$artifacts/$t-"*; do
      [ -e "$a" ] && echo "    $builddir/tests/fuzz/fuzz-$t $a"
    done
  else
    grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss_mb)' "$builddir/fuzz-$t.log" \
      | tr '\n' ' '
    echo
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "run-fuzz: FAILED: ${failed[*]}"
  exit 1
fi
echo "run-fuzz: ok: ${targets[*]} (${seconds}s each)"
