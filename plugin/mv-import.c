/* mv-import: source -> ModelPack manifest -> layers -> model -> name; and the public store
 * calls that take a MODEL string (name, digest or digest prefix).
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <string.h>

#include "mv-config-private.h"
#include "mv-counters-private.h"
#include "mv-digest-private.h"
#include "mv-error-private.h"
#include "mv-fdio-private.h"
#include "mv-imports-private.h"
#include "mv-limits-private.h"
#include "mv-manifest-private.h"
#include "mv-path-private.h"
#include "mv-reference-private.h"
#include "mv-regconf-private.h"
#include "mv-signature-private.h"
#include "mv-source-private.h"
#include "mv-store-private.h"
#include "mv-unpack-private.h"

#define MAX_INDEX_CANDIDATES 64
#define MAX_JOBS 4
#define LAYER_ATTEMPTS 3

static guint import_jobs_override;
static MvProgressFunc progress_func;
static gpointer progress_data;

void
mv_import_set_progress (MvProgressFunc func, gpointer user_data)
{
  progress_func = func;
  progress_data = user_data;
}

static void
report (const char *digest, MvProgressState state, guint64 done, guint64 size)
{
  if (progress_func != NULL)
    progress_func (digest, state, done, size, progress_data);
}

/* Bytes read of a layer, from its import thread. */
static void
layer_progress (guint64 done, gpointer user_data)
{
  const MvDescriptor *d = user_data;
  report (d->digest, MV_PROGRESS_BYTES, done, (guint64)MAX (d->size, 0));
}

void
mv_import_set_jobs (guint jobs)
{
  import_jobs_override = jobs;
}

guint
mv_import_jobs (void)
{
  const char *env = g_getenv ("MODELVOL_JOBS");
  guint64 n = 0;

  if (import_jobs_override > 0)
    return import_jobs_override;

  if (env != NULL && g_ascii_string_to_unsigned (env, 10, 1, 64, &n, NULL))
    return n;
  /* Not the number of cores: a layer alternates between hashing and waiting for the page
   * cache and disk, and the tail of one layer overlaps the head of the next. */
  return MAX_JOBS;
}

static int
descriptor_size_cmp (gconstpointer a, gconstpointer b)
{
  const MvDescriptor *da = *(MvDescriptor *const *)a;
  const MvDescriptor *db = *(MvDescriptor *const *)b;
  return (db->size > da->size) - (db->size < da->size);
}

GBytes *
mv_source_fetch_verified (MvSource *source, const char *digest, gint64 size, gsize max_size,
                          gboolean manifest, GCancellable *cancellable, GError **error)
{
  g_autoptr (GBytes) bytes = NULL;

  if (!mv_digest_validate (digest, NULL, NULL, error))
    return NULL;
  if (size > (gint64)max_size)
    {
      mv_throw (error, MV_ERROR_LIMIT_EXCEEDED,
                "blob %s: declared size %" G_GINT64_FORMAT
                " is above the limit of %" G_GSIZE_FORMAT,
                digest, size, max_size);
      return NULL;
    }
  bytes = source->klass->fetch_bytes (source, digest, size, max_size, manifest, cancellable, error);
  if (bytes == NULL)
    return NULL;
  if (size >= 0 && (gint64)g_bytes_get_size (bytes) != size)
    {
      mv_throw (error, MV_ERROR_DIGEST_MISMATCH,
                "blob %s has %" G_GSIZE_FORMAT " bytes, its descriptor says %" G_GINT64_FORMAT,
                digest, g_bytes_get_size (bytes), size);
      return NULL;
    }
  if (!mv_digest_check_bytes (digest, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes),
                              error))
    return NULL;
  return g_steal_pointer (&bytes);
}

void
mv_signature_candidate_free (MvSignatureCandidate *c)
{
  if (c == NULL)
    return;
  g_free (c->where);
  g_clear_pointer (&c->payload, g_bytes_unref);
  g_free (c->signature_b64);
  g_free (c->set_json);
  g_clear_pointer (&c->bundle, g_bytes_unref);
  g_free (c);
}

/* Fetches and parses the manifest a descriptor names; follows one level of index to the
 * first ModelPack manifest in it. */
