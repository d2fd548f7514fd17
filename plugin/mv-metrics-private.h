/* mv-metrics: the store's metrics in the Prometheus text exposition format (version 0.0.4):
 * gauges of the store (df) and the event counters every process records
 * (storage/mv-counters-private.h). For `modelvol metrics` and the `watch` service: both write
 * node_exporter's textfile and may serve GET /metrics on a loopback address.
 * SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <gio/gio.h>

#include "modelvol.h"

/* The [metrics] section of modelvol.conf. */
typedef struct
{
  char *textfile;   /* textfile=: absolute path of the .prom file, or NULL */
  char *listen;     /* listen=: "127.0.0.1:9477", "[::1]:9477", "localhost:9477", or NULL */
  guint interval_s; /* interval=: seconds between refreshes by `watch` (default 60) */
} MvMetricsConfig;

/**
 * mv_metrics_config_load:
 * Reads [metrics] from modelvol.conf (mv_config_load()). A bad key is one error naming the
 * file and the key; a non-loopback listen= is refused here already.
 */
gboolean mv_metrics_config_load (MvMetricsConfig *out, GError **error);
void mv_metrics_config_clear (MvMetricsConfig *c);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (MvMetricsConfig, mv_metrics_config_clear)

/**
 * mv_metrics_parse_listen:
 * @listen: "HOST:PORT" with HOST 127.x.y.z, [::1] or localhost
 * Returns: (transfer full) (nullable): the address, or NULL with @error set (anything that
 *   is not a loopback address is refused)
 */
GSocketAddress *mv_metrics_parse_listen (const char *listen, GError **error);

/**
 * mv_metrics_render:
 * @out_warning: (out) (optional) (transfer full): set when the counters file was corrupt and
 *   has been reset (the caller shows it; rendering went on)
 *
 * The exposition: store gauges (models, layers, logical, stored and disk bytes, from a pass
 * over the models' trees under the shared store lock) and every counter and histogram.
 * Returns: (transfer full) (nullable): the text, or NULL with @error set
 */
char *mv_metrics_render (MvStore *store, char **out_warning, GCancellable *cancellable,
                         GError **error);

/**
 * mv_metrics_write_textfile:
 * @path: the .prom file node_exporter's textfile collector reads
 *
 * Renders and replaces @path atomically (a temp file in the same directory whose name does
 * not end in .prom, fsync, rename), mode 0644. The directory must exist.
 */
gboolean mv_metrics_write_textfile (MvStore *store, const char *path, char **out_warning,
                                    GCancellable *cancellable, GError **error);

/**
 * mv_metrics_serve:
 * @root: the store root (each scrape opens the store anew: the service shares no handle)
 * @listen: as for mv_metrics_parse_listen()
 *
 * Starts a small HTTP/1.0 responder on @listen: GET /metrics answers the exposition
 * (text/plain; version=0.0.4), any other path 404, any other method 405; a request is read
 * to at most 8 KiB and for at most 10 s; each response closes its connection. Connections
 * are handled in up to 2 threads of a #GThreadedSocketService whose accept source is attached
 * to the thread-default main context of the caller: run that context's main loop (the CLI's
 * `metrics --listen`, or `watch` on its own loop). Stop with g_socket_service_stop() and
 * unref.
 * Returns: (transfer full) (nullable): the running service, or NULL with @error set (a
 *   non-loopback address, or the port is taken)
 */
GSocketService *mv_metrics_serve (const char *root, const char *listen, GError **error);
