/* mv-config: the ModelPack model config and our checker for its JSON schema.
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <string.h>

#include "mv-config-private.h"
#include "mv-error-private.h"
#include "mv-manifest-private.h"
#include "mv-path-private.h"

/* ---- lenient parse -------------------------------------------------------------------- */

void
mv_model_config_free (MvModelConfig *config)
{
  if (config == NULL)
    return;
  g_free (config->name);
  g_free (config->version);
  g_free (config->family);
  g_free (config->revision);
  g_free (config->vendor);
  g_free (config->title);
  g_free (config->description);
  g_free (config->doc_url);
  g_free (config->source_url);
  g_free (config->created_at);
  g_strfreev (config->authors);
  g_strfreev (config->licenses);
  g_strfreev (config->datasets_url);
  g_free (config->architecture);
  g_free (config->format);
  g_free (config->param_size);
  g_free (config->precision);
  g_free (config->quantization);
  g_free (config->modelfs_type);
  g_strfreev (config->diff_ids);
  g_free (config);
}

/* NULL unless the member is an array of strings only. */
static char **
strv_member (JsonObject *o, const char *name)
{
  JsonNode *n = o != NULL ? json_object_get_member (o, name) : NULL;
  g_autoptr (GStrvBuilder) b = NULL;
  JsonArray *a;

  if (n == NULL || !JSON_NODE_HOLDS_ARRAY (n))
    return NULL;
  a = json_node_get_array (n);
  b = g_strv_builder_new ();
  for (guint i = 0; i < json_array_get_length (a); i++)
    {
      JsonNode *e = json_array_get_element (a, i);
      if (!JSON_NODE_HOLDS_VALUE (e) || json_node_get_value_type (e) != G_TYPE_STRING)
        return NULL;
      g_strv_builder_add (b, json_node_get_string (e));
    }
  return g_strv_builder_end (b);
}

MvModelConfig *
mv_config_parse (const char *data, gsize len, GError **error)
{
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (MvModelConfig) c = NULL;
  JsonObject *o, *d, *cfg, *fs;

  root = mv_json_parse_object (data, len, MV_CONFIG_MAX_SIZE, "config", error);
  if (root == NULL)
    return NULL;
  o = json_node_get_object (root);
  d = mv_json_get_object (o, "descriptor");
  cfg = mv_json_get_object (o, "config");
  fs = mv_json_get_object (o, "modelfs");

  c = g_new0 (MvModelConfig, 1);
  c->name = g_strdup (mv_json_get_string (d, "name"));
  c->version = g_strdup (mv_json_get_string (d, "version"));
  c->family = g_strdup (mv_json_get_string (d, "family"));
  c->revision = g_strdup (mv_json_get_string (d, "revision"));
  c->vendor = g_strdup (mv_json_get_string (d, "vendor"));
  c->title = g_strdup (mv_json_get_string (d, "title"));
  c->description = g_strdup (mv_json_get_string (d, "description"));
  c->doc_url = g_strdup (mv_json_get_string (d, "docURL"));
  c->source_url = g_strdup (mv_json_get_string (d, "sourceURL"));
  c->created_at = g_strdup (mv_json_get_string (d, "createdAt"));
  c->authors = strv_member (d, "authors");
  c->licenses = strv_member (d, "licenses");
  c->datasets_url = strv_member (d, "datasetsURL");
  c->architecture = g_strdup (mv_json_get_string (cfg, "architecture"));
  c->format = g_strdup (mv_json_get_string (cfg, "format"));
  c->param_size = g_strdup (mv_json_get_string (cfg, "paramSize"));
  c->precision = g_strdup (mv_json_get_string (cfg, "precision"));
  c->quantization = g_strdup (mv_json_get_string (cfg, "quantization"));
  c->modelfs_type = g_strdup (mv_json_get_string (fs, "type"));
  c->diff_ids = strv_member (fs, "diffIds");
  return g_steal_pointer (&c);
}

/* ---- the schema, mirrored ------------------------------------------------------------- */

/* config-schema.json (modelpack/model-spec, draft 2020-12) as data: one SchemaNode per
 * subschema, with only the keywords the schema uses. Keep it in step with the JSON file;
 * tests/unit/test-config.c runs the upstream vectors against it. */

typedef enum
{
  SCHEMA_OBJECT,
  SCHEMA_ARRAY,
  SCHEMA_STRING,
  SCHEMA_BOOLEAN,
} SchemaType;

typedef struct SchemaNode SchemaNode;

