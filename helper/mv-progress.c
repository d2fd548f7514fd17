/* A live progress display for pull and import: one line per active layer and a total with
 * bytes, rate and ETA, redrawn on the terminal at most ten times a second. Only when stderr
 * is a terminal (and not with -q or --json): elsewhere stderr keeps to one line per error.
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mv-builtins.h"
#include "mv-source-private.h"

typedef struct
{
  char *digest;
  guint64 done;
  guint64 size;
  MvProgressState state;
} Layer;

static struct
{
  GMutex mutex;
  GPtrArray *layers; /* of Layer*, in start order */
  gint64 start;
  gint64 last_draw;
  int lines; /* lines drawn last time */
} P;

static void
layer_free (Layer *l)
{
  g_free (l->digest);
  g_free (l);
}

static Layer *
find_layer (const char *digest)
{
  for (guint i = 0; i < P.layers->len; i++)
    if (g_str_equal (((Layer *)P.layers->pdata[i])->digest, digest))
      return P.layers->pdata[i];
  return NULL;
}

static void
clear_block (void)
{
  if (P.lines > 0)
    fprintf (stderr, "\033[%dA\033[J", P.lines);
  P.lines = 0;
}

static void
draw (void)
{
  guint64 done = 0, size = 0;
  double secs = (g_get_monotonic_time () - P.start) / 1e6;
  int lines = 0;

  clear_block ();
  for (guint i = 0; i < P.layers->len; i++)
    {
      Layer *l = P.layers->pdata[i];
      g_autofree char *d = mv_format_bytes (l->done);
      g_autofree char *t = mv_format_bytes (l->size);
      g_autofree char *short_digest = mv_short_digest (l->digest);
      done += l->state == MV_PROGRESS_CACHED ? 0 : l->done;
      size += l->state == MV_PROGRESS_CACHED ? 0 : l->size;
      if (l->state != MV_PROGRESS_START && l->state != MV_PROGRESS_BYTES)
        continue;
      fprintf (stderr, "  %s  %10s / %-10s %3d%%\n", short_digest, d, t,
               l->size ? (int)(100 * l->done / l->size) : 0);
      lines++;
    }
  {
    g_autofree char *d = mv_format_bytes (done);
    g_autofree char *t = mv_format_bytes (size);
    double rate = secs > 0 ? done / secs : 0;
    g_autofree char *r = mv_format_bytes ((guint64)rate);
    double eta = rate > 0 ? (size - done) / rate : 0;
    fprintf (stderr, "  total %10s / %-10s %s/s  ETA %.0fs\n", d, t, r, eta);
    lines++;
  }
  P.lines = lines;
  fflush (stderr);
}

static void
on_progress (const char *digest, MvProgressState state, guint64 done, guint64 size,
             gpointer user_data)
{
  gint64 now = g_get_monotonic_time ();
  Layer *l;

  g_mutex_lock (&P.mutex);
  l = find_layer (digest);
  if (l == NULL)
    {
      l = g_new0 (Layer, 1);
      l->digest = g_strdup (digest);
      g_ptr_array_add (P.layers, l);
    }
  l->state = state;
  l->done = done;
  l->size = size;
  if (state != MV_PROGRESS_BYTES || now - P.last_draw > 100000)
    {
      draw ();
      P.last_draw = now;
    }
  g_mutex_unlock (&P.mutex);
}

void
mv_progress_begin (void)
{
  if (mv_globals.quiet || mv_globals.json || !isatty (STDERR_FILENO))
    return;
  g_mutex_init (&P.mutex);
  P.layers = g_ptr_array_new_with_free_func ((GDestroyNotify)layer_free);
  P.start = g_get_monotonic_time ();
  mv_import_set_progress (on_progress, NULL);
}

void
mv_progress_end (void)
{
  if (P.layers == NULL)
    return;
  mv_import_set_progress (NULL, NULL);
  g_mutex_lock (&P.mutex);
  clear_block ();
  fflush (stderr);
  g_mutex_unlock (&P.mutex);
  g_clear_pointer (&P.layers, g_ptr_array_unref);
}
