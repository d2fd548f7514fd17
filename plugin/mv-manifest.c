/* mv-manifest: OCI image manifests, indexes and descriptors parsed with json-glib.
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "mv-digest-private.h"
#include "mv-error-private.h"
#include "mv-manifest-private.h"
#include "mv-path-private.h"

/* ---- typed members -------------------------------------------------------------------- */

/* Members are named in messages as "<where>.<name>": "manifest layers[3].digest". */

static gboolean
get_member (JsonObject *o, const char *name, gboolean required, const char *where, JsonNode **out,
            GError **error)
{
  JsonNode *n = json_object_get_member (o, name);

  *out = NULL;
  if (n == NULL)
    {
      if (required)
        return mv_throw (error, MV_ERROR_INVALID_MANIFEST, "%s.%s: required member is missing",
                         where, name);
      return TRUE;
    }
  *out = n;
  return TRUE;
}

static gboolean
read_string (JsonObject *o, const char *name, gboolean required, const char *where, char **out,
             GError **error)
{
  JsonNode *n;

  if (!get_member (o, name, required, where, &n, error))
    return FALSE;
  if (n == NULL)
    {
      *out = NULL;
      return TRUE;
    }
  if (!JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_STRING)
    return mv_throw (error, MV_ERROR_INVALID_MANIFEST, "%s.%s: must be a string", where, name);
  *out = g_strdup (json_node_get_string (n));
  return TRUE;
}

static gboolean
read_int (JsonObject *o, const char *name, const char *where, gint64 *out, GError **error)
{
  JsonNode *n;

  if (!get_member (o, name, TRUE, where, &n, error))
    return FALSE;
  if (!JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_INT64)
    return mv_throw (error, MV_ERROR_INVALID_MANIFEST, "%s.%s: must be an integer", where, name);
  *out = json_node_get_int (n);
  return TRUE;
}

static gboolean
read_annotations (JsonObject *o, const char *where, GHashTable **out, GError **error)
{
  g_autoptr (GHashTable) table = NULL;
  JsonNode *n;
  JsonObjectIter iter;
  const char *key;
  JsonNode *value;

  *out = NULL;
  if (!get_member (o, "annotations", FALSE, where, &n, error))
    return FALSE;
  if (n == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_OBJECT (n))
    return mv_throw (error, MV_ERROR_INVALID_MANIFEST, "%s.annotations: must be an object", where);
  table = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  json_object_iter_init (&iter, json_node_get_object (n));
  while (json_object_iter_next (&iter, &key, &value))
    {
      if (!JSON_NODE_HOLDS_VALUE (value) || json_node_get_value_type (value) != G_TYPE_STRING)
        {
          g_autofree char *shown = mv_escape_for_display (key, 100);
          return mv_throw (error, MV_ERROR_INVALID_MANIFEST,
                           "%s.annotations: the value of '%s' must be a string", where, shown);
        }
      g_hash_table_insert (table, g_strdup (key), g_strdup (json_node_get_string (value)));
    }
  *out = g_steal_pointer (&table);
  return TRUE;
}

static gboolean
read_string_array (JsonObject *o, const char *name, const char *where, char ***out, GError **error)
{
  g_autoptr (GPtrArray) strv = NULL;
  JsonNode *n;
  JsonArray *a;

  *out = NULL;
  if (!get_member (o, name, FALSE, where, &n, error))
    return FALSE;
  if (n == NULL)
    return TRUE;
  if (!JSON_NODE_HOLDS_ARRAY (n))
    return mv_throw (error, MV_ERROR_INVALID_MANIFEST, "%s.%s: must be an array", where, name);
  a = json_node_get_array (n);
  strv = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < json_array_get_length (a); i++)
    {
      JsonNode *e = json_array_get_element (a, i);
      if (!JSON_NODE_HOLDS_VALUE (e) || json_node_get_value_type (e) != G_TYPE_STRING)
        return mv_throw (error, MV_ERROR_INVALID_MANIFEST, "%s.%s[%u]: must be a string", where,
                         name, i);
      g_ptr_array_add (strv, g_strdup (json_node_get_string (e)));
    }
  g_ptr_array_add (strv, NULL);
  *out = (char **)g_ptr_array_free (g_steal_pointer (&strv), FALSE);
  return TRUE;
}

/* RFC 6838 names as the OCI image spec's descriptor schema has them:
 * ^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$ */
