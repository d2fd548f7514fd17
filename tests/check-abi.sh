#!/bin/bash
# The ABI check: libmodelvol.so exports exactly the symbols of libmodelvol.map, each one is
# declared in modelvol.h with MV_PUBLIC and documented there (a "name:" doc comment), and all
# carry the MODELVOL_ version node.   check-abi.sh LIBMODELVOL.SO MODELVOL.H LIBMODELVOL.MAP
set -euo pipefail
lib=$1 header=$2 map=$3
fail=0
exported=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBR]$/ {print $3}' | sed 's/@.*//' | sort -u)
listed=$(sed -n 's/^[[:space:]]*\(mv_[a-z0-9_]*\);/\1/p' "$map" | sort -u)
[ -n "$exported" ] || { echo "no exported symbols in $lib"; exit 1; }
if [ "$exported" != "$listed" ]; then
  echo "exported symbols differ from $map:"
  diff <(echo "$listed") <(echo "$exported") || true
  fail=1
fi
for sym in $exported; do
  if ! grep -Eq "^MV_PUBLIC .*\b$sym \(" "$header"; then
    echo "$sym: not declared MV_PUBLIC in modelvol.h"; fail=1
  fi
  if ! grep -Eq "^ \* $sym:" "$header"; then
    echo "$sym: no doc comment in modelvol.h"; fail=1
  fi
  if ! nm -D --defined-only "$lib" | grep -q " $sym@@MODELVOL_"; then
    echo "$sym: no MODELVOL_ symbol version"; fail=1
  fi
done
n=$(echo "$exported" | wc -l)
if [ $fail = 0 ]; then echo "ok: $n exported symbols, all versioned, declared and documented"; fi
exit $fail
