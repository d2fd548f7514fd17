#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# meson install. (1) This build, installed with --destdir: exactly the expected files in
# FHS places under DESTDIR+prefix (binaries, libmodelvol.so.0 and its links, pkg-config,
# header, the hook, hook-main and unpacker in libexec, hooks.d JSON naming the hook by its
# absolute path, man pages, units, tmpfiles.d, completion, CRI-O drop-in, the config example
# and the Kubernetes files), nothing outside; the installed CLI runs from there. (2) A small
# non-sanitized build configured with a real --prefix in a scratch dir and installed there:
# the CLI finds its library and its sandboxed unpacker by the paths compiled in (an import
# execs the installed modelvol-unpack), `path` gives the byte-exact tree, the installed hook
# (with hook-main and libmodelvol by absolute path) mounts the model into a runc container,
# tmpfiles.d creates the store and run dir 0700, the units verify, the CRI-O drop-in is TOML
# with CRI-O's default hooks dir and ours, and a program built with `pkg-config modelvol`
# against the installed header and library runs.
. "$(dirname "$0")/../lib/common.sh"

BUILD_ROOT=${MODELVOL_BUILD_ROOT:-$(cd "$(dirname "$MODELVOL")/.." && pwd)}
opt() { meson introspect --buildoptions "$1" | jq -r --arg n "$2" '.[] | select(.name == $n) | .value'; }
# abs PREFIX DIR: DIR as meson resolves it (relative dirs are under the prefix).
abs() { case $2 in /*) echo "$2" ;; *) echo "$1/$2" ;; esac; }

# expected_files BUILDDIR: the install list, one path a line, from the build's options.
expected_files() {
  local b=$1 p libdir bindir libexecdir incdir datadir mandir sysconfdir hooks units tmpf comp crio
  p=$(opt "$b" prefix)
  bindir=$(abs "$p" "$(opt "$b" bindir)")
  libdir=$(abs "$p" "$(opt "$b" libdir)")
  libexecdir=$(abs "$p" "$(opt "$b" libexecdir)")
  incdir=$(abs "$p" "$(opt "$b" includedir)")
  datadir=$(abs "$p" "$(opt "$b" datadir)")
  mandir=$(abs "$p" "$(opt "$b" mandir)")
  sysconfdir=$(abs "$p" "$(opt "$b" sysconfdir)")
  hooks=$(opt "$b" hooks_dir)
  hooks=${hooks:-$datadir/containers/oci/hooks.d}
  units=$(opt "$b" systemd_unit_dir)
  units=${units:-$p/lib/systemd/system}
  tmpf=$(opt "$b" tmpfilesdir)
  tmpf=${tmpf:-$p/lib/tmpfiles.d}
  comp=$(opt "$b" bash_completion_dir)
  comp=${comp:-$datadir/bash-completion/completions}
  crio=$(opt "$b" crio_confdir)
  crio=${crio:-$sysconfdir/crio/crio.conf.d}
  cat <<EOF
$bindir/modelvol
$libdir/libmodelvol.so
$libdir/libmodelvol.so.0
$libdir/libmodelvol.so.0.2.0
$libdir/pkgconfig/modelvol.pc
$incdir/modelvol/modelvol.h
$incdir/modelvol/modelvol-version.h
$libexecdir/modelvol/modelvol-hook
$libexecdir/modelvol/modelvol-hook-main
$libexecdir/modelvol/modelvol-unpack
$hooks/modelvol-createruntime.json
$hooks/modelvol-createruntime-annotation.json
$hooks/modelvol-poststop.json
$hooks/modelvol-poststop-annotation.json
$units/modelvol-watch.service
$units/modelvol-cdi.service
$units/modelvol-cdi.timer
$tmpf/modelvol.conf
$comp/modelvol
$crio/10-modelvol.conf
$datadir/doc/modelvol/modelvol.conf.example
$datadir/doc/modelvol/kubernetes/Containerfile
$datadir/doc/modelvol/kubernetes/daemonset.yaml
$datadir/doc/modelvol/kubernetes/node-install.sh
$datadir/doc/modelvol/kubernetes/pod-annotation.yaml
$datadir/doc/modelvol/kubernetes/pod-cdi.yaml
$datadir/doc/modelvol/kubernetes/pod-image-volume.yaml
EOF
  if command -v scdoc >/dev/null && [ "$(opt "$b" man)" != disabled ]; then
    printf '%s\n' "$mandir/man1/modelvol.1" "$mandir/man5/modelvol.conf.5" "$mandir/man8/modelvol-hook.8"
  fi
}

# installed_files DEST DIR: files and symlinks under DEST/DIR, as absolute paths without DEST.
installed_files() {
  (cd "$1/" && find ".$2" \( -type f -o -type l \) -printf '%p\n' | sed 's|^\.||' | sort)
}

# check_layout DEST BUILDDIR WHAT: the file list, modes, links and substituted paths.
check_layout() {
  local dest=$1 b=$2 what=$3 p libdir bad f
  p=$(opt "$b" prefix)
  libdir=$(abs "$p" "$(opt "$b" libdir)")
  check "$what: exactly the expected files" -- diff -u <(expected_files "$b" | sort) <(installed_files "$dest" "$p")
  if [ -n "$dest" ]; then
    bad=$(installed_files "$dest" / | grep -v "^$p/" || true)
    assert_eq "$bad" "" "$what: nothing outside the prefix $p"
  fi
  assert_eq "$(readlink "$dest$libdir/libmodelvol.so")" libmodelvol.so.0 "$what: libmodelvol.so -> .so.0"
  assert_eq "$(readlink "$dest$libdir/libmodelvol.so.0")" libmodelvol.so.0.2.0 "$what: libmodelvol.so.0 -> .so.0.2.0"
  bad=$(for f in $(expected_files "$b"); do
    [ -L "$dest$f" ] && continue
    case $f in
      */bin/* | */libexec/* | *.so.* | */node-install.sh) want=755 ;;
      *) want=644 ;;
    esac
    [ "$(stat -c %a "$dest$f")" = "$want" ] || echo "$f $(stat -c %a "$dest$f") (want $want)"
  done)
  assert_eq "$bad" "" "$what: modes 0755 for programs and the library, 0644 for the rest"
  bad=$(grep -rl '@[A-Z_]*@' "$dest$p" --include='*.json' --include='*.service' --include='*.timer' \
    --include='*.conf' --include='*.pc' || true)
  assert_eq "$bad" "" "$what: no @VARIABLE@ left unsubstituted"
  for f in $(expected_files "$b" | grep 'hooks.d/.*\.json$'); do
    assert_eq "$(jq -r .hook.path "$dest$f")" "$(abs "$p" "$(opt "$b" libexecdir)")/modelvol/modelvol-hook" \
      "$what: $(basename "$f") names the installed hook"
  done
  f=$(expected_files "$b" | grep 'modelvol-cdi.service$')
  assert_match "$(grep ^ExecStart= "$dest$f")" "^ExecStart=$(re_escape "$(abs "$p" "$(opt "$b" bindir)")")/modelvol " \
    "$what: the CDI unit runs the installed modelvol"
}

