/* Unit tests of hooks/mv-hook-plan.c: what the hook plans from the OCI state, the bundle's
 * config.json (CRI-O's per-blob bind mounts of an image volume, the modelvol.io/mounts
 * annotation) and the artifact manifests in a scratch CRI-O artifact store; the allowlist.
 * Every plan and every error message is compared whole.
 *
 * JSON in this file is written with single quotes, turned into double quotes before use
 * (none of the inputs needs a literal single quote). Placeholders: @A@ the artifacts
 * directory, @M@ the manifest hex of the test, @L0@ ... @L3@ layer blob hexes.
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mv-error-private.h"
#include "mv-fdio-private.h"
#include "mv-hook-plan-private.h"

static const char *const layer_hex[] = {
  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
  "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
  "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc",
  "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd",
};

typedef struct
{
  char *graphroot;
  MvHookConfig c;
  char *mhex; /* the manifest stored last (store_manifest) */
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  static const char *const allowlist[] = { "registry.example.com", "localhost:5000/org", NULL };
  g_autoptr (GError) error = NULL;
  g_autofree char *blobs = NULL;

  f->graphroot = g_dir_make_tmp ("mv-test-hook-plan-XXXXXX", &error);
  g_assert_no_error (error);
  f->c.artifacts_dir = g_build_filename (f->graphroot, "artifacts", NULL);
  blobs = g_build_filename (f->c.artifacts_dir, "blobs", "sha256", NULL);
  g_assert_cmpint (g_mkdir_with_parents (blobs, 0700), ==, 0);
  f->c.store_root = g_strdup ("/nonexistent/modelvol");
  f->c.annotation_pulls = TRUE;
  f->c.pull_allowlist = g_strdupv ((char **)allowlist);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_assert_true (mv_rm_rf_at (AT_FDCWD, f->graphroot, NULL, NULL));
  g_free (f->graphroot);
  g_free (f->mhex);
  mv_hook_config_clear (&f->c);
}

/* The placeholders filled in, and with @quotes single quotes made double quotes. */
static char *
expand_full (Fixture *f, const char *text, gboolean quotes)
{
  g_autoptr (GString) s = g_string_new (text);

  if (quotes)
    g_string_replace (s, "'", "\"", 0);
  g_string_replace (s, "@A@", f->c.artifacts_dir, 0);
  if (f->mhex != NULL)
    g_string_replace (s, "@M@", f->mhex, 0);
  for (guint i = 0; i < G_N_ELEMENTS (layer_hex); i++)
    {
      g_autofree char *key = g_strdup_printf ("@L%u@", i);
      g_string_replace (s, key, layer_hex[i], 0);
    }
  return g_string_free (g_steal_pointer (&s), FALSE);
}

static char *
expand (Fixture *f, const char *text)
{
  return expand_full (f, text, TRUE);
}

/* Writes @text (expanded) into the artifact store under its sha256; returns the hex. */
static char *
write_blob (Fixture *f, const char *text)
{
  g_autofree char *bytes = expand (f, text);
  g_autofree char *hex = g_compute_checksum_for_string (G_CHECKSUM_SHA256, bytes, -1);
  g_autofree char *path = g_build_filename (f->c.artifacts_dir, "blobs", "sha256", hex, NULL);
  g_autoptr (GError) error = NULL;

  g_assert_true (g_file_set_contents (path, bytes, -1, &error));
  g_assert_no_error (error);
  return g_steal_pointer (&hex);
}

/* The manifest of the test: @M@ from now on. */
static void
store_manifest (Fixture *f, const char *text)
{
  char *hex = write_blob (f, text);
  g_free (f->mhex);
  f->mhex = hex;
}

static JsonNode *
parse (Fixture *f, const char *text, gboolean wide_ints)
{
  g_autofree char *json = expand (f, text);
  g_autoptr (GBytes) bytes = g_bytes_new (json, strlen (json));
  g_autoptr (GError) error = NULL;
  JsonNode *node = mv_hook_parse_json (bytes, "test input", wide_ints, &error);

  g_assert_no_error (error);
  g_assert_nonnull (node);
  return node;
}

static int
action_cmp (gconstpointer a, gconstpointer b)
{
  const MvHookAction *x = *(MvHookAction *const *)a, *y = *(MvHookAction *const *)b;
  return strcmp (x->dest, y->dest);
}

/* The plan as text, one line per action, sorted by destination (image volumes come from a
 * hash table); the annotation's own order is kept where @sort is FALSE. */
static char *
format_plan (GPtrArray *actions, gboolean sort)
{
  GString *s = g_string_new (NULL);

  if (sort)
    g_ptr_array_sort (actions, action_cmp);
  for (guint i = 0; i < actions->len; i++)
    {
      const MvHookAction *a = actions->pdata[i];
      g_string_append_printf (s, "dest=%s ref=%s layout=%s manifest=%s subpath=%s\n", a->dest,
                              a->ref ?: "-", a->layout ?: "-", a->manifest ?: "-",
                              a->subpath ?: "-");
    }
  return g_string_free (s, FALSE);
}

/* Plans for config.json @config (single-quoted JSON); @volumes and @mounts (nullable) become
 * its io.kubernetes.cri-o.Volumes and modelvol.io/mounts annotations. @state (nullable): the
 * OCI state's annotations. Returns: (nullable): the plan, or NULL with @error set */
static char *
run_plan (Fixture *f, const char *state, const char *config, const char *volumes,
          const char *mounts, GError **error)
{
  g_autoptr (JsonNode) cfg = parse (f, config, TRUE);
  g_autoptr (JsonNode) st = state ? parse (f, state, FALSE) : NULL;
  g_autoptr (GPtrArray) actions
      = g_ptr_array_new_with_free_func ((GDestroyNotify)mv_hook_action_free);
  JsonObject *o = json_node_get_object (cfg);

  if (volumes != NULL || mounts != NULL)
    {
      JsonObject *ann = json_object_new ();
      if (volumes != NULL)
        {
          g_autofree char *v = expand (f, volumes);
          json_object_set_string_member (ann, MV_HOOK_ANNOTATION_CRIO_VOLUMES, v);
        }
      if (mounts != NULL)
        {
          g_autofree char *m = expand (f, mounts);
          json_object_set_string_member (ann, MV_HOOK_ANNOTATION_MOUNTS, m);
        }
      json_object_set_object_member (o, "annotations", ann);
    }
  if (!mv_hook_plan (&f->c, st ? json_node_get_object (st) : NULL, o, actions, error))
    {
      g_assert (error == NULL || *error != NULL);
      return NULL;
    }
  return format_plan (actions, TRUE);
}

