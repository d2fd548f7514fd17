/* mv-uses: use records. A container or host mount that uses a model's checkout has a record
 * <run_dir>/uses/<manifest hex>/<user id>; rm and prune leave a model alone while it has a
 * live one. Records of containers whose process is gone, and of host mounts no longer mounted,
 * are stale: they are reclaimed when found.
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "mv-error-private.h"
#include "mv-fdio-private.h"
#include "mv-uses-private.h"

#define MV_USE_RECORD_MAX 8192

gboolean
mv_use_id_is_valid (const char *id)
{
  gsize len = strlen (id);

  if (len == 0 || len > 255 || g_str_equal (id, ".") || g_str_equal (id, ".."))
    return FALSE;
  for (const char *p = id; *p; p++)
    if (!g_ascii_isalnum (*p) && strchr ("_.+-", *p) == NULL)
      return FALSE;
  return TRUE;
}

static const char *
digest_hex (const char *digest)
{
  const char *colon = strchr (digest, ':');
  return colon ? colon + 1 : digest;
}

char *
mv_run_dir_for_root (const char *root)
{
  const char *run = g_getenv ("MODELVOL_RUN_DIR");
  if (run != NULL && *run != '\0')
    return g_strdup (run);
  if (g_str_equal (root, MV_DEFAULT_ROOT))
    return g_strdup (MV_DEFAULT_RUN_DIR);
  return g_build_filename (root, "run", NULL);
}

/* Opens (creating with @create) <run_dir>/uses, 0700. */
static int
open_uses_dir (const char *run_dir, gboolean create, GError **error)
{
  g_autofree char *uses = g_build_filename (run_dir, "uses", NULL);
  int fd;

  if (create && g_mkdir_with_parents (uses, 0700) < 0)
    {
      mv_throw_errno_prefix (error, "creating '%s'", uses);
      return -1;
    }
  fd = open (uses, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0 && (create || errno != ENOENT))
    mv_throw_errno_prefix (error, "opening '%s'", uses);
  return fd;
}

gboolean
mv_uses_add (const char *run_dir, const char *digest, const char *user, const char *record,
             GError **error)
{
  const char *hex = digest_hex (digest);
  mv_autofd int uses_dfd = -1;
  mv_autofd int dfd = -1;

  if (!mv_use_id_is_valid (user))
    return mv_throw (error, MV_ERROR_FAILED, "invalid user id '%s'", user);
  uses_dfd = open_uses_dir (run_dir, TRUE, error);
  if (uses_dfd < 0)
    return FALSE;
  if (!mv_ensure_dirat (uses_dfd, hex, 0700, error))
    return FALSE;
  dfd = mv_opendirat (uses_dfd, hex, FALSE, error);
  if (dfd < 0)
    return FALSE;
  return mv_file_replace_contents_at (dfd, user, record, strlen (record), 0600, error);
}

gboolean
mv_uses_drop (const char *run_dir, const char *digest, const char *user, GError **error)
{
  g_autofree char *dir = g_build_filename (run_dir, "uses", digest_hex (digest), NULL);
  mv_autofd int dfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);

  if (dfd < 0)
    return errno == ENOENT ? TRUE : mv_throw_errno_prefix (error, "opening '%s'", dir);
  if (unlinkat (dfd, user, 0) < 0 && errno != ENOENT)
    return mv_throw_errno_prefix (error, "removing use record '%s/%s'", dir, user);
  /* Leave the per-model directory: removing it could race with a concurrent add. */
  return TRUE;
}

