# shellcheck shell=bash
# SPDX-License-Identifier: Apache-2.0
# Sourceable: cosign signatures for tests, made and checked by real tools, all on 127.0.0.1
# and offline (no Rekor, Fulcio or TUF: nothing leaves loopback, nothing is written outside
# $T). Needs tests/lib/common.sh and tests/lib/registry.sh first. The tools are built by
# contrib/build-go-tools.sh (pinned in contrib/go-tools.versions) under $MVTEST_GO_TOOLS
# (default /var/cache/modelvol-tests/go-tools):
#   $COSIGN_BIN         cosign (github.com/sigstore/cosign/v3/cmd/cosign)
#   $GGCR_REGISTRY_BIN  tests/tools/ggcr-registry: go-containerregistry's in-memory registry
#                       with the OCI 1.1 referrers API
#   $POLICY_CHECK_BIN   tests/tools/policy-check: containers/image's verdict for a policy.json
# and $SIGFORGE (tests/lib/sigforge.py: hand-built signatures, good and hostile).
#
# What cosign v3.1.3 writes (tests/data/sigstore/README.md has real examples):
#   simple form  the tag sha256-<hex>.sig: an OCI image manifest whose layers are
#                application/vnd.dev.cosign.simplesigning.v1+json payloads, each with the
#                annotation dev.cosignproject.cosign/signature (base64 signature over the
#                payload bytes) and, with a Rekor entry, dev.sigstore.cosign/bundle.
#   bundle form  a manifest with artifactType application/vnd.dev.sigstore.bundle.v0.3+json
#                and a subject (the signed manifest), pushed by digest, one layer holding the
#                Sigstore bundle (a DSSE envelope around an in-toto statement); found through
#                GET /v2/<name>/referrers/<digest>, or where that API is missing (Debian's
#                docker-registry) through the index tagged sha256-<hex>.
#
# Functions (each exits 0 or prints one line on stderr and returns non-zero, unless noted):
#   sig_tools_or_skip        the three tools and python3-cryptography are there (and our two
#                            tools built from the current sources), else the test is skipped
#                            (skip_all), or fails when CI=true (the CI image has them).
#   ggcr_registry_start DIR [spec|ggcr|off]
#                            one ggcr-registry (in memory; its log DIR/ggcr-registry.log) on a
#                            free port; killed when the test ends (CLEANUP_PIDS). Sets GGCR_PORT,
#                            GGCR_ADDR (127.0.0.1:PORT), GGCR_PID and GGCR_LOG. The mode is
#                            its -referrers flag: spec (default: the referrers API as the
#                            distribution spec says), ggcr (the library's own answers:
#                            artifactType = config.mediaType, no filtering) or off (no API:
#                            clients use the sha256-<hex> tag schema).
#   ggcr_registry_stop       stops the one ggcr_registry_start started last.
#   cosign_run ARGS...       cosign with HOME, TUF_ROOT, DOCKER_CONFIG and the XDG dirs under
#                            $T/cosign-home, SIGSTORE_NO_CACHE, an empty COSIGN_PASSWORD, no
#                            SIGSTORE_* trust overrides (unless the caller sets
#                            COSIGN_REKOR_PUB, a Rekor public key PEM for
#                            SIGSTORE_REKOR_PUBLIC_KEY), a 60 s bound. Sets COSIGN_SECONDS
#                            (wall time of the command).
#   cosign_keygen NAME [ALG] keys in $T: NAME.key (cosign's encrypted private key, password
#                            ""), NAME.pub (PEM public key) and, except for ecdsa-p256-native,
#                            NAME.pem (the same private key as unencrypted PKCS#8, for
#                            sigforge.py). ALG: ecdsa-p256 (default), ecdsa-p384, ed25519,
#                            rsa (2048 bits): made with openssl, then `cosign import-key-pair`;
#                            ecdsa-p256-native: `cosign generate-key-pair`. Sets KEY_ALG_<NAME>.
#   cosign_sign_simple KEY REF@DIGEST
#   cosign_sign_bundle KEY REF@DIGEST
#                            cosign sign with KEY (a NAME.key path, or NAME for $T/NAME.key), key
#                            based, no transparency log, no signing config, plain HTTP allowed;
#                            simple form (--new-bundle-format=false) or bundle form (=true).
#                            Output in $COSIGN_OUT.
#   cosign_verify KEY REF [--bundle]
#                            cosign verify with the public key (NAME.pub path, or NAME), tlog
#                            ignored; without --bundle only the simple form counts
#                            (--new-bundle-format=false); with --bundle only the bundle form
#                            (cosign verifies bundles when it finds any and the old tag
#                            otherwise: --bundle also requires that the verified payload is the
#                            bundle's in-toto statement). Returns cosign's status; output in
#                            $COSIGN_OUT. A P-384 key gets --signature-digest-algorithm
#                            sha384 (cosign signs P-384 with SHA-384 but verifies with SHA-256
#                            unless told). With COSIGN_VERIFY_TLOG=1 the tlog is not ignored:
#                            the simple form's dev.sigstore.cosign/bundle SET is checked
#                            against $COSIGN_REKOR_PUB.
#   sig_policy DIR KEY.pub [SIGNED-IDENTITY-JSON]
#                            writes DIR/policy.json (sigstoreSigned with keyPath for every
#                            docker reference, signedIdentity default matchRepository: cosign
#                            signs repository names without tags) and DIR/registries.d with
#                            use-sigstore-attachments: true. Sets SIG_POLICY and SIG_REGISTRIES_D.
#   policy_check REF         policy-check with $SIG_POLICY and $SIG_REGISTRIES_D on
#                            docker://REF; sets POLICY_VERDICT ("accept", "reject: ...", or
#                            "error: ..."), returns its status (0 accept, 1 reject, 2 error).
# shellcheck disable=SC2034  # read by the test scripts

