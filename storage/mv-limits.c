/* mv-limits: the [limits] of modelvol.conf (docs/security.md lists them).
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include "mv-error-private.h"
#include "mv-limits-private.h"
#include "mv-path-private.h"

#define KiB (G_GUINT64_CONSTANT (1024))
#define MiB (1024 * KiB)
#define GiB (1024 * MiB)

static const struct
{
  const char *key;
  gsize offset;
  int size; /* of the field: 4 or 8 */
  guint64 dflt, min, max;
} keys[] = {
#define FIELD(f) G_STRUCT_OFFSET (MvLimits, f), sizeof (((MvLimits *)NULL)->f)
  { "max-manifest-bytes", FIELD (manifest_bytes), 4 * MiB, 1 * KiB, 64 * MiB },
  { "max-config-bytes", FIELD (config_bytes), 4 * MiB, 1 * KiB, 64 * MiB },
  { "max-token-bytes", FIELD (token_bytes), 1 * MiB, 1 * KiB, 16 * MiB },
  { "max-layers", FIELD (layers), 4096, 1, 65536 },
  { "max-entries", FIELD (entries), 1000000, 1, 1000000000 },
  { "max-layer-bytes", FIELD (layer_bytes), 1024 * GiB, 1, G_GUINT64_CONSTANT (1) << 62 },
  { "max-ratio", FIELD (ratio), 1000, 1, 1000000 },
  { "max-unpacker-memory", FIELD (unpacker_memory), 1 * GiB, 64 * MiB, 64 * GiB },
  { "unpack-timeout", FIELD (unpack_timeout_s), 120, 1, 3600 },
  { "max-path-bytes", FIELD (path_bytes), 4096, 64, 4096 },
  { "max-path-depth", FIELD (path_depth), 256, 2, 256 },
#undef FIELD
};

static MvLimits limits;
static GError *load_error;

static const char *const diff_id_policies[] = { "compatible", "strict", "warn" };

const char *
mv_diff_id_policy_to_string (MvDiffIdPolicy policy)
{
  g_assert ((guint)policy < G_N_ELEMENTS (diff_id_policies));
  return diff_id_policies[policy];
}

static void
set_field (gsize offset, int size, guint64 value)
{
  guint8 *p = (guint8 *)&limits + offset;
  if (size == 8)
    *(guint64 *)p = value;
  else
    *(guint32 *)p = (guint32)value;
}

const char *
mv_config_path (gboolean *explicit)
{
  const char *path = g_getenv ("MODELVOL_CONFIG");
  gboolean is_explicit = path != NULL && *path != '\0';
  if (explicit != NULL)
    *explicit = is_explicit;
  return is_explicit ? path : MV_SYSCONFDIR "/modelvol/modelvol.conf";
}

gboolean
mv_config_load (GKeyFile *kf, GError **error)
{
  gboolean explicit;
  const char *path = mv_config_path (&explicit);
  g_autoptr (GError) local_error = NULL;

  if (!g_key_file_load_from_file (kf, path, G_KEY_FILE_NONE, &local_error))
    {
      if (explicit || !g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        return mv_throw (error, MV_ERROR_FAILED, "config '%s': %s", path, local_error->message);
    }
  return TRUE;
}

static void
load (void)
{
  const char *path = mv_config_path (NULL);
  g_autoptr (GKeyFile) kf = g_key_file_new ();

  for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
    set_field (keys[i].offset, keys[i].size, keys[i].dflt);
  limits.diff_ids = MV_DIFF_IDS_COMPATIBLE;
  if (!mv_config_load (kf, &load_error))
    return;
  {
    g_autofree char *v = g_key_file_get_string (kf, "import", "diff-ids", NULL);
    guint i = 0;
    if (v != NULL)
      {
        g_strstrip (v);
        while (i < G_N_ELEMENTS (diff_id_policies) && !g_str_equal (v, diff_id_policies[i]))
          i++;
        if (i == G_N_ELEMENTS (diff_id_policies))
          {
            mv_throw (&load_error, MV_ERROR_FAILED,
                      "config '%s': [import] diff-ids must be compatible, strict or warn", path);
            return;
          }
        limits.diff_ids = (MvDiffIdPolicy)i;
      }
  }
  for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
    {
      g_autofree char *v = g_key_file_get_string (kf, "limits", keys[i].key, NULL);
      guint64 n;
      if (v == NULL)
        continue;
      g_strstrip (v);
      if (!g_ascii_string_to_unsigned (v, 10, keys[i].min, keys[i].max, &n, NULL))
        {
          mv_throw (&load_error, MV_ERROR_FAILED,
                    "config '%s': [limits] %s must be a whole number from %" G_GUINT64_FORMAT
                    " to %" G_GUINT64_FORMAT,
                    path, keys[i].key, keys[i].min, keys[i].max);
          for (guint j = 0; j < G_N_ELEMENTS (keys); j++)
            set_field (keys[j].offset, keys[j].size, keys[j].dflt);
          return;
        }
      set_field (keys[i].offset, keys[i].size, n);
    }
}

const MvLimits *
mv_limits (void)
{
  static gsize once = 0;
  if (g_once_init_enter (&once))
    {
      load ();
      g_once_init_leave (&once, 1);
    }
  return &limits;
}

gboolean
mv_limits_check (GError **error)
{
  (void)mv_limits ();
  if (load_error != NULL)
    {
      g_propagate_error (error, g_error_copy (load_error));
      return FALSE;
    }
  return TRUE;
}

gboolean
mv_diff_id_check (const char *layer_digest, guint index, const char *actual, const char *claimed,
                  GError **error)
{
  MvDiffIdPolicy policy = mv_limits ()->diff_ids;

  if (actual == NULL || claimed == NULL || g_str_equal (actual, claimed))
    return TRUE;
  /* modctl lists each layer's blob digest, compressed or not: the config then names the
   * layer, not its content, which the blob digest covers anyway. */
  if (policy == MV_DIFF_IDS_COMPATIBLE && g_str_equal (claimed, layer_digest))
    return TRUE;
  {
    g_autofree char *shown = mv_escape_for_display (claimed, 80);
    g_autofree char *msg = g_strdup_printf (
        "the layer's uncompressed content is %s, but the config's modelfs.diffIds[%u] is %s "
        "([import] diff-ids=%s)",
        actual, index, shown, mv_diff_id_policy_to_string (policy));
    if (policy == MV_DIFF_IDS_WARN)
      {
        g_warning ("layer %s: %s", layer_digest, msg);
        return TRUE;
      }
    return mv_throw (error, MV_ERROR_DIGEST_MISMATCH, "%s", msg);
  }
}
