/* mv-manifest: OCI image manifests, indexes and descriptors parsed with json-glib.
 * SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "mv-limits-private.h"

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include "mv-json-private.h"
#include "mv-mediatype-private.h"

/* Size caps applied before any parsing. */
/* Caps from the [limits] of modelvol.conf (storage/mv-limits). */
#define MV_MANIFEST_MAX_SIZE (mv_limits ()->manifest_bytes)
#define MV_CONFIG_MAX_SIZE (mv_limits ()->config_bytes)
#define MV_INDEX_MAX_SIZE (mv_limits ()->manifest_bytes)
#define MV_MANIFEST_MAX_LAYERS (mv_limits ()->layers) /* also an index's manifests */
#define MV_FILE_METADATA_MAX_SIZE (64 * 1024)

typedef struct
{
  char *media_type;        /* required */
  char *digest;            /* required, validated with mv_digest_validate() */
  gint64 size;             /* required, >= 0 */
  char *artifact_type;     /* nullable */
  GHashTable *annotations; /* nullable; string -> string */
  char **urls;             /* nullable; kept only to be ignored: foreign URLs are never fetched */
} MvDescriptor;

typedef struct
{
  int schema_version;      /* must be 2 */
  char *media_type;        /* nullable (optional in OCI), else must be MV_OCI_MANIFEST */
  char *artifact_type;     /* nullable */
  MvDescriptor *config;    /* required */
  GPtrArray *layers;       /* (element-type MvDescriptor) */
  GHashTable *annotations; /* nullable */
  MvDescriptor *subject;   /* nullable */
} MvManifest;

typedef struct
{
  int schema_version;
  char *media_type;
  GPtrArray *manifests; /* (element-type MvDescriptor) */
  GHashTable *annotations;
} MvIndex;

void mv_descriptor_free (MvDescriptor *desc);
void mv_manifest_free (MvManifest *manifest);
void mv_index_free (MvIndex *index);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MvDescriptor, mv_descriptor_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MvManifest, mv_manifest_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MvIndex, mv_index_free)

/**
 * mv_manifest_parse:
 * Parses an OCI image manifest. Rejects bodies above MV_MANIFEST_MAX_SIZE before parsing,
 * non-objects, wrong types, schemaVersion != 2, a mediaType other than the OCI manifest one,
 * invalid digests, negative sizes, more than MV_MANIFEST_MAX_LAYERS layers. JSON is parsed
 * with mv_json_parse_object(). Unknown members are ignored, as OCI requires; JSON null is not
 * accepted for any member. Annotations must map strings to strings.
 * Returns: (transfer full) (nullable): the manifest, or NULL with MV_ERROR_INVALID_MANIFEST,
 *   or MV_ERROR_LIMIT_EXCEEDED when the body or the layer count is above its cap
 */
MvManifest *mv_manifest_parse (const char *data, gsize len, GError **error);

/**
 * mv_index_parse: the same for an OCI image index (or Docker manifest list): mediaType, when
 * present, must be MV_OCI_INDEX or MV_DOCKER_MANIFEST_LIST; at most MV_MANIFEST_MAX_LAYERS
 * entries.
 */
MvIndex *mv_index_parse (const char *data, gsize len, GError **error);

/**
 * mv_manifest_sniff_media_type:
 * Returns: (transfer full) (nullable): the top-level "mediaType" of a JSON document, or NULL
 *   when it has none (callers then try manifest, index by shape: "layers" vs "manifests")
 */
char *mv_manifest_sniff_media_type (const char *data, gsize len);

/**
 * mv_manifest_get_family:
 * ModelPack iff artifactType or config.mediaType is one of the ModelPack types.
 * Returns: the family, or MV_FAMILY_NONE for anything that is not ModelPack
 */
MvFamily mv_manifest_get_family (MvManifest *manifest);

/**
 * mv_manifest_check_modelpack:
 * Structural checks of a ModelPack manifest: it is ModelPack, its config has a ModelPack
 * config media type, and every layer has one of the 40 layer media types. (Path checks
 * happen in the store.)
 * Returns: FALSE with MV_ERROR_NOT_MODELPACK or MV_ERROR_UNSUPPORTED naming the media type
 */
gboolean mv_manifest_check_modelpack (MvManifest *manifest, GError **error);

/**
 * mv_descriptor_get_filepath:
 * The file path of a layer: org.cncf.model.filepath, else org.cnai.model.filepath, else (only
 * for raw layers, as a last resort) org.opencontainers.image.title.
 * Returns: (transfer none) (nullable): the annotation value, unvalidated
 */
const char *mv_descriptor_get_filepath (MvDescriptor *desc, gboolean is_raw);

/**
 * mv_descriptor_get_file_mode:
 * From org.cncf.model.file.metadata+json (else the cnai one): {"mode": N, ...}. Only the exec
 * bit matters: returns 0755 if any exec bit is set, else 0644 (also when absent or malformed).
 */
guint32 mv_descriptor_get_file_mode (MvDescriptor *desc);
