/* mv-sandbox: tar and decompression in a confined child (`modelvol-unpack`), entries back
 * over a pipe. See mv-sandbox-private.h for the framed stream.
 *
 * Parent: posix_spawn (safe in our threaded process), a thread that feeds the blob to the
 * child's stdin (the blob reader hashes it on the way, so the digest never depends on the
 * child), and a decoder that checks every frame before the consumer sees an entry.
 *
 * Child: no other fds, resource limits, new network/IPC/UTS/mount namespaces where the kernel
 * lets us, no capabilities, uid/gid nobody, no_new_privs, then a seccomp allowlist: read and
 * write on the three pipes, memory, futex and exit. Opening, executing, mounting, ptrace,
 * sockets: denied (EPERM) or the process is killed.
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mv-error-private.h"
#include "mv-fdio-private.h"
#include "mv-limits-private.h"
#include "mv-path-private.h"
#include "mv-sandbox-private.h"

#define STDERR_MAX 4096

extern char **environ;

void
mv_unpack_limits_default (MvUnpackLimits *limits)
{
  const MvLimits *l = mv_limits ();

  limits->max_entries = l->entries;
  limits->max_bytes = l->layer_bytes;
  limits->max_ratio = l->ratio;
  limits->memory_bytes = l->unpacker_memory;
  limits->timeout_s = l->unpack_timeout_s;
}

/* ---- the parent ---------------------------------------------------------------------- */

typedef struct
{
  GPid pid;
  int to_child;   /* its stdin: a socket, so that writes after its exit fail with EPIPE
                   * (MSG_NOSIGNAL) instead of raising SIGPIPE in the host process */
  int from_child; /* its stdout */
  int err_child;  /* its stderr */
  MvBlobReader *blob;
  GThread *feeder;
  GError *feed_error; /* from the blob (size, digest, I/O, cancel): preferred over the child's */
  guint timeout_s;

  /* decoder state */
  guint8 *buf; /* one data frame */
  gboolean in_file;
  gint64 file_left;
  gboolean ended;
  guint64 n_entries;
  guint64 max_entries;
  gboolean finished;
  gboolean with_diff_id; /* a compressed layer: the end frame carries its diffID */
  char *diff_id;         /* "sha256:<hex>", from that frame */

  /* By offset (a plain tar from a local file): the child reads the file itself and sends
   * 'F' frames; the member bytes and every other byte are read and hashed here. */
  gboolean by_offset;
  guint64 blob_size;     /* declared */
  guint64 pos;           /* the end of the last member's range: the next must not start before */
  guint64 range_off;     /* the current file's data: at range_off, file_left bytes */
  MvDigester *structure; /* every byte outside the members' data, as the child's tap hashes */
} Remote;

static gpointer
feeder_thread (gpointer data)
{
  Remote *r = data;

  for (;;)
    {
      const void *chunk;
      gssize n = mv_blob_reader_next (r->blob, &chunk, &r->feed_error);
      gssize off = 0;
      if (n <= 0)
        break;
      while (off < n)
        {
          ssize_t w = send (r->to_child, (const guint8 *)chunk + off, n - off, MSG_NOSIGNAL);
          if (w < 0 && errno == EINTR)
            continue;
          if (w <= 0)
            break;
          off += w;
        }
      if (off < n)
        break; /* the child stopped reading: done, or dead; the consumer finds out which */
    }
  shutdown (r->to_child, SHUT_WR);
  return NULL;
}

#ifdef MV_BUILD_ROOT
/* Is this process's executable in the build tree (tests, uninstalled runs)? */
static gboolean
running_from_build_tree (void)
{
  char self[PATH_MAX];
  ssize_t n = readlink ("/proc/self/exe", self, sizeof self - 1);

  if (n <= 0)
    return FALSE;
  self[n] = '\0';
  return g_str_has_prefix (self, MV_BUILD_ROOT "/");
}
#endif

static char *
find_helper (GError **error)
{
#ifdef MV_BUILD_ROOT
  const char *const candidates[]
      = { MV_UNPACK_HELPER, running_from_build_tree () ? MV_UNPACK_BUILD_HELPER : NULL };
#else
  const char *const candidates[] = { MV_UNPACK_HELPER };
#endif
#ifdef MV_TEST_BUILD
  /* Test builds only: the deliberately compromised unpacker of tests/runtime. */
  const char *test = g_getenv ("MODELVOL_TEST_UNPACK_HELPER");
  if (test != NULL)
    return g_strdup (test);
#endif
  for (guint i = 0; i < G_N_ELEMENTS (candidates); i++)
    if (candidates[i] != NULL && g_file_test (candidates[i], G_FILE_TEST_IS_EXECUTABLE))
      return g_strdup (candidates[i]);
  mv_throw (error, MV_ERROR_FAILED, "the unpacker %s is not installed", MV_UNPACK_HELPER);
  return NULL;
}

/* Reads exactly @len bytes from the child, waiting at most the timeout for each read; with
 * @out_eof, an end of stream before the first byte is reported there instead. */
static gboolean
read_exact (Remote *r, void *buf, gsize len, gboolean *out_eof, GError **error)
{
  gsize got = 0;

  if (out_eof)
    *out_eof = FALSE;
  while (got < len)
    {
      struct pollfd p = { .fd = r->from_child, .events = POLLIN };
      int pr = poll (&p, 1, (int)r->timeout_s * 1000);
      ssize_t n;
      if (pr < 0 && errno == EINTR)
        continue;
      if (pr == 0)
        return mv_throw (error, MV_ERROR_FAILED, "unpacker: no progress for %u s: stopped",
                         r->timeout_s);
      n = read (r->from_child, (guint8 *)buf + got, len - got);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return mv_throw_errno_prefix (error, "reading from the unpacker");
      if (n == 0)
        {
          if (out_eof != NULL && got == 0)
            {
              *out_eof = TRUE;
              return TRUE;
            }
          return mv_throw (error, MV_ERROR_FAILED, "unpacker: output ended mid-frame");
        }
      got += n;
    }
  return TRUE;
}

