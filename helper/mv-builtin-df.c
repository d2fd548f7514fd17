/* modelvol df
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdio.h>

#include "mv-builtins.h"

MV_BUILTIN (df)
{
  g_autoptr (GOptionContext) context = g_option_context_new ("");
  g_autoptr (MvStore) store = NULL;
  MvDfStats st;
  double ratio;

  g_option_context_set_summary (context,
                                "Show what the models would take stored apart (logical) and "
                                "what they take in the store (stored, on disk).");
  store = mv_option_context_parse (context, NULL, &argc, &argv, cancellable, error);
  if (store == NULL)
    return FALSE;
  if (argc != 1)
    return mv_usage_error (context, error, "df takes no arguments");
  if (!mv_store_df (store, &st, cancellable, error))
    return FALSE;
  ratio = st.stored_bytes ? (double)st.logical_bytes / (double)st.stored_bytes : 1.0;
  if (mv_globals.json)
    {
      g_autoptr (JsonBuilder) b = json_builder_new ();
      g_autoptr (JsonNode) root = NULL;
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "models");
      json_builder_add_int_value (b, st.n_models);
      json_builder_set_member_name (b, "layers");
      json_builder_add_int_value (b, st.n_layers);
      json_builder_set_member_name (b, "logicalBytes");
      json_builder_add_int_value (b, st.logical_bytes);
      json_builder_set_member_name (b, "storedBytes");
      json_builder_add_int_value (b, st.stored_bytes);
      json_builder_set_member_name (b, "diskBytes");
      json_builder_add_int_value (b, st.disk_bytes);
      json_builder_set_member_name (b, "ratio");
      json_builder_add_double_value (b, ratio);
      json_builder_end_object (b);
      root = json_builder_get_root (b);
      mv_print_json (root);
      return TRUE;
    }
  {
    g_autofree char *l = mv_format_bytes (st.logical_bytes);
    g_autofree char *s = mv_format_bytes (st.stored_bytes);
    g_autofree char *d = mv_format_bytes (st.disk_bytes);
    printf ("Models:  %u\nLayers:  %u\nLogical: %s\nStored:  %s\nOn disk: %s\nRatio:   %.2fx\n",
            st.n_models, st.n_layers, l, s, d, ratio);
  }
  return TRUE;
}