static void
assert_plan (Fixture *f, const char *state, const char *config, const char *volumes,
             const char *mounts, const char *expected)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *plan = run_plan (f, state, config, volumes, mounts, &error);
  g_autofree char *want = expand_full (f, expected, FALSE);

  g_assert_no_error (error);
  g_assert_cmpstr (plan, ==, want);
}

static void
assert_plan_fails (Fixture *f, const char *state, const char *config, const char *volumes,
                   const char *mounts, GQuark domain, int code, const char *expected)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *plan = run_plan (f, state, config, volumes, mounts, &error);
  g_autofree char *want = expand_full (f, expected, FALSE);

  g_assert_null (plan);
  g_assert_error (error, domain, code);
  g_assert_cmpstr (error->message, ==, want);
}

/* ---------------------------------------------------------------------------------------- */
/* CRI-O image volumes                                                                      */

/* What CRI-O writes for an image volume /model of a two-layer artifact: a bind mount per
 * blob, named by its filepath, and the volume in the annotation. */
#define CRIO_CONFIG                                                                                \
  "{'ociVersion': '1.0.2', 'root': {'path': 'rootfs'}, 'mounts': ["                                \
  "{'destination': '/proc', 'type': 'proc', 'source': 'proc'},"                                    \
  "{'destination': '/model/model.safetensors', 'type': 'bind',"                                    \
  " 'source': '@A@/blobs/sha256/@L0@', 'options': ['bind', 'ro']},"                                \
  "{'destination': '/model/config.json', 'type': 'bind',"                                          \
  " 'source': '@A@/blobs/sha256/@L1@', 'options': ['bind', 'ro']},"                                \
  "{'destination': '/etc/hosts', 'type': 'bind', 'source': '/var/run/x/hosts'}]}"
#define CRIO_VOLUMES                                                                               \
  "[{'container_path': '/model', 'host_path': '@A@/blobs/sha256/@L0@', 'readonly': true,"          \
  " 'propagation': 0, 'selinux_relabel': false, 'image': {'image': '@M@'}},"                       \
  " {'container_path': '/model', 'host_path': '@A@/blobs/sha256/@L1@', 'readonly': true,"          \
  " 'propagation': 0, 'selinux_relabel': false, 'image': {'image': '@M@'}}]"

/* A two-layer manifest of family @fam ("cncf" or "cnai"), layer names under @key. */
static char *
modelpack_manifest (const char *fam, const char *key, const char *name0, const char *name1,
                    const char *format)
{
  return g_strdup_printf (
      "{'schemaVersion': 2, 'mediaType': 'application/vnd.oci.image.manifest.v1+json',"
      " 'artifactType': 'application/vnd.%s.model.manifest.v1+json',"
      " 'config': {'mediaType': 'application/vnd.%s.model.config.v1+json',"
      " 'digest': 'sha256:@L3@', 'size': 2},"
      " 'layers': ["
      "{'mediaType': 'application/vnd.%s.model.weight.v1.%s', 'digest': 'sha256:@L0@',"
      " 'size': 5, 'annotations': {'%s': '%s'}},"
      "{'mediaType': 'application/vnd.%s.model.weight.config.v1.%s', 'digest': 'sha256:@L1@',"
      " 'size': 5, 'annotations': {'%s': '%s'}}]}",
      fam, fam, fam, format, key, name0, fam, format, key, name1);
}

#define ONE_VOLUME "dest=/model ref=- layout=@A@ manifest=sha256:@M@ subpath=-\n"

static void
test_crio_cncf (Fixture *f, gconstpointer data)
{
  g_autofree char *m = modelpack_manifest ("cncf", "org.cncf.model.filepath", "model.safetensors",
                                           "config.json", "raw");
  g_autoptr (JsonNode) ann = NULL;

  store_manifest (f, m);
  assert_plan (f, NULL, CRIO_CONFIG, CRIO_VOLUMES, NULL, ONE_VOLUME);
  /* "sha256:"-prefixed image names are the same artifact. */
  {
    g_autoptr (GString) v = g_string_new (CRIO_VOLUMES);
    g_string_replace (v, "'image': '@M@'", "'image': 'sha256:@M@'", 0);
    assert_plan (f, NULL, CRIO_CONFIG, v->str, NULL, ONE_VOLUME);
  }
  /* The hook's fast filter: the volumes mention our artifact store. */
  {
    g_autofree char *v = expand (f, CRIO_VOLUMES);
    JsonObject *o = json_object_new ();
    ann = json_node_init_object (json_node_alloc (), o);
    json_object_unref (o);
    json_object_set_string_member (o, MV_HOOK_ANNOTATION_CRIO_VOLUMES, v);
    g_assert_true (mv_hook_wants (&f->c, o));
  }
}

static void
test_crio_cnai_tar (Fixture *f, gconstpointer data)
{
  g_autofree char *m = modelpack_manifest ("cnai", "org.cnai.model.filepath", "./model.safetensors",
                                           "config.json", "tar");
  store_manifest (f, m);
  assert_plan (f, NULL, CRIO_CONFIG, CRIO_VOLUMES, NULL, ONE_VOLUME);
}

static void
test_crio_oci_title (Fixture *f, gconstpointer data)
{
  g_autofree char *m = modelpack_manifest ("cncf", "org.opencontainers.image.title",
                                           "model.safetensors", "config.json", "raw");
  store_manifest (f, m);
  assert_plan (f, NULL, CRIO_CONFIG, CRIO_VOLUMES, NULL, ONE_VOLUME);
}