static gboolean
media_type_part_ok (const char *p, gsize n)
{
  if (n < 1 || n > 127 || !g_ascii_isalnum (p[0]))
    return FALSE;
  for (gsize i = 1; i < n; i++)
    if (!g_ascii_isalnum (p[i]) && strchr ("!#$&^_.+-", p[i]) == NULL)
      return FALSE;
  return TRUE;
}

static gboolean
media_type_ok (const char *mt)
{
  const char *slash = strchr (mt, '/');

  if (slash == NULL)
    return FALSE;
  return media_type_part_ok (mt, slash - mt) && media_type_part_ok (slash + 1, strlen (slash + 1));
}

static gboolean
check_media_type (const char *mt, const char *where, const char *name, GError **error)
{
  g_autofree char *shown = NULL;

  if (mt == NULL || media_type_ok (mt))
    return TRUE;
  shown = mv_escape_for_display (mt, 200);
  return mv_throw (error, MV_ERROR_INVALID_MANIFEST, "%s.%s: '%s' is not a valid media type", where,
                   name, shown);
}

/* ---- descriptors, manifests, indexes -------------------------------------------------- */

void
mv_descriptor_free (MvDescriptor *desc)
{
  if (desc == NULL)
    return;
  g_free (desc->media_type);
  g_free (desc->digest);
  g_free (desc->artifact_type);
  g_clear_pointer (&desc->annotations, g_hash_table_unref);
  g_strfreev (desc->urls);
  g_free (desc);
}

void
mv_manifest_free (MvManifest *manifest)
{
  if (manifest == NULL)
    return;
  g_free (manifest->media_type);
  g_free (manifest->artifact_type);
  mv_descriptor_free (manifest->config);
  g_clear_pointer (&manifest->layers, g_ptr_array_unref);
  g_clear_pointer (&manifest->annotations, g_hash_table_unref);
  mv_descriptor_free (manifest->subject);
  g_free (manifest);
}

void
mv_index_free (MvIndex *index)
{
  if (index == NULL)
    return;
  g_free (index->media_type);
  g_clear_pointer (&index->manifests, g_ptr_array_unref);
  g_clear_pointer (&index->annotations, g_hash_table_unref);
  g_free (index);
}

static MvDescriptor *
parse_descriptor (JsonNode *node, const char *where, GError **error)
{
  g_autoptr (MvDescriptor) desc = g_new0 (MvDescriptor, 1);
  JsonObject *o;

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    {
      mv_throw (error, MV_ERROR_INVALID_MANIFEST, "%s: must be an object", where);
      return NULL;
    }
  o = json_node_get_object (node);

  if (!read_string (o, "mediaType", TRUE, where, &desc->media_type, error)
      || !check_media_type (desc->media_type, where, "mediaType", error))
    return NULL;
  if (!read_string (o, "digest", TRUE, where, &desc->digest, error))
    return NULL;
  if (!mv_digest_validate (desc->digest, NULL, NULL, error))
    {
      mv_prefix_error (error, "%s.digest", where);
      return NULL;
    }
  if (!read_int (o, "size", where, &desc->size, error))
    return NULL;
  if (desc->size < 0)
    {
      mv_throw (error, MV_ERROR_INVALID_MANIFEST, "%s.size: %" G_GINT64_FORMAT " is negative",
                where, desc->size);
      return NULL;
    }
  if (!read_string (o, "artifactType", FALSE, where, &desc->artifact_type, error)
      || !check_media_type (desc->artifact_type, where, "artifactType", error))
    return NULL;
  if (!read_annotations (o, where, &desc->annotations, error))
    return NULL;
  /* Foreign URLs are parsed only to be type-checked; nothing ever fetches them. */
  if (!read_string_array (o, "urls", where, &desc->urls, error))
    return NULL;
  return g_steal_pointer (&desc);
}

static gboolean
read_schema_version (JsonObject *o, const char *where, int *out, GError **error)
{
  gint64 v = 0;

  if (!read_int (o, "schemaVersion", where, &v, error))
    return FALSE;
  if (v != 2)
    return mv_throw (error, MV_ERROR_INVALID_MANIFEST,
                     "%s.schemaVersion: %" G_GINT64_FORMAT " is not supported (only 2 is)", where,
                     v);
  *out = (int)v;
  return TRUE;
}

