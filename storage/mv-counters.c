/* mv-counters: event counters of a store, kept in <root>/metrics/counters.
 *
 * The file is text, one "key value" line per counter between a header and a SHA-256 of what
 * precedes it:
 *
 *   modelvol-counters 1
 *   import_ok 3
 *   import_us 1523340
 *   import_le_1 2
 *   ...
 *   sha256 <64 hex>
 *
 * A writer takes an OFD write lock on <root>/metrics/lock (a separate file: the counters file
 * itself is replaced), reads the file, adds its event, writes counters.tmp (a fixed name: only
 * the lock holder writes it, so a crash leaves at most one, overwritten next time) and renames
 * it over counters. Readers see the old file or the new one. There is no fsync: an event must
 * not cost a container start a disk flush. After a power loss the file may be old, empty or
 * torn; the checksum tells, and a bad file is set aside and counting starts again (Prometheus
 * reads a counter that went down as a reset).
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mv-counters-private.h"
#include "mv-error-private.h"
#include "mv-fdio-private.h"

#define HEADER "modelvol-counters 1\n"
#define FILE_MAX (64 * 1024)
#define KEYS_MAX 1024
#define KEY_MAX 64
/* Holders keep the lock for a read and a write of a small file: a lock held for seconds
 * belongs to a stopped or stuck process, and the event is dropped rather than waited for. */
#define LOCK_TRIES 3000
#define LOCK_SLEEP_US 1000

static const double slow_buckets[] = { 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600 };
static const double fast_buckets[]
    = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30 };

static const char *const event_names[] = {
  [MV_COUNTER_PULL] = "pull",
  [MV_COUNTER_IMPORT] = "import",
  [MV_COUNTER_PRUNE] = "prune",
  [MV_COUNTER_MOUNT_HOOK] = "mount_hook",
  [MV_COUNTER_MOUNT_HOST] = "mount_host",
};
G_STATIC_ASSERT (G_N_ELEMENTS (event_names) == MV_COUNTER_N_EVENTS);

const char *
mv_counters_event_name (MvCounterEvent event)
{
  g_return_val_if_fail (event < MV_COUNTER_N_EVENTS, NULL);
  return event_names[event];
}

const double *
mv_counters_buckets (MvCounterEvent event, guint *out_n)
{
  if (event == MV_COUNTER_MOUNT_HOOK || event == MV_COUNTER_MOUNT_HOST)
    {
      *out_n = G_N_ELEMENTS (fast_buckets);
      return fast_buckets;
    }
  *out_n = G_N_ELEMENTS (slow_buckets);
  return slow_buckets;
}

static GHashTable *
table_new (void)
{
  return g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
}

static void
table_add (GHashTable *t, const char *key, guint64 n)
{
  guint64 *v = g_hash_table_lookup (t, key);
  if (v == NULL)
    {
      v = g_new0 (guint64, 1);
      g_hash_table_insert (t, g_strdup (key), v);
    }
  *v = G_MAXUINT64 - *v < n ? G_MAXUINT64 : *v + n;
}

static gboolean
key_is_valid (const char *k, gsize len)
{
  if (len == 0 || len > KEY_MAX)
    return FALSE;
  for (gsize i = 0; i < len; i++)
    if (!g_ascii_isalnum (k[i]) && strchr ("_.+-", k[i]) == NULL)
      return FALSE;
  return TRUE;
}

static char *
checksum_of (const char *data, gsize len)
{
  return g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *)data, len);
}

