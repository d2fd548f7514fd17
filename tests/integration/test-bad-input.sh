#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Bad inputs (SECURITY-BAR items 2, 3, 12-15, 19, 23, 24): each import fails with exit 1 and ONE
# stderr line naming the thing at fault; afterwards no new model, no layer ref for the bad
# layer, no staging left, fsck clean, a good model intact byte-exact, and nothing written
# outside the store root (the work dir, with a sentinel dir the fixtures aim at, is unchanged).
. "$(dirname "$0")/../lib/common.sh"

W=$T/w
mkdir -p "$W/sentinel/sub" "$W/bad"
echo "do not touch" >"$W/sentinel/keep"
echo "do not touch" >"$W/sentinel/sub/keep"
new_root "$W/box/store/root"

# System paths a broken unpacker could reach: they must not appear.
sys_paths=(/etc/x /etc/modelvol-owned /x /tmp/x /owned /etc/through-link)
for p in "${sys_paths[@]}"; do
  if [ -e "$p" ]; then echo "# $p exists before the test; not checked"; fi
done
sys_before=$(for p in "${sys_paths[@]}"; do [ -e "$p" ] && echo "$p"; done || true)

# A good model first.
G=localhost:5000/test/good:v1
mkmodel preset all-kinds --seed bad-input-good --out "$W/good" --ref "$G" --expect "$T/exp-good" >/dev/null
run_ok "import the good model" -- mvol import "oci:$W/good:$G"
good=$LAST_STDOUT
run_ok "path of the good model" -- mvol path "$G"
good_co=$LAST_STDOUT
assert_tree_eq "$good_co" "$T/exp-good" "good model: byte-exact tree"
good_ls=$(mvol --json ls | jq -c .)

# Every bad layout is built before the first bad import, so the snapshot covers them too.
bad_presets=(
  bad-dotdot bad-dotdot-deep bad-abs bad-dotdot-mid bad-dotdot-only bad-pax-nul
  bad-whiteout bad-opaque-whiteout bad-dup-in-tar bad-file-then-dir bad-dir-then-symlink
  bad-symlink-abs bad-symlink-abs-write bad-symlink-rel bad-symlink-write
  bad-hardlink bad-chardev bad-fifo
  bad-digest bad-digest-raw bad-size-larger bad-size-smaller
  bad-gzip-truncated bad-zstd-truncated
  bad-raw-path bad-raw-abs bad-dup-path not-modelpack
)
for p in "${bad_presets[@]}"; do
  mkmodel preset "$p" --sentinel "$W/sentinel" --seed bad-input --out "$W/bad/$p" \
    --ref "localhost:5000/bad/$p:v1" --info "$W/bad/$p.info.json" >/dev/null
done

# Manifest-level faults made by hand: manifest / config bytes that do not hash to their digest,
# with the same size (one byte changed, still valid JSON) or another size (re-serialized).
same_size_edit() {
  python3 - "$1" <<'PY'
import json, sys
p = sys.argv[1]
d = open(p, "rb").read()
e = d.replace(b"\n ", b"\n\t", 1) if b"\n " in d else d.replace(b"modelvol", b"modelvoL", 1)
assert e != d and len(e) == len(d)
json.loads(e)
open(p, "wb").write(e)
PY
}
reserialize() { # same JSON, other bytes, other size
  python3 -c 'import json,sys; p=sys.argv[1]; o=json.load(open(p)); open(p,"w").write(json.dumps(o, indent=7))' "$1"
}
for kind in manifest config; do
  for how in digest size; do
    p=bad-$kind-$how
    mkmodel preset shared --seed "$p" --out "$W/bad/$p" --ref "localhost:5000/bad/$p:v1" \
      --info "$W/bad/$p.info.json" >/dev/null
    d=$(jq -r ".$kind" "$W/bad/$p.info.json")
    if [ $how = digest ]; then
      same_size_edit "$W/bad/$p/blobs/sha256/${d#sha256:}"
    else
      reserialize "$W/bad/$p/blobs/sha256/${d#sha256:}"
    fi
    bad_presets+=("$p")
  done
