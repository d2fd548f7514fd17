# shellcheck shell=bash
# SPDX-License-Identifier: Apache-2.0
# Sourceable: a throwaway docker-registry (distribution 2.8) on 127.0.0.1 for tests.
#
#   registry_start DIR [USER:PASS] [CERT KEY]
#                                    filesystem storage under DIR/data, delete enabled, a free
#                                    port; with USER:PASS (may be ""), htpasswd Basic auth; with
#                                    CERT and KEY (PEM files), TLS. $MVTEST_REGISTRY_EXTRA, if
#                                    set, names a YAML file appended to the config (token auth,
#                                    proxy). Waits until /v2/
#                                    answers; exports REGISTRY_PORT, REGISTRY_PID, REGISTRY
#                                    (127.0.0.1:PORT) and REGISTRY_LOG.
#   registry_stop                    stops the registry started by registry_start.
#   registry_url PATH                http://127.0.0.1:PORT/PATH

registry_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

registry_start() {
  local dir=$1 auth=${2:-} cert=${3:-} key=${4:-} port conf code scheme=http
  command -v docker-registry >/dev/null || { echo "registry_start: docker-registry not installed" >&2; return 1; }
  mkdir -p "$dir/data"
  dir=$(cd "$dir" && pwd)
  conf=$dir/config.yml
  REGISTRY_LOG=$dir/registry.log
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
        htpasswd -Bbn "${auth%%:*}" "${auth#*:}" >"$dir/htpasswd"
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
