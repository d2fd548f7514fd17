#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Damaged and hostile ModelPack artifacts through the real CRI-O: a layer blob CRI-O's artifact
# store holds with the wrong bytes, tar layers that climb out with .. or through symlinks, and
# a zstd bomb. crictl create fails; CRI-O's log carries modelvol-hook's one line naming the
# artifact; nothing stays mounted (host and container), nothing is half-stored, nothing is
# written outside the store, and a model stored before is intact and still mounts.
. "$(dirname "$0")/../lib/common.sh"
. "$TESTS_LIB/registry.sh"
. "$TESTS_LIB/container.sh"
. "$TESTS_LIB/crio.sh"

crio_setup '[limits]
max-layer-bytes=67108864'
SENT=$T/sentinel
mkdir -p "$SENT"

mkmodel preset shared --variant a --seed crio-good --out "$T/l-good" --ref v1 --expect "$T/exp" >/dev/null
ocipush "oci:$T/l-good:v1" "$R/org/good:v1" >/dev/null
# Every layer named apart: CRI-O cannot start a model whose layer names nest (see
# test-crio-image-volume), whatever its bytes.
cat >"$T/dmg.json" <<'EOF'
{"family": "cncf", "layers": [
 {"kind": "weight", "format": "raw", "path": "w.bin", "content": {"random": 100000, "seed": "crio-dmg-1"}},
 {"kind": "weight", "format": "tar+gzip", "path": "shards", "entries": [{"name": "shards/s.bin", "content": {"random": 100000, "seed": "crio-dmg-2"}}]}
]}
EOF
mkmodel build --spec "$T/dmg.json" --out "$T/l-dmg" --ref v1 >/dev/null
ocipush "oci:$T/l-dmg:v1" "$R/org/damaged:v1" >/dev/null
HOSTILE="bad-dotdot bad-dotdot-deep bad-symlink-abs-write bad-symlink-write bad-abs hostile-zstd-bomb"
for p in $HOSTILE; do
  mkmodel preset "$p" --sentinel "$SENT" --out "$T/l-$p" --ref v1 >/dev/null
  ocipush "oci:$T/l-$p:v1" "$R/org/$p:v1" >/dev/null
done

crio_start "$T/crio"
crio_pod p1
# What a failed import must not leave: staging entries, model refs. (Layers of the model that
# unpacked before the bad one stay as layer refs, for the next import; prune reclaims them.)
staging() { find "$ROOT/tmp" "$ROOT/repo/tmp" -mindepth 1 -maxdepth 1 2>/dev/null | sort; ostree --repo="$ROOT/repo" refs | grep -v '^modelvol/layer/' | sort; }
layer_refs() { ostree --repo="$ROOT/repo" refs | grep '^modelvol/layer/' | sort; }

# A good model first: it must come through every failure below intact.
cri pull "$R/org/good:v1" >/dev/null
crio_image_mount_config "$T/good.json" good 'cd /model && find . -type f | sort | xargs sha256sum' "$R/org/good:v1" /model
crio_run "$CRIO_POD" "$T/good.json"
assert_eq "$LAST_RC" 0 "a good model mounts"
crio_wait_exit "$LAST_CTR"
GOOD_OUT=$LAST_STDOUT
check "with the right bytes" -- bash -c 'diff <(cd "$1" && find . -type f | sort | xargs sha256sum) <(echo "$2")' _ "$T/exp" "$GOOD_OUT"
crio_rm "$LAST_CTR"
mvol fsck >/dev/null
mvol pull --tls-verify=false "$R/org/good:v1" >/dev/null   # named: prune keeps it
GOOD_LAYERS=$(layer_refs)

