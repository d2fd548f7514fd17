/* Unit tests of storage/mv-gc.c on a real store in a temporary directory: prune (what goes,
 * what a named or used model keeps, dry runs), rm by name and by digest, fsck (damaged
 * objects found, named, marked and unmarked) and df.
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <ostree.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mv-digest-private.h"
#include "mv-fdio-private.h"
#include "mv-integrity-private.h"
#include "mv-repo-private.h"
#include "mvtest-store.h"

typedef struct
{
  char *dir;
  MvStore *store;
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_unsetenv ("MODELVOL_RUN_DIR");
  f->store = mvtest_store_new ("mv-test-gc-XXXXXX", &f->dir);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  mvtest_store_free (f->store, f->dir);
}

static char *
import_blob (MvStore *store, GBytes *blob, MvLayerFormat format, const char *filepath)
{
  g_autoptr (GError) error = NULL;
  char *digest = NULL;

  g_assert_true (mvtest_import_bytes (store, blob, format, filepath, 0644, &digest, &error));
  g_assert_no_error (error);
  g_assert_true (mv_store_has_layer (store, digest));
  return digest;
}

static char *
import_tar (MvStore *store, const MvTestTarEntry *entries)
{
  g_autoptr (GBytes) tar = mvtest_make_tar (entries, FALSE);
  return import_blob (store, tar, MV_LAYER_FORMAT_TAR, NULL);
}

static char *
import_raw (MvStore *store, const char *filepath, const char *text)
{
  g_autoptr (GBytes) blob = g_bytes_new (text, strlen (text));
  return import_blob (store, blob, MV_LAYER_FORMAT_RAW, filepath);
}

/* A model of the given layers; its manifest is @manifest_text. Returns its digest. */
static char *
commit_model (MvStore *store, const char *manifest_text, const char *l0, const char *l1)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) manifest = g_bytes_new (manifest_text, strlen (manifest_text));
  char *digest = mv_digest_bytes (manifest_text, strlen (manifest_text));
  const char *layers[] = { l0, l1 };
  MvModelSpec spec = { .digest = digest,
                       .manifest = manifest,
                       .config = manifest,
                       .layer_digests = layers,
                       .n_layers = l1 ? 2 : 1 };

  g_assert_true (mv_store_commit_model (store, &spec, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (mv_store_has_model (store, digest));
  return digest;
}

static void
set_name (MvStore *store, const char *name, const char *digest)
{
  g_autoptr (GError) error = NULL;
  g_assert_true (mv_store_set_name (store, name, digest, &error));
  g_assert_no_error (error);
}

/* The file objects (checksums) a model's commit reaches. */
static GHashTable *
file_objects_of (MvStore *store, const char *digest)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GHashTable) reachable = ostree_repo_traverse_new_reachable ();
  g_autofree char *ref = mv_model_ref (digest);
  g_autofree char *rev = mv_store_resolve_ref (store, ref, &error);
  GHashTable *files = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  GHashTableIter it;
  gpointer k;

  g_assert_no_error (error);
  g_assert_nonnull (rev);
  g_assert_true (ostree_repo_traverse_commit_union (store->repo, rev, 0, reachable, NULL, &error));
  g_assert_no_error (error);
  g_hash_table_iter_init (&it, reachable);
  while (g_hash_table_iter_next (&it, &k, NULL))
    {
      const char *csum;
      OstreeObjectType type;
      ostree_object_name_deserialize (k, &csum, &type);
      if (type == OSTREE_OBJECT_TYPE_FILE)
        g_hash_table_add (files, g_strdup (csum));
    }
  return files;
}

/* The one file object of a model with one file. */
static char *
only_file_object (MvStore *store, const char *digest)
{
  g_autoptr (GHashTable) files = file_objects_of (store, digest);
  GHashTableIter it;
  gpointer k;

  g_assert_cmpuint (g_hash_table_size (files), ==, 1);
  g_hash_table_iter_init (&it, files);
  g_assert_true (g_hash_table_iter_next (&it, &k, NULL));
  return g_strdup (k);
}

