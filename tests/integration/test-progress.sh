#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Layer progress of import and pull (--progress=auto|tty|plain|json|none): plain lines on a
# pipe (one per layer start, skip or finish, and a total), JSON events with --json (every
# line parses, every layer has its start and done, stdout keeps the result JSON), nothing
# with -q, a live display on a terminal (script(1)); a failure is still exactly one human
# line, the last; a layer that starts over says so; JSON progress events are throttled.
. "$(dirname "$0")/../lib/common.sh"
. "$TESTS_LIB/registry.sh"

mkmodel preset big --size-mb 6 --layers 2 --seed prog --out "$T/m" --ref v1 --info "$T/m.json" >/dev/null
mkmodel preset bad-digest-raw --out "$T/bad" --ref v1 >/dev/null
n_layers=$(jq '.layers | length' "$T/m.json")
layer_re='[0-9a-f]{12}'
size_re='[0-9.]+ (bytes?|[KMGT]iB)'

# check_plain FILE DESC: every line of FILE is a plain progress line of the documented forms.
check_plain() {
  local bad
  bad=$(grep -Ev "^Copying blob $layer_re ($size_re(: starting over)?|done: $size_re in [0-9.]+ s, ($size_re/s|-)|skipped: already stored|$size_re / $size_re \([0-9]+%\), ($size_re/s|-))\$|^Copied [0-9]+ blobs? \($size_re\) in [0-9.]+ s, ($size_re/s|-); [0-9]+ already stored\$" "$1" || true)
  if [ -z "$bad" ]; then tap_ok "$2"; else tap_not_ok "$2"; diag "$bad"; fi
}

# check_json FILE DESC: every line of FILE is a JSON object with an "event".
check_json() {
  check "$2" -- python3 - "$1" <<'PY'
import json, sys
for n, line in enumerate(open(sys.argv[1]), 1):
    ev = json.loads(line)
    assert isinstance(ev, dict) and ev.get("event") in (
        "layer-start", "layer-progress", "layer-done", "layer-cached", "done"), (n, line)
PY
}

# --- import on a pipe: plain lines ---------------------------------------------------------
run_ok "import on a pipe" -- mvol import "oci:$T/m:v1"
digest=$LAST_STDOUT
printf '%s\n' "$LAST_STDERR" >"$T/plain.err"
assert_match "$digest" '^sha256:[0-9a-f]{64}$' "stdout has only the digest"
check_plain "$T/plain.err" "stderr has only plain progress lines"
for d in $(jq -r '.layers[].digest' "$T/m.json"); do
  assert_eq "$(grep -Ec "^Copying blob ${d:7:12} $size_re\$" "$T/plain.err")" 1 "layer ${d:7:12}: one start line"
  assert_eq "$(grep -Ec "^Copying blob ${d:7:12} done: " "$T/plain.err")" 1 "layer ${d:7:12}: one done line"
done
assert_match "$(tail -n 1 "$T/plain.err")" "^Copied $n_layers blobs \\(.*; 0 already stored\$" "the last line is the total"
check "no flood: a line per start and done, and the total" -- test "$(wc -l <"$T/plain.err")" -le $((2 * n_layers + 1))

run_ok "import again on a pipe" -- mvol import "oci:$T/m:v1"
printf '%s\n' "$LAST_STDERR" >"$T/plain2.err"
check_plain "$T/plain2.err" "again: only plain progress lines"
assert_eq "$(grep -c 'skipped: already stored$' "$T/plain2.err")" "$n_layers" "again: every layer is skipped"
assert_match "$(tail -n 1 "$T/plain2.err")" "^Copied 0 blobs .*; $n_layers already stored\$" "again: the total says so"

