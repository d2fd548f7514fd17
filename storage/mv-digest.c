/* mv-digest: OCI digest strings and streaming digests: SHA-256 on the CPU's SHA extensions
 * where it has them (mv-sha256), libcrypto otherwise and for SHA-512.
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <string.h>
#include <openssl/evp.h>

#include "mv-digest-private.h"
#include "mv-error-private.h"
#include "mv-path-private.h"
#include "mv-sha256-private.h"

typedef struct
{
  MvDigestAlgorithm algorithm;
  const char *prefix; /* "sha256:" */
  gsize hex_len;
} AlgorithmInfo;

static const AlgorithmInfo algorithms[] = {
  { MV_DIGEST_SHA256, "sha256:", 64 },
  { MV_DIGEST_SHA512, "sha512:", 128 },
};

static const AlgorithmInfo *
algorithm_info (MvDigestAlgorithm algorithm)
{
  for (gsize i = 0; i < G_N_ELEMENTS (algorithms); i++)
    if (algorithms[i].algorithm == algorithm)
      return &algorithms[i];
  g_assert_not_reached ();
}

static const EVP_MD *
algorithm_md (MvDigestAlgorithm algorithm)
{
  return algorithm == MV_DIGEST_SHA512 ? EVP_sha512 () : EVP_sha256 ();
}

