/* mv-unpack: layer blobs read once, tar parsed with libarchive into entries.
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <gio/gunixinputstream.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mv-error-private.h"
#include "mv-fdio-private.h"
#include "mv-path-private.h"
#include "mv-unpack-private.h"

/* Read buffers: one per layer where the consumer hashes (raw, plain tar), N_CHUNKS where a
 * hasher thread does (compressed tar). Small, for a flat RSS: the kernel buffers the stream. */
#define BLOB_CHUNK (64 * 1024)

#define N_CHUNKS 4
#define THREADED_HASH_MIN (4 * 1024 * 1024)
/* Kernel copies of a local blob go this far at a time; each step is then hashed from a
 * mapping of the destination while the next one is copied. */
#define COPY_STEP (1024 * 1024)

typedef struct
{
  const guint8 *data;
  gsize len;
  guint8 *buffer; /* read mode: BLOB_CHUNK bytes, allocated on first use */
  void *map;      /* copy mode: the window of the destination holding @data, unmapped once hashed */
  gsize map_len;
  int refs; /* the consumer and the hasher */
} Chunk;

struct MvBlobReader
{
  GInputStream *in;
  MvDigester *digester;
  MvDigester *also; /* copy mode: fed the same bytes in the same pass (borrowed) */
  gint64 size;
  guint64 nread;
  const char *digest; /* for messages */
  GCancellable *cancellable;
  MvBlobProgressFunc progress;
  gpointer progress_data;
  gboolean eof;

  GMutex mutex;
  GCond cond;
  Chunk chunks[N_CHUNKS];
  Chunk *current;  /* held by the consumer */
  GQueue to_hash;  /* of Chunk*, for the hasher thread */
  GThread *hasher; /* NULL: hash inline */
  gboolean stop;

  /* Deferred: the consumer's thread hashes each chunk as it goes, pairing the stretches it
   * also hashes for an object (plain tar file data) with the blob digest in one pass. */
  gboolean deferred;
  gsize current_hashed; /* bytes of the current chunk fed to the blob digest */
};

static void
hash_chunk (MvBlobReader *self, Chunk *c)
{
  if (self->also != NULL)
    mv_digester_update2 (self->digester, self->also, c->data, c->len);
  else
    mv_digester_update (self->digester, c->data, c->len);
  if (c->map != NULL)
    {
      (void)munmap (c->map, c->map_len);
      c->map = NULL;
    }
}

static gpointer
hasher_thread (gpointer data)
{
  MvBlobReader *self = data;

  g_mutex_lock (&self->mutex);
  for (;;)
    {
      Chunk *c;
      while (g_queue_is_empty (&self->to_hash) && !self->stop)
        g_cond_wait (&self->cond, &self->mutex);
      if (g_queue_is_empty (&self->to_hash))
        break;
      c = g_queue_pop_head (&self->to_hash);
      g_mutex_unlock (&self->mutex);
      hash_chunk (self, c);
      g_mutex_lock (&self->mutex);
      c->refs--;
      g_cond_broadcast (&self->cond);
    }
  g_mutex_unlock (&self->mutex);
  return NULL;
}

MvBlobReader *
mv_blob_reader_new (GInputStream *in, const char *digest, gint64 size, GCancellable *cancellable)
{
  MvBlobReader *self = g_new0 (MvBlobReader, 1);

  self->in = g_object_ref (in);
  self->digester = mv_digester_new (digest, NULL);
  g_assert (self->digester != NULL); /* digests are validated before they get here */
  self->size = size;
  self->digest = digest;
  self->cancellable = cancellable;
  g_mutex_init (&self->mutex);
  g_cond_init (&self->cond);
  g_queue_init (&self->to_hash);
  return self;
}

void
mv_blob_reader_defer_hashing (MvBlobReader *self)
{
  g_assert (self->nread == 0 && self->hasher == NULL);
  self->deferred = TRUE;
}

/* Feeds the blob digest what the consumer's chunk holds beyond what was fed already. */
static void
catch_up_current (MvBlobReader *self)
{
  Chunk *c = self->current;

  if (!self->deferred || c == NULL || self->current_hashed >= c->len)
    return;
  mv_digester_update (self->digester, c->data + self->current_hashed,
                      c->len - self->current_hashed);
  self->current_hashed = c->len;
}

