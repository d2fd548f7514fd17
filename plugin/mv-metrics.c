/* mv-metrics: Prometheus text exposition (0.0.4) of a store: gauges, counters, histograms;
 * node_exporter's textfile, and GET /metrics on a loopback address.
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <fcntl.h>
#include <string.h>

#include "mv-counters-private.h"
#include "mv-error-private.h"
#include "mv-fdio-private.h"
#include "mv-limits-private.h"
#include "mv-metrics-private.h"

#define REQUEST_MAX 8192
#define REQUEST_TIMEOUT_S 10
#define SERVE_THREADS 2

/* ---------------------------------------------------------------------------------------- */
/* [metrics]                                                                                */

GSocketAddress *
mv_metrics_parse_listen (const char *listen, GError **error)
{
  const char *colon = strrchr (listen, ':');
  g_autofree char *host = NULL;
  g_autoptr (GInetAddress) addr = NULL;
  guint64 port;

  if (colon == NULL || !g_ascii_string_to_unsigned (colon + 1, 10, 1, 65535, &port, NULL))
    return mv_throw (error, MV_ERROR_FAILED,
                     "listen address '%s': want HOST:PORT (127.0.0.1:9477, [::1]:9477)", listen),
           NULL;
  host = g_strndup (listen, colon - listen);
  if (host[0] == '[' && strlen (host) > 2 && host[strlen (host) - 1] == ']')
    {
      char *inner = g_strndup (host + 1, strlen (host) - 2);
      g_free (host);
      host = inner;
    }
  if (g_str_equal (host, "localhost"))
    addr = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  else
    addr = g_inet_address_new_from_string (host);
  if (addr == NULL)
    return mv_throw (error, MV_ERROR_FAILED,
                     "listen address '%s': '%s' is not an IP address or localhost", listen, host),
           NULL;
  if (!g_inet_address_get_is_loopback (addr))
    return mv_throw (error, MV_ERROR_FAILED,
                     "listen address '%s' is not a loopback address: metrics are served on "
                     "127.0.0.1 or ::1 only (export them with node_exporter's textfile collector)",
                     listen),
           NULL;
  return g_inet_socket_address_new (addr, (guint16)port);
}

void
mv_metrics_config_clear (MvMetricsConfig *c)
{
  g_clear_pointer (&c->textfile, g_free);
  g_clear_pointer (&c->listen, g_free);
}

gboolean
mv_metrics_config_load (MvMetricsConfig *out, GError **error)
{
  g_autoptr (GKeyFile) kf = g_key_file_new ();
  g_auto (MvMetricsConfig) c = { .interval_s = 60 };
  const char *path = mv_config_path (NULL);
  g_autofree char *interval = NULL;

  if (!mv_config_load (kf, error))
    return FALSE;
  c.textfile = g_key_file_get_string (kf, "metrics", "textfile", NULL);
  c.listen = g_key_file_get_string (kf, "metrics", "listen", NULL);
  interval = g_key_file_get_string (kf, "metrics", "interval", NULL);
  if (c.textfile != NULL && (g_strstrip (c.textfile), !g_path_is_absolute (c.textfile)))
    return mv_throw (error, MV_ERROR_FAILED,
                     "config '%s': [metrics] textfile must be an absolute path", path);
  if (c.listen != NULL)
    {
      g_autoptr (GSocketAddress) addr = mv_metrics_parse_listen (g_strstrip (c.listen), error);
      if (addr == NULL)
        return mv_prefix_error (error, "config '%s': [metrics] listen", path);
    }
  if (interval != NULL)
    {
      guint64 n;
      if (!g_ascii_string_to_unsigned (g_strstrip (interval), 10, 5, 86400, &n, NULL))
        return mv_throw (error, MV_ERROR_FAILED,
                         "config '%s': [metrics] interval must be a whole number from 5 to 86400",
                         path);
      c.interval_s = (guint)n;
    }
  *out = c;
  memset (&c, 0, sizeof c);
  return TRUE;
}

/* ---------------------------------------------------------------------------------------- */
/* The exposition                                                                           */

