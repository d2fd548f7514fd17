#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Builds the real Kubernetes node runtime that tests/crio/ and contrib/demo.sh run, from the
# Go modules at the versions pinned in contrib/go-tools.versions, never from copied source:
# CRI-O (each minor of CRIO_VERSIONS) with its pinns, crictl, and a kubelet. conmon, runc
# and the CNI plugins are Debian's (contrib/install-deps.sh installs them). Each build is kept
# under /var/cache/modelvol-tests/go-tools/<name>/<version>, with the module and build caches
# beside it, and reused while its stamp (version and build flags) is unchanged; the builds
# run side by side. Run as root by contrib/install-deps.sh; safe to rerun.
set -euo pipefail
tools_cache=${MVTEST_GO_TOOLS:-/var/cache/modelvol-tests/go-tools}
mkdir -p "$tools_cache"
[ ! -x /usr/local/go/bin/go ] || export PATH=/usr/local/go/bin:$PATH
if ! command -v go >/dev/null; then
  echo "build-go-tools.sh: no go command (Go 1.26 at /usr/local/go, or on PATH)" >&2
  exit 1
fi
export GOPATH=$tools_cache/gopath GOMODCACHE=$tools_cache/gopath/pkg/mod \
  GOCACHE=$tools_cache/gocache GOFLAGS=-buildvcs=false CGO_ENABLED=1 GOTOOLCHAIN=local
# shellcheck source=contrib/go-tools.versions
. "$(dirname "$0")/go-tools.versions"
ldflags='-s -w'

# go_tool_fresh DIR STAMP: DIR holds a build made with STAMP.
go_tool_fresh() { [ "$(cat "$1/stamp" 2>/dev/null)" = "$2" ]; }
go_tool_done() { echo "$2" >"$1/stamp"; }
# module_src MODULE@VERSION: downloads the module (an exact version) and prints its directory.
module_src() {
  local dir
  dir=$(go mod download -json "$1" | jq -r '.Dir // empty')
  [ -n "$dir" ] || { echo "build-go-tools.sh: cannot download $1" >&2; return 1; }
  echo "$dir"
}

# CRI-O: built inside its own module (its go.mod pins every dependency and has no replace
# lines); `go install pkg@version` is refused by the proxy here (it lists no versions, which
# `go install` asks for), `go mod download` of an exact version is not.
crio_tags='containers_image_openpgp exclude_graphdriver_btrfs seccomp'
build_crio() {
  local v=$1 out src stamp pinns_build
  out=$tools_cache/crio/$v
  stamp="crio $v tags=$crio_tags ldflags=$ldflags"
  go_tool_fresh "$out" "$stamp" && return 0
  mkdir -p "$out"
  src=$(module_src "github.com/cri-o/cri-o@$v")
  (cd "$src" && go build -trimpath -tags "$crio_tags" -ldflags "$ldflags" -o "$out/crio" ./cmd/crio)
  # pinns (C, static) is built by make in a writable copy of the module's pinns/.
  pinns_build=$(mktemp -d)
  cp -r "$src/pinns" "$pinns_build/"
  chmod -R u+w "$pinns_build"
  make -s -C "$pinns_build/pinns"
  install -m 0755 "$pinns_build/bin/pinns" "$out/pinns"
  rm -rf "$pinns_build"
  go_tool_done "$out" "$stamp"
}

build_crictl() {
  local out src stamp
  out=$tools_cache/crictl/$CRICTL_VERSION
  stamp="crictl $CRICTL_VERSION ldflags=$ldflags"
  go_tool_fresh "$out" "$stamp" && return 0
  mkdir -p "$out"
  src=$(module_src "sigs.k8s.io/cri-tools@$CRICTL_VERSION")
  (cd "$src" && go build -trimpath -ldflags "$ldflags" -o "$out/crictl" ./cmd/crictl)
  go_tool_done "$out" "$stamp"
}

# kubelet: k8s.io/kubernetes replaces its staging modules (k8s.io/api, ...) with ./staging
# paths, which a module download does not carry; a wrapper module of our own replaces each
# with its published v0.<minor>.<patch> and builds k8s.io/kubernetes/cmd/kubelet.
build_kubelet() {
  local out kmod stamp
  out=$tools_cache/kubelet/$KUBELET_VERSION
  stamp="kubelet $KUBELET_VERSION ldflags=$ldflags"
  go_tool_fresh "$out" "$stamp" && return 0
  mkdir -p "$out/src"
  kmod=$(module_src "k8s.io/kubernetes@$KUBELET_VERSION")
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
  (cd "$out/src" && go mod tidy && go build -trimpath -ldflags "$ldflags" -o "$out/kubelet" k8s.io/kubernetes/cmd/kubelet)
  go_tool_done "$out" "$stamp"
}

# Side by side (go build parallelizes within a package graph, but links one at a time); each
# logs to its own file, and the first failure is shown.
pids=()
logs=()
for job in $(for v in $CRIO_VERSIONS; do echo "crio:$v"; done) crictl: kubelet:; do
  name=${job%%:*} arg=${job#*:}
  log=$tools_cache/build-$name${arg:+-$arg}.log
  ( set -euo pipefail; "build_$name" $arg ) >"$log" 2>&1 &
  pids+=($!)
  logs+=("$log")
done
rc=0
for i in "${!pids[@]}"; do
  if ! wait "${pids[$i]}"; then
    echo "build-go-tools.sh: failed, see ${logs[$i]}:" >&2
    tail -n 20 "${logs[$i]}" >&2
    rc=1
  fi
done
exit $rc
