#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# modelvol watch, the service: a CRI-O-like artifact store written by skopeo from a real
# docker-registry; the service imports each ModelPack artifact skopeo adds (index.json
# replaced by rename), unnamed and checked out, ignores a non-ModelPack one (logged once),
# pulls its pins and pulls a pin again when its name is removed; sd_notify READY/STATUS/
# STOPPING seen on a test NOTIFY_SOCKET; the prune policy evicts the least recently used model
# that is neither pinned nor in use, never those; SIGTERM during a slow pull (a throttling
# proxy) exits 0 and leaves a store fsck finds clean; bad [watch] keys are one error line
# naming the file and the key. Every wait polls with a generous bound: nothing is timed.
. "$(dirname "$0")/../lib/common.sh"
. "$TESTS_LIB/registry.sh"

registry_start "$T/reg" >/dev/null
R=$REGISTRY
GRAPH=$T/graph
ART=$GRAPH/artifacts
mkdir -p "$GRAPH"
printf '[[registry]]\nlocation = "%s"\ninsecure = true\n' "$R" >"$T/registries.conf"

for m in a b c p; do
  cat >"$T/spec-$m.json" <<EOF
{"family": "cncf", "layers": [
 {"kind": "weight", "format": "raw", "path": "w-$m.bin", "content": {"random": 300000, "seed": "watch-$m"}},
 {"kind": "weight.config", "format": "tar", "path": "cfg", "entries": [{"name": "cfg/$m.txt", "content": "$m\n"}]}
]}
EOF
  mkmodel build --spec "$T/spec-$m.json" --out "$T/l-$m" --ref v1 --expect "$T/l-$m.expect" >/dev/null
  run_ok "push model $m" -- ocipush "oci:$T/l-$m:v1" "$R/org/$m:v1"
done

# wait_until DESC SECONDS -- CMD...: polls CMD (every 0.2 s) until it succeeds; a check.
wait_until() {
  local desc=$1 secs=$2 i
  shift 3
  for ((i = 0; i < secs * 5; i++)); do
    if "$@" >/dev/null 2>&1; then
      tap_ok "$desc"
      return 0
    fi
    sleep 0.2
  done
  tap_not_ok "$desc"
  diag "gave up after $secs s: $*"
  [ -f "$T/watch.log" ] && diag "$(tail -n 20 "$T/watch.log")"
  return 0
}

digest_of() { jq -r --arg r "$1" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $r) | .digest' "$ART/index.json"; }
names_of() { mvol ls --json | jq -r --arg d "$1" '.models[] | select(.digest == $d) | .names | join(",")'; }
has_model() { mvol ls --json | jq -e --arg d "$1" '.models[] | select(.digest == $d)' >/dev/null; }
has_name() { mvol ls --json | jq -e --arg n "$1" '.models[] | select(.names | index($n))' >/dev/null; }
lacks_model() { ! has_model "$1"; }
lacks_name() { ! has_name "$1"; }
crio_pull() { skopeo copy -q --src-tls-verify=false "docker://$R/$1" "oci:$ART:$R/$1"; }

# The sd_notify side of systemd: a datagram socket; each message a line of $T/notify.log.
python3 - "$T/notify.sock" "$T/notify.log" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a") as log:
    while True:
        log.write(s.recv(4096).decode() + "\n")
        log.flush()
PY
CLEANUP_PIDS+=($!)
wait_for_file "$T/notify.sock" 30

write_conf() {
  cat >"$T/watch.conf" <<EOF
[store]
root=$ROOT
[crio]
graphroot=$GRAPH
[registries]
conf=$T/registries.conf
[watch]
$1
EOF
}

WATCH_PID=
WATCH_RUNS=0
start_watch() {
  WATCH_RUNS=$((WATCH_RUNS + 1))
  [ -s "$T/watch.log" ] && cp "$T/watch.log" "$T/watch.log.$WATCH_RUNS"
  : >"$T/watch.log"
  : >"$T/notify.log"
  MODELVOL_CONFIG=$T/watch.conf NOTIFY_SOCKET=$T/notify.sock "$MODELVOL" watch 2>>"$T/watch.log" &
  WATCH_PID=$!
  CLEANUP_PIDS+=("$WATCH_PID")
}
stop_watch() {
  local rc=0
  kill -TERM "$WATCH_PID"
  wait "$WATCH_PID" || rc=$?
  assert_eq "$rc" 0 "${1:-watch} exits 0 on SIGTERM"
}