mkmodel preset all-kinds --seed install --out "$T/layout" --ref v1 --expect "$T/expect" >/dev/null

# --- (1) this build, into a DESTDIR -----------------------------------------------------------
D=$T/dest
run_ok "meson install --destdir" -- meson install -C "$BUILD_ROOT" --no-rebuild --destdir "$D"
check_layout "$D" "$BUILD_ROOT" "destdir"
P1=$(opt "$BUILD_ROOT" prefix)
L1=$(abs "$P1" "$(opt "$BUILD_ROOT" libdir)")
# (The CLI links the library's code statically; the hook and programs load the .so.)
run_ok "the installed CLI runs from the DESTDIR" -- env LD_LIBRARY_PATH="$D$L1" "$D$P1/bin/modelvol" --version
assert_eq "$LAST_STDOUT" "modelvol $(meson introspect --projectinfo "$BUILD_ROOT" | jq -r .version)" "...and prints its version"
# Out of the build tree, a binary never falls back on the build tree's unpacker: in the DESTDIR
# it finds none (it looks where it will be installed), and is pointed at the DESTDIR's one.
unpack1=$(abs "$P1" "$(opt "$BUILD_ROOT" libexecdir)")/modelvol/modelvol-unpack
if [ ! -e "$unpack1" ]; then
  expect_fail 1 "the unpacker $(re_escape "$unpack1") is not installed" \
    "...finds no unpacker outside its install (never the build tree's)" -- \
    env LD_LIBRARY_PATH="$D$L1" "$D$P1/bin/modelvol" --root "$ROOT" import "oci:$T/layout:v1"
