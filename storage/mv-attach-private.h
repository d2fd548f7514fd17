/* mv-attach: read-only model mounts, the mechanics. No libostree.
 * SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <gio/gio.h>
#include "modelvol.h"

/**
 * mv_attach_at:
 * Mounts @checkout (or its @subpath, resolved beneath it) read-only, nosuid, nodev, private,
 * at the existing directory @target in the caller's mount namespace.
 */
gboolean mv_attach_at (const char *checkout, const char *subpath, const char *target,
                       MvMountFlags flags, GError **error);

/**
 * mv_container_pidfd:
 * A pidfd for the container process @pid, refusing a pid that is gone, reused while we
 * looked, or that shares our mount namespace. @out_start gets its start time (use record).
 * Returns: the pidfd, or -1 with @error set
 */
int mv_container_pidfd (int pid, guint64 *out_start, GError **error);

/**
 * mv_attach_in_container:
 * The same mount at @dest inside @rootfs in the mount namespace of @pidfd, from a child
 * process: @dest is resolved as if @rootfs were "/", missing directories are made inside it,
 * and a destination that resolves to the rootfs itself is refused.
 */
gboolean mv_attach_in_container (const char *checkout, const char *subpath, int pidfd, int pid,
                                 const char *rootfs, const char *dest, MvMountFlags flags,
                                 GError **error);

/**
 * mv_store_peek_checkout:
 * @root: a store root
 * @digest: a manifest digest
 * Without opening the repository: the checkout path of the model if the model is stored and
 * already checked out (the hook's light path), else NULL. Call with the shared lock held
 * (mv_store_lock_root_shared()).
 */
char *mv_store_peek_checkout (const char *root, const char *digest);

/**
 * mv_store_lock_root_shared:
 * Takes the shared store lock of the store at @root without opening it (compatible with
 * mv_store_lock_acquire()), waiting up to @timeout_ms.
 * Returns: the lock fd (close to release), or -1 with @error set
 */
int mv_store_lock_root_shared (const char *root, int timeout_ms, GError **error);
