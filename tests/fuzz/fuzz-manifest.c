/* fuzz-manifest: OCI manifests and indexes from a registry or a layout, through the strict JSON
 * pre-parser (mv_json_parse_object), then what an import reads from them: the family, the
 * ModelPack checks, each layer's file path (through the path validator) and file mode.
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "fuzz-common.h"
#include "mv-manifest-private.h"
#include "mv-path-private.h"

static void
check_descriptor (MvDescriptor *desc)
{
  const MvLayerMediaType *mt = mv_mediatype_lookup_layer (desc->media_type);
  const char *filepath
      = mv_descriptor_get_filepath (desc, mt != NULL && mt->format == MV_LAYER_FORMAT_RAW);
  guint32 mode = mv_descriptor_get_file_mode (desc);

  g_assert (mode == 0644 || mode == 0755);
  if (filepath != NULL)
    {
      g_autofree char *norm = NULL;
      g_autoptr (GError) error = NULL;
      g_autofree char *shown = mv_escape_for_display (filepath, 200);
      g_assert (shown != NULL);
      if (mv_path_normalize (filepath, MV_PATH_NONE, &norm, &error))
        g_assert (*norm != '\0' && *norm != '/');
      else
        g_assert (error != NULL);
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  const char *json = (const char *)data;

  mv_fuzz_init ();
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (MvManifest) m = mv_manifest_parse (json, size, &error);
    g_assert ((m == NULL) == (error != NULL));
    if (m != NULL)
      {
        g_autoptr (GError) mp_error = NULL;
        (void)mv_manifest_get_family (m);
        (void)mv_manifest_check_modelpack (m, &mp_error);
        check_descriptor (m->config);
        for (guint i = 0; i < m->layers->len; i++)
          check_descriptor (m->layers->pdata[i]);
        if (m->subject != NULL)
          check_descriptor (m->subject);
      }
  }
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (MvIndex) index = mv_index_parse (json, size, &error);
    g_assert ((index == NULL) == (error != NULL));
    for (guint i = 0; index != NULL && i < index->manifests->len; i++)
      {
        MvDescriptor *d = index->manifests->pdata[i];
        const char *ref_name
            = d->annotations ? g_hash_table_lookup (d->annotations, MV_ANNOT_REF_NAME) : NULL;
        g_autofree char *shown = mv_escape_for_display (ref_name, 200);
        g_assert (shown != NULL);
        check_descriptor (d);
      }
  }
  {
    g_autofree char *media_type = mv_manifest_sniff_media_type (json, size);
    g_assert (media_type == NULL || g_utf8_validate (media_type, -1, NULL));
  }
  return 0;
}
