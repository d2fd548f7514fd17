/* mv-mount: the public mount calls: resolve, check out, record the use, attach (mv-attach).
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "mv-attach-private.h"
#include "mv-counters-private.h"
#include "mv-error-private.h"
#include "mv-fdio-private.h"
#include "mv-imports-private.h"
#include "mv-integrity-private.h"
#include "mv-path-private.h"
#include "mv-store-private.h"
#include "mv-uses-private.h"

/* The checkout path (and use record) of @model, under the shared lock so prune waits. */
static char *
checkout_and_record (MvStore *store, const char *model, const char *user, const char *record,
                     char **out_digest, gboolean *out_had_record, GCancellable *cancellable,
                     GError **error)
{
  g_auto (MvStoreLock) lock = { 0 };
  g_autofree char *digest = NULL;
  g_autofree char *path = NULL;

  if (!mv_store_lock_acquire (store, FALSE, &lock, cancellable, error))
    return NULL;
  if (!mv_store_resolve (store, model, &digest, error))
    return NULL;
  if (!mv_store_checkout_intact (store, digest, model, &path, cancellable, error))
    return NULL;
  *out_had_record = mv_uses_has (mv_store_get_run_dir (store), digest, user);
  if (!mv_uses_add (mv_store_get_run_dir (store), digest, user, record, error))
    return NULL;
  mv_last_use_note (mv_store_get_root (store), digest);
  *out_digest = g_steal_pointer (&digest);
  return g_steal_pointer (&path);
}

static char *
host_user_id (const char *target)
{
  g_autofree char *sum = g_compute_checksum_for_string (G_CHECKSUM_SHA256, target, -1);
  return g_strdup_printf ("host-%.32s", sum);
}

static gboolean
mount_at_host (MvStore *store, const char *model, const char *subpath, const char *target,
               MvMountFlags flags, GCancellable *cancellable, GError **error)
{
  const char *run_dir = mv_store_get_run_dir (store);
  g_autofree char *canon = NULL;
  g_autofree char *user = NULL;
  g_autofree char *record = NULL;
  g_autofree char *digest = NULL;
  g_autofree char *checkout = NULL;
  g_autofree char *mounted = NULL;
  gboolean had_record = FALSE;
  struct stat st;

  canon = realpath (target, NULL);
  if (canon == NULL)
    return mv_throw_errno_prefix (error, "mount target '%s'", target);
  if (stat (canon, &st) < 0 || !S_ISDIR (st.st_mode))
    return mv_throw (error, MV_ERROR_FAILED, "mount target '%s' is not a directory", target);
  user = host_user_id (canon);
  mounted = mv_uses_find (run_dir, user);
  if (mounted != NULL && mv_path_is_mount_point (canon))
    return mv_throw (error, MV_ERROR_BUSY, "'%s' already has model %s mounted", canon, mounted);
  record = g_strdup_printf ("kind=mount\ntarget=%s\n", canon);
  checkout
      = checkout_and_record (store, model, user, record, &digest, &had_record, cancellable, error);
  if (checkout == NULL)
    return FALSE;
  if (mv_attach_at (checkout, subpath, canon, flags, error))
    {
      g_debug ("mounted model %s at %s", digest, canon);
      return TRUE;
    }
  if (!had_record)
    (void)mv_uses_drop (run_dir, digest, user, NULL);
  return FALSE;
}

gboolean
mv_store_mount (MvStore *store, const char *model, const char *subpath, const char *target,
                MvMountFlags flags, GCancellable *cancellable, GError **error)
{
  gint64 start = g_get_monotonic_time ();
  gboolean ok = mount_at_host (store, model, subpath, target, flags, cancellable, error);

  mv_counters_record (mv_store_get_root (store), MV_COUNTER_MOUNT_HOST, ok, 0,
                      g_get_monotonic_time () - start);
  return ok;
}

gboolean
mv_store_umount (MvStore *store, const char *target, GError **error)
{
  g_autofree char *canon = realpath (target, NULL);
  g_autofree char *user = NULL;
  g_autofree char *digest = NULL;

  if (canon == NULL)
    return mv_throw_errno_prefix (error, "umount target '%s'", target);
  user = host_user_id (canon);
  digest = mv_uses_find (mv_store_get_run_dir (store), user);
  if (digest == NULL)
    return mv_throw (error, MV_ERROR_NOT_FOUND, "'%s' is not a modelvol mount of store %s", canon,
                     mv_store_get_root (store));
  if (umount2 (canon, UMOUNT_NOFOLLOW) < 0 && errno != EINVAL /* no longer mounted */)
    return mv_throw_errno_prefix (error, "unmounting '%s'", canon);
  return mv_uses_drop_all_of (mv_store_get_run_dir (store), user, NULL, error);
}

gboolean
mv_store_mount_in_container (MvStore *store, const char *model, const char *subpath,
                             const char *container_id, int pid, const char *rootfs,
                             const char *dest, MvMountFlags flags, GCancellable *cancellable,
                             GError **error)
{
  g_autofree char *record = NULL;
  g_autofree char *digest = NULL;
  g_autofree char *checkout = NULL;
  gboolean had_record = FALSE;
  mv_autofd int pidfd = -1;
  guint64 start = 0;

  if (!mv_use_id_is_valid (container_id))
    return mv_throw (error, MV_ERROR_FAILED, "invalid container id");
  if (!mv_path_validate_container_dest (dest, NULL, error))
    return FALSE;
  pidfd = mv_container_pidfd (pid, &start, error);
  if (pidfd < 0)
    return FALSE;
  record = g_strdup_printf ("kind=container\npid=%d\nstart=%" G_GUINT64_FORMAT "\n", pid, start);
  checkout = checkout_and_record (store, model, container_id, record, &digest, &had_record,
                                  cancellable, error);
  if (checkout == NULL)
    return FALSE;
  if (mv_attach_in_container (checkout, subpath, pidfd, pid, rootfs, dest, flags, error))
    {
      g_debug ("mounted model %s at %s in container %s", digest, dest, container_id);
      return TRUE;
    }
  if (!had_record)
    (void)mv_uses_drop (mv_store_get_run_dir (store), digest, container_id, NULL);
  return FALSE;
}

gboolean
mv_store_release_container (MvStore *store, const char *container_id, guint *out_released,
                            GError **error)
{
  return mv_uses_drop_all_of (mv_store_get_run_dir (store), container_id, out_released, error);
}

char **
mv_store_list_container_uses (MvStore *store, const char *container_id, GError **error)
{
  if (!mv_use_id_is_valid (container_id))
    {
      mv_throw (error, MV_ERROR_FAILED, "invalid container id");
      return NULL;
    }
  return mv_uses_list_of (mv_store_get_run_dir (store), container_id);
}
