#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The sandboxed unpacker on aarch64 (SECURITY-BAR 25): its seccomp allowlist names system
# calls per architecture, so it is checked on a real arm64 kernel. The unpacker side is
# cross-built (-Dunpacker_only=true, tests/aarch64/aarch64-linux-gnu.ini) and booted with
# Debian's arm64 kernel in qemu-system-aarch64 (TCG: no arm64 hardware needed; qemu-user would
# not do, as it does not apply a guest's seccomp filter). In the VM, tests/aarch64/init.sh runs
# mv-unpack-driver (the store's parent side of mv-sandbox.c, without the store) with the real
# unpacker on a plain tar (by offset, and as a stream), a tar+gzip and a tar+zstd layer, and
# with the compromised test build in each of its modes; the console log is judged here.
. "$(dirname "$0")/../lib/common.sh"

BUILD_ROOT=${MODELVOL_BUILD_ROOT:?MODELVOL_BUILD_ROOT: the meson build directory}
CACHE=${MODELVOL_AARCH64_CACHE:-/var/cache/modelvol-tests/aarch64}
AARCH64=$SRCDIR/tests/aarch64
VM_TIMEOUT=${MODELVOL_AARCH64_VM_TIMEOUT:-240}

# --- what it needs (contrib/install-deps.sh installs all of it) -----------------------------
missing=()
for tool in aarch64-linux-gnu-gcc aarch64-linux-gnu-readelf aarch64-linux-gnu-pkg-config \
  qemu-system-aarch64 cpio zstd; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
if command -v aarch64-linux-gnu-pkg-config >/dev/null; then
  for pc in glib-2.0 gio-unix-2.0 libcrypto libarchive zlib libzstd libseccomp; do
    aarch64-linux-gnu-pkg-config --exists "$pc" || missing+=("$pc (arm64)")
  done
fi
for f in "$CACHE/vmlinuz" "$CACHE/busybox"; do
  [ -s "$f" ] || missing+=("$f")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "${CI:-}" = true ]; then
    echo "$TEST_NAME: missing (run contrib/install-deps.sh): ${missing[*]}" >&2
    exit 1
  fi
  skip_all "missing (run contrib/install-deps.sh): ${missing[*]}"
fi

# --- the layers, and the unpacker and driver checked here first -------------------------------
mkdir -p "$T/layers"
python3 "$AARCH64/mklayers.py" "$T/layers"
zstd -q -19 "$T/layers/layer.tar" -o "$T/layers/layer.tar.zst"
digest() { echo "sha256:$(sha256sum "$1" | cut -d' ' -f1)"; }
TAR=$(digest "$T/layers/layer.tar")
GZ=$(digest "$T/layers/layer.tar.gz")
ZST=$(digest "$T/layers/layer.tar.zst")
expected=$(cat "$T/layers/expected.txt")

run_ok "here: the driver and the real unpacker read the tar+zstd layer" -- \
  env MODELVOL_TEST_UNPACK_HELPER="$BUILD_ROOT/storage/modelvol-unpack" \
  "$BUILD_ROOT/tests/aarch64/mv-unpack-driver" tar+zstd "$T/layers/layer.tar.zst" "$ZST"
assert_eq "$LAST_STDOUT" "$expected" "here: every member, mode, size and content as written"

# --- the cross build ----------------------------------------------------------------------------
# Kept beside the test build so that a rerun only rebuilds what changed.
B=$BUILD_ROOT/aarch64-cross-build
if [ ! -f "$B/build.ninja" ]; then
  run_ok "meson setup of the arm64 cross build (-Dunpacker_only=true)" -- \
    env -u ASAN_OPTIONS -u LSAN_OPTIONS -u UBSAN_OPTIONS -u CC -u CFLAGS -u LDFLAGS \
    meson setup "$B" "$SRCDIR" --cross-file "$AARCH64/aarch64-linux-gnu.ini" \
    -Dunpacker_only=true -Dtests=true -Dbuildtype=debugoptimized -Db_sanitize=none
fi
run_ok "build it" -- ninja -C "$B" storage/modelvol-unpack storage/modelvol-unpack-evil \
  tests/aarch64/mv-unpack-driver
for exe in storage/modelvol-unpack storage/modelvol-unpack-evil tests/aarch64/mv-unpack-driver; do
  check "$(basename "$exe") is an aarch64 executable" -- \
    bash -c 'aarch64-linux-gnu-readelf -h "$1" | grep -q "Machine:.*AArch64"' _ "$B/$exe"
done

# --- the initramfs ------------------------------------------------------------------------------
R=$T/initramfs
mkdir -p "$R"/{bin,lib,mv,layers,etc,proc,sys,tmp,dev}
cp "$CACHE/busybox" "$R/bin/busybox"
chmod 0755 "$R/bin/busybox"
cp "$AARCH64/init.sh" "$R/init"
chmod 0755 "$R/init"
for exe in storage/modelvol-unpack storage/modelvol-unpack-evil tests/aarch64/mv-unpack-driver; do
  cp "$B/$exe" "$R/mv/"
