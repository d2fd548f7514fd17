/* Unit tests of plugin/mv-sigstore: public keys, simple-signing payloads and their signatures,
 * Rekor SETs, sigstore bundles (DSSE, message signatures, tlog entries), in-toto statements,
 * the DSSE PAE and strict base64, on the vectors of tests/data/sigstore (make-vectors.py).
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <string.h>

#include "mv-error-private.h"
#include "mv-policy-private.h"
#include "mv-sigstore-private.h"
#include "mv-verdict-private.h"

#define IDENTITY "registry.example.com/models/tiny:v1"
#define OTHER_IDENTITY "registry.example.com/models/other:v1"
#define INTEGRATED_TIME G_GINT64_CONSTANT (1700000000)

static const char *const good_keys[]
    = { "ecdsa-p256", "ecdsa-p384", "ecdsa-p521", "ed25519", "rsa-2048" };

static char *
vec_path (const char *name)
{
  return g_test_build_filename (G_TEST_DIST, "..", "data", "sigstore", "vectors", name, NULL);
}

static GBytes *
vec_bytes (const char *name)
{
  g_autofree char *path = vec_path (name);
  g_autoptr (GError) error = NULL;
  char *contents = NULL;
  gsize len = 0;

  g_file_get_contents (path, &contents, &len, &error);
  g_assert_no_error (error);
  return g_bytes_new_take (contents, len);
}

/* The file as a string (the vectors hold no NUL), as written: no newline is stripped. */
static char *
vec_string (const char *name)
{
  g_autofree char *path = vec_path (name);
  g_autoptr (GError) error = NULL;
  char *contents = NULL;

  g_file_get_contents (path, &contents, NULL, &error);
  g_assert_no_error (error);
  return contents;
}

static char *vec_printf (const char *format, ...) G_GNUC_PRINTF (1, 2);

static char *
vec_printf (const char *format, ...)
{
  g_autofree char *name = NULL;
  va_list ap;

  va_start (ap, format);
  name = g_strdup_vprintf (format, ap);
  va_end (ap);
  return vec_string (name);
}

static char *
manifest_digest (void)
{
  return g_strchomp (vec_string ("manifest.digest"));
}

static char *
other_digest (void)
{
  return g_strchomp (vec_string ("other.digest"));
}

static MvPublicKey *
load_key (const char *name)
{
  g_autofree char *file = g_strdup_printf ("keys/%s.pub", name);
  g_autoptr (GBytes) pem = vec_bytes (file);
  g_autoptr (GError) error = NULL;
  MvPublicKey *key = mv_public_key_new (pem, name, &error);

  g_assert_no_error (error);
  g_assert_nonnull (key);
  return key;
}

static GPtrArray *load_keys (const char *first, ...) G_GNUC_NULL_TERMINATED;

static GPtrArray *
load_keys (const char *first, ...)
{
  GPtrArray *keys = g_ptr_array_new_with_free_func ((GDestroyNotify)mv_public_key_free);
  va_list ap;

  va_start (ap, first);
  for (const char *name = first; name != NULL; name = va_arg (ap, const char *))
    g_ptr_array_add (keys, load_key (name));
  va_end (ap);
  return keys;
}

#define KEYS(a) ((MvPublicKey *const *)(a)->pdata), (a)->len

static void
assert_error_contains (const GError *error, int code, const char *part)
{
  g_assert_error (error, MV_ERROR, code);
  if (part != NULL && strstr (error->message, part) == NULL)
    g_error ("error \"%s\" does not contain \"%s\"", error->message, part);
}

/* Keys */

static void
test_key_load (gconstpointer data)
{
  const char *name = data;
  g_autoptr (MvPublicKey) key = load_key (name);
  g_autofree char *fingerprints = vec_string ("keys/fingerprints.txt");
  g_autofree char *line = g_strdup_printf ("%s %s\n", name, mv_public_key_fingerprint (key));
  const char *fp = mv_public_key_fingerprint (key);

  /* "SHA256:" and 64 lowercase hex digits: the SHA-256 of the DER make-vectors.py wrote. */
  g_assert_true (g_str_has_prefix (fp, "SHA256:"));
  g_assert_cmpuint (strlen (fp), ==, 7 + 64);
  for (const char *p = fp + 7; *p != '\0'; p++)
    g_assert_true (g_ascii_isdigit (*p) || (*p >= 'a' && *p <= 'f'));
  g_assert_nonnull (strstr (fingerprints, line));
}

static void
test_key_refused (void)
{
  static const struct
  {
    const char *name;
    const char *part;
  } cases[] = {
    { "rsa-1024", "an RSA key of 1024 bits is not accepted" },
    { "ecdsa-secp256k1", "ECDSA curve secp256k1 is not accepted" },
    { "x25519", "key type X25519 is not accepted" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *file = g_strdup_printf ("keys/%s.pub", cases[i].name);
      g_autoptr (GBytes) pem = vec_bytes (file);
      g_autoptr (GError) error = NULL;
      g_autoptr (MvPublicKey) key = mv_public_key_new (pem, "key /k.pub", &error);

      g_assert_null (key);
      assert_error_contains (error, MV_ERROR_UNSUPPORTED, cases[i].part);
      g_assert_true (g_str_has_prefix (error->message, "key /k.pub: "));
    }
}

static MvPublicKey *
key_from_string (const char *pem, GError **error)
{
  g_autoptr (GBytes) b = g_bytes_new (pem, strlen (pem));
  return mv_public_key_new (b, "key k", error);
}

static void
test_key_pem_forms (void)
{
  g_autofree char *pem = vec_string ("keys/ecdsa-p256.pub");
  g_autoptr (MvPublicKey) ref = load_key ("ecdsa-p256");
  g_auto (GStrv) lines = g_strsplit (pem, "\n", -1);
  g_autofree char *crlf = g_strjoinv ("\r\n", lines);
  g_autofree char *spaced = g_strdup_printf ("\n  \n%s\n\n", pem);
  g_autofree char *body = NULL;
  g_autofree char *one_line = NULL;
  const char *forms[] = { crlf, spaced };

  for (guint i = 0; i < G_N_ELEMENTS (forms); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (MvPublicKey) key = key_from_string (forms[i], &error);

      g_assert_no_error (error);
      g_assert_cmpstr (mv_public_key_fingerprint (key), ==, mv_public_key_fingerprint (ref));
    }

  /* The body on one line is the same key too. */
  body = g_strjoinv ("", lines + 1);
  *strstr (body, "-----END") = '\0';
  one_line = g_strdup_printf ("-----BEGIN PUBLIC KEY-----\n%s\n-----END PUBLIC KEY-----\n", body);
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (MvPublicKey) key = key_from_string (one_line, &error);

    g_assert_no_error (error);
    g_assert_cmpstr (mv_public_key_fingerprint (key), ==, mv_public_key_fingerprint (ref));
  }
}

static void
test_key_pem_refused (void)
{
  g_autofree char *pem = vec_string ("keys/ecdsa-p256.pub");
  g_autofree char *body = g_strdup (strchr (pem, '\n') + 1);
  g_autofree char *no_end = NULL;
  g_autofree char *header = NULL;
  g_autofree char *blank = NULL;
  g_autofree char *cert = NULL;
  g_autofree char *two = NULL;
  g_autofree char *junk = NULL;
  g_autofree char *bad_b64 = NULL;
  g_autofree char *trailing_der = NULL;
  g_autofree char *lone_cr = NULL;
  const char *end;

  *strstr (body, "-----END") = '\0'; /* the base64 lines, each with its newline */
  end = "-----END PUBLIC KEY-----\n";
  no_end = g_strdup_printf ("-----BEGIN PUBLIC KEY-----\n%s", body);
  header = g_strdup_printf ("-----BEGIN PUBLIC KEY-----\nProc-Type: 4,ENCRYPTED\n%s%s", body, end);
  blank = g_strdup_printf ("-----BEGIN PUBLIC KEY-----\n\n%s%s", body, end);
  cert = g_strdup_printf ("-----BEGIN CERTIFICATE-----\n%s-----END CERTIFICATE-----\n", body);
  two = g_strdup_printf ("%s%s", pem, pem);
  junk = g_strdup_printf ("junk\n%s", pem);
  bad_b64 = g_strdup_printf ("-----BEGIN PUBLIC KEY-----\n%s!!!!\n%s", body, end);
  /* One more byte after the DER SubjectPublicKeyInfo, in valid base64. */
  {
    g_autofree char *joined = g_strdelimit (g_strdup (body), "\n", ' ');
    g_autoptr (GString) flat = g_string_new (NULL);
    g_autoptr (GBytes) der = NULL;
    g_autoptr (GByteArray) longer = g_byte_array_new ();
    g_autofree char *b64 = NULL;

    for (const char *p = joined; *p != '\0'; p++)
      if (*p != ' ')
        g_string_append_c (flat, *p);
    der = mv_base64_decode_strict (flat->str, flat->len);
    g_assert_nonnull (der);
    g_byte_array_append (longer, g_bytes_get_data (der, NULL), g_bytes_get_size (der));
    g_byte_array_append (longer, (const guint8 *)"", 1);
    b64 = g_base64_encode (longer->data, longer->len);
    trailing_der = g_strdup_printf ("-----BEGIN PUBLIC KEY-----\n%s\n%s", b64, end);
  }
  lone_cr = g_strdup (pem);
  *strchr (lone_cr, '\n') = '\r';

  {
    const struct
    {
      const char *pem;
      const char *part;
    } cases[] = {
      { "", "key k: empty" },
      { "hello\n", "no -----BEGIN line" },
      { no_end, "without its END line" },
      { header, "PEM headers or blank lines are not accepted" },
      { blank, "PEM headers or blank lines are not accepted" },
      { cert, "a PEM CERTIFICATE block, not a PUBLIC KEY" },
      { two, "bad base64 in the PEM block" },
      { junk, "no -----BEGIN line" },
      { bad_b64, "bad base64 in the PEM block" },
      { trailing_der, "not a DER SubjectPublicKeyInfo" },
      { lone_cr, "key k: " },
    };

    for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
      {
        g_autoptr (GError) error = NULL;
        g_autoptr (MvPublicKey) key = key_from_string (cases[i].pem, &error);

        g_assert_null (key);
        assert_error_contains (error, MV_ERROR_SIGNATURE, cases[i].part);
      }
  }
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (GBytes) nul = g_bytes_new ("-----BEGIN PUBLIC KEY-----\n\0", 28);
    g_autoptr (MvPublicKey) key = mv_public_key_new (nul, "key k", &error);

    g_assert_null (key);
    assert_error_contains (error, MV_ERROR_SIGNATURE, "a NUL byte");
  }
  {
    g_autoptr (GError) error = NULL;
    g_autofree char *big = g_strnfill (MV_SIGSTORE_PEM_MAX + 1, ' ');
    g_autoptr (MvPublicKey) key = key_from_string (big, &error);

    g_assert_null (key);
    assert_error_contains (error, MV_ERROR_LIMIT_EXCEEDED, "above the limit of 65536 bytes");
  }
}

