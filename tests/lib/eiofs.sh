# shellcheck shell=bash
# SPDX-License-Identifier: Apache-2.0
# eiofs (tests/lib/eiofs.c, built as tests/integration/eiofs) for the read-error tests: a
# directory served read-only through FUSE, chosen reads of one file failing with a real EIO.
# Source after common.sh (and container.sh). Skips the test (77) without root, /dev/fuse or
# the eiofs binary ($MODELVOL_EIOFS). The test itself should run in a mount namespace of its
# own (unshare --mount --propagation private), so that no mount outlives it.
#
#   eio_mount SOURCE MOUNTPOINT [EIOFS_ARGS...]   serve SOURCE at MOUNTPOINT; faults are
#                                                 logged to $T/eio.log, one line each
#   eio_umount                                    unmount it and reap eiofs
#   eio_first_reader                              the thread that met the first fault

EIOFS=${MODELVOL_EIOFS:-$(dirname "$MODELVOL")/../tests/integration/eiofs}
if [ "$(id -u)" != 0 ] || [ ! -c /dev/fuse ] || [ ! -x "$EIOFS" ]; then
  # In CI every dependency is installed (contrib/install-deps.sh): a skip there would hide
  # the read-error cases, so it is a failure.
  if [ "${CI:-}" = true ]; then
    echo "$(basename "$0"): needs root, /dev/fuse and eiofs (libfuse3-dev at build time): missing" >&2
    exit 1
  fi
  skip_all "needs root, /dev/fuse and eiofs (MODELVOL_EIOFS)"
fi
EIO_PID=
EIO_MNT=

eio_mount() {
  EIO_MNT=$2
  : >"$T/eio.log"
  ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0" "$EIOFS" "$@" --log "$T/eio.log" \
    2>>"$T/eiofs.err" &
  EIO_PID=$!
  CLEANUP_PIDS+=("$EIO_PID")
  for _ in $(seq 100); do
    mountpoint -q "$EIO_MNT" && return 0
    kill -0 "$EIO_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "eiofs did not mount: $(cat "$T/eiofs.err")" >&2
  return 1
}

eio_umount() {
  umount "$EIO_MNT"
  wait "$EIO_PID" 2>/dev/null || true
  CLEANUP_PIDS=()
  EIO_MNT=
}

eio_first_reader() {
  head -n 1 "$T/eio.log" | sed -n 's/.* by //p'
}

# A mount left by a failed check is detached before $T is removed.
_eio_exit() {
  local rc=$?
  set +e # (the failing status passed on below must not end this handler)
  if [ -n "$EIO_MNT" ]; then umount -l "$EIO_MNT" 2>/dev/null || true; fi
  if declare -F _container_exit >/dev/null; then _container_exit; fi
  (exit $rc)
  _common_exit
}
trap _eio_exit EXIT
