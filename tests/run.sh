#!/bin/bash
# Builds modelvol with ASan+UBSan (leak detection on) and runs every test: unit, integration.
# Usage: tests/run.sh [meson test args...]   (BUILDDIR overrides the build directory)
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
builddir=${BUILDDIR:-$src/build-test}

if [ ! -f "$builddir/build.ninja" ]; then
  meson setup "$builddir" -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debugoptimized
fi
ninja -C "$builddir"

export ASAN_OPTIONS="detect_leaks=1:fast_unwind_on_malloc=0:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1"
export LSAN_OPTIONS="suppressions=$src/tests/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export G_SLICE=always-malloc G_DEBUG=gc-friendly

rc=0
meson test -C "$builddir" --print-errorlogs --num-processes 2 "$@" || rc=$?

# One closing line any CI can read.
python3 - "$builddir/meson-logs/testlog.json" <<'PY'
import json, sys
passed = failed = skipped = 0
try:
    for line in open(sys.argv[1]):
        r = json.loads(line).get("result")
        if r in ("OK", "EXPECTEDFAIL"): passed += 1
        elif r == "SKIP": skipped += 1
        else: failed += 1
except FileNotFoundError:
    pass
print(f"{passed} passed, {failed} failed, {skipped} skipped")
PY
exit $rc
