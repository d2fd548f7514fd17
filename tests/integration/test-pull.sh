#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# modelvol pull from a real docker-registry on 127.0.0.1 (plain HTTP, an insecure registry):
# every kind x format in both families (one behind an index) byte-exact; a re-pull and a
# second version sharing layers fetch no shared blob (the registry no longer has them);
# htpasswd Basic auth with credentials from an auth.json; wrong or missing credentials, a
# missing tag, a blob the registry serves wrong and TLS demanded from a plain-HTTP registry
# all fail with one clear line and store nothing; the password never appears at -v.
. "$(dirname "$0")/../lib/common.sh"
. "$TESTS_LIB/registry.sh"

registry_start "$T/reg" >/dev/null
R=$REGISTRY

mkmodel preset all-kinds --out "$T/l1" --ref v1 --expect "$T/exp1" >/dev/null
mkmodel preset all-kinds --family cnai --wrap-index --out "$T/l2" --ref v1 --expect "$T/exp2" >/dev/null
run_ok "push the cncf model" -- ocipush "oci:$T/l1:v1" "$R/org/cncf:v1"
run_ok "push the index-wrapped cnai model" -- ocipush "oci:$T/l2:v1" "$R/org/cnai:v1"

run_ok "pull the cncf model" -- mvol pull --tls-verify=false "$R/org/cncf:v1"
d1=$LAST_STDOUT
assert_match "$d1" '^sha256:[0-9a-f]{64}$' "pull prints the manifest digest"
run_ok "path" -- mvol path "$R/org/cncf:v1"
assert_tree_eq "$LAST_STDOUT" "$T/exp1" "pulled cncf tree is byte-exact"
run_ok "pull the cnai model through its index" -- mvol pull --tls-verify=false "$R/org/cnai:v1"
run_ok "path cnai" -- mvol path "$R/org/cnai:v1"
assert_tree_eq "$LAST_STDOUT" "$T/exp2" "pulled cnai tree is byte-exact"
run_ok "pull by digest" -- mvol pull --tls-verify=false "$R/org/cncf@$d1"
assert_eq "$LAST_STDOUT" "$d1" "pull by digest gives the same model"

# Layers in the store are not fetched again: the registry only confirms them (HEAD).
blobs=$T/reg/data/docker/registry/v2/blobs/sha256
mkmodel preset shared --variant a --seed pull --out "$T/sa" --ref v1 --info "$T/a.json" >/dev/null
mkmodel preset shared --variant b --seed pull --out "$T/sb" --ref v1 --info "$T/b.json" --expect "$T/exp-b" >/dev/null
run_ok "push shared a" -- ocipush "oci:$T/sa:v1" "$R/org/shared:a"
run_ok "push shared b" -- ocipush "oci:$T/sb:v1" "$R/org/shared:b"
run_ok "pull a" -- mvol pull --tls-verify=false "$R/org/shared:a"
mark=$(wc -l <"$REGISTRY_LOG")
run_ok "pull b" -- mvol pull --tls-verify=false "$R/org/shared:b"
tail -n +$((mark + 1)) "$REGISTRY_LOG" >"$T/pull-b.log"
n_shared=0
for d in $(jq -r '.layers[].digest' "$T/a.json"); do
  if jq -e --arg d "$d" '.layers[] | select(.digest == $d)' "$T/b.json" >/dev/null; then
    n_shared=$((n_shared + 1))
    assert_eq "$(grep -c "\"GET /v2/org/shared/blobs/$d " "$T/pull-b.log" || true)" 0 "pull b: shared layer ${d:7:12} is not fetched"
    check "pull b: the registry confirmed ${d:7:12} (HEAD)" -- grep -q "\"HEAD /v2/org/shared/blobs/$d HTTP/1.1\" 200" "$T/pull-b.log"
  fi
done
check "fixture: a and b share layers" -- test "$n_shared" -gt 0
run_ok "path b" -- mvol path "$R/org/shared:b"
assert_tree_eq "$LAST_STDOUT" "$T/exp-b" "b is byte-exact"
mark=$(wc -l <"$REGISTRY_LOG")
run_ok "re-pull a" -- mvol pull --tls-verify=false "$R/org/shared:a"
tail -n +$((mark + 1)) "$REGISTRY_LOG" >"$T/repull-a.log"
fetched=0
for d in $(jq -r '.layers[].digest' "$T/a.json"); do
  fetched=$((fetched + $(grep -c "\"GET /v2/org/shared/blobs/$d " "$T/repull-a.log" || true)))
