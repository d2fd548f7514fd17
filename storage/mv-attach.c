/* mv-attach: read-only model mounts, the mechanics (no libostree: the hook's light path links
 * this directly).
 *
 * A mount is a detached clone of the model's checkout (open_tree OPEN_TREE_CLONE), made
 * read-only, nosuid, nodev and private with mount_setattr while still detached, then attached
 * with move_mount to a directory fd. For a container, the attach happens in a short-lived
 * child that enters the container's mount namespace through a pidfd (setns needs a
 * single-threaded caller) and resolves the destination in-root. Where the new mount API is
 * missing, a bind mount through /proc/self/fd plus a read-only remount does the same.
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "mv-attach-private.h"
#include "mv-error-private.h"
#include "mv-fdio-private.h"
#include "mv-path-private.h"
#include "mv-uses-private.h"

/* How long the attaching child may take (a hung FUSE mount in the rootfs, say). */
#define ATTACH_TIMEOUT_MS 30000
#define CHILD_MESSAGE_MAX 1024

static gboolean
want_bind_fallback (void)
{
  return g_strcmp0 (g_getenv ("MODELVOL_TEST_NO_MOUNT_API"), "1") == 0;
}

static guint64
mount_attr_bits (MvMountFlags flags)
{
  return MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV
         | ((flags & MV_MOUNT_NOEXEC) ? MOUNT_ATTR_NOEXEC : 0);
}

