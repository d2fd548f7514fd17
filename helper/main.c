/* modelvol: the node operator's CLI.
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mv-builtins.h"

MvGlobals mv_globals;

typedef struct
{
  const char *name;
  const char *summary;
  gboolean (*fn) (int argc, char **argv, GCancellable *cancellable, GError **error);
} MvCommand;

static const MvCommand commands[] = {
  { "pull", "Pull a ModelPack model from an OCI registry", mv_builtin_pull },
  { "import", "Import a ModelPack model from an OCI image layout", mv_builtin_import },
  { "login", "Check and store credentials for a registry", mv_builtin_login },
  { "logout", "Remove a registry's stored credentials", mv_builtin_logout },
  { "ls", "List stored models", mv_builtin_ls },
  { "inspect", "Show a model's manifest, config, layers and warnings", mv_builtin_inspect },
  { "path", "Print the shared read-only checkout of a model", mv_builtin_path },
  { "mount", "Mount a model read-only at a host directory", mv_builtin_mount },
  { "umount", "Unmount a model mounted by 'modelvol mount'", mv_builtin_umount },
  { "cdi", "Write a CDI spec for the stored models", mv_builtin_cdi },
  { "rm", "Remove model names or models", mv_builtin_rm },
  { "prune", "Remove unnamed models and unreachable data", mv_builtin_prune },
  { "fsck", "Verify every stored object", mv_builtin_fsck },
  { "verify", "Check stored models' signature verdicts against the policy now", mv_builtin_verify },
  { "df", "Show logical, shared and stored bytes per model", mv_builtin_df },
  { "metrics", "Print, write or serve the store's Prometheus metrics", mv_builtin_metrics },
  { "watch", "Run as a service: import CRI-O's artifacts, keep pins, prune", mv_builtin_watch },
  { NULL },
};

static const GOptionEntry global_entries[] = {
  { "root", 0, 0, G_OPTION_ARG_FILENAME, &mv_globals.root,
    "Store root (default $MODELVOL_ROOT or " MV_DEFAULT_ROOT ")", "DIR" },
  { "json", 0, 0, G_OPTION_ARG_NONE, &mv_globals.json, "Machine-readable output", NULL },
  { "quiet", 'q', 0, G_OPTION_ARG_NONE, &mv_globals.quiet, "Print only results", NULL },
  { "verbose", 'v', 0, G_OPTION_ARG_NONE, &mv_globals.verbose, "Print debug messages", NULL },
  { NULL },
};

gboolean
mv_usage_error (GOptionContext *context, GError **error, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED, "%s", msg);
  return FALSE;
}

MvStore *
mv_option_context_parse (GOptionContext *context, const GOptionEntry *entries, int *argc,
                         char ***argv, GCancellable *cancellable, GError **error)
{
  if (entries != NULL)
    g_option_context_add_main_entries (context, entries, NULL);
  {
    GOptionGroup *g
        = g_option_group_new ("global", "Global options:", "Show global options", NULL, NULL);
    g_option_group_add_entries (g, global_entries);
    g_option_context_add_group (context, g);
  }
  {
    /* GOption names the program by its prgname: "Usage: modelvol pull [OPTION…] REFERENCE". */
    gboolean ok;
    g_set_prgname ((*argv)[0]);
    ok = g_option_context_parse (context, argc, argv, error);
    g_set_prgname ("modelvol");
    if (!ok)
      return NULL;
  }
  if (mv_globals.verbose)
    g_log_set_debug_enabled (TRUE);
  return mv_store_open (mv_globals.root, MV_STORE_OPEN_CREATE, cancellable, error);
}

/* The library's warnings (a config whose diffIds do not match under diff-ids=warn, say) are
 * one line each, as errors are; debug messages (-v) keep GLib's format. */
static GLogWriterOutput
log_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
  if (level & (G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE))
    for (gsize i = 0; i < n_fields; i++)
      if (g_str_equal (fields[i].key, "MESSAGE") && fields[i].length < 0)
        {
          g_autofree char *shown = mv_sanitize (fields[i].value);
          fprintf (stderr, "modelvol: warning: %s\n", shown);
          return G_LOG_WRITER_HANDLED;
        }
  return g_log_writer_default (level, fields, n_fields, user_data);
}

