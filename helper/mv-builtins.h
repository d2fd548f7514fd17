/* The modelvol CLI: one file per command, found through the table in main.c.
 * SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "modelvol.h"

typedef struct
{
  const char *root;
  gboolean json;
  gboolean quiet;
  gboolean verbose;
} MvGlobals;

extern MvGlobals mv_globals;

/**
 * mv_option_context_parse:
 * Adds the global options to @context, parses, and opens the store (created if missing).
 * Errors in the command line are G_OPTION_ERROR (exit 2).
 * Returns: (transfer full) (nullable): the store, or NULL with @error set
 */
MvStore *mv_option_context_parse (GOptionContext *context, const GOptionEntry *entries, int *argc,
                                  char ***argv, GCancellable *cancellable, GError **error);

/** mv_usage_error: sets a G_OPTION_ERROR usage error ("... see modelvol CMD --help") */
gboolean mv_usage_error (GOptionContext *context, GError **error, const char *fmt, ...)
    G_GNUC_PRINTF (3, 4);

/** mv_option_bool: parses a "true"/"false" option value (NULL: @dflt); usage error otherwise */
gboolean mv_option_bool (GOptionContext *context, const char *name, const char *value,
                         gboolean dflt, gboolean *out, GError **error);
/** mv_option_jobs: checks and applies --jobs (0: the default) */
gboolean mv_option_jobs (GOptionContext *context, int jobs, GError **error);

/* --progress=MODE of pull and import: auto, tty, plain, json or none (mv-progress.c). */
extern char *mv_opt_progress;
#define MV_PROGRESS_OPTION_ENTRY                                                                   \
  {                                                                                                \
    "progress", 0, 0, G_OPTION_ARG_STRING, &mv_opt_progress,                                       \
        "Layer progress on stderr: auto (default), tty, plain, json or none", "MODE"               \
  }

/**
 * mv_progress_begin:
 * Picks the progress form (--progress, else none with -q, json with --json, tty on a
 * terminal, plain elsewhere) and starts reporting layer progress on stderr.
 * Returns: FALSE with a usage error for an unknown --progress
 */
gboolean mv_progress_begin (GOptionContext *context, GError **error);
/** mv_progress_end: clears the tty display, or after success prints the plain or JSON total */
void mv_progress_end (gboolean ok);

/* Output: everything that comes from outside is escaped before it reaches the terminal. */
char *mv_sanitize (const char *s);
void mv_print_json (JsonNode *node);
/** mv_json_to_string: (transfer full): @node as JSON text, on one line unless @pretty */
char *mv_json_to_string (JsonNode *node, gboolean pretty);
/** mv_print_digest: the result of pull and import: the digest, or {"digest": ...} with --json */
void mv_print_digest (const char *digest);
/** mv_json_add_strv: member @member, an array of the strings of @strv (nullable) */
void mv_json_add_strv (JsonBuilder *b, const char *member, char **strv);
char *mv_format_bytes (guint64 bytes);
char *mv_short_digest (const char *digest);

#define MV_BUILTIN(name)                                                                           \
  gboolean mv_builtin_##name (int argc, char **argv, GCancellable *cancellable, GError **error)

MV_BUILTIN (import);
MV_BUILTIN (pull);
MV_BUILTIN (login);
MV_BUILTIN (logout);
MV_BUILTIN (ls);
MV_BUILTIN (inspect);
MV_BUILTIN (path);
MV_BUILTIN (mount);
MV_BUILTIN (umount);
MV_BUILTIN (watch);
MV_BUILTIN (cdi);
MV_BUILTIN (rm);
MV_BUILTIN (prune);
MV_BUILTIN (fsck);
MV_BUILTIN (verify);
MV_BUILTIN (df);
MV_BUILTIN (metrics);
