/* mv-mount: read-only model mounts at a host path or inside a container.
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
#include <sys/mount.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "mv-error-private.h"
#include "mv-fdio-private.h"
#include "mv-path-private.h"
#include "mv-repo-private.h"
#include "mv-store-private.h"

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
  if (!mv_store_checkout_digest (store, digest, &path, cancellable, error))
    return NULL;
  *out_had_record = mv_store_has_use (store, digest, user);
  if (!mv_store_add_use (store, digest, user, record, error))
    return NULL;
  *out_digest = g_steal_pointer (&digest);
  return g_steal_pointer (&path);
}

static char *
host_user_id (const char *target)
{
  g_autofree char *sum = g_compute_checksum_for_string (G_CHECKSUM_SHA256, target, -1);
  return g_strdup_printf ("host-%.32s", sum);
}

gboolean
mv_store_mount (MvStore *store, const char *model, const char *subpath, const char *target,
                MvMountFlags flags, GCancellable *cancellable, GError **error)
{
  g_autofree char *canon = NULL;
  g_autofree char *user = NULL;
  g_autofree char *record = NULL;
  g_autofree char *digest = NULL;
  g_autofree char *checkout = NULL;
  g_autofree char *src_path = NULL;
  g_autofree char *mounted = NULL;
  gboolean had_record = FALSE;
  mv_autofd int src_fd = -1;
  mv_autofd int tree_fd = -1;
  mv_autofd int dest_fd = -1;
  struct stat st;

  canon = realpath (target, NULL);
  if (canon == NULL)
    return mv_throw_errno_prefix (error, "mount target '%s'", target);
  if (stat (canon, &st) < 0 || !S_ISDIR (st.st_mode))
    return mv_throw (error, MV_ERROR_FAILED, "mount target '%s' is not a directory", target);
  user = host_user_id (canon);
  mounted = mv_store_find_use (store, user);
  if (mounted != NULL && mv_path_is_mount_point (canon))
    return mv_throw (error, MV_ERROR_BUSY, "'%s' already has model %s mounted", canon, mounted);
  record = g_strdup_printf ("kind=mount\ntarget=%s\n", canon);
  checkout
      = checkout_and_record (store, model, user, record, &digest, &had_record, cancellable, error);
  if (checkout == NULL)
    return FALSE;

  src_fd = open_source (checkout, subpath, error);
  if (src_fd >= 0 && clone_tree (src_fd, flags, &tree_fd, error))
    {
      src_path = mv_fd_get_path (src_fd);
      dest_fd = open (canon, O_PATH | O_DIRECTORY | O_CLOEXEC);
      if (dest_fd < 0)
        mv_throw_errno_prefix (error, "opening mount target '%s'", canon);
      else if (attach (tree_fd, src_path, dest_fd, -1, canon, flags, error))
        {
          g_debug ("mounted model %s at %s", digest, canon);
          return TRUE;
        }
    }
  if (!had_record)
    (void)mv_store_drop_use (store, digest, user, NULL);
  return FALSE;
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
  digest = mv_store_find_use (store, user);
  if (digest == NULL)
    return mv_throw (error, MV_ERROR_NOT_FOUND, "'%s' is not a modelvol mount of store %s", canon,
                     mv_store_get_root (store));
  if (umount2 (canon, UMOUNT_NOFOLLOW) < 0 && errno != EINVAL /* no longer mounted */)
    return mv_throw_errno_prefix (error, "unmounting '%s'", canon);
  return mv_store_drop_uses_of (store, user, NULL, error);
}

static gboolean
same_mount_namespace (int pid)
{
  struct stat a, b;
  g_autofree char *ns = g_strdup_printf ("/proc/%d/ns/mnt", pid);

  return stat ("/proc/self/ns/mnt", &a) == 0 && stat (ns, &b) == 0 && a.st_ino == b.st_ino
         && a.st_dev == b.st_dev;
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
  g_autofree char *src_path = NULL;
  gboolean had_record = FALSE;
  mv_autofd int pidfd = -1;
  mv_autofd int src_fd = -1;
  mv_autofd int tree_fd = -1;
  guint64 start;

  if (!mv_use_id_is_valid (container_id))
    return mv_throw (error, MV_ERROR_FAILED, "invalid container id");
  if (!mv_path_validate_container_dest (dest, NULL, error))
    return FALSE;
  if (rootfs == NULL || rootfs[0] != '/')
    return mv_throw (error, MV_ERROR_FAILED, "container rootfs must be an absolute path");
  if (pid <= 0)
    return mv_throw (error, MV_ERROR_FAILED, "invalid container pid %d", pid);

  /* The pidfd pins the process; the start time read on both sides of pidfd_open proves the
   * pid was not reused in between. */
  start = mv_process_start_time (pid);
  pidfd = pidfd_open (pid, 0);
  if (start == 0 || pidfd < 0 || mv_process_start_time (pid) != start)
    return mv_throw (error, MV_ERROR_NOT_FOUND, "container process %d is gone", pid);
  if (same_mount_namespace (pid))
    return mv_throw (error, MV_ERROR_FAILED,
                     "process %d has no mount namespace of its own: not a container", pid);

  record = g_strdup_printf ("kind=container\npid=%d\nstart=%" G_GUINT64_FORMAT "\n", pid, start);
  checkout = checkout_and_record (store, model, container_id, record, &digest, &had_record,
                                  cancellable, error);
  if (checkout == NULL)
    return FALSE;

  src_fd = open_source (checkout, subpath, error);
  if (src_fd >= 0 && clone_tree (src_fd, flags, &tree_fd, error))
    {
      src_path = mv_fd_get_path (src_fd);
      if (run_attach_child (pidfd, pid, rootfs, dest, tree_fd, src_path, flags, error))
        {
          g_debug ("mounted model %s at %s in container %s", digest, dest, container_id);
          return TRUE;
        }
    }
  if (!had_record)
    (void)mv_store_drop_use (store, digest, container_id, NULL);
  return FALSE;
}

gboolean
mv_store_release_container (MvStore *store, const char *container_id, guint *out_released,
                            GError **error)
{
  return mv_store_drop_uses_of (store, container_id, out_released, error);
}

char **
mv_store_list_container_uses (MvStore *store, const char *container_id, GError **error)
{
  if (!mv_use_id_is_valid (container_id))
    {
      mv_throw (error, MV_ERROR_FAILED, "invalid container id");
      return NULL;
    }
  return mv_store_list_uses_of (store, container_id);
}