# --- bad configuration: one line naming the file and the key, nothing started ------------
write_conf "max-disk-fill=150"
expect_fail 1 "^modelvol: config '$(re_escape "$T/watch.conf")': \[watch\] max-disk-fill must be a whole number from 0 to 100$" \
  "max-disk-fill out of range" -- env MODELVOL_CONFIG="$T/watch.conf" "$MODELVOL" watch
write_conf "prune-interval=soon"
expect_fail 1 "\[watch\] prune-interval must be a whole number" "prune-interval not a number" -- \
  env MODELVOL_CONFIG="$T/watch.conf" "$MODELVOL" watch
write_conf "max-store-size=1"
expect_fail 1 "^modelvol: config '.*watch.conf': \[watch\] max-store-size is not a known key$" \
  "a misspelt key" -- env MODELVOL_CONFIG="$T/watch.conf" "$MODELVOL" watch
write_conf "pins=$R/org/OK:v1"
expect_fail 1 "^modelvol: config '.*watch.conf': \[watch\] pins: .*" "a bad pin reference" -- \
  env MODELVOL_CONFIG="$T/watch.conf" "$MODELVOL" watch
check "nothing was created by the bad configurations" -- test ! -e "$ROOT"

# --- imports, pins, sd_notify ------------------------------------------------------------
write_conf "pins=$R/org/p:v1
prune-interval=1"
start_watch
wait_until "READY=1 after the first scan" 60 -- grep -qx READY=1 "$T/notify.log"
wait_until "the pin is pulled" 120 -- has_name "$R/org/p:v1"

run_ok "skopeo pulls model a into CRI-O's artifact store" -- crio_pull org/a:v1
DA=$(digest_of "$R/org/a:v1")
wait_until "the service imports model a" 120 -- has_model "$DA"
assert_eq "$(names_of "$DA")" "" "an import from CRI-O's store is unnamed (as the hook's)"
check "and checked out for the hook's warm path" -- test -d "$ROOT/checkouts/${DA#sha256:}"

echo "plain data" >"$T/hello.txt"
ODIG=$(python3 "$TESTS_LIB/artifact.py" "$ART" "$R/org/plain:v1" "$T/hello.txt")
run_ok "skopeo pulls model b" -- crio_pull org/b:v1
DB=$(digest_of "$R/org/b:v1")
wait_until "the service imports model b" 120 -- has_model "$DB"
wait_until "the non-ModelPack artifact is logged as ignored" 60 -- grep -q "ignored $ODIG" "$T/watch.log"
run_ok "skopeo pulls model c" -- crio_pull org/c:v1
DC=$(digest_of "$R/org/c:v1")
wait_until "the service imports model c" 120 -- has_model "$DC"
check "the non-ModelPack artifact is not in the store" -- lacks_model "$ODIG"
assert_eq "$(grep -c "ignored $ODIG" "$T/watch.log")" 1 "and logged once, through three index changes"
assert_eq "$(grep -c "imported $DA" "$T/watch.log")" 1 "model a was imported once"

run_ok "remove the pin's name" -- mvol rm "$R/org/p:v1"
wait_until "the service pulls the pin again" 120 -- has_name "$R/org/p:v1"
DP=$(mvol ls --json | jq -r --arg n "$R/org/p:v1" '.models[] | select(.names | index($n)) | .digest')
# A pinned model damaged (a byte of a file written through its checkout) is pulled again.
python3 - "$ROOT/checkouts/${DP#sha256:}/w-p.bin" <<'PY'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(1000)
    b = f.read(1)
    f.seek(1000)
    f.write(bytes([b[0] ^ 0xff]))
