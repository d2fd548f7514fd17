#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Bar item 29, after ostree's test-corruption.sh: a flipped bit in a file object, a truncated
# file object, a chmod'ed object (through the checkout, as ostree does; and back) and an
# emptied commit object, each in model a only. For each: before any fsck, `modelvol mount`
# and the hook's light path (a CRI-O image volume, stat calls only) already refuse a; fsck
# exits 1, names a (name and digest) and marks it; then `modelvol mount`, the hook's light
# path and its library path (the modelvol.io/mounts annotation) refuse it with one line that
# says to pull or import it again; a pull (or an import) repairs it: fsck clean, the tree
# byte-exact, a new checkout (never the old one), mounts and the hook work again. Model b,
# which shares objects and whole layers with a, stays intact and mountable throughout. A
# container that runs across a repair keeps the tree it mounted; prune reclaims that old tree
# once the container is gone.
. "$(dirname "$0")/../lib/common.sh"
. "$TESTS_LIB/registry.sh"
HAVE_RUNC=0
if command -v runc >/dev/null && [ -x /bin/busybox ]; then
  . "$TESTS_LIB/container.sh"
  HAVE_RUNC=1
else
  echo "# runc or busybox-static missing: the hook's checks are skipped"
fi

registry_start "$T/reg" >/dev/null
R=$REGISTRY
GRAPH=$T/graph
ART=$GRAPH/artifacts # CRI-O's artifact store: an OCI layout
mkdir -p "$GRAPH" "$T/mnt"
cat >"$T/registries.conf" <<EOF
[[registry]]
location = "$R"
insecure = true
EOF
CONF=$T/modelvol.conf
cat >"$CONF" <<EOF
[store]
root=$ROOT
[crio]
graphroot=$GRAPH
[hook]
annotation-pulls=off
[registries]
conf=$T/registries.conf
EOF

