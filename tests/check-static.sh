#!/bin/bash
# Static analysis of our C (and the one C++ unit) in plugin/ storage/ helper/ hooks/: cppcheck
# and clang-tidy (clang's static analyzer and the bugprone checks; .clang-tidy says which and
# why). Any finding fails. Suppressions: tests/cppcheck.supp and .clang-tidy, each with its
# reason, or NOLINT(check) in place with the reason next to it. No network.
# Usage: tests/check-static.sh BUILDDIR   (a configured build: its compile_commands.json)
#   STATIC_JOBS: files analyzed at once (default 2)
set -euo pipefail
cd "$(dirname "$0")/.."
builddir=${1:?usage: check-static.sh BUILDDIR}
jobs=${STATIC_JOBS:-2}

for tool in cppcheck clang-tidy; do
  command -v $tool >/dev/null || { echo "$tool missing (contrib/install-deps.sh installs it)"; exit 1; }
done
[ -f "$builddir/compile_commands.json" ] || { echo "no $builddir/compile_commands.json"; exit 1; }
mapfile -t files < <(git ls-files 'plugin/*.c' 'plugin/*.cc' 'storage/*.c' 'helper/*.c' 'hooks/*.c' 2>/dev/null \
  || find plugin storage helper hooks -name '*.c' -o -name '*.cc')

rc=0
echo "# cppcheck: ${#files[@]} files"
# --library: what cppcheck knows of glibc and GLib without reading their headers.
if ! cppcheck -j"$jobs" --quiet --error-exitcode=1 --inline-suppr \
    --enable=warning,style,performance,portability --std=c11 --library=gnu --library=gtk \
    --suppressions-list=tests/cppcheck.supp -D_GNU_SOURCE -Iplugin -Istorage -Ihooks \
    -I"$builddir" "${files[@]}"; then
  echo "not ok: cppcheck"
  rc=1
fi

echo "# clang-tidy: ${#files[@]} files"
# The compile commands may be gcc's: clang skips the warning options it does not know, and
# GLib's headers seen through -I (not -isystem) trip -Wformat-nonliteral of -Wformat=2.
out=$(mktemp)
trap 'rm -f "$out"' EXIT
if ! printf '%s\n' "${files[@]}" | xargs -P "$jobs" -n 4 clang-tidy -p "$builddir" --quiet \
    --extra-arg=-Wno-unknown-warning-option --extra-arg=-Wno-format-nonliteral >"$out" 2>&1; then
  grep -E 'warning:|error:' -A3 "$out" | grep -v '^[0-9]* warnings\? generated' || cat "$out"
  echo "not ok: clang-tidy"
  rc=1
fi
[ $rc = 0 ] && echo "ok: cppcheck and clang-tidy clean over ${#files[@]} files"
exit $rc
