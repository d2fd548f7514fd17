/* Unit tests of plugin/mv-manifest: strict JSON, manifests, indexes, descriptors, the
 * ModelPack checks, file paths and modes from annotations.
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <string.h>

#include "mv-error-private.h"
#include "mv-manifest-private.h"
#include "mv-path-private.h"

#define HEX64 "1234567890abcdef1234567890abcdef1234567890abcdef1234567890abcdef"
#define HEX64B "abcdef1234567890abcdef1234567890abcdef1234567890abcdef1234567890"
#define D1 "sha256:" HEX64
#define D2 "sha256:" HEX64B

#define CONFIG_DESC                                                                                \
  "{\"mediaType\":\"application/vnd.cncf.model.config.v1+json\",\"digest\":\"" D1 "\",\"size\":"   \
  "301}"
#define LAYER_DESC                                                                                 \
  "{\"mediaType\":\"application/vnd.cncf.model.weight.v1.raw\",\"digest\":\"" D2                   \
  "\",\"size\":5,\"annotations\":{\"org.cncf.model.filepath\":\"model.bin\"}}"
#define HEAD                                                                                       \
  "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","             \
  "\"artifactType\":\"application/vnd.cncf.model.manifest.v1+json\","
#define GOOD HEAD "\"config\":" CONFIG_DESC ",\"layers\":[" LAYER_DESC "]}"

static char *
data_path (const char *name)
{
  return g_test_build_filename (G_TEST_DIST, "..", "data", "modelpack-spec", "examples", name,
                                NULL);
}

static MvManifest *
parse_ok (const char *json)
{
  g_autoptr (GError) error = NULL;
  MvManifest *m = mv_manifest_parse (json, strlen (json), &error);

  g_assert_no_error (error);
  g_assert_nonnull (m);
  return m;
}

static void
test_spec_example (void)
{
  g_autofree char *path = data_path ("manifest-example.json");
  g_autofree char *contents = NULL;
  gsize len = 0;
  g_autoptr (GError) error = NULL;
  g_autoptr (MvManifest) m = NULL;
  g_autofree char *sniffed = NULL;
  MvDescriptor *d;

  g_assert_true (g_file_get_contents (path, &contents, &len, &error));
  g_assert_no_error (error);
  m = mv_manifest_parse (contents, len, &error);
  g_assert_no_error (error);
  g_assert_cmpint (m->schema_version, ==, 2);
  g_assert_cmpstr (m->media_type, ==, MV_OCI_MANIFEST);
  g_assert_cmpstr (m->artifact_type, ==, "application/vnd.cncf.model.manifest.v1+json");
  g_assert_cmpstr (m->config->media_type, ==, "application/vnd.cncf.model.config.v1+json");
  g_assert_cmpstr (m->config->digest, ==,
                   "sha256:d5815835051dd97d800a03f641ed8162877920e734d3d705b698912602b8c763");
  g_assert_cmpint (m->config->size, ==, 301);
  g_assert_cmpuint (m->layers->len, ==, 4);
  d = m->layers->pdata[1];
  g_assert_cmpstr (d->media_type, ==, "application/vnd.cncf.model.weight.v1.tar");
  g_assert_cmpint (d->size, ==, G_GINT64_CONSTANT (5018536960)); /* above 4 GiB */
  d = m->layers->pdata[2];
  g_assert_cmpstr (d->media_type, ==, "application/vnd.cncf.model.weight.config.v1.tar");
  g_assert_null (d->annotations);
  g_assert_null (m->annotations);
  g_assert_null (m->subject);
  g_assert_cmpint (mv_manifest_get_family (m), ==, MV_FAMILY_CNCF);
  g_assert_true (mv_manifest_check_modelpack (m, &error));
  g_assert_no_error (error);

  sniffed = mv_manifest_sniff_media_type (contents, len);
  g_assert_cmpstr (sniffed, ==, MV_OCI_MANIFEST);
}

