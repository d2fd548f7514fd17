/* mv-layout: an OCI image layout directory as a model source (CRI-O's artifact store,
 * skopeo's oci:DIR:TAG).
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <gio/gunixinputstream.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <sys/stat.h>

#include "mv-digest-private.h"
#include "mv-error-private.h"
#include "mv-fdio-private.h"
#include "mv-path-private.h"
#include "mv-source-private.h"

#define LAYOUT_FILE_MAX 4096

typedef struct
{
  MvSource parent;
  char *dir;
  char *entry;
  char *description;
  int dfd;
  MvIndex *index;
} MvLayoutSource;

void
mv_source_free (MvSource *self)
{
  if (self != NULL)
    self->klass->free (self);
}

static void
layout_free (MvSource *source)
{
  MvLayoutSource *self = (MvLayoutSource *)source;
  g_free (self->dir);
  g_free (self->entry);
  g_free (self->description);
  mv_close_fdp (&self->dfd);
  g_clear_pointer (&self->index, mv_index_free);
  g_free (self);
}

static const char *
layout_describe (MvSource *source)
{
  return ((MvLayoutSource *)source)->description;
}

static const char *
ref_name_of (MvDescriptor *d)
{
  return d->annotations ? g_hash_table_lookup (d->annotations, MV_ANNOT_REF_NAME) : NULL;
}

static MvDescriptor *
descriptor_copy (const MvDescriptor *d)
{
  MvDescriptor *c = g_new0 (MvDescriptor, 1);
  c->media_type = g_strdup (d->media_type);
  c->digest = g_strdup (d->digest);
  c->size = d->size;
  c->artifact_type = g_strdup (d->artifact_type);
  if (d->annotations)
    {
      GHashTableIter it;
      gpointer k, v;
      c->annotations = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
      g_hash_table_iter_init (&it, d->annotations);
      while (g_hash_table_iter_next (&it, &k, &v))
        g_hash_table_insert (c->annotations, g_strdup (k), g_strdup (v));
    }
  c->urls = g_strdupv (d->urls);
  return c;
}

static MvDescriptor *
layout_get_root (MvSource *source, char **out_ref_name, GCancellable *cancellable, GError **error)
{
  MvLayoutSource *self = (MvLayoutSource *)source;
  GPtrArray *m = self->index->manifests;
  MvDescriptor *found = NULL;

  if (self->entry == NULL)
    {
      if (m->len != 1)
        {
          mv_throw (error, MV_ERROR_NOT_FOUND,
                    "%s has %u entries: name one as oci:DIR:NAME or oci:DIR@DIGEST",
                    self->description, m->len);
          return NULL;
        }
      found = m->pdata[0];
    }
  else if (self->entry[0] == '@')
    {
      const char *digest = self->entry + 1;
      if (!mv_digest_validate (digest, NULL, NULL, error))
        return NULL;
      for (guint i = 0; i < m->len && found == NULL; i++)
        if (g_str_equal (((MvDescriptor *)m->pdata[i])->digest, digest))
          found = m->pdata[i];
    }
  else
    {
      for (guint i = 0; i < m->len && found == NULL; i++)
        if (g_strcmp0 (ref_name_of (m->pdata[i]), self->entry) == 0)
          found = m->pdata[i];
    }
  if (found == NULL)
    {
      g_autofree char *shown = mv_escape_for_display (self->entry, 200);
      mv_throw (error, MV_ERROR_NOT_FOUND, "%s: no entry '%s' in index.json", self->dir, shown);
      return NULL;
    }
  if (out_ref_name)
    *out_ref_name = g_strdup (ref_name_of (found));
  return descriptor_copy (found);
}

static int
open_blob_fd (MvLayoutSource *self, const char *digest, GError **error)
{
  MvDigestAlgorithm alg;
  const char *hex;
  mv_autofd int blobs_dfd = -1;
  int fd;

  if (!mv_digest_validate (digest, &alg, &hex, error))
    return -1;
  blobs_dfd = mv_chaseat (self->dfd, alg == MV_DIGEST_SHA512 ? "blobs/sha512" : "blobs/sha256",
                          MV_CHASE_NO_SYMLINKS, error);
  if (blobs_dfd < 0)
    return -1;
  fd = openat (blobs_dfd, hex, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
  if (fd < 0)
    {
      if (errno == ENOENT)
        mv_throw (error, MV_ERROR_NOT_FOUND, "blob %s is missing", digest);
      else
        mv_throw_errno_prefix (error, "opening blob %s", digest);
      return -1;
    }
  return fd;
}

static GBytes *
layout_fetch_bytes (MvSource *source, const char *digest, gint64 size, gsize max_size,
                    gboolean manifest, GCancellable *cancellable, GError **error)
{
  MvLayoutSource *self = (MvLayoutSource *)source;
  mv_autofd int fd = open_blob_fd (self, digest, error);
  g_autoptr (GBytes) bytes = NULL;

  if (fd < 0)
    return NULL;
  {
    g_autofree char *what = g_strdup_printf ("blob %s", digest);
    bytes = mv_fd_read_all (fd, max_size, what, error);
  }
  if (bytes == NULL)
    return NULL;
  return g_steal_pointer (&bytes);
}

static GInputStream *
layout_open_blob (MvSource *source, const MvDescriptor *desc, GCancellable *cancellable,
                  GError **error)
{
  MvLayoutSource *self = (MvLayoutSource *)source;
  int fd = open_blob_fd (self, desc->digest, error);

  if (fd < 0)
    return NULL;
  /* A FIFO or device must not block us: only regular files are blobs. */
  {
    struct stat st;
    if (fstat (fd, &st) < 0 || !S_ISREG (st.st_mode))
      {
        close (fd);
        mv_throw (error, MV_ERROR_INVALID_MANIFEST, "blob %s is not a regular file", desc->digest);
        return NULL;
      }
    int flags = fcntl (fd, F_GETFL);
    (void)fcntl (fd, F_SETFL, flags & ~O_NONBLOCK);
    posix_fadvise (fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  }
  return g_unix_input_stream_new (fd, TRUE);
}