# --- nothing with -q or --progress=none; an explicit --progress wins over -q ---------------
new_root
run_ok "import -q" -- mvol -q import "oci:$T/m:v1"
assert_eq "$LAST_STDERR" "" "-q: stderr stays empty"
assert_eq "$LAST_STDOUT" "$digest" "-q: the digest on stdout"
new_root
run_ok "import --progress=none" -- mvol import --progress=none "oci:$T/m:v1"
assert_eq "$LAST_STDERR" "" "--progress=none: stderr stays empty"
new_root
run_ok "import -q --progress=plain" -- mvol -q import --progress=plain "oci:$T/m:v1"
printf '%s\n' "$LAST_STDERR" >"$T/qplain.err"
check "-q --progress=plain: plain lines after all" -- grep -q "^Copying blob .* done: " "$T/qplain.err"
expect_exit 2 "--progress=bogus is a usage error" -- mvol import --progress=bogus "oci:$T/m:v1"
assert_match "$LAST_STDERR" "--progress takes auto, tty, plain, json or none" "and says which modes exist"

# --- JSON ------------------------------------------------------------------------------------
new_root
run_ok "import --json" -- mvol --json import "oci:$T/m:v1"
printf '%s\n' "$LAST_STDERR" >"$T/events.jsonl"
assert_eq "$(jq -r .digest <<<"$LAST_STDOUT")" "$digest" "--json: stdout is the result object"
check_json "$T/events.jsonl" "--json: every stderr line is a JSON event"
for d in $(jq -r '.layers[].digest' "$T/m.json"); do
  size=$(jq -r --arg d "$d" '.layers[] | select(.digest == $d) | .size' "$T/m.json")
  assert_eq "$(jq -c --arg d "$d" 'select(.event == "layer-start" and .digest == $d) | [.size, .attempt]' "$T/events.jsonl")" "[$size,1]" "layer ${d:7:12}: a start event with its size"
  assert_eq "$(jq -c --arg d "$d" 'select(.event == "layer-done" and .digest == $d) | [.size, .done]' "$T/events.jsonl")" "[$size,$size]" "layer ${d:7:12}: a done event"
done
assert_eq "$(tail -n 1 "$T/events.jsonl" | jq -c '[.event, .layers, .cached]')" "[\"done\",$n_layers,0]" "the last event is the total"
run_ok "import --json again" -- mvol --json import "oci:$T/m:v1"
assert_eq "$(jq -r 'select(.event == "layer-cached") | .digest' <<<"$LAST_STDERR" | sort | tr '\n' ' ')" \
  "$(jq -r '.layers[].digest' "$T/m.json" | sort | tr '\n' ' ')" "again: a cached event per layer"
new_root
run_ok "import --progress=json" -- mvol import --progress=json "oci:$T/m:v1"
assert_eq "$LAST_STDOUT" "$digest" "--progress=json alone: stdout is still the plain digest"
printf '%s\n' "$LAST_STDERR" >"$T/events2.jsonl"
check_json "$T/events2.jsonl" "--progress=json: JSON events on stderr"

# --- a failure: progress, then exactly one human line, the last ------------------------------
new_root
expect_fail 1 "hashes to" "a corrupt layer, plain progress" -- mvol import "oci:$T/bad:v1"
check "plain: the progress before it" -- grep -q "^Copying blob " "$T/.stderr"
check "plain: no total after a failure" -- bash -c '! grep -q "^Copied " "$0"' "$T/.stderr"
new_root
rc=0
mvol --json import "oci:$T/bad:v1" >"$T/fail.out" 2>"$T/fail.err" || rc=$?
assert_eq "$rc" 1 "a corrupt layer with --json exits 1"
assert_eq "$(grep -vc '^{' "$T/fail.err" || true)" 1 "--json: one line that is not a JSON event"
assert_match "$(tail -n 1 "$T/fail.err")" '^modelvol: .*hashes to' "--json: it is the last line, the usual error"
head -n -1 "$T/fail.err" >"$T/fail-events.jsonl"
check_json "$T/fail-events.jsonl" "--json: the lines before it are JSON events"
check "--json: no done event after a failure" -- bash -c '! grep -q "\"event\":\"done\"" "$0"' "$T/fail-events.jsonl"
assert_eq "$(cat "$T/fail.out")" "" "--json: nothing on stdout after a failure"

