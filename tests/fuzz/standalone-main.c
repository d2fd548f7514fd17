/* standalone-main: runs a fuzz target's LLVMFuzzerTestOneInput over files and directories of
 * files (a corpus), without libFuzzer: the regression tests of suite 'fuzz-regression'.
 *   fuzz-<target>-regress [--skip-missing] FILE|DIR...
 * Each input is copied into a buffer of exactly its size, so that AddressSanitizer sees a read
 * one byte past the end, as it does under libFuzzer. Fails when no input was found, or with
 * --skip-missing (inputs from an optional package) exits 77, meson's "skipped".
 * SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-common.h"

static void
run_file (const char *path, guint *count)
{
  g_autofree char *contents = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree guint8 *copy = NULL;
  gsize len = 0;

  if (!g_file_get_contents (path, &contents, &len, &error))
    {
      fprintf (stderr, "%s\n", error->message);
      exit (1);
    }
  copy = g_malloc (MAX (len, 1));
  memcpy (copy, contents, len);
  printf ("%s (%zu bytes)\n", path, (size_t)len);
  fflush (stdout);
  (void)LLVMFuzzerTestOneInput (copy, len);
  (*count)++;
}

static int
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *)a, *(const char *const *)b);
}

static void
run_path (const char *path, guint *count)
{
  g_autoptr (GDir) dir = NULL;
  g_autoptr (GPtrArray) names = NULL;
  const char *name;

  if (!g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      run_file (path, count);
      return;
    }
  dir = g_dir_open (path, 0, NULL);
  names = g_ptr_array_new_with_free_func (g_free);
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    g_ptr_array_add (names, g_build_filename (path, name, NULL));
  g_ptr_array_sort (names, compare_names);
  for (guint i = 0; i < names->len; i++)
    run_path (names->pdata[i], count);
}

int
main (int argc, char **argv)
{
  guint count = 0;
  gboolean skip_missing = argc > 1 && g_str_equal (argv[1], "--skip-missing");

  for (int i = skip_missing ? 2 : 1; i < argc; i++)
    if (!skip_missing || g_file_test (argv[i], G_FILE_TEST_EXISTS))
      run_path (argv[i], &count);
  if (count == 0)
    {
      fprintf (stderr, "no inputs found (usage: %s [--skip-missing] FILE|DIR...)\n", argv[0]);
      return skip_missing ? 77 : 1;
    }
  printf ("ok: %u inputs\n", count);
  return 0;
}
