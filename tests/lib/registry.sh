# shellcheck shell=bash
# SPDX-License-Identifier: Apache-2.0
# Sourceable: a throwaway docker-registry (distribution 2.8) on 127.0.0.1 for tests.
#
#   registry_start DIR [USER:PASS] [CERT KEY]
#                                    filesystem storage under DIR/data, delete enabled, a free
#                                    port; with USER:PASS[,USER:PASS...] (may be ""), htpasswd
#                                    Basic auth; with
#                                    CERT and KEY (PEM files), TLS. $MVTEST_REGISTRY_EXTRA, if
#                                    set, names a YAML file appended to the config (token auth,
#                                    proxy). Waits until /v2/
#                                    answers; exports REGISTRY_PORT, REGISTRY_PID, REGISTRY
#                                    (127.0.0.1:PORT) and REGISTRY_LOG.
#   registry_stop                    stops the registry started by registry_start.
#   registry_url PATH                http://127.0.0.1:PORT/PATH
#   registry_start_open DIR          one more registry, open (no auth), on the storage of DIR
#                                    (to push what an auth registry on DIR then serves); it is
#                                    not the one registry_stop stops (it ends with the test).
#                                    Sets OPEN_REGISTRY; REGISTRY* are left as they were; its
#                                    log is DIR/$MVTEST_REGISTRY_NAME.log (default
#                                    open-registry.log).
#   tokenserver_start DIR USERS [OPTIONS...]
#                                    tests/lib/tokenserver.py with a signing key of its own in
#                                    DIR (USERS and OPTIONS as it takes them). Sets
#                                    TOKEN_SERVER, TOKEN_LOG (DIR/token.log) and TOKEN_AUTH_YML,
#                                    a config for MVTEST_REGISTRY_EXTRA that makes a registry
#                                    use it as its (plain http) realm.
# Both need tests/lib/common.sh.

registry_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

registry_start() {
  local dir=$1 auth=${2:-} cert=${3:-} key=${4:-} port conf code up scheme=http
  command -v docker-registry >/dev/null || { echo "registry_start: docker-registry not installed" >&2; return 1; }
  mkdir -p "$dir/data"
  dir=$(cd "$dir" && pwd)
  conf=$dir/${MVTEST_REGISTRY_NAME:-config}.yml
  REGISTRY_LOG=$dir/${MVTEST_REGISTRY_NAME:-registry}.log
  for _ in 1 2 3 4 5; do
    port=$(registry_free_port)
    {
      echo "version: 0.1"
      echo "log:"
      echo "  level: warn"
      echo "  accesslog:"
      echo "    disabled: false"
      echo "storage:"
      echo "  filesystem:"
      echo "    rootdirectory: $dir/data"
      echo "  delete:"
      echo "    enabled: true"
      echo "  maintenance:"
      echo "    uploadpurging:"
      echo "      enabled: false"
      echo "http:"
      echo "  addr: 127.0.0.1:$port"
      echo "  secret: modelvol-tests-secret"
      if [ -n "$cert" ]; then
        echo "  tls:"
        echo "    certificate: $cert"
        echo "    key: $key"
      fi
      if [ -n "$auth" ]; then
        : >"$dir/htpasswd"
        for up in ${auth//,/ }; do htpasswd -Bbn "${up%%:*}" "${up#*:}" >>"$dir/htpasswd"; done
        echo "auth:"
        echo "  htpasswd:"
        echo "    realm: modelvol-tests"
        echo "    path: $dir/htpasswd"
      fi
      if [ -n "${MVTEST_REGISTRY_EXTRA:-}" ]; then cat "$MVTEST_REGISTRY_EXTRA"; fi
    } >"$conf"
    # docker-registry reads REGISTRY_* variables as configuration overrides: ours must not
    # reach it (REGISTRY_LOG of an earlier registry would replace the log section).
    env -u REGISTRY -u REGISTRY_LOG -u REGISTRY_PORT -u REGISTRY_PID \
      docker-registry serve "$conf" >"$REGISTRY_LOG" 2>&1 &
    REGISTRY_PID=$!
    for _ in $(seq 1 100); do
      if [ -n "$cert" ]; then scheme=https; fi
      code=$(python3 - "$port" "$scheme" <<'PY' 2>/dev/null || true
import http.client, ssl, sys
try:
    if sys.argv[2] == "https":
        c = http.client.HTTPSConnection("127.0.0.1", int(sys.argv[1]), timeout=1,
                                        context=ssl._create_unverified_context())
    else:
        c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=1)
    c.request("GET", "/v2/")
    print(c.getresponse().status)
except Exception:
    print(0)
PY
)
      # 200 open, 401 with auth: either way the registry answers.
      if [ "$code" = 200 ] || [ "$code" = 401 ]; then
        REGISTRY_PORT=$port
        REGISTRY=127.0.0.1:$port
        export REGISTRY_PORT REGISTRY_PID REGISTRY REGISTRY_LOG
        return 0
      fi
      kill -0 "$REGISTRY_PID" 2>/dev/null || break
      sleep 0.1
    done
    # Lost a race for the port or did not come up: retry on another port.
    kill "$REGISTRY_PID" 2>/dev/null || true
    wait "$REGISTRY_PID" 2>/dev/null || true
  done
  echo "registry_start: docker-registry did not come up; log:" >&2
  cat "$REGISTRY_LOG" >&2 || true
  return 1
}

registry_stop() {
  if [ -n "${REGISTRY_PID:-}" ]; then
    kill "$REGISTRY_PID" 2>/dev/null || true
    wait "$REGISTRY_PID" 2>/dev/null || true
    unset REGISTRY_PID REGISTRY_PORT REGISTRY
  fi
}

registry_url() {
  echo "http://127.0.0.1:$REGISTRY_PORT/${1#/}"
}

registry_start_open() {
  local saved_pid=${REGISTRY_PID:-} saved_port=${REGISTRY_PORT:-} saved=${REGISTRY:-}
  local saved_log=${REGISTRY_LOG:-}
  unset REGISTRY_PID
  MVTEST_REGISTRY_NAME=${MVTEST_REGISTRY_NAME:-open-registry} registry_start "$1" >/dev/null
  # shellcheck disable=SC2034  # read by the tests
  OPEN_REGISTRY=$REGISTRY
  CLEANUP_PIDS+=("$REGISTRY_PID")
  REGISTRY_PID=$saved_pid REGISTRY_PORT=$saved_port REGISTRY=$saved REGISTRY_LOG=$saved_log
  [ -n "$REGISTRY_PID" ] || unset REGISTRY_PID
}

tokenserver_start() {
  local dir=$1 users=$2
  shift 2
  mkdir -p "$dir"
  if [ ! -f "$dir/token.key" ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$dir/token.key" -out "$dir/token.crt" \
      -days 2 -subj "/CN=modelvol token signer" 2>/dev/null
  fi
  TOKEN_LOG=$dir/token.log
  : >"$TOKEN_LOG"
  serve TOKEN_SERVER python3 "$TESTS_LIB/tokenserver.py" "$dir/token.key" "$dir/token.crt" \
    mv-issuer mv-registry "$users" "$TOKEN_LOG" "$@"
  TOKEN_AUTH_YML=$dir/token-auth.yml
  cat >"$TOKEN_AUTH_YML" <<YAML
auth:
  token:
    realm: http://$TOKEN_SERVER/token
    service: mv-registry
    issuer: mv-issuer
    rootcertbundle: $dir/token.crt
YAML
}