/* Reads the array member @name of descriptors, at most MV_MANIFEST_MAX_LAYERS of them. */
static GPtrArray *
read_descriptors (JsonObject *o, const char *name, const char *where, GError **error)
{
  g_autoptr (GPtrArray) out = NULL;
  JsonNode *n;
  JsonArray *a;
  guint len;

  if (!get_member (o, name, TRUE, where, &n, error))
    return NULL;
  if (!JSON_NODE_HOLDS_ARRAY (n))
    {
      mv_throw (error, MV_ERROR_INVALID_MANIFEST, "%s.%s: must be an array", where, name);
      return NULL;
    }
  a = json_node_get_array (n);
  len = json_array_get_length (a);
  if (len > MV_MANIFEST_MAX_LAYERS)
    {
      mv_throw (error, MV_ERROR_LIMIT_EXCEEDED, "%s.%s: %u entries, above max-layers (%u)", where,
                name, len, MV_MANIFEST_MAX_LAYERS);
      return NULL;
    }
  out = g_ptr_array_new_full (len, (GDestroyNotify)mv_descriptor_free);
  for (guint i = 0; i < len; i++)
    {
      g_autofree char *w = g_strdup_printf ("%s.%s[%u]", where, name, i);
      MvDescriptor *d = parse_descriptor (json_array_get_element (a, i), w, error);
      if (d == NULL)
        return NULL;
      g_ptr_array_add (out, d);
    }
  return g_steal_pointer (&out);
}

MvManifest *
mv_manifest_parse (const char *data, gsize len, GError **error)
{
  const char *where = "manifest";
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (MvManifest) m = NULL;
  JsonObject *o;
  JsonNode *n;

  root = mv_json_parse_object (data, len, MV_MANIFEST_MAX_SIZE, where, error);
  if (root == NULL)
    return NULL;
  o = json_node_get_object (root);
  m = g_new0 (MvManifest, 1);

  if (!read_schema_version (o, where, &m->schema_version, error))
    return NULL;
  if (!read_string (o, "mediaType", FALSE, where, &m->media_type, error))
    return NULL;
  if (m->media_type != NULL && !g_str_equal (m->media_type, MV_OCI_MANIFEST))
    {
      g_autofree char *shown = mv_escape_for_display (m->media_type, 200);
      mv_throw (error, MV_ERROR_INVALID_MANIFEST, "%s.mediaType: '%s' is not %s", where, shown,
                MV_OCI_MANIFEST);
      return NULL;
    }
  if (!read_string (o, "artifactType", FALSE, where, &m->artifact_type, error)
      || !check_media_type (m->artifact_type, where, "artifactType", error))
    return NULL;
  if (!get_member (o, "config", TRUE, where, &n, error))
    return NULL;
  m->config = parse_descriptor (n, "manifest.config", error);
  if (m->config == NULL)
    return NULL;
  m->layers = read_descriptors (o, "layers", where, error);
  if (m->layers == NULL)
    return NULL;
  if (!read_annotations (o, where, &m->annotations, error))
    return NULL;
  if (!get_member (o, "subject", FALSE, where, &n, error))
    return NULL;
  if (n != NULL)
    {
      m->subject = parse_descriptor (n, "manifest.subject", error);
      if (m->subject == NULL)
        return NULL;
    }
  return g_steal_pointer (&m);
}

MvIndex *
mv_index_parse (const char *data, gsize len, GError **error)
{
  const char *where = "index";
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (MvIndex) index = NULL;
  JsonObject *o;

  root = mv_json_parse_object (data, len, MV_INDEX_MAX_SIZE, where, error);
  if (root == NULL)
    return NULL;
  o = json_node_get_object (root);
  index = g_new0 (MvIndex, 1);

  if (!read_schema_version (o, where, &index->schema_version, error))
    return NULL;
  if (!read_string (o, "mediaType", FALSE, where, &index->media_type, error))
    return NULL;
  if (index->media_type != NULL && !g_str_equal (index->media_type, MV_OCI_INDEX)
      && !g_str_equal (index->media_type, MV_DOCKER_MANIFEST_LIST))
    {
      g_autofree char *shown = mv_escape_for_display (index->media_type, 200);
      mv_throw (error, MV_ERROR_INVALID_MANIFEST, "%s.mediaType: '%s' is not %s or %s", where,
                shown, MV_OCI_INDEX, MV_DOCKER_MANIFEST_LIST);
      return NULL;
    }
  index->manifests = read_descriptors (o, "manifests", where, error);
  if (index->manifests == NULL)
    return NULL;
  if (!read_annotations (o, where, &index->annotations, error))
    return NULL;
  return g_steal_pointer (&index);
}

