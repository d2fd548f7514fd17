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
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

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
  self->stop = FALSE;
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

gint64
mv_blob_reader_get_size (MvBlobReader *self)
{
  return self->size;
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

/* After a failed kernel copy of @len bytes from @src's offset: reads them, since the copy
 * does not say whether the source or the store failed. FALSE, with errno, if the source did. */
static gboolean
source_readable (int src, gsize len)
{
  guint8 buf[16384];
  off_t pos = lseek (src, 0, SEEK_CUR);
  gsize done = 0;

  while (pos >= 0 && done < len)
    {
      gssize r = pread (src, buf, MIN (sizeof buf, len - done), pos + (off_t)done);
      if (r < 0 && errno == EINTR)
        continue;
      if (r < 0)
        return FALSE;
      if (r == 0)
        break;
      done += r;
    }
  return TRUE;
}

/* The copy loop of mv_blob_reader_copy_to_fd() and mv_blob_reader_copy_range_to_fd(): from
 * the blob's current position, @len bytes (G_MAXUINT64: to its end) into @dest_fd from its
 * offset 0. Leaves the last windows to the hasher. Returns 1, 0 if nothing could be copied by
 * the kernel (nothing was read then), -1 on error. */
static int
copy_to_fd (MvBlobReader *self, int dest_fd, guint64 len, GError **error)
{
  const char *test_copy = g_getenv ("MODELVOL_TEST_KERNEL_COPY");
  gsize page = (gsize)sysconf (_SC_PAGESIZE);
  guint64 flushed = 0;
  guint64 origin = self->nread;
  guint64 end = len == G_MAXUINT64 ? G_MAXUINT64 : origin + len;
  struct stat st;
  int how = g_strcmp0 (test_copy, "sendfile") == 0 ? 1 : 0;
  int src;

  if (self->eof || self->deferred || !G_IS_UNIX_INPUT_STREAM (self->in)
      || g_strcmp0 (test_copy, "none") == 0)
    return 0;
  src = g_unix_input_stream_get_fd (G_UNIX_INPUT_STREAM (self->in));
  if (fstat (src, &st) < 0 || !S_ISREG (st.st_mode))
    return 0;
  while (self->nread < end)
    {
      Chunk *c = take_free_chunk (self);
      guint64 start = self->nread;
      guint64 dstart = start - origin; /* where it lands in @dest_fd */
      guint64 base;
      gsize want;
      gssize n;

      if (g_cancellable_set_error_if_cancelled (self->cancellable, error))
        return -1;
      want = MIN (next_request (self, COPY_STEP), end - start);
      n = kernel_copy (how, src, dest_fd, want);
      if (n < 0 && start == origin
          && (errno == EXDEV || errno == EINVAL || errno == EOPNOTSUPP || errno == ENOSYS))
        {
          /* copy_file_range between these filesystems, then sendfile: not here. */
          if (how++ == 0)
            continue;
          return 0;
        }
      if (n < 0)
        {
          int saved = errno;
          if (!source_readable (src, want))
            mv_throw_errno_prefix (error, "reading blob %s", self->digest);
          else
            {
              errno = saved;
              mv_throw_errno_prefix (error, "copying blob %s into the store", self->digest);
            }
          return -1;
        }
      if (!account (self, n, error))
        return -1;
      if (n == 0)
        break;
      mv_fd_start_writeback (dest_fd, &flushed, self->nread - origin);
      /* Hash what was copied where it now is: in our own file, which nobody else can
       * truncate under the mapping, and still in the page cache. */
      base = dstart & ~(guint64)(page - 1);
      c->map_len = (self->nread - origin) - base;
      c->map = mmap (NULL, c->map_len, PROT_READ, MAP_SHARED | MAP_POPULATE, dest_fd, base);
      if (c->map == MAP_FAILED)
        {
          c->map = NULL;
          mv_throw_errno_prefix (error, "mapping blob %s in the store", self->digest);
          return -1;
        }
      c->data = (const guint8 *)c->map + (dstart - base);
      c->len = n;
      dispatch (self, c, FALSE);
    }
  if (len == G_MAXUINT64)
    self->eof = TRUE;
  else if (self->nread < end)
    {
      mv_throw (error, MV_ERROR_DIGEST_MISMATCH,
                "blob %s ends at %" G_GUINT64_FORMAT " bytes, inside a tar member", self->digest,
                self->nread);
      return -1;
    }
  return 1;
}

int
mv_blob_reader_copy_to_fd (MvBlobReader *self, int dest_fd, MvDigester *also, GError **error)
{
  int r;

  g_assert (self->also == NULL);
  if (self->nread > 0)
    return 0;
  self->also = also;
  r = copy_to_fd (self, dest_fd, G_MAXUINT64, error);
  /* @also is borrowed: nothing may reach it once we return. */
  stop_hasher (self);
  self->also = NULL;
  return r;
}

int
mv_blob_reader_local_fd (MvBlobReader *self)
{
  struct stat st;
  int fd;

  if (self->nread > 0 || self->eof || self->deferred || self->hasher != NULL
      || !G_IS_UNIX_INPUT_STREAM (self->in))
    return -1;
  fd = g_unix_input_stream_get_fd (G_UNIX_INPUT_STREAM (self->in));
  if (fstat (fd, &st) < 0 || !S_ISREG (st.st_mode))
    return -1;
  return fd;
}

gssize
mv_blob_reader_read_hashed (MvBlobReader *self, gsize max, MvDigester *also, const void **out_data,
                            GError **error)
{
  Chunk *c = &self->chunks[0];
  gssize n;

  g_assert (self->hasher == NULL && self->current == NULL && !self->deferred);
  if (max == 0 || self->eof)
    return 0;
  if (g_cancellable_set_error_if_cancelled (self->cancellable, error))
    return -1;
  if (c->buffer == NULL)
    c->buffer = g_malloc (BLOB_CHUNK);
  n = g_input_stream_read (self->in, c->buffer, next_request (self, MIN (max, BLOB_CHUNK)),
                           self->cancellable, error);
  if (n < 0 || !account (self, n, error))
    return -1;
  if (also != NULL)
    mv_digester_update2 (self->digester, also, c->buffer, n);
  else
    mv_digester_update (self->digester, c->buffer, n);
  *out_data = c->buffer;
  return n;
}

gboolean
mv_blob_reader_hash_to (MvBlobReader *self, guint64 offset, MvDigester *also, GError **error)
{
  while (self->nread < offset)
    {
      const void *data;
      gssize n = mv_blob_reader_read_hashed (self, (gsize)MIN (offset - self->nread, BLOB_CHUNK),
                                             also, &data, error);
      if (n < 0)
        return FALSE;
      if (n == 0)
        return mv_throw (error, MV_ERROR_DIGEST_MISMATCH,
                         "blob %s ends at %" G_GUINT64_FORMAT
                         " bytes, before offset %" G_GUINT64_FORMAT,
                         self->digest, self->nread, offset);
    }
  return TRUE;
}

gboolean
mv_blob_reader_copy_range_to_fd (MvBlobReader *self, guint64 len, int dest_fd, MvDigester *also,
                                 GError **error)
{
  guint64 end = self->nread + len;
  guint64 written = 0, flushed = 0;
  int r = 0;

  g_assert (self->also == NULL);
  /* Big members: copied by the kernel and hashed from the copy in the hasher thread; small
   * ones read, hashed for both in one pass, and written, with no thread to start. */
  if (len >= THREADED_HASH_MIN)
    {
      self->also = also;
      r = copy_to_fd (self, dest_fd, len, error);
      stop_hasher (self);
      self->also = NULL;
      if (r < 0)
        return FALSE;
    }
  while (r == 0 && self->nread < end)
    {
      const void *data;
      gssize n = mv_blob_reader_read_hashed (self, (gsize)MIN (end - self->nread, BLOB_CHUNK), also,
                                             &data, error);
      if (n < 0)
        return FALSE;
      if (n == 0)
        return mv_throw (error, MV_ERROR_DIGEST_MISMATCH,
                         "blob %s ends at %" G_GUINT64_FORMAT " bytes, inside a tar member",
                         self->digest, self->nread);
      if (mv_loop_write (dest_fd, data, n) < 0)
        return mv_throw_errno_prefix (error, "writing to the store");
      written += n;
      mv_fd_start_writeback (dest_fd, &flushed, written);
    }
  return TRUE;
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
 * on the stream's structure without the layer being refused.
 *
 * After the end-of-archive block nothing but zero padding may follow (tar writers pad to
 * their record size, 10 KiB by default): a member hidden there is invisible to us and to
 * libarchive, but not to every other tar reader, and a layer must mean one thing. */
#define TAR_EXT_MAX (1024 * 1024)
#define TAR_EXT_CHAIN_MAX 32 /* extended headers before one member; libarchive's own cap */
#define TAR_PAD_MAX (1024 * 1024)

/* One header chain (extended headers, then the entry's own header) as the tap saw it. */
typedef struct
{
  guint64 start;      /* its first header */
  guint64 data_start; /* the data of its last header */
  guint64 data_size;  /* that header's size (0 for links, devices and fifos) */
  gboolean regular;   /* that header's type is a regular file's ('0', NUL, '7') */
} TapChain;

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
  guint chain_len;   /* extended headers so far in this chain */
  GQueue starts;     /* of TapChain*: chains not yet matched with libarchive */
  gboolean end;      /* an all-zero header block was seen */
  guint64 after_end; /* bytes since that block, all zero */
  /* Seekable readers: bytes of the current regular member's data still to pass (never
   * hashed), and the digest of everything else. */
  guint64 member_left;
  MvDigester *structure;
} TarTap;

struct MvEntryReader
{
  struct archive *a;  /* the tar parser, reading the decompressed bytes through the tap */
  MvBlobReader *blob; /* the source: a blob reader, or */
  int in_fd;          /* an fd (the sandboxed child's stdin) */
  guint8 *in_buf;
  guint64 nread;
  const MvRemoteEntries *remote_vtable; /* or entries from elsewhere (mv-sandbox) */
  gpointer remote;
  MvLayerFormat format;
  GError *read_error; /* from the blob or the tap, surfaced instead of libarchive's message */
  gint64 data_offset;
  TarTap tap;

  /* The decompressor: zlib and libzstd directly, not libarchive's filters, which neither
   * check a gzip member's CRC and length nor refuse what follows the last member. */
  const guint8 *in; /* compressed bytes not yet decoded */
  gsize in_len;
  gboolean in_eof;
  guint8 *out_buf;
  z_stream z;
  gboolean z_live;
  ZSTD_DCtx *zstd;
  gz_header gz_head; /* only to learn where a member's header ends */
  gboolean in_unit;  /* inside a gzip member or zstd frame */
  guint n_units;     /* members or frames completed */
  guint64 n_out;     /* decompressed bytes (the whole tar stream) */
  MvDigester *diff;  /* compressed layers: the digest of that whole stream (its diffID) */
  guint64 max_bytes; /* 0: no limit */
  guint64 max_ratio;
  TapChain chain; /* of the entry last returned */
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
  while (len > 0)
    {
      gsize n;
      if (t->end)
        {
          for (gsize i = 0; i < len; i++)
            if (buf[i] != 0)
              return mv_throw (error, MV_ERROR_INVALID_MANIFEST,
                               "data after the end of the tar archive (offset %" G_GUINT64_FORMAT
                               ")",
                               t->pos + i);
          if (t->structure != NULL)
            mv_digester_update (t->structure, buf, len);
          t->pos += len;
          t->after_end += len;
          if (t->after_end > TAR_PAD_MAX)
            return mv_throw (error, MV_ERROR_LIMIT_EXCEEDED,
                             "more than %d bytes of padding after the end of the tar archive",
                             TAR_PAD_MAX);
          return TRUE;
        }
      if (t->data_left > 0)
        {
          n = (gsize)MIN ((guint64)len, t->data_left);
          if (t->structure != NULL)
            {
              gsize m = (gsize)MIN ((guint64)n, t->member_left);
              t->member_left -= m;
              mv_digester_update (t->structure, buf + m, n - m);
            }
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
      if (t->structure != NULL)
        mv_digester_update (t->structure, buf, n);
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
            t->end = TRUE; /* libarchive stops here too; the rest must be padding */
            continue;
          }
        if (!t->in_chain)
          {
            TapChain *chain = g_new0 (TapChain, 1);
            chain->start = t->pos - 512;
            g_queue_push_tail (&t->starts, chain);
          }
        if (!tar_parse_size (t->hdr + 124, 12, &size))
          return mv_throw (error, MV_ERROR_INVALID_MANIFEST, "tar header with an invalid size");
        t->in_chain = strchr ("xgLKV", type) != NULL && type != '\0';
        t->chain_len = t->in_chain ? t->chain_len + 1 : 0;
        if (t->chain_len > TAR_EXT_CHAIN_MAX)
          return mv_throw (error, MV_ERROR_LIMIT_EXCEEDED,
                           "more than %d extended headers before one tar member",
                           TAR_EXT_CHAIN_MAX);
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
        if (!t->in_chain)
          {
            TapChain *chain = g_queue_peek_tail (&t->starts);
            chain->data_start = t->pos;
            chain->data_size = size;
            chain->regular = type == '0' || type == '\0' || type == '7';
            if (chain->regular)
              t->member_left = size;
          }
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

/* A seekable reader skipped @n bytes of the current member's data. */
static void
tap_skip (TarTap *t, guint64 n)
{
  g_assert (n <= t->member_left && t->member_left <= t->data_left);
  t->member_left -= n;
  t->data_left -= n;
  t->pos += n;
}

static void
tap_clear (TarTap *t)
{
  g_clear_pointer (&t->ext, g_byte_array_unref);
  g_clear_pointer (&t->structure, mv_digester_free);
  g_queue_clear_full (&t->starts, g_free);
}

#define FD_CHUNK (256 * 1024)
#define OUT_CHUNK (128 * 1024)
/* zstd's own default for streaming (128 MiB), set explicitly: a frame may not make the
 * unpacker allocate more than this for its window, whatever its header asks for. */
#define ZSTD_WINDOW_LOG_MAX 27

static const char *
format_name (MvLayerFormat format)
{
  return format == MV_LAYER_FORMAT_TAR_GZIP   ? "tar+gzip"
         : format == MV_LAYER_FORMAT_TAR_ZSTD ? "tar+zstd"
                                              : "tar";
}

/* The next piece of the layer as stored: 0 at its end, -1 with self->read_error set. */
static gssize
source_read (MvEntryReader *self, const void **out_buf)
{
  gssize n;

  if (self->blob == NULL)
    {
      do
        n = read (self->in_fd, self->in_buf, FD_CHUNK);
      while (n < 0 && errno == EINTR);
      if (n < 0)
        {
          mv_throw_errno_prefix (&self->read_error, "reading the layer");
          return -1;
        }
      *out_buf = self->in_buf;
    }
  else
    {
      n = mv_blob_reader_next (self->blob, out_buf, &self->read_error);
      if (n < 0)
        return -1;
    }
  self->nread += n;
  return n;
}

/* Makes sure there is compressed input, unless the layer has ended. */
static gboolean
fill_input (MvEntryReader *self)
{
  const void *p = NULL;
  gssize n;

  if (self->in_len > 0 || self->in_eof)
    return TRUE;
  n = source_read (self, &p);
  if (n < 0)
    return FALSE;
  self->in = p;
  self->in_len = n;
  self->in_eof = n == 0;
  return TRUE;
}

/* At end of input self->in may be NULL, and NULL + 0 is undefined behaviour in C. */
static void
consume_input (MvEntryReader *self, gsize n)
{
  if (n == 0)
    return;
  self->in += n;
  self->in_len -= n;
}

typedef enum
{
  DECODE_BAD_START, /* not the start of a member or frame */
  DECODE_BAD_DATA,
  DECODE_TRUNCATED,
} DecodeFault;

static gssize
decode_fail (MvEntryReader *self, DecodeFault fault, const char *detail)
{
  gboolean gz = self->format == MV_LAYER_FORMAT_TAR_GZIP;
  const char *algo = gz ? "gzip" : "zstd";
  const char *unit = gz ? "member" : "frame";
  const char *fmt = format_name (self->format);

  if (fault == DECODE_BAD_START && self->n_units == 0)
    mv_throw (&self->read_error, MV_ERROR_INVALID_MANIFEST, "layer data is not %s-compressed (%s)",
              algo, detail);
  else if (fault == DECODE_BAD_START)
    mv_throw (&self->read_error, MV_ERROR_INVALID_MANIFEST,
              "invalid %s data: what follows %s %s %u is not a %s %s (%s)", fmt, algo, unit,
              self->n_units, algo, unit, detail);
  else if (fault == DECODE_TRUNCATED)
    mv_throw (&self->read_error, MV_ERROR_INVALID_MANIFEST,
              "invalid %s data: truncated inside %s %s %u", fmt, algo, unit, self->n_units + 1);
  else
    mv_throw (&self->read_error, MV_ERROR_INVALID_MANIFEST, "invalid %s data in %s %s %u: %s", fmt,
              algo, unit, self->n_units + 1, detail);
  return -1;
}

/* gzip: any number of members back to back, each with its CRC-32 and length checked by zlib;
 * anything after the last member that is not another member is an error. */
static gssize
gunzip_some (MvEntryReader *self)
{
  for (;;)
    {
      int zr;
      gsize produced;

      if (!fill_input (self))
        return -1;
      if (!self->in_unit)
        {
          if (self->in_len == 0)
            return self->n_units > 0 ? 0 : decode_fail (self, DECODE_BAD_START, "no data");
          memset (&self->gz_head, 0, sizeof self->gz_head);
          if (inflateReset2 (&self->z, 16 + MAX_WBITS) != Z_OK
              || inflateGetHeader (&self->z, &self->gz_head) != Z_OK)
            return decode_fail (self, DECODE_BAD_DATA, "cannot reset the decoder");
          self->in_unit = TRUE;
        }
      self->z.next_in = (Bytef *)self->in;
      self->z.avail_in = (uInt)MIN (self->in_len, (gsize)G_MAXUINT32);
      self->z.next_out = self->out_buf;
      self->z.avail_out = OUT_CHUNK;
      zr = inflate (&self->z, Z_NO_FLUSH);
      produced = OUT_CHUNK - self->z.avail_out;
      consume_input (self, self->in_len - self->z.avail_in);
      if (zr == Z_STREAM_END)
        {
          self->in_unit = FALSE;
          self->n_units++;
        }
      else if (zr == Z_DATA_ERROR || zr == Z_NEED_DICT || zr == Z_STREAM_ERROR)
        return decode_fail (self, self->gz_head.done == 1 ? DECODE_BAD_DATA : DECODE_BAD_START,
                            self->z.msg ? self->z.msg : "corrupt data");
      else if (zr == Z_MEM_ERROR)
        return decode_fail (self, DECODE_BAD_DATA, "out of memory");
      if (produced > 0)
        return (gssize)produced;
      if (self->in_unit && self->in_len == 0 && self->in_eof)
        return decode_fail (self, DECODE_TRUNCATED, NULL);
    }
}

/* zstd: frames back to back (skippable ones too), the window capped, checksums checked. */
static gssize
unzstd_some (MvEntryReader *self)
{
  for (;;)
    {
      ZSTD_inBuffer in;
      ZSTD_outBuffer out = { self->out_buf, OUT_CHUNK, 0 };
      size_t ret;

      if (!fill_input (self))
        return -1;
      if (!self->in_unit && self->in_len == 0)
        return self->n_units > 0 ? 0 : decode_fail (self, DECODE_BAD_START, "no data");
      in = (ZSTD_inBuffer){ self->in, self->in_len, 0 };
      ret = ZSTD_decompressStream (self->zstd, &out, &in);
      consume_input (self, in.pos);
      if (ZSTD_isError (ret) && ZSTD_getErrorCode (ret) == ZSTD_error_frameParameter_windowTooLarge)
        {
          mv_throw (&self->read_error, MV_ERROR_LIMIT_EXCEEDED,
                    "zstd frame %u asks for a window above %d MiB (limit zstd windowLogMax %d)",
                    self->n_units + 1, 1 << (ZSTD_WINDOW_LOG_MAX - 20), ZSTD_WINDOW_LOG_MAX);
          return -1;
        }
      if (ZSTD_isError (ret))
        return decode_fail (self,
                            ZSTD_getErrorCode (ret) == ZSTD_error_prefix_unknown ? DECODE_BAD_START
                                                                                 : DECODE_BAD_DATA,
                            ZSTD_getErrorName (ret));
      self->in_unit = ret != 0;
      if (ret == 0)
        self->n_units++;
      if (out.pos > 0)
        return (gssize)out.pos;
      if (self->in_unit && in.pos == 0 && self->in_len == 0 && self->in_eof)
        return decode_fail (self, DECODE_TRUNCATED, NULL);
    }
}

/* The next piece of the tar stream, checked against the limits: 0 at its end, -1 with
 * self->read_error set. */
static gssize
decode_some (MvEntryReader *self, const void **out_buf)
{
  gssize n;

  if (self->read_error != NULL)
    return -1;
  switch (self->format)
    {
      case MV_LAYER_FORMAT_TAR_GZIP:
        n = gunzip_some (self);
        *out_buf = self->out_buf;
        break;
      case MV_LAYER_FORMAT_TAR_ZSTD:
        n = unzstd_some (self);
        *out_buf = self->out_buf;
        break;
      default:
        if (!fill_input (self))
          return -1;
        *out_buf = self->in;
        n = (gssize)self->in_len;
        self->in_len = 0;
        break;
    }
  if (n <= 0)
    return n;
  if (self->diff != NULL)
    mv_digester_update (self->diff, *out_buf, (gsize)n);
  self->n_out += n;
  if (self->max_bytes > 0 && self->n_out > self->max_bytes)
    {
      mv_throw (&self->read_error, MV_ERROR_LIMIT_EXCEEDED,
                "layer unpacks to more than %" G_GUINT64_FORMAT " bytes (limit max-layer-bytes)",
                self->max_bytes);
      return -1;
    }
  /* The slack lets a small layer of zeros or text through whatever the ratio. */
  if (self->max_ratio > 0 && self->format != MV_LAYER_FORMAT_TAR
      && self->n_out > self->max_ratio * self->nread + 1024 * 1024)
    {
      mv_throw (&self->read_error, MV_ERROR_LIMIT_EXCEEDED,
                "layer expands more than %" G_GUINT64_FORMAT
                " times (limit max-ratio): a decompression bomb?",
                self->max_ratio);
      return -1;
    }
  return n;
}

static la_ssize_t
inner_read_cb (struct archive *a, void *user_data, const void **out_buf)
{
  MvEntryReader *self = user_data;
  TarTap *t = &self->tap;
  gssize n = decode_some (self, out_buf);

  if (n == 0 && !t->end && (t->hdr_fill != 0 || t->data_left != 0))
    {
      mv_throw (&self->read_error, MV_ERROR_INVALID_MANIFEST,
                "truncated %s layer: the tar stream ends inside a member",
                format_name (self->format));
      n = -1;
    }
  if (n > 0 && !tap_feed (t, *out_buf, n, &self->read_error))
    n = -1;
  if (n < 0)
    {
      archive_set_error (a, EIO, "%s", self->read_error->message);
      return -1;
    }
  return (la_ssize_t)n;
}

/* After libarchive's end of archive: the rest of the stream must be padding, and the
 * compressed data must end cleanly (a last member's CRC is only checked at its end). */
static gboolean
reader_drain (MvEntryReader *self, GError **error)
{
  TarTap *t = &self->tap;

  if (!t->end)
    {
      if (t->hdr_fill != 0 || t->data_left != 0)
        return mv_throw (error, MV_ERROR_INVALID_MANIFEST,
                         "tar stream not understood: the archive ends inside a member");
      t->end = TRUE; /* no end-of-archive blocks: nothing but padding may follow either */
    }
  for (;;)
    {
      const void *buf;
      gssize n = decode_some (self, &buf);
      if (n < 0)
        {
          g_propagate_error (error, g_steal_pointer (&self->read_error));
          return FALSE;
        }
      if (n == 0)
        return TRUE;
      if (!tap_feed (t, buf, n, error))
        return FALSE;
    }
}

/* libarchive skips a member's data (and padding): the data is left unread, so never hashed
 * here; the padding, and anything else, is read (0 makes libarchive read the rest). */
static la_int64_t
seekable_skip_cb (struct archive *a, void *user_data, la_int64_t request)
{
  MvEntryReader *self = user_data;
  guint64 n = MIN ((guint64)MAX (request, 0), self->tap.member_left);

  (void)a;
  /* Over the limit: read instead, and decode_some() says so. */
  if (n == 0 || self->read_error != NULL || self->in_len > 0
      || (self->max_bytes > 0 && self->n_out + n > self->max_bytes)
      || lseek (self->in_fd, (off_t)n, SEEK_CUR) < 0)
    return 0;
  tap_skip (&self->tap, n);
  self->nread += n;
  self->n_out += n;
  return (la_int64_t)n;
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
                   format_name (self->format), msg ? msg : "unknown libarchive error");
}

static MvEntryReader *
tar_reader_open (MvEntryReader *reader, MvLayerFormat format, const MvUnpackLimits *limits,
                 GError **error)
{
  g_autoptr (MvEntryReader) self = reader;

  self->format = format;
  g_queue_init (&self->tap.starts);
  if (limits != NULL)
    {
      self->max_bytes = limits->max_bytes;
      self->max_ratio = limits->max_ratio;
    }
  if (format == MV_LAYER_FORMAT_TAR_GZIP)
    {
      if (inflateInit2 (&self->z, 16 + MAX_WBITS) != Z_OK)
        {
          mv_throw (error, MV_ERROR_FAILED, "cannot start a gzip decoder");
          return NULL;
        }
      self->z_live = TRUE;
    }
  else if (format == MV_LAYER_FORMAT_TAR_ZSTD)
    {
      self->zstd = ZSTD_createDCtx ();
      if (self->zstd == NULL
          || ZSTD_isError (
              ZSTD_DCtx_setParameter (self->zstd, ZSTD_d_windowLogMax, ZSTD_WINDOW_LOG_MAX)))
        {
          mv_throw (error, MV_ERROR_FAILED, "cannot start a zstd decoder");
          return NULL;
        }
    }
  else
    g_assert (format == MV_LAYER_FORMAT_TAR);
  if (format != MV_LAYER_FORMAT_TAR)
    {
      self->out_buf = g_malloc (OUT_CHUNK);
      /* Every decompressed byte, to the stream's end (padding and all): what a config's
       * modelfs.diffIds entry claims for this layer. */
      self->diff = mv_digester_new (NULL, error);
      if (self->diff == NULL)
        return NULL;
    }

  /* Exactly the tar format, no filters: the compression was the media type's, above. */
  self->a = archive_read_new ();
  if (self->a == NULL)
    {
      mv_throw (error, MV_ERROR_FAILED, "out of memory");
      return NULL;
    }
  archive_read_support_format_tar (self->a);
  if (archive_read_open2 (self->a, self, NULL, inner_read_cb,
                          self->tap.structure != NULL ? seekable_skip_cb : NULL, NULL)
      != ARCHIVE_OK)
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
  return tar_reader_open (self, format, NULL, error);
}

MvEntryReader *
mv_tar_reader_new_fd (int fd, MvLayerFormat format, const MvUnpackLimits *limits, GError **error)
{
  MvEntryReader *self = g_new0 (MvEntryReader, 1);

  self->in_fd = fd;
  self->in_buf = g_malloc (FD_CHUNK);
  return tar_reader_open (self, format, limits, error);
}

MvEntryReader *
mv_tar_reader_new_seekable (int fd, const MvUnpackLimits *limits, GError **error)
{
  g_autoptr (MvEntryReader) self = g_new0 (MvEntryReader, 1);

  self->in_fd = fd;
  self->in_buf = g_malloc (FD_CHUNK);
  /* Set before the open: the reader then skips data by lseek and hashes the structure. */
  self->tap.structure = mv_digester_new (NULL, error);
  if (self->tap.structure == NULL)
    return NULL;
  return tar_reader_open (g_steal_pointer (&self), MV_LAYER_FORMAT_TAR, limits, error);
}

int
mv_entry_reader_member_range (MvEntryReader *self, const MvEntry *entry, guint64 *out_offset,
                              guint64 *out_len, GError **error)
{
  const TapChain *c = &self->chain;

  g_assert (self->tap.structure != NULL);
  if (entry->type == MV_ENTRY_FILE && entry->sparse)
    return 0; /* refused by the parent, with its own message */
  if (entry->type == MV_ENTRY_FILE)
    {
      if (!c->regular || entry->size < 0 || c->data_size != (guint64)entry->size)
        {
          mv_throw (error, MV_ERROR_INVALID_MANIFEST,
                    "tar stream not understood: a file's data is not where its header says");
          return -1;
        }
      *out_offset = c->data_start;
      *out_len = c->data_size;
      return 1;
    }
  if (c->regular && c->data_size > 0)
    {
      mv_throw (error, MV_ERROR_INVALID_MANIFEST,
                "tar stream not understood: a file header that is not a file");
      return -1;
    }
  return 0;
}

char *
mv_entry_reader_structure (MvEntryReader *self, guint64 *out_end)
{
  *out_end = self->tap.pos;
  return mv_digester_finish (self->tap.structure);
}

int
mv_entry_reader_copy_data (MvEntryReader *self, int dest_fd, MvDigester *also, GError **error)
{
  if (self->remote_vtable == NULL || self->remote_vtable->copy_data == NULL)
    return 0;
  return self->remote_vtable->copy_data (self->remote, dest_fd, also, error);
}

gboolean
mv_entry_reader_copies_data (MvEntryReader *self)
{
  return self->remote_vtable != NULL && self->remote_vtable->copy_data != NULL
         && self->remote_vtable->copies_data != NULL
         && self->remote_vtable->copies_data (self->remote);
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

char *
mv_entry_reader_diff_id (MvEntryReader *self)
{
  if (self->remote_vtable != NULL)
    return self->remote_vtable->diff_id (self->remote);
  if (self->diff == NULL)
    return NULL;
  return mv_digester_finish (self->diff);
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
  if (r == ARCHIVE_EOF)
    return reader_drain (self, error) ? 0 : -1;
  self->data_offset = 0;
  {
    g_autofree TapChain *chain = g_queue_pop_head (&self->tap.starts);
    if (chain == NULL || (gint64)chain->start != archive_read_header_position (self->a))
      {
        mv_throw (error, MV_ERROR_INVALID_MANIFEST,
                  "tar stream not understood: an entry starts where no header was seen");
        return -1;
      }
    self->chain = *chain;
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
  if (self->z_live)
    inflateEnd (&self->z);
  if (self->zstd != NULL)
    ZSTD_freeDCtx (self->zstd);
  g_free (self->out_buf);
  g_clear_pointer (&self->diff, mv_digester_free);
  tap_clear (&self->tap);
  g_clear_error (&self->read_error);
  g_free (self);
}
