/* modelvol inspect MODEL
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "mv-builtins.h"
#include "mv-config-private.h"
#include "mv-manifest-private.h"
#include "mv-verdict-private.h"

static JsonNode *
parse_json (const char *s)
{
  g_autoptr (JsonParser) p = json_parser_new ();
  if (!json_parser_load_from_data (p, s, -1, NULL) || json_parser_get_root (p) == NULL)
    return json_node_init_null (json_node_alloc ());
  return json_node_copy (json_parser_get_root (p));
}

static void
print_field (const char *label, const char *value)
{
  if (value != NULL && *value)
    {
      g_autofree char *shown = mv_sanitize (value);
      printf ("  %-14s %s\n", label, shown);
    }
}

/* The verdict of the model's last pull, a few lines. */
static void
print_signature (const char *json)
{
  g_autoptr (GBytes) bytes = NULL;
  g_autoptr (MvVerdict) v = NULL;
  g_autoptr (GError) local_error = NULL;
  g_autofree char *line = NULL;

  if (json == NULL)
    {
      printf ("Signature:     none checked (imported, not pulled)\n");
      return;
    }
  bytes = g_bytes_new (json, strlen (json));
  v = mv_verdict_parse (bytes, &local_error);
  if (v == NULL)
    {
      g_autofree char *shown = mv_sanitize (local_error->message);
      printf ("Signature:     unreadable: %s\n", shown);
      return;
    }
  line = mv_verdict_describe (v);
  {
    g_autofree char *shown = mv_sanitize (line);
    g_autofree char *ref = mv_sanitize (v->reference ? v->reference : "");
    g_autoptr (GDateTime) t = g_date_time_new_from_unix_utc (v->verified_at);
    g_autofree char *when = t ? g_date_time_format_iso8601 (t) : g_strdup ("?");
    printf ("Signature:     %s\n", shown);
    printf ("  %-14s %s\n  %-14s %s\n  %-14s %s\n", "pulled as", ref, "signed digest",
            v->signed_digest ? v->signed_digest : "", "checked at", when);
  }
}

