/* modelvol watch: the node service. Imports every ModelPack artifact CRI-O pulls into its
 * artifact store, keeps the pinned models of modelvol.conf pulled, and prunes by policy.
 *
 * One GLib main loop owns the schedule: the artifact store's directory is watched
 * (index.json is replaced by rename), pins and the prune policy run on a timer. Every store
 * operation runs in one worker thread, one at a time, so the loop stays responsive to signals
 * and to the artifact store while a large model imports. SIGTERM and SIGINT cancel the
 * running job (imports publish atomically: a cancelled one leaves nothing half visible) and
 * end the service with 0 once the worker is done. systemd: Type=notify (READY=1 after the
 * first scan, STATUS= lines, STOPPING=1), one log line per event on stderr, with syslog
 * priority prefixes when stderr is the journal.
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <glib-unix.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include "mv-builtins.h"
#include "mv-error-private.h"
#include "mv-fdio-private.h"
#include "mv-imports-private.h"
#include "mv-integrity-private.h"
#include "mv-attach-private.h"
#include "mv-limits-private.h"
#include "mv-metrics-private.h"
#include "mv-store-private.h"
#include "mv-uses-private.h"

#define INDEX_MAX (4 * 1024 * 1024)
#define SCAN_DELAY_MS 200
#define PRUNE_INTERVAL_DEFAULT 600
#define MAX_EVICTIONS 10000

/* ---------------------------------------------------------------------------------------- */
/* Logging and sd_notify                                                                    */

static gboolean log_to_journal;

/* JOURNAL_STREAM is "dev:ino" of the journal's stream; it only counts if stderr is that
 * stream (a child of the service with stderr redirected must not print prefixes). */
static gboolean
stderr_is_journal (void)
{
  const char *js = g_getenv ("JOURNAL_STREAM");
  struct stat st;
  guint64 dev, ino;

  if (js == NULL || sscanf (js, "%" G_GUINT64_FORMAT ":%" G_GUINT64_FORMAT, &dev, &ino) != 2)
    return FALSE;
  return fstat (STDERR_FILENO, &st) == 0 && st.st_dev == dev && st.st_ino == ino;
}

static void wlog (int priority, const char *fmt, ...) G_GNUC_PRINTF (2, 3);

/* One line per event, from any thread; what came from outside is escaped. */
static void
wlog (int priority, const char *fmt, ...)
{
  static const char *const words[]
      = { "emerg", "alert", "crit", "error", "warning", "notice", "info", "debug" };
  va_list ap;
  g_autofree char *msg = NULL;
  g_autofree char *shown = NULL;

  va_start (ap, fmt);
  msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  shown = mv_sanitize (msg);
  if (log_to_journal)
    fprintf (stderr, "<%d>%s\n", priority, shown);
  else
    fprintf (stderr, "modelvol watch: %s: %s\n", words[priority & 7], shown);
  fflush (stderr);
}

/* The sd_notify protocol (sd_notify(3)): one datagram to $NOTIFY_SOCKET, a path or an
 * abstract socket ("@name"). Written here rather than linking libsystemd for four lines. */
static void notify (const char *fmt, ...) G_GNUC_PRINTF (1, 2);

static void
notify (const char *fmt, ...)
{
  const char *path = g_getenv ("NOTIFY_SOCKET");
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  g_autofree char *msg = NULL;
  mv_autofd int fd = -1;
  socklen_t len;
  va_list ap;

  if (path == NULL || (path[0] != '/' && path[0] != '@') || strlen (path) >= sizeof sa.sun_path)
    return;
  va_start (ap, fmt);
  msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  memcpy (sa.sun_path, path, strlen (path));
  if (path[0] == '@')
    sa.sun_path[0] = '\0';
  len = offsetof (struct sockaddr_un, sun_path) + strlen (path);
  fd = socket (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || sendto (fd, msg, strlen (msg), MSG_NOSIGNAL, (struct sockaddr *)&sa, len) < 0)
    g_debug ("sd_notify: %s", g_strerror (errno));
}

/* ---------------------------------------------------------------------------------------- */
/* Configuration                                                                            */

typedef struct
{
  char *path;              /* modelvol.conf, for messages */
  char *root;              /* [store] root (nullable: the CLI's default) */
  char *artifacts;         /* [crio] graphroot + /artifacts */
  char **pins;             /* [watch] pins, normalized */
  guint64 max_store_bytes; /* [watch] max-store-bytes, 0: no limit */
  guint max_disk_fill;     /* [watch] max-disk-fill, percent, 0: no limit */
  guint prune_interval;    /* [watch] prune-interval, seconds */
  guint pin_refresh;       /* [watch] pin-refresh, seconds, 0: a stored pin is not pulled again */
  char *auth_file;         /* [registries] auth-file (nullable) */
  char *registries_conf;   /* [registries] conf (nullable) */
  char *run_dir;           /* [store] run-dir (nullable) */
  MvMetricsConfig metrics; /* [metrics]: textfile, listen, interval */
} WatchConfig;