static MvManifest *
resolve_manifest (MvSource *source, MvDescriptor *root, char **out_digest, GBytes **out_bytes,
                  GCancellable *cancellable, GError **error)
{
  g_autoptr (GBytes) bytes = NULL;
  g_autofree char *media_type = NULL;
  g_autoptr (MvIndex) index = NULL;

  bytes = mv_source_fetch_verified (source, root->digest, root->size, MV_MANIFEST_MAX_SIZE, TRUE,
                                    cancellable, error);
  if (bytes == NULL)
    return NULL;
  media_type
      = mv_manifest_sniff_media_type (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
  if (media_type == NULL)
    media_type = g_strdup (root->media_type);
  if (g_strcmp0 (media_type, MV_OCI_INDEX) != 0
      && g_strcmp0 (media_type, MV_DOCKER_MANIFEST_LIST) != 0)
    {
      MvManifest *m
          = mv_manifest_parse (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), error);
      if (m == NULL)
        return NULL;
      *out_digest = g_strdup (root->digest);
      *out_bytes = g_steal_pointer (&bytes);
      return m;
    }

  index = mv_index_parse (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), error);
  if (index == NULL)
    return NULL;
  for (guint i = 0; i < index->manifests->len && i < MAX_INDEX_CANDIDATES; i++)
    {
      MvDescriptor *d = index->manifests->pdata[i];
      g_autoptr (GBytes) mb = NULL;
      g_autoptr (MvManifest) m = NULL;

      if (g_strcmp0 (d->media_type, MV_OCI_MANIFEST) != 0)
        continue;
      if (d->artifact_type != NULL
          && mv_mediatype_artifact_family (d->artifact_type) == MV_FAMILY_NONE)
        continue;
      mb = mv_source_fetch_verified (source, d->digest, d->size, MV_MANIFEST_MAX_SIZE, TRUE,
                                     cancellable, error);
      if (mb == NULL)
        return NULL;
      m = mv_manifest_parse (g_bytes_get_data (mb, NULL), g_bytes_get_size (mb), error);
      if (m == NULL)
        return mv_prefix_error (error, "manifest %s in index", d->digest), NULL;
      if (mv_manifest_get_family (m) == MV_FAMILY_NONE)
        continue;
      *out_digest = g_strdup (d->digest);
      *out_bytes = g_steal_pointer (&mb);
      return g_steal_pointer (&m);
    }
  mv_throw (error, MV_ERROR_NOT_MODELPACK, "%s: the index lists no ModelPack manifest",
            source->klass->describe (source));
  return NULL;
}

/* Every raw layer's path is checked, and duplicates refused, before any byte is written. */
static gboolean
check_raw_paths (MvManifest *m, GError **error)
{
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  for (guint i = 0; i < m->layers->len; i++)
    {
      MvDescriptor *d = m->layers->pdata[i];
      const MvLayerMediaType *mt = mv_mediatype_lookup_layer (d->media_type);
      const char *fp;
      char *norm = NULL;

      if (mt == NULL || mt->format != MV_LAYER_FORMAT_RAW)
        continue;
      fp = mv_descriptor_get_filepath (d, TRUE);
      if (fp == NULL)
        return mv_throw (error, MV_ERROR_INVALID_MANIFEST, "raw layer %s has no %s annotation",
                         d->digest, MV_ANNOT_CNCF_FILEPATH);
      if (!mv_path_normalize (fp, MV_PATH_NONE, &norm, error))
        return mv_prefix_error (error, "layer %s: file path", d->digest);
      if (!g_hash_table_add (seen, norm))
        return mv_throw (error, MV_ERROR_UNSAFE_PATH,
                         "layer %s: file path '%s' appears in two layers", d->digest, norm);
    }
  return TRUE;
}

typedef struct
{
  MvStore *store;
  MvSource *source;
  /* The config's modelfs.diffIds, for the store to check each new layer against before
   * publishing it; NULL when none are to be checked so (none listed, or only warned of). */
  char **diff_ids;
  GHashTable *layer_index;   /* blob digest -> its first place in the manifest + 1 */
  GCancellable *cancellable; /* cancelled on the first failure, to stop the others */
  GMutex mutex;
  GError *error; /* the first failure */
} LayerJobs;

/* May this import use the stored copy of layer @d (if there is one)? Only if the source,
 * asked with this import's own credentials, confirms that it would serve the blob: the
 * layer may have been stored by another pull, with other credentials, from another
 * repository (docs/architecture.md, "Reusing stored layers"). */
static gboolean
may_reuse_stored (LayerJobs *jobs, const MvDescriptor *d, gboolean *out_checked,
                  gboolean *out_reuse, GError **error)
{
  gboolean confirmed = TRUE;

  *out_reuse = FALSE;
  if (!mv_store_has_layer (jobs->store, d->digest))
    return TRUE;
  *out_checked = TRUE;
  if (jobs->source->klass->check_blob != NULL
      && !jobs->source->klass->check_blob (jobs->source, d, &confirmed, jobs->cancellable, error))
    return FALSE;
  if (!confirmed)
    g_debug ("layer %s is stored, but %s does not confirm it for this import: fetching it",
             d->digest, jobs->source->klass->describe (jobs->source));
  *out_reuse = confirmed;
  return TRUE;
}

