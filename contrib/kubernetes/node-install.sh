#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Installs modelvol on a node from a payload tree, or removes it again. The installer
# DaemonSet (daemonset.yaml) runs it in a privileged container with the node's directories
# mounted under $HOST_ROOT; tests/integration/test-kubernetes.sh runs it into a scratch dir.
#
#   node-install.sh install      copy the payload in, record what was written, enable units
#   node-install.sh uninstall    disable units, remove exactly what was recorded
#   node-install.sh status       print the record
#
# Environment:
#   HOST_ROOT   the node's root (default /host). Every path below is relative to it.
#   PAYLOAD     a `meson install --destdir` tree of modelvol built for the node (default
#               /payload; see contrib/kubernetes/Containerfile for its meson options).
#   HOST_EXEC   how to run a command on the node, for systemctl (default: nsenter into
#               PID 1's namespaces, which needs hostPID). Used only when the node runs
#               systemd, i.e. $HOST_ROOT/run/systemd/system exists.
#   MODELVOL_RESTART_CRIO  auto (default): restart crio.service when the CRI-O drop-in was
#               added, changed or removed; never: leave that to the operator.
#
# What it writes: every file and symlink of the payload, at the same path; a symlink
# /usr/local/bin/modelvol; /etc/modelvol/modelvol.conf from the example when there is none
# (an operator's file is never touched). The record, PREFIX/share/modelvol/install-manifest,
# lists each with its sha256 and the directories it created, so uninstall removes exactly
# those (a config the operator edited since is kept) and an upgrade removes files the new
# payload no longer has. A file already there that the record does not list is never overwritten: the
# install stops naming it. The store (/var/lib/modelvol) is data and stays; remove it by hand
# once no pod uses a model.
set -euo pipefail
umask 022

HOST_ROOT=${HOST_ROOT:-/host}
PAYLOAD=${PAYLOAD:-/payload}
RESTART_CRIO=${MODELVOL_RESTART_CRIO:-auto}
CONF=/etc/modelvol/modelvol.conf
LINK=/usr/local/bin/modelvol
DROPIN=/etc/crio/crio.conf.d/10-modelvol.conf # where the payload (or record) has it

die() {
  echo "node-install.sh: $*" >&2
  exit 1
}
say() { echo "node-install.sh: $*"; }

host_has_systemd() { [ -d "$HOST_ROOT/run/systemd/system" ]; }
host_exec() {
  if [ -n "${HOST_EXEC:-}" ]; then
    # shellcheck disable=SC2086  # a command line by design
    $HOST_EXEC "$@"
  else
    nsenter --target 1 --mount --uts --ipc --net --pid -- "$@"
  fi
}