done
cp "$T/layers"/layer.tar* "$R/layers/"
# The shared libraries they need, found as the dynamic loader will (/lib is always searched).
libdirs=(/usr/lib/aarch64-linux-gnu /lib/aarch64-linux-gnu)
needed=("$R"/mv/*)
declare -A seen=()
while [ ${#needed[@]} -gt 0 ]; do
  f=${needed[0]}
  needed=("${needed[@]:1}")
  for so in $(aarch64-linux-gnu-readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    [ -n "${seen[$so]:-}" ] && continue
    seen[$so]=1
    found=
    for d in "${libdirs[@]}"; do
      if [ -e "$d/$so" ]; then found=$d/$so && break; fi
    done
    if [ -z "$found" ]; then
      echo "$TEST_NAME: $so (needed by $(basename "$f")) not found in ${libdirs[*]}" >&2
      exit 1
    fi
    cp -L "$found" "$R/lib/$so"
    needed+=("$R/lib/$so")
  done
done
interp=$(aarch64-linux-gnu-readelf -l "$R/mv/mv-unpack-driver" | sed -n 's/.*interpreter: \(.*\)\]/\1/p')
mkdir -p "$R$(dirname "$interp")"
cp -L "/usr/lib/aarch64-linux-gnu/$(basename "$interp")" "$R$interp"
diag "initramfs: ${#seen[@]} shared libraries, loader $interp"
# A host secret that only the seccomp filter keeps from the unpacker: readable by anyone
# (unlike a real /etc/shadow), so that neither dropping root nor file modes would stop it.
printf 'root:THE-HOST-SECRET:19000:0:99999:7:::\n' >"$R/etc/shadow"
chmod 0644 "$R/etc/shadow"
# The watchdog of the hang case: long enough for init.sh to read the hung child's /proc
# status in the emulated machine before the parent stops it.
printf '[limits]\nunpack-timeout=8\n' >"$R/etc/short-watchdog.conf"

GOOD=MODELVOL_TEST_UNPACK_HELPER=/mv/modelvol-unpack
EVIL=MODELVOL_TEST_UNPACK_HELPER=/mv/modelvol-unpack-evil
EVIL_MODES=(open write-host exec socket mount ptrace crash)
OFFSET_LIES=(offset-outside offset-back offset-length offset-shift)
{
  echo "tar|$GOOD|tar /layers/layer.tar $TAR"
  echo "tar-stream|$GOOD|--stream tar /layers/layer.tar $TAR"
  echo "tar-gzip|$GOOD|tar+gzip /layers/layer.tar.gz $GZ"
  echo "tar-zstd|$GOOD|tar+zstd /layers/layer.tar.zst $ZST"
  for m in "${EVIL_MODES[@]}"; do
    echo "evil-$m|$EVIL MODELVOL_TEST_UNPACK_EVIL=$m|tar+gzip /layers/layer.tar.gz $GZ"
  done
  for m in "${OFFSET_LIES[@]}"; do
    echo "evil-$m|$EVIL MODELVOL_TEST_UNPACK_EVIL=$m|tar /layers/layer.tar $TAR"
  done
  echo "watch-hang|$EVIL MODELVOL_TEST_UNPACK_EVIL=hang MODELVOL_CONFIG=/etc/short-watchdog.conf|tar+gzip /layers/layer.tar.gz $GZ"
  echo "tar-zstd-again|$GOOD|tar+zstd /layers/layer.tar.zst $ZST"
} >"$R/cases"
(cd "$R" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet | gzip -1) >"$T/initramfs.gz"

# --- the VM ----------------------------------------------------------------------------------------
start=$SECONDS
rc=0
timeout -k 5 "$VM_TIMEOUT" qemu-system-aarch64 -M virt -cpu max -smp 2 -m 1024 \
  -display none -monitor none -nic none -no-reboot -serial "file:$T/console.raw" \
  -kernel "$CACHE/vmlinuz" -initrd "$T/initramfs.gz" \
  -append "console=ttyAMA0 quiet loglevel=3 panic=-1 rdinit=/init" >"$T/qemu.out" 2>&1 || rc=$?
tr -d '\r' <"$T/console.raw" >"$T/console.log"
diag "VM: exit $rc after $((SECONDS - start)) s"
if ! grep -q '^@@DONE' "$T/console.log"; then
  tap_not_ok "the VM ran every case and powered off (within ${VM_TIMEOUT} s)"
  diag "qemu: $(cat "$T/qemu.out")" "console (last 40 lines):" "$(tail -n 40 "$T/console.log")"
  finish
fi
assert_eq "$rc" 0 "the VM ran every case and powered off (within ${VM_TIMEOUT} s)"
assert_match "$(grep '^@@BOOT' "$T/console.log")" '^@@BOOT aarch64 ' "on an aarch64 kernel"

# case_lines NAME PREFIX: the lines a case printed with PREFIX (@@OUT, @@ERR), prefix removed.
case_lines() {
  awk -v c="$1" -v p="$2 " '$0 == "@@CASE " c {on = 1; next} on && /^@@RC / {exit}
    on && index($0, p) == 1 {print substr($0, length(p) + 1)}' "$T/console.log"
}
case_rc() {
  sed -n "s/^@@RC $1 \([0-9]*\) .*/\1/p" "$T/console.log"
}

