/* Unit tests of storage/mv-counters: the counters file, its lock, its corruption handling.
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <glib/gstdio.h>
#include <string.h>

#include "mv-counters-private.h"

#define THREADS 4
#define EVENTS 50

static guint64
value (GHashTable *t, const char *key)
{
  guint64 *v = g_hash_table_lookup (t, key);
  return v ? *v : 0;
}

static char *
make_root (void)
{
  g_autoptr (GError) error = NULL;
  char *root = g_dir_make_tmp ("mv-counters-XXXXXX", &error);
  g_assert_no_error (error);
  return root;
}

static void
rm_root (const char *root)
{
  const char *files[] = { "counters", "counters.tmp", "counters.corrupt", "lock" };
  for (guint i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autofree char *p = g_build_filename (root, "metrics", files[i], NULL);
      (void)g_unlink (p);
    }
  {
    g_autofree char *m = g_build_filename (root, "metrics", NULL);
    (void)g_rmdir (m);
  }
  (void)g_rmdir (root);
}

static void
test_record (void)
{
  g_autofree char *root = make_root ();
  g_autoptr (GError) error = NULL;
  g_autoptr (GHashTable) t = NULL;
  char *warning = NULL;

  t = mv_counters_read (root, &warning, &error);
  g_assert_no_error (error);
  g_assert_null (warning);
  g_assert_cmpuint (g_hash_table_size (t), ==, 0);
  g_clear_pointer (&t, g_hash_table_unref);

  mv_counters_record (root, MV_COUNTER_PULL, TRUE, 1000, 2 * G_USEC_PER_SEC); /* le 5 */
  mv_counters_record (root, MV_COUNTER_PULL, TRUE, 24, 100000);               /* le 0.1 */
  mv_counters_record (root, MV_COUNTER_PULL, FALSE, 7, 1);                    /* no time */
  mv_counters_record (root, MV_COUNTER_MOUNT_HOOK, TRUE, 0,
                      (gint64)4000 * G_USEC_PER_SEC); /* +Inf */
  t = mv_counters_read (root, &warning, &error);
  g_assert_no_error (error);
  g_assert_null (warning);
  g_assert_cmpuint (value (t, "pull_ok"), ==, 2);
  g_assert_cmpuint (value (t, "pull_error"), ==, 1);
  g_assert_cmpuint (value (t, "pull_bytes"), ==, 1031);
  g_assert_cmpuint (value (t, "pull_us"), ==, 2100000);
  g_assert_cmpuint (value (t, "pull_le_5"), ==, 1);
  g_assert_cmpuint (value (t, "pull_le_0.1"), ==, 1);
  g_assert_cmpuint (value (t, "mount_hook_le_+Inf"), ==, 1);
  g_assert_cmpuint (value (t, "mount_hook_ok"), ==, 1);
  rm_root (root);
}

static gpointer
recorder (gpointer root)
{
  for (int i = 0; i < EVENTS; i++)
    mv_counters_record (root, MV_COUNTER_IMPORT, TRUE, 1, 10);
  return NULL;
}

/* OFD locks exclude threads of one process too (watch records from several). */
static void
test_threads (void)
{
  g_autofree char *root = make_root ();
  g_autoptr (GError) error = NULL;
  g_autoptr (GHashTable) t = NULL;
  GThread *threads[THREADS];

  for (int i = 0; i < THREADS; i++)
    threads[i] = g_thread_new ("recorder", recorder, root);
  for (int i = 0; i < THREADS; i++)
    g_thread_join (threads[i]);
  t = mv_counters_read (root, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (value (t, "import_ok"), ==, THREADS * EVENTS);
  g_assert_cmpuint (value (t, "import_bytes"), ==, THREADS * EVENTS);
  rm_root (root);
}

static void
test_corrupt (gconstpointer data)
{
  const char *content = data;
  g_autofree char *root = make_root ();
  g_autofree char *dir = g_build_filename (root, "metrics", NULL);
  g_autofree char *file = g_build_filename (dir, "counters", NULL);
  g_autofree char *warning = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GHashTable) t = NULL;

  mv_counters_record (root, MV_COUNTER_PRUNE, TRUE, 5, 1);
  if (content != NULL && content[0] == '!')
    {
      /* A well-formed file with a good checksum but a bad line. */
      g_autofree char *sum = g_compute_checksum_for_string (G_CHECKSUM_SHA256, content + 1, -1);
      g_autofree char *full = g_strdup_printf ("%ssha256 %s\n", content + 1, sum);
      g_assert_true (g_file_set_contents (file, full, -1, NULL));
    }
  else if (content != NULL)
    g_assert_true (g_file_set_contents (file, content, -1, NULL));
  else
    {
      /* A good file with one digit changed. */
      g_autofree char *good = NULL;
      char *p;
      g_assert_true (g_file_get_contents (file, &good, NULL, NULL));
      p = strstr (good, "prune_bytes 5");
      g_assert_nonnull (p);
      p[strlen ("prune_bytes ")] = '6';
      g_assert_true (g_file_set_contents (file, good, -1, NULL));
    }
  t = mv_counters_read (root, &warning, &error);
  g_assert_no_error (error);
  g_assert_nonnull (warning);
  g_assert_nonnull (strstr (warning, "was corrupt"));
  g_assert_cmpuint (value (t, "resets"), ==, 1);
  g_assert_cmpuint (value (t, "prune_ok"), ==, 0);
  g_clear_pointer (&t, g_hash_table_unref);
  g_clear_pointer (&warning, g_free);
  /* Reset once: the next reader finds a good file. */
  t = mv_counters_read (root, &warning, &error);
  g_assert_no_error (error);
  g_assert_null (warning);
  g_assert_cmpuint (value (t, "resets"), ==, 1);
  rm_root (root);
}

static void
test_no_store (void)
{
  /* Recording into a store root that does not exist: nothing happens, nothing fails. */
  mv_counters_record ("/nonexistent/modelvol-root", MV_COUNTER_PULL, TRUE, 1, 1);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/counters/record", test_record);
  g_test_add_func ("/counters/threads", test_threads);
  g_test_add_data_func ("/counters/corrupt/edited", NULL, test_corrupt);
  g_test_add_data_func ("/counters/corrupt/empty", "", test_corrupt);
  g_test_add_data_func ("/counters/corrupt/garbage", "\x01\x02zz\n", test_corrupt);
  g_test_add_data_func ("/counters/corrupt/truncated", "modelvol-counters 1\nprune_ok 1\n",
                        test_corrupt);
  g_test_add_data_func ("/counters/corrupt/bad-line", "!modelvol-counters 1\nprune_ok x\n",
                        test_corrupt);
  g_test_add_data_func ("/counters/corrupt/duplicate-key",
                        "!modelvol-counters 1\nprune_ok 1\nprune_ok 2\n", test_corrupt);
  g_test_add_func ("/counters/no-store", test_no_store);
  return g_test_run ();
}