gboolean
mv_uses_drop_all_of (const char *run_dir, const char *user, guint *out_dropped, GError **error)
{
  mv_autofd int uses_dfd = -1;
  g_autoptr (GPtrArray) hexes = g_ptr_array_new_with_free_func (g_free);
  guint dropped = 0;
  DIR *d;
  struct dirent *de;

  if (out_dropped)
    *out_dropped = 0;
  if (!mv_use_id_is_valid (user))
    return mv_throw (error, MV_ERROR_FAILED, "invalid user id '%s'", user);
  uses_dfd = open_uses_dir (run_dir, FALSE, NULL);
  if (uses_dfd < 0)
    return errno == ENOENT ? TRUE : mv_throw_errno_prefix (error, "opening use records");
  d = fdopendir (fcntl (uses_dfd, F_DUPFD_CLOEXEC, 3));
  if (d == NULL)
    return mv_throw_errno_prefix (error, "reading use records");
  while ((de = readdir (d)) != NULL)
    if (de->d_name[0] != '.')
      g_ptr_array_add (hexes, g_strdup (de->d_name));
  closedir (d);

  for (guint i = 0; i < hexes->len; i++)
    {
      mv_autofd int dfd
          = openat (uses_dfd, hexes->pdata[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
      if (dfd >= 0 && unlinkat (dfd, user, 0) == 0)
        dropped++;
    }
  if (out_dropped)
    *out_dropped = dropped;
  return TRUE;
}

gboolean
mv_uses_has (const char *run_dir, const char *digest, const char *user)
{
  g_autofree char *path = g_build_filename (run_dir, "uses", digest_hex (digest), user, NULL);
  struct stat st;
  return lstat (path, &st) == 0;
}

char **
mv_uses_list_of (const char *run_dir, const char *user)
{
  g_autofree char *uses = g_build_filename (run_dir, "uses", NULL);
  g_autoptr (GDir) d = g_dir_open (uses, 0, NULL);
  g_autoptr (GPtrArray) found = g_ptr_array_new_with_free_func (g_free);
  const char *hex;

  while (d != NULL && mv_use_id_is_valid (user) && (hex = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (uses, hex, user, NULL);
      struct stat st;
      if (lstat (path, &st) == 0)
        g_ptr_array_add (found,
                         g_strdup_printf ("%s:%s", strlen (hex) == 128 ? "sha512" : "sha256", hex));
    }
  g_ptr_array_add (found, NULL);
  return (char **)g_ptr_array_free (g_steal_pointer (&found), FALSE);
}

char *
mv_uses_find (const char *run_dir, const char *user)
{
  g_auto (GStrv) all = mv_uses_list_of (run_dir, user);
  return all[0] ? g_strdup (all[0]) : NULL;
}

/* Decodes the octal escapes (\040 ...) of a /proc/self/mountinfo path in place. */
static void
unescape_mountinfo (char *s)
{
  char *w = s;
  for (char *r = s; *r;)
    {
      if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' && r[3] >= '0'
          && r[3] <= '7')
        {
          *w++ = (char)(((r[1] - '0') << 6) | ((r[2] - '0') << 3) | (r[3] - '0'));
          r += 4;
        }
      else
        *w++ = *r++;
    }
  *w = '\0';
}

gboolean
mv_path_is_mount_point (const char *path)
{
  g_autofree char *contents = NULL;
  g_auto (GStrv) lines = NULL;

  if (!g_file_get_contents ("/proc/self/mountinfo", &contents, NULL, NULL))
    return TRUE; /* cannot tell: keep the record */
  lines = g_strsplit (contents, "\n", -1);
  for (guint i = 0; lines[i]; i++)
    {
      g_auto (GStrv) f = g_strsplit (lines[i], " ", 6);
      if (g_strv_length (f) < 5)
        continue;
      unescape_mountinfo (f[4]);
      if (g_str_equal (f[4], path))
        return TRUE;
    }
  return FALSE;
}

guint64
mv_process_start_time (int pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", pid);
  g_autofree char *contents = NULL;
  const char *p;
  g_auto (GStrv) fields = NULL;

  if (pid <= 0 || !g_file_get_contents (path, &contents, NULL, NULL))
    return 0;
  /* The command name may hold spaces and parentheses: fields start after the last ')'. */
  p = strrchr (contents, ')');
  if (p == NULL)
    return 0;
  fields = g_strsplit (p + 2, " ", 22);
  /* After the name: state is field 3; starttime is field 22, so index 19 here. */
  if (g_strv_length (fields) < 21)
    return 0;
  /* A zombie no longer uses anything: its mount namespace is gone. */
  if (g_str_equal (fields[0], "Z") || g_str_equal (fields[0], "X"))
    return 0;
  return g_ascii_strtoull (fields[19], NULL, 10);
}

/* A record is "key=value" lines: kind=container with pid= and start=, or kind=mount with
 * target=. Anything unreadable counts as live: a record is never dropped on a guess. So does
 * a record with a key twice or a line of no key: a mount target with a newline in its name
 * ("kind=mount\ntarget=/mnt/a\nb\n") reads as another target, not mounted, or as another
 * kind of record altogether. */
static gboolean
record_is_live (int dfd, const char *name)
{
  g_autoptr (GBytes) bytes = mv_file_get_contents_at (dfd, name, FALSE, MV_USE_RECORD_MAX, NULL);
  g_autofree char *text = NULL;
  g_auto (GStrv) lines = NULL;
  const char *kind = NULL, *target = NULL, *pid_text = NULL, *start_text = NULL;
  int pid = 0;
  guint64 start = 0;

  if (bytes == NULL)
    return TRUE;
  text = g_strndup (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i]; i++)
    {
      const char **value = NULL;
      if (g_str_has_prefix (lines[i], "kind="))
        value = &kind;
      else if (g_str_has_prefix (lines[i], "pid="))
        value = &pid_text;
      else if (g_str_has_prefix (lines[i], "start="))
        value = &start_text;
      else if (g_str_has_prefix (lines[i], "target="))
        value = &target;
      else if (lines[i][0] != '\0' || lines[i + 1] != NULL)
        return TRUE;
      if (value != NULL && *value != NULL)
        return TRUE;
      if (value != NULL)
        *value = strchr (lines[i], '=') + 1;
    }
  if (pid_text != NULL)
    pid = (int)g_ascii_strtoll (pid_text, NULL, 10);
  if (start_text != NULL)
    start = g_ascii_strtoull (start_text, NULL, 10);
  if (g_strcmp0 (kind, "container") == 0 && pid > 0)
    return mv_process_start_time (pid) == start;
  if (g_strcmp0 (kind, "mount") == 0 && target != NULL)
    return mv_path_is_mount_point (target);
  return TRUE;
}

gboolean
mv_uses_model_in_use (const char *run_dir, const char *digest)
{
  g_autofree char *dir = g_build_filename (run_dir, "uses", digest_hex (digest), NULL);
  mv_autofd int dfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  gboolean live = FALSE;
  DIR *d;
  struct dirent *de;

  if (dfd < 0)
    return errno != ENOENT; /* cannot tell: in use */
  d = fdopendir (fcntl (dfd, F_DUPFD_CLOEXEC, 3));
  if (d == NULL)
    return TRUE;
  while ((de = readdir (d)) != NULL)
    if (de->d_name[0] != '.')
      g_ptr_array_add (names, g_strdup (de->d_name));
  closedir (d);

  for (guint i = 0; i < names->len; i++)
    {
      const char *name = names->pdata[i];
      if (record_is_live (dfd, name))
        live = TRUE;
      else
        {
          g_debug ("reclaiming stale use record %s/%s", dir, name);
          (void)unlinkat (dfd, name, 0);
        }
    }
  return live;
}
