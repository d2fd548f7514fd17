/* Unit tests of storage/: objects, layer commits, model merges, refs, paths on disk.
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <gio/gunixinputstream.h>
#include <ostree.h>
#include <string.h>
#include <sys/stat.h>

#include "mv-digest-private.h"
#include "mv-fdio-private.h"
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
  f->store = mvtest_store_new ("mv-test-store-XXXXXX", &f->dir);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  mvtest_store_free (f->store, f->dir);
}

/* Checks every object of a stored layer with libostree and with our own re-hash of the file
 * (its content checksum equals the name we gave it). Returns: the number of file objects */
static guint
check_layer_objects (MvStore *store, const char *digest)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GHashTable) reachable = ostree_repo_traverse_new_reachable ();
  g_autofree char *ref = mv_layer_ref (digest);
  g_autofree char *rev = NULL;
  GHashTableIter it;
  gpointer k;
  guint n_files = 0;

  g_assert_true (mv_store_has_layer (store, digest));
  rev = mv_store_resolve_ref (store, ref, &error);
  g_assert_no_error (error);
  g_assert_nonnull (rev);
  g_assert_true (ostree_repo_traverse_commit_union (store->repo, rev, 0, reachable, NULL, &error));
  g_hash_table_iter_init (&it, reachable);
  while (g_hash_table_iter_next (&it, &k, NULL))
    {
      const char *csum;
      OstreeObjectType type;
      ostree_object_name_deserialize (k, &csum, &type);
      g_assert_true (ostree_repo_fsck_object (store->repo, type, csum, NULL, &error));
      g_assert_no_error (error);
      if (type == OSTREE_OBJECT_TYPE_FILE)
        {
          n_files++;
          g_assert_true (mv_store_verify_file_object (store, csum, NULL, &error));
          g_assert_no_error (error);
        }
    }
  return n_files;
}

/* Every object we write ourselves must be one libostree accepts as is: its GLib checksum of
 * the stored file equals the name we gave it. */
