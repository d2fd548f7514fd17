/* mv-checkout: one shared hardlink checkout per model, built in tmp/ and renamed into place.
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "mv-digest-private.h"
#include "mv-integrity-private.h"
#include "mv-path-private.h"
#include "mv-repo-private.h"

static const char *
digest_hex (const char *digest)
{
  const char *colon = strchr (digest, ':');
  return colon ? colon + 1 : digest;
}

/* A name whose commit cannot be read: the model it names (a model ref with the same commit)
 * is damaged. */
static void
damaged_name (MvStore *store, const char *name, const char *rev, GError *why, GError **error)
{
  g_autoptr (GHashTable) models = mv_store_list_prefix (store, MV_REF_MODEL_PREFIX, NULL);
  g_autofree char *shown = mv_escape_for_display (name, 300);
  g_autofree char *detail
      = why ? g_strdup_printf ("its commit %s cannot be read: %s", rev, why->message)
            : g_strdup_printf ("its commit %s cannot be read", rev);
  GHashTableIter it;
  gpointer k, v;

  if (models != NULL)
    {
      g_hash_table_iter_init (&it, models);
      while (g_hash_table_iter_next (&it, &k, &v))
        if (g_str_equal (v, rev))
          {
            mv_throw (error, MV_ERROR_CORRUPTED,
                      "model %s (%s) is damaged (%s); pull or import it again to repair it", shown,
                      (const char *)k, detail);
            return;
          }
    }
  mv_throw (error, MV_ERROR_CORRUPTED,
            "name '%s' points at a damaged model (%s); pull or import it again to repair it", shown,
            detail);
}

char *
mv_store_lookup_name (MvStore *store, const char *name, GError **error)
{
  g_autofree char *ref = mv_name_ref (name);
  g_autofree char *rev = NULL;
  g_autoptr (GVariant) meta = NULL;
  g_autoptr (GError) local_error = NULL;
  const char *digest;

  rev = mv_store_resolve_ref (store, ref, error);
  if (rev == NULL)
    {
      if (error && *error == NULL)
        {
          g_autofree char *shown = mv_escape_for_display (name, 300);
          mv_throw (error, MV_ERROR_NOT_FOUND, "no model named '%s'", shown);
        }
      return NULL;
    }
  meta = mv_store_load_commit_meta (store, rev, NULL, NULL, &local_error);
  if (meta == NULL || !g_variant_lookup (meta, MV_META_DIGEST, "&s", &digest))
    {
      damaged_name (store, name, rev, local_error, error);
      return NULL;
    }
  return g_strdup (digest);
}

char *
mv_store_find_digest (MvStore *store, const char *s, GError **error)
{
  g_autoptr (GHashTable) models = NULL;
  const char *prefix = s;
  gsize plen;
  char *found = NULL;
  GHashTableIter it;
  gpointer k;

  if (mv_digest_validate (s, NULL, NULL, NULL))
    {
      if (!mv_store_has_model (store, s))
        {
          mv_throw (error, MV_ERROR_NOT_FOUND, "model %s is not in the store", s);
          return NULL;
        }
      return g_strdup (s);
    }
  if (g_str_has_prefix (prefix, "sha256:"))
    prefix += strlen ("sha256:");
  plen = strlen (prefix);
  if (plen < 4 || plen > 64 || strspn (prefix, "0123456789abcdef") != plen)
    {
      g_autofree char *shown = mv_escape_for_display (s, 100);
      mv_throw (error, MV_ERROR_NOT_FOUND,
                "'%s' is neither a model name nor a digest prefix of 4 or more hex digits", shown);
      return NULL;
    }
  models = mv_store_list_prefix (store, MV_REF_MODEL_PREFIX, error);
  if (models == NULL)
    return NULL;
  g_hash_table_iter_init (&it, models);
  while (g_hash_table_iter_next (&it, &k, NULL))
    {
      if (!g_str_has_prefix (k, "sha256:") || strncmp (digest_hex (k), prefix, plen) != 0)
        continue;
      if (found != NULL)
        {
          g_free (found);
          mv_throw (error, MV_ERROR_AMBIGUOUS, "digest prefix '%s' matches more than one model",
                    prefix);
          return NULL;
        }
      found = g_strdup (k);
    }
  if (found == NULL)
    mv_throw (error, MV_ERROR_NOT_FOUND, "no model with digest prefix '%s'", prefix);
  return found;
}

