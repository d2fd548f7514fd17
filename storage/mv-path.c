/* mv-path: the one validator for paths that come from layers and annotations.
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <string.h>

#include "mv-error-private.h"
#include "mv-path-private.h"

/* Characters we never print raw: C0 and C1 controls (ESC starts every ANSI sequence),
 * DEL, and the invisible formatting characters that can reorder or hide text on a terminal
 * (bidi overrides and isolates, zero-width characters, line and paragraph separators). */
static gboolean
unichar_needs_escape (gunichar c)
{
  if (c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0))
    return TRUE;
  switch (g_unichar_type (c))
    {
      case G_UNICODE_FORMAT:
      case G_UNICODE_LINE_SEPARATOR:
      case G_UNICODE_PARAGRAPH_SEPARATOR:
      case G_UNICODE_UNASSIGNED:
      case G_UNICODE_PRIVATE_USE:
      case G_UNICODE_SURROGATE:
        return TRUE;
      default:
        return FALSE;
    }
}

char *
mv_escape_for_display (const char *s, gsize max_len)
{
  g_autoptr (GString) out = NULL;
  const char *p;
  const char *end;

  if (s == NULL)
    return g_strdup ("(null)");

  out = g_string_sized_new (MIN (strlen (s), 256) + 4);
  p = s;
  end = s + strlen (s);
  while (p < end)
    {
      char piece[64];
      gsize piece_len;
      gsize step;
      gunichar c = g_utf8_get_char_validated (p, end - p);

      if (c == (gunichar)-1 || c == (gunichar)-2)
        {
          /* Invalid or truncated UTF-8: show the one offending byte. */
          g_snprintf (piece, sizeof piece, "\\x%02x", (guint)(guchar)*p);
          step = 1;
        }
      else
        {
          step = g_utf8_next_char (p) - p;
          if (c == '\\')
            g_strlcpy (piece, "\\\\", sizeof piece);
          else if (unichar_needs_escape (c))
            {
              piece[0] = '\0';
              for (gsize i = 0; i < step; i++)
                {
                  char hex[8];
                  g_snprintf (hex, sizeof hex, "\\x%02x", (guint)(guchar)p[i]);
                  g_strlcat (piece, hex, sizeof piece);
                }
            }
          else
            {
              memcpy (piece, p, step);
              piece[step] = '\0';
            }
        }
      piece_len = strlen (piece);
      if (max_len > 0 && out->len + piece_len > max_len)
        {
          g_string_append (out, "...");
          break;
        }
      g_string_append_len (out, piece, piece_len);
      p += step;
    }
  return g_string_free (g_steal_pointer (&out), FALSE);
}

/* Checks what does not depend on the split into components: length, encoding, controls. */
static gboolean
check_bytes (const char *path, const char *what, const char *shown, GError **error)
{
  gsize len = strlen (path);

  if (len > (gsize)MV_PATH_MAX)
    return mv_throw (error, MV_ERROR_UNSAFE_PATH, "%s '%s' is longer than %d bytes", what, shown,
                     MV_PATH_MAX);
  if (!g_utf8_validate (path, len, NULL))
    return mv_throw (error, MV_ERROR_UNSAFE_PATH, "%s '%s' is not valid UTF-8", what, shown);
  for (const char *p = path; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);
      if (c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0))
        return mv_throw (error, MV_ERROR_UNSAFE_PATH, "%s '%s' contains a control character", what,
                         shown);
    }
  return TRUE;
}

