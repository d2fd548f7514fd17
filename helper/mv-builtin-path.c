/* modelvol path MODEL
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdio.h>

#include "mv-builtins.h"

MV_BUILTIN (path)
{
  g_autoptr (GOptionContext) context = g_option_context_new ("MODEL");
  g_autoptr (MvStore) store = NULL;
  g_autofree char *path = NULL;

  g_option_context_set_summary (context, "Print the path of the model's shared read-only checkout, "
                                         "creating it if needed. Never write into it.");
  store = mv_option_context_parse (context, NULL, &argc, &argv, cancellable, error);
  if (store == NULL)
    return FALSE;
  if (argc != 2)
    return mv_usage_error (context, error, "path takes one MODEL");
  if (!mv_store_checkout (store, argv[1], &path, cancellable, error))
    return FALSE;
  printf ("%s\n", path);
  return TRUE;
}
