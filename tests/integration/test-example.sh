#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The integrator guide's example program (docs/examples/modelvol-example.c), built against the
# in-tree libmodelvol with <modelvol.h> only, run on a layout skopeo wrote (copied from one of
# mkmodel's): what it prints must be what the store and the CLI say: the digest, name, layer,
# file and byte counts, the checkout (byte-exact), the model's top-level entries at the host
# mount and inside the stand-in container, one use, one released, none after. Nothing stays
# mounted, no temp directory is left, and a bad layout fails with one line and exit 1.
. "$(dirname "$0")/../lib/common.sh"

EXAMPLE=${MODELVOL_EXAMPLE:-$(dirname "$MODELVOL")/../docs/examples/modelvol-example}
if [ ! -x "$EXAMPLE" ]; then
  echo "$TEST_NAME: modelvol-example not found at $EXAMPLE (set MODELVOL_EXAMPLE)" >&2
  exit 1
fi
if [ "$(id -u)" != 0 ]; then
  skip_all "mounting needs root"
fi
SRC=$SRCDIR/docs/examples/modelvol-example.c

# Like an external program: the public header only.
includes=$(sed -n 's/^#include[[:space:]]*//p' "$SRC" | sort -u | tr '\n' ' ')
assert_match "$includes" '<modelvol\.h>' "the example includes <modelvol.h>"
check "the example includes no private header and nothing with quotes ($includes)" -- \
  bash -c '! grep -Eq "^#include[[:space:]]*(\"|<mv-)" "$1"' _ "$SRC"
check "the example calls no private mv_ function" -- bash -c '
  used=$(grep -o "\bmv_[a-z0-9_]*\b" "$1" | sort -u)
  public=$(sed -n "s/^[[:space:]]*\(mv_[a-z0-9_]*\);/\1/p" "$2" | sort -u)
  extra=$(comm -23 <(echo "$used") <(echo "$public"))
  [ -z "$extra" ] || { echo "not in libmodelvol.map: $extra"; exit 1; }' _ "$SRC" "$SRCDIR/plugin/libmodelvol.map"

REF=localhost:5000/test/example:v1
mkmodel preset all-kinds --seed example --out "$T/mk" --ref v1 --expect "$T/exp" --info "$T/info.json" >/dev/null
run_ok "skopeo copies the model to a layout of its own" -- skopeo copy -q "oci:$T/mk:v1" "oci:$T/layout:$REF"
want_digest=$(jq -r .manifest "$T/info.json")
want_layers=$(jq '.layers | length' "$T/info.json")
want_files=$(find "$T/exp" -type f | wc -l)
want_bytes=$(find "$T/exp" -type f -printf '%s\n' | awk '{s += $1} END {print s}')
want_top=$(cd "$T/exp" && find . -mindepth 1 -maxdepth 1 -printf '%P\n' | sort)
# Only our own mount points: other tests on the machine may mount and unmount meanwhile.
example_mounts() { awk '{print $5}' /proc/self/mountinfo | grep -E '/modelvol-example-|/modelvol-test-example\.' | sort || true; }
mounts_before=$(example_mounts)
tmp_before=$(find /tmp -maxdepth 1 -name 'modelvol-example-*' | sort)

run_ok "the example runs" -- "$EXAMPLE" "$ROOT" "$T/layout"
out=$LAST_STDOUT
field() { sed -n "s/^$1: //p" <<<"$out"; }
assert_eq "$(head -n 1 <<<"$out")" "libmodelvol $(mvol --version | awk '{print $2}')" "prints the library version"
assert_eq "$(sed -n 2p <<<"$out")" "headers $(mvol --version | awk '{print $2}')" "and the headers' (MV_VERSION_S, modelvol-version.h) are the same"
assert_eq "$(field store)" "$ROOT" "prints the store root"
assert_eq "$(field imported)" "$want_digest" "prints the imported manifest digest"
assert_eq "$(field name)" "$REF" "the model is named by skopeo's ref name"
assert_eq "$(field 'artifact type')" "application/vnd.cncf.model.manifest.v1+json" "prints the artifact type"
assert_eq "$(field layers)" "$want_layers" "prints the layer count"
assert_eq "$(field files)" "$want_files" "prints the file count"
assert_eq "$(field bytes)" "$want_bytes" "prints the logical bytes"
assert_eq "$(mvol --json inspect "$REF" | jq -r .digest)" "$want_digest" "the CLI sees the same model"
assert_eq "$(field checkout)" "$(mvol path "$REF")" "the checkout is the one 'modelvol path' prints"
assert_tree_eq "$(field checkout)" "$T/exp" "the checkout is the model, byte-exact"
assert_eq "$(field mounted)" "$want_top" "the host mount showed the model's top-level entries"
assert_match "$(field unmounted)" '^/tmp/modelvol-example-mount\.' "and was unmounted"
assert_eq "$(field 'in container')" "$want_top" "the container saw the model's top-level entries"
assert_match "$(field use)" "^modelvol-example-[0-9]+ $want_digest\$" "one use: the container and the model"
assert_eq "$(field released)" 1 "release drops one record"
assert_eq "$(field 'uses after release')" 0 "no use after release"
assert_eq "$(example_mounts)" "$mounts_before" "nothing is left mounted on the host"
assert_eq "$(find /tmp -maxdepth 1 -name 'modelvol-example-*' | sort)" "$tmp_before" "no temporary directory is left"
assert_eq "$(find "$ROOT/run/uses" -type f 2>/dev/null | wc -l)" 0 "no use record is left in the store"

# Again: the model is stored, so nothing is read, and the output is the same.
run_ok "the example runs again on the same store" -- "$EXAMPLE" "$ROOT" "$T/layout"
assert_eq "$(grep -v '^\(unmounted\|use\): ' <<<"$LAST_STDOUT")" "$(grep -v '^\(unmounted\|use\): ' <<<"$out")" "same output the second time"

# Errors: one line, exit 1; usage: exit 2.
mkdir "$T/not-a-layout"
expect_fail 1 '^modelvol-example: importing: .*oci-layout' "a directory that is not a layout" -- "$EXAMPLE" "$ROOT" "$T/not-a-layout"
expect_fail 1 '^modelvol-example: importing: .*nope' "an entry the layout lacks" -- "$EXAMPLE" "$ROOT" "$T/layout" nope
expect_exit 2 "no arguments: usage" -- "$EXAMPLE"

finish
