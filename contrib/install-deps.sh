#!/bin/bash
# Installs everything modelvol's build, tests and demo need on a fresh Debian 12 machine.
# Run as root. Safe to rerun.
set -euo pipefail

if [ "$(id -u)" != 0 ]; then
  echo "install-deps.sh: run as root (apt-get)" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends \
  ca-certificates \
  meson ninja-build pkg-config gcc g++ libc6-dev \
  libglib2.0-dev libjson-glib-dev libostree-dev libarchive-dev \
  libcurl4-openssl-dev libssl-dev zlib1g-dev libzstd-dev libseccomp-dev libtomlplusplus-dev \
  scdoc clang-format clang libclang-rt-dev llvm clang-tidy cppcheck golang-1.19-src \
  docker-registry skopeo apache2-utils ostree \
  libfuse3-dev fuse3 \
  zstd gzip tar python3 python3-prometheus-client openssl jq bc time curl bsdutils \
  runc podman busybox-static procps strace util-linux

# tests/integration/test-aarch64.sh: the unpacker cross-built for arm64 (Debian's cross
# compiler and arm64 libraries) and booted with Debian's arm64 kernel and busybox in
# qemu-system-aarch64. The kernel and busybox are taken from their packages into a cache.
dpkg --add-architecture arm64
apt-get update -q
apt-get install -y -q --no-install-recommends \
  qemu-system-arm gcc-aarch64-linux-gnu binutils-aarch64-linux-gnu cpio \
  libc6-dev:arm64 libglib2.0-dev:arm64 libssl-dev:arm64 libarchive-dev:arm64 zlib1g-dev:arm64 \
  libzstd-dev:arm64 libseccomp-dev:arm64
aarch64_cache=/var/cache/modelvol-tests/aarch64
kernel_pkg=$(apt-cache depends linux-image-cloud-arm64:arm64 | sed -n 's/^ *Depends: \(linux-image-[^ ]*\)$/\1/p' | head -n 1)
if [ -z "$kernel_pkg" ]; then
  echo "install-deps.sh: no arm64 kernel package behind linux-image-cloud-arm64" >&2
  exit 1
fi
mkdir -p "$aarch64_cache"
if [ "$(cat "$aarch64_cache/kernel-package" 2>/dev/null)" != "$kernel_pkg" ] \
  || [ ! -s "$aarch64_cache/vmlinuz" ] || [ ! -s "$aarch64_cache/busybox" ]; then
  dl=$(mktemp -d)
  (cd "$dl" && apt-get download -q -o APT::Sandbox::User=root "$kernel_pkg" busybox-static:arm64)
  dpkg-deb --fsys-tarfile "$dl"/linux-image-*.deb | tar -xO --wildcards './boot/vmlinuz-*' >"$dl/vmlinuz"
  dpkg-deb --fsys-tarfile "$dl"/busybox-static_*.deb | tar -xO ./bin/busybox >"$dl/busybox"
  [ -s "$dl/vmlinuz" ] && [ -s "$dl/busybox" ]
  mv "$dl/vmlinuz" "$dl/busybox" "$aarch64_cache/"
  echo "$kernel_pkg" >"$aarch64_cache/kernel-package"
  rm -rf "$dl"
fi

# The real Kubernetes node runtime for tests/crio/: CRI-O (two minors: the oldest the Go module
# proxy serves with artifact support, and the newest), its pinns, crictl and a kubelet, built
# from their Go modules at pinned versions with Debian's Go toolchain (/usr/local/go or
# golang-go). Each build is kept under /var/cache/modelvol-tests/go-tools/<name>/<version>,
# with the module and build caches beside it, and reused while its stamp (version and build
# flags) is unchanged. conmon, runc and the CNI plugins are Debian's.
apt-get install -y -q --no-install-recommends conmon containernetworking-plugins iptables
tools_cache=/var/cache/modelvol-tests/go-tools
mkdir -p "$tools_cache"
if [ -x /usr/local/go/bin/go ]; then
  export PATH=/usr/local/go/bin:$PATH
elif ! command -v go >/dev/null; then
  apt-get install -y -q --no-install-recommends golang-go
