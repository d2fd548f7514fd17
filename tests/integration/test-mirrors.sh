#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# registries.conf(5), as CRI-O and podman read it: a second docker-registry configured as a
# pull-through cache (proxy:) serves as the mirror of the origin; with the mirror down the
# origin serves; a drop-in blocks a prefix; a prefix is rewritten to another location; a
# broken file fails with one line naming it.
. "$(dirname "$0")/../lib/common.sh"
. "$TESTS_LIB/registry.sh"

registry_start "$T/origin" >/dev/null
O=$REGISTRY
O_PID=$REGISTRY_PID
O_LOG=$REGISTRY_LOG
CLEANUP_PIDS+=("$O_PID")
unset REGISTRY_PID

mkmodel preset all-kinds --out "$T/l1" --ref v1 --expect "$T/exp1" >/dev/null
mkmodel preset all-kinds --family cnai --seed other --out "$T/l2" --ref v1 --expect "$T/exp2" >/dev/null
run_ok "push m to the origin" -- ocipush "oci:$T/l1:v1" "$O/org/m:v1"
run_ok "push other to the origin" -- ocipush "oci:$T/l2:v1" "$O/org/other:v1"
run_ok "push secret to the origin" -- ocipush "oci:$T/l2:v1" "$O/org/secret:v1"

printf 'proxy:\n  remoteurl: http://%s\n' "$O" >"$T/proxy.yml"
MVTEST_REGISTRY_EXTRA=$T/proxy.yml registry_start "$T/mirror" >/dev/null
M=$REGISTRY
M_LOG=$REGISTRY_LOG

conf=$T/registries.conf
cat >"$conf" <<TOML
# a registries.conf as a node with a Dragonfly or Harbor mirror would have it
unqualified-search-registries = []

[[registry]]
prefix = "$O"
location = "$O"
insecure = true

[[registry.mirror]]
location = "$M"
insecure = true

[[registry]]
prefix = "models.example.test/team"
location = "$O/org"
insecure = true
TOML
mkdir -p "$conf.d"
cat >"$conf.d/50-block.conf" <<TOML
[[registry]]
prefix = "$O/org/secret"
blocked = true
TOML

run_ok "pull through the mirror" -- mvol pull --registries-conf "$conf" "$O/org/m:v1"
check "the mirror served the manifest" -- grep -q "GET /v2/org/m/manifests/v1 HTTP/1.1\" 200" "$M_LOG"
run_ok "path" -- mvol path "$O/org/m:v1"
assert_tree_eq "$LAST_STDOUT" "$T/exp1" "the model from the mirror is byte-exact and named by the origin"

registry_stop # the mirror goes down
run_ok "mirror down: the origin serves" -- mvol pull --registries-conf "$conf" "$O/org/other:v1"
check "the origin served the manifest" -- grep -q "GET /v2/org/other/manifests/v1 HTTP/1.1\" 200" "$O_LOG"
run_ok "path other" -- mvol path "$O/org/other:v1"
assert_tree_eq "$LAST_STDOUT" "$T/exp2" "other is byte-exact"

models=$(model_count)
expect_fail 1 "blocked in registries.conf" "a drop-in blocks a prefix" -- \
  mvol pull --registries-conf "$conf" "$O/org/secret:v1"
assert_eq "$(model_count)" "$models" "a blocked pull stores nothing"

run_ok "a prefix rewritten to another location" -- \
  mvol pull --registries-conf "$conf" "models.example.test/team/m:v1"
run_ok "it is named as asked" -- mvol path "models.example.test/team/m:v1"
assert_tree_eq "$LAST_STDOUT" "$T/exp1" "the rewritten pull is byte-exact"

printf '[[registry]]\nprefix = "x\n' >"$T/broken.conf"
expect_fail 1 "broken.conf:[0-9]+" "a broken registries.conf is named with its line" -- \
  mvol pull --registries-conf "$T/broken.conf" "$O/org/m:v1"
expect_fail 1 "blocked in registries.conf" "CONTAINERS_REGISTRIES_CONF is honoured" -- \
  env CONTAINERS_REGISTRIES_CONF="$conf" "$MODELVOL" --root "$ROOT" pull "$O/org/secret:v1"
run_ok "fsck" -- mvol fsck
finish