static void
test_good_fields (void)
{
  static const char json[]
      = "{\"schemaVersion\":2,"
        "\"artifactType\":\"application/vnd.cnai.model.manifest.v1+json\","
        "\"config\":{\"mediaType\":\"application/vnd.cnai.model.config.v1+json\","
        "\"digest\":\"" D1 "\",\"size\":0},"
        "\"layers\":[{\"mediaType\":\"application/vnd.cnai.model.doc.v1.tar+zstd\","
        "\"digest\":\"sha512:" HEX64 HEX64 "\",\"size\":9223372036854775807,"
        "\"urls\":[\"https://attacker.example/blob\"],"
        "\"artifactType\":\"application/x.test\","
        "\"annotations\":{\"k\":\"v\",\"org.cnai.model.filepath\":\"docs\"},"
        "\"data\":\"e30=\",\"unknownMember\":{\"x\":[1,2,3]}}],"
        "\"annotations\":{\"org.opencontainers.image.created\":\"2025-01-01T00:00:00Z\"},"
        "\"subject\":{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
        "\"digest\":\"" D2 "\",\"size\":7},"
        "\"futureMember\":[null,true,false,1.5e3,-0,\"\\u00e9\\ud83d\\ude00\\n\\/\"]}";
  g_autoptr (MvManifest) m = parse_ok (json);
  MvDescriptor *d = m->layers->pdata[0];
  g_autoptr (GError) error = NULL;

  g_assert_null (m->media_type);
  g_assert_cmpint (mv_manifest_get_family (m), ==, MV_FAMILY_CNAI);
  g_assert_cmpint (m->config->size, ==, 0);
  g_assert_cmpint (d->size, ==, G_MAXINT64);
  g_assert_cmpstr (d->urls[0], ==, "https://attacker.example/blob");
  g_assert_null (d->urls[1]);
  g_assert_cmpstr (d->artifact_type, ==, "application/x.test");
  g_assert_cmpstr (g_hash_table_lookup (d->annotations, "k"), ==, "v");
  g_assert_cmpstr (g_hash_table_lookup (m->annotations, "org.opencontainers.image.created"), ==,
                   "2025-01-01T00:00:00Z");
  g_assert_nonnull (m->subject);
  g_assert_cmpstr (m->subject->digest, ==, D2);
  g_assert_true (mv_manifest_check_modelpack (m, &error));
  g_assert_no_error (error);
}

typedef struct
{
  const char *json;
  int code;
  const char *reason; /* a substring of the message, nullable */
} Bad;

#define L(x) HEAD "\"config\":" CONFIG_DESC ",\"layers\":[" x "]}"
#define C(x) HEAD "\"config\":" x ",\"layers\":[" LAYER_DESC "]}"

