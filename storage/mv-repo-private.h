/* mv-repo: the store handle, its directories, locks and ref names. Internal to storage/.
 * SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <ostree.h>

#include "mv-error-private.h"
#include "mv-fdio-private.h"
#include "mv-store-private.h"
#include "mv-uses-private.h"

#define MV_REF_LAYER_PREFIX "modelvol/layer"
#define MV_REF_MODEL_PREFIX "modelvol/model"
#define MV_REF_NAME_PREFIX "modelvol/name"
#define MV_REF_SIGNATURE_PREFIX "modelvol/signature"

/* Checkouts a repair replaced while they were in use: <root>/retired/<hex>-<pid>-<random>. */
#define MV_RETIRED_DIR "retired"

/* Commit metadata keys. */
#define MV_META_DIGEST "modelvol.digest"
#define MV_META_MANIFEST "modelvol.manifest"
#define MV_META_CONFIG "modelvol.config"
#define MV_META_ARTIFACT_TYPE "modelvol.artifact-type"
#define MV_META_LAYERS "modelvol.layers"
#define MV_META_FILES "modelvol.files"
#define MV_META_BYTES "modelvol.bytes"
#define MV_META_FORMAT "modelvol.format"
#define MV_META_DIFF_ID "modelvol.diff-id"     /* a layer's uncompressed digest */
#define MV_META_SIGNATURE "modelvol.signature" /* a model's signature verdict (JSON) */

struct MvStore
{
  char *root;
  char *run_dir; /* use records: <run_dir>/uses/<manifest hex>/<user id> */
  int root_dfd;
  int tmp_dfd;
  int checkouts_dfd;
  int objects_dfd; /* repo/objects */
  int lock_fd;
  int lock_depth;
  gboolean lock_exclusive;
  OstreeRepo *repo;       /* the calling thread's */
  GMutex mutex;           /* guards the lock depth and the pool below */
  GPtrArray *repo_pool;   /* more OstreeRepo handles for layer imports in worker threads */
  char *dirmeta_checksum; /* the one canonical directory: uid 0, gid 0, 0755, no xattrs */
  guint64 min_free_bytes; /* libostree's core.min-free-space-*: our object writer keeps it too */
  guint64 space_reserved; /* bytes object writers of this process are about to write (atomic) */
  /* Signature checks of pulls through this store (mv_store_set_signature_options()); NULL
   * and 0: modelvol.conf's [signatures], else the defaults. Read by plugin/mv-signature.c. */
  char *signature_policy;
  char *signature_registries_d;
  int signature_mode; /* 0: from the config; else MvSignatureMode + 1 */
};

/**
 * mv_store_take_repo:
 * An OstreeRepo of its own for one thread's transaction (libostree allows one transaction
 * per OstreeRepo object). Give it back with mv_store_give_repo().
 * Returns: (transfer full) (nullable): a repo handle
 */
OstreeRepo *mv_store_take_repo (MvStore *store, GCancellable *cancellable, GError **error);
void mv_store_give_repo (MvStore *store, OstreeRepo *repo);

/** mv_layer_ref / mv_model_ref: (transfer full): ref names for a validated digest */
char *mv_layer_ref (const char *digest);
char *mv_model_ref (const char *digest);
/** mv_signature_ref: (transfer full): the ref of a model's signature verdict commit */
char *mv_signature_ref (const char *digest);
/** mv_name_ref: (transfer full): the escaped ref for a normalized reference string */
char *mv_name_ref (const char *name);
/** mv_name_from_ref: (transfer full) (nullable): the reverse of mv_name_ref (without prefix) */
char *mv_name_from_ref (const char *escaped);
/** mv_digest_from_ref: (transfer full): "sha256:<hex>" from "<prefix>/sha256/<hex>" */
char *mv_digest_from_ref (const char *ref, const char *prefix);

/** mv_store_resolve_ref: (transfer full) (nullable): commit checksum of @ref, NULL if absent */
char *mv_store_resolve_ref (MvStore *store, const char *ref, GError **error);

/** mv_store_dirmeta: the canonical dirmeta checksum (written on open). */
const char *mv_store_dirmeta (MvStore *store);

