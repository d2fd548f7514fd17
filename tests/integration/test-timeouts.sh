#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Timeouts and Retry-After (SECURITY-BAR 8 and 9), through tests/lib/faultproxy.py in front of
# a real docker-registry:
# - a blob that drips one byte every few seconds, and a manifest request never answered, fail
#   on the low-speed limit (--low-speed-time, MODELVOL_LOW_SPEED_TIME) within a bound, with
#   bounded retries; a transfer that stalls half-way resumes and completes;
# - the overall deadline (--timeout, MODELVOL_TIMEOUT) ends a blob that trickles just above the
#   low-speed limit, and a request never answered, at once and without retries;
# - after each failure nothing is stored, fsck is clean, and a pull through a good path works;
# - Retry-After as delay-seconds, as an HTTP-date (capped by MODELVOL_RETRY_AFTER_MAX), in the
#   past, or garbage (the normal backoff).
. "$(dirname "$0")/../lib/common.sh"
. "$TESTS_LIB/registry.sh"

registry_start "$T/reg" >/dev/null
R=$REGISTRY
mkmodel preset big --size-mb 2 --layers 2 --seed slow --out "$T/m" --ref v1 --info "$T/m.json" --expect "$T/exp" >/dev/null
for tag in v1 hang deadline ra1 ra2 ra3 ra4; do
  run_ok "push tag $tag" -- ocipush "oci:$T/m:v1" "$R/org/m:$tag"
done
big=$(jq -r '[.layers[]] | max_by(.size) | .digest' "$T/m.json")

cat >"$T/rules.json" <<JSON
[
  {"match": "/manifests/hang\$", "actions": ["hang"]},
  {"match": "/manifests/deadline\$", "actions": ["hang"]},
  {"match": "/manifests/ra1\$", "actions": ["429:soon", "429:date-60", "pass"]},
  {"match": "/manifests/ra2\$", "actions": ["429:date+3600", "pass"]},
  {"match": "/manifests/ra3\$", "actions": ["503:date+2", "pass"]},
  {"match": "/manifests/ra4\$", "actions": ["429:99999999999999999999999", "pass"]}
]
JSON
: >"$T/proxy.log"
faultproxy P "$R" "$T/rules.json" "$T/proxy.log"

# after_failure WHAT: nothing stored, fsck clean, and the layer locks are free: a pull of the
# same model through the registry itself works.
after_failure() {
  assert_eq "$(model_count)" 0 "$1: no model stored"
  assert_eq "$(find "$ROOT/tmp" -mindepth 1 | wc -l)" 0 "$1: nothing left in tmp/"
  run_ok "$1: fsck clean" -- mvol fsck
}

# fail_within SECONDS ERE DESC -- CMD...: expect_fail 1 ERE DESC, and CMD took less than
# SECONDS.
fail_within() {
  local limit=$1 pat=$2 desc=$3 start=$SECONDS
  shift 3
  expect_fail 1 "$pat" "$desc" "$@"
  check "$desc: gave up within $limit s (took $((SECONDS - start)) s)" -- test $((SECONDS - start)) -lt "$limit"
}

# count PATTERN: requests in the proxy log matching PATTERN (an ERE).
count() {
  grep -Ec -- "$1" "$T/proxy.log" || true
}

# --- the low-speed limit ---------------------------------------------------------------------
# Slowloris on a blob: one byte every 3 s. With a 1 s low-speed time each connection is dropped
# after about a second, resumed (Range) up to 3 times, and the layer started over up to 3 times.
cat >"$T/drip.json" <<JSON
[{"match": "/blobs/$big", "method": "GET", "actions": ["drip:3"]}]
JSON
: >"$T/drip.log"
faultproxy D "$R" "$T/drip.json" "$T/drip.log"
new_root
fail_within 60 "blobs/$big: Operation too slow" "a blob dripping one byte every 3 s, 1 s low-speed time" -- \
  mvol pull --tls-verify=false --low-speed-time 1 "$D/org/m:v1"
n=$(grep -c "GET .*/blobs/$big " "$T/drip.log" || true)
check "slowloris: bounded tries: 4 connections a start, 3 starts ($n requests)" -- test "$n" -ge 2 -a "$n" -le 12
check "slowloris: the tries after the first byte resumed with Range" -- grep -q "GET .*/blobs/$big -> drip:3 .*range=bytes=[1-9]" "$T/drip.log"
after_failure "slowloris"
run_ok "slowloris: then a pull through a good path works" -- mvol pull --tls-verify=false --low-speed-time 1 "$R/org/m:v1"
run_ok "path" -- mvol path "$R/org/m:v1"
assert_tree_eq "$LAST_STDOUT" "$T/exp" "byte-exact"

# A manifest request that is never answered (the server keeps the connection and says
# nothing): the low-speed limit ends each try, five tries with backoff.
new_root
fail_within 40 "manifests/hang: Operation too slow" "a server that never answers, 1 s low-speed time" -- \
  env MODELVOL_LOW_SPEED_TIME=1 "$MODELVOL" --root "$ROOT" pull --tls-verify=false "$P/org/m:hang"
assert_eq "$(count '/manifests/hang ')" 5 "never answers: five tries"
after_failure "never answers"