void
mv_blob_reader_hash_data_also (MvBlobReader *self, MvDigester *also, const void *data, gsize len)
{
  Chunk *c = self->current;
  const guint8 *p = data;

  if (self->deferred && c != NULL && p >= c->data + self->current_hashed && len <= c->len
      && p <= c->data + c->len - len)
    {
      gsize off = p - c->data;
      /* The header bytes before it, then the data for both digests at once. */
      mv_digester_update (self->digester, c->data + self->current_hashed,
                          off - self->current_hashed);
      mv_digester_update2 (self->digester, also, p, len);
      self->current_hashed = off + len;
      return;
    }
  /* Not in the chunk as read (decompressed, or copied by libarchive): on its own. */
  mv_digester_update (also, data, len);
}

void
mv_blob_reader_set_progress (MvBlobReader *self, MvBlobProgressFunc func, gpointer user_data)
{
  self->progress = func;
  self->progress_data = user_data;
}

/* Waits until the hasher has seen every chunk handed to it. */
static void
stop_hasher (MvBlobReader *self)
{
  if (self->hasher == NULL)
    return;
  g_mutex_lock (&self->mutex);
  self->stop = TRUE;
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->mutex);
  g_thread_join (self->hasher);
  self->hasher = NULL;
}

void
mv_blob_reader_free (MvBlobReader *self)
{
  if (self == NULL)
    return;
  stop_hasher (self);
  g_clear_object (&self->in);
  g_clear_pointer (&self->digester, mv_digester_free);
  for (int i = 0; i < N_CHUNKS; i++)
    {
      g_free (self->chunks[i].buffer);
      if (self->chunks[i].map != NULL)
        (void)munmap (self->chunks[i].map, self->chunks[i].map_len);
    }
  g_queue_clear (&self->to_hash);
  g_mutex_clear (&self->mutex);
  g_cond_clear (&self->cond);
  g_free (self);
}

guint64
mv_blob_reader_get_nread (MvBlobReader *self)
{
  return self->nread;
}

/* Releases the consumer's chunk and waits for one neither the consumer nor the hasher holds. */
static Chunk *
take_free_chunk (MvBlobReader *self)
{
  Chunk *c = NULL;

  g_mutex_lock (&self->mutex);
  if (self->current != NULL)
    {
      self->current->refs--;
      self->current = NULL;
      g_cond_broadcast (&self->cond);
    }
  while (c == NULL && !self->eof)
    {
      for (int i = 0; i < N_CHUNKS && c == NULL; i++)
        if (self->chunks[i].refs == 0)
          c = &self->chunks[i];
      if (c == NULL)
        g_cond_wait (&self->cond, &self->mutex);
    }
  g_mutex_unlock (&self->mutex);
  return c;
}

/* How much to ask for next: one byte beyond the declared size, never more, so that a size lie
 * shows without reading on. */
static gsize
next_request (MvBlobReader *self, gsize max)
{
  guint64 left = (guint64)self->size - MIN (self->nread, (guint64)self->size);
  return (gsize)MIN ((guint64)max, left + 1);
}

/* Counts @n more bytes; FALSE when that is beyond the declared size. */
static gboolean
account (MvBlobReader *self, gsize n, GError **error)
{
  self->nread += n;
  if (self->nread > (guint64)self->size)
    return mv_throw (error, MV_ERROR_DIGEST_MISMATCH,
                     "blob %s is larger than its declared size %" G_GINT64_FORMAT, self->digest,
                     self->size);
  if (n > 0 && self->progress != NULL)
    self->progress (self->nread, self->progress_data);
  return TRUE;
}

/* Hands a filled chunk to the hasher (or hashes it here), the consumer holding it too or not. */
static void
dispatch (MvBlobReader *self, Chunk *c, gboolean consumer_holds)
{
  if (self->deferred)
    {
      g_assert (consumer_holds);
      c->refs = 1;
      self->current_hashed = 0;
      return;
    }
  if (self->hasher == NULL && self->size >= THREADED_HASH_MIN)
    self->hasher = g_thread_new ("mv-blob-hash", hasher_thread, self);
  if (self->hasher == NULL)
    {
      hash_chunk (self, c);
      c->refs = consumer_holds ? 1 : 0;
      return;
    }
  g_mutex_lock (&self->mutex);
  c->refs = consumer_holds ? 2 : 1;
  g_queue_push_tail (&self->to_hash, c);
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->mutex);
}