static void
watch_config_clear (WatchConfig *c)
{
  g_free (c->path);
  g_free (c->root);
  g_free (c->artifacts);
  g_strfreev (c->pins);
  g_free (c->auth_file);
  g_free (c->registries_conf);
  g_free (c->run_dir);
  mv_metrics_config_clear (&c->metrics);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (WatchConfig, watch_config_clear)

static gboolean
config_number (GKeyFile *kf, const WatchConfig *c, const char *key, guint64 min, guint64 max,
               guint64 *inout, GError **error)
{
  g_autofree char *v = g_key_file_get_string (kf, "watch", key, NULL);
  if (v == NULL)
    return TRUE;
  if (!g_ascii_string_to_unsigned (g_strstrip (v), 10, min, max, inout, NULL))
    return mv_throw (error, MV_ERROR_FAILED,
                     "config '%s': [watch] %s must be a whole number from %" G_GUINT64_FORMAT
                     " to %" G_GUINT64_FORMAT,
                     c->path, key, min, max);
  return TRUE;
}

/* Reads modelvol.conf into @c. At the start (not @reload) it also sets the environment the
 * library reads ([store] run-dir, [registries] conf); a reload, with the worker running, must
 * not: those take a restart. */
static gboolean
load_config (WatchConfig *c, gboolean reload, GError **error)
{
  static const char *const known[]
      = { "pins", "max-store-bytes", "max-disk-fill", "prune-interval", "pin-refresh", NULL };
  g_autoptr (GKeyFile) kf = g_key_file_new ();
  g_autofree char *graphroot = NULL;
  g_auto (GStrv) keys = NULL;
  g_auto (GStrv) pins = NULL;
  guint64 n;

  c->path = g_strdup (mv_config_path (NULL));
  if (!mv_config_load (kf, error) || !mv_limits_check (error))
    return FALSE;
  keys = g_key_file_get_keys (kf, "watch", NULL, NULL);
  for (guint i = 0; keys != NULL && keys[i] != NULL; i++)
    if (!g_strv_contains (known, keys[i]))
      return mv_throw (error, MV_ERROR_FAILED, "config '%s': [watch] %s is not a known key",
                       c->path, keys[i]);

  c->root = g_key_file_get_string (kf, "store", "root", NULL);
  if (c->root != NULL && !g_path_is_absolute (c->root))
    return mv_throw (error, MV_ERROR_FAILED, "config '%s': [store] root must be absolute", c->path);
  c->run_dir = g_key_file_get_string (kf, "store", "run-dir", NULL);
  if (c->run_dir != NULL && !g_path_is_absolute (c->run_dir))
    return mv_throw (error, MV_ERROR_FAILED, "config '%s': [store] run-dir must be absolute",
                     c->path);
  /* The library finds use records and import locks through it, as the hook's do. */
  if (c->run_dir != NULL && !reload)
    g_setenv ("MODELVOL_RUN_DIR", c->run_dir, TRUE);
  graphroot = g_key_file_get_string (kf, "crio", "graphroot", NULL);
  if (graphroot == NULL)
    graphroot = g_strdup ("/var/lib/containers/storage");
  if (!g_path_is_absolute (graphroot))
    return mv_throw (error, MV_ERROR_FAILED, "config '%s': [crio] graphroot must be absolute",
                     c->path);
  c->artifacts = g_build_filename (graphroot, "artifacts", NULL);

  pins = g_key_file_get_string_list (kf, "watch", "pins", NULL, NULL);
  c->pins = g_new0 (char *, pins ? g_strv_length (pins) + 1 : 1);
  for (guint i = 0, j = 0; pins != NULL && pins[i] != NULL; i++)
    {
      g_autoptr (GError) local_error = NULL;
      char *normalized;
      g_strstrip (pins[i]);
      if (*pins[i] == '\0')
        continue;
      normalized = mv_reference_normalize (pins[i], &local_error);
      if (normalized == NULL)
        return mv_throw (error, MV_ERROR_FAILED, "config '%s': [watch] pins: %s", c->path,
                         local_error->message);
      c->pins[j++] = normalized;
    }

  n = 0;
  if (!config_number (kf, c, "max-store-bytes", 0, G_MAXINT64, &n, error))
    return FALSE;
  c->max_store_bytes = n;
  n = 0;
  if (!config_number (kf, c, "max-disk-fill", 0, 100, &n, error))
    return FALSE;
  c->max_disk_fill = (guint)n;
  n = PRUNE_INTERVAL_DEFAULT;
  if (!config_number (kf, c, "prune-interval", 1, 7 * 24 * 3600, &n, error))
    return FALSE;
  c->prune_interval = (guint)n;
  n = 0;
  if (!config_number (kf, c, "pin-refresh", 0, 30 * 24 * 3600, &n, error))
    return FALSE;
  c->pin_refresh = (guint)n;

  c->registries_conf = g_key_file_get_string (kf, "registries", "conf", NULL);
  if (c->registries_conf != NULL && !reload)
    g_setenv ("CONTAINERS_REGISTRIES_CONF", c->registries_conf, TRUE);
  c->auth_file = g_key_file_get_string (kf, "registries", "auth-file", NULL);
  return mv_metrics_config_load (&c->metrics, error);
}

/* ---------------------------------------------------------------------------------------- */
/* Jobs: run one at a time by the worker thread                                             */

typedef enum
{
  JOB_IMPORT,  /* an artifact of CRI-O's store, by manifest digest */
  JOB_PIN,     /* a pinned reference: pull it if missing or damaged */
  JOB_PRUNE,   /* the eviction policy */
  JOB_METRICS, /* [metrics] textfile rewritten: a pass over the store, so not on the loop */
  JOB_QUIT,
} JobKind;

typedef enum
{
  RESULT_OK,
  RESULT_IGNORED, /* not a ModelPack artifact */
  RESULT_FAILED,
  RESULT_CANCELLED,
} ResultKind;

typedef struct Watch Watch;

typedef struct
{
  Watch *watch;
  JobKind kind;
  char *key; /* digest (import) or reference (pin) */
  char *ref; /* import: the entry's ref name, for messages (nullable) */
  ResultKind result;
} Job;

struct Watch
{
  WatchConfig conf;
  MvStore *store;
  GMainLoop *loop;
  GAsyncQueue *queue;
  GThread *worker;
  GCancellable *cancellable; /* cancels the running job at shutdown */
  GHashTable *known;         /* digests seen in index.json and handled (main thread) */
  GHashTable *pending;       /* keys of queued or running jobs (main thread) */
  GFileMonitor *monitor;
  guint scan_source;
  gboolean monitor_failed;
  gboolean told_stuck; /* worker: the policy cannot meet its limits (warned once) */
  gboolean stopping;
  Job *running;            /* main thread's view, for STATUS */
  GSocketService *metrics; /* [metrics] listen: GET /metrics (nullable) */
  guint tick_id;
  GHashTable *pin_pulled; /* worker: pin -> when this service last pulled it (monotonic us) */
  /* A reload (SIGHUP, main thread) replaces conf.pins and the limits while the worker may
   * read them: the worker takes them under this lock. */
  GMutex conf_lock;
};

static void
job_free (Job *job)
{
  g_free (job->key);
  g_free (job->ref);
  g_free (job);
}

static const char *
job_label (const Job *job)
{
  return job->ref != NULL ? job->ref : job->key;
}

/* The unnamed model @digest has been stored: check it out, so the hook's warm path (no
 * libmodelvol) finds it ready. */
static gboolean
checkout (Watch *w, const char *digest, GError **error)
{
  g_autofree char *path = NULL;
  return mv_store_checkout (w->store, digest, &path, w->cancellable, error);
}

static ResultKind
result_of (GError *error)
{
  if (error == NULL)
    return RESULT_OK;
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return RESULT_CANCELLED;
  if (g_error_matches (error, MV_ERROR, MV_ERROR_NOT_MODELPACK))
    return RESULT_IGNORED;
  return RESULT_FAILED;
}

static void
run_import (Watch *w, Job *job)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *entry = g_strconcat ("@", job->key, NULL);
  g_autofree char *digest = NULL;
  gint64 start = g_get_monotonic_time ();

  /* Stored, checked out and intact already (imported before a restart, or by the hook): */
  {
    const char *root = mv_store_get_root (w->store);
    g_autofree char *co = mv_store_peek_checkout (root, job->key);
    if (co != NULL && mv_model_check_intact (root, job->key, NULL, co, NULL))
      {
        job->result = RESULT_OK;
        return;
      }
  }

  /* Unnamed, as the hook imports from CRI-O's store: CRI-O may have pulled the artifact with
   * one namespace's pull secret, and a name would make it reachable by reference from any
   * pod's modelvol.io/mounts annotation (docs/architecture.md). */
  if (mv_store_import_layout (w->store, w->conf.artifacts, entry, "", &digest, w->cancellable,
                              &error)
      && checkout (w, digest, &error))
    wlog (LOG_INFO, "imported %s (%s) in %.1f s", job->key, job_label (job),
          (g_get_monotonic_time () - start) / 1e6);
  job->result = result_of (error);
  if (job->result == RESULT_IGNORED)
    wlog (LOG_INFO, "ignored %s (%s): not a ModelPack artifact", job->key, job_label (job));
  else if (job->result == RESULT_FAILED)
    wlog (LOG_ERR, "import of %s (%s) failed: %s", job->key, job_label (job), error->message);
  else if (job->result == RESULT_CANCELLED)
    wlog (LOG_NOTICE, "import of %s (%s) cancelled", job->key, job_label (job));
}

