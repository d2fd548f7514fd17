#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# A stored layer is used by a pull only if the registry confirms the blob to that pull's own
# credentials (SECURITY-BAR 11; docs/architecture.md, "Reusing stored layers"). A token
# registry where carol may read org/a only and dave org/b only; org/b:stolen is model a's
# manifest pushed to org/b, whose a-only blobs org/b then lost (a registry that keeps a
# manifest whose blobs it does not serve):
# - dave's pull of org/b:v1 reuses the layers b shares with a after a HEAD with his token,
#   without fetching them;
# - dave's pull of org/b:stolen fails although model a and all its layers are stored, and
#   names nothing; so does his pull as a waiter behind carol's download of a's biggest layer;
# - dave and anonymous pulls of what they may not read fail although it is stored;
# - a registry that will not answer the HEAD makes the pull fetch and check the blob instead;
# - the same with two htpasswd users of a Basic-auth registry.
. "$(dirname "$0")/../lib/common.sh"
. "$TESTS_LIB/registry.sh"

mkmodel preset shared --variant a --seed access --out "$T/a" --ref v1 --info "$T/a.json" --expect "$T/exp-a" >/dev/null
mkmodel preset shared --variant b --seed access --out "$T/b" --ref v1 --info "$T/b.json" --expect "$T/exp-b" >/dev/null
jq -r '.layers[].digest' "$T/a.json" | sort >"$T/a.layers"
jq -r '.layers[].digest' "$T/b.json" | sort >"$T/b.layers"
comm -23 "$T/a.layers" "$T/b.layers" >"$T/a-only"
comm -12 "$T/a.layers" "$T/b.layers" >"$T/shared"
check "fixture: a and b share layers, and a has layers of its own" -- test -s "$T/shared" -a -s "$T/a-only"
# a's biggest layer, which b does not have
X=$(jq -r --rawfile only "$T/a-only" '[.layers[] | select(.digest as $d | $only | contains($d))] | max_by(.size) | .digest' "$T/a.json")
S1=$(head -n 1 "$T/shared")

# unlink_a_only DIR REPO: REPO of the registry storage DIR stops serving a's own blobs.
unlink_a_only() {
  local d
  while read -r d; do
    rm -rf "$1/data/docker/registry/v2/repositories/$2/_layers/sha256/${d#sha256:}"
  done <"$T/a-only"
}

# auth_file FILE USER:PASS HOST...: an auth.json with these credentials for every HOST.
auth_file() {
  local file=$1 cred host
  cred=$(printf '%s' "$2" | base64)
  shift 2
  for host in "$@"; do printf '%s\n' "$host"; done |
    jq -R --arg c "$cred" '{(.): {auth: $c}}' | jq -s '{auths: add}' >"$file"
}

tokenserver_start "$T/tok" "carol:c-Pa55=org/a,dave:d-Pa55=org/b" --private org/a,org/b
registry_start_open "$T/reg"
run_ok "push a to org/a" -- ocipush "oci:$T/a:v1" "$OPEN_REGISTRY/org/a:v1"
run_ok "push b to org/b" -- ocipush "oci:$T/b:v1" "$OPEN_REGISTRY/org/b:v1"
run_ok "push a to org/b:stolen" -- ocipush "oci:$T/a:v1" "$OPEN_REGISTRY/org/b:stolen"
unlink_a_only "$T/reg" org/b
MVTEST_REGISTRY_EXTRA=$TOKEN_AUTH_YML registry_start "$T/reg" >/dev/null
R=$REGISTRY

