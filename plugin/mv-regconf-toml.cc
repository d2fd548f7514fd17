// mv-regconf-toml: the one C++ unit: toml++ reads registries.conf into C structs.
// SPDX-License-Identifier: Apache-2.0
#include "config.h"

#include <toml++/toml.h>

#include <string>
#include <string_view>

#include "mv-error-private.h"
#include "mv-regconf-private.h"

static char *
dup_str (const std::string &s)
{
  return g_strndup (s.data (), s.size ());
}

static bool
has_nul (const std::string &s)
{
  return s.find ('\0') != std::string::npos;
}

static bool
get_bool (const toml::table &t, const char *key, bool dflt)
{
  if (auto v = t[key].value<bool> ())
    return *v;
  return dflt;
}

static std::string
get_str (const toml::table &t, const char *key)
{
  if (auto v = t[key].value<std::string> ())
    return *v;
  return std::string ();
}

static gboolean
throw_parse_error (const toml::parse_error &e, const char *path, GError **error)
{
  return mv_throw (error, MV_ERROR_INVALID_MANIFEST, "%s:%u: %s", path,
                   (unsigned)e.source ().begin.line, std::string (e.description ()).c_str ());
}

static gboolean
add_entries (const toml::table &root, const char *path, GPtrArray *entries, GError **error)
{
  const toml::array *regs = root["registry"].as_array ();
  if (regs == nullptr)
    return TRUE;
  for (const toml::node &n : *regs)
    {
      const toml::table *t = n.as_table ();
      if (t == nullptr)
        return mv_throw (error, MV_ERROR_INVALID_MANIFEST, "%s: [[registry]] is not a table", path);
      std::string prefix = get_str (*t, "prefix");
      std::string location = get_str (*t, "location");
      if (prefix.empty ())
        prefix = location;
      if (prefix.empty ())
        return mv_throw (error, MV_ERROR_INVALID_MANIFEST,
                         "%s: a [[registry]] has neither prefix nor location", path);
      /* TOML strings may hold "\u0000"; as C strings they would silently end there. */
      if (has_nul (prefix) || has_nul (location))
        return mv_throw (error, MV_ERROR_INVALID_MANIFEST,
                         "%s: a [[registry]] prefix or location contains a NUL character", path);
      MvRegistryEntry *e = g_new0 (MvRegistryEntry, 1);
      e->prefix = dup_str (prefix);
      e->location = dup_str (location.empty () ? prefix : location);
      e->insecure = get_bool (*t, "insecure", false);
      e->blocked = get_bool (*t, "blocked", false);
      e->mirrors = g_ptr_array_new ();
      if (const toml::array *mirrors = (*t)["mirror"].as_array ())
        for (const toml::node &mn : *mirrors)
          {
            const toml::table *mt = mn.as_table ();
            std::string loc = mt ? get_str (*mt, "location") : std::string ();
            if (loc.empty () || has_nul (loc))
              {
                mv_registry_entry_free (e);
                return mv_throw (error, MV_ERROR_INVALID_MANIFEST,
                                 "%s: a mirror of '%s' has no location (or a NUL in it)", path,
                                 prefix.c_str ());
              }
            MvMirror *m = g_new0 (MvMirror, 1);
            m->location = dup_str (loc);
            m->insecure = get_bool (*mt, "insecure", false);
            g_ptr_array_add (e->mirrors, m);
          }
      for (guint i = 0; i < entries->len; i++)
        if (g_str_equal (((MvRegistryEntry *)entries->pdata[i])->prefix, e->prefix))
          {
            /* Stolen, then freed: @entries has mv_registry_entry_free as its free function
             * (mv_regconf_load), and removing the entry must not free it a second time. */
            mv_registry_entry_free ((MvRegistryEntry *)g_ptr_array_steal_index (entries, i));
            break;
          }
      g_ptr_array_add (entries, e);
    }
  return TRUE;
}

extern "C" gboolean
mv_regconf_parse_file (const char *path, GPtrArray *entries, GError **error)
{
  g_autofree char *text = NULL;
  gsize len = 0;
  g_autoptr (GError) local_error = NULL;

  /* Read here and parsed from memory: toml::parse_file() would bring in iostreams and
   * locales, half a MiB of resident libstdc++ in every pull. */
  if (!g_file_get_contents (path, &text, &len, &local_error))
    {
      if (g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        return TRUE;
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  return mv_regconf_parse_data (text, len, path, entries, error);
}

extern "C" gboolean
mv_regconf_parse_data (const char *data, gsize len, const char *name, GPtrArray *entries,
                       GError **error)
{
  toml::table root;

  try
    {
      root = toml::parse (std::string_view (data, len), std::string_view (name));
    }
  catch (const toml::parse_error &e)
    {
      return throw_parse_error (e, name, error);
    }
  return add_entries (root, name, entries, error);
}
