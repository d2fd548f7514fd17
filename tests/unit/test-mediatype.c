/* Unit tests of plugin/mv-mediatype: all 40 ModelPack layer media types, artifact and config
 * types of both families, and near misses.
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <string.h>

#include "mv-error-private.h"
#include "mv-mediatype-private.h"

static const struct
{
  const char *name;
  MvFamily family;
} families[] = { { "cncf", MV_FAMILY_CNCF }, { "cnai", MV_FAMILY_CNAI } };

static const struct
{
  const char *name;
  MvLayerKind kind;
} kinds[] = {
  { "weight", MV_LAYER_KIND_WEIGHT },   { "weight.config", MV_LAYER_KIND_WEIGHT_CONFIG },
  { "doc", MV_LAYER_KIND_DOC },         { "code", MV_LAYER_KIND_CODE },
  { "dataset", MV_LAYER_KIND_DATASET },
};

static const struct
{
  const char *name;
  MvLayerFormat format;
} formats[] = {
  { "raw", MV_LAYER_FORMAT_RAW },
  { "tar", MV_LAYER_FORMAT_TAR },
  { "tar+gzip", MV_LAYER_FORMAT_TAR_GZIP },
  { "tar+zstd", MV_LAYER_FORMAT_TAR_ZSTD },
};

/* Each of the 40 names, spelled out here independently of the table. */
static void
test_all_layer_types (void)
{
  guint n = 0;

  for (gsize f = 0; f < G_N_ELEMENTS (families); f++)
    for (gsize k = 0; k < G_N_ELEMENTS (kinds); k++)
      for (gsize t = 0; t < G_N_ELEMENTS (formats); t++)
        {
          g_autofree char *mt = g_strdup_printf ("application/vnd.%s.model.%s.v1.%s",
                                                 families[f].name, kinds[k].name, formats[t].name);
          const MvLayerMediaType *e = mv_mediatype_lookup_layer (mt);

          g_test_message ("%s", mt);
          g_assert_nonnull (e);
          g_assert_cmpstr (e->media_type, ==, mt);
          g_assert_cmpint (e->family, ==, families[f].family);
          g_assert_cmpint (e->kind, ==, kinds[k].kind);
          g_assert_cmpint (e->format, ==, formats[t].format);
          g_assert_cmpstr (mv_family_to_string (e->family), ==, families[f].name);
          g_assert_cmpstr (mv_layer_kind_to_string (e->kind), ==, kinds[k].name);
          g_assert_cmpstr (mv_layer_format_to_string (e->format), ==, formats[t].name);
          n++;
        }
  g_assert_cmpuint (n, ==, 40);
}

static void
test_table (void)
{
  gsize len = 0;
  const MvLayerMediaType *table = mv_mediatype_layer_table (&len);
  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);

  g_assert_cmpuint (len, ==, 40);
  for (gsize i = 0; i < len; i++)
    {
      g_assert_true (g_hash_table_add (seen, (gpointer)table[i].media_type));
      g_assert_true (mv_mediatype_lookup_layer (table[i].media_type) == &table[i]);
    }
}

/* The exact spellings from modelpack/model-spec specs-go/v1/mediatype.go. */
static void
test_spec_spellings (void)
{
  static const char *const spec[] = {
    "application/vnd.cncf.model.weight.v1.raw",
    "application/vnd.cncf.model.weight.v1.tar",
    "application/vnd.cncf.model.weight.v1.tar+gzip",
    "application/vnd.cncf.model.weight.v1.tar+zstd",
    "application/vnd.cncf.model.weight.config.v1.raw",
    "application/vnd.cncf.model.weight.config.v1.tar",
    "application/vnd.cncf.model.weight.config.v1.tar+gzip",
    "application/vnd.cncf.model.weight.config.v1.tar+zstd",
    "application/vnd.cncf.model.doc.v1.raw",
    "application/vnd.cncf.model.doc.v1.tar",
    "application/vnd.cncf.model.doc.v1.tar+gzip",
    "application/vnd.cncf.model.doc.v1.tar+zstd",
    "application/vnd.cncf.model.code.v1.raw",
    "application/vnd.cncf.model.code.v1.tar",
    "application/vnd.cncf.model.code.v1.tar+gzip",
    "application/vnd.cncf.model.code.v1.tar+zstd",
    "application/vnd.cncf.model.dataset.v1.raw",
    "application/vnd.cncf.model.dataset.v1.tar",
    "application/vnd.cncf.model.dataset.v1.tar+gzip",
    "application/vnd.cncf.model.dataset.v1.tar+zstd",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (spec); i++)
    g_assert_nonnull (mv_mediatype_lookup_layer (spec[i]));
  g_assert_cmpstr (MV_ARTIFACT_TYPE_CNCF, ==, "application/vnd.cncf.model.manifest.v1+json");
  g_assert_cmpstr (MV_CONFIG_TYPE_CNCF, ==, "application/vnd.cncf.model.config.v1+json");
}

