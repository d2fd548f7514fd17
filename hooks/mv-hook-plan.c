/* mv-hook-plan: what modelvol-hook-main reads from the OCI state, the bundle's config.json and
 * the annotations, and the mounts it plans from them: CRI-O image volumes of artifacts
 * (io.kubernetes.cri-o.Volumes) and the modelvol.io/mounts annotation. Parsing and planning
 * only: nothing here mounts, imports or writes (the one read is an artifact's manifest in
 * CRI-O's store). Shared by the hook and its fuzz target (tests/fuzz/fuzz-hook.c).
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "mv-error-private.h"
#include "mv-fdio-private.h"
#include "mv-hook-plan-private.h"
#include "mv-path-private.h"

#define MANIFEST_MAX (4 * 1024 * 1024)
#define ANNOTATION_MAX (64 * 1024)
#define MOUNTS_MAX 64
#define JSON_DEPTH_MAX 64 /* config.json nests a dozen levels at most */

void
mv_hook_config_clear (MvHookConfig *c)
{
  g_free (c->store_root);
  g_free (c->run_dir);
  g_free (c->artifacts_dir);
  g_strfreev (c->pull_allowlist);
  g_free (c->registries_conf);
  g_free (c->auth_file);
  for (guint i = 0; i < G_N_ELEMENTS (c->pull_limits); i++)
    g_free (c->pull_limits[i]);
}

void
mv_hook_action_free (MvHookAction *a)
{
  g_free (a->layout);
  g_free (a->manifest);
  g_free (a->ref);
  g_free (a->subpath);
  g_free (a->dest);
  g_free (a);
}

JsonNode *
mv_hook_parse_json (GBytes *bytes, const char *what, gboolean wide_ints, GError **error)
{
  gsize len;
  const char *data = g_bytes_get_data (bytes, &len);
  const MvJsonRules rules = { .what = what,
                              .max_size = G_MAXSIZE, /* the caller read at most its cap */
                              .type = JSON_NODE_OBJECT,
                              .code = MV_ERROR_FAILED,
                              .max_depth = JSON_DEPTH_MAX,
                              .wide_ints = wide_ints };
  return mv_json_parse (len > 0 ? data : "", len, &rules, error);
}

/* An annotation's value: a JSON array, by the same strict rules as the state. */
static JsonNode *
parse_array (const char *value, const char *what, GError **error)
{
  const MvJsonRules rules = { .what = what,
                              .max_size = G_MAXSIZE, /* the annotations came in the state */
                              .type = JSON_NODE_ARRAY,
                              .code = MV_ERROR_FAILED,
                              .max_depth = JSON_DEPTH_MAX };
  return mv_json_parse (value, strlen (value), &rules, error);
}

/* Element @i of @a if it is an object, else NULL (json_array_get_object_element() is a
 * critical on any other type: a programming error, and this is input). */
static JsonObject *
array_object (JsonArray *a, guint i)
{
  JsonNode *n = json_array_get_element (a, i);
  return n && JSON_NODE_HOLDS_OBJECT (n) ? json_node_get_object (n) : NULL;
}

/* "<artifacts>/blobs/sha256/<hex>" -> "sha256:<hex>", or NULL if not a blob of that store. */
static char *
artifact_blob_digest (const MvHookConfig *c, const char *host_path)
{
  g_autofree char *prefix = g_build_filename (c->artifacts_dir, "blobs", "sha256", NULL);
  gsize n = strlen (prefix);
  const char *hex;

  if (host_path == NULL || strncmp (host_path, prefix, n) != 0 || host_path[n] != '/')
    return NULL;
  hex = host_path + n + 1;
  if (strlen (hex) != 64 || strspn (hex, "0123456789abcdef") != 64)
    return NULL;
  return g_strconcat ("sha256:", hex, NULL);
}

/* The names CRI-O may have mounted a layer under: ModelPack filepath (both families), or the
 * OCI title. */
static const char *const layer_name_keys[] = {
  "org.cncf.model.filepath",
  "org.cnai.model.filepath",
  "org.opencontainers.image.title",
};

/* For one image volume: the sub-path CRI-O stripped (subPath volumes), found by matching each
 * blob's mount destination against the layer's names in the manifest. */
