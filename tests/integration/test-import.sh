#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# import from OCI layouts: every layer kind x format in both families, byte-exact trees with
# canonical modes, ls / inspect --json, naming rules, an index, an empty config, and a layout
# written by skopeo from a real registry.
. "$(dirname "$0")/../lib/common.sh"
. "$TESTS_LIB/registry.sh"

# --- every kind x format, both families ------------------------------------------------------
for fam in cncf cnai; do
  ref=localhost:5000/test/all-kinds-$fam:v1
  mkmodel preset all-kinds --family $fam --seed "import-$fam" --out "$T/lay-$fam" --ref "$ref" \
    --expect "$T/exp-$fam" --info "$T/info-$fam.json" >/dev/null
  want=$(jq -r .manifest "$T/info-$fam.json")

  run_ok "$fam: import all-kinds" -- mvol import "oci:$T/lay-$fam:$ref"
  assert_eq "$LAST_STDOUT" "$want" "$fam: import prints the manifest digest"

  run_ok "$fam: path" -- mvol path "$ref"
  co=$LAST_STDOUT
  assert_eq "$co" "$ROOT/checkouts/${want#sha256:}" "$fam: checkout is <root>/checkouts/<hex>"
  if [ -d "$co" ]; then
    assert_tree_eq "$co" "$T/exp-$fam" "$fam: checkout is byte-exact with the expected tree"
    assert_canonical_modes "$co" "$fam: only 0644/0755 files and 0755 dirs"
    assert_eq "$(stat -c %a "$co/bin/run.sh")" 755 "$fam: raw file with metadata mode 0755 is 0755"
    assert_eq "$(stat -c %a "$co/README.md")" 644 "$fam: raw file with metadata mode 0600 is 0644"
    assert_eq "$(stat -c %a "$co/config.json")" 644 "$fam: raw file without metadata is 0644"
    assert_eq "$(stat -c %a "$co/weight/tar/tool.sh")" 755 "$fam: tar member 0744 is 0755"
    assert_eq "$(stat -c %a "$co/weight/tar/notes.txt")" 644 "$fam: tar member 0600 is 0644"
    assert_eq "$(stat -c %a "$co/weight/tar")" 755 "$fam: tar dir 0700 is 0755"
    assert_eq "$(readlink "$co/code/tar-zstd/latest")" data.bin "$fam: relative symlink kept"
    check "$fam: the doc tar layer's filepath label placed nothing" -- test ! -e "$co/label-not-a-place"
    check "$fam: an executable raw script runs from the checkout" -- "$co/bin/run.sh"
  else
    tap_not_ok "$fam: checkout directory exists"
  fi
  run_ok "$fam: path again" -- mvol path "${want:7:12}"
  assert_eq "$LAST_STDOUT" "$co" "$fam: path by hex prefix gives the same shared checkout"

  # ls --json
  run_ok "$fam: ls --json" -- mvol --json ls
  m=$(printf '%s' "$LAST_STDOUT" | jq -c --arg d "$want" '.models[] | select(.digest == $d)')
  assert_eq "$(jq -c .names <<<"$m")" "[\"$ref\"]" "$fam: ls --json names the model $ref"
  assert_eq "$(jq -r .layers <<<"$m")" 20 "$fam: ls --json layers = 20"
  assert_eq "$(jq -r .artifactType <<<"$m")" "application/vnd.$fam.model.manifest.v1+json" \
    "$fam: ls --json artifactType"
  nfiles=$(find "$T/exp-$fam" -type f | wc -l)
  nnondir=$(find "$T/exp-$fam" ! -type d | wc -l)
  nbytes=$(find "$T/exp-$fam" -type f -printf '%s\n' | awk '{s+=$1} END {print s}')
  assert_match "$(jq -r .files <<<"$m")" "^($nfiles|$nnondir)\$" "$fam: ls --json files = files in the tree"
  assert_eq "$(jq -r .bytes <<<"$m")" "$nbytes" "$fam: ls --json bytes = logical bytes of the tree"

  # inspect --json
  run_ok "$fam: inspect --json" -- mvol --json inspect "$ref"
  ins=$LAST_STDOUT
  blob=$T/lay-$fam/blobs/sha256
  assert_eq "$(jq -r .digest <<<"$ins")" "$want" "$fam: inspect digest"
  assert_eq "$(jq -c .names <<<"$ins")" "[\"$ref\"]" "$fam: inspect names"
  assert_eq "$(jq -S -c .manifest <<<"$ins")" "$(jq -S -c . "$blob/${want#sha256:}")" \
    "$fam: inspect manifest is the raw manifest"
  assert_eq "$(jq -S -c .config <<<"$ins")" "$(jq -S -c . "$blob/$(jq -r '.config|ltrimstr("sha256:")' "$T/info-$fam.json")")" \
    "$fam: inspect config is the config blob"
  assert_eq "$(jq -c '[.layers[] | [.digest, .mediaType, .family, .kind, .format, .path, .size]]' <<<"$ins")" \
    "$(jq -c --arg f "$fam" '[.layers[] | [.digest, .mediaType, $f, .kind, .format, .path, .size]]' "$T/info-$fam.json")" \
    "$fam: inspect layers show digest, mediaType, family, kind, format, path, size"
  assert_eq "$(jq -c .warnings <<<"$ins")" "[]" "$fam: a valid config gives no warnings"
  run_ok "$fam: inspect by full digest" -- mvol --json inspect "$want"
  assert_eq "$(jq -r .digest <<<"$LAST_STDOUT")" "$want" "$fam: inspect by digest finds the model"
done

# ls table: one row per name, NAME DIGEST SIZE FILES header.
run_ok "ls table" -- mvol ls
assert_match "$(head -1 <<<"$LAST_STDOUT")" '^NAME +DIGEST +SIZE +FILES' "ls has the header"
assert_match "$LAST_STDOUT" "localhost:5000/test/all-kinds-cncf:v1 +(sha256:)?[0-9a-f]{12}" "ls shows the cncf model"
assert_match "$LAST_STDOUT" "localhost:5000/test/all-kinds-cnai:v1 +(sha256:)?[0-9a-f]{12}" "ls shows the cnai model"
assert_eq "$(MODELVOL_ROOT=$ROOT "$MODELVOL" --json ls | jq '.models|length')" 2 "MODELVOL_ROOT works as --root"

# Store layout.
assert_eq "$(stat -c %a "$ROOT")" 700 "store root is 0700"
check "store has repo/, checkouts/, tmp/" -- test -d "$ROOT/repo" -a -d "$ROOT/checkouts" -a -d "$ROOT/tmp"
assert_eq "$(ostree --repo="$ROOT/repo" config get core.mode 2>&1)" bare-user-only "repo is bare-user-only"
check "ostree fsck of the repo is clean" -- ostree --repo="$ROOT/repo" fsck -q
check "modelvol fsck is clean" -- mvol fsck

# --- empty config ({}): imported with a warning ------------------------------------------------
mkmodel preset all-kinds --seed empty-config --config empty --out "$T/lay-empty" \
  --ref localhost:5000/test/empty-config:v1 --expect "$T/exp-empty" --info "$T/info-empty.json" >/dev/null
run_ok "config {}: import" -- mvol import "oci:$T/lay-empty:localhost:5000/test/empty-config:v1"
assert_eq "$LAST_STDOUT" "$(jq -r .manifest "$T/info-empty.json")" "config {}: prints the digest"
ins=$(mvol --json inspect localhost:5000/test/empty-config:v1)
assert_eq "$(jq -c .config <<<"$ins")" "{}" "config {}: inspect shows {}"
assert_lt 0 "$(jq '.warnings|length' <<<"$ins")" "config {}: inspect has warnings"
assert_tree_eq "$(mvol path localhost:5000/test/empty-config:v1)" "$T/exp-empty" "config {}: byte-exact tree"

# --- hostile metadata is canonicalized (SECURITY-BAR 16, 17) ------------------------------------
O=localhost:5000/test/odd-metadata:v1
mkmodel preset odd-metadata --out "$T/lay-odd" --ref "$O" --expect "$T/exp-odd" >/dev/null
run_ok "odd metadata: import" -- mvol import "oci:$T/lay-odd:$O"
run_ok "odd metadata: path" -- mvol path "$O"
co=$LAST_STDOUT
assert_tree_eq "$co" "$T/exp-odd" "odd metadata: byte-exact tree, setuid/setgid/sticky dropped, 0644/0755"
assert_canonical_modes "$co" "odd metadata: only 0644/0755 files and 0755 dirs"
assert_eq "$(find "$co" -mindepth 1 ! -type l -printf '%U:%G\n' | sort -u)" "0:0" "odd metadata: owner 0:0 everywhere"
assert_eq "$(python3 -c 'import os,sys
out=[]
for d,ds,fs in os.walk(sys.argv[1]):
    for n in ds+fs:
        p=os.path.join(d,n)
        try: x=os.listxattr(p, follow_symlinks=False)
        except OSError: x=[]
        out += [p+" "+a for a in x]
print("\n".join(out))' "$co")" "" "odd metadata: no xattrs applied"

# --- an index.json entry that is an OCI index ---------------------------------------------------
mkmodel preset all-kinds --family cnai --seed indexed --wrap-index --out "$T/lay-idx" \
  --ref localhost:5000/test/indexed:v1 --expect "$T/exp-idx" --info "$T/info-idx.json" >/dev/null
assert_eq "$(jq -r .topMediaType "$T/info-idx.json")" application/vnd.oci.image.index.v1+json "fixture: entry is an index"
run_ok "index: import follows the index" -- mvol import "oci:$T/lay-idx:localhost:5000/test/indexed:v1"
assert_eq "$LAST_STDOUT" "$(jq -r .manifest "$T/info-idx.json")" "index: prints the ModelPack manifest's digest"
assert_tree_eq "$(mvol path localhost:5000/test/indexed:v1)" "$T/exp-idx" "index: byte-exact tree"

# --- naming rules ---------------------------------------------------------------------------------
L=$T/lay-names
mkmodel preset shared --variant a --seed names-1 --out "$L" --ref v1 --info "$T/n1.json" >/dev/null
d1=$(jq -r .manifest "$T/n1.json")
run_ok "names: import a tag-only ref.name" -- mvol import "oci:$L:v1"
assert_eq "$(mvol --json inspect "$d1" | jq -c .names)" "[]" "names: ref.name 'v1' leaves the model unnamed"
assert_match "$(mvol ls)" "<none> +(sha256:)?${d1:7:12}" "names: ls shows <none> for an unnamed model"
run_ok "names: import --name" -- mvol import "oci:$L:v1" --name localhost:5000/named/model:v2
assert_eq "$(mvol --json inspect "$d1" | jq -c .names)" '["localhost:5000/named/model:v2"]' "names: --name names it"
mkmodel preset shared --variant b --seed names-2 --out "$L" --ref org/short:v1 --info "$T/n2.json" >/dev/null
d2=$(jq -r .manifest "$T/n2.json")
run_ok "names: import a host-less ref.name" -- mvol import "oci:$L:org/short:v1"
assert_eq "$(mvol --json inspect "$d2" | jq -c .names)" '["docker.io/org/short:v1"]' "names: org/short:v1 becomes docker.io/org/short:v1"
check "names: inspect by the short form of the name" -- mvol inspect org/short:v1
expect_fail 1 'index\.json|entr|NAME|name|which' "names: two entries and no NAME" -- mvol import "oci:$L"
expect_fail 1 'no-such-tag' "names: a NAME not in index.json" -- mvol import "oci:$L:no-such-tag"
run_ok "names: import by @digest" -- mvol import "oci:$L@$d2"
assert_eq "$LAST_STDOUT" "$d2" "names: import by @digest prints it"
L1=$T/lay-single
mkmodel preset shared --variant a --seed names-3 --out "$L1" --ref localhost:5000/single/entry:v1 --info "$T/n3.json" >/dev/null
run_ok "names: single entry without NAME" -- mvol import "oci:$L1"
assert_eq "$LAST_STDOUT" "$(jq -r .manifest "$T/n3.json")" "names: the only entry is imported"
assert_eq "$(mvol --json inspect "$LAST_STDOUT" | jq -c .names)" '["localhost:5000/single/entry:v1"]' \
  "names: the only entry's full ref.name names the model"
expect_exit 2 "import without a source is a usage error" -- mvol import
expect_fail 1 'nonexistent' "import from a missing directory" -- mvol import "oci:$T/nonexistent:v1"
expect_fail 1 'no-such-model|not found|unknown|No such' "path of an unknown model" -- mvol path localhost:5000/no-such-model:v1

# --- a layout written by skopeo from a real registry --------------------------------------------
new_root
registry_start "$T/registry"
run_ok "registry: ocipush the cncf model" -- ocipush "oci:$T/lay-cncf:localhost:5000/test/all-kinds-cncf:v1" "$REGISTRY/org/model:v1"
run_ok "registry: ocipush the index-wrapped cnai model" -- ocipush "oci:$T/lay-idx:localhost:5000/test/indexed:v1" "$REGISTRY/org/indexed:v1"
run_ok "skopeo copy the model to oci:" -- skopeo copy -q --src-tls-verify=false "docker://$REGISTRY/org/model:v1" "oci:$T/sk:v1"
run_ok "skopeo copy --all the index to oci:" -- skopeo copy -q --all --src-tls-verify=false "docker://$REGISTRY/org/indexed:v1" "oci:$T/sk:indexed"
REG=$REGISTRY
registry_stop
want=$(jq -r .manifest "$T/info-cncf.json")
run_ok "skopeo layout: import" -- mvol import "oci:$T/sk:v1" --name "$REG/org/model:v1"
assert_eq "$LAST_STDOUT" "$want" "skopeo layout: same manifest digest as the source layout"
assert_tree_eq "$(mvol path "$REG/org/model:v1")" "$T/exp-cncf" "skopeo layout: byte-exact tree"
run_ok "skopeo layout: import the index entry" -- mvol import "oci:$T/sk:indexed" --name "$REG/org/indexed:v1"
assert_eq "$LAST_STDOUT" "$(jq -r .manifest "$T/info-idx.json")" "skopeo layout: index followed to the manifest"
assert_tree_eq "$(mvol path "$REG/org/indexed:v1")" "$T/exp-idx" "skopeo layout: index entry byte-exact tree"
check "skopeo layout: fsck clean" -- mvol fsck

finish