typedef struct
{
  const char *name;
  const SchemaNode *schema;
  gboolean required;
} SchemaProperty;

struct SchemaNode
{
  SchemaType type;
  /* object */
  const SchemaProperty *properties; /* terminated by a NULL name */
  gboolean additional_properties;
  /* array */
  const SchemaNode *items;
  guint min_items;
  /* string */
  guint min_length;               /* in code points */
  const char *format;             /* "date-time" */
  const char *pattern;            /* ECMA-262, unanchored unless the pattern anchors */
  const char *const *enum_values; /* NULL-terminated */
};

static const SchemaNode schema_string = { .type = SCHEMA_STRING };
static const SchemaNode schema_boolean = { .type = SCHEMA_BOOLEAN };
static const SchemaNode schema_date_time = { .type = SCHEMA_STRING, .format = "date-time" };
static const SchemaNode schema_string_array = { .type = SCHEMA_ARRAY, .items = &schema_string };

static const char *const modalities[]
    = { "text", "image", "audio", "video", "embedding", "other", NULL };
static const SchemaNode schema_modality = { .type = SCHEMA_STRING, .enum_values = modalities };
static const SchemaNode schema_modality_array = { .type = SCHEMA_ARRAY, .items = &schema_modality };

static const SchemaNode schema_language = { .type = SCHEMA_STRING, .pattern = "^[a-z]{2}$" };
static const SchemaNode schema_language_array = { .type = SCHEMA_ARRAY, .items = &schema_language };

static const SchemaProperty capabilities_properties[] = {
  { "inputTypes", &schema_modality_array, FALSE }, { "outputTypes", &schema_modality_array, FALSE },
  { "knowledgeCutoff", &schema_date_time, FALSE }, { "reasoning", &schema_boolean, FALSE },
  { "toolUsage", &schema_boolean, FALSE },         { "reward", &schema_boolean, FALSE },
  { "languages", &schema_language_array, FALSE },  { NULL },
};
static const SchemaNode schema_capabilities = { .type = SCHEMA_OBJECT,
                                                .properties = capabilities_properties,
                                                .additional_properties = FALSE };

static const SchemaProperty model_config_properties[] = {
  { "architecture", &schema_string, FALSE },
  { "format", &schema_string, FALSE },
  { "paramSize", &schema_string, FALSE },
  { "precision", &schema_string, FALSE },
  { "quantization", &schema_string, FALSE },
  { "capabilities", &schema_capabilities, FALSE },
  { NULL },
};
static const SchemaNode schema_model_config = { .type = SCHEMA_OBJECT,
                                                .properties = model_config_properties,
                                                .additional_properties = FALSE };

static const SchemaNode schema_name = { .type = SCHEMA_STRING, .min_length = 1 };
static const SchemaProperty descriptor_properties[] = {
  { "createdAt", &schema_date_time, FALSE },
  { "authors", &schema_string_array, FALSE },
  { "family", &schema_string, FALSE },
  { "name", &schema_name, FALSE },
  { "docURL", &schema_string, FALSE },
  { "sourceURL", &schema_string, FALSE },
  { "datasetsURL", &schema_string_array, FALSE },
  { "version", &schema_string, FALSE },
  { "revision", &schema_string, FALSE },
  { "vendor", &schema_string, FALSE },
  { "licenses", &schema_string_array, FALSE },
  { "title", &schema_string, FALSE },
  { "description", &schema_string, FALSE },
  { NULL },
};
static const SchemaNode schema_descriptor = { .type = SCHEMA_OBJECT,
                                              .properties = descriptor_properties,
                                              .additional_properties = FALSE };

static const char *const modelfs_types[] = { "layers", NULL };
static const SchemaNode schema_modelfs_type
    = { .type = SCHEMA_STRING, .enum_values = modelfs_types };
static const SchemaNode schema_diff_ids
    = { .type = SCHEMA_ARRAY, .items = &schema_string, .min_items = 1 };
static const SchemaProperty modelfs_properties[] = {
  { "type", &schema_modelfs_type, TRUE },
  { "diffIds", &schema_diff_ids, TRUE },
  { NULL },
};
static const SchemaNode schema_modelfs
    = { .type = SCHEMA_OBJECT, .properties = modelfs_properties, .additional_properties = FALSE };

static const SchemaProperty root_properties[] = {
  { "descriptor", &schema_descriptor, TRUE },
  { "modelfs", &schema_modelfs, TRUE },
  { "config", &schema_model_config, TRUE },
  { NULL },
};
static const SchemaNode schema_root
    = { .type = SCHEMA_OBJECT, .properties = root_properties, .additional_properties = FALSE };

