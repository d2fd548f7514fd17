# shellcheck shell=bash
# SPDX-License-Identifier: Apache-2.0
# Sourceable: the real CRI-O (built by contrib/install-deps.sh from its Go module), driven with
# crictl the way the kubelet drives it, with modelvol-hook installed from contrib/. Needs
# tests/lib/common.sh and tests/lib/registry.sh first.
#
#   crio_start DIR                  one CRI-O of its own: root, runroot, socket, log, runc
#                                   state, conmon exits, namespaces, all under DIR; hooks_dir
#                                   set by contrib's CRI-O drop-in (rendered with DIR/hooks.d)
#                                   in --config-dir; DIR/hooks.d holds contrib's hooks.d files
#                                   pointed at the built hook with --config $CRIO_MODELVOL_CONF;
#                                   registries.conf makes $REGISTRY insecure (plain HTTP);
#                                   pause_image is $REGISTRY/pause:1 (crio_push_images). Waits
#                                   until crictl answers, then pulls $REGISTRY/busybox:1. Exports CRIO_DIR, CRIO_SOCK,
#                                   CRIO_GRAPHROOT (its artifact store is $CRIO_GRAPHROOT/
#                                   artifacts), CRIO_LOG, CRIO_PID. CRIO_VERSION (from the
#                                   test's environment, default the newest pinned) picks the
#                                   build.
#   crio_stop                       stops CRI-O: the pids in $CRIO_KILL_FIRST (a kubelet) are
#                                   killed, every pod is removed (so conmon, runc and every
#                                   mount go), then SIGTERM, then SIGKILL; unmounts what is left
#                                   under $T. Runs from the EXIT trap too.
#   crio_setup [CONF-LINES]         the usual start of a test: a registry ($R), the images
#                                   below pushed to it, and $CRIO_MODELVOL_CONF, the hook's
#                                   modelvol.conf ([store] root=$ROOT, [crio] graphroot of the
#                                   CRI-O crio_start "$T/crio" will start, then CONF-LINES).
#   wait_until DESC SECONDS -- CMD  polls CMD every 0.2 s until it succeeds (a check); on
#                                   failure shows the tail of $WAIT_LOG, if set.
#   crio_push_images                an ordinary busybox image at $REGISTRY/busybox:1 and the
#                                   pause image at $REGISTRY/pause:1 (tests/lib/mkimage.py).
#   cri ARGS...                     crictl against this CRI-O.
#   crio_pod NAME [JQ-EXPR]         runs a pod sandbox (host network, pid namespace
#                                   CONTAINER, cgroupfs parent of its own); sets CRIO_POD (its
#                                   id) and CRIO_POD_CFG (its config file).
#   crio_ctr_config OUT NAME SCRIPT [JQ-EXPR [JQ-ARGS...]]
#                                   a container config for busybox running sh -c SCRIPT; the
#                                   jq expression JQ-EXPR (with JQ-ARGS such as --arg) edits it.
#   crio_run POD CONFIG [PODCFG]    crictl create + start (PODCFG defaults to CRIO_POD_CFG);
#                                   sets LAST_CTR, LAST_RC and LAST_STDERR (of the failing step).
#   crio_wait_exit CTR              waits for the container to exit; its log in $LAST_STDOUT.
#   crio_rm [-f] CTR...             crictl rm; empty ids (failed creates) are skipped.
#   crio_image_mount_config OUT NAME SCRIPT IMAGE PATH [SUBPATH]
#                                   crio_ctr_config with one CRI image mount of IMAGE at PATH.
# shellcheck disable=SC2034  # LAST_* are read by the test scripts

# shellcheck source=contrib/go-tools.versions
. "$SRCDIR/contrib/go-tools.versions"
CRIO_VERSION=${CRIO_VERSION:-$CRIO_VERSION_NEWEST}
GO_TOOLS=${MVTEST_GO_TOOLS:-/var/cache/modelvol-tests/go-tools}
CRIO_BIN=$GO_TOOLS/crio/$CRIO_VERSION/crio
PINNS_BIN=$GO_TOOLS/crio/$CRIO_VERSION/pinns
CRICTL_BIN=$GO_TOOLS/crictl/$CRICTL_VERSION/crictl
KUBELET_BIN=$GO_TOOLS/kubelet/$KUBELET_VERSION/kubelet

_crio_missing() {
  if [ "${CI:-}" = true ]; then
    echo "# $TEST_NAME: $1 (contrib/install-deps.sh builds it)" >&2
    exit 1
  fi
  skip_all "$1 (run contrib/install-deps.sh)"
}
for _b in "$CRIO_BIN" "$PINNS_BIN" "$CRICTL_BIN"; do
  [ -x "$_b" ] || _crio_missing "$_b is not built"
