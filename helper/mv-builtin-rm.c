/* modelvol rm MODEL...
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdio.h>

#include "mv-builtins.h"

MV_BUILTIN (rm)
{
  g_autoptr (GOptionContext) context = g_option_context_new ("MODEL...");
  g_autoptr (MvStore) store = NULL;
  g_autoptr (GError) first_error = NULL;

  g_option_context_set_summary (context,
                                "Remove names (MODEL is a name) or models with all their names "
                                "(MODEL is a digest). A model left without names stays until "
                                "'modelvol prune', which also reclaims the space.");
  store = mv_option_context_parse (context, NULL, &argc, &argv, cancellable, error);
  if (store == NULL)
    return FALSE;
  if (argc < 2)
    return mv_usage_error (context, error, "rm takes at least one MODEL");
  for (int i = 1; i < argc; i++)
    {
      g_autoptr (GError) local_error = NULL;
      if (!mv_store_remove (store, argv[i], &local_error))
        {
          if (first_error == NULL)
            first_error = g_steal_pointer (&local_error);
          else
            {
              g_autofree char *msg = mv_sanitize (local_error->message);
              fprintf (stderr, "modelvol: %s\n", msg);
            }
          continue;
        }
      if (!mv_globals.quiet)
        {
          g_autofree char *shown = mv_sanitize (argv[i]);
          printf ("removed %s\n", shown);
        }
    }
  if (first_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&first_error));
      return FALSE;
    }
  return TRUE;
}
