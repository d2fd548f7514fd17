/* mv-integrity: fsck's damage markers and the checkout index (see mv-integrity-private.h).
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "mv-error-private.h"
#include "mv-fdio-private.h"
#include "mv-integrity-private.h"
#include "mv-path-private.h"

#define MARKER_MAX (1024 * 1024)
#define INDEX_MAX ((gsize)1024 * 1024 * 1024)

static const char *
kind_prefix (MvDamageKind kind)
{
  return kind == MV_DAMAGE_MODEL ? "model-" : "layer-";
}

char *
mv_damage_name (MvDamageKind kind, const char *digest)
{
  const char *colon = strchr (digest, ':');
  g_assert (colon != NULL);
  return g_strdup_printf ("%s%.*s-%s", kind_prefix (kind), (int)(colon - digest), digest,
                          colon + 1);
}

static char *
damage_path (MvDamageKind kind, const char *digest)
{
  g_autofree char *name = mv_damage_name (kind, digest);
  return g_build_filename (MV_DAMAGED_DIR, name, NULL);
}

char *
mv_damage_read (int root_dfd, MvDamageKind kind, const char *digest)
{
  g_autofree char *path = damage_path (kind, digest);
  g_autoptr (GBytes) bytes = NULL;
  g_autoptr (GError) local_error = NULL;
  const char *data;
  gsize len;

  bytes = mv_file_get_contents_at (root_dfd, path, FALSE, MARKER_MAX, &local_error);
  if (bytes == NULL)
    {
      struct stat st;
      /* A marker we cannot read still marks the model. */
      return fstatat (root_dfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0 ? g_strdup ("") : NULL;
    }
  data = g_bytes_get_data (bytes, &len);
  for (gsize i = 0; i < len; i++)
    if (data[i] == '\n' || data[i] == '\0')
      return g_strndup (data, i);
  return g_strndup (data, len);
}

gboolean
mv_damage_mark (int root_dfd, MvDamageKind kind, const char *digest, const char *report,
                GError **error)
{
  g_autofree char *path = damage_path (kind, digest);

  if (!mv_ensure_dirat (root_dfd, MV_DAMAGED_DIR, 0700, error))
    return FALSE;
  return mv_file_replace_contents_at (root_dfd, path, report, strlen (report), 0600, error);
}

gboolean
mv_damage_clear (int root_dfd, MvDamageKind kind, const char *digest, GError **error)
{
  g_autofree char *path = damage_path (kind, digest);

  if (unlinkat (root_dfd, path, 0) < 0 && errno != ENOENT)
    return mv_throw_errno_prefix (error, "removing damage marker '%s'", path);
  return TRUE;
}