PY
wait_until "the service pulls the damaged pin again" 120 -- grep -q "pulling pin $R/org/p:v1 (damaged)" "$T/watch.log"
pulls_of_p() { [ "$(grep -c "pulled pin $R/org/p:v1 " "$T/watch.log")" = "$1" ]; }
wait_until "and repairs it" 120 -- pulls_of_p 3
check "the repaired pin's file has its bytes again" -- cmp "$ROOT/checkouts/${DP#sha256:}/w-p.bin" "$T/l-p.expect/w-p.bin"
check "sd_notify STATUS lines say what it does" -- grep -q '^STATUS=idle: ' "$T/notify.log"
stop_watch "the service"
check "STOPPING=1 on SIGTERM" -- grep -qx STOPPING=1 "$T/notify.log"
check "log lines are plain with a level when stderr is not the journal" -- \
  grep -q '^modelvol watch: info: imported ' "$T/watch.log"
run_ok "fsck after the service" -- mvol fsck

# --- the prune policy --------------------------------------------------------------------
# c is in use (a host mount), a was used after b: b is the least recently used.
mkdir -p "$T/mnt-a" "$T/mnt-c"
run_ok "mount a" -- mvol mount "$DA" "$T/mnt-a"
run_ok "unmount a (its last use is now)" -- mvol umount "$T/mnt-a"
run_ok "mount c and keep it" -- mvol mount "$DC" "$T/mnt-c"
disk=$(mvol df --json | jq -r .diskBytes)
write_conf "pins=$R/org/p:v1
max-store-bytes=$((disk - 1))"
start_watch
wait_until "over max-store-bytes, one model is evicted" 120 -- grep -q "evicted " "$T/watch.log"
check "it is b, the least recently used one" -- grep -q "evicted $DB (unnamed): the store uses" "$T/watch.log"
assert_eq "$(grep -c 'evicted ' "$T/watch.log")" 1 "one eviction was enough"
check "b is gone" -- lacks_model "$DB"
check "a stays" -- has_model "$DA"
stop_watch "the service"

write_conf "pins=$R/org/p:v1
max-store-bytes=1"
start_watch
wait_until "over a limit nothing can meet, the service says so" 120 -- \
  grep -q "every model left is pinned or in use" "$T/watch.log"
check "a is evicted" -- grep -q "evicted $DA " "$T/watch.log"
check "the pinned model stays" -- has_model "$DP"
check "the model in use stays" -- has_model "$DC"
check "b, evicted before, is not imported again from CRI-O's store" -- bash -c "! grep -q 'imported $DB' '$T/watch.log'"
stop_watch "the service"
run_ok "unmount c" -- mvol umount "$T/mnt-c"
fill=$(df --output=pcent "$ROOT" | tail -n 1 | tr -dc 0-9)
if [ "$fill" -ge 2 ]; then
  write_conf "pins=$R/org/p:v1
max-disk-fill=$((fill - 1))"
  start_watch
  wait_until "over max-disk-fill, c (no longer in use) is evicted" 120 -- grep -q "evicted $DC " "$T/watch.log"
  check "the message gives the fill level" -- grep -q "evicted $DC (unnamed): the disk of the store is [0-9]*% full, above max-disk-fill $((fill - 1))%" "$T/watch.log"
  check "the pinned model still stays" -- has_model "$DP"
  stop_watch "the service"
else
  tap_skip "max-disk-fill: the store's filesystem is ${fill}% full"
fi
run_ok "fsck after evictions" -- mvol fsck

# --- [metrics]: the textfile every interval, GET /metrics on loopback -------------------
MPORT=$(registry_free_port)
write_conf "[metrics]
textfile=$T/modelvol.prom
listen=127.0.0.1:$MPORT
interval=5"
start_watch
wait_until "the service writes the metrics textfile" 60 -- test -s "$T/modelvol.prom"
check "with the store's gauges and the pins' pulls" -- bash -c 'grep -q "^modelvol_store_models [1-9]" "$1" && grep -q "^modelvol_pulls_total{outcome=\"ok\"} [1-9]" "$1"' _ "$T/modelvol.prom"
check "mode 0644" -- test "$(stat -c %a "$T/modelvol.prom")" = 644
wait_until "and serves GET /metrics on 127.0.0.1:$MPORT" 30 -- bash -c 'curl -sf "http://127.0.0.1:$1/metrics" | grep -q "^modelvol_store_models "' _ "$MPORT"
stamp=$(stat -c %Y.%N "$T/modelvol.prom")
wait_until "the textfile is rewritten at the interval" 60 -- bash -c '[ "$(stat -c %Y.%N "$1")" != "$2" ]' _ "$T/modelvol.prom" "$stamp"
stop_watch "the service with metrics"
check "the port is closed after the stop" -- bash -c '! curl -sf "http://127.0.0.1:$1/metrics" >/dev/null' _ "$MPORT"
write_conf "[metrics]
listen=0.0.0.0:$MPORT"
expect_fail 1 "\[metrics\] listen" "a non-loopback listen address stops the service" -- \
  env MODELVOL_CONFIG="$T/watch.conf" "$MODELVOL" watch

