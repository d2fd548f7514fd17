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

/* What the store needs to know of a layer: nothing of media types or annotations. */
typedef struct
{
  const char *digest;   /* validated "sha256:<hex>" (or sha512) of the blob */
  gint64 size;          /* blob size from the descriptor */
  MvLayerFormat format;
  const char *filepath; /* raw layers only: where the file goes (validated by the store) */
  guint32 mode;         /* raw layers only: 0644 or 0755 */
} MvLayerSpec;

/**
 * mv_store_has_layer:
 * Returns: TRUE if the layer with this blob digest is already stored (its ref exists)
 */
gboolean mv_store_has_layer (MvStore *store, const char *digest);

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
  const char *digest;        /* manifest digest */
  GBytes *manifest;          /* the manifest bytes, verified against @digest */
  GBytes *config;            /* the config bytes, verified against its descriptor */
  const char *artifact_type; /* for listing */
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
gboolean mv_store_commit_model (MvStore *store, const MvModelSpec *spec,
                                GCancellable *cancellable, GError **error);

/**
 * mv_store_set_name:
 * @name: a normalized reference string ("localhost:5000/org/model:v1")
 * Points the name at the model @digest, replacing what it named before.
 */
gboolean mv_store_set_name (MvStore *store, const char *name, const char *digest,
                            GError **error);

/** mv_store_has_model: TRUE if the model ref for @digest exists */
gboolean mv_store_has_model (MvStore *store, const char *digest);
