/* mv-unpack-driver: the parent side of the sandboxed unpacker, without the store (tests only).
 *
 * Spawns `modelvol-unpack` through mv_sandboxed_tar_reader_new(), the very code the store's
 * import uses (mv-sandbox.c: posix_spawn, the feeder thread or the by-offset path, the frame
 * decoder, the reaping that turns a signal into one error line), reads every entry and every
 * file's bytes into a staging directory as the store does (mv_entry_reader_copy_data(), else
 * mv_entry_reader_read_data()), then checks the layer's digest. It links no libostree and no
 * libcurl, so it cross-builds with -Dunpacker_only=true (tests/integration/test-aarch64.sh
 * runs it on an arm64 kernel). The unpacker is found as the store finds it
 * (MODELVOL_TEST_UNPACK_HELPER in test builds).
 *
 *   mv-unpack-driver [--stream] FORMAT LAYER DIGEST
 *
 * --stream hands the layer over as a stream (fed to the child through a socket) even when it
 * is a plain tar in a file (which the child otherwise reads by offset). Prints one line per
 * entry on stdout, "E TYPE MODE SIZE SHA256|- PATH[ -> TARGET]", then "OK N" and exits 0, or
 * "ERROR <message>" (stdout and stderr) and exits 1. The staging directory is removed either
 * way.
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <fcntl.h>
#include <locale.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gunixinputstream.h>

#include "mv-error-private.h"
#include "mv-fdio-private.h"
#include "mv-path-private.h"
#include "mv-sandbox-private.h"

static const char *const type_names[] = { "file", "dir", "symlink", "hardlink", "other" };

/* The bytes of @fd from its start, as "sha256:<hex>". */
static char *
hash_fd (int fd, GError **error)
{
  g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  guint8 buf[65536];
  off_t off = 0;

  for (;;)
    {
      ssize_t n = pread (fd, buf, sizeof buf, off);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          mv_throw_errno_prefix (error, "reading back a staged file");
          return NULL;
        }
      if (n == 0)
        break;
      g_checksum_update (sum, buf, n);
      off += n;
    }
  return g_strconcat ("sha256:", g_checksum_get_string (sum), NULL);
}

