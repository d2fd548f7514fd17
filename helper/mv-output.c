/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "mv-builtins.h"
#include "mv-source-private.h"

char *
mv_sanitize (const char *s)
{
  GString *out = g_string_new (NULL);
  const char *p = s;

  while (*p)
    {
      gunichar c = g_utf8_get_char_validated (p, -1);
      if (c == (gunichar)-1 || c == (gunichar)-2)
        {
          g_string_append_printf (out, "\\x%02x", (unsigned char)*p);
          p++;
          continue;
        }
      if (c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0))
        g_string_append_printf (out, "\\x%02x", c);
      else
        g_string_append_len (out, p, g_utf8_next_char (p) - p);
      p = g_utf8_next_char (p);
    }
  return g_string_free (out, FALSE);
}

char *
mv_json_to_string (JsonNode *node, gboolean pretty)
{
  g_autoptr (JsonGenerator) gen = json_generator_new ();

  json_generator_set_pretty (gen, pretty);
  json_generator_set_root (gen, node);
  return json_generator_to_data (gen, NULL);
}

void
mv_print_json (JsonNode *node)
{
  g_autofree char *s = mv_json_to_string (node, TRUE);
  printf ("%s\n", s);
}

void
mv_print_digest (const char *digest)
{
  g_autoptr (JsonBuilder) b = NULL;
  g_autoptr (JsonNode) root = NULL;

  if (!mv_globals.json)
    {
      printf ("%s\n", digest);
      return;
    }
  b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "digest");
  json_builder_add_string_value (b, digest);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  mv_print_json (root);
}

char *
mv_format_bytes (guint64 bytes)
{
  g_autofree char *s = g_format_size_full (bytes, G_FORMAT_SIZE_IEC_UNITS);
  g_autoptr (GString) out = g_string_new (s);

  /* GLib puts a no-break space (U+00A0) before the unit: plain ASCII for logs and greps. */
  g_string_replace (out, "\u00a0", " ", 0);
  return g_string_free (g_steal_pointer (&out), FALSE);
}

char *
mv_short_digest (const char *digest)
{
  const char *colon = strchr (digest, ':');
  return g_strndup (colon ? colon + 1 : digest, 12);
}

void
mv_json_add_strv (JsonBuilder *b, const char *member, char **strv)
{
  json_builder_set_member_name (b, member);
  json_builder_begin_array (b);
  for (guint i = 0; strv != NULL && strv[i] != NULL; i++)
    json_builder_add_string_value (b, strv[i]);
  json_builder_end_array (b);
}

gboolean
mv_option_bool (GOptionContext *context, const char *name, const char *value, gboolean dflt,
                gboolean *out, GError **error)
{
  if (value == NULL)
    *out = dflt;
  else if (g_ascii_strcasecmp (value, "true") == 0)
    *out = TRUE;
  else if (g_ascii_strcasecmp (value, "false") == 0)
    *out = FALSE;
  else
    return mv_usage_error (context, error, "--%s takes true or false", name);
  return TRUE;
}

gboolean
mv_option_jobs (GOptionContext *context, int jobs, GError **error)
{
  if (jobs < 0 || jobs > 64)
    return mv_usage_error (context, error, "--jobs takes 1 to 64");
  mv_import_set_jobs ((guint)jobs);
  return TRUE;
}
