/* Unit tests of storage/mv-digest: digest strings, streaming digests, known vectors.
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <string.h>
#include <openssl/evp.h>

#include "mv-error-private.h"
#include "mv-digest-private.h"
#include "mv-sha256-private.h"

/* FIPS 180-2 / NIST CAVS examples. */
#define SHA256_EMPTY "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SHA256_ABC "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define SHA256_448 "sha256:248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
#define SHA256_MILLION_A "sha256:cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
#define SHA512_EMPTY                                                                               \
  "sha512:cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff83"    \
  "18d2877eec2f63b931bd47417a81a538327af927da3e"
#define SHA512_ABC                                                                                 \
  "sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba"    \
  "3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"

#define HEX64 "1234567890abcdef1234567890abcdef1234567890abcdef1234567890abcdef"

static void
test_validate_good (void)
{
  g_autoptr (GError) error = NULL;
  MvDigestAlgorithm alg = -1;
  const char *hex = NULL;

  g_assert_true (mv_digest_validate (SHA256_ABC, &alg, &hex, &error));
  g_assert_no_error (error);
  g_assert_cmpint (alg, ==, MV_DIGEST_SHA256);
  g_assert_cmpstr (hex, ==, SHA256_ABC + strlen ("sha256:"));

  g_assert_true (mv_digest_validate (SHA512_ABC, &alg, &hex, &error));
  g_assert_no_error (error);
  g_assert_cmpint (alg, ==, MV_DIGEST_SHA512);
  g_assert_cmpuint (strlen (hex), ==, 128);

  g_assert_true (mv_digest_validate ("sha256:" HEX64, NULL, NULL, NULL));
}

/* SECURITY-BAR item 4 and friends: every one must be refused before it reaches a URL or a
 * path, and the message must name the string, escaped. */
static void
test_validate_bad (void)
{
  static const char *const bad[] = {
    "",
    "sha256",
    "sha256:",
    "sha256:../../x",
    "sha256:../../../../etc/passwd",
    "sha256:" HEX64 "/../x",
    "sha256:1234567890ABCDEF1234567890abcdef1234567890abcdef1234567890abcdef",
    "SHA256:" HEX64,
    "Sha256:" HEX64,
    "sha256:" HEX64 "0",
    "sha256:234567890abcdef1234567890abcdef1234567890abcdef1234567890abcdef",
    "sha256:" HEX64 HEX64,
    "sha512:" HEX64,
    "sha384:" HEX64,
    "md5:d41d8cd98f00b204e9800998ecf8427e",
    "sha1:da39a3ee5e6b4b0d3255bfef95601890afd80709",
    "blake3:" HEX64,
    "sha256%3A" HEX64,
    "sha256:%2F" HEX64,
    "sha256%2F" HEX64,
    "sha256:" HEX64 "%2F",
    "sha256:" HEX64 "\n",
    " sha256:" HEX64,
    "sha256: " HEX64,
    "sha256:" HEX64 " ",
    "sha256::" HEX64,
    "sha256:0x" HEX64,
    "sha256:g234567890abcdef1234567890abcdef1234567890abcdef1234567890abcdef",
    "sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564",
    "sha256:\x1b[31m" HEX64,
    "sha256:\xff\xfe",
    ":" HEX64,
    HEX64,
  };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;
      MvDigestAlgorithm alg = 42;
      const char *hex = "untouched";

      g_test_message ("bad digest #%" G_GSIZE_FORMAT, i);
      g_assert_false (mv_digest_validate (bad[i], &alg, &hex, &error));
      g_assert_error (error, MV_ERROR, MV_ERROR_INVALID_MANIFEST);
      g_assert_cmpint (alg, ==, 42);
      g_assert_cmpstr (hex, ==, "untouched");
      /* Never a raw control character or invalid UTF-8 in a message. */
      g_assert_true (g_utf8_validate (error->message, -1, NULL));
      for (const char *p = error->message; *p != '\0'; p++)
        g_assert_cmpint ((guchar)*p, >=, 0x20);
    }
}

static void
test_validate_message (void)
{
  g_autoptr (GError) error = NULL;

  g_assert_false (mv_digest_validate ("sha256:../../x", NULL, NULL, &error));
  g_assert_nonnull (strstr (error->message, "'sha256:../../x'"));
  g_clear_error (&error);

  g_assert_false (mv_digest_validate ("sha256:\x1b[2J", NULL, NULL, &error));
  g_assert_nonnull (strstr (error->message, "sha256:\\x1b[2J"));
  g_clear_error (&error);

  g_assert_false (mv_digest_validate ("md5:abc", NULL, NULL, &error));
  g_assert_nonnull (strstr (error->message, "sha256 or sha512"));
  g_clear_error (&error);

  g_assert_false (mv_digest_validate (NULL, NULL, NULL, &error));
  g_assert_error (error, MV_ERROR, MV_ERROR_INVALID_MANIFEST);
}

