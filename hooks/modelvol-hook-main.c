/* modelvol-hook-main: the OCI runtime hook (hooks.d 1.0.0) that puts real model trees into
 * containers, run by the modelvol-hook front door (modelvol-hook.c) with the same arguments
 * and the OCI state on stdin, only for containers whose state mentions a model.
 *
 *   modelvol-hook [--config FILE] createRuntime|poststop
 *
 * createRuntime: for each CRI-O image volume whose artifact is ModelPack, import it from
 * CRI-O's artifact store (local) and mount the model tree over the volume path, hiding the
 * per-blob bind mounts; for each entry of the modelvol.io/mounts annotation, mount that model
 * (pulling it only from registries on the allowlist). poststop: drop the container's use
 * records. Poststop, and mounts of models already stored and checked out, need GLib and
 * json-glib only (storage's light library: use records, mount mechanics); libmodelvol (and
 * with it libostree, libcurl, OpenSSL) is loaded with dlopen only to import, pull or check
 * out.
 *
 * The environment is never trusted: it is cleared on entry. Nothing is loaded or executed from
 * the container's filesystem. Any failure prints one line on stderr and exits 1, which fails
 * container creation; the runtime shows the line.
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <dlfcn.h>
#include <json-glib/json-glib.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "modelvol.h"
#include "mv-counters-private.h"
#include "mv-error-private.h"
#include "mv-limits-private.h"
#include "mv-fdio-private.h"
#include "mv-hook-plan-private.h"
#include "mv-attach-private.h"
#include "mv-imports-private.h"
#include "mv-integrity-private.h"
#include "mv-path-private.h"
#include "mv-uses-private.h"

#define STATE_MAX (1024 * 1024)
/* Well under the two minutes kubelet gives CRI-O's CreateContainer (runtime-request-timeout). */
#define IMPORT_WAIT_DEFAULT 60
#define IMPORT_WAIT_MAX 3600
#define CONFIG_MAX (16 * 1024 * 1024)

/* Pull timeouts from [registries], handed to the library as its environment settings. */
static const struct
{
  const char *key;
  const char *env;
  guint64 min, max;
} pull_limit_keys[] = {
  { "timeout", "MODELVOL_TIMEOUT", 0, 7 * 24 * 3600 },
  { "low-speed-time", "MODELVOL_LOW_SPEED_TIME", 1, 24 * 3600 },
  { "low-speed-limit", "MODELVOL_LOW_SPEED_LIMIT", 1, G_MAXINT32 },
  { "retry-after-max", "MODELVOL_RETRY_AFTER_MAX", 0, 3600 },
};
G_STATIC_ASSERT (G_N_ELEMENTS (pull_limit_keys)
                 == G_N_ELEMENTS (((MvHookConfig *)NULL)->pull_limits));

/* libmodelvol, loaded on demand. */
typedef struct
{
  void *handle;
  GQuark (*error_quark) (void);
  __typeof__ (mv_store_open) *store_open;
  __typeof__ (mv_store_free) *store_free;
  __typeof__ (mv_store_import_layout) *import_layout;
  __typeof__ (mv_store_resolve) *resolve;
  __typeof__ (mv_store_pull) *pull;
  __typeof__ (mv_reference_normalize) *normalize;
  __typeof__ (mv_store_mount_in_container) *mount_in_container;
  __typeof__ (mv_store_release_container) *release_container;
  __typeof__ (mv_store_list_container_uses) *container_uses;
  __typeof__ (mv_store_check_signature) *check_signature;
} Lib;