static gboolean
derive_subpath (JsonObject *manifest, GHashTable *rel_by_digest, const char *volume,
                char **out_subpath, GError **error)
{
  JsonArray *layers = mv_json_get_array (manifest, "layers");
  g_autofree char *found = NULL;
  gboolean have = FALSE;
  GHashTableIter it;
  gpointer k, v;

  g_hash_table_iter_init (&it, rel_by_digest);
  while (g_hash_table_iter_next (&it, &k, &v))
    {
      const char *rel = v;
      gboolean matched = FALSE;

      for (guint i = 0; layers && i < json_array_get_length (layers) && !matched; i++)
        {
          JsonObject *l = array_object (layers, i);
          JsonObject *ann = mv_json_get_object (l, "annotations");
          if (g_strcmp0 (mv_json_get_string (l, "digest"), k) != 0)
            continue;
          for (guint j = 0; j < G_N_ELEMENTS (layer_name_keys) && !matched; j++)
            {
              const char *name = mv_json_get_string (ann, layer_name_keys[j]);
              g_autofree char *sub = NULL;
              gsize nl, rl = strlen (rel);

              if (name == NULL)
                continue;
              while (g_str_has_prefix (name, "./"))
                name += 2;
              nl = strlen (name);
              if (g_str_equal (name, rel))
                sub = g_strdup ("");
              else if (nl > rl + 1 && g_str_has_suffix (name, rel) && name[nl - rl - 1] == '/')
                sub = g_strndup (name, nl - rl - 1);
              else
                continue;
              if (have && g_strcmp0 (found, sub) != 0)
                return mv_throw (error, MV_ERROR_FAILED,
                                 "image volume %s: layer mounts disagree on the sub path", volume);
              g_free (found);
              found = g_steal_pointer (&sub);
              have = matched = TRUE;
            }
        }
      if (!matched)
        return mv_throw (error, MV_ERROR_FAILED,
                         "image volume %s: blob %s is mounted at '%s', which no layer names",
                         volume, (const char *)k, rel);
    }
  *out_subpath = (found && *found) ? g_steal_pointer (&found) : NULL;
  return TRUE;
}

/* TRUE when @manifest lists every blob of @rel_by_digest as a layer. */
static gboolean
manifest_holds_blobs (JsonObject *manifest, GHashTable *rel_by_digest)
{
  JsonArray *layers = mv_json_get_array (manifest, "layers");
  GHashTableIter it;
  gpointer k;

  g_hash_table_iter_init (&it, rel_by_digest);
  while (g_hash_table_iter_next (&it, &k, NULL))
    {
      gboolean found = FALSE;
      for (guint i = 0; layers && i < json_array_get_length (layers) && !found; i++)
        found = g_strcmp0 (mv_json_get_string (array_object (layers, i), "digest"), k) == 0;
      if (!found)
        return FALSE;
    }
  return TRUE;
}

/* What decides the tree a manifest's layers make: per layer its digest, format (the media
 * type after its ".v1.": raw, tar, tar+gzip, tar+zstd), placement (the family's filepath,
 * else the title) and file metadata. Manifests that differ only elsewhere (family, kinds,
 * config, other annotations) give the same model tree. */
static char *
layers_signature (JsonObject *manifest)
{
  static const char *const keys[]
      = { "org.cncf.model.filepath", "org.cnai.model.filepath", "org.opencontainers.image.title",
          "org.cncf.model.file.metadata+json", "org.cnai.model.file.metadata+json" };
  JsonArray *layers = mv_json_get_array (manifest, "layers");
  GString *sig = g_string_new (NULL);

  for (guint i = 0; layers && i < json_array_get_length (layers); i++)
    {
      JsonObject *l = array_object (layers, i);
      JsonObject *ann = mv_json_get_object (l, "annotations");
      const char *place = NULL;
      const char *type = mv_json_get_string (l, "mediaType") ?: "";
      const char *format = strstr (type, ".v1.");

      g_string_append_printf (sig, "%s\n%s\n", mv_json_get_string (l, "digest") ?: "",
                              format ? format + 4 : type);
      for (guint j = 0; j < 3 && place == NULL; j++)
        place = mv_json_get_string (ann, keys[j]);
      g_string_append_printf (sig, "%s\n%s\n%s\n", place ?: "",
                              mv_json_get_string (ann, keys[3]) ?: "",
                              mv_json_get_string (ann, keys[4]) ?: "");
    }
  return g_string_free (sig, FALSE);
}

