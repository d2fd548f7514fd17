/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <dirent.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "mv-error-private.h"
#include "mv-fdio-private.h"
#include "mv-path-private.h"

static int
sys_openat2 (int dfd, const char *path, struct open_how *how)
{
#ifdef SYS_openat2
  return (int)syscall (SYS_openat2, dfd, path, how, sizeof (*how));
#else
  errno = ENOSYS;
  return -1;
#endif
}

static gboolean
want_fallback (MvChaseFlags flags)
{
  static int env = -1;
  if (flags & MV_CHASE_FORCE_FALLBACK)
    return TRUE;
  if (env < 0)
    env = g_strcmp0 (g_getenv ("MODELVOL_TEST_CHASE_FALLBACK"), "1") == 0;
  return env == 1;
}

/* Walks one component at a time with O_PATH|O_NOFOLLOW. Symlinks inside are followed by
 * hand (in-root semantics) up to a bound; ".." never rises above the root fd. */
static int
chase_walk (int dfd, const char *path, MvChaseFlags flags, GError **error)
{
  g_autoptr (GPtrArray) stack = g_ptr_array_new (); /* of GINT_TO_POINTER(fd) */
  g_autoptr (GQueue) todo = g_queue_new ();
  g_auto (GStrv) parts = NULL;
  int links = 0;
  int cur;
  int result = -1;

  cur = openat (dfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (cur < 0)
    {
      mv_throw_errno_prefix (error, "opening root for '%s'", path);
      return -1;
    }
  g_ptr_array_add (stack, GINT_TO_POINTER (cur));

  parts = g_strsplit (path, "/", -1);
  for (int i = g_strv_length (parts) - 1; i >= 0; i--)
    g_queue_push_head (todo, g_strdup (parts[i]));

  while (!g_queue_is_empty (todo))
    {
      g_autofree char *comp = g_queue_pop_head (todo);
      int top = GPOINTER_TO_INT (stack->pdata[stack->len - 1]);
      struct stat st;

      if (*comp == '\0' || strcmp (comp, ".") == 0)
        continue;
      if (strcmp (comp, "..") == 0)
        {
          if (!(flags & MV_CHASE_RESOLVE_IN_ROOT) && stack->len == 1)
            {
              mv_throw (error, MV_ERROR_UNSAFE_PATH, "path '%s' escapes its root", path);
              goto out;
            }
          if (stack->len > 1)
            {
              close (top);
              g_ptr_array_remove_index (stack, stack->len - 1);
            }
          continue;
        }

      int fd = openat (top, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0 && errno == ENOENT && (flags & MV_CHASE_MKDIR))
        {
          if (mkdirat (top, comp, 0755) < 0 && errno != EEXIST)
            {
              mv_throw_errno_prefix (error, "creating directory '%s' in '%s'", comp, path);
              goto out;
            }
          fd = openat (top, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        }
      if (fd < 0)
        {
          mv_throw_errno_prefix (error, "opening '%s'", path);
          goto out;
        }
      if (fstat (fd, &st) < 0)
        {
          close (fd);
          mv_throw_errno_prefix (error, "stat of '%s'", path);
          goto out;
        }
      if (S_ISLNK (st.st_mode))
        {
          char target[PATH_MAX + 1];
          ssize_t n;

          if ((flags & MV_CHASE_NO_SYMLINKS) || ++links > 40)
            {
              close (fd);
              mv_throw (error, MV_ERROR_UNSAFE_PATH, "path '%s': %s", path,
                        links > 40 ? "too many levels of symbolic links" : "is a symbolic link");
              goto out;
            }
          n = readlinkat (fd, "", target, sizeof target - 1);
          close (fd);
          if (n < 0)
            {
              mv_throw_errno_prefix (error, "reading link in '%s'", path);
              goto out;
            }
          target[n] = '\0';
          if (target[0] == '/')
            {
              if (!(flags & MV_CHASE_RESOLVE_IN_ROOT))
                {
                  mv_throw (error, MV_ERROR_UNSAFE_PATH, "path '%s': absolute symbolic link", path);
                  goto out;
                }
              while (stack->len > 1)
                {
                  close (GPOINTER_TO_INT (stack->pdata[stack->len - 1]));
                  g_ptr_array_remove_index (stack, stack->len - 1);
                }
            }
          g_auto (GStrv) tparts = g_strsplit (target, "/", -1);
          for (int i = g_strv_length (tparts) - 1; i >= 0; i--)
            g_queue_push_head (todo, g_strdup (tparts[i]));
          continue;
        }
      if (!S_ISDIR (st.st_mode))
        {
          close (fd);
          errno = ENOTDIR;
          mv_throw_errno_prefix (error, "opening '%s'", path);
          goto out;
        }
      g_ptr_array_add (stack, GINT_TO_POINTER (fd));
    }

  result = GPOINTER_TO_INT (stack->pdata[stack->len - 1]);
  g_ptr_array_remove_index (stack, stack->len - 1);
out:
  for (guint i = 0; i < stack->len; i++)
    close (GPOINTER_TO_INT (stack->pdata[i]));
  g_queue_free_full (g_steal_pointer (&todo), g_free);
  return result;
}

int
mv_chaseat (int dfd, const char *path, MvChaseFlags flags, GError **error)
{
  if (strlen (path) > (gsize)MV_PATH_MAX)
    {
      mv_throw (error, MV_ERROR_UNSAFE_PATH, "path is longer than %d bytes", MV_PATH_MAX);
      return -1;
    }

  if (!want_fallback (flags) && !(flags & MV_CHASE_MKDIR))
    {
      struct open_how how = {
        .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
        .resolve = RESOLVE_NO_MAGICLINKS
                   | ((flags & MV_CHASE_RESOLVE_IN_ROOT) ? RESOLVE_IN_ROOT : RESOLVE_BENEATH)
                   | ((flags & MV_CHASE_NO_SYMLINKS) ? RESOLVE_NO_SYMLINKS : 0),
      };
      for (int tries = 0; tries < 64; tries++)
        {
          int fd = sys_openat2 (dfd, *path ? path : ".", &how);
          if (fd >= 0)
            return fd;
          if (errno == EAGAIN || errno == EINTR)
            continue;
          if (errno == ENOSYS || errno == EPERM /* seccomp in old containers */)
            break;
          if (errno == EXDEV || errno == ELOOP)
            {
              mv_throw (error, MV_ERROR_UNSAFE_PATH, "path '%s' leaves its root", path);
              return -1;
            }
          mv_throw_errno_prefix (error, "opening '%s'", path);
          return -1;
        }
    }
  /* With MKDIR we must walk anyway, to create each missing component inside the root. */
  return chase_walk (dfd, path, flags, error);
}

int
mv_opendirat (int dfd, const char *path, gboolean follow, GError **error)
{
  int fd = openat (dfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW));
  if (fd < 0)
    mv_throw_errno_prefix (error, "opening directory '%s'", path);
  return fd;
}

gboolean
mv_ensure_dirat (int dfd, const char *path, mode_t mode, GError **error)
{
  struct stat st;

  if (mkdirat (dfd, path, mode) == 0)
    return TRUE;
  if (errno != EEXIST)
    return mv_throw_errno_prefix (error, "creating directory '%s'", path);
  if (fstatat (dfd, path, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return mv_throw_errno_prefix (error, "stat of '%s'", path);
  if (!S_ISDIR (st.st_mode))
    {
      errno = ENOTDIR;
      return mv_throw_errno_prefix (error, "creating directory '%s'", path);
    }
  return TRUE;
}

static gboolean
rm_rf_children (int dfd, GCancellable *cancellable, GError **error)
{
  DIR *d;
  struct dirent *de;
  int dupfd = fcntl (dfd, F_DUPFD_CLOEXEC, 3);

  if (dupfd < 0)
    return mv_throw_errno_prefix (error, "dup");
  d = fdopendir (dupfd);
  if (d == NULL)
    {
      close (dupfd);
      return mv_throw_errno_prefix (error, "fdopendir");
    }
  while ((errno = 0, de = readdir (d)) != NULL)
    {
      if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
        continue;
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        {
          closedir (d);
          return FALSE;
        }
      if (unlinkat (dfd, de->d_name, 0) == 0 || errno == ENOENT)
        continue;
      if (errno != EISDIR && errno != EPERM)
        {
          mv_throw_errno_prefix (error, "removing '%s'", de->d_name);
          closedir (d);
          return FALSE;
        }
      if (!mv_rm_rf_at (dfd, de->d_name, cancellable, error))
        {
          closedir (d);
          return FALSE;
        }
    }
  closedir (d);
  return TRUE;
}

gboolean
mv_rm_rf_at (int dfd, const char *path, GCancellable *cancellable, GError **error)
{
  mv_autofd int fd = -1;

  if (unlinkat (dfd, path, 0) == 0 || errno == ENOENT)
    return TRUE;
  if (errno != EISDIR && errno != EPERM)
    return mv_throw_errno_prefix (error, "removing '%s'", path);
  fd = openat (dfd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    {
      if (errno == ENOENT)
        return TRUE;
      return mv_throw_errno_prefix (error, "opening '%s'", path);
    }
  if (!rm_rf_children (fd, cancellable, error))
    return mv_prefix_error (error, "removing '%s'", path);
  if (unlinkat (dfd, path, AT_REMOVEDIR) < 0 && errno != ENOENT)
    return mv_throw_errno_prefix (error, "removing '%s'", path);
  return TRUE;
}

/* Reads to EOF, never more than max_size + 1 bytes (a file may grow while we read, a pipe
 * may never end). */
static GBytes *
read_bounded (int fd, gsize size_hint, gsize max_size, const char *what, GError **error)
{
  g_autofree char *buf = NULL;
  gsize len = 0, alloc;

  alloc = MIN (size_hint, max_size) + 1;
  buf = g_malloc (alloc);
  for (;;)
    {
      ssize_t n;
      if (len == alloc)
        {
          if (alloc > max_size)
            {
              mv_throw (error, MV_ERROR_LIMIT_EXCEEDED,
                        "'%s' is larger than the limit of %" G_GSIZE_FORMAT " bytes", what,
                        max_size);
              return NULL;
            }
          alloc = MIN (MAX (alloc * 2, 4096), max_size + 1);
          buf = g_realloc (buf, alloc);
        }
      n = read (fd, buf + len, alloc - len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          mv_throw_errno_prefix (error, "reading '%s'", what);
          return NULL;
        }
      if (n == 0)
        break;
      len += n;
    }
  if (len > max_size)
    {
      mv_throw (error, MV_ERROR_LIMIT_EXCEEDED,
                "'%s' is larger than the limit of %" G_GSIZE_FORMAT " bytes", what, max_size);
      return NULL;
    }
  return g_bytes_new_take (g_steal_pointer (&buf), len);
}

GBytes *
mv_fd_read_all (int fd, gsize max_size, const char *what, GError **error)
{
  struct stat st;

  if (fstat (fd, &st) < 0)
    {
      mv_throw_errno_prefix (error, "stat of '%s'", what);
      return NULL;
    }
  if (!S_ISREG (st.st_mode))
    {
      mv_throw (error, MV_ERROR_INVALID_MANIFEST, "'%s' is not a regular file", what);
      return NULL;
    }
  if ((guint64)st.st_size > max_size)
    {
      mv_throw (error, MV_ERROR_LIMIT_EXCEEDED,
                "'%s' is larger than the limit of %" G_GSIZE_FORMAT " bytes", what, max_size);
      return NULL;
    }
  return read_bounded (fd, (gsize)st.st_size, max_size, what, error);
}

GBytes *
mv_stream_read_all (int fd, gsize max_size, const char *what, GError **error)
{
  return read_bounded (fd, 4096, max_size, what, error);
}

GBytes *
mv_file_get_contents_at (int dfd, const char *path, gboolean follow, gsize max_size, GError **error)
{
  mv_autofd int fd = -1;

  fd = openat (dfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | (follow ? 0 : O_NOFOLLOW));
  if (fd < 0)
    {
      mv_throw_errno_prefix (error, "opening '%s'", path);
      return NULL;
    }
  return mv_fd_read_all (fd, max_size, path, error);
}

#define WRITEBACK_STEP (8 * 1024 * 1024)

void
mv_fd_start_writeback (int fd, guint64 *flushed, guint64 written)
{
  if (written - *flushed < WRITEBACK_STEP)
    return;
  (void)sync_file_range (fd, *flushed, written - *flushed, SYNC_FILE_RANGE_WRITE);
  *flushed = written;
}

int
mv_loop_write (int fd, const void *buf, gsize len)
{
  const char *p = buf;
  while (len > 0)
    {
      ssize_t n = write (fd, p, len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return -1;
      if (n == 0)
        {
          errno = ENOSPC;
          return -1;
        }
      p += n;
      len -= n;
    }
  return 0;
}

gboolean
mv_file_replace_contents_at (int dfd, const char *path, const void *data, gsize len, mode_t mode,
                             GError **error)
{
  g_autofree char *tmp = g_strdup_printf ("%s.tmp-%d-%u", path, getpid (), g_random_int ());
  mv_autofd int fd = openat (dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);

  if (fd < 0)
    return mv_throw_errno_prefix (error, "creating '%s'", tmp);
  if (mv_loop_write (fd, data, len) < 0 || fchmod (fd, mode) < 0 || fsync (fd) < 0)
    {
      mv_throw_errno_prefix (error, "writing '%s'", path);
      (void)unlinkat (dfd, tmp, 0);
      return FALSE;
    }
  if (renameat (dfd, tmp, dfd, path) < 0)
    {
      mv_throw_errno_prefix (error, "renaming '%s'", path);
      (void)unlinkat (dfd, tmp, 0);
      return FALSE;
    }
  return TRUE;
}

char *
mv_fd_get_path (int fd)
{
  g_autofree char *proc = g_strdup_printf ("/proc/self/fd/%d", fd);
  return g_file_read_link (proc, NULL);
}
