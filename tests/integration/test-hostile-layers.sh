#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Hostile layers (SECURITY-BAR 16, 17, 19, 20, 21, 23) beyond test-bad-input.sh: hand-built tar,
# gzip and zstd bytes (tests/lib/rawtar.py through the hostile-* presets of mkmodel.py).
#
# Refused layers: exit 1 with ONE stderr line naming what is wrong; peak RSS of the import (the
# modelvol process and the unpacker it reaps, /usr/bin/time %M) under a bound; `ls` unchanged,
# no ref for the bad layer, no staging left, fsck clean; the sentinel dir unchanged. At the
# end: the good model byte-exact, no new inode anywhere in the work dir outside the store
# root, none at the top of / or /etc.
#
# Accepted layers (canonicalized, not refused): byte-exact trees, files 0644/0755, dirs 0755,
# owner 0:0 in the checkout and uid/gid 0 in the commit, no xattr on any stored object or
# checked-out file, and the unpacker makes no NSS lookups (strace) for uname/gname.
#
# Policies shown here: multi-member gzip and multi-frame zstd (skippable frames too) are
# accepted; anything else after the last member or frame (garbage, zeros) is refused, as is a
# wrong CRC-32 or length in any member. After a tar's end-of-archive block only zero padding
# may follow (at most 1 MiB); a missing end block is accepted (the digest already covers
# every byte, as Go's archive/tar and libarchive do); a member after one zero block is refused.
. "$(dirname "$0")/../lib/common.sh"

W=$T/w
mkdir -p "$W/sentinel/sub" "$W/hostile"
echo "do not touch" >"$W/sentinel/keep"
echo "do not touch" >"$W/sentinel/sub/keep"
new_root "$W/box/store/root"
# The built-in limits, whatever /etc/modelvol/modelvol.conf says; cases lower one of them.
printf '[limits]\n' >"$T/default.conf"
export MODELVOL_CONFIG=$T/default.conf

# timed CMD...: runs CMD under /usr/bin/time; its peak RSS in KiB goes to $T/rss.
timed() {
  /usr/bin/time -f %M -o "$T/rss" "$@"
}
last_rss() { tail -1 "$T/rss"; }

# --- the good model, and the memory bound ------------------------------------------------------
G=localhost:5000/test/good:v1
mkmodel preset all-kinds --seed hostile-good --out "$W/good" --ref "$G" --expect "$T/exp-good" >/dev/null
run_ok "import the good model" -- timed "$MODELVOL" --root "$ROOT" import "oci:$W/good:$G"
base_rss=$(last_rss)
run_ok "path of the good model" -- mvol path "$G"
good_co=$LAST_STDOUT
assert_tree_eq "$good_co" "$T/exp-good" "good model: byte-exact tree"
good_ls=$(mvol --json ls | jq -c .)
# The bound: the good import's own peak (20 layers, 4 at a time, under ASan) plus 64 MiB. What
# the unpacker holds does not grow with what a layer claims: 4 blob chunks of 256 KiB, one 1 MiB
# frame, a 128 KiB decoder buffer, at most 1 MiB of extended header; a zstd window above
# 128 MiB is refused before it is allocated, and none of these layers asks for a large one.
# The bombs claim 256 MiB to 8 EiB.
RSS_BOUND=$((base_rss + 64 * 1024))
echo "# good import: peak RSS $base_rss KiB; bound for the hostile imports: $RSS_BOUND KiB"

