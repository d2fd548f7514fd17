#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Bearer tokens (SECURITY-BAR 7) with a real docker-registry (`auth: token:`) whose realm is
# tests/lib/tokenserver.py, through tests/lib/faultproxy.py, whose log names the token each
# request carried (a hash, never the token):
# - one token serves every request of a pull while it is valid (20 layers, 4 at a time);
# - with expires_in=2 a longer pull gets a new token before each one expires, every token is
#   used, each for several requests, and the registry never has to refuse one;
# - a token the registry refuses mid-pull (as if it had expired early) is replaced once and
#   the pull goes on; a registry that refuses the new token too fails the pull with one clear
#   line after exactly one new token (no loop);
# - no token and no password appears in the output at -v.
. "$(dirname "$0")/../lib/common.sh"
. "$TESTS_LIB/registry.sh"

mkmodel preset all-kinds --out "$T/m" --ref v1 --info "$T/m.json" --expect "$T/exp" >/dev/null
n_layers=$(jq '.layers | length' "$T/m.json")
# The two largest layers: the first ones a pull asks for.
first=$(jq -r '[.layers[]] | sort_by(.size) | .[-1].digest' "$T/m.json")
second=$(jq -r '[.layers[]] | sort_by(.size) | .[-2].digest' "$T/m.json")

tokenserver_start "$T/tok" carol:tok-Pa55
registry_start_open "$T/reg"
run_ok "push" -- ocipush "oci:$T/m:v1" "$OPEN_REGISTRY/org/tok:v1"
MVTEST_REGISTRY_EXTRA=$TOKEN_AUTH_YML registry_start "$T/reg" >/dev/null
R=$REGISTRY

cat >"$T/rules.json" <<JSON
[
  {"match": "/org/tok/blobs/$first", "method": "GET", "actions": ["noauth", "pass"]},
  {"match": "/org/tok/blobs/$second", "method": "GET", "actions": ["pass", "noauth"]}
]
JSON
: >"$T/proxy.log"
faultproxy P "$R" "$T/rules.json" "$T/proxy.log"
printf '{"auths": {"%s": {"auth": "%s"}}}\n' "$P" "$(printf 'carol:tok-Pa55' | base64)" >"$T/auth.json"

# since_mark FILE: the lines FILE got since the last `mark`.
declare -A MARKS
mark() {
  local f
  for f in "$TOKEN_LOG" "$T/proxy.log"; do MARKS[$f]=$(wc -l <"$f"); done
}
since_mark() {
  tail -n +$((${MARKS[$1]} + 1)) "$1"
}
# tokens_since_mark: token requests since the last mark.
tokens_since_mark() {
  since_mark "$TOKEN_LOG" | grep -c '^AUTH=' || true
}
# no_secrets DESC: neither the password nor any token (a JWT starts "eyJ") in $LAST_STDOUT or
# $LAST_STDERR.
no_secrets() {
  check "$1" -- bash -c '! grep -qE "tok-Pa55|$(printf "carol:tok-Pa55" | base64)|eyJ[A-Za-z0-9_-]{8}" <<<"$0$1"' "$LAST_STDOUT" "$LAST_STDERR"
}

# --- one token for a whole pull ----------------------------------------------------------------
mark
run_ok "pull 20 layers, 4 at a time, with credentials (the first layer's token refused once)" -- \
  mvol -v pull --tls-verify=false --authfile "$T/auth.json" --jobs 4 "$P/org/tok:v1"
no_secrets "no password or token in the output at -v"
run_ok "path" -- mvol path "$P/org/tok:v1"
assert_tree_eq "$LAST_STDOUT" "$T/exp" "byte-exact"
assert_eq "$(tokens_since_mark)" 2 "two token requests: the first, and one for the refused token"
since_mark "$T/proxy.log" >"$T/pull1.log"
check "the refused request was tried again with the new token" -- \
  bash -c 'grep "/blobs/$0 " "$1" | sed -n 2p | grep -q "pass auth=yes"' "$first" "$T/pull1.log"
