/* mv-mediatype: ModelPack and OCI media types (both the vnd.cncf and legacy vnd.cnai families).
 * SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <glib.h>
#include "mv-store-private.h" /* MvLayerFormat */

#define MV_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MV_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MV_DOCKER_MANIFEST_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MV_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MV_OCI_EMPTY "application/vnd.oci.empty.v1+json"

/* ModelPack artifact and config media types, one per family. */
#define MV_ARTIFACT_TYPE_CNCF "application/vnd.cncf.model.manifest.v1+json"
#define MV_ARTIFACT_TYPE_CNAI "application/vnd.cnai.model.manifest.v1+json"
#define MV_CONFIG_TYPE_CNCF "application/vnd.cncf.model.config.v1+json"
#define MV_CONFIG_TYPE_CNAI "application/vnd.cnai.model.config.v1+json"

#define MV_ANNOT_CNCF_FILEPATH "org.cncf.model.filepath"
#define MV_ANNOT_CNAI_FILEPATH "org.cnai.model.filepath"
#define MV_ANNOT_CNCF_FILE_METADATA "org.cncf.model.file.metadata+json"
#define MV_ANNOT_CNAI_FILE_METADATA "org.cnai.model.file.metadata+json"
#define MV_ANNOT_TITLE "org.opencontainers.image.title"
#define MV_ANNOT_REF_NAME "org.opencontainers.image.ref.name"

typedef enum
{
  MV_FAMILY_NONE = 0,
  MV_FAMILY_CNCF, /* application/vnd.cncf.model.* , org.cncf.model.* */
  MV_FAMILY_CNAI, /* application/vnd.cnai.model.* , org.cnai.model.* (legacy, still live) */
} MvFamily;

typedef enum
{
  MV_LAYER_KIND_WEIGHT,
  MV_LAYER_KIND_WEIGHT_CONFIG,
  MV_LAYER_KIND_DOC,
  MV_LAYER_KIND_CODE,
  MV_LAYER_KIND_DATASET,
} MvLayerKind;

typedef struct
{
  const char *media_type;
  MvFamily family;
  MvLayerKind kind;
  MvLayerFormat format;
} MvLayerMediaType;

/**
 * mv_mediatype_lookup_layer:
 * Returns: (nullable) (transfer none): the table entry for one of the 40 ModelPack layer
 *   media types (20 per family: 5 kinds x raw, tar, tar+gzip, tar+zstd), or NULL
 */
const MvLayerMediaType *mv_mediatype_lookup_layer (const char *media_type);

/** mv_mediatype_layer_table: (transfer none): all 40 entries; @out_len set to 40 */
const MvLayerMediaType *mv_mediatype_layer_table (gsize *out_len);

/** mv_mediatype_artifact_family: family of a ModelPack artifactType, or MV_FAMILY_NONE */
MvFamily mv_mediatype_artifact_family (const char *media_type);
/** mv_mediatype_config_family: family of a ModelPack config media type, or MV_FAMILY_NONE */
MvFamily mv_mediatype_config_family (const char *media_type);

const char *mv_layer_kind_to_string (MvLayerKind kind); /* "weight", "weight.config", ... */
const char *mv_family_to_string (MvFamily family);      /* "cncf", "cnai", "none" */
