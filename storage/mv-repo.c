/* mv-repo: opening the store, its lock, ref names, model metadata.
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "mv-digest-private.h"
#include "mv-limits-private.h"
#include "mv-repo-private.h"

gboolean
mv_store_ensure_dirmeta (MvStore *self, GCancellable *cancellable, GError **error)
{
  g_autoptr (GFileInfo) info = g_file_info_new ();
  g_autoptr (GVariant) dirmeta = NULL;
  g_autofree guchar *csum = NULL;

  g_file_info_set_file_type (info, G_FILE_TYPE_DIRECTORY);
  g_file_info_set_attribute_uint32 (info, "unix::uid", 0);
  g_file_info_set_attribute_uint32 (info, "unix::gid", 0);
  g_file_info_set_attribute_uint32 (info, "unix::mode", S_IFDIR | 0755);
  dirmeta = ostree_create_directory_metadata (info, NULL); /* (transfer full), not floating */
  if (!ostree_repo_write_metadata (self->repo, OSTREE_OBJECT_TYPE_DIR_META, NULL, dirmeta, &csum,
                                   cancellable, error))
    return mv_prefix_error (error, "writing directory metadata");
  g_free (self->dirmeta_checksum);
  self->dirmeta_checksum = ostree_checksum_from_bytes (csum);
  return TRUE;
}

/* libostree's staging directories (repo/tmp/staging-*) of transactions that were killed or
 * failed: libostree 2022.7 keeps an aborted transaction's directory, and a killed one's, for
 * a later transaction to reuse, and that may never come. Called with the store lock held
 * exclusively, so no transaction of ours is open; a directory whose own lock another tool
 * holds is left alone, as libostree itself does. */