static guint32
le32 (const guint8 *p)
{
  return (guint32)p[0] | (guint32)p[1] << 8 | (guint32)p[2] << 16 | (guint32)p[3] << 24;
}

static guint64
le64 (const guint8 *p)
{
  return (guint64)le32 (p) | (guint64)le32 (p + 4) << 32;
}

/* Waits for the child to exit (@grace_ms, then SIGKILL), joins the feeder, and turns what
 * happened into @error: the feeder's error first (a size or digest lie explains a truncated
 * tar best), then the child's own report, then its death by a signal. Returns TRUE if the
 * child exited 0 and the feeder had no error. A child we had to kill sets no error. */
static gboolean
reap_child (Remote *r, int grace_ms, GError **error)
{
  char msg[STDERR_MAX + 1];
  gsize got = 0;
  int status = 0;
  gboolean killed = FALSE;

  if (r->pid <= 0)
    return TRUE;
  for (int waited = 0;; waited += 10)
    {
      pid_t w = waitpid (r->pid, &status, WNOHANG);
      if (w == r->pid || (w < 0 && errno != EINTR))
        break;
      if (w == 0 && waited >= grace_ms && !killed)
        {
          kill (r->pid, SIGKILL);
          killed = TRUE;
        }
      if (w == 0)
        g_usleep (killed ? 1000 : 10000);
    }
  r->pid = 0;
  shutdown (r->to_child, SHUT_RDWR); /* unblocks the feeder if it still writes */
  if (r->feeder != NULL)
    {
      g_thread_join (r->feeder);
      r->feeder = NULL;
    }
  /* The child is gone: its stderr holds all it will ever say. */
  for (;;)
    {
      ssize_t n = read (r->err_child, msg + got, STDERR_MAX - got);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0 || (got += n) == STDERR_MAX)
        break;
    }
  msg[got] = '\0';
  if (r->feed_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&r->feed_error));
      return FALSE;
    }
  if (WIFEXITED (status) && WEXITSTATUS (status) == 0)
    return TRUE;
  if (killed)
    return FALSE;
  if (WIFSIGNALED (status))
    return mv_throw (error, MV_ERROR_FAILED, "unpacker: killed by signal %d%s", WTERMSIG (status),
                     WTERMSIG (status) == SIGSYS ? " (a forbidden system call)" : "");
  {
    /* "<code> <message>": the code picks the error, the message is shown escaped. */
    char *end = NULL;
    long code = strtol (msg, &end, 10);
    const char *text = end != NULL && *end == ' ' ? end + 1 : msg;
    g_autofree char *shown = NULL;
    if (end == msg || code < MV_ERROR_FAILED || code > MV_ERROR_UNSUPPORTED)
      code = MV_ERROR_FAILED;
    g_strchomp ((char *)text);
    shown = mv_escape_for_display (text, 512);
    return mv_throw (error, (MvError)code, "%s", *shown ? shown : "unpacker failed");
  }
}

/* On any decoding or reading failure: stop the child; its own account, if it gave one,
 * replaces ours. */
static int
remote_fail (Remote *r, GError **error)
{
  g_autoptr (GError) child_error = NULL;

  if (!reap_child (r, 200, &child_error) && child_error != NULL)
    {
      g_clear_error (error);
      g_propagate_error (error, g_steal_pointer (&child_error));
    }
  if (error != NULL && *error == NULL)
    mv_throw (error, MV_ERROR_FAILED, "unpacker failed");
  return -1;
}

static int
malformed (Remote *r, GError **error)
{
  mv_throw (error, MV_ERROR_FAILED, "unpacker: malformed frame");
  return remote_fail (r, error);
}

static gboolean
fail (Remote *r, GError **error)
{
  (void)remote_fail (r, error);
  return FALSE;
}

static gboolean
refuse (Remote *r, GError **error)
{
  (void)malformed (r, error);
  return FALSE;
}

/* By offset: the 'F' frame that follows a regular file's 'E', checked against the blob. */
static gboolean
read_range (Remote *r, const MvEntry *e, GError **error)
{
  guint8 hdr[MV_FRAME_HEADER];
  guint8 body[MV_FRAME_RANGE];
  guint64 off, len;

  if (!read_exact (r, hdr, sizeof hdr, NULL, error))
    return fail (r, error);
  if (hdr[0] != 'F' || hdr[1] || hdr[2] || hdr[3] || le32 (hdr + 4) != sizeof body)
    return refuse (r, error);
  if (!read_exact (r, body, sizeof body, NULL, error))
    return fail (r, error);
  off = le64 (body);
  len = le64 (body + 8);
  if (len != (guint64)e->size)
    return refuse (r, error);
  if (off > r->blob_size || len > r->blob_size - off)
    {
      mv_throw (error, MV_ERROR_FAILED,
                "unpacker: member data at offset %" G_GUINT64_FORMAT " (%" G_GUINT64_FORMAT
                " bytes) lies outside the layer (%" G_GUINT64_FORMAT " bytes)",
                off, len, r->blob_size);
      return fail (r, error);
    }
  if (off < r->pos)
    {
      mv_throw (error, MV_ERROR_FAILED,
                "unpacker: member data at offset %" G_GUINT64_FORMAT
                " overlaps what came before (up to %" G_GUINT64_FORMAT ")",
                off, r->pos);
      return fail (r, error);
    }
  r->range_off = off;
  r->pos = off + len;
  return TRUE;
}

