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

/* For clang's static analyzer (tests/check-static.sh): it looks at one file at a time, so it
 * cannot see that the three helpers above always return FALSE, and takes every
 * `return mv_throw (...)` for a possible success that leaves out parameters unset. Under the
 * analyzer only, each call goes through an inline function that says so; builds are unchanged.
 * mv-error.c, which defines them, sets MV_ERROR_IMPLEMENTATION. */
#if defined(__clang_analyzer__) && !defined(MV_ERROR_IMPLEMENTATION)
static inline gboolean
mv_analyzer_false (gboolean ignored)
{
  return FALSE;
}
#define mv_throw(...) mv_analyzer_false ((mv_throw)(__VA_ARGS__))
#define mv_throw_errno_prefix(...) mv_analyzer_false ((mv_throw_errno_prefix)(__VA_ARGS__))
#define mv_prefix_error(...) mv_analyzer_false ((mv_prefix_error)(__VA_ARGS__))
#endif

G_END_DECLS