# a and b share the object weights/shared.safetensors (in a tar+gzip layer in a, tar+zstd in
# b) and two whole layers (config.json, tokenizer/); every victim below is a's alone.
cat >"$T/a.json" <<'EOF'
{"family": "cncf", "layers": [
 {"kind": "weight", "format": "raw", "path": "weights/a-only.safetensors", "content": {"random": 300000, "seed": "corr-a1"}},
 {"kind": "weight", "format": "tar+gzip", "path": "weights-a.tar.gz", "entries": [
   {"name": "weights/shared.safetensors", "content": {"random": 200000, "seed": "corr-shared"}},
   {"name": "weights/a-tar.safetensors", "content": {"random": 150000, "seed": "corr-a2"}}]},
 {"kind": "weight.config", "format": "raw", "path": "config.json", "content": "{\"model_type\": \"test\"}\n"},
 {"kind": "weight.config", "format": "tar", "path": "tokenizer", "entries": [
   {"name": "tokenizer/vocab.txt", "content": "a b c\n"}]},
 {"kind": "doc", "format": "raw", "path": "README.md", "content": "# model a\n"}
]}
EOF
cat >"$T/b.json" <<'EOF'
{"family": "cncf", "layers": [
 {"kind": "weight", "format": "raw", "path": "weights/b-only.safetensors", "content": {"random": 250000, "seed": "corr-b1"}},
 {"kind": "weight", "format": "tar+zstd", "path": "weights-b.tar.zst", "entries": [
   {"name": "weights/shared.safetensors", "content": {"random": 200000, "seed": "corr-shared"}}]},
 {"kind": "weight.config", "format": "raw", "path": "config.json", "content": "{\"model_type\": \"test\"}\n"},
 {"kind": "weight.config", "format": "tar", "path": "tokenizer", "entries": [
   {"name": "tokenizer/vocab.txt", "content": "a b c\n"}]},
 {"kind": "doc", "format": "raw", "path": "README.md", "content": "# model b\n"}
]}
EOF
mkmodel build --spec "$T/a.json" --out "$ART" --ref a --expect "$T/exp-a" >/dev/null
mkmodel build --spec "$T/b.json" --out "$T/lb" --ref b --expect "$T/exp-b" >/dev/null
A=$R/test/a:v1
B=$R/test/b:v1
run_ok "push a" -- ocipush "oci:$ART:a" "$A"
run_ok "push b" -- ocipush "oci:$T/lb:b" "$B"
run_ok "pull a" -- mvol pull --tls-verify=false "$A"
DA=$LAST_STDOUT
HA=${DA#sha256:}
run_ok "pull b" -- mvol pull --tls-verify=false "$B"
DB=$LAST_STDOUT
assert_eq "$DA" "$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "a") | .digest' "$ART/index.json")" \
  "the pulled a is the model in CRI-O's artifact store"
run_ok "check a out" -- mvol path "$A"
CA=$LAST_STDOUT
run_ok "check b out" -- mvol path "$B"
CB=$LAST_STDOUT
check "fsck clean to begin with" -- mvol fsck
MARKER=$ROOT/damaged/model-sha256-$HA
AE=$(re_escape "$A")
FIXIT='; pull or import it again to repair it$'

# --- helpers ----------------------------------------------------------------------------------

# obj_of PATH: the repo object behind a's PATH (checkouts are hardlinks to the objects)
obj_of() { find "$ROOT/repo/objects" -inum "$(stat -c %i "$CA/$1")" -name '*.file' -print -quit; }

flip_bit() { # FILE OFFSET
  python3 - "$1" "$2" <<'PY'
import sys
p, off = sys.argv[1], int(sys.argv[2])
with open(p, "r+b") as f:
    f.seek(off)
    b = f.read(1)
    f.seek(off)
    f.write(bytes([b[0] ^ 0x10]))
PY
}

mount_refuses() { # CASE MODEL PATTERN
  expect_fail 1 "^modelvol: $3$FIXIT" "[$1] modelvol mount $2 refuses" -- mvol mount "$2" "$T/mnt"
  check "[$1] nothing was mounted" -- bash -c '! mountpoint -q "$1"' _ "$T/mnt"
  expect_fail 1 "^modelvol: $3$FIXIT" "[$1] modelvol path $2 refuses" -- mvol path "$2"
}

mount_works() { # CASE MODEL EXPECTED
  run_ok "[$1] modelvol mount $2" -- mvol mount "$2" "$T/mnt"
  assert_tree_eq "$T/mnt" "$3" "[$1] the mount of $2 is byte-exact"
  run_ok "[$1] umount" -- mvol umount "$T/mnt"
}

# bundle_for DIR KIND SCRIPT: a container that gets a at /model through an image volume (the
# hook's light path: a is stored and checked out) or the annotation (its library path).
bundle_for() {
  make_bundle "$1" "$3"
  if [ "$2" = light ]; then
    crio_image_volume "$1" "$ART" "$DA" /model
  else
    bundle_jq "$1" '.annotations["modelvol.io/mounts"] = $a' --arg a "[{\"ref\": \"$A\", \"path\": \"/model\"}]"
  fi
  bundle_add_hook "$1" "$CONF"
}

hook_refuses() { # CASE KIND PATTERN
  local id=mv-corr-$((TESTS_RUN + 1)) n
  [ $HAVE_RUNC = 1 ] || return 0
  rm -rf "$T/bad"
  bundle_for "$T/bad" "$2" 'echo STARTED'
  ctr_run "$T/bad" "$id"
  n=$(grep -o 'modelvol-hook: ' <<<"$LAST_STDERR" | wc -l) || true
  if [ "$LAST_RC" -ne 0 ] && ! grep -q STARTED <<<"$LAST_STDOUT" && [ "$n" -eq 1 ] \
    && grep -Eq "stderr: modelvol-hook: $3.*; pull or import it again to repair it" <<<"$LAST_STDERR"; then
    tap_ok "[$1] the hook ($2) fails the container with one line /$3/"
  else
    tap_not_ok "[$1] the hook ($2) fails the container with one line /$3/"
    diag "exit $LAST_RC" "stdout: $LAST_STDOUT" "stderr: $LAST_STDERR"
  fi
  check "[$1] no use record is left" -- bash -c '! ls "$1"/run/uses/*/"$2" 2>/dev/null' _ "$ROOT" "$id"
}

# What a container sees at /model: every file with its hash.
LIST='cd /model && find . -type f | sort | while read -r f; do sha256sum "$f"; done'
listing() { (cd "$1" && find . -type f | sort | while read -r f; do sha256sum "$f"; done); }
listing "$T/exp-a" >"$T/want-a"

hook_works() { # CASE
  [ $HAVE_RUNC = 1 ] || return 0
  rm -rf "$T/good"
  bundle_for "$T/good" light "$LIST"
  ctr_run "$T/good" "mv-corr-ok-$((TESTS_RUN + 1))"
  assert_eq "$LAST_RC" 0 "[$1] the hook mounts a again"
  check "[$1] the container sees a byte-exact" -- diff -u "$T/want-a" <(echo "$LAST_STDOUT")
}

fsck_names_a() { # CASE: fsck exits 1, one line per problem naming a, none naming b
  local rc=0
  mvol fsck >"$T/fsck.out" 2>"$T/fsck.err" || rc=$?
  assert_eq "$rc" 1 "[$1] fsck exits 1"
  check "[$1] fsck names a (name and digest) on one line" -- grep -Eq "^modelvol: model $AE \($DA\): " "$T/fsck.err"
  check "[$1] fsck does not blame b" -- bash -c '! grep -Eq "$1|$2" "$3"' _ "$(re_escape "$B")" "${DB:7:12}" "$T/fsck.err"
  check "[$1] fsck marks a damaged" -- test -s "$MARKER"
  check "[$1] and not b" -- test ! -e "$ROOT/damaged/model-sha256-${DB#sha256:}"
}

b_intact() { # CASE
  assert_tree_eq "$CB" "$T/exp-b" "[$1] b's checkout is byte-exact"
  mount_works "$1" "$B" "$T/exp-b"
}

repaired() { # CASE VICTIM (a path in a, or "")
  local ino_before=${3:-}
  check "[$1] fsck clean after the repair" -- mvol fsck
  check "[$1] the marker is gone" -- test ! -e "$MARKER"
  check "[$1] no marker at all" -- bash -c '! ls "$1"/damaged/* 2>/dev/null' _ "$ROOT"
  assert_tree_eq "$(mvol path "$A")" "$T/exp-a" "[$1] a's tree is byte-exact"
  if [ -n "$2" ]; then
    check "[$1] the checkout's $2 is the store's object" -- test "$(stat -c %i "$CA/$2")" = "$(stat -c %i "$(obj_of "$2")")"
    [ -z "$ino_before" ] || check "[$1] a new checkout, not the damaged one ($ino_before)" -- test "$(stat -c %i "$CA/$2")" != "$ino_before"
  fi
  check "[$1] ostree fsck clean" -- ostree --repo="$ROOT/repo" fsck -q
  mount_works "$1" "$A" "$T/exp-a"
  hook_works "$1"
  b_intact "$1"
}

# --- a flipped bit (in a raw layer's object), repaired by a pull -----------------------------
c=bitflip
V=weights/a-only.safetensors
obj=$(obj_of $V)
check "[$c] found the object of $V" -- test -f "$obj"
if [ $HAVE_RUNC = 1 ]; then
  # A container that mounted a before the damage and runs across the repair.
  bundle_for "$T/run" annotation 'sleep 600'
  # Not in a subshell: ctr_start registers the container for cleanup.
  if ctr_start "$T/run" mv-corr-running; then
    tap_ok "[$c] start a long-running container using a"
  else
    tap_not_ok "[$c] start a long-running container using a"
    diag "$(cat "$T/.ctr-stderr-mv-corr-running")"
  fi
fi
ino=$(stat -c %i "$CA/$V")
flip_bit "$obj" 100000
mount_refuses $c "$A" "model $AE \($DA\) is damaged \(file '$V' was written to after it was stored\)"
hook_refuses $c light "image volume /model: model $DA is damaged \(file '$V' was written to"
fsck_names_a $c
check "[$c] one line for one flipped bit" -- test "$(grep -c "${DA:7:12}" "$T/fsck.err")" -eq 1
run_ok "[$c] cdi generate" -- mvol cdi generate -o "$T/cdi"
check "[$c] the CDI spec has a device for b and none for damaged a" -- \
  jq -e --arg a "$A" --arg b "$B" '[.devices[].name] | (map(select(. == ($b | gsub("[^A-Za-z0-9_.-]"; "_")))) | length == 1) and (map(select(. == ($a | gsub("[^A-Za-z0-9_.-]"; "_")))) | length == 0)' "$T/cdi/modelvol.io-model.json"
check "[$c] the line says what is wrong" -- grep -Eq "file '$V': object [0-9a-f]{64} has checksum [0-9a-f]{64}" "$T/fsck.err"
mount_refuses $c "$DA" "model $DA is damaged \(fsck: file '$V': object [0-9a-f]{64} has checksum [0-9a-f]{64}\)"
hook_refuses $c light "image volume /model: model $DA is damaged \(fsck: file '$V'"
hook_refuses $c annotation "model $AE \($DA\) is damaged \(fsck: file '$V'"
b_intact $c
run_ok "[$c] pull a again" -- mvol pull --tls-verify=false "$A"
assert_eq "$LAST_STDOUT" "$DA" "[$c] the same model"
repaired $c $V "$ino"
if [ $HAVE_RUNC = 1 ]; then
  # It keeps the tree it mounted: the old inodes, the flipped bit included, until it stops.
  got=$(runc exec mv-corr-running sha256sum /model/$V | cut -d' ' -f1) || true
  check "[$c] the running container still reads the tree it mounted, flipped bit and all" -- \
    test -n "$got" -a "$got" != "$(sha256sum "$T/exp-a/$V" | cut -d' ' -f1)"
  check "[$c] its other files read fine" -- runc exec mv-corr-running cat /model/README.md
  check "[$c] the old tree waits in retired/" -- bash -c 'ls -d "$1"/retired/"$2"-* >/dev/null' _ "$ROOT" "$HA"
  run_ok "[$c] prune while the container runs" -- mvol prune
  check "[$c] prune keeps the retired tree" -- bash -c 'ls -d "$1"/retired/"$2"-* >/dev/null' _ "$ROOT" "$HA"
  ctr_stop mv-corr-running
  run_ok "[$c] prune after it stopped" -- mvol prune
  check "[$c] prune removed the retired tree" -- bash -c '! ls -d "$1"/retired/"$2"-* 2>/dev/null' _ "$ROOT" "$HA"
  check "[$c] and kept a" -- mvol inspect "$DA"
  check "[$c] and b" -- mvol inspect "$DB"
fi

# --- a truncated object (inside a tar+gzip layer), repaired by an import ------------------------
c=truncate
V=weights/a-tar.safetensors
obj=$(obj_of $V)
ino=$(stat -c %i "$CA/$V")
truncate -s 1000 "$obj"
mount_refuses $c "$A" "model $AE \($DA\) is damaged \(file '$V' has 1000 bytes, it was stored with 150000\)"
hook_refuses $c light "image volume /model: model $DA is damaged \(file '$V' has 1000 bytes"
fsck_names_a $c
mount_refuses $c "$A" "model $AE \($DA\) is damaged \(fsck: file '$V': object [0-9a-f]{64} has checksum [0-9a-f]{64}\)"
hook_refuses $c light "image volume /model: model $DA is damaged \(fsck: file '$V'"
hook_refuses $c annotation "model $AE \($DA\) is damaged \(fsck: file '$V'"
b_intact $c
run_ok "[$c] import a again from the layout" -- mvol import "oci:$ART:a" --name "$A"
repaired $c $V "$ino"
check "[$c] the object b shares with that layer was kept" -- test "$(stat -c %i "$CB/weights/shared.safetensors")" = "$(stat -c %i "$CA/weights/shared.safetensors")"

# --- a chmod'ed object (through the checkout), as in ostree: back is clean, else a pull ---------
c="chmod"
V=README.md
chmod o+x "$CA/$V"
mount_refuses $c "$A" "model $AE \($DA\) is damaged \(file '$V' has mode 0645, it was stored with 0644\)"
fsck_names_a $c
hook_refuses $c light "image volume /model: model $DA is damaged \(fsck: file '$V'"
chmod o-x "$CA/$V"
check "[$c] chmod back: fsck is clean again" -- mvol fsck
check "[$c] and drops the marker" -- test ! -e "$MARKER"
mount_works $c "$A" "$T/exp-a"
chmod o+x "$CA/$V"
ino=$(stat -c %i "$CA/$V")
fsck_names_a $c
hook_refuses $c annotation "model $AE \($DA\) is damaged \(fsck: file '$V'"
run_ok "[$c] pull a again" -- mvol pull --tls-verify=false "$A"
repaired $c $V "$ino"

# --- an emptied commit object (ostree's "metadata checksum" case) ------------------------------
c=commit
rev=$(cat "$ROOT/repo/refs/heads/modelvol/model/sha256/$HA")
cobj=$ROOT/repo/objects/${rev:0:2}/${rev:2}.commit
check "[$c] found a's commit object" -- test -f "$cobj"
: >"$cobj"
mount_refuses $c "$A" "model $AE \($DA\) is damaged \(its commit $rev cannot be read.*\)"
fsck_names_a $c
check "[$c] fsck says the commit is corrupted" -- grep -q "$rev.commit.*Corrupted commit object" "$T/fsck.err"
mount_refuses $c "$DA" "model $DA is damaged \(fsck: .*Corrupted commit object.*\)"
hook_refuses $c light "image volume /model: model $DA is damaged \(fsck: "
hook_refuses $c annotation "model $AE \($DA\) is damaged \(its commit $rev cannot be read"
b_intact $c
run_ok "[$c] pull a again" -- mvol pull --tls-verify=false "$A"
check "[$c] the commit is written again, the same" -- test "$(cat "$ROOT/repo/refs/heads/modelvol/model/sha256/$HA")" = "$rev"
repaired $c "" ""
assert_eq "$(mvol --json inspect "$A" | jq -c .names)" "[\"$A\"]" "[$c] a keeps its name"

# --- a damaged layer a new model would reuse -----------------------------------------------------
# c is a new model on b's damaged zstd layer: its import fetches that layer again first.
c=layer
mkmodel build --spec "$T/b.json" --out "$T/lc" --ref c --expect "$T/exp-c" --family cnai >/dev/null
obj=$(find "$ROOT/repo/objects" -inum "$(stat -c %i "$CB/weights/shared.safetensors")" -name '*.file' -print -quit)
flip_bit "$obj" 5
rc=0
mvol fsck 2>"$T/fsck.err" || rc=$?
assert_eq "$rc" 1 "[$c] fsck finds the shared object"
check "[$c] a and b are both named" -- bash -c 'grep -q "$1" "$3" && grep -q "$2" "$3"' _ "${DA:7:12}" "${DB:7:12}" "$T/fsck.err"
check "[$c] the layers that hold it are marked" -- bash -c 'test "$(ls "$1"/damaged/layer-* | wc -l)" -eq 2' _ "$ROOT"
run_ok "[$c] import c, which shares b's layers" -- mvol import "oci:$T/lc:c" --name example.com/test/c:v1
assert_tree_eq "$(mvol path example.com/test/c:v1)" "$T/exp-c" "[$c] c is byte-exact"
check "[$c] c's import fetched that layer again: a new object" -- \
  test "$(stat -c %i "$CB/weights/shared.safetensors")" != "$(stat -c %i "$(mvol path example.com/test/c:v1)/weights/shared.safetensors")"
check "[$c] b is still refused: its checkout holds the old object" -- bash -c '! "$@" mount "$1" "$2" 2>/dev/null' _ "$B" "$T/mnt" "$MODELVOL" --root "$ROOT"
run_ok "[$c] import b again" -- mvol import "oci:$T/lb:b" --name "$B"
run_ok "[$c] pull a again" -- mvol pull --tls-verify=false "$A"
check "[$c] fsck clean" -- mvol fsck
check "[$c] no marker left" -- bash -c '! ls "$1"/damaged/* 2>/dev/null' _ "$ROOT"
assert_tree_eq "$(mvol path "$B")" "$T/exp-b" "[$c] b is byte-exact"
assert_tree_eq "$(mvol path "$A")" "$T/exp-a" "[$c] a is byte-exact"

# --- pulls of intact models stay cheap and change nothing ---------------------------------------
before=$(find "$ROOT/checkouts" "$ROOT/repo/objects" -printf '%p %i\n' | sort)
run_ok "pull an intact a again" -- mvol pull --tls-verify=false "$A"
assert_eq "$(find "$ROOT/checkouts" "$ROOT/repo/objects" -printf '%p %i\n' | sort)" "$before" \
  "nothing was rewritten: same objects, same checkouts"
run_ok "prune" -- mvol prune
check "prune removed every retired tree (no container uses them)" -- bash -c '! ls "$1"/retired/* 2>/dev/null' _ "$ROOT"
check "fsck clean at the end" -- mvol fsck

finish