static const MvSourceClass layout_class = {
  .get_root = layout_get_root,
  .fetch_bytes = layout_fetch_bytes,
  .open_blob = layout_open_blob,
  .describe = layout_describe,
  .free = layout_free,
};

MvSource *
mv_layout_source_new (const char *dir, const char *entry, GError **error)
{
  g_autoptr (MvSource) source = NULL;
  MvLayoutSource *self = g_new0 (MvLayoutSource, 1);
  g_autoptr (GBytes) layout = NULL;
  g_autoptr (GBytes) index = NULL;
  g_autoptr (JsonNode) root = NULL;
  JsonNode *member;

  self->parent.klass = &layout_class;
  self->dfd = -1;
  source = (MvSource *)self;
  self->dir = g_strdup (dir);
  self->entry = g_strdup (entry);
  self->description = entry ? g_strdup_printf ("oci:%s%s%s", dir, entry[0] == '@' ? "" : ":", entry)
                            : g_strdup_printf ("oci:%s", dir);

  self->dfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (self->dfd < 0)
    {
      mv_throw_errno_prefix (error, "opening OCI layout '%s'", dir);
      return NULL;
    }
  layout = mv_file_get_contents_at (self->dfd, "oci-layout", FALSE, LAYOUT_FILE_MAX, error);
  if (layout == NULL)
    {
      mv_prefix_error (error, "'%s' is not an OCI image layout", dir);
      return NULL;
    }
  /* Strict JSON (one object, no trailing values, which json-glib alone would take), and
   * typed access: json-glib's _with_default getters are criticals on other types. */
  root = mv_json_parse_object (g_bytes_get_data (layout, NULL), g_bytes_get_size (layout),
                               LAYOUT_FILE_MAX, "oci-layout", NULL);
  if (root == NULL
      || (member = json_object_get_member (json_node_get_object (root), "imageLayoutVersion"))
             == NULL
      || !JSON_NODE_HOLDS_VALUE (member) || json_node_get_value_type (member) != G_TYPE_STRING
      || !g_str_has_prefix (json_node_get_string (member), "1."))
    {
      mv_throw (error, MV_ERROR_INVALID_MANIFEST, "%s/oci-layout: not an OCI layout version 1.x",
                dir);
      return NULL;
    }
  index = mv_file_get_contents_at (self->dfd, "index.json", FALSE, MV_INDEX_MAX_SIZE, error);
  if (index == NULL)
    {
      mv_prefix_error (error, "OCI layout '%s'", dir);
      return NULL;
    }
  self->index = mv_index_parse (g_bytes_get_data (index, NULL), g_bytes_get_size (index), error);
  if (self->index == NULL)
    {
      mv_prefix_error (error, "%s/index.json", dir);
      return NULL;
    }
  return g_steal_pointer (&source);
}