char *
mv_manifest_sniff_media_type (const char *data, gsize len)
{
  /* The caps are equal today; MAX keeps this right if one changes. */
  const gsize max_size
      = MAX (MV_MANIFEST_MAX_SIZE, MV_INDEX_MAX_SIZE); /* NOLINT(bugprone-branch-clone) */
  g_autoptr (JsonNode) root = NULL;
  JsonNode *n;

  root = mv_json_parse_object (data, len, max_size, "document", NULL);
  if (root == NULL)
    return NULL;
  n = json_object_get_member (json_node_get_object (root), "mediaType");
  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_STRING)
    return NULL;
  return g_strdup (json_node_get_string (n));
}

/* ---- ModelPack ------------------------------------------------------------------------ */

MvFamily
mv_manifest_get_family (MvManifest *manifest)
{
  MvFamily family;

  g_return_val_if_fail (manifest != NULL, MV_FAMILY_NONE);

  family = mv_mediatype_artifact_family (manifest->artifact_type);
  if (family == MV_FAMILY_NONE && manifest->config != NULL)
    family = mv_mediatype_config_family (manifest->config->media_type);
  return family;
}

gboolean
mv_manifest_check_modelpack (MvManifest *manifest, GError **error)
{
  g_return_val_if_fail (manifest != NULL, FALSE);

  if (mv_manifest_get_family (manifest) == MV_FAMILY_NONE)
    {
      g_autofree char *at = mv_escape_for_display (manifest->artifact_type, 200);
      g_autofree char *ct = mv_escape_for_display (manifest->config->media_type, 200);
      return mv_throw (error, MV_ERROR_NOT_MODELPACK,
                       "not a ModelPack model: artifactType is '%s' and config mediaType is '%s'",
                       manifest->artifact_type != NULL ? at : "", ct);
    }
  if (mv_mediatype_config_family (manifest->config->media_type) == MV_FAMILY_NONE)
    {
      g_autofree char *ct = mv_escape_for_display (manifest->config->media_type, 200);
      return mv_throw (error, MV_ERROR_UNSUPPORTED,
                       "config %s: media type '%s' is not a ModelPack config media type",
                       manifest->config->digest, ct);
    }
  for (guint i = 0; i < manifest->layers->len; i++)
    {
      MvDescriptor *d = manifest->layers->pdata[i];
      if (mv_mediatype_lookup_layer (d->media_type) == NULL)
        {
          g_autofree char *shown = mv_escape_for_display (d->media_type, 200);
          return mv_throw (error, MV_ERROR_UNSUPPORTED,
                           "layer %s: media type '%s' is not a ModelPack layer media type",
                           d->digest, shown);
        }
    }
  return TRUE;
}

const char *
mv_descriptor_get_filepath (MvDescriptor *desc, gboolean is_raw)
{
  const char *v;

  g_return_val_if_fail (desc != NULL, NULL);

  if (desc->annotations == NULL)
    return NULL;
  v = g_hash_table_lookup (desc->annotations, MV_ANNOT_CNCF_FILEPATH);
  if (v == NULL)
    v = g_hash_table_lookup (desc->annotations, MV_ANNOT_CNAI_FILEPATH);
  if (v == NULL && is_raw)
    v = g_hash_table_lookup (desc->annotations, MV_ANNOT_TITLE);
  return v;
}

guint32
mv_descriptor_get_file_mode (MvDescriptor *desc)
{
  g_autoptr (JsonNode) root = NULL;
  const char *json;
  JsonNode *mode;

  g_return_val_if_fail (desc != NULL, 0644);

  if (desc->annotations == NULL)
    return 0644;
  json = g_hash_table_lookup (desc->annotations, MV_ANNOT_CNCF_FILE_METADATA);
  if (json == NULL)
    json = g_hash_table_lookup (desc->annotations, MV_ANNOT_CNAI_FILE_METADATA);
  if (json == NULL)
    return 0644;
  root = mv_json_parse_object (json, strlen (json), MV_FILE_METADATA_MAX_SIZE, "file metadata",
                               NULL);
  if (root == NULL)
    return 0644;
  mode = json_object_get_member (json_node_get_object (root), "mode");
  if (mode == NULL || !JSON_NODE_HOLDS_VALUE (mode)
      || json_node_get_value_type (mode) != G_TYPE_INT64 || json_node_get_int (mode) < 0)
    return 0644;
  return (json_node_get_int (mode) & 0111) ? 0755 : 0644;
}