fi
export GOPATH=$tools_cache/gopath GOMODCACHE=$tools_cache/gopath/pkg/mod \
  GOCACHE=$tools_cache/gocache GOFLAGS=-buildvcs=false CGO_ENABLED=1 GOTOOLCHAIN=local
# shellcheck source=contrib/go-tools.versions
. "$(dirname "$0")/go-tools.versions"

# go_tool_fresh DIR STAMP: DIR holds a build made with STAMP.
go_tool_fresh() { [ "$(cat "$1/stamp" 2>/dev/null)" = "$2" ]; }
go_tool_done() { echo "$2" >"$1/stamp"; }

# CRI-O: built inside its own module (its go.mod pins every dependency and has no replace
# lines); `go install pkg@version` is refused by the proxy here (it lists no versions, which
# `go install` asks for), `go mod download` of an exact version is not.
crio_tags='containers_image_openpgp exclude_graphdriver_btrfs seccomp'
for v in $CRIO_VERSIONS; do
  out=$tools_cache/crio/$v
  stamp="crio $v tags=$crio_tags"
  go_tool_fresh "$out" "$stamp" && continue
  mkdir -p "$out"
  src=$(go mod download -json "github.com/cri-o/cri-o@$v" | jq -r '.Dir // empty')
  [ -n "$src" ] || { echo "install-deps.sh: cannot download github.com/cri-o/cri-o@$v" >&2; exit 1; }
  (cd "$src" && go build -trimpath -tags "$crio_tags" -o "$out/crio" ./cmd/crio)
  # pinns (C, static) is built by make in a writable copy of the module's pinns/.
  pinns_build=$(mktemp -d)
  cp -r "$src/pinns" "$pinns_build/"
  chmod -R u+w "$pinns_build"
  make -s -C "$pinns_build/pinns"
  install -m 0755 "$pinns_build/bin/pinns" "$out/pinns"
  rm -rf "$pinns_build"
  go_tool_done "$out" "$stamp"
done

out=$tools_cache/crictl/$CRICTL_VERSION
stamp="crictl $CRICTL_VERSION"
if ! go_tool_fresh "$out" "$stamp"; then
  mkdir -p "$out"
  src=$(go mod download -json "sigs.k8s.io/cri-tools@$CRICTL_VERSION" | jq -r '.Dir // empty')
  [ -n "$src" ] || { echo "install-deps.sh: cannot download sigs.k8s.io/cri-tools@$CRICTL_VERSION" >&2; exit 1; }
  (cd "$src" && go build -trimpath -o "$out/crictl" ./cmd/crictl)
  go_tool_done "$out" "$stamp"
fi

# kubelet: k8s.io/kubernetes replaces its staging modules (k8s.io/api, ...) with ./staging
# paths, which a module download does not carry; a wrapper module of our own replaces each
# with its published v0.<minor>.<patch> and builds k8s.io/kubernetes/cmd/kubelet.
out=$tools_cache/kubelet/$KUBELET_VERSION
stamp="kubelet $KUBELET_VERSION"
if ! go_tool_fresh "$out" "$stamp"; then
  mkdir -p "$out/src"
  kmod=$(go mod download -json "k8s.io/kubernetes@$KUBELET_VERSION" | jq -r '.Dir // empty')
  [ -n "$kmod" ] || { echo "install-deps.sh: cannot download k8s.io/kubernetes@$KUBELET_VERSION" >&2; exit 1; }
  {
    echo "module modelvol.test/kubelet"
    echo
    sed -n 's/^go \(.*\)$/go \1/p' "$kmod/go.mod"
    echo
    echo "require k8s.io/kubernetes $KUBELET_VERSION"
    echo
    echo "replace ("
    sed -n 's#^\t\(k8s\.io/[a-z0-9-]*\) => \./staging/src/.*#\t\1 => \1 v0.'"${KUBELET_VERSION#v1.}"'#p' "$kmod/go.mod"
    echo ")"
  } >"$out/src/go.mod"
  printf '//go:build tools\n\npackage tools\n\nimport _ "k8s.io/kubernetes/cmd/kubelet"\n' >"$out/src/tools.go"
  (cd "$out/src" && go mod tidy && go build -trimpath -o "$out/kubelet" k8s.io/kubernetes/cmd/kubelet)
  go_tool_done "$out" "$stamp"
fi
