/* mv-imports: per-manifest import locks (<run_dir>/imports/<hex>.lock) and last-use times
 * (<root>/last-use/<hex>).
 *
 * Import locks are OFD locks (fcntl F_OFD_SETLK): owned by the open file description, so two
 * threads of one process (the watch service's worker and a CLI thread) exclude each other as
 * two processes do, and F_OFD_GETLK tells a waiter whether one is held without taking it. The
 * holder unlinks the file before it closes it, so the directory only holds running imports; a
 * waiter that gets the lock checks that the path still names the inode it locked.
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mv-error-private.h"
#include "mv-fdio-private.h"
#include "mv-imports-private.h"

#define LAST_USE_DIR "last-use"

static const char *
hex_of (const char *digest)
{
  const char *colon = strchr (digest, ':');
  return colon ? colon + 1 : digest;
}

static char *
lock_path (const char *run_dir, const char *digest)
{
  g_autofree char *name = g_strconcat (hex_of (digest), ".lock", NULL);
  return g_build_filename (run_dir, "imports", name, NULL);
}

static gboolean
same_file (int fd, const char *path)
{
  struct stat a, b;
  return fstat (fd, &a) == 0 && stat (path, &b) == 0 && a.st_ino == b.st_ino
         && a.st_dev == b.st_dev;
}

gboolean
mv_import_lock_acquire (const char *run_dir, const char *digest, MvImportLock *out_lock,
                        GCancellable *cancellable, GError **error)
{
  g_autofree char *dir = g_build_filename (run_dir, "imports", NULL);
  g_autofree char *path = lock_path (run_dir, digest);

  if (g_mkdir_with_parents (dir, 0700) < 0)
    return mv_throw_errno_prefix (error, "creating '%s'", dir);
  for (guint i = 0;; i++)
    {
      struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
      mv_autofd int fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

      if (fd < 0)
        return mv_throw_errno_prefix (error, "opening import lock '%s'", path);
      if (fcntl (fd, F_OFD_SETLK, &fl) < 0)
        {
          if (errno != EAGAIN && errno != EACCES && errno != EINTR)
            return mv_throw_errno_prefix (error, "locking '%s'", path);
          if (i == 0)
            g_debug ("model %s: another import is running; waiting for it", digest);
          if (g_cancellable_set_error_if_cancelled (cancellable, error))
            return FALSE;
          g_usleep (MIN (2000 * (i + 1), 100000));
          continue;
        }
      /* The holder before us unlinked the file we opened: our lock is on an orphan. */
      if (same_file (fd, path))
        {
          out_lock->fd = mv_steal_fd (&fd);
          out_lock->path = g_steal_pointer (&path);
          return TRUE;
        }
    }
}

void
mv_import_lock_clear (MvImportLock *lock)
{
  if (lock->path == NULL)
    return;
  if (same_file (lock->fd, lock->path))
    (void)unlink (lock->path);
  mv_close_fdp (&lock->fd);
  g_clear_pointer (&lock->path, g_free);
}

gboolean
mv_import_lock_is_held (const char *run_dir, const char *digest)
{
  g_autofree char *path = lock_path (run_dir, digest);
  struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
  mv_autofd int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

  if (fd < 0)
    return FALSE;
  /* F_OFD_GETLK wants a lock type our fd could take: a read lock asks the same question. */
  fl.l_type = F_RDLCK;
  if (fcntl (fd, F_OFD_GETLK, &fl) < 0)
    return FALSE;
  return fl.l_type != F_UNLCK;
}

gboolean
mv_import_lock_wait (const char *run_dir, const char *digest, guint timeout_ms,
                     gboolean *out_waited)
{
  gint64 deadline = g_get_monotonic_time () + (gint64)timeout_ms * 1000;
  gboolean held = mv_import_lock_is_held (run_dir, digest);

  if (out_waited != NULL)
    *out_waited = held;
  while (held && g_get_monotonic_time () < deadline)
    {
      g_usleep (50000);
      held = mv_import_lock_is_held (run_dir, digest);
    }
  return !held;
}

void
mv_last_use_note (const char *root, const char *digest)
{
  g_autofree char *dir = g_build_filename (root, LAST_USE_DIR, NULL);
  g_autofree char *path = g_build_filename (dir, hex_of (digest), NULL);
  mv_autofd int fd = -1;

  if (g_mkdir_with_parents (dir, 0700) < 0)
    return;
  fd = open (path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0 || futimens (fd, NULL) < 0)
    g_debug ("last use of %s: %s", digest, g_strerror (errno));
}

gint64
mv_last_use_get (const char *root, const char *digest)
{
  g_autofree char *path = g_build_filename (root, LAST_USE_DIR, hex_of (digest), NULL);
  struct stat st;

  if (lstat (path, &st) < 0 || !S_ISREG (st.st_mode))
    return 0;
  return (gint64)st.st_mtim.tv_sec * G_USEC_PER_SEC + st.st_mtim.tv_nsec / 1000;
}

void
mv_last_use_forget (const char *root, const char *digest)
{
  g_autofree char *path = g_build_filename (root, LAST_USE_DIR, hex_of (digest), NULL);
  (void)unlink (path);
}