/* A subPath volume: CRI-O mounts weights/q4/a.bin at <volume>/a.bin. */
static void
test_crio_subpath (Fixture *f, gconstpointer data)
{
  const char *config
      = "{'root': {'path': 'rootfs'}, 'mounts': ["
        "{'destination': '/model/a.bin', 'type': 'bind', 'source': '@A@/blobs/sha256/@L0@'},"
        "{'destination': '/model/b/c.bin', 'type': 'bind', 'source': '@A@/blobs/sha256/@L1@'}]}";
  g_autofree char *m = modelpack_manifest ("cncf", "org.cncf.model.filepath", "weights/q4/a.bin",
                                           "./weights/q4/b/c.bin", "raw");
  g_autofree char *disagree
      = modelpack_manifest ("cncf", "org.cncf.model.filepath", "x/a.bin", "y/b/c.bin", "raw");
  g_autofree char *unnamed
      = modelpack_manifest ("cncf", "org.cncf.model.filepath", "x/a.bin", "elsewhere.bin", "raw");

  store_manifest (f, m);
  assert_plan (f, NULL, config, CRIO_VOLUMES, NULL,
               "dest=/model ref=- layout=@A@ manifest=sha256:@M@ subpath=weights/q4\n");
  store_manifest (f, disagree);
  assert_plan_fails (f, NULL, config, CRIO_VOLUMES, NULL, MV_ERROR, MV_ERROR_FAILED,
                     "image volume /model: layer mounts disagree on the sub path");
  store_manifest (f, unnamed);
  assert_plan_fails (f, NULL, config, CRIO_VOLUMES, NULL, MV_ERROR, MV_ERROR_FAILED,
                     "image volume /model: blob sha256:@L1@ is mounted at 'b/c.bin', which no "
                     "layer names");
}

static void
test_crio_bad_manifests (Fixture *f, gconstpointer data)
{
  /* Lists only the first of the two mounted blobs. */
  store_manifest (f, "{'layers': [{'mediaType': 'application/vnd.cncf.model.weight.v1.raw',"
                     " 'digest': 'sha256:@L0@', 'annotations': {'org.cncf.model.filepath':"
                     " 'model.safetensors'}}]}");
  assert_plan_fails (f, NULL, CRIO_CONFIG, CRIO_VOLUMES, NULL, MV_ERROR, MV_ERROR_FAILED,
                     "image volume /model: artifact sha256:@M@ does not list the layers mounted "
                     "for it");
  /* Layers that are not objects, or lack digests, count as absent. */
  store_manifest (f, "{'layers': [1, 'x', null, {'digest': 7}, {'digest': 'sha256:@L0@',"
                     " 'annotations': {'org.cncf.model.filepath': 'model.safetensors'}},"
                     " {'digest': 'sha256:@L1@', 'annotations': 'config.json'}]}");
  assert_plan_fails (f, NULL, CRIO_CONFIG, CRIO_VOLUMES, NULL, MV_ERROR, MV_ERROR_FAILED,
                     "image volume /model: blob sha256:@L1@ is mounted at 'config.json', which "
                     "no layer names");
  store_manifest (f, "not json");
  assert_plan_fails (f, NULL, CRIO_CONFIG, CRIO_VOLUMES, NULL, MV_ERROR, MV_ERROR_FAILED,
                     "image volume /model: artifact manifest is not valid JSON: unexpected "
                     "character at byte 0");
  store_manifest (f, "[]");
  assert_plan_fails (f, NULL, CRIO_CONFIG, CRIO_VOLUMES, NULL, MV_ERROR, MV_ERROR_FAILED,
                     "image volume /model: artifact manifest is not a JSON object");
}

static void
test_crio_bad_volumes (Fixture *f, gconstpointer data)
{
  g_autofree char *m = modelpack_manifest ("cncf", "org.cncf.model.filepath", "model.safetensors",
                                           "config.json", "raw");
  g_autoptr (GString) bad_digest = g_string_new (CRIO_VOLUMES);
  g_autoptr (GString) proc = g_string_new (CRIO_VOLUMES);
  g_autoptr (GString) proc_config = g_string_new (CRIO_CONFIG);

  store_manifest (f, m);
  g_string_replace (bad_digest, "'image': '@M@'", "'image': '../../etc'", 0);
  assert_plan_fails (f, NULL, CRIO_CONFIG, bad_digest->str, NULL, MV_ERROR, MV_ERROR_FAILED,
                     "image volume /model: bad artifact digest");
  g_string_replace (bad_digest, "'image': '../../etc'", "'image': 'sha256:@M@0'", 0);
  assert_plan_fails (f, NULL, CRIO_CONFIG, bad_digest->str, NULL, MV_ERROR, MV_ERROR_FAILED,
                     "image volume /model: bad artifact digest");

  g_string_replace (proc, "/model", "/proc/model", 0);
  g_string_replace (proc_config, "/model/", "/proc/model/", 0);
  assert_plan_fails (f, NULL, proc_config->str, proc->str, NULL, MV_ERROR, MV_ERROR_UNSAFE_PATH,
                     "image volume: path '/proc/model' is under /proc");

  assert_plan_fails (f, NULL, CRIO_CONFIG, "[{", NULL, MV_ERROR, MV_ERROR_FAILED,
                     "annotation io.kubernetes.cri-o.Volumes is not a JSON array: unexpected end "
                     "at byte 2");
  assert_plan_fails (f, NULL, CRIO_CONFIG, "{}", NULL, MV_ERROR, MV_ERROR_FAILED,
                     "annotation io.kubernetes.cri-o.Volumes is not a JSON array");
  /* Entries that are not volumes of our store are skipped, not errors. */
  assert_plan (f, NULL, CRIO_CONFIG,
               "[1, null, 'x', {'container_path': 7}, {'host_path': '@A@/blobs/sha256/@L0@'},"
               " {'container_path': '/model', 'host_path': '@A@/blobs/sha256/@L0@'},"
               " {'container_path': '/model', 'host_path': '@A@/blobs/sha256/@L0@',"
               " 'image': 'sha256:@M@'},"
               " {'container_path': '/model', 'host_path': '@A@/blobs/sha256/../../../etc',"
               " 'image': {'image': '@M@'}},"
               " {'container_path': '/model', 'host_path': '@A@/blobs/sha512/@L0@',"
               " 'image': {'image': '@M@'}}]",
               NULL, "");
}

/* Image volumes that are not artifacts of CRI-O's store (an OCI image's overlay), and
 * artifacts without a mount of theirs, are left to the runtime: no action, no error. */
