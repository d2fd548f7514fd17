#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Builds the real Kubernetes node runtime that tests/crio/ and contrib/demo.sh run, from the
# Go modules at the versions pinned in contrib/go-tools.versions, never from copied source:
# CRI-O (each minor of CRIO_VERSIONS) with its pinns, crictl, and a kubelet. conmon, runc
# and the CNI plugins are Debian's (contrib/install-deps.sh installs them). For the signature
# tests (tests/lib/sigstore.sh): cosign, and two small tools of ours in tests/tools/
# (ggcr-registry, policy-check) built against pinned library modules. Each build is kept
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
contrib_dir=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=contrib/go-tools.versions
. "$contrib_dir/go-tools.versions"
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

# cosign: a pure-Go static build (CGO_ENABLED=0), inside its module like CRI-O.
build_cosign() {
  local out src stamp
  out=$tools_cache/cosign/$COSIGN_VERSION
  stamp="cosign $COSIGN_VERSION cgo=0 ldflags=$ldflags"
  go_tool_fresh "$out" "$stamp" && return 0
  mkdir -p "$out"
  src=$(module_src "github.com/sigstore/cosign/v3@$COSIGN_VERSION")
  (cd "$src" && CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$out/cosign" ./cmd/cosign)
  go_tool_done "$out" "$stamp"
}

# go_tool_src_hash DIR: a hash of one of our tools' sources (tests/lib/sigstore.sh computes
# the same to notice a stale build).
go_tool_src_hash() { (cd "$1" && cat main.go go.mod go.sum | sha256sum | cut -c1-16); }

# build_own_tool NAME VERSION MODULE [TAGS]: tests/tools/NAME (our main.go, its go.mod pins
# MODULE at VERSION) under NAME/VERSION; rebuilt when its sources change.
build_own_tool() {
  local name=$1 v=$2 mod=$3 tags=${4:-} dir out stamp
  dir=$contrib_dir/../tests/tools/$name
  if ! grep -Eq "^[[:space:]]*(require[[:space:]]+)?$mod $v( |\$)" "$dir/go.mod"; then
    echo "build-go-tools.sh: $dir/go.mod does not require $mod $v (contrib/go-tools.versions)" >&2
    return 1
  fi
  out=$tools_cache/$name/$v
  stamp="$name $v src=$(go_tool_src_hash "$dir") cgo=0 tags=$tags ldflags=$ldflags"
  go_tool_fresh "$out" "$stamp" && return 0
  mkdir -p "$out"
  (cd "$dir" && CGO_ENABLED=0 go build -mod=readonly -trimpath -tags "$tags" -ldflags "$ldflags" \
    -o "$out/$name" .)
  go_tool_done "$out" "$stamp"
}
build_ggcr-registry() { build_own_tool ggcr-registry "$GGCR_VERSION" github.com/google/go-containerregistry; }
# containers/image without cgo: the OpenPGP mechanism in Go (no gpgme), no storage drivers
# that need C libraries.
policy_check_tags='containers_image_openpgp exclude_graphdriver_btrfs exclude_graphdriver_devicemapper'
build_policy-check() {
  build_own_tool policy-check "$CONTAINERS_IMAGE_VERSION" go.podman.io/image/v5 "$policy_check_tags"
}

# Side by side (go build parallelizes within a package graph, but links one at a time); each
# logs to its own file, and the first failure is shown.
pids=()
logs=()
# The longest builds start first. MVTEST_GO_TOOLS_ONLY="cosign policy-check ..." builds only
# those (for a quick rebuild of one tool).
jobs="$(for v in $CRIO_VERSIONS; do echo "crio:$v"; done) kubelet: cosign: crictl: policy-check: ggcr-registry:"
for job in $jobs; do
  name=${job%%:*} arg=${job#*:}
  if [ -n "${MVTEST_GO_TOOLS_ONLY:-}" ] && [[ " $MVTEST_GO_TOOLS_ONLY " != *" $name "* ]]; then
    continue
  fi
  log=$tools_cache/build-$name${arg:+-$arg}.log
  ( set -euo pipefail; SECONDS=0; "build_$name" $arg; echo "build-go-tools.sh: $job done in ${SECONDS}s" ) >"$log" 2>&1 &
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
