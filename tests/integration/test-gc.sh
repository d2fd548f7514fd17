#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# rm, prune, prune --dry-run and fsck: prune removes unnamed models (and their layers, objects
# and checkouts) but never a named one; --dry-run removes nothing; rm of a name drops the name,
# rm of a digest the model; fsck finds a flipped bit in an object and names the model.
. "$(dirname "$0")/../lib/common.sh"

L=$T/layout
A=localhost:5000/test/a:v1
A2=localhost:5000/test/a-alias:v2
B=localhost:5000/test/b:v1
mkmodel preset shared --variant a --seed gc --out "$L" --ref "$A" --expect "$T/exp-a" --info "$T/a.json" >/dev/null
mkmodel preset shared --variant b --seed gc --out "$L" --ref "$B" --expect "$T/exp-b" --info "$T/b.json" >/dev/null
mkmodel preset many-files --files 300 --seed gc --out "$L" --ref c-tag-only --expect "$T/exp-c" --info "$T/c.json" >/dev/null
da=$(jq -r .manifest "$T/a.json")
db=$(jq -r .manifest "$T/b.json")
dc=$(jq -r .manifest "$T/c.json")

objects() { find "$ROOT/repo/objects" -type f -name '*.file' | wc -l; }
state() { mvol --json ls | jq -S -c .; ostree --repo="$ROOT/repo" refs | sort; find "$ROOT/repo/objects" "$ROOT/checkouts" | sort; }
has_layer_ref() { ostree --repo="$ROOT/repo" refs | grep -q "${1#sha256:}"; }

run_ok "import a" -- mvol import "oci:$L:$A"
run_ok "import a under a second name" -- mvol import "oci:$L:$A" --name "$A2"
run_ok "import b" -- mvol import "oci:$L:$B"
run_ok "import c (unnamed)" -- mvol import "oci:$L:c-tag-only"
assert_eq "$(mvol --json inspect "$dc" | jq -c .names)" "[]" "c is unnamed"
run_ok "path a" -- mvol path "$A"
ca=$LAST_STDOUT
run_ok "path b" -- mvol path "$B"
cb=$LAST_STDOUT
run_ok "path c" -- mvol path "$dc"
cc=$LAST_STDOUT
check "c's checkout exists" -- test -d "$cc"
# An orphan checkout (no such model): prune must remove it.
orphan=$ROOT/checkouts/$(printf 'f%.0s' $(seq 64))
mkdir -p "$orphan/sub" && echo x >"$orphan/sub/file"

# --- prune --dry-run removes nothing ----------------------------------------------------------
before=$(state)
run_ok "prune --dry-run" -- mvol prune --dry-run
assert_eq "$(state)" "$before" "prune --dry-run changed nothing (models, refs, objects, checkouts)"
check "prune --dry-run left the orphan checkout" -- test -d "$orphan"

# --- prune: the unnamed model goes, the named ones stay -----------------------------------------
objs_before=$(objects)
c_only_layers=$(jq -r '.layers[].digest' "$T/c.json")
run_ok "prune" -- mvol prune
assert_eq "$(mvol --json ls | jq -c '[.models[].digest] | sort')" "$(jq -nc --arg a "$da" --arg b "$db" '[$a,$b]|sort')" \
  "prune removed the unnamed model c and kept a and b"
expect_fail 1 "${dc:7:12}|not found|[Nn]o such|unknown" "inspect of the pruned model" -- mvol inspect "$dc"
check "prune removed c's checkout" -- test ! -e "$cc"
check "prune removed the orphan checkout" -- test ! -e "$orphan"
for d in $c_only_layers; do
  check "prune removed c's layer ref ${d:7:12}" -- bash -c '! ostree --repo="$1/repo" refs | grep -q "$2"' _ "$ROOT" "${d#sha256:}"
done
assert_lt "$(objects)" "$objs_before" "prune removed c's objects"
assert_tree_eq "$ca" "$T/exp-a" "a byte-exact after prune"
assert_tree_eq "$cb" "$T/exp-b" "b byte-exact after prune"
check "fsck clean after prune" -- mvol fsck
check "ostree fsck clean after prune" -- ostree --repo="$ROOT/repo" fsck -q

# --- rm of a name, rm of a digest ------------------------------------------------------------------
run_ok "rm one of a's names" -- mvol rm "$A"
assert_eq "$(mvol --json inspect "$da" | jq -c .names)" "[\"$A2\"]" "a keeps its other name"
run_ok "prune with a still named" -- mvol prune
check "a survives prune while it has a name" -- test -d "$ca"
assert_tree_eq "$(mvol path "$A2")" "$T/exp-a" "a byte-exact"
run_ok "rm a's last name" -- mvol rm "$A2"
assert_eq "$(mvol --json inspect "$da" | jq -c .names)" "[]" "a is unnamed now but still listed"
assert_match "$(mvol ls)" "<none> +(sha256:)?${da:7:12}" "ls shows a as <none>"
run_ok "prune --dry-run with a unnamed" -- mvol prune --dry-run
check "dry run kept a" -- mvol inspect "$da"
run_ok "prune removes a" -- mvol prune
expect_fail 1 "${da:7:12}|not found|[Nn]o such|unknown" "a is gone" -- mvol inspect "$da"
assert_tree_eq "$cb" "$T/exp-b" "b byte-exact after a is pruned (shared objects kept)"
check "fsck clean" -- mvol fsck

