/* modelvol prune [--dry-run]
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdio.h>

#include "mv-builtins.h"

static gboolean opt_dry_run;

static const GOptionEntry entries[] = {
  { "dry-run", 'n', 0, G_OPTION_ARG_NONE, &opt_dry_run, "Only say what would be removed", NULL },
  { NULL },
};

MV_BUILTIN (prune)
{
  g_autoptr (GOptionContext) context = g_option_context_new ("");
  g_autoptr (MvStore) store = NULL;
  g_autofree char *freed = NULL;
  MvPruneStats st;

  g_option_context_set_summary (context,
                                "Remove models with no name and no user, layers no model lists, "
                                "objects nothing reaches and orphan checkouts.");
  store = mv_option_context_parse (context, entries, &argc, &argv, cancellable, error);
  if (store == NULL)
    return FALSE;
  if (argc != 1)
    return mv_usage_error (context, error, "prune takes no arguments");
  if (!mv_store_prune (store, opt_dry_run, &st, cancellable, error))
    return FALSE;
  if (mv_globals.json)
    {
      g_autoptr (JsonBuilder) b = json_builder_new ();
      g_autoptr (JsonNode) root = NULL;
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "dryRun");
      json_builder_add_boolean_value (b, opt_dry_run);
      json_builder_set_member_name (b, "models");
      json_builder_add_int_value (b, st.models_removed);
      json_builder_set_member_name (b, "layers");
      json_builder_add_int_value (b, st.layers_removed);
      json_builder_set_member_name (b, "objects");
      json_builder_add_int_value (b, st.objects_removed);
      json_builder_set_member_name (b, "bytes");
      json_builder_add_int_value (b, st.bytes_freed);
      json_builder_set_member_name (b, "checkouts");
      json_builder_add_int_value (b, st.checkouts_removed);
      json_builder_end_object (b);
      root = json_builder_get_root (b);
      mv_print_json (root);
      return TRUE;
    }
  freed = mv_format_bytes (st.bytes_freed);
  if (!mv_globals.quiet)
    printf ("%s %u models, %u layers, %u objects (%s), %u checkouts\n",
            opt_dry_run ? "Would remove" : "Removed", st.models_removed, st.layers_removed,
            st.objects_removed, freed, st.checkouts_removed);
  return TRUE;
}
