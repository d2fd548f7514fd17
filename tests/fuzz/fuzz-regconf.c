/* fuzz-regconf: registries.conf (TOML, parsed with toml++ in the one C++ unit) as a main file
 * and a drop-in, then the prefix match the pull does for a few repositories and for every
 * prefix and location of the file itself.
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <string.h>

#include "fuzz-common.h"
#include "mv-regconf-private.h"

static void
match_all (GPtrArray *entries, const char *repository)
{
  const MvRegistryEntry *e = mv_regconf_match (entries, repository);

  if (e != NULL)
    {
      gsize n = strlen (e->prefix);
      g_assert (strncmp (repository, e->prefix, n) == 0);
      g_assert (e->location != NULL && e->mirrors != NULL);
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (GPtrArray) entries
      = g_ptr_array_new_with_free_func ((GDestroyNotify)mv_registry_entry_free);
  static const char *const repositories[] = { "docker.io/library/busybox",
                                              "registry.example.com/org/model",
                                              "localhost:5000/m",
                                              "[::1]:5000/a/b",
                                              "",
                                              "/" };
  g_autoptr (GError) error = NULL;
  guint n;

  mv_fuzz_init ();
  /* Twice: the second time as a drop-in whose entries replace those with the same prefix. */
  if (!mv_regconf_parse_data ((const char *)data, size, "registries.conf", entries, &error))
    {
      g_assert (error != NULL);
      return 0;
    }
  n = entries->len;
  if (!mv_regconf_parse_data ((const char *)data, size, "registries.conf.d/a.conf", entries,
                              &error))
    g_assert_not_reached (); /* what parsed once parses again */
  g_assert (entries->len == n);
  for (guint i = 0; i < G_N_ELEMENTS (repositories); i++)
    match_all (entries, repositories[i]);
  for (guint i = 0; i < n; i++)
    {
      const MvRegistryEntry *e = entries->pdata[i];
      g_autofree char *below = g_strconcat (e->prefix, "/x", NULL);
      match_all (entries, e->prefix);
      match_all (entries, e->location);
      match_all (entries, below);
    }
  return 0;
}
