/* mv-mediatype: ModelPack and OCI media types (both the vnd.cncf and legacy vnd.cnai families).
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <string.h>

#include "mv-mediatype-private.h"

/* Spelled as in modelpack/model-spec specs-go/v1/mediatype.go; the cnai family is the same
 * list under the name the spec used before mid-2025. */
#define LAYER_FORMATS(fam, FAM, kind, KIND)                                                        \
  { "application/vnd." fam ".model." kind ".v1.raw", MV_FAMILY_##FAM, MV_LAYER_KIND_##KIND,        \
    MV_LAYER_FORMAT_RAW },                                                                         \
      { "application/vnd." fam ".model." kind ".v1.tar", MV_FAMILY_##FAM, MV_LAYER_KIND_##KIND,    \
        MV_LAYER_FORMAT_TAR },                                                                     \
      { "application/vnd." fam ".model." kind ".v1.tar+gzip", MV_FAMILY_##FAM,                     \
        MV_LAYER_KIND_##KIND, MV_LAYER_FORMAT_TAR_GZIP },                                          \
  {                                                                                                \
    "application/vnd." fam ".model." kind ".v1.tar+zstd", MV_FAMILY_##FAM, MV_LAYER_KIND_##KIND,   \
        MV_LAYER_FORMAT_TAR_ZSTD                                                                   \
  }

#define LAYER_KINDS(fam, FAM)                                                                      \
  LAYER_FORMATS (fam, FAM, "weight", WEIGHT),                                                      \
      LAYER_FORMATS (fam, FAM, "weight.config", WEIGHT_CONFIG),                                    \
      LAYER_FORMATS (fam, FAM, "doc", DOC), LAYER_FORMATS (fam, FAM, "code", CODE),                \
      LAYER_FORMATS (fam, FAM, "dataset", DATASET)

static const MvLayerMediaType layer_types[] = {
  LAYER_KINDS ("cncf", CNCF),
  LAYER_KINDS ("cnai", CNAI),
};

G_STATIC_ASSERT (G_N_ELEMENTS (layer_types) == 40);

const MvLayerMediaType *
mv_mediatype_lookup_layer (const char *media_type)
{
  if (media_type == NULL)
    return NULL;
  for (gsize i = 0; i < G_N_ELEMENTS (layer_types); i++)
    if (strcmp (layer_types[i].media_type, media_type) == 0)
      return &layer_types[i];
  return NULL;
}

const MvLayerMediaType *
mv_mediatype_layer_table (gsize *out_len)
{
  if (out_len != NULL)
    *out_len = G_N_ELEMENTS (layer_types);
  return layer_types;
}

static MvFamily
family_of (const char *media_type, const char *cncf, const char *cnai)
{
  if (media_type == NULL)
    return MV_FAMILY_NONE;
  if (strcmp (media_type, cncf) == 0)
    return MV_FAMILY_CNCF;
  if (strcmp (media_type, cnai) == 0)
    return MV_FAMILY_CNAI;
  return MV_FAMILY_NONE;
}

MvFamily
mv_mediatype_artifact_family (const char *media_type)
{
  return family_of (media_type, MV_ARTIFACT_TYPE_CNCF, MV_ARTIFACT_TYPE_CNAI);
}

MvFamily
mv_mediatype_config_family (const char *media_type)
{
  return family_of (media_type, MV_CONFIG_TYPE_CNCF, MV_CONFIG_TYPE_CNAI);
}

const char *
mv_layer_kind_to_string (MvLayerKind kind)
{
  switch (kind)
    {
      case MV_LAYER_KIND_WEIGHT:
        return "weight";
      case MV_LAYER_KIND_WEIGHT_CONFIG:
        return "weight.config";
      case MV_LAYER_KIND_DOC:
        return "doc";
      case MV_LAYER_KIND_CODE:
        return "code";
      case MV_LAYER_KIND_DATASET:
        return "dataset";
      default:
        return "unknown";
    }
}

const char *
mv_family_to_string (MvFamily family)
{
  switch (family)
    {
      case MV_FAMILY_CNCF:
        return "cncf";
      case MV_FAMILY_CNAI:
        return "cnai";
      case MV_FAMILY_NONE:
      default:
        return "none";
    }
}