/* Reads a whole blob through the size and digest checks and stores nothing: how an import
 * that the source would not vouch for shows that it has a stored layer's bytes itself. */
static gboolean
verify_blob (GInputStream *blob, const MvDescriptor *d, GCancellable *cancellable, GError **error)
{
  g_autoptr (MvBlobReader) br = mv_blob_reader_new (blob, d->digest, d->size, cancellable);
  const void *data;
  gssize n;

  if (progress_func != NULL)
    mv_blob_reader_set_progress (br, layer_progress, (gpointer)d);
  while ((n = mv_blob_reader_next (br, &data, error)) > 0)
    ;
  return n == 0 && mv_blob_reader_finish (br, error);
}

static void
import_one_layer (gpointer data, gpointer user_data)
{
  MvDescriptor *d = data;
  LayerJobs *jobs = user_data;
  const MvLayerMediaType *mt = mv_mediatype_lookup_layer (d->media_type);
  MvLayerSpec ls = { .digest = d->digest, .size = d->size, .format = mt->format };
  g_autoptr (GInputStream) blob = NULL;
  g_autoptr (GError) local_error = NULL;
  gboolean checked = FALSE, reuse = FALSE;

  mv_autofd int lock_fd = -1;

  if (g_cancellable_is_cancelled (jobs->cancellable))
    return;
  if (!may_reuse_stored (jobs, d, &checked, &reuse, &local_error))
    goto fail;
  if (reuse)
    {
      report (d->digest, MV_PROGRESS_CACHED, 0, (guint64)MAX (d->size, 0));
      return;
    }
  /* One download per layer across threads and processes: the holder imports, the others
   * wait and then find the layer stored (and still need the source's word to use it). */
  lock_fd = mv_store_lock_layer (jobs->store, d->digest, jobs->cancellable, &local_error);
  if (lock_fd < 0)
    goto fail;
  if (!checked && !may_reuse_stored (jobs, d, &checked, &reuse, &local_error))
    goto fail;
  if (reuse)
    {
      report (d->digest, MV_PROGRESS_CACHED, 0, (guint64)MAX (d->size, 0));
      return;
    }
  if (jobs->diff_ids != NULL)
    {
      ls.diff_id_index = GPOINTER_TO_UINT (g_hash_table_lookup (jobs->layer_index, d->digest)) - 1;
      ls.diff_id = jobs->diff_ids[ls.diff_id_index];
    }
  if (mt->format == MV_LAYER_FORMAT_RAW)
    {
      ls.filepath = mv_descriptor_get_filepath (d, TRUE);
      ls.mode = mv_descriptor_get_file_mode (d);
    }
  if (progress_func != NULL)
    {
      ls.progress = layer_progress;
      ls.progress_data = d;
    }
  /* A transfer that breaks mid-blob starts over from byte 0 with a fresh digest: nothing of
   * the failed attempt was published. */
  for (int attempt = 1;; attempt++)
    {
      g_clear_object (&blob);
      g_clear_error (&local_error);
      report (d->digest, MV_PROGRESS_START, 0, (guint64)MAX (d->size, 0));
      blob = jobs->source->klass->open_blob (jobs->source, d, jobs->cancellable, &local_error);
      /* A stored layer the source did not vouch for is fetched and checked, not stored again. */
      if (blob != NULL
          && (checked ? verify_blob (blob, d, jobs->cancellable, &local_error)
                      : mv_store_import_layer (jobs->store, &ls, blob, jobs->cancellable,
                                               &local_error)))
        {
          report (d->digest, MV_PROGRESS_DONE, (guint64)MAX (d->size, 0),
                  (guint64)MAX (d->size, 0));
          __atomic_fetch_add (&jobs->source->bytes_read, (guint64)MAX (d->size, 0),
                              __ATOMIC_RELAXED);
          return;
        }
      if (attempt == LAYER_ATTEMPTS
          || !(g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED)
               || g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT)))
        break;
      g_debug ("layer %s: %s; starting it over (attempt %d of %d)", d->digest, local_error->message,
               attempt + 1, LAYER_ATTEMPTS);
    }
fail:
  g_mutex_lock (&jobs->mutex);
  /* The first real failure wins; the others only saw our cancellation. */
  if (jobs->error == NULL && !g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    jobs->error = g_steal_pointer (&local_error);
  g_mutex_unlock (&jobs->mutex);
  g_cancellable_cancel (jobs->cancellable);
}

/* Imports the layers the store lacks, several at a time: each layer is read once and hashed
 * as it flows, and parallel layers keep both cores busy with hashing and writing. */
