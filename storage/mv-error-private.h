/* mv-error: the MV_ERROR domain and helpers to raise errors.
 * SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <errno.h>
#include <gio/gio.h>
#include "modelvol.h"

G_BEGIN_DECLS

/**
 * mv_throw:
 * Sets @error to MV_ERROR/@code with a printf-style message.
 * Returns: FALSE, so callers can `return mv_throw (...)`.
 */
gboolean mv_throw (GError **error, MvError code, const char *fmt, ...) G_GNUC_PRINTF (3, 4);

/**
 * mv_throw_errno_prefix:
 * Sets @error to G_IO_ERROR from the current errno, prefixed with a printf-style message:
 * "renaming checkout 'x': No such file or directory". errno is preserved.
 * Returns: FALSE
 */
gboolean mv_throw_errno_prefix (GError **error, const char *fmt, ...) G_GNUC_PRINTF (2, 3);

/**
 * mv_prefix_error:
 * Prefixes an already set error message with "PREFIX: ". Safe with a NULL @error.
 * Returns: FALSE
 */
gboolean mv_prefix_error (GError **error, const char *fmt, ...) G_GNUC_PRINTF (2, 3);

G_END_DECLS
