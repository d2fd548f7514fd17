/* Unit tests of plugin/mv-config: the lenient parse and our checker of the ModelPack config
 * schema, against the upstream vectors (tests/data/modelpack-spec, loaded at run time).
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <string.h>

#include "mv-error-private.h"
#include "mv-config-private.h"
#include "mv-manifest-private.h"
#include "mv-path-private.h"

#define MINIMAL_DESCRIPTOR "\"descriptor\":{\"name\":\"m\"}"
#define MINIMAL_CONFIG "\"config\":{}"
#define MINIMAL_FS                                                                                 \
  "\"modelfs\":{\"type\":\"layers\",\"diffIds\":[\"sha256:"                                        \
  "1234567890abcdef1234567890abcdef1234567890abcdef1234567890abcdef\"]}"
#define MINIMAL "{" MINIMAL_DESCRIPTOR "," MINIMAL_CONFIG "," MINIMAL_FS "}"

typedef struct
{
  char *comment;
  char *json;
  gboolean expect_fail;
} Vector;

static GPtrArray *vectors; /* (element-type Vector) */

static void
vector_free (Vector *v)
{
  g_free (v->comment);
  g_free (v->json);
  g_free (v);
}

/* A file of tests/data/modelpack-spec; @second may be NULL. */
static char *
spec_path (const char *first, const char *second)
{
  return g_test_build_filename (G_TEST_DIST, "..", "data", "modelpack-spec", first, second, NULL);
}

static void
load_vectors (void)
{
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "..", "data", "modelpack-spec",
                                                 "test-vectors", "config-vectors.json", NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  JsonObject *root;
  JsonArray *list;

  if (!json_parser_load_from_file (parser, path, &error))
    g_error ("loading %s: %s", path, error->message);
  root = json_node_get_object (json_parser_get_root (parser));
  g_assert_cmpstr (json_object_get_string_member (root, "schema"), ==, "config-schema.json");
  list = json_object_get_array_member (root, "vectors");
  vectors = g_ptr_array_new_with_free_func ((GDestroyNotify)vector_free);
  for (guint i = 0; i < json_array_get_length (list); i++)
    {
      JsonObject *o = json_array_get_object_element (list, i);
      Vector *v = g_new0 (Vector, 1);
      v->comment = g_strdup (json_object_get_string_member (o, "comment"));
      v->json = g_strdup (json_object_get_string_member (o, "config_json"));
      v->expect_fail = json_object_get_boolean_member (o, "expect_fail");
      g_ptr_array_add (vectors, v);
    }
}

static void
log_findings (GPtrArray *findings)
{
  for (guint i = 0; i < findings->len; i++)
    g_test_message ("  finding: %s", (const char *)findings->pdata[i]);
}

static void
test_vector (gconstpointer data)
{
  const Vector *v = data;
  g_autoptr (GPtrArray) findings = mv_config_validate (v->json, strlen (v->json));
  g_autoptr (GError) error = NULL;
  g_autoptr (MvModelConfig) config = NULL;

  g_test_message ("%s", v->comment);
  log_findings (findings);
  if (v->expect_fail)
    g_assert_cmpuint (findings->len, >, 0);
  else
    g_assert_cmpuint (findings->len, ==, 0);

  /* Whatever the schema says, the lenient parse takes every one of them. */
  config = mv_config_parse (v->json, strlen (v->json), &error);
  g_assert_no_error (error);
  g_assert_nonnull (config);
}

static void
test_vector_counts (void)
{
  guint fail = 0;

  g_assert_cmpuint (vectors->len, ==, 27);
  for (guint i = 0; i < vectors->len; i++)
    fail += ((Vector *)vectors->pdata[i])->expect_fail ? 1 : 0;
  g_assert_cmpuint (fail, ==, 24);
}