/* ---- formats -------------------------------------------------------------------------- */

static gboolean
digits (const char *s, int n, int *out)
{
  int v = 0;

  for (int i = 0; i < n; i++)
    {
      if (!g_ascii_isdigit (s[i]))
        return FALSE;
      v = v * 10 + (s[i] - '0');
    }
  *out = v;
  return TRUE;
}

static int
days_in_month (int year, int month)
{
  static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
  gboolean leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

  return month == 2 && leap ? 29 : days[month - 1];
}

/* RFC 3339 section 5.6 date-time, as JSON Schema's "date-time" format: "T" and "Z" in either
 * case, a fraction of any length, and second 60 only where it is 23:59 in UTC. */
static gboolean
is_date_time (const char *s)
{
  int year, month, day, hour, minute, second;
  int off_sign = 0, off_hour = 0, off_minute = 0;
  const char *p = s;

  if (strlen (s) < 20)
    return FALSE;
  if (!digits (p, 4, &year) || p[4] != '-' || !digits (p + 5, 2, &month) || p[7] != '-'
      || !digits (p + 8, 2, &day) || (p[10] != 'T' && p[10] != 't') || !digits (p + 11, 2, &hour)
      || p[13] != ':' || !digits (p + 14, 2, &minute) || p[16] != ':'
      || !digits (p + 17, 2, &second))
    return FALSE;
  p += 19;
  if (*p == '.')
    {
      p++;
      if (!g_ascii_isdigit (*p))
        return FALSE;
      while (g_ascii_isdigit (*p))
        p++;
    }
  if (*p == 'Z' || *p == 'z')
    p++;
  else if (*p == '+' || *p == '-')
    {
      off_sign = *p == '+' ? 1 : -1;
      if (!digits (p + 1, 2, &off_hour) || p[3] != ':' || !digits (p + 4, 2, &off_minute))
        return FALSE;
      p += 6;
    }
  else
    return FALSE;
  if (*p != '\0')
    return FALSE;

  if (month < 1 || month > 12 || day < 1 || day > days_in_month (year, month))
    return FALSE;
  if (hour > 23 || minute > 59 || second > 60 || off_hour > 23 || off_minute > 59)
    return FALSE;
  if (second == 60)
    {
      int utc
          = ((hour * 60 + minute - off_sign * (off_hour * 60 + off_minute)) % 1440 + 1440) % 1440;
      if (utc != 23 * 60 + 59)
        return FALSE;
    }
  return TRUE;
}

/* ---- the checker ---------------------------------------------------------------------- */

#define MAX_FINDINGS 100

typedef struct
{
  GPtrArray *findings;
  gboolean truncated;
} Checker;

static void finding (Checker *c, const char *path, const char *fmt, ...) G_GNUC_PRINTF (3, 4);

static void
finding (Checker *c, const char *path, const char *fmt, ...)
{
  va_list ap;
  g_autofree char *msg = NULL;

  if (c->findings->len >= MAX_FINDINGS)
    {
      c->truncated = TRUE;
      return;
    }
  va_start (ap, fmt);
  msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_ptr_array_add (c->findings, g_strdup_printf ("%s: %s", path, msg));
}

static const char *
type_name (SchemaType type)
{
  switch (type)
    {
      case SCHEMA_OBJECT:
        return "an object";
      case SCHEMA_ARRAY:
        return "an array";
      case SCHEMA_STRING:
        return "a string";
      case SCHEMA_BOOLEAN:
        return "a boolean";
      default:
        g_assert_not_reached ();
    }
}

static gboolean
has_type (JsonNode *node, SchemaType type)
{
  switch (type)
    {
      case SCHEMA_OBJECT:
        return JSON_NODE_HOLDS_OBJECT (node);
      case SCHEMA_ARRAY:
        return JSON_NODE_HOLDS_ARRAY (node);
      case SCHEMA_STRING:
        return JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING;
      case SCHEMA_BOOLEAN:
        return JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_BOOLEAN;
      default:
        g_assert_not_reached ();
    }
}

static char *
child_path (const char *parent, const char *name)
{
  g_autofree char *shown = mv_escape_for_display (name, 100);

  if (parent == NULL)
    return g_steal_pointer (&shown);
  return g_strdup_printf ("%s.%s", parent, shown);
}

