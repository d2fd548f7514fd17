#!/bin/bash
# modelvol end to end on one Debian 12 machine, as root:
#   installs dependencies, builds, starts a local OCI registry, pushes a sample ModelPack
#   model (raw, tar, tar+gzip and tar+zstd layers), pulls it into a modelvol store, imports
#   the same artifact from an OCI layout written by skopeo (the format of CRI-O's artifact
#   store), and runs a real runc container with the model tree mounted read-only, printing
#   what the container sees.
# Cleans up after itself; safe to rerun. Options: --no-deps (skip apt), --keep (keep workdir).
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
[ -f build/build.ninja ] || meson setup build >/dev/null
ninja -C build >/dev/null
mv="$src/build/helper/modelvol"

work=$(mktemp -d /var/tmp/modelvol-demo.XXXXXX)
. tests/lib/registry.sh
cleanup() {
  registry_stop 2>/dev/null || true
  runc delete -f "mv-demo-$$" >/dev/null 2>&1 || true
  if [ $keep = 0 ]; then rm -rf "$work"; else echo "kept $work"; fi
}
trap cleanup EXIT

step "Starting a local OCI registry (docker-registry on 127.0.0.1)"
registry_start "$work/registry"
echo "registry at $REGISTRY"

step "Building a sample ModelPack model and pushing it to $REGISTRY/demo/tiny-llm:v1"
python3 tests/lib/mkmodel.py preset all-kinds --out "$work/src" --ref v1 >/dev/null
python3 tests/lib/ocipush.py "oci:$work/src:v1" "$REGISTRY/demo/tiny-llm:v1"

step "Pulling it into the modelvol store (an insecure local registry: plain HTTP)"
export MODELVOL_ROOT=$work/store
"$mv" pull --tls-verify=false "$REGISTRY/demo/tiny-llm:v1"
"$mv" ls

step "The CRI-O path: the same artifact as an OCI layout (skopeo), imported: nothing new to store"
skopeo copy -q --src-tls-verify=false "docker://$REGISTRY/demo/tiny-llm:v1" "oci:$work/layout:v1"
find "$work/layout/blobs" -type f | wc -l | xargs printf '%s blobs in the layout\n'
"$mv" import "oci:$work/layout:v1" --name "$REGISTRY/demo/tiny-llm:v1"
"$mv" inspect "$REGISTRY/demo/tiny-llm:v1"
model=$("$mv" path "$REGISTRY/demo/tiny-llm:v1")
echo "shared checkout: $model"

step "Running a runc container with the model mounted read-only at /models"
bundle=$work/bundle
mkdir -p "$bundle/rootfs/bin" "$bundle/rootfs/models" "$bundle/rootfs/proc" "$bundle/rootfs/dev"
cp /bin/busybox "$bundle/rootfs/bin/busybox"
for t in sh ls cat find head wc touch stat; do ln -sf busybox "$bundle/rootfs/bin/$t"; done
(cd "$bundle" && runc spec)
python3 - "$bundle/config.json" "$model" <<'PY'
import json, sys
path, model = sys.argv[1], sys.argv[2]
c = json.load(open(path))
c["process"]["terminal"] = False
c["process"]["args"] = ["/bin/sh", "-c",
  "echo '--- find /models:'; find /models | head -40; "
  "echo '--- /models/config.json:'; head -c 300 /models/config.json 2>/dev/null; echo; "
  "echo '--- mount:'; grep ' /models ' /proc/self/mounts; "
  "echo '--- write test:'; touch /models/x 2>&1 || true"]
c["root"]["readonly"] = True
c["mounts"].append({"destination": "/models", "type": "bind", "source": model,
                    "options": ["rbind", "ro", "nosuid", "nodev"]})
json.dump(c, open(path, "w"), indent=2)
PY
runc run --bundle "$bundle" "mv-demo-$$"

step "Store usage"
"$mv" df
echo
echo "Done. The model tree was unpacked once into the store and mounted read-only."