/* With [watch] pin-refresh: is a stored, intact pin due to be pulled again (its tag may
 * have moved)? Pulled once by each start of the service, then every pin-refresh seconds (at
 * the first tick after). */
static gboolean
pin_due (Watch *w, const char *pin)
{
  gint64 *last = g_hash_table_lookup (w->pin_pulled, pin);
  guint refresh;

  g_mutex_lock (&w->conf_lock);
  refresh = w->conf.pin_refresh;
  g_mutex_unlock (&w->conf_lock);
  return refresh > 0
         && (last == NULL || g_get_monotonic_time () - *last >= (gint64)refresh * G_USEC_PER_SEC);
}

static void
run_pin (Watch *w, Job *job)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *digest = NULL;
  g_autofree char *before = NULL;
  g_autofree char *path = NULL;
  const char *why = "not in the store";

  if (mv_store_resolve (w->store, job->key, &digest, NULL))
    {
      g_autofree char *co = mv_store_peek_checkout (mv_store_get_root (w->store), digest);
      g_autoptr (GError) damage = NULL;
      if (mv_model_check_intact (mv_store_get_root (w->store), digest, job->key, co, &damage)
          && pin_due (w, job->key))
        why = "pin-refresh";
      else if (damage == NULL)
        {
          if (co == NULL && !checkout (w, digest, &error))
            wlog (LOG_ERR, "pin %s: %s", job->key, error->message);
          job->result = result_of (error);
          return;
        }
      else
        why = "damaged";
    }
  before = g_steal_pointer (&digest);
  wlog (LOG_INFO, "pulling pin %s (%s)", job->key, why);
  if (mv_store_pull (w->store, job->key, MV_PULL_NONE, w->conf.auth_file, &digest, w->cancellable,
                     &error)
      && mv_store_checkout (w->store, digest, &path, w->cancellable, &error))
    {
      gint64 *now = g_new (gint64, 1);
      *now = g_get_monotonic_time ();
      g_hash_table_insert (w->pin_pulled, g_strdup (job->key), now);
      wlog (LOG_INFO, "pulled pin %s (%s)", job->key, digest);
      /* The tag moved: the name follows it; the model it named before is left unnamed, to
       * the prune policy (or prune). */
      if (before != NULL && !g_str_equal (before, digest))
        wlog (LOG_NOTICE, "pin %s moved from %s to %s", job->key, before, digest);
    }
  job->result = result_of (error);
  if (job->result == RESULT_CANCELLED)
    wlog (LOG_NOTICE, "pull of pin %s cancelled", job->key);
  else if (job->result != RESULT_OK)
    wlog (LOG_ERR, "pull of pin %s failed: %s", job->key, error->message);
}