/* The layers of @manifest that have a name (title or either family's filepath) under
 * @subpath (all, if NULL) but were not mounted: none, for the artifact CRI-O mounted. */
static guint
unmounted_named_layers (JsonObject *manifest, GHashTable *rel_by_digest, const char *subpath)
{
  JsonArray *layers = mv_json_get_array (manifest, "layers");
  gsize sl = subpath ? strlen (subpath) : 0;
  guint n = 0;

  for (guint i = 0; layers && i < json_array_get_length (layers); i++)
    {
      JsonObject *l = array_object (layers, i);
      JsonObject *ann = mv_json_get_object (l, "annotations");
      const char *name = NULL;

      if (g_hash_table_contains (rel_by_digest, mv_json_get_string (l, "digest") ?: ""))
        continue;
      for (guint j = 0; j < G_N_ELEMENTS (layer_name_keys) && name == NULL; j++)
        name = mv_json_get_string (ann, layer_name_keys[j]);
      if (name == NULL)
        continue;
      while (g_str_has_prefix (name, "./"))
        name += 2;
      if (subpath == NULL || (strncmp (name, subpath, sl) == 0 && name[sl] == '/'))
        n++;
    }
  return n;
}

/* CRI-O 1.34 names an artifact by the digest of its manifest as Go re-encodes it, not of the
 * bytes in its store; unless the two encodings agree, no blob has that digest. The volume's
 * artifact is then the one entry of the store's index.json whose manifest lists every blob
 * CRI-O mounted for the volume and names them as mounted. Of those, the ones with the fewest
 * named layers left unmounted win (a later version of the model that adds a file also holds
 * every blob of the earlier one); among them, entries that make the same tree
 * (layers_signature) count as one, the lowest digest standing for them, and two that make
 * different trees fail the container. Sets @manifest_digest (sha256:...), @out_bytes. */
static gboolean
find_manifest_by_blobs (const MvHookConfig *c, const char *volume, GHashTable *rel_by_digest,
                        char **manifest_digest, GBytes **out_bytes, GError **error)
{
  g_autofree char *index_path = g_build_filename (c->artifacts_dir, "index.json", NULL);
  g_autoptr (GBytes) index_bytes = NULL;
  g_autoptr (JsonNode) index = NULL;
  g_autofree char *found = NULL;
  g_autofree char *found_sig = NULL;
  g_autofree char *tie = NULL;
  g_autoptr (GBytes) found_bytes = NULL;
  guint found_score = 0;
  JsonArray *entries;

  index_bytes = mv_file_get_contents_at (AT_FDCWD, index_path, FALSE, MANIFEST_MAX, error);
  if (index_bytes == NULL)
    return mv_prefix_error (error, "image volume %s", volume);
  index = mv_hook_parse_json (index_bytes, "artifact store index", FALSE, error);
  if (index == NULL)
    return mv_prefix_error (error, "image volume %s", volume);
  entries = mv_json_get_array (json_node_get_object (index), "manifests");
  for (guint i = 0; entries && i < json_array_get_length (entries); i++)
    {
      const char *dig = mv_json_get_string (array_object (entries, i), "digest");
      g_autofree char *path = NULL;
      g_autoptr (GBytes) bytes = NULL;
      g_autoptr (JsonNode) m = NULL;
      g_autoptr (GError) local = NULL;
      g_autofree char *sig = NULL;
      g_autofree char *sub = NULL;
      guint score;

      if (dig == NULL || strlen (dig) != 71 || !g_str_has_prefix (dig, "sha256:")
          || strspn (dig + 7, "0123456789abcdef") != 64 || g_strcmp0 (found, dig) == 0)
        continue;
      path = g_build_filename (c->artifacts_dir, "blobs", "sha256", dig + 7, NULL);
      bytes = mv_file_get_contents_at (AT_FDCWD, path, FALSE, MANIFEST_MAX, &local);
      if (bytes != NULL)
        m = mv_hook_parse_json (bytes, "artifact manifest", FALSE, &local);
      if (m == NULL || !JSON_NODE_HOLDS_OBJECT (m)
          || !manifest_holds_blobs (json_node_get_object (m), rel_by_digest))
        continue;
      if (!derive_subpath (json_node_get_object (m), rel_by_digest, volume, &sub, &local))
        continue;
      score = unmounted_named_layers (json_node_get_object (m), rel_by_digest, sub);
      sig = layers_signature (json_node_get_object (m));
      if (found != NULL && score == found_score && !g_str_equal (sig, found_sig))
        {
          g_free (tie);
          tie = g_strdup (dig);
          continue;
        }
      if (found != NULL && (score > found_score || strcmp (found, dig) < 0))
        continue;
      if (found == NULL || score < found_score)
        g_clear_pointer (&tie, g_free);
      g_free (found);
      found = g_strdup (dig);
      found_score = score;
      g_free (found_sig);
      found_sig = g_steal_pointer (&sig);
      g_clear_pointer (&found_bytes, g_bytes_unref);
      found_bytes = g_steal_pointer (&bytes);
    }
  if (tie != NULL)
    return mv_throw (error, MV_ERROR_FAILED,
                     "image volume %s: CRI-O's artifact digest is not in its store, and both "
                     "%s and %s there match the mounted layers",
                     volume, found, tie);
  if (found == NULL)
    return mv_throw (error, MV_ERROR_NOT_FOUND,
                     "image volume %s: no artifact in %s holds the mounted layers", volume,
                     c->artifacts_dir);
  *manifest_digest = g_steal_pointer (&found);
  *out_bytes = g_steal_pointer (&found_bytes);
  return TRUE;
}