done
assert_eq "$fetched" 0 "re-pull a: no layer fetched"

# Concurrent pulls of one model into one store download each layer once (per-layer locks);
# all succeed and agree.
mkmodel preset big --size-mb 24 --layers 2 --seed conc --out "$T/big" --ref v1 --info "$T/big.json" >/dev/null
run_ok "push the big model" -- ocipush "oci:$T/big:v1" "$R/org/big:v1"
new_root
pids=()
for i in 1 2 3 4; do
  mvol pull --tls-verify=false "$R/org/big:v1" >"$T/conc-$i" 2>"$T/cerr-$i" & pids+=($!)
done
fails=0
for i in 1 2 3 4; do
  wait "${pids[$((i - 1))]}" || { fails=$((fails + 1)); diag "pull $i failed: $(tail -3 "$T/cerr-$i")"; }
done
assert_eq "$fails" 0 "four concurrent pulls of one model succeed"
if [ "$fails" != 0 ]; then
  for i in 1 2 3 4; do diag "puller $i stderr:" "$(error_lines "$T/cerr-$i")"; done
fi
assert_eq "$(sort -u "$T"/conc-* | wc -l)" 1 "they print one digest"
for d in $(jq -r '.layers[] | select(.size > 1000000) | .digest' "$T/big.json"); do
  n=$(grep -c "GET /v2/org/big/blobs/$d HTTP/1.1\" 200" "$REGISTRY_LOG" || true)
  assert_eq "$n" 1 "layer ${d:7:12} downloaded once by four pullers"
done
run_ok "fsck after concurrent pulls" -- mvol fsck

# Faults the registry will not make: 503 and 429 (Retry-After) on the manifest, 500 and a
# connection dropped mid-blob on a layer. Bounded retries get through; a tag that always
# answers 503 fails after the last attempt with one line.
big_layer=$(jq -r '[.layers[]] | sort_by(.size) | .[-1].digest' "$T/big.json")
big_layer2=$(jq -r '[.layers[]] | sort_by(.size) | .[-2].digest' "$T/big.json")
cat >"$T/rules.json" <<JSON
[
  {"match": "/manifests/v1\$", "actions": ["503", "429:1", "pass"]},
  {"match": "/blobs/$big_layer", "actions": ["500", "drop", "pass"]},
  {"match": "/blobs/$big_layer2", "actions": ["drop", "norange", "pass"]},
  {"match": "/manifests/always503", "actions": ["503"]}
]
JSON
: >"$T/proxy.log"
faultproxy P "$R" "$T/rules.json" "$T/proxy.log"
new_root
run_ok "pull through 503, 429, 500 and a dropped connection" -- \
  mvol -v pull --tls-verify=false "$P/org/big:v1"
assert_eq "$(grep -c '/manifests/v1 ' "$T/proxy.log")" 3 "the manifest took three attempts"
assert_eq "$(grep -c "GET .*/blobs/$big_layer " "$T/proxy.log")" 3 "the big layer took three requests"
check "after the drop it resumed with a Range request (206)" -- \
  grep -q "GET .*/blobs/$big_layer -> pass auth=no range=bytes=[1-9][0-9]*-" "$T/proxy.log"
assert_eq "$(grep -c "GET .*/blobs/$big_layer2 " "$T/proxy.log")" 3 "a resume answered with 200 is refused and the layer starts over"
check "the restart asked for the whole blob" -- \
  grep -q "GET .*/blobs/$big_layer2 -> pass auth=no range=-" "$T/proxy.log"
check "the 429's Retry-After was honoured" -- grep -q "retrying in 1000 ms" <<<"$LAST_STDERR"
run_ok "path of the faulted pull" -- mvol path "$P/org/big:v1"
expect_fail 1 "server error \\(HTTP 503\\)" "always 503" -- mvol pull --tls-verify=false "$P/org/big:always503"
assert_eq "$(grep -c '/manifests/always503' "$T/proxy.log")" 5 "always 503: five attempts, then give up"
run_ok "fsck after faulted pulls" -- mvol fsck

models_before=$(model_count)
expect_fail 1 "not found" "missing tag" -- mvol pull --tls-verify=false "$R/org/cncf:nope"
expect_fail 1 "wrong version number|SSL|TLS" "https demanded from a plain-HTTP registry" -- \
  mvol pull "$R/org/cncf:v1"