static gboolean
import_layers (MvStore *store, MvSource *source, MvManifest *m, char **diff_ids,
               GCancellable *cancellable, GError **error)
{
  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  LayerJobs jobs = { .store = store, .source = source, .layer_index = seen };
  g_autoptr (GPtrArray) todo = g_ptr_array_new ();
  GThreadPool *pool;
  gulong handler = 0;
  guint n_threads;

  for (guint i = 0; i < m->layers->len; i++)
    {
      MvDescriptor *d = m->layers->pdata[i];
      if (g_hash_table_contains (seen, d->digest))
        continue; /* the same blob twice in one manifest */
      g_hash_table_insert (seen, d->digest, GUINT_TO_POINTER (i + 1));
      /* Stored layers need no thread unless the source must vouch for them. */
      if (source->klass->check_blob == NULL && mv_store_has_layer (store, d->digest))
        {
          g_debug ("layer %s is already stored", d->digest);
          report (d->digest, MV_PROGRESS_CACHED, 0, (guint64)MAX (d->size, 0));
          continue;
        }
      g_ptr_array_add (todo, d);
    }
  if (todo->len == 0)
    return TRUE;

  /* Warnings come from check_diff_ids(), once, for stored and new layers alike. */
  if (mv_limits ()->diff_ids != MV_DIFF_IDS_WARN)
    jobs.diff_ids = diff_ids;
  n_threads = MIN (todo->len, mv_import_jobs ());
  jobs.cancellable = g_cancellable_new ();
  g_mutex_init (&jobs.mutex);
  if (cancellable != NULL)
    handler = g_cancellable_connect (cancellable, G_CALLBACK (g_cancellable_cancel),
                                     jobs.cancellable, NULL);
  /* Largest first, so that a big layer does not start last and run alone. */
  g_ptr_array_sort (todo, descriptor_size_cmp);
  if (n_threads <= 1)
    {
      for (guint i = 0; i < todo->len; i++)
        import_one_layer (todo->pdata[i], &jobs);
    }
  else
    {
      pool = g_thread_pool_new (import_one_layer, &jobs, n_threads, TRUE, NULL);
      for (guint i = 0; i < todo->len; i++)
        g_thread_pool_push (pool, todo->pdata[i], NULL);
      g_thread_pool_free (pool, FALSE, TRUE);
    }
  if (handler != 0)
    g_cancellable_disconnect (cancellable, handler);
  g_mutex_clear (&jobs.mutex);

  if (jobs.error == NULL && g_cancellable_is_cancelled (jobs.cancellable))
    g_set_error_literal (&jobs.error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "cancelled");
  g_object_unref (jobs.cancellable);
  if (jobs.error != NULL)
    {
      g_propagate_error (error, jobs.error);
      return FALSE;
    }
  return TRUE;
}

/* The config's modelfs.diffIds, one per layer, as [import] diff-ids wants them (see
 * mv_diff_id_check()): *out_ids NULL when the config lists none and the policy lets that
 * pass (compatible, warn), or when the list does not fit the layers and only a warning is
 * due. */
static gboolean
config_diff_ids (GBytes *config, const char *digest, guint n_layers, char ***out_ids,
                 GError **error)
{
  MvDiffIdPolicy policy = mv_limits ()->diff_ids;
  g_autoptr (MvModelConfig) c
      = mv_config_parse (g_bytes_get_data (config, NULL), g_bytes_get_size (config), NULL);
  guint n = c != NULL && c->diff_ids != NULL ? g_strv_length (c->diff_ids) : 0;
  g_autofree char *problem = NULL;

  *out_ids = NULL;
  if (n > 0 && n == n_layers)
    {
      *out_ids = g_steal_pointer (&c->diff_ids);
      return TRUE;
    }
  if (n == 0 && policy != MV_DIFF_IDS_STRICT)
    return TRUE;
  problem = n == 0 ? g_strdup ("lists no modelfs.diffIds")
                   : g_strdup_printf ("lists %u modelfs.diffIds for %u layers", n, n_layers);
  if (policy == MV_DIFF_IDS_WARN)
    {
      g_warning ("config %s %s", digest, problem);
      return TRUE;
    }
  return mv_throw (error, MV_ERROR_INVALID_MANIFEST, "config %s %s ([import] diff-ids=%s)", digest,
                   problem, mv_diff_id_policy_to_string (policy));
}

