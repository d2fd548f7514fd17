/* SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#define MV_ERROR_IMPLEMENTATION
#include "mv-error-private.h"

G_DEFINE_QUARK (modelvol - error - quark, mv_error)

gboolean
mv_throw (GError **error, MvError code, const char *fmt, ...)
{
  va_list ap;

  if (error == NULL)
    return FALSE;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error_literal (error, MV_ERROR, code, msg);
  return FALSE;
}

gboolean
mv_throw_errno_prefix (GError **error, const char *fmt, ...)
{
  int errsv = errno;
  va_list ap;

  if (error != NULL)
    {
      va_start (ap, fmt);
      g_autofree char *msg = g_strdup_vprintf (fmt, ap);
      va_end (ap);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv), "%s: %s", msg,
                   g_strerror (errsv));
    }
  errno = errsv;
  return FALSE;
}

gboolean
mv_prefix_error (GError **error, const char *fmt, ...)
{
  va_list ap;

  if (error == NULL || *error == NULL)
    return FALSE;
  va_start (ap, fmt);
  g_autofree char *prefix = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_prefix_error (error, "%s: ", prefix);
  return FALSE;
}