/* By offset, at the end frame: the child's digest of the tar's structure must be the one of
 * the bytes we hashed, so that its offsets come from the very bytes the layer digest covers
 * (a blob rewritten while it is read shows here). */
static gboolean
check_structure (Remote *r, GError **error)
{
  guint8 body[MV_FRAME_END_BY_OFFSET];
  g_autofree char *ours = NULL;
  guint64 end;

  if (!read_exact (r, body, sizeof body, NULL, error))
    return fail (r, error);
  end = le64 (body);
  if (end < r->pos || end > r->blob_size)
    {
      mv_throw (error, MV_ERROR_FAILED,
                "unpacker: the archive's end at %" G_GUINT64_FORMAT
                " is outside the layer's remaining bytes (%" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT
                ")",
                end, r->pos, r->blob_size);
      return fail (r, error);
    }
  if (!mv_blob_reader_hash_to (r->blob, end, r->structure, error))
    return fail (r, error);
  ours = mv_digester_finish (r->structure);
  if (strlen (ours) != 7 + 64 || memcmp (ours + 7, body + 8, 64) != 0)
    {
      mv_throw (error, MV_ERROR_DIGEST_MISMATCH,
                "the layer's tar headers read by the unpacker are not the bytes read here: "
                "was the blob changed while it was imported?");
      return fail (r, error);
    }
  return TRUE;
}

/* A compressed layer's end frame: the digest of its whole decompressed stream, as 64
 * lowercase hex digits. Only the child saw that stream; the parent compares the digest with
 * the config's diffIds (mv_diff_id_check), so a wrong one can only refuse a layer. */
static gboolean
read_diff_id (Remote *r, GError **error)
{
  char hex[MV_FRAME_END_DIFF_ID + 1];

  if (!read_exact (r, hex, MV_FRAME_END_DIFF_ID, NULL, error))
    return fail (r, error);
  hex[MV_FRAME_END_DIFF_ID] = '\0';
  for (int i = 0; i < MV_FRAME_END_DIFF_ID; i++)
    if (!g_ascii_isxdigit (hex[i]) || g_ascii_isupper (hex[i]))
      {
        (void)malformed (r, error);
        return FALSE;
      }
  r->diff_id = g_strconcat ("sha256:", hex, NULL);
  return TRUE;
}

static char *
remote_diff_id (gpointer data)
{
  Remote *r = data;
  return g_steal_pointer (&r->diff_id);
}

static int
remote_next (gpointer data, MvEntry *e, GError **error)
{
  Remote *r = data;
  guint8 hdr[MV_FRAME_HEADER];
  guint8 fixed[MV_FRAME_ENTRY_FIXED];
  guint32 len, path_len, link_len, mode;
  gboolean eof;
  gint64 size;

  memset (e, 0, sizeof *e);
  if (r->ended)
    return 0;
  if (r->in_file && r->file_left > 0)
    return malformed (r, error); /* the consumer reads every file to its end */
  if (!read_exact (r, hdr, sizeof hdr, &eof, error))
    return remote_fail (r, error);
  if (eof)
    {
      mv_throw (error, MV_ERROR_FAILED, "unpacker: output ended before the end of the archive");
      return remote_fail (r, error);
    }
  len = le32 (hdr + 4);
  if (hdr[1] || hdr[2] || hdr[3])
    return malformed (r, error);
  if (hdr[0] == 'Z'
      && len
             == (r->by_offset      ? MV_FRAME_END_BY_OFFSET
                 : r->with_diff_id ? MV_FRAME_END_DIFF_ID
                                   : 0))
    {
      r->ended = TRUE;
      r->in_file = FALSE;
      if (r->by_offset && !check_structure (r, error))
        return -1;
      if (r->with_diff_id && !read_diff_id (r, error))
        return -1;
      return 0;
    }
  if (hdr[0] != 'E' || len < sizeof fixed || len > sizeof fixed + 2 * MV_FRAME_NAME_MAX)
    return malformed (r, error);
  if (!read_exact (r, fixed, sizeof fixed, NULL, error))
    return remote_fail (r, error);
  mode = le32 (fixed + 4);
  size = (gint64)le64 (fixed + 8);
  path_len = le32 (fixed + 16);
  link_len = le32 (fixed + 20);
  if (fixed[0] > MV_ENTRY_OTHER || fixed[1] > MV_WHAT_LAST || fixed[2] > 1 || fixed[3]
      || mode > 07777 || size < 0 || path_len == 0 || path_len > MV_FRAME_NAME_MAX
      || link_len > MV_FRAME_NAME_MAX || (guint64)len != sizeof fixed + path_len + link_len)
    return malformed (r, error);
  e->path = g_malloc (path_len + 1);
  e->link_target = g_malloc (link_len + 1);
  if (!read_exact (r, e->path, path_len, NULL, error)
      || !read_exact (r, e->link_target, link_len, NULL, error))
    {
      mv_entry_clear (e);
      return remote_fail (r, error);
    }
  e->path[path_len] = '\0';
  e->link_target[link_len] = '\0';
  if (strlen (e->path) != path_len || strlen (e->link_target) != link_len)
    {
      mv_entry_clear (e);
      return malformed (r, error);
    }
  e->type = fixed[0];
  e->what_code = fixed[1];
  e->what = mv_what_to_string (e->what_code);
  e->sparse = fixed[2];
  e->mode = mode;
  e->size = size;
  if (e->type != MV_ENTRY_SYMLINK && e->type != MV_ENTRY_HARDLINK)
    g_clear_pointer (&e->link_target, g_free);
  if (++r->n_entries > r->max_entries)
    {
      mv_entry_clear (e);
      mv_throw (error, MV_ERROR_LIMIT_EXCEEDED,
                "layer has more than %" G_GUINT64_FORMAT " entries (limit max-entries)",
                r->max_entries);
      return remote_fail (r, error);
    }
  r->in_file = e->type == MV_ENTRY_FILE && !e->sparse;
  r->file_left = r->in_file ? size : 0;
  if (r->in_file && r->by_offset && !read_range (r, e, error))
    {
      mv_entry_clear (e);
      return -1;
    }
  return 1;
}

