#!/bin/bash
# Import benchmark: modelvol import vs plain extraction of the same layers (cp for raw layers,
# tar -x for tar layers; neither hashes nor deduplicates), re-import of a stored model, and
# checkout (modelvol path) of a 20,000-file model vs cp -a of the same tree.
# Prints medians of RUNS runs (default 5) side by side. Figures, never assertions.
#   tests/bench/bench-import.sh [BUILDDIR]      (default: build-bench, a release build)
set -euo pipefail
cd "$(dirname "$0")/../.."
src=$PWD
builddir=${1:-$src/build-bench}
runs=${RUNS:-5}
size_mb=${SIZE_MB:-2048}
work=${WORK:-/var/tmp/modelvol-bench}

if [ ! -f "$builddir/build.ninja" ]; then
  meson setup "$builddir" -Dbuildtype=release -Dtests=false >/dev/null
fi
ninja -C "$builddir" >/dev/null
mv="$builddir/helper/modelvol"
rm -rf "$work"
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT

now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.3f", m}'; }
# time_cmd SETUP CMD: runs SETUP untimed, then CMD timed; prints seconds.
time_cmd() {
  eval "$1"
  sync
  local t0 t1
  t0=$(now)
  eval "$2"
  t1=$(now)
  echo "$t1 - $t0" | bc -l
}

# The model: two big raw weight shards, a big uncompressed tar, a gzip tar of configs, a zstd
# tar of docs: ${size_mb} MiB of incompressible bytes in all.
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
     "entries": [
       {"name": "model-00003-of-00003.safetensors", "content": {"random": $((q * 2 * 1048576)), "seed": "w3"}}
     ]},
    {"kind": "weight.config", "format": "tar+gzip", "path": "config",
     "entries": [
       {"name": "config.json", "content": "{\"architectures\": [\"LlamaForCausalLM\"]}\n"},
       {"name": "tokenizer.json", "content": {"repeat": "token ", "size": 2000000}},
       {"name": "generation_config.json", "content": "{}\n"}
     ]},
    {"kind": "doc", "format": "tar+zstd", "path": "docs",
     "entries": [{"name": "README.md", "content": "# bench model\n"}, {"name": "LICENSE", "content": "Apache-2.0\n"}]}
  ]
}
JSON
echo "generating a ${size_mb} MiB model ..." >&2
python3 tests/lib/mkmodel.py build --spec "$work/spec.json" --out "$work/layout" --ref v1 \
  --info "$work/info.json" >/dev/null

plain_extract() {
  local out=$1
  mkdir -p "$out"
  python3 - "$work/info.json" "$work/layout" <<'PY' | while read -r fmt blob path; do
import json, sys
info = json.load(open(sys.argv[1]))
for l in info["layers"]:
    print(l["format"], sys.argv[2] + "/blobs/sha256/" + l["digest"].split(":")[1], l.get("path") or "-")
PY
    case $fmt in
      raw) cp "$blob" "$out/$path" ;;
      tar) tar -xf "$blob" -C "$out" ;;
      tar+gzip) tar -xzf "$blob" -C "$out" ;;
      tar+zstd) tar --zstd -xf "$blob" -C "$out" ;;
    esac
  done
}

echo "runs: $runs; machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -r)" >&2
imp=() ext=() ext_sync=() reimp=()
for _ in $(seq "$runs"); do
  imp+=("$(time_cmd "rm -rf $work/store" "$mv --root $work/store import oci:$work/layout:v1 >/dev/null")")
  reimp+=("$(time_cmd ":" "$mv --root $work/store import oci:$work/layout:v1 >/dev/null")")
  ext+=("$(time_cmd "rm -rf $work/plain" "plain_extract $work/plain")")
  ext_sync+=("$(time_cmd "rm -rf $work/plain" "plain_extract $work/plain; sync")")
done

# Checkout of a 20,000-file model.
python3 tests/lib/mkmodel.py preset many-files --files 20000 --out "$work/many" --ref v1 >/dev/null
"$mv" --root "$work/store" import "oci:$work/many:v1" --name bench/many:v1 >/dev/null
co=() cpa=()
for _ in $(seq "$runs"); do
  co+=("$(time_cmd "rm -rf $work/store/checkouts/*" "$mv --root $work/store path bench/many:v1 >/dev/null")")
  p=$("$mv" --root "$work/store" path bench/many:v1)
  cpa+=("$(time_cmd "rm -rf $work/copy" "cp -a $p $work/copy")")
done

m_imp=$(printf '%s\n' "${imp[@]}" | median)
m_ext=$(printf '%s\n' "${ext[@]}" | median)
m_ext_sync=$(printf '%s\n' "${ext_sync[@]}" | median)
m_reimp=$(printf '%s\n' "${reimp[@]}" | median)
m_co=$(printf '%s\n' "${co[@]}" | median)
m_cpa=$(printf '%s\n' "${cpa[@]}" | median)
printf '\n%-52s %10s\n' "median of $runs runs" "seconds"
printf '%-52s %10s\n' "modelvol import (${size_mb} MiB, 5 layers, synced)" "$m_imp"
printf '%-52s %10s\n' "plain extraction: cp + tar -x (no hash, no sync)" "$m_ext"
printf '%-52s %10s\n' "plain extraction: cp + tar -x, then sync" "$m_ext_sync"
printf '%-52s %10s\n' "ratio import / plain (no sync)" "$(echo "$m_imp / $m_ext" | bc -l | xargs printf '%.2f')"
printf '%-52s %10s\n' "modelvol re-import of the stored model" "$m_reimp"
printf '%-52s %10s\n' "modelvol path, 20,000-file model (fresh checkout)" "$m_co"
printf '%-52s %10s\n' "cp -a of the same 20,000-file tree" "$m_cpa"
