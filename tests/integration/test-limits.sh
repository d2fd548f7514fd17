#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The [limits] of modelvol.conf ($MODELVOL_CONFIG here): each one, set low, stops an import
# with one line naming the limit (LIMIT_EXCEEDED) and stores nothing; a bad value stops every
# command with one line naming the file and the key; the defaults import the same model.
. "$(dirname "$0")/../lib/common.sh"

mkmodel preset all-kinds --out "$T/l" --ref v1 --expect "$T/exp" >/dev/null
cat >"$T/deep.json" <<'EOF'
{"family": "cncf", "layers": [
 {"kind": "code", "format": "tar", "path": "code", "entries": [{"name": "code/a/b/c/d/e.txt", "content": "deep\n"}]}
]}
EOF
mkmodel build --spec "$T/deep.json" --out "$T/deep" --ref v1 >/dev/null
# A gzip layer of 8 MiB of zeros in 5 entries (a mild bomb: ~8 KiB compressed).
cat >"$T/zeros.json" <<'EOF'
{"family": "cncf", "layers": [
 {"kind": "weight", "format": "tar+gzip", "path": "w", "entries": [
   {"name": "w/a.bin", "content": {"zero": 4194304}}, {"name": "w/b.bin", "content": {"zero": 4194304}},
   {"name": "w/c.txt", "content": "c\n"}, {"name": "w/d.txt", "content": "d\n"}]}
]}
EOF
mkmodel build --spec "$T/zeros.json" --out "$T/zeros" --ref v1 >/dev/null

limited() { # KEY VALUE CMD...: CMD with [limits] KEY=VALUE
  local key=$1 value=$2
  shift 2
  printf '[limits]\n%s=%s\n' "$key" "$value" >"$T/limits.conf"
  MODELVOL_CONFIG=$T/limits.conf "$@"
}

expect_fail 1 "more than 3 entries \(limit max-entries\)" "max-entries" -- \
  limited max-entries 3 mvol import "oci:$T/zeros:v1"
expect_fail 1 "unpacks to more than 1000 bytes \(limit max-layer-bytes\)" "max-layer-bytes" -- \
  limited max-layer-bytes 1000 mvol import "oci:$T/zeros:v1"
expect_fail 1 "expands more than 10 times \(limit max-ratio\)" "max-ratio" -- \
  limited max-ratio 10 mvol import "oci:$T/zeros:v1"
expect_fail 1 "above max-layers \(2\)" "max-layers" -- limited max-layers 2 mvol import "oci:$T/l:v1"
expect_fail 1 "declared size [0-9]+ is above the limit of 1024" "max-manifest-bytes" -- \
  limited max-manifest-bytes 1024 mvol import "oci:$T/l:v1"
expect_fail 1 "has more than 3 levels" "max-path-depth" -- limited max-path-depth 3 mvol import "oci:$T/deep:v1"
assert_eq "$(model_count)" 0 "nothing was stored"
check "no staging is left" -- bash -c '[ -z "$(ls -A "$1/tmp")" ]' _ "$ROOT"
run_ok "fsck is clean" -- mvol fsck

expect_fail 1 "config '$T/limits.conf': \[limits\] max-entries must be a whole number from 1 to" \
  "a bad value" -- limited max-entries lots mvol ls
expect_fail 1 "\[limits\] max-path-bytes must be a whole number from 64 to 4096" \
  "a value out of range" -- limited max-path-bytes 100000 mvol ls
expect_fail 1 "config '$T/missing.conf'" "a missing explicit config" -- \
  env MODELVOL_CONFIG="$T/missing.conf" "$MODELVOL" --root "$ROOT" ls

run_ok "generous limits import the model" -- limited max-entries 100000 mvol import "oci:$T/l:v1"
run_ok "path" -- mvol path "$LAST_STDOUT"
assert_tree_eq "$LAST_STDOUT" "$T/exp" "byte-exact"

finish