# A registry that serves a blob whose bytes are not its digest: nothing is stored.
mkmodel preset all-kinds --seed tamper --out "$T/lt" --ref v1 --info "$T/t.json" >/dev/null
run_ok "push the model to tamper with" -- ocipush "oci:$T/lt:v1" "$R/org/tamper:v1"
big=$(jq -r '[.layers[] | select(.format == "raw")] | max_by(.size) | .digest' "$T/t.json")
h=${big#sha256:}
python3 - "$blobs/${h:0:2}/$h/data" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[len(b) // 2] ^= 0xff
open(p, "wb").write(bytes(b))
PY
expect_fail 1 "${h:0:12}" "a tampered blob" -- mvol pull --tls-verify=false "$R/org/tamper:v1"
assert_eq "$(model_count)" "$models_before" "failed pulls store no model"
run_ok "fsck clean" -- mvol fsck
registry_stop

# Basic auth (htpasswd) with credentials from an auth.json.
registry_start "$T/reg-auth" "alice:s3cret-Pa55" >/dev/null
R=$REGISTRY
run_ok "push with credentials" -- ocipush --user alice:s3cret-Pa55 "oci:$T/l1:v1" "$R/org/private:v1"
expect_fail 1 "credentials|unauthorized" "no credentials" -- \
  mvol pull --tls-verify=false --authfile "$T/none.json" "$R/org/private:v1"
printf '{"auths": {"%s": {"auth": "%s"}}}\n' "$R" "$(printf 'alice:wrong' | base64)" >"$T/bad.json"
expect_fail 1 "unauthorized" "wrong password" -- \
  mvol pull --tls-verify=false --authfile "$T/bad.json" "$R/org/private:v1"
printf '{"auths": {"%s": {"auth": "%s"}}}\n' "$R" "$(printf 'alice:s3cret-Pa55' | base64)" >"$T/auth.json"
chmod 600 "$T/auth.json"
run_ok "pull with the right credentials" -- \
  mvol -v pull --tls-verify=false --authfile "$T/auth.json" "$R/org/private:v1"
check "the password never appears at -v" -- bash -c '! grep -q "s3cret-Pa55\|$(printf "alice:s3cret-Pa55" | base64)" <<<"$0$1"' "$LAST_STDOUT" "$LAST_STDERR"
run_ok "REGISTRY_AUTH_FILE is honoured" -- env REGISTRY_AUTH_FILE="$T/auth.json" \
  "$MODELVOL" --root "$T/root-env" pull --tls-verify=false "$R/org/private:v1"
# Redirects: a blob sent to a second host (another port) gets there without credentials; a
# redirect to another scheme, and a loop, are refused. An oversized manifest is refused.
cat >"$T/rules2.json" <<JSON
[{"match": ".", "actions": ["pass"]}]
JSON
: >"$T/second.log"
# The second host is a blob store that needs no credentials (as object storage with signed
# URLs): an open registry on the same storage behind a logging proxy.
registry_start_open "$T/reg-auth"
OPEN=$OPEN_REGISTRY
faultproxy S "$OPEN" "$T/rules2.json" "$T/second.log"
cat >"$T/rules3.json" <<JSON
[
  {"match": "/org/private/blobs/sha256:", "actions": ["redirect:$S"]},
  {"match": "/org/private/manifests/ftp", "actions": ["redirect:ftp://$S"]},
  {"match": "/org/private/manifests/loop", "actions": ["redirect:self"]},
  {"match": "/org/private/manifests/big", "actions": ["big"]}
]
JSON
: >"$T/first.log"
faultproxy F "$R" "$T/rules3.json" "$T/first.log"
new_root
printf '{"auths": {"%s": {"auth": "%s"}}}\n' "$F" "$(printf 'alice:s3cret-Pa55' | base64)" >"$T/auth-f.json"
run_ok "pull with blobs redirected to a second host" -- \
  mvol pull --tls-verify=false --authfile "$T/auth-f.json" "$F/org/private:v1"
check "the second host served blobs" -- grep -q "/blobs/sha256:.* auth=no" "$T/second.log"
check "the second host never saw credentials" -- bash -c '! grep -q "auth=yes" "$0"' "$T/second.log"
check "the registry itself got them" -- grep -q "auth=yes" "$T/first.log"
expect_fail 1 "refusing redirect" "a redirect to ftp:" -- \
  mvol pull --tls-verify=false --authfile "$T/auth-f.json" "$F/org/private:ftp"
expect_fail 1 "more than 5 redirects" "a redirect loop" -- \
  mvol pull --tls-verify=false --authfile "$T/auth-f.json" "$F/org/private:loop"
expect_fail 1 "above|larger|limit" "a manifest above 4 MiB" -- \
  mvol pull --tls-verify=false --authfile "$T/auth-f.json" "$F/org/private:big"

# Credential helpers (docker-credential-* protocol): credHelpers for this registry, credsStore
# for the rest; "credentials not found" means anonymous; a failing helper is an error.
mkdir -p "$T/bin"
cat >"$T/bin/docker-credential-mvtest" <<'SH'
#!/bin/sh
[ "$1" = get ] || exit 1
read -r host
case "$host" in
  *:*) printf '{"ServerURL":"%s","Username":"alice","Secret":"s3cret-Pa55"}\n' "$host" ;;
  *) echo "credentials not found in native keychain"; exit 1 ;;