run_ok "rm b by digest" -- mvol rm "$db"
assert_eq "$(model_count)" 0 "rm of a digest removed the model at once"
expect_fail 1 "$(re_escape "$B")|not found|[Nn]o such|unknown" "b's name is gone too" -- mvol inspect "$B"
expect_fail 1 'localhost:5000/test/nothing:v1' "rm of an unknown name" -- mvol rm localhost:5000/test/nothing:v1
run_ok "prune an empty store" -- mvol prune
assert_eq "$(objects)" 0 "no file objects left"
assert_eq "$(find "$ROOT/checkouts" -mindepth 1 | wc -l)" 0 "no checkouts left"
df=$(mvol --json df)
assert_eq "$(jq -c '[.models, .layers, .logicalBytes, .storedBytes]' <<<"$df")" "[0,0,0,0]" "df of an empty store"

# --- fsck finds a flipped bit and names the model ---------------------------------------------------
D=localhost:5000/test/d:v1
E=localhost:5000/test/e:v1
mkmodel preset all-kinds --seed gc-d --out "$T/de" --ref "$D" --expect "$T/exp-d" --info "$T/d.json" >/dev/null
mkmodel preset all-kinds --seed gc-e --out "$T/de" --ref "$E" --expect "$T/exp-e" --info "$T/e.json" >/dev/null
dd_=$(jq -r .manifest "$T/d.json")
de=$(jq -r .manifest "$T/e.json")
run_ok "import d" -- mvol import "oci:$T/de:$D"
run_ok "import e" -- mvol import "oci:$T/de:$E"
run_ok "path d" -- mvol path "$D"
cd_=$LAST_STDOUT
check "fsck clean before the flip" -- mvol fsck
victim=weight/tar-gzip/data.bin    # 64 KiB of PRNG bytes, unique to d
csum=$(ostree --repo="$ROOT/repo" ls -C "modelvol/model/sha256/${dd_#sha256:}" "/$victim" 2>/dev/null | awk '{print $5}')
obj=
if [ -n "$csum" ]; then
  obj=$ROOT/repo/objects/${csum:0:2}/${csum:2}.file
else
  # Fall back to the checkout's inode: checkouts are hardlinks into the repo.
  obj=$(find "$ROOT/repo/objects" -inum "$(stat -c %i "$cd_/$victim")" -print -quit)
fi
check "found the object of d's $victim ($obj)" -- test -f "$obj"
if [ -f "$obj" ]; then
  python3 - "$obj" <<'PY'
import os, sys
p = sys.argv[1]
os.chmod(p, os.stat(p).st_mode | 0o200)
with open(p, "r+b") as f:
    f.seek(30000)
    b = f.read(1)
    f.seek(30000)
    f.write(bytes([b[0] ^ 0x10]))
PY
fi
rc=0
mvol fsck >"$T/fsck.out" 2>"$T/fsck.err" || rc=$?
assert_eq "$rc" 1 "fsck exits 1 on a flipped bit"
check "fsck names d (name and digest) on one line" -- grep -Eq "$(re_escape "$D").*${dd_:7:12}|${dd_:7:12}.*$(re_escape "$D")" "$T/fsck.err"
check "fsck does not blame e" -- bash -c '! grep -Eq "$1|$2" "$3"' _ "$(re_escape "$E")" "${de:7:12}" "$T/fsck.err"
n_model_lines=$(grep -c "${dd_:7:12}" "$T/fsck.err" || true)
check "fsck: one line per problem (1 corrupted object -> 1 line naming d, got $n_model_lines)" -- test "$n_model_lines" -eq 1
diag "fsck stderr:" "$(cat "$T/fsck.err")"
assert_tree_eq "$(mvol path "$E")" "$T/exp-e" "e unaffected"

# Repair: remove d, prune the bad object away, import again.
run_ok "rm d by digest" -- mvol rm "$dd_"
run_ok "prune after rm of the corrupted model" -- mvol prune
check "the corrupted object is gone" -- test ! -e "$obj"
run_ok "re-import d" -- mvol import "oci:$T/de:$D"
assert_tree_eq "$(mvol path "$D")" "$T/exp-d" "re-imported d is byte-exact"
check "fsck clean after the repair" -- mvol fsck

finish