MvModelInfo *
mv_store_get_model_by_digest (MvStore *store, const char *digest, GError **error)
{
  g_autofree char *ref = mv_model_ref (digest);
  g_autofree char *rev = mv_store_resolve_ref (store, ref, error);

  if (rev == NULL)
    {
      if (error && *error == NULL)
        mv_throw (error, MV_ERROR_NOT_FOUND, "model %s is not in the store", digest);
      return NULL;
    }
  return mv_store_model_info_load (store, digest, rev, error);
}

static int
info_cmp (gconstpointer a, gconstpointer b)
{
  const MvModelInfo *ia = *(MvModelInfo *const *)a;
  const MvModelInfo *ib = *(MvModelInfo *const *)b;
  const char *na = ia->names[0];
  const char *nb = ib->names[0];
  /* Named models first, by name; then unnamed ones by digest. */
  if (na && nb)
    return strcmp (na, nb);
  if (na || nb)
    return na ? -1 : 1;
  return strcmp (ia->digest, ib->digest);
}

GPtrArray *
mv_store_list_models (MvStore *store, GError **error)
{
  g_autoptr (GHashTable) models = mv_store_list_prefix (store, MV_REF_MODEL_PREFIX, error);
  g_autoptr (GPtrArray) ret = g_ptr_array_new_with_free_func ((GDestroyNotify)mv_model_info_free);
  GHashTableIter it;
  gpointer k, v;

  if (models == NULL)
    return NULL;
  g_hash_table_iter_init (&it, models);
  while (g_hash_table_iter_next (&it, &k, &v))
    {
      MvModelInfo *info = mv_store_model_info_load (store, k, v, error);
      if (info == NULL)
        return NULL;
      g_ptr_array_add (ret, info);
    }
  g_ptr_array_sort (ret, info_cmp);
  return g_steal_pointer (&ret);
}

typedef struct
{
  MvStore *store;
  GVariantBuilder *entries;
} IndexBuild;

