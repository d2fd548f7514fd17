#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The hook waits for an import of its model that is already running (here a `modelvol pull`
# slowed down by a throttling proxy; the watch service and other hooks take the same
# per-manifest import lock) instead of starting a second one. CRI-O's copy of the big layer is
# damaged after skopeo wrote it, so a hook that imported from CRI-O's store itself would fail
# its digest check: the container only sees the right bytes if the hook waited and mounted
# the pulled model. With [hook] import-wait=1 the hook gives up with one clear line while the
# pull still runs; with a long one it waits and the container starts.
. "$(dirname "$0")/../lib/common.sh"
. "$TESTS_LIB/registry.sh"
. "$TESTS_LIB/container.sh"

registry_start "$T/reg" >/dev/null
R=$REGISTRY
GRAPH=$T/graph
ART=$GRAPH/artifacts
mkdir -p "$GRAPH"

cat >"$T/spec.json" <<'EOF'
{"family": "cncf", "layers": [
 {"kind": "weight", "format": "raw", "path": "big.bin", "content": {"random": 2000000, "seed": "wait-big"}},
 {"kind": "weight.config", "format": "raw", "path": "config.json", "content": "{}\n"}
]}
EOF
mkmodel build --spec "$T/spec.json" --out "$T/l" --ref v1 --info "$T/info.json" --expect "$T/exp" >/dev/null
run_ok "push the model" -- ocipush "oci:$T/l:v1" "$R/org/m:v1"
run_ok "skopeo pulls it into CRI-O's artifact store" -- skopeo copy -q --src-tls-verify=false \
  "docker://$R/org/m:v1" "oci:$ART:$R/org/m:v1"
DIG=$(jq -r '.manifests[0].digest' "$ART/index.json")
big=$(jq -r '.layers[] | select(.path == "big.bin") | .digest' "$T/info.json")
python3 - "$ART/blobs/sha256/${big#sha256:}" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[len(b) // 2] ^= 0xff
open(p, "wb").write(b)
PY

cat >"$T/rules.json" <<JSON
[{"match": "/blobs/$big", "actions": ["throttle:100000"]}]
JSON
: >"$T/proxy.log"
faultproxy P "$R" "$T/rules.json" "$T/proxy.log"

conf() {
  cat >"$T/hook-$1.conf" <<EOF
[store]
root=$ROOT
[crio]
graphroot=$GRAPH
[hook]
import-wait=$1
EOF
}
conf 1
conf 300

mvol pull --tls-verify=false --progress=none "$P/org/m:v1" >"$T/pull.out" 2>"$T/pull.err" &
PULL_PID=$!
CLEANUP_PIDS+=("$PULL_PID")
check "the slow pull holds the model's import lock" -- wait_for_file "$ROOT/run/imports/${DIG#sha256:}.lock" 60

# shellcheck disable=SC2016
REPORT='cd /model && find . -type f | sort | while read -r f; do echo "F $(sha256sum "$f")"; done'
make_bundle "$T/b1" "$REPORT"
crio_image_volume "$T/b1" "$ART" "$DIG" /model
bundle_add_hook "$T/b1" "$T/hook-1.conf"
ctr_run "$T/b1" mv-wait-1
check "with import-wait=1 the container fails while the pull runs" -- test "$LAST_RC" -ne 0
check "with one line naming the volume, the model and the setting" -- grep -q \
  "modelvol-hook: image volume /model: the import of model $DIG by another process is still running after 1 s (\[hook\] import-wait)" \
  <<<"$LAST_STDERR"
check "the pull is still running" -- kill -0 "$PULL_PID"
check "the hook imported nothing" -- lacks_model "$DIG"

make_bundle "$T/b2" "$REPORT"
crio_image_volume "$T/b2" "$ART" "$DIG" /model
bundle_add_hook "$T/b2" "$T/hook-300.conf"
check "the pull is still running when the second container is created" -- kill -0 "$PULL_PID"
ctr_run "$T/b2" mv-wait-2
assert_eq "$LAST_RC" 0 "with import-wait=300 the container runs"
(cd "$T/exp" && find . -type f | sort | while read -r f; do echo "F $(sha256sum "$f")"; done) >"$T/want"
grep '^F ' <<<"$LAST_STDOUT" >"$T/got" || true
check "it sees the pulled model's bytes, not CRI-O's damaged copy (the hook did not import it)" -- \
  diff -u "$T/want" "$T/got"
check "the pull had ended by then" -- bash -c "! kill -0 $PULL_PID 2>/dev/null"
rc=0
wait "$PULL_PID" || rc=$?
assert_eq "$rc" 0 "the pull succeeded"
assert_eq "$(grep -c "GET .*/blobs/$big " "$T/proxy.log")" 1 "the big layer was fetched once"
check "one model in the store" -- test "$(model_count)" = 1
check "no import lock is left" -- bash -c "[ -z \"\$(ls -A '$ROOT/run/imports')\" ]"
run_ok "fsck" -- mvol fsck

finish
