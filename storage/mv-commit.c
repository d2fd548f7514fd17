/* mv-commit: content objects, layer commits and model commits.
 *
 * File objects are written by us, not by libostree: libostree 2022.7 hashes with GLib's
 * portable SHA-256 (~300 MB/s here) while the SHA extensions do 1.8 GB/s, or two streams at
 * once in little more time. We compute ostree's own content checksum (the file header variant,
 * then the bytes) as the bytes go to an O_TMPFILE (for a raw layer in the same pass as the
 * blob digest: the blob reader feeds both), and link the result into repo/objects in
 * bare-user-only layout
 * (mode 0644 or 0755, no xattrs). Everything else (dirtrees, dirmeta, commits, refs) goes
 * through libostree's API inside one transaction per commit.
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "mv-digest-private.h"
#include "mv-integrity-private.h"
#include "mv-limits-private.h"
#include "mv-path-private.h"
#include "mv-repo-private.h"
#include "mv-sandbox-private.h"
#include "mv-unpack-private.h"

#define COPY_CHUNK (1024 * 1024)

/* ---------------------------------------------------------------------------------------- */
/* Content objects                                                                          */

struct MvObjectWriter
{
  MvStore *store;
  int fd;
  MvDigester *digester; /* fed by the caller: the blob reader for a raw layer (in the same
                         * pass as the blob digest), the tar import for a tar member */
  guint32 mode;
  guint64 written;
  guint64 flushed;  /* writeback started up to here */
  guint64 promised; /* the object's size as far as checked: written + what may follow */
  guint64 reserved; /* this writer's part of store->space_reserved: promised - written */
};

/* libostree keeps the repo's core.min-free-space-percent (or -size) free for the objects it
 * writes; ours keep it too, checked before an object's first bytes and at every MiB. The
 * layers of an import are written side by side: each writer reserves what it has been let
 * write and has not written yet (a whole raw layer, or a tar member the kernel may copy, is
 * checked at once, before the kernel copies it), and each check counts what the other writers of
 * this process reserved, so two layers never both take the last free bytes. A reservation is
 * counted again by the others while the kernel copies it (conservative). Across processes the check
 * is not exact, as libostree's is not. */
#define SPACE_CHECK_STEP (1024 * 1024)

static void
release_space (MvObjectWriter *w)
{
  if (w->reserved > 0)
    __atomic_sub_fetch (&w->store->space_reserved, w->reserved, __ATOMIC_SEQ_CST);
  w->reserved = 0;
}

static gboolean
check_free_space (MvObjectWriter *w, gsize len, GError **error)
{
  struct statvfs st;
  guint64 avail, others, want;
  guint64 min = w->store->min_free_bytes;

  if (min == 0)
    return TRUE;
  want = MAX (w->promised, w->written + len);
  /* What this writer wrote is in the free space now: it reserves only what is still to come. */
  release_space (w);
  if (fstatvfs (w->fd, &st) < 0)
    return mv_throw_errno_prefix (error, "checking free space in '%s'", w->store->root);
  avail = (guint64)st.f_bavail * st.f_frsize;
  /* Reserve first: of two writers checking at once, the second counts the first. */
  w->reserved = want - w->written;
  others = __atomic_fetch_add (&w->store->space_reserved, w->reserved, __ATOMIC_SEQ_CST);
  if (avail < min || avail - min < others || avail - min - others < w->reserved)
    {
      release_space (w);
      g_autofree char *shown = g_format_size (min);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE,
                   "writing to the store would leave less than its min-free-space of %s free "
                   "(core.min-free-space-* in '%s/repo/config')",
                   shown, w->store->root);
      return FALSE;
    }
  w->promised = want;
  return TRUE;
}

char *
mv_object_path (const char *checksum, const char *ext)
{
  return g_strdup_printf ("%c%c/%s.%s", checksum[0], checksum[1], checksum + 2, ext);
}

/* ostree's file header for a regular file with uid 0, gid 0, @mode, no xattrs: a big-endian
 * 32-bit length, 4 bytes of padding, then the "(uuuusa(ayay))" variant. */
static void
digest_file_header (MvDigester *d, guint32 mode)
{
  g_autoptr (GVariant) v = g_variant_ref_sink (
      g_variant_new ("(uuuus@a(ayay))", GUINT32_TO_BE (0), GUINT32_TO_BE (0), GUINT32_TO_BE (mode),
                     0, "", g_variant_new_array (G_VARIANT_TYPE ("(ayay)"), NULL, 0)));
  guint8 prefix[8] = { 0 };
  guint32 len_be = GUINT32_TO_BE ((guint32)g_variant_get_size (v));

  memcpy (prefix, &len_be, 4);
  mv_digester_update (d, prefix, sizeof prefix);
  mv_digester_update (d, g_variant_get_data (v), g_variant_get_size (v));
}

