/* fuzz-frames: the framed entry stream the sandboxed unpacker's child writes (mv-sandbox.c),
 * as the parent's decoder reads it: the child is the one process that parses layers, so what
 * it sends is as untrusted as the layer. Every entry then goes through the checks of
 * storage/mv-commit.c, as in fuzz-tar, and the stream must end with its end frame and
 * nothing after it.
 * An input that starts with "BLOB", a little-endian u32 length and that many bytes is a stream
 * by offset: those bytes are the layer ('F' frames point into it), the frames follow. One that
 * starts with "DIFF" is a compressed layer's stream: its end frame carries the diffID.
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <gio/gunixinputstream.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz-check-entry.h"
#include "fuzz-common.h"
#include "mv-fdio-private.h"
#include "mv-digest-private.h"
#include "mv-sandbox-private.h"

#define MAX_ENTRIES 64

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (GInputStream) blob_in = NULL;
  g_autoptr (MvBlobReader) blob = NULL;
  g_autoptr (MvEntryReader) reader = NULL; /* freed first: it reads the blob */
  g_autofree char *digest = NULL;
  g_autoptr (GError) error = NULL;
  gboolean with_diff_id = FALSE;
  int fd;

  mv_fuzz_init ();
  if (size >= 8 && memcmp (data, "BLOB", 4) == 0)
    {
      guint32 len = (guint32)data[4] | (guint32)data[5] << 8 | (guint32)data[6] << 16
                    | (guint32)data[7] << 24;
      int bfd;
      if (len > size - 8)
        return 0;
      bfd = memfd_create ("mv-fuzz-blob", MFD_CLOEXEC);
      g_assert (bfd >= 0);
      g_assert (mv_loop_write (bfd, data + 8, len) == 0);
      g_assert (lseek (bfd, 0, SEEK_SET) == 0);
      digest = mv_digest_bytes (data + 8, len);
      blob_in = g_unix_input_stream_new (bfd, TRUE);
      blob = mv_blob_reader_new (blob_in, digest, len, NULL);
      data += 8 + len;
      size -= 8 + len;
    }
  else if (size >= 4 && memcmp (data, "DIFF", 4) == 0)
    {
      with_diff_id = TRUE;
      data += 4;
      size -= 4;
    }
  /* A memfd, not a pipe: the whole input is there at once, and its end is the child's exit. */
  fd = memfd_create ("mv-fuzz-frames", MFD_CLOEXEC);
  g_assert (fd >= 0);
  g_assert (mv_loop_write (fd, data, size) == 0);
  g_assert (lseek (fd, 0, SEEK_SET) == 0);
  /* More entries than this are refused by the decoder (max-entries): the limit is exercised. */
  reader = mv_frame_reader_new_fd (fd, blob, with_diff_id, MAX_ENTRIES, 1);
  for (;;)
    {
      MvEntry e;
      int r = mv_entry_reader_next (reader, &e, &error);
      gboolean ok;

      if (r < 0)
        {
          g_assert (error != NULL);
          return 0;
        }
      if (r == 0)
        {
          g_autofree char *diff_id = mv_entry_reader_diff_id (reader);
          /* What a compressed layer's end frame gave: a well-formed digest, nothing else. */
          g_assert (with_diff_id == (diff_id != NULL));
          g_assert (diff_id == NULL || mv_digest_validate (diff_id, NULL, NULL, NULL));
          if (!mv_entry_reader_finish (reader, &error))
            g_assert (error != NULL);
          return 0;
        }
      ok = mv_fuzz_check_entry (reader, &e, NULL);
      mv_entry_clear (&e);
      if (!ok)
        return 0;
    }
}