static gboolean
has_file_object (MvStore *store, const char *csum)
{
  g_autofree char *rel = mv_object_path (csum, "file");
  struct stat st;
  return fstatat (store->objects_dfd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

static char *
object_file (MvStore *store, const char *csum)
{
  g_autofree char *rel = mv_object_path (csum, "file");
  return g_build_filename (mv_store_get_root (store), "repo", "objects", rel, NULL);
}

static void
prune_ok (Fixture *f, gboolean dry_run, MvPruneStats *stats)
{
  g_autoptr (GError) error = NULL;
  memset (stats, 0xff, sizeof *stats);
  g_assert_true (mv_store_prune (f->store, dry_run, stats, NULL, &error));
  g_assert_no_error (error);
}

static void
assert_stats_equal (const MvPruneStats *a, const MvPruneStats *b)
{
  g_assert_cmpuint (a->models_removed, ==, b->models_removed);
  g_assert_cmpuint (a->layers_removed, ==, b->layers_removed);
  g_assert_cmpuint (a->objects_removed, ==, b->objects_removed);
  g_assert_cmpuint (a->bytes_freed, ==, b->bytes_freed);
  g_assert_cmpuint (a->checkouts_removed, ==, b->checkouts_removed);
}

static void
assert_fsck_clean (Fixture *f)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) problems = NULL;
  g_autoptr (GPtrArray) marked = NULL;

  g_assert_true (mv_store_fsck (f->store, &problems, NULL, &error));
  g_assert_no_error (error);
  for (guint i = 0; i < problems->len; i++)
    g_test_message ("problem: %s", ((MvFsckProblem *)problems->pdata[i])->message);
  g_assert_cmpuint (problems->len, ==, 0);
  marked = mv_damage_list (f->store->root_dfd, MV_DAMAGE_MODEL);
  g_assert_cmpuint (marked->len, ==, 0);
}

/* ---------------------------------------------------------------------------------------- */
/* prune                                                                                    */

