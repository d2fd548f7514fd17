#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# podman (runc) with the hooks.d files we install (from contrib/hooks.d, pointed at the built
# hook): a container with the modelvol.io/mounts annotation sees the model read-only; one
# without runs untouched. And CDI: `modelvol cdi generate` writes a spec that podman
# --device modelvol.io/model=NAME mounts read-only.
. "$(dirname "$0")/../lib/common.sh"
. "$TESTS_LIB/container.sh"

if ! command -v podman >/dev/null; then
  skip_all "podman is not installed"
fi

CONF=$T/modelvol.conf
printf '[store]\nroot=%s\n' "$ROOT" >"$CONF"
mkmodel preset shared --variant a --seed podman --out "$T/l" --ref v1 --expect "$T/exp" >/dev/null
M=registry.example.com/org/llama-test$$:v1
DEV=registry.example.com_org_llama-test$$_v1
run_ok "import a model" -- mvol import "oci:$T/l:v1" --name "$M"

# The installed hooks.d files, pointed at the built hook and our config.
mkdir -p "$T/hooks.d"
env=$(_hook_env)
for f in "$SRCDIR"/contrib/hooks.d/*.json.in; do
  sed "s|@HOOK_PATH@|$MODELVOL_HOOK|" "$f" |
    jq --arg c "$CONF" --argjson e "$env" '.hook.args |= (.[0:1] + ["--config", $c] + .[1:]) | .hook.env = $e' \
      >"$T/hooks.d/$(basename "$f" .in)"
done
check "the hooks.d files are valid JSON" -- bash -c 'for f in "$1"/*.json; do jq -e .version "$f" >/dev/null || exit 1; done' _ "$T/hooks.d"

make_rootfs "$T/rootfs"
# podman 4.3 reads CDI specs from /etc/cdi and /var/run/cdi only (cdi_spec_dirs came in 4.4):
# the test's spec goes there under a name of its own, with a device name of its own.
CDI_FILE=/var/run/cdi/modelvol-test-$$.json
_podman_exit() {
  rm -f "$CDI_FILE"
  # podman leaves its storage mounted: unmount what it left under our temp dir.
  # Nothing left is fine too (grep finds nothing): the trap must go on to the common cleanup.
  awk '{print $5}' /proc/self/mountinfo | grep "^$T/" | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
}
# shellcheck disable=SC2154  # assigned in the trap itself
trap '_ctr_rc=$?; _podman_exit; _container_exit; (exit $_ctr_rc); _common_exit' EXIT
pod() { # [PODMAN RUN OPTIONS...] -- COMMAND...
  local opts=()
  while [ "$1" != -- ]; do opts+=("$1"); shift; done
  shift
  podman --root "$T/pstore" --runroot "$T/prun" --cgroup-manager cgroupfs --events-backend file \
    --runtime runc --hooks-dir "$T/hooks.d" run --rm --network none \
    --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 "${opts[@]}" --rootfs "$T/rootfs" "$@"
}
# podman's own storage mounts live under $T.
host_mounts_but_podman() { host_mounts | grep -v "^$T/"; }
# shellcheck disable=SC2016
REPORT='cd "$0" && find . -type f | sort | while read -r f; do echo "F $(sha256sum "$f")"; done; touch x 2>&1 | grep -q "Read-only" && echo EROFS'
want=$( (cd "$T/exp" && find . -type f | sort | while read -r f; do echo "F $(sha256sum "$f")"; done); echo EROFS)
before=$(host_mounts_but_podman)

# podman splits --annotation values as CSV: quote the field, double the quotes inside.
ann="modelvol.io/mounts=[{\"ref\": \"$M\", \"path\": \"/models/llama\"}]"
run_ok "podman with the annotation" -- pod --annotation "\"${ann//\"/\"\"}\"" -- sh -c "$REPORT" /models/llama
check "the model is in the podman container, byte-exact and read-only" -- diff -u <(echo "$want") <(echo "$LAST_STDOUT")
run_ok "podman without the annotation" -- pod -- sh -c 'cat /models/llama/config.json 2>/dev/null || echo none'
assert_eq "$LAST_STDOUT" none "a container without the annotation is untouched"
check "no use record is left after podman --rm" -- bash -c '! ls "$1"/run/uses/*/* 2>/dev/null' _ "$ROOT"

run_ok "cdi generate" -- mvol cdi generate --output "$T/cdi"
assert_eq "$LAST_STDOUT" "modelvol.io/model=$DEV" "one device per model name, sanitized"
check "the CDI spec is JSON with kind modelvol.io/model" -- jq -e '.kind == "modelvol.io/model" and .cdiVersion == "0.5.0"' "$T/cdi/modelvol.io-model.json"
mkdir -p /var/run/cdi
cp "$T/cdi/modelvol.io-model.json" "$CDI_FILE"
run_ok "podman --device modelvol.io/model=..." -- pod --device modelvol.io/model=$DEV -- sh -c "$REPORT" /models/$DEV
check "the CDI device mounts the model byte-exact and read-only" -- diff -u <(echo "$want") <(echo "$LAST_STDOUT")
run_ok "cdi generate --mount-dir /opt/m --json" -- mvol --json cdi generate --output "$T/cdi" --mount-dir /opt/m
check "--json lists the devices" -- jq -e --arg d "$DEV" '.devices == [$d]' <<<"$LAST_STDOUT"
check "the spec uses the mount dir" -- jq -e --arg p "/opt/m/$DEV" '.devices[0].containerEdits.mounts[0].containerPath == $p' "$T/cdi/modelvol.io-model.json"
expect_fail 1 "mount directory.*path 'opt' is not absolute" "a relative mount dir" -- mvol cdi generate --output "$T/cdi" --mount-dir opt
expect_exit 2 "an unknown cdi subcommand" -- mvol cdi write
assert_eq "$(host_mounts_but_podman)" "$before" "the host's mount table is unchanged"

finish
