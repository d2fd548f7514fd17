#!/bin/bash
# modelvol end to end on one Debian 12 machine, as root:
#   installs dependencies, builds, starts a local OCI registry, pushes a sample ModelPack
#   model (raw, tar, tar+gzip and tar+zstd layers), pulls it into a modelvol store, then
#   plays CRI-O: skopeo writes the artifact into a CRI-O artifact store (an OCI layout), and
#   a runc container gets the bundle CRI-O 1.33+ writes for an image volume of it (one
#   read-only bind mount per layer blob) -- once as CRI-O leaves it (tar files), once with
#   modelvol-hook, which mounts the real, unpacked, deduplicated model tree read-only.
# Cleans up after itself; safe to rerun. Options: --no-deps (skip apt), --keep (keep workdir).
# DEMO_BUILDDIR: an existing build directory to use instead of ./build (tests/runtime/test-demo).
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
deps=1 keep=0
for a in "$@"; do
  case $a in
    --no-deps) deps=0 ;;
    --keep) keep=1 ;;
    *) echo "usage: contrib/demo.sh [--no-deps] [--keep]" >&2; exit 2 ;;
  esac
done

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

if [ "$(id -u)" != 0 ]; then
  echo "demo.sh: run as root (apt, runc)" >&2
  exit 1
fi
if [ $deps = 1 ]; then
  step "Installing dependencies (contrib/install-deps.sh)"
  bash contrib/install-deps.sh >/dev/null
fi

step "Building (meson, ninja)"
builddir=${DEMO_BUILDDIR:-$src/build}
[ -f "$builddir/build.ninja" ] || meson setup "$builddir" >/dev/null
ninja -C "$builddir" >/dev/null
mv="$builddir/helper/modelvol"

work=$(mktemp -d /var/tmp/modelvol-demo.XXXXXX)
. tests/lib/registry.sh
cleanup() {
  registry_stop 2>/dev/null || true
  runc delete -f "mv-demo-$$" >/dev/null 2>&1 || true
  chmod -R u+w "$work" 2>/dev/null || true
  if [ $keep = 0 ]; then rm -rf "$work"; else echo "kept $work"; fi
}
trap cleanup EXIT

step "Starting a local OCI registry (docker-registry on 127.0.0.1)"
registry_start "$work/registry"
echo "registry at $REGISTRY"

step "Building a sample ModelPack model and pushing it to $REGISTRY/demo/tiny-llm:v1"
# The shape of a real model: safetensors shards and configs as raw files, a tokenizer as a
# tar, docs as tar+gzip, code as tar+zstd.
cat >"$work/spec.json" <<'EOF'
{"family": "cncf", "layers": [
 {"kind": "weight", "format": "raw", "path": "model-00001-of-00002.safetensors", "content": {"random": 3000000, "seed": "demo-1"}},
 {"kind": "weight", "format": "raw", "path": "model-00002-of-00002.safetensors", "content": {"random": 2000000, "seed": "demo-2"}},
 {"kind": "weight.config", "format": "raw", "path": "config.json", "content": "{\"model_type\": \"tiny-llm\", \"vocab_size\": 32000}\n"},
 {"kind": "weight.config", "format": "tar", "path": "tokenizer", "entries": [
   {"name": "tokenizer/tokenizer.json", "content": "{\"version\": \"1.0\"}\n"},
   {"name": "tokenizer/special_tokens_map.json", "content": "{}\n"}]},
 {"kind": "doc", "format": "tar+gzip", "path": "docs", "entries": [{"name": "docs/README.md", "content": "# tiny-llm\n"}]},
 {"kind": "code", "format": "tar+zstd", "path": "code", "entries": [{"name": "code/generate.py", "content": "print('hello')\n"}]}
]}
EOF
python3 tests/lib/mkmodel.py build --spec "$work/spec.json" --out "$work/src" --ref v1 >/dev/null
python3 tests/lib/ocipush.py "oci:$work/src:v1" "$REGISTRY/demo/tiny-llm:v1"

step "Pulling it into the modelvol store (an insecure local registry: plain HTTP)"
export MODELVOL_ROOT=$work/store
"$mv" pull --tls-verify=false "$REGISTRY/demo/tiny-llm:v1"
"$mv" ls

step "CRI-O's artifact store: skopeo writes the artifact into <graphroot>/artifacts (an OCI layout)"
graph=$work/graph
mkdir -p "$graph"
skopeo copy -q --src-tls-verify=false "docker://$REGISTRY/demo/tiny-llm:v1" \
  "oci:$graph/artifacts:$REGISTRY/demo/tiny-llm:v1"
digest=$(jq -r '.manifests[0].digest' "$graph/artifacts/index.json")
echo "$(find "$graph/artifacts/blobs" -type f | wc -l) blobs; artifact $digest"

# The bundles, built with the test suite's helpers (busybox-static rootfs, CRI-O's mounts).
T=$work MODELVOL=$mv MODELVOL_HOOK=$builddir/hooks/modelvol-hook TEST_NAME=demo
. tests/lib/container.sh
cat >"$work/modelvol.conf" <<EOF
[store]
root=$MODELVOL_ROOT
[crio]
graphroot=$graph
EOF
show='echo "--- find /models:"; find /models | sort | head -30
  echo "--- /models/tokenizer:"; ls -l /models/tokenizer 2>&1 | head -5
  echo "--- mount:"; awk "\$5 == \"/models\" {print \$5, \$6}" /proc/self/mountinfo | tail -n 1
  echo "--- write test:"; touch /models/x 2>&1 && echo "wrote /models/x"; true'
make_bundle "$work/crio" "$show"
crio_image_volume "$work/crio" "$graph/artifacts" "$digest" /models
cp -a "$work/crio" "$work/crio-hook"
bundle_add_hook "$work/crio-hook" "$work/modelvol.conf"

step "A container as CRI-O makes it today: one bind mount per layer blob, tar layers as tar files"
runc run --bundle "$work/crio" "mv-demo-$$" </dev/null

step "The same container with modelvol-hook: the real model tree, read-only, from the store"
runc run --bundle "$work/crio-hook" "mv-demo-$$" </dev/null

step "Store usage"
"$mv" df
echo
echo "Done. The model was unpacked once into the store; containers get its tree read-only."