static void
test_example (void)
{
  g_autofree char *path = spec_path ("examples", "config-example.json");
  g_autofree char *contents = NULL;
  gsize len = 0;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) findings = NULL;
  g_autoptr (MvModelConfig) c = NULL;

  g_assert_true (g_file_get_contents (path, &contents, &len, &error));
  findings = mv_config_validate (contents, len);
  log_findings (findings);
  g_assert_cmpuint (findings->len, ==, 0);

  c = mv_config_parse (contents, len, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (c->name, ==, "xyz-3-8B-Instruct");
  g_assert_cmpstr (c->version, ==, "3.1");
  g_assert_cmpstr (c->family, ==, "xyz3");
  g_assert_cmpstr (c->revision, ==, "1234567890");
  g_assert_cmpstr (c->vendor, ==, "XYZ Corp.");
  g_assert_cmpstr (c->title, ==, "XYZ 3 8B Instruct");
  g_assert_cmpstr (c->description, ==, "xyz is a large language model.");
  g_assert_cmpstr (c->doc_url, ==, "https://www.xyz.com/get-started/");
  g_assert_cmpstr (c->source_url, ==, "https://github.com/xyz/xyz3");
  g_assert_cmpstr (c->created_at, ==, "2025-01-01T00:00:00Z");
  g_assert_cmpstrv (c->authors, ((const char *const[]){ "xyz@xyz.com", NULL }));
  g_assert_cmpstrv (c->licenses, ((const char *const[]){ "Apache-2.0", NULL }));
  g_assert_cmpstrv (c->datasets_url,
                    ((const char *const[]){ "https://www.xyz.com/datasets/", NULL }));
  g_assert_cmpstr (c->architecture, ==, "transformer");
  g_assert_cmpstr (c->format, ==, "pt");
  g_assert_cmpstr (c->param_size, ==, "8b");
  g_assert_cmpstr (c->precision, ==, "float16");
  g_assert_cmpstr (c->quantization, ==, "gptq");
  g_assert_cmpstr (c->modelfs_type, ==, "layers");
  g_assert_cmpuint (g_strv_length (c->diff_ids), ==, 2);
  g_assert_cmpstr (c->diff_ids[1], ==,
                   "sha256:abcdef1234567890abcdef1234567890abcdef1234567890abcdef1234567890");
}

/* The schema is JSON too: check the table in mv-config.c mirrors its property lists. */
static void
collect_properties (JsonObject *schema, const char *def, GString *out)
{
  JsonObject *d
      = def ? json_object_get_object_member (json_object_get_object_member (schema, "$defs"), def)
            : schema;
  JsonObject *props = json_object_get_object_member (d, "properties");
  g_autoptr (GList) names = json_object_get_members (props);

  g_string_append_printf (out, "%s:", def ? def : "(root)");
  for (GList *l = names; l != NULL; l = l->next)
    g_string_append_printf (out, " %s", (const char *)l->data);
  g_assert_false (json_object_get_boolean_member_with_default (d, "additionalProperties", TRUE));
  g_string_append_c (out, '\n');
}