static const Bad bad[] = {
  /* Not JSON, or JSON json-glib would take but RFC 8259 does not. */
  { "", MV_ERROR_INVALID_MANIFEST, "empty document" },
  { "   ", MV_ERROR_INVALID_MANIFEST, "empty document" },
  { "{", MV_ERROR_INVALID_MANIFEST, "unexpected end" },
  { "{\"schemaVersion\":2", MV_ERROR_INVALID_MANIFEST, "unexpected end" },
  { "[]", MV_ERROR_INVALID_MANIFEST, "not a JSON object" },
  { "null", MV_ERROR_INVALID_MANIFEST, "not a JSON object" },
  { "\"manifest\"", MV_ERROR_INVALID_MANIFEST, "not a JSON object" },
  { "{/* c */\"schemaVersion\":2}", MV_ERROR_INVALID_MANIFEST, "member name" },
  { GOOD " {}", MV_ERROR_INVALID_MANIFEST, "data after the top-level value" },
  { GOOD "x", MV_ERROR_INVALID_MANIFEST, "data after the top-level value" },
  { "{'schemaVersion':2}", MV_ERROR_INVALID_MANIFEST, "member name" },
  { "{\"schemaVersion\":0x2}", MV_ERROR_INVALID_MANIFEST, NULL },
  { "{\"schemaVersion\":02}", MV_ERROR_INVALID_MANIFEST, NULL },
  { "{\"schemaVersion\":+2}", MV_ERROR_INVALID_MANIFEST, NULL },
  { "{\"schemaVersion\":2.}", MV_ERROR_INVALID_MANIFEST, "bad number" },
  { "{\"schemaVersion\":2,}", MV_ERROR_INVALID_MANIFEST, "member name" },
  { "{\"schemaVersion\":2 \"x\":1}", MV_ERROR_INVALID_MANIFEST, "expected ',' or '}'" },
  { "{\"a\":[1,]}", MV_ERROR_INVALID_MANIFEST, NULL },
  { "{\"a\":[1 2]}", MV_ERROR_INVALID_MANIFEST, "expected ',' or ']'" },
  { "{\"a\" 1}", MV_ERROR_INVALID_MANIFEST, "expected ':'" },
  { "{\"a\":tru}", MV_ERROR_INVALID_MANIFEST, NULL },
  { "{\"a\":True}", MV_ERROR_INVALID_MANIFEST, NULL },
  { "{\"a\":NaN}", MV_ERROR_INVALID_MANIFEST, NULL },
  { "{\"a\":\"x\ty\"}", MV_ERROR_INVALID_MANIFEST, "control character" },
  { "{\"a\":\"x\\u0000y\"}", MV_ERROR_INVALID_MANIFEST, "\\u0000" },
  { "{\"a\":\"\\ud800\"}", MV_ERROR_INVALID_MANIFEST, "surrogate" },
  { "{\"a\":\"\\udc00x\"}", MV_ERROR_INVALID_MANIFEST, "surrogate" },
  { "{\"a\":\"\\x41\"}", MV_ERROR_INVALID_MANIFEST, "bad escape" },
  { "{\"a\":\"\\u12\"}", MV_ERROR_INVALID_MANIFEST, "\\u escape" },
  { "{\"a\":\"\xff\"}", MV_ERROR_INVALID_MANIFEST, "UTF-8" },
  { "{\"a\":\"\xc0\xaf\"}", MV_ERROR_INVALID_MANIFEST, "UTF-8" },
  { "{\"a\":1,\"a\":2}", MV_ERROR_INVALID_MANIFEST, "duplicate member name" },
  { "{\"a\":1,\"\\u0061\":2}", MV_ERROR_INVALID_MANIFEST, "duplicate member name" },
  { "{\"x\":{\"a\":1,\"b\":{},\"a\":3}}", MV_ERROR_INVALID_MANIFEST, "duplicate member name" },
  { "{\"a\":99999999999999999999}", MV_ERROR_INVALID_MANIFEST, "integer out of range" },
  { "{\"a\":9223372036854775808}", MV_ERROR_INVALID_MANIFEST, "integer out of range" },
  { "{\"a\":-9223372036854775809}", MV_ERROR_INVALID_MANIFEST, "integer out of range" },

  /* Manifest structure. */
  { "{}", MV_ERROR_INVALID_MANIFEST, "manifest.schemaVersion: required member is missing" },
  { "{\"schemaVersion\":1}", MV_ERROR_INVALID_MANIFEST, "only 2" },
  { "{\"schemaVersion\":\"2\"}", MV_ERROR_INVALID_MANIFEST, "must be an integer" },
  { "{\"schemaVersion\":2.0}", MV_ERROR_INVALID_MANIFEST, "must be an integer" },
  { "{\"schemaVersion\":null}", MV_ERROR_INVALID_MANIFEST, "must be an integer" },
  { "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\","
    "\"config\":" CONFIG_DESC ",\"layers\":[]}",
    MV_ERROR_INVALID_MANIFEST, "manifest.mediaType" },
  { "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\","
    "\"config\":" CONFIG_DESC ",\"layers\":[]}",
    MV_ERROR_INVALID_MANIFEST, "is not application/vnd.oci.image.manifest.v1+json" },
  { "{\"schemaVersion\":2,\"mediaType\":7,\"config\":" CONFIG_DESC ",\"layers\":[]}",
    MV_ERROR_INVALID_MANIFEST, "manifest.mediaType: must be a string" },
  { "{\"schemaVersion\":2,\"artifactType\":\"x\",\"config\":" CONFIG_DESC ",\"layers\":[]}",
    MV_ERROR_INVALID_MANIFEST, "not a valid media type" },
  { "{\"schemaVersion\":2,\"artifactType\":null,\"config\":" CONFIG_DESC ",\"layers\":[]}",
    MV_ERROR_INVALID_MANIFEST, "manifest.artifactType: must be a string" },
  { "{\"schemaVersion\":2,\"layers\":[]}", MV_ERROR_INVALID_MANIFEST,
    "manifest.config: required member is missing" },
  { "{\"schemaVersion\":2,\"config\":[],\"layers\":[]}", MV_ERROR_INVALID_MANIFEST,
    "manifest.config: must be an object" },
  { "{\"schemaVersion\":2,\"config\":" CONFIG_DESC "}", MV_ERROR_INVALID_MANIFEST,
    "manifest.layers: required member is missing" },
  { "{\"schemaVersion\":2,\"config\":" CONFIG_DESC ",\"layers\":{}}", MV_ERROR_INVALID_MANIFEST,
    "manifest.layers: must be an array" },
  { "{\"schemaVersion\":2,\"config\":" CONFIG_DESC ",\"layers\":null}", MV_ERROR_INVALID_MANIFEST,
    "manifest.layers: must be an array" },
  { L ("\"sha256:" HEX64 "\""), MV_ERROR_INVALID_MANIFEST,
    "manifest.layers[0]: must be an object" },
  { HEAD "\"config\":" CONFIG_DESC ",\"layers\":[],\"annotations\":[]}", MV_ERROR_INVALID_MANIFEST,
    "manifest.annotations: must be an object" },
  { HEAD "\"config\":" CONFIG_DESC ",\"layers\":[],\"annotations\":null}",
    MV_ERROR_INVALID_MANIFEST, "manifest.annotations: must be an object" },
  { HEAD "\"config\":" CONFIG_DESC ",\"layers\":[],\"annotations\":{\"a\":1}}",
    MV_ERROR_INVALID_MANIFEST, "the value of 'a' must be a string" },
  { HEAD "\"config\":" CONFIG_DESC ",\"layers\":[],\"annotations\":{\"\\u001b[2J\":true}}",
    MV_ERROR_INVALID_MANIFEST, "the value of '\\x1b[2J'" },
  { HEAD "\"config\":" CONFIG_DESC ",\"layers\":[],\"subject\":{}}", MV_ERROR_INVALID_MANIFEST,
    "manifest.subject.mediaType: required member is missing" },

  /* Descriptors. */
  { C ("{\"digest\":\"" D1 "\",\"size\":1}"), MV_ERROR_INVALID_MANIFEST,
    "manifest.config.mediaType: required member is missing" },
  { C ("{\"mediaType\":\"application/vnd.cncf.model.config.v1+json\",\"size\":1}"),
    MV_ERROR_INVALID_MANIFEST, "manifest.config.digest: required member is missing" },
  { C ("{\"mediaType\":\"application/vnd.cncf.model.config.v1+json\",\"digest\":\"" D1 "\"}"),
    MV_ERROR_INVALID_MANIFEST, "manifest.config.size: required member is missing" },
  { C ("{\"mediaType\":\"application/vnd.cncf.model.config.v1+json\",\"digest\":\"sha256:../../x"
       "\",\"size\":1}"),
    MV_ERROR_INVALID_MANIFEST, "manifest.config.digest: invalid digest 'sha256:../../x'" },
  { L ("{\"mediaType\":\"application/vnd.cncf.model.weight.v1.tar\",\"digest\":\"sha256:"
       "1234567890ABCDEF1234567890abcdef1234567890abcdef1234567890abcdef\",\"size\":1}"),
    MV_ERROR_INVALID_MANIFEST, "manifest.layers[0].digest: invalid digest" },
  { L (LAYER_DESC ",{\"mediaType\":\"application/vnd.cncf.model.weight.v1.tar\","
                  "\"digest\":\"sha256%2F" HEX64 "\",\"size\":1}"),
    MV_ERROR_INVALID_MANIFEST, "manifest.layers[1].digest" },
  { L ("{\"mediaType\":\"application/vnd.cncf.model.weight.v1.tar\",\"digest\":\"md5:"
       "d41d8cd98f00b204e9800998ecf8427e\",\"size\":1}"),
    MV_ERROR_INVALID_MANIFEST, "invalid digest" },
  { L ("{\"mediaType\":\"application/vnd.cncf.model.weight.v1.tar\",\"digest\":7,\"size\":1}"),
    MV_ERROR_INVALID_MANIFEST, "manifest.layers[0].digest: must be a string" },
  { L ("{\"mediaType\":\"application/vnd.cncf.model.weight.v1.tar\",\"digest\":\"" D2
       "\",\"size\":-1}"),
    MV_ERROR_INVALID_MANIFEST, "manifest.layers[0].size: -1 is negative" },
  { L ("{\"mediaType\":\"application/vnd.cncf.model.weight.v1.tar\",\"digest\":\"" D2
       "\",\"size\":\"5\"}"),
    MV_ERROR_INVALID_MANIFEST, "manifest.layers[0].size: must be an integer" },
  { L ("{\"mediaType\":\"application/vnd.cncf.model.weight.v1.tar\",\"digest\":\"" D2
       "\",\"size\":5.5}"),
    MV_ERROR_INVALID_MANIFEST, "must be an integer" },
  { L ("{\"mediaType\":\"application/vnd.cncf.model.weight.v1.tar\",\"digest\":\"" D2
       "\",\"size\":1e30}"),
    MV_ERROR_INVALID_MANIFEST, "must be an integer" },
  { L ("{\"mediaType\":\"application/vnd.cncf.model.weight.v1.tar\",\"digest\":\"" D2
       "\",\"size\":18446744073709551615}"),
    MV_ERROR_INVALID_MANIFEST, "integer out of range" },
  { L ("{\"mediaType\":\"text/plain\\u001b[31m\",\"digest\":\"" D2 "\",\"size\":1}"),
    MV_ERROR_INVALID_MANIFEST, "'text/plain\\x1b[31m' is not a valid media type" },
  { L ("{\"mediaType\":\"\",\"digest\":\"" D2 "\",\"size\":1}"), MV_ERROR_INVALID_MANIFEST,
    "not a valid media type" },
  { L ("{\"mediaType\":[],\"digest\":\"" D2 "\",\"size\":1}"), MV_ERROR_INVALID_MANIFEST,
    "manifest.layers[0].mediaType: must be a string" },
  { L ("{\"mediaType\":\"application/vnd.cncf.model.weight.v1.tar\",\"digest\":\"" D2
       "\",\"size\":1,\"urls\":\"https://x\"}"),
    MV_ERROR_INVALID_MANIFEST, "manifest.layers[0].urls: must be an array" },
  { L ("{\"mediaType\":\"application/vnd.cncf.model.weight.v1.tar\",\"digest\":\"" D2
       "\",\"size\":1,\"urls\":[1]}"),
    MV_ERROR_INVALID_MANIFEST, "manifest.layers[0].urls[0]: must be a string" },
  { L ("{\"mediaType\":\"application/vnd.cncf.model.weight.v1.tar\",\"digest\":\"" D2
       "\",\"size\":1,\"annotations\":{\"org.cncf.model.filepath\":[\"x\"]}}"),
    MV_ERROR_INVALID_MANIFEST, "manifest.layers[0].annotations" },
  { L ("{\"mediaType\":\"application/vnd.cncf.model.weight.v1.tar\",\"digest\":\"" D2
       "\",\"size\":1,\"annotations\":{\"org.cncf.model.filepath\":null}}"),
    MV_ERROR_INVALID_MANIFEST, "must be a string" },
};

