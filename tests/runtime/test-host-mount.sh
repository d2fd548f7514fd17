#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# modelvol mount / umount at host paths: read-only, nosuid, nodev, private; byte-exact; a
# subpath; the use record keeps rm and prune off the model until umount; refusals (not a
# directory, unknown model, already mounted, umount of a foreign mount point); the bind-mount
# fallback (MODELVOL_TEST_NO_MOUNT_API=1) gives the same result. Use records whose owner is
# gone (a container killed without poststop, a mount removed behind our back) are reclaimed.
. "$(dirname "$0")/../lib/common.sh"
. "$TESTS_LIB/container.sh"

mkmodel preset shared --variant a --seed hostmount --out "$T/l" --ref v1 --expect "$T/exp" >/dev/null
run_ok "import a model" -- mvol import "oci:$T/l:v1" --name example.com/org/m:v1
D=$LAST_STDOUT
M=example.com/org/m:v1
before=$(host_mounts)
mkdir -p "$T/mnt" "$T/mnt2" "$T/other"

for mode in api bind; do
  if [ $mode = bind ]; then export MODELVOL_TEST_NO_MOUNT_API=1; fi
  run_ok "[$mode] mount" -- mvol mount "$M" "$T/mnt"
  assert_tree_eq "$T/mnt" "$T/exp" "[$mode] the mount is the model, byte-exact"
  opts=$(awk -v t="$T/mnt" '$5 == t {print $6}' /proc/self/mountinfo)
  check "[$mode] ro,nosuid,nodev ($opts)" -- bash -c '[[ ",$1," == *,ro,* && ",$1," == *,nosuid,* && ",$1," == *,nodev,* ]]' _ "$opts"
  prop=$(awk -v t="$T/mnt" '$5 == t {for (i = 7; $i != "-"; i++) printf "%s ", $i}' /proc/self/mountinfo)
  check "[$mode] private propagation (optional fields: '$prop')" -- bash -c '[[ "$1" != *shared:* && "$1" != *master:* ]]' _ "$prop"
  check "[$mode] writes fail" -- bash -c '! touch "$1/x" 2>/dev/null' _ "$T/mnt"
  expect_fail 1 "already has model" "[$mode] a second mount on the same target" -- mvol mount "$M" "$T/mnt"
  run_ok "[$mode] rm the name" -- mvol rm "$M"
  run_ok "[$mode] prune while mounted" -- mvol prune
  check "[$mode] the mounted model survives" -- has_model "$D"
  expect_fail 1 "in use" "[$mode] rm by digest while mounted" -- mvol rm "$D"
  run_ok "[$mode] umount" -- mvol umount "$T/mnt"
  check "[$mode] the target is no longer a mount point" -- bash -c '! mountpoint -q "$1"' _ "$T/mnt"
  run_ok "[$mode] prune after umount" -- mvol prune
  check "[$mode] the unnamed model is reclaimed" -- lacks_model "$D"
  run_ok "[$mode] import again" -- mvol import "oci:$T/l:v1" --name "$M"
  unset MODELVOL_TEST_NO_MOUNT_API
done

run_ok "mount a subpath" -- mvol mount --subpath weights "$M" "$T/mnt2"
assert_tree_eq "$T/mnt2" "$T/exp/weights" "the subpath mount is that directory"
run_ok "umount it" -- mvol umount "$T/mnt2"
run_ok "mount --noexec" -- mvol mount --noexec "$M" "$T/mnt2"
check "noexec is set" -- bash -c 'awk -v t="$1" '\''$5 == t {print $6}'\'' /proc/self/mountinfo | grep -q noexec' _ "$T/mnt2"
run_ok "umount it" -- mvol umount "$T/mnt2"
expect_fail 1 "subPath 'nope' of the model" "a subpath that does not exist" -- mvol mount --subpath nope "$M" "$T/mnt2"
expect_fail 1 "subPath.*escapes" "a subpath with .." -- mvol mount --subpath ../x "$M" "$T/mnt2"
expect_fail 1 "not a directory" "a target that is a file" -- mvol mount "$M" "$T/exp/config.json"
expect_fail 1 "mount target '$T/missing'" "a missing target" -- mvol mount "$M" "$T/missing"
expect_fail 1 "not in the store|no model" "an unknown model" -- mvol mount example.com/org/none:v1 "$T/mnt2"
mount -t tmpfs tmpfs "$T/other"
expect_fail 1 "is not a modelvol mount" "umount of a mount point modelvol did not make" -- mvol umount "$T/other"
check "that mount is left alone" -- mountpoint -q "$T/other"
umount "$T/other"
check "no use record is left from the refusals" -- bash -c '! ls "$1"/run/uses/*/* 2>/dev/null' _ "$ROOT"

# Stale records: a mount removed behind our back, a container killed without poststop.
run_ok "mount again" -- mvol mount "$M" "$T/mnt"
umount "$T/mnt"
run_ok "rm the name" -- mvol rm "$M"
run_ok "prune" -- mvol prune
check "a record whose mount is gone does not hold the model" -- lacks_model "$D"
run_ok "import again" -- mvol import "oci:$T/l:v1" --name "$M"
printf '[store]\nroot=%s\n' "$ROOT" >"$T/modelvol.conf"
make_bundle "$T/b" 'sleep 600'
bundle_jq "$T/b" '.annotations["modelvol.io/mounts"] = $a' --arg a "[{\"ref\": \"$M\", \"path\": \"/m\"}]"
bundle_add_hook "$T/b" "$T/modelvol.conf"
bundle_jq "$T/b" 'del(.hooks.poststop)'
check "start a container using the model" -- ctr_start "$T/b" mv-stale-1
run_ok "rm the name" -- mvol rm "$M"
run_ok "prune while it runs" -- mvol prune
check "the running container's model is kept" -- has_model "$D"
kill -9 "$(runc state mv-stale-1 | jq -r .pid)"
for _ in $(seq 100); do [ "$(runc state mv-stale-1 | jq -r .status)" = stopped ] && break; sleep 0.05; done
run_ok "prune after the container died (no poststop ran)" -- mvol prune
check "the stale record is reclaimed with the model" -- lacks_model "$D"
ctr_stop mv-stale-1
assert_eq "$(host_mounts)" "$before" "the host's mount table is as it was"

finish
