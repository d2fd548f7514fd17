/* modelvol metrics [--textfile PATH] [--listen ADDR]
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdio.h>

#include "mv-builtins.h"
#include "mv-metrics-private.h"

static char *opt_textfile;
static char *opt_listen;

static const GOptionEntry entries[] = {
  { "textfile", 0, 0, G_OPTION_ARG_FILENAME, &opt_textfile,
    "Write the metrics to PATH (atomically, mode 0644) instead of stdout", "PATH" },
  { "listen", 0, 0, G_OPTION_ARG_STRING, &opt_listen,
    "Serve GET /metrics on ADDR (loopback only: 127.0.0.1:9477, [::1]:9477) until stopped",
    "ADDR" },
  { NULL },
};

static void
warn (char *warning)
{
  if (warning != NULL)
    {
      g_autofree char *shown = mv_sanitize (warning);
      fprintf (stderr, "modelvol: warning: %s\n", shown);
    }
  g_free (warning);
}

static void
quit_loop (GCancellable *cancellable, GMainLoop *loop)
{
  g_main_loop_quit (loop);
}

MV_BUILTIN (metrics)
{
  g_autoptr (GOptionContext) context = g_option_context_new ("");
  g_autoptr (MvStore) store = NULL;
  g_autoptr (GSocketService) service = NULL;
  g_autoptr (GMainLoop) loop = NULL;
  char *warning = NULL;
  gulong handler;

  g_option_context_set_summary (context,
                                "Print the store's metrics in the Prometheus text format, write "
                                "them for node_exporter's textfile collector, or serve them.");
  store = mv_option_context_parse (context, entries, &argc, &argv, cancellable, error);
  if (store == NULL)
    return FALSE;
  if (argc != 1)
    return mv_usage_error (context, error, "metrics takes no arguments");
  /* [metrics] is for `watch`; a bad key still stops us, as bad [limits] stop every command. */
  {
    g_auto (MvMetricsConfig) conf = { 0 };
    if (!mv_metrics_config_load (&conf, error))
      return FALSE;
  }
  if (opt_listen != NULL)
    {
      /* Refused before anything is written: a non-loopback address is a usage error. */
      g_autoptr (GSocketAddress) addr = mv_metrics_parse_listen (opt_listen, error);
      if (addr == NULL)
        return FALSE;
    }
  if (opt_textfile != NULL)
    {
      gboolean ok = mv_metrics_write_textfile (store, opt_textfile, &warning, cancellable, error);
      warn (g_steal_pointer (&warning));
      if (!ok)
        return FALSE;
    }
  else if (opt_listen == NULL)
    {
      g_autofree char *text = mv_metrics_render (store, &warning, cancellable, error);
      warn (g_steal_pointer (&warning));
      if (text == NULL)
        return FALSE;
      fputs (text, stdout);
      return fflush (stdout) == 0;
    }
  if (opt_listen == NULL)
    return TRUE;

  service = mv_metrics_serve (mv_store_get_root (store), opt_listen, error);
  if (service == NULL)
    return FALSE;
  if (!mv_globals.quiet)
    fprintf (stderr, "modelvol: serving metrics on http://%s/metrics\n", opt_listen);
  loop = g_main_loop_new (NULL, FALSE);
  handler = g_cancellable_connect (cancellable, G_CALLBACK (quit_loop), loop, NULL);
  if (!g_cancellable_is_cancelled (cancellable))
    g_main_loop_run (loop);
  g_cancellable_disconnect (cancellable, handler);
  g_socket_service_stop (service);
  g_socket_listener_close (G_SOCKET_LISTENER (service));
  return TRUE;
}
