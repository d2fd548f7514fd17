#!/bin/bash
# Pull benchmark: `modelvol pull` (download + verify + unpack + dedup + commit, synced) vs
# `skopeo copy docker://... oci:DIR` (download + verify only), from a local docker-registry,
# medians of RUNS runs (default 3) with the peak RSS of each; then a re-pull of the stored
# model. Figures only, never assertions.
#   tests/bench/bench-pull.sh [BUILDDIR]      (default: build-bench, a release build)
set -euo pipefail
cd "$(dirname "$0")/../.."
src=$PWD
builddir=${1:-$src/build-bench}
runs=${RUNS:-3}
size_mb=${SIZE_MB:-2048}
work=${WORK:-/var/tmp/modelvol-bench-pull}

if [ ! -f "$builddir/build.ninja" ]; then
  meson setup "$builddir" -Dbuildtype=release -Dtests=false >/dev/null
fi
ninja -C "$builddir" >/dev/null
mv="$builddir/helper/modelvol"
rm -rf "$work"
mkdir -p "$work"
. tests/lib/registry.sh
trap 'registry_stop; rm -rf "$work"' EXIT
registry_start "$work/reg" >/dev/null

q=$((size_mb / 8))
cat >"$work/spec.json" <<JSON
{
  "family": "cncf", "ref": "bench/model:v1",
  "layers": [
    {"kind": "weight", "format": "raw", "path": "model-00001-of-00003.safetensors",
     "content": {"random": $((q * 3 * 1048576)), "seed": "w1"}},
    {"kind": "weight", "format": "raw", "path": "model-00002-of-00003.safetensors",
     "content": {"random": $((q * 3 * 1048576)), "seed": "w2"}},
    {"kind": "weight", "format": "tar", "path": "shard3",
     "entries": [{"name": "model-00003-of-00003.safetensors", "content": {"random": $((q * 2 * 1048576)), "seed": "w3"}}]},
    {"kind": "weight.config", "format": "tar+gzip", "path": "config",
     "entries": [{"name": "config.json", "content": "{}\n"}, {"name": "tokenizer.json", "content": {"repeat": "token ", "size": 2000000}}]}
  ]
}
JSON
echo "generating and pushing a ${size_mb} MiB model ..." >&2
python3 tests/lib/mkmodel.py build --spec "$work/spec.json" --out "$work/layout" --ref v1 >/dev/null
python3 tests/lib/ocipush.py "oci:$work/layout:v1" "$REGISTRY/bench/model:v1" >/dev/null

median() { sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.3f", m}'; }
# run_timed OUT CMD...: wall seconds and peak RSS (KiB) of CMD into OUT
run_timed() {
  local out=$1
  shift
  sync
  /usr/bin/time -f "%e %M" -o "$out" "$@" >/dev/null 2>&1
}

echo "runs: $runs; machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB" >&2
for i in $(seq "$runs"); do
  rm -rf "$work/store" "$work/oci"
  run_timed "$work/mv.$i" "$mv" --root "$work/store" pull --tls-verify=false "$REGISTRY/bench/model:v1"
  run_timed "$work/re.$i" "$mv" --root "$work/store" pull --tls-verify=false "$REGISTRY/bench/model:v1"
  run_timed "$work/sk.$i" skopeo copy -q --src-tls-verify=false "docker://$REGISTRY/bench/model:v1" "oci:$work/oci:v1"
done
col() { cat "$work"/"$1".* | awk -v c="$2" '{print $c}' | median; }
printf '\n%-58s %9s %12s\n' "median of $runs runs" "seconds" "peak RSS MiB"
printf '%-58s %9s %12.1f\n' "modelvol pull (download, verify, unpack, dedup, sync)" "$(col mv 1)" "$(echo "$(col mv 2) / 1024" | bc -l)"
printf '%-58s %9s %12.1f\n' "skopeo copy docker:// oci: (download, verify)" "$(col sk 1)" "$(echo "$(col sk 2) / 1024" | bc -l)"
printf '%-58s %9s %12.1f\n' "modelvol pull of the stored model" "$(col re 1)" "$(echo "$(col re 2) / 1024" | bc -l)"
printf '%-58s %9.2f\n' "speed-up of modelvol over skopeo" "$(echo "$(col sk 1) / $(col mv 1)" | bc -l)"
