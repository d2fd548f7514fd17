/* Helpers shared by the unit tests of storage/ (test-store, test-gc, test-uses): a store in a
 * temporary directory, tars written in memory, layers imported from bytes, counts of what is
 * on disk, and a use record of the calling process.
 * SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <archive_entry.h>
#include <gio/gio.h>

#include "mv-repo-private.h"

/* A store created at <dir>/store, where <dir> is a new temporary directory made from
 * @tmpl (as for g_dir_make_tmp()); *@out_dir gets <dir>. Asserts on failure. */
MvStore *mvtest_store_new (const char *tmpl, char **out_dir);

/* Frees @store, then removes and frees @dir (as mvtest_store_new() gave them). */
void mvtest_store_free (MvStore *store, char *dir);

typedef struct
{
  const char *name;
  int type; /* AE_IFREG, AE_IFDIR, AE_IFLNK, AE_IFCHR, or 1 for a hardlink */
  const char *data_or_target;
  int mode; /* 0: 0755 for a directory, 0644 for anything else */
} MvTestTarEntry;

/* A tar (gzip-compressed if @gzip) in memory, written with libarchive, of @entries up to the
 * one whose name is NULL. */
GBytes *mvtest_make_tar (const MvTestTarEntry *entries, gboolean gzip);

/* Imports @blob as a layer of @format (its digest is that of the bytes); on success
 * *@out_digest (if not NULL) gets the digest. */
gboolean mvtest_import_bytes (MvStore *store, GBytes *blob, MvLayerFormat format,
                              const char *filepath, guint32 mode, char **out_digest,
                              GError **error);

/* Objects under repo/objects whose names end in @suffix ("" for all). */
guint mvtest_count_objects (MvStore *store, const char *suffix);

/* The entries of directory @dir (0 if it cannot be opened). */
guint mvtest_count_entries (const char *dir);

/* A use record of the calling process: live as long as it runs. With @assert_started, asserts
 * that its start time could be read. */
char *mvtest_own_record (gboolean assert_started);