/* One regular file's bytes into an unnamed file of @staging_dfd, as mv-commit stages them. */
static char *
stage_file (MvEntryReader *reader, int staging_dfd, GError **error)
{
  mv_autofd int fd = openat (staging_dfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  g_autoptr (MvDigester) also = NULL;
  g_autofree char *fed = NULL;
  char *read_back;
  int copied;

  if (fd < 0)
    {
      mv_throw_errno_prefix (error, "creating a staged file");
      return NULL;
    }
  also = mv_digester_new (NULL, error);
  if (also == NULL)
    return NULL;
  copied = mv_entry_reader_copy_data (reader, fd, also, error);
  if (copied < 0)
    return NULL;
  while (!copied)
    {
      const void *buf;
      gssize n = mv_entry_reader_read_data (reader, &buf, error);
      if (n < 0)
        return NULL;
      if (n == 0)
        break;
      mv_digester_update (also, buf, n);
      if (mv_loop_write (fd, buf, n) < 0)
        {
          mv_throw_errno_prefix (error, "writing a staged file");
          return NULL;
        }
    }
  fed = mv_digester_finish (also);
  read_back = hash_fd (fd, error);
  if (read_back != NULL && !g_str_equal (read_back, fed))
    {
      mv_throw (error, MV_ERROR_DIGEST_MISMATCH, "staged file %s, but %s was hashed on the way",
                read_back, fed);
      g_clear_pointer (&read_back, g_free);
    }
  return read_back;
}

static gboolean
unpack (MvLayerFormat format, const char *layer, const char *digest, gboolean stream,
        int staging_dfd, GError **error)
{
  g_autoptr (GInputStream) in = NULL;
  g_autoptr (MvBlobReader) blob = NULL;
  g_autoptr (MvEntryReader) reader = NULL;
  MvUnpackLimits limits;
  struct stat st;
  guint64 n = 0;
  int fd = open (layer, O_RDONLY | O_CLOEXEC | O_NOCTTY);

  if (fd < 0 || fstat (fd, &st) < 0)
    {
      mv_throw_errno_prefix (error, "opening '%s'", layer);
      if (fd >= 0)
        close (fd);
      return FALSE;
    }
  in = g_unix_input_stream_new (fd, TRUE);
  if (stream)
    {
      /* Not a GUnixInputStream any more: the child gets the bytes through the socket. */
      GInputStream *buffered = g_buffered_input_stream_new (in);
      g_object_unref (in);
      in = buffered;
    }
  blob = mv_blob_reader_new (in, digest, st.st_size, NULL);
  mv_unpack_limits_default (&limits);
  reader = mv_sandboxed_tar_reader_new (blob, format, &limits, error);
  if (reader == NULL)
    return FALSE;
  for (;;)
    {
      MvEntry e;
      g_autofree char *sum = NULL;
      g_autofree char *path = NULL;
      g_autofree char *target = NULL;
      int r = mv_entry_reader_next (reader, &e, error);
      if (r < 0)
        return FALSE;
      if (r == 0)
        break;
      if (e.type == MV_ENTRY_FILE && !e.sparse)
        {
          sum = stage_file (reader, staging_dfd, error);
          if (sum == NULL)
            {
              mv_entry_clear (&e);
              return FALSE;
            }
        }
      path = mv_escape_for_display (e.path, MV_FRAME_NAME_MAX);
      target = e.link_target ? mv_escape_for_display (e.link_target, MV_FRAME_NAME_MAX) : NULL;
      printf ("E %s %04o %" G_GINT64_FORMAT " %s %s%s%s\n", type_names[e.type], e.mode, e.size,
              sum ? sum : "-", path, target ? " -> " : "", target ? target : "");
      mv_entry_clear (&e);
      n++;
    }
  if (!mv_entry_reader_finish (reader, error) || !mv_blob_reader_finish (blob, error))
    return FALSE;
  printf ("OK %" G_GUINT64_FORMAT "\n", n);
  return TRUE;
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *staging = NULL;
  gboolean stream = argc > 1 && g_str_equal (argv[1], "--stream");
  char **args = argv + (stream ? 1 : 0);
  int nargs = argc - (stream ? 1 : 0);
  MvLayerFormat format = MV_LAYER_FORMAT_TAR;
  gboolean ok = FALSE;

  setlocale (LC_ALL, "C.UTF-8");
  if (nargs != 4)
    {
      fprintf (stderr, "usage: mv-unpack-driver [--stream] tar|tar+gzip|tar+zstd LAYER DIGEST\n");
      return 2;
    }
  if (g_str_equal (args[1], "tar+gzip"))
    format = MV_LAYER_FORMAT_TAR_GZIP;
  else if (g_str_equal (args[1], "tar+zstd"))
    format = MV_LAYER_FORMAT_TAR_ZSTD;
  else if (!g_str_equal (args[1], "tar"))
    {
      fprintf (stderr, "mv-unpack-driver: unknown format %s\n", args[1]);
      return 2;
    }
  staging = g_dir_make_tmp ("mv-unpack-driver-XXXXXX", &error);
  if (staging != NULL)
    {
      mv_autofd int dfd = open (staging, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (dfd < 0)
        mv_throw_errno_prefix (&error, "opening '%s'", staging);
      else
        ok = unpack (format, args[2], args[3], stream, dfd, &error);
      /* Staged files are unnamed: the directory is all there is to remove. */
      if (rmdir (staging) < 0 && ok)
        ok = mv_throw_errno_prefix (&error, "removing '%s'", staging);
    }
  fflush (stdout);
  if (!ok)
    {
      printf ("ERROR %s\n", error->message);
      fprintf (stderr, "mv-unpack-driver: %s\n", error->message);
      return 1;
    }
  return 0;
}
