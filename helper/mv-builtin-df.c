/* modelvol df
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mv-builtins.h"
#include "mv-store-private.h"

#define BAR_CELLS 24
#define NAME_WIDTH_MAX 48

static char *
model_label (const MvDfModel *m)
{
  if (m->names != NULL && m->names[0] != NULL)
    return mv_sanitize (m->names[0]);
  return mv_short_digest (m->digest);
}

static void
print_json (const MvDfStats *st, GPtrArray *models, double ratio)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "models");
  json_builder_add_int_value (b, st->n_models);
  json_builder_set_member_name (b, "layers");
  json_builder_add_int_value (b, st->n_layers);
  json_builder_set_member_name (b, "logicalBytes");
  json_builder_add_int_value (b, st->logical_bytes);
  json_builder_set_member_name (b, "storedBytes");
  json_builder_add_int_value (b, st->stored_bytes);
  json_builder_set_member_name (b, "diskBytes");
  json_builder_add_int_value (b, st->disk_bytes);
  json_builder_set_member_name (b, "ratio");
  json_builder_add_double_value (b, ratio);
  json_builder_set_member_name (b, "byModel");
  json_builder_begin_array (b);
  for (guint i = 0; i < models->len; i++)
    {
      const MvDfModel *m = models->pdata[i];
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "digest");
      json_builder_add_string_value (b, m->digest);
      mv_json_add_strv (b, "names", m->names);
      json_builder_set_member_name (b, "files");
      json_builder_add_int_value (b, m->n_files);
      json_builder_set_member_name (b, "logicalBytes");
      json_builder_add_int_value (b, m->logical_bytes);
      json_builder_set_member_name (b, "sharedBytes");
      json_builder_add_int_value (b, m->shared_bytes);
      json_builder_set_member_name (b, "uniqueBytes");
      json_builder_add_int_value (b, m->unique_bytes);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  mv_print_json (root);
}

/* Cells of @bytes on a scale where @max fills BAR_CELLS; anything above zero shows. */
static guint
cells (guint64 bytes, guint64 max)
{
  guint n;
  if (bytes == 0 || max == 0)
    return 0;
  n = (guint)(((double)bytes * BAR_CELLS / (double)max) + 0.5);
  return MAX (n, 1);
}

static void
print_table (GPtrArray *models)
{
  /* Bars only for a person: on a terminal; plain ASCII unless the locale is UTF-8 and
   * NO_COLOR (no-color.org: any value) is unset. */
  gboolean bars = isatty (STDOUT_FILENO);
  const char *no_color = g_getenv ("NO_COLOR");
  gboolean unicode = g_get_charset (NULL) && (no_color == NULL || *no_color == '\0');
  const char *full = unicode ? "\u2588" : "#";
  const char *light = unicode ? "\u2591" : "=";
  guint64 max = 0;
  int width = 5;

  for (guint i = 0; i < models->len; i++)
    {
      const MvDfModel *m = models->pdata[i];
      g_autofree char *label = model_label (m);
      width = MAX (width, MIN ((int)g_utf8_strlen (label, -1), NAME_WIDTH_MAX));
      max = MAX (max, m->logical_bytes);
    }
  printf ("%-*s %10s %10s %10s\n", width, "MODEL", "LOGICAL", "SHARED", "UNIQUE");
  for (guint i = 0; i < models->len; i++)
    {
      const MvDfModel *m = models->pdata[i];
      g_autofree char *label = model_label (m);
      g_autofree char *l = mv_format_bytes (m->logical_bytes);
      g_autofree char *s = mv_format_bytes (m->shared_bytes);
      g_autofree char *u = mv_format_bytes (m->unique_bytes);
      int pad = width - (int)g_utf8_strlen (label, -1);
      printf ("%s%*s %10s %10s %10s", label, MAX (pad, 0), "", l, s, u);
      if (bars)
        {
          guint nu = cells (m->unique_bytes, max);
          guint nl = MAX (cells (m->logical_bytes, max), nu);
          fputs ("  ", stdout);
          for (guint c = 0; c < nl; c++)
            fputs (c < nu ? full : light, stdout);
        }
      putchar ('\n');
    }
  if (bars && models->len > 0)
    printf ("%*s  %s unique to the model  %s shared with other models\n", width + 33, "", full,
            light);
  putchar ('\n');
}

MV_BUILTIN (df)
{
  g_autoptr (GOptionContext) context = g_option_context_new ("");
  g_autoptr (MvStore) store = NULL;
  g_autoptr (GPtrArray) models = NULL;
  MvDfStats st;
  double ratio;

  g_option_context_set_summary (
      context, "Show per model the bytes of its files (logical), those it shares with other "
               "models and those unique to it; then what the models would take stored apart "
               "(logical) and what they take in the store (stored, on disk).");
  store = mv_option_context_parse (context, NULL, &argc, &argv, cancellable, error);
  if (store == NULL)
    return FALSE;
  if (argc != 1)
    return mv_usage_error (context, error, "df takes no arguments");
  if (!mv_store_df_models (store, &st, &models, cancellable, error))
    return FALSE;
  ratio = st.stored_bytes ? (double)st.logical_bytes / (double)st.stored_bytes : 1.0;
  if (mv_globals.json)
    {
      print_json (&st, models, ratio);
      return TRUE;
    }
  if (!mv_globals.quiet && models->len > 0)
    print_table (models);
  {
    g_autofree char *l = mv_format_bytes (st.logical_bytes);
    g_autofree char *s = mv_format_bytes (st.stored_bytes);
    g_autofree char *d = mv_format_bytes (st.disk_bytes);
    printf ("Models:  %u\nLayers:  %u\nLogical: %s\nStored:  %s\nOn disk: %s\nRatio:   %.2fx\n",
            st.n_models, st.n_layers, l, s, d, ratio);
  }
  return TRUE;
}
