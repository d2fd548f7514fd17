/* mv-integrity: what is known about damage without hashing. No libostree: the hook's light
 * path links this directly.
 *
 * Two records live beside the repository:
 *   <root>/damaged/{model,layer}-<alg>-<hex>   fsck found this model or layer damaged; one
 *                                              problem per line. Removed by fsck once the
 *                                              model checks out, and by the repair.
 *   <root>/checkout-index/<hex>                for each regular file of checkouts/<hex>: its
 *                                              path, object, mode, size and mtime when the
 *                                              checkout was made (MV_CHECKOUT_INDEX_TYPE).
 * A checkout is hardlinks to the repo's objects, so a write, truncation or chmod of an object
 * shows in the checkout's stat; the index lets a mount see it with one fstatat per file and
 * per object, no reads. Damage that keeps size, mode and mtime (bit rot on the medium) is
 * found only by fsck's re-hash.
 * SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <gio/gio.h>

#define MV_DAMAGED_DIR "damaged"
#define MV_CHECKOUT_INDEX_DIR "checkout-index"

/* (version, [(path, object checksum (32 bytes), mode, size, mtime s, mtime ns)]) */
#define MV_CHECKOUT_INDEX_TYPE "(ua(sayutxu))"
#define MV_CHECKOUT_INDEX_VERSION 1

typedef enum
{
  MV_DAMAGE_MODEL,
  MV_DAMAGE_LAYER,
} MvDamageKind;

/** mv_damage_name: (transfer full): "model-<alg>-<hex>" or "layer-<alg>-<hex>" */
char *mv_damage_name (MvDamageKind kind, const char *digest);

/**
 * mv_damage_read:
 * @root_dfd: the store root
 * Returns: (transfer full) (nullable): the first line of the marker of @digest, "" for an
 *   empty or unreadable one, NULL if there is no marker
 */
char *mv_damage_read (int root_dfd, MvDamageKind kind, const char *digest);

/** mv_damage_mark: writes the marker (atomically, replacing), @report one problem a line */
gboolean mv_damage_mark (int root_dfd, MvDamageKind kind, const char *digest, const char *report,
                         GError **error);

/** mv_damage_clear: removes the marker; a missing one is success */
gboolean mv_damage_clear (int root_dfd, MvDamageKind kind, const char *digest, GError **error);

/** mv_damage_list: (transfer full): the digests of every marker of @kind */
GPtrArray *mv_damage_list (int root_dfd, MvDamageKind kind);

/** mv_checkout_index_write: stores @index (MV_CHECKOUT_INDEX_TYPE) for the model @digest */
gboolean mv_checkout_index_write (int root_dfd, const char *digest, GVariant *index,
                                  GError **error);

/** mv_checkout_index_exists: TRUE if the model @digest has a checkout index */
gboolean mv_checkout_index_exists (int root_dfd, const char *digest);

/** mv_checkout_index_remove: removes it; a missing one is success */
gboolean mv_checkout_index_remove (int root_dfd, const char *digest, GError **error);

/**
 * mv_checkout_verify:
 * @checkout_dfd: the checkout directory of @digest
 *
 * The cheap check: every file the index lists is still in the checkout, is the repo's object
 * (same inode) and has the mode, size and mtime it had when the checkout was made. A
 * checkout without an index (made by an older modelvol) passes.
 * Returns: TRUE if so; FALSE with MV_ERROR_CORRUPTED naming the first file that is not
 */
gboolean mv_checkout_verify (int root_dfd, const char *digest, int checkout_dfd, GError **error);

/**
 * mv_model_check_intact:
 * @root: the store root
 * @digest: the model's manifest digest
 * @name: (nullable): what the user called it, for the message
 * @checkout: (nullable): its checkout, if there is one
 *
 * What mounts call: refuses a model fsck marked damaged, or whose checkout fails
 * mv_checkout_verify(), with one line that names the model and says to pull or import it
 * again.
 * Returns: TRUE if neither; FALSE with MV_ERROR_CORRUPTED
 */
gboolean mv_model_check_intact (const char *root, const char *digest, const char *name,
                                const char *checkout, GError **error);
