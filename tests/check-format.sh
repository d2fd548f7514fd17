#!/bin/bash
# Every C file is formatted with the repository's .clang-format (GNU base, 100 columns).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || { echo "clang-format missing"; exit 77; }
files=$(git ls-files '*.c' '*.h' 2>/dev/null || find plugin storage helper hooks tests -name '*.[ch]')
if ! clang-format --dry-run --Werror $files; then
  echo "run: clang-format -i \$(git ls-files '*.c' '*.h')"
  exit 1
fi
echo "ok: $(echo "$files" | wc -w) files formatted"