# shellcheck source=contrib/go-tools.versions
. "$SRCDIR/contrib/go-tools.versions"
SIG_GO_TOOLS=${MVTEST_GO_TOOLS:-/var/cache/modelvol-tests/go-tools}
COSIGN_BIN=$SIG_GO_TOOLS/cosign/$COSIGN_VERSION/cosign
GGCR_REGISTRY_BIN=$SIG_GO_TOOLS/ggcr-registry/$GGCR_VERSION/ggcr-registry
POLICY_CHECK_BIN=$SIG_GO_TOOLS/policy-check/$CONTAINERS_IMAGE_VERSION/policy-check
SIGFORGE=(python3 "$TESTS_LIB/sigforge.py")

sigforge() {
  "${SIGFORGE[@]}" "$@"
}

_sig_missing() {
  if [ "${CI:-}" = true ]; then
    echo "# $TEST_NAME: $1 (contrib/install-deps.sh builds or installs it)" >&2
    exit 1
  fi
  skip_all "$1 (run contrib/install-deps.sh)"
}

# _sig_src_hash DIR: as go_tool_src_hash in contrib/build-go-tools.sh.
_sig_src_hash() { (cd "$1" && cat main.go go.mod go.sum | sha256sum | cut -c1-16); }

sig_tools_or_skip() {
  local b stamp
  for b in "$COSIGN_BIN" "$GGCR_REGISTRY_BIN" "$POLICY_CHECK_BIN"; do
    [ -x "$b" ] || _sig_missing "$b is not built"
  done
  for b in "$GGCR_REGISTRY_BIN" "$POLICY_CHECK_BIN"; do
    stamp=$(cat "$(dirname "$b")/stamp" 2>/dev/null || true)
    case "$stamp" in
      *" src=$(_sig_src_hash "$SRCDIR/tests/tools/$(basename "$b")") "*) ;;
      *) _sig_missing "$b is built from other sources than tests/tools/$(basename "$b")" ;;
    esac
  done
  python3 -c 'import cryptography' 2>/dev/null || _sig_missing "python3-cryptography is not installed"
  command -v openssl >/dev/null || _sig_missing "openssl is not installed"
  mkdir -p "$T/cosign-home"
}

