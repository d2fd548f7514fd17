#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Signed models (issue 13), with the real cosign (key-based, both forms) against a real
# docker-registry (no referrers API: the sha256-<hex> tag fallback) and go-containerregistry's
# registry (the referrers API), and hand-built hostile signatures (tests/lib/sigforge.py).
# Every verdict of modelvol on a policy file is set beside a second implementation's:
# containers/image's policy evaluation (tests/tools/policy-check: it reads the simple form
# only) and `cosign verify --key` (both forms). A refused pull prints one line naming the
# reference, the policy file, the scope and why, and stores nothing. Audit mode pulls and
# says so; inspect shows the verdict kept with the model; the stored verdict is checked
# against the policy in force now (mv_store_check_signature, what the hook's warm path
# calls: tests/crio/test-crio-annotation.sh runs that through the real CRI-O).
. "$(dirname "$0")/../lib/common.sh"
. "$TESTS_LIB/registry.sh"
. "$TESTS_LIB/sigstore.sh"

sig_tools_or_skip
registry_start "$T/reg" >/dev/null
R=$REGISTRY

# push NAME TAG SEED: a small model at $R/NAME:TAG; prints its manifest digest.
push() {
  mkmodel preset shared --variant a --seed "$3" --out "$T/l-$1-$2" --ref v1 >/dev/null
  ocipush "oci:$T/l-$1-$2:v1" "$R/$1:$2"
}

# pol FILE DEFAULT-REQS-JSON [DOCKER-SCOPES-JSON]: a policy.json.
pol() {
  jq -n --argjson d "$2" --argjson s "${3:-{\}}" '{default: $d, transports: {docker: $s}}' >"$1"
}

# sigstore_req KEY.pub [IDENTITY-JSON] [EXTRA-JSON]: one sigstoreSigned requirement.
sigstore_req() {
  jq -n --arg k "$1" --argjson id "${2:-null}" --argjson x "${3:-{\}}" \
    '{type: "sigstoreSigned", keyPath: $k} + (if $id then {signedIdentity: $id} else {} end) + $x'
}

reg_d=$T/registries.d
mkdir -p "$reg_d"
printf 'default-docker:\n  use-sigstore-attachments: true\n' >"$reg_d/default.yaml"
SIG_REGISTRIES_D=$reg_d

cosign_keygen k1 ecdsa-p256
cosign_keygen k2 ecdsa-p256
K1=$T/k1.pub
K2=$T/k2.pub

# A policy that wants k1 for everything on the test registry, matchRepository (cosign signs
# the repository name, no tag): the case of the operator guide.
P1=$T/p1.json
pol "$P1" '[{"type":"reject"}]' "$(jq -n --arg r "$R" --argjson q "$(sigstore_req "$K1" '{"type":"matchRepository"}')" '{($r): [$q]}')"
SIG_POLICY=$P1

# spull ARGS...: pull with the policy in $SIG_POLICY and registries.d in $SIG_REGISTRIES_D.
spull() {
  mvol pull --tls-verify=false --policy "$SIG_POLICY" --registries-d "$SIG_REGISTRIES_D" "$@"
}

