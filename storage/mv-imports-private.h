/* mv-imports: per-manifest import locks and last-use times. No libostree: the hook's light
 * path links this directly.
 * SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <gio/gio.h>

/* A held import lock; released by mv_import_lock_clear(). */
typedef struct
{
  char *path;
  int fd;
} MvImportLock;

/**
 * mv_import_lock_acquire:
 * Takes the import lock of the model @digest, <run_dir>/imports/<hex>.lock (an OFD write
 * lock), waiting while another import (watch, CLI, hook; any thread or process) holds it and
 * honouring @cancellable. Every import of a model takes it once its manifest digest is known,
 * so that the hook can tell that one is running and wait for it instead of starting another.
 * Returns: TRUE with @out_lock held (initialize it to { 0 }), FALSE with @error set
 */
gboolean mv_import_lock_acquire (const char *run_dir, const char *digest, MvImportLock *out_lock,
                                 GCancellable *cancellable, GError **error);

/** mv_import_lock_clear: removes the lock file (still holding it), then releases the lock */
void mv_import_lock_clear (MvImportLock *lock);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (MvImportLock, mv_import_lock_clear)

/** mv_import_lock_is_held: TRUE while some import of the model @digest holds its lock */
gboolean mv_import_lock_is_held (const char *run_dir, const char *digest);

/**
 * mv_import_lock_wait:
 * Waits up to @timeout_ms for the running import of @digest (if any) to end.
 * @out_waited: (out) (optional): TRUE if an import was running when called
 * Returns: TRUE if no import of @digest holds the lock now, FALSE if one still does
 */
gboolean mv_import_lock_wait (const char *run_dir, const char *digest, guint timeout_ms,
                              gboolean *out_waited);

/**
 * mv_last_use_note:
 * Records that the model @digest was used now: the mtime of <root>/last-use/<hex> (created
 * empty if missing). Called wherever a use record is written (hook, mount); the watch
 * service's prune evicts the least recently used model first. Best effort: a failure only
 * makes the model look older.
 */
void mv_last_use_note (const char *root, const char *digest);

/**
 * mv_last_use_get:
 * Returns: the last use of @digest in microseconds since the epoch, or 0 if it was never used
 */
gint64 mv_last_use_get (const char *root, const char *digest);

/** mv_last_use_forget: removes the last-use record of a removed model (best effort) */
void mv_last_use_forget (const char *root, const char *digest);