static void
test_not_layer_types (void)
{
  static const char *const bad[] = {
    "",
    "application/vnd.cncf.model.weight.v1",
    "application/vnd.cncf.model.weight.v1.tar+gz",
    "application/vnd.cncf.model.weight.v1.tgz",
    "application/vnd.cncf.model.weight.v1.TAR",
    "Application/vnd.cncf.model.weight.v1.tar",
    "application/vnd.cncf.model.weight.v1.tar ",
    " application/vnd.cncf.model.weight.v1.tar",
    "application/vnd.cncf.model.weight.v1.raw\n",
    "application/vnd.cncf.model.weight.v1.tar;charset=utf-8",
    "application/vnd.cncf.model.weight.v2.tar",
    "application/vnd.cncf.model.weights.v1.tar",
    "application/vnd.cncf.model.weight.configs.v1.tar",
    "application/vnd.cncf.model.config.v1.tar",
    "application/vnd.cncf.model.weight.v1.tar+bzip2",
    "application/vnd.cncf.model.weight.v1.raw+gzip",
    "application/vnd.cncf.model.config.v1+json",
    "application/vnd.cncf.model.manifest.v1+json",
    "application/vnd.cnab.model.weight.v1.tar",
    "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
    "application/vnd.oci.empty.v1+json",
    "application/octet-stream",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    g_assert_null (mv_mediatype_lookup_layer (bad[i]));
  g_assert_null (mv_mediatype_lookup_layer (NULL));
}

static void
test_artifact_and_config (void)
{
  g_assert_cmpint (mv_mediatype_artifact_family ("application/vnd.cncf.model.manifest.v1+json"), ==,
                   MV_FAMILY_CNCF);
  g_assert_cmpint (mv_mediatype_artifact_family ("application/vnd.cnai.model.manifest.v1+json"), ==,
                   MV_FAMILY_CNAI);
  g_assert_cmpint (mv_mediatype_config_family ("application/vnd.cncf.model.config.v1+json"), ==,
                   MV_FAMILY_CNCF);
  g_assert_cmpint (mv_mediatype_config_family ("application/vnd.cnai.model.config.v1+json"), ==,
                   MV_FAMILY_CNAI);

  /* Crossed, near misses, other artifacts. */
  g_assert_cmpint (mv_mediatype_artifact_family ("application/vnd.cncf.model.config.v1+json"), ==,
                   MV_FAMILY_NONE);
  g_assert_cmpint (mv_mediatype_config_family ("application/vnd.cncf.model.manifest.v1+json"), ==,
                   MV_FAMILY_NONE);
  g_assert_cmpint (mv_mediatype_artifact_family ("application/vnd.cncf.model.manifest.v1+jsonx"),
                   ==, MV_FAMILY_NONE);
  g_assert_cmpint (mv_mediatype_artifact_family ("application/vnd.cncf.model.manifest.v2+json"), ==,
                   MV_FAMILY_NONE);
  g_assert_cmpint (mv_mediatype_artifact_family ("application/vnd.oci.image.manifest.v1+json"), ==,
                   MV_FAMILY_NONE);
  g_assert_cmpint (mv_mediatype_config_family ("application/vnd.oci.image.config.v1+json"), ==,
                   MV_FAMILY_NONE);
  g_assert_cmpint (mv_mediatype_config_family (MV_OCI_EMPTY), ==, MV_FAMILY_NONE);
  g_assert_cmpint (mv_mediatype_artifact_family (""), ==, MV_FAMILY_NONE);
  g_assert_cmpint (mv_mediatype_artifact_family (NULL), ==, MV_FAMILY_NONE);
  g_assert_cmpint (mv_mediatype_config_family (NULL), ==, MV_FAMILY_NONE);

  g_assert_cmpstr (mv_family_to_string (MV_FAMILY_NONE), ==, "none");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/mediatype/layer/all-40", test_all_layer_types);
  g_test_add_func ("/mediatype/layer/table", test_table);
  g_test_add_func ("/mediatype/layer/spec-spellings", test_spec_spellings);
  g_test_add_func ("/mediatype/layer/not-layer-types", test_not_layer_types);
  g_test_add_func ("/mediatype/artifact-and-config", test_artifact_and_config);
  return g_test_run ();
}