/* Every layer, new or stored before (perhaps by another model), against the config. */
static gboolean
check_diff_ids (MvStore *store, MvManifest *m, char **diff_ids, GError **error)
{
  for (guint i = 0; diff_ids != NULL && i < m->layers->len; i++)
    {
      MvDescriptor *d = m->layers->pdata[i];
      g_autofree char *actual = mv_store_layer_diff_id (store, d->digest);
      if (!mv_diff_id_check (d->digest, i, actual, diff_ids[i], error))
        return mv_prefix_error (error, "layer %s", d->digest);
    }
  return TRUE;
}

/* Keeps @verdict with the model, unless the one kept already says the same (but for when it
 * was made): a pull of an intact model writes nothing, and verified-at is when the model was
 * first verified with this outcome. */
static gboolean
keep_verdict (MvStore *store, const char *digest, MvVerdict *verdict, GCancellable *cancellable,
              GError **error)
{
  g_autoptr (GBytes) old_json = mv_store_get_signature (store, digest, NULL);
  g_autoptr (MvVerdict) old = old_json ? mv_verdict_parse (old_json, NULL) : NULL;
  g_autoptr (GBytes) json = NULL;

  if (old != NULL)
    {
      gint64 now = verdict->verified_at;
      verdict->verified_at = old->verified_at;
      json = mv_verdict_to_json (verdict);
      if (g_bytes_equal (json, old_json))
        return TRUE;
      verdict->verified_at = now;
      g_clear_pointer (&json, g_bytes_unref);
    }
  json = mv_verdict_to_json (verdict);
  return mv_store_set_signature (store, digest, json, cancellable, error);
}

static char *
default_name (const char *ref_name)
{
  g_autoptr (MvReference) ref = NULL;

  /* skopeo's oci:DIR:TAG stores just "TAG"; CRI-O stores the full reference. Only the
   * latter names a model. */
  if (ref_name == NULL || strchr (ref_name, '/') == NULL)
    return NULL;
  ref = mv_reference_parse (ref_name, MV_REFERENCE_NONE, NULL);
  return ref ? mv_reference_to_string (ref) : NULL;
}

gboolean
mv_import_from_source (MvStore *store, MvSource *source, const char *name, char **out_digest,
                       GCancellable *cancellable, GError **error)
{
  return mv_import_from_source_checked (store, source, name, NULL, NULL, out_digest, cancellable,
                                        error);
}

