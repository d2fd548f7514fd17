/* fuzz-tar: a layer blob as the unpacker reads it (storage/mv-unpack.c): the same bytes as a
 * tar, a tar+gzip and a tar+zstd layer, each through MvBlobReader (digest and size checked at
 * the end), the libarchive filter and tar readers and our header tap. Every entry is checked
 * as storage/mv-commit.c does before it writes anything: its name through the path validator,
 * a symlink's target through the link check, refused types refused, a file's data read out,
 * and the first refusal ends the layer.
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "fuzz-common.h"
#include "mv-digest-private.h"
#include "mv-path-private.h"
#include "mv-unpack-private.h"

/* Bounds the work of one input (a small gzip or zstd bomb expands a thousandfold and more):
 * the unpacker's own limits are tested elsewhere; here it is parsing that is exercised. */
#define MAX_ENTRIES 4096
#define MAX_DATA (32 * 1024 * 1024)

/* One entry as import_tar_entry() sees it. Returns FALSE where the import would stop. */
static gboolean
check_entry (MvEntryReader *reader, MvEntry *e, guint64 *data_total)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = NULL;

  g_assert (e->path != NULL);
  if (!mv_path_normalize (e->path, MV_PATH_TAR_MEMBER, &path, &error))
    {
      g_autofree char *shown = mv_escape_for_display (e->path, 200);
      g_assert (shown != NULL);
      return e->type == MV_ENTRY_DIR && (g_str_equal (e->path, ".") || g_str_equal (e->path, "./"));
    }
  g_assert (*path != '\0' && *path != '/');
  switch (e->type)
    {
      case MV_ENTRY_FILE:
        if (e->sparse)
          return FALSE;
        for (;;)
          {
            const void *buf;
            gssize n = mv_entry_reader_read_data (reader, &buf, &error);
            if (n < 0)
              return FALSE;
            if (n == 0)
              return TRUE;
            *data_total += n;
            if (*data_total > MAX_DATA)
              return FALSE;
          }
      case MV_ENTRY_DIR:
        return TRUE;
      case MV_ENTRY_SYMLINK:
        g_assert (e->link_target != NULL);
        return mv_path_check_link_target (path, e->link_target, &error);
      case MV_ENTRY_HARDLINK:
      case MV_ENTRY_OTHER:
      default:
        g_assert (e->what != NULL);
        return FALSE;
    }
}

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
      ok = check_entry (reader, &e, &data_total);
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