GPtrArray *
mv_damage_list (int root_dfd, MvDamageKind kind)
{
  g_autoptr (GPtrArray) ret = g_ptr_array_new_with_free_func (g_free);
  const char *prefix = kind_prefix (kind);
  int fd = openat (root_dfd, MV_DAMAGED_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  DIR *dir;
  struct dirent *de;

  if (fd < 0)
    return g_steal_pointer (&ret);
  dir = fdopendir (fd);
  if (dir == NULL)
    {
      close (fd);
      return g_steal_pointer (&ret);
    }
  while ((de = readdir (dir)) != NULL)
    {
      const char *rest, *dash;
      gsize hexlen;

      if (!g_str_has_prefix (de->d_name, prefix))
        continue;
      rest = de->d_name + strlen (prefix);
      dash = strchr (rest, '-');
      if (dash == NULL)
        continue;
      hexlen = strlen (dash + 1);
      /* Temp files of an atomic write ("<name>.tmp-…") fail the hex test. */
      if (hexlen < 64 || strspn (dash + 1, "0123456789abcdef") != hexlen)
        continue;
      g_ptr_array_add (ret, g_strdup_printf ("%.*s:%s", (int)(dash - rest), rest, dash + 1));
    }
  closedir (dir);
  return g_steal_pointer (&ret);
}

/* ---------------------------------------------------------------------------------------- */
/* The checkout index                                                                       */

static char *
index_path (const char *digest)
{
  const char *colon = strchr (digest, ':');
  return g_build_filename (MV_CHECKOUT_INDEX_DIR, colon ? colon + 1 : digest, NULL);
}

gboolean
mv_checkout_index_write (int root_dfd, const char *digest, GVariant *index, GError **error)
{
  g_autofree char *path = index_path (digest);

  g_return_val_if_fail (g_variant_is_of_type (index, G_VARIANT_TYPE (MV_CHECKOUT_INDEX_TYPE)),
                        FALSE);
  if (!mv_ensure_dirat (root_dfd, MV_CHECKOUT_INDEX_DIR, 0700, error))
    return FALSE;
  return mv_file_replace_contents_at (root_dfd, path, g_variant_get_data (index),
                                      g_variant_get_size (index), 0600, error);
}

gboolean
mv_checkout_index_exists (int root_dfd, const char *digest)
{
  g_autofree char *path = index_path (digest);
  struct stat st;

  return fstatat (root_dfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

gboolean
mv_checkout_index_remove (int root_dfd, const char *digest, GError **error)
{
  g_autofree char *path = index_path (digest);

  if (unlinkat (root_dfd, path, 0) < 0 && errno != ENOENT)
    return mv_throw_errno_prefix (error, "removing checkout index '%s'", path);
  return TRUE;
}

static void
hex_of_bytes (const guint8 *b, char out[65])
{
  static const char digits[] = "0123456789abcdef";
  for (int i = 0; i < 32; i++)
    {
      out[2 * i] = digits[b[i] >> 4];
      out[2 * i + 1] = digits[b[i] & 0xf];
    }
  out[64] = '\0';
}

/* One index entry against the checkout and the repo's object. */
static gboolean
verify_entry (int checkout_dfd, int objects_dfd, GVariant *entry, GError **error)
{
  g_autoptr (GVariant) csum_v = NULL;
  g_autofree char *shown = NULL;
  g_autofree char *objpath = NULL;
  const char *path;
  const guint8 *csum;
  gsize csum_len = 0;
  guint32 mode, nsec;
  guint64 size;
  gint64 sec;
  char hex[65];
  struct stat st, ost;

  g_variant_get (entry, "(&s@ayutxu)", &path, &csum_v, &mode, &size, &sec, &nsec);
  csum = g_variant_get_fixed_array (csum_v, &csum_len, 1);
  if (*path == '\0' || *path == '/' || csum_len != 32)
    return mv_throw (error, MV_ERROR_CORRUPTED, "its checkout index is damaged");
  shown = mv_escape_for_display (path, 200);
  hex_of_bytes (csum, hex);
  objpath = g_strdup_printf ("%c%c/%s.file", hex[0], hex[1], hex + 2);

  if (fstatat (checkout_dfd, path, &st, AT_SYMLINK_NOFOLLOW) < 0)
    {
      if (errno == ENOENT || errno == ENOTDIR)
        return mv_throw (error, MV_ERROR_CORRUPTED, "file '%s' is missing from its checkout",
                         shown);
      return mv_throw_errno_prefix (error, "stat of file '%s' of its checkout", shown);
    }
  if (fstatat (objects_dfd, objpath, &ost, AT_SYMLINK_NOFOLLOW) < 0)
    {
      if (errno == ENOENT)
        return mv_throw (error, MV_ERROR_CORRUPTED, "file '%s': object %s is missing", shown, hex);
      return mv_throw_errno_prefix (error, "stat of object %s", hex);
    }
  if (st.st_ino != ost.st_ino || st.st_dev != ost.st_dev)
    return mv_throw (error, MV_ERROR_CORRUPTED,
                     "file '%s' of its checkout is not the stored object %s (a stale checkout)",
                     shown, hex);
  if (!S_ISREG (st.st_mode))
    return mv_throw (error, MV_ERROR_CORRUPTED, "file '%s' is no longer a regular file", shown);
  if ((st.st_mode & 07777) != mode)
    return mv_throw (error, MV_ERROR_CORRUPTED, "file '%s' has mode %04o, it was stored with %04o",
                     shown, (guint)(st.st_mode & 07777), mode);
  if ((guint64)st.st_size != size)
    return mv_throw (error, MV_ERROR_CORRUPTED,
                     "file '%s' has %" G_GUINT64_FORMAT
                     " bytes, it was stored with %" G_GUINT64_FORMAT,
                     shown, (guint64)st.st_size, size);
  if (st.st_mtim.tv_sec != sec || st.st_mtim.tv_nsec != (long)nsec)
    return mv_throw (error, MV_ERROR_CORRUPTED, "file '%s' was written to after it was stored",
                     shown);
  return TRUE;
}

gboolean
mv_checkout_verify (int root_dfd, const char *digest, int checkout_dfd, GError **error)
{
  g_autofree char *path = index_path (digest);
  g_autoptr (GError) local_error = NULL;
  g_autoptr (GBytes) bytes = NULL;
  g_autoptr (GVariant) index = NULL;
  g_autoptr (GVariant) entries = NULL;
  mv_autofd int objects_dfd = -1;
  guint32 version;

  bytes = mv_file_get_contents_at (root_dfd, path, FALSE, INDEX_MAX, &local_error);
  if (bytes == NULL)
    {
      if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
        return TRUE; /* a checkout made before indexes: fsck's marker is all we have */
      return mv_throw (error, MV_ERROR_CORRUPTED, "its checkout index cannot be read: %s",
                       local_error->message);
    }
  /* Not trusted: GVariant gives defaults, never reads out of bounds, for malformed data. */
  index = g_variant_ref_sink (
      g_variant_new_from_bytes (G_VARIANT_TYPE (MV_CHECKOUT_INDEX_TYPE), bytes, FALSE));
  g_variant_get_child (index, 0, "u", &version);
  if (version != MV_CHECKOUT_INDEX_VERSION)
    return mv_throw (error, MV_ERROR_CORRUPTED, "its checkout index has unknown version %u",
                     version);
  objects_dfd = openat (root_dfd, "repo/objects", O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (objects_dfd < 0)
    return mv_throw_errno_prefix (error, "opening the store's objects");
  entries = g_variant_get_child_value (index, 1);
  for (gsize i = 0, n = g_variant_n_children (entries); i < n; i++)
    {
      g_autoptr (GVariant) entry = g_variant_get_child_value (entries, i);
      if (!verify_entry (checkout_dfd, objects_dfd, entry, error))
        return FALSE;
    }
  return TRUE;
}

static gboolean
throw_damaged (GError **error, const char *name, const char *digest, const char *detail)
{
  g_autofree char *shown = name ? mv_escape_for_display (name, 300) : NULL;

  if (shown != NULL && !g_str_equal (name, digest))
    return mv_throw (error, MV_ERROR_CORRUPTED,
                     "model %s (%s) is damaged (%s); pull or import it again to repair it", shown,
                     digest, detail);
  return mv_throw (error, MV_ERROR_CORRUPTED,
                   "model %s is damaged (%s); pull or import it again to repair it", digest,
                   detail);
}

gboolean
mv_model_check_intact (const char *root, const char *digest, const char *name, const char *checkout,
                       GError **error)
{
  mv_autofd int root_dfd = open (root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  mv_autofd int checkout_dfd = -1;
  g_autofree char *marker = NULL;
  g_autoptr (GError) local_error = NULL;

  if (root_dfd < 0)
    return mv_throw_errno_prefix (error, "opening store '%s'", root);
  marker = mv_damage_read (root_dfd, MV_DAMAGE_MODEL, digest);
  if (marker != NULL)
    {
      g_autofree char *detail
          = g_strconcat ("fsck: ", *marker ? marker : "see 'modelvol fsck'", NULL);
      return throw_damaged (error, name, digest, detail);
    }
  if (checkout == NULL)
    return TRUE;
  checkout_dfd = open (checkout, O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (checkout_dfd < 0)
    return mv_throw_errno_prefix (error, "opening checkout '%s'", checkout);
  if (!mv_checkout_verify (root_dfd, digest, checkout_dfd, &local_error))
    {
      if (!g_error_matches (local_error, MV_ERROR, MV_ERROR_CORRUPTED))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
      return throw_damaged (error, name, digest, local_error->message);
    }
  return TRUE;
}
