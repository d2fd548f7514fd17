#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Runs shellcheck (warnings and errors) on every shell script of the repository: the tests, their
# libraries, contrib/ and the benchmarks.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v shellcheck >/dev/null; then
  [ "${CI:-}" = true ] && { echo "shellcheck missing (contrib/install-deps.sh installs it)"; exit 1; }
  echo "shellcheck missing"
  exit 77
fi
mapfile -t files < <(git ls-files '*.sh' 2>/dev/null || find . -name '*.sh' -not -path './build*')
files+=(.ci/run)
shellcheck -x -S warning "${files[@]}"
echo "ok: ${#files[@]} scripts"