/* Why the store is over the policy's limits (NULL: it is not). */
static char *
over_limits (Watch *w, GError **error)
{
  struct statvfs vfs;
  guint64 max_store_bytes;
  guint max_disk_fill;

  g_mutex_lock (&w->conf_lock);
  max_store_bytes = w->conf.max_store_bytes;
  max_disk_fill = w->conf.max_disk_fill;
  g_mutex_unlock (&w->conf_lock);
  if (max_store_bytes > 0)
    {
      MvDfStats df;
      if (!mv_store_df (w->store, &df, w->cancellable, error))
        return NULL;
      if (df.disk_bytes > max_store_bytes)
        return g_strdup_printf ("the store uses %" G_GUINT64_FORMAT
                                " bytes, above max-store-bytes %" G_GUINT64_FORMAT,
                                df.disk_bytes, max_store_bytes);
    }
  if (max_disk_fill > 0 && statvfs (mv_store_get_root (w->store), &vfs) == 0 && vfs.f_blocks > 0)
    {
      guint64 used = (guint64)(vfs.f_blocks - vfs.f_bfree);
      guint64 avail = used + vfs.f_bavail; /* as df(1): what non-root users could fill */
      guint fill = (guint)((used * 100 + avail - 1) / MAX (avail, 1));
      if (fill > max_disk_fill)
        return g_strdup_printf ("the disk of the store is %u%% full, above max-disk-fill %u%%",
                                fill, max_disk_fill);
    }
  return NULL;
}

/* Models the policy evicted are not imported again from CRI-O's store while their entry stays
 * there (a pod that needs one still gets it through the hook): <run_dir>/watch-evicted/<hex>,
 * kept across restarts of the service, removed when the entry leaves index.json. */
static char *
evicted_path (Watch *w, const char *digest)
{
  return g_build_filename (mv_store_get_run_dir (w->store), "watch-evicted",
                           strchr (digest, ':') + 1, NULL);
}

static void
mark_evicted (Watch *w, const char *digest)
{
  g_autofree char *path = evicted_path (w, digest);
  g_autofree char *dir = g_path_get_dirname (path);
  g_autoptr (GError) error = NULL;

  if (g_mkdir_with_parents (dir, 0700) < 0 || !g_file_set_contents (path, "", 0, &error))
    wlog (LOG_WARNING, "marking %s evicted: %s", digest,
          error ? error->message : g_strerror (errno));
}

/* When a model was last used: its last-use record (written with every use record), else when
 * it was stored (its model ref's mtime). Microseconds. */
static gint64
last_use (Watch *w, const char *digest)
{
  const char *root = mv_store_get_root (w->store);
  gint64 t = mv_last_use_get (root, digest);
  if (t == 0)
    {
      g_autofree char *ref = g_build_filename (root, "repo/refs/heads/modelvol/model", NULL);
      g_autofree char *path = g_build_filename (ref, digest, NULL);
      struct stat st;
      char *colon;
      /* refs/heads/modelvol/model/sha256/<hex> */
      colon = strrchr (path, ':');
      if (colon != NULL)
        *colon = '/';
      if (stat (path, &st) == 0)
        t = (gint64)st.st_mtim.tv_sec * G_USEC_PER_SEC + st.st_mtim.tv_nsec / 1000;
    }
  return t;
}

typedef struct
{
  MvModelInfo *info;
  gint64 last_use;
} Candidate;

static int
candidate_cmp (gconstpointer a, gconstpointer b)
{
  const Candidate *ca = a, *cb = b;
  if (ca->last_use != cb->last_use)
    return ca->last_use < cb->last_use ? -1 : 1;
  return g_strcmp0 (ca->info->digest, cb->info->digest);
}

