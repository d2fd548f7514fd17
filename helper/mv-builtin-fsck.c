/* modelvol fsck
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdio.h>

#include "mv-builtins.h"

MV_BUILTIN (fsck)
{
  g_autoptr (GOptionContext) context = g_option_context_new ("");
  g_autoptr (MvStore) store = NULL;
  g_autoptr (GPtrArray) problems = NULL;
  g_autoptr (GPtrArray) models = NULL;

  g_option_context_set_summary (context,
                                "Re-hash every object of every model and layer and check the "
                                "checkouts. Exit 1 and one line per damaged object and model if "
                                "anything is wrong; mark those models damaged until a pull or "
                                "import repairs them.");
  store = mv_option_context_parse (context, NULL, &argc, &argv, cancellable, error);
  if (store == NULL)
    return FALSE;
  if (argc != 1)
    return mv_usage_error (context, error, "fsck takes no arguments");
  if (!mv_store_fsck (store, &problems, cancellable, error))
    return FALSE;
  models = mv_store_list_models (store, error);
  if (models == NULL)
    return FALSE;
  if (mv_globals.json)
    {
      g_autoptr (JsonBuilder) b = json_builder_new ();
      g_autoptr (JsonNode) root = NULL;
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "models");
      json_builder_add_int_value (b, models->len);
      json_builder_set_member_name (b, "problems");
      json_builder_begin_array (b);
      for (guint i = 0; i < problems->len; i++)
        {
          MvFsckProblem *p = problems->pdata[i];
          json_builder_begin_object (b);
          json_builder_set_member_name (b, "model");
          json_builder_add_string_value (b, p->model);
          mv_json_add_strv (b, "names", p->names);
          json_builder_set_member_name (b, "path");
          json_builder_add_string_value (b, p->path ? p->path : "");
          json_builder_set_member_name (b, "object");
          json_builder_add_string_value (b, p->object);
          json_builder_set_member_name (b, "message");
          json_builder_add_string_value (b, p->message);
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
      json_builder_end_object (b);
      root = json_builder_get_root (b);
      mv_print_json (root);
    }
  for (guint i = 0; i < problems->len; i++)
    {
      MvFsckProblem *p = problems->pdata[i];
      g_autofree char *names = g_strjoinv (", ", p->names);
      g_autofree char *shown_names = mv_sanitize (*names ? names : "unnamed");
      g_autofree char *shown_path = p->path ? mv_sanitize (p->path) : NULL;
      g_autofree char *msg = mv_sanitize (p->message);
      fprintf (stderr, "modelvol: model %s (%s): %s%s%s%s\n", shown_names, p->model,
               shown_path ? "file '" : "", shown_path ? shown_path : "", shown_path ? "': " : "",
               msg);
    }
  if (problems->len > 0)
    {
      g_set_error (error, MV_ERROR, MV_ERROR_CORRUPTED,
                   "fsck: %u problems; the models named above are marked damaged (mount and "
                   "the hook refuse them): pull or import them again to repair them",
                   problems->len);
      return FALSE;
    }
  if (!mv_globals.quiet && !mv_globals.json)
    printf ("%u models checked, no problems\n", models->len);
  return TRUE;
}