done
for _b in /usr/bin/conmon runc; do
  command -v "$_b" >/dev/null || _crio_missing "$_b is not installed"
done
RUNC_BIN=$(type -P runc)

MODELVOL_HOOK=${MODELVOL_HOOK:-$(dirname "$MODELVOL")/../hooks/modelvol-hook}
[ -x "$MODELVOL_HOOK" ] || { echo "$TEST_NAME: modelvol-hook not found at $MODELVOL_HOOK" >&2; exit 1; }

CRIO_PID=
CRIO_DIR=

cri() {
  "$CRICTL_BIN" --config "$CRIO_DIR/crictl.yaml" "$@"
}

# Sanitizer settings reach the hook through its hooks.d env (CRI-O passes nothing else). With
# MVTEST_HOOK_NO_LEAK_CHECK=1 the hook runs without LeakSanitizer (AddressSanitizer and UBSan
# stay on).
_crio_hook_env() {
  jq -n --arg nl "${MVTEST_HOOK_NO_LEAK_CHECK:-0}" '[env | to_entries[]
    | select(.key | test("^(ASAN|LSAN|UBSAN)_OPTIONS$|^G_SLICE$|^G_DEBUG$"))
    | if $nl == "1" and .key == "ASAN_OPTIONS" then .value += ":detect_leaks=0" else . end
    | "\(.key)=\(.value)"]'
}