/* The eviction policy: while the store or its disk is over its limit, remove the least
 * recently used model that is neither pinned nor in use, then reclaim its data. Unnamed
 * models (imported from CRI-O's store) stay until then: a plain prune would drop them all. */
static void
run_prune (Watch *w, Job *job)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GHashTable) pinned = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  const char *run_dir = mv_store_get_run_dir (w->store);

  g_auto (GStrv) pins = NULL;

  job->result = RESULT_OK;
  g_mutex_lock (&w->conf_lock);
  pins = g_strdupv (w->conf.pins);
  g_mutex_unlock (&w->conf_lock);
  for (guint i = 0; pins[i] != NULL; i++)
    {
      char *digest = NULL;
      if (mv_store_resolve (w->store, pins[i], &digest, NULL))
        g_hash_table_add (pinned, digest);
    }
  for (guint n = 0; n < MAX_EVICTIONS; n++)
    {
      g_autofree char *why = over_limits (w, &error);
      g_autoptr (GPtrArray) models = NULL;
      g_autoptr (GArray) cands = NULL;
      MvPruneStats st;
      gboolean evicted = FALSE;

      if (why == NULL)
        {
          w->told_stuck = FALSE;
          break;
        }
      models = mv_store_list_models (w->store, &error);
      if (models == NULL)
        break;
      cands = g_array_new (FALSE, FALSE, sizeof (Candidate));
      for (guint i = 0; i < models->len; i++)
        {
          MvModelInfo *info = models->pdata[i];
          Candidate c = { info, 0 };
          if (g_hash_table_contains (pinned, info->digest)
              || mv_uses_model_in_use (run_dir, info->digest))
            continue;
          c.last_use = last_use (w, info->digest);
          g_array_append_val (cands, c);
        }
      g_array_sort (cands, candidate_cmp);
      for (guint i = 0; !evicted && i < cands->len; i++)
        {
          const Candidate *c = &g_array_index (cands, Candidate, i);
          g_autoptr (GError) local_error = NULL;
          g_autofree char *names = g_strjoinv (", ", c->info->names);
          if (!mv_store_remove_model (w->store, c->info->digest, w->cancellable, &local_error))
            {
              /* In use since we looked: the next one. */
              if (g_error_matches (local_error, MV_ERROR, MV_ERROR_BUSY))
                continue;
              g_propagate_error (&error, g_steal_pointer (&local_error));
              break;
            }
          mark_evicted (w, c->info->digest);
          wlog (LOG_NOTICE, "evicted %s (%s): %s", c->info->digest, *names ? names : "unnamed",
                why);
          evicted = TRUE;
        }
      if (error != NULL)
        break;
      if (!evicted)
        {
          /* Once, until something changes: not at every tick. */
          if (!w->told_stuck)
            wlog (LOG_WARNING, "%s, and every model left is pinned or in use", why);
          w->told_stuck = TRUE;
          break;
        }
      w->told_stuck = FALSE;
      if (!mv_store_prune_full (w->store, FALSE, TRUE, &st, w->cancellable, &error))
        break;
      wlog (LOG_INFO, "reclaimed %u objects (%" G_GUINT64_FORMAT " bytes), %u layers",
            st.objects_removed, st.bytes_freed, st.layers_removed);
    }
  job->result = result_of (error);
  if (error != NULL && job->result != RESULT_CANCELLED)
    wlog (LOG_ERR, "prune failed: %s", error->message);
}

static void
run_metrics (Watch *w, Job *job)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *warning = NULL;

  if (!mv_metrics_write_textfile (w->store, w->conf.metrics.textfile, &warning, w->cancellable,
                                  &error))
    {
      job->result = result_of (error);
      if (job->result != RESULT_CANCELLED)
        wlog (LOG_ERR, "metrics: %s", error->message);
      return;
    }
  if (warning != NULL)
    wlog (LOG_WARNING, "metrics: %s", warning);
  job->result = RESULT_OK;
}

static gboolean job_done (gpointer data);
static gboolean job_started (gpointer data);

static gpointer
worker_main (gpointer data)
{
  Watch *w = data;

  for (;;)
    {
      Job *job = g_async_queue_pop (w->queue);
      if (job->kind == JOB_QUIT)
        {
          job_free (job);
          break;
        }
      g_idle_add (job_started, job);
      if (g_cancellable_is_cancelled (w->cancellable))
        job->result = RESULT_CANCELLED;
      else if (job->kind == JOB_IMPORT)
        run_import (w, job);
      else if (job->kind == JOB_PIN)
        run_pin (w, job);
      else if (job->kind == JOB_METRICS)
        run_metrics (w, job);
      else
        run_prune (w, job);
      g_idle_add (job_done, job);
    }
  return NULL;
}

/* ---------------------------------------------------------------------------------------- */
/* The main loop                                                                            */

static void
update_status (Watch *w)
{
  guint queued = g_hash_table_size (w->pending);
  if (w->stopping)
    notify ("STATUS=stopping");
  else if (w->running == NULL)
    notify ("STATUS=idle: %u artifacts known, %u pins", g_hash_table_size (w->known),
            g_strv_length (w->conf.pins));
  else if (w->running->kind == JOB_IMPORT)
    notify ("STATUS=importing %s (%u queued)", w->running->key, queued - 1);
  else if (w->running->kind == JOB_PIN)
    notify ("STATUS=checking pin %s (%u queued)", w->running->key, queued - 1);
  else if (w->running->kind == JOB_METRICS)
    notify ("STATUS=writing metrics (%u queued)", queued - 1);
  else
    notify ("STATUS=pruning (%u queued)", queued - 1);
}