/* Parses the file into @t. Returns: NULL if it is good, else (transfer full) what is wrong. */
static char *
parse (const char *data, gsize len, GHashTable *t)
{
  const char *end = data + len;
  const char *p;
  const char *sum_line;

  if (len < strlen (HEADER) || memcmp (data, HEADER, strlen (HEADER)) != 0)
    return g_strdup ("no 'modelvol-counters 1' header");
  if (memchr (data, '\0', len) != NULL || data[len - 1] != '\n')
    return g_strdup ("not a text file ending in a newline");
  /* The last line: "sha256 <hex>" over every byte before it. */
  sum_line = g_strrstr_len (data, len - 1, "\n");
  if (sum_line == NULL)
    return g_strdup ("no checksum line");
  sum_line++;
  {
    g_autofree char *want = checksum_of (data, sum_line - data);
    if ((gsize)(end - sum_line) != strlen ("sha256 ") + 64 + 1
        || memcmp (sum_line, "sha256 ", 7) != 0 || memcmp (sum_line + 7, want, 64) != 0)
      return g_strdup ("checksum mismatch (torn or edited)");
  }
  for (p = data + strlen (HEADER); p < sum_line;)
    {
      const char *nl = memchr (p, '\n', sum_line - p);
      const char *sp = memchr (p, ' ', nl - p);
      g_autofree char *key = NULL;
      g_autofree char *num = NULL;
      guint64 v;

      if (sp == NULL || !key_is_valid (p, sp - p))
        return g_strdup_printf ("bad line %.*s", (int)MIN (nl - p, 80), p);
      key = g_strndup (p, sp - p);
      num = g_strndup (sp + 1, nl - sp - 1);
      if (!g_ascii_string_to_unsigned (num, 10, 0, G_MAXUINT64, &v, NULL)
          || g_hash_table_contains (t, key) || g_hash_table_size (t) >= KEYS_MAX)
        return g_strdup_printf ("bad line %.*s", (int)MIN (nl - p, 80), p);
      table_add (t, key, v);
      p = nl + 1;
    }
  return NULL;
}

static char *
serialize (GHashTable *t, gsize *out_len)
{
  g_autoptr (GString) s = g_string_new (HEADER);
  g_autofree const char **keys = (const char **)g_hash_table_get_keys_as_array (t, NULL);
  g_autofree char *sum = NULL;

  qsort (keys, g_hash_table_size (t), sizeof (char *), (GCompareFunc)g_strcmp0);
  for (guint i = 0; keys[i] != NULL; i++)
    g_string_append_printf (s, "%s %" G_GUINT64_FORMAT "\n", keys[i],
                            *(guint64 *)g_hash_table_lookup (t, keys[i]));
  sum = checksum_of (s->str, s->len);
  g_string_append_printf (s, "sha256 %s\n", sum);
  *out_len = s->len;
  return g_string_free (g_steal_pointer (&s), FALSE);
}

