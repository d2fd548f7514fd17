/* Layer progress for pull and import, on stderr, in one of four forms (--progress):
 *   tty    one line per active layer and a total with bytes, rate and ETA, redrawn in place at
 *          most ten times a second and cleared at the end;
 *   plain  a line when a layer starts, is skipped or is done (digest, size, time, rate), and
 *          one every 30 s for a layer still running: fit for logs;
 *   json   the same moments as JSON objects, one a line (at most one progress event a second
 *          per layer);
 *   none   nothing.
 * The default (auto) is none with -q, json with --json, tty on a terminal, plain elsewhere.
 * stdout carries only the result, and a failure is still one human line on stderr, after
 * whatever progress came before it.
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mv-builtins.h"
#include "mv-source-private.h"

#define TTY_REDRAW_US (G_USEC_PER_SEC / 10)
#define PLAIN_EVERY_US (30 * G_USEC_PER_SEC)
#define JSON_EVERY_US G_USEC_PER_SEC

typedef enum
{
  MODE_NONE,
  MODE_TTY,
  MODE_PLAIN,
  MODE_JSON,
} Mode;

char *mv_opt_progress;

typedef struct
{
  char *digest;
  guint64 done;
  guint64 size;
  MvProgressState state;
  guint starts;     /* a transfer that broke starts the layer over */
  gint64 started;   /* monotonic time of the last start */
  gint64 last_line; /* plain and json: when the last progress line went out */
} Layer;

static struct
{
  Mode mode;
  GMutex mutex;
  GPtrArray *layers; /* of Layer*, in start order */
  gint64 start;
  gint64 last_draw;
  int lines; /* tty: lines drawn last time */
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

static double
seconds_since (gint64 t)
{
  return (g_get_monotonic_time () - t) / (double)G_USEC_PER_SEC;
}

/* "12.0 MiB/s"; "-" before there is anything to divide by */
static char *
format_rate (guint64 bytes, double secs)
{
  g_autofree char *r = NULL;
  if (secs <= 0)
    return g_strdup ("-");
  r = mv_format_bytes ((guint64)(bytes / secs));
  return g_strconcat (r, "/s", NULL);
}

/* ---------------------------------------------------------------------------------------- */
/* tty                                                                                      */

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
  double secs = seconds_since (P.start);
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

/* ---------------------------------------------------------------------------------------- */
/* plain                                                                                    */

static void
plain_line (Layer *l, MvProgressState state)
{
  g_autofree char *short_digest = mv_short_digest (l->digest);
  g_autofree char *size = mv_format_bytes (l->size);
  double secs = seconds_since (l->started);

  switch (state)
    {
      case MV_PROGRESS_START:
        if (l->starts > 1)
          fprintf (stderr, "Copying blob %s %s: starting over\n", short_digest, size);
        else
          fprintf (stderr, "Copying blob %s %s\n", short_digest, size);
        break;
      case MV_PROGRESS_BYTES:
        {
          g_autofree char *done = mv_format_bytes (l->done);
          g_autofree char *rate = format_rate (l->done, secs);
          fprintf (stderr, "Copying blob %s %s / %s (%d%%), %s\n", short_digest, done, size,
                   l->size ? (int)(100 * l->done / l->size) : 0, rate);
          break;
        }
      case MV_PROGRESS_DONE:
        {
          g_autofree char *rate = format_rate (l->size, secs);
          fprintf (stderr, "Copying blob %s done: %s in %.1f s, %s\n", short_digest, size, secs,
                   rate);
          break;
        }
      case MV_PROGRESS_CACHED:
        fprintf (stderr, "Copying blob %s skipped: already stored\n", short_digest);
        break;
    }
}

/* ---------------------------------------------------------------------------------------- */
/* json                                                                                     */

static void
json_line (JsonBuilder *b)
{
  g_autoptr (JsonNode) root = NULL;
  g_autofree char *s = NULL;

  json_builder_end_object (b);
  root = json_builder_get_root (b);
  s = mv_json_to_string (root, FALSE);
  fprintf (stderr, "%s\n", s);
}

static void
json_member_int (JsonBuilder *b, const char *name, gint64 value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_int_value (b, value);
}

static void
json_member_double (JsonBuilder *b, const char *name, double value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_double_value (b, value);
}

static JsonBuilder *
json_event (const char *event)
{
  JsonBuilder *b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "event");
  json_builder_add_string_value (b, event);
  return b;
}