ggcr_registry_start() {
  local dir=$1 mode=${2:-spec} portfile
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  GGCR_LOG=$dir/ggcr-registry.log
  portfile=$dir/ggcr-registry.port
  : >"$portfile"
  "$GGCR_REGISTRY_BIN" -referrers "$mode" >"$portfile" 2>>"$GGCR_LOG" &
  GGCR_PID=$!
  CLEANUP_PIDS+=("$GGCR_PID")
  for _ in $(seq 100); do
    [ -s "$portfile" ] && break
    kill -0 "$GGCR_PID" 2>/dev/null || break
    sleep 0.1
  done
  if [ ! -s "$portfile" ]; then
    echo "ggcr_registry_start: did not start; log:" >&2
    cat "$GGCR_LOG" >&2
    return 1
  fi
  GGCR_PORT=$(head -n 1 "$portfile")
  GGCR_ADDR=127.0.0.1:$GGCR_PORT
  export GGCR_PORT GGCR_ADDR GGCR_PID GGCR_LOG
}

ggcr_registry_stop() {
  if [ -n "${GGCR_PID:-}" ]; then
    kill "$GGCR_PID" 2>/dev/null || true
    wait "$GGCR_PID" 2>/dev/null || true
    unset GGCR_PID GGCR_PORT GGCR_ADDR
  fi
}

cosign_run() {
  local h=$T/cosign-home rc=0 start
  mkdir -p "$h"
  start=$(date +%s.%N)
  env -u SIGSTORE_REKOR_PUBLIC_KEY -u SIGSTORE_ROOT_FILE -u SIGSTORE_CT_LOG_PUBLIC_KEY_FILE \
    -u SIGSTORE_TSA_CERTIFICATE_FILE -u COSIGN_REPOSITORY -u COSIGN_EXPERIMENTAL \
    -u http_proxy -u https_proxy -u HTTP_PROXY -u HTTPS_PROXY \
    HOME="$h" TUF_ROOT="$h/tuf" DOCKER_CONFIG="$h/docker" XDG_CONFIG_HOME="$h/config" \
    XDG_CACHE_HOME="$h/cache" XDG_DATA_HOME="$h/data" SIGSTORE_NO_CACHE=true COSIGN_PASSWORD= \
    NO_PROXY='*' ${COSIGN_REKOR_PUB:+SIGSTORE_REKOR_PUBLIC_KEY="$COSIGN_REKOR_PUB"} \
    timeout 60 "$COSIGN_BIN" --timeout 30s "$@" || rc=$?
  COSIGN_SECONDS=$(echo "$(date +%s.%N) - $start" | bc)
  return $rc
}

