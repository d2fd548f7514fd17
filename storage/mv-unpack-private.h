/* mv-unpack: layer bytes -> a stream of entries. The consumer (mv-commit) validates every
 * entry and writes the store; the producer only parses. That split is what lets the tar
 * parser move into a sandboxed child that sends entries over a pipe.
 * SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <gio/gio.h>

#include "mv-digest-private.h"
#include "mv-store-private.h"

/* A layer blob read once from the start: hashed and counted as it flows, never more than
 * its descriptor's size + 1 byte. Chunks are handed out by pointer, so libarchive and the
 * object writer read the bytes where they were read into. Who hashes:
 * - a local raw blob is copied into its object by the kernel and hashed from there, for the
 *   blob and the object in one pass, in a thread of its own (mv_blob_reader_copy_to_fd());
 * - raw blobs read into chunks (a registry's stream) are hashed by the consumer's thread,
 *   for the blob and the object at once (mv_blob_reader_defer_hashing());
 * - tar blobs above a few MiB in a hasher thread, while they are fed to the unpacker child
 *   (mv-sandbox), so that checking the blob and storing its content use two cores. */
typedef struct MvBlobReader MvBlobReader;

MvBlobReader *mv_blob_reader_new (GInputStream *in, const char *digest, gint64 size,
                                  GCancellable *cancellable);
void mv_blob_reader_free (MvBlobReader *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MvBlobReader, mv_blob_reader_free)

/* Bytes of the blob read so far; called from the reading thread. */
typedef void (*MvBlobProgressFunc) (guint64 done, gpointer user_data);
void mv_blob_reader_set_progress (MvBlobReader *self, MvBlobProgressFunc func, gpointer user_data);

/**
 * mv_blob_reader_defer_hashing:
 * Hash the blob in the consumer's thread instead of a hasher thread, so that bytes the
 * consumer also hashes for an object, where they lie in the chunk read (a raw layer's), are
 * hashed for both in one pass: mv_blob_reader_hash_data_also(). One chunk buffer then
 * suffices. Only for a consumer that reads the blob itself, in one thread. Call before the
 * first read.
 */
void mv_blob_reader_defer_hashing (MvBlobReader *self);

/**
 * mv_blob_reader_hash_data_also:
 * Feeds @data to @also; with deferred hashing and @data inside the current chunk, the blob
 * digest takes the same bytes in the same pass (and the bytes before them on its own).
 */
void mv_blob_reader_hash_data_also (MvBlobReader *self, MvDigester *also, const void *data,
                                    gsize len);

/**
 * mv_blob_reader_copy_to_fd:
 * @dest_fd: an empty file opened for reading and writing, at offset 0
 * @also: a digester to feed the same bytes, in the same pass as the blob digest (a raw
 *   layer's blob is the whole content of its file: one pass gives both checksums)
 *
 * For a blob that is a local regular file: copies it into @dest_fd in the kernel
 * (copy_file_range, else sendfile), never more than the declared size + 1 bytes, and hashes
 * each step from a mapping of @dest_fd in the hasher thread while the next step is copied, so
 * the bytes are neither read into nor written from a buffer of ours, and what is hashed is
 * what was stored. mv_blob_reader_finish() then checks size and digest as usual. Must come
 * before any other read; @also is fed completely when it returns.
 * MODELVOL_TEST_KERNEL_COPY=sendfile or =none in the environment forces the fallbacks (tests).
 * Returns: 1 when the whole blob is in @dest_fd; 0 if this blob cannot be copied so (not a
 *   local file, or no kernel copy between these filesystems): nothing was read, read it with
 *   mv_blob_reader_next(); -1 on error
 */
int mv_blob_reader_copy_to_fd (MvBlobReader *self, int dest_fd, MvDigester *also, GError **error);
/**
 * mv_blob_reader_local_fd:
 * Returns: the fd of a blob that is a local regular file from which nothing was read yet
 *   (still owned by the reader), else -1
 */
int mv_blob_reader_local_fd (MvBlobReader *self);
/**
 * mv_blob_reader_read_hashed:
 * Reads at most @max bytes at the current position into the reader's buffer and hashes them
 * here, for the blob and, in the same pass, for @also (nullable). For a local blob taken by
 * position (a plain tar whose members the unpacker child only locates): no hasher thread,
 * no chunk held by the consumer.
 * Returns: the length read (valid until the next read), 0 at the end, -1 on error
 */