static gboolean
index_file (const char *path, const char *checksum, gpointer user_data, GError **error)
{
  IndexBuild *ib = user_data;
  g_autofree char *objpath = mv_object_path (checksum, "file");
  guint8 csum[32];
  struct stat st;

  if (fstatat (ib->store->objects_dfd, objpath, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return mv_throw_errno_prefix (error, "object %s of '%s'", checksum, path);
  /* Symlinks; and empty files, which libostree's checkout creates anew rather than link. */
  if (!S_ISREG (st.st_mode) || st.st_size == 0)
    return TRUE;
  ostree_checksum_inplace_to_bytes (checksum, csum);
  g_variant_builder_add (ib->entries, "(s@ayutxu)", path,
                         g_variant_new_fixed_array (G_VARIANT_TYPE_BYTE, csum, 32, 1),
                         (guint32)(st.st_mode & 07777), (guint64)st.st_size,
                         (gint64)st.st_mtim.tv_sec, (guint32)st.st_mtim.tv_nsec);
  return TRUE;
}

GVariant *
mv_store_build_checkout_index (MvStore *store, const char *rev, GCancellable *cancellable,
                               GError **error)
{
  g_auto (GVariantBuilder) entries = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE ("a(sayutxu)"));
  g_autofree char *tree = NULL;
  g_autofree char *meta = NULL;
  g_autoptr (GVariant) md = mv_store_load_commit_meta (store, rev, &tree, &meta, error);
  IndexBuild ib = { .store = store, .entries = &entries };

  if (md == NULL)
    return NULL;
  if (!mv_store_walk_tree (store, tree, meta, "", NULL, index_file, NULL, &ib, cancellable, error))
    return NULL;
  return g_variant_ref_sink (
      g_variant_new (MV_CHECKOUT_INDEX_TYPE, MV_CHECKOUT_INDEX_VERSION, &entries));
}

static gboolean
write_index (MvStore *store, const char *digest, const char *rev, GCancellable *cancellable,
             GError **error)
{
  g_autoptr (GVariant) index = mv_store_build_checkout_index (store, rev, cancellable, error);

  if (index == NULL || !mv_checkout_index_write (store->root_dfd, digest, index, error))
    return mv_prefix_error (error, "indexing the checkout of model %s", digest);
  return TRUE;
}

/* Checks the model out into tmp/ (hardlinks or nothing), syncs it and writes its index.
 * Returns: (transfer full): the name in tmp/, or NULL */
static char *
build_checkout (MvStore *store, const char *digest, const char *rev, GCancellable *cancellable,
                GError **error)
{
  g_autofree char *tmpname
      = g_strdup_printf ("checkout-%.12s-%d-%08x", digest_hex (digest), getpid (), g_random_int ());
  OstreeRepoCheckoutAtOptions opts = { 0 };

  opts.mode = OSTREE_REPO_CHECKOUT_MODE_USER;
  opts.overwrite_mode = OSTREE_REPO_CHECKOUT_OVERWRITE_NONE;
  opts.no_copy_fallback = TRUE; /* hardlinks or nothing: a copy would not be shared */
  opts.enable_fsync = FALSE;    /* one syncfs below instead of one fsync per file */
  if (!ostree_repo_checkout_at (store->repo, &opts, store->tmp_dfd, tmpname, rev, cancellable,
                                error))
    {
      (void)mv_rm_rf_at (store->tmp_dfd, tmpname, NULL, NULL);
      mv_prefix_error (error, "checking out model %s", digest);
      return NULL;
    }
  if (syncfs (store->tmp_dfd) < 0)
    {
      mv_throw_errno_prefix (error, "syncing checkout of model %s", digest);
      (void)mv_rm_rf_at (store->tmp_dfd, tmpname, NULL, NULL);
      return NULL;
    }
  /* Before the tree is published: whoever finds the checkout finds its index. */
  if (!write_index (store, digest, rev, cancellable, error))
    {
      (void)mv_rm_rf_at (store->tmp_dfd, tmpname, NULL, NULL);
      return NULL;
    }
  return g_steal_pointer (&tmpname);
}

static char *
model_rev (MvStore *store, const char *digest, GError **error)
{
  g_autofree char *ref = mv_model_ref (digest);
  char *rev = mv_store_resolve_ref (store, ref, error);

  if (rev == NULL && error && *error == NULL)
    mv_throw (error, MV_ERROR_NOT_FOUND, "model %s is not in the store", digest);
  return rev;
}

gboolean
mv_store_checkout_digest (MvStore *store, const char *digest, char **out_path,
                          GCancellable *cancellable, GError **error)
{
  g_auto (MvStoreLock) lock = { 0 };
  const char *hex = digest_hex (digest);
  g_autofree char *path = g_build_filename (store->root, "checkouts", hex, NULL);
  g_autofree char *rev = NULL;
  g_autofree char *tmpname = NULL;
  struct stat st;

  if (!mv_store_lock_acquire (store, FALSE, &lock, cancellable, error))
    return FALSE;
  rev = model_rev (store, digest, error);
  if (rev == NULL)
    return FALSE;
  if (fstatat (store->checkouts_dfd, hex, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR (st.st_mode))
    {
      /* Made by a modelvol without checkout indexes: index it as it is now. */
      if (!mv_checkout_index_exists (store->root_dfd, digest)
          && !write_index (store, digest, rev, cancellable, error))
        return FALSE;
      *out_path = g_steal_pointer (&path);
      return TRUE;
    }

  tmpname = build_checkout (store, digest, rev, cancellable, error);
  if (tmpname == NULL)
    return FALSE;
  if (renameat (store->tmp_dfd, tmpname, store->checkouts_dfd, hex) < 0)
    {
      int errsv = errno;
      (void)mv_rm_rf_at (store->tmp_dfd, tmpname, NULL, NULL);
      if (errsv != EEXIST && errsv != ENOTEMPTY) /* else another process won the race */
        {
          errno = errsv;
          return mv_throw_errno_prefix (error, "publishing checkout of model %s", digest);
        }
    }
  *out_path = g_steal_pointer (&path);
  return TRUE;
}

gboolean
mv_store_replace_checkout (MvStore *store, const char *digest, GCancellable *cancellable,
                           GError **error)
{
  g_auto (MvStoreLock) lock = { 0 };
  const char *hex = digest_hex (digest);
  g_autofree char *rev = NULL;
  g_autofree char *tmpname = NULL;
  g_autofree char *retired = g_strdup_printf ("%s-%d-%08x", hex, getpid (), g_random_int ());
  mv_autofd int retired_dfd = -1;

  if (!mv_store_lock_acquire (store, FALSE, &lock, cancellable, error))
    return FALSE;
  rev = model_rev (store, digest, error);
  if (rev == NULL)
    return FALSE;
  if (!mv_ensure_dirat (store->root_dfd, MV_RETIRED_DIR, 0700, error))
    return FALSE;
  retired_dfd = mv_opendirat (store->root_dfd, MV_RETIRED_DIR, FALSE, error);
  if (retired_dfd < 0)
    return FALSE;
  tmpname = build_checkout (store, digest, rev, cancellable, error);
  if (tmpname == NULL)
    return FALSE;
  /* One atomic swap: a mount that resolves checkouts/<hex> finds the old tree or the new one,
   * never nothing. Containers that mounted the old tree keep it (a mount holds the directory,
   * not the name); it waits in retired/ until prune finds the model unused. */
  if (renameat2 (store->tmp_dfd, tmpname, store->checkouts_dfd, hex, RENAME_EXCHANGE) == 0)
    {
      if (renameat (store->tmp_dfd, tmpname, retired_dfd, retired) < 0)
        return mv_throw_errno_prefix (error, "retiring the old checkout of model %s", digest);
      g_debug ("model %s: new checkout; the old one is retired/%s", digest, retired);
      return TRUE;
    }
  if (errno == EINVAL || errno == ENOSYS)
    {
      /* A filesystem without RENAME_EXCHANGE: move the old tree away first. */
      if (renameat (store->checkouts_dfd, hex, retired_dfd, retired) < 0 && errno != ENOENT)
        {
          mv_throw_errno_prefix (error, "retiring the old checkout of model %s", digest);
          (void)mv_rm_rf_at (store->tmp_dfd, tmpname, NULL, NULL);
          return FALSE;
        }
    }
  else if (errno != ENOENT)
    {
      mv_throw_errno_prefix (error, "replacing the checkout of model %s", digest);
      (void)mv_rm_rf_at (store->tmp_dfd, tmpname, NULL, NULL);
      return FALSE;
    }
  if (renameat (store->tmp_dfd, tmpname, store->checkouts_dfd, hex) < 0)
    {
      int errsv = errno;
      (void)mv_rm_rf_at (store->tmp_dfd, tmpname, NULL, NULL);
      /* Another process put a checkout there meanwhile: made of the same, repaired objects. */
      if (errsv != EEXIST && errsv != ENOTEMPTY)
        {
          errno = errsv;
          return mv_throw_errno_prefix (error, "publishing checkout of model %s", digest);
        }
    }
  return TRUE;
}

gboolean
mv_store_checkout_intact (MvStore *store, const char *digest, const char *name, char **out_path,
                          GCancellable *cancellable, GError **error)
{
  g_autofree char *path = NULL;

  if (!mv_model_check_intact (store->root, digest, name, NULL, error)
      || !mv_store_checkout_digest (store, digest, &path, cancellable, error)
      || !mv_model_check_intact (store->root, digest, name, path, error))
    return FALSE;
  *out_path = g_steal_pointer (&path);
  return TRUE;
}
