/* modelvol pull REF [--name REF] [--tls-verify=BOOL] [--authfile FILE] [--cert-dir DIR] ...
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
/* -1: not given (then the environment or the default) */
static int opt_timeout = -1;
static int opt_low_speed_time = -1;
static int opt_low_speed_limit = -1;

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
  { "timeout", 0, 0, G_OPTION_ARG_INT, &opt_timeout,
    "Deadline of each blob, all retries included; 0: none (default $MODELVOL_TIMEOUT or 0)",
    "SECONDS" },
  { "low-speed-time", 0, 0, G_OPTION_ARG_INT, &opt_low_speed_time,
    "Drop a transfer slower than the low-speed limit this long (default "
    "$MODELVOL_LOW_SPEED_TIME or 60)",
    "SECONDS" },
  { "low-speed-limit", 0, 0, G_OPTION_ARG_INT, &opt_low_speed_limit,
    "The low-speed limit (default $MODELVOL_LOW_SPEED_LIMIT or 1024)", "BYTES" },
  MV_PROGRESS_OPTION_ENTRY,
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
  if (opt_timeout > 7 * 24 * 3600 || opt_timeout < -1)
    return mv_usage_error (context, error, "--timeout takes 0 (none) to 604800 seconds");
  opts.timeout = opt_timeout == 0 ? -1 : MAX (opt_timeout, 0);
  if (opt_low_speed_time == 0 || opt_low_speed_time > 24 * 3600 || opt_low_speed_time < -1)
    return mv_usage_error (context, error, "--low-speed-time takes 1 to 86400 seconds");
  opts.low_speed_time = MAX (opt_low_speed_time, 0);
  if (opt_low_speed_limit == 0 || opt_low_speed_limit < -1)
    return mv_usage_error (context, error, "--low-speed-limit takes 1 or more bytes a second");
  opts.low_speed_limit = MAX (opt_low_speed_limit, 0);
  if (!mv_progress_begin (context, error))
    return FALSE;
  {
    gboolean ok
        = mv_pull_with_options (store, argv[1], &opts, opt_name, &digest, cancellable, error);
    mv_progress_end (ok);
    if (!ok)
      return FALSE;
  }
  mv_print_digest (digest);
  return TRUE;
}