gssize
mv_blob_reader_next (MvBlobReader *self, const void **out_data, GError **error)
{
  Chunk *c;
  gssize n;

  catch_up_current (self);
  c = take_free_chunk (self);
  if (c == NULL)
    return 0; /* at the end */
  /* Local files never poll the cancellable: check it here, once per chunk. */
  if (g_cancellable_set_error_if_cancelled (self->cancellable, error))
    return -1;
  if (c->buffer == NULL)
    c->buffer = g_malloc (BLOB_CHUNK);
  n = g_input_stream_read (self->in, c->buffer, next_request (self, BLOB_CHUNK), self->cancellable,
                           error);
  if (n < 0 || !account (self, n, error))
    return -1;
  if (n == 0)
    {
      self->eof = TRUE;
      return 0;
    }
  c->data = c->buffer;
  c->len = n;
  dispatch (self, c, TRUE);
  self->current = c;
  *out_data = c->data;
  return n;
}

/* One kernel copy of up to @want bytes from @src to @dest at their file offsets: -1 with
 * errno on failure. @how picks copy_file_range (0) or sendfile (1). */
static gssize
kernel_copy (int how, int src, int dest, gsize want)
{
  for (;;)
    {
      gssize n = how == 0 ? copy_file_range (src, NULL, dest, NULL, want, 0)
                          : sendfile (dest, src, NULL, want);
      if (n < 0 && errno == EINTR)
        continue;
      return n;
    }
}

/* The copy loop of mv_blob_reader_copy_to_fd(); leaves the last windows to the hasher. */
static int
copy_to_fd (MvBlobReader *self, int dest_fd, GError **error)
{
  const char *test_copy = g_getenv ("MODELVOL_TEST_KERNEL_COPY");
  gsize page = (gsize)sysconf (_SC_PAGESIZE);
  guint64 flushed = 0;
  struct stat st;
  int how = g_strcmp0 (test_copy, "sendfile") == 0 ? 1 : 0;
  int src;

  if (self->nread > 0 || self->eof || self->deferred || !G_IS_UNIX_INPUT_STREAM (self->in)
      || g_strcmp0 (test_copy, "none") == 0)
    return 0;
  src = g_unix_input_stream_get_fd (G_UNIX_INPUT_STREAM (self->in));
  if (fstat (src, &st) < 0 || !S_ISREG (st.st_mode))
    return 0;
  for (;;)
    {
      Chunk *c = take_free_chunk (self);
      guint64 start = self->nread;
      guint64 base;
      gssize n;

      if (g_cancellable_set_error_if_cancelled (self->cancellable, error))
        return -1;
      n = kernel_copy (how, src, dest_fd, next_request (self, COPY_STEP));
      if (n < 0 && start == 0
          && (errno == EXDEV || errno == EINVAL || errno == EOPNOTSUPP || errno == ENOSYS))
        {
          /* copy_file_range between these filesystems, then sendfile: not here. */
          if (how++ == 0)
            continue;
          return 0;
        }
      if (n < 0)
        {
          mv_throw_errno_prefix (error, "copying blob %s into the store", self->digest);
          return -1;
        }
      if (!account (self, n, error))
        return -1;
      if (n == 0)
        break;
      mv_fd_start_writeback (dest_fd, &flushed, self->nread);
      /* Hash what was copied where it now is: in our own file, which nobody else can
       * truncate under the mapping, and still in the page cache. */
      base = start & ~(guint64)(page - 1);
      c->map_len = self->nread - base;
      c->map = mmap (NULL, c->map_len, PROT_READ, MAP_SHARED | MAP_POPULATE, dest_fd, base);
      if (c->map == MAP_FAILED)
        {
          c->map = NULL;
          mv_throw_errno_prefix (error, "mapping blob %s in the store", self->digest);
          return -1;
        }
      c->data = (const guint8 *)c->map + (start - base);
      c->len = n;
      dispatch (self, c, FALSE);
    }
  self->eof = TRUE;
  return 1;
}

int
mv_blob_reader_copy_to_fd (MvBlobReader *self, int dest_fd, MvDigester *also, GError **error)
{
  int r;

  g_assert (self->also == NULL);
  self->also = also;
  r = copy_to_fd (self, dest_fd, error);
  /* @also is borrowed: nothing may reach it once we return. */
  stop_hasher (self);
  self->also = NULL;
  return r;
}