cat >"$T/carol.rules" <<JSON
[{"match": "/blobs/$X", "method": "GET", "actions": ["pass", "throttle:300000"]}]
JSON
cat >"$T/pass.rules" <<JSON
[]
JSON
cat >"$T/head404.rules" <<JSON
[{"match": "/blobs/$S1", "method": "HEAD", "actions": ["404"]}]
JSON
: >"$T/carol.log"
: >"$T/dave.log"
: >"$T/head404.log"
faultproxy PC "$R" "$T/carol.rules" "$T/carol.log"
faultproxy PD "$R" "$T/pass.rules" "$T/dave.log"
faultproxy PH "$R" "$T/head404.rules" "$T/head404.log"
auth_file "$T/carol.json" carol:c-Pa55 "$PC" "$PD" "$PH"
auth_file "$T/dave.json" dave:d-Pa55 "$PC" "$PD" "$PH"
auth_file "$T/none.json" nobody:x example.invalid

# dave's requests since the last `mark`
mark() { DAVE_MARK=$(wc -l <"$T/dave.log"); }
dave_since_mark() { tail -n +$((DAVE_MARK + 1)) "$T/dave.log"; }

run_ok "carol pulls org/a" -- mvol pull --tls-verify=false --authfile "$T/carol.json" "$PC/org/a:v1"
run_ok "path a" -- mvol path "$PC/org/a:v1"
assert_tree_eq "$LAST_STDOUT" "$T/exp-a" "a is byte-exact"
expect_fail 1 "unauthorized" "dave may not pull org/a, stored or not" -- \
  mvol pull --tls-verify=false --authfile "$T/dave.json" "$PD/org/a:v1"

mark
run_ok "dave pulls org/b" -- mvol pull --tls-verify=false --authfile "$T/dave.json" "$PD/org/b:v1"
dave_since_mark >"$T/dave-b.log"
while read -r d; do
  check "dave's b: the shared layer ${d:7:12} was confirmed with his token" -- \
    grep -Eq "^HEAD /v2/org/b/blobs/$d -> pass auth=yes" "$T/dave-b.log"
  assert_eq "$(grep -c "^GET /v2/org/b/blobs/$d " "$T/dave-b.log" || true)" 0 "dave's b: and not fetched"
done <"$T/shared"
run_ok "path b" -- mvol path "$PD/org/b:v1"
assert_tree_eq "$LAST_STDOUT" "$T/exp-b" "b is byte-exact"
expect_fail 1 "unauthorized" "an anonymous pull of the stored org/b" -- \
  mvol pull --tls-verify=false --authfile "$T/none.json" "$PD/org/b:v1"

mark
models=$(model_count)
expect_fail 1 "not found" "dave's org/b:stolen (model a, all stored) is refused" -- \
  mvol pull --tls-verify=false --authfile "$T/dave.json" --jobs 1 "$PD/org/b:stolen"
dave_since_mark >"$T/dave-stolen.log"
check "stolen: the registry was asked about $X with dave's token" -- grep -q "^HEAD /v2/org/b/blobs/$X -> pass auth=yes" "$T/dave-stolen.log"
check "stolen: and then asked for the blob itself (which it does not serve)" -- grep -q "^GET /v2/org/b/blobs/$X " "$T/dave-stolen.log"
assert_eq "$(model_count)" "$models" "stolen: no model added"
assert_eq "$(mvol --json ls | jq '[.models[].names[]? | select(test("stolen"))] | length')" 0 "stolen: no name added"
run_ok "fsck clean" -- mvol fsck

# A waiter is not coalesced: dave's org/b:stolen (one layer at a time, the biggest, X, first)
# waits for carol's download of X (slowed to about 3 s), then finds it stored, asks the
# registry with his own token, and fails.
new_root
mvol -v pull --tls-verify=false --authfile "$T/carol.json" "$PC/org/a:v1" >"$T/carol.out" 2>"$T/carol.err" &
cpid=$!
for _ in $(seq 100); do grep -q "^GET /v2/org/a/blobs/$X -> throttle" "$T/carol.log" && break; sleep 0.1; done
mark
rc=0
mvol -v pull --tls-verify=false --authfile "$T/dave.json" --jobs 1 "$PD/org/b:stolen" >"$T/dave.out" 2>"$T/dave.err" || rc=$?
crc=0
wait "$cpid" || crc=$?
assert_eq "$crc" 0 "waiter: carol's pull of a succeeds"
assert_eq "$rc" 1 "waiter: dave's pull of org/b:stolen fails"
assert_match "$(tail -n 1 "$T/dave.err")" "^modelvol: .*blobs/sha256:.* not found on the registry" "waiter: with the usual one line, last"
# (The same manifest: dave waits on the model's import lock, which carol holds while she
# downloads X; a model sharing only layers would wait on X's layer lock.)
check "waiter: dave waited for carol's download of $X" -- \
  grep -Eq "layer $X: another import has it; waiting|model sha256:[0-9a-f]{64}: another import is running; waiting" "$T/dave.err"
