#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Read errors of the source (SECURITY-BAR 26, 28): a real kernel EIO while a model is imported
# from an OCI layout. strace's error injection cannot reach the unpacker (it turns the call into
# syscall -1, which the unpacker's seccomp filter kills); here the layout is served through
# eiofs (tests/lib/eiofs.c), a read-only FUSE passthrough that fails chosen reads of one file
# with EIO, so whoever reads gets the error from the kernel as from a failing disk:
# - a raw layer: the importer copies it (copy_file_range, sendfile);
# - a plain tar layer, read by position: the unpacker reads the headers itself (the first
#   header, a later one, the end blocks), the importer copies the members' data (a member of
#   6 MiB by kernel copy, one of 1 MiB by reads);
# - a tar+gzip and a tar+zstd layer: the importer reads the blob and feeds the unpacker;
# - the layout's index.json and oci-layout, the manifest and the config;
# at a bad byte sampled at the start, inside and at the end of each blob, on open, and at every
# N-th read (of a blob only the importer reads, with read(2): the kernel retries a failed page
# of a kernel copy, so who gets which error there is not fixed). Each case: exit 1 and exactly one stderr line naming the I/O error and the blob or
# layer at fault; the fault was met (eiofs logs it, and who read: the unpacker or the importer);
# nothing of the model listed, no model or name ref and no ref of the damaged layer; <root>/tmp
# empty at once and libostree's staging reclaimed when the store is next opened; fsck clean;
# model A, already there, byte-exact; the next import from the undamaged layout completes and
# is byte-exact.
# Runs in a mount namespace of its own: the FUSE mounts are gone when it ends.
if [ -z "${MODELVOL_READ_ERRORS_NS:-}" ] && [ "$(id -u)" = 0 ]; then
  MODELVOL_READ_ERRORS_NS=1 exec unshare --mount --propagation private bash "$0" "$@"
fi
. "$(dirname "$0")/../lib/common.sh"
. "$TESTS_LIB/eiofs.sh"

export MODELVOL_JOBS=2
# The built-in limits, whatever /etc/modelvol/modelvol.conf says.
printf '[limits]\n' >"$T/default.conf"
export MODELVOL_CONFIG=$T/default.conf

MNT=$T/mnt
mkdir -p "$MNT"

A=localhost:5000/test/read-errors-a:v1
mkmodel preset shared --variant a --seed read-errors --out "$T/lay-a" --ref "$A" \
  --expect "$T/exp-a" >/dev/null
# Model B: a layer of each format. In the plain tar the unpacker reads 256 KiB from each header
# on and skips the rest of a member's data by lseek: the middle of both members lies where only
# the importer reads.
cat >"$T/spec-b.json" <<'EOF'
{"family": "cncf", "layers": [
 {"kind": "weight", "format": "raw", "path": "weights/model.safetensors", "content": {"random": 3145728, "seed": "eio-raw"}},
 {"kind": "weight", "format": "tar", "path": "shards", "entries": [
   {"name": "shards", "type": "dir"},
   {"name": "shards/big.bin", "content": {"random": 6291456, "seed": "eio-big"}},
   {"name": "shards/mid.bin", "content": {"random": 1048576, "seed": "eio-mid"}},
   {"name": "shards/notes.txt", "content": "plain tar\n"}]},
 {"kind": "code", "format": "tar+gzip", "path": "code", "entries": [
   {"name": "code/run.py", "content": "print(1)\n"},
   {"name": "code/blob.bin", "content": {"random": 1048576, "seed": "eio-gz"}}]},
 {"kind": "dataset", "format": "tar+zstd", "path": "data", "entries": [
   {"name": "data/train.bin", "content": {"random": 1048576, "seed": "eio-zst"}},
   {"name": "data/README", "content": "data\n"}]}
]}
EOF
mkmodel build --spec "$T/spec-b.json" --out "$T/lay-b" --ref b:v1 --expect "$T/exp-b" \
  --info "$T/b.json" >/dev/null
DB=$(jq -r .manifest "$T/b.json")
layer_of() { jq -r --arg f "$1" '.layers[] | select(.format == $f) | .digest' "$T/b.json"; }
size_of() { stat -c %s "$T/lay-b/blobs/sha256/${1#sha256:}"; }
RAW=$(layer_of raw)
TAR=$(layer_of tar)
GZ=$(layer_of tar+gzip)
ZST=$(layer_of tar+zstd)
CFG=$(jq -r .config "$T/b.json")