static void
test_bytes_vectors (void)
{
  static const char msg448[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  g_autofree char *empty = mv_digest_bytes ("", 0);
  g_autofree char *empty_null = mv_digest_bytes (NULL, 0);
  g_autofree char *abc = mv_digest_bytes ("abc", 3);
  g_autofree char *d448 = mv_digest_bytes (msg448, strlen (msg448));
  g_autoptr (GError) error = NULL;

  g_assert_cmpstr (empty, ==, SHA256_EMPTY);
  g_assert_cmpstr (empty_null, ==, SHA256_EMPTY);
  g_assert_cmpstr (abc, ==, SHA256_ABC);
  g_assert_cmpstr (d448, ==, SHA256_448);

  g_assert_true (mv_digest_check_bytes (SHA256_ABC, "abc", 3, &error));
  g_assert_no_error (error);
  g_assert_true (mv_digest_check_bytes (SHA512_ABC, "abc", 3, &error));
  g_assert_no_error (error);
  g_assert_true (mv_digest_check_bytes (SHA512_EMPTY, NULL, 0, &error));
  g_assert_no_error (error);

  g_assert_false (mv_digest_check_bytes (SHA256_ABC, "abd", 3, &error));
  g_assert_error (error, MV_ERROR, MV_ERROR_DIGEST_MISMATCH);
  g_assert_nonnull (strstr (error->message, SHA256_ABC));
  g_clear_error (&error);

  g_assert_false (mv_digest_check_bytes (SHA512_ABC, "ab", 2, &error));
  g_assert_error (error, MV_ERROR, MV_ERROR_DIGEST_MISMATCH);
  g_clear_error (&error);

  g_assert_false (mv_digest_check_bytes ("sha256:../../x", "abc", 3, &error));
  g_assert_error (error, MV_ERROR, MV_ERROR_INVALID_MANIFEST);
}

static void
test_digester_stream (void)
{
  g_autoptr (MvDigester) d = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *chunk = g_malloc (1000);
  g_autofree char *result = NULL;
  g_autofree char *again = NULL;

  memset (chunk, 'a', 1000);
  d = mv_digester_new (SHA256_MILLION_A, &error);
  g_assert_no_error (error);
  g_assert_nonnull (d);
  /* Uneven chunks, so block boundaries fall everywhere. */
  for (gsize done = 0, step = 1; done < 1000000; step = step % 997 + 1)
    {
      gsize n = MIN (step, 1000000 - done);
      mv_digester_update (d, chunk, n);
      done += n;
    }
  g_assert_cmpuint (mv_digester_get_bytes (d), ==, 1000000);
  g_assert_true (mv_digester_verify (d, 1000000, &error));
  g_assert_no_error (error);
  result = mv_digester_finish (d);
  again = mv_digester_finish (d);
  g_assert_cmpstr (result, ==, SHA256_MILLION_A);
  g_assert_cmpstr (again, ==, SHA256_MILLION_A);
}

static void
test_digester_default_and_reset (void)
{
  g_autoptr (MvDigester) d = mv_digester_new (NULL, NULL);
  g_autoptr (GError) error = NULL;
  g_autofree char *a = NULL;
  g_autofree char *b = NULL;

  g_assert_nonnull (d);
  mv_digester_update (d, "garbage from a first attempt", 28);
  g_assert_cmpuint (mv_digester_get_bytes (d), ==, 28);
  mv_digester_reset (d);
  g_assert_cmpuint (mv_digester_get_bytes (d), ==, 0);
  mv_digester_update (d, "a", 1);
  mv_digester_update (d, NULL, 0);
  mv_digester_update (d, "bc", 2);
  a = mv_digester_finish (d);
  g_assert_cmpstr (a, ==, SHA256_ABC);

  /* A reset after finishing starts a new digest. */
  mv_digester_reset (d);
  b = mv_digester_finish (d);
  g_assert_cmpstr (b, ==, SHA256_EMPTY);

  /* Nothing to verify against. */
  g_assert_false (mv_digester_verify (d, -1, &error));
  g_assert_error (error, MV_ERROR, MV_ERROR_FAILED);
}

static void
test_digester_sha512 (void)
{
  g_autoptr (MvDigester) d = mv_digester_new (SHA512_ABC, NULL);
  g_autoptr (GError) error = NULL;
  g_autofree char *result = NULL;

  g_assert_nonnull (d);
  mv_digester_update (d, "abc", 3);
  g_assert_true (mv_digester_verify (d, 3, &error));
  g_assert_no_error (error);
  result = mv_digester_finish (d);
  g_assert_cmpstr (result, ==, SHA512_ABC);
}

static void
test_digester_mismatch (void)
{
  g_autoptr (GError) error = NULL;

  {
    g_autoptr (MvDigester) d = mv_digester_new (SHA256_ABC, NULL);
    mv_digester_update (d, "abd", 3);
    g_assert_false (mv_digester_verify (d, 3, &error));
    g_assert_error (error, MV_ERROR, MV_ERROR_DIGEST_MISMATCH);
    /* Both digests are named. */
    g_assert_nonnull (strstr (error->message, SHA256_ABC));
    g_assert_nonnull (strstr (error->message, "sha256:"));
    g_clear_error (&error);
  }
  {
    /* Right bytes, wrong declared size: a size error, naming both sizes. */
    g_autoptr (MvDigester) d = mv_digester_new (SHA256_ABC, NULL);
    mv_digester_update (d, "abc", 3);
    g_assert_false (mv_digester_verify (d, 4, &error));
    g_assert_error (error, MV_ERROR, MV_ERROR_DIGEST_MISMATCH);
    g_assert_nonnull (strstr (error->message, "3"));
    g_assert_nonnull (strstr (error->message, "4"));
    g_clear_error (&error);
  }
  {
    /* A negative size means "do not check the size". */
    g_autoptr (MvDigester) d = mv_digester_new (SHA256_ABC, NULL);
    mv_digester_update (d, "abc", 3);
    g_assert_true (mv_digester_verify (d, -1, &error));
    g_assert_no_error (error);
  }
  {
    /* Restarted transfer: a reset forgets the bad first attempt. */
    g_autoptr (MvDigester) d = mv_digester_new (SHA256_ABC, NULL);
    mv_digester_update (d, "xx", 2);
    mv_digester_reset (d);
    mv_digester_update (d, "abc", 3);
    g_assert_true (mv_digester_verify (d, 3, &error));
    g_assert_no_error (error);
  }
}

static void
test_digester_invalid_expected (void)
{
  g_autoptr (GError) error = NULL;
  MvDigester *d = mv_digester_new ("sha256:%2F..", &error);

  g_assert_null (d);
  g_assert_error (error, MV_ERROR, MV_ERROR_INVALID_MANIFEST);
}

/* libcrypto's answer, the reference for our SHA-256. */
static void
reference_sha256 (const guint8 *data, gsize len, guint8 out[32])
{
  unsigned int md_len = 0;
  g_assert_cmpint (EVP_Digest (data, len, out, &md_len, EVP_sha256 (), NULL), ==, 1);
  g_assert_cmpuint (md_len, ==, 32);
}

static guint8 *
random_bytes (gsize len, guint32 seed)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (seed);
  guint8 *data = g_malloc (len + 1);

  for (gsize i = 0; i < len; i++)
    data[i] = (guint8)g_rand_int (rand);
  return data;
}

