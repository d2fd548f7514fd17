#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The README's first command, contrib/demo.sh (without apt, on the test build): it must exit 0,
# show the real CRI-O's tar files without the hook and the real read-only tree with it, and
# clean up (no work directory, no mount, no registry or CRI-O left). Run twice: it can be rerun.
. "$(dirname "$0")/../lib/common.sh"
. "$TESTS_LIB/container.sh"

builddir=$(cd "$(dirname "$MODELVOL")/.." && pwd)
before=$(host_mounts)
demo_dirs() { find /var/tmp -maxdepth 1 -name 'modelvol-demo.*' | sort; }
dirs_before=$(demo_dirs)

for round in 1 2; do
  expect_exit 0 "[$round] contrib/demo.sh runs end to end" -- \
    env DEMO_BUILDDIR="$builddir" bash "$SRCDIR/contrib/demo.sh" --no-deps
  out=$LAST_STDOUT
  without=$(sed -n '/alone (no modelvol hooks)/,/CRI-O with modelvol-hook/p' <<<"$out")
  with=$(sed -n '/CRI-O with modelvol-hook/,/Store usage/p' <<<"$out")
  check "[$round] without the hook: the tar layer is a 10240-byte file, the volume writable" -- \
    bash -c 'grep -q "10240 .*/models/tokenizer" <<<"$1" && grep -q "wrote /models/x" <<<"$1"' _ "$without"
  check "[$round] with the hook: the unpacked tree" -- \
    bash -c 'grep -qx "/models/tokenizer/tokenizer.json" <<<"$1" && grep -qx "/models/code/generate.py" <<<"$1" && grep -qx "/models/docs/README.md" <<<"$1"' _ "$with"
  check "[$round] with the hook: mounted ro,nosuid,nodev and not writable" -- \
    bash -c 'grep -q "^/models ro,nosuid,nodev" <<<"$1" && grep -q "Read-only file system" <<<"$1"' _ "$with"
  check "[$round] the store holds the model once" -- grep -q "^Models:  1" <<<"$out"
  assert_eq "$(demo_dirs)" "$dirs_before" "[$round] the work directory is gone"
  assert_eq "$(host_mounts)" "$before" "[$round] the host's mount table is unchanged"
  check "[$round] no CRI-O, conmon or registry of the demo is left" -- \
    bash -c '! pgrep -f "modelvol-demo\\." >/dev/null' 
done
finish