esac
SH
printf '#!/bin/sh\necho boom >&2\nexit 3\n' >"$T/bin/docker-credential-broken"
chmod +x "$T/bin/docker-credential-mvtest" "$T/bin/docker-credential-broken"
printf '{"credHelpers": {"%s": "mvtest"}}\n' "$R" >"$T/helpers.json"
printf '{"credsStore": "mvtest"}\n' >"$T/store.json"
printf '{"credHelpers": {"%s": "broken"}}\n' "$R" >"$T/broken-helper.json"
new_root
run_ok "pull with credentials from credHelpers" -- \
  env PATH="$T/bin:$PATH" "$MODELVOL" --root "$ROOT" pull --tls-verify=false --authfile "$T/helpers.json" "$R/org/private:v1"
new_root
run_ok "pull with credentials from credsStore" -- \
  env PATH="$T/bin:$PATH" "$MODELVOL" --root "$ROOT" pull --tls-verify=false --authfile "$T/store.json" "$R/org/private:v1"
expect_fail 1 "credential helper docker-credential-broken failed" "a failing helper" -- \
  env PATH="$T/bin:$PATH" "$MODELVOL" --root "$ROOT" pull --tls-verify=false --authfile "$T/broken-helper.json" "$R/org/private:v1"

# login checks the credentials against the registry, then stores them (0600); logout drops them.
expect_fail 1 "unauthorized" "login with a wrong password" -- bash -c 'echo wrong | "$0" --root "$1" login --tls-verify=false --authfile "$2" -u alice --password-stdin "$3"' "$MODELVOL" "$ROOT" "$T/login.json" "$R"
check "a failed login writes no file" -- test ! -e "$T/login.json"
run_ok "login" -- bash -c 'echo s3cret-Pa55 | "$0" --root "$1" login --tls-verify=false --authfile "$2" -u alice --password-stdin "$3"' "$MODELVOL" "$ROOT" "$T/login.json" "$R"
assert_eq "$(stat -c %a "$T/login.json")" 600 "the credentials file is 0600"
assert_eq "$(jq -r --arg r "$R" '.auths[$r].auth' "$T/login.json" | base64 -d)" "alice:s3cret-Pa55" "it holds the credentials"
new_root
run_ok "pull with the login's credentials" -- mvol pull --tls-verify=false --authfile "$T/login.json" "$R/org/private:v1"
run_ok "logout" -- mvol logout --authfile "$T/login.json" "$R"
assert_eq "$(jq -r --arg r "$R" '.auths[$r] // "gone"' "$T/login.json")" gone "logout removed the entry"
expect_fail 1 "not logged in" "logout twice" -- mvol logout --authfile "$T/login.json" "$R"
registry_stop

# Token auth (Bearer): a registry with `auth: token:` whose realm is our token server. Models
# are pushed through an open registry on the same storage. The realm is plain http on the
# registry's own host, which modelvol accepts only for an insecure registry.
tokenserver_start "$T/pki-token" carol:tok-Pa55
registry_start_open "$T/reg-token"
run_ok "push for the token registry" -- ocipush "oci:$T/l1:v1" "$OPEN_REGISTRY/org/token:v1"
MVTEST_REGISTRY_EXTRA=$TOKEN_AUTH_YML registry_start "$T/reg-token" >/dev/null
R=$REGISTRY
printf '{"auths": {"%s": {"auth": "%s"}}}\n' "$R" "$(printf 'carol:tok-Pa55' | base64)" >"$T/auth-token.json"
run_ok "anonymous pull through a token (Bearer) challenge" -- \
  mvol pull --tls-verify=false --authfile "$T/none.json" "$R/org/token:v1"