# Where the plain tar's headers and data lie.
python3 - "$T/lay-b/blobs/sha256/${TAR#sha256:}" >"$T/tar-offsets" <<'PY'
import sys, tarfile
with tarfile.open(sys.argv[1]) as t:
    members = t.getmembers()
    for m in members:
        print(m.name, m.offset, m.offset_data, m.size)
    last = members[-1]
    print("END", last.offset_data + (last.size + 511) // 512 * 512)
PY
header_of() { awk -v n="$1" '$1 == n {print $2}' "$T/tar-offsets"; }
data_of() { awk -v n="$1" '$1 == n {print $3, $4}' "$T/tar-offsets"; }
read -r big_data big_size < <(data_of shards/big.bin)
read -r mid_data mid_size < <(data_of shards/mid.bin)

# The old state: a store holding A, copied for every case.
new_root "$T/template"
run_ok "template: import A" -- mvol import "oci:$T/lay-a:$A"
tmpl=$ROOT

fresh_store() {
  if [ -n "${ROOT:-}" ] && [ "$ROOT" != "$tmpl" ] && [ -e "$ROOT" ]; then
    chmod -R u+w "$ROOT" 2>/dev/null || true
    rm -rf "$ROOT"
  fi
  new_root
  cp -a "$tmpl" "$ROOT"
}

# refs_but_intact_layers: the store's refs, less the layer refs of B's layers other than $1.
refs_but_intact_layers() {
  local keep=$1 re=''
  for l in "$RAW" "$TAR" "$GZ" "$ZST"; do
    [ "$l" = "$keep" ] || re="$re|${l#sha256:}"
  done
  ostree --repo="$ROOT/repo" refs | grep -Ev "^modelvol/layer/sha256/(${re#|})$" | sort || true
}

# --- the mount itself is no fault: B imports through it ---------------------------------------
fresh_store
eio_mount "$T/lay-b" "$MNT"
run_ok "through eiofs without a fault: B imports" -- mvol import "oci:$MNT:b:v1"
assert_eq "$LAST_STDOUT" "$DB" "through eiofs: digest"
eio_umount
assert_eq "$(grep -c . "$T/eio.log" || true)" 0 "through eiofs: no fault logged"
run_ok "through eiofs: B's path" -- mvol path "$DB"
assert_tree_eq "$LAST_STDOUT" "$T/exp-b" "through eiofs: B byte-exact"

# read_error DESC BLOB_DIGEST|FILE READER ERE EIOFS_ARGS...: the import of B with that fault.
# READER: who must meet the fault first: unpacker (modelvol-unpack), importer (any other
# thread) or - (either). ERE: what the one error line must name besides the I/O error.
read_error() {
  local desc=$1 file=$2 reader=$3 what=$4 blob=$2 first
  shift 4
  case $file in sha256:*) file=blobs/sha256/${file#sha256:} ;; esac
  fresh_store
  local ls_before refs_before
  ls_before=$(mvol --json ls | jq -c .)
  refs_before=$(ostree --repo="$ROOT/repo" refs | sort)
  eio_mount "$T/lay-b" "$MNT" --file "$file" "$@"
  expect_fail 1 "$what.*Input/output error" "$desc" -- mvol import "oci:$MNT:b:v1"
  echo "#   $desc: $LAST_STDERR"
  eio_umount
  check "$desc: the fault was met" -- grep -q '^EIO ' "$T/eio.log"
  first=$(eio_first_reader)
  echo "#   $desc: $(grep -c . "$T/eio.log") read(s) failed, the first by ${first:-nobody}"
  case $reader in
    unpacker) assert_eq "$first" modelvol-unpack "$desc: the unpacker met it" ;;
    importer) check "$desc: the importer met it" -- test -n "$first" -a "$first" != modelvol-unpack ;;
  esac
  check "$desc: neither a signal nor the store is blamed" -- \
    bash -c '! grep -Eq "killed by signal|into the store|writing" <<<"$1"' _ "$LAST_STDERR"
  assert_eq "$(find "$ROOT/tmp" -mindepth 1 -maxdepth 1 | head -3)" "" "$desc: <root>/tmp empty"
  assert_eq "$(mvol --json ls | jq -c .)" "$ls_before" "$desc: ls unchanged (nothing of B listed)"
  assert_eq "$(refs_but_intact_layers "$blob")" "$refs_before" \
    "$desc: no model, name or damaged-layer ref (only intact layers of B may be kept)"
  assert_eq "$(find "$ROOT/repo" \( -name '*.commitpartial' -o -name 'staging-*' \) | head -3)" "" \
    "$desc: libostree staging reclaimed on open"
  run_ok "$desc: fsck clean" -- mvol fsck
  run_ok "$desc: A's path" -- mvol path "$A"
  assert_tree_eq "$LAST_STDOUT" "$T/exp-a" "$desc: A byte-exact"
  run_ok "$desc: the next import from the undamaged layout completes" -- \
    mvol import "oci:$T/lay-b:b:v1"
  assert_eq "$LAST_STDOUT" "$DB" "$desc: next import: digest"
  run_ok "$desc: then B's path" -- mvol path "$DB"
  assert_tree_eq "$LAST_STDOUT" "$T/exp-b" "$desc: then B byte-exact"
}

