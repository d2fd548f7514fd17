#!/bin/bash
# Hook benchmark: `runc run` (create + start + delete) of a busybox container running `true`,
# medians of RUNS runs (default 30), side by side:
#   1. no hook
#   2. modelvol-hook injected, nothing to do (the fast path)
#   3. CRI-O-style per-blob bind mounts of a ModelPack artifact, no hook (CRI-O today)
#   4. the same image volume with modelvol-hook mounting the (warm) model tree
#   5. the modelvol.io/mounts annotation with a warm, named model
# and the hook alone on a state with nothing to do. Figures only, never
# assertions. Targets: case 2 adds under 5 ms to case 1; case 4 under 30 ms to case 3.
#   tests/bench/bench-hook.sh [BUILDDIR]      (default: build-bench, a release build)
set -euo pipefail
cd "$(dirname "$0")/../.."
src=$PWD
builddir=${1:-$src/build-bench}
runs=${RUNS:-30}
work=${WORK:-/var/tmp/modelvol-bench-hook}

if [ ! -f "$builddir/build.ninja" ]; then
  meson setup "$builddir" -Dbuildtype=release -Dtests=false >/dev/null
fi
ninja -C "$builddir" >/dev/null
mv="$builddir/helper/modelvol"
hook="$builddir/hooks/modelvol-hook"
rm -rf "$work"
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT

# A model of the usual shape, in an OCI layout standing in for CRI-O's artifact store.
cat >"$work/spec.json" <<'EOF'
{"family": "cncf", "layers": [
 {"kind": "weight", "format": "raw", "path": "model-00001-of-00002.safetensors", "content": {"random": 4194304, "seed": "b1"}},
 {"kind": "weight", "format": "raw", "path": "model-00002-of-00002.safetensors", "content": {"random": 4194304, "seed": "b2"}},
 {"kind": "weight.config", "format": "raw", "path": "config.json", "content": "{}\n"},
 {"kind": "weight.config", "format": "tar", "path": "tokenizer", "entries": [{"name": "tokenizer/vocab.txt", "content": "a\n"}]},
 {"kind": "doc", "format": "tar+gzip", "path": "docs", "entries": [{"name": "docs/README.md", "content": "# m\n"}]}
]}
EOF
art=$work/graph/artifacts
python3 tests/lib/mkmodel.py build --spec "$work/spec.json" --out "$art" --ref bench/model:v1 >/dev/null
digest=$(jq -r '.manifests[0].digest' "$art/index.json")
root=$work/store
"$mv" --root "$root" import "oci:$art:bench/model:v1" --name bench.example/org/model:v1 >/dev/null
conf=$work/modelvol.conf
printf '[store]\nroot=%s\n[crio]\ngraphroot=%s\n' "$root" "$work/graph" >"$conf"

# Bundles, made with the test library's helpers.
# shellcheck disable=SC2034  # read by tests/lib/container.sh and common.sh
T=$work MODELVOL=$mv MODELVOL_HOOK=$hook TEST_NAME=bench-hook
# shellcheck source=../lib/container.sh
. tests/lib/container.sh
add_hook() {
  bundle_jq "$1" '.hooks.createRuntime = [{path: $h, args: ["modelvol-hook", "--config", $c, "createRuntime"]}]
    | .hooks.poststop = [{path: $h, args: ["modelvol-hook", "--config", $c, "poststop"]}]' --arg h "$hook" --arg c "$conf"
}
make_bundle "$work/plain" true
make_bundle "$work/noop" true && add_hook "$work/noop"
make_bundle "$work/crio" true && crio_image_volume "$work/crio" "$art" "$digest" /model
make_bundle "$work/crio-hook" true && crio_image_volume "$work/crio-hook" "$art" "$digest" /model && add_hook "$work/crio-hook"
make_bundle "$work/ann" true && add_hook "$work/ann"
bundle_jq "$work/ann" '.annotations["modelvol.io/mounts"] = "[{\"ref\": \"bench.example/org/model:v1\", \"path\": \"/model\"}]"'

# Medians of RUNS runs of each case, the cases interleaved run by run so that drift in the
# machine's load touches them all alike.
read -r plain noop crio crio_hook ann hook_noop true_ms < <(python3 - "$runs" "$work" "$hook" "$conf" <<'PY'
import subprocess, sys, time
runs, work, hook, conf = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
state = ('{"ociVersion": "1.0.2", "id": "x", "status": "creating", "pid": 1, "bundle": "%s/noop"}'
         % work).encode()
cases = [["runc", "run", "--bundle", f"{work}/{b}", f"mvbench-{b}-@I@"]
         for b in ("plain", "noop", "crio", "crio-hook", "ann")]
cases += [[hook, "--config", conf, "createRuntime"], ["/bin/true"]]
times = [[] for _ in cases]
for i in range(runs):
    for c, ts in zip(cases, times):
        argv = [a.replace("@I@", str(i)) for a in c]
        t = time.perf_counter()
        subprocess.run(argv, input=state if argv[0] == hook else b"", stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=True)
        ts.append(time.perf_counter() - t)
print(" ".join("%.1f" % (sorted(ts)[len(ts) // 2] * 1000) for ts in times))
PY
)

cat <<EOF
modelvol hook benchmark: runc run (create+start+delete) of busybox 'true', medians of $runs
machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)

| case | ms | vs baseline |
| --- | ---: | ---: |
| 1. no hook | $plain | |
| 2. hook injected, nothing to do | $noop | +$(echo "$noop - $plain" | bc) (target < 5) |
| 3. CRI-O per-blob bind mounts, no hook | $crio | |
| 4. CRI-O image volume + hook mounting the warm model | $crio_hook | +$(echo "$crio_hook - $crio" | bc) vs 3 (target < 30) |
| 5. annotation + hook mounting a warm named model | $ann | +$(echo "$ann - $plain" | bc) vs 1 |

hook alone on a no-op state: $hook_noop ms (exec of /bin/true: $true_ms ms)
EOF