static void
test_crio_left_alone (Fixture *f, gconstpointer data)
{
  g_autofree char *m = modelpack_manifest ("cncf", "org.cncf.model.filepath", "model.safetensors",
                                           "config.json", "raw");
  const char *image_volume
      = "[{'container_path': '/data', 'host_path':"
        " '/var/lib/containers/storage/overlay/0123/merged', 'image': {'image': '@M@'}}]";
  const char *image_config
      = "{'root': {'path': 'rootfs'}, 'mounts': [{'destination': '/data', 'type': 'bind',"
        " 'source': '/var/lib/containers/storage/overlay/0123/merged'}]}";
  g_autofree char *v = NULL;
  JsonObject *o = json_object_new ();

  store_manifest (f, m);
  assert_plan (f, NULL, image_config, image_volume, NULL, "");
  /* The volume names our blobs but config.json mounts none of them under it. */
  assert_plan (f, NULL, "{'root': {'path': 'rootfs'}, 'mounts': []}", CRIO_VOLUMES, NULL, "");
  assert_plan (f, NULL,
               "{'mounts': [{'destination': '/modelx/model.safetensors', 'source':"
               " '@A@/blobs/sha256/@L0@'}, {'destination': '/model', 'source':"
               " '@A@/blobs/sha256/@L1@'}]}",
               CRIO_VOLUMES, NULL, "");
  assert_plan (f, NULL, "{'root': {'path': 'rootfs'}}", NULL, NULL, "");

  v = expand (f, image_volume);
  json_object_set_string_member (o, MV_HOOK_ANNOTATION_CRIO_VOLUMES, v);
  g_assert_false (mv_hook_wants (&f->c, o));
  g_assert_false (mv_hook_wants (&f->c, NULL));
  json_object_set_string_member (o, "other", "[]");
  g_assert_false (mv_hook_wants (&f->c, o));
  json_object_set_string_member (o, MV_HOOK_ANNOTATION_MOUNTS, "[]");
  g_assert_true (mv_hook_wants (&f->c, o));
  json_object_unref (o);
}

/* An artifact that is not ModelPack is still planned: the library says NOT_MODELPACK when it
 * imports it, and the hook then leaves the volume to the runtime. */
static void
test_crio_other_artifact (Fixture *f, gconstpointer data)
{
  store_manifest (f, "{'schemaVersion': 2, 'artifactType': 'application/vnd.example.thing',"
                     " 'layers': [{'mediaType': 'application/octet-stream', 'digest':"
                     " 'sha256:@L0@', 'annotations': {'org.opencontainers.image.title':"
                     " 'model.safetensors'}}, {'mediaType': 'text/plain', 'digest':"
                     " 'sha256:@L1@', 'annotations': {'org.opencontainers.image.title':"
                     " 'config.json'}}]}");
  assert_plan (f, NULL, CRIO_CONFIG, CRIO_VOLUMES, NULL, ONE_VOLUME);
}

static void
test_crio_two_volumes (Fixture *f, gconstpointer data)
{
  const char *config
      = "{'mounts': ["
        "{'destination': '/b/w.bin', 'type': 'bind', 'source': '@A@/blobs/sha256/@L2@'},"
        "{'destination': '/a/model.safetensors', 'source': '@A@/blobs/sha256/@L0@'},"
        "{'destination': '/a/config.json', 'source': '@A@/blobs/sha256/@L1@'}]}";
  g_autofree char *ma = modelpack_manifest ("cncf", "org.cncf.model.filepath", "model.safetensors",
                                            "config.json", "raw");
  g_autofree char *mb = NULL;
  g_autofree char *volumes = NULL;
  g_autofree char *expected = NULL;

  store_manifest (f, "{'layers': [{'digest': 'sha256:@L2@', 'annotations':"
                     " {'org.cnai.model.filepath': 'w.bin'}}]}");
  mb = g_strdup (f->mhex);
  store_manifest (f, ma);
  volumes = g_strdup_printf (
      "[{'container_path': '/b', 'host_path': '@A@/blobs/sha256/@L2@', 'image': {'image': '%s'}},"
      " {'container_path': '/a', 'host_path': '@A@/blobs/sha256/@L0@', 'image': {'image': '@M@'}},"
      " {'container_path': '/a', 'host_path': '@A@/blobs/sha256/@L1@', 'image': {'image': '@M@'}}]",
      mb);
  expected = g_strdup_printf ("dest=/a ref=- layout=@A@ manifest=sha256:@M@ subpath=-\n"
                              "dest=/b ref=- layout=@A@ manifest=sha256:%s subpath=-\n",
                              mb);
  assert_plan (f, NULL, config, volumes, NULL, expected);
}

/* config.json's annotations rule; the state's count only when config.json has none. */
static void
test_annotations_precedence (Fixture *f, gconstpointer data)
{
  const char *state = "{'modelvol.io/mounts': '[{\\'ref\\': \\'r/m\\', \\'path\\': \\'/m\\'}]'}";

  assert_plan (f, state, "{'root': {'path': '/r'}}", NULL, NULL,
               "dest=/m ref=r/m layout=- manifest=- subpath=-\n");
  assert_plan (f, state, "{'root': {'path': '/r'}, 'annotations': {}}", NULL, NULL, "");
  assert_plan (f, state, "{'annotations': {}}", NULL, "[{'ref': 'r/n', 'path': '/n'}]",
               "dest=/n ref=r/n layout=- manifest=- subpath=-\n");
  /* An annotations member that is not an object is no annotations: the state's rule. */
  assert_plan (f, state, "{'annotations': []}", NULL, NULL,
               "dest=/m ref=r/m layout=- manifest=- subpath=-\n");
  assert_plan (f, "{'modelvol.io/mounts': 1}", "{}", NULL, NULL, "");
}

/* ---------------------------------------------------------------------------------------- */
/* CRI-O 1.34: the artifact named by a digest its store does not hold                      */

static void
write_index (Fixture *f, const char *const *hexes)
{
  g_autoptr (GString) s = g_string_new ("{'schemaVersion': 2, 'manifests': [");
  g_autofree char *path = g_build_filename (f->c.artifacts_dir, "index.json", NULL);
  g_autofree char *json = NULL;

  for (guint i = 0; hexes[i]; i++)
    g_string_append_printf (s,
                            "%s{'mediaType': 'application/vnd.oci.image.manifest.v1+json',"
                            " 'digest': 'sha256:%s', 'size': 1}",
                            i ? ", " : "", hexes[i]);
  g_string_append (s, ", {'digest': 'sha256:../../etc'}, {'digest': 5}, 7]}");
  json = expand (f, s->str);
  g_assert_true (g_file_set_contents (path, json, -1, NULL));
}