static void
test_bad (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *shown = mv_escape_for_display (bad[i].json, 0);
      MvManifest *m;

      g_test_message ("bad #%" G_GSIZE_FORMAT ": %s", i, shown);
      m = mv_manifest_parse (bad[i].json, strlen (bad[i].json), &error);
      g_assert_null (m);
      g_assert_error (error, MV_ERROR, bad[i].code);
      g_assert_true (g_utf8_validate (error->message, -1, NULL));
      for (const char *p = error->message; *p != '\0'; p++)
        g_assert_cmpint ((guchar)*p, >=, 0x20);
      if (bad[i].reason != NULL && strstr (error->message, bad[i].reason) == NULL)
        g_error ("message '%s' lacks '%s'", error->message, bad[i].reason);
    }
}

static void
test_nul_and_size (void)
{
  g_autoptr (GError) error = NULL;
  static const char with_nul[] = GOOD "\0junk";
  g_autoptr (GString) big = g_string_new (HEAD "\"config\":" CONFIG_DESC ",\"layers\":[],\"x\":\"");

  /* A NUL inside the length is refused, not read up to. */
  g_assert_null (mv_manifest_parse (with_nul, sizeof with_nul - 1, &error));
  g_assert_error (error, MV_ERROR, MV_ERROR_INVALID_MANIFEST);
  g_clear_error (&error);

  /* SECURITY-BAR item 1: 4 MiB plus one byte is refused before parsing. */
  while (big->len < MV_MANIFEST_MAX_SIZE - 2)
    g_string_append_c (big, 'a');
  g_string_append (big, "\"}");
  g_assert_cmpuint (big->len, ==, MV_MANIFEST_MAX_SIZE);
  {
    MvManifest *m = mv_manifest_parse (big->str, big->len, &error);
    g_assert_no_error (error);
    mv_manifest_free (m);
  }
  g_string_insert_c (big, big->len - 2, 'a');
  g_assert_null (mv_manifest_parse (big->str, big->len, &error));
  g_assert_error (error, MV_ERROR, MV_ERROR_LIMIT_EXCEEDED);
  g_assert_nonnull (strstr (error->message, "4194305"));
  g_clear_error (&error);
  g_assert_null (mv_index_parse (big->str, big->len, &error));
  g_assert_error (error, MV_ERROR, MV_ERROR_LIMIT_EXCEEDED);
  g_clear_error (&error);
  g_assert_null (mv_manifest_sniff_media_type (big->str, big->len));
}

