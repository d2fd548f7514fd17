/* mv-cdi: a Container Device Interface spec with one device per model name, so runtimes that
 * speak CDI (podman --device, cdi.k8s.io/ annotations through CRI-O) mount models themselves.
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <json-glib/json-glib.h>
#include <string.h>

#include "mv-error-private.h"
#include "mv-fdio-private.h"
#include "mv-path-private.h"
#include "mv-store-private.h"

#define CDI_VERSION "0.5.0"
#define CDI_KIND "modelvol.io/model"
#define CDI_FILE "modelvol.io-model.json"
#define DEFAULT_SPEC_DIR "/var/run/cdi"
#define DEFAULT_MOUNT_DIR "/models"

/* CDI device names are [A-Za-z0-9][A-Za-z0-9_.:-]* ending in an alphanumeric; we also avoid
 * ':' so the name is a plain file name inside the container. */
static char *
device_name (const char *model_name)
{
  GString *s = g_string_new (NULL);

  for (const char *p = model_name; *p; p++)
    g_string_append_c (s, (g_ascii_isalnum (*p) || *p == '.' || *p == '-' || *p == '_') ? *p : '_');
  while (s->len > 0 && !g_ascii_isalnum (s->str[s->len - 1]))
    g_string_truncate (s, s->len - 1);
  while (s->len > 0 && !g_ascii_isalnum (s->str[0]))
    g_string_erase (s, 0, 1);
  if (s->len == 0)
    g_string_append (s, "model");
  return g_string_free (s, FALSE);
}

static int
compare_models (gconstpointer a, gconstpointer b)
{
  const MvModelInfo *ma = *(MvModelInfo *const *)a;
  const MvModelInfo *mb = *(MvModelInfo *const *)b;
  return g_strcmp0 (ma->digest, mb->digest);
}

gboolean
mv_store_write_cdi_spec (MvStore *store, const char *spec_dir, const char *mount_dir,
                         char ***out_devices, GCancellable *cancellable, GError **error)
{
  g_autoptr (GPtrArray) models = NULL;
  g_autoptr (GHashTable) used = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (GPtrArray) devnames = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autofree char *text = NULL;
  g_autofree char *mount_rel = NULL;
  mv_autofd int dfd = -1;

  spec_dir = spec_dir ? spec_dir : DEFAULT_SPEC_DIR;
  mount_dir = mount_dir ? mount_dir : DEFAULT_MOUNT_DIR;
  if (!mv_path_validate_container_dest (mount_dir, &mount_rel, error))
    return mv_prefix_error (error, "mount directory");

  models = mv_store_list_models (store, error);
  if (models == NULL)
    return FALSE;
  g_ptr_array_sort (models, compare_models);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "cdiVersion");
  json_builder_add_string_value (b, CDI_VERSION);
  json_builder_set_member_name (b, "kind");
  json_builder_add_string_value (b, CDI_KIND);
  json_builder_set_member_name (b, "devices");
  json_builder_begin_array (b);
  for (guint i = 0; i < models->len; i++)
    {
      MvModelInfo *m = models->pdata[i];
      g_autofree char *checkout = NULL;
      g_autoptr (GError) local_error = NULL;

      if (m->names == NULL || m->names[0] == NULL)
        continue;
      if (!mv_store_checkout_intact (store, m->digest, NULL, &checkout, cancellable, &local_error))
        {
          /* A damaged model gets no device until a pull or import repairs it. */
          if (!g_error_matches (local_error, MV_ERROR, MV_ERROR_CORRUPTED))
            {
              g_propagate_error (error, g_steal_pointer (&local_error));
              return FALSE;
            }
          continue;
        }
      for (guint j = 0; m->names[j]; j++)
        {
          g_autofree char *dev = device_name (m->names[j]);
          g_autofree char *cpath = NULL;

          if (g_hash_table_contains (used, dev))
            {
              /* Two names that sanitize alike: the later one carries the digest. */
              char *longer = g_strdup_printf ("%s_%.12s", dev, strchr (m->digest, ':') + 1);
              g_free (dev);
              dev = longer;
            }
          g_hash_table_add (used, g_strdup (dev));
          cpath = g_strdup_printf ("/%s/%s", mount_rel, dev);
          json_builder_begin_object (b);
          json_builder_set_member_name (b, "name");
          json_builder_add_string_value (b, dev);
          json_builder_set_member_name (b, "containerEdits");
          json_builder_begin_object (b);
          json_builder_set_member_name (b, "mounts");
          json_builder_begin_array (b);
          json_builder_begin_object (b);
          json_builder_set_member_name (b, "hostPath");
          json_builder_add_string_value (b, checkout);
          json_builder_set_member_name (b, "containerPath");
          json_builder_add_string_value (b, cpath);
          json_builder_set_member_name (b, "options");
          json_builder_begin_array (b);
          json_builder_add_string_value (b, "ro");
          json_builder_add_string_value (b, "nosuid");
          json_builder_add_string_value (b, "nodev");
          json_builder_add_string_value (b, "rbind");
          json_builder_add_string_value (b, "rprivate");
          json_builder_end_array (b);
          json_builder_end_object (b);
          json_builder_end_array (b);
          json_builder_end_object (b);
          json_builder_end_object (b);
          g_ptr_array_add (devnames, g_steal_pointer (&dev));
        }
    }
  json_builder_end_array (b);
  json_builder_end_object (b);

  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  json_generator_set_pretty (gen, TRUE);
  text = json_generator_to_data (gen, NULL);

  if (g_mkdir_with_parents (spec_dir, 0755) < 0)
    return mv_throw_errno_prefix (error, "creating CDI spec directory '%s'", spec_dir);
  dfd = mv_opendirat (AT_FDCWD, spec_dir, TRUE, error);
  if (dfd < 0)
    return FALSE;
  if (!mv_file_replace_contents_at (dfd, CDI_FILE, text, strlen (text), 0644, error))
    return mv_prefix_error (error, "writing CDI spec in '%s'", spec_dir);
  if (out_devices)
    {
      g_ptr_array_add (devnames, NULL);
      *out_devices = (char **)g_ptr_array_steal (devnames, NULL);
    }
  return TRUE;
}