static gssize
remote_read_data (gpointer data, const void **out_buf, GError **error)
{
  Remote *r = data;
  guint8 hdr[MV_FRAME_HEADER];
  guint32 len;

  if (!r->in_file || r->file_left == 0)
    return 0;
  if (r->by_offset)
    {
      gssize n;
      if (!mv_blob_reader_hash_to (r->blob, r->range_off, r->structure, error))
        return remote_fail (r, error);
      n = mv_blob_reader_read_hashed (
          r->blob, (gsize)MIN ((guint64)r->file_left, MV_FRAME_DATA_MAX), NULL, out_buf, error);
      if (n <= 0)
        {
          if (n == 0)
            mv_throw (error, MV_ERROR_DIGEST_MISMATCH, "the layer ends inside a tar member");
          return remote_fail (r, error);
        }
      r->range_off += n;
      r->file_left -= n;
      return n;
    }
  if (!read_exact (r, hdr, sizeof hdr, NULL, error))
    return remote_fail (r, error);
  len = le32 (hdr + 4);
  if (hdr[0] != 'D' || hdr[1] || hdr[2] || hdr[3] || len == 0 || len > MV_FRAME_DATA_MAX
      || (gint64)len > r->file_left)
    return malformed (r, error);
  if (!read_exact (r, r->buf, len, NULL, error))
    return remote_fail (r, error);
  r->file_left -= len;
  *out_buf = r->buf;
  return len;
}

static int
remote_copy_data (gpointer data, int dest_fd, MvDigester *also, GError **error)
{
  Remote *r = data;

  if (!r->by_offset)
    return 0;
  if (!r->in_file || r->file_left == 0)
    return 1;
  if (!mv_blob_reader_hash_to (r->blob, r->range_off, r->structure, error)
      || !mv_blob_reader_copy_range_to_fd (r->blob, r->file_left, dest_fd, also, error))
    return remote_fail (r, error);
  r->range_off += r->file_left;
  r->file_left = 0;
  return 1;
}

static gboolean
remote_copies_data (gpointer data)
{
  Remote *r = data;
  return r->by_offset;
}

static gboolean
remote_finish (gpointer data, GError **error)
{
  Remote *r = data;
  guint8 extra;
  gboolean eof = FALSE;

  if (r->finished)
    return TRUE;
  r->finished = TRUE;
  if (!r->ended)
    {
      mv_throw (error, MV_ERROR_FAILED, "unpacker: finished before the end of the archive");
      (void)remote_fail (r, error);
      return FALSE;
    }
  /* Nothing may follow the end frame. */
  if (!read_exact (r, &extra, 1, &eof, error) || !eof)
    {
      if (error != NULL && *error == NULL)
        mv_throw (error, MV_ERROR_FAILED, "unpacker: data after the end of the archive");
      (void)remote_fail (r, error);
      return FALSE;
    }
  if (!reap_child (r, 5000, error))
    {
      if (error != NULL && *error == NULL)
        mv_throw (error, MV_ERROR_FAILED, "unpacker: did not exit");
      return FALSE;
    }
  return TRUE;
}

static void
remote_free (gpointer data)
{
  Remote *r = data;

  (void)reap_child (r, 0, NULL);
  mv_close_fdp (&r->to_child);
  mv_close_fdp (&r->from_child);
  mv_close_fdp (&r->err_child);
  g_clear_error (&r->feed_error);
  g_clear_pointer (&r->structure, mv_digester_free);
  g_free (r->diff_id);
  g_free (r->buf);
  g_free (r);
}

static const MvRemoteEntries remote_vtable = {
  remote_next,      remote_read_data, remote_finish,      remote_free,
  remote_copy_data, remote_diff_id,   remote_copies_data,
};

