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
  libcurl4-openssl-dev libssl-dev zlib1g-dev libzstd-dev libseccomp-dev libtomlplusplus-dev libyaml-dev \
  scdoc shellcheck clang-format clang libclang-rt-dev llvm clang-tidy cppcheck golang-1.19-src \
  docker-registry skopeo apache2-utils ostree \
  libfuse3-dev fuse3 \
  zstd gzip tar python3 python3-prometheus-client python3-cryptography openssl jq bc time curl bsdutils \
  runc podman busybox-static procps strace util-linux \
  conmon containernetworking-plugins iptables

# The real CRI-O, crictl and kubelet for tests/crio/ (contrib/build-go-tools.sh: Go builds,
# cached), built in the background while the arm64 packages below download and install.
bash "$(dirname "$0")/build-go-tools.sh" >/var/log/modelvol-build-go-tools.log 2>&1 &
go_tools_pid=$!

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

if ! wait "$go_tools_pid"; then
  echo "install-deps.sh: building the Go test tools failed (contrib/build-go-tools.sh):" >&2
  tail -n 30 /var/log/modelvol-build-go-tools.log >&2
  exit 1
fi