static void
usage (FILE *out)
{
  fprintf (out, "Usage: modelvol [--root DIR] [--json] [-q] [-v] COMMAND [ARGS...]\n\n"
                "ModelPack AI models as deduplicated read-only volumes.\n\nCommands:\n");
  for (const MvCommand *c = commands; c->name; c++)
    fprintf (out, "  %-10s %s\n", c->name, c->summary);
  fprintf (out, "\nRun 'modelvol COMMAND --help' for a command's options. See modelvol(1).\n");
}

/* SIGINT and SIGTERM cancel the running operation; a second one ends the process. The
 * handler only writes to a pipe (any thread may take the signal: sanitizer and library
 * threads too); a thread of ours turns that into a cancellation. */
static int signal_pipe[2] = { -1, -1 };

static void
on_signal (int sig)
{
  int errsv = errno;
  char c = (char)sig;
  ssize_t r = write (signal_pipe[1], &c, 1);
  (void)r;
  errno = errsv;
}

static void *
signal_thread (void *data)
{
  GCancellable *cancellable = data;

  for (int n = 0;; n++)
    {
      char c;
      ssize_t r = read (signal_pipe[0], &c, 1);
      if (r < 0 && errno == EINTR)
        {
          n--;
          continue;
        }
      if (r <= 0)
        return NULL;
      if (n > 0)
        _exit (128 + c);
      g_cancellable_cancel (cancellable);
    }
}

static void
setup_signals (GCancellable *cancellable)
{
  struct sigaction sa = { 0 };
  pthread_t thread;

  if (pipe2 (signal_pipe, O_CLOEXEC) < 0)
    return;
  if (pthread_create (&thread, NULL, signal_thread, cancellable) != 0)
    return;
  pthread_detach (thread);
  sa.sa_handler = on_signal;
  sa.sa_flags = SA_RESTART;
  sigemptyset (&sa.sa_mask);
  sigaction (SIGINT, &sa, NULL);
  sigaction (SIGTERM, &sa, NULL);
}

static void
print_error (GError *error)
{
  g_autofree char *msg = mv_sanitize (error->message);
  fprintf (stderr, "modelvol: %s\n", msg);
}

int
main (int argc, char **argv)
{
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (GError) error = NULL;
  const MvCommand *cmd = NULL;
  const char *name = NULL;
  int cmd_index = -1;

  /* Layer threads allocate little (one read buffer each): a malloc arena per thread would
   * only add resident pages. Measured: about 0.2 MiB less peak RSS for a pull. */
  mallopt (M_ARENA_MAX, 2);
  setlocale (LC_ALL, "");
  g_set_prgname ("modelvol");
  /* Debug messages go to stderr: stdout carries results (digests, paths, JSON). */
  g_log_writer_default_set_use_stderr (TRUE);
  g_log_set_writer_func (log_writer, NULL, NULL);

  setup_signals (cancellable);

  /* Global options may come before the command: modelvol --root X ls. */
  for (int i = 1; i < argc; i++)
    {
      if (argv[i][0] != '-')
        {
          cmd_index = i;
          break;
        }
      if (g_str_equal (argv[i], "--help") || g_str_equal (argv[i], "-h"))
        {
          usage (stdout);
          return 0;
        }
      if (g_str_equal (argv[i], "--version"))
        {
          printf ("modelvol %s\n", PACKAGE_VERSION);
          return 0;
        }
      if (g_str_equal (argv[i], "--root"))
        i++;
    }
  if (cmd_index < 0)
    {
      usage (stderr);
      return 2;
    }
  name = argv[cmd_index];
  for (const MvCommand *c = commands; c->name; c++)
    if (g_str_equal (c->name, name))
      cmd = c;
  if (cmd == NULL)
    {
      g_autofree char *shown = mv_sanitize (name);
      fprintf (stderr, "modelvol: unknown command '%s'; see 'modelvol --help'\n", shown);
      return 2;
    }

  {
    /* Hand the command "modelvol-CMD [global options] [args]": GOption parses both. */
    g_autofree char *prog = g_strdup_printf ("modelvol %s", name);
    g_autofree char **args = g_new0 (char *, argc + 1);
    int n = 0;
    args[n++] = prog;
    for (int i = 1; i < argc; i++)
      if (i != cmd_index)
        args[n++] = argv[i];
    if (!cmd->fn (n, args, cancellable, &error))
      {
        print_error (error);
        if (error->domain == G_OPTION_ERROR)
          {
            fprintf (stderr, "see 'modelvol %s --help'\n", name);
            return 2;
          }
        return 1;
      }
  }
  return 0;
}