# --- every layout, built before the first import (the snapshot covers them too) ---------------
# CASE|PRESET|[limits] KEY=VALUE (or SECTION:KEY=VALUE) for this case|ERE the one stderr line
# must match
refused=(
  "dup-dotslash|hostile-dup-dotslash||'a\.txt' appears more than once"
  "dup-other-mode|hostile-dup-other-mode||'m\.sh' appears more than once"
  "dup-pax-rename|hostile-dup-pax-rename||'dup' appears more than once"
  "dir-slash-then-file|hostile-dir-slash-then-file||'d' appears more than once"
  "dir-then-file|hostile-dir-then-file||'d' appears more than once"
  "symlink-then-dir|hostile-symlink-then-dir||member 's': directory replaces a file or symlink"
  "file-then-symlink|hostile-file-then-symlink||'f' appears more than once"
  "symlink-then-file|hostile-symlink-then-file||'l' appears more than once"
  "size-8eib|hostile-size-8eib||tar header with an invalid size"
  "size-negative|hostile-size-negative||tar header with an invalid size"
  "size-int64-max|hostile-size-int64-max||[Ss]ize overflow"
  "pax-size-negative|hostile-pax-size-negative||size attribute is negative"
  "pax-size-8eib|hostile-pax-size-8eib||size attribute overflow"
  "pax-size-smaller|hostile-pax-size-smaller||tar stream not understood"
  "sparse-gnu-1tib|hostile-sparse-gnu||member 'sparse\.bin': sparse files are not supported"
  "sparse-pax-1tib|hostile-sparse-pax||member 'sparse\.bin': sparse files are not supported"
  "pax-above-1mib|hostile-pax-huge||extended header of [0-9]+ bytes is above the limit of 1048576"
  "pax-global-above-1mib|hostile-pax-global-huge||extended header of [0-9]+ bytes is above the limit"
  "gnu-longname-above-1mib|hostile-gnu-longname-huge||extended header of [0-9]+ bytes is above the limit"
  "gnu-longname-above-path-max|hostile-gnu-longname-pathmax||name or link target longer than 4096 bytes"
  "gnu-longlink-above-path-max|hostile-gnu-longlink-pathmax||member 'link': name or link target longer than 4096 bytes"
  "component-256|hostile-component-256||component longer than 255 bytes"
  "depth-257|hostile-depth-257||more than 256 levels"
  "pax-chain-10000|hostile-pax-chain||more than 32 extended headers before one tar member"
  "many-entries|hostile-many-entries|max-entries=1000|more than 1000 entries \(limit max-entries\)"
  "truncated-header|hostile-truncated-header||truncated tar layer"
  "truncated-data|hostile-truncated-data||member 'cut\.bin': truncated tar layer"
  "truncated-pax|hostile-truncated-pax||truncated tar layer"
  "after-end-member|hostile-after-end-member||data after the end of the tar archive"
  "after-end-garbage|hostile-after-end-garbage||data after the end of the tar archive"
  "after-one-zero-block|hostile-after-one-zero-block||data after the end of the tar archive"
  "zero-padding-above-1mib|hostile-zero-padding-too-long||more than 1048576 bytes of padding after the end"
  "gzip-bomb-bytes|hostile-gzip-bomb|max-layer-bytes=67108864|more than 67108864 bytes \(limit max-layer-bytes\)"
  "gzip-bomb-ratio|hostile-gzip-bomb|max-ratio=100|expands more than 100 times \(limit max-ratio\)"
  "zstd-bomb-100gib|hostile-zstd-bomb||expands more than 1000 times \(limit max-ratio\)"
  "zstd-window-2gib|hostile-zstd-window||window above 128 MiB \(limit zstd windowLogMax 27\)"
  "zstd-content-1tib|hostile-zstd-content-size||window above 128 MiB \(limit zstd windowLogMax 27\)"
  "gzip-bad-crc|hostile-gzip-bad-crc||gzip member 1: incorrect data check"
  "gzip-bad-length|hostile-gzip-bad-isize||gzip member 1: incorrect length check"
  "gzip-second-member-bad-crc|hostile-gzip-second-member-bad||gzip member 2: incorrect data check"
  "gzip-trailing-garbage|hostile-gzip-trailing-garbage||what follows gzip member 1 is not a gzip member"
  "gzip-trailing-zeros|hostile-gzip-trailing-zeros||what follows gzip member 1 is not a gzip member"
  "gzip-truncated-trailer|hostile-gzip-truncated-trailer||truncated inside gzip member 1"
  "gzip-holding-zstd|hostile-gzip-not-gzip||layer data is not gzip-compressed"
  "zstd-trailing-garbage|hostile-zstd-trailing-garbage||what follows zstd frame 1 is not a zstd frame"
  "zstd-bad-checksum|hostile-zstd-bad-checksum||zstd frame 1: .*checksum"
  "zstd-truncated-frame|hostile-zstd-truncated-frame||truncated inside zstd frame 1"
  # bar 23: the uncompressed digest (over the whole stream) against the config's diffIds.
  "diffid-gzip|hostile-diffid-gzip||layer sha256:[0-9a-f]{12}: the layer's uncompressed content is sha256:[0-9a-f]{64}, but the config's modelfs\.diffIds\[1\] is sha256:[0-9a-f]{64} \(\[import\] diff-ids=compatible\)$"
  "diffid-zstd|hostile-diffid-zstd||uncompressed content is sha256:[0-9a-f]{64}, but the config's modelfs\.diffIds\[1\] is"
  "diffid-tar|hostile-diffid-tar||uncompressed content is sha256:[0-9a-f]{64}, but the config's modelfs\.diffIds\[1\] is"
  "diffid-raw|hostile-diffid-raw||uncompressed content is sha256:[0-9a-f]{64}, but the config's modelfs\.diffIds\[1\] is"
  "diffid-short|hostile-diffid-short||config sha256:[0-9a-f]{64} lists 1 modelfs\.diffIds for 2 layers"
  "diffid-blob-strict|hostile-diffid-blob|import:diff-ids=strict|but the config's modelfs\.diffIds\[1\] is sha256:[0-9a-f]{64} \(\[import\] diff-ids=strict\)$"
  "diffid-none-strict|hostile-diffid-none|import:diff-ids=strict|lists no modelfs\.diffIds \(\[import\] diff-ids=strict\)$"
  "diffid-gzip-strict|hostile-diffid-gzip|import:diff-ids=strict|diff-ids=strict\)$"
)
accepted=(
  hostile-modes hostile-xattrs hostile-depth-256 hostile-no-end-blocks hostile-one-end-block
  hostile-zero-padding hostile-gzip-multi-member hostile-gzip-empty-members
  hostile-zstd-multi-frame hostile-zstd-skippable-frame
  hostile-diffid-right hostile-diffid-blob hostile-diffid-none
)
# One Python process builds them all (a process per preset would cost a minute).
{
  for c in "${refused[@]}"; do
    IFS='|' read -r _ p _ _ <<<"$c"
    echo "preset $p --seed hostile --out $W/hostile/$p --ref localhost:5000/hostile/$p:v1 --info $W/hostile/$p.info.json"
  done | sort -u
  for p in "${accepted[@]}"; do
    echo "preset $p --seed hostile --out $W/hostile/$p --ref localhost:5000/hostile/$p:v1 --info $W/hostile/$p.info.json --expect $T/exp-$p"
  done
} >"$T/build-list"
python3 - "$TESTS_LIB" "$T/build-list" <<'PY'
import contextlib, io, sys
sys.path.insert(0, sys.argv[1])
import mkmodel
for line in open(sys.argv[2]):
    with contextlib.redirect_stdout(io.StringIO()):
        mkmodel.main(line.split())
