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

# Each case twice: as the kernel is, and with openat2 hidden (HOOK_SHIM=no-openat2), where the
# destination is resolved by the component walk alone.
run_cases() {
  local m=$1
  export HOOK_SHIM=$m
  # /data -> / : resolved in-root, the model lands at the rootfs's /model.
  hostile_bundle "$T/$m-b1" 'cat /model/config.json >/dev/null && echo IN-ROOT'
  ln -s / "$T/$m-b1/rootfs/data"
  ctr_run "$T/$m-b1" mv-hostile-$m-1
  assert_eq "$LAST_STDOUT" IN-ROOT "[$m] a parent linked to / resolves inside the rootfs"
  check "[$m] nothing appeared at the host's /model" -- test ! -e /model

  # /data -> ../../../../../../../../<ESC> : a chain that would leave the rootfs.
  hostile_bundle "$T/$m-b2" "cat $ESC/model/config.json >/dev/null && echo IN-ROOT"
  ln -s "../../../../../../../../..$ESC" "$T/$m-b2/rootfs/data"
  ctr_run "$T/$m-b2" mv-hostile-$m-2
  assert_eq "$LAST_STDOUT" IN-ROOT "[$m] a ../ chain resolves inside the rootfs"
  check "[$m] the escape target on the host was not created" -- test ! -e "$ESC"

  # /data -> /nonexistent/deep : dangling; the missing directories are made inside the rootfs.
  hostile_bundle "$T/$m-b3" 'cat /nonexistent/deep/model/config.json >/dev/null && echo IN-ROOT'
  ln -s /nonexistent/deep "$T/$m-b3/rootfs/data"
  ctr_run "$T/$m-b3" mv-hostile-$m-3
  assert_eq "$LAST_STDOUT" IN-ROOT "[$m] a dangling parent is created inside the rootfs"
  check "[$m] nothing appeared at the host's /nonexistent" -- test ! -e /nonexistent

  # /data/model -> / : the destination is the rootfs itself: refused.
  hostile_bundle "$T/$m-b4" 'echo STARTED'
  mkdir "$T/$m-b4/rootfs/data"
  ln -s / "$T/$m-b4/rootfs/data/model"
  ctr_run "$T/$m-b4" mv-hostile-$m-4
  check "[$m] a destination linking to / fails the container" -- bash -c '[ "$1" -ne 0 ] && grep -q "resolves to the container.s root directory" <<<"$2"' _ "$LAST_RC" "$LAST_STDERR"

  # /data -> /proc/self/root : magic links are not followed out of the rootfs either.
  # Either the hook refuses it (one line naming the destination) or the model is inside the
  # container, at /data/model = /proc/self/root/model.
  hostile_bundle "$T/$m-b5" 'cat /data/model/config.json >/dev/null && echo IN-ROOT'
  ln -s /proc/self/root "$T/$m-b5/rootfs/data"
  ctr_run "$T/$m-b5" mv-hostile-$m-5
  echo "# [$m] /proc/self/root case: rc=$LAST_RC stdout=$LAST_STDOUT stderr=$(tail -n1 <<<"$LAST_STDERR")"
  check "[$m] a parent through /proc/self/root stays in the rootfs or fails with a clear line" -- bash -c '{ [ "$1" -ne 0 ] && grep -q "modelvol-hook.*/data/model" <<<"$3"; } || { [ "$1" -eq 0 ] && [ "$2" = IN-ROOT ]; }' _ "$LAST_RC" "$LAST_STDOUT" "$LAST_STDERR"
  assert_eq "$(host_mounts)" "$before" "[$m] the host's mount table is unchanged after the link cases"

  # The race: /data flips between a directory and a link out of the rootfs, as fast as the
  # kernel allows, while containers start.
  hostile_bundle "$T/$m-race" 'echo STARTED'
  mkdir "$T/$m-race/rootfs/data"
  ln -s "../../../../../../../../..$ESC" "$T/$m-race/rootfs/data-link"
  python3 "$T/swap.py" "$T/$m-race/rootfs/data" "$T/$m-race/rootfs/data-link" "$T/$m-stop" "$T/$m-swaps" &
  swapper=$!
  CLEANUP_PIDS+=("$swapper")
  started=0
  for i in $(seq 12); do
    ctr_run "$T/$m-race" "mv-race-$m-$i"
    [ "$LAST_STDOUT" = STARTED ] && started=$((started + 1))
    [ "$(host_mounts)" = "$before" ] || break
  done
  touch "$T/$m-stop"
  wait "$swapper"
  swaps=$(cat "$T/$m-swaps")
  diag "[$m] containers started: $started of 12; swaps: $swaps"
  check "[$m] the swapper ran 10,000+ exchanges" -- test "$swaps" -ge 10000
  assert_eq "$(host_mounts)" "$before" "[$m] under the race the host's mount table is unchanged"
  check "[$m] under the race the escape target was never created" -- test ! -e "$ESC"

}

run_cases kernel
run_cases no-openat2
unset HOOK_SHIM
check "the shim really hid openat2 from the hook" -- grep -q 'openat2(.*= -1 ENOSYS (Function not implemented) (INJECTED)' "$T/no-openat2.log"

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
