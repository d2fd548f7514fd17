/* modelvol cdi generate [--output DIR] [--mount-dir DIR]
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdio.h>

#include "mv-builtins.h"

MV_BUILTIN (cdi)
{
  g_autoptr (GOptionContext) context = g_option_context_new ("generate");
  g_autoptr (MvStore) store = NULL;
  g_autofree char *output = NULL;
  g_autofree char *mount_dir = NULL;
  g_auto (GStrv) devices = NULL;
  GOptionEntry entries[] = {
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output,
      "Directory to write modelvol.io-model.json into (default /var/run/cdi)", "DIR" },
    { "mount-dir", 0, 0, G_OPTION_ARG_FILENAME, &mount_dir,
      "Where models appear in containers (default /models)", "DIR" },
    { NULL },
  };

  g_option_context_set_summary (
      context, "Write a CDI spec (kind modelvol.io/model) with one device per model name, for "
               "runtimes that mount devices themselves: podman --device modelvol.io/model=NAME.");
  store = mv_option_context_parse (context, entries, &argc, &argv, cancellable, error);
  if (store == NULL)
    return FALSE;
  if (argc != 2 || !g_str_equal (argv[1], "generate"))
    return mv_usage_error (context, error, "cdi takes the subcommand 'generate'");
  if (!mv_store_write_cdi_spec (store, output, mount_dir, &devices, cancellable, error))
    return FALSE;
  if (mv_globals.json)
    {
      g_autoptr (JsonBuilder) b = json_builder_new ();
      g_autoptr (JsonNode) root = NULL;
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "kind");
      json_builder_add_string_value (b, "modelvol.io/model");
      mv_json_add_strv (b, "devices", devices);
      json_builder_end_object (b);
      root = json_builder_get_root (b);
      mv_print_json (root);
    }
  else if (!mv_globals.quiet)
    for (guint i = 0; devices[i]; i++)
      printf ("modelvol.io/model=%s\n", devices[i]);
  return TRUE;
}