layer_re() { echo "layer $(re_escape "${1:0:19}")"; }

# --- a raw layer: copied by the importer ---------------------------------------------------------
n=$(size_of "$RAW")
read_error "raw layer, bad byte 0" "$RAW" importer "$(layer_re "$RAW")" --offset 0 --length 1
read_error "raw layer, bad byte $((n / 2)) of $n" "$RAW" importer "$(layer_re "$RAW")" \
  --offset $((n / 2)) --length 1
read_error "raw layer, bad last byte" "$RAW" importer "$(layer_re "$RAW")" --offset $((n - 1))
read_error "raw layer, open" "$RAW" importer "blob $(re_escape "$RAW")" --open

# --- a plain tar layer: headers read by the unpacker, data copied by the importer ---------------
read_error "plain tar, first header" "$TAR" unpacker "$(layer_re "$TAR")" --offset 100 --length 1
read_error "plain tar, header of a later member" "$TAR" unpacker "$(layer_re "$TAR")" \
  --offset $(($(header_of shards/notes.txt) + 100)) --length 1
read_error "plain tar, end blocks" "$TAR" unpacker "$(layer_re "$TAR")" \
  --offset $(($(awk '$1 == "END" {print $2}' "$T/tar-offsets") + 600)) --length 1
read_error "plain tar, inside a 6 MiB member (kernel copy)" "$TAR" importer "$(layer_re "$TAR")" \
  --offset $((big_data + big_size / 2)) --length 1
read_error "plain tar, inside a 1 MiB member (reads)" "$TAR" importer "$(layer_re "$TAR")" \
  --offset $((mid_data + mid_size * 3 / 4)) --length 1
read_error "plain tar, open" "$TAR" importer "blob $(re_escape "$TAR")" --open

# --- tar+gzip and tar+zstd: read by the importer, which feeds the unpacker ----------------------
for l in "$GZ" "$ZST"; do
  f=$(jq -r --arg d "$l" '.layers[] | select(.digest == $d) | .format' "$T/b.json")
  n=$(size_of "$l")
  read_error "$f, bad byte 0" "$l" importer "$(layer_re "$l")" --offset 0 --length 1
  read_error "$f, bad byte $((n / 2)) of $n" "$l" importer "$(layer_re "$l")" \
    --offset $((n / 2)) --length 1
  read_error "$f, bad last byte" "$l" importer "$(layer_re "$l")" --offset $((n - 1))
done
read_error "tar+zstd, every 3rd read" "$ZST" importer "$(layer_re "$ZST")" --every 3

# --- the layout's own files, the manifest and the config ------------------------------------------
read_error "index.json, read" index.json importer "index\.json" --offset 0
read_error "index.json, open" index.json importer "index\.json" --open
read_error "oci-layout, read" oci-layout importer "oci-layout" --offset 0
read_error "manifest, read" "$DB" importer "blob $(re_escape "$DB")" --offset 0
read_error "manifest, open" "$DB" importer "blob $(re_escape "$DB")" --open
read_error "config, read" "$CFG" importer "config: .*blob $(re_escape "$CFG")" --offset 0
read_error "config, open" "$CFG" importer "config: .*blob $(re_escape "$CFG")" --open

finish