gboolean
mv_import_from_source_checked (MvStore *store, MvSource *source, const char *name,
                               const MvSignatureSettings *signatures, const char *reference,
                               char **out_digest, GCancellable *cancellable, GError **error)
{
  g_autoptr (MvVerdict) verdict = NULL;
  g_auto (MvStoreLock) lock = { 0 };
  g_auto (MvImportLock) import_lock = { 0 };
  g_autoptr (MvDescriptor) root = NULL;
  g_autofree char *ref_name = NULL;
  g_autofree char *digest = NULL;
  g_autofree char *auto_name = NULL;
  g_autoptr (GBytes) manifest_bytes = NULL;
  g_autoptr (GBytes) config_bytes = NULL;
  g_auto (GStrv) diff_ids = NULL;
  g_autoptr (MvManifest) m = NULL;
  g_autoptr (GPtrArray) layer_digests = g_ptr_array_new ();
  const char *what = source->klass->describe (source);
  MvModelSpec spec = { 0 };
  gboolean repairing = FALSE;

  root = source->klass->get_root (source, &ref_name, cancellable, error);
  if (root == NULL)
    return FALSE;
  /* The reference resolved to @root->digest once; the signatures are checked for that digest
   * before anything else is fetched, and everything after goes by digest. */
  if (signatures != NULL)
    {
      if (!mv_signature_verify_source (source, signatures, reference, root->digest, &verdict,
                                       cancellable, error))
        return FALSE;
      /* Audit mode: the refusal is in the verdict; the CLI and the hook report it. */
      if (!verdict->accepted)
        g_debug ("%s: %s; pulling anyway (audit mode)", reference, verdict->reason);
    }
  m = resolve_manifest (source, root, &digest, &manifest_bytes, cancellable, error);
  if (m == NULL)
    return mv_prefix_error (error, "%s", what);
  if (!mv_manifest_check_modelpack (m, error))
    return mv_prefix_error (error, "%s", what);
  if (!check_raw_paths (m, error))
    return mv_prefix_error (error, "%s", what);
  config_bytes = mv_source_fetch_verified (source, m->config->digest, m->config->size,
                                           MV_CONFIG_MAX_SIZE, FALSE, cancellable, error);
  if (config_bytes == NULL)
    return mv_prefix_error (error, "%s: config", what);
  if (!config_diff_ids (config_bytes, m->config->digest, m->layers->len, &diff_ids, error))
    return mv_prefix_error (error, "%s", what);

  /* One import of a model at a time (watch, CLI, hook): the hook waits for a running one
   * instead of starting its own (mv_import_lock_wait), and a second import here finds the
   * model stored when the first is done. Layer locks still share layers across models. */
  if (!mv_import_lock_acquire (mv_store_get_run_dir (store), digest, &import_lock, cancellable,
                               error))
    return mv_prefix_error (error, "%s", what);

  for (guint i = 0; i < m->layers->len; i++)
    g_ptr_array_add (layer_digests, ((MvDescriptor *)m->layers->pdata[i])->digest);
  /* A model fsck marked damaged (or whose checkout no longer matches its objects) loses its
   * damaged objects and the layers that hold them here; the import below fetches those again
   * and verifies every byte, as for a new model. Before our shared lock: this takes the
   * exclusive one for a moment. */
  if (!mv_store_repair_prepare (store, digest, (const char *const *)layer_digests->pdata,
                                layer_digests->len, &repairing, cancellable, error))
    return mv_prefix_error (error, "%s: repairing model %s", what, digest);

  /* Held until the name is set: prune must never see our layers before their model. */
  if (!mv_store_lock_acquire (store, FALSE, &lock, cancellable, error))
    return FALSE;

  /* Even for a stored model: each layer is this import's only once the source vouches for it
   * (or this import fetched it), as for any stored layer. A repair removed the damaged ones. */
  if (!import_layers (store, source, m, diff_ids, cancellable, error))
    return mv_prefix_error (error, "%s", what);
  if (!check_diff_ids (store, m, diff_ids, error))
    return mv_prefix_error (error, "%s", what);
  if (!mv_store_has_model (store, digest))
    {
      spec.digest = digest;
      spec.manifest = manifest_bytes;
      spec.config = config_bytes;
      spec.artifact_type = m->artifact_type ? m->artifact_type : m->config->media_type;
      spec.layer_digests = (const char *const *)layer_digests->pdata;
      spec.n_layers = layer_digests->len;
      if (!mv_store_commit_model (store, &spec, cancellable, error))
        return mv_prefix_error (error, "%s", what);
    }
  if (repairing
      && !mv_store_repair_finish (store, digest, (const char *const *)layer_digests->pdata,
                                  layer_digests->len, cancellable, error))
    return mv_prefix_error (error, "%s: repairing model %s", what, digest);

  if (verdict != NULL && !keep_verdict (store, digest, verdict, cancellable, error))
    return mv_prefix_error (error, "%s", what);
  if (name == NULL)
    {
      auto_name = default_name (ref_name);
      name = auto_name;
    }
  if (name != NULL && *name != '\0' && !mv_store_set_name (store, name, digest, error))
    return FALSE;
  if (out_digest)
    *out_digest = g_steal_pointer (&digest);
  return TRUE;
}

static gboolean
import_layout (MvStore *store, const char *layout_dir, const char *entry, const char *name,
               char **out_digest, guint64 *bytes_read, GCancellable *cancellable, GError **error)
{
  g_autoptr (MvSource) source = NULL;
  g_autoptr (MvReference) ref = NULL;
  g_autofree char *normalized = NULL;
  gboolean ok;

  if (name != NULL && *name == '\0')
    normalized = g_strdup ("");
  else if (name != NULL)
    {
      ref = mv_reference_parse (name, MV_REFERENCE_NONE, error);
      if (ref == NULL)
        return FALSE;
      normalized = mv_reference_to_string (ref);
    }
  source = mv_layout_source_new (layout_dir, entry, error);
  if (source == NULL)
    return FALSE;
  ok = mv_import_from_source (store, source, normalized, out_digest, cancellable, error);
  *bytes_read = source->bytes_read;
  return ok;
}

gboolean
mv_store_import_layout (MvStore *store, const char *layout_dir, const char *entry, const char *name,
                        char **out_digest, GCancellable *cancellable, GError **error)
{
  gint64 start = g_get_monotonic_time ();
  guint64 bytes = 0;
  gboolean ok
      = import_layout (store, layout_dir, entry, name, out_digest, &bytes, cancellable, error);

  mv_counters_record (mv_store_get_root (store), MV_COUNTER_IMPORT, ok, bytes,
                      g_get_monotonic_time () - start);
  return ok;
}

