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
  zstd gzip tar python3 python3-prometheus-client openssl jq bc time curl bsdutils \
  runc podman busybox-static procps strace util-linux