static void
test_objects_match_ostree (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  const MvTestTarEntry entries[] = {
    { "./", AE_IFDIR, NULL, 0755 },
    { "./a.txt", AE_IFREG, "hello\n", 0644 },
    { "./bin/run.sh", AE_IFREG, "#!/bin/sh\necho hi\n", 04755 },
    { "./bin/link", AE_IFLNK, "run.sh", 0777 },
    { "./empty", AE_IFREG, "", 0600 },
    { NULL },
  };
  g_autoptr (GBytes) tar = mvtest_make_tar (entries, TRUE);
  g_autofree char *digest = NULL;

  g_assert_true (
      mvtest_import_bytes (f->store, tar, MV_LAYER_FORMAT_TAR_GZIP, NULL, 0, &digest, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (check_layer_objects (f->store, digest), ==, 4); /* a.txt, run.sh, link, empty */

  /* Modes are canonical: the setuid script is 0755, the 0600 file is 0644. */
  {
    MvModelSpec spec = { 0 };
    const char *layers[] = { digest, NULL };
    g_autoptr (GBytes) manifest = g_bytes_new_static ("{}", 2);
    g_autofree char *mdigest = mv_digest_bytes ("{}", 2);
    g_autofree char *path = NULL;
    struct stat st;
    spec.digest = mdigest;
    spec.manifest = manifest;
    spec.config = manifest;
    spec.layer_digests = layers;
    spec.n_layers = 1;
    g_assert_true (mv_store_commit_model (f->store, &spec, NULL, &error));
    g_assert_no_error (error);
    g_assert_true (mv_store_checkout_digest (f->store, mdigest, &path, NULL, &error));
    g_assert_no_error (error);
    g_autofree char *run = g_build_filename (path, "bin", "run.sh", NULL);
    g_autofree char *empty = g_build_filename (path, "empty", NULL);
    g_autofree char *bin = g_build_filename (path, "bin", NULL);
    g_assert_cmpint (lstat (run, &st), ==, 0);
    g_assert_cmpint (st.st_mode & 07777, ==, 0755);
    g_assert_cmpint (lstat (empty, &st), ==, 0);
    g_assert_cmpint (st.st_mode & 07777, ==, 0644);
    g_assert_cmpint (st.st_size, ==, 0);
    g_assert_cmpint (lstat (bin, &st), ==, 0);
    g_assert_cmpint (st.st_mode & 07777, ==, 0755);
  }
}

static void
expect_layer_fails (Fixture *f, const MvTestTarEntry *entries, int code, const char *fragment)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) tar = mvtest_make_tar (entries, FALSE);
  g_autofree char *tmp = g_build_filename (mv_store_get_root (f->store), "tmp", NULL);
  guint before = mvtest_count_objects (f->store, ".file");

  g_assert_false (mvtest_import_bytes (f->store, tar, MV_LAYER_FORMAT_TAR, NULL, 0, NULL, &error));
  g_assert_error (error, MV_ERROR, code);
  if (strstr (error->message, fragment) == NULL)
    g_error ("message '%s' lacks '%s'", error->message, fragment);
  g_assert_cmpuint (mvtest_count_objects (f->store, ".file"), ==, before);
  g_assert_cmpuint (mvtest_count_entries (tmp), ==, 0);
  g_clear_error (&error);
  {
    g_autoptr (GHashTable) layers = mv_store_list_prefix (f->store, MV_REF_LAYER_PREFIX, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (g_hash_table_size (layers), ==, 0);
  }
}

static void
test_bad_layers (Fixture *f, gconstpointer data)
{
  {
    const MvTestTarEntry e[] = { { "../x", AE_IFREG, "x" }, { NULL } };
    expect_layer_fails (f, e, MV_ERROR_UNSAFE_PATH, "../x");
  }
  {
    const MvTestTarEntry e[] = { { "/abs", AE_IFREG, "x" }, { NULL } };
    expect_layer_fails (f, e, MV_ERROR_UNSAFE_PATH, "/abs");
  }
  {
    const MvTestTarEntry e[] = { { "l", AE_IFLNK, "/etc" }, { NULL } };
    expect_layer_fails (f, e, MV_ERROR_UNSAFE_PATH, "'l'");
  }
  {
    /* symlink-then-write */
    const MvTestTarEntry e[] = {
      { "d", AE_IFDIR, NULL, 0755 }, { "l", AE_IFLNK, "d" }, { "l/f", AE_IFREG, "x" }, { NULL }
    };
    expect_layer_fails (f, e, MV_ERROR_UNSAFE_PATH, "l/f");
  }
  {
    const MvTestTarEntry e[] = { { "a", AE_IFREG, "x" }, { "b", 1, "a" }, { NULL } };
    expect_layer_fails (f, e, MV_ERROR_UNSAFE_PATH, "hardlink");
  }
  {
    const MvTestTarEntry e[] = { { "dev", AE_IFCHR, NULL }, { NULL } };
    expect_layer_fails (f, e, MV_ERROR_UNSAFE_PATH, "character device");
  }
  {
    const MvTestTarEntry e[] = { { "a", AE_IFREG, "x" }, { "a", AE_IFREG, "y" }, { NULL } };
    expect_layer_fails (f, e, MV_ERROR_UNSAFE_PATH, "more than once");
  }
  {
    const MvTestTarEntry e[] = { { "a", AE_IFREG, "x" }, { "a/b", AE_IFREG, "y" }, { NULL } };
    expect_layer_fails (f, e, MV_ERROR_UNSAFE_PATH, "not a directory");
  }
}

static void
test_digest_mismatch (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) blob = g_bytes_new_static ("weights", 7);
  g_autofree char *wrong = mv_digest_bytes ("other", 5);
  g_autoptr (GInputStream) in = g_memory_input_stream_new_from_bytes (blob);
  MvLayerSpec spec = {
    .digest = wrong, .size = 7, .format = MV_LAYER_FORMAT_RAW, .filepath = "w.bin", .mode = 0644
  };

  g_assert_false (mv_store_import_layer (f->store, &spec, in, NULL, &error));
  g_assert_error (error, MV_ERROR, MV_ERROR_DIGEST_MISMATCH);
  g_assert_cmpuint (mvtest_count_objects (f->store, ".file"), ==, 0);
  g_assert_false (mv_store_has_layer (f->store, wrong));

  /* More bytes than the descriptor says: stopped at size + 1. */
  g_clear_error (&error);
  {
    g_autofree char *right = mv_digest_bytes ("weights", 7);
    g_autoptr (GInputStream) in2 = g_memory_input_stream_new_from_bytes (blob);
    MvLayerSpec s2 = {
      .digest = right, .size = 6, .format = MV_LAYER_FORMAT_RAW, .filepath = "w.bin", .mode = 0644
    };
    g_assert_false (mv_store_import_layer (f->store, &s2, in2, NULL, &error));
    g_assert_error (error, MV_ERROR, MV_ERROR_DIGEST_MISMATCH);
    g_assert_cmpuint (mvtest_count_objects (f->store, ".file"), ==, 0);
  }
}