MvEntryReader *
mv_sandboxed_tar_reader_new (MvBlobReader *blob, MvLayerFormat format, const MvUnpackLimits *limits,
                             GError **error)
{
  g_autofree char *helper = find_helper (error);
  Remote *r;
  int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 };
  posix_spawn_file_actions_t fa;
  g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) envp = g_ptr_array_new_with_free_func (g_free);
  int blob_fd = mv_blob_reader_local_fd (blob);
  int rc;

  if (helper == NULL)
    return NULL;
  /* A plain tar in a local file: the child reads the file itself (a description of its own,
   * read-only) and tells where each member's data lies; we take the bytes from the blob. */
  if (format == MV_LAYER_FORMAT_TAR && blob_fd >= 0)
    {
      g_autofree char *proc = g_strdup_printf ("/proc/self/fd/%d", blob_fd);
      in[0] = open (proc, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    }
  if ((in[0] < 0 && socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) < 0)
      || pipe2 (out, O_CLOEXEC) < 0 || pipe2 (err, O_CLOEXEC) < 0)
    {
      mv_throw_errno_prefix (error, "pipe");
      for (int i = 0; i < 2; i++)
        mv_close_fdp (&in[i]), mv_close_fdp (&out[i]), mv_close_fdp (&err[i]);
      return NULL;
    }
  g_ptr_array_add (argv, g_strdup ("modelvol-unpack"));
  g_ptr_array_add (argv, g_strdup (mv_layer_format_to_string (format)));
  g_ptr_array_add (argv, g_strdup_printf ("%" G_GUINT64_FORMAT, limits->max_entries));
  g_ptr_array_add (argv, g_strdup_printf ("%" G_GUINT64_FORMAT, limits->max_bytes));
  g_ptr_array_add (argv, g_strdup_printf ("%" G_GUINT64_FORMAT, limits->max_ratio));
  g_ptr_array_add (argv, g_strdup_printf ("%" G_GUINT64_FORMAT, limits->memory_bytes));
  if (in[1] < 0)
    g_ptr_array_add (argv, g_strdup ("offsets"));
  g_ptr_array_add (argv, NULL);
  /* Nothing of our environment but what sanitizer builds and the tests need. */
  for (char **e = environ; *e; e++)
    if (g_str_has_prefix (*e, "ASAN_OPTIONS=") || g_str_has_prefix (*e, "UBSAN_OPTIONS=")
        || g_str_has_prefix (*e, "LSAN_OPTIONS=") || g_str_has_prefix (*e, "MODELVOL_TEST_UNPACK_")
        || g_str_has_prefix (*e, "MODELVOL_TEST_NO_SHA_EXT="))
      g_ptr_array_add (envp, g_strdup (*e));
  g_ptr_array_add (envp, NULL);

  posix_spawn_file_actions_init (&fa);
  posix_spawn_file_actions_adddup2 (&fa, in[0], 0);
  posix_spawn_file_actions_adddup2 (&fa, out[1], 1);
  posix_spawn_file_actions_adddup2 (&fa, err[1], 2);
  r = g_new0 (Remote, 1);
  rc = posix_spawn (&r->pid, helper, &fa, NULL, (char **)argv->pdata, (char **)envp->pdata);
  posix_spawn_file_actions_destroy (&fa);
  close (in[0]);
  close (out[1]);
  close (err[1]);
  r->to_child = in[1];
  r->from_child = out[0];
  r->err_child = err[0];
  r->blob = blob;
  r->by_offset = in[1] < 0;
  r->with_diff_id = format != MV_LAYER_FORMAT_TAR;
  r->blob_size = (guint64)MAX (mv_blob_reader_get_size (blob), 0);
  if (r->by_offset)
    r->structure = mv_digester_new (NULL, NULL);
  r->timeout_s = limits->timeout_s;
  r->max_entries = limits->max_entries;
  r->buf = g_malloc (MV_FRAME_DATA_MAX);
  if (rc != 0)
    {
      r->pid = 0;
      remote_free (r);
      errno = rc;
      mv_throw_errno_prefix (error, "starting the unpacker %s", helper);
      return NULL;
    }
  if (!r->by_offset)
    r->feeder = g_thread_new ("mv-unpack-feed", feeder_thread, r);
  return mv_entry_reader_new_remote (&remote_vtable, r);
}

MvEntryReader *
mv_frame_reader_new_fd (int fd, MvBlobReader *blob, gboolean with_diff_id, guint64 max_entries,
                        guint timeout_s)
{
  Remote *r = g_new0 (Remote, 1);

  r->with_diff_id = blob == NULL && with_diff_id;

  if (blob != NULL)
    {
      r->blob = blob;
      r->by_offset = TRUE;
      r->blob_size = (guint64)MAX (mv_blob_reader_get_size (blob), 0);
      r->structure = mv_digester_new (NULL, NULL);
    }
  /* No child (pid 0: reaping is a no-op), no feeder, no stderr. */
  r->to_child = -1;
  r->from_child = fd;
  r->err_child = -1;
  r->timeout_s = timeout_s;
  r->max_entries = max_entries;
  r->buf = g_malloc (MV_FRAME_DATA_MAX);
  return mv_entry_reader_new_remote (&remote_vtable, r);
}

/* ---- the child ----------------------------------------------------------------------- */

static void
put32 (guint8 *p, guint32 v)
{
  for (int i = 0; i < 4; i++)
    p[i] = (guint8)(v >> (8 * i));
}

static gboolean
send_frame (char kind, const void *a, gsize alen, const void *b, gsize blen, const void *c,
            gsize clen, GError **error)
{
  guint8 hdr[MV_FRAME_HEADER] = { (guint8)kind, 0, 0, 0 };
  put32 (hdr + 4, (guint32)(alen + blen + clen));
  if (mv_loop_write (1, hdr, sizeof hdr) < 0 || (alen && mv_loop_write (1, a, alen) < 0)
      || (blen && mv_loop_write (1, b, blen) < 0) || (clen && mv_loop_write (1, c, clen) < 0))
    return mv_throw_errno_prefix (error, "writing to the parent");
  return TRUE;
}

static gboolean
limit_rlimits (guint64 memory_bytes, GError **error)
{
  struct rlimit zero = { 0, 0 };
  struct rlimit few = { 8, 8 };

  if (setrlimit (RLIMIT_NOFILE, &few) < 0 || setrlimit (RLIMIT_FSIZE, &zero) < 0
      || setrlimit (RLIMIT_CORE, &zero) < 0 || setrlimit (RLIMIT_NPROC, &zero) < 0)
    return mv_throw_errno_prefix (error, "setting resource limits");
#if !defined(__SANITIZE_ADDRESS__)
  {
    struct rlimit mem = { memory_bytes, memory_bytes };
    if (setrlimit (RLIMIT_AS, &mem) < 0)
      return mv_throw_errno_prefix (error, "limiting memory");
  }
#else
  (void)memory_bytes; /* ASan reserves terabytes of address space */
#endif
  return TRUE;
}