static void check_node (Checker *c, JsonNode *node, const SchemaNode *schema, const char *path);

static void
check_string (Checker *c, const char *s, const SchemaNode *schema, const char *path)
{
  if (schema->min_length > 0 && g_utf8_strlen (s, -1) < (glong)schema->min_length)
    finding (c, path, "must be at least %u character%s long", schema->min_length,
             schema->min_length == 1 ? "" : "s");
  if (schema->format != NULL && g_str_equal (schema->format, "date-time") && !is_date_time (s))
    {
      g_autofree char *shown = mv_escape_for_display (s, 100);
      finding (c, path, "'%s' is not an RFC 3339 date-time", shown);
    }
  if (schema->pattern != NULL)
    {
      /* DOLLAR_ENDONLY: in ECMA-262, as in JSON Schema, "$" does not match before a final
       * newline. */
      g_autoptr (GRegex) re = g_regex_new (schema->pattern, G_REGEX_DOLLAR_ENDONLY, 0, NULL);
      g_assert (re != NULL);
      if (!g_regex_match (re, s, 0, NULL))
        {
          g_autofree char *shown = mv_escape_for_display (s, 100);
          finding (c, path, "'%s' does not match %s", shown, schema->pattern);
        }
    }
  if (schema->enum_values != NULL && !g_strv_contains (schema->enum_values, s))
    {
      g_autofree char *shown = mv_escape_for_display (s, 100);
      g_autofree char *allowed = g_strjoinv (", ", (char **)schema->enum_values);
      finding (c, path, "'%s' is not one of %s", shown, allowed);
    }
}

static void
check_object (Checker *c, JsonObject *o, const SchemaNode *schema, const char *path)
{
  JsonObjectIter iter;
  const char *name;
  JsonNode *value;

  for (const SchemaProperty *p = schema->properties; p->name != NULL; p++)
    {
      g_autofree char *cp = child_path (path, p->name);
      JsonNode *member = json_object_get_member (o, p->name);
      if (member == NULL)
        {
          if (p->required)
            finding (c, cp, "required property is missing");
          continue;
        }
      check_node (c, member, p->schema, cp);
    }
  if (schema->additional_properties)
    return;
  json_object_iter_init (&iter, o);
  while (json_object_iter_next (&iter, &name, &value))
    {
      gboolean known = FALSE;
      for (const SchemaProperty *p = schema->properties; p->name != NULL && !known; p++)
        known = g_str_equal (p->name, name);
      if (!known)
        {
          g_autofree char *cp = child_path (path, name);
          finding (c, cp, "unknown property (the schema allows no others here)");
        }
    }
}

static void
check_node (Checker *c, JsonNode *node, const SchemaNode *schema, const char *path)
{
  const char *shown_path = path != NULL ? path : "(root)";

  if (!has_type (node, schema->type))
    {
      finding (c, shown_path, "must be %s", type_name (schema->type));
      return;
    }
  switch (schema->type)
    {
      case SCHEMA_OBJECT:
        check_object (c, json_node_get_object (node), schema, path);
        break;
      case SCHEMA_ARRAY:
        {
          JsonArray *a = json_node_get_array (node);
          guint len = json_array_get_length (a);
          if (len < schema->min_items)
            finding (c, shown_path, "must have at least %u item%s", schema->min_items,
                     schema->min_items == 1 ? "" : "s");
          for (guint i = 0; i < len && schema->items != NULL; i++)
            {
              g_autofree char *ip = g_strdup_printf ("%s[%u]", shown_path, i);
              check_node (c, json_array_get_element (a, i), schema->items, ip);
            }
        }
        break;
      case SCHEMA_STRING:
        check_string (c, json_node_get_string (node), schema, shown_path);
        break;
      case SCHEMA_BOOLEAN:
        break;
      default:
        g_assert_not_reached ();
    }
}

GPtrArray *
mv_config_validate (const char *data, gsize len)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) root = NULL;
  Checker c = { g_ptr_array_new_with_free_func (g_free), FALSE };

  root = mv_json_parse_object (data, len, MV_CONFIG_MAX_SIZE, "config", &error);
  if (root == NULL)
    {
      g_ptr_array_add (c.findings, g_strdup_printf ("(root): %s", error->message));
      return c.findings;
    }
  check_node (&c, root, &schema_root, NULL);
  if (c.truncated)
    g_ptr_array_add (c.findings, g_strdup_printf ("(root): more findings not shown (stopped at %d)",
                                                  MAX_FINDINGS));
  return c.findings;
}