static Job *
job_new (Watch *w, JobKind kind, const char *key, const char *ref)
{
  Job *job = g_new0 (Job, 1);
  job->watch = w;
  job->kind = kind;
  job->key = g_strdup (key);
  job->ref = g_strdup (ref);
  return job;
}

/* Jobs are owned by the queue, then the worker, then job_done(). */
static void
queue_job (Watch *w, JobKind kind, const char *key, const char *ref)
{
  g_autofree char *pkey = g_strdup_printf ("%d:%s", kind, key);

  if (w->stopping || g_hash_table_contains (w->pending, pkey))
    return;
  g_hash_table_add (w->pending, g_steal_pointer (&pkey));
  g_async_queue_push (w->queue, job_new (w, kind, key, ref));
}

static gboolean
job_started (gpointer data)
{
  Job *job = data;
  job->watch->running = job;
  update_status (job->watch);
  return G_SOURCE_REMOVE;
}

static gboolean
job_done (gpointer data)
{
  Job *job = data;
  Watch *w = job->watch;
  g_autofree char *pkey = g_strdup_printf ("%d:%s", job->kind, job->key);

  g_hash_table_remove (w->pending, pkey);
  if (w->running == job)
    w->running = NULL;
  /* Handled: imported, ignored (logged once) or failed (tried again at the next tick). */
  if (job->kind == JOB_IMPORT && job->result != RESULT_CANCELLED)
    g_hash_table_insert (w->known, g_strdup (job->key),
                         GINT_TO_POINTER (job->result == RESULT_FAILED));
  update_status (w);
  job_free (job);
  return G_SOURCE_REMOVE;
}

static gboolean
valid_digest (const char *d)
{
  return d != NULL && g_str_has_prefix (d, "sha256:") && strlen (d) == 7 + 64
         && strspn (d + 7, "0123456789abcdef") == 64;
}

/* Reads index.json and queues an import for every entry not handled yet. */
static void
scan (Watch *w)
{
  g_autofree char *path = g_build_filename (w->conf.artifacts, "index.json", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) bytes = NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GHashTable) present = g_hash_table_new (g_str_hash, g_str_equal);
  JsonNode *root;
  JsonArray *manifests = NULL;
  GHashTableIter it;
  gpointer k;

  bytes = mv_file_get_contents_at (AT_FDCWD, path, TRUE, INDEX_MAX, &error);
  if (bytes == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
        wlog (LOG_WARNING, "%s", error->message);
      return;
    }
  if (!json_parser_load_from_data (parser, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes),
                                   &error))
    {
      /* CRI-O replaces it by rename, so a torn file is not CRI-O's: say so, once a change. */
      wlog (LOG_WARNING, "'%s': %s", path, error->message);
      return;
    }
  root = json_parser_get_root (parser);
  if (root != NULL && JSON_NODE_HOLDS_OBJECT (root))
    {
      JsonNode *m = json_object_get_member (json_node_get_object (root), "manifests");
      if (m != NULL && JSON_NODE_HOLDS_ARRAY (m))
        manifests = json_node_get_array (m);
    }
  if (manifests == NULL)
    {
      wlog (LOG_WARNING, "'%s' has no manifests list", path);
      return;
    }
  for (guint i = 0; i < json_array_get_length (manifests); i++)
    {
      JsonNode *n = json_array_get_element (manifests, i);
      JsonObject *o = JSON_NODE_HOLDS_OBJECT (n) ? json_node_get_object (n) : NULL;
      JsonNode *an = o ? json_object_get_member (o, "annotations") : NULL;
      JsonNode *dn = o ? json_object_get_member (o, "digest") : NULL;
      const char *digest = dn && JSON_NODE_HOLDS_VALUE (dn) ? json_node_get_string (dn) : NULL;
      const char *ref = NULL;

      if (!valid_digest (digest))
        continue;
      if (an != NULL && JSON_NODE_HOLDS_OBJECT (an))
        {
          JsonNode *rn = json_object_get_member (json_node_get_object (an),
                                                 "org.opencontainers.image.ref.name");
          if (rn != NULL && JSON_NODE_HOLDS_VALUE (rn))
            ref = json_node_get_string (rn);
        }
      g_hash_table_add (present, (gpointer)digest);
      if (g_hash_table_contains (w->known, digest))
        continue;
      {
        g_autofree char *marker = evicted_path (w, digest);
        if (g_file_test (marker, G_FILE_TEST_EXISTS))
          {
            g_hash_table_insert (w->known, g_strdup (digest), GINT_TO_POINTER (FALSE));
            continue;
          }
      }
      queue_job (w, JOB_IMPORT, digest, ref);
    }
  /* Entries CRI-O removed: forget them, so that one pulled again is imported again. */
  g_hash_table_iter_init (&it, w->known);
  while (g_hash_table_iter_next (&it, &k, NULL))
    if (!g_hash_table_contains (present, k))
      {
        g_autofree char *marker = evicted_path (w, k);
        (void)unlink (marker);
        g_hash_table_iter_remove (&it);
      }
}

