#!/bin/busybox sh
# shellcheck shell=dash
# SPDX-License-Identifier: Apache-2.0
# PID 1 of the arm64 test VM (tests/integration/test-aarch64.sh): runs each case of /cases with
# the cross-built mv-unpack-driver and prints what happened on the serial console, one
# "@@"-prefixed line at a time, for the host to judge; then powers off. Judges nothing itself.
#
# /cases: one case a line, "NAME|ENV|ARGS": ENV as for env(1) (space-separated VAR=value),
# ARGS for the driver. A NAME starting with "watch-" is also watched while it runs: the
# status of its unpacker child is printed once its seccomp filter is in place.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t devtmpfs devtmpfs /dev
echo "@@BOOT $(uname -m) $(uname -r)"
mountinfo() { awk '{print $5}' /proc/self/mountinfo | sort; }
mounts_before=$(mountinfo)

# The pid of the unpacker whose parent is $1 (comm holds 15 bytes of its name).
unpacker_of() {
  for s in $(grep -l '^Name:[[:space:]]*modelvol-unpack' /proc/[0-9]*/status 2>/dev/null); do
    if grep -q "^PPid:[[:space:]]*$1\$" "$s"; then
      basename "$(dirname "$s")"
      return 0
    fi
  done
  return 1
}

watch() { # DRIVER_PID: print the unpacker's confinement as /proc shows it
  child=
  for _ in $(seq 200); do
    child=$(unpacker_of "$1") && break
    sleep 0.05
  done
  [ -n "$child" ] || {
    echo "@@WATCH none"
    return
  }
  for _ in $(seq 200); do
    grep -q '^Seccomp:[[:space:]]*2' "/proc/$child/status" 2>/dev/null && break
    sleep 0.02
  done
  grep -E '^(Uid|Gid|CapEff|CapBnd|NoNewPrivs|Seccomp):' "/proc/$child/status" | tr '\t' ' ' \
    | sed 's/^/@@WATCH /'
  echo "@@WATCH netns $([ "$(readlink "/proc/$child/ns/net")" != "$(readlink /proc/self/ns/net)" ] && echo own || echo host)"
  echo "@@WATCH mntns $([ "$(readlink "/proc/$child/ns/mnt")" != "$(readlink /proc/self/ns/mnt)" ] && echo own || echo host)"
  echo "@@WATCH fds $(ls "/proc/$child/fd" | sort | tr '\n' ' ')"
}

while IFS='|' read -r name envs args; do
  [ -n "$name" ] || continue
  echo "@@CASE $name"
  # shellcheck disable=SC2086 # ENV and ARGS are word lists
  env -i PATH=/bin $envs /mv/mv-unpack-driver $args >/tmp/out 2>/tmp/err &
  pid=$!
  case $name in watch-*) watch "$pid" ;; esac
  wait "$pid"
  rc=$?
  sed 's/^/@@OUT /' /tmp/out
  sed 's/^/@@ERR /' /tmp/err
  rm -f /tmp/out /tmp/err
  echo "@@RC $name $rc $(cut -d' ' -f1 /proc/uptime)"
done </cases

# What a compromised unpacker must not have changed.
echo "@@CHECK escape $([ -e /tmp/modelvol-unpack-escape ] && echo present || echo absent)"
echo "@@CHECK mounts $([ "$(mountinfo)" = "$mounts_before" ] && echo same || echo changed)"
echo "@@CHECK staging-left $(find /tmp -maxdepth 1 -name 'mv-unpack-driver-*' | wc -l)"
echo "@@CHECK unpackers-left $(grep -l '^Name:[[:space:]]*modelvol-unpack' /proc/[0-9]*/status 2>/dev/null | wc -l)"
echo "@@DONE"
poweroff -f