# The real unpacker, each way the store uses it.
for c in tar tar-stream tar-gzip tar-zstd tar-zstd-again; do
  assert_eq "$(case_rc "$c")/$(case_lines "$c" @@OUT)" "0/$expected" \
    "aarch64: the unpacker reads the $c layer: every member, mode, size and content as written"
done

# The compromised unpacker. Denied: it gets nothing, the import goes on and nothing is written.
for m in open write-host; do
  assert_eq "$(case_rc "evil-$m")/$(case_lines "evil-$m" @@OUT)" "0/$expected" \
    "aarch64: an unpacker that tries $m is denied (and the layer is read as usual)"
done
check "aarch64: it never read the host secret" -- \
  bash -c '! grep -q "THE-HOST-SECRET\|opened /etc/shadow" "$1"' _ "$T/console.log"
assert_eq "$(sed -n 's/^@@CHECK escape //p' "$T/console.log")" absent \
  "aarch64: no file appeared outside (/tmp/modelvol-unpack-escape)"
# Killed by the filter (SIGSYS is 31 on arm64 too): one error line, no entry.
for m in exec socket mount ptrace; do
  assert_eq "$(case_rc "evil-$m")/$(case_lines "evil-$m" @@OUT)" \
    "1/ERROR unpacker: killed by signal 31 (a forbidden system call)" \
    "aarch64: an unpacker that calls $m is killed by the seccomp filter, one error line"
done
assert_eq "$(case_rc evil-crash)/$(case_lines evil-crash @@OUT)" "1/ERROR unpacker: killed by signal 11" \
  "aarch64: an unpacker that crashes: one error line"
# Lies about where plain tar members lie: refused by the parent.
for lie in "offset-outside:unpacker: member data at offset [0-9]+ \([0-9]+ bytes\) lies outside the layer" \
  "offset-back:unpacker: member data at offset 0 overlaps what came before" \
  "offset-length:unpacker: malformed frame" \
  "offset-shift:tar headers read by the unpacker are not the bytes read here"; do
  c=evil-${lie%%:*}
  assert_match "$(case_rc "$c")/$(case_lines "$c" @@OUT | grep -v '^E ')" "^1/ERROR .*${lie#*:}" \
    "aarch64: an unpacker that lies about member offsets (${lie%%:*}) is refused"
done
# A hung one: the watchdog; meanwhile its confinement, as the arm64 kernel shows it.
assert_eq "$(case_rc watch-hang)/$(case_lines watch-hang @@OUT)" \
  "1/ERROR unpacker: no progress for 8 s: stopped" "aarch64: a hung unpacker is stopped by the watchdog"
st=$(sed -n 's/^@@WATCH //p' "$T/console.log")
diag "$st"
assert_match "$st" '^Seccomp: +2$' "aarch64: the unpacker runs under a seccomp filter (mode 2)"
assert_match "$st" '^Uid: +65534 +65534 +65534' "aarch64: as nobody"
assert_match "$st" '^NoNewPrivs: +1$' "aarch64: with no_new_privs"
assert_match "$st" '^CapBnd: +0+$' "aarch64: with no capabilities, not even in its bounding set"
assert_match "$st" '^netns own$' "aarch64: in a network namespace of its own"
assert_match "$st" '^mntns own$' "aarch64: in a mount namespace of its own"
assert_match "$st" '^fds 0 1 2 $' "aarch64: with only stdin, stdout and stderr open"

# Each failure said so once, on stderr too; and nothing was left behind.
for c in evil-exec evil-socket evil-mount evil-ptrace evil-crash watch-hang; do
  assert_eq "$(case_lines "$c" @@ERR | wc -l)" 1 "aarch64: $c: one stderr line"
done
assert_eq "$(sed -n 's/^@@CHECK mounts //p' "$T/console.log")" same "aarch64: the mount table is unchanged"
assert_eq "$(sed -n 's/^@@CHECK staging-left //p' "$T/console.log")" 0 "aarch64: every staging directory is removed"
assert_eq "$(sed -n 's/^@@CHECK unpackers-left //p' "$T/console.log")" 0 "aarch64: no unpacker process is left"

finish