static gboolean
lib_load (Lib *lib, GError **error)
{
  struct
  {
    const char *name;
    void **slot;
  } syms[] = {
    { "mv_error_quark", (void **)&lib->error_quark },
    { "mv_store_open", (void **)&lib->store_open },
    { "mv_store_free", (void **)&lib->store_free },
    { "mv_store_import_layout", (void **)&lib->import_layout },
    { "mv_store_resolve", (void **)&lib->resolve },
    { "mv_store_pull", (void **)&lib->pull },
    { "mv_reference_normalize", (void **)&lib->normalize },
    { "mv_store_mount_in_container", (void **)&lib->mount_in_container },
    { "mv_store_release_container", (void **)&lib->release_container },
    { "mv_store_list_container_uses", (void **)&lib->container_uses },
    { "mv_store_check_signature", (void **)&lib->check_signature },
  };

  const char *path = MV_HOOK_LIB;
  gboolean built = FALSE;

  /* By absolute path: the installed library, or the build tree's when this is the hook as
   * built (tests). Never a search path: the environment is not ours to trust. */
#ifdef MV_HOOK_BUILD_MAIN
  {
    g_autofree char *self = g_file_read_link ("/proc/self/exe", NULL);
    built = g_strcmp0 (self, MV_HOOK_BUILD_MAIN) == 0;
    if (built)
      path = MV_HOOK_BUILD_LIB;
  }
#endif
  if (!built && !g_file_test (path, G_FILE_TEST_EXISTS))
    path = "libmodelvol.so.0"; /* installed elsewhere: the system's library directories */
  lib->handle = dlopen (path, RTLD_NOW | RTLD_LOCAL);
  if (lib->handle == NULL)
    return mv_throw (error, MV_ERROR_FAILED, "loading libmodelvol: %s", dlerror ());
  for (guint i = 0; i < G_N_ELEMENTS (syms); i++)
    {
      *syms[i].slot = dlsym (lib->handle, syms[i].name);
      if (*syms[i].slot == NULL)
        return mv_throw (error, MV_ERROR_FAILED, "libmodelvol lacks %s", syms[i].name);
    }
  return TRUE;
}