/* The directory to mount: the checkout, or @subpath beneath it (in-tree links allowed). */
static int
open_source (const char *checkout, const char *subpath, GError **error)
{
  mv_autofd int dfd = open (checkout, O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  g_autofree char *rel = NULL;

  if (dfd < 0)
    {
      mv_throw_errno_prefix (error, "opening checkout '%s'", checkout);
      return -1;
    }
  if (subpath == NULL || *subpath == '\0' || g_str_equal (subpath, "."))
    return mv_steal_fd (&dfd);
  if (!mv_path_normalize (subpath, MV_PATH_NONE, &rel, error))
    {
      mv_prefix_error (error, "subPath");
      return -1;
    }
  int fd = mv_chaseat (dfd, rel, MV_CHASE_NONE, error);
  if (fd < 0)
    mv_prefix_error (error, "subPath '%s' of the model", rel);
  return fd;
}

/* A detached, read-only clone of @src_fd's directory in *@out_fd; or, where the kernel lacks
 * the new mount API, TRUE with *@out_fd = -1 (the caller bind-mounts instead). */
static gboolean
clone_tree (int src_fd, MvMountFlags flags, int *out_fd, GError **error)
{
  struct mount_attr attr = {
    .attr_set = mount_attr_bits (flags),
    .propagation = MS_PRIVATE,
  };
  mv_autofd int fd = -1;

  *out_fd = -1;
  if (want_bind_fallback ())
    return TRUE;
  fd = open_tree (src_fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
  if (fd < 0)
    return errno == ENOSYS ? TRUE : mv_throw_errno_prefix (error, "cloning the model tree");
  if (mount_setattr (fd, "", AT_EMPTY_PATH, &attr, sizeof attr) < 0)
    return errno == ENOSYS ? TRUE
                           : mv_throw_errno_prefix (error, "making the model mount read-only");
  *out_fd = mv_steal_fd (&fd);
  return TRUE;
}

static int
mount_id_of (int fd)
{
  struct statx stx;
  if (statx (fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &stx) < 0 || !(stx.stx_mask & STATX_MNT_ID))
    return -1;
  return (int)stx.stx_mnt_id;
}

/* Bind fallback: bind @src_path onto the directory @dest_fd, then find the new mount through
 * a fresh in-root lookup (@reopen) and remount it read-only; undone if that fails. */
static gboolean
attach_by_bind (const char *src_path, int dest_fd, int root_fd, const char *dest,
                MvMountFlags flags, GError **error)
{
  g_autofree char *dest_proc = g_strdup_printf ("/proc/self/fd/%d", dest_fd);
  unsigned long ro = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV
                     | ((flags & MV_MOUNT_NOEXEC) ? MS_NOEXEC : 0);
  int old_id = mount_id_of (dest_fd);
  mv_autofd int fd = -1;
  g_autofree char *new_proc = NULL;

  if (mount (src_path, dest_proc, NULL, MS_BIND, NULL) < 0)
    return mv_throw_errno_prefix (error, "bind-mounting the model");
  fd = root_fd >= 0 ? mv_chaseat (root_fd, dest, MV_CHASE_RESOLVE_IN_ROOT, error)
                    : open (dest, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || mount_id_of (fd) == old_id)
    {
      (void)umount2 (dest_proc, MNT_DETACH);
      if (fd >= 0 || !(error && *error))
        mv_throw (error, MV_ERROR_FAILED, "the destination changed while mounting");
      return FALSE;
    }
  new_proc = g_strdup_printf ("/proc/self/fd/%d", fd);
  if (mount (NULL, new_proc, NULL, ro, NULL) < 0
      || mount (NULL, new_proc, NULL, MS_PRIVATE, NULL) < 0)
    {
      int errsv = errno;
      (void)umount2 (new_proc, MNT_DETACH);
      errno = errsv;
      return mv_throw_errno_prefix (error, "making the model mount read-only");
    }
  return TRUE;
}

static gboolean
attach (int tree_fd, const char *src_path, int dest_fd, int root_fd, const char *dest,
        MvMountFlags flags, GError **error)
{
  if (tree_fd < 0)
    return attach_by_bind (src_path, dest_fd, root_fd, dest, flags, error);
  if (move_mount (tree_fd, "", dest_fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
    return mv_throw_errno_prefix (error, "attaching the model mount");
  return TRUE;
}

/* The child: enter the container's mount namespace, resolve @dest in @rootfs, attach. */
static gboolean
attach_in_namespace (int pidfd, int pid, const char *rootfs, const char *dest, int tree_fd,
                     const char *src_path, MvMountFlags flags, GError **error)
{
  mv_autofd int root_fd = -1;
  mv_autofd int dest_fd = -1;
  struct stat root_st, dest_st;

  if (setns (pidfd, CLONE_NEWNS) < 0)
    {
      /* Kernels before 5.8 take only namespace fds. */
      g_autofree char *ns = g_strdup_printf ("/proc/%d/ns/mnt", pid);
      mv_autofd int nsfd = open (ns, O_RDONLY | O_CLOEXEC);
      if (nsfd < 0 || setns (nsfd, CLONE_NEWNS) < 0)
        return mv_throw_errno_prefix (error, "entering the mount namespace of process %d", pid);
    }
  root_fd = open (rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root_fd < 0)
    return mv_throw_errno_prefix (error, "opening the container's rootfs '%s'", rootfs);
  /* openat2(RESOLVE_IN_ROOT) where the destination exists (CRI-O volumes: runc made it);
   * the component walk, creating what is missing inside the rootfs, where it does not. */
  dest_fd = mv_chaseat (root_fd, dest, MV_CHASE_RESOLVE_IN_ROOT, NULL);
  if (dest_fd < 0)
    dest_fd = mv_chaseat (root_fd, dest, MV_CHASE_RESOLVE_IN_ROOT | MV_CHASE_MKDIR, error);
  if (dest_fd < 0)
    return mv_prefix_error (error, "destination '%s'", dest);
  /* A destination that is a link to "/" resolves, in-root, to the rootfs itself: a model
   * there would replace the container's whole filesystem. */
  if (fstat (root_fd, &root_st) < 0 || fstat (dest_fd, &dest_st) < 0)
    return mv_throw_errno_prefix (error, "stat of destination '%s'", dest);
  if (root_st.st_dev == dest_st.st_dev && root_st.st_ino == dest_st.st_ino)
    return mv_throw (error, MV_ERROR_UNSAFE_PATH,
                     "destination '%s' resolves to the container's root directory", dest);
  return attach (tree_fd, src_path, dest_fd, root_fd, dest, flags, error);
}

static gboolean
run_attach_child (int pidfd, int pid, const char *rootfs, const char *dest, int tree_fd,
                  const char *src_path, MvMountFlags flags, GError **error)
{
  int fds[2];
  pid_t child;
  char msg[CHILD_MESSAGE_MAX + 1];
  gsize got = 0;
  int status = 0;

  if (pipe2 (fds, O_CLOEXEC) < 0)
    return mv_throw_errno_prefix (error, "pipe");
  child = fork ();
  if (child < 0)
    {
      close (fds[0]);
      close (fds[1]);
      return mv_throw_errno_prefix (error, "fork");
    }
  if (child == 0)
    {
      g_autoptr (GError) local_error = NULL;
      const char *reply = "ok";

      close (fds[0]);
      if (!attach_in_namespace (pidfd, pid, rootfs, dest, tree_fd, src_path, flags, &local_error))
        reply = local_error->message;
      (void)mv_loop_write (fds[1], reply, MIN (strlen (reply), CHILD_MESSAGE_MAX));
      _exit (local_error ? 1 : 0);
    }
  close (fds[1]);
  for (;;)
    {
      struct pollfd p = { .fd = fds[0], .events = POLLIN };
      int r = poll (&p, 1, ATTACH_TIMEOUT_MS);
      if (r < 0 && errno == EINTR)
        continue;
      if (r <= 0)
        {
          kill (child, SIGKILL);
          break;
        }
      ssize_t n = read (fds[0], msg + got, CHILD_MESSAGE_MAX - got);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      got += n;
      if (got == CHILD_MESSAGE_MAX)
        break;
    }
  close (fds[0]);
  msg[got] = '\0';
  while (waitpid (child, &status, 0) < 0 && errno == EINTR)
    ;
  if (WIFEXITED (status) && WEXITSTATUS (status) == 0 && g_str_equal (msg, "ok"))
    return TRUE;
  if (got > 0 && !g_str_equal (msg, "ok"))
    return mv_throw (error, MV_ERROR_FAILED, "%s", msg);
  return mv_throw (error, MV_ERROR_FAILED, "mounting in container process %d: helper %s", pid,
                   WIFSIGNALED (status) ? "was killed (timeout)" : "failed");
}

static gboolean
same_mount_namespace (int pid)
{
  struct stat a, b;
  g_autofree char *ns = g_strdup_printf ("/proc/%d/ns/mnt", pid);

  return stat ("/proc/self/ns/mnt", &a) == 0 && stat (ns, &b) == 0 && a.st_ino == b.st_ino
         && a.st_dev == b.st_dev;
}

int
mv_container_pidfd (int pid, guint64 *out_start, GError **error)
{
  mv_autofd int pidfd = -1;
  guint64 start;

  if (pid <= 0)
    {
      mv_throw (error, MV_ERROR_FAILED, "invalid container pid %d", pid);
      return -1;
    }
  /* The pidfd pins the process; the start time read on both sides of pidfd_open proves the
   * pid was not reused in between. */
  start = mv_process_start_time (pid);
  pidfd = pidfd_open (pid, 0);
  if (start == 0 || pidfd < 0 || mv_process_start_time (pid) != start)
    {
      mv_throw (error, MV_ERROR_NOT_FOUND, "container process %d is gone", pid);
      return -1;
    }
  if (same_mount_namespace (pid))
    {
      mv_throw (error, MV_ERROR_FAILED,
                "process %d has no mount namespace of its own: not a container", pid);
      return -1;
    }
  *out_start = start;
  return mv_steal_fd (&pidfd);
}

gboolean
mv_attach_in_container (const char *checkout, const char *subpath, int pidfd, int pid,
                        const char *rootfs, const char *dest, MvMountFlags flags, GError **error)
{
  g_autofree char *src_path = NULL;
  mv_autofd int src_fd = -1;
  mv_autofd int tree_fd = -1;

  if (!mv_path_validate_container_dest (dest, NULL, error))
    return FALSE;
  if (rootfs == NULL || rootfs[0] != '/')
    return mv_throw (error, MV_ERROR_FAILED, "container rootfs must be an absolute path");
  src_fd = open_source (checkout, subpath, error);
  if (src_fd < 0 || !clone_tree (src_fd, flags, &tree_fd, error))
    return FALSE;
  src_path = mv_fd_get_path (src_fd);
  return run_attach_child (pidfd, pid, rootfs, dest, tree_fd, src_path, flags, error);
}

gboolean
mv_attach_at (const char *checkout, const char *subpath, const char *target, MvMountFlags flags,
              GError **error)
{
  g_autofree char *src_path = NULL;
  mv_autofd int src_fd = -1;
  mv_autofd int tree_fd = -1;
  mv_autofd int dest_fd = -1;

  src_fd = open_source (checkout, subpath, error);
  if (src_fd < 0 || !clone_tree (src_fd, flags, &tree_fd, error))
    return FALSE;
  src_path = mv_fd_get_path (src_fd);
  dest_fd = open (target, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dest_fd < 0)
    return mv_throw_errno_prefix (error, "opening mount target '%s'", target);
  return attach (tree_fd, src_path, dest_fd, -1, target, flags, error);
}

char *
mv_store_peek_checkout (const char *root, const char *digest)
{
  const char *colon = strchr (digest, ':');
  g_autofree char *alg = colon ? g_strndup (digest, colon - digest) : NULL;
  g_autofree char *ref = NULL;
  g_autofree char *checkout = NULL;
  struct stat st;

  if (alg == NULL)
    return NULL;
  ref = g_build_filename (root, "repo", "refs", "heads", "modelvol", "model", alg, colon + 1, NULL);
  checkout = g_build_filename (root, "checkouts", colon + 1, NULL);
  if (lstat (ref, &st) < 0 || !S_ISREG (st.st_mode) || lstat (checkout, &st) < 0
      || !S_ISDIR (st.st_mode))
    return NULL;
  return g_steal_pointer (&checkout);
}

int
mv_store_lock_root_shared (const char *root, int timeout_ms, GError **error)
{
  g_autofree char *path = g_build_filename (root, "lock", NULL);
  mv_autofd int fd = open (path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);

  if (fd < 0)
    {
      mv_throw_errno_prefix (error, "opening store lock '%s'", path);
      return -1;
    }
  for (int waited = 0;; waited += 10)
    {
      if (flock (fd, LOCK_SH | LOCK_NB) == 0)
        return mv_steal_fd (&fd);
      if ((errno != EWOULDBLOCK && errno != EINTR) || waited >= timeout_ms)
        {
          mv_throw_errno_prefix (error, "locking store '%s'", root);
          return -1;
        }
      g_usleep (10 * 1000);
    }
}
