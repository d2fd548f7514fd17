/* mv-unpack: layer blobs read once, tar parsed with libarchive into entries.
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <archive.h>
#include <archive_entry.h>
#include <string.h>
#include <sys/stat.h>

#include "mv-error-private.h"
#include "mv-path-private.h"
#include "mv-unpack-private.h"

#define BLOB_CHUNK (1024 * 1024)

void
mv_blob_reader_init (MvBlobReader *self, GInputStream *in, const char *digest, gint64 size,
                     GCancellable *cancellable)
{
  memset (self, 0, sizeof *self);
  self->in = g_object_ref (in);
  self->digester = mv_digester_new (digest, NULL);
  g_assert (self->digester != NULL); /* digests are validated before they get here */
  self->size = size;
  self->digest = digest;
  self->cancellable = cancellable;
}

void
mv_blob_reader_clear (MvBlobReader *self)
{
  g_clear_object (&self->in);
  g_clear_pointer (&self->digester, mv_digester_free);
}

gssize
mv_blob_reader_read (MvBlobReader *self, void *buf, gsize len, GError **error)
{
  gssize n;
  guint64 left = (guint64) self->size - MIN (self->nread, (guint64) self->size);

  /* Ask for one byte beyond the declared size, never more: that byte proves a size lie. */
  len = MIN (len, left + 1);
  n = g_input_stream_read (self->in, buf, len, self->cancellable, error);
  if (n < 0)
    return -1;
  self->nread += n;
  if (self->nread > (guint64) self->size)
    {
      mv_throw (error, MV_ERROR_DIGEST_MISMATCH, "blob %s is larger than its declared size %" G_GINT64_FORMAT,
                self->digest, self->size);
      return -1;
    }
  mv_digester_update (self->digester, buf, n);
  return n;
}

gboolean
mv_blob_reader_finish (MvBlobReader *self, GError **error)
{
  g_autofree char *buf = g_malloc (64 * 1024);

  for (;;)
    {
      gssize n = mv_blob_reader_read (self, buf, 64 * 1024, error);
      if (n < 0)
        return FALSE;
      if (n == 0)
        break;
    }
  if (self->nread != (guint64) self->size)
    return mv_throw (error, MV_ERROR_DIGEST_MISMATCH,
                     "blob %s has %" G_GUINT64_FORMAT " bytes, its descriptor says %" G_GINT64_FORMAT,
                     self->digest, self->nread, self->size);
  return mv_digester_verify (self->digester, self->size, error);
}

void
mv_entry_clear (MvEntry *entry)
{
  g_clear_pointer (&entry->path, g_free);
  g_clear_pointer (&entry->link_target, g_free);
  memset (entry, 0, sizeof *entry);
}

struct MvEntryReader
{
  struct archive *a;
  MvBlobReader *blob;
  MvLayerFormat format;
  char *buf;
  GError *read_error; /* from the blob, surfaced instead of libarchive's generic message */
  gint64 data_offset;
  gboolean filter_checked;
};

static la_ssize_t
tar_read_cb (struct archive *a, void *user_data, const void **out_buf)
{
  MvEntryReader *self = user_data;
  gssize n;

  if (self->read_error != NULL)
    return -1;
  n = mv_blob_reader_read (self->blob, self->buf, BLOB_CHUNK, &self->read_error);
  if (n < 0)
    {
      archive_set_error (a, EIO, "%s", self->read_error->message);
      return -1;
    }
  *out_buf = self->buf;
  return n;
}

static gboolean
throw_archive (MvEntryReader *self, GError **error)
{
  if (self->read_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&self->read_error));
      return FALSE;
    }
  const char *msg = archive_error_string (self->a);
  return mv_throw (error, MV_ERROR_INVALID_MANIFEST, "invalid %s data: %s",
                   self->format == MV_LAYER_FORMAT_TAR_GZIP   ? "tar+gzip"
                   : self->format == MV_LAYER_FORMAT_TAR_ZSTD ? "tar+zstd"
                                                              : "tar",
                   msg ? msg : "unknown libarchive error");
}

MvEntryReader *
mv_tar_reader_new (MvBlobReader *blob, MvLayerFormat format, GError **error)
{
  g_autoptr(MvEntryReader) self = g_new0 (MvEntryReader, 1);

  self->blob = blob;
  self->format = format;
  self->buf = g_malloc (BLOB_CHUNK);
  self->a = archive_read_new ();
  if (self->a == NULL)
    {
      mv_throw (error, MV_ERROR_FAILED, "out of memory");
      return NULL;
    }
  archive_read_support_format_tar (self->a);
  /* Exactly the compression the media type names: no sniffing of other formats. */
  if (format == MV_LAYER_FORMAT_TAR_GZIP)
    archive_read_support_filter_gzip (self->a);
  else if (format == MV_LAYER_FORMAT_TAR_ZSTD)
    archive_read_support_filter_zstd (self->a);
  else
    g_assert (format == MV_LAYER_FORMAT_TAR);

  if (archive_read_open (self->a, self, NULL, tar_read_cb, NULL) != ARCHIVE_OK)
    {
      throw_archive (self, error);
      return NULL;
    }
  return g_steal_pointer (&self);
}

