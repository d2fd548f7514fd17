/* mv-checkout: one shared hardlink checkout per model, built in tmp/ and renamed into place.
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <string.h>
#include <sys/stat.h>

#include "mv-digest-private.h"
#include "mv-path-private.h"
#include "mv-repo-private.h"

static const char *
digest_hex (const char *digest)
{
  const char *colon = strchr (digest, ':');
  return colon ? colon + 1 : digest;
}

char *
mv_store_lookup_name (MvStore *store, const char *name, GError **error)
{
  g_autofree char *ref = mv_name_ref (name);
  g_autofree char *rev = NULL;
  g_autoptr (GVariant) meta = NULL;
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
  meta = mv_store_load_commit_meta (store, rev, NULL, NULL, error);
  if (meta == NULL)
    return NULL;
  if (!g_variant_lookup (meta, MV_META_DIGEST, "&s", &digest))
    {
      mv_throw (error, MV_ERROR_CORRUPTED, "name '%s' points at a commit that is not a model",
                name);
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

gboolean
mv_store_checkout_digest (MvStore *store, const char *digest, char **out_path,
                          GCancellable *cancellable, GError **error)
{
  g_auto (MvStoreLock) lock = { 0 };
  const char *hex = digest_hex (digest);
  g_autofree char *path = g_build_filename (store->root, "checkouts", hex, NULL);
  g_autofree char *ref = mv_model_ref (digest);
  g_autofree char *rev = NULL;
  g_autofree char *tmpname = NULL;
  OstreeRepoCheckoutAtOptions opts = { 0 };
  struct stat st;

  if (!mv_store_lock_acquire (store, FALSE, &lock, cancellable, error))
    return FALSE;
  rev = mv_store_resolve_ref (store, ref, error);
  if (rev == NULL)
    {
      if (error && *error == NULL)
        mv_throw (error, MV_ERROR_NOT_FOUND, "model %s is not in the store", digest);
      return FALSE;
    }
  if (fstatat (store->checkouts_dfd, hex, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR (st.st_mode))
    {
      *out_path = g_steal_pointer (&path);
      return TRUE;
    }

  tmpname = g_strdup_printf ("checkout-%.12s-%d-%08x", hex, getpid (), g_random_int ());
  opts.mode = OSTREE_REPO_CHECKOUT_MODE_USER;
  opts.overwrite_mode = OSTREE_REPO_CHECKOUT_OVERWRITE_NONE;
  opts.no_copy_fallback = TRUE; /* hardlinks or nothing: a copy would not be shared */
  opts.enable_fsync = FALSE;    /* one syncfs below instead of one fsync per file */
  if (!ostree_repo_checkout_at (store->repo, &opts, store->tmp_dfd, tmpname, rev, cancellable,
                                error))
    {
      (void)mv_rm_rf_at (store->tmp_dfd, tmpname, NULL, NULL);
      return mv_prefix_error (error, "checking out model %s", digest);
    }
  if (syncfs (store->tmp_dfd) < 0)
    {
      mv_throw_errno_prefix (error, "syncing checkout of model %s", digest);
      (void)mv_rm_rf_at (store->tmp_dfd, tmpname, NULL, NULL);
      return FALSE;
    }
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
