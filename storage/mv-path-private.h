/* mv-path: the one validator for paths that come from layers and annotations.
 * SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <gio/gio.h>

#include "mv-limits-private.h"

/* max-path-bytes and max-path-depth of modelvol.conf's [limits] (at most 4096 and 256). */
#define MV_PATH_MAX (mv_limits ()->path_bytes)
#define MV_PATH_COMPONENT_MAX 255
#define MV_PATH_DEPTH_MAX (mv_limits ()->path_depth)

typedef enum
{
  MV_PATH_NONE = 0,
  /* A tar member name: a leading "./" and one trailing "/" are accepted and dropped. */
  MV_PATH_TAR_MEMBER = 1 << 0,
  /* A destination in a container: the leading "/" is required and dropped from the result. */
  MV_PATH_ABSOLUTE = 1 << 1,
} MvPathFlags;

/**
 * mv_path_normalize:
 * @path: a path from outside (tar name, annotation)
 * @flags: #MvPathFlags
 * @out_path: (out) (transfer full): the canonical relative path ("a/b/c")
 *
 * Accepts only relative, normalized, valid UTF-8 paths with no "." or ".." or empty
 * component, no NUL or control characters, at most MV_PATH_MAX bytes, MV_PATH_DEPTH_MAX
 * components of at most MV_PATH_COMPONENT_MAX bytes, no OCI whiteout component (".wh.*").
 * The root itself ("" or ".") is refused.
 * Returns: TRUE if safe; else MV_ERROR_UNSAFE_PATH with the path (escaped) and the reason
 */
gboolean mv_path_normalize (const char *path, MvPathFlags flags, char **out_path, GError **error);

/**
 * mv_path_check_link_target:
 * @link_path: the canonical path of the symlink itself (from mv_path_normalize)
 * @target: the symlink's target
 *
 * A target is kept only if relative, of the form "../../"*k followed by normal components,
 * with k no more than the depth of the link's directory: it then resolves inside the tree
 * whatever other in-tree links it passes through.
 * Returns: TRUE if safe; else MV_ERROR_UNSAFE_PATH
 */
gboolean mv_path_check_link_target (const char *link_path, const char *target, GError **error);

/**
 * mv_escape_for_display:
 * Returns: (transfer full): @s with control characters, ANSI escapes and invalid UTF-8 shown
 *   as \xNN, truncated to @max_len bytes (with "...") when longer. Use for every untrusted
 *   string placed into a message. Also shown as \xNN: C1 controls, and invisible formatting
 *   characters (bidi overrides, zero-width, line/paragraph separators, unassigned and private
 *   use code points); a backslash is doubled. @max_len 0 means no limit; NULL gives "(null)".
 */
char *mv_escape_for_display (const char *s, gsize max_len);

/**
 * mv_path_validate_container_dest:
 * @path: a destination inside a container (an annotation's "path")
 * @out_path: (out) (optional) (transfer full): @path without its leading "/"
 *
 * Accepts absolute, normalized paths (as mv_path_normalize() after the leading "/"), not "/"
 * itself and not under /proc, /sys or /dev.
 * Returns: TRUE if acceptable; else MV_ERROR_UNSAFE_PATH naming the path and the reason
 */
gboolean mv_path_validate_container_dest (const char *path, char **out_path, GError **error);
