/* mv-regconf: loading and matching registries.conf entries (parsing is in the C++ unit).
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <string.h>

#include "mv-error-private.h"
#include "mv-regconf-private.h"

#define DEFAULT_REGISTRIES_CONF "/etc/containers/registries.conf"

void
mv_registry_entry_free (MvRegistryEntry *e)
{
  if (e == NULL)
    return;
  for (guint i = 0; e->mirrors && i < e->mirrors->len; i++)
    {
      MvMirror *m = e->mirrors->pdata[i];
      g_free (m->location);
      g_free (m);
    }
  g_clear_pointer (&e->mirrors, g_ptr_array_unref);
  g_free (e->prefix);
  g_free (e->location);
  g_free (e);
}

static int
name_cmp (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *)a, *(const char *const *)b);
}

GPtrArray *
mv_regconf_load (const char *path, GError **error)
{
  g_autoptr (GPtrArray) entries
      = g_ptr_array_new_with_free_func ((GDestroyNotify)mv_registry_entry_free);
  g_autofree char *dropins = NULL;
  g_autoptr (GDir) d = NULL;
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *name;

  if (path == NULL)
    path = g_getenv ("CONTAINERS_REGISTRIES_CONF");
  if (path == NULL || *path == '\0')
    path = DEFAULT_REGISTRIES_CONF;
  if (!mv_regconf_parse_file (path, entries, error))
    return NULL;
  dropins = g_strconcat (path, ".d", NULL);
  d = g_dir_open (dropins, 0, NULL);
  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    if (g_str_has_suffix (name, ".conf"))
      g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, name_cmp);
  for (guint i = 0; i < names->len; i++)
    {
      g_autofree char *file = g_build_filename (dropins, names->pdata[i], NULL);
      if (!mv_regconf_parse_file (file, entries, error))
        return NULL;
    }
  return g_steal_pointer (&entries);
}

const MvRegistryEntry *
mv_regconf_match (GPtrArray *entries, const char *repository)
{
  const MvRegistryEntry *best = NULL;
  gsize best_len = 0;

  for (guint i = 0; entries && i < entries->len; i++)
    {
      const MvRegistryEntry *e = entries->pdata[i];
      gsize n = strlen (e->prefix);
      if (n == 0 || strncmp (repository, e->prefix, n) != 0)
        continue;
      /* "example.com/foo" matches "example.com/foo" and "example.com/foo/bar", not
       * "example.com/foobar". */
      if (repository[n] != '\0' && repository[n] != '/' && e->prefix[n - 1] != '/')
        continue;
      if (n > best_len)
        {
          best = e;
          best_len = n;
        }
    }
  return best;
}