/* Opens <root>/metrics (created 0700) and takes the lock. Returns: the lock fd, or -1. */
static int
lock_dir (const char *root, int *out_dfd, GError **error)
{
  mv_autofd int root_dfd = open (root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  mv_autofd int dfd = -1;
  mv_autofd int fd = -1;
  struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

  if (root_dfd < 0)
    return mv_throw_errno_prefix (error, "store root '%s'", root), -1;
  if (!mv_ensure_dirat (root_dfd, "metrics", 0700, error))
    return -1;
  dfd = mv_opendirat (root_dfd, "metrics", FALSE, error);
  if (dfd < 0)
    return -1;
  fd = openat (dfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0)
    return mv_throw_errno_prefix (error, "opening '%s/metrics/lock'", root), -1;
  for (int i = 0; fcntl (fd, F_OFD_SETLK, &fl) < 0; i++)
    {
      if ((errno != EAGAIN && errno != EACCES && errno != EINTR) || i == LOCK_TRIES)
        return mv_throw_errno_prefix (error, "locking '%s/metrics/lock'", root), -1;
      g_usleep (LOCK_SLEEP_US);
    }
  *out_dfd = mv_steal_fd (&dfd);
  return mv_steal_fd (&fd);
}

static gboolean
store_table (int dfd, GHashTable *t, GError **error)
{
  gsize len;
  g_autofree char *data = serialize (t, &len);
  mv_autofd int fd
      = openat (dfd, "counters.tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);

  if (fd < 0)
    return mv_throw_errno_prefix (error, "creating metrics/counters.tmp");
  if (mv_loop_write (fd, data, len) < 0)
    return mv_throw_errno_prefix (error, "writing metrics/counters.tmp");
  if (renameat (dfd, "counters.tmp", dfd, "counters") < 0)
    return mv_throw_errno_prefix (error, "renaming metrics/counters.tmp");
  return TRUE;
}

/* Under the lock: the table, after setting a corrupt file aside (and saying so in
 * @out_warning). */
static GHashTable *
load_table (const char *root, int dfd, char **out_warning, GError **error)
{
  g_autoptr (GError) local_error = NULL;
  g_autoptr (GBytes) bytes
      = mv_file_get_contents_at (dfd, "counters", FALSE, FILE_MAX, &local_error);
  g_autoptr (GHashTable) t = table_new ();
  g_autofree char *why = NULL;

  if (bytes == NULL && g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
    return g_steal_pointer (&t);
  if (bytes == NULL && !g_error_matches (local_error, MV_ERROR, MV_ERROR_LIMIT_EXCEEDED))
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  if (bytes == NULL)
    why = g_strdup ("larger than 64 KiB");
  else
    {
      gsize len;
      const char *data = g_bytes_get_data (bytes, &len);
      why = parse (data, len, t);
    }
  if (why == NULL)
    return g_steal_pointer (&t);

  g_hash_table_remove_all (t);
  table_add (t, "resets", 1);
  if (renameat (dfd, "counters", dfd, "counters.corrupt") < 0)
    {
      mv_throw_errno_prefix (error, "setting aside '%s/metrics/counters'", root);
      return NULL;
    }
  if (!store_table (dfd, t, error))
    return NULL;
  g_debug ("counters file '%s/metrics/counters' was corrupt (%s): counting again from zero", root,
           why);
  if (out_warning != NULL)
    *out_warning = g_strdup_printf ("counters file '%s/metrics/counters' was corrupt (%s): reset "
                                    "to zero, the bad copy kept as counters.corrupt",
                                    root, why);
  return g_steal_pointer (&t);
}

static gboolean
record (const char *root, MvCounterEvent event, gboolean ok, guint64 bytes, gint64 duration_us,
        GError **error)
{
  const char *name = mv_counters_event_name (event);
  mv_autofd int dfd = -1;
  mv_autofd int lock_fd = lock_dir (root, &dfd, error);
  g_autoptr (GHashTable) t = NULL;
  g_autofree char *key = NULL;

  if (lock_fd < 0)
    return FALSE;
  t = load_table (root, dfd, NULL, error);
  if (t == NULL)
    return FALSE;
  key = g_strdup_printf ("%s_%s", name, ok ? "ok" : "error");
  table_add (t, key, 1);
  if (bytes > 0)
    {
      g_autofree char *k_bytes = g_strdup_printf ("%s_bytes", name);
      table_add (t, k_bytes, bytes);
    }
  if (ok)
    {
      guint n;
      const double *b = mv_counters_buckets (event, &n);
      guint64 us = (guint64)MAX (duration_us, 0);
      char bound[G_ASCII_DTOSTR_BUF_SIZE] = "+Inf";
      g_autofree char *k_us = g_strdup_printf ("%s_us", name);
      g_autofree char *k_le = NULL;

      table_add (t, k_us, us);
      /* Per bucket, not cumulative: the renderer sums them up. */
      for (guint i = 0; i < n; i++)
        if ((double)us <= b[i] * 1e6)
          {
            g_ascii_formatd (bound, sizeof bound, "%g", b[i]);
            break;
          }
      k_le = g_strdup_printf ("%s_le_%s", name, bound);
      table_add (t, k_le, 1);
    }
  return store_table (dfd, t, error);
}

void
mv_counters_record (const char *root, MvCounterEvent event, gboolean ok, guint64 bytes,
                    gint64 duration_us)
{
  g_autoptr (GError) error = NULL;

  if (!record (root, event, ok, bytes, duration_us, &error))
    g_debug ("not counting %s: %s", mv_counters_event_name (event), error->message);
}

GHashTable *
mv_counters_read (const char *root, char **out_warning, GError **error)
{
  mv_autofd int dfd = -1;
  mv_autofd int lock_fd = lock_dir (root, &dfd, error);

  if (lock_fd < 0)
    return NULL;
  return load_table (root, dfd, out_warning, error);
}
