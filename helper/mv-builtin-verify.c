/* modelvol verify [--policy FILE] [--registries-d DIR] [MODEL...]
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdio.h>

#include "mv-builtins.h"

static char *opt_policy;
static char *opt_registries_d;

static const GOptionEntry entries[] = {
  { "policy", 0, 0, G_OPTION_ARG_FILENAME, &opt_policy,
    "Check against this policy, containers-policy.json(5) (default [signatures] policy or "
    "/etc/containers/policy.json): before deploying a new one",
    "FILE" },
  { "registries-d", 0, 0, G_OPTION_ARG_FILENAME, &opt_registries_d,
    "containers-registries.d(5) directory (default [signatures] registries-d)", "DIR" },
  { NULL },
};

/* The names to check: MODEL... as given, or every name in the store. */
static GPtrArray *
names_to_check (MvStore *store, int argc, char **argv, GError **error)
{
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) models = NULL;

  if (argc > 1)
    {
      for (int i = 1; i < argc; i++)
        g_ptr_array_add (names, g_strdup (argv[i]));
      return g_steal_pointer (&names);
    }
  models = mv_store_list_models (store, error);
  if (models == NULL)
    return NULL;
  for (guint i = 0; i < models->len; i++)
    {
      MvModelInfo *m = models->pdata[i];
      for (char **n = m->names; n && *n; n++)
        g_ptr_array_add (names, g_strdup (*n));
    }
  return g_steal_pointer (&names);
}

MV_BUILTIN (verify)
{
  g_autoptr (GOptionContext) context = g_option_context_new ("[MODEL...]");
  g_autoptr (MvStore) store = NULL;
  g_autoptr (GPtrArray) names = NULL;
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (GError) first_error = NULL;

  g_option_context_set_summary (
      context, "Check, offline, that each model's stored signature verdict satisfies the "
               "signature policy in force now (or --policy FILE): what modelvol-hook checks "
               "before it mounts a stored model by annotation. Without MODEL, every name in the "
               "store. A model imported from a layout has no verdict: it satisfies only a "
               "policy that needs no signature for its name.");
  store = mv_option_context_parse (context, entries, &argc, &argv, cancellable, error);
  if (store == NULL)
    return FALSE;
  if (opt_policy != NULL || opt_registries_d != NULL)
    {
      /* The mode does not matter here: verify reports the check either way. */
      if (!mv_store_set_signature_options (store, opt_policy, opt_registries_d,
                                           MV_SIGNATURE_ENFORCE, error))
        return FALSE;
    }
  names = names_to_check (store, argc, argv, error);
  if (names == NULL)
    return FALSE;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "models");
  json_builder_begin_array (b);
  for (guint i = 0; i < names->len; i++)
    {
      const char *name = names->pdata[i];
      g_autoptr (GError) local_error = NULL;
      g_autofree char *shown = mv_sanitize (name);
      gboolean ok = mv_store_check_signature (store, name, NULL, &local_error);

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "name");
      json_builder_add_string_value (b, name);
      json_builder_set_member_name (b, "satisfied");
      json_builder_add_boolean_value (b, ok);
      if (!ok)
        {
          json_builder_set_member_name (b, "error");
          json_builder_add_string_value (b, local_error->message);
        }
      json_builder_end_object (b);
      if (ok)
        {
          if (!mv_globals.json && !mv_globals.quiet)
            printf ("ok %s\n", shown);
          continue;
        }
      /* A policy that cannot be read is the same error for every model: stop at once. */
      if (!g_error_matches (local_error, MV_ERROR, MV_ERROR_SIGNATURE))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
      if (first_error == NULL)
        first_error = g_steal_pointer (&local_error);
      else
        {
          g_autofree char *msg = mv_sanitize (local_error->message);
          fprintf (stderr, "modelvol: %s\n", msg);
        }
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
  if (mv_globals.json)
    {
      g_autoptr (JsonNode) root = json_builder_get_root (b);
      mv_print_json (root);
    }
  if (first_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&first_error));
      return FALSE;
    }
  return TRUE;
}