static void
sweep_ostree_staging (MvStore *self)
{
  mv_autofd int tmp_dfd = openat (ostree_repo_get_dfd (self->repo), "tmp",
                                  O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  DIR *dir;
  struct dirent *de;
  int fd;

  if (tmp_dfd < 0)
    return;
  fd = fcntl (tmp_dfd, F_DUPFD_CLOEXEC, 3);
  dir = fd >= 0 ? fdopendir (fd) : NULL;
  if (dir == NULL)
    {
      if (fd >= 0)
        close (fd);
      return;
    }
  while ((de = readdir (dir)) != NULL)
    if (g_str_has_prefix (de->d_name, "staging-"))
      g_ptr_array_add (names, g_strdup (de->d_name));
  closedir (dir);

  for (guint i = 0; i < names->len; i++)
    {
      const char *name = names->pdata[i];
      /* A lock file alone: its directory went, and a kill came before the lock did. */
      gboolean lone_lock = g_str_has_suffix (name, "-lock");
      g_autofree char *dir_name
          = lone_lock ? g_strndup (name, strlen (name) - strlen ("-lock")) : g_strdup (name);
      g_autofree char *lock_name = g_strconcat (dir_name, "-lock", NULL);
      struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
      g_autoptr (GError) local_error = NULL;
      struct stat st;
      mv_autofd int lock_fd = -1;

      if (lone_lock && fstatat (tmp_dfd, dir_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
        continue; /* swept with its directory */
      lock_fd = openat (tmp_dfd, lock_name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
      /* libostree (glnx_make_lock_file) locks with open file description locks. */
      if (lock_fd < 0 || fcntl (lock_fd, F_OFD_SETLK, &fl) < 0)
        continue;
      g_debug ("sweeping leftover repo/tmp/%s", name);
      if (!lone_lock && !mv_rm_rf_at (tmp_dfd, dir_name, NULL, &local_error))
        {
          g_debug ("sweeping repo/tmp/%s: %s", name, local_error->message);
          continue;
        }
      (void)unlinkat (tmp_dfd, lock_name, 0);
    }
}

/* Is @name what libglnx names a ref file before renaming it into place ("tmp." and six
 * alphanumerics)? No ref of ours looks so: digest leaves are hex, and a name ref's leaf always
 * holds an escaped ':' or '@' ("_3a", "_40"). */
static gboolean
is_glnx_tmp_name (const char *name)
{
  if (!g_str_has_prefix (name, "tmp.") || strlen (name) != 10)
    return FALSE;
  for (const char *p = name + 4; *p; p++)
    if (!g_ascii_isalnum (*p))
      return FALSE;
  return TRUE;
}

/* libostree writes a ref as a temp file linked under a temp name, then renamed over the ref:
 * a kill between the two leaves "tmp.XXXXXX" beside the refs. Removes those under
 * @dfd/@path, @depth levels down at most. Best effort: a ref file is never touched. */
static void
sweep_ref_tmp_files (int dfd, const char *path, int depth)
{
  mv_autofd int fd = openat (dfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  g_autoptr (GPtrArray) subdirs = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) stale = g_ptr_array_new_with_free_func (g_free);
  struct dirent *de;
  DIR *dir;
  int dup_fd;

  if (fd < 0 || depth < 0)
    return;
  dup_fd = fcntl (fd, F_DUPFD_CLOEXEC, 3);
  dir = dup_fd >= 0 ? fdopendir (dup_fd) : NULL;
  if (dir == NULL)
    {
      if (dup_fd >= 0)
        close (dup_fd);
      return;
    }
  while ((de = readdir (dir)) != NULL)
    {
      if (g_str_equal (de->d_name, ".") || g_str_equal (de->d_name, ".."))
        continue;
      if (de->d_type == DT_DIR)
        g_ptr_array_add (subdirs, g_strdup (de->d_name));
      else if (de->d_type == DT_REG && is_glnx_tmp_name (de->d_name))
        g_ptr_array_add (stale, g_strdup (de->d_name));
    }
  closedir (dir);
  for (guint i = 0; i < stale->len; i++)
    {
      g_debug ("sweeping a leftover ref temp file %s/%s", path, (const char *)stale->pdata[i]);
      (void)unlinkat (fd, stale->pdata[i], 0);
    }
  for (guint i = 0; i < subdirs->len; i++)
    sweep_ref_tmp_files (fd, subdirs->pdata[i], depth - 1);
}

/* Removes what interrupted operations left in tmp/ and repo/tmp/, only when no one else uses
 * the store. */
static gboolean
sweep_tmp (MvStore *self, GCancellable *cancellable, GError **error)
{
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  struct dirent *de;
  DIR *d;
  int dfd;

  if (flock (self->lock_fd, LOCK_EX | LOCK_NB) < 0)
    return TRUE; /* another process is at work: its files are not leftovers */

  sweep_ostree_staging (self);
  /* modelvol/<kind>/<alg>/<hex>, names a few levels deeper (one per "/" of a reference). */
  sweep_ref_tmp_files (ostree_repo_get_dfd (self->repo), "refs/heads/modelvol", 64);

  /* By fd, not GFile: GIO's VFS would load its extension points (half a MiB resident). */
  dfd = fcntl (self->tmp_dfd, F_DUPFD_CLOEXEC, 3);
  d = dfd >= 0 ? fdopendir (dfd) : NULL;
  if (d == NULL)
    {
      mv_throw_errno_prefix (error, "listing '%s/tmp'", self->root);
      if (dfd >= 0)
        close (dfd);
      flock (self->lock_fd, LOCK_UN);
      return FALSE;
    }
  rewinddir (d);
  while ((de = readdir (d)) != NULL)
    if (!g_str_equal (de->d_name, ".") && !g_str_equal (de->d_name, ".."))
      g_ptr_array_add (names, g_strdup (de->d_name));
  closedir (d);
  for (guint i = 0; i < names->len; i++)
    {
      g_debug ("sweeping leftover tmp/%s", (const char *)names->pdata[i]);
      if (!mv_rm_rf_at (self->tmp_dfd, names->pdata[i], cancellable, error))
        {
          flock (self->lock_fd, LOCK_UN);
          return FALSE;
        }
    }
  flock (self->lock_fd, LOCK_UN);
  return TRUE;
}

/* Creates repo/ under a temp name in tmp/ and renames it into place, so a crash never leaves
 * a half repo. */
static gboolean
create_repo_locked (MvStore *self, const char *tmpname, GCancellable *cancellable, GError **error)
{
  g_autoptr (OstreeRepo) tmp_repo = NULL;

  if (!mv_rm_rf_at (self->tmp_dfd, tmpname, cancellable, error))
    return FALSE;
  tmp_repo = ostree_repo_create_at (self->tmp_dfd, tmpname, OSTREE_REPO_MODE_BARE_USER_ONLY, NULL,
                                    cancellable, error);
  if (tmp_repo == NULL)
    return mv_prefix_error (error, "creating repository in '%s'", self->root);
  g_clear_object (&tmp_repo);
  if (renameat (self->tmp_dfd, tmpname, self->root_dfd, "repo") < 0 && errno != ENOTEMPTY
      && errno != EEXIST)
    return mv_throw_errno_prefix (error, "creating repository in '%s'", self->root);
  return TRUE;
}

/* The store lock is held shared while the repo is made: a concurrent open sweeps tmp/ only
 * when it can take the lock exclusively, and would otherwise remove our half-made repo
 * ("creating repository in ...: No such file or directory" when several processes create
 * one store at once). */
static gboolean
create_repo (MvStore *self, GCancellable *cancellable, GError **error)
{
  g_autofree char *tmpname = g_strdup_printf ("repo-init-%d", getpid ());
  gboolean ok;

  while (flock (self->lock_fd, LOCK_SH) < 0)
    if (errno != EINTR)
      return mv_throw_errno_prefix (error, "locking store '%s'", self->root);
  ok = create_repo_locked (self, tmpname, cancellable, error);
  (void)mv_rm_rf_at (self->tmp_dfd, tmpname, NULL, NULL);
  flock (self->lock_fd, LOCK_UN);
  return ok;
}

MvStore *
mv_store_open (const char *root, MvStoreOpenFlags flags, GCancellable *cancellable, GError **error)
{
  g_autoptr (MvStore) self = g_new0 (MvStore, 1);
  g_autofree char *repo_path = NULL;
  struct stat st;
  gboolean created = FALSE;

  self->root_dfd = self->tmp_dfd = self->checkouts_dfd = self->objects_dfd = self->lock_fd = -1;
  g_mutex_init (&self->mutex);
  self->repo_pool = g_ptr_array_new_with_free_func (g_object_unref);

  /* A bad [limits] section stops every command, once, with the file and key named. */
  if (!mv_limits_check (error))
    return NULL;

  if (root == NULL || *root == '\0')
    root = g_getenv ("MODELVOL_ROOT");
  if (root == NULL || *root == '\0')
    root = MV_DEFAULT_ROOT;
  self->root = g_canonicalize_filename (root, NULL); /* a relative root is under the cwd */

  if (stat (self->root, &st) < 0)
    {
      if (errno != ENOENT || !(flags & MV_STORE_OPEN_CREATE))
        {
          if (errno == ENOENT)
            {
              mv_throw (error, MV_ERROR_NOT_FOUND, "no store at '%s'", self->root);
              return NULL;
            }
          mv_throw_errno_prefix (error, "store root '%s'", self->root);
          return NULL;
        }
      if (g_mkdir_with_parents (self->root, 0700) < 0)
        {
          mv_throw_errno_prefix (error, "creating store root '%s'", self->root);
          return NULL;
        }
      created = TRUE;
    }
  self->root_dfd = open (self->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (self->root_dfd < 0)
    {
      mv_throw_errno_prefix (error, "opening store root '%s'", self->root);
      return NULL;
    }
  if (flags & MV_STORE_OPEN_CREATE)
    {
      /* The top directory keeps unprivileged users out of objects and checkouts. */
      if (fchmod (self->root_dfd, 0700) < 0)
        {
          mv_throw_errno_prefix (error, "setting mode of store root '%s'", self->root);
          return NULL;
        }
      if (!mv_ensure_dirat (self->root_dfd, "tmp", 0700, error)
          || !mv_ensure_dirat (self->root_dfd, "checkouts", 0755, error))
        return NULL;
    }

  self->lock_fd = openat (self->root_dfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (self->lock_fd < 0)
    {
      if (errno == ENOENT)
        mv_throw (error, MV_ERROR_NOT_FOUND, "no store at '%s'", self->root);
      else
        mv_throw_errno_prefix (error, "opening lock of store '%s'", self->root);
      return NULL;
    }
  self->tmp_dfd = mv_opendirat (self->root_dfd, "tmp", FALSE, error);
  if (self->tmp_dfd < 0)
    return NULL;
  self->checkouts_dfd = mv_opendirat (self->root_dfd, "checkouts", FALSE, error);
  if (self->checkouts_dfd < 0)
    return NULL;

  repo_path = g_build_filename (self->root, "repo", NULL);
  if (fstatat (self->root_dfd, "repo", &st, AT_SYMLINK_NOFOLLOW) < 0)
    {
      if (errno != ENOENT)
        {
          mv_throw_errno_prefix (error, "store repository '%s'", repo_path);
          return NULL;
        }
      if (!(flags & MV_STORE_OPEN_CREATE))
        {
          mv_throw (error, MV_ERROR_NOT_FOUND, "no store at '%s'", self->root);
          return NULL;
        }
      if (!create_repo (self, cancellable, error))
        return NULL;
    }
  /* By fd, not GFile (see sweep_tmp). */
  self->repo = ostree_repo_open_at (self->root_dfd, "repo", cancellable, error);
  if (self->repo == NULL)
    {
      mv_prefix_error (error, "opening repository '%s'", repo_path);
      return NULL;
    }
  {
    g_autoptr (GError) local_error = NULL;
    if (!ostree_repo_get_min_free_space_bytes (self->repo, &self->min_free_bytes, &local_error))
      {
        g_debug ("min-free-space of '%s': %s", repo_path, local_error->message);
        self->min_free_bytes = 0;
      }
  }
  if (ostree_repo_get_mode (self->repo) != OSTREE_REPO_MODE_BARE_USER_ONLY)
    {
      mv_throw (error, MV_ERROR_CORRUPTED, "repository '%s' is not in bare-user-only mode",
                repo_path);
      return NULL;
    }
  self->objects_dfd = openat (ostree_repo_get_dfd (self->repo), "objects",
                              O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (self->objects_dfd < 0)
    {
      mv_throw_errno_prefix (error, "opening '%s/objects'", repo_path);
      return NULL;
    }

  if (!sweep_tmp (self, cancellable, error))
    return NULL;

  {
    g_auto (MvStoreLock) lock = { 0 };
    if (!mv_store_lock_acquire (self, FALSE, &lock, cancellable, error))
      return NULL;
    if (!mv_store_ensure_dirmeta (self, cancellable, error))
      return NULL;
  }

  self->run_dir = mv_run_dir_for_root (self->root);

  if (created)
    g_debug ("created store at %s", self->root);
  return g_steal_pointer (&self);
}

void
mv_store_free (MvStore *self)
{
  if (self == NULL)
    return;
  g_clear_object (&self->repo);
  g_clear_pointer (&self->repo_pool, g_ptr_array_unref);
  g_mutex_clear (&self->mutex);
  mv_close_fdp (&self->root_dfd);
  mv_close_fdp (&self->tmp_dfd);
  mv_close_fdp (&self->checkouts_dfd);
  mv_close_fdp (&self->objects_dfd);
  mv_close_fdp (&self->lock_fd);
  g_free (self->root);
  g_free (self->run_dir);
  g_free (self->signature_policy);
  g_free (self->signature_registries_d);
  g_free (self->dirmeta_checksum);
  g_free (self);
}

const char *
mv_store_get_root (MvStore *self)
{
  return self->root;
}

const char *
mv_store_get_run_dir (MvStore *self)
{
  return self->run_dir;
}

const char *
mv_store_dirmeta (MvStore *self)
{
  return self->dirmeta_checksum;
}

gboolean
mv_store_lock_acquire (MvStore *self, gboolean exclusive, MvStoreLock *out_lock,
                       GCancellable *cancellable, GError **error)
{
  g_autoptr (GMutexLocker) locker = g_mutex_locker_new (&self->mutex);

  g_return_val_if_fail (out_lock->store == NULL, FALSE);

  if (self->lock_depth > 0)
    {
      if (exclusive && !self->lock_exclusive)
        return mv_throw (error, MV_ERROR_BUSY, "store lock: cannot upgrade a shared lock");
      self->lock_depth++;
      out_lock->store = self;
      return TRUE;
    }

  /* Poll so that cancellation (Ctrl-C) is honoured while another process holds the lock. */
  for (guint i = 0;; i++)
    {
      if (flock (self->lock_fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) == 0)
        break;
      if (errno != EWOULDBLOCK && errno != EINTR)
        return mv_throw_errno_prefix (error, "locking store '%s'", self->root);
      if (i == 0)
        g_debug ("waiting for the %s store lock", exclusive ? "exclusive" : "shared");
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return FALSE;
      g_usleep (MIN (1000 * (i + 1), 50000));
    }
  self->lock_depth = 1;
  self->lock_exclusive = exclusive;
  out_lock->store = self;
  return TRUE;
}

void
mv_store_lock_clear (MvStoreLock *lock)
{
  MvStore *self = lock->store;

  if (self == NULL)
    return;
  lock->store = NULL;
  g_mutex_lock (&self->mutex);
  g_assert (self->lock_depth > 0);
  if (--self->lock_depth == 0)
    {
      (void)flock (self->lock_fd, LOCK_UN);
      self->lock_exclusive = FALSE;
    }
  g_mutex_unlock (&self->mutex);
}

OstreeRepo *
mv_store_take_repo (MvStore *self, GCancellable *cancellable, GError **error)
{
  g_autoptr (OstreeRepo) repo = NULL;

  g_mutex_lock (&self->mutex);
  if (self->repo_pool->len > 0)
    repo = g_ptr_array_steal_index_fast (self->repo_pool, self->repo_pool->len - 1);
  g_mutex_unlock (&self->mutex);
  if (repo != NULL)
    return g_steal_pointer (&repo);
  return ostree_repo_open_at (self->root_dfd, "repo", cancellable, error);
}

void
mv_store_give_repo (MvStore *self, OstreeRepo *repo)
{
  g_mutex_lock (&self->mutex);
  g_ptr_array_add (self->repo_pool, repo);
  g_mutex_unlock (&self->mutex);
}

/* Refs: modelvol/layer/sha256/<hex>, modelvol/model/sha256/<hex>, modelvol/name/<escaped>,
 * modelvol/signature/sha256/<hex> (a model's signature verdict: mv_store_set_signature()).
 * Names are references; each "/" component is escaped on its own so that ostree's ref rules
 * ([\w\d][-._\w\d]*) hold: bytes other than [A-Za-z0-9.-] (and a leading '.' or '-') become
 * "_xx". Since '_' is escaped too, a leaf always differs from an intermediate directory. */
static char *
ref_for_digest (const char *prefix, const char *digest)
{
  const char *colon = strchr (digest, ':');
  g_assert (colon != NULL);
  g_autofree char *alg = g_strndup (digest, colon - digest);
  return g_strconcat (prefix, "/", alg, "/", colon + 1, NULL);
}

char *
mv_layer_ref (const char *digest)
{
  return ref_for_digest (MV_REF_LAYER_PREFIX, digest);
}

char *
mv_model_ref (const char *digest)
{
  return ref_for_digest (MV_REF_MODEL_PREFIX, digest);
}

char *
mv_signature_ref (const char *digest)
{
  return ref_for_digest (MV_REF_SIGNATURE_PREFIX, digest);
}

char *
mv_name_ref (const char *name)
{
  GString *s = g_string_new (MV_REF_NAME_PREFIX "/");
  gboolean start = TRUE;

  for (const unsigned char *p = (const unsigned char *)name; *p; p++)
    {
      if (*p == '/')
        {
          g_string_append_c (s, '/');
          start = TRUE;
          continue;
        }
      if (g_ascii_isalnum (*p) || (!start && (*p == '.' || *p == '-')))
        g_string_append_c (s, *p);
      else
        g_string_append_printf (s, "_%02x", *p);
      start = FALSE;
    }
  return g_string_free (s, FALSE);
}

char *
mv_name_from_ref (const char *escaped)
{
  GString *s = g_string_new (NULL);

  for (const char *p = escaped; *p; p++)
    {
      if (*p == '_')
        {
          if (!g_ascii_isxdigit (p[1]) || !g_ascii_isxdigit (p[2]))
            {
              g_string_free (s, TRUE);
              return NULL;
            }
          g_string_append_c (
              s, (char)(g_ascii_xdigit_value (p[1]) * 16 + g_ascii_xdigit_value (p[2])));
          p += 2;
        }
      else
        g_string_append_c (s, *p);
    }
  return g_string_free (s, FALSE);
}

char *
mv_digest_from_ref (const char *ref, const char *prefix)
{
  gsize plen = strlen (prefix);
  const char *rest;
  const char *slash;

  if (!g_str_has_prefix (ref, prefix) || ref[plen] != '/')
    return NULL;
  rest = ref + plen + 1;
  slash = strchr (rest, '/');
  if (slash == NULL)
    return NULL;
  g_autofree char *alg = g_strndup (rest, slash - rest);
  return g_strconcat (alg, ":", slash + 1, NULL);
}

char *
mv_store_resolve_ref (MvStore *self, const char *ref, GError **error)
{
  char *rev = NULL;
  if (!ostree_repo_resolve_rev_ext (self->repo, ref, TRUE, 0, &rev, error))
    return NULL;
  return rev;
}

gboolean
mv_store_has_layer (MvStore *self, const char *digest)
{
  g_autofree char *ref = mv_layer_ref (digest);
  g_autofree char *rev = NULL;
  /* Called from layer threads: each uses a repo handle of its own. */
  OstreeRepo *repo = mv_store_take_repo (self, NULL, NULL);

  if (repo == NULL)
    return FALSE;
  (void)ostree_repo_resolve_rev_ext (repo, ref, TRUE, 0, &rev, NULL);
  mv_store_give_repo (self, repo);
  return rev != NULL;
}

char *
mv_store_layer_diff_id (MvStore *self, const char *digest)
{
  g_autofree char *ref = mv_layer_ref (digest);
  g_autofree char *rev = NULL;
  g_autoptr (GVariant) v = NULL;
  g_autoptr (GVariant) meta = NULL;
  OstreeRepo *repo = mv_store_take_repo (self, NULL, NULL);
  const char *diff_id = NULL, *format = NULL;

  if (repo == NULL)
    return NULL;
  if (ostree_repo_resolve_rev_ext (repo, ref, TRUE, 0, &rev, NULL) && rev != NULL
      && ostree_repo_load_variant (repo, OSTREE_OBJECT_TYPE_COMMIT, rev, &v, NULL))
    meta = g_variant_get_child_value (v, 0);
  mv_store_give_repo (self, repo);
  if (meta == NULL)
    return NULL;
  if (g_variant_lookup (meta, MV_META_DIFF_ID, "&s", &diff_id))
    return g_strdup (diff_id);
  /* Stored before the digest was kept: known anyway where the blob is the stream. */
  if (g_variant_lookup (meta, MV_META_FORMAT, "&s", &format)
      && (g_str_equal (format, "raw") || g_str_equal (format, "tar")))
    return g_strdup (digest);
  return NULL;
}

int
mv_store_lock_layer (MvStore *self, const char *digest, GCancellable *cancellable, GError **error)
{
  const char *colon = strchr (digest, ':');
  g_autofree char *name
      = g_strdup_printf ("layer-%.*s-%s", (int)(colon - digest), digest, colon + 1);

  if (!mv_ensure_dirat (self->root_dfd, "locks", 0700, error))
    return -1;
  for (guint i = 0;; i++)
    {
      mv_autofd int fd = openat (self->root_dfd, "locks", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      mv_autofd int lfd = -1;
      struct stat st_fd, st_path;

      if (fd < 0)
        {
          mv_throw_errno_prefix (error, "opening '%s/locks'", self->root);
          return -1;
        }
      lfd = openat (fd, name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
      if (lfd < 0)
        {
          mv_throw_errno_prefix (error, "opening lock of layer %s", digest);
          return -1;
        }
      if (flock (lfd, LOCK_EX | LOCK_NB) < 0)
        {
          if (errno != EWOULDBLOCK && errno != EINTR)
            {
              mv_throw_errno_prefix (error, "locking layer %s", digest);
              return -1;
            }
          if (i == 0)
            g_debug ("layer %s: another import has it; waiting", digest);
          if (g_cancellable_set_error_if_cancelled (cancellable, error))
            return -1;
          g_usleep (MIN (2000 * (i + 1), 100000));
          continue;
        }
      /* prune may have removed the file between our open and our lock: then the lock we
       * hold is on an inode no one else will find. */
      if (fstat (lfd, &st_fd) == 0 && fstatat (fd, name, &st_path, AT_SYMLINK_NOFOLLOW) == 0
          && st_fd.st_ino == st_path.st_ino && st_fd.st_dev == st_path.st_dev)
        return mv_steal_fd (&lfd);
    }
}

gboolean
mv_store_prune_layer_locks (MvStore *self, GError **error)
{
  g_autoptr (GDir) d = NULL;
  g_autofree char *dir = g_build_filename (self->root, "locks", NULL);
  mv_autofd int dfd = openat (self->root_dfd, "locks", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  const char *name;

  if (dfd < 0)
    return TRUE;
  d = g_dir_open (dir, 0, NULL);
  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    {
      mv_autofd int lfd = openat (dfd, name, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
      if (lfd < 0)
        continue;
      /* Only locks no one holds; a waiter that opened it re-checks the inode after locking. */
      if (flock (lfd, LOCK_EX | LOCK_NB) == 0)
        (void)unlinkat (dfd, name, 0);
    }
  return TRUE;
}

gboolean
mv_store_has_model (MvStore *self, const char *digest)
{
  g_autofree char *ref = mv_model_ref (digest);
  g_autofree char *rev = mv_store_resolve_ref (self, ref, NULL);
  return rev != NULL;
}

GHashTable *
mv_store_list_prefix (MvStore *self, const char *prefix, GError **error)
{
  g_autoptr (GHashTable) refs = NULL;
  g_autoptr (GHashTable) ret = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  GHashTableIter it;
  gpointer k, v;

  if (!ostree_repo_list_refs_ext (self->repo, prefix, &refs, OSTREE_REPO_LIST_REFS_EXT_NONE, NULL,
                                  error))
    return NULL;
  g_hash_table_iter_init (&it, refs);
  while (g_hash_table_iter_next (&it, &k, &v))
    {
      char *digest = mv_digest_from_ref (k, prefix);
      if (digest == NULL || !mv_digest_validate (digest, NULL, NULL, NULL))
        {
          g_debug ("ignoring stray ref %s", (char *)k);
          g_free (digest);
          continue;
        }
      g_hash_table_insert (ret, digest, g_strdup (v));
    }
  return g_steal_pointer (&ret);
}

GHashTable *
mv_store_list_names (MvStore *self, GError **error)
{
  g_autoptr (GHashTable) refs = NULL;
  g_autoptr (GHashTable) ret = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  GHashTableIter it;
  gpointer k, v;
  const gsize plen = strlen (MV_REF_NAME_PREFIX "/");

  if (!ostree_repo_list_refs_ext (self->repo, MV_REF_NAME_PREFIX, &refs,
                                  OSTREE_REPO_LIST_REFS_EXT_NONE, NULL, error))
    return NULL;
  g_hash_table_iter_init (&it, refs);
  while (g_hash_table_iter_next (&it, &k, &v))
    {
      char *name = g_str_has_prefix (k, MV_REF_NAME_PREFIX "/")
                       ? mv_name_from_ref ((const char *)k + plen)
                       : NULL;
      if (name == NULL)
        continue;
      g_hash_table_insert (ret, name, g_strdup (v));
    }
  return g_steal_pointer (&ret);
}

gboolean
mv_store_set_name (MvStore *self, const char *name, const char *digest, GError **error)
{
  g_autofree char *model_ref = mv_model_ref (digest);
  g_autofree char *name_ref = mv_name_ref (name);
  g_autofree char *rev = NULL;
  g_auto (MvStoreLock) lock = { 0 };

  if (!mv_store_lock_acquire (self, FALSE, &lock, NULL, error))
    return FALSE;
  rev = mv_store_resolve_ref (self, model_ref, error);
  if (rev == NULL)
    return mv_throw (error, MV_ERROR_NOT_FOUND, "model %s is not in the store", digest);
  if (!ostree_repo_set_ref_immediate (self->repo, NULL, name_ref, rev, NULL, error))
    return mv_prefix_error (error, "naming model %s '%s'", digest, name);
  return TRUE;
}

GVariant *
mv_store_load_commit_meta (MvStore *self, const char *commit, char **out_root_tree,
                           char **out_root_meta, GError **error)
{
  g_autoptr (GVariant) v = NULL;
  g_autoptr (GVariant) meta = NULL;

  if (!ostree_repo_load_variant (self->repo, OSTREE_OBJECT_TYPE_COMMIT, commit, &v, error))
    return NULL;
  meta = g_variant_get_child_value (v, 0);
  if (out_root_tree)
    {
      g_autoptr (GVariant) t = g_variant_get_child_value (v, 6);
      *out_root_tree = ostree_checksum_from_bytes_v (t);
    }
  if (out_root_meta)
    {
      g_autoptr (GVariant) m = g_variant_get_child_value (v, 7);
      *out_root_meta = ostree_checksum_from_bytes_v (m);
    }
  return g_steal_pointer (&meta);
}

int
mv_strptrcmp (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(char *const *)a, *(char *const *)b);
}

static char *
lookup_bytestring (GVariantDict *d, const char *key)
{
  g_autoptr (GVariant) v = g_variant_dict_lookup_value (d, key, G_VARIANT_TYPE_BYTESTRING);
  gsize len;
  const char *data;
  if (v == NULL)
    return g_strdup ("");
  data = g_variant_get_fixed_array (v, &len, 1);
  return g_strndup (data, len);
}

MvModelInfo *
mv_store_model_info_load (MvStore *self, const char *digest, const char *commit, GError **error)
{
  g_autoptr (GError) local_error = NULL;
  g_autoptr (GVariant) meta = mv_store_load_commit_meta (self, commit, NULL, NULL, &local_error);
  g_autoptr (MvModelInfo) info = NULL;
  g_autoptr (GHashTable) names = NULL;
  g_auto (GVariantDict) d;
  guint64 u64;
  const char *s;
  g_autofree const char **layers = NULL;

  /* A damaged commit still lists, without details: fsck names it, a pull repairs it. */
  if (meta == NULL)
    {
      g_debug ("model %s: commit %s: %s", digest, commit, local_error->message);
      meta = g_variant_ref_sink (g_variant_new_array (G_VARIANT_TYPE ("{sv}"), NULL, 0));
    }
  names = mv_store_list_names (self, error);
  if (names == NULL)
    return NULL;
  g_variant_dict_init (&d, meta);
  info = g_new0 (MvModelInfo, 1);
  info->digest = g_strdup (digest);
  if (g_variant_dict_lookup (&d, MV_META_FILES, "t", &u64))
    info->n_files = u64;
  if (g_variant_dict_lookup (&d, MV_META_BYTES, "t", &u64))
    info->logical_bytes = u64;
  if (g_variant_dict_lookup (&d, MV_META_ARTIFACT_TYPE, "&s", &s))
    info->artifact_type = g_strdup (s);
  if (g_variant_dict_lookup (&d, MV_META_LAYERS, "^a&s", &layers))
    info->n_layers = g_strv_length ((char **)layers);
  info->manifest_json = lookup_bytestring (&d, MV_META_MANIFEST);
  info->config_json = lookup_bytestring (&d, MV_META_CONFIG);

  info->names = mv_store_names_of (names, commit);
  return g_steal_pointer (&info);
}

char **
mv_store_names_of (GHashTable *names, const char *commit)
{
  g_autoptr (GPtrArray) mine = g_ptr_array_new ();
  GHashTableIter it;
  gpointer k, v;

  g_hash_table_iter_init (&it, names);
  while (g_hash_table_iter_next (&it, &k, &v))
    if (g_str_equal (v, commit))
      g_ptr_array_add (mine, g_strdup (k));
  g_ptr_array_sort (mine, mv_strptrcmp);
  g_ptr_array_add (mine, NULL);
  return (char **)g_ptr_array_free (g_steal_pointer (&mine), FALSE);
}

void
mv_model_info_free (MvModelInfo *info)
{
  if (info == NULL)
    return;
  g_free (info->digest);
  g_strfreev (info->names);
  g_free (info->artifact_type);
  g_free (info->manifest_json);
  g_free (info->config_json);
  g_free (info);
}