# refused NAME REF ERE: the container for REF is refused with our line, and nothing is left.
refused() {
  local name=$1 ref=$2 pat=$3 ctr_before mounts_before store_before log_from staging_before
  cri pull "$ref" >/dev/null
  ctr_before=$(cri ps -a -q | sort)
  mounts_before=$(host_mounts | grep -v "^$T/crio/")
  store_before=$(mvol ls --json | jq -c '[.models[].digest] | sort')
  log_from=$(wc -l <"$CRIO_LOG")
  staging_before=$(staging)
  crio_image_mount_config "$T/$name.json" "$name" 'echo STARTED' "$ref" /model
  crio_run "$CRIO_POD" "$T/$name.json"
  check "$name: crictl create fails" -- test "$LAST_RC" != 0
  check "$name: the CRI error carries modelvol-hook's line" -- grep -Eq "modelvol-hook: .*$pat" <<<"$LAST_STDERR"
  local lines
  lines=$(tail -n +"$((log_from + 1))" "$CRIO_LOG" | grep -o 'modelvol-hook: [^"\\]*' | sort -u || true)
  check "$name: CRI-O's log has exactly one modelvol-hook line ($(head -c 160 <<<"$lines"))" -- \
    bash -c '[ "$(grep -c . <<<"$1")" = 1 ] && grep -Eq "$2" <<<"$1"' _ "$lines" "$pat"
  assert_eq "$(cri ps -a -q | sort)" "$ctr_before" "$name: no container is left"
  assert_eq "$(host_mounts | grep -v "^$T/crio/")" "$mounts_before" "$name: the host's mount table is unchanged"
  assert_eq "$(mvol ls --json | jq -c '[.models[].digest] | sort')" "$store_before" "$name: nothing new in the store"
  assert_eq "$(staging)" "$staging_before" "$name: no staging entry and no model ref left in the store"
}

# Damaged: CRI-O's stored blob no longer matches its digest (a bad disk, a tampered store).
cri pull "$R/org/damaged:v1" >/dev/null
DDIG=$(jq -r --arg r "$R/org/damaged:v1" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $r) | .digest' "$CRIO_GRAPHROOT/artifacts/index.json")
LAYER=$(jq -r '.layers[0].digest' "$CRIO_GRAPHROOT/artifacts/blobs/sha256/${DDIG#sha256:}")
blob=$CRIO_GRAPHROOT/artifacts/blobs/sha256/${LAYER#sha256:}
printf 'X' | dd of="$blob" bs=1 seek=100 conv=notrunc status=none
refused damaged "$R/org/damaged:v1" "${LAYER:7:12}|digest|sha256"

declare -A WHY=(
  [bad-dotdot]="tar member '\\.\\./x': path '\\.\\./x' escapes the model root"
  [bad-dotdot-deep]="tar member '(\\.\\./)+.*escapes the model root"
  [bad-symlink-abs-write]="tar member 'escape-sentinel': symlink target '.*' is absolute"
  [bad-symlink-write]="tar member 'dirlink/through-link': 'dirlink' is a file or symlink, not a directory"
  [bad-abs]="tar member '/.*' is absolute"
  [hostile-zstd-bomb]="tar member 'bomb.bin': layer unpacks to more than 67108864 bytes \\(limit max-layer-bytes\\)"
)
for p in $HOSTILE; do
  refused "$p" "$R/org/$p:v1" "image volume /model: oci:.*/artifacts@sha256:[0-9a-f]{64}: layer sha256:[0-9a-f]{12}: ${WHY[$p]}"
done
check "nothing was written outside the store (sentinel dir empty)" -- bash -c '[ -z "$(ls -A "$1")" ]' _ "$SENT"

# The good model is intact and mounts again, warm.
run_ok "fsck after the refusals" -- mvol fsck
run_ok "prune after the refusals" -- mvol prune
assert_eq "$(layer_refs)" "$GOOD_LAYERS" "prune reclaims the layers the refused models left, and only those"
crio_run "$CRIO_POD" "$T/good.json"
assert_eq "$LAST_RC" 0 "the good model still mounts"
crio_wait_exit "$LAST_CTR"
assert_eq "$LAST_STDOUT" "$GOOD_OUT" "with the same bytes"

finish
