#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Hostile container filesystems against modelvol-hook (runc, the modelvol.io/mounts
# annotation): the destination's parent is a symlink to "/", a "../" chain out of the rootfs,
# or dangling; the destination itself links to "/"; and a parent swapped dir <-> symlink with
# RENAME_EXCHANGE in a tight loop while containers start. Every mount lands inside the rootfs
# or the container fails to start; the host's mount table and the escape targets are
# unchanged. The container's environment (LD_PRELOAD of a library that would leave a marker)
# never reaches the hook.
. "$(dirname "$0")/../lib/common.sh"
. "$TESTS_LIB/container.sh"

CONF=$T/modelvol.conf
printf '[store]\nroot=%s\n' "$ROOT" >"$CONF"
mkmodel preset shared --variant a --seed hostile --out "$T/l" --ref v1 >/dev/null
run_ok "import a model" -- mvol import "oci:$T/l:v1" --name example.com/org/m:v1
M=example.com/org/m:v1
ESC=/tmp/modelvol-escape-$$-$RANDOM
ANN="[{\"ref\": \"$M\", \"path\": \"/data/model\"}]"
before=$(host_mounts)

hostile_bundle() { # DIR SCRIPT
  make_bundle "$1" "$2"
  bundle_jq "$1" '.annotations["modelvol.io/mounts"] = $a' --arg a "$ANN"
  bundle_add_hook "$1" "$CONF"
}

# /data -> / : resolved in-root, the model lands at the rootfs's /model.
hostile_bundle "$T/b1" 'cat /model/config.json >/dev/null && echo IN-ROOT'
ln -s / "$T/b1/rootfs/data"
ctr_run "$T/b1" mv-hostile-1
assert_eq "$LAST_STDOUT" IN-ROOT "a parent linked to / resolves inside the rootfs"
check "nothing appeared at the host's /model" -- test ! -e /model

# /data -> ../../../../../../../../<ESC> : a chain that would leave the rootfs.
hostile_bundle "$T/b2" "cat $ESC/model/config.json >/dev/null && echo IN-ROOT"
ln -s "../../../../../../../../..$ESC" "$T/b2/rootfs/data"
ctr_run "$T/b2" mv-hostile-2
assert_eq "$LAST_STDOUT" IN-ROOT "a ../ chain resolves inside the rootfs"
check "the escape target on the host was not created" -- test ! -e "$ESC"

# /data -> /nonexistent/deep : dangling; the missing directories are made inside the rootfs.
hostile_bundle "$T/b3" 'cat /nonexistent/deep/model/config.json >/dev/null && echo IN-ROOT'
ln -s /nonexistent/deep "$T/b3/rootfs/data"
ctr_run "$T/b3" mv-hostile-3
assert_eq "$LAST_STDOUT" IN-ROOT "a dangling parent is created inside the rootfs"
check "nothing appeared at the host's /nonexistent" -- test ! -e /nonexistent

# /data/model -> / : the destination is the rootfs itself: refused.
hostile_bundle "$T/b4" 'echo STARTED'
mkdir "$T/b4/rootfs/data"
ln -s / "$T/b4/rootfs/data/model"
ctr_run "$T/b4" mv-hostile-4
check "a destination linking to / fails the container" -- bash -c '[ "$1" -ne 0 ] && grep -q "resolves to the container.s root directory" <<<"$2"' _ "$LAST_RC" "$LAST_STDERR"

# /data -> /proc/self/root : magic links are not followed out of the rootfs either.
hostile_bundle "$T/b5" 'echo STARTED'
ln -s /proc/self/root "$T/b5/rootfs/data"
ctr_run "$T/b5" mv-hostile-5
check "a parent through /proc/self/root stays in the rootfs or fails" -- bash -c '[ "$1" -ne 0 ] || [ "$2" = STARTED ]' _ "$LAST_RC" "$LAST_STDOUT"
assert_eq "$(host_mounts)" "$before" "the host's mount table is unchanged after the link cases"

# The race: /data flips between a directory and a link out of the rootfs, as fast as the
# kernel allows, while containers start.
cat >"$T/swap.py" <<'PY'
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
a, b = sys.argv[1].encode(), sys.argv[2].encode()
stop, out = sys.argv[3], sys.argv[4]
n = 0
while not os.path.exists(stop):
    for _ in range(1000):
        if libc.renameat2(-100, a, -100, b, 2) == 0:  # AT_FDCWD, RENAME_EXCHANGE
            n += 1
open(out, "w").write(str(n))
PY
hostile_bundle "$T/race" 'echo STARTED'
mkdir "$T/race/rootfs/data"
ln -s "../../../../../../../../..$ESC" "$T/race/rootfs/data-link"
python3 "$T/swap.py" "$T/race/rootfs/data" "$T/race/rootfs/data-link" "$T/stop" "$T/swaps" &
swapper=$!
CLEANUP_PIDS+=("$swapper")
started=0
for i in $(seq 12); do
  ctr_run "$T/race" "mv-race-$i"
  [ "$LAST_STDOUT" = STARTED ] && started=$((started + 1))
  [ "$(host_mounts)" = "$before" ] || break
done
touch "$T/stop"
wait "$swapper"
swaps=$(cat "$T/swaps")
diag "containers started: $started of 12; swaps: $swaps"
check "the swapper ran 10,000+ exchanges" -- test "$swaps" -ge 10000
assert_eq "$(host_mounts)" "$before" "under the race the host's mount table is unchanged"
check "under the race the escape target was never created" -- test ! -e "$ESC"

# The container's environment never reaches the hook.
if command -v gcc >/dev/null; then
  printf '#include <stdio.h>\n__attribute__((constructor)) static void m(void){FILE*f=fopen("%s","w");if(f)fclose(f);}\n' "$ESC-marker" >"$T/evil.c"
  hostile_bundle "$T/b6" 'echo STARTED'
  gcc -shared -fPIC -o "$T/b6/rootfs/evil.so" "$T/evil.c"
  bundle_jq "$T/b6" '.process.env += ["LD_PRELOAD=/proc/self/cwd/evil.so", "LD_LIBRARY_PATH=/", "GCONV_PATH=/"] | .process.cwd = "/"'
  ctr_run "$T/b6" mv-hostile-6
  assert_eq "$LAST_STDOUT" STARTED "a container with LD_PRELOAD in its environment starts"
  check "no marker from the preloaded library on the host" -- test ! -e "$ESC-marker"
fi
assert_eq "$(host_mounts)" "$before" "the host's mount table is unchanged at the end"

finish
