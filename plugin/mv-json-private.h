/* mv-json: strict JSON from outside, then json-glib's tree.
 * SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "mv-error-private.h"

#define MV_JSON_DEPTH_LIMIT 64 /* the deepest any caller may ask for */
#define MV_JSON_MAX_DEPTH 32   /* registry documents: manifests, configs, tokens */

typedef struct
{
  const char *what;   /* the document, for messages ("manifest", "the OCI state") */
  gsize max_size;     /* checked before anything is parsed */
  JsonNodeType type;  /* of the top-level value: JSON_NODE_OBJECT or JSON_NODE_ARRAY */
  MvError code;       /* of every refusal but the size cap (MV_ERROR_LIMIT_EXCEEDED) */
  guint max_depth;    /* nesting of arrays and objects; 0 means MV_JSON_DEPTH_LIMIT */
  gboolean wide_ints; /* let integers beyond gint64 pass: for documents whose numbers are
                       * never read (an OCI config.json holds uint64 rlimits) */
} MvJsonRules;

/**
 * mv_json_parse:
 * @data: (array length=len): a JSON document from outside
 * @len: its length in bytes
 *
 * Parses strict RFC 8259 JSON. json-glib 1.6 alone accepts comments, single quotes, hex
 * numbers and trailing values, wraps integers that overflow 64 bits, cuts strings at
 * "\u0000", keeps the last of duplicate keys and recurses without bound; this checks the
 * bytes first, without recursion, and refuses all of that, raw control characters in
 * strings, invalid UTF-8, and nesting deeper than @rules->max_depth.
 * Returns: (transfer full) (nullable): the root node, of @rules->type, or NULL with an error
 */
JsonNode *mv_json_parse (const char *data, gsize len, const MvJsonRules *rules, GError **error);

/** mv_json_get_object: (transfer none) (nullable): member @member of @o (nullable) if an object */
JsonObject *mv_json_get_object (JsonObject *o, const char *member);
/** mv_json_get_array: (transfer none) (nullable): member @member of @o (nullable) if an array */
JsonArray *mv_json_get_array (JsonObject *o, const char *member);
/** mv_json_get_string: (transfer none) (nullable): member @member of @o (nullable) if a string */
const char *mv_json_get_string (JsonObject *o, const char *member);

/**
 * mv_json_parse_object:
 * @data: (array length=len): a JSON document from outside
 * @len: its length in bytes
 * @max_size: the size cap, checked before anything is parsed
 * @what: what the document is, for messages ("manifest", "config")
 *
 * mv_json_parse() of an object, integers within gint64, at most MV_JSON_MAX_DEPTH deep.
 * Returns: (transfer full) (nullable): the root node (an object), or NULL with
 *   MV_ERROR_LIMIT_EXCEEDED (above @max_size) or MV_ERROR_INVALID_MANIFEST
 */
JsonNode *mv_json_parse_object (const char *data, gsize len, gsize max_size, const char *what,
                                GError **error);
