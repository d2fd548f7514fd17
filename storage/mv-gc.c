/* mv-gc: rm, prune, fsck, df.
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <dirent.h>
#include <string.h>
#include <sys/stat.h>

#include "mv-digest-private.h"
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
  return mv_rm_rf_at (store->tmp_dfd, tmpname, cancellable, error);
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
  if (!delete_ref (store, mref, error))
    return FALSE;
  return remove_checkout (store, digest, cancellable, error);
}

/* ---------------------------------------------------------------------------------------- */

typedef gboolean (*FileFunc) (const char *path, const char *checksum, gpointer user_data,
                              GError **error);
typedef gboolean (*MetaFunc) (OstreeObjectType type, const char *checksum, gpointer user_data,
                              GError **error);

/* Walks a dirtree depth-first. @seen_trees (nullable) skips dirtrees already walked. */
static gboolean
walk_tree (MvStore *store, const char *tree, const char *meta, const char *path,
           GHashTable *seen_trees, FileFunc file_cb, MetaFunc meta_cb, gpointer user_data,
           GCancellable *cancellable, GError **error)
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
      if (!meta_cb (OSTREE_OBJECT_TYPE_DIR_META, meta, user_data, error))
        return FALSE;
      if (!meta_cb (OSTREE_OBJECT_TYPE_DIR_TREE, tree, user_data, error))
        return FALSE;
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
      if (!walk_tree (store, t, m, full, seen_trees, file_cb, meta_cb, user_data, cancellable,
                      error))
        return FALSE;
    }
  return TRUE;
}

/* ---------------------------------------------------------------------------------------- */
/* fsck                                                                                     */

typedef struct
{
  MvStore *store;
  GHashTable *results; /* checksum -> message (NULL value: intact) */
  GPtrArray *problems;
  const char *model;
  char **names;
  GCancellable *cancellable;
} Fsck;

static void
add_problem (Fsck *f, const char *path, const char *object, const char *message)
{
  MvFsckProblem *p = g_new0 (MvFsckProblem, 1);
  p->model = g_strdup (f->model);
  p->names = g_strdupv (f->names);
  p->path = g_strdup (path);
  p->object = g_strdup (object);
  p->message = g_strdup (message);
  g_ptr_array_add (f->problems, p);
}

static gboolean
fsck_file (const char *path, const char *checksum, gpointer user_data, GError **error)
{
  Fsck *f = user_data;
  gpointer msg;

  if (!g_hash_table_lookup_extended (f->results, checksum, NULL, &msg))
    {
      g_autoptr (GError) local_error = NULL;
      if (!mv_store_verify_file_object (f->store, checksum, f->cancellable, &local_error))
        {
          if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
            {
              g_propagate_error (error, g_steal_pointer (&local_error));
              return FALSE;
            }
          msg = g_strdup (local_error->message);
        }
      else
        msg = NULL;
      g_hash_table_insert (f->results, g_strdup (checksum), msg);
    }
  if (msg != NULL)
    {
      g_autofree char *obj = g_strconcat (checksum, ".file", NULL);
      add_problem (f, path, obj, msg);
    }
  return TRUE;
}

static const char *
objtype_ext (OstreeObjectType type)
{
  return type == OSTREE_OBJECT_TYPE_DIR_TREE   ? "dirtree"
         : type == OSTREE_OBJECT_TYPE_DIR_META ? "dirmeta"
                                               : "commit";
}

static gboolean
fsck_meta (OstreeObjectType type, const char *checksum, gpointer user_data, GError **error)
{
  Fsck *f = user_data;
  g_autofree char *key = g_strconcat (checksum, ".", objtype_ext (type), NULL);
  gpointer msg;

  if (!g_hash_table_lookup_extended (f->results, key, NULL, &msg))
    {
      g_autoptr (GError) local_error = NULL;
      msg = NULL;
      if (!ostree_repo_fsck_object (f->store->repo, type, checksum, f->cancellable, &local_error))
        msg = g_strdup (local_error->message);
      g_hash_table_insert (f->results, g_strdup (key), msg);
    }
  if (msg != NULL)
    add_problem (f, NULL, key, msg);
  return TRUE;
}