write_conf "max-disk-fill=abc"
expect_fail 1 "\[watch\] max-disk-fill must be a whole number from 0 to 100" "max-disk-fill not a number" -- \
  env MODELVOL_CONFIG="$T/watch.conf" "$MODELVOL" watch

# --- reload: SIGHUP applies [watch] at once; a bad file or a restart-only change is logged --
write_conf "prune-interval=600"
start_watch
wait_until "ready, with no pins" 60 -- grep -qx READY=1 "$T/notify.log"
write_conf "pins=$R/org/c:v1
prune-interval=600"
run_ok "SIGHUP" -- kill -HUP "$WATCH_PID"
wait_until "the service reloads" 60 -- grep -q "info: reloaded: 1 pins; prune every 600 s" "$T/watch.log"
wait_until "and pulls the new pin at once (not at the 600 s tick)" 120 -- has_name "$R/org/c:v1"
check "sd_notify RELOADING=1, then READY=1 again" -- bash -c 'grep -n . "$1" | grep -A50 ":RELOADING=1$" | grep -q ":READY=1$"' _ "$T/notify.log"
write_conf "max-disk-fill=150"
run_ok "SIGHUP with a bad file" -- kill -HUP "$WATCH_PID"
wait_until "one error line, the running configuration stays" 60 -- grep -q "error: reload: config '.*watch.conf': \[watch\] max-disk-fill must be a whole number from 0 to 100; the running configuration stays" "$T/watch.log"
check "the service still runs" -- kill -0 "$WATCH_PID"
# p is pinned no more: a limit lowered by a reload evicts it at once.
write_conf "pins=$R/org/c:v1
max-store-bytes=1
prune-interval=600
[metrics]
interval=7"
run_ok "SIGHUP with a lower limit and a [metrics] change" -- kill -HUP "$WATCH_PID"
wait_until "the restart-only change is named" 60 -- grep -q "warning: reload: \[metrics\] interval changed: the service keeps the old value until it is restarted" "$T/watch.log"
wait_until "the model no longer pinned is evicted at once" 120 -- grep -q "evicted $DP " "$T/watch.log"
check "the pinned one stays" -- has_name "$R/org/c:v1"
stop_watch "the reloaded service"
run_ok "fsck after the reloads" -- mvol fsck

# --- pin-refresh: a pin whose tag moves is followed -----------------------------------------
name_digest() { mvol ls --json | jq -r --arg n "$1" '.models[] | select(.names | index($n)) | .digest'; }
run_ok "push model a's layout as m:v1" -- ocipush "oci:$T/l-a:v1" "$R/org/m:v1"
write_conf "pins=$R/org/m:v1
pin-refresh=1
prune-interval=1"
start_watch
wait_until "the pin m:v1 is pulled" 120 -- has_name "$R/org/m:v1"
M1=$(name_digest "$R/org/m:v1")
run_ok "move the tag: push model b's layout as m:v1" -- ocipush "oci:$T/l-b:v1" "$R/org/m:v1"
wait_until "the service follows the moved tag" 120 -- grep -q "notice: pin $R/org/m:v1 moved from $M1 to sha256:" "$T/watch.log"
M2=$(name_digest "$R/org/m:v1")
check "the name now names another model" -- bash -c '[ -n "$2" ] && [ "$1" != "$2" ]' _ "$M1" "$M2"
check "the new model is b's content" -- cmp "$ROOT/checkouts/${M2#sha256:}/w-b.bin" "$T/l-b.expect/w-b.bin"
check "the refresh pulls say why" -- grep -q "pulling pin $R/org/m:v1 (pin-refresh)" "$T/watch.log"
stop_watch "the service with pin-refresh"
run_ok "fsck after the refresh" -- mvol fsck