/** mv_store_model_in_use: mv_uses_model_in_use() for this store (exclusive lock held) */
#define mv_store_model_in_use(store, digest) mv_uses_model_in_use ((store)->run_dir, (digest))

/** mv_store_load_commit_meta: (transfer full): the metadata a{sv} of a commit */
GVariant *mv_store_load_commit_meta (MvStore *store, const char *commit, char **out_root_tree,
                                     char **out_root_meta, GError **error);

/** mv_store_model_info_new: (transfer full): info for a model commit */
MvModelInfo *mv_store_model_info_load (MvStore *store, const char *digest, const char *commit,
                                       GError **error);

/** mv_store_list_names: (transfer full): name -> commit checksum for every name ref */
GHashTable *mv_store_list_names (MvStore *store, GError **error);
/** mv_store_names_of: (transfer full): the names (of mv_store_list_names()) of @commit, sorted */
char **mv_store_names_of (GHashTable *names, const char *commit);
/** mv_store_list_prefix: (transfer full): digest -> commit for refs under a prefix */
GHashTable *mv_store_list_prefix (MvStore *store, const char *prefix, GError **error);

/* Content objects: written by us into repo/objects with checksums of our own (mv-commit). */
typedef struct MvObjectWriter MvObjectWriter;
MvObjectWriter *mv_object_writer_new (MvStore *store, guint32 mode, GError **error);
/* Writes without hashing: the caller feeds the object's checksum (mv-commit). */
gboolean mv_object_writer_write (MvObjectWriter *w, const void *buf, gsize len, GError **error);
void mv_object_writer_free (MvObjectWriter *w);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MvObjectWriter, mv_object_writer_free)

/**
 * mv_store_verify_file_object:
 * Re-hashes a file object (libcrypto) and compares with its name.
 * Returns: TRUE if intact; FALSE with MV_ERROR_CORRUPTED (or an I/O error) otherwise
 */
gboolean mv_store_verify_file_object (MvStore *store, const char *checksum,
                                      GCancellable *cancellable, GError **error);
/** mv_object_path: (transfer full): "xx/yyyy.file" relative to repo/objects */
char *mv_object_path (const char *checksum, const char *ext);

/* Tree walks (mv-gc.c): a callback per file (its path in the tree, its object checksum),
 * and per dirmeta and dirtree object; a MvMetaFunc returns -1 on error, 1 for a damaged object
 * (a damaged dirtree is not descended into), 0 otherwise. */
typedef gboolean (*MvFileFunc) (const char *path, const char *checksum, gpointer user_data,
                                GError **error);
typedef int (*MvMetaFunc) (OstreeObjectType type, const char *checksum, gpointer user_data,
                           GError **error);
gboolean mv_store_walk_tree (MvStore *store, const char *tree, const char *meta, const char *path,
                             GHashTable *seen_trees, MvFileFunc file_cb, MvMetaFunc meta_cb,
                             gpointer user_data, GCancellable *cancellable, GError **error);

/** mv_store_ensure_dirmeta: (re)writes the canonical dirmeta object (open; repair) */
gboolean mv_store_ensure_dirmeta (MvStore *store, GCancellable *cancellable, GError **error);

/**
 * mv_store_build_checkout_index: (transfer full): the checkout index of the model commit @rev
 * (MV_CHECKOUT_INDEX_TYPE): every regular file's path and object with the object's mode,
 * size and mtime
 */
GVariant *mv_store_build_checkout_index (MvStore *store, const char *rev, GCancellable *cancellable,
                                         GError **error);

/**
 * mv_store_replace_checkout:
 * Builds a new checkout of the model beside checkouts/<hex> and swaps it in atomically
 * (RENAME_EXCHANGE); the old tree moves to retired/, where containers that mounted it keep
 * it until prune finds the model unused. Shared lock held.
 */
gboolean mv_store_replace_checkout (MvStore *store, const char *digest, GCancellable *cancellable,
                                    GError **error);

/** mv_strptrcmp: g_ptr_array_sort() comparator for strings */
int mv_strptrcmp (gconstpointer a, gconstpointer b);