fi
run_ok "...imports" -- env LD_LIBRARY_PATH="$D$L1" MODELVOL_TEST_UNPACK_HELPER="$D$unpack1" \
  "$D$P1/bin/modelvol" --root "$ROOT" import "oci:$T/layout:v1" --name example.com/m:v1
run_ok "the installed hook's front door passes over a container of no interest" -- \
  bash -c 'echo "{\"ociVersion\": \"1.0.2\", \"id\": \"x\", \"status\": \"creating\", \"bundle\": \"/b\"}" | "$1" createRuntime' \
  _ "$D$(abs "$P1" "$(opt "$BUILD_ROOT" libexecdir)")/modelvol/modelvol-hook"
assert_eq "$LAST_STDOUT$LAST_STDERR" "" "...silently"

# --- (2) a real --prefix ----------------------------------------------------------------------
# A small non-sanitized build, kept beside the test build so a rerun only rebuilds changes.
B=$BUILD_ROOT/install-test-build
P=$BUILD_ROOT/install-test-prefix
if [ ! -f "$B/build.ninja" ]; then
  run_ok "meson setup --prefix $P (non-sanitized, no tests)" -- \
    env -u ASAN_OPTIONS -u LSAN_OPTIONS -u UBSAN_OPTIONS meson setup "$B" "$SRCDIR" --prefix="$P" \
    -Dtests=false -Dbuildtype=plain -Db_sanitize=none
fi
run_ok "build it" -- ninja -C "$B"
rm -rf "$P"
run_ok "meson install into the prefix" -- meson install -C "$B" --no-rebuild
check_layout "" "$B" "prefix"
L=$(abs "$P" "$(opt "$B" libdir)")
MV=$P/bin/modelvol
run_ok "the installed CLI runs" -- env -u LD_LIBRARY_PATH "$MV" --version

new_root
run_ok "import, tracing execs" -- strace -f -qq -e trace=execve -o "$T/execs" "$MV" --root "$ROOT" import "oci:$T/layout:v1" --name example.com/m:v1
check "...ran the installed modelvol-unpack for the tar layers" -- grep -q "execve(\"$P/libexec/modelvol/modelvol-unpack\"" "$T/execs"
check "...and no unpacker of a build tree" -- bash -c '! grep "execve(.*build.*modelvol-unpack" "$1" | grep -v "$2"' _ "$T/execs" "$P/libexec"
run_ok "modelvol path" -- "$MV" --root "$ROOT" path example.com/m:v1
assert_tree_eq "$LAST_STDOUT" "$T/expect" "the checkout is the model, byte for byte"

# tmpfiles.d: the store and the run dir, 0700 root.
TR=$T/troot
mkdir -p "$TR"
run_ok "systemd-tmpfiles --create --root" -- systemd-tmpfiles --create --root="$TR" "$P/lib/tmpfiles.d/modelvol.conf"
assert_eq "$(stat -c '%a %U' "$TR/var/lib/modelvol" "$TR/run/modelvol" | sort -u)" "700 root" "/var/lib/modelvol and /run/modelvol are 0700 root"

# The units: systemd-analyze verify (the binary they run exists at its compiled-in path).
if systemd-analyze --help 2>/dev/null | grep -q -- ' verify '; then
  run_ok "systemd-analyze verify the units" -- \
    systemd-analyze verify --man=no "$P/lib/systemd/system/modelvol-watch.service" "$P/lib/systemd/system/modelvol-cdi.service" "$P/lib/systemd/system/modelvol-cdi.timer"