static void
json_layer_event (Layer *l, MvProgressState state)
{
  static const char *const names[] = {
    [MV_PROGRESS_START] = "layer-start",
    [MV_PROGRESS_BYTES] = "layer-progress",
    [MV_PROGRESS_DONE] = "layer-done",
    [MV_PROGRESS_CACHED] = "layer-cached",
  };
  g_autoptr (JsonBuilder) b = json_event (names[state]);

  json_builder_set_member_name (b, "digest");
  json_builder_add_string_value (b, l->digest);
  json_member_int (b, "size", (gint64)l->size);
  if (state == MV_PROGRESS_START)
    json_member_int (b, "attempt", l->starts);
  if (state == MV_PROGRESS_BYTES || state == MV_PROGRESS_DONE)
    {
      json_member_int (b, "done", (gint64)l->done);
      json_member_double (b, "seconds", seconds_since (l->started));
    }
  json_line (b);
}

/* ---------------------------------------------------------------------------------------- */

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
  if (state == MV_PROGRESS_START)
    {
      l->starts++;
      l->started = l->last_line = now;
    }
  switch (P.mode)
    {
      case MODE_TTY:
        if (state != MV_PROGRESS_BYTES || now - P.last_draw > TTY_REDRAW_US)
          {
            draw ();
            P.last_draw = now;
          }
        break;
      case MODE_PLAIN:
      case MODE_JSON:
        if (state == MV_PROGRESS_BYTES
            && now - l->last_line < (P.mode == MODE_PLAIN ? PLAIN_EVERY_US : JSON_EVERY_US))
          break;
        l->last_line = now;
        if (P.mode == MODE_PLAIN)
          plain_line (l, state);
        else
          json_layer_event (l, state);
        fflush (stderr);
        break;
      case MODE_NONE:
        break;
    }
  g_mutex_unlock (&P.mutex);
}

gboolean
mv_progress_begin (GOptionContext *context, GError **error)
{
  const char *opt = mv_opt_progress ? mv_opt_progress : "auto";

  if (g_str_equal (opt, "auto"))
    P.mode = mv_globals.quiet         ? MODE_NONE
             : mv_globals.json        ? MODE_JSON
             : isatty (STDERR_FILENO) ? MODE_TTY
                                      : MODE_PLAIN;
  else if (g_str_equal (opt, "tty"))
    P.mode = MODE_TTY;
  else if (g_str_equal (opt, "plain"))
    P.mode = MODE_PLAIN;
  else if (g_str_equal (opt, "json"))
    P.mode = MODE_JSON;
  else if (g_str_equal (opt, "none"))
    P.mode = MODE_NONE;
  else
    return mv_usage_error (context, error, "--progress takes auto, tty, plain, json or none");
  if (P.mode == MODE_NONE)
    return TRUE;
  g_mutex_init (&P.mutex);
  P.layers = g_ptr_array_new_with_free_func ((GDestroyNotify)layer_free);
  P.start = g_get_monotonic_time ();
  mv_import_set_progress (on_progress, NULL);
  return TRUE;
}

void
mv_progress_end (gboolean ok)
{
  guint copied = 0, cached = 0;
  guint64 bytes = 0;
  double secs = seconds_since (P.start);

  if (P.layers == NULL)
    return;
  mv_import_set_progress (NULL, NULL);
  for (guint i = 0; i < P.layers->len; i++)
    {
      Layer *l = P.layers->pdata[i];
      if (l->state == MV_PROGRESS_CACHED)
        cached++;
      else if (l->state == MV_PROGRESS_DONE)
        {
          copied++;
          bytes += l->size;
        }
    }
  if (P.mode == MODE_TTY)
    clear_block ();
  else if (ok && P.mode == MODE_PLAIN)
    {
      g_autofree char *b = mv_format_bytes (bytes);
      g_autofree char *rate = format_rate (bytes, secs);
      fprintf (stderr, "Copied %u blob%s (%s) in %.1f s, %s; %u already stored\n", copied,
               copied == 1 ? "" : "s", b, secs, rate, cached);
    }
  else if (ok && P.mode == MODE_JSON)
    {
      g_autoptr (JsonBuilder) b = json_event ("done");
      json_member_int (b, "layers", copied);
      json_member_int (b, "cached", cached);
      json_member_int (b, "bytes", (gint64)bytes);
      json_member_double (b, "seconds", secs);
      json_line (b);
    }
  fflush (stderr);
  g_clear_pointer (&P.layers, g_ptr_array_unref);
  g_mutex_clear (&P.mutex);
}
