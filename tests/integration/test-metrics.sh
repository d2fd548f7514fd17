#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Metrics and df. A pull from a real docker-registry, imports (one failing), mounts at a host
# directory (one failing), a prune: each counted by the process that did it, in the store's
# counters file, and the exposition (checked by prometheus_client's parser and our strict one,
# tests/lib/promparse.py) shows exact values. Concurrent processes lose no count. The textfile
# is replaced atomically with mode 0644; --listen serves GET /metrics on loopback only (404,
# 405, 431 otherwise) and refuses 0.0.0.0, as does [metrics] listen in modelvol.conf. A corrupt
# counters file is reset with a warning, never a failure; a counter that cannot be written
# never fails the operation. df: per-model logical, shared and unique bytes exact for two
# models sharing files (computed from the fixture trees), its JSON keys, the bar chart on a
# TTY (unicode, ASCII with LANG=C or NO_COLOR) and none when piped.
. "$(dirname "$0")/../lib/common.sh"
. "$TESTS_LIB/registry.sh"

# Debian's python3 (python3-prometheus-client), whatever python3 comes first in PATH.
PROMPARSE=(/usr/bin/python3 "$TESTS_LIB/promparse.py")

# scrape: `modelvol metrics` through both parsers into $T/samples (fails the check if either
# rejects it).
scrape() {
  mvol metrics >"$T/expo" 2>"$T/expo.err" && "${PROMPARSE[@]}" "$T/expo" >"$T/samples"
}
# sample KEY: the value of one sample of the last scrape, e.g. 'modelvol_pulls_total{outcome="ok"}'
sample() {
  awk -v k="$1" '$1 == k {print $2; found = 1} END {if (!found) print "absent"}' "$T/samples"
}
expect_samples() { # DESC KEY=VALUE...
  local desc=$1 kv bad=()
  shift
  for kv in "$@"; do
    local k=${kv%=*} want=${kv##*=} got
    got=$(sample "$k")
    [ "$got" = "$want" ] || bad+=("$k: got $got, want $want")
  done
  if [ ${#bad[@]} -eq 0 ]; then tap_ok "$desc"; else tap_not_ok "$desc"; diag "${bad[@]}"; fi
}
layer_bytes() { jq '[.layers[].size] | add' "$1"; }

# --- df ---------------------------------------------------------------------------------------
A=localhost:5000/test/df-a:v1
B=localhost:5000/test/df-b:v1
mkmodel preset shared --variant a --seed metrics --out "$T/la" --ref v1 --expect "$T/exp-a" --info "$T/a.json" >/dev/null
mkmodel preset shared --variant b --seed metrics --out "$T/lb" --ref v1 --expect "$T/exp-b" --info "$T/b.json" >/dev/null
DFROOT=$T/dfroot
run_ok "df: import a" -- "$MODELVOL" --root "$DFROOT" import -q "oci:$T/la:v1" --name "$A"
run_ok "df: import b" -- "$MODELVOL" --root "$DFROOT" import -q "oci:$T/lb:v1" --name "$B"
da=$(jq -r .manifest "$T/a.json")
db=$(jq -r .manifest "$T/b.json")

# Expected from the trees: a file is shared when the other model has a file with the same
# bytes and mode (an ostree object is content and metadata), counted once per path.
expected=$(/usr/bin/python3 - "$T/exp-a" "$T/exp-b" <<'PY'
import hashlib, json, os, sys
def files(root):
    out = []
    for d, _, names in os.walk(root):
        for n in names:
            p = os.path.join(d, n)
            if os.path.islink(p):
                out.append((("link", os.readlink(p)), 0))
                continue
            st = os.lstat(p)
            out.append(((hashlib.sha256(open(p, "rb").read()).hexdigest(), st.st_mode & 0o777), st.st_size))
    return out
a, b = files(sys.argv[1]), files(sys.argv[2])
ka, kb = {k for k, _ in a}, {k for k, _ in b}
def fig(mine, other):
    logical = sum(s for _, s in mine)
    shared = sum(s for k, s in mine if k in other)
    return {"files": len(mine), "logicalBytes": logical, "sharedBytes": shared, "uniqueBytes": logical - shared}
print(json.dumps({"a": fig(a, kb), "b": fig(b, ka)}))
PY
)
run_ok "df --json" -- "$MODELVOL" --root "$DFROOT" --json df
df=$LAST_STDOUT
assert_eq "$(jq -c 'keys' <<<"$df")" '["byModel","diskBytes","layers","logicalBytes","models","ratio","storedBytes"]' "df --json: the old keys are kept, byModel added"
assert_eq "$(jq -c '[.byModel[] | keys] | unique' <<<"$df")" '[["digest","files","logicalBytes","names","sharedBytes","uniqueBytes"]]' "df --json: the keys of each model"
for m in a b; do
  d=$da name=$A
  [ $m = b ] && d=$db name=$B
  got=$(jq -c --arg d "$d" '.byModel[] | select(.digest == $d) | {files, logicalBytes, sharedBytes, uniqueBytes}' <<<"$df")
  assert_eq "$got" "$(jq -c ".$m" <<<"$expected")" "df: model $m: files, logical, shared and unique bytes as the fixture says"
  assert_eq "$(jq -r --arg d "$d" '.byModel[] | select(.digest == $d) | .names[0]' <<<"$df")" "$name" "df: model $m's name"
done
check "df: the models share some bytes and not all" -- bash -c '[ "$(jq ".a.sharedBytes > 0 and .a.uniqueBytes > 0" <<<"$1")" = true ]' _ "$expected"
assert_eq "$(jq '[.byModel[].logicalBytes] | add' <<<"$df")" "$(jq .logicalBytes <<<"$df")" "df: the models' logical bytes add up to the total"

run_ok "df piped" -- "$MODELVOL" --root "$DFROOT" df
check "df piped: a table with both models" -- bash -c 'grep -Eq "^MODEL +LOGICAL +SHARED +UNIQUE$" <<<"$1" && grep -q "df-a:v1" <<<"$1" && grep -q "df-b:v1" <<<"$1"' _ "$LAST_STDOUT"
check "df piped: the totals as before" -- bash -c 'grep -q "^Logical: " <<<"$1" && grep -q "^Stored: " <<<"$1" && grep -q "^Ratio: " <<<"$1"' _ "$LAST_STDOUT"
check "df piped: no bar chart" -- bash -c '! grep -q "█\|░\|shared with other models" <<<"$1"' _ "$LAST_STDOUT"
# script(1) gives df a terminal.
tty_df() { script -qec "env $* '$MODELVOL' --root '$DFROOT' df" /dev/null | tr -d '\r'; }
out=$(tty_df -u NO_COLOR LC_ALL=C.UTF-8)
check "df on a UTF-8 terminal: unicode bars, unique (█) then shared (░)" -- bash -c 'grep -Eq "df-a:v1 .* (█)+(░)+$" <<<"$1" && grep -q "█ unique to the model  ░ shared with other models" <<<"$1"' _ "$out"
out=$(tty_df -u NO_COLOR LC_ALL=C)
check "df on a terminal with LANG=C: ASCII bars" -- bash -c 'grep -Eq "df-a:v1 .* #+=+$" <<<"$1" && ! grep -q "█" <<<"$1"' _ "$out"
out=$(tty_df LC_ALL=C.UTF-8 NO_COLOR=1)
check "df on a UTF-8 terminal with NO_COLOR: ASCII bars" -- bash -c 'grep -Eq "df-b:v1 .* #+=+$" <<<"$1" && ! grep -q "█" <<<"$1"' _ "$out"

# --- counters ---------------------------------------------------------------------------------
registry_start "$T/reg" >/dev/null
R=$REGISTRY
run_ok "push model a" -- ocipush "oci:$T/la:v1" "$R/org/a:v1"

run_ok "a fresh store: metrics" -- scrape
expect_samples "a fresh store: every counter 0, and the store gauges" \
  'modelvol_pulls_total{outcome="ok"}=0' 'modelvol_imports_total{outcome="error"}=0' \
  'modelvol_mounts_total{kind="hook",outcome="ok"}=0' 'modelvol_prunes_total{outcome="ok"}=0' \
  'modelvol_store_models{}=0' 'modelvol_counter_resets_total{}=0'

run_ok "pull a" -- mvol pull -q --tls-verify=false "$R/org/a:v1"
expect_fail 1 "org/none" "pull a tag that does not exist" -- mvol pull -q --tls-verify=false "$R/org/none:v1"
run_ok "import b (shares 3 layers with a: they are not read)" -- mvol import -q "oci:$T/lb:v1" --name "$B"
b_new=$(jq -r '.layers[].digest' "$T/a.json" | sort >"$T/a-layers"; jq -r '.layers[] | "\(.digest) \(.size)"' "$T/b.json" | sort | join -v1 - "$T/a-layers" | awk '{s += $2} END {print s}')
mkdir -p "$T/mnt"
run_ok "mount a at a host directory" -- mvol mount "$R/org/a:v1" "$T/mnt"
run_ok "umount it" -- mvol umount "$T/mnt"
expect_fail 1 "." "mount an unknown model" -- mvol mount example.com/none:v1 "$T/mnt"
run_ok "rm a" -- mvol rm "$R/org/a:v1"
run_ok "prune --dry-run (not counted)" -- mvol prune --dry-run
run_ok "prune" -- mvol --json prune
reclaimed=$(jq .bytes <<<"$LAST_STDOUT")
check "prune reclaimed bytes" -- test "$reclaimed" -gt 0
expect_fail 1 "OCI layout '$T/missing'" "import from a missing layout" -- mvol import -q "oci:$T/missing:v1"

run_ok "metrics after those" -- scrape
expect_samples "exact counters: 1 pull ok, 1 failed; 1 import ok, 1 failed; mounts; 1 prune" \
  'modelvol_pulls_total{outcome="ok"}=1' 'modelvol_pulls_total{outcome="error"}=1' \
  "modelvol_pull_bytes_total{}=$(layer_bytes "$T/a.json")" \
  'modelvol_pull_duration_seconds_count{}=1' \
  'modelvol_imports_total{outcome="ok"}=1' 'modelvol_imports_total{outcome="error"}=1' \
  "modelvol_import_bytes_total{}=$b_new" 'modelvol_import_duration_seconds_count{}=1' \
  'modelvol_import_duration_seconds_bucket{le="+Inf"}=1' \
  'modelvol_mounts_total{kind="host",outcome="ok"}=1' \
  'modelvol_mounts_total{kind="host",outcome="error"}=1' \
  'modelvol_mount_duration_seconds_count{kind="host"}=1' \
  'modelvol_mounts_total{kind="hook",outcome="ok"}=0' \
  'modelvol_prunes_total{outcome="ok"}=1' 'modelvol_prunes_total{outcome="error"}=0' \
  "modelvol_prune_reclaimed_bytes_total{}=$reclaimed" 'modelvol_prune_duration_seconds_count{}=1' \
  'modelvol_store_models{}=1' 'modelvol_counter_resets_total{}=0'
for h in 'modelvol_pull_duration_seconds_sum{}' 'modelvol_mount_duration_seconds_sum{kind="host"}'; do
  check "$h > 0" -- awk -v v="$(sample "$h")" 'BEGIN {exit !(v > 0)}'
done
check "HELP and TYPE lines, units in the names" -- bash -c 'grep -q "^# TYPE modelvol_pull_duration_seconds histogram$" "$1" && grep -q "^# TYPE modelvol_store_stored_bytes gauge$" "$1" && grep -q "^# TYPE modelvol_pulls_total counter$" "$1" && grep -q "^# HELP modelvol_prune_reclaimed_bytes_total " "$1"' _ "$T/expo"
df_stored=$(mvol --json df | jq .storedBytes)
expect_samples "store gauges agree with df" "modelvol_store_stored_bytes{}=$df_stored"

# Many processes at once: every event is counted.
before=$(sample 'modelvol_imports_total{outcome="error"}')
pids=()
for i in $(seq 1 12); do
  "$MODELVOL" --root "$ROOT" import -q "oci:$T/missing-$i:v1" 2>/dev/null &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || true; done
run_ok "metrics after 12 concurrent failed imports" -- scrape
expect_samples "12 concurrent processes: 12 more import errors" "modelvol_imports_total{outcome=\"error\"}=$((before + 12))"

# A counter that cannot be written never fails the operation.
mkdir "$ROOT/metrics/counters.tmp"
run_ok "import while the counters cannot be written" -- mvol -v import -q "oci:$T/lb:v1" --name "$B"
check "... -v says the event was not counted" -- grep -q "not counting import" <<<"$LAST_STDERR"
rmdir "$ROOT/metrics/counters.tmp"
run_ok "metrics" -- scrape
expect_samples "that import is not counted, nothing else changed" 'modelvol_imports_total{outcome="ok"}=1'

# --- textfile ---------------------------------------------------------------------------------
mkdir -p "$T/textfile"
echo stale >"$T/textfile/modelvol.prom"
chmod 600 "$T/textfile/modelvol.prom"
# LeakSanitizer cannot run under ptrace: leaks are checked in the untraced runs.
run_ok "metrics --textfile (umask 077), traced" -- env ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" bash -c 'umask 077; strace -f -qq -e trace=rename,renameat,renameat2 -o "$1" "$2" --root "$3" metrics --textfile "$4/modelvol.prom"' _ "$T/strace" "$MODELVOL" "$ROOT" "$T/textfile"
assert_eq "$(stat -c %a "$T/textfile/modelvol.prom")" 644 "the textfile has mode 0644"
check "it is a valid exposition" -- "${PROMPARSE[@]}" "$T/textfile/modelvol.prom"
check "it was renamed into place from a temp name in the same directory that is not *.prom" -- grep -Eq "rename(at2?)?\(.*\"[^\"]*/textfile/modelvol\.prom\.tmp-[0-9]+-[0-9]+\".*\"[^\"]*/textfile/modelvol\.prom\"|rename(at2?)?\(.*\"modelvol\.prom\.tmp-[0-9]+-[0-9]+\".*\"modelvol\.prom\"" "$T/strace"
assert_eq "$(ls -A "$T/textfile")" modelvol.prom "no temp file is left"
expect_fail 1 "metrics textfile directory '$T/nodir'" "a textfile in a missing directory" -- mvol metrics --textfile "$T/nodir/m.prom"

# --- listen -----------------------------------------------------------------------------------
expect_fail 1 "listen address '0.0.0.0:9477' is not a loopback address" "--listen 0.0.0.0 is refused" -- mvol metrics --listen 0.0.0.0:9477
expect_fail 1 "not a loopback address" "--listen on a public IPv6 address is refused" -- mvol metrics --listen '[2001:db8::1]:9477'
printf '[metrics]\nlisten=0.0.0.0:9477\n' >"$T/bad.conf"
expect_fail 1 "config '$T/bad.conf': \[metrics\] listen: .*not a loopback" "[metrics] listen=0.0.0.0 in modelvol.conf is refused" -- env MODELVOL_CONFIG="$T/bad.conf" "$MODELVOL" --root "$ROOT" metrics
printf '[metrics]\ntextfile=relative.prom\n' >"$T/bad2.conf"
expect_fail 1 "\[metrics\] textfile must be an absolute path" "[metrics] textfile must be absolute" -- env MODELVOL_CONFIG="$T/bad2.conf" "$MODELVOL" --root "$ROOT" metrics
port=$(registry_free_port)
"$MODELVOL" --root "$ROOT" metrics --listen "127.0.0.1:$port" 2>"$T/serve.log" &
SERVE_PID=$!
CLEANUP_PIDS+=("$SERVE_PID")
for _ in $(seq 200); do curl -s -o /dev/null "http://127.0.0.1:$port/metrics" && break; sleep 0.05; done
run_ok "GET /metrics" -- curl -sS -f -D "$T/headers" -o "$T/served" "http://127.0.0.1:$port/metrics"
check "Content-Type: text/plain; version=0.0.4" -- grep -qi "^content-type: text/plain; version=0.0.4" "$T/headers"
check "the served text is a valid exposition" -- "${PROMPARSE[@]}" "$T/served"
check "it has the counters" -- grep -q '^modelvol_prunes_total{outcome="ok"} 1$' "$T/served"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/")" 404 "GET / is 404"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/metricsx")" 404 "GET /metricsx is 404"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$port/metrics")" 405 "POST /metrics is 405"
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' -H "X-Big: $(head -c 9000 /dev/zero | tr '\0' a)" "http://127.0.0.1:$port/metrics")" 431 "a request head over 8 KiB is refused (431)"
run_ok "still serving after that" -- curl -sS -f -o /dev/null "http://127.0.0.1:$port/metrics"
expect_fail 1 "listening on 127.0.0.1:$port" "a second server on the same port: one clear error" -- mvol metrics --listen "127.0.0.1:$port"
kill -TERM "$SERVE_PID"
rc=0
wait "$SERVE_PID" || rc=$?
assert_eq "$rc" 0 "SIGTERM stops the server cleanly (exit 0)"

# --- corrupt counters ---------------------------------------------------------------------------
printf 'modelvol-counters 1\nimport_ok 99\nsha256 0000\n' >"$ROOT/metrics/counters"
run_ok "metrics with a corrupt counters file" -- scrape
check "one warning line names the file and says it was reset" -- bash -c '[ "$(wc -l <"$1")" = 1 ] && grep -q "^modelvol: warning: counters file .*/metrics/counters. was corrupt (checksum mismatch (torn or edited)): reset to zero" "$1"' _ "$T/expo.err"
expect_samples "counters start again from zero; the reset is counted" \
  'modelvol_imports_total{outcome="ok"}=0' 'modelvol_counter_resets_total{}=1'
check "the bad copy is kept" -- grep -q "import_ok 99" "$ROOT/metrics/counters.corrupt"
head -c 10 /dev/urandom >"$ROOT/metrics/counters"
run_ok "an import over a garbage counters file succeeds" -- mvol import -q "oci:$T/lb:v1" --name "$B"
run_ok "metrics" -- scrape
expect_samples "that import is counted in the fresh file" \
  'modelvol_imports_total{outcome="ok"}=1' 'modelvol_counter_resets_total{}=1'
: >"$ROOT/metrics/counters"
run_ok "metrics with an empty counters file (a power loss)" -- scrape
expect_samples "reset again" 'modelvol_counter_resets_total{}=1' 'modelvol_imports_total{outcome="ok"}=0'

finish