MvObjectWriter *
mv_object_writer_new (MvStore *store, guint32 mode, GError **error)
{
  g_autoptr (MvObjectWriter) w = g_new0 (MvObjectWriter, 1);

  g_assert (mode == 0644 || mode == 0755);
  w->store = store;
  w->mode = mode;
  /* Readable too: a raw layer copied in by the kernel is hashed from a mapping of it. */
  w->fd = openat (store->tmp_dfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (w->fd < 0)
    {
      mv_throw_errno_prefix (error, "creating a temporary file in '%s/tmp'", store->root);
      return NULL;
    }
  w->digester = mv_digester_new (NULL, error);
  if (w->digester == NULL)
    return NULL;
  digest_file_header (w->digester, S_IFREG | mode);
  return g_steal_pointer (&w);
}

gboolean
mv_object_writer_write (MvObjectWriter *w, const void *buf, gsize len, GError **error)
{
  if ((w->written == 0 || w->written / SPACE_CHECK_STEP != (w->written + len) / SPACE_CHECK_STEP)
      && !check_free_space (w, len, error))
    return FALSE;
  if (mv_loop_write (w->fd, buf, len) < 0)
    return mv_throw_errno_prefix (error, "writing to the store");
  w->written += len;
  mv_fd_start_writeback (w->fd, &w->flushed, w->written);
  return TRUE;
}

/* Links the finished object into @staging_dfd under its checksum, unless the repo already has
 * it. Staged objects are moved into repo/objects only once the whole layer checks out. */
static gboolean
object_writer_stage (MvObjectWriter *w, int staging_dfd, char *out_checksum, gboolean *out_staged,
                     GError **error)
{
  g_autofree char *digest = mv_digester_finish (w->digester);
  const char *hex = digest + strlen ("sha256:");
  g_autofree char *objpath = mv_object_path (hex, "file");
  g_autofree char *staged = g_strconcat (hex, ".file", NULL);
  g_autofree char *proc = NULL;
  struct stat st;

  memcpy (out_checksum, hex, 65);
  *out_staged = FALSE;
  if (fstatat (w->store->objects_dfd, objpath, &st, AT_SYMLINK_NOFOLLOW) == 0)
    return TRUE; /* already stored: this is the dedup */
  if (fchmod (w->fd, w->mode) < 0)
    return mv_throw_errno_prefix (error, "setting mode of a new object");
  proc = g_strdup_printf ("/proc/self/fd/%d", w->fd);
  if (linkat (AT_FDCWD, proc, staging_dfd, staged, AT_SYMLINK_FOLLOW) < 0)
    {
      if (errno != EEXIST)
        return mv_throw_errno_prefix (error, "staging object %s", hex);
      return TRUE; /* the same content twice in this layer */
    }
  *out_staged = TRUE;
  return TRUE;
}

void
mv_object_writer_free (MvObjectWriter *w)
{
  if (w == NULL)
    return;
  release_space (w);
  mv_close_fdp (&w->fd);
  g_clear_pointer (&w->digester, mv_digester_free);
  g_free (w);
}

gboolean
mv_store_verify_file_object (MvStore *store, const char *checksum, GCancellable *cancellable,
                             GError **error)
{
  g_autofree char *objpath = mv_object_path (checksum, "file");
  g_autoptr (MvDigester) d = NULL;
  g_autofree char *buf = NULL;
  g_autofree char *digest = NULL;
  mv_autofd int fd = -1;
  struct stat st;

  fd = openat (store->objects_dfd, objpath, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0)
    {
      if (errno == ELOOP)
        {
          /* Symlink objects are real symlinks in bare-user-only: let ostree check them. */
          return ostree_repo_fsck_object (store->repo, OSTREE_OBJECT_TYPE_FILE, checksum,
                                          cancellable, error);
        }
      if (errno == ENOENT)
        return mv_throw (error, MV_ERROR_CORRUPTED, "object %s is missing", checksum);
      return mv_throw_errno_prefix (error, "opening object %s", checksum);
    }
  if (fstat (fd, &st) < 0)
    return mv_throw_errno_prefix (error, "stat of object %s", checksum);
  if (!S_ISREG (st.st_mode))
    return mv_throw (error, MV_ERROR_CORRUPTED, "object %s is not a regular file", checksum);
  d = mv_digester_new (NULL, error);
  digest_file_header (d, st.st_mode & (S_IFMT | 07777));
  posix_fadvise (fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  buf = g_malloc (COPY_CHUNK);
  for (;;)
    {
      ssize_t n = read (fd, buf, COPY_CHUNK);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return mv_throw_errno_prefix (error, "reading object %s", checksum);
      if (n == 0)
        break;
      mv_digester_update (d, buf, n);
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return FALSE;
    }
  digest = mv_digester_finish (d);
  if (!g_str_equal (digest + strlen ("sha256:"), checksum))
    return mv_throw (error, MV_ERROR_CORRUPTED, "object %s has checksum %s", checksum,
                     digest + strlen ("sha256:"));
  return TRUE;
}

/* ---------------------------------------------------------------------------------------- */
/* Mutable trees                                                                            */

static gboolean
is_not_found (GError *e)
{
  return g_error_matches (e, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
}

/* Looks @name up in @dir: 0 absent, 1 file (out_file set), 2 directory (out_dir set). */
static int
mtree_lookup (OstreeMutableTree *dir, const char *name, char **out_file,
              OstreeMutableTree **out_dir, GError **error)
{
  g_autoptr (GError) local_error = NULL;
  g_autofree char *file = NULL;
  g_autoptr (OstreeMutableTree) sub = NULL;

  if (!ostree_mutable_tree_lookup (dir, name, &file, &sub, &local_error))
    {
      if (is_not_found (local_error))
        return 0;
      g_propagate_error (error, g_steal_pointer (&local_error));
      return -1;
    }
  if (file != NULL)
    {
      if (out_file)
        *out_file = g_steal_pointer (&file);
      return 1;
    }
  if (out_dir)
    *out_dir = g_steal_pointer (&sub);
  return 2;
}

static OstreeMutableTree *
mtree_new_subdir (MvStore *store, OstreeMutableTree *dir, const char *name, GError **error)
{
  g_autoptr (OstreeMutableTree) sub = NULL;
  if (!ostree_mutable_tree_ensure_dir (dir, name, &sub, error))
    return NULL;
  ostree_mutable_tree_set_metadata_checksum (sub, mv_store_dirmeta (store));
  return g_steal_pointer (&sub);
}

/* Returns the directory that will hold @path's last component, creating directories on the
 * way. A component that exists as a file or symlink is an error: nothing is ever written
 * through a symlink. */
static OstreeMutableTree *
mtree_parent_for (MvStore *store, OstreeMutableTree *root, const char *path, const char **out_leaf,
                  GError **error)
{
  g_autoptr (OstreeMutableTree) cur = g_object_ref (root);
  const char *p = path;
  const char *slash;

  while ((slash = strchr (p, '/')) != NULL)
    {
      g_autofree char *comp = g_strndup (p, slash - p);
      g_autoptr (OstreeMutableTree) sub = NULL;
      int r = mtree_lookup (cur, comp, NULL, &sub, error);
      if (r < 0)
        return NULL;
      if (r == 1)
        {
          g_autofree char *prefix = g_strndup (path, slash - path);
          mv_throw (error, MV_ERROR_UNSAFE_PATH,
                    "'%s' is a file or symlink, not a directory, in '%s'", prefix, path);
          return NULL;
        }
      if (r == 0)
        {
          sub = mtree_new_subdir (store, cur, comp, error);
          if (sub == NULL)
            return NULL;
        }
      g_set_object (&cur, sub);
      p = slash + 1;
    }
  *out_leaf = p;
  return g_steal_pointer (&cur);
}

/* ---------------------------------------------------------------------------------------- */
/* Layer import                                                                             */

typedef struct
{
  MvStore *store;
  OstreeRepo *repo; /* this import's own handle: its transaction */
  const MvLayerSpec *spec;
  OstreeMutableTree *root;
  int staging_dfd;
  char *staging_name;
  GPtrArray *staged; /* checksums staged in staging_dfd */
  guint64 n_files;
  guint64 n_bytes;
  char *diff_id; /* the digest of the uncompressed stream, once read */
  GCancellable *cancellable;
} LayerImport;

static void
layer_import_clear (LayerImport *li)
{
  g_clear_object (&li->root);
  if (li->repo != NULL)
    mv_store_give_repo (li->store, g_steal_pointer (&li->repo));
  if (li->staging_name != NULL)
    (void)mv_rm_rf_at (li->store->tmp_dfd, li->staging_name, NULL, NULL);
  g_clear_pointer (&li->staging_name, g_free);
  mv_close_fdp (&li->staging_dfd);
  g_clear_pointer (&li->staged, g_ptr_array_unref);
  g_clear_pointer (&li->diff_id, g_free);
}

static gboolean
stage_file (LayerImport *li, MvObjectWriter *w, char *out_checksum, GError **error)
{
  gboolean staged;
  if (!object_writer_stage (w, li->staging_dfd, out_checksum, &staged, error))
    return FALSE;
  if (staged)
    g_ptr_array_add (li->staged, g_strdup (out_checksum));
  return TRUE;
}

static gboolean
add_leaf (LayerImport *li, const char *path, const char *checksum, const char *what, GError **error)
{
  const char *leaf;
  g_autoptr (OstreeMutableTree) parent = mtree_parent_for (li->store, li->root, path, &leaf, error);
  int r;

  if (parent == NULL)
    return FALSE;
  r = mtree_lookup (parent, leaf, NULL, NULL, error);
  if (r < 0)
    return FALSE;
  if (r > 0)
    return mv_throw (error, MV_ERROR_UNSAFE_PATH, "'%s' appears more than once", path);
  if (!ostree_mutable_tree_replace_file (parent, leaf, checksum, error))
    return mv_prefix_error (error, "adding %s '%s'", what, path);
  return TRUE;
}

/* The whole blob into the object: copied by the kernel from a local file, else written from
 * the chunks read. The file is the blob: one pass over its bytes hashes both. */
static gboolean
copy_raw (MvBlobReader *blob, MvObjectWriter *w, GError **error)
{
  int r = mv_blob_reader_copy_to_fd (blob, w->fd, w->digester, error);

  if (r < 0)
    return FALSE;
  if (r == 0)
    mv_blob_reader_defer_hashing (blob);
  while (r == 0)
    {
      const void *buf;
      gssize n = mv_blob_reader_next (blob, &buf, error);
      if (n < 0)
        return FALSE;
      if (n == 0)
        break;
      mv_blob_reader_hash_data_also (blob, w->digester, buf, n);
      if (!mv_object_writer_write (w, buf, n, error))
        return FALSE;
    }
  /* Verify before staging, so a bad blob never leaves even an orphan object behind. */
  return mv_blob_reader_finish (blob, error);
}

static gboolean
import_raw (LayerImport *li, MvBlobReader *blob, GError **error)
{
  g_autofree char *path = NULL;
  g_autoptr (MvObjectWriter) w = NULL;
  char checksum[65];

  if (li->spec->filepath == NULL || *li->spec->filepath == '\0')
    return mv_throw (error, MV_ERROR_UNSAFE_PATH, "raw layer has no file path annotation");
  if (!mv_path_normalize (li->spec->filepath, MV_PATH_NONE, &path, error))
    return mv_prefix_error (error, "file path");
  w = mv_object_writer_new (li->store, li->spec->mode == 0755 ? 0755 : 0644, error);
  if (w == NULL)
    return FALSE;
  /* The kernel may copy it whole: check the space for all of it first. */
  if (!check_free_space (w, (gsize)MAX (li->spec->size, 0), error))
    return FALSE;
  if (!copy_raw (blob, w, error))
    return FALSE;
  if (!stage_file (li, w, checksum, error))
    return FALSE;
  if (!add_leaf (li, path, checksum, "file", error))
    return FALSE;
  li->n_files = 1;
  li->n_bytes = mv_blob_reader_get_nread (blob);
  li->diff_id = g_strdup (li->spec->digest);
  return TRUE;
}

static gboolean
import_tar_entry (LayerImport *li, MvEntryReader *reader, MvEntry *e, GError **error)
{
  g_autofree char *path = NULL;
  char checksum[65];

  if (!mv_path_normalize (e->path, MV_PATH_TAR_MEMBER, &path, error))
    {
      g_autofree char *shown = mv_escape_for_display (e->path, 200);
      /* The root directory entry ("./") of a tar made with `tar -C dir .` is fine. */
      if (e->type == MV_ENTRY_DIR && (g_str_equal (e->path, ".") || g_str_equal (e->path, "./")))
        {
          g_clear_error (error);
          return TRUE;
        }
      return mv_prefix_error (error, "tar member '%s'", shown);
    }

  switch (e->type)
    {
      case MV_ENTRY_FILE:
        {
          g_autoptr (MvObjectWriter) w = NULL;
          int copied;
          if (e->sparse)
            return mv_throw (error, MV_ERROR_UNSUPPORTED,
                             "tar member '%s': sparse files are not supported", path);
          w = mv_object_writer_new (li->store, (e->mode & 0111) ? 0755 : 0644, error);
          if (w == NULL)
            return FALSE;
          /* A plain tar from a local file: the bytes straight from the blob, where the
           * unpacker says they are, hashed for the blob and the object in one pass. The kernel
           * may copy the member whole, past every check of mv_object_writer_write(): the space
           * for all of it is checked first (as for a raw layer; its size is bounded by the
           * blob then, where a compressed member's is only the header's word). */
          if (e->size > 0 && mv_entry_reader_copies_data (reader)
              && !check_free_space (w, (gsize)e->size, error))
            return mv_prefix_error (error, "tar member '%s'", path);
          copied = mv_entry_reader_copy_data (reader, w->fd, w->digester, error);
          if (copied < 0)
            return mv_prefix_error (error, "tar member '%s'", path);
          while (!copied)
            {
              const void *buf;
              gssize n = mv_entry_reader_read_data (reader, &buf, error);
              if (n < 0)
                return mv_prefix_error (error, "tar member '%s'", path);
              if (n == 0)
                break;
              /* File bytes come from the unpacker child, not from the blob as read: hashed
               * here on their own (the blob digest is taken on the way to the child). */
              mv_digester_update (w->digester, buf, n);
              if (!mv_object_writer_write (w, buf, n, error))
                return FALSE;
            }
          if (!stage_file (li, w, checksum, error))
            return FALSE;
          if (!add_leaf (li, path, checksum, "file", error))
            return mv_prefix_error (error, "tar member '%s'", path);
          li->n_files++;
          li->n_bytes += MAX (e->size, 0);
          return TRUE;
        }
      case MV_ENTRY_DIR:
        {
          const char *leaf;
          g_autoptr (OstreeMutableTree) parent
              = mtree_parent_for (li->store, li->root, path, &leaf, error);
          int r;
          if (parent == NULL)
            return mv_prefix_error (error, "tar member '%s'", path);
          r = mtree_lookup (parent, leaf, NULL, NULL, error);
          if (r < 0)
            return FALSE;
          if (r == 1)
            return mv_throw (error, MV_ERROR_UNSAFE_PATH,
                             "tar member '%s': directory replaces a file or symlink", path);
          if (r == 0)
            {
              g_autoptr (OstreeMutableTree) sub = mtree_new_subdir (li->store, parent, leaf, error);
              if (sub == NULL)
                return FALSE;
            }
          return TRUE;
        }
      case MV_ENTRY_SYMLINK:
        {
          g_autofree char *csum = NULL;
          if (!mv_path_check_link_target (path, e->link_target, error))
            return mv_prefix_error (error, "tar member '%s'", path);
          csum = ostree_repo_write_symlink (li->repo, NULL, 0, 0, NULL, e->link_target,
                                            li->cancellable, error);
          if (csum == NULL)
            return FALSE;
          if (!add_leaf (li, path, csum, "symlink", error))
            return mv_prefix_error (error, "tar member '%s'", path);
          return TRUE;
        }
      case MV_ENTRY_HARDLINK:
        return mv_throw (error, MV_ERROR_UNSAFE_PATH, "tar member '%s': hardlinks are not allowed",
                         path);
      case MV_ENTRY_OTHER:
      default:
        return mv_throw (error, MV_ERROR_UNSAFE_PATH, "tar member '%s': %ss are not allowed", path,
                         e->what);
    }
}

static gboolean
import_tar (LayerImport *li, MvBlobReader *blob, GError **error)
{
  g_autoptr (MvEntryReader) reader = NULL;
  MvUnpackLimits limits;

  /* libarchive, zlib and zstd run in the confined child (mv-sandbox); what comes back is
   * validated here, entry by entry, exactly as before. */
  mv_unpack_limits_default (&limits);
  reader = mv_sandboxed_tar_reader_new (blob, li->spec->format, &limits, error);
  if (reader == NULL)
    return FALSE;
  for (;;)
    {
      MvEntry e;
      int r = mv_entry_reader_next (reader, &e, error);
      gboolean ok;
      if (r < 0)
        return FALSE;
      if (r == 0)
        break;
      if (g_cancellable_set_error_if_cancelled (li->cancellable, error))
        {
          mv_entry_clear (&e);
          return FALSE;
        }
      ok = import_tar_entry (li, reader, &e, error);
      mv_entry_clear (&e);
      if (!ok)
        return FALSE;
    }
  if (!mv_entry_reader_finish (reader, error) || !mv_blob_reader_finish (blob, error))
    return FALSE;
  /* A plain tar is its own uncompressed stream; the child hashed a compressed one whole. */
  li->diff_id = li->spec->format == MV_LAYER_FORMAT_TAR ? g_strdup (li->spec->digest)
                                                        : mv_entry_reader_diff_id (reader);
  if (li->diff_id == NULL)
    return mv_throw (error, MV_ERROR_FAILED, "unpacker: no digest of the uncompressed layer");
  return TRUE;
}

/* Moves staged objects into repo/objects; an object that appeared meanwhile is kept as is. */
static gboolean
publish_staged (LayerImport *li, GError **error)
{
  MvStore *store = li->store;

  for (guint i = 0; i < li->staged->len; i++)
    {
      const char *csum = li->staged->pdata[i];
      g_autofree char *staged = g_strconcat (csum, ".file", NULL);
      g_autofree char *objpath = mv_object_path (csum, "file");
      char dir[3] = { csum[0], csum[1], '\0' };

      if (!mv_ensure_dirat (store->objects_dfd, dir, 0755, error))
        return FALSE;
      if (linkat (li->staging_dfd, staged, store->objects_dfd, objpath, 0) < 0 && errno != EEXIST)
        return mv_throw_errno_prefix (error, "storing object %s", csum);
    }
  return TRUE;
}

/* libostree 2022.7 can pick, for reuse, a staging directory that another transaction (a
 * layer of ours in another thread, or another process) is removing at that moment: it takes
 * the lock file the remover just unlinked (creating it anew) and then finds no directory
 * (ENOENT from opendir). Nothing was written; a new attempt allocates another directory. */
static gboolean
prepare_transaction (OstreeRepo *repo, GCancellable *cancellable, GError **error)
{
  for (int attempt = 1;; attempt++)
    {
      g_autoptr (GError) local_error = NULL;
      if (ostree_repo_prepare_transaction (repo, NULL, cancellable, &local_error))
        return TRUE;
      (void)ostree_repo_abort_transaction (repo, NULL, NULL);
      if (attempt == 5 || !g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
      g_debug ("preparing a transaction: %s; again", local_error->message);
    }
}

static gboolean
write_commit_and_ref (OstreeRepo *repo, OstreeMutableTree *root, GVariant *metadata,
                      const char *subject, const char *ref, GCancellable *cancellable,
                      GError **error)
{
  g_autoptr (GFile) root_file = NULL;
  g_autofree char *commit = NULL;

  if (!ostree_repo_write_mtree (repo, root, &root_file, cancellable, error))
    return FALSE;
  /* Time 0 and no parent: the same content always gives the same commit, so concurrent
   * importers of one layer or model agree on the ref's value. */
  if (!ostree_repo_write_commit_with_time (repo, NULL, subject, NULL, metadata,
                                           OSTREE_REPO_FILE (root_file), 0, &commit, cancellable,
                                           error))
    return FALSE;
  ostree_repo_transaction_set_ref (repo, NULL, ref, commit);
  return ostree_repo_commit_transaction (repo, NULL, cancellable, error);
}

gboolean
mv_store_import_layer (MvStore *store, const MvLayerSpec *spec, GInputStream *blob,
                       GCancellable *cancellable, GError **error)
{
  g_auto (MvStoreLock) lock = { 0 };
  g_autoptr (MvBlobReader) br = NULL;
  LayerImport li = { .store = store, .spec = spec, .staging_dfd = -1, .cancellable = cancellable };
  g_autofree char *ref = NULL;
  g_auto (GVariantBuilder) mb = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);
  gboolean ok = FALSE;

  if (!mv_digest_validate (spec->digest, NULL, NULL, error))
    return FALSE;
  if (!mv_store_lock_acquire (store, FALSE, &lock, cancellable, error))
    return FALSE;
  ref = mv_layer_ref (spec->digest);
  li.repo = mv_store_take_repo (store, cancellable, error);
  if (li.repo == NULL)
    return FALSE;
  {
    g_autofree char *rev = NULL;
    if (!ostree_repo_resolve_rev_ext (li.repo, ref, TRUE, 0, &rev, error))
      {
        mv_store_give_repo (store, g_steal_pointer (&li.repo));
        return FALSE;
      }
    if (rev != NULL)
      {
        mv_store_give_repo (store, g_steal_pointer (&li.repo));
        return TRUE; /* stored meanwhile, by another thread or process */
      }
  }

  br = mv_blob_reader_new (blob, spec->digest, spec->size, cancellable);
  if (spec->progress != NULL)
    mv_blob_reader_set_progress (br, spec->progress, spec->progress_data);
  li.root = ostree_mutable_tree_new ();
  ostree_mutable_tree_set_metadata_checksum (li.root, mv_store_dirmeta (store));
  li.staged = g_ptr_array_new_with_free_func (g_free);
  li.staging_name = g_strdup_printf ("layer-%.12s-XXXXXX", strchr (spec->digest, ':') + 1);
  {
    g_autofree char *tmpl = g_build_filename (store->root, "tmp", li.staging_name, NULL);
    if (g_mkdtemp_full (tmpl, 0700) == NULL)
      {
        g_clear_pointer (&li.staging_name, g_free);
        mv_throw_errno_prefix (error, "creating staging directory in '%s/tmp'", store->root);
        goto out;
      }
    g_free (li.staging_name);
    li.staging_name = g_path_get_basename (tmpl);
  }
  li.staging_dfd = mv_opendirat (store->tmp_dfd, li.staging_name, FALSE, error);
  if (li.staging_dfd < 0)
    goto out;

  if (!prepare_transaction (li.repo, cancellable, error))
    goto out;

  if (spec->format == MV_LAYER_FORMAT_RAW)
    ok = import_raw (&li, br, error);
  else
    ok = import_tar (&li, br, error);
  if (!ok)
    goto abort;
  ok = FALSE;
  /* Before anything is published: a layer the config describes otherwise is not stored. */
  if (!mv_diff_id_check (spec->digest, spec->diff_id_index, li.diff_id, spec->diff_id, error))
    goto abort;

  if (!publish_staged (&li, error))
    goto abort;

  g_variant_builder_add (&mb, "{sv}", MV_META_DIGEST, g_variant_new_string (spec->digest));
  g_variant_builder_add (&mb, "{sv}", MV_META_FORMAT,
                         g_variant_new_string (mv_layer_format_to_string (spec->format)));
  g_variant_builder_add (&mb, "{sv}", MV_META_FILES, g_variant_new_uint64 (li.n_files));
  g_variant_builder_add (&mb, "{sv}", MV_META_BYTES, g_variant_new_uint64 (li.n_bytes));
  g_variant_builder_add (&mb, "{sv}", MV_META_DIFF_ID, g_variant_new_string (li.diff_id));
  {
    g_autoptr (GVariant) meta = g_variant_ref_sink (g_variant_builder_end (&mb));
    g_autofree char *subject = g_strconcat ("layer ", spec->digest, NULL);
    if (!write_commit_and_ref (li.repo, li.root, meta, subject, ref, cancellable, error))
      goto abort;
  }
  /* Every byte was just verified: whatever fsck found in an earlier copy is gone. */
  if (!mv_damage_clear (store->root_dfd, MV_DAMAGE_LAYER, spec->digest, error))
    goto out;
  ok = TRUE;
  goto out;

abort:
  (void)ostree_repo_abort_transaction (li.repo, NULL, NULL);
out:
  if (!ok && error && *error)
    {
      const char *hex = strchr (spec->digest, ':') + 1;
      g_prefix_error (error, "layer %.*s:%.12s: ", (int)(hex - 1 - spec->digest), spec->digest,
                      hex);
    }
  layer_import_clear (&li);
  return ok;
}

/* ---------------------------------------------------------------------------------------- */
/* Model commits                                                                            */

typedef struct
{
  MvStore *store;
  guint64 dup_files;
  guint64 dup_bytes;
} Merge;

static gboolean
merge_tree (Merge *m, OstreeMutableTree *dest, const char *tree, const char *path, GError **error)
{
  g_autoptr (GVariant) dirtree = NULL;
  g_autoptr (GVariant) files = NULL;
  g_autoptr (GVariant) dirs = NULL;
  const char *name;

  if (!ostree_repo_load_variant (m->store->repo, OSTREE_OBJECT_TYPE_DIR_TREE, tree, &dirtree,
                                 error))
    return FALSE;
  files = g_variant_get_child_value (dirtree, 0);
  dirs = g_variant_get_child_value (dirtree, 1);

  for (gsize i = 0, n = g_variant_n_children (files); i < n; i++)
    {
      g_autoptr (GVariant) csum_v = NULL;
      g_variant_get_child (files, i, "(&s@ay)", &name, &csum_v);
      g_autofree char *csum = ostree_checksum_from_bytes_v (csum_v);
      g_autofree char *have = NULL;
      g_autofree char *full = *path ? g_strconcat (path, "/", name, NULL) : g_strdup (name);
      int r = mtree_lookup (dest, name, &have, NULL, error);
      if (r < 0)
        return FALSE;
      if (r == 2)
        return mv_throw (error, MV_ERROR_UNSAFE_PATH,
                         "'%s' is a directory in one layer and a file in another", full);
      if (r == 1)
        {
          struct stat st;
          g_autofree char *objpath = mv_object_path (csum, "file");
          if (!g_str_equal (have, csum))
            return mv_throw (error, MV_ERROR_UNSAFE_PATH,
                             "'%s' has different content in two layers", full);
          m->dup_files++;
          if (fstatat (m->store->objects_dfd, objpath, &st, AT_SYMLINK_NOFOLLOW) == 0
              && S_ISREG (st.st_mode))
            m->dup_bytes += st.st_size;
          continue;
        }
      if (!ostree_mutable_tree_replace_file (dest, name, csum, error))
        return FALSE;
    }

  for (gsize i = 0, n = g_variant_n_children (dirs); i < n; i++)
    {
      g_autoptr (GVariant) csum_v = NULL;
      g_autoptr (GVariant) meta_v = NULL;
      g_variant_get_child (dirs, i, "(&s@ay@ay)", &name, &csum_v, &meta_v);
      g_autofree char *sub_tree = ostree_checksum_from_bytes_v (csum_v);
      g_autofree char *sub_meta = ostree_checksum_from_bytes_v (meta_v);
      g_autofree char *full = *path ? g_strconcat (path, "/", name, NULL) : g_strdup (name);
      g_autoptr (OstreeMutableTree) sub = NULL;
      int r = mtree_lookup (dest, name, NULL, &sub, error);
      if (r < 0)
        return FALSE;
      if (r == 1)
        return mv_throw (error, MV_ERROR_UNSAFE_PATH,
                         "'%s' is a file in one layer and a directory in another", full);
      if (r == 0)
        {
          /* A directory only this layer has: share its tree as is, no walk. */
          if (!ostree_mutable_tree_ensure_dir (dest, name, &sub, error))
            return FALSE;
          if (!ostree_mutable_tree_fill_empty_from_dirtree (sub, m->store->repo, sub_tree,
                                                            sub_meta))
            return mv_throw (error, MV_ERROR_FAILED, "merging '%s'", full);
          continue;
        }
      if (!merge_tree (m, sub, sub_tree, full, error))
        return FALSE;
    }
  return TRUE;
}

gboolean
mv_store_commit_model (MvStore *store, const MvModelSpec *spec, GCancellable *cancellable,
                       GError **error)
{
  g_auto (MvStoreLock) lock = { 0 };
  g_autoptr (OstreeMutableTree) root = ostree_mutable_tree_new ();
  g_autofree char *ref = NULL;
  g_auto (GVariantBuilder) mb = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);
  Merge m = { .store = store };
  guint64 n_files = 0, n_bytes = 0;
  g_autoptr (GPtrArray) layers = g_ptr_array_new ();

  if (!mv_digest_validate (spec->digest, NULL, NULL, error))
    return FALSE;
  if (!mv_store_lock_acquire (store, FALSE, &lock, cancellable, error))
    return FALSE;
  if (mv_store_has_model (store, spec->digest))
    return TRUE;
  ref = mv_model_ref (spec->digest);
  ostree_mutable_tree_set_metadata_checksum (root, mv_store_dirmeta (store));

  if (!prepare_transaction (store->repo, cancellable, error))
    return FALSE;

  for (guint i = 0; i < spec->n_layers; i++)
    {
      const char *ld = spec->layer_digests[i];
      g_autofree char *lref = mv_layer_ref (ld);
      g_autofree char *rev = mv_store_resolve_ref (store, lref, error);
      g_autofree char *tree = NULL;
      g_autofree char *meta_csum = NULL;
      g_autoptr (GVariant) meta = NULL;
      guint64 v;

      if (rev == NULL)
        {
          if (error && *error == NULL)
            mv_throw (error, MV_ERROR_NOT_FOUND, "layer %s is not in the store", ld);
          goto abort;
        }
      meta = mv_store_load_commit_meta (store, rev, &tree, &meta_csum, error);
      if (meta == NULL)
        goto abort;
      if (g_variant_lookup (meta, MV_META_FILES, "t", &v))
        n_files += v;
      if (g_variant_lookup (meta, MV_META_BYTES, "t", &v))
        n_bytes += v;
      if (!merge_tree (&m, root, tree, "", error))
        {
          mv_prefix_error (error, "layer %s", ld);
          goto abort;
        }
      g_ptr_array_add (layers, (gpointer)ld);
    }
  g_ptr_array_add (layers, NULL);

  g_variant_builder_add (&mb, "{sv}", MV_META_DIGEST, g_variant_new_string (spec->digest));
  g_variant_builder_add (&mb, "{sv}", MV_META_MANIFEST,
                         g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE,
                                                    g_bytes_get_data (spec->manifest, NULL),
                                                    g_bytes_get_size (spec->manifest), 1));
  g_variant_builder_add (&mb, "{sv}", MV_META_CONFIG,
                         g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE,
                                                    g_bytes_get_data (spec->config, NULL),
                                                    g_bytes_get_size (spec->config), 1));
  g_variant_builder_add (&mb, "{sv}", MV_META_ARTIFACT_TYPE,
                         g_variant_new_string (spec->artifact_type ? spec->artifact_type : ""));
  g_variant_builder_add (&mb, "{sv}", MV_META_LAYERS,
                         g_variant_new_strv ((const char *const *)layers->pdata, -1));
  g_variant_builder_add (&mb, "{sv}", MV_META_FILES, g_variant_new_uint64 (n_files - m.dup_files));
  g_variant_builder_add (&mb, "{sv}", MV_META_BYTES, g_variant_new_uint64 (n_bytes - m.dup_bytes));
  {
    g_autoptr (GVariant) meta = g_variant_ref_sink (g_variant_builder_end (&mb));
    g_autofree char *subject = g_strconcat ("model ", spec->digest, NULL);
    if (!write_commit_and_ref (store->repo, root, meta, subject, ref, cancellable, error))
      goto abort;
  }
  return TRUE;

abort:
  (void)ostree_repo_abort_transaction (store->repo, NULL, NULL);
  return FALSE;
}

