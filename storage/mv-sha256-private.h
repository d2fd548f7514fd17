/* mv-sha256: SHA-256 on the x86 SHA extensions, one stream or two streams at once.
 *
 * Every layer byte is hashed twice: for the blob digest the manifest names, and for ostree's
 * content checksum of the file it becomes, whose header prefix keeps the two apart. On one
 * core a SHA-256 stream is bound by the latency of SHA256RNDS2, not by its throughput, so two
 * independent streams interleaved in one loop cost little more than one (measured 1.84x the
 * bytes per second of a single libcrypto stream on the project's AMD EPYC). Only used where the
 * CPU has the extensions; MvDigester falls back to libcrypto everywhere else.
 * SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <glib.h>

typedef struct
{
  guint32 h[8];
  guint8 buf[64];
  guint fill;    /* bytes waiting in buf */
  guint64 total; /* bytes fed */
} MvSha256;

/**
 * mv_sha256_accelerated:
 * Returns: TRUE if this CPU has the SHA extensions (and SSSE3, SSE4.1) and they are not
 *   disabled by MODELVOL_TEST_NO_SHA_EXT=1 (which tests use to cover the libcrypto path).
 *   The other functions may only be called when it is TRUE.
 */
gboolean mv_sha256_accelerated (void);

void mv_sha256_init (MvSha256 *s);
void mv_sha256_update (MvSha256 *s, const void *data, gsize len);
/**
 * mv_sha256_update2:
 * Feeds the same bytes to two streams (which may be at different offsets) in one pass.
 */
void mv_sha256_update2 (MvSha256 *a, MvSha256 *b, const void *data, gsize len);
void mv_sha256_final (MvSha256 *s, guint8 out[32]);