gboolean
mv_store_fsck (MvStore *store, GPtrArray **out_problems, GCancellable *cancellable, GError **error)
{
  g_auto (MvStoreLock) lock = { 0 };
  g_autoptr (GHashTable) models = NULL;
  g_autoptr (GHashTable) results = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autoptr (GPtrArray) problems
      = g_ptr_array_new_with_free_func ((GDestroyNotify)mv_fsck_problem_free);
  GHashTableIter it;
  gpointer k, v;

  if (!mv_store_lock_acquire (store, FALSE, &lock, cancellable, error))
    return FALSE;
  models = mv_store_list_prefix (store, MV_REF_MODEL_PREFIX, error);
  if (models == NULL)
    return FALSE;
  g_hash_table_iter_init (&it, models);
  while (g_hash_table_iter_next (&it, &k, &v))
    {
      g_autoptr (MvModelInfo) info = NULL;
      g_autofree char *tree = NULL;
      g_autofree char *meta = NULL;
      g_autoptr (GVariant) md = NULL;
      g_autoptr (GError) local_error = NULL;
      Fsck f = { .store = store,
                 .results = results,
                 .problems = problems,
                 .model = k,
                 .cancellable = cancellable };

      if (!ostree_repo_fsck_object (store->repo, OSTREE_OBJECT_TYPE_COMMIT, v, cancellable,
                                    &local_error))
        {
          g_autofree char *obj = g_strconcat (v, ".commit", NULL);
          add_problem (&f, NULL, obj, local_error->message);
          continue;
        }
      info = mv_store_model_info_load (store, k, v, error);
      if (info == NULL)
        return FALSE;
      f.names = info->names;
      md = mv_store_load_commit_meta (store, v, &tree, &meta, error);
      if (md == NULL)
        return FALSE;
      if (!walk_tree (store, tree, meta, "", NULL, fsck_file, fsck_meta, &f, cancellable, error))
        return FALSE;
    }
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

typedef struct
{
  MvStore *store;
  GHashTable *seen_files;
  guint64 stored;
} Df;

static gboolean
df_file (const char *path, const char *checksum, gpointer user_data, GError **error)
{
  Df *d = user_data;
  g_autofree char *objpath = NULL;
  struct stat st;

  if (g_hash_table_contains (d->seen_files, checksum))
    return TRUE;
  g_hash_table_add (d->seen_files, g_strdup (checksum));
  objpath = mv_object_path (checksum, "file");
  if (fstatat (d->store->objects_dfd, objpath, &st, AT_SYMLINK_NOFOLLOW) == 0
      && S_ISREG (st.st_mode))
    d->stored += st.st_size;
  return TRUE;
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
mv_store_df (MvStore *store, MvDfStats *out_stats, GCancellable *cancellable, GError **error)
{
  g_auto (MvStoreLock) lock = { 0 };
  g_autoptr (GHashTable) models = NULL;
  g_autoptr (GHashTable) layers = NULL;
  g_autoptr (GHashTable) seen_trees = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  Df d = { .store = store };
  MvDfStats stats = { 0 };
  GHashTableIter it;
  gpointer k, v;

  if (!mv_store_lock_acquire (store, FALSE, &lock, cancellable, error))
    return FALSE;
  models = mv_store_list_prefix (store, MV_REF_MODEL_PREFIX, error);
  if (models == NULL)
    return FALSE;
  layers = mv_store_list_prefix (store, MV_REF_LAYER_PREFIX, error);
  if (layers == NULL)
    return FALSE;
  d.seen_files = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_hash_table_iter_init (&it, models);
  while (g_hash_table_iter_next (&it, &k, &v))
    {
      g_autofree char *tree = NULL;
      g_autofree char *meta = NULL;
      g_autoptr (GVariant) md = mv_store_load_commit_meta (store, v, &tree, &meta, error);
      guint64 bytes;
      if (md == NULL)
        goto fail;
      if (g_variant_lookup (md, MV_META_BYTES, "t", &bytes))
        stats.logical_bytes += bytes;
      if (!walk_tree (store, tree, meta, "", seen_trees, df_file, NULL, &d, cancellable, error))
        goto fail;
    }
  stats.n_models = g_hash_table_size (models);
  stats.n_layers = g_hash_table_size (layers);
  stats.stored_bytes = d.stored;
  stats.disk_bytes = disk_usage_objects (store);
  g_hash_table_unref (d.seen_files);
  *out_stats = stats;
  return TRUE;
fail:
  g_hash_table_unref (d.seen_files);
  return FALSE;
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
  return delete_ref (store, ref, error);
}

gboolean
mv_store_prune (MvStore *store, gboolean dry_run, MvPruneStats *out_stats,
                GCancellable *cancellable, GError **error)
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
      if (names_pointing_at (names, v) > 0 || mv_store_model_in_use (store, k))
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

  if (!dry_run && !mv_store_prune_layer_locks (store, error))
    return FALSE;
  *out_stats = stats;
  return TRUE;
}