/* Feeds @data to @s in pieces of varying sizes (1 byte up to several blocks). */
static void
feed_in_pieces (MvSha256 *s, const guint8 *data, gsize len, guint32 seed)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (seed);

  for (gsize done = 0; done < len;)
    {
      gsize want = g_rand_int_range (rand, 0, 300); /* not inside MIN (): evaluated twice */
      gsize n = MIN (len - done, want);
      mv_sha256_update (s, data + done, n);
      done += n;
    }
}

static void
test_sha256_against_libcrypto (void)
{
  gsize max = 70000;
  g_autofree guint8 *data = random_bytes (max, 1);

  if (!mv_sha256_accelerated ())
    {
      g_test_skip ("no SHA extensions (or MODELVOL_TEST_NO_SHA_EXT=1)");
      return;
    }
  for (gsize len = 0; len < max; len = len < 300 ? len + 1 : len * 3 + 7)
    {
      guint8 want[32], got[32];
      MvSha256 s;

      reference_sha256 (data, len, want);
      mv_sha256_init (&s);
      mv_sha256_update (&s, data, len);
      mv_sha256_final (&s, got);
      g_assert_cmpmem (got, 32, want, 32);

      mv_sha256_init (&s);
      feed_in_pieces (&s, data, len, (guint32)len);
      mv_sha256_final (&s, got);
      g_assert_cmpmem (got, 32, want, 32);
    }
}

/* Two streams fed the same bytes in one pass, the second one behind a prefix of its own (as
 * ostree's content checksum is behind its file header): every prefix length modulo the
 * block size, pieces of every alignment, each stream equal to libcrypto's digest. */