crio_start() {
  local dir=$1 f env
  mkdir -p "$dir"
  CRIO_DIR=$(cd "$dir" && pwd)
  CRIO_SOCK=$CRIO_DIR/crio.sock
  CRIO_GRAPHROOT=$CRIO_DIR/root
  CRIO_LOG=$CRIO_DIR/crio.log
  mkdir -p "$CRIO_DIR/hooks.d" "$CRIO_DIR/crio.conf.d" "$CRIO_DIR/registries.d" "$CRIO_DIR/cni" "$CRIO_DIR/cdi"
  : "${CRIO_MODELVOL_CONF:?crio_start: set CRIO_MODELVOL_CONF (modelvol.conf of the hook)}"

  # contrib's hooks.d files, as installed, but for the built hook and the test's config.
  env=$(_crio_hook_env)
  for f in "$SRCDIR"/contrib/hooks.d/*.json.in; do
    sed "s|@HOOK_PATH@|$MODELVOL_HOOK|" "$f" |
      jq --arg c "$CRIO_MODELVOL_CONF" --argjson e "$env" \
        '.hook.args |= (.[0:1] + ["--config", $c] + .[1:]) | .hook.env = $e' \
        >"$CRIO_DIR/hooks.d/$(basename "$f" .in)"
  done
  # contrib's CRI-O drop-in, rendered for this directory as meson renders it for the install.
  sed "s|@CRIO_HOOKS_DIRS@|\"$CRIO_DIR/hooks.d\",|" "$SRCDIR/contrib/crio/crio.conf.d/10-modelvol.conf.in" \
    >"$CRIO_DIR/crio.conf.d/10-modelvol.conf"

  cat >"$CRIO_DIR/crictl.yaml" <<EOF
runtime-endpoint: unix://$CRIO_SOCK
image-endpoint: unix://$CRIO_SOCK
timeout: 120
EOF
  cat >"$CRIO_DIR/registries.conf" <<EOF
unqualified-search-registries = []
[[registry]]
location = "$REGISTRY"
insecure = true
EOF
  echo '{"default": [{"type": "insecureAcceptAnything"}]}' >"$CRIO_DIR/policy.json"
  cat >"$CRIO_DIR/storage.conf" <<EOF
[storage]
driver = "overlay"
runroot = "$CRIO_DIR/run"
graphroot = "$CRIO_GRAPHROOT"
EOF
  cat >"$CRIO_DIR/crio.conf" <<EOF
[crio]
root = "$CRIO_GRAPHROOT"
runroot = "$CRIO_DIR/run"
storage_driver = "overlay"
log_dir = "$CRIO_DIR/pods"
version_file = "$CRIO_DIR/run/version"
version_file_persist = "$CRIO_DIR/version"
clean_shutdown_file = "$CRIO_DIR/clean.shutdown"

[crio.api]
listen = "$CRIO_SOCK"
stream_address = "127.0.0.1"
stream_port = "0"

[crio.runtime]
default_runtime = "runc"
cgroup_manager = "cgroupfs"
conmon_cgroup = "pod"
drop_infra_ctr = true
pinns_path = "$PINNS_BIN"
namespaces_dir = "$CRIO_DIR/ns"
container_exits_dir = "$CRIO_DIR/exits"
container_attach_socket_dir = "$CRIO_DIR/attach"
log_to_journald = false
seccomp_profile = ""
apparmor_profile = "unconfined"
selinux = false
cdi_spec_dirs = ["$CRIO_DIR/cdi"]

[crio.runtime.runtimes.runc]
runtime_path = "$RUNC_BIN"
runtime_type = "oci"
runtime_root = "$CRIO_DIR/runc"
monitor_path = "/usr/bin/conmon"

[crio.image]
pause_image = "$REGISTRY/pause:1"
signature_policy = "$CRIO_DIR/policy.json"
global_auth_file = ""

[crio.network]
network_dir = "$CRIO_DIR/cni"
plugin_dirs = ["/usr/lib/cni"]

[crio.metrics]
enable_metrics = false
EOF
  CONTAINERS_STORAGE_CONF=$CRIO_DIR/storage.conf CONTAINERS_REGISTRIES_CONF=$CRIO_DIR/registries.conf \
    "$CRIO_BIN" --config "$CRIO_DIR/crio.conf" --config-dir "$CRIO_DIR/crio.conf.d" \
    --registries-conf "$CRIO_DIR/registries.conf" --registries-conf-dir "$CRIO_DIR/registries.d" \
    --log-level info >"$CRIO_LOG" 2>&1 &
  CRIO_PID=$!
  local _i
  for _i in $(seq 1 300); do
    if ! kill -0 "$CRIO_PID" 2>/dev/null; then
      echo "# crio_start: CRI-O $CRIO_VERSION exited at start:" >&2
      tail -n 20 "$CRIO_LOG" | sed 's/^/#   /' >&2
      CRIO_PID=
      return 1
    fi
    [ -S "$CRIO_SOCK" ] && cri version >/dev/null 2>&1 && break
    sleep 0.1
  done
  cri version >/dev/null 2>&1 || { echo "# crio_start: CRI-O does not answer on $CRIO_SOCK" >&2; return 1; }
  # The workload image, as the kubelet pulls it before CreateContainer.
  cri pull "$REGISTRY/busybox:1" >/dev/null
  export CRIO_DIR CRIO_SOCK CRIO_GRAPHROOT CRIO_LOG CRIO_PID
}

crio_stop() {
  [ -n "$CRIO_DIR" ] || return 0
  local - p _i
  set +e   # best effort, every step: a kill of a process already gone is no failure here
  # Clients first (a kubelet would start the pods again).
  for p in ${CRIO_KILL_FIRST:-}; do kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  if [ -n "$CRIO_PID" ] && kill -0 "$CRIO_PID" 2>/dev/null; then
    for p in $(cri pods -q 2>/dev/null); do
      cri stopp "$p" >/dev/null 2>&1
      cri rmp -f "$p" >/dev/null 2>&1
    done
    kill -TERM "$CRIO_PID" 2>/dev/null
    for _i in $(seq 1 100); do kill -0 "$CRIO_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$CRIO_PID" 2>/dev/null
    wait "$CRIO_PID" 2>/dev/null
  fi
  CRIO_PID=
  # Whatever a killed CRI-O left: conmon and container processes, then mounts under the dir.
  for p in $(pgrep -f "conmon.*$CRIO_DIR" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
  if [ -d "$CRIO_DIR/runc" ]; then
    for p in $(command runc --root "$CRIO_DIR/runc" list -q 2>/dev/null); do
      command runc --root "$CRIO_DIR/runc" delete -f "$p" >/dev/null 2>&1
    done
  fi
  # The cgroups CRI-O made for our pods (crictl's parent, and its default /crio for the
  # kubelet's pods): rmdir leaves any that still hold a process.
  local d
  for d in /sys/fs/cgroup/*/modelvol-test-crio /sys/fs/cgroup/*/crio /sys/fs/cgroup/modelvol-test-crio /sys/fs/cgroup/crio; do
    [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
  done
  # Then every mount left under the test's directory (CRI-O's, the kubelet's).
  awk '{print $5}' /proc/self/mountinfo | grep "^$T/" | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  return 0
}

# The EXIT trap: CRI-O first (its containers hold mounts under $T), then the runc containers of
# container.sh if sourced, then common.sh's cleanup (registry, temp dir), with errexit off so
# that one failing step cannot skip the rest.
# shellcheck disable=SC2154  # assigned in the trap itself
trap '_crio_rc=$?; set +e; crio_stop; if declare -F _container_exit >/dev/null; then _container_exit; fi
  (exit $_crio_rc); _common_exit' EXIT

crio_push_images() {
  local img=$T/images
  python3 "$TESTS_LIB/mkimage.py" --out "$img" --ref busybox >/dev/null
  python3 "$TESTS_LIB/mkimage.py" --out "$img" --ref pause --cmd /bin/sleep --cmd infinity >/dev/null
  "${OCIPUSH[@]}" "oci:$img:busybox" "$REGISTRY/busybox:1" >/dev/null
  "${OCIPUSH[@]}" "oci:$img:pause" "$REGISTRY/pause:1" >/dev/null
}

CRIO_POD_SEQ=0
crio_pod() {
  local name=$1 merge=${2:-.} cfg
  CRIO_POD_SEQ=$((CRIO_POD_SEQ + 1))
  cfg=$CRIO_DIR/pod-$name.json
  jq -n --arg n "$name" --arg uid "uid-$name-$$-$CRIO_POD_SEQ" --arg logs "$CRIO_DIR/pods/$name" \
    '{metadata: {name: $n, namespace: "modelvol-test", uid: $uid, attempt: 0},
      log_directory: $logs,
      linux: {cgroup_parent: "/modelvol-test-crio", security_context: {namespace_options: {network: 2, pid: 1, ipc: 0}}}}' |
    jq "$merge" >"$cfg"
  mkdir -p "$CRIO_DIR/pods/$name"
  CRIO_POD=$(cri runp "$cfg")
  CRIO_POD_CFG=$cfg
}

crio_ctr_config() {
  local out=$1 name=$2 script=$3 merge=${4:-.}
  shift 4 2>/dev/null || shift $#
  jq -n --arg n "$name" --arg img "$REGISTRY/busybox:1" --arg s "$script" \
    '{metadata: {name: $n}, image: {image: $img}, command: ["/bin/sh", "-c", $s],
      log_path: ($n + ".log"),
      linux: {security_context: {namespace_options: {network: 2, pid: 1}}}}' | jq "$@" "$merge" >"$out"
}

crio_image_mount_config() {
  local out=$1 name=$2 script=$3 image=$4 path=$5 sub=${6:-}
  crio_ctr_config "$out" "$name" "$script"
  jq --arg p "$path" --arg i "$image" --arg s "$sub" \
    '.mounts += [{container_path: $p, image: {image: $i, user_specified_image: $i}, readonly: true}
                 + (if $s == "" then {} else {image_sub_path: $s} end)]' "$out" >"$out.tmp"
  mv "$out.tmp" "$out"
}

crio_run() {
  local pod=$1 cfg=$2 podcfg=${3:-$CRIO_POD_CFG}
  LAST_RC=0 LAST_STDERR='' LAST_CTR=''
  LAST_CTR=$(cri create "$pod" "$cfg" "$podcfg" 2>"$T/crio-run.err") || LAST_RC=$?
  if [ "$LAST_RC" = 0 ]; then
    cri start "$LAST_CTR" >/dev/null 2>"$T/crio-run.err" || LAST_RC=$?
  fi
  LAST_STDERR=$(cat "$T/crio-run.err")
}

crio_wait_exit() {
  local ctr=$1 _i st
  for _i in $(seq 1 600); do
    st=$(cri inspect -o go-template --template '{{.status.state}}' "$ctr" 2>/dev/null || true)
    [ "$st" = CONTAINER_EXITED ] && break
    sleep 0.1
  done
  LAST_STDOUT=$(cri logs "$ctr" 2>/dev/null || true)
  LAST_RC=$(cri inspect -o go-template --template '{{.status.exitCode}}' "$ctr" 2>/dev/null || echo "?")
}

crio_setup() {
  registry_start "$T/reg" >/dev/null
  R=$REGISTRY
  CRIO_MODELVOL_CONF=$T/modelvol.conf
  printf '[store]\nroot=%s\n[crio]\ngraphroot=%s\n%s\n' "$ROOT" "$T/crio/root" "${1:-}" >"$CRIO_MODELVOL_CONF"
  crio_push_images
}

wait_until() {
  local desc=$1 secs=$2 i
  shift 3
  for ((i = 0; i < secs * 5; i++)); do
    if "$@" >/dev/null 2>&1; then tap_ok "$desc"; return 0; fi
    sleep 0.2
  done
  tap_not_ok "$desc"
  diag "gave up after $secs s: $*"
  if [ -n "${WAIT_LOG:-}" ]; then diag "$(tail -n 20 "$WAIT_LOG")"; fi
  diag "CRI-O:" "$(grep -E 'level=(error|warning)' "$CRIO_LOG" 2>/dev/null | tail -n 10)"
}

# crio_rm [-f] CTR...: removes containers (poststop runs); an empty id (a failed create) is
# skipped.
crio_rm() {
  local c f=()
  [ "${1:-}" = -f ] && { f=(-f); shift; }
  for c in "$@"; do
    [ -n "$c" ] && cri rm "${f[@]}" "$c" >/dev/null
  done
  return 0
}