static void
test_prune (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  const MvTestTarEntry ea[] = { { "a.txt", AE_IFREG, "alpha unique" },
                                { "shared.txt", AE_IFREG, "shared between a and b" },
                                { NULL } };
  const MvTestTarEntry eb[] = { { "b.txt", AE_IFREG, "beta unique" },
                                { "shared.txt", AE_IFREG, "shared between a and b" },
                                { NULL } };
  g_autofree char *la = import_tar (f->store, ea);
  g_autofree char *lb = import_tar (f->store, eb);
  g_autofree char *lc = import_raw (f->store, "c.bin", "gamma, used by a container");
  g_autofree char *lorphan = import_raw (f->store, "o.bin", "a layer no model lists");
  g_autofree char *a = commit_model (f->store, "{\"m\":\"a\"}", la, NULL);
  g_autofree char *b = commit_model (f->store, "{\"m\":\"b\"}", lb, NULL);
  g_autofree char *c = commit_model (f->store, "{\"m\":\"c\"}", lc, NULL);
  g_autoptr (GHashTable) fa = file_objects_of (f->store, a);
  g_autoptr (GHashTable) fb = file_objects_of (f->store, b);
  g_autoptr (GHashTable) fc = file_objects_of (f->store, c);
  g_autofree char *rec = mvtest_own_record (FALSE);
  g_autofree char *checkout_b = NULL;
  g_autofree char *checkout_a = NULL;
  g_autofree char *shared = NULL, *only_b = NULL;
  MvPruneStats dry, real, again;
  GHashTableIter it;
  gpointer k;
  guint before, after;

  set_name (f->store, "localhost:5000/org/a:v1", a);
  g_assert_true (mv_uses_add (mv_store_get_run_dir (f->store), c, "ctr", rec, &error));
  g_assert_true (mv_store_checkout_digest (f->store, b, &checkout_b, NULL, &error));
  g_assert_no_error (error);

  /* Which object is shared, which only b's. */
  g_assert_cmpuint (g_hash_table_size (fa), ==, 2);
  g_assert_cmpuint (g_hash_table_size (fb), ==, 2);
  g_hash_table_iter_init (&it, fb);
  while (g_hash_table_iter_next (&it, &k, NULL))
    {
      if (g_hash_table_contains (fa, k))
        shared = g_strdup (k);
      else
        only_b = g_strdup (k);
    }
  g_assert_nonnull (shared);
  g_assert_nonnull (only_b);

  /* A dry run counts and changes nothing. */
  before = mvtest_count_objects (f->store, "");
  prune_ok (f, TRUE, &dry);
  g_assert_cmpuint (mvtest_count_objects (f->store, ""), ==, before);
  g_assert_true (mv_store_has_model (f->store, b));
  g_assert_true (mv_store_has_layer (f->store, lorphan));
  g_assert_true (g_file_test (checkout_b, G_FILE_TEST_IS_DIR));
  g_assert_true (has_file_object (f->store, only_b));

  prune_ok (f, FALSE, &real);
  after = mvtest_count_objects (f->store, "");
  assert_stats_equal (&dry, &real);
  g_assert_cmpuint (real.models_removed, ==, 1);
  g_assert_cmpuint (real.layers_removed, ==, 2); /* b's and the orphan */
  g_assert_cmpuint (real.checkouts_removed, ==, 1);
  g_assert_cmpuint (real.objects_removed, ==, before - after);
  g_assert_cmpuint (real.bytes_freed, >, 0);

  /* b, its layer, its own object and checkout are gone; a (named) and c (used) stay whole. */
  g_assert_false (mv_store_has_model (f->store, b));
  g_assert_false (mv_store_has_layer (f->store, lb));
  g_assert_false (mv_store_has_layer (f->store, lorphan));
  g_assert_false (has_file_object (f->store, only_b));
  g_assert_false (g_file_test (checkout_b, G_FILE_TEST_EXISTS));
  g_assert_true (has_file_object (f->store, shared));
  g_assert_true (mv_store_has_model (f->store, a));
  g_assert_true (mv_store_has_layer (f->store, la));
  g_assert_true (mv_store_has_model (f->store, c));
  g_assert_true (mv_store_has_layer (f->store, lc));
  g_hash_table_iter_init (&it, fa);
  while (g_hash_table_iter_next (&it, &k, NULL))
    g_assert_true (has_file_object (f->store, k));
  g_hash_table_iter_init (&it, fc);
  while (g_hash_table_iter_next (&it, &k, NULL))
    g_assert_true (has_file_object (f->store, k));
  assert_fsck_clean (f);
  g_assert_true (mv_store_checkout_intact (f->store, a, NULL, &checkout_a, NULL, &error));
  g_assert_no_error (error);

  /* Nothing left to do. */
  prune_ok (f, FALSE, &again);
  g_assert_cmpuint (again.models_removed + again.layers_removed + again.objects_removed
                        + again.checkouts_removed,
                    ==, 0);
  g_assert_cmpuint (again.bytes_freed, ==, 0);

  /* The name goes: a goes, with the shared object nobody needs now; c stays. */
  g_assert_true (mv_store_remove_name (f->store, "localhost:5000/org/a:v1", NULL, &error));
  g_assert_no_error (error);
  prune_ok (f, TRUE, &dry);
  prune_ok (f, FALSE, &real);
  assert_stats_equal (&dry, &real);
  g_assert_cmpuint (real.models_removed, ==, 1);
  g_assert_cmpuint (real.layers_removed, ==, 1);
  g_assert_cmpuint (real.checkouts_removed, ==, 1);
  g_assert_false (has_file_object (f->store, shared));
  g_assert_false (g_file_test (checkout_a, G_FILE_TEST_EXISTS));
  g_assert_cmpuint (mvtest_count_objects (f->store, ".file"), ==, 1);

  /* The container is gone: so is c, and every file object. */
  g_assert_true (mv_uses_drop (mv_store_get_run_dir (f->store), c, "ctr", &error));
  prune_ok (f, FALSE, &real);
  g_assert_cmpuint (real.models_removed, ==, 1);
  g_assert_cmpuint (mvtest_count_objects (f->store, ".file"), ==, 0);
  g_assert_cmpuint (mvtest_count_objects (f->store, ".commit"), ==, 0);
}

