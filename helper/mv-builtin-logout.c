/* modelvol logout REGISTRY [--authfile F]
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdio.h>

#include "mv-builtins.h"
#include "mv-source-private.h"

static char *opt_authfile;

static const GOptionEntry entries[] = {
  { "authfile", 0, 0, G_OPTION_ARG_FILENAME, &opt_authfile,
    "Credentials file (default $REGISTRY_AUTH_FILE or /run/containers/UID/auth.json)", "FILE" },
  { NULL },
};

MV_BUILTIN (logout)
{
  g_autoptr (GOptionContext) context = g_option_context_new ("REGISTRY");
  g_autoptr (MvStore) store = NULL;
  g_autofree char *authfile = NULL;
  g_autofree char *key = NULL;

  g_option_context_set_summary (context, "Remove a registry's credentials from auth.json.");
  store = mv_option_context_parse (context, entries, &argc, &argv, cancellable, error);
  if (store == NULL)
    return FALSE;
  if (argc != 2)
    return mv_usage_error (context, error, "logout takes one REGISTRY (host[:port])");
  authfile = opt_authfile ? g_strdup (opt_authfile) : mv_auth_file_default ();
  key = mv_registry_auth_key (argv[1]);
  if (!mv_auth_file_set (authfile, key, NULL, error))
    return FALSE;
  if (!mv_globals.quiet)
    printf ("Removed login credentials for %s\n", key);
  return TRUE;
}