gssize mv_blob_reader_read_hashed (MvBlobReader *self, gsize max, MvDigester *also,
                                   const void **out_data, GError **error);
/**
 * mv_blob_reader_hash_to:
 * Reads and hashes up to @offset (for the blob and @also), which must not be behind the
 * current position. A blob that ends before it is an error.
 */
gboolean mv_blob_reader_hash_to (MvBlobReader *self, guint64 offset, MvDigester *also,
                                 GError **error);
/**
 * mv_blob_reader_copy_range_to_fd:
 * The next @len bytes of the blob into @dest_fd (empty, read-write, at offset 0), hashed for
 * the blob and for @also in one pass: by the kernel's copy and a mapping of @dest_fd as in
 * mv_blob_reader_copy_to_fd() for big ranges, else read and written.
 */
gboolean mv_blob_reader_copy_range_to_fd (MvBlobReader *self, guint64 len, int dest_fd,
                                          MvDigester *also, GError **error);
/**
 * mv_blob_reader_next:
 * @out_data: (out): the next chunk, valid until the next call
 * Returns: its length; 0 at the end; -1 on error (more than the declared size is an error)
 */
gssize mv_blob_reader_next (MvBlobReader *self, const void **out_data, GError **error);
/** mv_blob_reader_finish: reads what is left, then checks size and digest */
gboolean mv_blob_reader_finish (MvBlobReader *self, GError **error);
/** mv_blob_reader_get_size: the declared size */
gint64 mv_blob_reader_get_size (MvBlobReader *self);
/** mv_blob_reader_get_nread: bytes read so far */
guint64 mv_blob_reader_get_nread (MvBlobReader *self);

typedef enum
{
  MV_ENTRY_FILE,
  MV_ENTRY_DIR,
  MV_ENTRY_SYMLINK,
  MV_ENTRY_HARDLINK,
  MV_ENTRY_OTHER, /* devices, fifos, sockets, unknown type flags */
} MvEntryType;

typedef enum
{
  MV_WHAT_FILE,
  MV_WHAT_DIRECTORY,
  MV_WHAT_SYMLINK,
  MV_WHAT_HARDLINK,
  MV_WHAT_CHARDEV,
  MV_WHAT_BLOCKDEV,
  MV_WHAT_FIFO,
  MV_WHAT_SOCKET,
  MV_WHAT_UNKNOWN,
  MV_WHAT_LAST = MV_WHAT_UNKNOWN,
} MvWhat;

/** mv_what_to_string: the entry type in words, for messages ("character device", ...) */
const char *mv_what_to_string (MvWhat what);

typedef struct
{
  MvEntryType type;
  char *path;        /* as in the layer, unvalidated */
  char *link_target; /* symlinks and hardlinks */
  guint32 mode;      /* permission bits as in the layer; only the exec bit is kept */
  gint64 size;       /* regular files */
  MvWhat what_code;
  const char *what; /* mv_what_to_string (what_code) */
  gboolean sparse;
} MvEntry;

void mv_entry_clear (MvEntry *entry);

typedef struct MvEntryReader MvEntryReader;

/**
 * mv_tar_reader_new:
 * @blob: (transfer none): the blob; must outlive the reader
 * @format: TAR, TAR_GZIP or TAR_ZSTD; the compression must be exactly that
 */
MvEntryReader *mv_tar_reader_new (MvBlobReader *blob, MvLayerFormat format, GError **error);
/* Limits of one tar layer, enforced by the unpacker (mv-sandbox and the reader below). */
typedef struct
{
  guint64 max_entries;  /* entries per layer */
  guint64 max_bytes;    /* unpacked bytes per layer: the whole tar stream, headers included */
  guint64 max_ratio;    /* unpacked bytes per compressed byte, plus 1 MiB slack */
  guint64 memory_bytes; /* RLIMIT_AS of the child (not under ASan) */
  guint timeout_s;      /* the child's longest silence */
} MvUnpackLimits;

/**
 * mv_tar_reader_new_fd:
 * @limits: (nullable): max_bytes and max_ratio are checked on the decompressed stream
 * The same, reading the layer from @fd (the sandboxed child's stdin); no digest. Counts the
 * bytes read in mv_entry_reader_get_nread().
 */