PY
echo "# built $(wc -l <"$T/build-list") layouts ($((SECONDS - TEST_START)) s)"

# No new inode outside the store root: everything in the work dir, and the top of / and /etc.
snap_before=$(snapshot "$W" "$ROOT")
sentinel_before=$(snapshot "$W/sentinel")
top_before=$(ls -A / /etc)

# --- refused --------------------------------------------------------------------------------------
for c in "${refused[@]}"; do
  IFS='|' read -r name p limit pat <<<"$c"
  info=$W/hostile/$p.info.json
  ref=localhost:5000/hostile/$p:v1
  if [[ $limit == *:* ]]; then
    printf '[%s]\n%s\n' "${limit%%:*}" "${limit#*:}" >"$T/case.conf"
  else
    printf '[limits]\n%s\n' "$limit" >"$T/case.conf"
  fi
  expect_fail 1 "$pat" "$name" -- env MODELVOL_CONFIG="$T/case.conf" /usr/bin/time -f %M -o "$T/rss" \
    "$MODELVOL" --root "$ROOT" import "oci:$W/hostile/$p:$ref"
  echo "#   $name: $LAST_STDERR"
  rss=$(last_rss)
  assert_lt "$rss" "$RSS_BOUND" "$name: peak RSS $rss KiB under $RSS_BOUND KiB"
  assert_eq "$(mvol --json ls | jq -c .)" "$good_ls" "$name: ls unchanged"
  bad=$(jq -r '.layers[1].digest' "$info")
  check "$name: no layer ref for the bad layer" -- \
    bash -c '! ostree --repo="$1/repo" refs | grep -q "$2"' _ "$ROOT" "${bad#sha256:}"
  assert_eq "$(find "$ROOT/tmp" -mindepth 1 -maxdepth 1 | head -3)" "" "$name: no staging left"
  run_ok "$name: fsck clean" -- mvol fsck
  assert_eq "$(snapshot "$W/sentinel")" "$sentinel_before" "$name: sentinel unchanged"