# _sig_key NAME|PATH EXT: PATH as is, NAME as $T/NAME.EXT.
_sig_key() {
  case "$1" in
    */* | *.key | *.pub | *.pem) echo "$1" ;;
    *) echo "$T/$1.$2" ;;
  esac
}

cosign_keygen() {
  local name=$1 alg=${2:-ecdsa-p256} out
  out=$T/$name
  rm -f "$out.key" "$out.pub" "$out.pem"
  case "$alg" in
    ecdsa-p256-native)
      (cd "$T" && cosign_run generate-key-pair --output-key-prefix "$name" >/dev/null 2>&1) || {
        echo "cosign_keygen: generate-key-pair failed" >&2
        return 1
      }
      ;;
    ecdsa-p256 | ecdsa-p384)
      openssl ecparam -name "$([ "$alg" = ecdsa-p256 ] && echo prime256v1 || echo secp384r1)" \
        -genkey -noout 2>/dev/null | openssl pkcs8 -topk8 -nocrypt -out "$out.pem"
      ;;
    ed25519) openssl genpkey -algorithm ed25519 -out "$out.pem" 2>/dev/null ;;
    rsa) openssl genpkey -algorithm rsa -pkeyopt rsa_keygen_bits:2048 -out "$out.pem" 2>/dev/null ;;
    *)
      echo "cosign_keygen: unknown algorithm $alg" >&2
      return 1
      ;;
  esac
  if [ "$alg" != ecdsa-p256-native ]; then
    (cd "$T" && cosign_run import-key-pair --key "$out.pem" --output-key-prefix "$name" -y \
      >/dev/null 2>&1) || {
      echo "cosign_keygen: import-key-pair of $alg failed" >&2
      return 1
    }
  fi
  [ -s "$out.key" ] && [ -s "$out.pub" ] || {
    echo "cosign_keygen: no $out.key / $out.pub" >&2
    return 1
  }
  printf -v "KEY_ALG_${name//[^A-Za-z0-9_]/_}" '%s' "$alg"
}

# _cosign_sign FORM KEY REF
_cosign_sign() {
  local key rc=0
  key=$(_sig_key "$2" key)
  COSIGN_OUT=$(cosign_run sign --key "$key" --use-signing-config=false --tlog-upload=false \
    --new-bundle-format="$1" --allow-http-registry --allow-insecure-registry -y "$3" 2>&1) || rc=$?
  if [ $rc -ne 0 ]; then
    echo "cosign sign ($([ "$1" = true ] && echo bundle || echo simple)) $3: exit $rc: $COSIGN_OUT" >&2
  fi
  return $rc
}

cosign_sign_simple() { _cosign_sign false "$1" "$2"; }
cosign_sign_bundle() { _cosign_sign true "$1" "$2"; }

cosign_verify() {
  local pub ref=$2 bundle=${3:-} rc=0 args=()
  pub=$(_sig_key "$1" pub)
  if openssl pkey -pubin -in "$pub" -noout -text 2>/dev/null | grep -q 'NIST CURVE: P-384'; then
    args+=(--signature-digest-algorithm sha384)
  fi
  [ "${COSIGN_VERIFY_TLOG:-0}" = 1 ] || args+=(--insecure-ignore-tlog)
  if [ "$bundle" = --bundle ]; then
    args+=(--new-bundle-format=true)
  else
    args+=(--new-bundle-format=false)
  fi
  COSIGN_OUT=$(cosign_run verify --key "$pub" "${args[@]}" --allow-http-registry \
    --allow-insecure-registry --output json "$ref" 2>&1) || rc=$?
  if [ $rc -eq 0 ] && [ "$bundle" = --bundle ] \
    && ! grep -q '"type":"https://sigstore.dev/cosign/sign/v1"' <<<"$COSIGN_OUT"; then
    COSIGN_OUT="cosign_verify --bundle: cosign verified something else than a bundle: $COSIGN_OUT"
    rc=99
  fi
  return $rc
}

sig_policy() {
  local dir=$1 pub ident=${3:-'{"type":"matchRepository"}'}
  pub=$(cd "$(dirname "$(_sig_key "$2" pub)")" && pwd)/$(basename "$(_sig_key "$2" pub)")
  mkdir -p "$dir/registries.d"
  SIG_POLICY=$dir/policy.json
  SIG_REGISTRIES_D=$dir/registries.d
  jq -n --arg k "$pub" --argjson id "$ident" '{default: [{type: "reject"}],
    transports: {docker: {"": [{type: "sigstoreSigned", keyPath: $k, signedIdentity: $id}]}}}' \
    >"$SIG_POLICY"
  printf 'default-docker:\n  use-sigstore-attachments: true\n' >"$SIG_REGISTRIES_D/default.yaml"
}

policy_check() {
  local rc=0
  POLICY_VERDICT=$("$POLICY_CHECK_BIN" --policy "$SIG_POLICY" --registries-d "$SIG_REGISTRIES_D" \
    "docker://$1" 2>&1) || rc=$?
  return $rc
}