# --- a terminal: the live display, cleared before the digest ---------------------------------
if command -v script >/dev/null; then
  new_root
  run_ok "import on a terminal" -- script -qec "'$MODELVOL' --root '$ROOT' import 'oci:$T/m:v1'" "$T/typescript"
  check "the terminal shows per-layer and total progress" -- grep -aq "total .* / .*ETA" "$T/typescript"
  check "and the display is cleared before the digest" -- bash -c 'tr "\r" "\n" <"$0" | grep -aqE "\[J(sha256:[0-9a-f]{64})$"' "$T/typescript"
  check "no plain lines on a terminal" -- bash -c '! grep -aq "^Copying blob" "$0"' "$T/typescript"
else
  tap_skip "script(1) is not installed"
fi

# --- pull: the same forms; a layer that starts over; throttled JSON progress events ---------
registry_start "$T/reg" >/dev/null
R=$REGISTRY
run_ok "push" -- ocipush "oci:$T/m:v1" "$R/org/prog:v1"
new_root
run_ok "pull on a pipe" -- mvol pull --tls-verify=false "$R/org/prog:v1"
printf '%s\n' "$LAST_STDERR" >"$T/pull.err"
check_plain "$T/pull.err" "pull: plain progress lines"
assert_eq "$(grep -c " done: " "$T/pull.err")" "$n_layers" "pull: a done line per layer"
new_root
run_ok "pull --json" -- mvol --json pull --tls-verify=false "$R/org/prog:v1"
assert_eq "$(jq -r .digest <<<"$LAST_STDOUT")" "$digest" "pull --json: the result object on stdout"
printf '%s\n' "$LAST_STDERR" >"$T/pull.jsonl"
check_json "$T/pull.jsonl" "pull --json: JSON events on stderr"
assert_eq "$(jq -r 'select(.event == "layer-done") | .digest' "$T/pull.jsonl" | sort | tr '\n' ' ')" \
  "$(jq -r '.layers[].digest' "$T/m.json" | sort | tr '\n' ' ')" "pull --json: a done event per layer"
new_root
run_ok "pull -q" -- mvol -q pull --tls-verify=false "$R/org/prog:v1"
assert_eq "$LAST_STDERR" "" "pull -q: stderr stays empty"

big=$(jq -r '[.layers[]] | max_by(.size) | .digest' "$T/m.json")
big_size=$(jq -r '[.layers[]] | max_by(.size) | .size' "$T/m.json")
cat >"$T/rules.json" <<JSON
[
  {"match": "/org/prog/blobs/$big", "method": "GET", "actions": ["drop", "norange", "throttle:800000", "drop", "norange", "pass"]}
]
JSON
: >"$T/proxy.log"
faultproxy P "$R" "$T/rules.json" "$T/proxy.log"
new_root
run_ok "pull --json through a dropped and restarted layer, then a slow one" -- \
  mvol --json pull --tls-verify=false "$P/org/prog:v1"
printf '%s\n' "$LAST_STDERR" >"$T/restart.jsonl"
check_json "$T/restart.jsonl" "restart: JSON events"
assert_eq "$(jq -c --arg d "$big" 'select(.event == "layer-start" and .digest == $d) | .attempt' "$T/restart.jsonl" | tr '\n' ' ')" \
  "1 2 " "restart: the layer started twice (attempt 1, then 2)"
jq -c --arg d "$big" 'select(.event == "layer-progress" and .digest == $d) | [.done, .seconds]' "$T/restart.jsonl" >"$T/progress-events"
check "a slow layer reports progress" -- test "$(wc -l <"$T/progress-events")" -ge 2
check "progress events at most one a second, bytes growing, within the size" -- python3 - "$T/progress-events" "$big_size" <<'PY'
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1])]
for (d0, s0), (d1, s1) in zip(evs, evs[1:]):
    assert d1 >= d0 and s1 - s0 >= 0.9, (d0, s0, d1, s1)
assert all(d <= int(sys.argv[2]) for d, _ in evs)
PY
new_root
run_ok "pull on a pipe through the restart again" -- mvol pull --tls-verify=false "$P/org/prog:v1"
printf '%s\n' "$LAST_STDERR" >"$T/restart.err"
check_plain "$T/restart.err" "restart: plain progress lines"
check "restart: the plain line says it starts over" -- grep -q "^Copying blob ${big:7:12} .*: starting over\$" "$T/restart.err"
registry_stop
finish