done

# --- afterwards: the good model, and nothing new outside the store ---------------------------------
run_ok "path of the good model after the hostile imports" -- mvol path "$G"
assert_eq "$LAST_STDOUT" "$good_co" "same checkout path"
assert_tree_eq "$good_co" "$T/exp-good" "good model still byte-exact"
snap_after=$(snapshot "$W" "$ROOT")
assert_snapshot_eq "$snap_before" "$snap_after" "no new or changed inode in the work dir outside the store root"
assert_eq "$(ls -A / /etc)" "$top_before" "nothing new at the top of / or /etc"
check "no device, fifo or socket anywhere in the store" -- \
  bash -c '[ -z "$(find "$1" \( -type c -o -type b -o -type p -o -type s \) -print -quit)" ]' _ "$ROOT"

# --- accepted, canonicalized -------------------------------------------------------------------------
# xattr_names DIR...: "path name" for every extended attribute under DIR (links not followed).
xattr_names() {
  python3 - "$@" <<'PY'
import os, sys
for top in sys.argv[1:]:
    for d, ds, fs in os.walk(top):
        for n in [d] + [os.path.join(d, x) for x in ds + fs]:
            try:
                names = os.listxattr(n, follow_symlinks=False)
            except OSError:
                names = []
            for a in names:
                print(n, a)
PY
}

new_root "$W/box/store/accepted"
for p in "${accepted[@]}"; do
  ref=localhost:5000/hostile/$p:v1
  d=$(jq -r .manifest "$W/hostile/$p.info.json")
  if [ "$p" = hostile-modes ]; then
    # uname/gname: the unpacker looks no name up (no NSS: no passwd, group, nsswitch.conf, nscd)
    # (LeakSanitizer cannot run under ptrace.)
    run_ok "$p: import (traced)" -- env ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" \
      /usr/bin/time -f %M -o "$T/rss" strace -f -qq -o "$T/nss.trace" \
      -e trace=execve,open,openat,openat2,socket,connect "$MODELVOL" --root "$ROOT" import "oci:$W/hostile/$p:$ref"
    upids=$(awk '/execve\(".*modelvol-unpack"/ {print $1}' "$T/nss.trace" | sort -u | tr '\n' ' ')
    assert_match "$upids" '[0-9]' "$p: the unpacker ran under strace"
    nss=$(awk -v p=" $upids" 'index(p, " " $1 " ")' "$T/nss.trace" |
      grep -E 'passwd|group|nsswitch|nscd|socket\(|connect\(' || true)
    assert_eq "$nss" "" "$p: no NSS lookup by the unpacker"
  else
    run_ok "$p: import" -- timed "$MODELVOL" --root "$ROOT" import "oci:$W/hostile/$p:$ref"
  fi
  assert_eq "$LAST_STDOUT" "$d" "$p: prints the model digest"
  assert_lt "$(last_rss)" "$RSS_BOUND" "$p: peak RSS $(last_rss) KiB under $RSS_BOUND KiB"
  run_ok "$p: path" -- mvol path "$ref"
  co=$LAST_STDOUT
  assert_tree_eq "$co" "$T/exp-$p" "$p: byte-exact tree"
  assert_canonical_modes "$co" "$p: files 0644/0755, dirs 0755"
  assert_eq "$(find "$co" -mindepth 1 ! -type l -printf '%U:%G\n' | sort -u)" "0:0" "$p: owner 0:0 in the checkout"
  # In the commit: uid 0, gid 0, and only the canonical modes.
  odd=$(ostree --repo="$ROOT/repo" ls -R "modelvol/model/sha256/${d#sha256:}" |
    awk '!($1 ~ /^(-00644|-00755|d00755|l00777)$/ && $2 == 0 && $3 == 0)')
  assert_eq "$odd" "" "$p: the commit has uid/gid 0 and canonical modes only"
  assert_eq "$(xattr_names "$co")" "" "$p: no xattr in the checkout"
