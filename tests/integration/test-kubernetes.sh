#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# contrib/kubernetes/: the manifests parse and have the fields they must (tests/lib/k8s-check.py);
# the node layout the installer image is built with lies under the DaemonSet's hostPath
# mounts; the references they name are valid model names for us, the subPaths exist in such
# a model, the modelvol.io/mounts value passes the hook's own checks (the built hook plans
# the mounts and only then stops, for want of a container pid) and a hostile variant does
# not; the CDI devices are the names `modelvol cdi generate` gives such a model, mounted
# where the pod looks. node-install.sh installs this build's `meson install` tree into a
# scratch host root (files, modes, symlinks, the config, the record), upgrades in place,
# refuses to overwrite a file not its own, keeps an edited config, runs systemctl through
# HOST_EXEC when the node has systemd, and uninstall leaves the host root as it was.
. "$(dirname "$0")/../lib/common.sh"

K=$SRCDIR/contrib/kubernetes
INSTALL=$K/node-install.sh
HOOK_MAIN=${MODELVOL_HOOK_MAIN:-$(dirname "$MODELVOL")/../hooks/modelvol-hook-main}
BUILD_ROOT=${MODELVOL_BUILD_ROOT:-$(cd "$(dirname "$MODELVOL")/.." && pwd)}

# --- the manifests ----------------------------------------------------------------------------
run_ok "the manifests have the fields they must" -- python3 "$TESTS_LIB/k8s-check.py" "$K"
echo "$LAST_STDOUT" >"$T/facts.json"
fact() { jq -r "$@" "$T/facts.json"; }