gboolean
mv_path_normalize (const char *path, MvPathFlags flags, char **out_path, GError **error)
{
  g_autofree char *shown = NULL;
  g_autofree char *work = NULL;
  g_auto (GStrv) parts = NULL;
  const char *p;
  gsize len;
  int depth = 0;
  guint n_parts;

  g_return_val_if_fail (out_path != NULL, FALSE);

  if (path == NULL)
    return mv_throw (error, MV_ERROR_UNSAFE_PATH, "missing path");
  shown = mv_escape_for_display (path, 200);
  if (!check_bytes (path, "path", shown, error))
    return FALSE;

  if (*path == '\0')
    return mv_throw (error, MV_ERROR_UNSAFE_PATH, "empty path");
  if ((flags & MV_PATH_ABSOLUTE) && path[0] != '/')
    return mv_throw (error, MV_ERROR_UNSAFE_PATH, "path '%s' is not absolute", shown);
  if (!(flags & MV_PATH_ABSOLUTE) && path[0] == '/')
    return mv_throw (error, MV_ERROR_UNSAFE_PATH, "path '%s' is absolute", shown);

  p = (flags & MV_PATH_ABSOLUTE) ? path + 1 : path;
  if ((flags & MV_PATH_TAR_MEMBER) && g_str_has_prefix (p, "./"))
    p += 2;
  len = strlen (p);
  if ((flags & MV_PATH_TAR_MEMBER) && len > 0 && p[len - 1] == '/')
    len--;
  work = g_strndup (p, len);

  if (work[0] == '\0' || g_str_equal (work, "."))
    return mv_throw (error, MV_ERROR_UNSAFE_PATH, "path '%s' names the model root itself", shown);

  parts = g_strsplit (work, "/", -1);
  n_parts = g_strv_length (parts);
  if (n_parts > (guint)MV_PATH_DEPTH_MAX)
    return mv_throw (error, MV_ERROR_UNSAFE_PATH, "path '%s' has more than %d levels", shown,
                     MV_PATH_DEPTH_MAX);

  /* First pass: anything that escapes the root is reported as such, whatever else is wrong. */
  for (guint i = 0; i < n_parts; i++)
    {
      if (g_str_equal (parts[i], ".."))
        depth--;
      else if (parts[i][0] != '\0' && !g_str_equal (parts[i], "."))
        depth++;
      if (depth < 0)
        return mv_throw (error, MV_ERROR_UNSAFE_PATH, "path '%s' escapes the model root", shown);
    }

  for (guint i = 0; i < n_parts; i++)
    {
      const char *c = parts[i];
      if (c[0] == '\0')
        return mv_throw (error, MV_ERROR_UNSAFE_PATH, "path '%s' has an empty component", shown);
      if (g_str_equal (c, "."))
        return mv_throw (error, MV_ERROR_UNSAFE_PATH, "path '%s' has a '.' component", shown);
      if (g_str_equal (c, ".."))
        return mv_throw (error, MV_ERROR_UNSAFE_PATH,
                         "path '%s' is not normalized (it has a '..' component)", shown);
      if (strlen (c) > MV_PATH_COMPONENT_MAX)
        return mv_throw (error, MV_ERROR_UNSAFE_PATH,
                         "path '%s' has a component longer than %d bytes", shown,
                         MV_PATH_COMPONENT_MAX);
      /* OCI whiteouts (".wh.x", ".wh..wh..opq") mean nothing in a model: refuse rather than
       * store a file that an image tool would read as a deletion. */
      if (g_str_has_prefix (c, ".wh."))
        return mv_throw (error, MV_ERROR_UNSAFE_PATH, "path '%s' is a whiteout", shown);
    }

  *out_path = g_steal_pointer (&work);
  return TRUE;
}

gboolean
mv_path_check_link_target (const char *link_path, const char *target, GError **error)
{
  g_autofree char *shown = NULL;
  g_auto (GStrv) parts = NULL;
  guint n_parts;
  guint up = 0;
  guint link_dir_depth = 0;
  guint i;

  g_return_val_if_fail (link_path != NULL && *link_path != '\0', FALSE);

  if (target == NULL || *target == '\0')
    return mv_throw (error, MV_ERROR_UNSAFE_PATH, "empty symlink target");
  shown = mv_escape_for_display (target, 200);
  if (!check_bytes (target, "symlink target", shown, error))
    return FALSE;
  if (target[0] == '/')
    return mv_throw (error, MV_ERROR_UNSAFE_PATH,
                     "symlink target '%s' is absolute; only relative links inside the model "
                     "are kept",
                     shown);

  for (const char *p = link_path; *p != '\0'; p++)
    if (*p == '/')
      link_dir_depth++;

  parts = g_strsplit (target, "/", -1);
  n_parts = g_strv_length (parts);
  if (n_parts > (guint)MV_PATH_DEPTH_MAX)
    return mv_throw (error, MV_ERROR_UNSAFE_PATH, "symlink target '%s' has more than %d levels",
                     shown, MV_PATH_DEPTH_MAX);

  for (i = 0; i < n_parts && g_str_equal (parts[i], ".."); i++)
    up++;
  if (up > link_dir_depth)
    return mv_throw (error, MV_ERROR_UNSAFE_PATH, "symlink target '%s' escapes the model root",
                     shown);

  for (; i < n_parts; i++)
    {
      const char *c = parts[i];
      if (c[0] == '\0')
        return mv_throw (error, MV_ERROR_UNSAFE_PATH, "symlink target '%s' has an empty component",
                         shown);
      if (g_str_equal (c, "."))
        return mv_throw (error, MV_ERROR_UNSAFE_PATH, "symlink target '%s' has a '.' component",
                         shown);
      if (g_str_equal (c, ".."))
        return mv_throw (error, MV_ERROR_UNSAFE_PATH,
                         "symlink target '%s' has a '..' after a normal component", shown);
      if (strlen (c) > MV_PATH_COMPONENT_MAX)
        return mv_throw (error, MV_ERROR_UNSAFE_PATH,
                         "symlink target '%s' has a component longer than %d bytes", shown,
                         MV_PATH_COMPONENT_MAX);
    }
  return TRUE;
}

gboolean
mv_path_validate_container_dest (const char *path, char **out_path, GError **error)
{
  static const char *const forbidden[] = { "proc", "sys", "dev" };
  g_autofree char *rel = NULL;

  if (g_str_equal (path, "/"))
    return mv_throw (error, MV_ERROR_UNSAFE_PATH, "path '/' is the container's root");
  if (!mv_path_normalize (path, MV_PATH_ABSOLUTE, &rel, error))
    return FALSE;
  for (guint i = 0; i < G_N_ELEMENTS (forbidden); i++)
    {
      gsize n = strlen (forbidden[i]);
      if (strncmp (rel, forbidden[i], n) == 0 && (rel[n] == '\0' || rel[n] == '/'))
        return mv_throw (error, MV_ERROR_UNSAFE_PATH, "path '%s' is under /%s", path, forbidden[i]);
    }
  if (out_path)
    *out_path = g_steal_pointer (&rel);
  return TRUE;
}
