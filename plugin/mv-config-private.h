/* mv-config: the ModelPack model config and our checker for its JSON schema.
 * SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <gio/gio.h>

typedef struct
{
  /* descriptor */
  char *name, *version, *family, *revision, *vendor, *title, *description;
  char *doc_url, *source_url, *created_at;
  char **authors, **licenses, **datasets_url;
  /* config */
  char *architecture, *format, *param_size, *precision, *quantization;
  /* modelfs */
  char *modelfs_type;
  char **diff_ids;
} MvModelConfig;

void mv_model_config_free (MvModelConfig *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MvModelConfig, mv_model_config_free)

/**
 * mv_config_parse:
 * Lenient parse of a ModelPack config: any JSON object (even "{}") parses; fields of the
 * wrong type are left NULL. Bodies above MV_CONFIG_MAX_SIZE are refused before parsing.
 * Returns: (transfer full) (nullable): the config, or NULL with MV_ERROR_INVALID_MANIFEST
 */
MvModelConfig *mv_config_parse (const char *data, gsize len, GError **error);

/**
 * mv_config_validate:
 * Checks a config against the ModelPack config schema (../shared/modelpack-spec
 * config-schema.json, draft 2020-12, formats checked), with our own code.
 * Returns: (transfer full): findings as human-readable strings ("descriptor.version: must be a
 *   string"), empty when the config conforms. Never NULL. Unparsable JSON is one finding.
 */
GPtrArray *mv_config_validate (const char *data, gsize len);