static void
test_crio_index_fallback (Fixture *f, gconstpointer data)
{
  /* Volumes naming a digest that no blob has. */
  g_autoptr (GString) volumes = g_string_new (CRIO_VOLUMES);
  g_autofree char *good = modelpack_manifest ("cncf", "org.cncf.model.filepath",
                                              "model.safetensors", "config.json", "raw");
  g_autofree char *good_cnai = modelpack_manifest ("cnai", "org.cnai.model.filepath",
                                                   "model.safetensors", "config.json", "raw");
  g_autofree char *other_tree = modelpack_manifest ("cncf", "org.cncf.model.filepath",
                                                    "model.safetensors", "config.json", "tar");
  g_autofree char *h_good = write_blob (f, good);
  g_autofree char *h_cnai = write_blob (f, good_cnai);
  g_autofree char *h_other = write_blob (f, other_tree);
  /* A later version that adds a named file also holds both blobs: it loses. */
  g_autofree char *h_later = write_blob (
      f, "{'layers': [{'digest': 'sha256:@L0@', 'annotations': {'org.cncf.model.filepath':"
         " 'model.safetensors'}}, {'digest': 'sha256:@L1@', 'annotations':"
         " {'org.cncf.model.filepath': 'config.json'}}, {'digest': 'sha256:@L2@',"
         " 'annotations': {'org.cncf.model.filepath': 'tokenizer.json'}}]}");
  g_autofree char *h_unrelated = write_blob (f, "{'layers': [{'digest': 'sha256:@L2@'}]}");
  g_autofree char *h_broken = write_blob (f, "{'layers': ");
  g_autofree char *expected = NULL;
  const char *lowest = strcmp (h_good, h_cnai) < 0 ? h_good : h_cnai;

  g_string_replace (volumes, "@M@", layer_hex[3], 0);
  {
    const char *idx[] = { h_unrelated, h_broken, h_later, h_good, NULL };
    write_index (f, idx);
    expected
        = g_strdup_printf ("dest=/model ref=- layout=@A@ manifest=sha256:%s subpath=-\n", h_good);
    assert_plan (f, NULL, CRIO_CONFIG, volumes->str, NULL, expected);
    g_clear_pointer (&expected, g_free);
  }
  {
    /* Two that make the same tree (families differ): one stands for both, the lowest. */
    const char *idx[] = { h_later, h_good, h_cnai, NULL };
    const char *rev[] = { h_cnai, h_good, h_later, NULL };
    expected
        = g_strdup_printf ("dest=/model ref=- layout=@A@ manifest=sha256:%s subpath=-\n", lowest);
    write_index (f, idx);
    assert_plan (f, NULL, CRIO_CONFIG, volumes->str, NULL, expected);
    write_index (f, rev);
    assert_plan (f, NULL, CRIO_CONFIG, volumes->str, NULL, expected);
    g_clear_pointer (&expected, g_free);
  }
  {
    /* Two that make different trees (raw and tar layers): the container fails. */
    const char *idx[] = { h_good, h_other, NULL };
    write_index (f, idx);
    expected = g_strdup_printf ("image volume /model: CRI-O's artifact digest is not in its "
                                "store, and both sha256:%s and sha256:%s there match the "
                                "mounted layers",
                                h_good, h_other);
    assert_plan_fails (f, NULL, CRIO_CONFIG, volumes->str, NULL, MV_ERROR, MV_ERROR_FAILED,
                       expected);
    g_clear_pointer (&expected, g_free);
  }
  {
    const char *idx[] = { h_unrelated, h_broken, NULL };
    write_index (f, idx);
    assert_plan_fails (f, NULL, CRIO_CONFIG, volumes->str, NULL, MV_ERROR, MV_ERROR_NOT_FOUND,
                       "image volume /model: no artifact in @A@ holds the mounted layers");
  }
  {
    g_autofree char *path = g_build_filename (f->c.artifacts_dir, "index.json", NULL);
    g_assert_cmpint (unlink (path), ==, 0);
    g_assert_cmpint (mkdir (path, 0700), ==, 0);
    assert_plan_fails (f, NULL, CRIO_CONFIG, volumes->str, NULL, MV_ERROR,
                       MV_ERROR_INVALID_MANIFEST,
                       "image volume /model: '@A@/index.json' is not a regular file");
  }
}

/* ---------------------------------------------------------------------------------------- */
/* modelvol.io/mounts                                                                       */

#define PLAIN_CONFIG "{'ociVersion': '1.0.2', 'root': {'path': '/abs/rootfs'}}"

static void
test_mounts_valid (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  assert_plan (
      f, NULL, PLAIN_CONFIG, NULL,
      "[{'ref': 'registry.example.com/org/llama:v1', 'path': '/models'}]",
      "dest=/models ref=registry.example.com/org/llama:v1 layout=- manifest=- subpath=-\n");
  assert_plan (f, NULL, PLAIN_CONFIG, NULL, "[]", "");
  assert_plan (f, NULL, PLAIN_CONFIG, NULL, " [ ] ", "");
  /* In the annotation's order, not sorted. */
  {
    g_autoptr (JsonNode) cfg = parse (f, PLAIN_CONFIG, TRUE);
    g_autoptr (GPtrArray) actions
        = g_ptr_array_new_with_free_func ((GDestroyNotify)mv_hook_action_free);
    g_autofree char *plan = NULL;
    JsonObject *ann = json_object_new ();
    json_object_set_string_member (
        ann, MV_HOOK_ANNOTATION_MOUNTS,
        "[{\"ref\": \"localhost:5000/org/m@sha256:1234\", \"path\": \"/z/m\", \"subPath\":"
        " \"weights/q4\"}, {\"subPath\": \"\", \"path\": \"/a\", \"ref\": \"x\"},"
        " {\"ref\": \"x\", \"path\": \"/devices/proc\"}, {\"ref\": \"x\", \"path\": \"/proc2\"},"
        " {\"ref\": \"x\", \"path\": \"/system\"}, {\"ref\": \"\", \"path\": \"/sysfs/dev\"}]");
    json_object_set_object_member (json_node_get_object (cfg), "annotations", ann);
    g_assert_true (mv_hook_plan (&f->c, NULL, json_node_get_object (cfg), actions, &error));
    g_assert_no_error (error);
    plan = format_plan (actions, FALSE);
    g_assert_cmpstr (plan, ==,
                     "dest=/z/m ref=localhost:5000/org/m@sha256:1234 layout=- manifest=- "
                     "subpath=weights/q4\n"
                     "dest=/a ref=x layout=- manifest=- subpath=-\n"
                     "dest=/devices/proc ref=x layout=- manifest=- subpath=-\n"
                     "dest=/proc2 ref=x layout=- manifest=- subpath=-\n"
                     "dest=/system ref=x layout=- manifest=- subpath=-\n"
                     "dest=/sysfs/dev ref= layout=- manifest=- subpath=-\n");
  }
}