/* Simple signing */

static gboolean
verify_simple (const char *payload_name, const char *sig, const char *set, GPtrArray *keys,
               GPtrArray *rekor, const char *digest, MvSignatureFacts **out_facts, GError **error)
{
  g_autofree char *file = g_strdup_printf ("simple/%s.payload.json", payload_name);
  g_autoptr (GBytes) payload = vec_bytes (file);
  g_autoptr (GPtrArray) no_rekor = g_ptr_array_new ();

  if (rekor == NULL)
    rekor = no_rekor;
  return mv_sigstore_verify_simple_signing (payload, sig, set, KEYS (keys), KEYS (rekor), digest,
                                            out_facts, error);
}

static void
test_simple_each_key (gconstpointer data)
{
  const char *name = data;
  g_autoptr (GPtrArray) keys = load_keys (name, NULL);
  g_autofree char *sig = vec_printf ("simple/%s.sig", name);
  g_autofree char *digest = manifest_digest ();
  g_autoptr (MvSignatureFacts) facts = NULL;
  g_autoptr (GError) error = NULL;

  g_assert_true (verify_simple (name, sig, NULL, keys, NULL, digest, &facts, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (facts->format, ==, "simple-signing");
  g_assert_cmpstr (facts->manifest_digest, ==, digest);
  g_assert_cmpstr (facts->docker_reference, ==, IDENTITY);
  g_assert_cmpstr (facts->key_fingerprint, ==,
                   mv_public_key_fingerprint (g_ptr_array_index (keys, 0)));
  g_assert_null (facts->rekor_key_fingerprint);
  g_assert_cmpint (facts->integrated_time, ==, -1);
}

/* P-384 and P-521 signatures over SHA-256 (containers/image, cosign verify --key) pass too. */
static void
test_simple_ec_sha256 (void)
{
  static const char *const names[] = { "ecdsa-p384", "ecdsa-p521" };
  g_autofree char *digest = manifest_digest ();

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autoptr (GPtrArray) keys = load_keys (names[i], NULL);
      g_autofree char *sig = vec_printf ("simple/%s-sha256.sig", names[i]);
      g_autoptr (MvSignatureFacts) facts = NULL;
      g_autoptr (GError) error = NULL;

      g_assert_true (verify_simple (names[i], sig, NULL, keys, NULL, digest, &facts, &error));
      g_assert_no_error (error);
    }
}

static void
test_simple_wrong_key (void)
{
  g_autofree char *digest = manifest_digest ();

  for (guint i = 0; i < G_N_ELEMENTS (good_keys); i++)
    {
      g_autofree char *sig = vec_printf ("simple/%s.sig", good_keys[i]);

      for (guint j = 0; j < G_N_ELEMENTS (good_keys); j++)
        {
          g_autoptr (GPtrArray) keys = NULL;
          g_autoptr (MvSignatureFacts) facts = NULL;
          g_autoptr (GError) error = NULL;
          g_autofree char *want = NULL;

          if (i == j)
            continue;
          keys = load_keys (good_keys[j], NULL);
          want = g_strdup_printf ("signature payload: signature does not verify with key %s",
                                  mv_public_key_fingerprint (g_ptr_array_index (keys, 0)));
          g_assert_false (
              verify_simple (good_keys[i], sig, NULL, keys, NULL, digest, &facts, &error));
          g_assert_null (facts);
          assert_error_contains (error, MV_ERROR_SIGNATURE, want);
        }
    }
}

/* Among several keys the one that verifies is named; none: the message lists a few. */
static void
test_simple_key_list (void)
{
  g_autofree char *digest = manifest_digest ();
  g_autofree char *sig = vec_string ("simple/rsa-2048.sig");
  g_autoptr (GPtrArray) all
      = load_keys ("ecdsa-p256", "ecdsa-p384", "ed25519", "ecdsa-p521", "rsa-2048", NULL);
  g_autoptr (GPtrArray) others
      = load_keys ("ecdsa-p256", "ecdsa-p384", "ed25519", "ecdsa-p521", "rekor", NULL);
  g_autoptr (MvSignatureFacts) facts = NULL;
  g_autoptr (GError) error = NULL;

  g_assert_true (verify_simple ("rsa-2048", sig, NULL, all, NULL, digest, &facts, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (facts->key_fingerprint, ==,
                   mv_public_key_fingerprint (g_ptr_array_index (all, 4)));
  g_clear_pointer (&facts, mv_signature_facts_free);

  g_assert_false (verify_simple ("rsa-2048", sig, NULL, others, NULL, digest, &facts, &error));
  assert_error_contains (error, MV_ERROR_SIGNATURE,
                         "does not verify with any of the 5 keys SHA256:");
  g_assert_true (g_str_has_suffix (error->message, ", ..."));
}

static void
test_simple_no_keys (void)
{
  g_autofree char *digest = manifest_digest ();
  g_autofree char *sig = vec_string ("simple/ecdsa-p256.sig");
  g_autoptr (GPtrArray) none = g_ptr_array_new ();
  g_autoptr (GPtrArray) keys = load_keys ("ecdsa-p256", NULL);
  g_autoptr (MvSignatureFacts) facts = NULL;
  g_autoptr (GError) error = NULL;

  g_assert_false (verify_simple ("ecdsa-p256", sig, NULL, none, NULL, digest, &facts, &error));
  assert_error_contains (error, MV_ERROR_SIGNATURE, "no public key");
  g_clear_error (&error);
  g_assert_false (
      verify_simple ("ecdsa-p256", sig, NULL, keys, NULL, "sha256:abc", &facts, &error));
  assert_error_contains (error, MV_ERROR_SIGNATURE, NULL);
  g_clear_error (&error);
  g_assert_false (verify_simple ("ecdsa-p256", NULL, NULL, keys, NULL, digest, &facts, &error));
  assert_error_contains (error, MV_ERROR_SIGNATURE, "no " MV_SIGSTORE_SIGNATURE_ANNOTATION);
  g_assert_null (facts);
}

static void
test_simple_tampered (void)
{
  g_autofree char *digest = manifest_digest ();
  g_autofree char *sig = vec_string ("simple/ecdsa-p256.sig");
  g_autofree char *text = vec_string ("simple/ecdsa-p256.payload.json");
  g_autoptr (GPtrArray) keys = load_keys ("ecdsa-p256", NULL);
  g_autoptr (GPtrArray) no_rekor = g_ptr_array_new ();
  gsize len = strlen (text);

  /* One byte changed anywhere, one added, one taken away. */
  for (guint i = 0; i < 3; i++)
    {
      g_autoptr (GString) t = g_string_new (text);
      g_autoptr (GBytes) payload = NULL;
      g_autoptr (MvSignatureFacts) facts = NULL;
      g_autoptr (GError) error = NULL;

      if (i == 0)
        *strstr (t->str, "tiny:v1") = 'T';
      else if (i == 1)
        g_string_append_c (t, ' ');
      else
        g_string_truncate (t, len - 1);
      payload = g_bytes_new (t->str, t->len);
      g_assert_false (mv_sigstore_verify_simple_signing (payload, sig, NULL, KEYS (keys),
                                                         KEYS (no_rekor), digest, &facts, &error));
      assert_error_contains (error, MV_ERROR_SIGNATURE, "signature does not verify");
    }
}

static void
test_simple_other_digest (void)
{
  g_autofree char *digest = manifest_digest ();
  g_autofree char *other = other_digest ();
  g_autofree char *sig = vec_string ("simple/other-digest.sig");
  g_autoptr (GPtrArray) keys = load_keys ("ecdsa-p256", NULL);
  g_autoptr (MvSignatureFacts) facts = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *want = g_strdup_printf (
      "signature payload: critical.image.docker-manifest-digest is %s not %s", other, digest);

  g_assert_false (verify_simple ("other-digest", sig, NULL, keys, NULL, digest, &facts, &error));
  assert_error_contains (error, MV_ERROR_SIGNATURE, want);
  g_clear_error (&error);
  /* What it signs it is accepted for. */
  g_assert_true (verify_simple ("other-digest", sig, NULL, keys, NULL, other, &facts, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (facts->manifest_digest, ==, other);
}

/* The signed identity is a fact of the signature; the policy's identity rule refuses it. */
static void
test_simple_wrong_identity (void)
{
  g_autofree char *digest = manifest_digest ();
  g_autofree char *sig = vec_string ("simple/wrong-identity.sig");
  g_autofree char *good_sig = vec_string ("simple/ecdsa-p256.sig");
  g_autoptr (GPtrArray) keys = load_keys ("ecdsa-p256", NULL);
  g_autoptr (MvSignatureFacts) facts = NULL;
  g_autoptr (MvSignatureFacts) good = NULL;
  g_autoptr (GError) error = NULL;
  const MvSignedIdentityKind kinds[] = { MV_IDENTITY_MATCH_REPO_DIGEST_OR_EXACT,
                                         MV_IDENTITY_MATCH_EXACT, MV_IDENTITY_MATCH_REPOSITORY };

  g_assert_true (verify_simple ("wrong-identity", sig, NULL, keys, NULL, digest, &facts, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (facts->docker_reference, ==, OTHER_IDENTITY);
  g_assert_true (verify_simple ("ecdsa-p256", good_sig, NULL, keys, NULL, digest, &good, &error));
  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (kinds); i++)
    {
      MvSignedIdentity identity = { .kind = kinds[i] };

      g_assert_false (
          mv_verdict_identity_matches (&identity, IDENTITY, facts->docker_reference, &error));
      assert_error_contains (error, MV_ERROR_SIGNATURE, NULL);
      g_clear_error (&error);
      g_assert_true (
          mv_verdict_identity_matches (&identity, IDENTITY, good->docker_reference, &error));
      g_assert_no_error (error);
    }
}

/* Validly signed payloads that containers/image's rules refuse. */
static void
test_simple_payload_refused (void)
{
  static const struct
  {
    const char *name;
    const char *part;
  } cases[] = {
    { "dup-keys", "duplicate member name" },
    { "unknown-critical", "signature payload: unknown field critical.extra" },
    { "unknown-top", "signature payload: unknown field extra" },
    { "wrong-type", "signature payload: critical.type is \"atomic container signature\", not "
                    "\"cosign container image signature\"" },
  };
  g_autofree char *digest = manifest_digest ();
  g_autoptr (GPtrArray) keys = load_keys ("ecdsa-p256", NULL);

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *sig = vec_printf ("simple/%s.sig", cases[i].name);
      g_autoptr (MvSignatureFacts) facts = NULL;
      g_autoptr (GError) error = NULL;

      g_assert_false (verify_simple (cases[i].name, sig, NULL, keys, NULL, digest, &facts, &error));
      g_assert_null (facts);
      assert_error_contains (error, MV_ERROR_SIGNATURE, cases[i].part);
    }
}

static void
test_simple_optional_object (void)
{
  g_autofree char *digest = manifest_digest ();
  g_autofree char *sig = vec_string ("simple/optional-object.sig");
  g_autoptr (GPtrArray) keys = load_keys ("ecdsa-p256", NULL);
  g_autoptr (MvSignatureFacts) facts = NULL;
  g_autoptr (GError) error = NULL;

  g_assert_true (verify_simple ("optional-object", sig, NULL, keys, NULL, digest, &facts, &error));
  g_assert_no_error (error);
}

static void
test_simple_bad_base64 (void)
{
  g_autofree char *digest = manifest_digest ();
  g_autofree char *sig = vec_string ("simple/ecdsa-p256.sig");
  g_autoptr (GPtrArray) keys = load_keys ("ecdsa-p256", NULL);
  g_autoptr (GPtrArray) variants = g_ptr_array_new_with_free_func (g_free);
  gsize len = strlen (sig);
  char *v;

  g_assert_cmpuint (len % 4, ==, 0);
  g_ptr_array_add (variants, g_strconcat (sig, "\n", NULL));
  g_ptr_array_add (variants, g_strconcat (" ", sig, NULL));
  v = g_strdup (sig);
  v[8] = ' ';
  g_ptr_array_add (variants, v);
  g_ptr_array_add (variants, g_strndup (sig, len - 4) /* a signature cut short stays valid
                                                       * base64: refused as a bad signature */);
  v = g_strdup (sig);
  v[10] = '!';
  g_ptr_array_add (variants, v);
  v = g_strdup (sig);
  v[10] = '-'; /* base64url */
  g_ptr_array_add (variants, v);
  g_ptr_array_add (variants, g_strdup (""));
  /* Padding taken away, or doubled. */
  {
    g_autofree char *stripped = g_strdup (sig);
    g_strdelimit (stripped, "=", '\0');
    g_ptr_array_add (variants, g_strdup (stripped));
    g_ptr_array_add (variants, g_strconcat (sig, "====", NULL));
  }

  for (guint i = 0; i < variants->len; i++)
    {
      g_autoptr (MvSignatureFacts) facts = NULL;
      g_autoptr (GError) error = NULL;
      const char *s = variants->pdata[i];

      g_assert_false (verify_simple ("ecdsa-p256", s, NULL, keys, NULL, digest, &facts, &error));
      if (i == 3)
        assert_error_contains (error, MV_ERROR_SIGNATURE, "signature does not verify");
      else
        assert_error_contains (error, MV_ERROR_SIGNATURE,
                               "bad base64 in " MV_SIGSTORE_SIGNATURE_ANNOTATION);
    }
}

/* Non-zero bits under the padding: the same bytes, another spelling, refused. */
static void
test_simple_pad_bits (void)
{
  g_autofree char *digest = manifest_digest ();
  g_autofree char *sig = vec_string ("simple/rsa-2048.sig"); /* 256 bytes: "...==" */
  g_autoptr (GPtrArray) keys = load_keys ("rsa-2048", NULL);
  g_autoptr (MvSignatureFacts) facts = NULL;
  g_autoptr (GError) error = NULL;
  gsize len = strlen (sig);
  g_autoptr (GBytes) a = NULL;
  g_autoptr (GBytes) b = NULL;

  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  gsize last;

  g_assert_cmpint (sig[len - 1], ==, '=');
  a = mv_base64_decode_strict (sig, len);
  g_assert_nonnull (a);
  /* The character before the padding: its low bits are zero; the next one in the alphabet
   * sets one of them. */
  last = len - (sig[len - 2] == '=' ? 3 : 2);
  sig[last] = alphabet[strchr (alphabet, sig[last]) - alphabet + 1];
  b = mv_base64_decode_strict (sig, len);
  g_assert_null (b);
  g_assert_false (verify_simple ("rsa-2048", sig, NULL, keys, NULL, digest, &facts, &error));
  assert_error_contains (error, MV_ERROR_SIGNATURE, "bad base64");
}

static void
test_simple_oversized (void)
{
  g_autofree char *digest = manifest_digest ();
  g_autofree char *sig = vec_string ("simple/ecdsa-p256.sig");
  g_autoptr (GPtrArray) keys = load_keys ("ecdsa-p256", NULL);
  g_autoptr (GPtrArray) no_rekor = g_ptr_array_new ();
  gsize n = MV_SIGSTORE_PAYLOAD_MAX + 1;
  char *big = g_malloc (n);
  g_autoptr (GBytes) payload = NULL;
  g_autoptr (MvSignatureFacts) facts = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (MvSigstorePayload) p = NULL;

  memset (big, ' ', n);
  big[0] = '{';
  big[n - 1] = '}';
  payload = g_bytes_new_take (big, n);
  g_assert_false (mv_sigstore_verify_simple_signing (payload, sig, NULL, KEYS (keys),
                                                     KEYS (no_rekor), digest, &facts, &error));
  assert_error_contains (error, MV_ERROR_LIMIT_EXCEEDED, "above the limit of 4194304 bytes");
  g_clear_error (&error);
  p = mv_sigstore_parse_payload (big, n, &error);
  g_assert_null (p);
  assert_error_contains (error, MV_ERROR_LIMIT_EXCEEDED, NULL);
}

/* Rekor SETs of simple signatures */

static void
test_simple_set (void)
{
  g_autofree char *digest = manifest_digest ();
  g_autofree char *sig = vec_string ("simple/ecdsa-p256.sig");
  g_autofree char *set = vec_string ("simple/ecdsa-p256.set.json");
  g_autoptr (GPtrArray) keys = load_keys ("ecdsa-p256", NULL);
  g_autoptr (GPtrArray) rekor = load_keys ("rekor-other", "rekor", NULL);
  g_autoptr (MvSignatureFacts) facts = NULL;
  g_autoptr (GError) error = NULL;

  g_assert_true (verify_simple ("ecdsa-p256", sig, set, keys, rekor, digest, &facts, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (facts->rekor_key_fingerprint, ==,
                   mv_public_key_fingerprint (g_ptr_array_index (rekor, 1)));
  g_assert_cmpint (facts->integrated_time, ==, INTEGRATED_TIME);
  g_clear_pointer (&facts, mv_signature_facts_free);

  /* Without Rekor keys the SET is not even parsed. */
  g_assert_true (verify_simple ("ecdsa-p256", sig, "not json", keys, NULL, digest, &facts, &error));
  g_assert_no_error (error);
  g_assert_null (facts->rekor_key_fingerprint);
  g_assert_cmpint (facts->integrated_time, ==, -1);
}

static void
test_simple_set_refused (void)
{
  static const struct
  {
    const char *set; /* a file of simple/, or NULL */
    const char *part;
  } cases[] = {
    { NULL, "no Rekor SET (annotation dev.sigstore.cosign/bundle), and the policy needs one" },
    { "set-bad-signature", "Rekor SET: the SET does not verify with Rekor key SHA256:" },
    { "set-other-log", "is none of the policy's Rekor keys" },
    { "set-other-body", "Rekor SET logs hash sha256:" },
  };
  g_autofree char *digest = manifest_digest ();
  g_autofree char *sig = vec_string ("simple/ecdsa-p256.sig");
  g_autoptr (GPtrArray) keys = load_keys ("ecdsa-p256", NULL);
  g_autoptr (GPtrArray) rekor = load_keys ("rekor", NULL);

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *set
          = cases[i].set != NULL ? vec_printf ("simple/%s.set.json", cases[i].set) : NULL;
      g_autoptr (MvSignatureFacts) facts = NULL;
      g_autoptr (GError) error = NULL;

      g_assert_false (verify_simple ("ecdsa-p256", sig, set, keys, rekor, digest, &facts, &error));
      g_assert_null (facts);
      assert_error_contains (error, MV_ERROR_SIGNATURE, cases[i].part);
    }

  /* The SET of another signature (P-384's payload is the same bytes, its signature not). */
  {
    g_autofree char *set = vec_string ("simple/ecdsa-p256.set.json");
    g_autofree char *sig384 = vec_string ("simple/ecdsa-p384.sig");
    g_autoptr (GPtrArray) keys384 = load_keys ("ecdsa-p384", NULL);
    g_autoptr (MvSignatureFacts) facts = NULL;
    g_autoptr (GError) error = NULL;

    g_assert_false (
        verify_simple ("ecdsa-p384", sig384, set, keys384, rekor, digest, &facts, &error));
    assert_error_contains (error, MV_ERROR_SIGNATURE, "Rekor SET logs another signature");
  }
}

static void
test_parse_set (void)
{
  g_autofree char *set = vec_string ("simple/ecdsa-p256.set.json");
  g_autoptr (GBytes) body = vec_bytes ("rekor/hashedrekord.body.json");
  g_autoptr (MvPublicKey) rekor = load_key ("rekor");
  g_autoptr (GError) error = NULL;
  g_autoptr (MvRekorEntry) e = mv_sigstore_parse_set (set, strlen (set), &error);
  g_autofree char *canonical = NULL;
  g_autofree char *want = NULL;

  g_assert_no_error (error);
  g_assert_null (e->kind);
  g_assert_null (e->version);
  g_assert_true (g_bytes_equal (e->body, body));
  g_assert_cmpint (e->integrated_time, ==, INTEGRATED_TIME);
  g_assert_cmpint (e->log_index, ==, 4242);
  g_assert_cmpstr (e->log_id, ==, mv_public_key_fingerprint (rekor) + strlen ("SHA256:"));
  g_assert_nonnull (e->signed_entry_timestamp);
  canonical = mv_sigstore_rekor_entry_canonical_payload (e);
  want = g_strdup_printf ("{\"body\":\"%s\",\"integratedTime\":1700000000,\"logID\":\"%s\","
                          "\"logIndex\":4242}",
                          e->body_b64, e->log_id);
  g_assert_cmpstr (canonical, ==, want);
}

static void
test_parse_set_refused (void)
{
#define LOGID "03f3ea8be7806cae3525f6a47b2c63e36523deca0936fff1fbfb1bbecc58b78f"
  static const struct
  {
    const char *json;
    int code;
    const char *part;
  } cases[] = {
    { "[]", MV_ERROR_SIGNATURE, NULL },
    { "{\"SignedEntryTimestamp\":\"AAAA\"}", MV_ERROR_SIGNATURE, "Payload is missing" },
    { "{\"SignedEntryTimestamp\":\"AAAA\",\"Payload\":{\"body\":\"e30=\",\"integratedTime\":1,"
      "\"logIndex\":1,\"logID\":\"" LOGID "\"},\"extra\":1}",
      MV_ERROR_SIGNATURE, "Rekor SET: unknown field extra" },
    { "{\"SignedEntryTimestamp\":\"AAAA\",\"Payload\":{\"body\":\"e30=\",\"integratedTime\":-1,"
      "\"logIndex\":1,\"logID\":\"" LOGID "\"}}",
      MV_ERROR_SIGNATURE, "Payload.integratedTime is out of range" },
    { "{\"SignedEntryTimestamp\":\"AAAA\",\"Payload\":{\"body\":\"e30=\",\"integratedTime\":1,"
      "\"logIndex\":\"1\",\"logID\":\"" LOGID "\"}}",
      MV_ERROR_SIGNATURE, "Payload.logIndex is not an integer" },
    { "{\"SignedEntryTimestamp\":\"AAAA\",\"Payload\":{\"body\":\"e30=\",\"integratedTime\":1,"
      "\"logIndex\":9007199254740993,\"logID\":\"" LOGID "\"}}",
      MV_ERROR_SIGNATURE, "Payload.logIndex is out of range" },
    { "{\"SignedEntryTimestamp\":\"AAAA\",\"Payload\":{\"body\":\"e30\",\"integratedTime\":1,"
      "\"logIndex\":1,\"logID\":\"" LOGID "\"}}",
      MV_ERROR_SIGNATURE, "Payload.body is not standard padded base64" },
    { "{\"SignedEntryTimestamp\":\"\",\"Payload\":{\"body\":\"e30=\",\"integratedTime\":1,"
      "\"logIndex\":1,\"logID\":\"" LOGID "\"}}",
      MV_ERROR_SIGNATURE, "SignedEntryTimestamp is empty" },
    { "{\"SignedEntryTimestamp\":\"AA A\",\"Payload\":{\"body\":\"e30=\",\"integratedTime\":1,"
      "\"logIndex\":1,\"logID\":\"" LOGID "\"}}",
      MV_ERROR_SIGNATURE, "SignedEntryTimestamp is not standard padded base64" },
    { "{\"SignedEntryTimestamp\":\"AAAA\",\"Payload\":{\"body\":\"e30=\",\"integratedTime\":1,"
      "\"logIndex\":1,\"logID\":"
      "\"03F3ea8be7806cae3525f6a47b2c63e36523deca0936fff1fbfb1bbecc58b78f\"}}",
      MV_ERROR_SIGNATURE, "Payload.logID is not 64 lowercase hex digits" },
    { "{\"SignedEntryTimestamp\":\"AAAA\",\"SignedEntryTimestamp\":\"AAAA\"}", MV_ERROR_SIGNATURE,
      "duplicate member name" },
  };
#undef LOGID

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (MvRekorEntry) e
          = mv_sigstore_parse_set (cases[i].json, strlen (cases[i].json), &error);

      g_assert_null (e);
      assert_error_contains (error, cases[i].code, cases[i].part);
    }
  {
    gsize n = MV_SIGSTORE_SET_MAX + 1;
    g_autofree char *big = g_strnfill (n, ' ');
    g_autoptr (GError) error = NULL;
    g_autoptr (MvRekorEntry) e = NULL;

    big[0] = '{';
    big[n - 1] = '}';
    e = mv_sigstore_parse_set (big, n, &error);
    g_assert_null (e);
    assert_error_contains (error, MV_ERROR_LIMIT_EXCEEDED, NULL);
  }
}

static void
test_parse_rekor_body (void)
{
  g_autofree char *hr = vec_string ("rekor/hashedrekord.body.json");
  g_autofree char *dsse = vec_string ("rekor/dsse.body.json");
  g_autofree char *sig = vec_string ("simple/ecdsa-p256.sig");
  g_autoptr (GBytes) sig_bytes = mv_base64_decode_strict (sig, strlen (sig));
  g_autoptr (GBytes) pem = vec_bytes ("keys/ecdsa-p256.pub");
  g_autoptr (GError) error = NULL;
  g_autoptr (MvRekorBody) b = mv_sigstore_parse_rekor_body (hr, strlen (hr), &error);
  g_autoptr (MvRekorBody) d = NULL;

  g_assert_no_error (error);
  g_assert_cmpstr (b->kind, ==, "hashedrekord");
  g_assert_cmpstr (b->api_version, ==, "0.0.1");
  g_assert_cmpuint (b->signatures->len, ==, 1);
  g_assert_true (g_bytes_equal (b->signatures->pdata[0], sig_bytes));
  g_assert_true (g_bytes_equal (b->verifiers->pdata[0], pem));
  g_assert_cmpstr (b->hash_algorithm, ==, "sha256");
  g_assert_cmpuint (strlen (b->hash_value), ==, 64);

  d = mv_sigstore_parse_rekor_body (dsse, strlen (dsse), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (d->kind, ==, "dsse");
  g_assert_cmpuint (d->signatures->len, ==, 1);
  g_assert_true (g_bytes_equal (d->verifiers->pdata[0], pem));
  g_assert_cmpstr (d->hash_algorithm, ==, "sha256");
}

static void
test_parse_rekor_body_refused (void)
{
  static const struct
  {
    const char *json;
    int code;
    const char *part;
  } cases[] = {
    { "{\"kind\":\"intoto\",\"apiVersion\":\"0.0.2\",\"spec\":{}}", MV_ERROR_UNSUPPORTED,
      "Rekor entry kind intoto version 0.0.2 is not supported" },
    { "{\"kind\":\"hashedrekord\",\"apiVersion\":\"0.0.2\",\"spec\":{}}", MV_ERROR_UNSUPPORTED,
      "not supported" },
    { "{\"kind\":\"hashedrekord\",\"apiVersion\":\"0.0.1\"}", MV_ERROR_SIGNATURE,
      "Rekor entry body: spec is missing" },
    { "{\"kind\":\"hashedrekord\",\"apiVersion\":\"0.0.1\",\"spec\":{\"signature\":{\"content\":"
      "\"AAAA\"}}}",
      MV_ERROR_SIGNATURE, "spec.signature.publicKey is missing" },
    { "{\"kind\":\"dsse\",\"apiVersion\":\"0.0.1\",\"spec\":{\"signatures\":[]}}",
      MV_ERROR_SIGNATURE, "spec.signatures has 0 entries (1 to 16)" },
    { "{\"kind\":\"dsse\",\"apiVersion\":\"0.0.1\",\"spec\":{\"signatures\":{}}}",
      MV_ERROR_SIGNATURE, "spec.signatures is not an array" },
    { "{\"kind\":\"dsse\",\"apiVersion\":\"0.0.1\",\"spec\":{\"signatures\":[1]}}",
      MV_ERROR_SIGNATURE, "spec.signatures[0] is not an object" },
    { "{\"kind\":\"dsse\",\"apiVersion\":\"0.0.1\",\"spec\":{\"signatures\":[{\"signature\":"
      "\"AAAA\",\"verifier\":\"AAAA\"}]}}",
      MV_ERROR_SIGNATURE, "spec.payloadHash is missing" },
    { "{\"kind\":1}", MV_ERROR_SIGNATURE, "kind is not a string" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (MvRekorBody) b
          = mv_sigstore_parse_rekor_body (cases[i].json, strlen (cases[i].json), &error);

      g_assert_null (b);
      assert_error_contains (error, cases[i].code, cases[i].part);
    }
}

/* Payload parser */

static void
test_parse_payload (void)
{
  g_autofree char *text = vec_string ("simple/ecdsa-p256.payload.json");
  g_autofree char *digest = manifest_digest ();
  g_autoptr (GError) error = NULL;
  g_autoptr (MvSigstorePayload) p = mv_sigstore_parse_payload (text, strlen (text), &error);

  g_assert_no_error (error);
  g_assert_cmpstr (p->docker_manifest_digest, ==, digest);
  g_assert_cmpstr (p->docker_reference, ==, IDENTITY);
}

static void
test_parse_payload_refused (void)
{
#define DIG "sha256:669bf474a68c816a4f56e2d253e3c6c942e04d731339594251667b81622be56a"
#define IDENT "{\"docker-reference\":\"r/x:v1\"}"
#define IMAGE "{\"docker-manifest-digest\":\"" DIG "\"}"
#define TYPE "\"cosign container image signature\""
  static const struct
  {
    const char *json;
    const char *part;
  } cases[] = {
    { "[]", NULL },
    { "{}", "signature payload: critical is missing" },
    { "{\"critical\":[]}", "critical is not an object" },
    { "{\"critical\":{\"identity\":" IDENT ",\"image\":" IMAGE "},\"optional\":null}",
      "critical.type is missing" },
    { "{\"critical\":{\"identity\":" IDENT ",\"image\":" IMAGE ",\"type\":" TYPE "},"
      "\"optional\":\"x\"}",
      "optional is neither an object nor null" },
    { "{\"critical\":{\"identity\":" IDENT ",\"type\":" TYPE "}}", "critical.image is missing" },
    { "{\"critical\":{\"identity\":" IDENT ",\"image\":{\"docker-manifest-digest\":\"SHA256:AB\"},"
      "\"type\":" TYPE "}}",
      "critical.image.docker-manifest-digest: " },
    { "{\"critical\":{\"identity\":{\"docker-reference\":1},\"image\":" IMAGE ",\"type\":" TYPE
      "}}",
      "critical.identity.docker-reference is not a string" },
    { "{\"critical\":{\"identity\":{\"docker-reference\":\"r\",\"x\":1},\"image\":" IMAGE
      ",\"type\":" TYPE "}}",
      "unknown field critical.identity.x" },
    { "{\"critical\":{\"identity\":" IDENT ",\"image\":{\"docker-manifest-digest\":\"" DIG
      "\",\"x\":1},\"type\":" TYPE "}}",
      "unknown field critical.image.x" },
    { "{\"critical\":{\"identity\":" IDENT ",\"image\":" IMAGE ",\"type\":" TYPE "}} x", NULL },
    { "{\"critical\":{\"identity\":" IDENT ",\"image\":" IMAGE ",\"type\":" TYPE ",\"type\":" TYPE
      "}}",
      "duplicate member name" },
  };
#undef DIG
#undef IDENT
#undef IMAGE
#undef TYPE

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (MvSigstorePayload) p
          = mv_sigstore_parse_payload (cases[i].json, strlen (cases[i].json), &error);

      g_assert_null (p);
      assert_error_contains (error, MV_ERROR_SIGNATURE, cases[i].part);
    }
}

/* Bundles */

static gboolean
verify_bundle (const char *name, GPtrArray *keys, GPtrArray *rekor, const char *digest,
               MvSignatureFacts **out_facts, GError **error)
{
  g_autofree char *file = g_strdup_printf ("bundle/%s.bundle.json", name);
  g_autoptr (GBytes) bundle = vec_bytes (file);
  g_autoptr (GPtrArray) no_rekor = g_ptr_array_new ();

  if (rekor == NULL)
    rekor = no_rekor;
  return mv_sigstore_verify_bundle (bundle, KEYS (keys), KEYS (rekor), digest, out_facts, error);
}

static void
test_bundle_each_key (gconstpointer data)
{
  const char *name = data;
  g_autoptr (GPtrArray) keys = load_keys (name, NULL);
  g_autofree char *digest = manifest_digest ();
  g_autoptr (MvSignatureFacts) facts = NULL;
  g_autoptr (GError) error = NULL;

  g_assert_true (verify_bundle (name, keys, NULL, digest, &facts, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (facts->format, ==, "bundle");
  g_assert_cmpstr (facts->manifest_digest, ==, digest);
  g_assert_null (facts->docker_reference);
  g_assert_cmpstr (facts->key_fingerprint, ==,
                   mv_public_key_fingerprint (g_ptr_array_index (keys, 0)));
  g_assert_null (facts->rekor_key_fingerprint);
  g_assert_cmpint (facts->integrated_time, ==, -1);
}

static void
test_bundle_wrong_key (void)
{
  g_autofree char *digest = manifest_digest ();

  for (guint i = 0; i < G_N_ELEMENTS (good_keys); i++)
    for (guint j = 0; j < G_N_ELEMENTS (good_keys); j++)
      {
        g_autoptr (GPtrArray) keys = NULL;
        g_autoptr (MvSignatureFacts) facts = NULL;
        g_autoptr (GError) error = NULL;

        if (i == j)
          continue;
        keys = load_keys (good_keys[j], NULL);
        g_assert_false (verify_bundle (good_keys[i], keys, NULL, digest, &facts, &error));
        assert_error_contains (error, MV_ERROR_SIGNATURE,
                               "bundle: DSSE signature does not verify with key SHA256:");
      }
}

static void
test_bundle_refused (void)
{
  static const struct
  {
    const char *name;
    int code;
    const char *part;
  } cases[] = {
    { "other-digest", MV_ERROR_SIGNATURE,
      "bundle: no subject of the statement has digest sha256:" },
    { "other-payload-type", MV_ERROR_SIGNATURE,
      "bundle: DSSE payloadType application/json is not application/vnd.in-toto+json" },
    { "tampered", MV_ERROR_SIGNATURE, "bundle: DSSE signature does not verify" },
    { "two-signatures", MV_ERROR_SIGNATURE,
      "bundle: the DSSE envelope has 2 signatures; a bundle's has one" },
    { "other-predicate", MV_ERROR_SIGNATURE,
      "bundle: predicateType https://slsa.dev/provenance/v1 is not a cosign signature" },
    { "keyless", MV_ERROR_UNSUPPORTED,
      "bundle: keyless signing (an X.509 certificate) is not supported" },
    { "proto-name", MV_ERROR_SIGNATURE,
      "bundle: dsseEnvelope.payload_type is spelled as a proto field name" },
    { "two-names", MV_ERROR_SIGNATURE, "under more than one name" },
    { "dup-keys", MV_ERROR_SIGNATURE, "duplicate member name" },
    { "ed25519-message", MV_ERROR_SIGNATURE,
      "an Ed25519 signature cannot be checked from a digest" },
  };
  g_autofree char *digest = manifest_digest ();
  g_autoptr (GPtrArray) keys = load_keys ("ecdsa-p256", "ed25519", NULL);

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (MvSignatureFacts) facts = NULL;
      g_autoptr (GError) error = NULL;

      g_assert_false (verify_bundle (cases[i].name, keys, NULL, digest, &facts, &error));
      g_assert_null (facts);
      assert_error_contains (error, cases[i].code, cases[i].part);
    }
}

static void
test_bundle_named_subject (void)
{
  g_autofree char *digest = manifest_digest ();
  g_autoptr (GPtrArray) keys = load_keys ("ecdsa-p256", NULL);
  g_autoptr (MvSignatureFacts) facts = NULL;
  g_autoptr (GError) error = NULL;

  g_assert_true (verify_bundle ("named-subject", keys, NULL, digest, &facts, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (facts->docker_reference, ==, IDENTITY);
}

static void
test_bundle_message (void)
{
  static const char *const names[] = { "ecdsa-p256", "rsa-2048" };
  g_autofree char *digest = manifest_digest ();
  g_autofree char *other = other_digest ();

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autoptr (GPtrArray) keys = load_keys (names[i], NULL);
      g_autofree char *name = g_strdup_printf ("%s-message", names[i]);
      g_autofree char *want
          = g_strdup_printf ("bundle: the message signature is of %s not %s", digest, other);
      g_autoptr (MvSignatureFacts) facts = NULL;
      g_autoptr (GError) error = NULL;

      g_assert_true (verify_bundle (name, keys, NULL, digest, &facts, &error));
      g_assert_no_error (error);
      g_assert_cmpstr (facts->format, ==, "bundle");
      g_assert_null (facts->docker_reference);
      g_clear_pointer (&facts, mv_signature_facts_free);
      g_assert_false (verify_bundle (name, keys, NULL, other, &facts, &error));
      assert_error_contains (error, MV_ERROR_SIGNATURE, want);
    }
  {
    g_autoptr (GPtrArray) keys = load_keys ("ecdsa-p256", NULL);
    g_autoptr (MvSignatureFacts) facts = NULL;
    g_autoptr (GError) error = NULL;

    g_assert_false (verify_bundle ("rsa-2048-message", keys, NULL, digest, &facts, &error));
    assert_error_contains (error, MV_ERROR_SIGNATURE, "message signature does not verify with key");
  }
}

static void
test_bundle_tlog (void)
{
  g_autofree char *digest = manifest_digest ();
  g_autoptr (GPtrArray) keys = load_keys ("ecdsa-p256", NULL);
  g_autoptr (GPtrArray) rekor = load_keys ("rekor", NULL);
  g_autoptr (GPtrArray) other_rekor = load_keys ("rekor-other", NULL);
  g_autoptr (MvSignatureFacts) facts = NULL;
  g_autoptr (GError) error = NULL;

  g_assert_true (verify_bundle ("ecdsa-p256-tlog", keys, rekor, digest, &facts, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (facts->rekor_key_fingerprint, ==,
                   mv_public_key_fingerprint (g_ptr_array_index (rekor, 0)));
  g_assert_cmpint (facts->integrated_time, ==, INTEGRATED_TIME);
  g_clear_pointer (&facts, mv_signature_facts_free);

  /* Without Rekor keys the entries are not looked at. */
  g_assert_true (verify_bundle ("ecdsa-p256-tlog", keys, NULL, digest, &facts, &error));
  g_assert_no_error (error);
  g_assert_null (facts->rekor_key_fingerprint);
  g_clear_pointer (&facts, mv_signature_facts_free);

  g_assert_false (verify_bundle ("ecdsa-p256-tlog", keys, other_rekor, digest, &facts, &error));
  assert_error_contains (error, MV_ERROR_SIGNATURE,
                         "bundle: tlog entry 0: logID 03f3ea8be7806cae3525f6a47b2c63e36523deca0936"
                         "fff1fbfb1bbecc58b78f is none of the policy's Rekor keys");
  g_clear_error (&error);
  g_assert_false (verify_bundle ("ecdsa-p256", keys, rekor, digest, &facts, &error));
  assert_error_contains (error, MV_ERROR_SIGNATURE,
                         "bundle: no tlog entry, and the policy needs one from its Rekor keys");
  g_assert_null (facts);
}

/* Edits of a good bundle's JSON, one at a time. */
static void
test_bundle_edited (void)
{
  g_autofree char *digest = manifest_digest ();
  g_autofree char *good = vec_string ("bundle/ecdsa-p256.bundle.json");
  g_autofree char *tlog = vec_string ("bundle/ecdsa-p256-tlog.bundle.json");
  g_autoptr (GPtrArray) keys = load_keys ("ecdsa-p256", NULL);
  g_autoptr (GPtrArray) rekor = load_keys ("rekor", NULL);
  static const struct
  {
    gboolean tlog;
    const char *from;
    const char *to;
    int code;
    const char *part;
  } cases[] = {
    { FALSE, "bundle.v0.3+json", "bundle.v0.4+json", MV_ERROR_UNSUPPORTED,
      "bundle: media type application/vnd.dev.sigstore.bundle.v0.4+json is not supported" },
    { FALSE, "\"dsseEnvelope\"", "\"dsse\"", MV_ERROR_SIGNATURE, "bundle: unknown field dsse" },
    { FALSE, "\"publicKey\"", "\"key\"", MV_ERROR_SIGNATURE,
      "bundle: unknown field verificationMaterial.key" },
    { FALSE, "\"publicKey\"", "\"timestampVerificationData\"", MV_ERROR_SIGNATURE,
      "bundle: verificationMaterial.publicKey is missing" },
    { FALSE, "\"verificationMaterial\"", "\"verification_material\"", MV_ERROR_SIGNATURE,
      "verification_material is spelled as a proto field name" },
    { FALSE, "\"sig\":\"", "\"sig\":\" ", MV_ERROR_SIGNATURE,
      "dsseEnvelope.signatures[0].sig is not standard padded base64" },
    { FALSE, "\"payload\":\"", "\"payload\":\"=", MV_ERROR_SIGNATURE,
      "dsseEnvelope.payload is not standard padded base64" },
    { FALSE, "\"signatures\":[", "\"signatures\":[1,", MV_ERROR_SIGNATURE, "has 2 signatures" },
    { FALSE, "\"mediaType\"", "\"mediaType\":1,\"mediaType\"", MV_ERROR_SIGNATURE,
      "duplicate member name" },
    { TRUE, "\"kind\":\"dsse\"", "\"kind\":\"intoto\"", MV_ERROR_UNSUPPORTED,
      "bundle: tlog entry 0 is of kind intoto 0.0.1; only dsse 0.0.1 entries" },
    { TRUE, "\"logIndex\"", "\"log_index\"", MV_ERROR_SIGNATURE,
      "tlogEntries[0].log_index is spelled as a proto field name" },
    { TRUE, "\"integratedTime\":\"1700000000\"", "\"integratedTime\":\"1700000001\"",
      MV_ERROR_SIGNATURE, "bundle: tlog entry 0: the SET does not verify with Rekor key" },
    { TRUE, "\"integratedTime\":\"1700000000\"", "\"integratedTime\":\"01700000000\"",
      MV_ERROR_SIGNATURE, "integratedTime is not a decimal integer from 0 to 2^53" },
    { TRUE, "\"inclusionPromise\"", "\"promise\"", MV_ERROR_SIGNATURE,
      "has no signed entry timestamp (inclusion promise), and the policy needs one" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const char *src = cases[i].tlog ? tlog : good;
      const char *at = strstr (src, cases[i].from);
      g_autofree char *edited = NULL;
      g_autoptr (GBytes) bundle = NULL;
      g_autoptr (MvSignatureFacts) facts = NULL;
      g_autoptr (GError) error = NULL;

      g_assert_nonnull (at);
      edited = g_strdup_printf ("%.*s%s%s", (int)(at - src), src, cases[i].to,
                                at + strlen (cases[i].from));
      bundle = g_bytes_new (edited, strlen (edited));
      g_assert_false (
          mv_sigstore_verify_bundle (bundle, KEYS (keys), KEYS (rekor), digest, &facts, &error));
      assert_error_contains (error, cases[i].code, cases[i].part);
    }
}

static void
test_bundle_limits (void)
{
  g_autofree char *digest = manifest_digest ();
  g_autoptr (GPtrArray) keys = load_keys ("ecdsa-p256", NULL);
  g_autoptr (GPtrArray) no_rekor = g_ptr_array_new ();
  gsize n = MV_SIGSTORE_BUNDLE_MAX + 1;
  char *big = g_malloc (n);
  g_autoptr (GBytes) bundle = NULL;
  g_autoptr (MvSignatureFacts) facts = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GString) many
      = g_string_new ("{\"mediaType\":\"application/vnd.dev.sigstore.bundle.v0.3+json\","
                      "\"verificationMaterial\":{\"publicKey\":{},\"tlogEntries\":[");

  memset (big, ' ', n);
  big[0] = '{';
  big[n - 1] = '}';
  bundle = g_bytes_new_take (big, n);
  g_assert_false (
      mv_sigstore_verify_bundle (bundle, KEYS (keys), KEYS (no_rekor), digest, &facts, &error));
  assert_error_contains (error, MV_ERROR_LIMIT_EXCEEDED, NULL);
  g_clear_error (&error);

  for (guint i = 0; i < MV_SIGSTORE_TLOG_ENTRIES_MAX + 1; i++)
    g_string_append (many, i > 0 ? ",{}" : "{}");
  g_string_append (many, "]},\"messageSignature\":{}}");
  {
    g_autoptr (MvSigstoreBundle) b = mv_sigstore_parse_bundle (many->str, many->len, &error);

    g_assert_null (b);
    assert_error_contains (error, MV_ERROR_LIMIT_EXCEEDED,
                           "33 tlog entries, above the limit of 32");
  }
}

static void
test_parse_bundle_content (void)
{
#define HEAD                                                                                       \
  "{\"mediaType\":\"application/vnd.dev.sigstore.bundle+json;version=0.2\","                       \
  "\"verificationMaterial\":{\"publicKey\":{}}"
#define ENV                                                                                        \
  "\"dsseEnvelope\":{\"payload\":\"e30=\",\"payloadType\":\"t\",\"signatures\":[{\"sig\":"         \
  "\"AAAA\"}]}"
#define MSG                                                                                        \
  "\"messageSignature\":{\"messageDigest\":{\"algorithm\":\"SHA2_256\",\"digest\":"                \
  "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\"},\"signature\":\"AAAA\"}"
  static const struct
  {
    const char *json;
    int code;
    const char *part;
  } cases[] = {
    { HEAD "}", MV_ERROR_UNSUPPORTED,
      "bundle: unsupported bundle content (neither a DSSE envelope nor a message signature)" },
    { HEAD "," ENV "," MSG "}", MV_ERROR_UNSUPPORTED,
      "unsupported bundle content (both a DSSE envelope and a message signature)" },
    { HEAD ",\"dsseEnvelope\":[]}", MV_ERROR_SIGNATURE, "bundle: dsseEnvelope is not an object" },
    { HEAD ",\"dsseEnvelope\":{\"payload\":\"e30=\",\"payloadType\":\"t\",\"signatures\":[{\"sig\":"
           "\"\"}]}}",
      MV_ERROR_SIGNATURE, "bundle: dsseEnvelope.signatures[0].sig is empty" },
    { HEAD ",\"dsseEnvelope\":{\"payload\":\"e30=\",\"payloadType\":\"t\",\"signatures\":[]}}",
      MV_ERROR_SIGNATURE, "the DSSE envelope has 0 signatures" },
    { HEAD ",\"messageSignature\":{\"messageDigest\":{\"algorithm\":\"SHA2_384\",\"digest\":"
           "\"AAAA\"},\"signature\":\"AAAA\"}}",
      MV_ERROR_UNSUPPORTED, "messageSignature.messageDigest.algorithm is not SHA2_256" },
    { HEAD ",\"messageSignature\":{\"messageDigest\":{\"algorithm\":\"SHA2_256\",\"digest\":"
           "\"AAAA\"},\"signature\":\"AAAA\"}}",
      MV_ERROR_SIGNATURE, "messageSignature.messageDigest.digest is not a SHA-256 (32 bytes)" },
    { "{\"mediaType\":\"application/vnd.dev.sigstore.bundle.v0.3+json\"," ENV "}",
      MV_ERROR_SIGNATURE, "bundle: verificationMaterial is missing" },
  };
  static const char ok[] = HEAD "," MSG "}";
#undef HEAD
#undef ENV
#undef MSG

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (MvSigstoreBundle) b
          = mv_sigstore_parse_bundle (cases[i].json, strlen (cases[i].json), &error);

      g_assert_null (b);
      assert_error_contains (error, cases[i].code, cases[i].part);
    }
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (MvSigstoreBundle) b = mv_sigstore_parse_bundle (ok, strlen (ok), &error);

    g_assert_no_error (error);
    g_assert_cmpint (b->content, ==, MV_SIGSTORE_BUNDLE_MESSAGE_SIGNATURE);
  }
}

static void
test_parse_bundle (void)
{
  g_autofree char *text = vec_string ("bundle/ecdsa-p256-tlog.bundle.json");
  g_autoptr (GBytes) st = vec_bytes ("bundle/statement.json");
  g_autoptr (GError) error = NULL;
  g_autoptr (MvSigstoreBundle) b = mv_sigstore_parse_bundle (text, strlen (text), &error);
  g_autoptr (MvRekorEntry) e = NULL;
  g_autoptr (MvPublicKey) rekor = load_key ("rekor");
  g_autoptr (GBytes) body = vec_bytes ("rekor/dsse.body.json");

  g_assert_no_error (error);
  g_assert_cmpstr (b->media_type, ==, "application/vnd.dev.sigstore.bundle.v0.3+json");
  g_assert_cmpint (b->content, ==, MV_SIGSTORE_BUNDLE_DSSE);
  g_assert_cmpstr (b->payload_type, ==, MV_SIGSTORE_INTOTO_PAYLOAD_TYPE);
  g_assert_true (g_bytes_equal (b->payload, st));
  g_assert_nonnull (b->signature);
  g_assert_null (b->message_digest);
  g_assert_cmpuint (json_array_get_length (b->tlog_entries), ==, 1);

  e = mv_sigstore_parse_tlog_entry (json_array_get_element (b->tlog_entries, 0), 0, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (e->kind, ==, "dsse");
  g_assert_cmpstr (e->version, ==, "0.0.1");
  g_assert_cmpint (e->log_index, ==, 4242);
  g_assert_cmpint (e->integrated_time, ==, INTEGRATED_TIME);
  g_assert_cmpstr (e->log_id, ==, mv_public_key_fingerprint (rekor) + strlen ("SHA256:"));
  g_assert_true (g_bytes_equal (e->body, body));
  g_assert_nonnull (e->signed_entry_timestamp);
}

static void
test_parse_bundle_message (void)
{
  g_autofree char *text = vec_string ("bundle/ecdsa-p256-message.bundle.json");
  g_autoptr (GBytes) manifest = vec_bytes ("manifest.json");
  g_autoptr (GError) error = NULL;
  g_autoptr (MvSigstoreBundle) b = mv_sigstore_parse_bundle (text, strlen (text), &error);
  g_autofree char *digest = manifest_digest ();
  g_autofree char *hex = NULL;

  g_assert_no_error (error);
  g_assert_cmpint (b->content, ==, MV_SIGSTORE_BUNDLE_MESSAGE_SIGNATURE);
  g_assert_null (b->payload);
  g_assert_null (b->tlog_entries);
  g_assert_cmpuint (g_bytes_get_size (b->message_digest), ==, 32);
  hex = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, manifest);
  g_assert_cmpstr (hex, ==, digest + strlen ("sha256:"));
}

/* What cosign itself wrote (make-vectors.py --cosign): protojson with its random spacing, a
 * v0.1 statement naming the blob, the payload of `cosign generate`. */
static void
test_cosign_written (void)
{
  g_autofree char *digest = manifest_digest ();
  g_autofree char *payload = vec_string ("cosign/generate.payload.json");
  g_autoptr (GPtrArray) keys = load_keys ("ecdsa-p256", NULL);
  g_autoptr (GPtrArray) no_rekor = g_ptr_array_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (MvSigstorePayload) p = mv_sigstore_parse_payload (payload, strlen (payload), &error);
  static const char *const names[] = { "cosign/message.bundle.json", "cosign/dsse.bundle.json" };

  g_assert_no_error (error);
  g_assert_cmpstr (p->docker_manifest_digest, ==, digest);
  g_assert_cmpstr (p->docker_reference, ==, "registry.example.com/models/tiny");
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autoptr (GBytes) bundle = vec_bytes (names[i]);
      g_autoptr (MvSignatureFacts) facts = NULL;

      g_assert_true (
          mv_sigstore_verify_bundle (bundle, KEYS (keys), KEYS (no_rekor), digest, &facts, &error));
      g_assert_no_error (error);
      g_assert_cmpstr (facts->key_fingerprint, ==,
                       mv_public_key_fingerprint (g_ptr_array_index (keys, 0)));
      g_assert_cmpstr (facts->docker_reference, ==, i == 0 ? NULL : "manifest.json");
    }
}

/* Statements */

static void
test_parse_statement (void)
{
  g_autofree char *text = vec_string ("bundle/statement.json");
  g_autofree char *digest = manifest_digest ();
  g_autoptr (GError) error = NULL;
  g_autoptr (MvInTotoStatement) st = mv_sigstore_parse_statement (text, strlen (text), &error);
  MvInTotoSubject *s;
  static const char v01[]
      = "{\"_type\":\"https://in-toto.io/Statement/v0.1\",\"subject\":[{\"name\":\"\","
        "\"digest\":{\"sha256\":\"ab\",\"sha512\":\"cd\"}}],\"predicateType\":\"p\"}";
  g_autoptr (MvInTotoStatement) old = NULL;

  g_assert_no_error (error);
  g_assert_cmpstr (st->type, ==, "https://in-toto.io/Statement/v1");
  g_assert_cmpstr (st->predicate_type, ==, MV_SIGSTORE_COSIGN_PREDICATE);
  g_assert_cmpuint (st->subjects->len, ==, 1);
  s = st->subjects->pdata[0];
  g_assert_null (s->name);
  g_assert_cmpstr (g_hash_table_lookup (s->digest, "sha256"), ==, digest + strlen ("sha256:"));

  old = mv_sigstore_parse_statement (v01, strlen (v01), &error);
  g_assert_no_error (error);
  s = old->subjects->pdata[0];
  g_assert_null (s->name); /* empty is none */
  g_assert_cmpuint (g_hash_table_size (s->digest), ==, 2);
}

static void
test_parse_statement_refused (void)
{
#define T "\"_type\":\"https://in-toto.io/Statement/v1\",\"predicateType\":\"p\""
  static const struct
  {
    const char *json;
    int code;
    const char *part;
  } cases[] = {
    { "{\"_type\":\"https://in-toto.io/Statement/v2\",\"predicateType\":\"p\",\"subject\":[]}",
      MV_ERROR_SIGNATURE,
      "in-toto statement: _type https://in-toto.io/Statement/v2 is not "
      "https://in-toto.io/Statement/v1" },
    { "{" T "}", MV_ERROR_SIGNATURE, "in-toto statement: subject is missing" },
    { "{" T ",\"subject\":{}}", MV_ERROR_SIGNATURE, "subject is not an array" },
    { "{" T ",\"subject\":[]}", MV_ERROR_SIGNATURE, "in-toto statement: 0 subjects (1 to 1024)" },
    { "{" T ",\"subject\":[1]}", MV_ERROR_SIGNATURE, "subject[0] is not an object" },
    { "{" T ",\"subject\":[{}]}", MV_ERROR_SIGNATURE, "subject[0].digest is missing" },
    { "{" T ",\"subject\":[{\"name\":1,\"digest\":{}}]}", MV_ERROR_SIGNATURE,
      "subject[0].name is not a string" },
    { "{" T ",\"subject\":[{\"digest\":{\"sha256\":1}}]}", MV_ERROR_SIGNATURE,
      "subject[0].digest.sha256 is not a string" },
    { "{" T ",\"subject\":[{\"digest\":{\"sha256\":\"a\",\"sha256\":\"b\"}}]}", MV_ERROR_SIGNATURE,
      "duplicate member name" },
    { "{\"_type\":\"https://in-toto.io/Statement/v1\",\"subject\":[{\"digest\":{}}]}",
      MV_ERROR_SIGNATURE, "predicateType is missing" },
  };
#undef T

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (MvInTotoStatement) st
          = mv_sigstore_parse_statement (cases[i].json, strlen (cases[i].json), &error);

      g_assert_null (st);
      assert_error_contains (error, cases[i].code, cases[i].part);
    }

  /* Over the limits: 1025 subjects, 33 digests of one subject. */
  {
    g_autoptr (GString) s = g_string_new ("{\"_type\":\"https://in-toto.io/Statement/v1\","
                                          "\"predicateType\":\"p\",\"subject\":[");
    g_autoptr (GError) error = NULL;
    g_autoptr (MvInTotoStatement) st = NULL;

    for (guint i = 0; i < MV_SIGSTORE_SUBJECTS_MAX + 1; i++)
      g_string_append (s, i > 0 ? ",{\"digest\":{}}" : "{\"digest\":{}}");
    g_string_append (s, "]}");
    st = mv_sigstore_parse_statement (s->str, s->len, &error);
    g_assert_null (st);
    assert_error_contains (error, MV_ERROR_LIMIT_EXCEEDED, "1025 subjects (1 to 1024)");
  }
  {
    g_autoptr (GString) s = g_string_new ("{\"_type\":\"https://in-toto.io/Statement/v1\","
                                          "\"predicateType\":\"p\",\"subject\":[{\"digest\":{");
    g_autoptr (GError) error = NULL;
    g_autoptr (MvInTotoStatement) st = NULL;

    for (guint i = 0; i < MV_SIGSTORE_SUBJECT_DIGESTS_MAX + 1; i++)
      g_string_append_printf (s, "%s\"a%u\":\"b\"", i > 0 ? "," : "", i);
    g_string_append (s, "}}]}");
    st = mv_sigstore_parse_statement (s->str, s->len, &error);
    g_assert_null (st);
    assert_error_contains (error, MV_ERROR_LIMIT_EXCEEDED,
                           "subject[0] has 33 digests, above the limit of 32");
  }
}

/* DSSE PAE: the example of the DSSE v1 protocol document, and edge cases. */
static void
test_dsse_pae (void)
{
  static const char want[] = "DSSEv1 29 http://example.com/HelloWorld 11 hello world";
  g_autoptr (GBytes) payload = g_bytes_new_static ("hello world", 11);
  g_autoptr (GBytes) pae = mv_sigstore_dsse_pae ("http://example.com/HelloWorld", payload);
  g_autoptr (GBytes) empty = g_bytes_new_static ("", 0);
  g_autoptr (GBytes) pae_empty = mv_sigstore_dsse_pae ("", empty);
  g_autoptr (GBytes) binary = g_bytes_new_static ("a\0b", 3);
  g_autoptr (GBytes) pae_binary = mv_sigstore_dsse_pae ("t", binary);
  gsize len;
  const char *data;

  data = g_bytes_get_data (pae, &len);
  g_assert_cmpmem (data, len, want, sizeof want - 1);
  data = g_bytes_get_data (pae_empty, &len);
  g_assert_cmpmem (data, len, "DSSEv1 0  0 ", 12);
  data = g_bytes_get_data (pae_binary, &len);
  g_assert_cmpmem (data, len, "DSSEv1 1 t 3 a\0b", 16);
}

/* Strict base64 */

static void
test_base64_good (void)
{
  static const struct
  {
    const char *in;
    const char *out;
  } cases[] = {
    { "", "" },
    { "Zg==", "f" },
    { "Zm8=", "fo" },
    { "Zm9v", "foo" },
    { "Zm9vYg==", "foob" },
    { "Zm9vYmE=", "fooba" },
    { "Zm9vYmFy", "foobar" },
    { "+/+/", "\xfb\xff\xbf" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GBytes) b = mv_base64_decode_strict (cases[i].in, strlen (cases[i].in));
      gsize len;
      const char *data;

      g_assert_nonnull (b);
      data = g_bytes_get_data (b, &len);
      g_assert_cmpmem (data, len, cases[i].out, strlen (cases[i].out));
    }
}

static void
test_base64_refused (void)
{
  static const char *const cases[] = {
    "Zg",          /* no padding */
    "Zg=",         /* short padding */
    "Zg===",       /* long */
    "Z===",        /* three pads */
    "====",        /* only padding */
    "Zh==",        /* non-zero bits under == */
    "Zm9=",        /* non-zero bits under = */
    "Zg==Zm9v",    /* padding in the middle */
    "Zm=v",        /* misplaced */
    "=Zm9",        /* leading */
    " Zm9v",       /* white space */
    "Zm9v ",       /* */
    "Zm9v\n",      /* */
    "Zm\n9v",      /* */
    "Zm9-",        /* base64url */
    "Zm9_",        /* */
    "Zm9!",        /* not in either alphabet */
    "Zm9\xc3\xa9", /* not ASCII */
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GBytes) b = mv_base64_decode_strict (cases[i], strlen (cases[i]));

      if (b != NULL)
        g_error ("\"%s\" decoded", cases[i]);
    }
  /* A NUL inside: the length counts, not the terminator. */
  g_assert_null (mv_base64_decode_strict ("Zm9v\0Zm9", 8));
  g_assert_null (mv_base64_decode_strict ("Zm\0v", 4));
  g_assert_null (mv_base64_decode_strict (NULL, 0));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (good_keys); i++)
    {
      g_autofree char *key = g_strdup_printf ("/sigstore/key/load/%s", good_keys[i]);
      g_autofree char *simple = g_strdup_printf ("/sigstore/simple/verify/%s", good_keys[i]);
      g_autofree char *bundle = g_strdup_printf ("/sigstore/bundle/verify/%s", good_keys[i]);

      g_test_add_data_func (key, good_keys[i], test_key_load);
      g_test_add_data_func (simple, good_keys[i], test_simple_each_key);
      g_test_add_data_func (bundle, good_keys[i], test_bundle_each_key);
    }
  g_test_add_data_func ("/sigstore/key/load/rekor", "rekor", test_key_load);
  g_test_add_func ("/sigstore/key/refused", test_key_refused);
  g_test_add_func ("/sigstore/key/pem-forms", test_key_pem_forms);
  g_test_add_func ("/sigstore/key/pem-refused", test_key_pem_refused);
  g_test_add_func ("/sigstore/simple/ec-sha256", test_simple_ec_sha256);
  g_test_add_func ("/sigstore/simple/wrong-key", test_simple_wrong_key);
  g_test_add_func ("/sigstore/simple/key-list", test_simple_key_list);
  g_test_add_func ("/sigstore/simple/no-keys", test_simple_no_keys);
  g_test_add_func ("/sigstore/simple/tampered", test_simple_tampered);
  g_test_add_func ("/sigstore/simple/other-digest", test_simple_other_digest);
  g_test_add_func ("/sigstore/simple/wrong-identity", test_simple_wrong_identity);
  g_test_add_func ("/sigstore/simple/payload-refused", test_simple_payload_refused);
  g_test_add_func ("/sigstore/simple/optional-object", test_simple_optional_object);
  g_test_add_func ("/sigstore/simple/bad-base64", test_simple_bad_base64);
  g_test_add_func ("/sigstore/simple/pad-bits", test_simple_pad_bits);
  g_test_add_func ("/sigstore/simple/oversized", test_simple_oversized);
  g_test_add_func ("/sigstore/simple/set", test_simple_set);
  g_test_add_func ("/sigstore/simple/set-refused", test_simple_set_refused);
  g_test_add_func ("/sigstore/parse/set", test_parse_set);
  g_test_add_func ("/sigstore/parse/set-refused", test_parse_set_refused);
  g_test_add_func ("/sigstore/parse/rekor-body", test_parse_rekor_body);
  g_test_add_func ("/sigstore/parse/rekor-body-refused", test_parse_rekor_body_refused);
  g_test_add_func ("/sigstore/parse/payload", test_parse_payload);
  g_test_add_func ("/sigstore/parse/payload-refused", test_parse_payload_refused);
  g_test_add_func ("/sigstore/bundle/wrong-key", test_bundle_wrong_key);
  g_test_add_func ("/sigstore/bundle/refused", test_bundle_refused);
  g_test_add_func ("/sigstore/bundle/named-subject", test_bundle_named_subject);
  g_test_add_func ("/sigstore/bundle/message", test_bundle_message);
  g_test_add_func ("/sigstore/bundle/tlog", test_bundle_tlog);
  g_test_add_func ("/sigstore/bundle/edited", test_bundle_edited);
  g_test_add_func ("/sigstore/bundle/limits", test_bundle_limits);
  g_test_add_func ("/sigstore/parse/bundle", test_parse_bundle);
  g_test_add_func ("/sigstore/parse/bundle-message", test_parse_bundle_message);
  g_test_add_func ("/sigstore/parse/bundle-content", test_parse_bundle_content);
  g_test_add_func ("/sigstore/cosign-written", test_cosign_written);
  g_test_add_func ("/sigstore/parse/statement", test_parse_statement);
  g_test_add_func ("/sigstore/parse/statement-refused", test_parse_statement_refused);
  g_test_add_func ("/sigstore/dsse-pae", test_dsse_pae);
  g_test_add_func ("/sigstore/base64/good", test_base64_good);
  g_test_add_func ("/sigstore/base64/refused", test_base64_refused);
  return g_test_run ();
}