# The prefix: where the payload's modelvol binary lives (PREFIX/bin/modelvol).
payload_prefix() {
  local bin
  bin=$(cd "$PAYLOAD" && find . -path '*/bin/modelvol' -type f | head -n 1)
  [ -n "$bin" ] || die "payload $PAYLOAD has no bin/modelvol (a meson install --destdir tree)"
  bin=${bin#.}
  echo "${bin%/bin/modelvol}"
}

# The record of an install: lines "f SHA256 PATH", "l TARGET PATH", "d - PATH".
manifest_path() { echo "$HOST_ROOT$1/share/modelvol/install-manifest"; }
find_manifest() {
  find "$HOST_ROOT/opt" "$HOST_ROOT/usr" -maxdepth 5 -path "$HOST_ROOT/*/share/modelvol/install-manifest" \
    2>/dev/null | head -n 1
}

sha() { sha256sum "$1" | cut -d' ' -f1; }

# mkdirs PATH: creates the missing parents of host PATH, recording each new one.
mkdirs() {
  local d=$1 missing=()
  while [ "$d" != / ] && [ ! -e "$HOST_ROOT$d" ]; do
    missing=("$d" "${missing[@]}")
    d=$(dirname "$d")
  done
  for d in "${missing[@]}"; do
    mkdir -m 0755 "$HOST_ROOT$d"
    echo "d - $d" >>"$NEW"
  done
}

# listed RECORD PATH: whether RECORD has a line for PATH.
listed() { [ -n "$1" ] && awk -v p="$2" '$3 == p { found = 1 } END { exit !found }' "$1"; }
# owned PATH: whether the old record (or this run) lists host PATH.
owned() { listed "$OLD" "$1" || listed "$NEW" "$1"; }

put_file() { # SRC DEST MODE
  local src=$1 dest=$2 mode=$3
  if [ -e "$HOST_ROOT$dest" ] || [ -L "$HOST_ROOT$dest" ]; then
    owned "$dest" || die "$dest exists and was not installed by modelvol; not overwriting it"
  fi
  mkdirs "$(dirname "$dest")"
  cp "$src" "$HOST_ROOT$dest.mv-new"
  chmod "$mode" "$HOST_ROOT$dest.mv-new"
  mv -f "$HOST_ROOT$dest.mv-new" "$HOST_ROOT$dest"
  echo "f $(sha "$HOST_ROOT$dest") $dest" >>"$NEW"
}

put_link() { # TARGET DEST
  local target=$1 dest=$2
  if [ -e "$HOST_ROOT$dest" ] || [ -L "$HOST_ROOT$dest" ]; then
    owned "$dest" || die "$dest exists and was not installed by modelvol; not overwriting it"
  fi
  mkdirs "$(dirname "$dest")"
  ln -sfn "$target" "$HOST_ROOT$dest.mv-new"
  mv -fT "$HOST_ROOT$dest.mv-new" "$HOST_ROOT$dest"
  echo "l $target $dest" >>"$NEW"
}

# remove_files RECORD [KEEP]: removes the files and symlinks RECORD lists that KEEP (a new
# record) does not; a file only if it still has the checksum we wrote.
remove_files() {
  local rec=$1 keep=${2:-} kind sum path
  while read -r kind sum path; do
    [ "$kind" = d ] && continue
    if listed "$keep" "$path"; then continue; fi
    if [ "$kind" = f ] && [ -f "$HOST_ROOT$path" ] && [ "$(sha "$HOST_ROOT$path")" != "$sum" ]; then
      say "keeping $path: changed since it was installed"
      continue
    fi
    rm -f "$HOST_ROOT$path"
  done <"$rec"
}

# remove_dirs RECORD [KEEP]: the directories RECORD says we created, if empty, deepest first.
remove_dirs() {
  local rec=$1 keep=${2:-} kind sum path
  while read -r kind sum path; do
    [ "$kind" = d ] || continue
    if listed "$keep" "$path"; then continue; fi
    echo "$path"
  done <"$rec" | sort -r | while read -r path; do
    rmdir "$HOST_ROOT$path" 2>/dev/null || true
  done
}

restart_crio_if() { # BEFORE-SHA AFTER-SHA
  [ "$1" = "$2" ] && return 0
  if [ "$RESTART_CRIO" = never ] || ! host_has_systemd; then
    say "the CRI-O drop-in $DROPIN changed: restart CRI-O (systemctl restart crio) to apply it"
    return 0
  fi
  if host_exec systemctl is-active --quiet crio.service; then
    say "restarting crio.service for $DROPIN (running containers are not affected)"
    host_exec systemctl restart crio.service
  fi
}

file_sha_or_none() { if [ -f "$HOST_ROOT$1" ]; then sha "$HOST_ROOT$1"; else echo none; fi; }

do_install() {
  local prefix src rel mode dropin_before dropin_after
  [ -d "$HOST_ROOT" ] || die "host root $HOST_ROOT is not a directory"
  [ -d "$PAYLOAD" ] || die "payload $PAYLOAD is not a directory"
  prefix=$(payload_prefix)
  OLD=$(find_manifest)
  NEW=$(mktemp)
  trap 'rm -f "$NEW"' EXIT
  src=$(cd "$PAYLOAD" && find . -path '*/crio.conf.d/10-modelvol.conf' | head -n 1)
  [ -z "$src" ] || DROPIN=${src#.}
  dropin_before=$(file_sha_or_none "$DROPIN")

  # Nothing is written while a file in the way is not ours.
  while IFS= read -r -d '' src; do
    rel=${src#"$PAYLOAD"}
    if { [ -e "$HOST_ROOT$rel" ] || [ -L "$HOST_ROOT$rel" ]; } && ! owned "$rel"; then
      die "$rel exists and was not installed by modelvol; not overwriting it"
    fi
  done < <(find "$PAYLOAD" -mindepth 1 \( -type f -o -type l \) -print0 | sort -z)

  # Files and symlinks in a stable order, their new parent directories recorded.
  while IFS= read -r -d '' src; do
    rel=${src#"$PAYLOAD"}
    if [ -L "$src" ]; then
      put_link "$(readlink "$src")" "$rel"
    elif [ -f "$src" ]; then
      mode=$(stat -c %a "$src")
      put_file "$src" "$rel" "$mode"
    fi
  done < <(find "$PAYLOAD" -mindepth 1 \( -type f -o -type l \) -print0 | sort -z)
  [ "$prefix/bin/modelvol" = "$LINK" ] || put_link "$prefix/bin/modelvol" "$LINK"

  # The config: the example, only where there is none (or it is still our untouched copy).
  if [ ! -e "$HOST_ROOT$CONF" ] || owned "$CONF"; then
    local example
    example=$(find "$PAYLOAD" -name modelvol.conf.example | head -n 1)
    [ -n "$example" ] || die "payload $PAYLOAD has no modelvol.conf.example"
    if [ -e "$HOST_ROOT$CONF" ] && [ "$(sha "$HOST_ROOT$CONF")" != "$(awk -v p="$CONF" '$3 == p { print $2 }' "$OLD")" ]; then
      say "keeping $CONF: changed since it was installed"
    else
      put_file "$example" "$CONF" 0644
    fi
  else
    say "keeping the node's $CONF"
  fi

  # Upgrade: what the old install had and this one does not.
  if [ -n "$OLD" ]; then
    remove_files "$OLD" "$NEW"
    remove_dirs "$OLD" "$NEW"
    # Directories the old install created stay ours.
    { grep '^d ' "$OLD" || true; } | while read -r _ _ path; do
      if ! listed "$NEW" "$path" && [ -d "$HOST_ROOT$path" ]; then echo "d - $path" >>"$NEW"; fi
    done
  fi
  mkdirs "$prefix/share/modelvol"
  cp "$NEW" "$(manifest_path "$prefix")"
  chmod 0644 "$(manifest_path "$prefix")"
  say "installed $(grep -c '^[fl] ' "$NEW") files under $HOST_ROOT (record: $prefix/share/modelvol/install-manifest)"

  if host_has_systemd; then
    host_exec "$prefix/bin/modelvol" --version >/dev/null \
      || die "the installed modelvol does not run on this node (missing libraries? see docs/install.md)"
    host_exec systemctl daemon-reload
    host_exec systemd-tmpfiles --create /etc/tmpfiles.d/modelvol.conf 2>/dev/null \
      || host_exec systemd-tmpfiles --create modelvol.conf
    host_exec systemctl enable --now modelvol-cdi.timer
    host_exec systemctl enable --now modelvol-watch.service
  else
    say "no systemd on the node (no $HOST_ROOT/run/systemd/system): units installed, not enabled"
  fi
  dropin_after=$(file_sha_or_none "$DROPIN")
  restart_crio_if "$dropin_before" "$dropin_after"
}

do_uninstall() {
  local m dropin_before
  m=$(find_manifest)
  if [ -z "$m" ]; then
    say "nothing to uninstall (no install-manifest under $HOST_ROOT)"
    return 0
  fi
  DROPIN=$(awk '$3 ~ /\/crio\.conf\.d\/10-modelvol\.conf$/ { print $3 }' "$m" | head -n 1)
  DROPIN=${DROPIN:-/etc/crio/crio.conf.d/10-modelvol.conf}
  dropin_before=$(file_sha_or_none "$DROPIN")
  if host_has_systemd; then
    host_exec systemctl disable --now modelvol-watch.service modelvol-cdi.timer modelvol-cdi.service || true
  fi
  # Files, then the record, then the directories (the record's own among them).
  remove_files "$m"
  REC=$(mktemp)
  trap 'rm -f "$REC"' EXIT
  cp "$m" "$REC"
  rm -f "$m"
  remove_dirs "$REC"
  if host_has_systemd; then
    host_exec systemctl daemon-reload
  fi
  restart_crio_if "$dropin_before" "$(file_sha_or_none "$DROPIN")"
  say "uninstalled (the store /var/lib/modelvol is kept)"
}

case ${1:-} in
  install) do_install ;;
  uninstall) do_uninstall ;;
  status)
    m=$(find_manifest)
    [ -n "$m" ] || die "not installed under $HOST_ROOT"
    cat "$m"
    ;;
  *)
    echo "usage: node-install.sh install|uninstall|status" >&2
    exit 2
    ;;
esac