/* json-glib 1.6 recurses once per level and would overflow the stack. */
static void
test_deep_nesting (void)
{
  g_autoptr (GError) error = NULL;
  gsize n = 1000000;
  g_autoptr (GString) deep = g_string_new ("{\"a\":");
  g_autoptr (GString) ok = g_string_new (NULL);

  for (gsize i = 0; i < n; i++)
    g_string_append_c (deep, '[');
  for (gsize i = 0; i < n; i++)
    g_string_append_c (deep, ']');
  g_string_append_c (deep, '}');
  g_assert_null (mv_manifest_parse (deep->str, deep->len, &error));
  g_assert_error (error, MV_ERROR, MV_ERROR_INVALID_MANIFEST);
  g_assert_nonnull (strstr (error->message, "nesting too deep"));
  g_clear_error (&error);

  /* MV_JSON_MAX_DEPTH levels in all are fine. */
  g_string_append (ok, HEAD "\"config\":" CONFIG_DESC ",\"layers\":[],\"x\":");
  for (int i = 0; i < MV_JSON_MAX_DEPTH - 1; i++)
    g_string_append_c (ok, '[');
  for (int i = 0; i < MV_JSON_MAX_DEPTH - 1; i++)
    g_string_append_c (ok, ']');
  g_string_append_c (ok, '}');
  {
    MvManifest *m = mv_manifest_parse (ok->str, ok->len, &error);
    g_assert_no_error (error);
    mv_manifest_free (m);
  }
  g_string_insert_c (ok, ok->len - 1, ']');
  g_string_insert_c (ok, ok->len - 1 - MV_JSON_MAX_DEPTH, '[');
  g_assert_null (mv_manifest_parse (ok->str, ok->len, &error));
  g_assert_error (error, MV_ERROR, MV_ERROR_INVALID_MANIFEST);
}

static void
test_layer_cap (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GString) s = g_string_new (HEAD "\"config\":" CONFIG_DESC ",\"layers\":[");

  for (guint i = 0; i < MV_MANIFEST_MAX_LAYERS; i++)
    g_string_append (s, i ? "," LAYER_DESC : LAYER_DESC);
  g_string_append (s, "]}");
  {
    MvManifest *m = mv_manifest_parse (s->str, s->len, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (m->layers->len, ==, MV_MANIFEST_MAX_LAYERS);
    mv_manifest_free (m);
  }
  g_string_truncate (s, s->len - 2);
  g_string_append (s, "," LAYER_DESC "]}");
  g_assert_null (mv_manifest_parse (s->str, s->len, &error));
  g_assert_error (error, MV_ERROR, MV_ERROR_LIMIT_EXCEEDED);
  g_assert_nonnull (strstr (error->message, "manifest.layers"));
}