MvEntryReader *mv_tar_reader_new_fd (int fd, MvLayerFormat format, const MvUnpackLimits *limits,
                                     GError **error);
/**
 * mv_tar_reader_new_seekable:
 * A plain tar read from @fd, a regular file (the sandboxed child's stdin when the layer is a
 * local file): the reader can skip member data with lseek instead of reading it, and hashes
 * what it does read of the structure (everything but regular members' data) so that the
 * parent can check it took its offsets from the same bytes: mv_entry_reader_member_range(),
 * mv_entry_reader_structure().
 */
MvEntryReader *mv_tar_reader_new_seekable (int fd, const MvUnpackLimits *limits, GError **error);
/**
 * mv_entry_reader_member_range:
 * For a seekable reader, after mv_entry_reader_next(): where @entry's data lies in the tar,
 * from the reader's own look at the headers, checked against libarchive's.
 * Returns: 1 for a regular, non-sparse file (@out_offset, @out_len set), 0 for an entry with
 *   no data to report, -1 when the two views of the stream disagree
 */
int mv_entry_reader_member_range (MvEntryReader *self, const MvEntry *entry, guint64 *out_offset,
                                  guint64 *out_len, GError **error);
/**
 * mv_entry_reader_structure:
 * After the last entry of a seekable reader: @out_end, where the tar's structure ends (after
 * its end-of-archive block, or the last byte read), and the "sha256:..." of every byte before
 * it except the regular members' data (transfer full).
 */
char *mv_entry_reader_structure (MvEntryReader *self, guint64 *out_end);
/** mv_entry_reader_get_nread: compressed bytes read so far (fd readers) */
guint64 mv_entry_reader_get_nread (MvEntryReader *self);
/**
 * mv_entry_reader_diff_id:
 * After the last entry of a tar+gzip or tar+zstd layer: "sha256:<hex>" of its whole
 * decompressed stream, everything after the end-of-archive blocks included (the layer's
 * diffID); NULL for a plain tar, whose diffID is its blob digest. Once only (transfer full).
 */
char *mv_entry_reader_diff_id (MvEntryReader *self);
/**
 * mv_entry_reader_finish:
 * After the last entry: for a sandboxed reader, waits for the child and the feeding thread
 * and reports their errors; for others, nothing.
 */
gboolean mv_entry_reader_finish (MvEntryReader *self, GError **error);

/* A reader whose entries come from elsewhere (mv-sandbox): the reader calls these. */
typedef struct
{
  int (*next) (gpointer remote, MvEntry *out_entry, GError **error);
  gssize (*read_data) (gpointer remote, const void **out_buf, GError **error);
  gboolean (*finish) (gpointer remote, GError **error);
  void (*free) (gpointer remote);
  int (*copy_data) (gpointer remote, int dest_fd, MvDigester *also, GError **error);
  char *(*diff_id) (gpointer remote);
  gboolean (*copies_data) (gpointer remote); /* would copy_data copy the current entry? */
} MvRemoteEntries;
MvEntryReader *mv_entry_reader_new_remote (const MvRemoteEntries *vtable, gpointer remote);

/** mv_entry_reader_next: 1 with @out_entry filled, 0 at the end, -1 on error */
int mv_entry_reader_next (MvEntryReader *self, MvEntry *out_entry, GError **error);
/** mv_entry_reader_read_data: the current file entry's bytes; 0 at its end, -1 on error */
gssize mv_entry_reader_read_data (MvEntryReader *self, const void **out_buf, GError **error);
/**
 * mv_entry_reader_copy_data:
 * The current file entry's bytes straight into @dest_fd (empty, read-write, at offset 0),
 * also fed to @also, when the reader can do so without handing them out (a sandboxed plain
 * tar from a local file: the bytes come from the blob, where the child said they are).
 * Returns: 1 done, 0 not for this reader (use mv_entry_reader_read_data()), -1 on error
 */
int mv_entry_reader_copy_data (MvEntryReader *self, int dest_fd, MvDigester *also, GError **error);
/**
 * mv_entry_reader_copies_data:
 * Returns: TRUE if mv_entry_reader_copy_data() would copy the current file entry (its size is
 *   then bounded by the blob, whose bytes are copied), FALSE if it would return 0
 */
gboolean mv_entry_reader_copies_data (MvEntryReader *self);
void mv_entry_reader_free (MvEntryReader *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MvEntryReader, mv_entry_reader_free)
