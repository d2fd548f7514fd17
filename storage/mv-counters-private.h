/* mv-counters: the store's event counters (pulls, imports, mounts, prunes), shared by every
 * process that works on the store: the CLI, the hook, the watch service. One small text file,
 * <root>/metrics/counters, replaced atomically under an OFD lock (<root>/metrics/lock). No
 * libostree: the hook's light path links this. docs/architecture.md ("Metrics") says why.
 * SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <gio/gio.h>

typedef enum
{
  MV_COUNTER_PULL,
  MV_COUNTER_IMPORT,
  MV_COUNTER_PRUNE,
  MV_COUNTER_MOUNT_HOOK, /* the OCI hook mounting models into a container */
  MV_COUNTER_MOUNT_HOST, /* mv_store_mount(): `modelvol mount` */
  MV_COUNTER_N_EVENTS,
} MvCounterEvent;

/**
 * mv_counters_event_name:
 * Returns: (transfer none): "pull", "import", "prune", "mount_hook" or "mount_host": the
 *   prefix of the event's keys
 */
const char *mv_counters_event_name (MvCounterEvent event);

/**
 * mv_counters_buckets:
 * The upper bounds (seconds, ascending, +Inf not included) of the event's duration buckets.
 * Returns: (transfer none) (array length=out_n): the bounds
 */
const double *mv_counters_buckets (MvCounterEvent event, guint *out_n);

/**
 * mv_counters_record:
 * @root: the store root
 * @ok: the outcome
 * @bytes: bytes the event moved (layer blob bytes read whole, bytes reclaimed), whatever the
 *   outcome (a failed pull keeps the layers it finished); added to <event>_bytes
 * @duration_us: how long it took; a successful event's duration goes into its histogram
 *
 * Adds one event: <event>_ok or <event>_error, its bytes, and for a success its duration. Never
 * fails its caller: any problem (no store, a full disk, a lock held for seconds) is logged with
 * g_debug (seen with -v) and the event is not counted. A corrupt file is set aside as
 * counters.corrupt and counting starts again from zero (the key "resets" counts that).
 */
void mv_counters_record (const char *root, MvCounterEvent event, gboolean ok, guint64 bytes,
                         gint64 duration_us);

/**
 * mv_counters_read:
 * @root: the store root
 * @out_warning: (out) (transfer full) (optional): set when the file was corrupt and was reset
 *
 * Returns: (transfer full) (element-type utf8 guint64): key -> (guint64 *) value; empty when
 *   nothing was ever counted; NULL with @error set if the file cannot be read or reset
 */
GHashTable *mv_counters_read (const char *root, char **out_warning, GError **error);

/* Times a scope: on leaving it records @event, a success unless *@error is set by then. */
typedef struct
{
  const char *root;
  MvCounterEvent event;
  GError **error;
  gint64 start;
} MvCounterTimer;

static inline void
mv_counter_timer_done (MvCounterTimer *t)
{
  if (t->root != NULL)
    mv_counters_record (t->root, t->event, t->error == NULL || *t->error == NULL, 0,
                        g_get_monotonic_time () - t->start);
}

#define MV_COUNTER_TIMER(name, root, event, error)                                                 \
  __attribute__ ((cleanup (mv_counter_timer_done))) MvCounterTimer name                            \
      = { (root), (event), (error), g_get_monotonic_time () }