/* @len pseudo-random letters (so mvtest_make_tar can take them as a string). */
static char *
random_text (gsize len, guint32 seed)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (seed);
  char *text = g_malloc (len + 1);

  for (gsize i = 0; i < len; i++)
    text[i] = 'a' + g_rand_int_range (rand, 0, 26);
  text[len] = '\0';
  return text;
}

static gboolean
import_file (MvStore *store, const char *path, const char *digest, gint64 size, GError **error)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  g_autoptr (GInputStream) in = NULL;
  MvLayerSpec spec = {
    .digest = digest, .size = size, .format = MV_LAYER_FORMAT_RAW, .filepath = "w.bin", .mode = 0644
  };

  g_assert_cmpint (fd, >=, 0);
  in = g_unix_input_stream_new (fd, TRUE);
  return mv_store_import_layer (store, &spec, in, NULL, error);
}

/* A raw layer from a local file, by each way of reading it (@data: copy_file_range, sendfile,
 * or none: read into chunks): the size + 1 cap and the digest hold, nothing is left behind on
 * a mismatch, and the object holds exactly the blob. Several copy steps, a tail that is not a
 * whole page, more than the size at which hashing moves to a thread. */
static void
test_raw_from_file (Fixture *f, gconstpointer data)
{
  gsize len = 9 * 1024 * 1024 + 12345;
  g_autofree char *text = random_text (len, 7);
  g_autofree char *digest = mv_digest_bytes (text, len);
  g_autofree char *wrong = mv_digest_bytes (text, len - 1);
  g_autofree char *path = g_build_filename (f->dir, "blob", NULL);
  g_autoptr (GError) error = NULL;

  g_setenv ("MODELVOL_TEST_KERNEL_COPY", data, TRUE);
  g_assert_true (g_file_set_contents (path, text, len, &error));

  g_assert_false (import_file (f->store, path, wrong, len, &error));
  g_assert_error (error, MV_ERROR, MV_ERROR_DIGEST_MISMATCH);
  g_clear_error (&error);
  g_assert_false (import_file (f->store, path, digest, len - 1, &error));
  g_assert_error (error, MV_ERROR, MV_ERROR_DIGEST_MISMATCH);
  g_assert_nonnull (strstr (error->message, "larger than its declared size"));
  g_clear_error (&error);
  g_assert_false (import_file (f->store, path, digest, len + 1, &error));
  g_assert_error (error, MV_ERROR, MV_ERROR_DIGEST_MISMATCH);
  g_clear_error (&error);
  g_assert_cmpuint (mvtest_count_objects (f->store, ".file"), ==, 0);
  g_assert_false (mv_store_has_layer (f->store, digest));

  g_assert_true (import_file (f->store, path, digest, len, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (check_layer_objects (f->store, digest), ==, 1);
  {
    g_autoptr (GHashTable) reachable = ostree_repo_traverse_new_reachable ();
    g_autofree char *ref = mv_layer_ref (digest);
    g_autofree char *rev = mv_store_resolve_ref (f->store, ref, &error);
    GHashTableIter it;
    gpointer k;
    g_assert_true (
        ostree_repo_traverse_commit_union (f->store->repo, rev, 0, reachable, NULL, &error));
    g_hash_table_iter_init (&it, reachable);
    while (g_hash_table_iter_next (&it, &k, NULL))
      {
        const char *csum;
        OstreeObjectType type;
        g_autoptr (GInputStream) in = NULL;
        g_autofree char *stored = g_malloc (len + 1);
        gsize n = 0;
        ostree_object_name_deserialize (k, &csum, &type);
        if (type != OSTREE_OBJECT_TYPE_FILE)
          continue;
        g_assert_true (ostree_repo_load_file (f->store->repo, csum, &in, NULL, NULL, NULL, &error));
        g_assert_no_error (error);
        g_assert_true (g_input_stream_read_all (in, stored, len + 1, &n, NULL, &error));
        g_assert_cmpmem (stored, n, text, len);
      }
  }
  g_unsetenv ("MODELVOL_TEST_KERNEL_COPY");
}

/* A plain tar with files that start, end and span read-chunk boundaries, next to tiny ones:
 * each object and the blob digest right. */
static void
test_plain_tar_chunks (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *a = random_text (300000, 1);
  g_autofree char *b = random_text (262144, 2);
  g_autofree char *c = random_text (700001, 3);
  g_autofree char *d = random_text (5, 4);
  const MvTestTarEntry entries[] = {
    { "x", AE_IFREG, "1" },
    { "a", AE_IFREG, a },
    { "b", AE_IFREG, b },
    { "dir", AE_IFDIR, NULL },
    { "dir/c", AE_IFREG, c },
    { "d", AE_IFREG, d },
    { NULL },
  };
  g_autoptr (GBytes) tar = mvtest_make_tar (entries, FALSE);
  g_autofree char *digest = NULL;

  g_assert_true (
      mvtest_import_bytes (f->store, tar, MV_LAYER_FORMAT_TAR, NULL, 0, &digest, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (check_layer_objects (f->store, digest), ==, 5);
}

static void
test_merge (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  const MvTestTarEntry e1[] = { { "dir/a", AE_IFREG, "A" }, { "same", AE_IFREG, "S" }, { NULL } };
  const MvTestTarEntry e2[] = { { "dir/b", AE_IFREG, "B" }, { "same", AE_IFREG, "S" }, { NULL } };
  const MvTestTarEntry e3[] = { { "dir/a", AE_IFREG, "different" }, { NULL } };
  g_autoptr (GBytes) t1 = mvtest_make_tar (e1, FALSE);
  g_autoptr (GBytes) t2 = mvtest_make_tar (e2, FALSE);
  g_autoptr (GBytes) t3 = mvtest_make_tar (e3, FALSE);
  g_autoptr (GBytes) raw = g_bytes_new_static ("W", 1);
  g_autofree char *d1 = NULL, *d2 = NULL, *d3 = NULL, *d4 = NULL;
  g_autoptr (GBytes) manifest = g_bytes_new_static ("{\"m\":1}", 7);
  g_autofree char *mdigest = mv_digest_bytes ("{\"m\":1}", 7);
  g_autofree char *bad_digest = mv_digest_bytes ("{\"m\":2}", 7);
  g_autoptr (MvModelInfo) info = NULL;

  g_assert_true (mvtest_import_bytes (f->store, t1, MV_LAYER_FORMAT_TAR, NULL, 0, &d1, &error));
  g_assert_true (mvtest_import_bytes (f->store, t2, MV_LAYER_FORMAT_TAR, NULL, 0, &d2, &error));
  g_assert_true (mvtest_import_bytes (f->store, t3, MV_LAYER_FORMAT_TAR, NULL, 0, &d3, &error));
  g_assert_true (
      mvtest_import_bytes (f->store, raw, MV_LAYER_FORMAT_RAW, "dir/w.bin", 0755, &d4, &error));
  g_assert_no_error (error);

  {
    const char *layers[] = { d1, d2, d4 };
    MvModelSpec spec = { .digest = mdigest,
                         .manifest = manifest,
                         .config = manifest,
                         .artifact_type = "application/vnd.cncf.model.manifest.v1+json",
                         .layer_digests = layers,
                         .n_layers = 3 };
    g_assert_true (mv_store_commit_model (f->store, &spec, NULL, &error));
    g_assert_no_error (error);
  }
  info = mv_store_get_model_by_digest (f->store, mdigest, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (info->n_files, ==, 4); /* dir/a dir/b dir/w.bin same */
  g_assert_cmpuint (info->logical_bytes, ==, 4);
  g_assert_cmpuint (info->n_layers, ==, 3);

  {
    const char *layers[] = { d1, d3 };
    MvModelSpec spec = { .digest = bad_digest,
                         .manifest = manifest,
                         .config = manifest,
                         .layer_digests = layers,
                         .n_layers = 2 };
    g_assert_false (mv_store_commit_model (f->store, &spec, NULL, &error));
    g_assert_error (error, MV_ERROR, MV_ERROR_UNSAFE_PATH);
    g_assert_nonnull (strstr (error->message, "dir/a"));
    g_assert_false (mv_store_has_model (f->store, bad_digest));
  }
}

static void
test_name_refs (void)
{
  const char *names[] = { "docker.io/library/busybox:latest", "localhost:5000/org/m_x:v1.0",
                          "[::1]:5000/a/b@sha256:0123", "quay.io/-weird/.name:_tag", NULL };
  for (guint i = 0; names[i]; i++)
    {
      g_autofree char *ref = mv_name_ref (names[i]);
      g_autoptr (GError) error = NULL;
      g_assert_true (ostree_validate_rev (ref, &error));
      g_assert_no_error (error);
      g_autofree char *back = mv_name_from_ref (ref + strlen (MV_REF_NAME_PREFIX "/"));
      g_assert_cmpstr (back, ==, names[i]);
    }
}

static void
test_chaseat (gconstpointer data)
{
  gboolean fallback = GPOINTER_TO_INT (data);
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("mv-test-chase-XXXXXX", &error);
  mv_autofd int dfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  MvChaseFlags extra = fallback ? MV_CHASE_FORCE_FALLBACK : 0;
  struct stat st_in, st_root;

  g_assert_cmpint (mkdirat (dfd, "sub", 0755), ==, 0);
  g_assert_cmpint (symlinkat ("/", dfd, "toroot"), ==, 0);
  g_assert_cmpint (symlinkat ("../../../..", dfd, "sub/up"), ==, 0);

  /* Beneath: escapes are refused. */
  {
    int fd = mv_chaseat (dfd, "toroot", extra, &error);
    g_assert_cmpint (fd, ==, -1);
    g_assert_nonnull (error);
    g_clear_error (&error);
    fd = mv_chaseat (dfd, "sub/up", extra, &error);
    g_assert_cmpint (fd, ==, -1);
    g_clear_error (&error);
  }
  /* In root: "/" and ".." chains land on the root itself. */
  {
    mv_autofd int fd = mv_chaseat (dfd, "toroot", MV_CHASE_RESOLVE_IN_ROOT | extra, &error);
    g_assert_no_error (error);
    g_assert_cmpint (fstat (fd, &st_in), ==, 0);
    g_assert_cmpint (fstat (dfd, &st_root), ==, 0);
    g_assert_cmpint (st_in.st_ino, ==, st_root.st_ino);
  }
  {
    mv_autofd int fd = mv_chaseat (dfd, "sub/up/sub", MV_CHASE_RESOLVE_IN_ROOT | extra, &error);
    g_assert_no_error (error);
    g_assert_cmpint (fd, >=, 0);
  }
  /* MKDIR creates inside the root, following in-root links. */
  {
    mv_autofd int fd = mv_chaseat (dfd, "toroot/new/deep",
                                   MV_CHASE_RESOLVE_IN_ROOT | MV_CHASE_MKDIR | extra, &error);
    g_assert_no_error (error);
    g_assert_cmpint (fstatat (dfd, "new/deep", &st_in, 0), ==, 0);
  }
  g_assert_true (mv_rm_rf_at (AT_FDCWD, dir, NULL, NULL));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/store/objects-match-ostree", Fixture, NULL, fixture_setup,
              test_objects_match_ostree, fixture_teardown);
  g_test_add ("/store/bad-layers", Fixture, NULL, fixture_setup, test_bad_layers, fixture_teardown);
  g_test_add ("/store/digest-mismatch", Fixture, NULL, fixture_setup, test_digest_mismatch,
              fixture_teardown);
  g_test_add ("/store/merge", Fixture, NULL, fixture_setup, test_merge, fixture_teardown);
  g_test_add ("/store/raw-from-file/copy-file-range", Fixture, "copy_file_range", fixture_setup,
              test_raw_from_file, fixture_teardown);
  g_test_add ("/store/raw-from-file/sendfile", Fixture, "sendfile", fixture_setup,
              test_raw_from_file, fixture_teardown);
  g_test_add ("/store/raw-from-file/read", Fixture, "none", fixture_setup, test_raw_from_file,
              fixture_teardown);
  g_test_add ("/store/plain-tar-chunks", Fixture, NULL, fixture_setup, test_plain_tar_chunks,
              fixture_teardown);
  g_test_add_func ("/store/name-refs", test_name_refs);
  g_test_add_data_func ("/fdio/chaseat/openat2", GINT_TO_POINTER (0), test_chaseat);
  g_test_add_data_func ("/fdio/chaseat/fallback", GINT_TO_POINTER (1), test_chaseat);
  return g_test_run ();
}
