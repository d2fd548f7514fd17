#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Several processes on one store at once (SECURITY-BAR 30): importers of the same model and of
# models that share layers, checkouts and prunes racing them. Afterwards every import has
# succeeded, both models are complete and byte-exact, the shared files are one inode, nothing
# is left in tmp/, and fsck is clean. A prune that runs while imports are under way never
# removes what they are building (they hold the shared lock; prune takes the exclusive one).
. "$(dirname "$0")/../lib/common.sh"

A=localhost:5000/test/conc-a:v1
B=localhost:5000/test/conc-b:v1
mkmodel preset shared --variant a --seed conc --out "$T/la" --ref "$A" --expect "$T/exp-a" --info "$T/a.json" >/dev/null
mkmodel preset shared --variant b --seed conc --out "$T/lb" --ref "$B" --expect "$T/exp-b" --info "$T/b.json" >/dev/null
da=$(jq -r .manifest "$T/a.json")
db=$(jq -r .manifest "$T/b.json")
# Create the store first, so the racers all open an existing one.
run_ok "create the store" -- mvol df

for round in 1 2 3; do
  pids=()
  for i in 1 2 3; do
    mvol import "oci:$T/la:$A" >"$T/out-a-$round-$i" 2>"$T/err-a-$round-$i" & pids+=($!)
    mvol import "oci:$T/lb:$B" >"$T/out-b-$round-$i" 2>"$T/err-b-$round-$i" & pids+=($!)
  done
  mvol prune >/dev/null 2>"$T/err-prune-$round" & ppid=$!
  fails=0
  for p in "${pids[@]}"; do wait "$p" || fails=$((fails + 1)); done
  prc=0
  wait "$ppid" || prc=$?
  assert_eq "$fails" 0 "round $round: six concurrent imports of two layer-sharing models succeed"
  if [ "$fails" != 0 ]; then diag "$(cat "$T"/err-*-"$round"-* | head -5)"; fi
  assert_eq "$prc" 0 "round $round: a prune racing them succeeds"
  assert_eq "$(sort -u "$T"/out-a-"$round"-*)" "$da" "round $round: every import of a prints a's digest"
  assert_eq "$(sort -u "$T"/out-b-"$round"-*)" "$db" "round $round: every import of b prints b's digest"
  assert_eq "$(model_count)" 2 "round $round: two models"

  # Checkouts racing each other and a prune.
  pids=()
  for i in 1 2 3 4; do
    mvol path "$A" >"$T/path-a-$i" 2>&1 & pids+=($!)
    mvol path "$B" >"$T/path-b-$i" 2>&1 & pids+=($!)
  done
  mvol prune >/dev/null 2>&1 & pids+=($!)
  fails=0
  for p in "${pids[@]}"; do wait "$p" || fails=$((fails + 1)); done
  assert_eq "$fails" 0 "round $round: eight concurrent checkouts and a prune succeed"
  assert_eq "$(sort -u "$T"/path-a-*)" "$ROOT/checkouts/${da#sha256:}" "round $round: all checkouts of a agree"

  ca=$(mvol path "$A")
  cb=$(mvol path "$B")
  assert_tree_eq "$ca" "$T/exp-a" "round $round: a is byte-exact"
  assert_tree_eq "$cb" "$T/exp-b" "round $round: b is byte-exact"
  # Drop the checkouts and one model for the next round: imports must rebuild what prune took.
  if [ $round -lt 3 ]; then
    run_ok "round $round: rm b's name" -- mvol rm "$B"
    run_ok "round $round: prune b" -- mvol prune
    assert_eq "$(model_count)" 1 "round $round: one model left"
  fi
done

shared=()
while IFS= read -r f; do
  if [ -f "$T/exp-b/$f" ] && cmp -s "$T/exp-a/$f" "$T/exp-b/$f" \
    && [ "$(stat -c %a "$T/exp-a/$f")" = "$(stat -c %a "$T/exp-b/$f")" ]; then
    shared+=("$f")
  fi
done < <(cd "$T/exp-a" && find . -type f -printf '%P\n' | sort)
check "fixture: a and b share files" -- test "${#shared[@]}" -gt 0
for f in "${shared[@]}"; do
  assert_eq "$(stat -c %i "$ca/$f")" "$(stat -c %i "$cb/$f")" "shared file $f is one inode"
done
assert_eq "$(find "$ROOT/tmp" -mindepth 1 | wc -l)" 0 "nothing left in tmp/"
run_ok "fsck clean" -- mvol fsck

# Several processes creating one new store at once: each one's half-made repository in tmp/
# must survive the others' sweep of leftovers (it once failed about 1 open in 100 with
# "creating repository in ...: No such file or directory").
fails=0
for round in $(seq 20); do
  new_root
  pids=()
  for i in 1 2 3 4 5 6; do mvol ls >/dev/null 2>"$T/create-$i.err" & pids+=($!); done
  for i in "${!pids[@]}"; do
    if ! wait "${pids[$i]}"; then
      fails=$((fails + 1))
      diag "round $round, opener $((i + 1)): $(cat "$T/create-$((i + 1)).err")"
    fi
  done
done
assert_eq "$fails" 0 "120 processes creating 20 new stores six at a time all succeed"
finish