/* CRI-O image volumes of ModelPack artifacts (or any artifact: the library decides whether
 * it is ModelPack) -> actions. */
static gboolean
plan_image_volumes (const MvHookConfig *c, JsonObject *annotations, JsonObject *config,
                    GPtrArray *actions, GError **error)
{
  const char *volumes_json = mv_json_get_string (annotations, MV_HOOK_ANNOTATION_CRIO_VOLUMES);
  g_autoptr (JsonNode) parsed = NULL;
  g_autoptr (GHashTable) volumes = NULL; /* container_path -> manifest digest */
  JsonArray *list, *mounts;
  GHashTableIter it;
  gpointer k, v;

  if (volumes_json == NULL)
    return TRUE;
  parsed = parse_array (volumes_json, "annotation " MV_HOOK_ANNOTATION_CRIO_VOLUMES, error);
  if (parsed == NULL)
    return FALSE;
  list = json_node_get_array (parsed);
  volumes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  for (guint i = 0; i < json_array_get_length (list); i++)
    {
      JsonNode *n = json_array_get_element (list, i);
      JsonObject *vol = JSON_NODE_HOLDS_OBJECT (n) ? json_node_get_object (n) : NULL;
      const char *cpath = mv_json_get_string (vol, "container_path");
      const char *image = mv_json_get_string (mv_json_get_object (vol, "image"), "image");
      g_autofree char *blob = artifact_blob_digest (c, mv_json_get_string (vol, "host_path"));
      g_autofree char *manifest = NULL;

      if (blob == NULL || cpath == NULL || image == NULL)
        continue;
      manifest = g_str_has_prefix (image, "sha256:") ? g_strdup (image)
                                                     : g_strconcat ("sha256:", image, NULL);
      if (strlen (manifest) != 71 || strspn (manifest + 7, "0123456789abcdef") != 64)
        return mv_throw (error, MV_ERROR_FAILED, "image volume %s: bad artifact digest", cpath);
      g_hash_table_replace (volumes, g_strdup (cpath), g_steal_pointer (&manifest));
    }

  mounts = mv_json_get_array (config, "mounts");
  g_hash_table_iter_init (&it, volumes);
  while (g_hash_table_iter_next (&it, &k, &v))
    {
      const char *volume = k;
      g_autoptr (GHashTable) rel_by_digest
          = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
      g_autofree char *manifest_path = NULL;
      g_autofree char *digest = NULL;
      g_autoptr (GBytes) manifest_bytes = NULL;
      g_autoptr (JsonNode) manifest = NULL;
      g_autoptr (MvHookAction) a = g_new0 (MvHookAction, 1);
      gsize vlen = strlen (volume);

      for (guint i = 0; mounts && i < json_array_get_length (mounts); i++)
        {
          JsonObject *m = array_object (mounts, i);
          const char *dest = mv_json_get_string (m, "destination");
          g_autofree char *blob = artifact_blob_digest (c, mv_json_get_string (m, "source"));

          if (blob == NULL || dest == NULL || strncmp (dest, volume, vlen) != 0
              || dest[vlen] != '/')
            continue;
          g_hash_table_replace (rel_by_digest, g_steal_pointer (&blob), g_strdup (dest + vlen + 1));
        }
      if (g_hash_table_size (rel_by_digest) == 0)
        continue;

      manifest_path
          = g_build_filename (c->artifacts_dir, "blobs", "sha256", (const char *)v + 7, NULL);
      if (faccessat (AT_FDCWD, manifest_path, F_OK, AT_SYMLINK_NOFOLLOW) != 0 && errno == ENOENT)
        {
          if (!find_manifest_by_blobs (c, volume, rel_by_digest, &digest, &manifest_bytes, error))
            return FALSE;
        }
      else
        {
          manifest_bytes
              = mv_file_get_contents_at (AT_FDCWD, manifest_path, FALSE, MANIFEST_MAX, error);
          if (manifest_bytes == NULL)
            return mv_prefix_error (error, "image volume %s", volume);
          digest = g_strdup (v);
        }
      manifest = mv_hook_parse_json (manifest_bytes, "artifact manifest", FALSE, error);
      if (manifest == NULL)
        return mv_prefix_error (error, "image volume %s", volume);
      if (!JSON_NODE_HOLDS_OBJECT (manifest)
          || !manifest_holds_blobs (json_node_get_object (manifest), rel_by_digest))
        return mv_throw (error, MV_ERROR_FAILED,
                         "image volume %s: artifact %s does not list the layers mounted for it",
                         volume, digest);
      if (!derive_subpath (json_node_get_object (manifest), rel_by_digest, volume, &a->subpath,
                           error))
        return FALSE;
      if (!mv_path_validate_container_dest (volume, NULL, error))
        return mv_prefix_error (error, "image volume");
      a->layout = g_strdup (c->artifacts_dir);
      a->manifest = g_steal_pointer (&digest);
      a->dest = g_strdup (volume);
      g_ptr_array_add (actions, g_steal_pointer (&a));
    }
  return TRUE;
}