static const char *
type_in_words (mode_t type)
{
  switch (type)
    {
    case AE_IFCHR:
      return "character device";
    case AE_IFBLK:
      return "block device";
    case AE_IFIFO:
      return "fifo";
    case AE_IFSOCK:
      return "socket";
    default:
      return "entry of unknown type";
    }
}

int
mv_entry_reader_next (MvEntryReader *self, MvEntry *out_entry, GError **error)
{
  struct archive_entry *ae = NULL;
  int r;
  const char *name;

  memset (out_entry, 0, sizeof *out_entry);
  r = archive_read_next_header (self->a, &ae);
  if (r != ARCHIVE_OK && r != ARCHIVE_WARN && r != ARCHIVE_EOF)
    {
      throw_archive (self, error);
      return -1;
    }
  if (!self->filter_checked)
    {
      /* The media type's compression must really be there: a gzip layer must be gzip, a
       * plain tar layer must not be compressed (only the filter we asked for is enabled). */
      int code = archive_filter_code (self->a, 0);
      if ((self->format == MV_LAYER_FORMAT_TAR_GZIP && code != ARCHIVE_FILTER_GZIP)
          || (self->format == MV_LAYER_FORMAT_TAR_ZSTD && code != ARCHIVE_FILTER_ZSTD))
        {
          mv_throw (error, MV_ERROR_INVALID_MANIFEST, "layer data is not %s-compressed",
                    self->format == MV_LAYER_FORMAT_TAR_GZIP ? "gzip" : "zstd");
          return -1;
        }
      self->filter_checked = TRUE;
    }
  if (r == ARCHIVE_EOF)
    return 0;
  self->data_offset = 0;

  name = archive_entry_pathname_utf8 (ae);
  if (name == NULL)
    name = archive_entry_pathname (ae);
  if (name == NULL)
    {
      mv_throw (error, MV_ERROR_UNSAFE_PATH, "tar member with no usable name");
      return -1;
    }
  out_entry->path = g_strdup (name);
  out_entry->mode = archive_entry_perm (ae);
  out_entry->size = archive_entry_size (ae);
  out_entry->sparse = archive_entry_sparse_count (ae) > 0;

  if (archive_entry_hardlink (ae) != NULL)
    {
      out_entry->type = MV_ENTRY_HARDLINK;
      out_entry->what = "hardlink";
      out_entry->link_target = g_strdup (archive_entry_hardlink (ae));
      return 1;
    }
  switch (archive_entry_filetype (ae))
    {
    case AE_IFREG:
      out_entry->type = MV_ENTRY_FILE;
      out_entry->what = "file";
      break;
    case AE_IFDIR:
      out_entry->type = MV_ENTRY_DIR;
      out_entry->what = "directory";
      break;
    case AE_IFLNK:
      {
        const char *t = archive_entry_symlink_utf8 (ae);
        if (t == NULL)
          t = archive_entry_symlink (ae);
        out_entry->type = MV_ENTRY_SYMLINK;
        out_entry->what = "symlink";
        out_entry->link_target = g_strdup (t ? t : "");
        break;
      }
    default:
      out_entry->type = MV_ENTRY_OTHER;
      out_entry->what = type_in_words (archive_entry_filetype (ae));
      break;
    }
  return 1;
}

gssize
mv_entry_reader_read_data (MvEntryReader *self, const void **out_buf, GError **error)
{
  size_t size = 0;
  la_int64_t offset = 0;
  int r = archive_read_data_block (self->a, out_buf, &size, &offset);

  if (r == ARCHIVE_EOF)
    return 0;
  if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
    {
      throw_archive (self, error);
      return -1;
    }
  if (offset != self->data_offset)
    {
      mv_throw (error, MV_ERROR_UNSUPPORTED, "sparse tar members are not supported");
      return -1;
    }
  self->data_offset += size;
  return (gssize) size;
}

void
mv_entry_reader_free (MvEntryReader *self)
{
  if (self == NULL)
    return;
  if (self->a != NULL)
    archive_read_free (self->a);
  g_clear_error (&self->read_error);
  g_free (self->buf);
  g_free (self);
}
