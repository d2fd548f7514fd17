/* mv-gc: rm, prune, fsck, df.
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <dirent.h>
#include <string.h>
#include <sys/stat.h>

#include "mv-counters-private.h"
#include "mv-digest-private.h"
#include "mv-imports-private.h"
#include "mv-integrity-private.h"
#include "mv-path-private.h"
#include "mv-repo-private.h"

static const char *
hex_of (const char *digest)
{
  const char *colon = strchr (digest, ':');
  return colon ? colon + 1 : digest;
}

static gboolean
delete_ref (MvStore *store, const char *ref, GError **error)
{
  return ostree_repo_set_ref_immediate (store->repo, NULL, ref, NULL, NULL, error);
}

/* A model's signature verdict goes with it (mv_store_set_signature()). */
static gboolean
delete_signature (MvStore *store, const char *digest, GError **error)
{
  g_autofree char *ref = mv_signature_ref (digest);
  g_autofree char *rev = mv_store_resolve_ref (store, ref, NULL);
  return rev == NULL || delete_ref (store, ref, error);
}

static gboolean
remove_checkout (MvStore *store, const char *digest, GCancellable *cancellable, GError **error)
{
  /* Rename first, so no one ever sees a half-removed tree under checkouts/. */
  g_autofree char *tmpname
      = g_strdup_printf ("rm-%.12s-%d-%08x", hex_of (digest), getpid (), g_random_int ());
  if (renameat (store->checkouts_dfd, hex_of (digest), store->tmp_dfd, tmpname) < 0)
    {
      if (errno == ENOENT)
        return TRUE;
      return mv_throw_errno_prefix (error, "removing checkout of %s", digest);
    }
  if (!mv_rm_rf_at (store->tmp_dfd, tmpname, cancellable, error))
    return FALSE;
  return mv_checkout_index_remove (store->root_dfd, digest, error);
}

/* Checkouts a repair replaced while containers used them: retired/<hex>-<pid>-<random>. They
 * go once no container or mount uses the model (exclusive lock held). */