static gboolean
load_config (const char *path, gboolean explicit, MvHookConfig *c, GError **error)
{
  g_autoptr (GKeyFile) kf = g_key_file_new ();
  g_autoptr (GError) local_error = NULL;
  g_autofree char *graphroot = NULL;
  g_autofree char *pulls = NULL;

  if (!g_key_file_load_from_file (kf, path, G_KEY_FILE_NONE, &local_error))
    {
      if (explicit || !g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        return mv_throw (error, MV_ERROR_FAILED, "config '%s': %s", path, local_error->message);
      g_clear_error (&local_error);
    }
  c->store_root = g_key_file_get_string (kf, "store", "root", NULL);
  if (c->store_root == NULL)
    c->store_root = g_strdup (MV_DEFAULT_ROOT);
  c->run_dir = g_key_file_get_string (kf, "store", "run-dir", NULL);
  graphroot = g_key_file_get_string (kf, "crio", "graphroot", NULL);
  if (graphroot == NULL)
    graphroot = g_strdup ("/var/lib/containers/storage");
  if (!g_path_is_absolute (graphroot) || !g_path_is_absolute (c->store_root))
    return mv_throw (error, MV_ERROR_FAILED, "config '%s': paths must be absolute", path);
  c->artifacts_dir = g_build_filename (graphroot, "artifacts", NULL);
  pulls = g_key_file_get_string (kf, "hook", "annotation-pulls", NULL);
  if (pulls == NULL || g_str_equal (pulls, "allowlist"))
    c->annotation_pulls = TRUE;
  else if (g_str_equal (pulls, "off"))
    c->annotation_pulls = FALSE;
  else
    return mv_throw (error, MV_ERROR_FAILED,
                     "config '%s': [hook] annotation-pulls must be 'allowlist' or 'off'", path);
  c->pull_allowlist = g_key_file_get_string_list (kf, "hook", "pull-allowlist", NULL, NULL);
  if (c->pull_allowlist == NULL)
    c->pull_allowlist = g_new0 (char *, 1);
  c->noexec = g_key_file_get_boolean (kf, "hook", "noexec", NULL);
  {
    /* The library reads [signatures] itself (through $MODELVOL_CONFIG); the hook only needs
     * to know whether a failed check of a stored model is fatal. */
    g_autofree char *mode = g_key_file_get_string (kf, "signatures", "mode", NULL);
    if (mode != NULL)
      g_strstrip (mode);
    if (mode != NULL && !g_str_equal (mode, "enforce") && !g_str_equal (mode, "audit"))
      return mv_throw (error, MV_ERROR_FAILED,
                       "config '%s': [signatures] mode must be enforce or audit", path);
    c->signature_audit = g_strcmp0 (mode, "audit") == 0;
  }
  c->import_wait_s = IMPORT_WAIT_DEFAULT;
  {
    g_autofree char *v = g_key_file_get_string (kf, "hook", "import-wait", NULL);
    guint64 n;
    if (v != NULL && !g_ascii_string_to_unsigned (g_strstrip (v), 10, 0, IMPORT_WAIT_MAX, &n, NULL))
      return mv_throw (error, MV_ERROR_FAILED,
                       "config '%s': [hook] import-wait must be a whole number from 0 to %d", path,
                       IMPORT_WAIT_MAX);
    if (v != NULL)
      c->import_wait_s = (guint)n;
  }
  c->registries_conf = g_key_file_get_string (kf, "registries", "conf", NULL);
  c->auth_file = g_key_file_get_string (kf, "registries", "auth-file", NULL);
  for (guint i = 0; i < G_N_ELEMENTS (pull_limit_keys); i++)
    {
      g_autofree char *v = g_key_file_get_string (kf, "registries", pull_limit_keys[i].key, NULL);
      if (v == NULL)
        continue;
      g_strstrip (v);
      if (!g_ascii_string_to_unsigned (v, 10, pull_limit_keys[i].min, pull_limit_keys[i].max, NULL,
                                       NULL))
        return mv_throw (
            error, MV_ERROR_FAILED,
            "config '%s': [registries] %s must be a whole number from %" G_GUINT64_FORMAT
            " to %" G_GUINT64_FORMAT,
            path, pull_limit_keys[i].key, pull_limit_keys[i].min, pull_limit_keys[i].max);
      c->pull_limits[i] = g_steal_pointer (&v);
    }
  return TRUE;
}

static gboolean
run_action (Lib *lib, MvStore *store, const MvHookConfig *c, const MvHookAction *a, const char *id,
            int pid, const char *rootfs, GError **error)
{
  g_autofree char *digest = NULL;
  MvMountFlags flags = c->noexec ? MV_MOUNT_NOEXEC : MV_MOUNT_NONE;

  if (a->layout != NULL)
    {
      g_autofree char *entry = g_strconcat ("@", a->manifest, NULL);
      g_autofree char *checkout = mv_store_peek_checkout (c->store_root, a->manifest);
      g_autoptr (GError) local_error = NULL;

      /* A damaged model is refused, not repaired from CRI-O's copy behind the operator's
       * back: the import below would. */
      if (!mv_model_check_intact (c->store_root, a->manifest, NULL, checkout, error))
        return mv_prefix_error (error, "image volume %s", a->dest);

      /* No name: CRI-O may have pulled it with a pod's own pull secret, and a name would
       * make it reachable by reference from any pod (see docs/architecture.md). */
      if (!lib->import_layout (store, a->layout, entry, "", &digest, NULL, &local_error))
        {
          if (g_error_matches (local_error, lib->error_quark (), MV_ERROR_NOT_MODELPACK))
            {
              g_debug ("image volume %s: not a ModelPack artifact, left to the runtime", a->dest);
              return TRUE;
            }
          g_propagate_error (error, g_steal_pointer (&local_error));
          return mv_prefix_error (error, "image volume %s", a->dest);
        }
    }
  else
    {
      g_autofree char *normalized = lib->normalize (a->ref, error);
      g_autoptr (GError) local_error = NULL;

      if (normalized == NULL)
        return mv_prefix_error (error, "annotation %s", MV_HOOK_ANNOTATION_MOUNTS);
      if (!lib->resolve (store, normalized, &digest, &local_error))
        {
          if (!g_error_matches (local_error, lib->error_quark (), MV_ERROR_NOT_FOUND))
            {
              g_propagate_error (error, g_steal_pointer (&local_error));
              return FALSE;
            }
          if (!c->annotation_pulls || !mv_hook_pull_allowed (c, normalized))
            return mv_throw (error, MV_ERROR_NOT_FOUND,
                             "model %s is not in the store, and the hook may not pull it "
                             "(not on [hook] pull-allowlist)",
                             normalized);
          if (!lib->pull (store, normalized, MV_PULL_NONE, c->auth_file, &digest, NULL, error))
            return FALSE;
        }
      /* A stored model is used only if the verdict of its pull satisfies the signature policy
       * in force now (a key rotated out, a scope that now needs signatures, an audited pull). */
      if (!lib->check_signature (store, digest, normalized, &local_error))
        {
          if (!c->signature_audit
              || !g_error_matches (local_error, lib->error_quark (), MV_ERROR_SIGNATURE))
            {
              g_propagate_error (error, g_steal_pointer (&local_error));
              return FALSE;
            }
          {
            g_autofree char *msg = mv_escape_for_display (local_error->message, 2000);
            /* The runtime shows a hook's stderr only when the hook fails: the warning goes to
             * syslog too (the journal, identifier modelvol-hook), where the operator rolling
             * out a policy looks for it. */
            g_printerr ("modelvol-hook: warning: audit mode: mounting %s although %s\n", normalized,
                        msg);
            openlog ("modelvol-hook", LOG_PID, LOG_DAEMON);
            syslog (LOG_WARNING, "warning: audit mode: mounting %s although %s", normalized, msg);
            closelog ();
          }
          g_clear_error (&local_error);
        }
      /* Here for the name in the message; the library checks again under the store lock. */
      {
        g_autofree char *checkout = mv_store_peek_checkout (c->store_root, digest);
        if (!mv_model_check_intact (c->store_root, digest, normalized, checkout, error))
          return FALSE;
      }
    }
  return lib->mount_in_container (store, digest, a->subpath, id, pid, rootfs, a->dest, flags, NULL,
                                  error);
}

/* An import of a model an image volume needs may be running already (the watch service, the
 * CLI, another container's hook): wait for it, bounded by [hook] import-wait, instead of
 * starting a second one; afterwards the model is usually stored and checked out, and the warm
 * path mounts it. An import still running after that is an error: the runtime would give up
 * on us soon anyway, and the kubelet retries the container. */
static gboolean
wait_for_imports (const MvHookConfig *c, const char *run_dir, GPtrArray *actions, GError **error)
{
  for (guint i = 0; i < actions->len; i++)
    {
      const MvHookAction *a = actions->pdata[i];
      g_autofree char *checkout = NULL;
      gboolean waited = FALSE;

      if (a->layout == NULL)
        continue;
      checkout = mv_store_peek_checkout (c->store_root, a->manifest);
      if (checkout != NULL)
        continue;
      if (!mv_import_lock_wait (run_dir, a->manifest, c->import_wait_s * 1000, &waited))
        return mv_throw (error, MV_ERROR_BUSY,
                         "image volume %s: the import of model %s by another process is still "
                         "running after %u s ([hook] import-wait)",
                         a->dest, a->manifest, c->import_wait_s);
      if (waited)
        g_debug ("image volume %s: waited for the running import of %s", a->dest, a->manifest);
    }
  return TRUE;
}

typedef enum
{
  LIGHT_DONE,
  LIGHT_FAILED,
  LIGHT_NEEDS_LIBRARY,
} LightResult;

/* The warm path, without libmodelvol: every action is an image volume whose model is stored
 * and checked out already. Record the uses under the shared store lock, then attach. */
static LightResult
run_light (const MvHookConfig *c, const char *run_dir, GPtrArray *actions, const char *id, int pid,
           const char *rootfs, GError **error)
{
  g_autoptr (GPtrArray) checkouts = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *record = NULL;
  mv_autofd int pidfd = -1;
  mv_autofd int lock_fd = -1;
  MvMountFlags flags = c->noexec ? MV_MOUNT_NOEXEC : MV_MOUNT_NONE;
  guint64 start = 0;
  gboolean ok = TRUE, needs_library = FALSE;

  for (guint i = 0; i < actions->len; i++)
    {
      const MvHookAction *a = actions->pdata[i];
      g_autofree char *checkout
          = a->layout ? mv_store_peek_checkout (c->store_root, a->manifest) : NULL;
      if (checkout == NULL)
        return LIGHT_NEEDS_LIBRARY;
    }
  pidfd = mv_container_pidfd (pid, &start, error);
  if (pidfd < 0)
    return LIGHT_FAILED;
  lock_fd = mv_store_lock_root_shared (c->store_root, 30000, error);
  if (lock_fd < 0)
    return LIGHT_FAILED;
  record = g_strdup_printf ("kind=container\npid=%d\nstart=%" G_GUINT64_FORMAT "\n", pid, start);
  for (guint i = 0; ok && !needs_library && i < actions->len; i++)
    {
      const MvHookAction *a = actions->pdata[i];
      char *checkout = mv_store_peek_checkout (c->store_root, a->manifest);
      if (checkout == NULL) /* removed before we took the lock */
        needs_library = TRUE;
      else
        {
          g_ptr_array_add (checkouts, checkout);
          /* fsck's marker, and the checkout against its index: stat calls, no reads. */
          ok = mv_model_check_intact (c->store_root, a->manifest, NULL, checkout, error);
          if (!ok)
            mv_prefix_error (error, "image volume %s", a->dest);
          else
            ok = mv_uses_add (run_dir, a->manifest, id, record, error);
          if (ok)
            mv_last_use_note (c->store_root, a->manifest);
        }
    }
  mv_close_fdp (&lock_fd);
  for (guint i = 0; ok && !needs_library && i < actions->len; i++)
    {
      const MvHookAction *a = actions->pdata[i];
      ok = mv_attach_in_container (checkouts->pdata[i], a->subpath, pidfd, pid, rootfs, a->dest,
                                   flags, error);
      if (!ok)
        mv_prefix_error (error, "image volume %s", a->dest);
    }
  if (!ok || needs_library)
    (void)mv_uses_drop_all_of (run_dir, id, NULL, NULL);
  return !ok ? LIGHT_FAILED : needs_library ? LIGHT_NEEDS_LIBRARY : LIGHT_DONE;
}

static gboolean
hook_main (int argc, char **argv, GError **error)
{
  g_auto (MvHookConfig) c = { 0 };
  const char *config_path = MV_SYSCONFDIR "/modelvol/modelvol.conf";
  gboolean explicit_config = FALSE;
  const char *stage = NULL;
  g_autoptr (GBytes) state_bytes = NULL;
  g_autoptr (JsonNode) state = NULL;
  g_autoptr (JsonNode) config = NULL;
  g_autoptr (GPtrArray) actions
      = g_ptr_array_new_with_free_func ((GDestroyNotify)mv_hook_action_free);
  JsonObject *st, *annotations, *cfg;
  const char *id, *bundle;
  Lib lib = { 0 };
  MvStore *store = NULL;
  g_autofree char *rootfs = NULL;
  g_autofree char *run_dir = NULL;
  gboolean ok;
  gint64 pid;

  for (int i = 1; i < argc; i++)
    {
      if (g_str_equal (argv[i], "--config") && i + 1 < argc)
        config_path = argv[++i], explicit_config = TRUE;
      else if (argv[i][0] != '-' && stage == NULL)
        stage = argv[i];
      else
        return mv_throw (error, MV_ERROR_FAILED,
                         "usage: modelvol-hook [--config FILE] createRuntime|poststop");
    }
  if (stage == NULL)
    return mv_throw (error, MV_ERROR_FAILED, "no hook stage given (createRuntime or poststop)");
  if (!load_config (config_path, explicit_config, &c, error))
    return FALSE;
  /* The library and our path checks read [limits] from the same file. */
  if (explicit_config || g_file_test (config_path, G_FILE_TEST_EXISTS))
    g_setenv ("MODELVOL_CONFIG", config_path, TRUE);
  if (!mv_limits_check (error))
    return FALSE;

  state_bytes = mv_stream_read_all (STDIN_FILENO, STATE_MAX, "the OCI state on stdin", error);
  if (state_bytes == NULL)
    return FALSE;
  state = mv_hook_parse_json (state_bytes, "the OCI state", FALSE, error);
  if (state == NULL)
    return FALSE;
  st = json_node_get_object (state);
  annotations = mv_json_get_object (st, "annotations");
  id = mv_json_get_string (st, "id");
  bundle = mv_json_get_string (st, "bundle");

  /* The fast path: nothing of ours in this container. */
  if (!mv_hook_wants (&c, annotations))
    return TRUE;
  if (id == NULL || bundle == NULL || !g_path_is_absolute (bundle))
    return mv_throw (error, MV_ERROR_FAILED, "the OCI state lacks id or an absolute bundle");

  if (c.run_dir != NULL)
    g_setenv ("MODELVOL_RUN_DIR", c.run_dir, TRUE);
  if (c.registries_conf != NULL)
    g_setenv ("CONTAINERS_REGISTRIES_CONF", c.registries_conf, TRUE);
  for (guint i = 0; i < G_N_ELEMENTS (pull_limit_keys); i++)
    if (c.pull_limits[i] != NULL)
      g_setenv (pull_limit_keys[i].env, c.pull_limits[i], TRUE);

  if (!mv_use_id_is_valid (id))
    return mv_throw (error, MV_ERROR_FAILED, "the OCI state's container id is not valid");
  run_dir = c.run_dir ? g_strdup (c.run_dir) : mv_run_dir_for_root (c.store_root);
  if (g_str_equal (stage, "poststop"))
    return mv_uses_drop_all_of (run_dir, id, NULL, error);
  if (!g_str_equal (stage, "createRuntime") && !g_str_equal (stage, "prestart")
      && !g_str_equal (stage, "createContainer"))
    return mv_throw (error, MV_ERROR_FAILED, "unknown hook stage '%s'", stage);

  {
    g_autofree char *path = g_build_filename (bundle, "config.json", NULL);
    g_autoptr (GBytes) bytes = mv_file_get_contents_at (AT_FDCWD, path, TRUE, CONFIG_MAX, error);
    if (bytes == NULL)
      return FALSE;
    config = mv_hook_parse_json (bytes, "the bundle's config.json", TRUE, error);
    if (config == NULL)
      return FALSE;
  }
  cfg = json_node_get_object (config);
  if (!mv_hook_plan (&c, annotations, cfg, actions, error))
    return FALSE;
  if (actions->len == 0)
    return TRUE;

  pid = mv_hook_state_pid (st);
  if (pid <= 0 || pid > G_MAXINT)
    return mv_throw (error, MV_ERROR_FAILED, "the OCI state has no container pid");
  rootfs = mv_hook_rootfs (cfg, bundle, error);
  if (rootfs == NULL)
    return FALSE;

  /* Engines may inject us twice (the hasBindMounts and the annotation hooks.d files both
   * match, as each engine judges): the first run records its mounts, the second sees them. */
  {
    g_auto (GStrv) uses = mv_uses_list_of (run_dir, id);
    if (uses[0] != NULL)
      return TRUE;
  }
  /* The mount latency metric: from here to the last mount, imports and pulls included
   * (recorded by the timer's cleanup when this function returns). */
  /* cppcheck-suppress unreadVariable */
  MV_COUNTER_TIMER (timer, c.store_root, MV_COUNTER_MOUNT_HOOK, error);
  if (!wait_for_imports (&c, run_dir, actions, error))
    return FALSE;
  switch (run_light (&c, run_dir, actions, id, (int)pid, rootfs, error))
    {
      case LIGHT_DONE:
        return TRUE;
      case LIGHT_FAILED:
        return FALSE;
      case LIGHT_NEEDS_LIBRARY:
        break;
    }

  if (!lib_load (&lib, error))
    return FALSE;
  store = lib.store_open (c.store_root, MV_STORE_OPEN_CREATE, NULL, error);
  if (store == NULL)
    return FALSE;
  ok = TRUE;
  for (guint i = 0; ok && i < actions->len; i++)
    ok = run_action (&lib, store, &c, actions->pdata[i], id, (int)pid, rootfs, error);
  /* Fail closed: this container will not start, so it uses nothing. */
  if (!ok)
    (void)lib.release_container (store, id, NULL, NULL);
  lib.store_free (store);
  return ok;
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;

  /* Hooks run with whatever environment the runtime passes: trust none of it. */
  clearenv ();
  setenv ("PATH", "/usr/sbin:/usr/bin:/sbin:/bin", 1);
  setlocale (LC_ALL, "C.UTF-8");

  if (!hook_main (argc, argv, &error))
    {
      g_autofree char *shown = mv_escape_for_display (error->message, 2048);
      fprintf (stderr, "modelvol-hook: %s\n", shown);
      return 1;
    }
  return 0;
}
