/* mv-fdio: fd-relative I/O. fd first, path second; every open has O_CLOEXEC.
 * SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <fcntl.h>
#include <stdio.h> /* renameat */
#include <gio/gio.h>
#include <unistd.h>

static inline void
mv_close_fdp (int *fdp)
{
  int errsv = errno;
  if (*fdp >= 0)
    (void)close (*fdp);
  *fdp = -1;
  errno = errsv;
}

/* GLib 2.74 has no g_autofd. */
#define mv_autofd __attribute__ ((cleanup (mv_close_fdp)))

static inline int
mv_steal_fd (int *fdp)
{
  int fd = *fdp;
  *fdp = -1;
  return fd;
}

typedef enum
{
  MV_CHASE_NONE = 0,
  /* Resolve as if @dfd were "/" (absolute links and ".." stay inside it). Without it any
   * ".." above @dfd or absolute symlink is refused. */
  MV_CHASE_RESOLVE_IN_ROOT = 1 << 0,
  /* Create missing directories (mode 0755) on the way, inside @dfd only. */
  MV_CHASE_MKDIR = 1 << 1,
  /* Never follow any symlink. */
  MV_CHASE_NO_SYMLINKS = 1 << 2,
  /* Tests: take the component-by-component walk even where openat2 exists. */
  MV_CHASE_FORCE_FALLBACK = 1 << 3,
} MvChaseFlags;

/**
 * mv_chaseat:
 * @dfd: the directory paths are resolved under
 * @path: a relative (or, with RESOLVE_IN_ROOT, absolute) path
 *
 * Opens @path as an O_PATH|O_DIRECTORY fd without ever leaving @dfd: openat2 with
 * RESOLVE_BENEATH or RESOLVE_IN_ROOT and RESOLVE_NO_MAGICLINKS, retried on EAGAIN/EINTR, and a
 * component-by-component O_PATH|O_NOFOLLOW walk where openat2 is missing. Setting
 * MODELVOL_TEST_CHASE_FALLBACK=1 in the environment forces the walk (tests).
 * Returns: an fd, or -1 with @error set
 */
int mv_chaseat (int dfd, const char *path, MvChaseFlags flags, GError **error);

/** mv_opendirat: open a directory (O_RDONLY|O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC). Returns fd or -1. */
int mv_opendirat (int dfd, const char *path, gboolean follow, GError **error);

/** mv_ensure_dirat: mkdirat that accepts an existing directory. */
gboolean mv_ensure_dirat (int dfd, const char *path, mode_t mode, GError **error);

/**
 * mv_rm_rf_at:
 * Removes @path under @dfd recursively, never following symlinks, never blocking on FIFOs.
 * A missing @path is success.
 */
gboolean mv_rm_rf_at (int dfd, const char *path, GCancellable *cancellable, GError **error);

/**
 * mv_file_get_contents_at:
 * Reads a regular file (O_NOFOLLOW|O_NONBLOCK unless @follow) of at most @max_size bytes;
 * a larger one fails with MV_ERROR_LIMIT_EXCEEDED before more than @max_size+1 bytes are read.
 * Returns: (transfer full): the bytes, or NULL with @error set
 */
GBytes *mv_file_get_contents_at (int dfd, const char *path, gboolean follow, gsize max_size,
                                 GError **error);

/** mv_fd_read_all: the same for an open fd; @what names it in messages */
GBytes *mv_fd_read_all (int fd, gsize max_size, const char *what, GError **error);

/** mv_stream_read_all: the same for a pipe or any fd, read to EOF (blocking) */
GBytes *mv_stream_read_all (int fd, gsize max_size, const char *what, GError **error);

/**
 * mv_file_replace_contents_at:
 * Writes a file atomically (temp name + fsync + renameat) with @mode.
 */
gboolean mv_file_replace_contents_at (int dfd, const char *path, const void *data, gsize len,
                                      mode_t mode, GError **error);

/** mv_loop_write: write all bytes, retrying EINTR. Returns 0, or -1 with errno. */
int mv_loop_write (int fd, const void *buf, gsize len);

/**
 * mv_fd_start_writeback:
 * Once @written is a few MiB past *@flushed, starts writeback of that range (a hint:
 * sync_file_range, errors surface at the syncfs that publishes the data) and moves *@flushed.
 * Writers call it as they go, so the disk works while the CPU hashes and the final syncfs
 * finds little left to write.
 */
void mv_fd_start_writeback (int fd, guint64 *flushed, guint64 written);

/** mv_fd_get_path: (transfer full): "/proc/self/fd/N" resolved, or NULL */
char *mv_fd_get_path (int fd);