# --- SIGTERM during a slow pull ----------------------------------------------------------
cat >"$T/spec-slow.json" <<EOF
{"family": "cncf", "layers": [
 {"kind": "weight", "format": "raw", "path": "slow.bin", "content": {"random": 3000000, "seed": "watch-slow"}}
]}
EOF
mkmodel build --spec "$T/spec-slow.json" --out "$T/l-slow" --ref v1 --info "$T/slow.json" >/dev/null
run_ok "push the slow model" -- ocipush "oci:$T/l-slow:v1" "$R/org/slow:v1"
slow_layer=$(jq -r '.layers[0].digest' "$T/slow.json")
cat >"$T/rules.json" <<JSON
[{"match": "/blobs/$slow_layer", "actions": ["throttle:100000"]}]
JSON
: >"$T/proxy.log"
faultproxy P "$R" "$T/rules.json" "$T/proxy.log"
printf '[[registry]]\nlocation = "%s"\ninsecure = true\n' "$P" >>"$T/registries.conf"
write_conf "pins=$P/org/slow:v1"
start_watch
wait_until "the pin's slow layer is being fetched" 120 -- grep -q "GET .*/blobs/$slow_layer" "$T/proxy.log"
stop_watch "the service, during a pull,"
check "the pull was cancelled" -- grep -q "pull of pin $P/org/slow:v1 cancelled" "$T/watch.log"
check "the cancelled model is not in the store" -- lacks_name "$P/org/slow:v1"
run_ok "fsck after the cancelled pull" -- mvol fsck
check "no import lock is left behind" -- bash -c "[ -z \"\$(ls -A '$ROOT/run/imports' 2>/dev/null)\" ]"

# --- signatures: pins are pulled under [signatures], like any pull --------------------------
new_root
mkdir -p "$ROOT"
openssl ecparam -name prime256v1 -genkey -noout 2>/dev/null | openssl pkcs8 -topk8 -nocrypt -out "$T/sk.pem"
openssl pkey -in "$T/sk.pem" -pubout -out "$T/sk.pub" 2>/dev/null
mkdir -p "$T/registries.d"
printf 'default-docker:\n  use-sigstore-attachments: true\n' >"$T/registries.d/default.yaml"
jq -n --arg r "$R/org" --arg k "$T/sk.pub" '{default: [{type: "insecureAcceptAnything"}],
  transports: {docker: {($r): [{type: "sigstoreSigned", keyPath: $k,
    signedIdentity: {type: "matchRepository"}}]}}}' >"$T/sig-policy.json"
ds=$(ocipush "oci:$T/l-a:v1" "$R/org/signed:v1")
run_ok "sign org/signed" -- python3 "$TESTS_LIB/sigforge.py" good --form simple --key "$T/sk.pem" "$R/org/signed@$ds"
write_conf "pins=$R/org/signed:v1;$R/org/p:v1
prune-interval=600
[signatures]
policy=$T/sig-policy.json
registries-d=$T/registries.d"
start_watch
wait_until "the signed pin is pulled" 120 -- has_name "$R/org/signed:v1"
wait_until "the unsigned pin is refused, with the policy's line" 120 -- \
  grep -q "pull of pin $R/org/p:v1 failed: $R/org/p:v1: refused by signature policy $T/sig-policy.json (scope $R/org): no cosign signature" "$T/watch.log"
has_name "$R/org/p:v1" && rc=0 || rc=1
assert_eq "$rc" 1 "and is not stored"
stop_watch "the service with a signature policy"
run_ok "inspect the signed pin" -- mvol --json inspect "$R/org/signed:v1"
assert_eq "$(jq -r .signature.accepted <<<"$LAST_STDOUT")" true "its verdict is kept"