done
assert_eq "$(xattr_names "$ROOT/repo/objects")" "" "accepted layers: no xattr on any stored object"
run_ok "accepted layers: fsck clean" -- mvol fsck
assert_eq "$(model_count)" "${#accepted[@]}" "accepted layers: all listed"

# --- diffIds: a stored layer that another model's config describes otherwise; warn ----------------
# hostile-diffid-right (imported above) and hostile-diffid-gzip share their second layer, byte
# for byte; only the config's claim differs. The layer is stored: its recorded uncompressed
# digest is what the second model's config is checked against.
right=$W/hostile/hostile-diffid-right.info.json
wrong=$W/hostile/hostile-diffid-gzip.info.json
L=$(jq -r '.layers[1].digest' "$right")
D=$(jq -r '.layers[1].diffId' "$right")
assert_eq "$(jq -r '.layers[1].digest' "$wrong")" "$L" "diffIds: the two models share the layer"
recorded=$(ostree --repo="$ROOT/repo" show "modelvol/layer/sha256/${L#sha256:}" --print-metadata-key=modelvol.diff-id)
assert_eq "$recorded" "'$D'" "diffIds: the stored layer records its uncompressed digest"
before=$(mvol --json ls | jq -c .)
ref=localhost:5000/hostile/hostile-diffid-gzip:v1
expect_fail 1 "layer $L: the layer's uncompressed content is $D, but the config's modelfs\.diffIds\[1\] is sha256:" \
  "diffIds: the stored layer, claimed otherwise" -- mvol import "oci:$W/hostile/hostile-diffid-gzip:$ref"
assert_eq "$(mvol --json ls | jq -c .)" "$before" "diffIds: ls unchanged"
printf '[import]\ndiff-ids=warn\n' >"$T/warn.conf"
run_ok "diffIds: diff-ids=warn imports it" -- env MODELVOL_CONFIG="$T/warn.conf" "$MODELVOL" --root "$ROOT" \
  import "oci:$W/hostile/hostile-diffid-gzip:$ref"
warning=$(grep -v '^Copying blob \|^Copied ' <<<"$LAST_STDERR")
assert_eq "$(wc -l <<<"$warning")" 1 "diffIds: one warning line (besides progress)"
assert_match "$warning" "^modelvol: warning: layer $L: the layer's uncompressed content is $D, but the config's modelfs\.diffIds\[1\] is sha256:[0-9a-f]{64} \(\[import\] diff-ids=warn\)$" \
  "diffIds: the warning names the layer and both digests"
run_ok "diffIds: fsck clean" -- mvol fsck
printf '[import]\ndiff-ids=sometimes\n' >"$T/bad.conf"
expect_fail 1 "\[import\] diff-ids must be compatible, strict or warn" "diffIds: an unknown policy" -- \
  env MODELVOL_CONFIG="$T/bad.conf" "$MODELVOL" --root "$ROOT" import "oci:$W/hostile/hostile-diffid-gzip:$ref"

finish
