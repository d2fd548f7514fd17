#!/bin/bash
# modelvol end to end on one Debian 12 machine, as root, with the real CRI-O:
#   installs dependencies (contrib/install-deps.sh also builds CRI-O, crictl and a kubelet from
#   their Go modules, once, cached under /var/cache/modelvol-tests), builds, starts a local
#   OCI registry, pushes a sample ModelPack model (raw, tar, tar+gzip and tar+zstd layers) and
#   a busybox image, pulls the model into a modelvol store, then runs CRI-O (a private
#   instance: its own root, socket and runc state) and, with crictl making the kubelet's CRI
#   calls, a container with a Kubernetes image volume of the model: once with CRI-O alone
#   (one bind mount per layer blob: tar layers are tar files), once with modelvol-hook
#   installed through contrib's hooks.d files and CRI-O drop-in, which mounts the real,
#   unpacked, deduplicated model tree read-only.
# Cleans up after itself; safe to rerun. Options: --no-deps (skip apt and the Go builds),
# --keep (keep the work directory). DEMO_BUILDDIR: an existing build directory to use instead
# of ./build (tests/runtime/test-demo).
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

# The test suite's helpers: a work directory removed on exit (common.sh), docker-registry
# (registry.sh), CRI-O and crictl (crio.sh).
export MODELVOL=$mv MODELVOL_HOOK=$builddir/hooks/modelvol-hook TEST_TMPDIR=/var/tmp
[ $keep = 0 ] || export KEEP_TMP=1
. tests/lib/common.sh
. tests/lib/registry.sh
. tests/lib/crio.sh
work=$T
_COMMON_DONE=1

step "Starting a local OCI registry (docker-registry on 127.0.0.1) with a busybox image"
crio_setup
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
export MODELVOL_ROOT=$ROOT
"$mv" pull --tls-verify=false "$REGISTRY/demo/tiny-llm:v1"
"$mv" ls

show='echo "--- find /models:"; find /models | sort | head -30
  echo "--- /models/tokenizer:"; ls -l /models/tokenizer 2>&1 | head -5
  echo "--- mount:"; awk "\$5 == \"/models\" {print \$5, \$6}" /proc/self/mountinfo | tail -n 1
  echo "--- write test:"; touch /models/x 2>&1 && echo "wrote /models/x"; true'
# run_pod: crictl pulls the artifact into CRI-O's artifact store (the kubelet's PullImage),
# then creates and starts a container with the image volume at /models and shows its log.
run_pod() {
  cri pull "$REGISTRY/demo/tiny-llm:v1" >/dev/null
  crio_pod demo
  crio_image_mount_config "$work/ctr.json" demo "$show" "$REGISTRY/demo/tiny-llm:v1" /models
  crio_run "$CRIO_POD" "$work/ctr.json"
  if [ "$LAST_RC" != 0 ]; then
    echo "$LAST_STDERR" >&2
    exit 1
  fi
  crio_wait_exit "$LAST_CTR"
  echo "$LAST_STDOUT"
  cri rm "$LAST_CTR" >/dev/null
  cri stopp "$CRIO_POD" >/dev/null
  cri rmp "$CRIO_POD" >/dev/null
}

step "CRI-O $CRIO_VERSION alone (no modelvol hooks): one bind mount per layer blob, tar layers as tar files"
crio_start "$work/crio-plain"
rm -f "$CRIO_DIR"/hooks.d/*.json
sleep 1   # CRI-O watches its hooks_dir
echo "$(cri version | sed -n 's/^RuntimeVersion: *//p' | sed 's/^/CRI-O /')"
run_pod
crio_stop

step "CRI-O with modelvol-hook (contrib's hooks.d files and CRI-O drop-in): the real model tree, read-only"
CRIO_DIR=
crio_start "$work/crio"
run_pod
crio_stop

step "Store usage"
"$mv" df
echo
echo "Done. The model was unpacked once into the store; containers get its tree read-only."
