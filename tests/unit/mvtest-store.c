/* Helpers shared by the unit tests of storage/; see mvtest-store.h.
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "mvtest-store.h"

#include <archive.h>
#include <string.h>
#include <unistd.h>

#include "mv-digest-private.h"
#include "mv-fdio-private.h"

MvStore *
mvtest_store_new (const char *tmpl, char **out_dir)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *root = NULL;
  MvStore *store;

  *out_dir = g_dir_make_tmp (tmpl, &error);
  g_assert_no_error (error);
  root = g_build_filename (*out_dir, "store", NULL);
  store = mv_store_open (root, MV_STORE_OPEN_CREATE, NULL, &error);
  g_assert_no_error (error);
  return store;
}

void
mvtest_store_free (MvStore *store, char *dir)
{
  mv_store_free (store);
  g_assert_true (mv_rm_rf_at (AT_FDCWD, dir, NULL, NULL));
  g_free (dir);
}

GBytes *
mvtest_make_tar (const MvTestTarEntry *entries, gboolean gzip)
{
  struct archive *a = archive_write_new ();
  gsize cap = 1 << 20, used = 0;
  char *buf;

  for (const MvTestTarEntry *e = entries; e->name; e++)
    cap += 1024 + (e->type == AE_IFREG ? strlen (e->data_or_target) : 0);
  buf = g_malloc (cap);

  archive_write_set_format_pax_restricted (a);
  if (gzip)
    archive_write_add_filter_gzip (a);
  archive_write_set_bytes_in_last_block (a, 1);
  g_assert_cmpint (archive_write_open_memory (a, buf, cap, &used), ==, ARCHIVE_OK);
  for (const MvTestTarEntry *e = entries; e->name; e++)
    {
      struct archive_entry *ae = archive_entry_new ();
      archive_entry_set_pathname (ae, e->name);
      archive_entry_set_perm (ae, e->mode ? e->mode : e->type == AE_IFDIR ? 0755 : 0644);
      if (e->type == 1)
        {
          archive_entry_set_filetype (ae, AE_IFREG);
          archive_entry_set_hardlink (ae, e->data_or_target);
        }
      else
        archive_entry_set_filetype (ae, e->type);
      if (e->type == AE_IFLNK)
        archive_entry_set_symlink (ae, e->data_or_target);
      if (e->type == AE_IFREG)
        archive_entry_set_size (ae, strlen (e->data_or_target));
      g_assert_cmpint (archive_write_header (a, ae), ==, ARCHIVE_OK);
      if (e->type == AE_IFREG)
        archive_write_data (a, e->data_or_target, strlen (e->data_or_target));
      archive_entry_free (ae);
    }
  archive_write_close (a);
  archive_write_free (a);
  return g_bytes_new_take (buf, used);
}

gboolean
mvtest_import_bytes (MvStore *store, GBytes *blob, MvLayerFormat format, const char *filepath,
                     guint32 mode, char **out_digest, GError **error)
{
  g_autofree char *digest
      = mv_digest_bytes (g_bytes_get_data (blob, NULL), g_bytes_get_size (blob));
  g_autoptr (GInputStream) in = g_memory_input_stream_new_from_bytes (blob);
  MvLayerSpec spec = { .digest = digest,
                       .size = g_bytes_get_size (blob),
                       .format = format,
                       .filepath = filepath,
                       .mode = mode };
  if (!mv_store_import_layer (store, &spec, in, NULL, error))
    return FALSE;
  if (out_digest)
    *out_digest = g_steal_pointer (&digest);
  return TRUE;
}

guint
mvtest_count_objects (MvStore *store, const char *suffix)
{
  guint n = 0;
  for (int i = 0; i < 256; i++)
    {
      char sub[3];
      g_snprintf (sub, sizeof sub, "%02x", i);
      g_autofree char *dir
          = g_build_filename (mv_store_get_root (store), "repo", "objects", sub, NULL);
      g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
      const char *name;
      while (d && (name = g_dir_read_name (d)))
        if (g_str_has_suffix (name, suffix))
          n++;
    }
  return n;
}

guint
mvtest_count_entries (const char *dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  guint n = 0;
  while (d && g_dir_read_name (d))
    n++;
  return n;
}

char *
mvtest_own_record (gboolean assert_started)
{
  guint64 start = mv_process_start_time (getpid ());
  if (assert_started)
    g_assert_cmpuint (start, >, 0);
  return g_strdup_printf ("kind=container\npid=%d\nstart=%" G_GUINT64_FORMAT "\n", getpid (),
                          start);
}
