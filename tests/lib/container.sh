# shellcheck shell=bash
# SPDX-License-Identifier: Apache-2.0
# Real containers for tests/runtime/: busybox-static rootfs, runc bundles, and CRI-O's image
# volume reproduced. Source after common.sh.
#
#   make_rootfs DIR                 busybox-static with its applets as relative symlinks
#   make_bundle DIR SCRIPT          runc bundle running `sh -c SCRIPT` in DIR/rootfs
#   bundle_jq DIR FILTER [ARGS...]  edit DIR/config.json with jq
#   bundle_add_hook DIR CONF        modelvol-hook for createRuntime and poststop, with --config
#   crio_image_volume DIR ARTIFACTS MANIFEST_DIGEST VOLUME [SUBPATH]
#                                   what CRI-O 1.33+ writes for an image volume of an artifact:
#                                   one read-only bind mount per layer blob at
#                                   VOLUME/<filepath or title> (with SUBPATH kept and stripped)
#                                   and the io.kubernetes.cri-o.Volumes annotation
#   ctr_run DIR ID                  runc run, foreground; stdout in $LAST_STDOUT
#   ctr_start DIR ID / ctr_stop ID  a detached container (deleted, with poststop, by ctr_stop)
#   has_model DIGEST / lacks_model DIGEST
#   host_mounts                     the host's mount table (mount points and options), sorted

MODELVOL_HOOK=${MODELVOL_HOOK:-$(dirname "$MODELVOL")/../hooks/modelvol-hook}
if [ ! -x "$MODELVOL_HOOK" ]; then
  echo "$TEST_NAME: modelvol-hook not found at $MODELVOL_HOOK (set MODELVOL_HOOK)" >&2
  exit 1
fi
if ! command -v runc >/dev/null || ! [ -x /bin/busybox ]; then
  skip_all "runc or busybox-static missing"
fi

# A runc state root of this test's own: container ids never meet those of another test run
# (two suites on one machine, or a run killed before its cleanup).
export MV_RUNC_ROOT=$T/runc
runc() { command runc --root "$MV_RUNC_ROOT" "$@"; }
export -f runc

make_rootfs() {
  local dir=$1 a
  mkdir -p "$dir/bin" "$dir/proc" "$dir/sys" "$dir/dev" "$dir/tmp" "$dir/etc"
  cp /bin/busybox "$dir/bin/busybox"
  for a in $(/bin/busybox --list); do
    [ "$a" = busybox ] || ln -sf busybox "$dir/bin/$a"
  done
}

make_bundle() {
  local dir=$1 script=$2
  mkdir -p "$dir"
  [ -d "$T/rootfs-template" ] || make_rootfs "$T/rootfs-template"
  cp -a "$T/rootfs-template" "$dir/rootfs"
  (cd "$dir" && runc spec)
  bundle_jq "$dir" '.process.terminal = false | .process.args = ["sh", "-c", $s]
    | .root.readonly = false | .hostname = "mvtest"
    | .linux.namespaces |= map(select(.type != "network"))' --arg s "$script"
}

bundle_jq() {
  local dir=$1 filter=$2
  shift 2
  jq "$@" "$filter" "$dir/config.json" >"$dir/config.json.new"
  mv "$dir/config.json.new" "$dir/config.json"
}

# Sanitizer settings reach the hook through the hook's env (runc passes nothing else).
_hook_env() {
  jq -n '[env | to_entries[] | select(.key | test("^(ASAN|LSAN|UBSAN)_OPTIONS$|^G_SLICE$|^G_DEBUG$")) | "\(.key)=\(.value)"]'
}

# With HOOK_SHIM=no-openat2 the hook runs under strace, which makes openat2 fail with ENOSYS
# (an old kernel, or a seccomp profile that hides it), logging to $T/no-openat2.log.
bundle_add_hook() {
  local dir=$1 conf=$2 env path pre='[]'
  env=$(_hook_env)
  path=$MODELVOL_HOOK
  if [ "${HOOK_SHIM:-}" = no-openat2 ]; then
    # LeakSanitizer cannot run under ptrace: the plain runs check for leaks.
    env=$(jq -c 'map(if startswith("ASAN_OPTIONS=") then . + ":detect_leaks=0" else . end)' <<<"$env")
    path=$(command -v strace)
    pre=$(jq -n --arg h "$MODELVOL_HOOK" --arg l "$T/no-openat2.log" \
      '["strace", "-f", "-qq", "-A", "-o", $l, "-e", "trace=openat2", "-e", "inject=openat2:error=ENOSYS", $h]')
  fi
  bundle_jq "$dir" '.hooks.createRuntime += [{path: $p, args: ((if $pre == [] then ["modelvol-hook"] else $pre end) + ["--config", $c, "createRuntime"]), env: $e}]
    | .hooks.poststop += [{path: $p, args: ((if $pre == [] then ["modelvol-hook"] else $pre end) + ["--config", $c, "poststop"]), env: $e}]' \
    --arg p "$path" --arg c "$conf" --argjson e "$env" --argjson pre "$pre"
}