static gboolean
remove_retired (MvStore *store, const char *only_digest, gboolean dry_run, guint *counter,
                GCancellable *cancellable, GError **error)
{
  g_autoptr (GPtrArray) gone = g_ptr_array_new_with_free_func (g_free);
  int fd
      = openat (store->root_dfd, MV_RETIRED_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  mv_autofd int dfd = -1;
  DIR *dir;
  struct dirent *de;

  if (fd < 0)
    return errno == ENOENT ? TRUE : mv_throw_errno_prefix (error, "opening retired checkouts");
  dfd = fcntl (fd, F_DUPFD_CLOEXEC, 3);
  dir = fdopendir (fd);
  if (dir == NULL || dfd < 0)
    {
      if (dir != NULL)
        closedir (dir);
      else
        close (fd);
      return mv_throw_errno_prefix (error, "reading retired checkouts");
    }
  while ((de = readdir (dir)) != NULL)
    {
      g_autofree char *digest = NULL;
      if (strlen (de->d_name) < 65 || de->d_name[64] != '-'
          || strspn (de->d_name, "0123456789abcdef") != 64)
        continue;
      digest = g_strdup_printf ("sha256:%.64s", de->d_name);
      if ((only_digest != NULL && !g_str_equal (digest, only_digest))
          || mv_store_model_in_use (store, digest))
        continue;
      g_ptr_array_add (gone, g_strdup (de->d_name));
    }
  closedir (dir);
  for (guint i = 0; i < gone->len; i++)
    {
      (*counter)++;
      if (!dry_run && !mv_rm_rf_at (dfd, gone->pdata[i], cancellable, error))
        return FALSE;
    }
  return TRUE;
}

static guint
names_pointing_at (GHashTable *names, const char *commit)
{
  GHashTableIter it;
  gpointer v;
  guint n = 0;
  g_hash_table_iter_init (&it, names);
  while (g_hash_table_iter_next (&it, NULL, &v))
    if (g_str_equal (v, commit))
      n++;
  return n;
}

gboolean
mv_store_remove_name (MvStore *store, const char *name, GCancellable *cancellable, GError **error)
{
  g_auto (MvStoreLock) lock = { 0 };
  g_autofree char *ref = mv_name_ref (name);
  g_autofree char *rev = NULL;

  if (!mv_store_lock_acquire (store, TRUE, &lock, cancellable, error))
    return FALSE;
  rev = mv_store_resolve_ref (store, ref, error);
  if (rev == NULL)
    {
      g_autofree char *shown = mv_escape_for_display (name, 300);
      if (error && *error == NULL)
        mv_throw (error, MV_ERROR_NOT_FOUND, "no model named '%s'", shown);
      return FALSE;
    }
  /* Only the name goes: a model left without names stays listed (as <none>) until prune. */
  return delete_ref (store, ref, error);
}

gboolean
mv_store_remove_model (MvStore *store, const char *digest, GCancellable *cancellable,
                       GError **error)
{
  g_auto (MvStoreLock) lock = { 0 };
  g_autofree char *mref = mv_model_ref (digest);
  g_autofree char *rev = NULL;
  g_autoptr (GHashTable) names = NULL;
  GHashTableIter it;
  gpointer k, v;

  if (!mv_store_lock_acquire (store, TRUE, &lock, cancellable, error))
    return FALSE;
  rev = mv_store_resolve_ref (store, mref, error);
  if (rev == NULL)
    {
      if (error && *error == NULL)
        mv_throw (error, MV_ERROR_NOT_FOUND, "model %s is not in the store", digest);
      return FALSE;
    }
  if (mv_store_model_in_use (store, digest))
    return mv_throw (error, MV_ERROR_BUSY, "model %s is in use by a container", digest);
  names = mv_store_list_names (store, error);
  if (names == NULL)
    return FALSE;
  g_hash_table_iter_init (&it, names);
  while (g_hash_table_iter_next (&it, &k, &v))
    {
      if (!g_str_equal (v, rev))
        continue;
      g_autofree char *nref = mv_name_ref (k);
      if (!delete_ref (store, nref, error))
        return FALSE;
    }
  if (!delete_ref (store, mref, error) || !delete_signature (store, digest, error))
    return FALSE;
  {
    guint n = 0;
    if (!remove_retired (store, digest, FALSE, &n, cancellable, error))
      return FALSE;
  }
  if (!mv_damage_clear (store->root_dfd, MV_DAMAGE_MODEL, digest, error))
    return FALSE;
  mv_last_use_forget (store->root, digest);
  return remove_checkout (store, digest, cancellable, error);
}

/* ---------------------------------------------------------------------------------------- */

/* Walks a dirtree depth-first. @seen_trees (nullable) skips dirtrees already walked. A
 * @meta_cb that returns 1 for a dirtree stops the walk below it (fsck: it is damaged). */
gboolean
mv_store_walk_tree (MvStore *store, const char *tree, const char *meta, const char *path,
                    GHashTable *seen_trees, MvFileFunc file_cb, MvMetaFunc meta_cb,
                    gpointer user_data, GCancellable *cancellable, GError **error)
{
  g_autoptr (GVariant) dirtree = NULL;
  g_autoptr (GVariant) files = NULL;
  g_autoptr (GVariant) dirs = NULL;
  const char *name;

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;
  if (seen_trees != NULL)
    {
      if (g_hash_table_contains (seen_trees, tree))
        return TRUE;
      g_hash_table_add (seen_trees, g_strdup (tree));
    }
  if (meta_cb != NULL)
    {
      int r;
      if (meta_cb (OSTREE_OBJECT_TYPE_DIR_META, meta, user_data, error) < 0)
        return FALSE;
      r = meta_cb (OSTREE_OBJECT_TYPE_DIR_TREE, tree, user_data, error);
      if (r != 0)
        return r > 0;
    }
  if (!ostree_repo_load_variant (store->repo, OSTREE_OBJECT_TYPE_DIR_TREE, tree, &dirtree, error))
    return FALSE;
  files = g_variant_get_child_value (dirtree, 0);
  dirs = g_variant_get_child_value (dirtree, 1);
  for (gsize i = 0, n = g_variant_n_children (files); i < n; i++)
    {
      g_autoptr (GVariant) c1 = NULL;
      g_variant_get_child (files, i, "(&s@ay)", &name, &c1);
      g_autofree char *csum = ostree_checksum_from_bytes_v (c1);
      g_autofree char *full = *path ? g_strconcat (path, "/", name, NULL) : g_strdup (name);
      if (!file_cb (full, csum, user_data, error))
        return FALSE;
    }
  for (gsize i = 0, n = g_variant_n_children (dirs); i < n; i++)
    {
      g_autoptr (GVariant) c1 = NULL;
      g_autoptr (GVariant) c2 = NULL;
      g_variant_get_child (dirs, i, "(&s@ay@ay)", &name, &c1, &c2);
      g_autofree char *t = ostree_checksum_from_bytes_v (c1);
      g_autofree char *m = ostree_checksum_from_bytes_v (c2);
      g_autofree char *full = *path ? g_strconcat (path, "/", name, NULL) : g_strdup (name);
      if (!mv_store_walk_tree (store, t, m, full, seen_trees, file_cb, meta_cb, user_data,
                               cancellable, error))
        return FALSE;
    }
  return TRUE;
}

/* ---------------------------------------------------------------------------------------- */
/* fsck                                                                                     */

typedef struct
{
  MvStore *store;
  GHashTable *results; /* "<checksum>.<type>" -> message (NULL value: intact) */
  GPtrArray *problems;
  const char *model; /* for the problems: the model walked, NULL for a layer */
  char **names;
  int checkout_dfd; /* the model's checkout, or -1 */
  GCancellable *cancellable;
} Fsck;

static void
add_problem (Fsck *f, const char *path, const char *object, const char *message)
{
  MvFsckProblem *p = g_new0 (MvFsckProblem, 1);
  p->model = g_strdup (f->model);
  p->names = f->names ? g_strdupv (f->names) : g_new0 (char *, 1);
  p->path = g_strdup (path);
  p->object = g_strdup (object);
  p->message = g_strdup (message);
  g_ptr_array_add (f->problems, p);
}

static const char *
objtype_ext (OstreeObjectType type)
{
  return type == OSTREE_OBJECT_TYPE_FILE       ? "file"
         : type == OSTREE_OBJECT_TYPE_DIR_TREE ? "dirtree"
         : type == OSTREE_OBJECT_TYPE_DIR_META ? "dirmeta"
                                               : "commit";
}

/* Verifies an object once per run. *@out_message: NULL if intact, else what is wrong. File
 * objects are re-hashed with libcrypto, metadata objects checked by libostree. */
static gboolean
check_object (Fsck *f, OstreeObjectType type, const char *checksum, const char **out_key,
              const char **out_message, GError **error)
{
  g_autofree char *key = g_strconcat (checksum, ".", objtype_ext (type), NULL);
  gpointer stored_key, msg;

  if (!g_hash_table_lookup_extended (f->results, key, &stored_key, &msg))
    {
      g_autoptr (GError) local_error = NULL;
      gboolean ok
          = type == OSTREE_OBJECT_TYPE_FILE
                ? mv_store_verify_file_object (f->store, checksum, f->cancellable, &local_error)
                : ostree_repo_fsck_object (f->store->repo, type, checksum, f->cancellable,
                                           &local_error);
      if (!ok && g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
      msg = ok ? NULL : g_strdup (local_error->message);
      stored_key = key;
      g_hash_table_insert (f->results, g_steal_pointer (&key), msg);
    }
  *out_key = stored_key;
  *out_message = msg;
  return TRUE;
}

/* A checkout is hardlinks to the objects: each of its files must be the object itself. After
 * a repair replaced an object, other models' checkouts still hold the old, damaged one. */
static void
check_checkout_file (Fsck *f, const char *path, const char *checksum, const char *key)
{
  g_autofree char *objpath = mv_object_path (checksum, "file");
  struct stat st, ost;

  /* Symlinks, and empty files (libostree's checkout creates those anew): nothing shared. */
  if (fstatat (f->store->objects_dfd, objpath, &ost, AT_SYMLINK_NOFOLLOW) < 0
      || !S_ISREG (ost.st_mode) || ost.st_size == 0)
    return;
  if (fstatat (f->checkout_dfd, path, &st, AT_SYMLINK_NOFOLLOW) < 0)
    add_problem (f, path, key, "missing from the model's checkout");
  else if (st.st_ino != ost.st_ino || st.st_dev != ost.st_dev)
    add_problem (f, path, key, "the model's checkout holds another copy (a stale checkout)");
}

static gboolean
fsck_file (const char *path, const char *checksum, gpointer user_data, GError **error)
{
  Fsck *f = user_data;
  const char *key, *msg;

  if (!check_object (f, OSTREE_OBJECT_TYPE_FILE, checksum, &key, &msg, error))
    return FALSE;
  if (msg != NULL)
    add_problem (f, path, key, msg);
  else if (f->checkout_dfd >= 0)
    check_checkout_file (f, path, checksum, key);
  return TRUE;
}

static int
fsck_meta (OstreeObjectType type, const char *checksum, gpointer user_data, GError **error)
{
  Fsck *f = user_data;
  const char *key, *msg;

  if (!check_object (f, type, checksum, &key, &msg, error))
    return -1;
  if (msg == NULL)
    return 0;
  add_problem (f, NULL, key, msg);
  return 1;
}

/* A commit and everything below it. */
static gboolean
fsck_commit (Fsck *f, const char *rev, GError **error)
{
  g_autofree char *tree = NULL;
  g_autofree char *meta = NULL;
  g_autoptr (GVariant) md = NULL;
  int r = fsck_meta (OSTREE_OBJECT_TYPE_COMMIT, rev, f, error);

  if (r != 0)
    return r > 0;
  md = mv_store_load_commit_meta (f->store, rev, &tree, &meta, error);
  if (md == NULL)
    return FALSE;
  return mv_store_walk_tree (f->store, tree, meta, "", NULL, fsck_file, fsck_meta, f,
                             f->cancellable, error);
}

/* What a damage marker holds: the problems from @from on, one a line. */
static char *
report_of (GPtrArray *problems, guint from)
{
  GString *s = g_string_new (NULL);

  for (guint i = from; i < problems->len; i++)
    {
      MvFsckProblem *p = problems->pdata[i];
      g_autofree char *msg = mv_escape_for_display (p->message, 1000);
      if (p->path != NULL)
        {
          g_autofree char *path = mv_escape_for_display (p->path, 300);
          g_string_append_printf (s, "file '%s': %s\n", path, msg);
        }
      else if (strstr (msg, p->object) != NULL) /* libostree's messages name the object */
        g_string_append_printf (s, "%s\n", msg);
      else
        g_string_append_printf (s, "%s: %s\n", p->object, msg);
    }
  return g_string_free (s, FALSE);
}

/* Markers say what this run found: written for the damaged, removed for the others checked. */
static gboolean
sync_markers (MvStore *store, MvDamageKind kind, GHashTable *checked, GHashTable *damaged,
              GError **error)
{
  GHashTableIter it;
  gpointer k;

  g_hash_table_iter_init (&it, checked);
  while (g_hash_table_iter_next (&it, &k, NULL))
    {
      const char *report = g_hash_table_lookup (damaged, k);
      if (report != NULL ? !mv_damage_mark (store->root_dfd, kind, k, report, error)
                         : !mv_damage_clear (store->root_dfd, kind, k, error))
        return FALSE;
    }
  return TRUE;
}

gboolean
mv_store_fsck (MvStore *store, GPtrArray **out_problems, GCancellable *cancellable, GError **error)
{
  g_auto (MvStoreLock) lock = { 0 };
  g_autoptr (GHashTable) models = NULL;
  g_autoptr (GHashTable) layers = NULL;
  g_autoptr (GHashTable) names = NULL;
  g_autoptr (GHashTable) results = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autoptr (GHashTable) damaged_models
      = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_free);
  g_autoptr (GHashTable) damaged_layers
      = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_free);
  g_autoptr (GPtrArray) problems
      = g_ptr_array_new_with_free_func ((GDestroyNotify)mv_fsck_problem_free);
  g_autoptr (GPtrArray) layer_problems
      = g_ptr_array_new_with_free_func ((GDestroyNotify)mv_fsck_problem_free);
  GHashTableIter it;
  gpointer k, v;

  if (!mv_store_lock_acquire (store, FALSE, &lock, cancellable, error))
    return FALSE;
  models = mv_store_list_prefix (store, MV_REF_MODEL_PREFIX, error);
  layers = models ? mv_store_list_prefix (store, MV_REF_LAYER_PREFIX, error) : NULL;
  names = layers ? mv_store_list_names (store, error) : NULL;
  if (names == NULL)
    return FALSE;
  g_hash_table_iter_init (&it, models);
  while (g_hash_table_iter_next (&it, &k, &v))
    {
      g_auto (GStrv) model_names = mv_store_names_of (names, v);
      mv_autofd int checkout_dfd = openat (store->checkouts_dfd, hex_of (k),
                                           O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
      Fsck f = { .store = store,
                 .results = results,
                 .problems = problems,
                 .model = k,
                 .names = model_names,
                 .checkout_dfd = checkout_dfd,
                 .cancellable = cancellable };
      guint n0 = problems->len;

      if (!fsck_commit (&f, v, error))
        return FALSE;
      /* Objects and checkout hold together: what is left is what the index adds (mtimes). */
      if (problems->len == n0 && checkout_dfd >= 0)
        {
          g_autoptr (GError) local_error = NULL;
          if (!mv_checkout_verify (store->root_dfd, k, checkout_dfd, &local_error))
            add_problem (&f, NULL, "checkout", local_error->message);
        }
      if (problems->len > n0)
        g_hash_table_insert (damaged_models, k, report_of (problems, n0));
    }
  /* Layers too: a new model built on a damaged layer must not reuse it. Every object is
   * hashed once per run, so this walks metadata only unless a layer has no model. */
  g_hash_table_iter_init (&it, layers);
  while (g_hash_table_iter_next (&it, &k, &v))
    {
      Fsck f = { .store = store,
                 .results = results,
                 .problems = layer_problems,
                 .checkout_dfd = -1,
                 .cancellable = cancellable };
      guint n0 = layer_problems->len;

      if (!fsck_commit (&f, v, error))
        return FALSE;
      if (layer_problems->len > n0)
        g_hash_table_insert (damaged_layers, k, report_of (layer_problems, n0));
    }
  if (!sync_markers (store, MV_DAMAGE_MODEL, models, damaged_models, error)
      || !sync_markers (store, MV_DAMAGE_LAYER, layers, damaged_layers, error))
    return mv_prefix_error (error, "fsck");
  *out_problems = g_steal_pointer (&problems);
  return TRUE;
}

void
mv_fsck_problem_free (MvFsckProblem *p)
{
  if (p == NULL)
    return;
  g_free (p->model);
  g_strfreev (p->names);
  g_free (p->path);
  g_free (p->object);
  g_free (p->message);
  g_free (p);
}

/* ---------------------------------------------------------------------------------------- */
/* df                                                                                       */

/* One pass over the models' trees, with ostree object checksums as the identity of files.
 * Each distinct dirtree is loaded once (shared subtrees are common: the same layers); each
 * model's tree is then walked path by path from that cache, so a file's bytes count once per
 * path (logical) and an object knows how many models reference it (shared or unique). */
typedef struct
{
  guint64 size;   /* a regular file's size; 0 for a symlink */
  guint last;     /* the last model (index + 1) that referenced it */
  guint n_models; /* how many models reference it */
} DfObject;

typedef struct
{
  MvStore *store;
  GHashTable *trees;   /* dirtree checksum -> GVariant */
  GHashTable *objects; /* file checksum -> DfObject */
  GHashTable *files;   /* this model's: DfObject -> paths (count) */
  guint model;         /* index + 1 of the model walked */
  guint64 stored;
} Df;

static DfObject *
df_object (Df *d, const char *checksum)
{
  DfObject *o = g_hash_table_lookup (d->objects, checksum);
  g_autofree char *objpath = NULL;
  struct stat st;

  if (o != NULL)
    return o;
  o = g_new0 (DfObject, 1);
  objpath = mv_object_path (checksum, "file");
  if (fstatat (d->store->objects_dfd, objpath, &st, AT_SYMLINK_NOFOLLOW) == 0
      && S_ISREG (st.st_mode))
    o->size = st.st_size;
  d->stored += o->size;
  g_hash_table_insert (d->objects, g_strdup (checksum), o);
  return o;
}

static gboolean
df_walk (Df *d, const char *tree, GCancellable *cancellable, GError **error)
{
  GVariant *dirtree = g_hash_table_lookup (d->trees, tree);
  g_autoptr (GVariant) files = NULL;
  g_autoptr (GVariant) dirs = NULL;

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;
  if (dirtree == NULL)
    {
      if (!ostree_repo_load_variant (d->store->repo, OSTREE_OBJECT_TYPE_DIR_TREE, tree, &dirtree,
                                     error))
        return FALSE;
      g_hash_table_insert (d->trees, g_strdup (tree), dirtree);
    }
  files = g_variant_get_child_value (dirtree, 0);
  dirs = g_variant_get_child_value (dirtree, 1);
  for (gsize i = 0, n = g_variant_n_children (files); i < n; i++)
    {
      g_autoptr (GVariant) c = NULL;
      g_autofree char *csum = NULL;
      DfObject *o;
      g_variant_get_child (files, i, "(&s@ay)", NULL, &c);
      csum = ostree_checksum_from_bytes_v (c);
      o = df_object (d, csum);
      if (o->last != d->model)
        {
          o->last = d->model;
          o->n_models++;
        }
      g_hash_table_insert (
          d->files, o, GUINT_TO_POINTER (GPOINTER_TO_UINT (g_hash_table_lookup (d->files, o)) + 1));
    }
  for (gsize i = 0, n = g_variant_n_children (dirs); i < n; i++)
    {
      g_autoptr (GVariant) c = NULL;
      g_autofree char *t = NULL;
      g_variant_get_child (dirs, i, "(&s@ay@ay)", NULL, &c, NULL);
      t = ostree_checksum_from_bytes_v (c);
      if (!df_walk (d, t, cancellable, error))
        return FALSE;
    }
  return TRUE;
}

void
mv_df_model_free (MvDfModel *m)
{
  if (m == NULL)
    return;
  g_free (m->digest);
  g_strfreev (m->names);
  g_free (m);
}

static int
df_model_cmp (gconstpointer a, gconstpointer b)
{
  const MvDfModel *x = *(MvDfModel *const *)a, *y = *(MvDfModel *const *)b;
  if (x->logical_bytes != y->logical_bytes)
    return x->logical_bytes > y->logical_bytes ? -1 : 1;
  return strcmp (x->digest, y->digest);
}

static guint64
disk_usage_objects (MvStore *store)
{
  guint64 total = 0;

  for (int i = 0; i < 256; i++)
    {
      char sub[3];
      int fd;
      DIR *dir;
      struct dirent *de;

      g_snprintf (sub, sizeof sub, "%02x", i);
      fd = openat (store->objects_dfd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
      if (fd < 0)
        continue;
      dir = fdopendir (fd);
      if (dir == NULL)
        {
          close (fd);
          continue;
        }
      while ((de = readdir (dir)) != NULL)
        {
          struct stat st;
          if (de->d_name[0] == '.')
            continue;
          if (fstatat (fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
            total += (guint64)st.st_blocks * 512;
        }
      closedir (dir);
    }
  return total;
}

gboolean
mv_store_df_models (MvStore *store, MvDfStats *out_stats, GPtrArray **out_models,
                    GCancellable *cancellable, GError **error)
{
  g_auto (MvStoreLock) lock = { 0 };
  g_autoptr (GHashTable) models = NULL;
  g_autoptr (GHashTable) layers = NULL;
  g_autoptr (GHashTable) names = NULL;
  g_autoptr (GHashTable) trees
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_variant_unref);
  g_autoptr (GHashTable) objects = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autoptr (GPtrArray) result = g_ptr_array_new_with_free_func ((GDestroyNotify)mv_df_model_free);
  g_autoptr (GPtrArray) per_model
      = g_ptr_array_new_with_free_func ((GDestroyNotify)g_hash_table_unref);
  Df d = { .store = store, .trees = trees, .objects = objects };
  MvDfStats stats = { 0 };
  GHashTableIter it;
  gpointer k, v;

  if (!mv_store_lock_acquire (store, FALSE, &lock, cancellable, error))
    return FALSE;
  models = mv_store_list_prefix (store, MV_REF_MODEL_PREFIX, error);
  layers = models ? mv_store_list_prefix (store, MV_REF_LAYER_PREFIX, error) : NULL;
  names = layers ? mv_store_list_names (store, error) : NULL;
  if (names == NULL)
    return FALSE;

  g_hash_table_iter_init (&it, models);
  while (g_hash_table_iter_next (&it, &k, &v))
    {
      g_autofree char *tree = NULL;
      g_autoptr (GVariant) md = mv_store_load_commit_meta (store, v, &tree, NULL, error);
      MvDfModel *m;
      if (md == NULL)
        return FALSE;
      d.files = g_hash_table_new (NULL, NULL);
      g_ptr_array_add (per_model, d.files);
      d.model = per_model->len;
      if (!df_walk (&d, tree, cancellable, error))
        return FALSE;
      m = g_new0 (MvDfModel, 1);
      m->digest = g_strdup (k);
      m->names = mv_store_names_of (names, v);
      g_ptr_array_add (result, m);
    }

  /* Now that every object knows how many models reference it. */
  for (guint i = 0; i < result->len; i++)
    {
      MvDfModel *m = result->pdata[i];
      g_hash_table_iter_init (&it, per_model->pdata[i]);
      while (g_hash_table_iter_next (&it, &k, &v))
        {
          const DfObject *o = k;
          guint64 bytes = o->size * GPOINTER_TO_UINT (v);
          m->n_files += GPOINTER_TO_UINT (v);
          m->logical_bytes += bytes;
          if (o->n_models > 1)
            m->shared_bytes += bytes;
          else
            m->unique_bytes += bytes;
        }
      stats.logical_bytes += m->logical_bytes;
    }
  stats.n_models = g_hash_table_size (models);
  stats.n_layers = g_hash_table_size (layers);
  stats.stored_bytes = d.stored;
  stats.disk_bytes = disk_usage_objects (store);
  g_ptr_array_sort (result, df_model_cmp);
  *out_stats = stats;
  if (out_models != NULL)
    *out_models = g_steal_pointer (&result);
  return TRUE;
}

gboolean
mv_store_df (MvStore *store, MvDfStats *out_stats, GCancellable *cancellable, GError **error)
{
  return mv_store_df_models (store, out_stats, NULL, cancellable, error);
}

/* ---------------------------------------------------------------------------------------- */
/* prune                                                                                    */

static gboolean
add_reachable (MvStore *store, GHashTable *reachable, const char *commit, GCancellable *cancellable,
               GError **error)
{
  return ostree_repo_traverse_commit_union (store->repo, commit, 0, reachable, cancellable, error);
}

/* Counts a model or layer ref that prune removes, and removes it unless this is a dry run. */
static gboolean
prune_ref (MvStore *store, const char *prefix, const char *digest, gboolean dry_run, guint *counter,
           GError **error)
{
  g_autofree char *ref = NULL;

  g_debug ("prune: %s %s", prefix, digest);
  (*counter)++;
  if (dry_run)
    return TRUE;
  ref = g_str_equal (prefix, MV_REF_MODEL_PREFIX) ? mv_model_ref (digest) : mv_layer_ref (digest);
  if (g_str_equal (prefix, MV_REF_MODEL_PREFIX))
    mv_last_use_forget (store->root, digest);
  return delete_ref (store, ref, error);
}

/* Damage markers and checkout indexes of models and layers that are gone. */
static gboolean
prune_records (MvStore *store, GError **error)
{
  g_autoptr (GPtrArray) models = mv_damage_list (store->root_dfd, MV_DAMAGE_MODEL);
  g_autoptr (GPtrArray) layers = mv_damage_list (store->root_dfd, MV_DAMAGE_LAYER);
  g_autoptr (GDir) d = NULL;
  g_autofree char *index_dir = g_build_filename (store->root, MV_CHECKOUT_INDEX_DIR, NULL);
  const char *name;

  for (guint i = 0; i < models->len; i++)
    if (!mv_store_has_model (store, models->pdata[i])
        && !mv_damage_clear (store->root_dfd, MV_DAMAGE_MODEL, models->pdata[i], error))
      return FALSE;
  for (guint i = 0; i < layers->len; i++)
    if (!mv_store_has_layer (store, layers->pdata[i])
        && !mv_damage_clear (store->root_dfd, MV_DAMAGE_LAYER, layers->pdata[i], error))
      return FALSE;
  d = g_dir_open (index_dir, 0, NULL);
  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    {
      struct stat st;
      g_autofree char *digest = NULL;
      if (strlen (name) != 64 || strspn (name, "0123456789abcdef") != 64
          || fstatat (store->checkouts_dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
        continue;
      digest = g_strconcat ("sha256:", name, NULL);
      if (!mv_checkout_index_remove (store->root_dfd, digest, error))
        return FALSE;
    }
  return TRUE;
}

static gboolean
prune (MvStore *store, gboolean dry_run, MvPruneStats *out_stats, GCancellable *cancellable,
       GError **error)
{
  return mv_store_prune_full (store, dry_run, FALSE, out_stats, cancellable, error);
}

gboolean
mv_store_prune_full (MvStore *store, gboolean dry_run, gboolean keep_unnamed,
                     MvPruneStats *out_stats, GCancellable *cancellable, GError **error)
{
  g_auto (MvStoreLock) lock = { 0 };
  g_autoptr (GHashTable) models = NULL;
  g_autoptr (GHashTable) layers = NULL;
  g_autoptr (GHashTable) names = NULL;
  g_autoptr (GHashTable) kept_models = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GHashTable) needed_layers
      = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (GHashTable) reachable = ostree_repo_traverse_new_reachable ();
  MvPruneStats stats = { 0 };
  GHashTableIter it;
  gpointer k, v;
  gint n_total = 0, n_pruned = 0;
  guint64 freed = 0;

  if (!mv_store_lock_acquire (store, TRUE, &lock, cancellable, error))
    return FALSE;
  models = mv_store_list_prefix (store, MV_REF_MODEL_PREFIX, error);
  layers = models ? mv_store_list_prefix (store, MV_REF_LAYER_PREFIX, error) : NULL;
  names = layers ? mv_store_list_names (store, error) : NULL;
  if (names == NULL)
    return FALSE;

  /* 1. Models without a name and without users. */
  g_hash_table_iter_init (&it, models);
  while (g_hash_table_iter_next (&it, &k, &v))
    {
      if (keep_unnamed || names_pointing_at (names, v) > 0 || mv_store_model_in_use (store, k))
        {
          g_autoptr (GVariant) md = mv_store_load_commit_meta (store, v, NULL, NULL, error);
          g_autofree const char **ls = NULL;
          if (md == NULL)
            return FALSE;
          g_hash_table_add (kept_models, k);
          if (g_variant_lookup (md, MV_META_LAYERS, "^a&s", &ls))
            for (guint i = 0; ls[i]; i++)
              g_hash_table_add (needed_layers, g_strdup (ls[i]));
          if (!add_reachable (store, reachable, v, cancellable, error))
            return FALSE;
          continue;
        }
      if (!prune_ref (store, MV_REF_MODEL_PREFIX, k, dry_run, &stats.models_removed, error))
        return FALSE;
    }

  /* 2. Layers that no remaining model lists. */
  g_hash_table_iter_init (&it, layers);
  while (g_hash_table_iter_next (&it, &k, &v))
    {
      if (g_hash_table_contains (needed_layers, k))
        {
          if (!add_reachable (store, reachable, v, cancellable, error))
            return FALSE;
          continue;
        }
      if (!prune_ref (store, MV_REF_LAYER_PREFIX, k, dry_run, &stats.layers_removed, error))
        return FALSE;
    }

  /* The signature verdicts of kept models stay; the others go with their models. */
  {
    g_autoptr (GHashTable) sigs = mv_store_list_prefix (store, MV_REF_SIGNATURE_PREFIX, error);
    if (sigs == NULL)
      return FALSE;
    g_hash_table_iter_init (&it, sigs);
    while (g_hash_table_iter_next (&it, &k, &v))
      {
        if (g_hash_table_contains (kept_models, k))
          {
            if (!add_reachable (store, reachable, v, cancellable, error))
              return FALSE;
          }
        else if (!dry_run && !delete_signature (store, k, error))
          return FALSE;
      }
  }

  /* 3. Objects nothing kept reaches. */
  {
    OstreeRepoPruneOptions opts
        = { .flags = dry_run ? OSTREE_REPO_PRUNE_FLAGS_NO_PRUNE : OSTREE_REPO_PRUNE_FLAGS_NONE,
            .reachable = reachable };
    if (!ostree_repo_prune_from_reachable (store->repo, &opts, &n_total, &n_pruned, &freed,
                                           cancellable, error))
      return mv_prefix_error (error, "pruning objects");
    stats.objects_removed = n_pruned;
    stats.bytes_freed = freed;
  }

  /* 4. Checkouts of models that are gone (and not in use). */
  {
    DIR *dir;
    struct dirent *de;
    int fd = fcntl (store->checkouts_dfd, F_DUPFD_CLOEXEC, 3);
    g_autoptr (GPtrArray) orphans = g_ptr_array_new_with_free_func (g_free);
    if (fd < 0)
      return mv_throw_errno_prefix (error, "dup");
    dir = fdopendir (fd);
    if (dir == NULL)
      {
        close (fd);
        return mv_throw_errno_prefix (error, "reading checkouts");
      }
    rewinddir (dir);
    while ((de = readdir (dir)) != NULL)
      {
        g_autofree char *digest = NULL;
        if (de->d_name[0] == '.')
          continue;
        digest = g_strconcat ("sha256:", de->d_name, NULL);
        if (g_hash_table_contains (kept_models, digest) || mv_store_model_in_use (store, digest))
          continue;
        g_ptr_array_add (orphans, g_steal_pointer (&digest));
      }
    closedir (dir);
    for (guint i = 0; i < orphans->len; i++)
      {
        stats.checkouts_removed++;
        if (!dry_run && !remove_checkout (store, orphans->pdata[i], cancellable, error))
          return FALSE;
      }
  }

  /* 5. Checkouts a repair retired, once nothing uses their model. */
  if (!remove_retired (store, NULL, dry_run, &stats.checkouts_removed, cancellable, error))
    return FALSE;

  if (!dry_run && (!mv_store_prune_layer_locks (store, error) || !prune_records (store, error)))
    return FALSE;
  *out_stats = stats;
  return TRUE;
}

gboolean
mv_store_prune (MvStore *store, gboolean dry_run, MvPruneStats *out_stats,
                GCancellable *cancellable, GError **error)
{
  gint64 start = g_get_monotonic_time ();
  MvPruneStats stats = { 0 };
  gboolean ok = prune (store, dry_run, &stats, cancellable, error);

  if (!dry_run)
    mv_counters_record (store->root, MV_COUNTER_PRUNE, ok, stats.bytes_freed,
                        g_get_monotonic_time () - start);
  if (ok)
    *out_stats = stats;
  return ok;
}

/* ---------------------------------------------------------------------------------------- */
/* Repair                                                                                   */

/* Whether an import of @digest must repair first: fsck marked the model or one of its stored
 * layers, or its checkout no longer matches the objects it was made of. No object is read. */
static gboolean
needs_repair (MvStore *store, const char *digest, const char *const *layers, guint n_layers)
{
  g_autofree char *marker = mv_damage_read (store->root_dfd, MV_DAMAGE_MODEL, digest);
  mv_autofd int dfd = -1;

  if (marker != NULL)
    return TRUE;
  for (guint i = 0; i < n_layers; i++)
    {
      g_autofree char *lm = mv_damage_read (store->root_dfd, MV_DAMAGE_LAYER, layers[i]);
      if (lm != NULL && mv_store_has_layer (store, layers[i]))
        return TRUE;
    }
  dfd = openat (store->checkouts_dfd, hex_of (digest),
                O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  return dfd >= 0 && !mv_checkout_verify (store->root_dfd, digest, dfd, NULL);
}

/* A damaged object and the inode it was when found: the exclusive phase removes that inode,
 * not a good copy a concurrent repair may have written since (mtime and size tell a reused
 * inode number apart; not the ctime, which a new hardlink changes). */
typedef struct
{
  char *relpath;
  struct stat st;
} Doomed;

static gboolean
same_inode (const struct stat *a, const struct stat *b)
{
  return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size
         && a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

static void
doomed_free (Doomed *d)
{
  g_free (d->relpath);
  g_free (d);
}

static gboolean
remove_doomed (MvStore *store, GPtrArray *doomed, GCancellable *cancellable, GError **error)
{
  g_autofree char *dirmeta = mv_object_path (mv_store_dirmeta (store), "dirmeta");
  gboolean dirmeta_gone = FALSE;

  for (guint i = 0; i < doomed->len; i++)
    {
      Doomed *d = doomed->pdata[i];
      struct stat st;
      if (fstatat (store->objects_dfd, d->relpath, &st, AT_SYMLINK_NOFOLLOW) < 0
          || !same_inode (&st, &d->st))
        continue;
      g_debug ("repair: removing damaged object %s", d->relpath);
      if (unlinkat (store->objects_dfd, d->relpath, 0) < 0 && errno != ENOENT)
        return mv_throw_errno_prefix (error, "removing damaged object %s", d->relpath);
      dirmeta_gone |= g_str_equal (d->relpath, dirmeta);
    }
  /* Every tree refers to the one canonical directory metadata: write it again at once. */
  return !dirmeta_gone || mv_store_ensure_dirmeta (store, cancellable, error);
}

gboolean
mv_store_repair_prepare (MvStore *store, const char *digest, const char *const *layers,
                         guint n_layers, gboolean *out_repairing, GCancellable *cancellable,
                         GError **error)
{
  g_autoptr (GHashTable) results = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autoptr (GPtrArray) problems
      = g_ptr_array_new_with_free_func ((GDestroyNotify)mv_fsck_problem_free);
  g_autoptr (GPtrArray) drop_layers = g_ptr_array_new ();
  g_autoptr (GPtrArray) doomed = g_ptr_array_new_with_free_func ((GDestroyNotify)doomed_free);
  g_autofree char *mref = mv_model_ref (digest);
  gboolean drop_model = FALSE;

  *out_repairing = FALSE;
  /* 1. Under the shared lock, as fsck: which objects are bad, which layers hold them. */
  {
    g_auto (MvStoreLock) lock = { 0 };
    g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
    g_autofree char *rev = NULL;
    Fsck f = { .store = store,
               .results = results,
               .problems = problems,
               .checkout_dfd = -1,
               .cancellable = cancellable };

    if (!mv_store_lock_acquire (store, FALSE, &lock, cancellable, error))
      return FALSE;
    if (!needs_repair (store, digest, layers, n_layers))
      return TRUE;
    g_debug ("model %s is damaged: checking its objects before importing it again", digest);
    if (!ostree_repo_resolve_rev_ext (store->repo, mref, TRUE, 0, &rev, error))
      return FALSE;
    if (rev != NULL)
      {
        if (!fsck_commit (&f, rev, error))
          return FALSE;
        /* Its commit or one of its trees: the model commit is written again. Damaged files
         * only: the layers that hold them are fetched again, the commit stays. */
        for (guint i = 0; i < problems->len; i++)
          drop_model |= ((MvFsckProblem *)problems->pdata[i])->path == NULL;
      }
    for (guint i = 0; i < n_layers; i++)
      {
        g_autofree char *lref = mv_layer_ref (layers[i]);
        g_autofree char *lrev = NULL;
        guint n0 = problems->len;
        if (!ostree_repo_resolve_rev_ext (store->repo, lref, TRUE, 0, &lrev, error))
          return FALSE;
        if (lrev == NULL)
          continue;
        if (!fsck_commit (&f, lrev, error))
          return FALSE;
        if (problems->len > n0)
          g_ptr_array_add (drop_layers, (gpointer)layers[i]);
      }
    for (guint i = 0; i < problems->len; i++)
      {
        MvFsckProblem *p = problems->pdata[i];
        const char *dot = strrchr (p->object, '.');
        g_autofree char *csum = NULL;
        Doomed *d;
        if (dot == NULL || !g_hash_table_add (seen, p->object))
          continue;
        csum = g_strndup (p->object, dot - p->object);
        d = g_new0 (Doomed, 1);
        d->relpath = mv_object_path (csum, dot + 1);
        if (fstatat (store->objects_dfd, d->relpath, &d->st, AT_SYMLINK_NOFOLLOW) < 0)
          {
            doomed_free (d); /* missing: nothing to remove */
            continue;
          }
        g_ptr_array_add (doomed, d);
      }
  }
  *out_repairing = TRUE;
  if (doomed->len == 0 && drop_layers->len == 0 && !drop_model)
    return TRUE; /* the objects are intact: only the checkout is made again */

  /* 2. Under the exclusive lock, briefly: no import can dedup against an object we remove. */
  {
    g_auto (MvStoreLock) lock = { 0 };

    if (!mv_store_lock_acquire (store, TRUE, &lock, cancellable, error))
      return FALSE;
    if (!remove_doomed (store, doomed, cancellable, error))
      return FALSE;
    for (guint i = 0; i < drop_layers->len; i++)
      {
        g_autofree char *lref = mv_layer_ref (drop_layers->pdata[i]);
        g_debug ("repair: layer %s is fetched again", (const char *)drop_layers->pdata[i]);
        if (!delete_ref (store, lref, error))
          return FALSE;
      }
    if (drop_model && !delete_ref (store, mref, error))
      return FALSE;
  }
  return TRUE;
}

gboolean
mv_store_repair_finish (MvStore *store, const char *digest, const char *const *layers,
                        guint n_layers, GCancellable *cancellable, GError **error)
{
  g_auto (MvStoreLock) lock = { 0 };
  struct stat st;

  if (!mv_store_lock_acquire (store, FALSE, &lock, cancellable, error))
    return FALSE;
  /* The old checkout holds hardlinks to the damaged objects: never reused. */
  if (fstatat (store->checkouts_dfd, hex_of (digest), &st, AT_SYMLINK_NOFOLLOW) == 0
      && !mv_store_replace_checkout (store, digest, cancellable, error))
    return FALSE;
  for (guint i = 0; i < n_layers; i++)
    if (!mv_damage_clear (store->root_dfd, MV_DAMAGE_LAYER, layers[i], error))
      return FALSE;
  return mv_damage_clear (store->root_dfd, MV_DAMAGE_MODEL, digest, error);
}