MV_BUILTIN (inspect)
{
  g_autoptr (GOptionContext) context = g_option_context_new ("MODEL");
  g_autoptr (MvStore) store = NULL;
  g_autoptr (MvModelInfo) info = NULL;
  g_autoptr (MvManifest) m = NULL;
  g_autoptr (MvModelConfig) config = NULL;
  g_autoptr (GPtrArray) warnings = NULL;
  g_autofree char *signature = NULL;

  g_option_context_set_summary (context,
                                "Show a model's manifest, config summary, layers (kind, format, "
                                "path) and the config's schema warnings.");
  store = mv_option_context_parse (context, NULL, &argc, &argv, cancellable, error);
  if (store == NULL)
    return FALSE;
  if (argc != 2)
    return mv_usage_error (context, error, "inspect takes one MODEL");
  info = mv_store_get_model (store, argv[1], error);
  if (info == NULL)
    return FALSE;
  if (!mv_store_get_signature_verdict (store, info->digest, &signature, error))
    return FALSE;
  m = mv_manifest_parse (info->manifest_json, strlen (info->manifest_json), error);
  if (m == NULL)
    return FALSE;
  config = mv_config_parse (info->config_json, strlen (info->config_json), NULL);
  warnings = mv_config_validate (info->config_json, strlen (info->config_json));

  if (mv_globals.json)
    {
      g_autoptr (JsonBuilder) b = json_builder_new ();
      g_autoptr (JsonNode) root = NULL;
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "digest");
      json_builder_add_string_value (b, info->digest);
      mv_json_add_strv (b, "names", info->names);
      json_builder_set_member_name (b, "artifactType");
      json_builder_add_string_value (b, info->artifact_type ? info->artifact_type : "");
      json_builder_set_member_name (b, "files");
      json_builder_add_int_value (b, info->n_files);
      json_builder_set_member_name (b, "bytes");
      json_builder_add_int_value (b, info->logical_bytes);
      json_builder_set_member_name (b, "manifest");
      json_builder_add_value (b, parse_json (info->manifest_json));
      json_builder_set_member_name (b, "config");
      json_builder_add_value (b, parse_json (info->config_json));
      json_builder_set_member_name (b, "layers");
      json_builder_begin_array (b);
      for (guint i = 0; i < m->layers->len; i++)
        {
          MvDescriptor *d = m->layers->pdata[i];
          const MvLayerMediaType *mt = mv_mediatype_lookup_layer (d->media_type);
          const char *path
              = mv_descriptor_get_filepath (d, mt && mt->format == MV_LAYER_FORMAT_RAW);
          json_builder_begin_object (b);
          json_builder_set_member_name (b, "digest");
          json_builder_add_string_value (b, d->digest);
          json_builder_set_member_name (b, "mediaType");
          json_builder_add_string_value (b, d->media_type);
          json_builder_set_member_name (b, "family");
          json_builder_add_string_value (b, mt ? mv_family_to_string (mt->family) : "none");
          json_builder_set_member_name (b, "kind");
          json_builder_add_string_value (b, mt ? mv_layer_kind_to_string (mt->kind) : "");
          json_builder_set_member_name (b, "format");
          json_builder_add_string_value (b, mt ? mv_layer_format_to_string (mt->format) : "");
          json_builder_set_member_name (b, "path");
          json_builder_add_string_value (b, path ? path : "");
          json_builder_set_member_name (b, "size");
          json_builder_add_int_value (b, d->size);
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
      json_builder_set_member_name (b, "signature");
      if (signature != NULL)
        json_builder_add_value (b, parse_json (signature));
      else
        json_builder_add_null_value (b);
      json_builder_set_member_name (b, "warnings");
      json_builder_begin_array (b);
      for (guint i = 0; i < warnings->len; i++)
        json_builder_add_string_value (b, warnings->pdata[i]);
      json_builder_end_array (b);
      json_builder_end_object (b);
      root = json_builder_get_root (b);
      mv_print_json (root);
      return TRUE;
    }

  printf ("Digest:        %s\n", info->digest);
  for (guint j = 0; info->names[j]; j++)
    {
      g_autofree char *n = mv_sanitize (info->names[j]);
      printf ("Name:          %s\n", n);
    }
  {
    g_autofree char *at = mv_sanitize (info->artifact_type ? info->artifact_type : "");
    g_autofree char *size = mv_format_bytes (info->logical_bytes);
    printf ("Artifact type: %s\nFiles:         %" G_GUINT64_FORMAT " (%s)\n", at, info->n_files,
            size);
  }
  if (config != NULL)
    {
      printf ("Config:\n");
      print_field ("name", config->name);
      print_field ("version", config->version);
      print_field ("family", config->family);
      print_field ("architecture", config->architecture);
      print_field ("format", config->format);
      print_field ("paramSize", config->param_size);
      print_field ("precision", config->precision);
      print_field ("quantization", config->quantization);
      print_field ("createdAt", config->created_at);
    }
  printf ("Layers:\n");
  for (guint i = 0; i < m->layers->len; i++)
    {
      MvDescriptor *d = m->layers->pdata[i];
      const MvLayerMediaType *mt = mv_mediatype_lookup_layer (d->media_type);
      const char *path = mv_descriptor_get_filepath (d, mt && mt->format == MV_LAYER_FORMAT_RAW);
      g_autofree char *shortd = mv_short_digest (d->digest);
      g_autofree char *size = mv_format_bytes (d->size);
      g_autofree char *shown = mv_sanitize (path ? path : "");
      printf ("  %s  %-5s %-13s %-8s %10s  %s\n", shortd,
              mt ? mv_family_to_string (mt->family) : "?",
              mt ? mv_layer_kind_to_string (mt->kind) : "?",
              mt ? mv_layer_format_to_string (mt->format) : "?", size, shown);
    }
  print_signature (signature);
  if (warnings->len > 0)
    {
      printf ("Warnings:\n");
      for (guint i = 0; i < warnings->len; i++)
        {
          g_autofree char *w = mv_sanitize (warnings->pdata[i]);
          printf ("  %s\n", w);
        }
    }
  return TRUE;
}