# blob_digests REF: the config and layer digests of REF (on $R) as the registry serves it now.
blob_digests() {
  local rest=${1#"$R"/} name ref
  if [[ $rest == *@* ]]; then
    name=${rest%@*} ref=${rest#*@}
  else
    name=${rest%:*} ref=${rest##*:}
  fi
  curl -sf -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$R/v2/$name/manifests/$ref" \
    | jq -r '.config.digest, .layers[].digest'
}

# store_state: the store, but for the lock and the metrics counters (a refused pull counts as
# a failed one: that is the only write it may make).
store_state() {
  snapshot "$ROOT" "$ROOT/.lock" | grep -v "^$ROOT/metrics/\|  $ROOT/metrics/"
}

# refused DESC REF ERE: the pull of REF is refused with one line naming REF, the policy and
# the scope; nothing is stored; containers/image refuses too (exit POLICY_RC, default 1: a
# rejection; 2: it errs on it) and so does cosign verify, unless told: AGREE=policy-only
# (cosign is not asked), AGREE=cosign-accepts (cosign verify accepts it: a known difference,
# see docs/security.md), AGREE=none (neither is asked: a modelvol-only setting).
refused() {
  local desc=$1 ref=$2 why=$3 before after n0 fetched
  before=$(store_state)
  n0=$(wc -l <"$REGISTRY_LOG")
  expect_fail 1 "^modelvol: $(re_escape "$ref"): refused by signature policy $(re_escape "$SIG_POLICY") \(scope [^)]*\): .*$why" \
    "$desc: refused" -- spull "$ref"
  after=$(store_state)
  assert_snapshot_eq "$before" "$after" "$desc: nothing stored"
  if [[ $ref == "$R/"* ]]; then
    fetched=$(tail -n +"$((n0 + 1))" "$REGISTRY_LOG" | grep -c -F -f <(blob_digests "$ref") || true)
    assert_eq "$fetched" 0 "$desc: neither its config nor a layer was fetched"
  fi
  if [ "${AGREE:-both}" != none ]; then
    policy_check "$ref" && rc=0 || rc=$?
    assert_eq "$rc" "${POLICY_RC:-1}" "$desc: containers/image refuses it too ($POLICY_VERDICT)"
  fi
  if [ "${AGREE:-both}" = both ] && [ -n "${VERIFY_KEY:-}" ]; then
    cosign_verify "$VERIFY_KEY" "$ref" ${VERIFY_BUNDLE:-} && rc=0 || rc=$?
    check "$desc: cosign verify refuses it too" -- test "$rc" -ne 0
  elif [ "${AGREE:-both}" = cosign-accepts ]; then
    cosign_verify "$VERIFY_KEY" "$ref" ${VERIFY_BUNDLE:-} && rc=0 || rc=$?
    assert_eq "$rc" 0 "$desc: cosign verify accepts it (the known difference)"
  fi
}

# --- the simple form, made by cosign ---------------------------------------------------------
d_s=$(push org/simple v1 simple)
run_ok "cosign signs org/simple (simple form)" -- cosign_sign_simple k1 "$R/org/simple@$d_s"
run_ok "cosign verifies it" -- cosign_verify k1 "$R/org/simple:v1"
run_ok "containers/image accepts it" -- policy_check "$R/org/simple:v1"
run_ok "pull org/simple:v1 with the policy" -- spull "$R/org/simple:v1"
assert_eq "$LAST_STDOUT" "$d_s" "the pull gives the signed digest"
fp1=SHA256:$(openssl pkey -pubin -in "$K1" -outform DER | sha256sum | cut -c1-64)
run_ok "inspect --json" -- mvol --json inspect "$R/org/simple:v1"
sig_json=$(jq -c .signature <<<"$LAST_STDOUT")
assert_eq "$(jq -r .accepted <<<"$sig_json")" true "the stored verdict is accepted"
assert_eq "$(jq -r '.requirements[0].type' <<<"$sig_json")" sigstoreSigned "it met sigstoreSigned"
assert_eq "$(jq -r '.requirements[0].format' <<<"$sig_json")" simple-signing "with the simple form"
assert_eq "$(jq -r '.requirements[0].key' <<<"$sig_json")" "$fp1" "with key k1 (its fingerprint)"
assert_eq "$(jq -r '.requirements[0]["signed-identity"]' <<<"$sig_json")" "$R/org/simple" "for the identity cosign signed"
assert_eq "$(jq -r '.scope' <<<"$sig_json")" "$R" "under the scope that applied"
assert_eq "$(jq -r '.["signed-digest"]' <<<"$sig_json")" "$d_s" "for the digest the tag named"
run_ok "inspect" -- mvol inspect "$R/org/simple:v1"
assert_match "$LAST_STDOUT" "^Signature: +accepted: sigstoreSigned \(simple-signing, key $fp1, identity $(re_escape "$R/org/simple")\); scope $(re_escape "$R") of $(re_escape "$P1")" \
  "inspect shows the verdict"
run_ok "pull by digest" -- spull "$R/org/simple@$d_s"

# The stored verdict against the policy in force now (what the hook's warm path asks).
conf=$T/modelvol.conf
printf '[signatures]\npolicy = %s\nregistries-d = %s\n' "$P1" "$reg_d" >"$conf"
run_ok "the stored verdict satisfies the policy" -- env MODELVOL_CONFIG="$conf" "$MODELVOL" --root "$ROOT" verify "$R/org/simple:v1"
P2=$T/p2.json
pol "$P2" '[{"type":"reject"}]' "$(jq -n --arg r "$R" --argjson q "$(sigstore_req "$K2" '{"type":"matchRepository"}')" '{($r): [$q]}')"
printf '[signatures]\npolicy = %s\nregistries-d = %s\n' "$P2" "$reg_d" >"$conf"
expect_fail 1 "$(re_escape "$R/org/simple:v1"): policy $(re_escape "$P2") \(scope $(re_escape "$R")\) needs a signature the stored verdict does not give: it was verified with key $fp1, which the policy does not name now" \
  "a policy that now names another key refuses the stored model" -- \
  env MODELVOL_CONFIG="$conf" "$MODELVOL" --root "$ROOT" verify "$R/org/simple:v1"

# verify --policy: a policy tried before it is deployed; --json; a policy that cannot be read.
expect_fail 1 "$(re_escape "$R/org/simple:v1"): policy $(re_escape "$P2") .*which the policy does not name now" \
  "verify --policy FILE tries a policy before it is deployed" -- \
  mvol verify --policy "$P2" --registries-d "$reg_d" "$R/org/simple:v1"
run_ok "verify --json with the policy in force" -- mvol --json verify --policy "$P1" --registries-d "$reg_d"
assert_eq "$(jq -c '[.models[] | {name, satisfied}]' <<<"$LAST_STDOUT")" \
  "[{\"name\":\"$R/org/simple:v1\",\"satisfied\":true},{\"name\":\"$R/org/simple@$d_s\",\"satisfied\":true}]" \
  "verify --json: every stored name (the tag and the digest pulled), satisfied"
printf '{"default":[{"type":"reject"}],"transports":{"docker":{"docker.io/busybox:1":[{"type":"reject"}]}}}' >"$T/badscope.json"
expect_fail 1 "$(re_escape "$T/badscope.json").*busybox:1.*not written in full" \
  "verify --policy with a scope no reference can match names it" -- mvol verify --policy "$T/badscope.json"

# --- refusals, each beside containers/image and cosign ---------------------------------------
VERIFY_KEY=k1
d_u=$(push org/unsigned v1 unsigned)
refused "an unsigned model" "$R/org/unsigned:v1" "no cosign signature is attached to $d_u"

d_w=$(push org/wrongkey v1 wrongkey)
run_ok "cosign signs org/wrongkey with k2" -- cosign_sign_simple k2 "$R/org/wrongkey@$d_w"
refused "a signature by another key" "$R/org/wrongkey:v1" "verif"

# Go's encoding/json keeps the last of duplicate keys and cosign ignores unknown keys in
# "critical"; containers/image refuses both, and so does modelvol.
for kind in tampered-payload other-digest bad-base64 dup-keys unknown-critical-key; do
  d=$(push "org/$kind" v1 "$kind")
  run_ok "sigforge $kind (simple)" -- sigforge "$kind" --form simple --key "$T/k1.pem" "$R/org/$kind@$d"
  case $kind in
    dup-keys | unknown-critical-key) agree=cosign-accepts ;;
    *) agree=both ;;
  esac
  AGREE=$agree refused "simple form, $kind" "$R/org/$kind:v1" ""
done
d_i=$(push org/identity v1 identity)
run_ok "sigforge wrong-identity (simple)" -- sigforge --form simple --key "$T/k1.pem" wrong-identity "$R/org/other" "$R/org/identity@$d_i"
# cosign verify checks the digest a payload names, never its docker-reference: the identity
# is the policy's business (signedIdentity), as in containers/image.
AGREE=cosign-accepts refused "a signature for another repository" "$R/org/identity:v1" "$(re_escape "$R/org/other")"
d_o=$(push org/oversized v1 oversized)
run_ok "sigforge oversized (simple)" -- sigforge oversized --form simple --key "$T/k1.pem" "$R/org/oversized@$d_o"
AGREE=policy-only POLICY_RC=2 refused "an oversized payload" "$R/org/oversized:v1" "above the limit of 4194304"

# A signed tag moved, after signing, to an unsigned manifest.
d_m1=$(push org/moved v1 moved1)
d_m2=$(push org/moved v2 moved2)
run_ok "cosign signs org/moved:v1" -- cosign_sign_simple k1 "$R/org/moved@$d_m1"
run_ok "sigforge moves the tag v1 to v2's manifest" -- sigforge move-tag "$R/org/moved:v1" --to "$d_m2"
refused "a tag moved after signing" "$R/org/moved:v1" "no cosign signature is attached to $d_m2"
run_ok "the signed digest itself still pulls" -- spull "$R/org/moved@$d_m1"

# registries.d must turn the attachments on.
empty_d=$T/registries-empty.d
mkdir -p "$empty_d"
SIG_REGISTRIES_D=$empty_d AGREE=none refused "registries.d without use-sigstore-attachments" \
  "$R/org/simple:v1" "use-sigstore-attachments"
expect_fail 1 "$(re_escape "$T/nonexistent.json")" "a missing policy file" -- \
  env SIG_POLICY="$T/nonexistent.json" bash -c '"$0" --root "$1" pull --tls-verify=false --policy "$2" "$3"' "$MODELVOL" "$ROOT" "$T/nonexistent.json" "$R/org/simple:v1"
printf '{"default":[{"type":"insecureAcceptAnything"}],"defualt":[]}' >"$T/bad.json"
expect_fail 1 "$(re_escape "$T/bad.json").*defualt" "a policy with an unknown member" -- \
  mvol pull --tls-verify=false --policy "$T/bad.json" "$R/org/simple:v1"

# Scopes: the most specific wins.
P3=$T/p3.json
pol "$P3" '[{"type":"reject"}]' "$(jq -n --arg r "$R" --argjson q "$(sigstore_req "$K1" '{"type":"matchRepository"}')" \
  '{($r): [$q], ($r + "/org/unsigned"): [{type: "insecureAcceptAnything"}], ($r + "/org/simple:v1"): [{type: "reject"}]}')"
SIG_POLICY=$P3
run_ok "a repository scope accepting anything lets the unsigned model in" -- spull "$R/org/unsigned:v1"
AGREE=none refused "an exact-reference scope rejects" "$R/org/simple:v1" "the scope rejects it"
run_ok "containers/image agrees on the scopes (accept)" -- policy_check "$R/org/unsigned:v1"
policy_check "$R/org/simple:v1" && rc=0 || rc=$?
assert_eq "$rc" 1 "containers/image agrees on the scopes (reject)"
SIG_POLICY=$P1

# --- key types: P-384 and RSA signed by cosign, Ed25519 by sigforge (cosign signs Ed25519ph,
# which its own verify refuses) ---------------------------------------------------------------
for alg in ecdsa-p384 rsa ed25519; do
  cosign_keygen "k-$alg" "$alg"
  Pk=$T/p-$alg.json
  pol "$Pk" '[{"type":"reject"}]' "$(jq -n --arg r "$R" --argjson q "$(sigstore_req "$T/k-$alg.pub" '{"type":"matchRepository"}')" '{($r): [$q]}')"
  d=$(push "org/$alg" v1 "$alg")
  if [ "$alg" = ed25519 ]; then
    run_ok "sigforge signs with $alg" -- sigforge good --form simple --key "$T/k-$alg.pem" "$R/org/$alg@$d"
  else
    run_ok "cosign signs with $alg" -- cosign_sign_simple "k-$alg" "$R/org/$alg@$d"
    run_ok "cosign verifies $alg" -- cosign_verify "k-$alg" "$R/org/$alg:v1"
  fi
  SIG_POLICY=$Pk
  if [ "$alg" = ecdsa-p384 ]; then
    # cosign signs P-384 over SHA-384; containers/image checks every ECDSA signature over
    # SHA-256 and so refuses cosign's own P-384 signatures. modelvol takes both hashes.
    policy_check "$R/org/$alg:v1" && rc=0 || rc=$?
    assert_eq "$rc" 1 "$alg: containers/image refuses cosign's SHA-384 signature (the known difference)"
  else
    run_ok "$alg: containers/image accepts" -- policy_check "$R/org/$alg:v1"
  fi
  run_ok "$alg: pulled" -- spull "$R/org/$alg:v1"
  SIG_POLICY=$P1
done
# P-384 over SHA-256, as containers/image signs: both accept it.
d=$(push org/p384-sha256 v1 p384-sha256)
run_ok "sigforge signs with P-384 over SHA-256" -- sigforge good --form simple --hash sha256 --key "$T/k-ecdsa-p384.pem" "$R/org/p384-sha256@$d"
SIG_POLICY=$T/p-ecdsa-p384.json
run_ok "P-384/SHA-256: containers/image accepts" -- policy_check "$R/org/p384-sha256:v1"
run_ok "P-384/SHA-256: pulled" -- spull "$R/org/p384-sha256:v1"
SIG_POLICY=$P1

# --- the bundle form (cosign v3), found through the sha256-<hex> tag on docker-registry -------
d_b=$(push org/bundle v1 bundle)
run_ok "cosign signs org/bundle (bundle form)" -- cosign_sign_bundle k1 "$R/org/bundle@$d_b"
run_ok "cosign verifies the bundle" -- cosign_verify k1 "$R/org/bundle:v1" --bundle
# A cosign v3 bundle signs the digest only (its in-toto subject has no name): it proves no
# repository, so it counts only for a pull by digest under matchRepoDigestOrExact.
AGREE=none refused "a bundle for a pull by tag under matchRepository" "$R/org/bundle:v1" "names no reference"
P4=$T/p4.json
pol "$P4" '[{"type":"reject"}]' "$(jq -n --arg r "$R" --argjson q "$(sigstore_req "$K1")" '{($r): [$q]}')"
SIG_POLICY=$P4
run_ok "a bundle for a pull by digest under matchRepoDigestOrExact" -- spull "$R/org/bundle@$d_b"
run_ok "inspect the bundle-verified model" -- mvol --json inspect "$R/org/bundle@$d_b"
assert_eq "$(jq -r '.signature.requirements[0].format' <<<"$LAST_STDOUT")" bundle "verified with the bundle"
VERIFY_BUNDLE=--bundle
for kind in tampered-payload other-digest bad-base64 dup-keys wrong-key unknown-critical-key; do
  d=$(push "org/b-$kind" v1 "b-$kind")
  run_ok "sigforge $kind (bundle)" -- sigforge "$kind" --form bundle --key "$T/k1.pem" "$R/org/b-$kind@$d"
  # containers/image does not read bundles: it refuses all of these for want of a signature.
  refused "bundle form, $kind" "$R/org/b-$kind@$d" ""
done
unset VERIFY_BUNDLE
SIG_POLICY=$P1

# --- the referrers API (go-containerregistry's registry) --------------------------------------
ggcr_registry_start "$T/ggcr" spec
G=$GGCR_ADDR
mkmodel preset shared --variant b --seed ggcr --out "$T/l-ggcr" --ref v1 >/dev/null
d_g=$(ocipush "oci:$T/l-ggcr:v1" "$G/org/ref:v1")
run_ok "cosign signs on the referrers registry (bundle form)" -- cosign_sign_bundle k1 "$G/org/ref@$d_g"
tags=$(curl -sf "http://$G/v2/org/ref/tags/list" | jq -r '.tags[]' | sort | tr '\n' ' ')
assert_eq "$tags" "v1 " "the bundle is only a referrer (no fallback tag)"
P5=$T/p5.json
pol "$P5" '[{"type":"reject"}]' "$(jq -n --arg r "$G" --argjson q "$(sigstore_req "$K1")" '{($r): [$q]}')"
SIG_POLICY=$P5
run_ok "pulled, the bundle found through GET /v2/org/ref/referrers" -- spull "$G/org/ref@$d_g"
check "modelvol asked the referrers API" -- grep -q "/v2/org/ref/referrers/$d_g" "$GGCR_LOG"
SIG_POLICY=$P1

# --- Rekor SETs ---------------------------------------------------------------------------
openssl ecparam -name prime256v1 -genkey -noout 2>/dev/null | openssl pkcs8 -topk8 -nocrypt -out "$T/rekor.pem"
openssl pkey -in "$T/rekor.pem" -pubout -out "$T/rekor.pub" 2>/dev/null
P6=$T/p6.json
pol "$P6" '[{"type":"reject"}]' "$(jq -n --arg r "$R" --argjson q "$(sigstore_req "$K1" '{"type":"matchRepository"}' "$(jq -n --arg k "$T/rekor.pub" '{rekorPublicKeyPath: $k}')")" '{($r): [$q]}')"
SIG_POLICY=$P6
unset VERIFY_KEY
d_r=$(push org/rekor v1 rekor)
run_ok "sigforge rekor-set" -- sigforge rekor-set --form simple --key "$T/k1.pem" --rekor-key "$T/rekor.pem" "$R/org/rekor@$d_r"
run_ok "containers/image accepts the SET" -- policy_check "$R/org/rekor:v1"
run_ok "pulled with a valid SET" -- spull "$R/org/rekor:v1"
run_ok "inspect" -- mvol --json inspect "$R/org/rekor:v1"
fpr=SHA256:$(openssl pkey -pubin -in "$T/rekor.pub" -outform DER | sha256sum | cut -c1-64)
assert_eq "$(jq -r '.signature.requirements[0]["rekor-key"]' <<<"$LAST_STDOUT")" "$fpr" "the verdict names the Rekor key"
for kind in rekor-bad-set rekor-other-body; do
  d=$(push "org/$kind" v1 "$kind")
  run_ok "sigforge $kind" -- sigforge "$kind" --form simple --key "$T/k1.pem" --rekor-key "$T/rekor.pem" "$R/org/$kind@$d"
  refused "simple form, $kind" "$R/org/$kind:v1" ""
done
refused "no SET where the policy names a Rekor key" "$R/org/simple:v1" "SET"
SIG_POLICY=$P1

# --- audit mode ------------------------------------------------------------------------------
run_ok "audit mode pulls an unsigned model" -- spull --signature-mode audit "$R/org/unsigned:v1"
assert_match "$LAST_STDERR" "^modelvol: warning: $(re_escape "$R/org/unsigned:v1"): audit mode: pulled although policy $(re_escape "$P1") \(scope $(re_escape "$R")\): no cosign signature" \
  "and warns with the reason"
run_ok "inspect the audited model" -- mvol inspect "$R/org/unsigned:v1"
assert_match "$LAST_STDOUT" "^Signature: +audit: would be refused: " "inspect shows it was only audited"
printf '[signatures]\npolicy = %s\nregistries-d = %s\n' "$P1" "$reg_d" >"$conf"
expect_fail 1 "only audited" "an audited verdict does not satisfy an enforcing policy" -- \
  env MODELVOL_CONFIG="$conf" "$MODELVOL" --root "$ROOT" verify "$R/org/unsigned:v1"
printf '[signatures]\npolicy = %s\nregistries-d = %s\nmode = audit\n' "$P1" "$reg_d" >"$conf"
run_ok "[signatures] mode = audit in modelvol.conf" -- env MODELVOL_CONFIG="$conf" "$MODELVOL" --root "$ROOT" pull --tls-verify=false "$R/org/wrongkey:v1"
assert_match "$LAST_STDERR" "audit mode: pulled although" "warns"
printf '[signatures]\nmode = sometimes\n' >"$conf"
expect_fail 1 "$(re_escape "$conf").*mode must be enforce or audit" "a bad mode in modelvol.conf" -- \
  env MODELVOL_CONFIG="$conf" "$MODELVOL" --root "$ROOT" pull --tls-verify=false "$R/org/simple:v1"

# Existing models survived every refusal.
run_ok "fsck after all of it" -- mvol fsck
finish