first_token=$(grep -m1 ' authid=[0-9a-f]' "$T/pull1.log" | sed 's/.*authid=//')
new_token=$(grep "/blobs/$first " "$T/pull1.log" | sed -n 2p | sed 's/.*authid=//')
check "the second token differs from the first" -- test "$first_token" != "$new_token"
assert_eq "$(grep -c ' authid=[0-9a-f]' "$T/pull1.log")" "$(($(grep -c . "$T/pull1.log") - 1))" "every request but the first carried a token"
check "$n_layers layers fetched with two tokens in all" -- \
  test "$(grep ' authid=[0-9a-f]' "$T/pull1.log" | sed 's/.*authid=//' | sort -u | wc -l)" -eq 2
check "the first token served several requests" -- \
  test "$(grep -c "authid=$first_token" "$T/pull1.log")" -ge 3
check "the new token served the rest of the pull (several requests)" -- \
  test "$(grep -c "authid=$new_token" "$T/pull1.log")" -ge 3

# --- a 401 with a new token: one more token, then a clear failure ----------------------------
new_root
mark
expect_fail 1 "org/tok/blobs/$second: unauthorized \\(HTTP 401\\) with a new token" \
  "a registry that refuses the new token too" -- \
  mvol pull --tls-verify=false --authfile "$T/auth.json" --jobs 1 "$P/org/tok:v1"
# The rule's "noauth" repeats: the blob was asked for with the first token and then once with
# a new one.
assert_eq "$(since_mark "$T/proxy.log" | grep -c "GET /v2/org/tok/blobs/$second ")" 2 "no loop: the blob was asked for twice"
assert_eq "$(tokens_since_mark)" 2 "no loop: one new token, no more"
assert_eq "$(model_count)" 0 "nothing stored"
run_ok "fsck clean" -- mvol fsck

# --- expires_in=2: new tokens before the old ones expire --------------------------------------
# A second token server on the same key, whose tokens live 2 s, and a registry on the same
# storage that uses it; each blob takes 0.5 s, one at a time, so the pull outlives several.
tokenserver_start "$T/tok" carol:tok-Pa55 --expires-in 2
MVTEST_REGISTRY_NAME=short MVTEST_REGISTRY_EXTRA=$TOKEN_AUTH_YML registry_start_open "$T/reg"
SHORT=$OPEN_REGISTRY
cat >"$T/slow.json" <<JSON
[{"match": "/blobs/", "method": "GET", "actions": ["delay:0.5"]}]
JSON
: >"$T/slow.log"
faultproxy SLOW "$SHORT" "$T/slow.json" "$T/slow.log"
printf '{"auths": {"%s": {"auth": "%s"}}}\n' "$SLOW" "$(printf 'carol:tok-Pa55' | base64)" >"$T/auth-slow.json"
new_root
run_ok "a pull that outlives several 2 s tokens" -- \
  mvol -v pull --tls-verify=false --authfile "$T/auth-slow.json" --jobs 1 "$SLOW/org/tok:v1"
no_secrets "expiring tokens: no password or token in the output at -v"
n_tokens=$(grep -c '^AUTH=' "$TOKEN_LOG" || true)
check "new tokens were fetched as the old ones expired ($n_tokens)" -- test "$n_tokens" -ge 3
check "they were fetched before a request, not after a refusal" -- \
  grep -q "the token for scope 'repository:org/tok:pull' has expired; getting a new one" <<<"$LAST_STDERR"
assert_eq "$(grep ' authid=[0-9a-f]' "$T/slow.log" | sed 's/.*authid=//' | sort -u | wc -l)" "$n_tokens" "every token fetched was used"
# In the order they were first used, every token but the last (which may meet the end of the
# pull) served more than one request.
grep ' authid=[0-9a-f]' "$T/slow.log" | sed 's/.*authid=//' | uniq -c | awk '{print $1}' >"$T/uses"
check "each token served more than one request (uses: $(tr '\n' ' ' <"$T/uses"))" -- \
  test "$(head -n -1 "$T/uses" | awk '$1 < 2' | wc -l)" -eq 0 -a "$(sort -u <(grep ' authid=[0-9a-f]' "$T/slow.log" | sed 's/.*authid=//') | wc -l)" -eq "$(wc -l <"$T/uses")"
assert_eq "$(grep -ac '"GET /v2/org/.*" 401 ' "$T/reg/short.log" || true)" 1 "the registry refused only the first request (no token yet)"
run_ok "path" -- mvol path "$SLOW/org/tok:v1"
assert_tree_eq "$LAST_STDOUT" "$T/exp" "byte-exact"
registry_stop
finish
