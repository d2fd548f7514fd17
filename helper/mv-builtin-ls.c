/* modelvol ls
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdio.h>

#include "mv-builtins.h"

MV_BUILTIN (ls)
{
  g_autoptr (GOptionContext) context = g_option_context_new ("");
  g_autoptr (MvStore) store = NULL;
  g_autoptr (GPtrArray) models = NULL;

  g_option_context_set_summary (context, "List stored models: one row per name.");
  store = mv_option_context_parse (context, NULL, &argc, &argv, cancellable, error);
  if (store == NULL)
    return FALSE;
  if (argc != 1)
    return mv_usage_error (context, error, "ls takes no arguments");
  models = mv_store_list_models (store, error);
  if (models == NULL)
    return FALSE;

  if (mv_globals.json)
    {
      g_autoptr (JsonBuilder) b = json_builder_new ();
      g_autoptr (JsonNode) root = NULL;
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "models");
      json_builder_begin_array (b);
      for (guint i = 0; i < models->len; i++)
        {
          MvModelInfo *m = models->pdata[i];
          json_builder_begin_object (b);
          json_builder_set_member_name (b, "digest");
          json_builder_add_string_value (b, m->digest);
          mv_json_add_strv (b, "names", m->names);
          json_builder_set_member_name (b, "files");
          json_builder_add_int_value (b, m->n_files);
          json_builder_set_member_name (b, "bytes");
          json_builder_add_int_value (b, m->logical_bytes);
          json_builder_set_member_name (b, "layers");
          json_builder_add_int_value (b, m->n_layers);
          json_builder_set_member_name (b, "artifactType");
          json_builder_add_string_value (b, m->artifact_type ? m->artifact_type : "");
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
      json_builder_end_object (b);
      root = json_builder_get_root (b);
      mv_print_json (root);
      return TRUE;
    }

  if (!mv_globals.quiet)
    printf ("%-60s %-12s %10s %8s\n", "NAME", "DIGEST", "SIZE", "FILES");
  for (guint i = 0; i < models->len; i++)
    {
      MvModelInfo *m = models->pdata[i];
      g_autofree char *size = mv_format_bytes (m->logical_bytes);
      g_autofree char *shortd = mv_short_digest (m->digest);
      guint n = g_strv_length (m->names);
      for (guint j = 0; j < MAX (n, 1); j++)
        {
          g_autofree char *name = mv_sanitize (n ? m->names[j] : "<none>");
          if (mv_globals.quiet)
            printf ("%s\n", n ? name : m->digest);
          else
            printf ("%-60s %-12s %10s %8" G_GUINT64_FORMAT "\n", name, shortd, size, m->n_files);
        }
    }
  return TRUE;
}