static gboolean
pull_with_options (MvStore *store, const char *reference, const MvRegistryOptions *opts,
                   const char *name, char **out_digest, guint64 *bytes_read,
                   GCancellable *cancellable, GError **error)
{
  g_autoptr (MvReference) ref = mv_reference_parse (reference, MV_REFERENCE_NONE, error);
  g_autoptr (GPtrArray) entries = NULL;
  g_autoptr (GPtrArray) candidates = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GArray) insecure = g_array_new (FALSE, FALSE, sizeof (gboolean));
  g_autofree char *normalized = NULL;
  g_autofree char *repository = NULL;
  g_autofree char *target_name = NULL;
  g_auto (MvSignatureSettings) signatures = { 0 };
  const MvRegistryEntry *entry;

  if (ref == NULL)
    return FALSE;
  if (!mv_signature_settings_get (store, &signatures, error))
    return FALSE;
  normalized = mv_reference_to_string (ref);
  repository = mv_reference_repository (ref);
  if (name != NULL)
    {
      g_autoptr (MvReference) nref = mv_reference_parse (name, MV_REFERENCE_NONE, error);
      if (nref == NULL)
        return FALSE;
      target_name = mv_reference_to_string (nref);
    }
  else
    target_name = g_strdup (normalized);

  /* registries.conf: blocked prefixes, location rewrites, mirrors tried before the origin. */
  entries = mv_regconf_load (opts->registries_conf, error);
  if (entries == NULL)
    return FALSE;
  entry = mv_regconf_match (entries, repository);
  if (entry != NULL && entry->blocked)
    return mv_throw (error, MV_ERROR_INVALID_REFERENCE,
                     "%s: registry '%s' is blocked in registries.conf", normalized, entry->prefix);
  if (entry != NULL)
    {
      const char *rest = normalized + strlen (entry->prefix);
      for (guint i = 0; i < entry->mirrors->len; i++)
        {
          MvMirror *m = entry->mirrors->pdata[i];
          gboolean v = m->insecure || !opts->tls_verify;
          g_ptr_array_add (candidates, g_strconcat (m->location, rest, NULL));
          g_array_append_val (insecure, v);
        }
      {
        gboolean v = entry->insecure || !opts->tls_verify;
        g_ptr_array_add (candidates, g_strconcat (entry->location, rest, NULL));
        g_array_append_val (insecure, v);
      }
    }
  else
    {
      gboolean v = !opts->tls_verify;
      g_ptr_array_add (candidates, g_strdup (normalized));
      g_array_append_val (insecure, v);
    }

  for (guint i = 0; i < candidates->len; i++)
    {
      const char *cand = candidates->pdata[i];
      gboolean last = i + 1 == candidates->len;
      MvRegistryOptions copts = *opts;
      g_autoptr (GError) local_error = NULL;
      g_autoptr (MvSource) source = NULL;

      copts.tls_verify = !g_array_index (insecure, gboolean, i);
      source = mv_registry_source_new (cand, &copts, &local_error);
      if (source != NULL
          && mv_import_from_source_checked (store, source, target_name, &signatures, normalized,
                                            out_digest, cancellable, &local_error))
        {
          *bytes_read += source->bytes_read;
          return TRUE;
        }
      if (source != NULL)
        *bytes_read += source->bytes_read;
      if (last || g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
      g_debug ("mirror %s: %s; trying the next source", cand, local_error->message);
    }
  g_assert_not_reached ();
}

gboolean
mv_pull_with_options (MvStore *store, const char *reference, const MvRegistryOptions *opts,
                      const char *name, char **out_digest, GCancellable *cancellable,
                      GError **error)
{
  gint64 start = g_get_monotonic_time ();
  guint64 bytes = 0;
  gboolean ok
      = pull_with_options (store, reference, opts, name, out_digest, &bytes, cancellable, error);

  mv_counters_record (mv_store_get_root (store), MV_COUNTER_PULL, ok, bytes,
                      g_get_monotonic_time () - start);
  return ok;
}

gboolean
mv_store_pull (MvStore *store, const char *reference, MvPullFlags flags, const char *authfile,
               char **out_digest, GCancellable *cancellable, GError **error)
{
  MvRegistryOptions opts = { .tls_verify = !(flags & MV_PULL_TLS_NO_VERIFY), .authfile = authfile };
  return mv_pull_with_options (store, reference, &opts, NULL, out_digest, cancellable, error);
}

/* ---------------------------------------------------------------------------------------- */
/* MODEL strings                                                                            */

static gboolean
looks_like_digest (const char *s)
{
  gsize n = strlen (s);
  if (g_str_has_prefix (s, "sha256:") || g_str_has_prefix (s, "sha512:"))
    return TRUE;
  return n >= 4 && strspn (s, "0123456789abcdef") == n;
}