fi
# What the service runs, as it runs it.
run_ok "the service's command writes the CDI spec" -- \
  bash -c '"$1" --root "$2" --quiet cdi generate --output "$3"' _ "$MV" "$ROOT" "$T/cdi"
check "...with the model's device" -- jq -e '.devices[] | select(.name == "example.com_m_v1")' "$T/cdi/modelvol.io-model.json"

# The CRI-O drop-in: TOML, [crio.runtime] hooks_dir with CRI-O's default and ours.
run_ok "the CRI-O drop-in is TOML with hooks_dir" -- python3 -c '
import sys, tomllib, json
d = tomllib.load(open(sys.argv[1], "rb"))
print(json.dumps(d["crio"]["runtime"]["hooks_dir"]))' "$P/etc/crio/crio.conf.d/10-modelvol.conf"
for d in /usr/share/containers/oci/hooks.d /etc/containers/oci/hooks.d "$P/share/containers/oci/hooks.d"; do
  check "...listing $d" -- jq -e --arg d "$d" 'index($d) != null' <<<"$LAST_STDOUT"
done

# pkg-config and the header: a program against the installed library.
cat >"$T/prog.c" <<'EOF'
#include <modelvol.h>
#include <stdio.h>

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (MvStore) store = mv_store_open (argv[1], MV_STORE_OPEN_NONE, NULL, &error);
  g_autoptr (GPtrArray) models = NULL;

  if (argc != 2 || store == NULL || (models = mv_store_list_models (store, &error)) == NULL)
    {
      fprintf (stderr, "prog: %s\n", error ? error->message : "usage: prog ROOT");
      return 1;
    }
  for (guint i = 0; i < models->len; i++)
    {
      MvModelInfo *m = models->pdata[i];
      printf ("%s %s\n", mv_version (), m->names[0]);
    }
  return 0;
}
EOF
export PKG_CONFIG_PATH=$L/pkgconfig
run_ok "pkg-config --cflags --libs modelvol" -- pkg-config --cflags --libs modelvol
assert_match "$LAST_STDOUT" "-I$(re_escape "$P")/include/modelvol" "...points at the installed header"
# shellcheck disable=SC2046
run_ok "a program builds against the installed library" -- \
  cc -Wall -Werror -o "$T/prog" "$T/prog.c" $(pkg-config --cflags --libs modelvol) -Wl,-rpath,"$L"
run_ok "...and runs" -- env -u LD_LIBRARY_PATH "$T/prog" "$ROOT"
assert_eq "$LAST_STDOUT" "$(meson introspect --projectinfo "$B" | jq -r .version) example.com/m:v1" "...listing the model"
# (meson test puts the build tree's library on LD_LIBRARY_PATH: not for this.)
check "...linked to the installed libmodelvol" -- \
  bash -c 'env -u LD_LIBRARY_PATH ldd "$1" | grep -q "libmodelvol.so.0 => $2/libmodelvol.so.0 "' _ "$T/prog" "$L"

# The installed hook in a runc container: hook-main and libmodelvol found by absolute path.
export MODELVOL_HOOK=$P/libexec/modelvol/modelvol-hook
MODELVOL=$MV
. "$TESTS_LIB/container.sh"
cat >"$T/modelvol.conf" <<EOF
[store]
root=$ROOT
EOF
make_bundle "$T/b1" 'cd /models && find . -type f | sort | xargs sha256sum; touch /models/x 2>&1 | grep -q Read-only && echo EROFS'
bundle_jq "$T/b1" '.annotations["modelvol.io/mounts"] = $a' --arg a '[{"ref": "example.com/m:v1", "path": "/models"}]'
bundle_add_hook "$T/b1" "$T/modelvol.conf"
check "the bundle runs the installed hook" -- jq -e --arg h "$MODELVOL_HOOK" '.hooks.createRuntime[0].path == $h' "$T/b1/config.json"
ctr_run "$T/b1" mv-install-1
assert_eq "$LAST_RC" 0 "a container with the annotation runs"
assert_eq "$LAST_STDOUT" "$(cd "$T/expect" && find . -type f | sort | xargs sha256sum; echo EROFS)" \
  "...and sees the model read-only, byte for byte"

finish