# A transfer that stalls half-way (the server sends half the blob, then nothing, and never
# closes): dropped on the low-speed limit, resumed from where it stopped.
cat >"$T/stall.json" <<JSON
[{"match": "/blobs/$big", "method": "GET", "actions": ["stall", "pass"]}]
JSON
: >"$T/stall.log"
faultproxy S "$R" "$T/stall.json" "$T/stall.log"
new_root
run_ok "a stalled blob resumes" -- env MODELVOL_LOW_SPEED_TIME=1 "$MODELVOL" --root "$ROOT" pull --tls-verify=false "$S/org/m:v1"
check "stalled: the second request asked for the rest" -- grep -q "GET .*/blobs/$big -> pass .*range=bytes=[1-9][0-9]*-" "$T/stall.log"
run_ok "stalled: path" -- mvol path "$S/org/m:v1"
assert_tree_eq "$LAST_STDOUT" "$T/exp" "stalled: byte-exact"

# --- the overall deadline --------------------------------------------------------------------
# 2000 bytes a second stays above the 1024 B/s low-speed limit: only the deadline ends it, once.
cat >"$T/trickle.json" <<JSON
[{"match": "/blobs/$big", "method": "GET", "actions": ["throttle:2000"]}]
JSON
: >"$T/trickle.log"
faultproxy TR "$R" "$T/trickle.json" "$T/trickle.log"
new_root
fail_within 15 "blobs/$big: not done by the overall deadline" "a blob trickling at 2 KB/s, --timeout 3" -- \
  mvol pull --tls-verify=false --timeout 3 "$TR/org/m:v1"
assert_eq "$(grep -c "GET .*/blobs/$big " "$T/trickle.log" || true)" 1 "deadline: no resume or restart after it"
after_failure "deadline"
new_root
fail_within 10 "manifests/deadline: not done by the overall deadline" "a server that never answers, MODELVOL_TIMEOUT=2" -- \
  env MODELVOL_TIMEOUT=2 "$MODELVOL" --root "$ROOT" pull --tls-verify=false "$P/org/m:deadline"
assert_eq "$(count '/manifests/deadline ')" 1 "deadline, never answers: one try"
after_failure "deadline, never answers"
run_ok "after the deadlines a pull through a good path works" -- mvol pull --tls-verify=false --timeout 60 "$R/org/m:v1"

# Settings that make no sense are refused by name.
expect_exit 2 "--low-speed-time 0 is a usage error" -- mvol pull --tls-verify=false --low-speed-time 0 "$R/org/m:v1"
expect_fail 1 "MODELVOL_TIMEOUT: 'soon' is not a whole number" "a bad MODELVOL_TIMEOUT" -- \
  env MODELVOL_TIMEOUT=soon "$MODELVOL" --root "$ROOT" pull --tls-verify=false "$R/org/m:v1"
expect_fail 1 "MODELVOL_LOW_SPEED_LIMIT: '-1'" "a bad MODELVOL_LOW_SPEED_LIMIT" -- \
  env MODELVOL_LOW_SPEED_LIMIT=-1 "$MODELVOL" --root "$ROOT" pull --tls-verify=false "$R/org/m:v1"

# --- Retry-After -----------------------------------------------------------------------------
new_root
run_ok "Retry-After garbage, then a date in the past" -- mvol -v pull --tls-verify=false "$P/org/m:ra1"
check "garbage: the normal backoff (200 ms)" -- grep -q "HTTP 429); retrying in 200 ms" <<<"$LAST_STDERR"
check "a past date: the normal backoff (400 ms)" -- grep -q "HTTP 429); retrying in 400 ms" <<<"$LAST_STDERR"
new_root
start=$SECONDS
run_ok "Retry-After an hour away, MODELVOL_RETRY_AFTER_MAX=1" -- \
  env MODELVOL_RETRY_AFTER_MAX=1 "$MODELVOL" --root "$ROOT" -v pull --tls-verify=false "$P/org/m:ra2"
check "an HTTP-date an hour away: capped at 1 s" -- grep -q "HTTP 429); retrying in 1000 ms" <<<"$LAST_STDERR"
check "and it did not wait for the hour ($((SECONDS - start)) s)" -- test $((SECONDS - start)) -lt 20
new_root
run_ok "Retry-After an HTTP-date 2 s away" -- mvol -v pull --tls-verify=false "$P/org/m:ra3"
wait_ms=$(sed -nE 's/.*HTTP 503\); retrying in ([0-9]+) ms.*/\1/p' <<<"$LAST_STDERR")
check "an HTTP-date 2 s away: a wait of 0.5 to 2 s (${wait_ms:-none} ms)" -- test "${wait_ms:-0}" -ge 500 -a "${wait_ms:-0}" -le 2000
new_root
run_ok "Retry-After of more seconds than fit, MODELVOL_RETRY_AFTER_MAX=1" -- \
  env MODELVOL_RETRY_AFTER_MAX=1 "$MODELVOL" --root "$ROOT" -v pull --tls-verify=false "$P/org/m:ra4"
check "huge delay-seconds: capped at 1 s" -- grep -q "HTTP 429); retrying in 1000 ms" <<<"$LAST_STDERR"
registry_stop
finish