gboolean
mv_store_set_signature (MvStore *store, const char *digest, GBytes *verdict,
                        GCancellable *cancellable, GError **error)
{
  g_auto (MvStoreLock) lock = { 0 };
  g_autoptr (OstreeMutableTree) root = ostree_mutable_tree_new ();
  g_autofree char *ref = NULL;
  g_autofree char *subject = NULL;
  g_autoptr (GVariant) meta = NULL;
  g_auto (GVariantBuilder) mb = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE_VARDICT);

  if (!mv_digest_validate (digest, NULL, NULL, error))
    return FALSE;
  if (g_bytes_get_size (verdict) > 1024 * 1024)
    return mv_throw (error, MV_ERROR_LIMIT_EXCEEDED, "signature verdict of %s: over 1 MiB", digest);
  if (!mv_store_lock_acquire (store, FALSE, &lock, cancellable, error))
    return FALSE;
  if (!mv_store_has_model (store, digest))
    return mv_throw (error, MV_ERROR_NOT_FOUND, "model %s is not in the store", digest);
  ref = mv_signature_ref (digest);
  subject = g_strconcat ("signature verdict of model ", digest, NULL);
  ostree_mutable_tree_set_metadata_checksum (root, mv_store_dirmeta (store));
  g_variant_builder_add (&mb, "{sv}", MV_META_DIGEST, g_variant_new_string (digest));
  g_variant_builder_add (&mb, "{sv}", MV_META_SIGNATURE,
                         g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE,
                                                    g_bytes_get_data (verdict, NULL),
                                                    g_bytes_get_size (verdict), 1));
  meta = g_variant_ref_sink (g_variant_builder_end (&mb));
  if (!prepare_transaction (store->repo, cancellable, error))
    return FALSE;
  if (!write_commit_and_ref (store->repo, root, meta, subject, ref, cancellable, error))
    {
      (void)ostree_repo_abort_transaction (store->repo, NULL, NULL);
      return mv_prefix_error (error, "keeping the signature verdict of %s", digest);
    }
  return TRUE;
}

GBytes *
mv_store_get_signature (MvStore *store, const char *digest, GError **error)
{
  g_autofree char *ref = mv_signature_ref (digest);
  g_autofree char *rev = mv_store_resolve_ref (store, ref, NULL);
  g_autoptr (GVariant) meta = NULL;
  g_autoptr (GVariant) v = NULL;
  gsize len = 0;
  const char *data;

  if (rev == NULL)
    return NULL;
  meta = mv_store_load_commit_meta (store, rev, NULL, NULL, error);
  if (meta == NULL)
    return NULL;
  v = g_variant_lookup_value (meta, MV_META_SIGNATURE, G_VARIANT_TYPE_BYTESTRING);
  if (v == NULL)
    return NULL;
  data = g_variant_get_fixed_array (v, &len, 1);
  return g_bytes_new (data, len);
}
