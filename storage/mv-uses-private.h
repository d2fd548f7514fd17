/* mv-uses: use records, <run_dir>/uses/<manifest hex>/<user id>. No libostree: the hook's
 * light path links this directly.
 * SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <gio/gio.h>

/** mv_use_id_is_valid: a user id is 1-255 of [A-Za-z0-9_.+-], not "." or ".." */
gboolean mv_use_id_is_valid (const char *id);

/**
 * mv_run_dir_for_root:
 * Returns: (transfer full): where the use records of the store at @root live:
 *   $MODELVOL_RUN_DIR, else /run/modelvol for the default root, else <root>/run
 */
char *mv_run_dir_for_root (const char *root);

/**
 * mv_uses_add:
 * @user: who uses the model: a container id, or "host-<hash>" for a host mount
 * @record: "key=value" lines: "kind=container\npid=N\nstart=T\n" (T from
 *   mv_process_start_time()) or "kind=mount\ntarget=/abs\n"; they decide when it is stale
 * Writes (atomically, replacing) <run_dir>/uses/<hex>/<user>. Hold the shared store lock
 * around the checkout and this call so prune cannot slip in between.
 */
gboolean mv_uses_add (const char *run_dir, const char *digest, const char *user, const char *record,
                      GError **error);

/** mv_uses_has: TRUE if @user has a record for the model @digest */
gboolean mv_uses_has (const char *run_dir, const char *digest, const char *user);

/** mv_uses_list_of: (transfer full): the digests of the models @user has records for */
char **mv_uses_list_of (const char *run_dir, const char *user);

/** mv_uses_find: (transfer full) (nullable): the digest of a model @user has a record for */
char *mv_uses_find (const char *run_dir, const char *user);

/** mv_uses_drop: removes one record; a missing one is success */
gboolean mv_uses_drop (const char *run_dir, const char *digest, const char *user, GError **error);

/** mv_uses_drop_all_of: removes every record of @user, counting them in @out_dropped */
gboolean mv_uses_drop_all_of (const char *run_dir, const char *user, guint *out_dropped,
                              GError **error);

/**
 * mv_uses_model_in_use:
 * TRUE if a live use record exists for the model; stale records found on the way (container
 * process gone, host mount no longer mounted) are removed. Call under the exclusive lock.
 */
gboolean mv_uses_model_in_use (const char *run_dir, const char *digest);

/** mv_process_start_time: field 22 of /proc/PID/stat, or 0 if gone (or a zombie) */
guint64 mv_process_start_time (int pid);

/** mv_path_is_mount_point: TRUE if @path is a mount point in /proc/self/mountinfo */
gboolean mv_path_is_mount_point (const char *path);
