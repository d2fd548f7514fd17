#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Read errors in CRI-O's artifact store (SECURITY-BAR 26, 28), as the hook meets them: the
# store (<graphroot>/artifacts, written by skopeo) is served through eiofs (tests/lib/eiofs.c),
# a read-only FUSE passthrough that fails chosen reads of one file with a real EIO, and a runc
# container gets the image volume CRI-O would give it. A bad byte in the manifest (read by the
# hook's planner itself), in the config, in a plain tar layer's first header (read by the
# unpacker) and inside a tar+gzip layer (read by the importer): the container does not start,
# the hook says one line naming the I/O error and the blob or layer; the model is not stored,
# no staging is left, fsck is clean, the model already there (A) is byte-exact; once the store
# reads well again, the same container starts with the model byte-exact.
# Runs in a mount namespace of its own: the FUSE mounts are gone when it ends.
if [ -z "${MODELVOL_HOOK_READ_ERRORS_NS:-}" ] && [ "$(id -u)" = 0 ]; then
  MODELVOL_HOOK_READ_ERRORS_NS=1 exec unshare --mount --propagation private bash "$0" "$@"
fi
. "$(dirname "$0")/../lib/common.sh"
. "$TESTS_LIB/container.sh"
. "$TESTS_LIB/eiofs.sh"

# CRI-O's graphroot; its artifact store is the mount point.
GRAPH=$T/graph
ART=$GRAPH/artifacts
mkdir -p "$ART"
printf '[store]\nroot=%s\n[crio]\ngraphroot=%s\n' "$ROOT" "$GRAPH" >"$T/modelvol.conf"

A=localhost:5000/test/hook-read-errors-a:v1
mkmodel preset shared --variant a --seed hook-read-errors --out "$T/lay-a" --ref "$A" \
  --expect "$T/exp-a" >/dev/null
run_ok "import A" -- mvol import "oci:$T/lay-a:$A"

cat >"$T/spec.json" <<'EOF'
{"family": "cncf", "layers": [
 {"kind": "weight", "format": "raw", "path": "weights/model.safetensors", "content": {"random": 300000, "seed": "hook-eio-raw"}},
 {"kind": "weight", "format": "tar", "path": "shards", "entries": [
   {"name": "shards/a.bin", "content": {"random": 100000, "seed": "hook-eio-tar"}}]},
 {"kind": "code", "format": "tar+gzip", "path": "code", "entries": [
   {"name": "code/blob.bin", "content": {"random": 400000, "seed": "hook-eio-gz"}}]}
]}
EOF
mkmodel build --spec "$T/spec.json" --out "$T/l" --ref v1 --info "$T/info.json" \
  --expect "$T/exp" >/dev/null
REF=localhost:5000/org/eio:v1
run_ok "skopeo writes it into a copy of CRI-O's artifact store" -- \
  skopeo copy -q "oci:$T/l:v1" "oci:$T/art-src:$REF"
DIG=$(jq -r '.manifests[0].digest' "$T/art-src/index.json")
CFG=$(jq -r .config.digest "$T/art-src/blobs/sha256/${DIG#sha256:}")
TAR=$(jq -r '.layers[] | select(.format == "tar") | .digest' "$T/info.json")
GZ=$(jq -r '.layers[] | select(.format == "tar+gzip") | .digest' "$T/info.json")
gz_size=$(stat -c %s "$T/art-src/blobs/sha256/${GZ#sha256:}")

# The container reports every file of the volume with its hash.
# shellcheck disable=SC2016
REPORT='cd /model && find . -type f | sort | while read -r f; do echo "F $(sha256sum "$f")"; done'
(cd "$T/exp" && find . -type f | sort | while read -r f; do echo "F $(sha256sum "$f")"; done) >"$T/want"
make_bundle "$T/b" "$REPORT"
crio_image_volume "$T/b" "$T/art-src" "$DIG" /model
# (the bind mounts name the store where CRI-O has it)
sed -i "s|$T/art-src/|$ART/|g" "$T/b/config.json"
bundle_add_hook "$T/b" "$T/modelvol.conf"

n=0
# hook_read_error DESC FILE ERE EIOFS_ARGS...
hook_read_error() {
  local desc=$1 file=$2 what=$3 hook_err body
  shift 3
  case $file in sha256:*) file=blobs/sha256/${file#sha256:} ;; esac
  # Layers an earlier case completed before its failure stay stored: prune them (A is named
  # and stays), or this case's faulty layer would be reused and never read.
  mvol prune >/dev/null 2>&1 || true
  eio_mount "$T/art-src" "$ART" --file "$file" "$@"
  n=$((n + 1))
  ctr_run "$T/b" "mv-hook-eio-$n"
  eio_umount
  # runc quotes the hook's stderr, newlines escaped: one line is one '\n', at the end.
  hook_err=$(sed -n 's/.*stderr: //p' <<<"$LAST_STDERR")
  body=${hook_err%'\n"'}
  echo "#   $desc: $body"
  if [ "$LAST_RC" -ne 0 ] && ! grep -q '^F ' <<<"$LAST_STDOUT" && [ "$body" != "$hook_err" ] \
    && [[ $body != *'\n'* ]] && grep -Eq "^modelvol-hook: .*$what.*Input/output error$" <<<"$body"; then
    tap_ok "$desc: the container does not start; the hook says one line naming the I/O error"
  else
    tap_not_ok "$desc: the container does not start; the hook says one line naming the I/O error"
    diag "exit $LAST_RC" "stdout: $LAST_STDOUT" "stderr: $LAST_STDERR"
  fi
  check "$desc: the fault was met" -- grep -q '^EIO ' "$T/eio.log"
  check "$desc: the model is not stored" -- lacks_model "$DIG"
  assert_eq "$(find "$ROOT/tmp" -mindepth 1 -maxdepth 1 | head -3)" "" "$desc: <root>/tmp empty"
  run_ok "$desc: fsck clean" -- mvol fsck
  assert_eq "$(find "$ROOT/repo" \( -name '*.commitpartial' -o -name 'staging-*' \) | head -3)" "" \
    "$desc: libostree staging reclaimed"
  run_ok "$desc: A's path" -- mvol path "$A"
  assert_tree_eq "$LAST_STDOUT" "$T/exp-a" "$desc: A byte-exact"
}

hook_read_error "manifest (read by the hook)" "$DIG" "${DIG:7:12}" --offset 0 --length 1
hook_read_error "config" "$CFG" "$(re_escape "${CFG:0:19}")" --offset 0 --length 1
hook_read_error "plain tar, first header (the unpacker)" "$TAR" "layer $(re_escape "${TAR:0:19}")" \
  --offset 100 --length 1
assert_eq "$(eio_first_reader)" modelvol-unpack \
  "plain tar, first header: the unpacker met the fault"
hook_read_error "tar+gzip, inside (the importer)" "$GZ" "layer $(re_escape "${GZ:0:19}")" \
  --offset $((gz_size / 2)) --length 1

# The store reads well again: the same container starts with the model.
eio_mount "$T/art-src" "$ART"
ctr_run "$T/b" mv-hook-eio-ok
eio_umount
assert_eq "$LAST_RC" 0 "without a fault the container runs"
grep -E '^F ' <<<"$LAST_STDOUT" >"$T/got" || true
check "and sees the model byte-exact" -- diff -u "$T/want" "$T/got"
check "the model is stored" -- has_model "$DIG"
run_ok "fsck clean at the end" -- mvol fsck

finish