static void
test_modelpack_checks (void)
{
  g_autoptr (GError) error = NULL;

  {
    /* An ordinary container image. */
    g_autoptr (MvManifest) m = parse_ok (
        "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
        "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"" D1
        "\",\"size\":1},\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\","
        "\"digest\":\"" D2 "\",\"size\":1}]}");
    g_assert_cmpint (mv_manifest_get_family (m), ==, MV_FAMILY_NONE);
    g_assert_false (mv_manifest_check_modelpack (m, &error));
    g_assert_error (error, MV_ERROR, MV_ERROR_NOT_MODELPACK);
    g_assert_nonnull (strstr (error->message, "application/vnd.oci.image.config.v1+json"));
    g_clear_error (&error);
  }
  {
    /* ModelPack by its config alone (no artifactType). */
    g_autoptr (MvManifest) m
        = parse_ok ("{\"schemaVersion\":2,\"config\":" CONFIG_DESC ",\"layers\":[" LAYER_DESC "]}");
    g_assert_cmpint (mv_manifest_get_family (m), ==, MV_FAMILY_CNCF);
    g_assert_true (mv_manifest_check_modelpack (m, &error));
    g_assert_no_error (error);
  }
  {
    /* ModelPack artifactType, but an OCI image layer among the layers. */
    g_autoptr (MvManifest) m
        = parse_ok (L (LAYER_DESC ",{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\","
                                  "\"digest\":\"" D1 "\",\"size\":1}"));
    g_assert_false (mv_manifest_check_modelpack (m, &error));
    g_assert_error (error, MV_ERROR, MV_ERROR_UNSUPPORTED);
    g_assert_nonnull (strstr (error->message, "layer " D1));
    g_assert_nonnull (strstr (error->message, "application/vnd.oci.image.layer.v1.tar"));
    g_clear_error (&error);
  }
  {
    /* A near miss of a layer media type. */
    g_autoptr (MvManifest) m
        = parse_ok (L ("{\"mediaType\":\"application/vnd.cncf.model.weight.v1.tar+gz\","
                       "\"digest\":\"" D1 "\",\"size\":1}"));
    g_assert_false (mv_manifest_check_modelpack (m, &error));
    g_assert_error (error, MV_ERROR, MV_ERROR_UNSUPPORTED);
    g_clear_error (&error);
  }
  {
    /* ModelPack artifactType with a config that is not a ModelPack config. */
    g_autoptr (MvManifest) m = parse_ok (C ("{\"mediaType\":\"application/vnd.oci.empty.v1+json\","
                                            "\"digest\":\"" D1 "\",\"size\":2}"));
    g_assert_cmpint (mv_manifest_get_family (m), ==, MV_FAMILY_CNCF);
    g_assert_false (mv_manifest_check_modelpack (m, &error));
    g_assert_error (error, MV_ERROR, MV_ERROR_UNSUPPORTED);
    g_assert_nonnull (strstr (error->message, "application/vnd.oci.empty.v1+json"));
    g_clear_error (&error);
  }
  {
    /* Mixed families across layers are each one of the 40. */
    g_autoptr (MvManifest) m
        = parse_ok (L (LAYER_DESC ",{\"mediaType\":\"application/vnd.cnai.model.code.v1.tar+gzip\","
                                  "\"digest\":\"" D1 "\",\"size\":1}"));
    g_assert_true (mv_manifest_check_modelpack (m, &error));
    g_assert_no_error (error);
  }
}

static MvDescriptor *
descriptor_with (const char *const *kv)
{
  MvDescriptor *d = g_new0 (MvDescriptor, 1);

  d->media_type = g_strdup ("application/vnd.cncf.model.weight.v1.raw");
  d->digest = g_strdup (D1);
  if (kv != NULL)
    {
      d->annotations = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
      for (; kv[0] != NULL; kv += 2)
        g_hash_table_insert (d->annotations, g_strdup (kv[0]), g_strdup (kv[1]));
    }
  return d;
}