/* modelvol.io/mounts: [{"ref": "...", "path": "/abs"[, "subPath": "dir"]}] */
static gboolean
plan_annotation (JsonObject *annotations, GPtrArray *actions, GError **error)
{
  const char *value = mv_json_get_string (annotations, MV_HOOK_ANNOTATION_MOUNTS);
  g_autoptr (JsonNode) parsed = NULL;
  JsonArray *list;

  if (value == NULL)
    return TRUE;
  if (strlen (value) > ANNOTATION_MAX)
    return mv_throw (error, MV_ERROR_LIMIT_EXCEEDED, "annotation %s is larger than %d bytes",
                     MV_HOOK_ANNOTATION_MOUNTS, ANNOTATION_MAX);
  parsed = parse_array (value, "annotation " MV_HOOK_ANNOTATION_MOUNTS, error);
  if (parsed == NULL)
    return FALSE;
  list = json_node_get_array (parsed);
  if (json_array_get_length (list) > MOUNTS_MAX)
    return mv_throw (error, MV_ERROR_LIMIT_EXCEEDED, "annotation %s has more than %d entries",
                     MV_HOOK_ANNOTATION_MOUNTS, MOUNTS_MAX);
  for (guint i = 0; i < json_array_get_length (list); i++)
    {
      JsonNode *n = json_array_get_element (list, i);
      JsonObject *o = JSON_NODE_HOLDS_OBJECT (n) ? json_node_get_object (n) : NULL;
      g_autoptr (MvHookAction) a = g_new0 (MvHookAction, 1);
      g_autoptr (GList) members = NULL;
      const char *ref, *path, *sub;

      if (o == NULL)
        return mv_throw (error, MV_ERROR_FAILED, "annotation %s: entry %u is not an object",
                         MV_HOOK_ANNOTATION_MOUNTS, i);
      members = json_object_get_members (o);
      for (GList *l = members; l; l = l->next)
        if (!g_str_equal (l->data, "ref") && !g_str_equal (l->data, "path")
            && !g_str_equal (l->data, "subPath"))
          {
            g_autofree char *shown = mv_escape_for_display (l->data, 64);
            return mv_throw (error, MV_ERROR_FAILED, "annotation %s: entry %u: unknown key '%s'",
                             MV_HOOK_ANNOTATION_MOUNTS, i, shown);
          }
      ref = mv_json_get_string (o, "ref");
      path = mv_json_get_string (o, "path");
      sub = mv_json_get_string (o, "subPath");
      if (ref == NULL || path == NULL || (json_object_has_member (o, "subPath") && sub == NULL))
        return mv_throw (error, MV_ERROR_FAILED,
                         "annotation %s: entry %u needs string \"ref\" and \"path\"",
                         MV_HOOK_ANNOTATION_MOUNTS, i);
      if (!mv_path_validate_container_dest (path, NULL, error))
        return mv_prefix_error (error, "annotation %s: entry %u", MV_HOOK_ANNOTATION_MOUNTS, i);
      if (sub != NULL && *sub != '\0')
        {
          if (!mv_path_normalize (sub, MV_PATH_NONE, &a->subpath, error))
            return mv_prefix_error (error, "annotation %s: entry %u: subPath",
                                    MV_HOOK_ANNOTATION_MOUNTS, i);
        }
      a->ref = g_strdup (ref);
      a->dest = g_strdup (path);
      g_ptr_array_add (actions, g_steal_pointer (&a));
    }
  return TRUE;
}