static gboolean
scan_now (gpointer data)
{
  Watch *w = data;
  w->scan_source = 0;
  scan (w);
  update_status (w);
  return G_SOURCE_REMOVE;
}

static void
on_artifacts_changed (GFileMonitor *monitor, GFile *file, GFile *other, GFileMonitorEvent event,
                      gpointer data)
{
  Watch *w = data;
  g_autofree char *name = g_file_get_basename (file);
  g_autofree char *other_name = other ? g_file_get_basename (other) : NULL;

  if (!g_str_equal (name, "index.json") && g_strcmp0 (other_name, "index.json") != 0)
    return;
  /* Debounced: a pull rewrites the index once, but editors and tools may touch it twice. */
  if (w->scan_source == 0 && !w->stopping)
    w->scan_source = g_timeout_add (SCAN_DELAY_MS, scan_now, w);
}

/* The periodic tick: pins, failed imports again, the prune policy. */
static gboolean
tick (gpointer data)
{
  Watch *w = data;
  GHashTableIter it;
  gpointer k, v;

  g_hash_table_iter_init (&it, w->known);
  while (g_hash_table_iter_next (&it, &k, &v))
    if (GPOINTER_TO_INT (v))
      g_hash_table_iter_remove (&it);
  scan (w);
  for (guint i = 0; w->conf.pins[i] != NULL; i++)
    queue_job (w, JOB_PIN, w->conf.pins[i], NULL);
  if (w->conf.max_store_bytes > 0 || w->conf.max_disk_fill > 0)
    queue_job (w, JOB_PRUNE, "prune", NULL);
  update_status (w);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_stop_signal (gpointer data)
{
  Watch *w = data;

  if (!w->stopping)
    {
      wlog (LOG_NOTICE, "stopping%s", w->running ? ": cancelling the running job" : "");
      w->stopping = TRUE;
      notify ("STOPPING=1");
      update_status (w);
    }
  g_cancellable_cancel (w->cancellable);
  g_main_loop_quit (w->loop);
  return G_SOURCE_CONTINUE;
}

/* restart (a list of what changed) += @what if @a and @b differ. */
static void
note_restart (GString *restart, const char *what, const char *a, const char *b)
{
  if (g_strcmp0 (a, b) == 0)
    return;
  g_string_append_printf (restart, "%s%s", restart->len > 0 ? ", " : "", what);
}

/* SIGHUP (systemctl reload): [watch] again (pins, the prune policy and its interval), at once.
 * The other sections name the store, the artifact store, credentials and the metrics
 * endpoint the service was started with: a change there is logged and waits for a restart;
 * so do [limits] and [import], which the library reads once. A bad file is one error line
 * and the running configuration stays. */
static gboolean
on_reload_signal (gpointer data)
{
  Watch *w = data;
  g_auto (WatchConfig) fresh = { 0 };
  g_autoptr (GError) error = NULL;
  g_autoptr (GString) restart = g_string_new (NULL);
  g_autofree char *interval_a = NULL, *interval_b = NULL;

  if (w->stopping)
    return G_SOURCE_CONTINUE;
  notify ("RELOADING=1");
  if (!load_config (&fresh, TRUE, &error))
    {
      wlog (LOG_ERR, "reload: %s; the running configuration stays", error->message);
      notify ("READY=1");
      return G_SOURCE_CONTINUE;
    }
  interval_a = g_strdup_printf ("%u", w->conf.metrics.interval_s);
  interval_b = g_strdup_printf ("%u", fresh.metrics.interval_s);
  note_restart (restart, "[store] root", w->conf.root, fresh.root);
  note_restart (restart, "[store] run-dir", w->conf.run_dir, fresh.run_dir);
  note_restart (restart, "[crio] graphroot", w->conf.artifacts, fresh.artifacts);
  note_restart (restart, "[registries] conf", w->conf.registries_conf, fresh.registries_conf);
  note_restart (restart, "[registries] auth-file", w->conf.auth_file, fresh.auth_file);
  note_restart (restart, "[metrics] textfile", w->conf.metrics.textfile, fresh.metrics.textfile);
  note_restart (restart, "[metrics] listen", w->conf.metrics.listen, fresh.metrics.listen);
  note_restart (restart, "[metrics] interval", interval_a, interval_b);
  if (restart->len > 0)
    wlog (LOG_WARNING, "reload: %s changed: the service keeps the old value until it is restarted",
          restart->str);

  g_mutex_lock (&w->conf_lock);
  g_strfreev (w->conf.pins);
  w->conf.pins = g_steal_pointer (&fresh.pins);
  w->conf.max_store_bytes = fresh.max_store_bytes;
  w->conf.max_disk_fill = fresh.max_disk_fill;
  w->conf.pin_refresh = fresh.pin_refresh;
  g_mutex_unlock (&w->conf_lock);
  if (fresh.prune_interval != w->conf.prune_interval)
    {
      w->conf.prune_interval = fresh.prune_interval;
      g_source_remove (w->tick_id);
      w->tick_id = g_timeout_add_seconds (w->conf.prune_interval, tick, w);
    }
  wlog (LOG_INFO, "reloaded: %u pins; prune every %u s", g_strv_length (w->conf.pins),
        w->conf.prune_interval);
  tick (w); /* new pins pulled, a lower limit applied, now */
  notify ("READY=1");
  return G_SOURCE_CONTINUE;
}

/* [metrics] textfile, every [metrics] interval. */
static gboolean
metrics_tick (gpointer data)
{
  Watch *w = data;
  queue_job (w, JOB_METRICS, "metrics", NULL);
  return G_SOURCE_CONTINUE;
}

/* Runs the service until a stop signal, then waits for the worker. */
static void
run (Watch *w)
{
  guint metrics_id = 0;

  g_signal_connect (w->monitor, "changed", G_CALLBACK (on_artifacts_changed), w);
  w->worker = g_thread_new ("watch-worker", worker_main, w);
  wlog (LOG_INFO, "watching %s for store %s; %u pins; prune every %u s", w->conf.artifacts,
        mv_store_get_root (w->store), g_strv_length (w->conf.pins), w->conf.prune_interval);
  tick (w);
  if (w->conf.metrics.textfile != NULL)
    {
      metrics_tick (w);
      metrics_id = g_timeout_add_seconds (w->conf.metrics.interval_s, metrics_tick, w);
    }
  notify ("READY=1");
  update_status (w);
  w->tick_id = g_timeout_add_seconds (w->conf.prune_interval, tick, w);

  g_main_loop_run (w->loop);

  /* Stopping: the worker finishes or abandons its job (cancelled), skips the queued ones. */
  g_source_remove (w->tick_id);
  if (metrics_id != 0)
    g_source_remove (metrics_id);
  if (w->scan_source != 0)
    g_source_remove (w->scan_source);
  g_async_queue_push (w->queue, job_new (w, JOB_QUIT, "quit", NULL));
  g_thread_join (w->worker);
  /* The worker's last job_started/job_done idles: run them so every job is freed. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  wlog (LOG_INFO, "stopped");
}

MV_BUILTIN (watch)
{
  g_autoptr (GOptionContext) context = g_option_context_new ("");
  g_auto (WatchConfig) conf = { 0 };
  Watch w = { 0 };
  gboolean ran = FALSE;
  g_autoptr (GFile) dir = NULL;
  guint sig_term, sig_int, sig_hup;

  g_option_context_set_summary (
      context, "Run as a service: import the ModelPack artifacts CRI-O pulls, keep the pinned "
               "models of modelvol.conf pulled, and prune by policy. See modelvol(1).");
  log_to_journal = stderr_is_journal ();
  /* The config first: [store] root is the default of --root here, and a bad key must stop
   * us before the store is touched. */
  if (!load_config (&conf, FALSE, error))
    return FALSE;
  if (mv_globals.root == NULL && g_getenv ("MODELVOL_ROOT") == NULL)
    mv_globals.root = conf.root;
  w.store = mv_option_context_parse (context, NULL, &argc, &argv, cancellable, error);
  if (w.store == NULL)
    return FALSE;
  if (argc != 1)
    {
      mv_store_free (w.store);
      return mv_usage_error (context, error, "watch takes no arguments");
    }
  w.conf = conf;
  memset (&conf, 0, sizeof conf);

  w.loop = g_main_loop_new (NULL, FALSE);
  w.queue = g_async_queue_new ();
  w.cancellable = g_cancellable_new ();
  w.known = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  w.pending = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  w.pin_pulled = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);

  sig_term = g_unix_signal_add (SIGTERM, on_stop_signal, &w);
  sig_int = g_unix_signal_add (SIGINT, on_stop_signal, &w);
  sig_hup = g_unix_signal_add (SIGHUP, on_reload_signal, &w);
  g_mutex_init (&w.conf_lock);

  /* The directory, not the file: CRI-O (containers/image) replaces index.json by rename. A
   * missing directory is watched for its creation. */
  dir = g_file_new_for_path (w.conf.artifacts);
  w.monitor = g_file_monitor_directory (dir, G_FILE_MONITOR_WATCH_MOVES, NULL, error);
  if (w.monitor == NULL)
    mv_prefix_error (error, "watching '%s'", w.conf.artifacts);
  else if (w.conf.metrics.listen != NULL
           && (w.metrics
               = mv_metrics_serve (mv_store_get_root (w.store), w.conf.metrics.listen, error))
                  == NULL)
    mv_prefix_error (error, "[metrics] listen");
  else
    {
      run (&w);
      ran = TRUE;
    }
  if (w.metrics != NULL)
    {
      g_socket_service_stop (w.metrics);
      g_clear_object (&w.metrics);
    }

  g_source_remove (sig_term);
  g_source_remove (sig_int);
  g_source_remove (sig_hup);
  g_mutex_clear (&w.conf_lock);
  w.monitor_failed = !ran;
  g_clear_object (&w.monitor);
  g_clear_pointer (&w.known, g_hash_table_unref);
  g_clear_pointer (&w.pending, g_hash_table_unref);
  g_clear_pointer (&w.pin_pulled, g_hash_table_unref);
  g_clear_object (&w.cancellable);
  g_clear_pointer (&w.queue, g_async_queue_unref);
  g_clear_pointer (&w.loop, g_main_loop_unref);
  mv_store_free (w.store);
  watch_config_clear (&w.conf);
  return w.monitor_failed == FALSE;
}