gboolean
mv_digest_validate (const char *digest, MvDigestAlgorithm *out_algorithm, const char **out_hex,
                    GError **error)
{
  g_autofree char *shown = NULL;
  const AlgorithmInfo *info = NULL;
  const char *hex;
  gsize len;

  if (digest == NULL)
    return mv_throw (error, MV_ERROR_INVALID_MANIFEST, "missing digest");

  shown = mv_escape_for_display (digest, 200);
  for (gsize i = 0; i < G_N_ELEMENTS (algorithms); i++)
    if (g_str_has_prefix (digest, algorithms[i].prefix))
      info = &algorithms[i];
  if (info == NULL)
    return mv_throw (error, MV_ERROR_INVALID_MANIFEST,
                     "invalid digest '%s': the algorithm must be sha256 or sha512", shown);

  hex = digest + strlen (info->prefix);
  len = strlen (hex);
  for (gsize i = 0; i < len; i++)
    if (!((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f')))
      return mv_throw (error, MV_ERROR_INVALID_MANIFEST,
                       "invalid digest '%s': the encoded part must be lowercase hex", shown);
  if (len != info->hex_len)
    return mv_throw (error, MV_ERROR_INVALID_MANIFEST,
                     "invalid digest '%s': %.6s needs %" G_GSIZE_FORMAT
                     " hex digits, not %" G_GSIZE_FORMAT,
                     shown, info->prefix, info->hex_len, len);

  if (out_algorithm != NULL)
    *out_algorithm = info->algorithm;
  if (out_hex != NULL)
    *out_hex = hex;
  return TRUE;
}

struct MvDigester
{
  MvDigestAlgorithm algorithm;
  EVP_MD_CTX *ctx; /* NULL: the SHA extensions hash into @sha */
  MvSha256 sha;
  char *expected; /* nullable */
  guint64 bytes;
  char *result; /* set once finished */
};

/* libcrypto's digest calls fail only on allocation failure or a broken library; GLib aborts
 * on allocation failure too, so do the same rather than carry an impossible error around. */
static void
evp_check (int ok, const char *what)
{
  if (ok != 1)
    g_error ("libcrypto: %s failed", what);
}

static void
digester_init (MvDigester *self)
{
  if (self->ctx == NULL)
    mv_sha256_init (&self->sha);
  else
    evp_check (EVP_DigestInit_ex (self->ctx, algorithm_md (self->algorithm), NULL),
               "EVP_DigestInit_ex");
  self->bytes = 0;
  g_clear_pointer (&self->result, g_free);
}

MvDigester *
mv_digester_new (const char *expected, GError **error)
{
  MvDigester *self;
  MvDigestAlgorithm algorithm = MV_DIGEST_SHA256;

  if (expected != NULL && !mv_digest_validate (expected, &algorithm, NULL, error))
    return NULL;

  self = g_new0 (MvDigester, 1);
  self->algorithm = algorithm;
  self->expected = g_strdup (expected);
  if (algorithm != MV_DIGEST_SHA256 || !mv_sha256_accelerated ())
    {
      self->ctx = EVP_MD_CTX_new ();
      if (self->ctx == NULL)
        g_error ("libcrypto: EVP_MD_CTX_new failed");
    }
  digester_init (self);
  return self;
}

void
mv_digester_update (MvDigester *self, const void *data, gsize len)
{
  g_return_if_fail (self != NULL);
  g_return_if_fail (self->result == NULL);

  if (len == 0)
    return;
  if (self->ctx == NULL)
    mv_sha256_update (&self->sha, data, len);
  else
    evp_check (EVP_DigestUpdate (self->ctx, data, len), "EVP_DigestUpdate");
  self->bytes += len;
}

void
mv_digester_update2 (MvDigester *a, MvDigester *b, const void *data, gsize len)
{
  g_return_if_fail (a != NULL && b != NULL && a != b);
  g_return_if_fail (a->result == NULL && b->result == NULL);

  if (a->ctx != NULL || b->ctx != NULL)
    {
      mv_digester_update (a, data, len);
      mv_digester_update (b, data, len);
      return;
    }
  mv_sha256_update2 (&a->sha, &b->sha, data, len);
  a->bytes += len;
  b->bytes += len;
}

void
mv_digester_reset (MvDigester *self)
{
  g_return_if_fail (self != NULL);
  digester_init (self);
}

guint64
mv_digester_get_bytes (MvDigester *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->bytes;
}

static char *
format_digest (MvDigestAlgorithm algorithm, const unsigned char *md, unsigned int md_len)
{
  static const char hexdigits[] = "0123456789abcdef";
  const AlgorithmInfo *info = algorithm_info (algorithm);
  gsize prefix_len = strlen (info->prefix);
  char *out;

  g_assert (md_len * 2 == info->hex_len);
  out = g_malloc (prefix_len + info->hex_len + 1);
  memcpy (out, info->prefix, prefix_len);
  for (unsigned int i = 0; i < md_len; i++)
    {
      out[prefix_len + 2 * i] = hexdigits[md[i] >> 4];
      out[prefix_len + 2 * i + 1] = hexdigits[md[i] & 0xf];
    }
  out[prefix_len + info->hex_len] = '\0';
  return out;
}

char *
mv_digester_finish (MvDigester *self)
{
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;

  g_return_val_if_fail (self != NULL, NULL);

  /* Finishing twice gives the same answer (verify finishes too). */
  if (self->result == NULL)
    {
      if (self->ctx == NULL)
        {
          mv_sha256_final (&self->sha, md);
          md_len = 32;
        }
      else
        evp_check (EVP_DigestFinal_ex (self->ctx, md, &md_len), "EVP_DigestFinal_ex");
      self->result = format_digest (self->algorithm, md, md_len);
    }
  return g_strdup (self->result);
}

gboolean
mv_digester_verify (MvDigester *self, gint64 expected_size, GError **error)
{
  g_autofree char *actual = NULL;

  g_return_val_if_fail (self != NULL, FALSE);

  if (self->expected == NULL)
    return mv_throw (error, MV_ERROR_FAILED, "no expected digest to verify against");
  actual = mv_digester_finish (self);
  if (expected_size >= 0 && self->bytes != (guint64)expected_size)
    return mv_throw (error, MV_ERROR_DIGEST_MISMATCH,
                     "blob %s: got %" G_GUINT64_FORMAT
                     " bytes, its descriptor says %" G_GINT64_FORMAT,
                     self->expected, self->bytes, expected_size);
  if (!g_str_equal (actual, self->expected))
    return mv_throw (error, MV_ERROR_DIGEST_MISMATCH, "blob %s: the content hashes to %s",
                     self->expected, actual);
  return TRUE;
}

void
mv_digester_free (MvDigester *self)
{
  if (self == NULL)
    return;
  EVP_MD_CTX_free (self->ctx);
  g_free (self->expected);
  g_free (self->result);
  g_free (self);
}

static char *
digest_oneshot (MvDigestAlgorithm algorithm, const void *data, gsize len)
{
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;

  if (algorithm == MV_DIGEST_SHA256 && mv_sha256_accelerated ())
    {
      MvSha256 sha;
      mv_sha256_init (&sha);
      mv_sha256_update (&sha, data, len);
      mv_sha256_final (&sha, md);
      return format_digest (algorithm, md, 32);
    }
  evp_check (EVP_Digest (data, len, md, &md_len, algorithm_md (algorithm), NULL), "EVP_Digest");
  return format_digest (algorithm, md, md_len);
}

char *
mv_digest_bytes (const void *data, gsize len)
{
  g_return_val_if_fail (data != NULL || len == 0, NULL);
  return digest_oneshot (MV_DIGEST_SHA256, len > 0 ? data : "", len);
}

gboolean
mv_digest_check_bytes (const char *digest, const void *data, gsize len, GError **error)
{
  MvDigestAlgorithm algorithm;
  g_autofree char *actual = NULL;

  g_return_val_if_fail (data != NULL || len == 0, FALSE);

  if (!mv_digest_validate (digest, &algorithm, NULL, error))
    return FALSE;
  actual = digest_oneshot (algorithm, len > 0 ? data : "", len);
  if (!g_str_equal (actual, digest))
    return mv_throw (error, MV_ERROR_DIGEST_MISMATCH, "expected %s, the content hashes to %s",
                     digest, actual);
  return TRUE;
}