/* Resolves MODEL; @out_name is set (normalized) when MODEL was a name. */
static char *
resolve_model (MvStore *store, const char *model, char **out_name, GError **error)
{
  g_autoptr (MvReference) ref = NULL;
  g_autoptr (GError) name_error = NULL;
  g_autofree char *name = NULL;
  char *digest;

  if (looks_like_digest (model))
    {
      g_autoptr (GError) local_error = NULL;
      digest = mv_store_find_digest (store, model, &local_error);
      if (digest != NULL)
        return digest;
      /* All-hex strings can be names too ("docker.io/library/abcd:latest"). */
      if (g_str_has_prefix (model, "sha")
          || !g_error_matches (local_error, MV_ERROR, MV_ERROR_NOT_FOUND))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return NULL;
        }
    }
  ref = mv_reference_parse (model, MV_REFERENCE_NONE, &name_error);
  if (ref == NULL)
    {
      g_autofree char *shown = mv_escape_for_display (model, 200);
      mv_throw (error, MV_ERROR_NOT_FOUND, "no model '%s' (%s)", shown, name_error->message);
      return NULL;
    }
  name = mv_reference_to_string (ref);
  digest = mv_store_lookup_name (store, name, error);
  if (digest != NULL && out_name)
    *out_name = g_steal_pointer (&name);
  return digest;
}

gboolean
mv_store_resolve (MvStore *store, const char *model, char **out_digest, GError **error)
{
  char *digest = resolve_model (store, model, NULL, error);
  if (digest == NULL)
    return FALSE;
  *out_digest = digest;
  return TRUE;
}

gboolean
mv_store_get_signature_verdict (MvStore *store, const char *model, char **out_json, GError **error)
{
  g_autofree char *digest = resolve_model (store, model, NULL, error);
  g_autoptr (GError) local_error = NULL;
  g_autoptr (GBytes) verdict = NULL;

  if (digest == NULL)
    return FALSE;
  verdict = mv_store_get_signature (store, digest, &local_error);
  if (local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  *out_json
      = verdict ? g_strndup (g_bytes_get_data (verdict, NULL), g_bytes_get_size (verdict)) : NULL;
  return TRUE;
}

gboolean
mv_store_check_signature (MvStore *store, const char *model, const char *reference, GError **error)
{
  g_auto (MvSignatureSettings) settings = { 0 };
  g_autofree char *name = NULL;
  g_autofree char *digest = resolve_model (store, model, &name, error);
  g_autofree char *normalized = NULL;
  g_autoptr (GError) local_error = NULL;
  g_autoptr (GBytes) bytes = NULL;
  g_autoptr (MvVerdict) verdict = NULL;
  g_autoptr (MvPolicy) policy = NULL;

  if (digest == NULL)
    return FALSE;
  if (reference != NULL)
    {
      normalized = mv_reference_normalize (reference, error);
      if (normalized == NULL)
        return FALSE;
    }
  bytes = mv_store_get_signature (store, digest, &local_error);
  if (local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  if (bytes != NULL && (verdict = mv_verdict_parse (bytes, error)) == NULL)
    return mv_prefix_error (error, "model %s", digest);
  if (normalized == NULL)
    normalized = g_strdup (name ? name : verdict ? verdict->reference : NULL);
  if (normalized == NULL)
    return mv_throw (error, MV_ERROR_INVALID_REFERENCE,
                     "model %s: no reference to check its signature for (give one)", digest);
  if (!mv_signature_settings_get (store, &settings, error))
    return FALSE;
  policy = mv_policy_load (settings.policy, error);
  if (policy == NULL)
    return FALSE;
  return mv_verdict_satisfies (verdict, policy, settings.policy, normalized, error);
}

MvModelInfo *
mv_store_get_model (MvStore *store, const char *model, GError **error)
{
  g_autofree char *digest = resolve_model (store, model, NULL, error);
  if (digest == NULL)
    return NULL;
  return mv_store_get_model_by_digest (store, digest, error);
}

char *
mv_reference_normalize (const char *reference, GError **error)
{
  g_autoptr (MvReference) ref = mv_reference_parse (reference, MV_REFERENCE_NONE, error);
  return ref ? mv_reference_to_string (ref) : NULL;
}

gboolean
mv_store_checkout (MvStore *store, const char *model, char **out_path, GCancellable *cancellable,
                   GError **error)
{
  g_autofree char *digest = resolve_model (store, model, NULL, error);
  if (digest == NULL)
    return FALSE;
  return mv_store_checkout_intact (store, digest, model, out_path, cancellable, error);
}

gboolean
mv_store_remove (MvStore *store, const char *model, GError **error)
{
  g_autofree char *name = NULL;
  g_autofree char *digest = resolve_model (store, model, &name, error);
  if (digest == NULL)
    return FALSE;
  if (name != NULL)
    return mv_store_remove_name (store, name, NULL, error);
  return mv_store_remove_model (store, digest, NULL, error);
}
