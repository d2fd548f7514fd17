/* modelvol pull REF [--name REF] [--tls-verify=BOOL] [--policy FILE] [--authfile FILE] ...
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "mv-builtins.h"
#include "mv-signature-private.h"
#include "mv-source-private.h"

static char *opt_name;
static char *opt_tls_verify;
static char *opt_authfile;
static char *opt_cert_dir;
static char *opt_registries_conf;
static char *opt_policy;
static char *opt_registries_d;
static char *opt_signature_mode;
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
  { "policy", 0, 0, G_OPTION_ARG_FILENAME, &opt_policy,
    "Signature policy, containers-policy.json(5) (default [signatures] policy or "
    "/etc/containers/policy.json)",
    "FILE" },
  { "registries-d", 0, 0, G_OPTION_ARG_FILENAME, &opt_registries_d,
    "Where use-sigstore-attachments is set, containers-registries.d(5) (default [signatures] "
    "registries-d or /etc/containers/registries.d)",
    "DIR" },
  { "signature-mode", 0, 0, G_OPTION_ARG_STRING, &opt_signature_mode,
    "enforce: refuse what the policy refuses; audit: warn and pull (default [signatures] mode "
    "or enforce)",
    "MODE" },
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

/* --policy, --registries-d and --signature-mode over [signatures] of modelvol.conf. */
static gboolean
set_signature_options (GOptionContext *context, MvStore *store, GError **error)
{
  g_auto (MvSignatureSettings) settings = { 0 };
  MvSignatureMode mode;

  if (opt_policy == NULL && opt_registries_d == NULL && opt_signature_mode == NULL)
    return TRUE;
  if (!mv_signature_settings_get (store, &settings, error))
    return FALSE;
  mode = settings.mode;
  if (g_strcmp0 (opt_signature_mode, "audit") == 0)
    mode = MV_SIGNATURE_AUDIT;
  else if (g_strcmp0 (opt_signature_mode, "enforce") == 0)
    mode = MV_SIGNATURE_ENFORCE;
  else if (opt_signature_mode != NULL)
    return mv_usage_error (context, error, "--signature-mode takes enforce or audit");
  return mv_store_set_signature_options (
      store, opt_policy ? opt_policy : settings.policy,
      opt_registries_d ? opt_registries_d : settings.registries_d, mode, error);
}

/* Audit mode: a model the policy would refuse is pulled; say so, once, on stderr. */
static void
warn_if_audited (MvStore *store, const char *digest)
{
  g_autofree char *json = NULL;
  g_autoptr (GBytes) bytes = NULL;
  g_autoptr (MvVerdict) v = NULL;

  if (!mv_store_get_signature_verdict (store, digest, &json, NULL) || json == NULL)
    return;
  bytes = g_bytes_new (json, strlen (json));
  v = mv_verdict_parse (bytes, NULL);
  if (v != NULL && !v->accepted)
    {
      g_autofree char *shown = mv_sanitize (v->reason ? v->reason : "");
      g_autofree char *ref = mv_sanitize (v->reference ? v->reference : "");
      g_printerr ("modelvol: warning: %s: audit mode: pulled although %s\n", ref, shown);
    }
}

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
  if (!set_signature_options (context, store, error))
    return FALSE;
  if (!mv_progress_begin (context, error))
    return FALSE;
  {
    gboolean ok
        = mv_pull_with_options (store, argv[1], &opts, opt_name, &digest, cancellable, error);
    mv_progress_end (ok);
    if (!ok)
      return FALSE;
  }
  warn_if_audited (store, digest);
  mv_print_digest (digest);
  return TRUE;
}