static void
test_schema_shape (void)
{
  g_autofree char *path = spec_path ("config-schema.json", NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (GString) shape = g_string_new (NULL);
  JsonObject *schema;

  g_assert_true (json_parser_load_from_file (parser, path, &error));
  schema = json_node_get_object (json_parser_get_root (parser));
  g_assert_cmpstr (json_object_get_string_member (schema, "$schema"), ==,
                   "https://json-schema.org/draft/2020-12/schema");
  collect_properties (schema, NULL, shape);
  collect_properties (schema, "ModelDescriptor", shape);
  collect_properties (schema, "ModelConfig", shape);
  collect_properties (schema, "ModelFS", shape);
  collect_properties (schema, "ModelCapabilities", shape);
  /* If upstream changes the schema, this fails and mv-config.c's table needs the change. */
  g_assert_cmpstr (shape->str, ==,
                   "(root): descriptor modelfs config\n"
                   "ModelDescriptor: createdAt authors family name docURL sourceURL datasetsURL "
                   "version revision vendor licenses title description\n"
                   "ModelConfig: architecture format paramSize precision quantization "
                   "capabilities\n"
                   "ModelFS: type diffIds\n"
                   "ModelCapabilities: inputTypes outputTypes knowledgeCutoff reasoning toolUsage "
                   "reward languages\n");
}

typedef struct
{
  const char *json;
  const char *finding; /* NULL: must be clean; else a substring of one finding */
} Case;

#define WITH_DESCRIPTOR(x) "{\"descriptor\":" x "," MINIMAL_CONFIG "," MINIMAL_FS "}"
#define WITH_CONFIG(x) "{" MINIMAL_DESCRIPTOR ",\"config\":" x "," MINIMAL_FS "}"
#define WITH_CAPS(x) WITH_CONFIG ("{\"capabilities\":" x "}")
#define WITH_FS(x) "{" MINIMAL_DESCRIPTOR "," MINIMAL_CONFIG ",\"modelfs\":" x "}"
#define CREATED(x) WITH_DESCRIPTOR ("{\"createdAt\":\"" x "\"}")

static const Case cases[] = {
  { MINIMAL, NULL },
  { "{}", "descriptor: required property is missing" },
  { "{}", "config: required property is missing" },
  { "{}", "modelfs: required property is missing" },
  { "[]", "not a JSON object" },
  { "{", "not valid JSON" },
  { "{\"descriptor\":{},\"config\":{},\"modelfs\":{\"type\":\"layers\",\"diffIds\":[\"x\"]}}",
    NULL },
  { "{" MINIMAL_DESCRIPTOR "," MINIMAL_CONFIG "," MINIMAL_FS ",\"extra\":1}",
    "extra: unknown property" },
  { WITH_DESCRIPTOR ("[]"), "descriptor: must be an object" },
  { WITH_DESCRIPTOR ("{\"version\":3.1}"), "descriptor.version: must be a string" },
  { WITH_DESCRIPTOR ("{\"name\":\"\"}"), "descriptor.name: must be at least 1 character long" },
  { WITH_DESCRIPTOR ("{\"name\":\"\xc3\xa9\"}"), NULL },
  { WITH_DESCRIPTOR ("{\"name\":null}"), "descriptor.name: must be a string" },
  { WITH_DESCRIPTOR ("{\"authors\":[\"a\",1]}"), "descriptor.authors[1]: must be a string" },
  { WITH_DESCRIPTOR ("{\"datasetsURL\":[]}"), NULL },
  { WITH_DESCRIPTOR ("{\"docURL\":\"not a uri at all\"}"), NULL }, /* no format in the schema */
  { WITH_DESCRIPTOR ("{\"nickname\":\"x\"}"), "descriptor.nickname: unknown property" },
  { WITH_DESCRIPTOR ("{\"\\u001b[2J\":\"x\"}"), "descriptor.\\x1b[2J: unknown property" },
  { WITH_CONFIG ("{\"capabilities\":{\"embedding\":true}}"),
    "config.capabilities.embedding: unknown property" },
  { WITH_CONFIG ("{\"paramSize\":8}"), "config.paramSize: must be a string" },
  { WITH_CONFIG ("null"), "config: must be an object" },
  { WITH_CAPS ("{\"inputTypes\":[\"text\",\"img\"]}"),
    "config.capabilities.inputTypes[1]: 'img' is not one of text, image, audio, video, "
    "embedding, other" },
  { WITH_CAPS ("{\"inputTypes\":[]}"), NULL },
  { WITH_CAPS ("{\"outputTypes\":[\"Text\"]}"), "is not one of" },
  { WITH_CAPS ("{\"outputTypes\":[null]}"),
    "config.capabilities.outputTypes[0]: must be a string" },
  { WITH_CAPS ("{\"reasoning\":1}"), "config.capabilities.reasoning: must be a boolean" },
  { WITH_CAPS ("{\"reasoning\":false,\"toolUsage\":true,\"reward\":false}"), NULL },
  { WITH_CAPS ("{\"languages\":[\"en\",\"zh\",\"fr\"]}"), NULL },
  { WITH_CAPS ("{\"languages\":[\"EN\"]}"), "does not match ^[a-z]{2}$" },
  { WITH_CAPS ("{\"languages\":[\"e\"]}"), "does not match" },
  { WITH_CAPS ("{\"languages\":[\"eng\"]}"), "does not match" },
  { WITH_CAPS ("{\"languages\":[\"en\\n\"]}"), "does not match" },
  { WITH_CAPS ("{\"languages\":[\"\xc3\xa9n\"]}"), "does not match" },
  { WITH_CAPS ("{\"knowledgeCutoff\":\"2024-05-21T00:00:00Z\"}"), NULL },
  { WITH_CAPS ("{\"knowledgeCutoff\":\"2024-05-21\"}"), "is not an RFC 3339 date-time" },
  { WITH_FS ("{\"type\":\"layers\"}"), "modelfs.diffIds: required property is missing" },
  { WITH_FS ("{\"diffIds\":[\"x\"]}"), "modelfs.type: required property is missing" },
  { WITH_FS ("{\"type\":\"layer\",\"diffIds\":[\"x\"]}"),
    "modelfs.type: 'layer' is not one of layers" },
  { WITH_FS ("{\"type\":\"layers\",\"diffIds\":[]}"),
    "modelfs.diffIds: must have at least 1 item" },
  { WITH_FS ("{\"type\":\"layers\",\"diffIds\":\"x\"}"), "modelfs.diffIds: must be an array" },
  { WITH_FS ("{\"type\":\"layers\",\"diffIds\":[\"x\"],\"size\":1}"),
    "modelfs.size: unknown property" },
  /* RFC 3339 date-time as JSON Schema means it (the JSON-Schema-Test-Suite cases). */
  { CREATED ("2025-01-01T00:00:00Z"), NULL },
  { CREATED ("2025-01-01t00:00:00z"), NULL },
  { CREATED ("2025-01-01T00:00:00.123456789+05:30"), NULL },
  { CREATED ("2025-01-01T23:59:59-23:59"), NULL },
  { CREATED ("2024-02-29T00:00:00Z"), NULL },
  { CREATED ("2000-02-29T00:00:00Z"), NULL },
  { CREATED ("1998-12-31T23:59:60Z"), NULL },
  { CREATED ("1998-12-31T15:59:60.123-08:00"), NULL },
  { CREATED ("1998-12-31T23:58:60Z"), "RFC 3339" },
  { CREATED ("1998-12-31T22:59:60Z"), "RFC 3339" },
  { CREATED ("1998-12-31T23:59:61Z"), "RFC 3339" },
  { CREATED ("2025-02-29T00:00:00Z"), "RFC 3339" },
  { CREATED ("1900-02-29T00:00:00Z"), "RFC 3339" },
  { CREATED ("2025-04-31T00:00:00Z"), "RFC 3339" },
  { CREATED ("2025-13-01T00:00:00Z"), "RFC 3339" },
  { CREATED ("2025-00-01T00:00:00Z"), "RFC 3339" },
  { CREATED ("2025-01-00T00:00:00Z"), "RFC 3339" },
  { CREATED ("2025-01-01T24:00:00Z"), "RFC 3339" },
  { CREATED ("2025-01-01T00:60:00Z"), "RFC 3339" },
  { CREATED ("2025-01-01T00:00:00"), "RFC 3339" },
  { CREATED ("2025-01-01 00:00:00Z"), "RFC 3339" },
  { CREATED ("2025-01-01T00:00:00.Z"), "RFC 3339" },
  { CREATED ("2025-01-01T00:00:00+0100"), "RFC 3339" },
  { CREATED ("2025-01-01T00:00:00+24:00"), "RFC 3339" },
  { CREATED ("2025-01-01T00:00:00+01:60"), "RFC 3339" },
  { CREATED ("2025-01-01T00:00:00Z "), "RFC 3339" },
  { CREATED ("2025-1-01T00:00:00Z"), "RFC 3339" },
  { CREATED ("20250-01-01T00:00:00Z"), "RFC 3339" },
  { CREATED ("2025/01/01T00:00:00Z"), "RFC 3339" },
  { CREATED ("\xd9\xa2"
             "025-01-01T00:00:00Z"),
    "RFC 3339" }, /* non-ASCII digit */
  { CREATED (""), "RFC 3339" },
};

static void
test_cases (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GPtrArray) findings = mv_config_validate (cases[i].json, strlen (cases[i].json));
      g_autofree char *shown = mv_escape_for_display (cases[i].json, 0);
      gboolean found = FALSE;

      g_test_message ("case #%" G_GSIZE_FORMAT ": %s", i, shown);
      log_findings (findings);
      for (guint j = 0; j < findings->len; j++)
        {
          const char *f = findings->pdata[j];
          g_assert_true (g_utf8_validate (f, -1, NULL));
          for (const char *p = f; *p != '\0'; p++)
            g_assert_cmpint ((guchar)*p, >=, 0x20);
          if (cases[i].finding != NULL && strstr (f, cases[i].finding) != NULL)
            found = TRUE;
        }
      if (cases[i].finding == NULL)
        g_assert_cmpuint (findings->len, ==, 0);
      else if (!found)
        g_error ("case #%" G_GSIZE_FORMAT ": no finding has '%s'", i, cases[i].finding);
    }
}