check "the token server saw an anonymous request for pull on org/token" -- \
  grep -q "AUTH=- .*scope=repository%3Aorg%2Ftoken%3Apull\|AUTH=- .*scope=repository:org/token:pull" "$TOKEN_LOG"
new_root
run_ok "pull with credentials through the token server" -- \
  mvol -v pull --tls-verify=false --authfile "$T/auth-token.json" "$R/org/token:v1"
check "the token server got the Basic credentials" -- grep -q "AUTH=carol" "$TOKEN_LOG"
check "no secret in the output at -v" -- bash -c '! grep -q "tok-Pa55\|$(printf "carol:tok-Pa55" | base64)" <<<"$0$1"' "$LAST_STDOUT" "$LAST_STDERR"
run_ok "login through the token server" -- bash -c 'echo tok-Pa55 | "$0" --root "$1" login --tls-verify=false --authfile "$2" -u carol --password-stdin "$3"' "$MODELVOL" "$ROOT" "$T/login-token.json" "$R"
expect_fail 1 "token server answered 401" "token login with a wrong password" -- bash -c 'echo bad | "$0" --root "$1" login --tls-verify=false --authfile "$2" -u carol --password-stdin "$3"' "$MODELVOL" "$ROOT" "$T/login-token.json" "$R"
run_ok "path of the token model" -- mvol path "$R/org/token:v1"
assert_tree_eq "$LAST_STDOUT" "$T/exp1" "the token model is byte-exact"
printf '{"auths": {"%s": {"auth": "%s"}}}\n' "$R" "$(printf 'carol:nope' | base64)" >"$T/auth-token-bad.json"
expect_fail 1 "token server answered 401" "wrong credentials at the token server" -- \
  mvol pull --tls-verify=false --authfile "$T/auth-token-bad.json" "$R/org/token:v1"
registry_stop

# TLS with a CA of our own: refused without it, accepted with certs.d/HOST:PORT/ca.crt, and
# htpasswd Basic auth over it.
mkdir -p "$T/pki"
(
  cd "$T/pki" || exit 1
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 \
    -subj "/CN=modelvol test CA" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr \
    -subj "/CN=127.0.0.1" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' >ext.cnf
  openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt \
    -days 2 -extfile ext.cnf 2>/dev/null
)
registry_start "$T/reg-tls" "bob:tls-Pa55" "$T/pki/server.crt" "$T/pki/server.key" >/dev/null
R=$REGISTRY
run_ok "push over TLS" -- env OCIPUSH_TLS=1 "${OCIPUSH[@]}" --user bob:tls-Pa55 "oci:$T/l1:v1" "$R/org/tls:v1"
printf '{"auths": {"%s": {"auth": "%s"}}}\n' "$R" "$(printf 'bob:tls-Pa55' | base64)" >"$T/auth-tls.json"
expect_fail 1 "certificate|SSL" "TLS registry with an unknown CA" -- \
  mvol pull --authfile "$T/auth-tls.json" --cert-dir "$T/certs.d" "$R/org/tls:v1"
mkdir -p "$T/certs.d/$R"
cp "$T/pki/ca.crt" "$T/certs.d/$R/ca.crt"
run_ok "pull over TLS with the CA from certs.d and Basic auth" -- \
  mvol pull --authfile "$T/auth-tls.json" --cert-dir "$T/certs.d" "$R/org/tls:v1"
run_ok "path of the TLS model" -- mvol path "$R/org/tls:v1"
assert_tree_eq "$LAST_STDOUT" "$T/exp1" "the TLS model is byte-exact"
registry_stop

# A verified TLS registry whose token realm is plain http: the token request is refused.
MVTEST_REGISTRY_EXTRA=$TOKEN_AUTH_YML registry_start "$T/reg-tls-token" "" \
  "$T/pki/server.crt" "$T/pki/server.key" >/dev/null
mkdir -p "$T/certs.d/$REGISTRY"
cp "$T/pki/ca.crt" "$T/certs.d/$REGISTRY/ca.crt"
token_requests=$(wc -l <"$TOKEN_LOG")
expect_fail 1 "refusing token realm .*not https" "an http realm is refused for a TLS registry" -- \
  mvol pull --authfile "$T/auth-token.json" --cert-dir "$T/certs.d" "$REGISTRY/org/token:v1"
assert_eq "$(wc -l <"$TOKEN_LOG")" "$token_requests" "no request (and no credential) reached the http realm"
registry_stop
finish
