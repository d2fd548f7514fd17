/* fuzz-check-entry: see fuzz-check-entry.h.
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "fuzz-check-entry.h"
#include "mv-path-private.h"

/* Bounds the work of one input (a small gzip or zstd bomb expands a thousandfold and more):
 * the unpacker's own limits are tested elsewhere; here it is parsing that is exercised. */
#define MAX_DATA (32 * 1024 * 1024)

/* As import_tar_entry() in storage/mv-commit.c. */
gboolean
mv_fuzz_check_entry (MvEntryReader *reader, MvEntry *e, guint64 *data_total)
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
            if (data_total != NULL && (*data_total += n) > MAX_DATA)
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