static void
test_findings_capped (void)
{
  g_autoptr (GString) s = g_string_new ("{\"descriptor\":{");
  g_autoptr (GPtrArray) findings = NULL;

  for (int i = 0; i < 5000; i++)
    g_string_append_printf (s, "%s\"unknown%d\":1", i ? "," : "", i);
  g_string_append (s, "}," MINIMAL_CONFIG "," MINIMAL_FS "}");
  findings = mv_config_validate (s->str, s->len);
  g_assert_cmpuint (findings->len, ==, 101);
  g_assert_nonnull (strstr (findings->pdata[100], "more findings not shown"));
}

static void
test_parse_lenient (void)
{
  g_autoptr (GError) error = NULL;

  {
    g_autoptr (MvModelConfig) c = mv_config_parse ("{}", 2, &error);
    g_assert_no_error (error);
    g_assert_null (c->name);
    g_assert_null (c->diff_ids);
  }
  {
    /* Wrong types are left NULL; the rest is kept. */
    static const char json[]
        = "{\"descriptor\":{\"name\":\"n\",\"version\":3.1,\"authors\":[\"a\",1],"
          "\"licenses\":\"MIT\",\"datasetsURL\":[]},"
          "\"config\":[],\"modelfs\":{\"type\":\"layers\",\"diffIds\":[\"d1\",\"d2\"]},"
          "\"extra\":{}}";
    g_autoptr (MvModelConfig) c = mv_config_parse (json, strlen (json), &error);
    g_assert_no_error (error);
    g_assert_cmpstr (c->name, ==, "n");
    g_assert_null (c->version);
    g_assert_null (c->authors);
    g_assert_null (c->licenses);
    g_assert_nonnull (c->datasets_url);
    g_assert_cmpuint (g_strv_length (c->datasets_url), ==, 0);
    g_assert_null (c->architecture);
    g_assert_cmpstr (c->modelfs_type, ==, "layers");
    g_assert_cmpstrv (c->diff_ids, ((const char *const[]){ "d1", "d2", NULL }));
  }
  {
    /* Not an object, not JSON, too big: errors. */
    static const char *const bad[] = { "[]", "\"x\"", "", "{", "{\"a\":1,\"a\":1}" };
    for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
      {
        g_assert_null (mv_config_parse (bad[i], strlen (bad[i]), &error));
        g_assert_error (error, MV_ERROR, MV_ERROR_INVALID_MANIFEST);
        g_clear_error (&error);
      }
  }
  {
    gsize len = MV_CONFIG_MAX_SIZE + 1;
    g_autofree char *big = g_malloc (len);
    g_autoptr (GPtrArray) findings = NULL;
    memset (big, ' ', len);
    big[0] = '{';
    big[len - 1] = '}';
    g_assert_null (mv_config_parse (big, len, &error));
    g_assert_error (error, MV_ERROR, MV_ERROR_LIMIT_EXCEEDED);
    findings = mv_config_validate (big, len);
    g_assert_cmpuint (findings->len, ==, 1);
  }
}

int
main (int argc, char **argv)
{
  int ret;

  g_test_init (&argc, &argv, NULL);
  load_vectors ();
  g_test_add_func ("/config/vectors/count", test_vector_counts);
  for (guint i = 0; i < vectors->len; i++)
    {
      g_autofree char *name = g_strdup_printf ("/config/vectors/%02u", i);
      g_test_add_data_func (name, vectors->pdata[i], test_vector);
    }
  g_test_add_func ("/config/example", test_example);
  g_test_add_func ("/config/schema-shape", test_schema_shape);
  g_test_add_func ("/config/cases", test_cases);
  g_test_add_func ("/config/findings-capped", test_findings_capped);
  g_test_add_func ("/config/parse-lenient", test_parse_lenient);
  ret = g_test_run ();
  g_ptr_array_unref (vectors);
  return ret;
}
