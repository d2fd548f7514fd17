#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Container start through the real CRI-O (the newest pinned in contrib/go-tools.versions):
# crictl create + start of a busybox container with a Kubernetes image volume of a ModelPack
# artifact that CRI-O has already pulled (as the kubelet pulls it first), medians of RUNS runs
# (default 9), side by side in one run:
#   1. CRI-O alone: its own artifact mount (one read-only bind mount per layer blob; tar
#      layers stay tar files), no modelvol hooks installed
#   2. with modelvol-hook, cold: the model is not in the store; the hook imports it from
#      CRI-O's artifact store (unpack, dedup, checkout) and mounts the tree (the store is
#      pruned between runs, so every run is cold)
#   3. with modelvol-hook, warm: the model is stored and checked out (as `modelvol watch`
#      leaves it after CRI-O's pull); the hook only mounts
# Each run also removes the container (CRI-O's RemoveContainer runs the poststop hook); that
# is timed apart. Figures only, never assertions.
#   tests/bench/bench-crio.sh [BUILDDIR]   (default: build-bench, a release build)
#   SIZE_MB (default 256): the model's raw weights, in two shards, beside tar, tar+gzip and
#   tar+zstd layers.
set -euo pipefail
cd "$(dirname "$0")/../.."
src=$PWD
builddir=${1:-$src/build-bench}
runs=${RUNS:-9}
size_mb=${SIZE_MB:-256}

if [ ! -f "$builddir/build.ninja" ]; then
  meson setup "$builddir" -Dbuildtype=release -Dtests=false >/dev/null
fi
ninja -C "$builddir" >/dev/null
export MODELVOL=$builddir/helper/modelvol MODELVOL_HOOK=$builddir/hooks/modelvol-hook
export TEST_TMPDIR=${WORK:-/var/tmp}
# shellcheck source=tests/lib/common.sh
. "$src/tests/lib/common.sh"
. "$TESTS_LIB/registry.sh"
. "$TESTS_LIB/container.sh"
. "$TESTS_LIB/crio.sh"

crio_setup
half=$((size_mb * 1024 * 1024 / 2))
cat >"$T/spec.json" <<EOF
{"family": "cncf", "layers": [
 {"kind": "weight", "format": "raw", "path": "model-00001-of-00002.safetensors", "content": {"random": $half, "seed": "bc1"}},
 {"kind": "weight", "format": "raw", "path": "model-00002-of-00002.safetensors", "content": {"random": $half, "seed": "bc2"}},
 {"kind": "weight.config", "format": "raw", "path": "config.json", "content": "{}\n"},
 {"kind": "weight.config", "format": "tar", "path": "tokenizer", "entries": [{"name": "tokenizer/vocab.txt", "content": {"random": 2000000, "seed": "bc3"}}]},
 {"kind": "doc", "format": "tar+gzip", "path": "docs", "entries": [{"name": "docs/README.md", "content": "# m\n"}]},
 {"kind": "code", "format": "tar+zstd", "path": "code", "entries": [{"name": "code/run.py", "content": "print(1)\n"}]}
]}
EOF
mkmodel build --spec "$T/spec.json" --out "$T/l" --ref v1 >/dev/null
ocipush "oci:$T/l:v1" "$R/org/bench:v1" >/dev/null
M=$R/org/bench:v1

now_ms() { date +%s%3N; }
median() { sort -n | awk '{a[NR] = $1} END {if (NR % 2) print a[(NR + 1) / 2]; else printf "%d\n", (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

# one_run CFG: create + start, then (after the container ran `true`) remove; appends the
# milliseconds to $T/start and $T/rm.
one_run() {
  local t0 t1 t2 id
  t0=$(now_ms)
  id=$(cri create "$CRIO_POD" "$1" "$CRIO_POD_CFG")
  cri start "$id" >/dev/null
  t1=$(now_ms)
  crio_wait_exit "$id"
  [ "$LAST_RC" = 0 ] || { echo "bench-crio: the container failed: $LAST_STDOUT" >&2; exit 1; }
  t2=$(now_ms)
  cri rm "$id" >/dev/null
  echo $((t1 - t0)) >>"$T/start"
  echo $(($(now_ms) - t2)) >>"$T/rm"
}

# series NAME PREP: RUNS runs, PREP before each; prints the medians.
declare -A START RM
series() {
  local name=$1 prep=$2 i
  : >"$T/start"
  : >"$T/rm"
  for ((i = 0; i < runs; i++)); do
    $prep
    one_run "$T/c.json"
  done
  START[$name]=$(median <"$T/start")
  RM[$name]=$(median <"$T/rm")
}
nothing() { :; }
cold() { mvol prune >/dev/null; }

# 1. CRI-O alone: no hooks in its hooks_dir.
CRIO_MODELVOL_CONF_SAVED=$CRIO_MODELVOL_CONF
crio_start "$T/crio"
rm -f "$CRIO_DIR"/hooks.d/*.json
sleep 1   # CRI-O watches hooks_dir: let it drop the hooks
cri pull "$M" >/dev/null
crio_pod bench
crio_image_mount_config "$T/c.json" b 'true' "$M" /model
one_run "$T/c.json"   # a first, untimed start
series crio nothing
crio_stop
CRIO_DIR=

# 2 and 3: with modelvol-hook (contrib's hooks.d files and CRI-O drop-in).
rm -rf "$T/crio"
CRIO_MODELVOL_CONF=$CRIO_MODELVOL_CONF_SAVED
crio_start "$T/crio"
cri pull "$M" >/dev/null
crio_pod bench
crio_image_mount_config "$T/c.json" b 'true' "$M" /model
one_run "$T/c.json"
series cold cold
one_run "$T/c.json"
series warm nothing

echo "# CRI-O $CRIO_VERSION, crictl create+start (ms, median of $runs), model of ${size_mb} MiB raw weights + tar, tar+gzip, tar+zstd layers"
printf '%-44s %10s %10s\n' "case" "start" "rm"
printf '%-44s %10s %10s\n' "1. CRI-O alone (per-blob mounts, tar files)" "${START[crio]}" "${RM[crio]}"
printf '%-44s %10s %10s\n' "2. modelvol-hook, cold (import + mount)" "${START[cold]}" "${RM[cold]}"
printf '%-44s %10s %10s\n' "3. modelvol-hook, warm (mount only)" "${START[warm]}" "${RM[warm]}"
printf '# warm - CRI-O alone: %d ms; cold - warm: %d ms (the import)\n' \
  $((START[warm] - START[crio])) $((START[cold] - START[warm]))
_COMMON_DONE=1
