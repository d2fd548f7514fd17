/* Unit tests of storage/mv-uses.c: use records (<run_dir>/uses/<hex>/<user>), their
 * staleness (a container process gone, a host mount no longer mounted), and how they keep a
 * model from rm and prune in a real store. Concurrent writers are other processes (this
 * binary run again with --child), under the store lock as the callers take it.
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mv-digest-private.h"
#include "mv-fdio-private.h"
#include "mv-repo-private.h"
#include "mvtest-store.h"

#define HEX_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HEX_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define DIGEST_A "sha256:" HEX_A
#define DIGEST_B "sha256:" HEX_B

static char *self_exe;

typedef struct
{
  char *dir;
  char *run; /* <dir>/run */
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  f->dir = g_dir_make_tmp ("mv-test-uses-XXXXXX", &error);
  g_assert_no_error (error);
  f->run = g_build_filename (f->dir, "run", NULL);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_assert_true (mv_rm_rf_at (AT_FDCWD, f->dir, NULL, NULL));
  g_free (f->dir);
  g_free (f->run);
}

/* The pid and start time of a process that has exited and been reaped. */
static int
dead_pid (guint64 *out_start)
{
  int fds[2];
  pid_t pid;
  guint64 start = 0;
  int status;

  g_assert_cmpint (pipe (fds), ==, 0);
  pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      guint64 s = mv_process_start_time (getpid ());
      (void)!write (fds[1], &s, sizeof s);
      _exit (0);
    }
  close (fds[1]);
  g_assert_cmpint (read (fds[0], &start, sizeof start), ==, sizeof start);
  close (fds[0]);
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_cmpuint (start, >, 0);
  *out_start = start;
  return pid;
}

static char *
read_record (const char *run, const char *hex, const char *user)
{
  g_autofree char *path = g_build_filename (run, "uses", hex, user, NULL);
  char *contents = NULL;
  if (!g_file_get_contents (path, &contents, NULL, NULL))
    return NULL;
  return contents;
}

static void
test_id_valid (void)
{
  g_autofree char *max = g_strnfill (255, 'a');
  g_autofree char *over = g_strnfill (256, 'a');
  const char *good[] = { "c0ffee", "host-0123", "a.b_c+d-e", "...", ".x", "-", max, NULL };
  const char *bad[] = { "",     ".",    "..",          "a/b", "../x", "/abs", "a b",
                        "a\nb", "a\\b", "caf\xc3\xa9", "a:b", "a*",   over,   NULL };

  for (guint i = 0; good[i]; i++)
    g_assert_true (mv_use_id_is_valid (good[i]));
  for (guint i = 0; bad[i]; i++)
    {
      g_test_message ("bad id '%s'", bad[i]);
      g_assert_false (mv_use_id_is_valid (bad[i]));
    }
}

static void
test_run_dir (void)
{
  g_autofree char *old = g_strdup (g_getenv ("MODELVOL_RUN_DIR"));
  g_autofree char *a = NULL, *b = NULL, *c = NULL, *d = NULL;

  g_unsetenv ("MODELVOL_RUN_DIR");
  a = mv_run_dir_for_root (MV_DEFAULT_ROOT);
  b = mv_run_dir_for_root ("/srv/store");
  g_setenv ("MODELVOL_RUN_DIR", "", TRUE);
  c = mv_run_dir_for_root ("/srv/store");
  g_setenv ("MODELVOL_RUN_DIR", "/run/other", TRUE);
  d = mv_run_dir_for_root (MV_DEFAULT_ROOT);
  g_assert_cmpstr (a, ==, MV_DEFAULT_RUN_DIR);
  g_assert_cmpstr (b, ==, "/srv/store/run");
  g_assert_cmpstr (c, ==, "/srv/store/run");
  g_assert_cmpstr (d, ==, "/run/other");
  if (old != NULL)
    g_setenv ("MODELVOL_RUN_DIR", old, TRUE);
  else
    g_unsetenv ("MODELVOL_RUN_DIR");
}