static void
test_filepath (void)
{
  static const char *const all[] = { MV_ANNOT_CNCF_FILEPATH,
                                     "cncf.bin",
                                     MV_ANNOT_CNAI_FILEPATH,
                                     "cnai.bin",
                                     MV_ANNOT_TITLE,
                                     "title.bin",
                                     NULL };
  static const char *const cnai_title[]
      = { MV_ANNOT_CNAI_FILEPATH, "cnai.bin", MV_ANNOT_TITLE, "title.bin", NULL };
  static const char *const title[] = { MV_ANNOT_TITLE, "title.bin", NULL };
  static const char *const empty_cncf[]
      = { MV_ANNOT_CNCF_FILEPATH, "", MV_ANNOT_CNAI_FILEPATH, "cnai.bin", NULL };
  static const char *const other[] = { "org.example.filepath", "x", NULL };
  g_autoptr (MvDescriptor) d_all = descriptor_with (all);
  g_autoptr (MvDescriptor) d_cnai = descriptor_with (cnai_title);
  g_autoptr (MvDescriptor) d_title = descriptor_with (title);
  g_autoptr (MvDescriptor) d_empty = descriptor_with (empty_cncf);
  g_autoptr (MvDescriptor) d_other = descriptor_with (other);
  g_autoptr (MvDescriptor) d_none = descriptor_with (NULL);

  g_assert_cmpstr (mv_descriptor_get_filepath (d_all, TRUE), ==, "cncf.bin");
  g_assert_cmpstr (mv_descriptor_get_filepath (d_all, FALSE), ==, "cncf.bin");
  g_assert_cmpstr (mv_descriptor_get_filepath (d_cnai, TRUE), ==, "cnai.bin");
  g_assert_cmpstr (mv_descriptor_get_filepath (d_cnai, FALSE), ==, "cnai.bin");
  g_assert_cmpstr (mv_descriptor_get_filepath (d_title, TRUE), ==, "title.bin");
  g_assert_null (mv_descriptor_get_filepath (d_title, FALSE));
  /* Present but empty is returned as it is: the path validator refuses it. */
  g_assert_cmpstr (mv_descriptor_get_filepath (d_empty, TRUE), ==, "");
  g_assert_null (mv_descriptor_get_filepath (d_other, TRUE));
  g_assert_null (mv_descriptor_get_filepath (d_none, TRUE));
}

static guint32
mode_of (const char *key, const char *json)
{
  const char *kv[] = { key, json, NULL };
  g_autoptr (MvDescriptor) d = descriptor_with (kv);
  return mv_descriptor_get_file_mode (d);
}

static void
test_file_mode (void)
{
  const char *cncf = MV_ANNOT_CNCF_FILE_METADATA;
  const char *cnai = MV_ANNOT_CNAI_FILE_METADATA;

  /* As modctl writes it. */
  g_assert_cmpuint (mode_of (cncf,
                             "{\"name\":\"model.bin\",\"mode\":420,\"uid\":0,\"gid\":0,"
                             "\"size\":5,\"mtime\":\"2025-01-01T00:00:00Z\",\"typeflag\":48}"),
                    ==, 0644);
  g_assert_cmpuint (mode_of (cncf,
                             "{\"name\":\"run.sh\",\"mode\":493,\"uid\":0,\"gid\":0,"
                             "\"size\":5,\"mtime\":\"2025-01-01T00:00:00Z\",\"typeflag\":48}"),
                    ==, 0755);
  g_assert_cmpuint (mode_of (cnai, "{\"mode\":493}"), ==, 0755);
  g_assert_cmpuint (mode_of (cncf, "{\"mode\":64}"), ==, 0755);    /* 0100: owner exec only */
  g_assert_cmpuint (mode_of (cncf, "{\"mode\":1}"), ==, 0755);     /* 0001 */
  g_assert_cmpuint (mode_of (cncf, "{\"mode\":3565}"), ==, 0755);  /* 06755: setuid dropped */
  g_assert_cmpuint (mode_of (cncf, "{\"mode\":2048}"), ==, 0644);  /* 04000 alone */
  g_assert_cmpuint (mode_of (cncf, "{\"mode\":438}"), ==, 0644);   /* 0666 */
  g_assert_cmpuint (mode_of (cncf, "{\"mode\":33261}"), ==, 0755); /* 0100755 */
  g_assert_cmpuint (mode_of (cncf, "{\"mode\":33188}"), ==, 0644); /* 0100644 */
  /* Absent or malformed: 0644. */
  g_assert_cmpuint (mode_of (cncf, "{\"mode\":\"493\"}"), ==, 0644);
  g_assert_cmpuint (mode_of (cncf, "{\"mode\":493.0}"), ==, 0644);
  g_assert_cmpuint (mode_of (cncf, "{\"mode\":-1}"), ==, 0644);
  g_assert_cmpuint (mode_of (cncf, "{\"mode\":null}"), ==, 0644);
  g_assert_cmpuint (mode_of (cncf, "{\"name\":\"x\"}"), ==, 0644);
  g_assert_cmpuint (mode_of (cncf, "{\"mode\":493,\"mode\":420}"), ==, 0644);
  g_assert_cmpuint (mode_of (cncf, "not json"), ==, 0644);
  g_assert_cmpuint (mode_of (cncf, "[493]"), ==, 0644);
  g_assert_cmpuint (mode_of (cncf, ""), ==, 0644);
  g_assert_cmpuint (mode_of ("org.example.metadata", "{\"mode\":493}"), ==, 0644);
  {
    g_autoptr (MvDescriptor) d = descriptor_with (NULL);
    g_assert_cmpuint (mv_descriptor_get_file_mode (d), ==, 0644);
  }
  {
    /* The cncf one wins over the cnai one. */
    const char *kv[] = { cncf, "{\"mode\":420}", cnai, "{\"mode\":493}", NULL };
    g_autoptr (MvDescriptor) d = descriptor_with (kv);
    g_assert_cmpuint (mv_descriptor_get_file_mode (d), ==, 0644);
  }
}