gboolean
mv_hook_wants (const MvHookConfig *c, JsonObject *annotations)
{
  const char *volumes = mv_json_get_string (annotations, MV_HOOK_ANNOTATION_CRIO_VOLUMES);

  return mv_json_get_string (annotations, MV_HOOK_ANNOTATION_MOUNTS) != NULL
         || (volumes != NULL && strstr (volumes, c->artifacts_dir) != NULL);
}

gboolean
mv_hook_plan (const MvHookConfig *c, JsonObject *state_annotations, JsonObject *config,
              GPtrArray *actions, GError **error)
{
  JsonObject *annotations = state_annotations;

  /* Annotations as the runtime wrote them into config.json rule; the state's are a copy. */
  if (mv_json_get_object (config, "annotations") != NULL)
    annotations = mv_json_get_object (config, "annotations");
  return plan_image_volumes (c, annotations, config, actions, error)
         && plan_annotation (annotations, actions, error);
}

gint64
mv_hook_state_pid (JsonObject *state)
{
  JsonNode *n = json_object_get_member (state, "pid");

  return (n && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_INT64)
             ? json_node_get_int (n)
             : 0;
}

char *
mv_hook_rootfs (JsonObject *config, const char *bundle, GError **error)
{
  const char *root_path = mv_json_get_string (mv_json_get_object (config, "root"), "path");

  if (root_path == NULL)
    {
      mv_throw (error, MV_ERROR_FAILED, "config.json has no root.path");
      return NULL;
    }
  return g_path_is_absolute (root_path) ? g_strdup (root_path)
                                        : g_build_filename (bundle, root_path, NULL);
}

/* An allowlist entry "host[:port]" or "host[:port]/path" matches a normalized reference at a
 * component boundary. After a bare "host[:port]" a ':' starts a port, another registry: only
 * a repository prefix ends where a tag or digest starts. */
gboolean
mv_hook_pull_allowed (const MvHookConfig *c, const char *normalized)
{
  for (guint i = 0; c->pull_allowlist[i]; i++)
    {
      const char *e = c->pull_allowlist[i];
      gsize n = strlen (e);
      gboolean repo = strchr (e, '/') != NULL;
      if (n > 0 && strncmp (normalized, e, n) == 0
          && (normalized[n] == '/' || (repo && (normalized[n] == ':' || normalized[n] == '@'))))
        return TRUE;
    }
  return FALSE;
}
