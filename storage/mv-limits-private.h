/* mv-limits: the [limits] of modelvol.conf, read once per process.
 * SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <gio/gio.h>

/* [import] diff-ids: what a layer whose uncompressed digest is not the config's
 * modelfs.diffIds entry for it gets (docs/security.md, modelvol.conf(5)). */
typedef enum
{
  MV_DIFF_IDS_COMPATIBLE, /* refused; the blob's own digest is accepted too (modctl) */
  MV_DIFF_IDS_STRICT,     /* refused unless it is the uncompressed digest; a list required */
  MV_DIFF_IDS_WARN,       /* a warning, the model imports */
} MvDiffIdPolicy;

typedef struct
{
  gsize manifest_bytes;    /* max-manifest-bytes: a manifest or index */
  gsize config_bytes;      /* max-config-bytes: a model config */
  gsize token_bytes;       /* max-token-bytes: a registry token response */
  guint layers;            /* max-layers: layers of a model (and manifests of an index) */
  guint64 entries;         /* max-entries: entries of one tar layer */
  guint64 layer_bytes;     /* max-layer-bytes: bytes one tar layer unpacks to */
  guint64 ratio;           /* max-ratio: unpacked per compressed byte (+1 MiB) */
  guint64 unpacker_memory; /* max-unpacker-memory: the unpacker's address space */
  guint unpack_timeout_s;  /* unpack-timeout: seconds the unpacker may stay silent */
  int path_bytes;          /* max-path-bytes: a path in a layer or annotation (<= 4096) */
  int path_depth;          /* max-path-depth: its levels (<= 256) */
  MvDiffIdPolicy diff_ids; /* [import] diff-ids */
} MvLimits;

/**
 * mv_config_path:
 * The modelvol.conf this process reads: $MODELVOL_CONFIG if set and not empty, else
 * MV_SYSCONFDIR/modelvol/modelvol.conf.
 * @explicit: (out) (optional): TRUE if it came from $MODELVOL_CONFIG
 * Returns: (transfer none): the path
 */
const char *mv_config_path (gboolean *explicit);

/**
 * mv_config_load:
 * Loads modelvol.conf (see mv_config_path()) into @kf. A missing default file is fine and
 * leaves @kf empty; a missing explicit file or a bad one is one error naming the file.
 */
gboolean mv_config_load (GKeyFile *kf, GError **error);

/**
 * mv_limits:
 * The limits: the built-in defaults, lowered or raised by the [limits] section of
 * $MODELVOL_CONFIG, else /etc/modelvol/modelvol.conf (a missing file is fine). Loaded on
 * first use, thread-safe; a bad file leaves the defaults and is reported by
 * mv_limits_check().
 * Returns: (transfer none): the limits
 */
const MvLimits *mv_limits (void);

/** mv_limits_check: FALSE with one error naming the file and key if the [limits] are bad */
gboolean mv_limits_check (GError **error);

/** mv_diff_id_policy_to_string: "compatible", "strict" or "warn" */
const char *mv_diff_id_policy_to_string (MvDiffIdPolicy policy);

/**
 * mv_diff_id_check:
 * @layer_digest: the layer's blob digest
 * @index: the layer's place in the manifest: the entry of modelfs.diffIds that claims @claimed
 * @actual: (nullable): "sha256:<hex>" of the layer's uncompressed stream (for raw and plain
 *   tar layers, the blob digest); NULL when not known (a layer stored before modelvol kept
 *   it): nothing to check
 * @claimed: (nullable): the config's diffId for it; NULL: the config lists none (the list as a
 *   whole is checked by the importer)
 * Compares them under [import] diff-ids: a mismatch is MV_ERROR_DIGEST_MISMATCH naming both
 * digests and the policy, or (warn) a warning and TRUE.
 */
gboolean mv_diff_id_check (const char *layer_digest, guint index, const char *actual,
                           const char *claimed, GError **error);
