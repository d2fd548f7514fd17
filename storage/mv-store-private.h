/* mv-store: the store's internal contract for plugin/ (the importer) and the CLI.
 * Only storage/ includes <ostree.h>; this header does not.
 * SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <gio/gio.h>
#include "modelvol.h"

typedef enum
{
  MV_LAYER_FORMAT_RAW,
  MV_LAYER_FORMAT_TAR,
  MV_LAYER_FORMAT_TAR_GZIP,
  MV_LAYER_FORMAT_TAR_ZSTD,
} MvLayerFormat;

/** mv_layer_format_to_string: "raw", "tar", "tar+gzip" or "tar+zstd" */
const char *mv_layer_format_to_string (MvLayerFormat format);

/* What the store needs to know of a layer: nothing of media types or annotations. */
typedef struct
{
  const char *digest; /* validated "sha256:<hex>" (or sha512) of the blob */
  gint64 size;        /* blob size from the descriptor */
  MvLayerFormat format;
  const char *filepath; /* raw layers only: where the file goes (validated by the store) */
  guint32 mode;         /* raw layers only: 0644 or 0755 */
  /* nullable: the config's modelfs.diffIds entry for this layer (entry diff_id_index),
   * compared with the uncompressed digest before anything is published (mv_diff_id_check) */
  const char *diff_id;
  guint diff_id_index;
  /* nullable: told the bytes of the blob read so far, from the importing thread */
  void (*progress) (guint64 done, gpointer user_data);
  gpointer progress_data;
} MvLayerSpec;

/**
 * mv_store_has_layer:
 * Returns: TRUE if the layer with this blob digest is already stored (its ref exists)
 */
gboolean mv_store_has_layer (MvStore *store, const char *digest);

/**
 * mv_store_layer_diff_id:
 * The digest of a stored layer's uncompressed stream, as its import computed it (the blob
 * digest for raw and plain tar layers).
 * Returns: (transfer full) (nullable): "sha256:<hex>"; NULL if the layer is not stored, or
 *   is a compressed layer stored by a modelvol that did not record it
 */
char *mv_store_layer_diff_id (MvStore *store, const char *digest);

/**
 * mv_store_lock_layer:
 * Takes the per-layer lock (locks/layer-<alg>-<hex>), waiting while another thread or
 * process holds it, honouring @cancellable. Hold it from before the blob is opened until the
 * layer is imported: concurrent pulls of models that share a layer then download it once,
 * and a failed or killed holder simply releases it to the next.
 * Returns: the lock fd (close it to release), or -1 with @error set
 */
int mv_store_lock_layer (MvStore *store, const char *digest, GCancellable *cancellable,
                         GError **error);

/** mv_store_prune_layer_locks: removes lock files no one holds (prune, exclusive lock) */
gboolean mv_store_prune_layer_locks (MvStore *store, GError **error);

/**
 * mv_store_import_layer:
 * @blob: the layer blob, read once, from the start; hashed and counted as it flows
 *
 * Unpacks one layer into a commit of its own and publishes the layer ref
 * modelvol/layer/<alg>/<hex>, all in one ostree transaction, only after the blob's digest and
 * size check out. On any error nothing is published and staging is discarded.
 * Returns: TRUE on success
 */
gboolean mv_store_import_layer (MvStore *store, const MvLayerSpec *spec, GInputStream *blob,
                                GCancellable *cancellable, GError **error);

typedef struct
{
  const char *digest;               /* manifest digest */
  GBytes *manifest;                 /* the manifest bytes, verified against @digest */
  GBytes *config;                   /* the config bytes, verified against its descriptor */
  const char *artifact_type;        /* for listing */
  const char *const *layer_digests; /* in manifest order, all already stored */
  guint n_layers;
} MvModelSpec;

/**
 * mv_store_commit_model:
 * Merges the layer trees in manifest order into one model commit (metadata only, no file
 * I/O) and publishes modelvol/model/<alg>/<hex>. A path present in two layers with different
 * content, or as a file in one and a directory in another, is an error (MV_ERROR_UNSAFE_PATH).
 * Deterministic: the same manifest always gives the same commit.
 */
gboolean mv_store_commit_model (MvStore *store, const MvModelSpec *spec, GCancellable *cancellable,
                                GError **error);

/**
 * mv_store_set_name:
 * @name: a normalized reference string ("localhost:5000/org/model:v1")
 * Points the name at the model @digest, replacing what it named before.
 */
gboolean mv_store_set_name (MvStore *store, const char *name, const char *digest, GError **error);

/**
 * mv_store_set_signature:
 * @digest: a stored model's manifest digest
 * @verdict: the signature verdict (JSON, mv-verdict-private.h), at most 1 MiB
 * Keeps @verdict with the model: a commit of an empty tree whose metadata holds it
 * (MV_META_SIGNATURE), at modelvol/signature/<alg>/<hex>, replacing the verdict of an earlier
 * pull. Model commits stay deterministic (the same manifest, the same commit); rm and prune
 * drop the verdict with its model.
 */
gboolean mv_store_set_signature (MvStore *store, const char *digest, GBytes *verdict,
                                 GCancellable *cancellable, GError **error);

/**
 * mv_store_get_signature:
 * Returns: (transfer full) (nullable): the model's signature verdict, or NULL (no error) when
 *   the model has none: it was imported, or pulled before modelvol kept verdicts
 */
GBytes *mv_store_get_signature (MvStore *store, const char *digest, GError **error);

/** mv_store_has_model: TRUE if the model ref for @digest exists */
gboolean mv_store_has_model (MvStore *store, const char *digest);