crio_image_volume() {
  local dir=$1 artifacts=$2 digest=$3 volume=$4 sub=${5:-} manifest
  manifest=$artifacts/blobs/sha256/${digest#sha256:}
  python3 - "$dir/config.json" "$artifacts" "$manifest" "${digest#sha256:}" "$volume" "$sub" <<'PY'
import json, os, sys
cfg_path, artifacts, manifest_path, hexd, volume, sub = sys.argv[1:]
cfg = json.load(open(cfg_path))
manifest = json.load(open(manifest_path))
keys = ["org.cncf.model.filepath", "org.cnai.model.filepath", "org.opencontainers.image.title"]
vols = json.loads(cfg.get("annotations", {}).get("io.kubernetes.cri-o.Volumes", "[]"))
prefix = os.path.normpath(sub) + "/" if sub not in ("", ".") else ""
for layer in manifest["layers"]:
    ann = layer.get("annotations", {})
    name = next((ann[k] for k in keys if k in ann), None)
    if name is None:
        continue
    if prefix:
        if not name.startswith(prefix):
            continue
        name = name[len(prefix):]
    src = os.path.join(artifacts, "blobs", *layer["digest"].split(":"))
    cfg.setdefault("mounts", []).append({"destination": os.path.join(volume, name), "type": "bind",
                                         "source": src, "options": ["bind", "ro"]})
    vols.append({"container_path": volume, "host_path": src, "readonly": True,
                 "propagation": 0, "selinux_relabel": False, "image": {"image": hexd}})
cfg.setdefault("annotations", {})["io.kubernetes.cri-o.Volumes"] = json.dumps(vols)
json.dump(cfg, open(cfg_path, "w"), indent=1)
PY
}

ctr_run() {
  local dir=$1 id=$2
  LAST_RC=0
  # shellcheck disable=SC2034  # read by the tests
  LAST_STDOUT=$(runc run --bundle "$dir" "$id" </dev/null 2>"$T/.ctr-stderr") || LAST_RC=$?
  # shellcheck disable=SC2034
  LAST_STDERR=$(cat "$T/.ctr-stderr")
  runc delete -f "$id" >/dev/null 2>&1 || true
}

ctr_start() {
  CLEANUP_CONTAINERS+=("$2")
  runc run -d --bundle "$1" "$2" </dev/null >/dev/null 2>"$T/.ctr-stderr-$2"
}

ctr_stop() {
  runc kill "$1" KILL >/dev/null 2>&1 || true
  for _ in $(seq 100); do
    [ "$(runc state "$1" 2>/dev/null | jq -r .status)" = running ] || break
    sleep 0.05
  done
  runc delete -f "$1" >/dev/null 2>&1 || true
}

CLEANUP_CONTAINERS=()
_container_exit() {
  local c
  for c in "${CLEANUP_CONTAINERS[@]}"; do runc delete -f "$c" >/dev/null 2>&1; done
}
if declare -F _common_exit >/dev/null; then
  # shellcheck disable=SC2154  # assigned in the trap itself
  trap '_ctr_rc=$?; _container_exit; (exit $_ctr_rc); _common_exit' EXIT
fi

has_model() { mvol ls --json | jq -e --arg d "$1" '.models[] | select(.digest == $d)' >/dev/null; }
lacks_model() { ! has_model "$1"; }

# (Mounts other test runs make under their own temp dirs at the same time are not ours.)
host_mounts() {
  awk '{print $5, $6}' /proc/self/mountinfo | sort |
    awk -v t="$T/" -v p="${TEST_TMPDIR:-${TMPDIR:-/tmp}}/modelvol-" 'index($1, p) != 1 || index($1, t) == 1'
}
