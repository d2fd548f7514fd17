/* fuzz-tar: a layer blob as the unpacker reads it (storage/mv-unpack.c): the same bytes as a
 * tar, a tar+gzip and a tar+zstd layer, each through MvBlobReader (digest and size checked at
 * the end), the libarchive filter and tar readers and our header tap. Every entry is checked
 * as storage/mv-commit.c does before it writes anything: its name through the path validator,
 * a symlink's target through the link check, refused types refused, a file's data read out,
 * and the first refusal ends the layer.
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "fuzz-check-entry.h"
#include "fuzz-common.h"
#include "mv-digest-private.h"

/* Bounds the number of entries of one input; fuzz-check-entry.c bounds its data. */
#define MAX_ENTRIES 4096

static void
read_layer (const uint8_t *data, size_t size, const char *digest, MvLayerFormat format)
{
  g_autoptr (GInputStream) in = g_memory_input_stream_new_from_data (data, size, NULL);
  g_autoptr (MvBlobReader) blob = mv_blob_reader_new (in, digest, size, NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (MvEntryReader) reader = mv_tar_reader_new (blob, format, &error);
  guint64 data_total = 0;

  if (reader == NULL)
    {
      g_assert (error != NULL);
      return;
    }
  for (guint n = 0; n < MAX_ENTRIES; n++)
    {
      MvEntry e;
      int r = mv_entry_reader_next (reader, &e, &error);
      gboolean ok;

      if (r < 0)
        {
          g_assert (error != NULL);
          return;
        }
      if (r == 0)
        {
          /* The whole blob was read through the digest, which is its own. */
          g_assert (mv_blob_reader_finish (blob, &error));
          return;
        }
      ok = mv_fuzz_check_entry (reader, &e, &data_total);
      mv_entry_clear (&e);
      if (!ok)
        return;
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree char *digest = mv_digest_bytes (data, size);

  mv_fuzz_init ();
  read_layer (data, size, digest, MV_LAYER_FORMAT_TAR);
  read_layer (data, size, digest, MV_LAYER_FORMAT_TAR_GZIP);
  read_layer (data, size, digest, MV_LAYER_FORMAT_TAR_ZSTD);
  return 0;
}