static void
test_add_list_drop (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *rec = mvtest_own_record (TRUE);
  g_autofree char *hex512 = g_strnfill (128, 'c');
  g_autofree char *digest512 = g_strconcat ("sha512:", hex512, NULL);
  g_autofree char *uses = g_build_filename (f->run, "uses", NULL);
  g_autofree char *got = NULL;
  g_auto (GStrv) list = NULL;
  guint dropped = 99;
  struct stat st;

  /* Nothing yet: no directory is needed to answer. */
  g_assert_false (mv_uses_has (f->run, DIGEST_A, "c1"));
  list = mv_uses_list_of (f->run, "c1");
  g_assert_cmpuint (g_strv_length (list), ==, 0);
  g_clear_pointer (&list, g_strfreev);
  g_assert_null (mv_uses_find (f->run, "c1"));
  g_assert_false (mv_uses_model_in_use (f->run, DIGEST_A));
  g_assert_true (mv_uses_drop (f->run, DIGEST_A, "c1", &error));
  g_assert_true (mv_uses_drop_all_of (f->run, "c1", &dropped, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (dropped, ==, 0);

  g_assert_true (mv_uses_add (f->run, DIGEST_A, "c1", rec, &error));
  g_assert_true (mv_uses_add (f->run, DIGEST_B, "c1", "kind=mount\ntarget=/\n", &error));
  g_assert_true (mv_uses_add (f->run, digest512, "c1", rec, &error));
  g_assert_true (mv_uses_add (f->run, DIGEST_A, "c2", rec, &error));
  g_assert_no_error (error);

  /* The layout: 0700 directories, 0600 records holding exactly what was given. */
  g_assert_cmpint (stat (uses, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 07777, ==, 0700);
  {
    g_autofree char *dir = g_build_filename (uses, HEX_A, NULL);
    g_autofree char *file = g_build_filename (uses, HEX_A, "c1", NULL);
    g_assert_cmpint (stat (dir, &st), ==, 0);
    g_assert_cmpint (st.st_mode & 07777, ==, 0700);
    g_assert_cmpint (stat (file, &st), ==, 0);
    g_assert_true (S_ISREG (st.st_mode));
    g_assert_cmpint (st.st_mode & 07777, ==, 0600);
    g_assert_cmpuint (mvtest_count_entries (dir), ==, 2); /* no temporary files left */
  }
  got = read_record (f->run, HEX_A, "c1");
  g_assert_cmpstr (got, ==, rec);
  g_clear_pointer (&got, g_free);

  g_assert_true (mv_uses_has (f->run, DIGEST_A, "c1"));
  g_assert_true (mv_uses_has (f->run, HEX_A, "c1")); /* the hex alone names it too */
  g_assert_false (mv_uses_has (f->run, DIGEST_B, "c2"));
  list = mv_uses_list_of (f->run, "c1");
  g_assert_cmpuint (g_strv_length (list), ==, 3);
  g_assert_true (g_strv_contains ((const char *const *)list, DIGEST_A));
  g_assert_true (g_strv_contains ((const char *const *)list, DIGEST_B));
  g_assert_true (g_strv_contains ((const char *const *)list, digest512));
  g_clear_pointer (&list, g_strfreev);
  got = mv_uses_find (f->run, "c2");
  g_assert_cmpstr (got, ==, DIGEST_A);
  g_clear_pointer (&got, g_free);
  g_assert_true (mv_uses_model_in_use (f->run, DIGEST_A));
  g_assert_true (mv_uses_model_in_use (f->run, DIGEST_B)); /* "/" is a mount point */

  /* Replacing a record. */
  g_assert_true (mv_uses_add (f->run, DIGEST_A, "c2", "kind=mount\ntarget=/\n", &error));
  g_assert_no_error (error);
  got = read_record (f->run, HEX_A, "c2");
  g_assert_cmpstr (got, ==, "kind=mount\ntarget=/\n");
  g_clear_pointer (&got, g_free);

  /* Dropping one, then the rest of a user's. */
  g_assert_true (mv_uses_drop (f->run, DIGEST_A, "c1", &error));
  g_assert_no_error (error);
  g_assert_false (mv_uses_has (f->run, DIGEST_A, "c1"));
  g_assert_true (mv_uses_has (f->run, DIGEST_A, "c2"));
  g_assert_true (mv_uses_drop (f->run, DIGEST_A, "c1", &error)); /* again: success */
  g_assert_true (mv_uses_drop_all_of (f->run, "c1", &dropped, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (dropped, ==, 2);
  list = mv_uses_list_of (f->run, "c1");
  g_assert_cmpuint (g_strv_length (list), ==, 0);
  g_assert_false (mv_uses_model_in_use (f->run, DIGEST_B));
  g_assert_true (mv_uses_model_in_use (f->run, DIGEST_A)); /* c2's */
  g_assert_true (mv_uses_drop_all_of (f->run, "c2", NULL, &error));
  g_assert_no_error (error);
  g_assert_false (mv_uses_model_in_use (f->run, DIGEST_A));
}

/* User ids from outside (container ids) never leave the per-model directory. */
static void
test_hostile_ids (Fixture *f, gconstpointer data)
{
  const char *bad[] = { "../../escape", "..", ".", "a/b", "/etc/passwd", "", "x\n", NULL };
  g_autofree char *outside = g_build_filename (f->dir, "escape", NULL);
  g_autofree char *uses = g_build_filename (f->run, "uses", NULL);

  for (guint i = 0; bad[i]; i++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *want = g_strdup_printf ("invalid user id '%s'", bad[i]);
      g_auto (GStrv) list = NULL;
      guint dropped = 7;

      g_assert_false (mv_uses_add (f->run, DIGEST_A, bad[i], "kind=mount\ntarget=/\n", &error));
      g_assert_error (error, MV_ERROR, MV_ERROR_FAILED);
      g_assert_cmpstr (error->message, ==, want);
      g_clear_error (&error);
      g_assert_false (mv_uses_drop_all_of (f->run, bad[i], &dropped, &error));
      g_assert_error (error, MV_ERROR, MV_ERROR_FAILED);
      g_assert_cmpuint (dropped, ==, 0);
      list = mv_uses_list_of (f->run, bad[i]);
      g_assert_cmpuint (g_strv_length (list), ==, 0);
    }
  g_assert_false (g_file_test (outside, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (uses, G_FILE_TEST_EXISTS));

  /* A record directory that is a symlink is not followed, and counts as in use. */
  {
    g_autoptr (GError) error = NULL;
    g_autofree char *target = g_build_filename (f->dir, "elsewhere", NULL);
    g_autofree char *link = g_build_filename (uses, HEX_B, NULL);
    g_autofree char *planted = g_build_filename (target, "c1", NULL);
    g_assert_cmpint (g_mkdir_with_parents (target, 0700), ==, 0);
    g_assert_cmpint (g_mkdir_with_parents (uses, 0700), ==, 0);
    g_assert_cmpint (symlink (target, link), ==, 0);
    g_assert_true (g_file_set_contents (planted, "x", 1, NULL));
    g_assert_false (mv_uses_add (f->run, DIGEST_B, "c1", "kind=mount\ntarget=/nope\n", &error));
    g_assert_nonnull (error);
    g_clear_error (&error);
    g_assert_false (mv_uses_drop (f->run, DIGEST_B, "c1", &error));
    g_assert_nonnull (error);
    g_assert_true (g_file_test (planted, G_FILE_TEST_EXISTS));
    g_assert_true (mv_uses_model_in_use (f->run, DIGEST_B));
    g_assert_true (g_file_test (planted, G_FILE_TEST_EXISTS));
  }
}

/* Stale records are reclaimed, live ones kept; what cannot be read or understood is live. */
static void
test_stale (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *live = mvtest_own_record (TRUE);
  guint64 dead_start = 0;
  int dead = dead_pid (&dead_start);
  g_autofree char *gone
      = g_strdup_printf ("kind=container\npid=%d\nstart=%" G_GUINT64_FORMAT "\n", dead, dead_start);
  g_autofree char *reused
      = g_strdup_printf ("kind=container\npid=%d\nstart=%" G_GUINT64_FORMAT "\n", getpid (),
                         mv_process_start_time (getpid ()) + 1);
  g_autofree char *unmounted = g_strdup_printf ("kind=mount\ntarget=%s\n", f->dir);
  g_autofree char *huge = g_strnfill (9000, 'x');
  g_autofree char *injected
      = g_strdup_printf ("kind=mount\ntarget=/nope\nkind=container\npid=%d\nstart=0\n", dead);
  struct
  {
    const char *user;
    const char *record;
    gboolean kept;
  } cases[] = {
    { "live", live, TRUE },
    { "gone", gone, FALSE },
    { "reused", reused, FALSE },
    { "unmounted", unmounted, FALSE },
    { "mounted", "kind=mount\ntarget=/\n", TRUE },
    { "no-newline", "kind=mount\ntarget=/nonexistent", FALSE },
    { "empty", "", TRUE },
    { "unknown-kind", "kind=vm\npid=1\n", TRUE },
    { "no-pid", "kind=container\nstart=5\n", TRUE },
    { "pid-zero", "kind=container\npid=0\nstart=0\n", TRUE },
    { "pid-negative", "kind=container\npid=-5\nstart=0\n", TRUE },
    { "no-target", "kind=mount\n", TRUE },
    { "huge", huge, TRUE },
    { "binary", "\x01\x02\xff kind=mount", TRUE },
    { "newline-target", "kind=mount\ntarget=/nonexistent\nb\n", TRUE },
    { "twice", "kind=mount\ntarget=/nonexistent\ntarget=/nonexistent2\n", TRUE },
    { "injected", injected, TRUE },
  };
  g_autofree char *dir = g_build_filename (f->run, "uses", HEX_A, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_assert_true (mv_uses_add (f->run, DIGEST_A, cases[i].user, cases[i].record, &error));
      g_assert_no_error (error);
    }
  /* A record that is not a regular file (a FIFO would block a reader) or not readable. */
  {
    g_autofree char *fifo = g_build_filename (dir, "fifo", NULL);
    g_autofree char *link = g_build_filename (dir, "link", NULL);
    g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);
    g_assert_cmpint (symlink ("/etc/hostname", link), ==, 0);
  }
  g_assert_true (mv_uses_model_in_use (f->run, DIGEST_A));
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_test_message ("record %s", cases[i].user);
      g_assert_cmpint (mv_uses_has (f->run, DIGEST_A, cases[i].user), ==, cases[i].kept);
    }
  g_assert_true (mv_uses_has (f->run, DIGEST_A, "fifo"));
  g_assert_true (mv_uses_has (f->run, DIGEST_A, "link"));

  /* Only stale ones left: not in use, and all of them gone. */
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    g_assert_true (mv_uses_drop (f->run, DIGEST_A, cases[i].user, &error));
  g_assert_true (mv_uses_drop (f->run, DIGEST_A, "fifo", &error));
  g_assert_true (mv_uses_drop (f->run, DIGEST_A, "link", &error));
  g_assert_true (mv_uses_add (f->run, DIGEST_A, "gone", gone, &error));
  g_assert_true (mv_uses_add (f->run, DIGEST_A, "reused", reused, &error));
  g_assert_no_error (error);
  g_assert_false (mv_uses_model_in_use (f->run, DIGEST_A));
  g_assert_cmpuint (mvtest_count_entries (dir), ==, 0);
}

/* The start time of a process is field 22 of /proc/PID/stat, whatever its name holds. */
static void
test_process_start_time (void)
{
  int fds[2], go[2];
  pid_t pid;
  guint64 before = 0, after = 0, seen;
  int status;

  g_assert_cmpuint (mv_process_start_time (0), ==, 0);
  g_assert_cmpuint (mv_process_start_time (-1), ==, 0);
  g_assert_cmpuint (mv_process_start_time (G_MAXINT), ==, 0);
  g_assert_cmpuint (mv_process_start_time (1), >, 0);
  g_assert_cmpuint (mv_process_start_time (getpid ()), ==, mv_process_start_time (getpid ()));

  g_assert_cmpint (pipe (fds), ==, 0);
  g_assert_cmpint (pipe (go), ==, 0);
  pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      char c;
      close (go[1]);
      close (fds[0]);
      before = mv_process_start_time (getpid ());
      prctl (PR_SET_NAME, (unsigned long)") Z 1 2 (", 0, 0, 0);
      after = mv_process_start_time (getpid ());
      (void)!write (fds[1], &before, sizeof before);
      (void)!write (fds[1], &after, sizeof after);
      (void)!read (go[0], &c, 1);
      _exit (0);
    }
  close (fds[1]);
  close (go[0]);
  g_assert_cmpint (read (fds[0], &before, sizeof before), ==, sizeof before);
  g_assert_cmpint (read (fds[0], &after, sizeof after), ==, sizeof after);
  close (fds[0]);
  seen = mv_process_start_time (pid);
  g_assert_cmpuint (before, >, 0);
  g_assert_cmpuint (after, ==, before);
  g_assert_cmpuint (seen, ==, before);
  close (go[1]);
  /* A zombie (exited, not reaped) no longer uses anything. */
  for (guint i = 0; i < 2000 && mv_process_start_time (pid) != 0; i++)
    g_usleep (1000);
  g_assert_cmpuint (mv_process_start_time (pid), ==, 0);
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_cmpuint (mv_process_start_time (pid), ==, 0);
}

/* Host mount records against real mounts, in a mount namespace of a child's own; targets
 * with a space, a backslash and a newline (escaped in mountinfo). */
static void
test_mount_records (Fixture *f, gconstpointer data)
{
  pid_t pid;
  int status;

  g_assert_true (mv_path_is_mount_point ("/"));
  g_assert_false (mv_path_is_mount_point (f->dir));
  g_assert_false (mv_path_is_mount_point ("relative"));
  if (getuid () != 0)
    {
      g_test_skip ("mounting needs root");
      return;
    }
  pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      const char *names[] = { "plain", "with space", "back\\slash", "new\nline", "tab\there" };
      if (unshare (CLONE_NEWNS) < 0 || mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        _exit (77);
      for (guint i = 0; i < G_N_ELEMENTS (names); i++)
        {
          g_autofree char *target = g_build_filename (f->dir, names[i], NULL);
          g_autofree char *record = g_strdup_printf ("kind=mount\ntarget=%s\n", target);
          g_autofree char *user = g_strdup_printf ("host-%u", i);
          gboolean newline = strchr (names[i], '\n') != NULL;
          if (g_mkdir_with_parents (target, 0700) < 0)
            _exit (10);
          if (mount ("tmpfs", target, "tmpfs", 0, "size=64k") < 0)
            _exit (errno == EPERM ? 77 : 11);
          if (!newline && !mv_path_is_mount_point (target))
            _exit (20 + i);
          if (!mv_uses_add (f->run, DIGEST_A, user, record, NULL))
            _exit (12);
          /* Mounted: kept. */
          if (!mv_uses_model_in_use (f->run, DIGEST_A) || !mv_uses_has (f->run, DIGEST_A, user))
            _exit (30 + i);
          if (umount2 (target, MNT_DETACH) < 0)
            _exit (13);
          /* Unmounted: reclaimed; a target with a newline is never guessed at: kept. */
          if (mv_uses_model_in_use (f->run, DIGEST_A) != newline
              || mv_uses_has (f->run, DIGEST_A, user) != newline)
            _exit (40 + i);
          if (!mv_uses_drop (f->run, DIGEST_A, user, NULL))
            _exit (14);
        }
      _exit (0);
    }
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_true (WIFEXITED (status));
  if (WEXITSTATUS (status) == 77)
    {
      g_test_skip ("no mount namespace or tmpfs mounts here");
      return;
    }
  g_assert_cmpint (WEXITSTATUS (status), ==, 0);
}

/* ---------------------------------------------------------------------------------------- */
/* In a real store                                                                          */

typedef struct
{
  char *dir;
  MvStore *store;
  char *run;
} StoreFixture;

static void
store_setup (StoreFixture *f, gconstpointer data)
{
  g_unsetenv ("MODELVOL_RUN_DIR");
  f->store = mvtest_store_new ("mv-test-uses-store-XXXXXX", &f->dir);
  f->run = g_strdup (mv_store_get_run_dir (f->store));
  {
    g_autofree char *want = g_build_filename (f->dir, "store", "run", NULL);
    g_assert_cmpstr (f->run, ==, want);
  }
}

static void
store_teardown (StoreFixture *f, gconstpointer data)
{
  mvtest_store_free (f->store, f->dir);
  g_free (f->run);
}

/* A one-file model of raw layer @text; returns its digest. */
static char *
make_model (MvStore *store, const char *text, const char *manifest_text)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *ldigest = NULL;
  g_autoptr (GBytes) blob = g_bytes_new (text, strlen (text));
  g_autoptr (GBytes) manifest = g_bytes_new (manifest_text, strlen (manifest_text));
  char *digest = mv_digest_bytes (manifest_text, strlen (manifest_text));
  const char *layers[1];
  MvModelSpec mspec = { .digest = digest,
                        .manifest = manifest,
                        .config = manifest,
                        .layer_digests = layers,
                        .n_layers = 1 };

  g_assert_true (
      mvtest_import_bytes (store, blob, MV_LAYER_FORMAT_RAW, "w.bin", 0644, &ldigest, &error));
  g_assert_no_error (error);
  layers[0] = ldigest;
  g_assert_true (mv_store_commit_model (store, &mspec, NULL, &error));
  g_assert_no_error (error);
  return digest;
}

static void
test_records_keep_models (StoreFixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *used = make_model (f->store, "used weights", "{\"m\":1}");
  g_autofree char *mounted = make_model (f->store, "mounted weights", "{\"m\":2}");
  g_autofree char *idle = make_model (f->store, "idle weights", "{\"m\":3}");
  g_autofree char *rec = mvtest_own_record (TRUE);
  g_autofree char *path = NULL;
  g_autofree char *want = NULL;
  guint64 dead_start;
  int dead = dead_pid (&dead_start);
  g_autofree char *stale
      = g_strdup_printf ("kind=container\npid=%d\nstart=%" G_GUINT64_FORMAT "\n", dead, dead_start);
  MvPruneStats stats = { 0 };

  g_assert_true (mv_store_checkout_digest (f->store, used, &path, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (mv_uses_add (f->run, used, "ctr-1", rec, &error));
  g_assert_true (mv_uses_add (f->run, mounted, "host-1", "kind=mount\ntarget=/\n", &error));
  g_assert_true (mv_uses_add (f->run, idle, "ctr-2", stale, &error));
  g_assert_no_error (error);

  /* rm refuses a used model, names it, and leaves it whole. */
  g_assert_false (mv_store_remove_model (f->store, used, NULL, &error));
  want = g_strdup_printf ("model %s is in use by a container", used);
  g_assert_error (error, MV_ERROR, MV_ERROR_BUSY);
  g_assert_cmpstr (error->message, ==, want);
  g_clear_error (&error);
  g_assert_true (mv_store_has_model (f->store, used));
  g_assert_true (g_file_test (path, G_FILE_TEST_IS_DIR));
  g_assert_false (mv_store_remove_model (f->store, mounted, NULL, &error));
  g_assert_error (error, MV_ERROR, MV_ERROR_BUSY);
  g_clear_error (&error);

  /* prune: the unnamed used ones stay; the stale record is reclaimed and its model goes. */
  g_assert_true (mv_store_prune (f->store, FALSE, &stats, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (stats.models_removed, ==, 1);
  g_assert_cmpuint (stats.layers_removed, ==, 1);
  g_assert_true (mv_store_has_model (f->store, used));
  g_assert_true (mv_store_has_model (f->store, mounted));
  g_assert_false (mv_store_has_model (f->store, idle));
  g_assert_false (mv_uses_has (f->run, idle, "ctr-2"));
  g_assert_true (mv_uses_has (f->run, used, "ctr-1"));
  g_assert_true (g_file_test (path, G_FILE_TEST_IS_DIR));

  /* Once the records go, so do the models. */
  g_assert_true (mv_uses_drop (f->run, used, "ctr-1", &error));
  g_assert_true (
      mv_uses_add (f->run, mounted, "host-1", "kind=mount\ntarget=/nonexistent\n", &error));
  g_assert_no_error (error);
  g_assert_true (mv_store_prune (f->store, FALSE, &stats, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (stats.models_removed, ==, 2);
  g_assert_cmpuint (stats.checkouts_removed, ==, 1);
  g_assert_false (mv_store_has_model (f->store, used));
  g_assert_false (mv_store_has_model (f->store, mounted));
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
}

/* A checkout whose model is gone stays while a container still uses it. */
static void
test_records_keep_checkouts (StoreFixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *digest = make_model (f->store, "weights", "{\"m\":1}");
  g_autofree char *rec = mvtest_own_record (TRUE);
  g_autofree char *path = NULL;
  MvPruneStats stats = { 0 };

  g_assert_true (mv_store_checkout_digest (f->store, digest, &path, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (mv_store_remove_model (f->store, digest, NULL, &error));
  g_assert_no_error (error);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  /* Made again, then used: prune leaves the orphan checkout to its container. */
  {
    g_autofree char *again = make_model (f->store, "weights", "{\"m\":1}");
    g_autofree char *p2 = NULL;
    g_assert_true (mv_store_checkout_digest (f->store, again, &p2, NULL, &error));
    g_assert_no_error (error);
    g_assert_cmpstr (p2, ==, path);
  }
  g_assert_true (mv_uses_add (f->run, digest, "ctr", rec, &error));
  g_assert_no_error (error);
  {
    g_autofree char *ref = mv_model_ref (digest);
    g_assert_true (ostree_repo_set_ref_immediate (f->store->repo, NULL, ref, NULL, NULL, &error));
    g_assert_no_error (error);
  }
  g_assert_true (mv_store_prune (f->store, FALSE, &stats, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (stats.checkouts_removed, ==, 0);
  g_assert_true (g_file_test (path, G_FILE_TEST_IS_DIR));
  g_assert_true (mv_uses_drop (f->run, digest, "ctr", &error));
  g_assert_true (mv_store_prune (f->store, FALSE, &stats, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (stats.checkouts_removed, ==, 1);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
}

/* ---------------------------------------------------------------------------------------- */
/* Concurrent processes                                                                     */

#define CHILD_ROUNDS 60

/* --child ROOT DIGEST USER RECORD: adds and drops its record CHILD_ROUNDS times under the
 * shared lock, as mv-mount.c and the hook do, and leaves it in place.
 * --checker ROOT DIGEST: meanwhile, under the exclusive lock, the model is always in use
 * and rm always refuses it. */
static int
child_main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (MvStore) store = NULL;
  gboolean checker = g_str_equal (argv[1], "--checker");

  if (argc < (checker ? 4 : 6))
    return 2;
  store = mv_store_open (argv[2], MV_STORE_OPEN_NONE, NULL, &error);
  if (store == NULL)
    {
      g_printerr ("%s\n", error->message);
      return 3;
    }
  for (guint i = 0; i < CHILD_ROUNDS; i++)
    {
      g_auto (MvStoreLock) lock = { 0 };
      if (!mv_store_lock_acquire (store, checker, &lock, NULL, &error))
        {
          g_printerr ("%s\n", error->message);
          return 4;
        }
      if (checker)
        {
          if (!mv_uses_model_in_use (mv_store_get_run_dir (store), argv[3]))
            return 5;
          mv_store_lock_clear (&lock);
          if (mv_store_remove_model (store, argv[3], NULL, &error))
            return 6;
          if (!g_error_matches (error, MV_ERROR, MV_ERROR_BUSY))
            {
              g_printerr ("%s\n", error->message);
              return 7;
            }
          g_clear_error (&error);
          continue;
        }
      if (!mv_uses_add (mv_store_get_run_dir (store), argv[3], argv[4], argv[5], &error))
        {
          g_printerr ("%s\n", error->message);
          return 8;
        }
      mv_store_lock_clear (&lock);
      if (i + 1 < CHILD_ROUNDS
          && !mv_uses_drop (mv_store_get_run_dir (store), argv[3], argv[4], &error))
        {
          g_printerr ("%s\n", error->message);
          return 9;
        }
    }
  return 0;
}

static void
test_concurrent (StoreFixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *digest = make_model (f->store, "shared weights", "{\"m\":1}");
  g_autofree char *rec = mvtest_own_record (TRUE);
  const char *root = mv_store_get_root (f->store);
  GPid pids[9];
  guint n = 0, dropped = 0;

  /* The parent's own record: the model is in use throughout. */
  g_assert_true (mv_uses_add (f->run, digest, "parent", rec, &error));
  g_assert_no_error (error);
  for (guint i = 0; i < 8; i++)
    {
      g_autofree char *user = g_strdup_printf ("ctr-%u", i);
      const char *argv[] = { self_exe, "--child", root, digest, user, rec, NULL };
      g_assert_true (g_spawn_async (NULL, (char **)argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL,
                                    NULL, &pids[n++], &error));
      g_assert_no_error (error);
    }
  {
    const char *argv[] = { self_exe, "--checker", root, digest, NULL };
    g_assert_true (g_spawn_async (NULL, (char **)argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL,
                                  &pids[n++], &error));
    g_assert_no_error (error);
  }
  for (guint i = 0; i < n; i++)
    {
      int status;
      g_assert_cmpint (waitpid (pids[i], &status, 0), ==, pids[i]);
      g_assert_true (WIFEXITED (status));
      g_assert_cmpint (WEXITSTATUS (status), ==, 0);
      g_spawn_close_pid (pids[i]);
    }
  for (guint i = 0; i < 8; i++)
    {
      g_autofree char *user = g_strdup_printf ("ctr-%u", i);
      g_autofree char *got = read_record (f->run, digest + 7, user);
      g_assert_true (mv_uses_has (f->run, digest, user));
      g_assert_cmpstr (got, ==, rec);
    }
  {
    g_autofree char *dir = g_build_filename (f->run, "uses", digest + 7, NULL);
    g_assert_cmpuint (mvtest_count_entries (dir), ==, 9); /* no temporary files left behind */
  }
  g_assert_true (mv_store_has_model (f->store, digest));
  for (guint i = 0; i < 8; i++)
    {
      g_autofree char *user = g_strdup_printf ("ctr-%u", i);
      guint d = 0;
      g_assert_true (mv_uses_drop_all_of (f->run, user, &d, &error));
      dropped += d;
    }
  g_assert_cmpuint (dropped, ==, 8);
  g_assert_true (mv_uses_drop (f->run, digest, "parent", &error));
  g_assert_false (mv_uses_model_in_use (f->run, digest));
  g_assert_true (mv_store_remove_model (f->store, digest, NULL, &error));
  g_assert_no_error (error);
}

int
main (int argc, char **argv)
{
  if (argc > 1 && (g_str_equal (argv[1], "--child") || g_str_equal (argv[1], "--checker")))
    return child_main (argc, argv);
  g_test_init (&argc, &argv, NULL);
  self_exe = g_file_read_link ("/proc/self/exe", NULL);
  g_assert_nonnull (self_exe);
  g_unsetenv ("MODELVOL_RUN_DIR");
  g_test_add_func ("/uses/id-valid", test_id_valid);
  g_test_add_func ("/uses/run-dir", test_run_dir);
  g_test_add_func ("/uses/process-start-time", test_process_start_time);
  g_test_add ("/uses/add-list-drop", Fixture, NULL, fixture_setup, test_add_list_drop,
              fixture_teardown);
  g_test_add ("/uses/hostile-ids", Fixture, NULL, fixture_setup, test_hostile_ids,
              fixture_teardown);
  g_test_add ("/uses/stale", Fixture, NULL, fixture_setup, test_stale, fixture_teardown);
  g_test_add ("/uses/mount-records", Fixture, NULL, fixture_setup, test_mount_records,
              fixture_teardown);
  g_test_add ("/uses/store/keep-models", StoreFixture, NULL, store_setup, test_records_keep_models,
              store_teardown);
  g_test_add ("/uses/store/keep-checkouts", StoreFixture, NULL, store_setup,
              test_records_keep_checkouts, store_teardown);
  g_test_add ("/uses/store/concurrent", StoreFixture, NULL, store_setup, test_concurrent,
              store_teardown);
  {
    int r = g_test_run ();
    g_free (self_exe);
    return r;
  }
}