/* A shared object survives while any model needs it; keep_unnamed keeps every model. */
static void
test_prune_shared (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  const char *text = "the same bytes in two layers";
  g_autofree char *l1 = import_raw (f->store, "one/w.bin", text);
  const MvTestTarEntry e2[] = { { "two.bin", AE_IFREG, text }, { NULL } };
  g_autofree char *l2 = import_tar (f->store, e2);
  g_autofree char *m1 = commit_model (f->store, "{\"m\":1}", l1, NULL);
  g_autofree char *m2 = commit_model (f->store, "{\"m\":2}", l2, NULL);
  g_autofree char *o1 = only_file_object (f->store, m1);
  g_autofree char *o2 = only_file_object (f->store, m2);
  g_autofree char *lo = import_raw (f->store, "x.bin", "orphan");
  MvPruneStats stats = { 0 };

  g_assert_cmpstr (o1, ==, o2);
  set_name (f->store, "example.com/m:1", m1);
  set_name (f->store, "example.com/m:2", m2);

  /* rm of one model: the object stays for the other. */
  g_assert_true (mv_store_remove_model (f->store, m1, NULL, &error));
  g_assert_no_error (error);
  prune_ok (f, FALSE, &stats);
  g_assert_cmpuint (stats.models_removed, ==, 0);
  g_assert_cmpuint (stats.layers_removed, ==, 2); /* l1 and the orphan */
  g_assert_true (has_file_object (f->store, o1));
  assert_fsck_clean (f);

  /* keep_unnamed: an unnamed model stays, and so does its object. */
  g_assert_true (mv_store_remove_name (f->store, "example.com/m:2", NULL, &error));
  g_assert_no_error (error);
  g_free (lo);
  lo = import_raw (f->store, "x.bin", "orphan");
  g_assert_true (mv_store_prune_full (f->store, FALSE, TRUE, &stats, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (stats.models_removed, ==, 0);
  g_assert_cmpuint (stats.layers_removed, ==, 1);
  g_assert_false (mv_store_has_layer (f->store, lo));
  g_assert_true (mv_store_has_model (f->store, m2));
  g_assert_true (has_file_object (f->store, o1));
  prune_ok (f, FALSE, &stats);
  g_assert_cmpuint (stats.models_removed, ==, 1);
  g_assert_false (has_file_object (f->store, o1));
}

/* ---------------------------------------------------------------------------------------- */
/* rm                                                                                       */

static void
test_rm (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *la = import_raw (f->store, "a.bin", "model a");
  g_autofree char *lb = import_raw (f->store, "b.bin", "model b");
  g_autofree char *a = commit_model (f->store, "{\"m\":\"a\"}", la, NULL);
  g_autofree char *b = commit_model (f->store, "{\"m\":\"b\"}", lb, NULL);
  g_autofree char *checkout = NULL;
  g_autofree char *found = NULL;
  g_autofree char *want = NULL;
  g_autofree char *prefix = g_strndup (a + 7, 12);
  const char *hostile = "evil\n\x1b[31m/name:v1";

  set_name (f->store, "example.com/a:v1", a);
  set_name (f->store, "example.com/a:latest", a);
  set_name (f->store, "example.com/b:v1", b);
  g_assert_true (mv_store_checkout_digest (f->store, a, &checkout, NULL, &error));
  g_assert_no_error (error);

  /* By name: only that name goes. */
  g_assert_true (mv_store_remove_name (f->store, "example.com/a:v1", NULL, &error));
  g_assert_no_error (error);
  g_assert_null (mv_store_lookup_name (f->store, "example.com/a:v1", &error));
  g_assert_error (error, MV_ERROR, MV_ERROR_NOT_FOUND);
  g_clear_error (&error);
  found = mv_store_lookup_name (f->store, "example.com/a:latest", &error);
  g_assert_cmpstr (found, ==, a);
  g_clear_pointer (&found, g_free);
  g_assert_true (mv_store_has_model (f->store, a));
  g_assert_true (g_file_test (checkout, G_FILE_TEST_IS_DIR));
  g_assert_false (mv_store_remove_name (f->store, "example.com/a:v1", NULL, &error));
  g_assert_error (error, MV_ERROR, MV_ERROR_NOT_FOUND);
  g_assert_cmpstr (error->message, ==, "no model named 'example.com/a:v1'");
  g_clear_error (&error);
  g_assert_false (mv_store_remove_name (f->store, hostile, NULL, &error));
  g_assert_error (error, MV_ERROR, MV_ERROR_NOT_FOUND);
  g_assert_null (strchr (error->message, '\n'));
  g_assert_null (strchr (error->message, '\x1b'));
  g_assert_true (g_str_has_prefix (error->message, "no model named 'evil"));
  g_clear_error (&error);

  /* By digest (or a unique prefix of it): the model, every name, its checkout. */
  found = mv_store_find_digest (f->store, prefix, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (found, ==, a);
  g_assert_true (mv_store_remove_model (f->store, found, NULL, &error));
  g_assert_no_error (error);
  g_assert_false (mv_store_has_model (f->store, a));
  g_assert_null (mv_store_lookup_name (f->store, "example.com/a:latest", &error));
  g_assert_error (error, MV_ERROR, MV_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_false (g_file_test (checkout, G_FILE_TEST_EXISTS));
  g_assert_true (mv_store_has_layer (f->store, la)); /* until prune */
  g_clear_pointer (&found, g_free);
  found = mv_store_lookup_name (f->store, "example.com/b:v1", &error);
  g_assert_cmpstr (found, ==, b);
  g_assert_true (mv_store_has_model (f->store, b));

  want = g_strdup_printf ("model %s is not in the store", a);
  g_assert_false (mv_store_remove_model (f->store, a, NULL, &error));
  g_assert_error (error, MV_ERROR, MV_ERROR_NOT_FOUND);
  g_assert_cmpstr (error->message, ==, want);
  g_clear_error (&error);
  g_assert_null (mv_store_find_digest (f->store, prefix, &error));
  g_assert_error (error, MV_ERROR, MV_ERROR_NOT_FOUND);
  g_clear_error (&error);
  assert_fsck_clean (f);
}

/* ---------------------------------------------------------------------------------------- */
/* fsck                                                                                     */

#define VICTIM_TEXT "victim weights 0123456789abcdef"
#define VICTIM_NAME "localhost/org/victim:v1"

typedef enum
{
  DAMAGE_FLIP,
  DAMAGE_CHMOD,
  DAMAGE_TRUNCATE,
} Damage;

static void
test_fsck (Fixture *f, gconstpointer data)
{
  Damage damage = GPOINTER_TO_INT (data);
  g_autoptr (GError) error = NULL;
  g_autofree char *lv = import_raw (f->store, "w.bin", VICTIM_TEXT);
  g_autofree char *lw = import_raw (f->store, "w.bin", "bystander weights");
  g_autofree char *v = commit_model (f->store, "{\"m\":\"victim\"}", lv, NULL);
  g_autofree char *w = commit_model (f->store, "{\"m\":\"bystander\"}", lw, NULL);
  g_autofree char *csum = only_file_object (f->store, v);
  g_autofree char *path = object_file (f->store, csum);
  g_autofree char *checkout = NULL;
  g_autofree char *key = g_strconcat (csum, ".file", NULL);
  g_autofree char *want_prefix = g_strdup_printf ("object %s has checksum ", csum);
  g_autoptr (GPtrArray) problems = NULL;
  struct stat st;

  set_name (f->store, VICTIM_NAME, v);
  g_assert_true (mv_store_checkout_digest (f->store, v, &checkout, NULL, &error));
  g_assert_no_error (error);
  assert_fsck_clean (f);
  g_assert_cmpint (stat (path, &st), ==, 0);

  switch (damage)
    {
      case DAMAGE_FLIP:
        {
          int fd = open (path, O_RDWR | O_CLOEXEC);
          char c;
          g_assert_cmpint (fd, >=, 0);
          g_assert_cmpint (pread (fd, &c, 1, 3), ==, 1);
          c ^= 0x01;
          g_assert_cmpint (pwrite (fd, &c, 1, 3), ==, 1);
          close (fd);
          break;
        }
      case DAMAGE_CHMOD:
        g_assert_cmpint (chmod (path, 0755), ==, 0);
        break;
      case DAMAGE_TRUNCATE:
        g_assert_cmpint (truncate (path, strlen (VICTIM_TEXT) - 1), ==, 0);
        break;
    }

  g_assert_true (mv_store_fsck (f->store, &problems, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (problems->len, ==, 1);
  {
    MvFsckProblem *p = problems->pdata[0];
    g_assert_cmpstr (p->model, ==, v);
    g_assert_cmpuint (g_strv_length (p->names), ==, 1);
    g_assert_cmpstr (p->names[0], ==, VICTIM_NAME);
    g_assert_cmpstr (p->path, ==, "w.bin");
    g_assert_cmpstr (p->object, ==, key);
    g_assert_true (g_str_has_prefix (p->message, want_prefix));
  }
  /* Marked: the model and its layer; not the bystander. Mounts refuse it. */
  {
    g_autofree char *mm = mv_damage_read (f->store->root_dfd, MV_DAMAGE_MODEL, v);
    g_autofree char *ml = mv_damage_read (f->store->root_dfd, MV_DAMAGE_LAYER, lv);
    g_autofree char *mw = mv_damage_read (f->store->root_dfd, MV_DAMAGE_MODEL, w);
    g_autofree char *mlw = mv_damage_read (f->store->root_dfd, MV_DAMAGE_LAYER, lw);
    g_autofree char *want = g_strdup_printf ("file 'w.bin': %s", want_prefix);
    g_autofree char *p1 = NULL, *p2 = NULL;
    g_assert_nonnull (mm);
    g_assert_true (g_str_has_prefix (mm, want));
    g_assert_nonnull (ml);
    g_assert_null (mw);
    g_assert_null (mlw);
    g_assert_false (mv_store_checkout_intact (f->store, v, VICTIM_NAME, &p1, NULL, &error));
    g_assert_error (error, MV_ERROR, MV_ERROR_CORRUPTED);
    g_assert_null (p1);
    g_clear_error (&error);
    g_assert_true (mv_store_checkout_intact (f->store, w, NULL, &p2, NULL, &error));
    g_assert_no_error (error);
  }

  /* Put right (bytes, mode and mtime): the next fsck unmarks it. */
  {
    int fd = open (path, O_WRONLY | O_TRUNC | O_CLOEXEC);
    struct timespec times[2] = { st.st_atim, st.st_mtim };
    g_assert_cmpint (fd, >=, 0);
    g_assert_cmpint (write (fd, VICTIM_TEXT, strlen (VICTIM_TEXT)), ==, strlen (VICTIM_TEXT));
    g_assert_cmpint (fchmod (fd, st.st_mode & 07777), ==, 0);
    g_assert_cmpint (futimens (fd, times), ==, 0);
    close (fd);
  }
  g_clear_pointer (&problems, g_ptr_array_unref);
  assert_fsck_clean (f);
  {
    g_autofree char *ml = mv_damage_read (f->store->root_dfd, MV_DAMAGE_LAYER, lv);
    g_autofree char *p1 = NULL;
    g_assert_null (ml);
    g_assert_true (mv_store_checkout_intact (f->store, v, VICTIM_NAME, &p1, NULL, &error));
    g_assert_no_error (error);
    g_assert_cmpstr (p1, ==, checkout);
  }
}

/* A missing object, and a stale checkout (a file replaced by a copy). */
static void
test_fsck_missing (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *lv = import_raw (f->store, "w.bin", VICTIM_TEXT);
  g_autofree char *v = commit_model (f->store, "{\"m\":\"victim\"}", lv, NULL);
  g_autofree char *csum = only_file_object (f->store, v);
  g_autofree char *path = object_file (f->store, csum);
  g_autofree char *checkout = NULL;
  g_autofree char *want = g_strdup_printf ("object %s is missing", csum);
  g_autoptr (GPtrArray) problems = NULL;

  g_assert_true (mv_store_checkout_digest (f->store, v, &checkout, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (unlink (path), ==, 0);
  g_assert_true (mv_store_fsck (f->store, &problems, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (problems->len, ==, 1);
  g_assert_cmpstr (((MvFsckProblem *)problems->pdata[0])->message, ==, want);
  g_assert_cmpstr (((MvFsckProblem *)problems->pdata[0])->path, ==, "w.bin");
  g_assert_cmpuint (g_strv_length (((MvFsckProblem *)problems->pdata[0])->names), ==, 0);

  /* The object back (a hardlink of the checkout's copy): intact. */
  {
    g_autofree char *in_checkout = g_build_filename (checkout, "w.bin", NULL);
    g_assert_cmpint (link (in_checkout, path), ==, 0);
  }
  g_clear_pointer (&problems, g_ptr_array_unref);
  assert_fsck_clean (f);

  /* The checkout's file a copy, not the object: a stale checkout. */
  {
    g_autofree char *in_checkout = g_build_filename (checkout, "w.bin", NULL);
    g_assert_cmpint (unlink (in_checkout), ==, 0);
    g_assert_true (g_file_set_contents (in_checkout, VICTIM_TEXT, -1, NULL));
  }
  g_assert_true (mv_store_fsck (f->store, &problems, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (problems->len, ==, 1);
  g_assert_cmpstr (((MvFsckProblem *)problems->pdata[0])->message, ==,
                   "the model's checkout holds another copy (a stale checkout)");
  {
    g_autofree char *mm = mv_damage_read (f->store->root_dfd, MV_DAMAGE_MODEL, v);
    g_assert_nonnull (mm);
  }
}

static void
test_fsck_clean (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) problems = NULL;
  const MvTestTarEntry e[] = { { "d", AE_IFDIR, NULL },
                               { "d/x", AE_IFREG, "x" },
                               { "empty", AE_IFREG, "" },
                               { "link", AE_IFLNK, "d/x" },
                               { NULL } };
  g_autofree char *l = import_tar (f->store, e);
  g_autofree char *m = NULL;
  g_autofree char *checkout = NULL;

  /* An empty store, then one with a model, checked out, and an orphan layer. */
  g_assert_true (mv_store_fsck (f->store, &problems, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (problems->len, ==, 0);
  m = commit_model (f->store, "{}", l, NULL);
  g_assert_true (mv_store_checkout_digest (f->store, m, &checkout, NULL, &error));
  g_assert_no_error (error);
  g_free (import_raw (f->store, "o.bin", "orphan"));
  assert_fsck_clean (f);
  {
    g_autoptr (GPtrArray) marked = mv_damage_list (f->store->root_dfd, MV_DAMAGE_LAYER);
    g_assert_cmpuint (marked->len, ==, 0);
  }
}

/* ---------------------------------------------------------------------------------------- */
/* df                                                                                       */

static void
test_df (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *big = g_strnfill (1000, 's');
  g_autofree char *a100 = g_strnfill (100, 'a');
  g_autofree char *b50 = g_strnfill (50, 'b');
  const MvTestTarEntry ea[] = { { "shared.bin", AE_IFREG, big },
                                { "a.bin", AE_IFREG, a100 },
                                { "copy.bin", AE_IFREG, big },
                                { "link", AE_IFLNK, "a.bin" },
                                { NULL } };
  const MvTestTarEntry eb[]
      = { { "shared.bin", AE_IFREG, big }, { "b.bin", AE_IFREG, b50 }, { NULL } };
  g_autoptr (GPtrArray) models = NULL;
  MvDfStats stats, plain;
  g_autofree char *la = NULL, *lb = NULL, *a = NULL, *b = NULL;

  /* Empty store: all zero. */
  g_assert_true (mv_store_df (f->store, &stats, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (stats.n_models, ==, 0);
  g_assert_cmpuint (stats.n_layers, ==, 0);
  g_assert_cmpuint (stats.logical_bytes, ==, 0);
  g_assert_cmpuint (stats.stored_bytes, ==, 0);

  la = import_tar (f->store, ea);
  lb = import_tar (f->store, eb);
  a = commit_model (f->store, "{\"m\":\"a\"}", la, NULL);
  b = commit_model (f->store, "{\"m\":\"b\"}", lb, NULL);
  set_name (f->store, "example.com/a:2", a);
  set_name (f->store, "example.com/a:1", a);

  g_assert_true (mv_store_df_models (f->store, &stats, &models, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (stats.n_models, ==, 2);
  g_assert_cmpuint (stats.n_layers, ==, 2);
  g_assert_cmpuint (stats.logical_bytes, ==, 2100 + 1050);
  g_assert_cmpuint (stats.stored_bytes, ==, 1000 + 100 + 50);
  g_assert_cmpuint (stats.disk_bytes, >, 0);
  g_assert_cmpuint (models->len, ==, 2);
  {
    MvDfModel *ma = models->pdata[0], *mb = models->pdata[1]; /* largest first */
    g_assert_cmpstr (ma->digest, ==, a);
    g_assert_cmpuint (g_strv_length (ma->names), ==, 2);
    g_assert_cmpstr (ma->names[0], ==, "example.com/a:1");
    g_assert_cmpstr (ma->names[1], ==, "example.com/a:2");
    g_assert_cmpuint (ma->n_files, ==, 4);
    g_assert_cmpuint (ma->logical_bytes, ==, 2100); /* the copy counts at each path */
    g_assert_cmpuint (ma->shared_bytes, ==, 2000);
    g_assert_cmpuint (ma->unique_bytes, ==, 100);
    g_assert_cmpstr (mb->digest, ==, b);
    g_assert_cmpuint (g_strv_length (mb->names), ==, 0);
    g_assert_cmpuint (mb->n_files, ==, 2);
    g_assert_cmpuint (mb->logical_bytes, ==, 1050);
    g_assert_cmpuint (mb->shared_bytes, ==, 1000);
    g_assert_cmpuint (mb->unique_bytes, ==, 50);
  }
  /* The figures agree with the model info, and mv_store_df() with the per-model pass. */
  {
    g_autoptr (MvModelInfo) info = mv_store_get_model_by_digest (f->store, a, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (info->logical_bytes, ==, 2100);
  }
  g_assert_true (mv_store_df (f->store, &plain, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (plain.n_models, ==, stats.n_models);
  g_assert_cmpuint (plain.logical_bytes, ==, stats.logical_bytes);
  g_assert_cmpuint (plain.stored_bytes, ==, stats.stored_bytes);

  /* b gone: what was shared is a's alone. */
  g_assert_true (mv_store_remove_model (f->store, b, NULL, &error));
  g_assert_no_error (error);
  g_clear_pointer (&models, g_ptr_array_unref);
  g_assert_true (mv_store_df_models (f->store, &stats, &models, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (stats.n_models, ==, 1);
  g_assert_cmpuint (stats.n_layers, ==, 2); /* b's layer until prune */
  g_assert_cmpuint (stats.logical_bytes, ==, 2100);
  g_assert_cmpuint (stats.stored_bytes, ==, 1100);
  g_assert_cmpuint (((MvDfModel *)models->pdata[0])->shared_bytes, ==, 0);
  g_assert_cmpuint (((MvDfModel *)models->pdata[0])->unique_bytes, ==, 2100);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, data, fn) g_test_add (path, Fixture, data, fixture_setup, fn, fixture_teardown)
  ADD ("/gc/prune", NULL, test_prune);
  ADD ("/gc/prune-shared", NULL, test_prune_shared);
  ADD ("/gc/rm", NULL, test_rm);
  ADD ("/gc/fsck/clean", NULL, test_fsck_clean);
  ADD ("/gc/fsck/flipped-byte", GINT_TO_POINTER (DAMAGE_FLIP), test_fsck);
  ADD ("/gc/fsck/chmod", GINT_TO_POINTER (DAMAGE_CHMOD), test_fsck);
  ADD ("/gc/fsck/truncated", GINT_TO_POINTER (DAMAGE_TRUNCATE), test_fsck);
  ADD ("/gc/fsck/missing-and-stale", NULL, test_fsck_missing);
  ADD ("/gc/df", NULL, test_df);
#undef ADD
  return g_test_run ();
}
