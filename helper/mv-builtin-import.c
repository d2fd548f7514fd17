/* modelvol import oci:DIR[:NAME|@DIGEST] [--name REF]
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "mv-builtins.h"

static char *opt_name;
static int opt_jobs;

static const GOptionEntry entries[] = {
  { "name", 0, 0, G_OPTION_ARG_STRING, &opt_name, "Name the model REF", "REF" },
  { "jobs", 'j', 0, G_OPTION_ARG_INT, &opt_jobs,
    "Layers to unpack at once (default $MODELVOL_JOBS or 4)", "N" },
  MV_PROGRESS_OPTION_ENTRY,
  { NULL },
};

/* Splits "oci:DIR[:NAME|@DIGEST]" as skopeo does: the directory ends at the first ':'. */
static gboolean
parse_source (const char *source, char **out_dir, char **out_entry, GError **error)
{
  const char *rest;
  const char *at;
  const char *colon;

  if (!g_str_has_prefix (source, "oci:"))
    return mv_usage_error (NULL, error, "source must be oci:DIR[:NAME|@DIGEST]");
  rest = source + 4;
  at = strstr (rest, "@sha256:");
  if (at == NULL)
    at = strstr (rest, "@sha512:");
  colon = strchr (rest, ':');
  if (at != NULL && (colon == NULL || at < colon))
    {
      *out_dir = g_strndup (rest, at - rest);
      *out_entry = g_strdup (at);
    }
  else if (colon != NULL)
    {
      *out_dir = g_strndup (rest, colon - rest);
      *out_entry = g_strdup (colon + 1);
    }
  else
    {
      *out_dir = g_strdup (rest);
      *out_entry = NULL;
    }
  if (**out_dir == '\0' || (*out_entry != NULL && **out_entry == '\0'))
    return mv_usage_error (NULL, error, "source must be oci:DIR[:NAME|@DIGEST]");
  return TRUE;
}

MV_BUILTIN (import)
{
  g_autoptr (GOptionContext) context = g_option_context_new ("oci:DIR[:NAME|@DIGEST]");
  g_autoptr (MvStore) store = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *entry = NULL;
  g_autofree char *digest = NULL;

  g_option_context_set_summary (context,
                                "Import a ModelPack model from an OCI image layout (CRI-O's "
                                "artifact store, skopeo's oci:DIR:TAG) and print its digest.");
  store = mv_option_context_parse (context, entries, &argc, &argv, cancellable, error);
  if (store == NULL)
    return FALSE;
  if (!mv_option_jobs (context, opt_jobs, error))
    return FALSE;
  if (argc != 2)
    return mv_usage_error (context, error, "import takes one source");
  if (!parse_source (argv[1], &dir, &entry, error))
    return FALSE;
  if (!mv_progress_begin (context, error))
    return FALSE;
  {
    gboolean ok = mv_store_import_layout (store, dir, entry, opt_name, &digest, cancellable, error);
    mv_progress_end (ok);
    if (!ok)
      return FALSE;
  }
  mv_print_digest (digest);
  return TRUE;
}