# The checker catches what it must: a DaemonSet that is not privileged, a pod volume without
# a pullPolicy, a CDI name of another kind.
mkdir -p "$T/k-bad"
cp "$K"/*.yaml "$T/k-bad/"
sed -i 's/privileged: true/privileged: false/' "$T/k-bad/daemonset.yaml"
sed -i 's/pullPolicy: IfNotPresent/pullPolicy: Sometimes/' "$T/k-bad/pod-image-volume.yaml"
sed -i 's|modelvol.io/model=|nvidia.com/gpu=|' "$T/k-bad/pod-cdi.yaml"
expect_exit 1 "broken copies are refused" -- python3 "$TESTS_LIB/k8s-check.py" "$T/k-bad"
for p in 'daemonset: privileged' 'pullPolicy Always, Never or IfNotPresent' 'not of kind modelvol.io/model'; do
  assert_match "$LAST_STDERR" "$p" "...naming: $p"
done

# Every directory the installer image's payload and node-install.sh write lies under a
# hostPath the DaemonSet mounts (read-write).
mapfile -t rw < <(fact '.daemonset.hostPaths[] | select(.readOnly | not) | .path')
layout=$(sed -n '/NODE-LAYOUT-BEGIN/,/NODE-LAYOUT-END/p' "$K/Containerfile")
mapfile -t dirs < <(grep -oE -- '(--prefix|-D[a-z_]*dir|-Dsysconfdir)=[^ ]+' <<<"$layout" | cut -d= -f2)
assert_eq "${#dirs[@]}" 7 "the Containerfile names the node layout (prefix and six dirs)"
prefix=$(grep -oE -- '--prefix=[^ ]+' <<<"$layout" | cut -d= -f2)
dirs+=("$(grep -oE '^LINK=[^ ]+' "$INSTALL" | cut -d= -f2 | xargs dirname)")
dirs+=("$(grep -oE '^CONF=[^ ]+' "$INSTALL" | cut -d= -f2 | xargs dirname)")
for d in "${dirs[@]}"; do
  [ "$d" = /etc ] && continue # sysconfdir: only its modelvol/, crio/, ... subdirs are written
  covered=no
  for h in "${rw[@]}"; do [[ $d == "$h" || $d == "$h"/* ]] && covered=yes; done
  assert_eq "$covered" yes "$d is under a read-write hostPath of the DaemonSet"
done
for sub in modelvol crio/crio.conf.d containers/oci/hooks.d; do
  check "the installer's /etc/$sub is mounted" -- bash -c 'printf "%s\n" "${@:2}" | grep -qx -- "$1"' _ "/etc/$sub" "${rw[@]}"
done
check "systemd's /run/systemd is mounted (read-only is enough)" -- \
  bash -c 'jq -e ".daemonset.hostPaths[] | select(.path == \"/run/systemd\")" "$1" >/dev/null' _ "$T/facts.json"
assert_eq "$prefix" /opt/modelvol "the node prefix is /opt/modelvol"

# --- the references, subPaths and annotation against our own code -----------------------------
cat >"$T/spec.json" <<'JSON'
{"family": "cncf", "layers": [
  {"kind": "weight", "format": "raw", "path": "model.safetensors", "content": {"random": 65536, "seed": "k8s/w"}},
  {"kind": "weight.config", "format": "tar", "path": "tokenizer",
   "entries": [{"name": "tokenizer/tokenizer.json", "content": "{}\n"},
               {"name": "tokenizer/vocab.txt", "content": "a\nb\n"}]}]}
JSON
run_ok "a model with a tokenizer directory" -- mkmodel build --spec "$T/spec.json" --out "$T/layout" --ref v1
mapfile -t refs < <(fact '(.imageVolume.refs + .annotation.refs)[]' | sort -u)
for r in "${refs[@]}"; do
  run_ok "the manifests' reference $r names a model" -- mvol import "oci:$T/layout:v1" --name "$r"
done
for sub in $(fact '(.imageVolume.mounts + .annotation.entries)[] | .subPath // empty' | sort -u); do
  check "subPath $sub is a directory of the model" -- test -d "$(mvol path "${refs[0]}")/$sub"
done
for p in $(fact '(.imageVolume.mounts[].path), (.annotation.entries[].path)'); do
  check "the pod lists $p" -- grep -q -- "$p" <<<"$(fact '.imageVolume.command + " " + .annotation.command')"
done

# The annotation through the built hook: config.json carries it, as CRI-O writes it.
cat >"$T/hook.conf" <<EOF
[store]
root=$ROOT
[hook]
annotation-pulls=off
EOF
hook_plan() { # ANNOTATION-VALUE
  rm -rf "$T/bundle"
  mkdir -p "$T/bundle/rootfs"
  jq -n --arg v "$1" '{ociVersion: "1.0.2", root: {path: "rootfs"}, annotations: {"modelvol.io/mounts": $v}}' \
    >"$T/bundle/config.json"
  jq -n --arg v "$1" --arg b "$T/bundle" \
    '{ociVersion: "1.0.2", id: "mv-k8s-example", status: "creating", bundle: $b, annotations: {"modelvol.io/mounts": $v}}' \
    | "$HOOK_MAIN" --config "$T/hook.conf" createRuntime
}
value=$(fact .annotation.value)
expect_fail 1 'the OCI state has no container pid$' "the example's annotation passes the hook's checks and planning" -- hook_plan "$value"
expect_fail 1 'under /proc' "the same with a path under /proc is refused" -- hook_plan "${value//\/models\/llama/\/proc\/llama}"
expect_fail 1 "unknown key 'readOnly'" "the same with an unknown key is refused" -- \
  hook_plan "$(jq -c '.[0].readOnly = true' <<<"$value")"

# CDI: the devices the pod asks for are the ones the spec has, mounted where the pod looks.
run_ok "modelvol cdi generate" -- mvol cdi generate --output "$T/cdi"
for d in $(fact '.cdi.devices[]'); do
  check "CDI device $d is in the generated spec" -- \
    jq -e --arg d "$d" '.devices[] | select(.name == $d)' "$T/cdi/modelvol.io-model.json"
  cpath=$(jq -r --arg d "$d" '.devices[] | select(.name == $d) | .containerEdits.mounts[0].containerPath' "$T/cdi/modelvol.io-model.json")
  check "the pod lists $cpath, where the device mounts" -- grep -q -- "$cpath" <<<"$(fact .cdi.command)"
done

# --- node-install.sh into a scratch host root -------------------------------------------------
H=$T/host
[ -n "$T" ] && [ "$H" != /host ] || exit 1 # never the machine's own root
run_ok "meson install --destdir of this build (the payload)" -- \
  meson install -C "$BUILD_ROOT" --no-rebuild --destdir "$T/payload"
mkdir -p "$H/etc/crio/crio.conf.d" "$H/usr/local/bin" "$H/opt" "$H/var/lib"
echo '[crio.runtime]' >"$H/etc/crio/crio.conf.d/00-default.conf"
echo 'theirs' >"$H/usr/local/bin/other-tool"
snapshot "$H" >"$T/before"
node_install() { env HOST_ROOT="$H" PAYLOAD="$T/payload" "$@"; }

run_ok "node-install.sh install" -- node_install bash "$INSTALL" install
assert_match "$LAST_STDOUT" 'no systemd on the node' "...says units are not enabled without systemd"
pprefix=$(cd "$T/payload" && dirname "$(dirname "$(find . -path '*/bin/modelvol' -type f)")")
pprefix=${pprefix#.}
manifest=$H$pprefix/share/modelvol/install-manifest
check "the record is written" -- test -s "$manifest"
bad=$(cd "$T/payload" && find . \( -type f -o -type l \) | while read -r f; do
  f=${f#.}
  if [ -L "$T/payload$f" ]; then
    [ "$(readlink "$H$f")" = "$(readlink "$T/payload$f")" ] || echo "link $f"
  else
    cmp -s "$T/payload$f" "$H$f" || echo "bytes $f"
    [ "$(stat -c %a "$T/payload$f")" = "$(stat -c %a "$H$f" 2>/dev/null)" ] || echo "mode $f"
  fi
done)
assert_eq "$bad" "" "every payload file and symlink is in place with its bytes and mode"
check "the hook is executable" -- test -x "$H$pprefix/libexec/modelvol/modelvol-hook"
check "the config is the example" -- cmp "$SRCDIR/contrib/modelvol.conf.example" "$H/etc/modelvol/modelvol.conf"
assert_eq "$(stat -c %a "$H/etc/modelvol/modelvol.conf")" 644 "...mode 0644"
check "the hooks.d files name the installed hook" -- bash -c \
  'n=0; for f in $(find "$1" -name "modelvol-*.json" -path "*hooks.d*"); do jq -e --arg p "$2" ".hook.path == \$p" "$f" >/dev/null || exit 1; n=$((n + 1)); done; [ $n -eq 4 ]' \
  _ "$H" "$pprefix/libexec/modelvol/modelvol-hook"
check "the recorded checksums are right" -- bash -c \
  'grep "^f " "$1" | while read -r _ s p; do echo "$s  $2$p"; done | sha256sum -c --quiet' _ "$manifest" "$H"
libdir=$(dirname "$(find "$H$pprefix" -name libmodelvol.so.0 | head -n 1)")
run_ok "the installed modelvol runs" -- env LD_LIBRARY_PATH="$libdir" "$H$pprefix/bin/modelvol" --version
cp "$manifest" "$T/manifest-1"

run_ok "node-install.sh install again (an upgrade)" -- node_install bash "$INSTALL" install
check "...records the same files" -- diff <(grep -v '^d ' "$T/manifest-1" | sort) <(grep -v '^d ' "$manifest" | sort)
echo 'stale' >"$T/payload$pprefix/share/doc/modelvol/stale.txt"
run_ok "an install with a file more" -- node_install bash "$INSTALL" install
check "...installs it" -- test -f "$H$pprefix/share/doc/modelvol/stale.txt"
rm "$T/payload$pprefix/share/doc/modelvol/stale.txt"
run_ok "an upgrade to a payload without it" -- node_install bash "$INSTALL" install
check "...removes the file the new payload lacks" -- test ! -e "$H$pprefix/share/doc/modelvol/stale.txt"

run_ok "node-install.sh uninstall" -- node_install bash "$INSTALL" uninstall
check "uninstall leaves the host root exactly as it was" -- diff -u "$T/before" <(snapshot "$H")
run_ok "uninstall again does nothing" -- node_install bash "$INSTALL" uninstall
assert_match "$LAST_STDOUT" 'nothing to uninstall' "...and says so"

# An operator's config is never overwritten, and one they edited is kept on uninstall.
mkdir -p "$H/etc/modelvol"
echo '[hook]' >"$H/etc/modelvol/modelvol.conf"
run_ok "install beside an operator's config" -- node_install bash "$INSTALL" install
check "...leaves it alone" -- test "$(cat "$H/etc/modelvol/modelvol.conf")" = '[hook]'
run_ok "uninstall" -- node_install bash "$INSTALL" uninstall
check "...keeps it" -- test "$(cat "$H/etc/modelvol/modelvol.conf")" = '[hook]'
rm -r "$H/etc/modelvol"
run_ok "install with our config" -- node_install bash "$INSTALL" install
echo 'max-layers=10' >>"$H/etc/modelvol/modelvol.conf"
run_ok "uninstall after the operator edited it" -- node_install bash "$INSTALL" uninstall
assert_match "$LAST_STDOUT" 'keeping /etc/modelvol/modelvol.conf' "...keeps it and says so"
rm -r "$H/etc/modelvol"
check "...and removes everything else" -- diff -u "$T/before" <(snapshot "$H")

# A file in the way that is not ours: one line naming it, nothing overwritten.
hookjson=$(cd "$T/payload" && find . -name modelvol-poststop.json | head -n 1)
hookjson=${hookjson#.}
mkdir -p "$(dirname "$H$hookjson")"
echo '{"theirs": true}' >"$H$hookjson"
expect_fail 1 "node-install.sh: $(re_escape "$hookjson") exists and was not installed by modelvol" \
  "a foreign file in the way stops the install" -- node_install bash "$INSTALL" install
check "...and is not overwritten" -- test "$(cat "$H$hookjson")" = '{"theirs": true}'
rm "$H$hookjson"
rmdir -p --ignore-fail-on-non-empty "$(dirname "$H$hookjson")"
check "...and nothing else was written" -- diff -u "$T/before" <(snapshot "$H")

# With systemd on the node, systemctl runs on the host through HOST_EXEC (a recorder here:
# this machine's own systemd is not ours to reconfigure) and the installed binary is run.
mkdir -p "$H/run/systemd/system"
cat >"$T/hostexec" <<EOF
#!/bin/bash
echo "\$*" >>"$T/hostexec.log"
case \$1 in
  */bin/modelvol) LD_LIBRARY_PATH="$libdir" exec "$H\$1" "\${@:2}" ;;
esac
exit 0
EOF
chmod +x "$T/hostexec"
: >"$T/hostexec.log"
run_ok "install on a systemd node" -- node_install HOST_EXEC="$T/hostexec" bash "$INSTALL" install
check "...runs the installed modelvol on the host" -- grep -qx "$pprefix/bin/modelvol --version" "$T/hostexec.log"
check "...reloads systemd and enables the CDI timer" -- \
  bash -c 'grep -qx "systemctl daemon-reload" "$1" && grep -qx "systemctl enable --now modelvol-cdi.timer" "$1" && grep -qx "systemctl enable --now modelvol-watch.service" "$1"' _ "$T/hostexec.log"
check "...restarts CRI-O for its new drop-in" -- grep -qx "systemctl restart crio.service" "$T/hostexec.log"
: >"$T/hostexec.log"
run_ok "install again on a systemd node" -- node_install HOST_EXEC="$T/hostexec" bash "$INSTALL" install
check "...does not restart CRI-O when its drop-in is unchanged" -- bash -c '! grep -q "restart crio" "$1"' _ "$T/hostexec.log"
: >"$T/hostexec.log"
run_ok "uninstall on a systemd node" -- node_install HOST_EXEC="$T/hostexec" bash "$INSTALL" uninstall
check "...disables the units first" -- \
  bash -c 'head -n 1 "$1" | grep -qx "systemctl disable --now modelvol-watch.service modelvol-cdi.timer modelvol-cdi.service"' _ "$T/hostexec.log"
check "...restarts CRI-O without the drop-in" -- grep -qx "systemctl restart crio.service" "$T/hostexec.log"
rmdir "$H/run/systemd/system" "$H/run/systemd" "$H/run"
check "...and leaves the host root as it was" -- diff -u "$T/before" <(snapshot "$H")

finish
