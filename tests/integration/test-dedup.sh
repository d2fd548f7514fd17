#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Deduplication: two models sharing most files store them once (same inode in both checkouts,
# also when one ships a file raw and the other inside a tar); identical files inside one model
# share an inode; df --json shows stored < logical; a re-import reads no layer, and a model
# sharing layers with a stored one does not read the shared layers.
. "$(dirname "$0")/../lib/common.sh"

L=$T/layout
A=localhost:5000/test/shared-a:v1
B=localhost:5000/test/shared-b:v1
mkmodel preset shared --variant a --seed dedup --out "$L" --ref "$A" --expect "$T/exp-a" --info "$T/a.json" >/dev/null
mkmodel preset shared --variant b --seed dedup --out "$T/layout-b" --ref "$B" --expect "$T/exp-b" --info "$T/b.json" >/dev/null
da=$(jq -r .manifest "$T/a.json")
db=$(jq -r .manifest "$T/b.json")

# Layers b shares with a (same blob digest): make b's copies unreadable garbage of the same size.
# Importing b after a must reuse a's layer commits and never read them.
shared_layers=$(jq -r '.layers[].digest' "$T/a.json" | sort | comm -12 - <(jq -r '.layers[].digest' "$T/b.json" | sort))
assert_eq "$(wc -l <<<"$shared_layers")" 3 "fixture: a and b share 3 layer blobs"
for d in $shared_layers; do
  f=$T/layout-b/blobs/sha256/${d#sha256:}
  python3 -c 'import sys,os; p=sys.argv[1]; n=os.path.getsize(p); open(p,"wb").write(b"\x5a"*n)' "$f"
done

run_ok "import a" -- mvol import "oci:$L:$A"
assert_eq "$LAST_STDOUT" "$da" "import a prints its digest"
run_ok "import b (its shared layers are garbage on disk: they must not be read)" -- mvol import "oci:$T/layout-b:$B"
assert_eq "$LAST_STDOUT" "$db" "import b prints its digest"

run_ok "path a" -- mvol path "$A"
ca=$LAST_STDOUT
run_ok "path b" -- mvol path "$B"
cb=$LAST_STDOUT
assert_tree_eq "$ca" "$T/exp-a" "a: byte-exact tree"
assert_tree_eq "$cb" "$T/exp-b" "b: byte-exact tree"

# Identical files, one inode.
for f in model-1.safetensors weights/model-2.safetensors weights/model-3.safetensors config.json \
  tokenizer.json tokenizer_config.json run.py; do
  ia=$(stat -c %i "$ca/$f" 2>/dev/null || echo missing-a)
  ib=$(stat -c %i "$cb/$f" 2>/dev/null || echo missing-b)
  assert_eq "$ia" "$ib" "same inode for $f in both checkouts"
done
check "model-1 (raw in b, in a tar in a) is one object" -- test "$(stat -c %i "$ca/model-1.safetensors")" = "$(stat -c %i "$cb/model-1.safetensors")"
ia=$(stat -c %i "$ca/model-4.safetensors")
ib=$(stat -c %i "$cb/model-4.safetensors")
check "model-4 differs: different inodes" -- test "$ia" != "$ib"

# df: stored < logical; logical = both trees; stored >= the distinct bytes.
logical=$(find "$T/exp-a" "$T/exp-b" -type f -printf '%s\n' | awk '{s+=$1} END {print s}')
distinct=$(find "$T/exp-a" "$T/exp-b" -type f -exec md5sum {} + | sort -u -k1,1 | awk '{print $2}' |
  xargs stat -c %s | awk '{s+=$1} END {print s}')
run_ok "df --json" -- mvol --json df
df=$LAST_STDOUT
assert_eq "$(jq -r .models <<<"$df")" 2 "df: models = 2"
assert_eq "$(jq -r .layers <<<"$df")" 10 "df: layers = 10 (6 + 7 - 3 shared)"
assert_eq "$(jq -r .logicalBytes <<<"$df")" "$logical" "df: logicalBytes = the bytes of both trees"
stored=$(jq -r .storedBytes <<<"$df")
assert_lt "$stored" "$(jq -r .logicalBytes <<<"$df")" "df: storedBytes < logicalBytes"
check "df: storedBytes ($stored) >= distinct file bytes ($distinct)" -- test "$stored" -ge "$distinct"
check "df: storedBytes ($stored) < distinct file bytes + 64 KiB" -- test "$stored" -lt $((distinct + 65536))
check "df: human output says logical and stored" -- bash -c '"$0" --root "$1" df | grep -Eiq "logical" && "$0" --root "$1" df | grep -Eiq "stored"' "$MODELVOL" "$ROOT"

# Inside one model: byte-identical files are one object.
M=localhost:5000/test/many-files:v1
mkmodel preset many-files --files 600 --seed dedup --out "$T/many" --ref "$M" --expect "$T/exp-many" >/dev/null
run_ok "import many-files" -- mvol import "oci:$T/many:$M"
run_ok "path many-files" -- mvol path "$M"
cm=$LAST_STDOUT
assert_tree_eq "$cm" "$T/exp-many" "many-files: byte-exact tree"
n_ident=$(grep -rlx 'identical content' "$cm" | wc -l)
# (an object carries the mode: the 0755 ones are one object, the 0644 ones another)
n_inodes=$(grep -rlx 'identical content' "$cm" | xargs stat -c '%a %i' | sort -u | wc -l)
n_modes=$(grep -rlx 'identical content' "$cm" | xargs stat -c '%a' | sort -u | wc -l)
check "many-files: fixture has many identical files ($n_ident)" -- test "$n_ident" -gt 10
assert_eq "$n_inodes" "$n_modes" "many-files: the $n_ident identical files share one inode per mode"

# Re-import of a stored model: a no-op that reads no layer. Make every layer blob of a garbage
# (same size); the import must still succeed, print the digest and change nothing.
objs_before=$(find "$ROOT/repo/objects" -type f | wc -l)
refs_before=$(ostree --repo="$ROOT/repo" refs | sort)
tree_before=$(tree_listing "$ca")
for d in $(jq -r '.layers[].digest' "$T/a.json"); do
  f=$L/blobs/sha256/${d#sha256:}
  python3 -c 'import sys,os; p=sys.argv[1]; n=os.path.getsize(p); open(p,"wb").write(b"\xa5"*n)' "$f"
done
run_ok "re-import a with garbage layer blobs (no layer is read)" -- mvol import "oci:$L:$A"
assert_eq "$LAST_STDOUT" "$da" "re-import prints the same digest"
assert_eq "$(find "$ROOT/repo/objects" -type f | wc -l)" "$objs_before" "re-import wrote no object"
assert_eq "$(ostree --repo="$ROOT/repo" refs | sort)" "$refs_before" "re-import changed no ref"
assert_eq "$(model_count)" 3 "still 3 models"
assert_eq "$(tree_listing "$ca")" "$tree_before" "checkout of a unchanged"
run_ok "re-import a under a second name" -- mvol import "oci:$L:$A" --name localhost:5000/test/alias:v1
assert_eq "$(mvol --json inspect "$da" | jq -c '.names|sort')" \
  "[\"localhost:5000/test/alias:v1\",\"$A\"]" "the second name is added, the first kept"
check "fsck clean" -- mvol fsck

finish