/** mv_store_lookup_name: (transfer full) (nullable): the digest a normalized name points at */
char *mv_store_lookup_name (MvStore *store, const char *name, GError **error);

/**
 * mv_store_find_digest:
 * @digest_or_prefix: "sha256:<hex>", "sha256:<prefix>" or "<prefix>" (>= 4 hex digits)
 * Returns: (transfer full) (nullable): the one model digest matching; MV_ERROR_NOT_FOUND or
 *   MV_ERROR_AMBIGUOUS otherwise
 */
char *mv_store_find_digest (MvStore *store, const char *digest_or_prefix, GError **error);

/** mv_store_get_model_by_digest: (transfer full): info of a stored model */
MvModelInfo *mv_store_get_model_by_digest (MvStore *store, const char *digest, GError **error);

/** mv_store_checkout_digest: the shared checkout of a stored model, created if needed */
gboolean mv_store_checkout_digest (MvStore *store, const char *digest, char **out_path,
                                   GCancellable *cancellable, GError **error);

/**
 * mv_store_checkout_intact:
 * @name: (nullable): what the user called the model, for the message
 * mv_store_checkout_digest() for whatever hands a checkout out (mounts, `path`, CDI): a model
 * fsck marked damaged gets none, and an existing checkout is checked against the objects it
 * was made of (stat only), with mv_model_check_intact()'s MV_ERROR_CORRUPTED.
 */
gboolean mv_store_checkout_intact (MvStore *store, const char *digest, const char *name,
                                   char **out_path, GCancellable *cancellable, GError **error);

/** mv_store_remove_name: removes a name (normalized); MV_ERROR_NOT_FOUND if absent */
gboolean mv_store_remove_name (MvStore *store, const char *name, GCancellable *cancellable,
                               GError **error);
/** mv_store_remove_model: removes a model, all its names and (if unused) its checkout */
gboolean mv_store_remove_model (MvStore *store, const char *digest, GCancellable *cancellable,
                                GError **error);

/**
 * mv_store_repair_prepare:
 * @layers: the manifest's layer digests
 * @out_repairing: set to TRUE if the model must be repaired
 *
 * Called before a model is imported. If fsck marked the model or one of its stored layers
 * damaged, or its checkout no longer matches the objects it was made of, re-hashes the
 * model's and its layers' objects, and removes (exclusive lock, briefly) the damaged objects,
 * the refs of the layers that hold them and, if its commit or a tree is damaged, the model
 * ref: the import that follows fetches those layers again, verifies every byte and writes
 * the objects anew. Then call mv_store_repair_finish(). Does nothing for an intact model
 * (a few stat calls).
 */
gboolean mv_store_repair_prepare (MvStore *store, const char *digest, const char *const *layers,
                                  guint n_layers, gboolean *out_repairing,
                                  GCancellable *cancellable, GError **error);

/**
 * mv_store_repair_finish:
 * After the import: replaces the model's checkout (never reused: it holds the damaged
 * objects) and removes the damage markers of the model and its layers.
 */
gboolean mv_store_repair_finish (MvStore *store, const char *digest, const char *const *layers,
                                 guint n_layers, GCancellable *cancellable, GError **error);

/**
 * mv_store_prune_full:
 * mv_store_prune(), and with @keep_unnamed every model is kept: only layers no model lists,
 * objects nothing reaches and orphan checkouts go. The watch service removes the models its
 * policy evicts itself (mv_store_remove_model) and then reclaims their data with this, so
 * the unnamed models it imported from CRI-O's store stay until the policy evicts them.
 */
gboolean mv_store_prune_full (MvStore *store, gboolean dry_run, gboolean keep_unnamed,
                              MvPruneStats *out_stats, GCancellable *cancellable, GError **error);

/** mv_store_get_run_dir: (transfer none): where this store's use records live */
const char *mv_store_get_run_dir (MvStore *store);

/* One model of mv_store_df_models(). Bytes count once per path in the model's tree:
 * logical = shared + unique. */
typedef struct
{
  char *digest;
  char **names;          /* sorted; may be empty */
  guint64 n_files;       /* paths of files (symlinks included) */
  guint64 logical_bytes; /* sizes of its regular files */
  guint64 shared_bytes;  /* of files whose object another model references too */
  guint64 unique_bytes;  /* of files whose object no other model references */
} MvDfModel;

void mv_df_model_free (MvDfModel *m);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MvDfModel, mv_df_model_free)

/**
 * mv_store_df_models:
 * @out_models: (out) (optional) (transfer full) (element-type MvDfModel): the models, largest
 *   (logical) first
 *
 * mv_store_df() and per-model figures, in one pass over the models' trees (each distinct
 * dirtree loaded once) under the shared store lock.
 */
gboolean mv_store_df_models (MvStore *store, MvDfStats *out_stats, GPtrArray **out_models,
                             GCancellable *cancellable, GError **error);

/* A held store lock; released by mv_store_lock_clear(). */
typedef struct
{
  MvStore *store;
} MvStoreLock;

/**
 * mv_store_lock_acquire:
 * Takes the store lock, shared (imports, checkouts: held across a whole import so prune never
 * sees a layer before its model) or exclusive (prune, rm), waiting for other processes while
 * honouring @cancellable. Shared locks nest; an exclusive lock is taken only at depth 0.
 */
gboolean mv_store_lock_acquire (MvStore *store, gboolean exclusive, MvStoreLock *out_lock,
                                GCancellable *cancellable, GError **error);
void mv_store_lock_clear (MvStoreLock *lock);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (MvStoreLock, mv_store_lock_clear)