static void
family (GString *s, const char *name, const char *type, const char *help)
{
  g_string_append_printf (s, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static guint64
counter (GHashTable *t, const char *event, const char *suffix)
{
  g_autofree char *key = g_strdup_printf ("%s_%s", event, suffix);
  guint64 *v = g_hash_table_lookup (t, key);
  return v ? *v : 0;
}

static void
seconds (GString *s, guint64 us)
{
  g_string_append_printf (s, "%" G_GUINT64_FORMAT ".%06u", us / 1000000, (guint)(us % 1000000));
}

/* One event's histogram samples, @labels ("" or `kind="hook",`) first. */
static void
histogram (GString *s, GHashTable *t, const char *name, MvCounterEvent event, const char *labels)
{
  const char *ev = mv_counters_event_name (event);
  guint n;
  const double *b = mv_counters_buckets (event, &n);
  guint64 cum = 0;

  for (guint i = 0; i <= n; i++)
    {
      char bound[G_ASCII_DTOSTR_BUF_SIZE] = "+Inf";
      g_autofree char *suffix = NULL;
      if (i < n)
        g_ascii_formatd (bound, sizeof bound, "%g", b[i]);
      suffix = g_strconcat ("le_", bound, NULL);
      cum += counter (t, ev, suffix);
      g_string_append_printf (s, "%s_bucket{%sle=\"%s\"} %" G_GUINT64_FORMAT "\n", name, labels,
                              bound, cum);
    }
  if (*labels)
    {
      g_autofree char *l = g_strndup (labels, strlen (labels) - 1); /* no trailing comma */
      g_string_append_printf (s, "%s_sum{%s} ", name, l);
      seconds (s, counter (t, ev, "us"));
      g_string_append_printf (s, "\n%s_count{%s} %" G_GUINT64_FORMAT "\n", name, l, cum);
    }
  else
    {
      g_string_append_printf (s, "%s_sum ", name);
      seconds (s, counter (t, ev, "us"));
      g_string_append_printf (s, "\n%s_count %" G_GUINT64_FORMAT "\n", name, cum);
    }
}

static void
outcomes (GString *s, GHashTable *t, const char *name, const char *ev, const char *labels)
{
  g_string_append_printf (s, "%s{%soutcome=\"ok\"} %" G_GUINT64_FORMAT "\n", name, labels,
                          counter (t, ev, "ok"));
  g_string_append_printf (s, "%s{%soutcome=\"error\"} %" G_GUINT64_FORMAT "\n", name, labels,
                          counter (t, ev, "error"));
}

static void
gauge (GString *s, const char *name, const char *help, guint64 v)
{
  family (s, name, "gauge", help);
  g_string_append_printf (s, "%s %" G_GUINT64_FORMAT "\n", name, v);
}

char *
mv_metrics_render (MvStore *store, char **out_warning, GCancellable *cancellable, GError **error)
{
  g_autoptr (GString) s = g_string_new (NULL);
  g_autoptr (GHashTable) t = NULL;
  MvDfStats st;
  static const struct
  {
    MvCounterEvent event;
    const char *what; /* "pull" -> modelvol_pulls_total, modelvol_pull_bytes_total ... */
    const char *total_help, *bytes_help, *duration_help;
  } ops[] = {
    { MV_COUNTER_PULL, "pull", "Pulls from registries, by outcome.",
      "Bytes of layer blobs pulls read from registries (layers already stored are not read).",
      "Duration of successful pulls." },
    { MV_COUNTER_IMPORT, "import", "Imports from OCI image layouts, by outcome.",
      "Bytes of layer blobs imports read (layers already stored are not read).",
      "Duration of successful imports." },
  };

  if (!mv_store_df (store, &st, cancellable, error))
    return NULL;
  t = mv_counters_read (mv_store_get_root (store), out_warning, error);
  if (t == NULL)
    return NULL;

  gauge (s, "modelvol_store_models", "Models in the store.", st.n_models);
  gauge (s, "modelvol_store_layers", "Layers in the store.", st.n_layers);
  gauge (s, "modelvol_store_logical_bytes",
         "Sum of every model's file sizes, as if each model were stored alone.", st.logical_bytes);
  gauge (s, "modelvol_store_stored_bytes", "Bytes of the distinct file objects the models need.",
         st.stored_bytes);
  gauge (s, "modelvol_store_disk_bytes", "Bytes the store's objects take on disk.", st.disk_bytes);

  for (guint i = 0; i < G_N_ELEMENTS (ops); i++)
    {
      const char *ev = mv_counters_event_name (ops[i].event);
      g_autofree char *total = g_strdup_printf ("modelvol_%ss_total", ops[i].what);
      g_autofree char *bytes = g_strdup_printf ("modelvol_%s_bytes_total", ops[i].what);
      g_autofree char *dur = g_strdup_printf ("modelvol_%s_duration_seconds", ops[i].what);
      family (s, total, "counter", ops[i].total_help);
      outcomes (s, t, total, ev, "");
      family (s, bytes, "counter", ops[i].bytes_help);
      g_string_append_printf (s, "%s %" G_GUINT64_FORMAT "\n", bytes, counter (t, ev, "bytes"));
      family (s, dur, "histogram", ops[i].duration_help);
      histogram (s, t, dur, ops[i].event, "");
    }

  family (s, "modelvol_mounts_total", "counter",
          "Model mounts by the OCI hook (kind=\"hook\", per container) and by modelvol mount "
          "(kind=\"host\"), by outcome.");
  outcomes (s, t, "modelvol_mounts_total", mv_counters_event_name (MV_COUNTER_MOUNT_HOOK),
            "kind=\"hook\",");
  outcomes (s, t, "modelvol_mounts_total", mv_counters_event_name (MV_COUNTER_MOUNT_HOST),
            "kind=\"host\",");
  family (s, "modelvol_mount_duration_seconds", "histogram",
          "Latency of successful mounts: the hook's, from its mount plan to the last mount in "
          "the container (an import or pull it needed included).");
  histogram (s, t, "modelvol_mount_duration_seconds", MV_COUNTER_MOUNT_HOOK, "kind=\"hook\",");
  histogram (s, t, "modelvol_mount_duration_seconds", MV_COUNTER_MOUNT_HOST, "kind=\"host\",");

  family (s, "modelvol_prunes_total", "counter", "Prunes (not dry runs), by outcome.");
  outcomes (s, t, "modelvol_prunes_total", mv_counters_event_name (MV_COUNTER_PRUNE), "");
  family (s, "modelvol_prune_reclaimed_bytes_total", "counter",
          "Bytes of store objects prunes deleted.");
  g_string_append_printf (s, "modelvol_prune_reclaimed_bytes_total %" G_GUINT64_FORMAT "\n",
                          counter (t, mv_counters_event_name (MV_COUNTER_PRUNE), "bytes"));
  family (s, "modelvol_prune_duration_seconds", "histogram", "Duration of successful prunes.");
  histogram (s, t, "modelvol_prune_duration_seconds", MV_COUNTER_PRUNE, "");

  family (s, "modelvol_counter_resets_total", "counter",
          "Times the counters file was found corrupt and counting started again from zero.");
  {
    guint64 *v = g_hash_table_lookup (t, "resets");
    g_string_append_printf (s, "modelvol_counter_resets_total %" G_GUINT64_FORMAT "\n", v ? *v : 0);
  }
  return g_string_free (g_steal_pointer (&s), FALSE);
}

gboolean
mv_metrics_write_textfile (MvStore *store, const char *path, char **out_warning,
                           GCancellable *cancellable, GError **error)
{
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *base = g_path_get_basename (path);
  g_autofree char *text = NULL;
  mv_autofd int dfd = -1;

  dfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0)
    return mv_throw_errno_prefix (error, "metrics textfile directory '%s'", dir);
  text = mv_metrics_render (store, out_warning, cancellable, error);
  if (text == NULL)
    return FALSE;
  /* The temp name ends in .tmp-PID-N: the collector reads only *.prom files. */
  if (!mv_file_replace_contents_at (dfd, base, text, strlen (text), 0644, error))
    return mv_prefix_error (error, "metrics textfile '%s'", path);
  return TRUE;
}

/* ---------------------------------------------------------------------------------------- */
/* GET /metrics                                                                             */

static void
respond (GOutputStream *out, const char *status, const char *type, const char *body)
{
  g_autofree char *head
      = g_strdup_printf ("HTTP/1.0 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                         "Connection: close\r\n\r\n",
                         status, type, strlen (body));
  if (g_output_stream_write_all (out, head, strlen (head), NULL, NULL, NULL))
    (void)g_output_stream_write_all (out, body, strlen (body), NULL, NULL, NULL);
}

static gboolean
on_run (GThreadedSocketService *service, GSocketConnection *conn, GObject *source,
        gpointer user_data)
{
  const char *root = user_data;
  GInputStream *in = g_io_stream_get_input_stream (G_IO_STREAM (conn));
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (conn));
  char buf[REQUEST_MAX + 1];
  gsize len = 0;
  g_auto (GStrv) parts = NULL;
  char *eol;

  g_socket_set_timeout (g_socket_connection_get_socket (conn), REQUEST_TIMEOUT_S);
  /* The request head, to its blank line, within REQUEST_MAX bytes. */
  while (len < REQUEST_MAX)
    {
      gssize n = g_input_stream_read (in, buf + len, REQUEST_MAX - len, NULL, NULL);
      if (n <= 0)
        return TRUE;
      len += n;
      buf[len] = '\0';
      if (strstr (buf, "\r\n\r\n") != NULL || strstr (buf, "\n\n") != NULL)
        break;
    }
  buf[len] = '\0';
  eol = strchr (buf, '\n');
  if (len >= REQUEST_MAX || eol == NULL)
    {
      respond (out, "431 Request Header Fields Too Large", "text/plain", "request too large\n");
      return TRUE;
    }
  *eol = '\0';
  g_strchomp (buf);
  parts = g_strsplit (buf, " ", 0);
  if (g_strv_length (parts) != 3 || !g_str_has_prefix (parts[2], "HTTP/"))
    respond (out, "400 Bad Request", "text/plain", "bad request\n");
  else if (!g_str_equal (parts[0], "GET"))
    respond (out, "405 Method Not Allowed", "text/plain", "only GET\n");
  else if (!g_str_equal (parts[1], "/metrics") && !g_str_has_prefix (parts[1], "/metrics?"))
    respond (out, "404 Not Found", "text/plain", "not found: try /metrics\n");
  else
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (MvStore) store = mv_store_open (root, MV_STORE_OPEN_NONE, NULL, &error);
      g_autofree char *warning = NULL;
      g_autofree char *text = store ? mv_metrics_render (store, &warning, NULL, &error) : NULL;
      if (warning != NULL)
        g_debug ("%s", warning);
      if (text == NULL)
        {
          g_autofree char *msg = g_strdup_printf ("%s\n", error->message);
          g_debug ("GET /metrics: %s", error->message);
          respond (out, "500 Internal Server Error", "text/plain", msg);
        }
      else
        respond (out, "200 OK", "text/plain; version=0.0.4; charset=utf-8", text);
    }
  return TRUE;
}

static void
free_root (gpointer data, GClosure *closure)
{
  g_free (data);
}

GSocketService *
mv_metrics_serve (const char *root, const char *listen, GError **error)
{
  g_autoptr (GSocketAddress) addr = mv_metrics_parse_listen (listen, error);
  g_autoptr (GSocketService) service = NULL;

  if (addr == NULL)
    return NULL;
  service = g_threaded_socket_service_new (SERVE_THREADS);
  if (!g_socket_listener_add_address (G_SOCKET_LISTENER (service), addr, G_SOCKET_TYPE_STREAM,
                                      G_SOCKET_PROTOCOL_TCP, NULL, NULL, error))
    return mv_prefix_error (error, "metrics: listening on %s", listen), NULL;
  g_signal_connect_data (service, "run", G_CALLBACK (on_run), g_strdup (root), free_root, 0);
  g_socket_service_start (service);
  return g_steal_pointer (&service);
}