typedef struct
{
  const char *value; /* the annotation, single-quoted JSON */
  int code;
  const char *message;
} BadMounts;

#define A "annotation modelvol.io/mounts"

static void
test_mounts_hostile (Fixture *f, gconstpointer data)
{
  static const BadMounts cases[] = {
    { "[{'ref': 'r/m', 'path': 'models'}]", MV_ERROR_UNSAFE_PATH,
      A ": entry 0: path 'models' is not absolute" },
    { "[{'ref': 'r/m', 'path': ''}]", MV_ERROR_UNSAFE_PATH, A ": entry 0: empty path" },
    { "[{'ref': 'r/m', 'path': '/'}]", MV_ERROR_UNSAFE_PATH,
      A ": entry 0: path '/' is the container's root" },
    { "[{'ref': 'r/m', 'path': '/data/../etc'}]", MV_ERROR_UNSAFE_PATH,
      A ": entry 0: path '/data/../etc' is not normalized (it has a '..' component)" },
    { "[{'ref': 'r/m', 'path': '/..'}]", MV_ERROR_UNSAFE_PATH,
      A ": entry 0: path '/..' escapes the model root" },
    { "[{'ref': 'r/m', 'path': '/data//m'}]", MV_ERROR_UNSAFE_PATH,
      A ": entry 0: path '/data//m' has an empty component" },
    { "[{'ref': 'r/m', 'path': '/m/'}]", MV_ERROR_UNSAFE_PATH,
      A ": entry 0: path '/m/' has an empty component" },
    { "[{'ref': 'r/m', 'path': '//proc'}]", MV_ERROR_UNSAFE_PATH,
      A ": entry 0: path '//proc' has an empty component" },
    { "[{'ref': 'r/m', 'path': '/proc'}]", MV_ERROR_UNSAFE_PATH,
      A ": entry 0: path '/proc' is under /proc" },
    { "[{'ref': 'r/m', 'path': '/ok'}, {'ref': 'r/m', 'path': '/proc/self/root'}]",
      MV_ERROR_UNSAFE_PATH, A ": entry 1: path '/proc/self/root' is under /proc" },
    { "[{'ref': 'r/m', 'path': '/sys/fs'}]", MV_ERROR_UNSAFE_PATH,
      A ": entry 0: path '/sys/fs' is under /sys" },
    { "[{'ref': 'r/m', 'path': '/sys'}]", MV_ERROR_UNSAFE_PATH,
      A ": entry 0: path '/sys' is under /sys" },
    { "[{'ref': 'r/m', 'path': '/dev'}]", MV_ERROR_UNSAFE_PATH,
      A ": entry 0: path '/dev' is under /dev" },
    { "[{'ref': 'r/m', 'path': '/dev/shm/m'}]", MV_ERROR_UNSAFE_PATH,
      A ": entry 0: path '/dev/shm/m' is under /dev" },
    { "[{'ref': 'r/m', 'path': '/data\\u0000/../../etc'}]", MV_ERROR_FAILED,
      A " is not a JSON array: an escaped NUL (\\u0000) in a string at byte 36" },
    { "[{'ref': 'r/m', 'path': '/data\\n/m'}]", MV_ERROR_UNSAFE_PATH,
      A ": entry 0: path '/data\\x0a/m' contains a control character" },
    { "[{'ref': 'r/m', 'path': '/m', 'subPath': '../../x'}]", MV_ERROR_UNSAFE_PATH,
      A ": entry 0: subPath: path '../../x' escapes the model root" },
    { "[{'ref': 'r/m', 'path': '/m', 'subPath': '/abs'}]", MV_ERROR_UNSAFE_PATH,
      A ": entry 0: subPath: path '/abs' is absolute" },
    { "[{'ref': 'r/m', 'path': '/m', 'subPath': 'a/./b'}]", MV_ERROR_UNSAFE_PATH,
      A ": entry 0: subPath: path 'a/./b' has a '.' component" },
    { "[{'ref': 'r/m', 'path': '/m', 'subPath': null}]", MV_ERROR_FAILED,
      A ": entry 0 needs string \"ref\" and \"path\"" },
    { "[{'ref': 'r/m', 'path': '/m', 'subPath': 3}]", MV_ERROR_FAILED,
      A ": entry 0 needs string \"ref\" and \"path\"" },
    { "[{'ref': 1, 'path': '/m'}]", MV_ERROR_FAILED,
      A ": entry 0 needs string \"ref\" and \"path\"" },
    { "[{'ref': 'r/m'}]", MV_ERROR_FAILED, A ": entry 0 needs string \"ref\" and \"path\"" },
    { "[{'path': '/m'}]", MV_ERROR_FAILED, A ": entry 0 needs string \"ref\" and \"path\"" },
    { "[{'ref': 'r/m', 'path': ['/m']}]", MV_ERROR_FAILED,
      A ": entry 0 needs string \"ref\" and \"path\"" },
    { "[1, {'ref': 'r/m', 'path': '/m'}]", MV_ERROR_FAILED, A ": entry 0 is not an object" },
    { "[{'ref': 'r/m', 'path': '/m'}, null]", MV_ERROR_FAILED, A ": entry 1 is not an object" },
    { "[{'ref': 'r/m', 'path': '/m', 'readOnly': false}]", MV_ERROR_FAILED,
      A ": entry 0: unknown key 'readOnly'" },
    { "[{'ref': 'r/m', 'path': '/m', 'Path': '/n'}]", MV_ERROR_FAILED,
      A ": entry 0: unknown key 'Path'" },
    { "[{'ref': 'r/m', 'path': '/m', '\\u001b[31m\\n': 1}]", MV_ERROR_FAILED,
      A ": entry 0: unknown key '\\x1b[31m\\x0a'" },
    { "[{'ref': 'r/m', 'path': '/m', 'path': '/etc'}]", MV_ERROR_FAILED,
      A " is not a JSON array: duplicate member name at byte 30" },
    { "[{", MV_ERROR_FAILED, A " is not a JSON array: unexpected end at byte 2" },
    { "", MV_ERROR_FAILED, A " is not a JSON array: empty document at byte 0" },
    { "{'ref': 'r/m', 'path': '/m'}", MV_ERROR_FAILED, A " is not a JSON array" },
    { "'[]'", MV_ERROR_FAILED, A " is not a JSON array" },
    { "[] [{'ref': 'r/m', 'path': '/m'}]", MV_ERROR_FAILED,
      A " is not a JSON array: data after the top-level value at byte 3" },
    { "[{'ref': 'r/m', 'path': '/m',}]", MV_ERROR_FAILED,
      A " is not a JSON array: expected a member name at byte 29" },
    { "[/* c */]", MV_ERROR_FAILED, A " is not a JSON array: unexpected character at byte 1" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_test_message ("case %u: %s", i, cases[i].value);
      assert_plan_fails (f, NULL, PLAIN_CONFIG, NULL, cases[i].value, MV_ERROR, cases[i].code,
                         cases[i].message);
    }
}

/* 64 KiB and 64 entries at most; exactly the limit passes. */
static void
test_mounts_limits (Fixture *f, gconstpointer data)
{
  g_autoptr (GString) v = g_string_new ("[{'ref': 'r/m', 'path': '/m'}");
  g_autoptr (GString) many = g_string_new ("[");
  g_autoptr (GError) error = NULL;
  g_autofree char *plan = NULL;

  while (v->len < 64 * 1024 - 1)
    g_string_append_c (v, ' ');
  g_string_append_c (v, ']');
  g_assert_cmpuint (v->len, ==, 64 * 1024);
  assert_plan (f, NULL, PLAIN_CONFIG, NULL, v->str,
               "dest=/m ref=r/m layout=- manifest=- subpath=-\n");
  g_string_insert_c (v, 1, ' ');
  assert_plan_fails (f, NULL, PLAIN_CONFIG, NULL, v->str, MV_ERROR, MV_ERROR_LIMIT_EXCEEDED,
                     A " is larger than 65536 bytes");
  /* A huge path: refused by the path rules, not truncated. */
  {
    g_autofree char *path = g_strnfill (5000, 'a');
    g_autofree char *value = g_strdup_printf ("[{'ref': 'r/m', 'path': '/%s'}]", path);
    g_autofree char *got = run_plan (f, NULL, PLAIN_CONFIG, NULL, value, &error);
    g_assert_null (got);
    g_assert_error (error, MV_ERROR, MV_ERROR_UNSAFE_PATH);
    g_assert_true (g_str_has_prefix (error->message, A ": entry 0: path '/aaaa"));
    g_clear_error (&error);
  }

  for (guint i = 0; i < 64; i++)
    g_string_append_printf (many, "%s{'ref': 'r/m%u', 'path': '/m%u'}", i ? ", " : "", i, i);
  g_string_append_c (many, ']');
  plan = run_plan (f, NULL, PLAIN_CONFIG, NULL, many->str, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (strlen (plan), >, 0);
  {
    guint lines = 0;
    for (const char *p = plan; *p; p++)
      lines += *p == '\n';
    g_assert_cmpuint (lines, ==, 64);
  }
  g_string_truncate (many, many->len - 1);
  g_string_append (many, ", {'ref': 'r/m64', 'path': '/m64'}]");
  assert_plan_fails (f, NULL, PLAIN_CONFIG, NULL, many->str, MV_ERROR, MV_ERROR_LIMIT_EXCEEDED,
                     A " has more than 64 entries");
}

/* ---------------------------------------------------------------------------------------- */
/* The OCI state and config.json themselves                                                 */

static void
test_state_and_rootfs (Fixture *f, gconstpointer data)
{
  static const struct
  {
    const char *state;
    gint64 pid;
  } pids[] = {
    { "{'pid': 4242}", 4242 }, { "{'pid': 9223372036854775807}", G_MAXINT64 },
    { "{'pid': '4242'}", 0 },  { "{'pid': 42.0}", 0 },
    { "{'pid': true}", 0 },    { "{'pid': null}", 0 },
    { "{'pid': {}}", 0 },      { "{}", 0 },
  };
  g_autoptr (GError) error = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (pids); i++)
    {
      g_autoptr (JsonNode) st = parse (f, pids[i].state, FALSE);
      g_assert_cmpint (mv_hook_state_pid (json_node_get_object (st)), ==, pids[i].pid);
    }
  {
    g_autoptr (JsonNode) c1 = parse (f, "{'root': {'path': 'rootfs'}}", TRUE);
    g_autoptr (JsonNode) c2 = parse (f, "{'root': {'path': '/abs/rootfs'}}", TRUE);
    g_autoptr (JsonNode) c3 = parse (f, "{'root': {'path': 3}}", TRUE);
    g_autoptr (JsonNode) c4 = parse (f, "{'root': 'x'}", TRUE);
    g_autofree char *r1 = mv_hook_rootfs (json_node_get_object (c1), "/run/bundle", &error);
    g_autofree char *r2 = mv_hook_rootfs (json_node_get_object (c2), "/run/bundle", &error);
    g_autofree char *r3 = NULL;
    g_assert_no_error (error);
    g_assert_cmpstr (r1, ==, "/run/bundle/rootfs");
    g_assert_cmpstr (r2, ==, "/abs/rootfs");
    r3 = mv_hook_rootfs (json_node_get_object (c3), "/run/bundle", &error);
    g_assert_null (r3);
    g_assert_error (error, MV_ERROR, MV_ERROR_FAILED);
    g_assert_cmpstr (error->message, ==, "config.json has no root.path");
    g_clear_error (&error);
    r3 = mv_hook_rootfs (json_node_get_object (c4), "/run/bundle", &error);
    g_assert_null (r3);
    g_assert_error (error, MV_ERROR, MV_ERROR_FAILED);
    g_clear_error (&error);
  }
  /* The documents: objects only; uint64 integers only where asked for (config.json). */
  {
    static const struct
    {
      const char *text;
      gboolean wide;
      const char *message; /* NULL: accepted */
    } docs[] = {
      { "{}", FALSE, NULL },
      { "", FALSE, "the OCI state is not valid JSON: empty document at byte 0" },
      { "[]", FALSE, "the OCI state is not a JSON object" },
      { "{} {}", FALSE,
        "the OCI state is not valid JSON: data after the top-level value at byte 3" },
      { "6[]", FALSE, "the OCI state is not valid JSON: data after the top-level value at byte 1" },
      { "{\"r\": 18446744073709551615}", TRUE, NULL },
      { "{\"r\": 18446744073709551615}", FALSE,
        "the OCI state is not valid JSON: integer out of range at byte 26" },
      { "{\"a\": \"x\\u0000y\"}", FALSE,
        "the OCI state is not valid JSON: an escaped NUL (\\u0000) in a string at byte 14" },
    };
    for (guint i = 0; i < G_N_ELEMENTS (docs); i++)
      {
        g_autoptr (GBytes) b = g_bytes_new_static (docs[i].text, strlen (docs[i].text));
        g_autoptr (JsonNode) n = mv_hook_parse_json (b, "the OCI state", docs[i].wide, &error);
        g_test_message ("document %u: %s", i, docs[i].text);
        if (docs[i].message == NULL)
          {
            g_assert_no_error (error);
            g_assert_nonnull (n);
          }
        else
          {
            g_assert_null (n);
            g_assert_error (error, MV_ERROR, MV_ERROR_FAILED);
            g_assert_cmpstr (error->message, ==, docs[i].message);
            g_clear_error (&error);
          }
      }
  }
  /* Nesting deeper than 64 levels is refused before json-glib sees it. */
  {
    g_autoptr (GString) deep = g_string_new ("{\"a\": ");
    g_autoptr (GBytes) b = NULL;
    g_autoptr (JsonNode) n = NULL;
    for (guint i = 0; i < 100000; i++)
      g_string_append_c (deep, '[');
    b = g_bytes_new (deep->str, deep->len);
    n = mv_hook_parse_json (b, "the bundle's config.json", TRUE, &error);
    g_assert_null (n);
    g_assert_error (error, MV_ERROR, MV_ERROR_FAILED);
    g_assert_true (g_str_has_prefix (error->message, "the bundle's config.json is not valid JSON"));
  }
}

/* ---------------------------------------------------------------------------------------- */
/* The allowlist                                                                            */

static void
test_allowlist (Fixture *f, gconstpointer data)
{
  static const struct
  {
    const char *ref;
    gboolean allowed;
  } refs[] = {
    { "registry.example.com/org/llama:v1", TRUE },
    { "registry.example.com/llama@sha256:0123", TRUE },
    { "registry.example.com.evil.com/org/llama:v1", FALSE },
    { "registry.example.community/org/llama:v1", FALSE },
    { "evil.com/registry.example.com/x:v1", FALSE },
    /* Another port is another registry: host[:port] entries name one. */
    { "registry.example.com:5000/org/llama:v1", FALSE },
    { "registry.example.co/org/llama:v1", FALSE },
    { "localhost:5000/org/m:v1", TRUE },
    { "localhost:5000/org/sub/m@sha256:0123", TRUE },
    { "localhost:5000/org:v1", TRUE },
    { "localhost:5000/org@sha256:0123", TRUE },
    { "localhost:5000/organisation/m:v1", FALSE },
    { "localhost:5000/other/m:v1", FALSE },
    { "localhost:50001/org/m:v1", FALSE },
    { "localhost/org/m:v1", FALSE },
    { "docker.io/library/busybox:latest", FALSE },
    { "", FALSE },
  };
  static const char *const empty[] = { NULL };
  static const char *const odd[] = { "", "localhost:5000", NULL };

  for (guint i = 0; i < G_N_ELEMENTS (refs); i++)
    {
      g_test_message ("ref '%s'", refs[i].ref);
      g_assert_cmpint (mv_hook_pull_allowed (&f->c, refs[i].ref), ==, refs[i].allowed);
    }
  /* The default: nothing. An empty entry allows nothing; a host:port entry its registry. */
  g_strfreev (f->c.pull_allowlist);
  f->c.pull_allowlist = g_strdupv ((char **)empty);
  g_assert_false (mv_hook_pull_allowed (&f->c, "registry.example.com/org/llama:v1"));
  g_strfreev (f->c.pull_allowlist);
  f->c.pull_allowlist = g_strdupv ((char **)odd);
  g_assert_false (mv_hook_pull_allowed (&f->c, "registry.example.com/org/llama:v1"));
  g_assert_false (mv_hook_pull_allowed (&f->c, "/x"));
  g_assert_true (mv_hook_pull_allowed (&f->c, "localhost:5000/x/y:v1"));
  g_assert_false (mv_hook_pull_allowed (&f->c, "localhost:5000x/y:v1"));
  g_assert_false (mv_hook_pull_allowed (&f->c, "localhost:50000/y:v1"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("/hook-plan/crio/cncf", test_crio_cncf);
  ADD ("/hook-plan/crio/cnai-tar", test_crio_cnai_tar);
  ADD ("/hook-plan/crio/oci-title", test_crio_oci_title);
  ADD ("/hook-plan/crio/subpath", test_crio_subpath);
  ADD ("/hook-plan/crio/bad-manifests", test_crio_bad_manifests);
  ADD ("/hook-plan/crio/bad-volumes", test_crio_bad_volumes);
  ADD ("/hook-plan/crio/left-alone", test_crio_left_alone);
  ADD ("/hook-plan/crio/other-artifact", test_crio_other_artifact);
  ADD ("/hook-plan/crio/two-volumes", test_crio_two_volumes);
  ADD ("/hook-plan/crio/index-fallback", test_crio_index_fallback);
  ADD ("/hook-plan/annotations-precedence", test_annotations_precedence);
  ADD ("/hook-plan/mounts/valid", test_mounts_valid);
  ADD ("/hook-plan/mounts/hostile", test_mounts_hostile);
  ADD ("/hook-plan/mounts/limits", test_mounts_limits);
  ADD ("/hook-plan/state-and-rootfs", test_state_and_rootfs);
  ADD ("/hook-plan/allowlist", test_allowlist);
#undef ADD
  return g_test_run ();
}
