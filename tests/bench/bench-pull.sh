#!/bin/bash
# Pull benchmark: `modelvol pull` (download + verify + unpack + dedup + commit, synced) vs
# `skopeo copy docker://... oci:DIR` (download + verify only), from a local docker-registry,
# for models of several sizes: medians of RUNS runs (default 3) of the time and the peak RSS
# of each, side by side, so that a peak RSS that grows with the model shows; then a re-pull
# of the stored model. Figures only, never assertions.
#   tests/bench/bench-pull.sh [BUILDDIR]      (default: build-bench, a release build)
#   SIZE_MB="512 1024 2048 4096" (the default) lists the model sizes; WORK the scratch dir.
set -euo pipefail
cd "$(dirname "$0")/../.."
src=$PWD
builddir=${1:-$src/build-bench}
runs=${RUNS:-3}
sizes=${SIZE_MB:-512 1024 2048 4096}
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

# A model of $1 MiB: two raw shards, a plain tar shard, a tar+gzip of configs.
push_model() {
  local size_mb=$1 q=$(($1 / 8))
  cat >"$work/spec.json" <<JSON
{
  "family": "cncf", "ref": "bench/model:v1",
  "layers": [
    {"kind": "weight", "format": "raw", "path": "model-00001-of-00003.safetensors",
     "content": {"random": $((q * 3 * 1048576)), "seed": "w1-$size_mb"}},
    {"kind": "weight", "format": "raw", "path": "model-00002-of-00003.safetensors",
     "content": {"random": $((q * 3 * 1048576)), "seed": "w2-$size_mb"}},
    {"kind": "weight", "format": "tar", "path": "shard3",
     "entries": [{"name": "model-00003-of-00003.safetensors", "content": {"random": $((q * 2 * 1048576)), "seed": "w3-$size_mb"}}]},
    {"kind": "weight.config", "format": "tar+gzip", "path": "config",
     "entries": [{"name": "config.json", "content": "{}\n"}, {"name": "tokenizer.json", "content": {"repeat": "token ", "size": 2000000}}]}
  ]
}
JSON
  echo "generating and pushing a ${size_mb} MiB model ..." >&2
  rm -rf "$work/layout"
  python3 tests/lib/mkmodel.py build --spec "$work/spec.json" --out "$work/layout" --ref v1 >/dev/null
  python3 tests/lib/ocipush.py "oci:$work/layout:v1" "$REGISTRY/bench/model:$size_mb" >/dev/null
  rm -rf "$work/layout"
}

median() { sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.3f", m}'; }
# run_timed OUT CMD...: wall seconds and peak RSS (KiB) of CMD into OUT
run_timed() {
  local out=$1
  shift
  sync
  /usr/bin/time -f "%e %M" -o "$out" "$@" >/dev/null 2>&1
}
col() { cat "$work"/"$1".* | awk -v c="$2" '{print $c}' | median; }
mib() { echo "$1 / 1024" | bc -l | xargs printf '%.1f'; }

echo "runs: $runs; sizes (MiB): $sizes; machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB" >&2
rows=()
for size in $sizes; do
  push_model "$size"
  ref="$REGISTRY/bench/model:$size"
  rm -f "$work"/mv.* "$work"/re.* "$work"/sk.*
  for i in $(seq "$runs"); do
    rm -rf "$work/store" "$work/oci"
    run_timed "$work/mv.$i" "$mv" --root "$work/store" pull --tls-verify=false "$ref"
    run_timed "$work/re.$i" "$mv" --root "$work/store" pull --tls-verify=false "$ref"
    run_timed "$work/sk.$i" skopeo copy -q --src-tls-verify=false "docker://$ref" "oci:$work/oci:v1"
  done
  rm -rf "$work/store" "$work/oci"
  rows+=("$(printf '%8s %10s %10s %8.2f %12s %12s %10s %12s' "$size" "$(col mv 1)" "$(col sk 1)" \
    "$(echo "$(col sk 1) / $(col mv 1)" | bc -l)" "$(mib "$(col mv 2)")" "$(mib "$(col sk 2)")" \
    "$(col re 1)" "$(mib "$(col re 2)")")")
done

echo
echo "medians of $runs runs; modelvol pull = download, verify, unpack, dedup, commit, synced;"
echo "skopeo copy docker:// oci: = download, verify only; re-pull = modelvol pull of the stored model"
printf '%8s %10s %10s %8s %12s %12s %10s %12s\n' "size MiB" "modelvol s" "skopeo s" "speed-up" \
  "modelvol RSS" "skopeo RSS" "re-pull s" "re-pull RSS"
printf '%s\n' "${rows[@]}"
echo "(RSS: peak resident set in MiB, from time(1))"
