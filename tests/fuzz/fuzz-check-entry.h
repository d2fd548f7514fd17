/* fuzz-check-entry: one unpacked entry checked as storage/mv-commit.c checks it before writing
 * anything, for the targets that read entries (fuzz-tar, fuzz-frames).
 * SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "mv-unpack-private.h"

/**
 * mv_fuzz_check_entry:
 * @data_total: (nullable): bytes of file data read so far, for a cap on the work of one input
 * Validates the name (MV_PATH_TAR_MEMBER), a symlink's target, refuses the types the store
 * refuses, and reads a file's data to its end.
 * Returns: FALSE where the import would stop (a refusal, a reader error, the cap)
 */
gboolean mv_fuzz_check_entry (MvEntryReader *reader, MvEntry *e, guint64 *data_total);
