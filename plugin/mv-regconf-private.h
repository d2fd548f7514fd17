/* mv-regconf: registries.conf(5) and registries.conf.d/ (TOML, version 2), the file CRI-O and
 * podman read, so the mirrors and policy configured for them serve modelvol too.
 * SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct
{
  char *location;
  gboolean insecure;
} MvMirror;

typedef struct
{
  char *prefix;      /* "host[:port][/path]" the entry applies to */
  char *location;    /* where the prefix really lives (default: the prefix) */
  gboolean insecure; /* no TLS check, plain HTTP allowed */
  gboolean blocked;
  GPtrArray *mirrors; /* (element-type MvMirror), tried in order before the location */
} MvRegistryEntry;

void mv_registry_entry_free (MvRegistryEntry *entry);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MvRegistryEntry, mv_registry_entry_free)

/**
 * mv_regconf_parse_file:
 * Parses one registries.conf file with toml++ and adds its [[registry]] tables to @entries;
 * an entry with the prefix of an earlier one replaces it (drop-ins override the main file).
 * A missing file is not an error. Returns: FALSE with a message naming the file and line
 */
gboolean mv_regconf_parse_file (const char *path, GPtrArray *entries, GError **error);

/**
 * mv_regconf_parse_data:
 * The same as mv_regconf_parse_file() for a document in memory; @name stands for the file in
 * messages.
 */
gboolean mv_regconf_parse_data (const char *data, gsize len, const char *name, GPtrArray *entries,
                                GError **error);

/**
 * mv_regconf_load:
 * @path: (nullable): the main file; NULL: $CONTAINERS_REGISTRIES_CONF, else
 *   /etc/containers/registries.conf. Drop-ins are PATH.d/ *.conf, in name order.
 * Returns: (transfer full) (element-type MvRegistryEntry): the entries, or NULL on error
 */
GPtrArray *mv_regconf_load (const char *path, GError **error);

/**
 * mv_regconf_match:
 * @repository: "host[:port]/path" of a normalized reference
 * Returns: (nullable) (transfer none): the entry with the longest prefix that matches at a
 *   component boundary
 */
const MvRegistryEntry *mv_regconf_match (GPtrArray *entries, const char *repository);

G_END_DECLS