check "waiter: then found it stored and unconfirmed" -- grep -q "layer $X is stored, but .* does not confirm it" "$T/dave.err"
assert_eq "$(mvol --json ls | jq -c '[.models[].names[]?]')" "[\"$PC/org/a:v1\"]" "waiter: only carol's name"
run_ok "waiter: fsck clean" -- mvol fsck

# A registry that does not answer the HEAD (404 here) for a stored layer: the pull fetches it
# and checks its digest instead, and stores nothing twice.
new_root
run_ok "carol pulls org/a again" -- mvol pull --tls-verify=false --authfile "$T/carol.json" "$PC/org/a:v1"
run_ok "dave pulls org/b, the HEAD for ${S1:7:12} answered 404" -- \
  mvol pull --tls-verify=false --authfile "$T/dave.json" "$PH/org/b:v1"
check "head 404: asked" -- grep -q "^HEAD /v2/org/b/blobs/$S1 -> 404" "$T/head404.log"
check "head 404: then fetched the blob" -- grep -q "^GET /v2/org/b/blobs/$S1 -> pass auth=yes" "$T/head404.log"
run_ok "head 404: path b" -- mvol path "$PH/org/b:v1"
assert_tree_eq "$LAST_STDOUT" "$T/exp-b" "head 404: b is byte-exact"
run_ok "head 404: fsck clean" -- mvol fsck
registry_stop

# The same with Basic auth: two htpasswd users (who may both read everything: htpasswd has no
# per-repository access); org/b:stolen has lost a's blobs.
registry_start "$T/reg-basic" "alice:al-Pa55,bob:bo-Pa55" >/dev/null
R=$REGISTRY
run_ok "basic: push a to org/a" -- ocipush --user alice:al-Pa55 "oci:$T/a:v1" "$R/org/a:v1"
run_ok "basic: push a to org/b:stolen" -- ocipush --user bob:bo-Pa55 "oci:$T/a:v1" "$R/org/b:stolen"
unlink_a_only "$T/reg-basic" org/b
auth_file "$T/alice.json" alice:al-Pa55 "$R"
auth_file "$T/bob.json" bob:bo-Pa55 "$R"
new_root
run_ok "basic: alice pulls org/a" -- mvol pull --tls-verify=false --authfile "$T/alice.json" "$R/org/a:v1"
expect_fail 1 "not found" "basic: bob's org/b:stolen is refused" -- \
  mvol pull --tls-verify=false --authfile "$T/bob.json" "$R/org/b:stolen"
mark_reg=$(wc -l <"$REGISTRY_LOG")
run_ok "basic: bob pulls org/a, which he may read" -- mvol pull --tls-verify=false --authfile "$T/bob.json" "$R/org/a:v1"
check "basic: bob's pull confirmed the stored layers (HEAD), fetched none" -- bash -c \
  'log=$(tail -n +$(($1 + 1)) "$0"); grep -q "\"HEAD /v2/org/a/blobs/.*\" 200" <<<"$log" && ! grep -q "\"GET /v2/org/a/blobs/$2" <<<"$log"' \
  "$REGISTRY_LOG" "$mark_reg" "$X"
assert_eq "$(model_count)" 1 "basic: one model"
registry_stop
finish