# --- the unit's hardening --------------------------------------------------------------
# systemd is not PID 1 here: the unit is checked by systemd-analyze, and what its directives
# do to the service is reproduced: a private mount namespace where everything is read-only but
# the store (ProtectSystem=strict + ReadWritePaths), /root and /home empty (ProtectHome), an
# empty /var/tmp (PrivateTmp; the store keeps its temp files in <root>/tmp), and
# no_new_privs (NoNewPrivileges). The sandboxed unpacker (tar layers) must still work.
sed -e "s|@BINDIR@|$(dirname "$MODELVOL")|" -e "s|@STORE_ROOT@|/var/lib/modelvol|" \
  -e "s|@RUN_DIR@|/run/modelvol|" "$SRCDIR/contrib/systemd/modelvol-watch.service.in" \
  >"$T/modelvol-watch.service"
run_ok "systemd-analyze verify accepts the unit" -- systemd-analyze verify --man=no "$T/modelvol-watch.service"
assert_eq "$(grep -v 'is not executable' <<<"$LAST_STDERR$LAST_STDOUT" | grep -c .)" 0 "without a warning"
for d in Type=notify ProtectSystem=strict ProtectHome=yes PrivateTmp=yes NoNewPrivileges=yes; do
  check "the unit has $d" -- grep -qx "$d" "$T/modelvol-watch.service"
done
check "the unit reloads with SIGHUP" -- grep -qxF 'ExecReload=/bin/kill -HUP $MAINPID' "$T/modelvol-watch.service"
check "RestrictNamespaces leaves the four the unpacker unshares" -- \
  grep -qx 'RestrictNamespaces=mnt net ipc uts' "$T/modelvol-watch.service"
new_root
mkdir -p "$ROOT"
write_conf "prune-interval=600"
: >"$T/watch.log"
: >"$T/notify.log"
MODELVOL_CONFIG=$T/watch.conf NOTIFY_SOCKET=$T/notify.sock unshare -m --propagation private \
  bash -c 'mount --bind "$1" "$1"
    awk "{print \$5}" /proc/self/mountinfo | sort -u | while read -r m; do
      case $m in /proc|/proc/*|/sys|/sys/*|/dev|/dev/*|"$1"|"$1"/*) continue ;; esac
      mount -o remount,bind,ro "$m" 2>/dev/null || true
    done
    mount -t tmpfs -o ro,mode=0755 tmpfs /root
    mount -t tmpfs -o ro,mode=0755 tmpfs /home
    mount -t tmpfs -o mode=1777 tmpfs /var/tmp
    touch "$1/../ro-probe" 2>/dev/null || echo "sandbox: outside the store is read-only" >&2
    exec setpriv --no-new-privs "$2" watch' _ "$ROOT" "$MODELVOL" 2>>"$T/watch.log" &
WATCH_PID=$!
CLEANUP_PIDS+=("$WATCH_PID")
wait_until "under the unit's sandbox the service is ready" 60 -- grep -qx READY=1 "$T/notify.log"
check "(the emulation holds: outside the store is read-only)" -- grep -q "^sandbox: outside the store is read-only" "$T/watch.log"
wait_until "and imports model a (a tar layer: the sandboxed unpacker)" 120 -- has_model "$DA"
stop_watch "the sandboxed service"
check "no error was logged" -- bash -c "! grep -E ': (error|warning):' '$T/watch.log'"
run_ok "fsck of the sandboxed service's store" -- mvol fsck

# Journald: when stderr is the stream JOURNAL_STREAM names, lines carry <N> priority prefixes.
: >"$T/journal.log"
: >"$T/notify.log"
MODELVOL_CONFIG=$T/watch.conf NOTIFY_SOCKET=$T/notify.sock \
  JOURNAL_STREAM=$(stat -c '%d:%i' "$T/journal.log") "$MODELVOL" watch 2>>"$T/journal.log" &
WATCH_PID=$!
CLEANUP_PIDS+=("$WATCH_PID")
wait_until "ready again" 60 -- grep -qx READY=1 "$T/notify.log"
stop_watch "the service writing to the journal"
check "info lines start with <6>" -- grep -q '^<6>watching ' "$T/journal.log"
check "the stop notice with <5>" -- grep -q '^<5>stopping' "$T/journal.log"

finish