static gboolean
drop_privileges (GError **error)
{
  /* New namespaces where the kernel allows: no network, no IPC, a mount table of our own. */
  (void)unshare (CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNS);
  if (chdir ("/") < 0)
    return mv_throw_errno_prefix (error, "chdir");
  if (geteuid () == 0)
    {
      for (int cap = 0; cap < 64; cap++)
        (void)prctl (PR_CAPBSET_DROP, cap, 0, 0, 0);
      if (setgroups (0, NULL) < 0 || setresgid (65534, 65534, 65534) < 0
          || setresuid (65534, 65534, 65534) < 0)
        return mv_throw_errno_prefix (error, "dropping root");
    }
  if (prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || prctl (PR_SET_DUMPABLE, 0, 0, 0, 0) < 0
      || prctl (PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
    return mv_throw_errno_prefix (error, "prctl");
  /* Die with the importer (set above); if it is already gone, do not start. */
  if (getppid () == 1)
    return mv_throw (error, MV_ERROR_FAILED, "the importer is gone");
  return TRUE;
}

static gboolean
load_seccomp (GError **error)
{
  static const int allowed[] = {
    SCMP_SYS (read),         SCMP_SYS (write),
    SCMP_SYS (close),        SCMP_SYS (exit),
    SCMP_SYS (exit_group),   SCMP_SYS (brk),
    SCMP_SYS (munmap),       SCMP_SYS (mremap),
    SCMP_SYS (madvise),      SCMP_SYS (futex),
    SCMP_SYS (rt_sigreturn), SCMP_SYS (rt_sigprocmask),
    SCMP_SYS (fstat),        SCMP_SYS (newfstatat),
    SCMP_SYS (lseek),        SCMP_SYS (getpid),
    SCMP_SYS (gettid),       SCMP_SYS (clock_gettime),
    SCMP_SYS (sched_yield),  SCMP_SYS (getrandom),
    SCMP_SYS (sigaltstack),  SCMP_SYS (restart_syscall),
  };
  /* Denied with an errno rather than killed: what glibc and the sanitizers probe. */
  static const struct
  {
    int nr;
    int err;
  } denied[] = {
    { SCMP_SYS (openat), EPERM },   { SCMP_SYS (open), EPERM },  { SCMP_SYS (ioctl), ENOTTY },
    { SCMP_SYS (statx), ENOSYS },   { SCMP_SYS (rseq), ENOSYS }, { SCMP_SYS (clone3), ENOSYS },
    { SCMP_SYS (readlink), EPERM }, { SCMP_SYS (prctl), EPERM },
  };
  scmp_filter_ctx ctx = seccomp_init (SCMP_ACT_KILL_PROCESS);
  int rc = ctx ? 0 : -ENOMEM;

  for (guint i = 0; rc == 0 && i < G_N_ELEMENTS (allowed); i++)
    rc = seccomp_rule_add (ctx, SCMP_ACT_ALLOW, allowed[i], 0);
  for (guint i = 0; rc == 0 && i < G_N_ELEMENTS (denied); i++)
    rc = seccomp_rule_add (ctx, SCMP_ACT_ERRNO (denied[i].err), denied[i].nr, 0);
  /* Memory, but never executable. */
  if (rc == 0)
    rc = seccomp_rule_add (ctx, SCMP_ACT_ALLOW, SCMP_SYS (mmap), 1,
                           SCMP_A2 (SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
  if (rc == 0)
    rc = seccomp_rule_add (ctx, SCMP_ACT_ALLOW, SCMP_SYS (mprotect), 1,
                           SCMP_A2 (SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
  if (rc == 0)
    rc = seccomp_load (ctx);
  if (ctx)
    seccomp_release (ctx);
  if (rc != 0)
    {
      errno = -rc;
      return mv_throw_errno_prefix (error, "loading the seccomp filter");
    }
  return TRUE;
}

/* The test-only misbehaviours of a "compromised" unpacker (MODELVOL_TEST_UNPACK_EVIL): each
 * one must be denied or killed by the confinement. Compiled into test builds only. */
static void
misbehave (void)
{
#ifdef MV_UNPACK_TEST_HOOKS
  const char *evil = g_getenv ("MODELVOL_TEST_UNPACK_EVIL");
  int fd;

  if (evil == NULL)
    return;
  if (g_str_equal (evil, "open"))
    {
      fd = open ("/etc/shadow", O_RDONLY);
      if (fd >= 0)
        (void)!write (2, "1 opened /etc/shadow\n", 21), _exit (3);
    }
  else if (g_str_equal (evil, "write-host"))
    {
      fd = open ("/tmp/modelvol-unpack-escape", O_WRONLY | O_CREAT, 0644);
      if (fd >= 0)
        (void)!write (2, "1 wrote a host file\n", 20), _exit (3);
    }
  else if (g_str_equal (evil, "exec"))
    {
      char *const args[] = { (char *)"/bin/sh", (char *)"-c", (char *)"true", NULL };
      execv ("/bin/sh", args);
    }
  else if (g_str_equal (evil, "socket"))
    (void)syscall (SYS_socket, AF_INET, SOCK_STREAM, 0);
  else if (g_str_equal (evil, "mount"))
    (void)syscall (SYS_mount, "none", "/tmp", "tmpfs", 0, NULL);
  else if (g_str_equal (evil, "ptrace"))
    (void)syscall (SYS_ptrace, 0 /* PTRACE_TRACEME */, 0, NULL, NULL);
  else if (g_str_equal (evil, "crash"))
    *(volatile int *)NULL = 1; /* NOLINT(clang-analyzer-core.NullDereference): the test's crash */
  else if (g_str_equal (evil, "hang"))
    {
      /* Sleep forever with a call the filter allows. */
      static int never;
      for (;;)
        (void)syscall (SYS_futex, &never, 0 /* FUTEX_WAIT */, 0, NULL, NULL, 0);
    }
#endif
}

/* The test-only lies about member offsets (MODELVOL_TEST_UNPACK_EVIL=offset-*): the parent
 * must refuse each. */
static void
misplace (guint64 *off, guint64 *len, guint64 n_ranges)
{
#ifdef MV_UNPACK_TEST_HOOKS
  const char *evil = g_getenv ("MODELVOL_TEST_UNPACK_EVIL");

  if (g_strcmp0 (evil, "offset-outside") == 0)
    *off += (guint64)1 << 40;
  else if (g_strcmp0 (evil, "offset-back") == 0 && n_ranges > 1)
    *off = 0;
  else if (g_strcmp0 (evil, "offset-length") == 0)
    *len += 1;
  else if (g_strcmp0 (evil, "offset-shift") == 0 && *len > 0)
    *off -= 1; /* consistent with its own lie otherwise: the headers' digest tells */
#else
  (void)off, (void)len, (void)n_ranges;
#endif
}

/* The test-only lie about a compressed layer's diffID (MODELVOL_TEST_UNPACK_EVIL=diff-id):
 * the parent compares it with the config's, which then refuses the layer. */
static void
misreport_diff_id (char *hex)
{
#ifdef MV_UNPACK_TEST_HOOKS
  if (g_strcmp0 (g_getenv ("MODELVOL_TEST_UNPACK_EVIL"), "diff-id") == 0)
    hex[0] = hex[0] == '0' ? '1' : '0';
#else
  (void)hex;
#endif
}

static gboolean
send_range (guint64 off, guint64 len, guint64 n_ranges, GError **error)
{
  guint8 body[MV_FRAME_RANGE];

  misplace (&off, &len, n_ranges);
  put32 (body, (guint32)(off & 0xffffffff));
  put32 (body + 4, (guint32)(off >> 32));
  put32 (body + 8, (guint32)(len & 0xffffffff));
  put32 (body + 12, (guint32)(len >> 32));
  return send_frame ('F', body, sizeof body, NULL, 0, NULL, 0, error);
}

static gboolean
send_end (MvEntryReader *reader, gboolean by_offset, GError **error)
{
  guint8 body[MV_FRAME_END_BY_OFFSET];
  g_autofree char *digest = NULL;
  guint64 end;

  if (!by_offset)
    {
      /* A compressed layer: its diffID (the reader has read the stream to its end). */
      g_autofree char *diff_id = mv_entry_reader_diff_id (reader);
      if (diff_id == NULL)
        return send_frame ('Z', NULL, 0, NULL, 0, NULL, 0, error);
      g_assert (strlen (diff_id) == 7 + MV_FRAME_END_DIFF_ID);
      misreport_diff_id (diff_id + 7);
      return send_frame ('Z', diff_id + 7, MV_FRAME_END_DIFF_ID, NULL, 0, NULL, 0, error);
    }
  digest = mv_entry_reader_structure (reader, &end);
  g_assert (strlen (digest) == 7 + 64);
  put32 (body, (guint32)(end & 0xffffffff));
  put32 (body + 4, (guint32)(end >> 32));
  memcpy (body + 8, digest + 7, 64);
  return send_frame ('Z', body, sizeof body, NULL, 0, NULL, 0, error);
}

static gboolean
child_run (int argc, char **argv, GError **error)
{
  MvLayerFormat format;
  MvUnpackLimits limits = { 0 };
  guint64 n_entries = 0;
  guint64 n_bytes = 0, n_ranges = 0, blob_size = 0;
  g_autoptr (MvEntryReader) reader = NULL;
  gboolean by_offset = argc == 7 && g_str_equal (argv[6], "offsets");

  if (argc != 6 && !by_offset)
    return mv_throw (error, MV_ERROR_FAILED,
                     "usage: modelvol-unpack FORMAT MAX_ENTRIES "
                     "MAX_BYTES MAX_RATIO MEMORY [offsets]");
  if (g_str_equal (argv[1], "tar"))
    format = MV_LAYER_FORMAT_TAR;
  else if (g_str_equal (argv[1], "tar+gzip"))
    format = MV_LAYER_FORMAT_TAR_GZIP;
  else if (g_str_equal (argv[1], "tar+zstd"))
    format = MV_LAYER_FORMAT_TAR_ZSTD;
  else
    return mv_throw (error, MV_ERROR_FAILED, "unknown layer format %s", argv[1]);
  limits.max_entries = g_ascii_strtoull (argv[2], NULL, 10);
  limits.max_bytes = g_ascii_strtoull (argv[3], NULL, 10);
  limits.max_ratio = g_ascii_strtoull (argv[4], NULL, 10);
  limits.memory_bytes = g_ascii_strtoull (argv[5], NULL, 10);
  if (by_offset)
    {
      struct stat st;
      if (format != MV_LAYER_FORMAT_TAR || fstat (0, &st) < 0 || !S_ISREG (st.st_mode))
        return mv_throw (error, MV_ERROR_FAILED, "offsets: only for a plain tar in a file");
      blob_size = (guint64)st.st_size;
    }
  /* Whatever the digest (of the tar structure, or of a decompressed stream) needs to set
   * itself up, before the filter: libcrypto where the CPU has no SHA extensions. */
  {
    g_autoptr (MvDigester) warm = mv_digester_new (NULL, error);
    if (warm == NULL)
      return FALSE;
    mv_digester_update (warm, "", 1);
    g_free (mv_digester_finish (warm));
  }

  /* Only the three pipes. */
  if (syscall (SYS_close_range, 3, ~0U, 0) < 0)
    return mv_throw_errno_prefix (error, "close_range");
  if (!limit_rlimits (limits.memory_bytes, error) || !drop_privileges (error)
      || !load_seccomp (error))
    return FALSE;
  misbehave ();
  /* From here on every byte of the layer is parsed under the filter. The reader checks the
   * byte and ratio limits on the whole decompressed stream, headers and padding included. */
  reader = by_offset ? mv_tar_reader_new_seekable (0, &limits, error)
                     : mv_tar_reader_new_fd (0, format, &limits, error);
  if (reader == NULL)
    return FALSE;

  for (;;)
    {
      MvEntry e;
      guint8 fixed[MV_FRAME_ENTRY_FIXED] = { 0 };
      gsize plen, llen;
      int r = mv_entry_reader_next (reader, &e, error);
      if (r < 0)
        return FALSE;
      if (r == 0)
        break;
      if (++n_entries > limits.max_entries)
        {
          mv_entry_clear (&e);
          return mv_throw (error, MV_ERROR_LIMIT_EXCEEDED,
                           "layer has more than %" G_GUINT64_FORMAT " entries (limit max-entries)",
                           limits.max_entries);
        }
      plen = strlen (e.path);
      llen = e.link_target ? strlen (e.link_target) : 0;
      if (plen == 0 || plen > MV_FRAME_NAME_MAX || llen > MV_FRAME_NAME_MAX)
        {
          g_autofree char *shown = mv_escape_for_display (e.path, 100);
          mv_entry_clear (&e);
          return mv_throw (error, MV_ERROR_UNSAFE_PATH,
                           "tar member '%s': name or link target longer than %d bytes", shown,
                           MV_FRAME_NAME_MAX);
        }
      fixed[0] = e.type;
      fixed[1] = e.what_code;
      fixed[2] = e.sparse ? 1 : 0;
      put32 (fixed + 4, e.mode & 07777);
      put32 (fixed + 8, (guint32)((guint64)MAX (e.size, 0) & 0xffffffff));
      put32 (fixed + 12, (guint32)((guint64)MAX (e.size, 0) >> 32));
      put32 (fixed + 16, (guint32)plen);
      put32 (fixed + 20, (guint32)llen);
      if (by_offset)
        {
          guint64 off = 0, len = 0;
          int k = mv_entry_reader_member_range (reader, &e, &off, &len, error);
          gboolean ok;
          /* Data beyond the file's end would be skipped over unseen: say what reading it
           * would have said. */
          if (k > 0 && (off > blob_size || len > blob_size - off))
            {
              g_autofree char *shown = mv_escape_for_display (e.path, 200);
              mv_entry_clear (&e);
              return mv_throw (error, MV_ERROR_INVALID_MANIFEST,
                               "tar member '%s': truncated tar layer: the tar stream ends "
                               "inside a member",
                               shown);
            }
          /* Counted before the parent copies any of it. */
          if (k > 0 && (n_bytes += len) > limits.max_bytes)
            {
              mv_entry_clear (&e);
              return mv_throw (error, MV_ERROR_LIMIT_EXCEEDED,
                               "layer unpacks to more than %" G_GUINT64_FORMAT
                               " bytes (limit max-layer-bytes)",
                               limits.max_bytes);
            }
          ok = k >= 0
               && send_frame ('E', fixed, sizeof fixed, e.path, plen, e.link_target, llen, error)
               && (k == 0 || send_range (off, len, ++n_ranges, error));
          mv_entry_clear (&e);
          if (!ok)
            return FALSE;
          /* libarchive skips the data (lseek) on its way to the next header. */
          continue;
        }
      if (!send_frame ('E', fixed, sizeof fixed, e.path, plen, e.link_target, llen, error))
        {
          mv_entry_clear (&e);
          return FALSE;
        }
      if (e.type == MV_ENTRY_FILE && !e.sparse)
        {
          gint64 left = e.size;
          while (left > 0)
            {
              const void *buf;
              gssize n = mv_entry_reader_read_data (reader, &buf, error);
              if (n < 0)
                {
                  mv_entry_clear (&e);
                  return FALSE;
                }
              if (n == 0 || n > left)
                {
                  mv_entry_clear (&e);
                  return mv_throw (error, MV_ERROR_INVALID_MANIFEST,
                                   "tar member has less or more data than its size");
                }
              left -= n;
              for (gssize off = 0; off < n; off += MV_FRAME_DATA_MAX)
                if (!send_frame ('D', (const guint8 *)buf + off, MIN (n - off, MV_FRAME_DATA_MAX),
                                 NULL, 0, NULL, 0, error))
                  {
                    mv_entry_clear (&e);
                    return FALSE;
                  }
            }
        }
      mv_entry_clear (&e);
    }
  return send_end (reader, by_offset, error);
}

int
mv_unpack_child_main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;

  if (!child_run (argc, argv, &error))
    {
      char line[STDERR_MAX];
      int n
          = g_snprintf (line, sizeof line, "%d %s\n",
                        error->domain == MV_ERROR ? error->code : MV_ERROR_FAILED, error->message);
      (void)mv_loop_write (2, line, MIN ((gsize)n, sizeof line - 1));
      /* _exit: no atexit handlers (a sanitizer's leak check would need ptrace). */
      _exit (1);
    }
  _exit (0);
}