done

snap_before=$(snapshot "$W" "$ROOT")

for p in "${bad_presets[@]}"; do
  info=$W/bad/$p.info.json
  case $p in
    not-modelpack) pat='[Mm]odel[Pp]ack' ;;
    bad-manifest-*) m=$(jq -r .manifest "$info"); pat=${m:7:12} ;;
    bad-config-*) c=$(jq -r .config "$info"); pat=${c:7:12} ;;
    *)
      fault=$(jq -r .fault "$info")
      if [[ $fault == sha256:* ]]; then pat=${fault:7:12}; else pat=$(re_escape "$fault"); fi
      ;;
  esac
  n_before=$(model_count)
  expect_fail 1 "$pat" "$p" -- mvol import "oci:$W/bad/$p:localhost:5000/bad/$p:v1"
  echo "#   $p: $LAST_STDERR"
  assert_eq "$(model_count)" "$n_before" "$p: no new model"
  check "$p: its manifest is not in the store" -- bash -c '! "$0" --root "$1" --json ls | grep -q "$2"' \
    "$MODELVOL" "$ROOT" "$(jq -r .manifest "$info" | cut -c8-)"
  # No layer ref for a layer at fault (blob-level faults name the layer).
  fault=$(jq -r '.fault // ""' "$info")
  if [[ $fault == sha256:* ]]; then
    check "$p: no layer ref for the bad layer" -- bash -c '! ostree --repo="$1/repo" refs | grep -q "$2"' _ "$ROOT" "${fault#sha256:}"
  fi
  left=$(find "$ROOT/tmp" -mindepth 1 -maxdepth 1 2>/dev/null | head -5)
  assert_eq "$left" "" "$p: no staging left in <root>/tmp"
done

# Afterwards.
assert_eq "$(mvol --json ls | jq -c .)" "$good_ls" "ls unchanged after all bad imports"
run_ok "fsck clean after all bad imports" -- mvol fsck
run_ok "path of the good model after all bad imports" -- mvol path "$G"
assert_eq "$LAST_STDOUT" "$good_co" "same checkout path"
assert_tree_eq "$good_co" "$T/exp-good" "good model still byte-exact"
# a fresh checkout from the repo too (not just the cached one)
co2=$T/fresh-checkout
check "ostree checkout of the good model's commit" -- ostree --repo="$ROOT/repo" checkout -U -H "modelvol/model/sha256/${good#sha256:}" "$co2"
[ -d "$co2" ] && assert_tree_eq "$co2" "$T/exp-good" "good model's commit is byte-exact"
rm -rf "$co2"

snap_after=$(snapshot "$W" "$ROOT")
assert_snapshot_eq "$snap_before" "$snap_after" "nothing written outside the store root (work dir and sentinel unchanged)"
sys_after=$(for p in "${sys_paths[@]}"; do [ -e "$p" ] && echo "$p"; done || true)
assert_eq "$sys_after" "$sys_before" "no new files at ${sys_paths[*]}"
stray=$(find "$ROOT" -path "$ROOT/repo/objects" -prune -o \( -name '*owned*' -o -name x -o \
  -name through-link -o -name conflict.bin -o -name 'hardlink-member' -o -name 'chardev-member' \
  -o -name 'fifo-member' -o -name 'escape-*' -o -name dirlink \) -print | head)
assert_eq "$stray" "" "no bad member names anywhere in the store"
check "no device or fifo in the store" -- bash -c '[ -z "$(find "$1" \( -type c -o -type b -o -type p \) -print -quit)" ]' _ "$ROOT"

# A prune after failures keeps the good model and leaves fsck clean.
run_ok "prune" -- mvol prune
assert_tree_eq "$(mvol path "$G")" "$T/exp-good" "good model byte-exact after prune"
check "fsck clean after prune" -- mvol fsck

finish
