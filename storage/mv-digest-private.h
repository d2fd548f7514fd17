/* mv-digest: OCI digest strings and streaming digests with OpenSSL's libcrypto.
 * SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <gio/gio.h>

typedef enum
{
  MV_DIGEST_SHA256,
  MV_DIGEST_SHA512,
} MvDigestAlgorithm;

/**
 * mv_digest_validate:
 * @digest: a string from outside ("sha256:<64 lowercase hex>" or "sha512:<128 lowercase hex>")
 * @out_algorithm: (out) (optional): its algorithm
 * @out_hex: (out) (optional) (transfer none): pointer to the hex part inside @digest
 *
 * Strict: no uppercase, no other algorithm, no other length, nothing else in the string.
 * Returns: TRUE if valid, else FALSE with MV_ERROR_INVALID_MANIFEST naming the string (escaped)
 */
gboolean mv_digest_validate (const char *digest, MvDigestAlgorithm *out_algorithm,
                             const char **out_hex, GError **error);

/** MvDigester: a running digest (SHA-256 on the SHA extensions, else libcrypto EVP). */
typedef struct MvDigester MvDigester;

/**
 * mv_digester_new:
 * @expected: (nullable): the digest the data must have; its algorithm is used. NULL: sha256.
 * Returns: (transfer full) (nullable): a digester, or NULL if @expected is invalid
 */
MvDigester *mv_digester_new (const char *expected, GError **error);
void mv_digester_update (MvDigester *self, const void *data, gsize len);
/**
 * mv_digester_update2:
 * Feeds the same bytes to two digesters: in one pass over the data, two SHA-256 streams
 * interleaved, when the CPU has the SHA extensions (mv-sha256).
 */
void mv_digester_update2 (MvDigester *a, MvDigester *b, const void *data, gsize len);
/** mv_digester_reset: start over (for a transfer that restarts from byte 0) */
void mv_digester_reset (MvDigester *self);
/** mv_digester_get_bytes: bytes fed so far */
guint64 mv_digester_get_bytes (MvDigester *self);
/**
 * mv_digester_finish:
 * Returns: (transfer full): "sha256:<hex>" of everything fed. The digester may not be fed after.
 */
char *mv_digester_finish (MvDigester *self);
/**
 * mv_digester_verify:
 * Finishes and compares with the expected digest (and @expected_size unless < 0).
 * Returns: FALSE with MV_ERROR_DIGEST_MISMATCH naming both digests (or sizes) on mismatch
 */
gboolean mv_digester_verify (MvDigester *self, gint64 expected_size, GError **error);
void mv_digester_free (MvDigester *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MvDigester, mv_digester_free)

/**
 * mv_digest_bytes:
 * Returns: (transfer full): "sha256:<hex>" of @data
 */
char *mv_digest_bytes (const void *data, gsize len);

/**
 * mv_digest_check_bytes:
 * Returns: TRUE if @data hashes to @digest (any supported algorithm), else MV_ERROR_DIGEST_MISMATCH
 */
gboolean mv_digest_check_bytes (const char *digest, const void *data, gsize len, GError **error);