static void
test_sha256_two_streams (void)
{
  gsize max = 5000;
  g_autofree guint8 *data = random_bytes (max, 2);
  g_autofree guint8 *prefixed = g_malloc (max + 200);

  if (!mv_sha256_accelerated ())
    {
      g_test_skip ("no SHA extensions (or MODELVOL_TEST_NO_SHA_EXT=1)");
      return;
    }
  for (gsize prefix = 0; prefix < 140; prefix += (prefix < 70 ? 1 : 13))
    for (gsize len = 0; len < max; len = len < 200 ? len + 3 : len * 2 + 1)
      {
        g_autoptr (GRand) rand = g_rand_new_with_seed ((guint32)(prefix * 7919 + len));
        guint8 want_a[32], want_b[32], got_a[32], got_b[32];
        MvSha256 a, b;

        memset (prefixed, 'h', prefix);
        memcpy (prefixed + prefix, data, len);
        reference_sha256 (data, len, want_a);
        reference_sha256 (prefixed, prefix + len, want_b);

        mv_sha256_init (&a);
        mv_sha256_init (&b);
        mv_sha256_update (&b, prefixed, prefix);
        for (gsize done = 0; done < len;)
          {
            gsize want = g_rand_int_range (rand, 0, 700);
            gsize n = MIN (len - done, want);
            mv_sha256_update2 (&a, &b, data + done, n);
            done += n;
          }
        mv_sha256_final (&a, got_a);
        mv_sha256_final (&b, got_b);
        g_assert_cmpmem (got_a, 32, want_a, 32);
        g_assert_cmpmem (got_b, 32, want_b, 32);
      }
}

/* The digester's two-stream update, on whichever implementation this run uses (the suite runs
 * this program a second time with the SHA extensions switched off). */
static void
test_digester_update2 (void)
{
  g_autofree guint8 *data = random_bytes (100000, 3);
  g_autofree char *want_a = NULL;
  g_autofree char *want_b = NULL;
  g_autofree char *got_a = NULL;
  g_autofree char *got_b = NULL;
  g_autoptr (MvDigester) a = mv_digester_new (NULL, NULL);
  g_autoptr (MvDigester) b = mv_digester_new (NULL, NULL);
  g_autoptr (MvDigester) c = mv_digester_new (SHA512_ABC, NULL);
  g_autoptr (MvDigester) d = mv_digester_new (NULL, NULL);
  g_autoptr (GError) error = NULL;

  mv_digester_update (b, "header", 6);
  mv_digester_update2 (a, b, data, 33333);
  mv_digester_update2 (a, b, data + 33333, 100000 - 33333);
  got_a = mv_digester_finish (a);
  got_b = mv_digester_finish (b);
  want_a = mv_digest_bytes (data, 100000);
  g_assert_cmpstr (got_a, ==, want_a);
  g_assert_cmpuint (mv_digester_get_bytes (a), ==, 100000);
  g_assert_cmpuint (mv_digester_get_bytes (b), ==, 100006);
  {
    g_autoptr (MvDigester) ref = mv_digester_new (NULL, NULL);
    mv_digester_update (ref, "header", 6);
    mv_digester_update (ref, data, 100000);
    want_b = mv_digester_finish (ref);
  }
  g_assert_cmpstr (got_b, ==, want_b);

  /* A SHA-512 digester beside a SHA-256 one: each still gets its own right answer. */
  mv_digester_update2 (c, d, "abc", 3);
  g_assert_true (mv_digester_verify (c, 3, &error));
  g_assert_no_error (error);
  g_clear_pointer (&got_a, g_free);
  got_a = mv_digester_finish (d);
  g_assert_cmpstr (got_a, ==, SHA256_ABC);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/digest/validate/good", test_validate_good);
  g_test_add_func ("/digest/validate/bad", test_validate_bad);
  g_test_add_func ("/digest/validate/message", test_validate_message);
  g_test_add_func ("/digest/bytes/vectors", test_bytes_vectors);
  g_test_add_func ("/digest/digester/stream", test_digester_stream);
  g_test_add_func ("/digest/digester/default-and-reset", test_digester_default_and_reset);
  g_test_add_func ("/digest/digester/sha512", test_digester_sha512);
  g_test_add_func ("/digest/digester/mismatch", test_digester_mismatch);
  g_test_add_func ("/digest/digester/invalid-expected", test_digester_invalid_expected);
  g_test_add_func ("/digest/digester/update2", test_digester_update2);
  g_test_add_func ("/digest/sha256/against-libcrypto", test_sha256_against_libcrypto);
  g_test_add_func ("/digest/sha256/two-streams", test_sha256_two_streams);
  return g_test_run ();
}