static void
test_index (void)
{
  g_autoptr (GError) error = NULL;
  static const char oci[]
      = "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\","
        "\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
        "\"digest\":\"" D1 "\",\"size\":100,"
        "\"artifactType\":\"application/vnd.cncf.model.manifest.v1+json\","
        "\"annotations\":{\"org.opencontainers.image.ref.name\":\"v1\"},"
        "\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}}]}";
  static const char docker[]
      = "{\"schemaVersion\":2,"
        "\"mediaType\":\"application/vnd.docker.distribution.manifest.list.v2+json\","
        "\"manifests\":[]}";
  static const char no_media_type[] = "{\"schemaVersion\":2,\"manifests\":[]}";
  g_autoptr (MvIndex) index = mv_index_parse (oci, strlen (oci), &error);
  MvDescriptor *d;
  g_autofree char *sniffed = NULL;

  g_assert_no_error (error);
  g_assert_cmpstr (index->media_type, ==, MV_OCI_INDEX);
  g_assert_cmpuint (index->manifests->len, ==, 1);
  d = index->manifests->pdata[0];
  g_assert_cmpstr (d->artifact_type, ==, "application/vnd.cncf.model.manifest.v1+json");
  g_assert_cmpstr (g_hash_table_lookup (d->annotations, MV_ANNOT_REF_NAME), ==, "v1");
  sniffed = mv_manifest_sniff_media_type (oci, strlen (oci));
  g_assert_cmpstr (sniffed, ==, MV_OCI_INDEX);

  {
    g_autoptr (MvIndex) i2 = mv_index_parse (docker, strlen (docker), &error);
    g_assert_no_error (error);
    g_assert_cmpuint (i2->manifests->len, ==, 0);
  }
  {
    g_autoptr (MvIndex) i3 = mv_index_parse (no_media_type, strlen (no_media_type), &error);
    g_assert_no_error (error);
    g_assert_null (i3->media_type);
    g_assert_null (mv_manifest_sniff_media_type (no_media_type, strlen (no_media_type)));
  }

  {
    static const char *const bad_index[] = {
      "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
      "\"manifests\":[]}",
      "{\"schemaVersion\":2}",
      "{\"schemaVersion\":3,\"manifests\":[]}",
      "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"a/b\",\"digest\":\"sha256:x\","
      "\"size\":1}]}",
      "{\"schemaVersion\":2,\"manifests\":[],\"annotations\":{\"a\":{}}}",
    };
    for (gsize i = 0; i < G_N_ELEMENTS (bad_index); i++)
      {
        g_assert_null (mv_index_parse (bad_index[i], strlen (bad_index[i]), &error));
        g_assert_error (error, MV_ERROR, MV_ERROR_INVALID_MANIFEST);
        g_assert_true (g_str_has_prefix (error->message, "index"));
        g_clear_error (&error);
      }
  }
  {
    g_autoptr (GString) s = g_string_new ("{\"schemaVersion\":2,\"manifests\":[");
    for (guint i = 0; i <= MV_MANIFEST_MAX_LAYERS; i++)
      g_string_append_printf (s, "%s{\"mediaType\":\"a/b\",\"digest\":\"" D1 "\",\"size\":1}",
                              i ? "," : "");
    g_string_append (s, "]}");
    g_assert_null (mv_index_parse (s->str, s->len, &error));
    g_assert_error (error, MV_ERROR, MV_ERROR_LIMIT_EXCEEDED);
  }
}

static void
test_sniff (void)
{
  g_autofree char *a = mv_manifest_sniff_media_type ("{\"mediaType\":\"x/y\"}", 19);
  g_assert_cmpstr (a, ==, "x/y");
  g_assert_null (mv_manifest_sniff_media_type ("{\"mediaType\":1}", 15));
  g_assert_null (mv_manifest_sniff_media_type ("{}", 2));
  g_assert_null (mv_manifest_sniff_media_type ("{", 1));
  g_assert_null (mv_manifest_sniff_media_type ("{\"mediaType\":\"a\",\"mediaType\":\"b\"}", 33));
  g_assert_null (mv_manifest_sniff_media_type ("", 0));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/manifest/spec-example", test_spec_example);
  g_test_add_func ("/manifest/good-fields", test_good_fields);
  g_test_add_func ("/manifest/bad", test_bad);
  g_test_add_func ("/manifest/nul-and-size", test_nul_and_size);
  g_test_add_func ("/manifest/deep-nesting", test_deep_nesting);
  g_test_add_func ("/manifest/layer-cap", test_layer_cap);
  g_test_add_func ("/manifest/modelpack-checks", test_modelpack_checks);
  g_test_add_func ("/manifest/filepath", test_filepath);
  g_test_add_func ("/manifest/file-mode", test_file_mode);
  g_test_add_func ("/manifest/index", test_index);
  g_test_add_func ("/manifest/sniff", test_sniff);
  return g_test_run ();
}
