/* fuzz-hook: what modelvol-hook-main reads from the runtime and the pod: the OCI state, the
 * bundle's config.json (with the io.kubernetes.cri-o.Volumes and modelvol.io/mounts
 * annotations and the mounts CRI-O made) and an artifact manifest in CRI-O's store, through
 * the same planning code (hooks/mv-hook-plan.c). Nothing is mounted.
 *
 * Input: the state, config.json and the manifest, separated by lines "----". The manifest is
 * stored as the artifact sha256:<MANIFEST_HEX> of a scratch CRI-O store, so volumes whose
 * "image" names that digest reach it; "@ARTIFACTS@" in the input stands for that store's
 * artifacts directory (a temporary directory).
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz-common.h"
#include "mv-error-private.h"
#include "mv-hook-plan-private.h"
#include "mv-uses-private.h"

#define MANIFEST_HEX "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define SEPARATOR "\n----\n"
#define ARTIFACTS_PLACEHOLDER "@ARTIFACTS@"

static char *graphroot;
static char *manifest_path;

static void
remove_scratch (void)
{
  g_autofree char *blobs = g_build_filename (graphroot, "artifacts", "blobs", "sha256", NULL);

  (void)unlink (manifest_path);
  for (int i = 0; i < 3; i++)
    {
      char *up = g_path_get_dirname (blobs);
      (void)rmdir (blobs);
      g_free (blobs);
      blobs = up;
    }
  (void)rmdir (graphroot);
  g_clear_pointer (&manifest_path, g_free);
  g_clear_pointer (&graphroot, g_free);
}

static void
setup_config (MvHookConfig *c)
{
  static const char *const allowlist[] = { "registry.example.com", "localhost:5000/org", NULL };

  if (graphroot == NULL)
    {
      g_autofree char *blobs = NULL;
      graphroot = g_dir_make_tmp ("mv-fuzz-hook-XXXXXX", NULL);
      g_assert (graphroot != NULL);
      blobs = g_build_filename (graphroot, "artifacts", "blobs", "sha256", NULL);
      g_assert (g_mkdir_with_parents (blobs, 0700) == 0);
      manifest_path = g_build_filename (blobs, MANIFEST_HEX, NULL);
      atexit (remove_scratch);
    }
  c->store_root = g_strdup ("/nonexistent/modelvol");
  c->artifacts_dir = g_build_filename (graphroot, "artifacts", NULL);
  c->annotation_pulls = TRUE;
  c->pull_allowlist = g_strdupv ((char **)allowlist);
}

/* The next part of the input up to a separator line (or the end). */
static GBytes *
next_part (const char **p, const char *end)
{
  const char *sep = g_strstr_len (*p, end - *p, SEPARATOR);
  const char *part_end = sep != NULL ? sep : end;
  GBytes *part = g_bytes_new (*p, part_end - *p);

  *p = sep != NULL ? sep + strlen (SEPARATOR) : end;
  return part;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_auto (MvHookConfig) c = { 0 };
  g_autoptr (GString) input = NULL;
  const char *p, *end;
  g_autoptr (GBytes) state_bytes = NULL;
  g_autoptr (GBytes) config_bytes = NULL;
  g_autoptr (GBytes) manifest_bytes = NULL;
  g_autoptr (JsonNode) state = NULL;
  g_autoptr (JsonNode) config = NULL;
  g_autoptr (GPtrArray) actions
      = g_ptr_array_new_with_free_func ((GDestroyNotify)mv_hook_action_free);
  g_autoptr (GError) error = NULL;
  JsonObject *st = NULL, *annotations = NULL;
  const char *id = NULL, *bundle = NULL;

  mv_fuzz_init ();
  setup_config (&c);
  input = g_string_new_len ((const char *)data, size);
  g_string_replace (input, ARTIFACTS_PLACEHOLDER, c.artifacts_dir, 0);
  p = input->str;
  end = p + input->len;
  state_bytes = next_part (&p, end);
  config_bytes = next_part (&p, end);
  manifest_bytes = next_part (&p, end);
  g_assert (g_file_set_contents (manifest_path, g_bytes_get_data (manifest_bytes, NULL),
                                 g_bytes_get_size (manifest_bytes), NULL));

  /* As hook_main: the state first, then config.json (whose path the state names). */
  state = mv_hook_parse_json (state_bytes, "the OCI state", FALSE, &error);
  if (state != NULL)
    {
      st = json_node_get_object (state);
      annotations = mv_json_get_object (st, "annotations");
      id = mv_json_get_string (st, "id");
      bundle = mv_json_get_string (st, "bundle");
      (void)mv_hook_wants (&c, annotations);
      if (id != NULL)
        (void)mv_use_id_is_valid (id);
      (void)mv_hook_state_pid (st);
    }
  g_clear_error (&error);
  config = mv_hook_parse_json (config_bytes, "the bundle's config.json", TRUE, &error);
  if (config == NULL)
    return 0;
  if (mv_hook_plan (&c, annotations, json_node_get_object (config), actions, &error))
    {
      g_autofree char *rootfs = NULL;
      for (guint i = 0; i < actions->len; i++)
        {
          const MvHookAction *a = actions->pdata[i];
          g_assert (a->dest != NULL && a->dest[0] == '/');
          g_assert ((a->ref != NULL) != (a->layout != NULL));
          g_assert (a->subpath == NULL || (a->subpath[0] != '/' && a->subpath[0] != '\0'));
          if (a->ref != NULL)
            (void)mv_hook_pull_allowed (&c, a->ref);
        }
      rootfs = mv_hook_rootfs (json_node_get_object (config),
                               bundle != NULL && g_path_is_absolute (bundle) ? bundle : "/bundle",
                               NULL);
    }
  else
    g_assert (error != NULL);
  return 0;
}
