/* mv-sandbox: the unpacker's child process and the framed stream it speaks.
 *
 * Tar parsing and decompression (libarchive, zlib, zstd) run in `modelvol-unpack`, a child
 * with no credentials, no store, no network and a seccomp allowlist. It reads the layer's
 * bytes on stdin (the parent hashes them on the way) and writes entries on stdout:
 *
 *   frame   := u8 kind, u8[3] zero, u32 len, len bytes          (little-endian)
 *   'E'     := u8 type, u8 what, u8 sparse, u8 zero, u32 mode, i64 size,
 *              u32 path_len, u32 link_len, path bytes, link bytes
 *   'D'     := file bytes of the last 'E' (a regular file), at most MV_FRAME_DATA_MAX
 *   'Z'     := the end of the archive: for a tar+gzip or tar+zstd layer, 64 lowercase hex
 *              digits, the SHA-256 of the whole decompressed stream (its diffID); nothing
 *              for a plain tar (its diffID is the blob digest)
 *
 * A plain tar layer that is a local file is read by the child itself, by position (stdin is
 * a read-only description of the blob; `offsets` on the command line): no 'D' frames, and
 *
 *   'F'     := u64 offset, u64 length: where the last 'E''s data lies in the blob; one after
 *              every regular non-sparse file, offsets in increasing order, never overlapping
 *   'Z'     := u64 end, 64 hex digits: the SHA-256 of the blob's bytes before end, except
 *              the 'F' ranges (the tar headers and padding the child parsed)
 *
 * The parent reads the blob once, in order: the bytes between ranges for the layer digest
 * and the structure digest, each range for the layer digest and the member's object (copied
 * by the kernel, hashed from the copy). A range outside the blob, behind the previous one or
 * not the entry's size is refused; a structure digest that differs (the blob changed under
 * the child) too. The tar structure is the child's word, as with 'D' frames; the bytes are
 * the blob's, covered by its digest.
 *
 * On failure the child writes "<MvError code> <message>" on stderr and exits 1. The parent
 * trusts nothing it receives: every frame is bounds-checked, every path and link goes
 * through the same validator as before, and data must add up to each file's size.
 * SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <gio/gio.h>

#include "mv-store-private.h"
#include "mv-unpack-private.h"

#define MV_FRAME_HEADER 8
#define MV_FRAME_DATA_MAX (1024 * 1024)
#define MV_FRAME_ENTRY_FIXED 24
#define MV_FRAME_NAME_MAX 4096
#define MV_FRAME_RANGE 16
#define MV_FRAME_END_BY_OFFSET (8 + 64)
#define MV_FRAME_END_DIFF_ID 64

/** mv_unpack_limits_default: the [limits] of modelvol.conf (MvUnpackLimits, docs/security.md) */
void mv_unpack_limits_default (MvUnpackLimits *limits);

/**
 * mv_sandboxed_tar_reader_new:
 * @blob: (transfer none): the layer; a thread of ours feeds it to the child
 * Starts `modelvol-unpack` and returns a reader of the entries it sends, with the same
 * contract as mv_tar_reader_new(). Call mv_entry_reader_finish() after the last entry.
 */
MvEntryReader *mv_sandboxed_tar_reader_new (MvBlobReader *blob, MvLayerFormat format,
                                            const MvUnpackLimits *limits, GError **error);

/**
 * mv_frame_reader_new_fd:
 * @fd: (transfer full): a framed stream, as the child writes it
 * @blob: (nullable) (transfer none): the layer for a stream by offset ('F' frames), else NULL
 * @with_diff_id: without @blob: the stream of a compressed layer (its end frame carries the
 *   diffID: mv_entry_reader_diff_id())
 * The parent's decoder alone, with no child behind it: for the fuzz target of the framed
 * stream (tests/fuzz/fuzz-frames.c). Call mv_entry_reader_finish() after the last entry.
 */
MvEntryReader *mv_frame_reader_new_fd (int fd, MvBlobReader *blob, gboolean with_diff_id,
                                       guint64 max_entries, guint timeout_s);

/**
 * mv_unpack_child_main:
 * The whole of `modelvol-unpack FORMAT MAX_ENTRIES MAX_BYTES MAX_RATIO MEMORY`: confine
 * itself, parse stdin, write frames to stdout. Returns the exit status.
 */
int mv_unpack_child_main (int argc, char **argv);
