/* modelvol pull REF [--name REF] [--tls-verify=BOOL] [--authfile FILE] [--cert-dir DIR]
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdio.h>

#include "mv-builtins.h"
#include "mv-source-private.h"

static char *opt_name;
static char *opt_tls_verify;
static char *opt_authfile;
static char *opt_cert_dir;
static char *opt_registries_conf;
static int opt_jobs;

static const GOptionEntry entries[] = {
  { "name", 0, 0, G_OPTION_ARG_STRING, &opt_name, "Name the model REF instead", "REF" },
  { "tls-verify", 0, 0, G_OPTION_ARG_STRING, &opt_tls_verify,
    "Check TLS certificates and require https (default true)", "BOOL" },
  { "authfile", 0, 0, G_OPTION_ARG_FILENAME, &opt_authfile, "Credentials file (auth.json)",
    "FILE" },
  { "cert-dir", 0, 0, G_OPTION_ARG_FILENAME, &opt_cert_dir,
    "CAs and client certificates (default /etc/containers/certs.d/HOST)", "DIR" },
  { "registries-conf", 0, 0, G_OPTION_ARG_FILENAME, &opt_registries_conf,
    "registries.conf (default $CONTAINERS_REGISTRIES_CONF or /etc/containers/registries.conf; "
    "drop-ins in FILE.d/)",
    "FILE" },
  { "jobs", 'j', 0, G_OPTION_ARG_INT, &opt_jobs,
    "Layers to unpack at once (default $MODELVOL_JOBS or 4)", "N" },
  { NULL },
};

MV_BUILTIN (pull)
{
  g_autoptr (GOptionContext) context = g_option_context_new ("REFERENCE");
  g_autoptr (MvStore) store = NULL;
  g_autofree char *digest = NULL;
  MvRegistryOptions opts = { .tls_verify = TRUE };

  g_option_context_set_summary (context,
                                "Pull a ModelPack model from an OCI registry into the store, name "
                                "it by REFERENCE and print its digest.");
  store = mv_option_context_parse (context, entries, &argc, &argv, cancellable, error);
  if (store == NULL)
    return FALSE;
  if (!mv_option_jobs (context, opt_jobs, error))
    return FALSE;
  if (argc != 2)
    return mv_usage_error (context, error, "pull takes one REFERENCE");
  if (!mv_option_bool (context, "tls-verify", opt_tls_verify, TRUE, &opts.tls_verify, error))
    return FALSE;
  opts.authfile = opt_authfile;
  opts.certs_dir = opt_cert_dir;
  opts.registries_conf = opt_registries_conf;
  {
    gboolean ok;
    mv_progress_begin ();
    ok = mv_pull_with_options (store, argv[1], &opts, opt_name, &digest, cancellable, error);
    mv_progress_end ();
    if (!ok)
      return FALSE;
  }
  printf ("%s\n", digest);
  return TRUE;
}