gboolean
mv_blob_reader_finish (MvBlobReader *self, GError **error)
{
  for (;;)
    {
      const void *data;
      gssize n = mv_blob_reader_next (self, &data, error);
      if (n < 0)
        return FALSE;
      if (n == 0)
        break;
    }
  stop_hasher (self);
  if (self->nread != (guint64)self->size)
    return mv_throw (error, MV_ERROR_DIGEST_MISMATCH,
                     "blob %s has %" G_GUINT64_FORMAT
                     " bytes, its descriptor says %" G_GINT64_FORMAT,
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

/* Our own look at the tar headers that libarchive hides. libarchive 3.6 reads a PAX "path"
 * record as a C string, so "a\0/../../x" silently becomes "a"; it also has no cap of ours on
 * extended headers. The decompressed stream passes through this scanner on its way to the
 * tar parser: every extended header (PAX x/g, GNU L/K) is checked, and every header chain
 * start is compared with where libarchive says its entry began, so the two never disagree
 * on the stream's structure without the layer being refused. */
#define TAR_EXT_MAX (1024 * 1024)

typedef struct
{
  guint8 hdr[512];
  gsize hdr_fill;
  guint64 pos;       /* stream offset of the next byte */
  guint64 data_left; /* data + padding of the current header still to pass */
  GByteArray *ext;   /* the extended header being collected, or NULL */
  guint64 ext_size;
  char ext_type;
  gboolean in_chain; /* the last header was an extension: the entry continues */
  GQueue starts;     /* of guint64*: chain starts not yet matched with libarchive */
  gboolean end;
} TarTap;

struct MvEntryReader
{
  struct archive *outer; /* the blob, decompressed by the media type's filter only */
  struct archive *a;     /* the tar parser, reading the outer's bytes through the tap */
  MvBlobReader *blob;    /* the source: a blob reader, or */
  int in_fd;             /* an fd (the sandboxed child's stdin) */
  guint8 *in_buf;
  guint64 nread;
  const MvRemoteEntries *remote_vtable; /* or entries from elsewhere (mv-sandbox) */
  gpointer remote;
  MvLayerFormat format;
  GError *read_error; /* from the blob or the tap, surfaced instead of libarchive's message */
  gint64 data_offset;
  gboolean filter_checked;
  TarTap tap;
};

static gboolean
tar_parse_size (const guint8 *f, gsize len, guint64 *out)
{
  guint64 v = 0;
  gsize i = 0;

  if (f[0] & 0x80)
    {
      /* base-256: big-endian, the top bit of the first byte is the marker; negative refused */
      if (f[0] & 0x40)
        return FALSE;
      v = f[0] & 0x3f;
      for (i = 1; i < len; i++)
        {
          if (v >> 55)
            return FALSE;
          v = (v << 8) | f[i];
        }
      *out = v;
      return TRUE;
    }
  while (i < len && (f[i] == ' ' || f[i] == '\0'))
    i++;
  for (; i < len && f[i] >= '0' && f[i] <= '7'; i++)
    {
      if (v >> 60)
        return FALSE;
      v = v * 8 + (f[i] - '0');
    }
  *out = v;
  return TRUE;
}

/* Checks one extended header's data: no NUL inside a PAX path or linkpath value, records
 * well formed; a GNU long name ends at its first NUL and nothing but NULs follow. */
static gboolean
tap_check_ext (TarTap *t, GError **error)
{
  const char *d = (const char *)t->ext->data;
  gsize n = t->ext->len;

  if (n == 0)
    return TRUE; /* an empty header: nothing to check, and no data to point at (NULL) */
  if (t->ext_type == 'L' || t->ext_type == 'K')
    {
      const char *nul = memchr (d, '\0', n);
      if (nul != NULL)
        for (const char *p = nul; p < d + n; p++)
          if (*p != '\0')
            return mv_throw (error, MV_ERROR_UNSAFE_PATH, "GNU long %s has a NUL byte inside",
                             t->ext_type == 'L' ? "name" : "link name");
      return TRUE;
    }
  if (t->ext_type != 'x' && t->ext_type != 'g')
    return TRUE;
  for (gsize off = 0; off < n;)
    {
      guint64 rec = 0;
      gsize i = off;
      const char *key, *eq, *val, *end;

      while (i < n && d[i] >= '0' && d[i] <= '9' && rec < n)
        rec = rec * 10 + (d[i++] - '0');
      if (i == off || i >= n || d[i] != ' ' || rec == 0 || rec > n - off)
        return mv_throw (error, MV_ERROR_INVALID_MANIFEST, "malformed PAX header record");
      end = d + off + rec; /* one past the record's '\n' */
      if (end[-1] != '\n')
        return mv_throw (error, MV_ERROR_INVALID_MANIFEST, "malformed PAX header record");
      key = d + i + 1;
      eq = memchr (key, '=', end - key);
      if (eq == NULL)
        return mv_throw (error, MV_ERROR_INVALID_MANIFEST, "malformed PAX header record");
      val = eq + 1;
      if (((eq - key == 4 && memcmp (key, "path", 4) == 0)
           || (eq - key == 8 && memcmp (key, "linkpath", 8) == 0))
          && memchr (val, '\0', (end - 1) - val) != NULL)
        {
          g_autofree char *shown = mv_escape_for_display (val, 200);
          return mv_throw (error, MV_ERROR_UNSAFE_PATH, "PAX %.*s '%s...' has a NUL byte inside",
                           (int)(eq - key), key, shown);
        }
      off += rec;
    }
  return TRUE;
}

static gboolean
tap_feed (TarTap *t, const guint8 *buf, gsize len, GError **error)
{
  while (len > 0 && !t->end)
    {
      gsize n;
      if (t->data_left > 0)
        {
          n = (gsize)MIN ((guint64)len, t->data_left);
          if (t->ext != NULL && t->ext->len < t->ext_size)
            g_byte_array_append (t->ext, buf, (guint)MIN ((guint64)n, t->ext_size - t->ext->len));
          t->data_left -= n;
          t->pos += n;
          buf += n;
          len -= n;
          if (t->data_left == 0 && t->ext != NULL)
            {
              gboolean ok = tap_check_ext (t, error);
              g_clear_pointer (&t->ext, g_byte_array_unref);
              if (!ok)
                return FALSE;
            }
          continue;
        }
      n = MIN (512 - t->hdr_fill, len);
      memcpy (t->hdr + t->hdr_fill, buf, n);
      t->hdr_fill += n;
      t->pos += n;
      buf += n;
      len -= n;
      if (t->hdr_fill < 512)
        continue;
      t->hdr_fill = 0;
      {
        guint64 size;
        char type = (char)t->hdr[156];
        gboolean zero = TRUE;
        for (int i = 0; i < 512 && zero; i++)
          zero = t->hdr[i] == 0;
        if (zero)
          {
            t->end = TRUE; /* libarchive stops here too; the rest is padding */
            break;
          }
        if (!t->in_chain)
          {
            guint64 *start = g_new (guint64, 1);
            *start = t->pos - 512;
            g_queue_push_tail (&t->starts, start);
          }
        if (!tar_parse_size (t->hdr + 124, 12, &size))
          return mv_throw (error, MV_ERROR_INVALID_MANIFEST, "tar header with an invalid size");
        t->in_chain = strchr ("xgLKV", type) != NULL && type != '\0';
        if (type == 'x' || type == 'g' || type == 'L' || type == 'K')
          {
            if (size > TAR_EXT_MAX)
              return mv_throw (error, MV_ERROR_LIMIT_EXCEEDED,
                               "tar extended header of %" G_GUINT64_FORMAT
                               " bytes is above the limit of %d",
                               size, TAR_EXT_MAX);
            t->ext = g_byte_array_sized_new ((guint)size);
            t->ext_size = size;
            t->ext_type = type;
          }
        /* Links, devices and fifos carry no data whatever their size field says. */
        if (strchr ("12346", type) != NULL && type != '\0')
          size = 0;
        t->data_left = (size + 511) & ~(guint64)511;
        if (t->data_left == 0 && t->ext != NULL)
          {
            gboolean ok = tap_check_ext (t, error);
            g_clear_pointer (&t->ext, g_byte_array_unref);
            if (!ok)
              return FALSE;
          }
      }
    }
  return TRUE;
}

static void
tap_clear (TarTap *t)
{
  g_clear_pointer (&t->ext, g_byte_array_unref);
  g_queue_clear_full (&t->starts, g_free);
}

#define FD_CHUNK (256 * 1024)

static la_ssize_t
tar_read_cb (struct archive *a, void *user_data, const void **out_buf)
{
  MvEntryReader *self = user_data;
  gssize n;

  if (self->read_error != NULL)
    return -1;
  if (self->blob == NULL)
    {
      do
        n = read (self->in_fd, self->in_buf, FD_CHUNK);
      while (n < 0 && errno == EINTR);
      if (n < 0)
        {
          mv_throw_errno_prefix (&self->read_error, "reading the layer");
          archive_set_error (a, EIO, "%s", self->read_error->message);
          return -1;
        }
      self->nread += n;
      *out_buf = self->in_buf;
      return n;
    }
  n = mv_blob_reader_next (self->blob, out_buf, &self->read_error);
  if (n < 0)
    {
      archive_set_error (a, EIO, "%s", self->read_error->message);
      return -1;
    }
  return n;
}

static la_ssize_t
inner_read_cb (struct archive *a, void *user_data, const void **out_buf)
{
  MvEntryReader *self = user_data;
  size_t size = 0;
  la_int64_t offset = 0;
  int r;

  if (self->read_error != NULL)
    return -1;
  r = archive_read_data_block (self->outer, out_buf, &size, &offset);
  if (r == ARCHIVE_EOF)
    return 0;
  if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
    {
      if (self->read_error == NULL)
        {
          const char *msg = archive_error_string (self->outer);
          mv_throw (&self->read_error, MV_ERROR_INVALID_MANIFEST, "invalid %s data: %s",
                    self->format == MV_LAYER_FORMAT_TAR_GZIP   ? "tar+gzip"
                    : self->format == MV_LAYER_FORMAT_TAR_ZSTD ? "tar+zstd"
                                                               : "tar",
                    msg ? msg : "unknown libarchive error");
        }
      archive_set_error (a, EIO, "%s", self->read_error->message);
      return -1;
    }
  if (!tap_feed (&self->tap, *out_buf, size, &self->read_error))
    {
      archive_set_error (a, EIO, "%s", self->read_error->message);
      return -1;
    }
  return (la_ssize_t)size;
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

static MvEntryReader *
tar_reader_open (MvEntryReader *reader, MvLayerFormat format, GError **error)
{
  g_autoptr (MvEntryReader) self = reader;
  struct archive_entry *raw_entry = NULL;

  self->format = format;
  g_queue_init (&self->tap.starts);
  self->outer = archive_read_new ();
  self->a = archive_read_new ();
  if (self->outer == NULL || self->a == NULL)
    {
      mv_throw (error, MV_ERROR_FAILED, "out of memory");
      return NULL;
    }
  /* Exactly the compression the media type names: no sniffing of other formats. */
  archive_read_support_format_raw (self->outer);
  if (format == MV_LAYER_FORMAT_TAR_GZIP)
    archive_read_support_filter_gzip (self->outer);
  else if (format == MV_LAYER_FORMAT_TAR_ZSTD)
    archive_read_support_filter_zstd (self->outer);
  else
    g_assert (format == MV_LAYER_FORMAT_TAR);
  if (archive_read_open (self->outer, self, NULL, tar_read_cb, NULL) != ARCHIVE_OK
      || archive_read_next_header (self->outer, &raw_entry) != ARCHIVE_OK)
    {
      if (self->read_error == NULL)
        {
          const char *msg = archive_error_string (self->outer);
          mv_throw (error, MV_ERROR_INVALID_MANIFEST, "invalid layer data: %s",
                    msg ? msg : "unknown libarchive error");
          return NULL;
        }
      g_propagate_error (error, g_steal_pointer (&self->read_error));
      return NULL;
    }

  archive_read_support_format_tar (self->a);
  if (archive_read_open (self->a, self, NULL, inner_read_cb, NULL) != ARCHIVE_OK)
    {
      throw_archive (self, error);
      return NULL;
    }
  return g_steal_pointer (&self);
}

MvEntryReader *
mv_tar_reader_new (MvBlobReader *blob, MvLayerFormat format, GError **error)
{
  MvEntryReader *self = g_new0 (MvEntryReader, 1);

  self->blob = blob;
  self->in_fd = -1;
  return tar_reader_open (self, format, error);
}

MvEntryReader *
mv_tar_reader_new_fd (int fd, MvLayerFormat format, GError **error)
{
  MvEntryReader *self = g_new0 (MvEntryReader, 1);

  self->in_fd = fd;
  self->in_buf = g_malloc (FD_CHUNK);
  return tar_reader_open (self, format, error);
}

MvEntryReader *
mv_entry_reader_new_remote (const MvRemoteEntries *vtable, gpointer remote)
{
  MvEntryReader *self = g_new0 (MvEntryReader, 1);

  self->in_fd = -1;
  self->remote_vtable = vtable;
  self->remote = remote;
  return self;
}

guint64
mv_entry_reader_get_nread (MvEntryReader *self)
{
  return self->nread;
}

gboolean
mv_entry_reader_finish (MvEntryReader *self, GError **error)
{
  return self->remote_vtable ? self->remote_vtable->finish (self->remote, error) : TRUE;
}

const char *
mv_what_to_string (MvWhat what)
{
  static const char *const words[] = {
    [MV_WHAT_FILE] = "file",
    [MV_WHAT_DIRECTORY] = "directory",
    [MV_WHAT_SYMLINK] = "symlink",
    [MV_WHAT_HARDLINK] = "hardlink",
    [MV_WHAT_CHARDEV] = "character device",
    [MV_WHAT_BLOCKDEV] = "block device",
    [MV_WHAT_FIFO] = "fifo",
    [MV_WHAT_SOCKET] = "socket",
    [MV_WHAT_UNKNOWN] = "entry of unknown type",
  };
  return (guint)what <= MV_WHAT_LAST ? words[what] : words[MV_WHAT_UNKNOWN];
}

static MvWhat
what_of_type (mode_t type)
{
  switch (type)
    {
      case AE_IFCHR:
        return MV_WHAT_CHARDEV;
      case AE_IFBLK:
        return MV_WHAT_BLOCKDEV;
      case AE_IFIFO:
        return MV_WHAT_FIFO;
      case AE_IFSOCK:
        return MV_WHAT_SOCKET;
      default:
        return MV_WHAT_UNKNOWN;
    }
}

int
mv_entry_reader_next (MvEntryReader *self, MvEntry *out_entry, GError **error)
{
  struct archive_entry *ae = NULL;
  int r;
  const char *name;

  if (self->remote_vtable != NULL)
    return self->remote_vtable->next (self->remote, out_entry, error);
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
      int code = archive_filter_code (self->outer, 0);
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
  {
    g_autofree guint64 *start = g_queue_pop_head (&self->tap.starts);
    if (start == NULL || (gint64)*start != archive_read_header_position (self->a))
      {
        mv_throw (error, MV_ERROR_INVALID_MANIFEST,
                  "tar stream not understood: an entry starts where no header was seen");
        return -1;
      }
  }

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
      out_entry->what_code = MV_WHAT_HARDLINK;
      out_entry->what = mv_what_to_string (MV_WHAT_HARDLINK);
      out_entry->link_target = g_strdup (archive_entry_hardlink (ae));
      return 1;
    }
  switch (archive_entry_filetype (ae))
    {
      case AE_IFREG:
        out_entry->type = MV_ENTRY_FILE;
        out_entry->what_code = MV_WHAT_FILE;
        break;
      case AE_IFDIR:
        out_entry->type = MV_ENTRY_DIR;
        out_entry->what_code = MV_WHAT_DIRECTORY;
        break;
      case AE_IFLNK:
        {
          const char *t = archive_entry_symlink_utf8 (ae);
          if (t == NULL)
            t = archive_entry_symlink (ae);
          out_entry->type = MV_ENTRY_SYMLINK;
          out_entry->what_code = MV_WHAT_SYMLINK;
          out_entry->link_target = g_strdup (t ? t : "");
          break;
        }
      default:
        out_entry->type = MV_ENTRY_OTHER;
        out_entry->what_code = what_of_type (archive_entry_filetype (ae));
        break;
    }
  out_entry->what = mv_what_to_string (out_entry->what_code);
  return 1;
}

gssize
mv_entry_reader_read_data (MvEntryReader *self, const void **out_buf, GError **error)
{
  size_t size = 0;
  la_int64_t offset = 0;
  int r;

  if (self->remote_vtable != NULL)
    return self->remote_vtable->read_data (self->remote, out_buf, error);
  r = archive_read_data_block (self->a, out_buf, &size, &offset);
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
  return (gssize)size;
}

void
mv_entry_reader_free (MvEntryReader *self)
{
  if (self == NULL)
    return;
  if (self->remote_vtable != NULL)
    self->remote_vtable->free (self->remote);
  g_free (self->in_buf);
  if (self->a != NULL)
    archive_read_free (self->a);
  if (self->outer != NULL)
    archive_read_free (self->outer);
  tap_clear (&self->tap);
  g_clear_error (&self->read_error);
  g_free (self);
}
