/* mv-sigstore: offline verification of cosign signatures (mv-sigstore-private.h).
 *
 * What is checked follows cosign v3 (pkg/cosign/verify.go: VerifyBundle, VerifySET),
 * sigstore-go (pkg/verify/tlog.go VerifyTlogEntry, pkg/tlog/entry.go VerifySET,
 * pkg/verify/signature.go) and containers/image (signature/internal/sigstore_payload.go,
 * rekor_set.go), written anew on libcrypto and the strict JSON of mv-json.
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "mv-digest-private.h"
#include "mv-error-private.h"
#include "mv-json-private.h"
#include "mv-path-private.h"
#include "mv-sigstore-private.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EVP_PKEY, EVP_PKEY_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EVP_MD_CTX, EVP_MD_CTX_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EVP_PKEY_CTX, EVP_PKEY_CTX_free)

#define SHOWN_MAX 100 /* bytes of an outside string shown in a message */
#define INT_MAX_EXACT (G_GINT64_CONSTANT (1) << 53) /* integers a canonical JSON number keeps */
#define KEYS_LISTED_MAX 4                           /* key fingerprints named in one message */

#define STATEMENT_V1 "https://in-toto.io/Statement/v1"
#define STATEMENT_V01 "https://in-toto.io/Statement/v0.1"

static const char *const bundle_media_types[] = {
  "application/vnd.dev.sigstore.bundle.v0.3+json",
  "application/vnd.dev.sigstore.bundle+json;version=0.3",
  "application/vnd.dev.sigstore.bundle+json;version=0.2",
  "application/vnd.dev.sigstore.bundle+json;version=0.1",
  NULL,
};

static char *
hex_encode (const guint8 *data, gsize len)
{
  static const char digits[] = "0123456789abcdef";
  char *out = g_malloc (2 * len + 1);

  for (gsize i = 0; i < len; i++)
    {
      out[2 * i] = digits[data[i] >> 4];
      out[2 * i + 1] = digits[data[i] & 0x0f];
    }
  out[2 * len] = '\0';
  return out;
}

static gboolean
bytes_equal (GBytes *a, GBytes *b)
{
  return a != NULL && b != NULL && g_bytes_equal (a, b);
}

/* PEM: one block, nothing around it but white space, base64 lines, no headers. */
static gboolean
pem_decode (GBytes *pem, const char *what, char **out_label, GBytes **out_der, GError **error)
{
  gsize len = 0;
  const char *data = pem != NULL ? g_bytes_get_data (pem, &len) : NULL;
  g_autofree char *text = NULL;
  g_autoptr (GString) body = g_string_new (NULL);
  g_autofree char *label = NULL;
  g_auto (GStrv) lines = NULL;
  g_autofree char *end_line = NULL;
  guint first, last, n;
  GBytes *der;

  if (data == NULL || len == 0)
    return mv_throw (error, MV_ERROR_SIGNATURE, "%s: empty", what);
  if (len > MV_SIGSTORE_PEM_MAX)
    return mv_throw (error, MV_ERROR_LIMIT_EXCEEDED,
                     "%s: %" G_GSIZE_FORMAT " bytes, above the limit of %d bytes", what, len,
                     MV_SIGSTORE_PEM_MAX);
  if (memchr (data, '\0', len) != NULL)
    return mv_throw (error, MV_ERROR_SIGNATURE, "%s: not PEM (a NUL byte)", what);
  /* CRLF or LF line ends; a lone CR is refused with the other junk (base64 decoding). */
  text = g_strndup (data, len);
  {
    char *w = text;
    for (const char *r = text; *r != '\0'; r++)
      if (!(r[0] == '\r' && r[1] == '\n'))
        *w++ = *r;
    *w = '\0';
  }
  lines = g_strsplit (text, "\n", -1);
  n = g_strv_length (lines);
  for (first = 0; first < n && g_strstrip (lines[first])[0] == '\0'; first++)
    ;
  for (last = n; last > first && g_strstrip (lines[last - 1])[0] == '\0'; last--)
    ;
  if (first == last || !g_str_has_prefix (lines[first], "-----BEGIN ")
      || !g_str_has_suffix (lines[first], "-----") || strlen (lines[first]) <= 16)
    return mv_throw (error, MV_ERROR_SIGNATURE, "%s: not PEM (no -----BEGIN line)", what);
  label = g_strndup (lines[first] + 11, strlen (lines[first]) - 16);
  end_line = g_strdup_printf ("-----END %s-----", label);
  if (last - first < 2 || strcmp (lines[last - 1], end_line) != 0)
    {
      g_autofree char *shown = mv_escape_for_display (label, SHOWN_MAX);
      return mv_throw (error, MV_ERROR_SIGNATURE, "%s: PEM %s block without its END line", what,
                       shown);
    }
  for (guint i = first + 1; i + 1 < last; i++)
    {
      /* No headers (RFC 1421 "Proc-Type: ..."), no blank line: base64 lines only. */
      if (strchr (lines[i], ':') != NULL || lines[i][0] == '\0')
        return mv_throw (error, MV_ERROR_SIGNATURE,
                         "%s: PEM headers or blank lines are not accepted", what);
      g_string_append (body, lines[i]);
    }
  der = mv_base64_decode_strict (body->str, body->len);
  if (der == NULL || g_bytes_get_size (der) == 0)
    {
      g_clear_pointer (&der, g_bytes_unref);
      return mv_throw (error, MV_ERROR_SIGNATURE, "%s: bad base64 in the PEM block", what);
    }
  *out_label = g_steal_pointer (&label);
  *out_der = der;
  return TRUE;
}

/* Keys */

typedef enum
{
  KEY_EC_P256,
  KEY_EC_P384,
  KEY_EC_P521,
  KEY_ED25519,
  KEY_RSA,
} KeyKind;

struct MvPublicKey
{
  EVP_PKEY *pkey;
  KeyKind kind;
  GBytes *der;
  char *fingerprint;
};

void
mv_public_key_free (MvPublicKey *key)
{
  if (key == NULL)
    return;
  EVP_PKEY_free (key->pkey);
  g_bytes_unref (key->der);
  g_free (key->fingerprint);
  g_free (key);
}

const char *
mv_public_key_fingerprint (MvPublicKey *key)
{
  return key->fingerprint;
}

/* A DER SubjectPublicKeyInfo, whole and canonical. */
static EVP_PKEY *
pkey_from_der (GBytes *der)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (der, &len);
  const unsigned char *p = data;
  g_autoptr (EVP_PKEY) pkey = NULL;
  unsigned char *again = NULL;
  int again_len;
  gboolean same;

  if (len > G_MAXINT)
    return NULL;
  pkey = d2i_PUBKEY (NULL, &p, (long)len);
  if (pkey == NULL || (gsize)(p - data) != len)
    {
      ERR_clear_error ();
      return NULL;
    }
  again_len = i2d_PUBKEY (pkey, &again);
  same = again_len >= 0 && (gsize)again_len == len && memcmp (again, data, len) == 0;
  OPENSSL_free (again);
  ERR_clear_error ();
  return same ? g_steal_pointer (&pkey) : NULL;
}

static gboolean
classify_key (EVP_PKEY *pkey, const char *what, KeyKind *out_kind, GError **error)
{
  char name[64] = "";
  size_t name_len = 0;
  int bits = EVP_PKEY_get_bits (pkey);

  switch (EVP_PKEY_get_base_id (pkey))
    {
      case EVP_PKEY_EC:
        /* Named curves only: explicit parameters are how "curve swap" attacks start. */
        if (EVP_PKEY_get_utf8_string_param (pkey, OSSL_PKEY_PARAM_EC_ENCODING, name, sizeof name,
                                            &name_len)
                != 1
            || strcmp (name, OSSL_PKEY_EC_ENCODING_GROUP) != 0
            || EVP_PKEY_get_group_name (pkey, name, sizeof name, &name_len) != 1)
          {
            ERR_clear_error ();
            return mv_throw (error, MV_ERROR_UNSUPPORTED,
                             "%s: an ECDSA key with explicit curve parameters is not accepted",
                             what);
          }
        if (strcmp (name, "prime256v1") == 0)
          *out_kind = KEY_EC_P256;
        else if (strcmp (name, "secp384r1") == 0)
          *out_kind = KEY_EC_P384;
        else if (strcmp (name, "secp521r1") == 0)
          *out_kind = KEY_EC_P521;
        else
          return mv_throw (error, MV_ERROR_UNSUPPORTED,
                           "%s: ECDSA curve %s is not accepted (P-256, P-384, P-521)", what, name);
        return TRUE;
      case EVP_PKEY_ED25519:
        *out_kind = KEY_ED25519;
        return TRUE;
      case EVP_PKEY_RSA:
        if (bits < 2048 || bits > 8192)
          return mv_throw (error, MV_ERROR_UNSUPPORTED,
                           "%s: an RSA key of %d bits is not accepted (2048 to 8192)", what, bits);
        *out_kind = KEY_RSA;
        return TRUE;
      default:
        {
          const char *type = OBJ_nid2sn (EVP_PKEY_get_base_id (pkey));
          return mv_throw (error, MV_ERROR_UNSUPPORTED,
                           "%s: key type %s is not accepted (ECDSA, Ed25519, RSA)", what,
                           type != NULL ? type : "unknown");
        }
    }
}

MvPublicKey *
mv_public_key_new (GBytes *pem, const char *what, GError **error)
{
  g_autofree char *label = NULL;
  g_autoptr (GBytes) der = NULL;
  g_autoptr (EVP_PKEY) pkey = NULL;
  g_autoptr (EVP_PKEY_CTX) check = NULL;
  g_autofree char *digest = NULL;
  MvPublicKey *key;
  KeyKind kind = KEY_EC_P256;

  if (!pem_decode (pem, what, &label, &der, error))
    return NULL;
  if (strcmp (label, "PUBLIC KEY") != 0)
    {
      g_autofree char *shown = mv_escape_for_display (label, SHOWN_MAX);
      mv_throw (error, MV_ERROR_SIGNATURE, "%s: a PEM %s block, not a PUBLIC KEY", what, shown);
      return NULL;
    }
  pkey = pkey_from_der (der);
  if (pkey == NULL)
    {
      mv_throw (error, MV_ERROR_SIGNATURE,
                "%s: not a DER SubjectPublicKeyInfo (or not in canonical DER)", what);
      return NULL;
    }
  if (!classify_key (pkey, what, &kind, error))
    return NULL;
  if (kind != KEY_ED25519)
    {
      check = EVP_PKEY_CTX_new_from_pkey (NULL, pkey, NULL);
      if (check == NULL || EVP_PKEY_public_check (check) != 1)
        {
          ERR_clear_error ();
          mv_throw (error, MV_ERROR_SIGNATURE, "%s: the public key fails its validity check", what);
          return NULL;
        }
    }
  digest = mv_digest_bytes (g_bytes_get_data (der, NULL), g_bytes_get_size (der));
  key = g_new0 (MvPublicKey, 1);
  key->pkey = g_steal_pointer (&pkey);
  key->kind = kind;
  key->der = g_steal_pointer (&der);
  key->fingerprint = g_strconcat ("SHA256:", digest + strlen ("sha256:"), NULL);
  return key;
}

/* The hex part of a key's fingerprint: a Rekor logID. */
static const char *
key_hex (MvPublicKey *key)
{
  return key->fingerprint + strlen ("SHA256:");
}

/* Signatures */

static gboolean
verify_with_md (MvPublicKey *key, const EVP_MD *md, const void *msg, gsize len, GBytes *sig)
{
  g_autoptr (EVP_MD_CTX) ctx = EVP_MD_CTX_new ();
  EVP_PKEY_CTX *pctx = NULL;
  gsize sig_len;
  const guint8 *sig_data = g_bytes_get_data (sig, &sig_len);
  int rc = 0;

  if (ctx != NULL && sig_len > 0 && EVP_DigestVerifyInit (ctx, &pctx, md, NULL, key->pkey) == 1
      && (key->kind != KEY_RSA || EVP_PKEY_CTX_set_rsa_padding (pctx, RSA_PKCS1_PADDING) == 1))
    rc = EVP_DigestVerify (ctx, sig_data, sig_len, len > 0 ? msg : (const void *)"", len);
  ERR_clear_error ();
  return rc == 1;
}

/* @sig over @msg with @key, in each of the hashes the module comment lists for its kind. */
static gboolean
key_verify (MvPublicKey *key, const void *msg, gsize len, GBytes *sig)
{
  switch (key->kind)
    {
      case KEY_EC_P256:
        return verify_with_md (key, EVP_sha256 (), msg, len, sig);
      case KEY_EC_P384:
        return verify_with_md (key, EVP_sha384 (), msg, len, sig)
               || verify_with_md (key, EVP_sha256 (), msg, len, sig);
      case KEY_EC_P521:
        return verify_with_md (key, EVP_sha512 (), msg, len, sig)
               || verify_with_md (key, EVP_sha256 (), msg, len, sig);
      case KEY_ED25519:
        return verify_with_md (key, NULL, msg, len, sig);
      case KEY_RSA:
        return verify_with_md (key, EVP_sha256 (), msg, len, sig);
    }
  return FALSE;
}

/* @sig over a SHA-256 @digest already computed (a bundle's message signature). */
static gboolean
key_verify_sha256_digest (MvPublicKey *key, GBytes *digest, GBytes *sig)
{
  g_autoptr (EVP_PKEY_CTX) ctx = EVP_PKEY_CTX_new_from_pkey (NULL, key->pkey, NULL);
  gsize sig_len;
  const guint8 *sig_data = g_bytes_get_data (sig, &sig_len);
  int rc = 0;

  if (key->kind == KEY_ED25519 || g_bytes_get_size (digest) != 32 || sig_len == 0)
    return FALSE;
  if (ctx != NULL && EVP_PKEY_verify_init (ctx) == 1
      && EVP_PKEY_CTX_set_signature_md (ctx, EVP_sha256 ()) == 1
      && (key->kind != KEY_RSA || EVP_PKEY_CTX_set_rsa_padding (ctx, RSA_PKCS1_PADDING) == 1))
    rc = EVP_PKEY_verify (ctx, sig_data, sig_len, g_bytes_get_data (digest, NULL), 32);
  ERR_clear_error ();
  return rc == 1;
}

/* "key SHA256:ab..." or "any of the 3 keys SHA256:..., SHA256:..., ..." */
static char *
describe_keys (MvPublicKey *const *keys, guint n_keys)
{
  GString *s = g_string_new (NULL);

  if (n_keys == 1)
    g_string_append_printf (s, "key %s", keys[0]->fingerprint);
  else
    {
      g_string_append_printf (s, "any of the %u keys ", n_keys);
      for (guint i = 0; i < n_keys && i < KEYS_LISTED_MAX; i++)
        g_string_append_printf (s, "%s%s", i > 0 ? ", " : "", keys[i]->fingerprint);
      if (n_keys > KEYS_LISTED_MAX)
        g_string_append (s, ", ...");
    }
  return g_string_free (s, FALSE);
}

static MvPublicKey *
find_verifying_key (MvPublicKey *const *keys, guint n_keys, const void *msg, gsize len, GBytes *sig)
{
  for (guint i = 0; i < n_keys; i++)
    if (key_verify (keys[i], msg, len, sig))
      return keys[i];
  return NULL;
}

/* JSON: typed members, named in messages as "<doc>: <path>.<name>". */

typedef struct
{
  const char *doc;  /* "bundle", "signature payload" */
  const char *path; /* the object's path in the document, "" at the top */
} Where;

static char *
field_name (const Where *w, const char *name)
{
  return *w->path != '\0' ? g_strconcat (w->path, ".", name, NULL) : g_strdup (name);
}

static gboolean
fail_field (const Where *w, const char *name, const char *problem, GError **error)
{
  g_autofree char *field = field_name (w, name);
  return mv_throw (error, MV_ERROR_SIGNATURE, "%s: %s %s", w->doc, field, problem);
}

/* Only these members: the documents containers/image reads with exact fields, and the
 * protobuf-JSON ones sigstore-go reads with protojson (which refuses unknown fields). */
static gboolean
exact_members (JsonObject *o, const Where *w, const char *const *allowed, GError **error)
{
  JsonObjectIter iter;
  const char *name;

  json_object_iter_init (&iter, o);
  while (json_object_iter_next (&iter, &name, NULL))
    if (!g_strv_contains (allowed, name))
      {
        g_autofree char *shown = mv_escape_for_display (name, SHOWN_MAX);
        g_autofree char *field = field_name (w, shown);
        return mv_throw (error, MV_ERROR_SIGNATURE, "%s: unknown field %s", w->doc, field);
      }
  return TRUE;
}

/* protojson reads a field under its proto name too ("log_index" for "logIndex"): a second
 * spelling of a field this module reads could mean one thing to it and another to sigstore. */
static gboolean
no_proto_names (JsonObject *o, const Where *w, const char *const *names, GError **error)
{
  for (guint i = 0; names[i] != NULL; i++)
    if (json_object_has_member (o, names[i]))
      return fail_field (w, names[i], "is spelled as a proto field name; the JSON name is used",
                         error);
  return TRUE;
}

static JsonObject *
get_object (JsonObject *o, const Where *w, const char *name, gboolean required, GError **error)
{
  JsonNode *n = json_object_get_member (o, name);

  if (n == NULL)
    {
      if (required)
        fail_field (w, name, "is missing", error);
      return NULL;
    }
  if (!JSON_NODE_HOLDS_OBJECT (n))
    {
      fail_field (w, name, "is not an object", error);
      return NULL;
    }
  return json_node_get_object (n);
}

static gboolean
get_string (JsonObject *o, const Where *w, const char *name, gboolean required, const char **out,
            GError **error)
{
  JsonNode *n = json_object_get_member (o, name);

  *out = NULL;
  if (n == NULL)
    return required ? fail_field (w, name, "is missing", error) : TRUE;
  if (!JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_STRING)
    return fail_field (w, name, "is not a string", error);
  *out = json_node_get_string (n);
  return TRUE;
}

static gboolean
get_base64 (JsonObject *o, const Where *w, const char *name, gboolean required, GBytes **out,
            GError **error)
{
  const char *s;

  *out = NULL;
  if (!get_string (o, w, name, required, &s, error))
    return FALSE;
  if (s == NULL)
    return TRUE;
  *out = mv_base64_decode_strict (s, strlen (s));
  if (*out == NULL)
    return fail_field (w, name, "is not standard padded base64", error);
  return TRUE;
}

static gboolean
parse_decimal (const char *s, gint64 *out)
{
  guint64 v = 0;

  if (s[0] == '\0' || (s[0] == '0' && s[1] != '\0'))
    return FALSE;
  for (const char *p = s; *p != '\0'; p++)
    {
      if (*p < '0' || *p > '9')
        return FALSE;
      v = v * 10 + (guint64)(*p - '0');
      if (v > (guint64)INT_MAX_EXACT)
        return FALSE;
    }
  *out = (gint64)v;
  return TRUE;
}

/* An integer from 0 to 2^53 (what a canonical JSON number holds exactly): a JSON integer, or
 * with @as_string also a decimal string (protojson writes int64 so); absent is 0 unless
 * @required (protojson leaves out zero values). */
static gboolean
get_count (JsonObject *o, const Where *w, const char *name, gboolean required, gboolean as_string,
           gint64 *out, GError **error)
{
  JsonNode *n = json_object_get_member (o, name);

  *out = 0;
  if (n == NULL)
    return required ? fail_field (w, name, "is missing", error) : TRUE;
  if (JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_INT64)
    {
      *out = json_node_get_int (n);
      if (*out < 0 || *out > INT_MAX_EXACT)
        return fail_field (w, name, "is out of range (0 to 2^53)", error);
      return TRUE;
    }
  if (as_string && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_STRING)
    {
      if (!parse_decimal (json_node_get_string (n), out))
        return fail_field (w, name, "is not a decimal integer from 0 to 2^53", error);
      return TRUE;
    }
  return fail_field (w, name, "is not an integer", error);
}

static gboolean
is_lower_hex (const char *s, gsize want_len)
{
  gsize i;

  for (i = 0; s[i] != '\0'; i++)
    if (!g_ascii_isdigit (s[i]) && !(s[i] >= 'a' && s[i] <= 'f'))
      return FALSE;
  return i == want_len;
}

static JsonNode *
parse_object (const char *data, gsize len, const char *what, gsize max_size, GError **error)
{
  const MvJsonRules rules = { .what = what,
                              .max_size = max_size,
                              .type = JSON_NODE_OBJECT,
                              .code = MV_ERROR_SIGNATURE,
                              .max_depth = MV_JSON_MAX_DEPTH };
  return mv_json_parse (data, len, &rules, error);
}

/* Simple-signing payload */

void
mv_sigstore_payload_free (MvSigstorePayload *p)
{
  if (p == NULL)
    return;
  g_free (p->docker_manifest_digest);
  g_free (p->docker_reference);
  g_free (p);
}

MvSigstorePayload *
mv_sigstore_parse_payload (const char *data, gsize len, GError **error)
{
  static const char *const top_fields[] = { "critical", "optional", NULL };
  static const char *const critical_fields[] = { "identity", "image", "type", NULL };
  static const char *const image_fields[] = { "docker-manifest-digest", NULL };
  static const char *const identity_fields[] = { "docker-reference", NULL };
  const Where top = { "signature payload", "" };
  const Where crit = { "signature payload", "critical" };
  const Where img = { "signature payload", "critical.image" };
  const Where ident = { "signature payload", "critical.identity" };
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (GError) digest_error = NULL;
  JsonObject *o, *critical, *image, *identity;
  JsonNode *optional;
  const char *type, *digest, *reference;
  MvSigstorePayload *p;

  root = parse_object (data, len, "signature payload", MV_SIGSTORE_PAYLOAD_MAX, error);
  if (root == NULL)
    return NULL;
  o = json_node_get_object (root);
  if (!exact_members (o, &top, top_fields, error))
    return NULL;
  /* cosign writes "optional": null when there are no annotations. */
  optional = json_object_get_member (o, "optional");
  if (optional != NULL && !JSON_NODE_HOLDS_NULL (optional) && !JSON_NODE_HOLDS_OBJECT (optional))
    {
      fail_field (&top, "optional", "is neither an object nor null", error);
      return NULL;
    }
  if ((critical = get_object (o, &top, "critical", TRUE, error)) == NULL
      || !exact_members (critical, &crit, critical_fields, error)
      || !get_string (critical, &crit, "type", TRUE, &type, error)
      || (image = get_object (critical, &crit, "image", TRUE, error)) == NULL
      || (identity = get_object (critical, &crit, "identity", TRUE, error)) == NULL
      || !exact_members (image, &img, image_fields, error)
      || !exact_members (identity, &ident, identity_fields, error)
      || !get_string (image, &img, "docker-manifest-digest", TRUE, &digest, error)
      || !get_string (identity, &ident, "docker-reference", TRUE, &reference, error))
    return NULL;
  if (strcmp (type, MV_SIGSTORE_SIGNATURE_TYPE) != 0)
    {
      g_autofree char *shown = mv_escape_for_display (type, SHOWN_MAX);
      mv_throw (error, MV_ERROR_SIGNATURE, "signature payload: critical.type is \"%s\", not \"%s\"",
                shown, MV_SIGSTORE_SIGNATURE_TYPE);
      return NULL;
    }
  if (!mv_digest_validate (digest, NULL, NULL, &digest_error))
    {
      mv_throw (error, MV_ERROR_SIGNATURE,
                "signature payload: critical.image.docker-manifest-digest: %s",
                digest_error->message);
      return NULL;
    }
  p = g_new0 (MvSigstorePayload, 1);
  p->docker_manifest_digest = g_strdup (digest);
  p->docker_reference = g_strdup (reference);
  return p;
}

/* Rekor entries and SETs */

void
mv_rekor_entry_free (MvRekorEntry *e)
{
  if (e == NULL)
    return;
  g_free (e->kind);
  g_free (e->version);
  g_free (e->body_b64);
  g_clear_pointer (&e->body, g_bytes_unref);
  g_free (e->log_id);
  g_clear_pointer (&e->signed_entry_timestamp, g_bytes_unref);
  g_free (e);
}

MvRekorEntry *
mv_sigstore_parse_set (const char *data, gsize len, GError **error)
{
  static const char *const top_fields[] = { "SignedEntryTimestamp", "Payload", NULL };
  static const char *const payload_fields[]
      = { "body", "integratedTime", "logIndex", "logID", NULL };
  const Where top = { "Rekor SET", "" };
  const Where pw = { "Rekor SET", "Payload" };
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (MvRekorEntry) e = g_new0 (MvRekorEntry, 1);
  JsonObject *o, *payload;
  const char *body_b64, *log_id;

  root = parse_object (data, len, "Rekor SET", MV_SIGSTORE_SET_MAX, error);
  if (root == NULL)
    return NULL;
  o = json_node_get_object (root);
  if (!exact_members (o, &top, top_fields, error)
      || !get_base64 (o, &top, "SignedEntryTimestamp", TRUE, &e->signed_entry_timestamp, error)
      || (payload = get_object (o, &top, "Payload", TRUE, error)) == NULL
      || !exact_members (payload, &pw, payload_fields, error)
      || !get_string (payload, &pw, "body", TRUE, &body_b64, error)
      || !get_count (payload, &pw, "integratedTime", TRUE, FALSE, &e->integrated_time, error)
      || !get_count (payload, &pw, "logIndex", TRUE, FALSE, &e->log_index, error)
      || !get_string (payload, &pw, "logID", TRUE, &log_id, error))
    return NULL;
  if (g_bytes_get_size (e->signed_entry_timestamp) == 0)
    {
      fail_field (&top, "SignedEntryTimestamp", "is empty", error);
      return NULL;
    }
  e->body = mv_base64_decode_strict (body_b64, strlen (body_b64));
  if (e->body == NULL || g_bytes_get_size (e->body) == 0)
    {
      fail_field (&pw, "body", "is not standard padded base64", error);
      return NULL;
    }
  if (!is_lower_hex (log_id, 64))
    {
      fail_field (&pw, "logID", "is not 64 lowercase hex digits", error);
      return NULL;
    }
  /* Strict base64 has one encoding per byte string: the body as written is the canonical one
   * the SET signs. */
  e->body_b64 = g_strdup (body_b64);
  e->log_id = g_strdup (log_id);
  return g_steal_pointer (&e);
}

char *
mv_sigstore_rekor_entry_canonical_payload (const MvRekorEntry *e)
{
  /* RFC 8785 of cosign's RekorPayload: members sorted by UTF-16 code units (body,
   * integratedTime, logID, logIndex), no white space; the strings need no escapes (base64,
   * hex) and the integers are below 2^53. */
  return g_strdup_printf ("{\"body\":\"%s\",\"integratedTime\":%" G_GINT64_FORMAT
                          ",\"logID\":\"%s\",\"logIndex\":%" G_GINT64_FORMAT "}",
                          e->body_b64, e->integrated_time, e->log_id, e->log_index);
}

MvRekorEntry *
mv_sigstore_parse_tlog_entry (JsonNode *node, guint index, GError **error)
{
  static const char *const proto_names[]
      = { "log_index",          "log_id", "kind_version", "integrated_time", "inclusion_promise",
          "canonicalized_body", NULL };
  static const char *const log_id_proto[] = { "key_id", NULL };
  static const char *const promise_proto[] = { "signed_entry_timestamp", NULL };
  g_autofree char *path = g_strdup_printf ("verificationMaterial.tlogEntries[%u]", index);
  g_autofree char *log_id_path = g_strconcat (path, ".logId", NULL);
  g_autofree char *kv_path = g_strconcat (path, ".kindVersion", NULL);
  g_autofree char *promise_path = g_strconcat (path, ".inclusionPromise", NULL);
  const Where w = { "bundle", path };
  const Where lw = { "bundle", log_id_path };
  const Where kw = { "bundle", kv_path };
  const Where pw = { "bundle", promise_path };
  g_autoptr (MvRekorEntry) e = g_new0 (MvRekorEntry, 1);
  g_autoptr (GBytes) key_id = NULL;
  JsonObject *o, *log_id, *kv, *promise;
  const char *kind, *version;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      mv_throw (error, MV_ERROR_SIGNATURE, "bundle: %s is not an object", path);
      return NULL;
    }
  o = json_node_get_object (node);
  if (!no_proto_names (o, &w, proto_names, error)
      || !get_count (o, &w, "logIndex", FALSE, TRUE, &e->log_index, error)
      || !get_count (o, &w, "integratedTime", FALSE, TRUE, &e->integrated_time, error)
      || (log_id = get_object (o, &w, "logId", TRUE, error)) == NULL
      || !no_proto_names (log_id, &lw, log_id_proto, error)
      || !get_base64 (log_id, &lw, "keyId", TRUE, &key_id, error)
      || (kv = get_object (o, &w, "kindVersion", TRUE, error)) == NULL
      || !get_string (kv, &kw, "kind", TRUE, &kind, error)
      || !get_string (kv, &kw, "version", TRUE, &version, error)
      || !get_base64 (o, &w, "canonicalizedBody", TRUE, &e->body, error))
    return NULL;
  if (g_bytes_get_size (key_id) != 32)
    {
      fail_field (&lw, "keyId", "is not a SHA-256 (32 bytes)", error);
      return NULL;
    }
  if (g_bytes_get_size (e->body) == 0)
    {
      fail_field (&w, "canonicalizedBody", "is empty", error);
      return NULL;
    }
  promise = get_object (o, &w, "inclusionPromise", FALSE, error);
  if (promise == NULL && json_object_has_member (o, "inclusionPromise"))
    return NULL;
  if (promise != NULL
      && (!no_proto_names (promise, &pw, promise_proto, error)
          || !get_base64 (promise, &pw, "signedEntryTimestamp", TRUE, &e->signed_entry_timestamp,
                          error)))
    return NULL;
  e->kind = g_strdup (kind);
  e->version = g_strdup (version);
  e->body_b64 = g_base64_encode (g_bytes_get_data (e->body, NULL), g_bytes_get_size (e->body));
  e->log_id = hex_encode (g_bytes_get_data (key_id, NULL), 32);
  return g_steal_pointer (&e);
}

void
mv_rekor_body_free (MvRekorBody *b)
{
  if (b == NULL)
    return;
  g_free (b->kind);
  g_free (b->api_version);
  g_clear_pointer (&b->signatures, g_ptr_array_unref);
  g_clear_pointer (&b->verifiers, g_ptr_array_unref);
  g_free (b->hash_algorithm);
  g_free (b->hash_value);
  g_free (b);
}

static gboolean
get_hash (JsonObject *spec, const Where *sw, const char *member, MvRekorBody *b, GError **error)
{
  g_autofree char *path = field_name (sw, member);
  const Where hw = { sw->doc, path };
  JsonObject *h = get_object (spec, sw, member, TRUE, error);
  const char *algorithm, *value;

  if (h == NULL || !get_string (h, &hw, "algorithm", TRUE, &algorithm, error)
      || !get_string (h, &hw, "value", TRUE, &value, error))
    return FALSE;
  b->hash_algorithm = g_strdup (algorithm);
  b->hash_value = g_strdup (value);
  return TRUE;
}

MvRekorBody *
mv_sigstore_parse_rekor_body (const char *data, gsize len, GError **error)
{
  const Where top = { "Rekor entry body", "" };
  const Where sw = { "Rekor entry body", "spec" };
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (MvRekorBody) b = g_new0 (MvRekorBody, 1);
  JsonObject *o, *spec;
  const char *kind, *api_version;

  root = parse_object (data, len, "Rekor entry body", MV_SIGSTORE_SET_MAX, error);
  if (root == NULL)
    return NULL;
  o = json_node_get_object (root);
  if (!get_string (o, &top, "kind", TRUE, &kind, error)
      || !get_string (o, &top, "apiVersion", TRUE, &api_version, error))
    return NULL;
  b->kind = g_strdup (kind);
  b->api_version = g_strdup (api_version);
  b->signatures = g_ptr_array_new_with_free_func ((GDestroyNotify)g_bytes_unref);
  b->verifiers = g_ptr_array_new_with_free_func ((GDestroyNotify)g_bytes_unref);
  if (strcmp (api_version, "0.0.1") != 0
      || (strcmp (kind, "hashedrekord") != 0 && strcmp (kind, "dsse") != 0))
    {
      g_autofree char *k = mv_escape_for_display (kind, SHOWN_MAX);
      g_autofree char *v = mv_escape_for_display (api_version, SHOWN_MAX);
      mv_throw (error, MV_ERROR_UNSUPPORTED,
                "Rekor entry kind %s version %s is not supported (hashedrekord 0.0.1, dsse 0.0.1)",
                k, v);
      return NULL;
    }
  if ((spec = get_object (o, &top, "spec", TRUE, error)) == NULL)
    return NULL;

  if (strcmp (kind, "hashedrekord") == 0)
    {
      const Where sigw = { "Rekor entry body", "spec.signature" };
      const Where pkw = { "Rekor entry body", "spec.signature.publicKey" };
      const Where dw = { "Rekor entry body", "spec.data" };
      JsonObject *sig, *pk, *d;
      GBytes *content = NULL, *pem = NULL;

      if ((sig = get_object (spec, &sw, "signature", TRUE, error)) == NULL
          || !get_base64 (sig, &sigw, "content", TRUE, &content, error))
        return NULL;
      g_ptr_array_add (b->signatures, content);
      if ((pk = get_object (sig, &sigw, "publicKey", TRUE, error)) == NULL
          || !get_base64 (pk, &pkw, "content", TRUE, &pem, error))
        return NULL;
      g_ptr_array_add (b->verifiers, pem);
      if ((d = get_object (spec, &sw, "data", TRUE, error)) == NULL
          || !get_hash (d, &dw, "hash", b, error))
        return NULL;
    }
  else
    {
      JsonNode *n = json_object_get_member (spec, "signatures");
      JsonArray *sigs;

      if (n == NULL || !JSON_NODE_HOLDS_ARRAY (n))
        {
          fail_field (&sw, "signatures", n == NULL ? "is missing" : "is not an array", error);
          return NULL;
        }
      sigs = json_node_get_array (n);
      if (json_array_get_length (sigs) == 0
          || json_array_get_length (sigs) > MV_SIGSTORE_REKOR_SIGNATURES_MAX)
        {
          mv_throw (error, MV_ERROR_SIGNATURE,
                    "Rekor entry body: spec.signatures has %u entries (1 to %d)",
                    json_array_get_length (sigs), MV_SIGSTORE_REKOR_SIGNATURES_MAX);
          return NULL;
        }
      for (guint i = 0; i < json_array_get_length (sigs); i++)
        {
          JsonNode *s = json_array_get_element (sigs, i);
          g_autofree char *path = g_strdup_printf ("spec.signatures[%u]", i);
          const Where iw = { "Rekor entry body", path };
          GBytes *signature = NULL, *pem = NULL;

          if (!JSON_NODE_HOLDS_OBJECT (s))
            {
              mv_throw (error, MV_ERROR_SIGNATURE, "Rekor entry body: %s is not an object", path);
              return NULL;
            }
          if (!get_base64 (json_node_get_object (s), &iw, "signature", TRUE, &signature, error))
            return NULL;
          g_ptr_array_add (b->signatures, signature);
          if (!get_base64 (json_node_get_object (s), &iw, "verifier", TRUE, &pem, error))
            return NULL;
          g_ptr_array_add (b->verifiers, pem);
        }
      if (!get_hash (spec, &sw, "payloadHash", b, error))
        return NULL;
    }
  return g_steal_pointer (&b);
}

/* Bundles */

void
mv_sigstore_bundle_free (MvSigstoreBundle *b)
{
  if (b == NULL)
    return;
  g_free (b->media_type);
  g_free (b->payload_type);
  g_clear_pointer (&b->payload, g_bytes_unref);
  g_clear_pointer (&b->signature, g_bytes_unref);
  g_clear_pointer (&b->message_digest, g_bytes_unref);
  g_clear_pointer (&b->root, json_node_unref);
  g_free (b);
}

static gboolean
parse_dsse (JsonObject *env, MvSigstoreBundle *b, GError **error)
{
  static const char *const proto_names[] = { "payload_type", NULL };
  const Where ew = { "bundle", "dsseEnvelope" };
  const Where sw = { "bundle", "dsseEnvelope.signatures[0]" };
  const char *payload_type;
  JsonNode *n;
  JsonArray *sigs;
  JsonNode *sig;

  if (!no_proto_names (env, &ew, proto_names, error)
      || !get_base64 (env, &ew, "payload", TRUE, &b->payload, error)
      || !get_string (env, &ew, "payloadType", TRUE, &payload_type, error))
    return FALSE;
  b->payload_type = g_strdup (payload_type);
  n = json_object_get_member (env, "signatures");
  if (n == NULL || !JSON_NODE_HOLDS_ARRAY (n))
    return fail_field (&ew, "signatures", n == NULL ? "is missing" : "is not an array", error);
  sigs = json_node_get_array (n);
  /* The bundle spec (and sigstore-go) allow one signature in a bundle's envelope. */
  if (json_array_get_length (sigs) != 1)
    return mv_throw (error, MV_ERROR_SIGNATURE,
                     "bundle: the DSSE envelope has %u signatures; a bundle's has one",
                     json_array_get_length (sigs));
  sig = json_array_get_element (sigs, 0);
  if (!JSON_NODE_HOLDS_OBJECT (sig))
    return mv_throw (error, MV_ERROR_SIGNATURE,
                     "bundle: dsseEnvelope.signatures[0] is not an object");
  if (!get_base64 (json_node_get_object (sig), &sw, "sig", TRUE, &b->signature, error))
    return FALSE;
  if (g_bytes_get_size (b->signature) == 0)
    return fail_field (&sw, "sig", "is empty", error);
  return TRUE;
}

static gboolean
parse_message_signature (JsonObject *ms, MvSigstoreBundle *b, GError **error)
{
  static const char *const proto_names[] = { "message_digest", NULL };
  const Where mw = { "bundle", "messageSignature" };
  const Where dw = { "bundle", "messageSignature.messageDigest" };
  JsonObject *d;
  JsonNode *alg;

  if (!no_proto_names (ms, &mw, proto_names, error)
      || !get_base64 (ms, &mw, "signature", TRUE, &b->signature, error)
      || (d = get_object (ms, &mw, "messageDigest", TRUE, error)) == NULL
      || !get_base64 (d, &dw, "digest", TRUE, &b->message_digest, error))
    return FALSE;
  if (g_bytes_get_size (b->signature) == 0)
    return fail_field (&mw, "signature", "is empty", error);
  alg = json_object_get_member (d, "algorithm");
  if (alg == NULL || !JSON_NODE_HOLDS_VALUE (alg) || json_node_get_value_type (alg) != G_TYPE_STRING
      || strcmp (json_node_get_string (alg), "SHA2_256") != 0)
    return mv_throw (error, MV_ERROR_UNSUPPORTED,
                     "bundle: messageSignature.messageDigest.algorithm is not SHA2_256: "
                     "unsupported bundle content");
  if (g_bytes_get_size (b->message_digest) != 32)
    return fail_field (&dw, "digest", "is not a SHA-256 (32 bytes)", error);
  return TRUE;
}

MvSigstoreBundle *
mv_sigstore_parse_bundle (const char *data, gsize len, GError **error)
{
  static const char *const top_proto[]
      = { "media_type", "verification_material", "message_signature", "dsse_envelope", NULL };
  static const char *const vm_proto[]
      = { "public_key", "x509_certificate_chain", "tlog_entries", NULL };
  /* The fields of the bundle's protobuf schema (v0.1 to v0.3): sigstore-go (protojson) refuses
   * any other, and so does this. */
  static const char *const top_fields[]
      = { "mediaType", "verificationMaterial", "messageSignature", "dsseEnvelope", NULL };
  static const char *const vm_fields[]
      = { "publicKey",   "x509CertificateChain",      "certificate",
          "tlogEntries", "timestampVerificationData", NULL };
  const Where top = { "bundle", "" };
  const Where vw = { "bundle", "verificationMaterial" };
  g_autoptr (MvSigstoreBundle) b = g_new0 (MvSigstoreBundle, 1);
  JsonObject *o, *vm, *env, *ms;
  const char *media_type;
  JsonNode *tlog;

  b->root = parse_object (data, len, "bundle", MV_SIGSTORE_BUNDLE_MAX, error);
  if (b->root == NULL)
    return NULL;
  o = json_node_get_object (b->root);
  if (!no_proto_names (o, &top, top_proto, error) || !exact_members (o, &top, top_fields, error)
      || !get_string (o, &top, "mediaType", TRUE, &media_type, error))
    return NULL;
  if (!g_strv_contains (bundle_media_types, media_type))
    {
      g_autofree char *shown = mv_escape_for_display (media_type, SHOWN_MAX);
      mv_throw (error, MV_ERROR_UNSUPPORTED,
                "bundle: media type %s is not supported (sigstore bundle v0.1 to v0.3)", shown);
      return NULL;
    }
  b->media_type = g_strdup (media_type);

  if ((vm = get_object (o, &top, "verificationMaterial", TRUE, error)) == NULL
      || !no_proto_names (vm, &vw, vm_proto, error) || !exact_members (vm, &vw, vm_fields, error))
    return NULL;
  if (json_object_has_member (vm, "certificate")
      || json_object_has_member (vm, "x509CertificateChain"))
    {
      mv_throw (error, MV_ERROR_UNSUPPORTED,
                "bundle: keyless signing (an X.509 certificate) is not supported");
      return NULL;
    }
  /* The public key hint names a key; which keys are trusted is the policy's business. */
  if (get_object (vm, &vw, "publicKey", TRUE, error) == NULL)
    return NULL;
  tlog = json_object_get_member (vm, "tlogEntries");
  if (tlog != NULL)
    {
      if (!JSON_NODE_HOLDS_ARRAY (tlog))
        {
          fail_field (&vw, "tlogEntries", "is not an array", error);
          return NULL;
        }
      b->tlog_entries = json_node_get_array (tlog);
      if (json_array_get_length (b->tlog_entries) > MV_SIGSTORE_TLOG_ENTRIES_MAX)
        {
          mv_throw (error, MV_ERROR_LIMIT_EXCEEDED,
                    "bundle: %u tlog entries, above the limit of %d",
                    json_array_get_length (b->tlog_entries), MV_SIGSTORE_TLOG_ENTRIES_MAX);
          return NULL;
        }
    }

  env = get_object (o, &top, "dsseEnvelope", FALSE, error);
  if (env == NULL && json_object_has_member (o, "dsseEnvelope"))
    return NULL;
  ms = get_object (o, &top, "messageSignature", FALSE, error);
  if (ms == NULL && json_object_has_member (o, "messageSignature"))
    return NULL;
  if ((env == NULL) == (ms == NULL))
    {
      mv_throw (error, MV_ERROR_UNSUPPORTED, "bundle: unsupported bundle content (%s)",
                env == NULL ? "neither a DSSE envelope nor a message signature"
                            : "both a DSSE envelope and a message signature");
      return NULL;
    }
  if (env != NULL)
    {
      b->content = MV_SIGSTORE_BUNDLE_DSSE;
      if (!parse_dsse (env, b, error))
        return NULL;
    }
  else
    {
      b->content = MV_SIGSTORE_BUNDLE_MESSAGE_SIGNATURE;
      if (!parse_message_signature (ms, b, error))
        return NULL;
    }
  return g_steal_pointer (&b);
}

/* in-toto statements */

static void
subject_free (MvInTotoSubject *s)
{
  g_free (s->name);
  g_clear_pointer (&s->digest, g_hash_table_unref);
  g_free (s);
}

void
mv_intoto_statement_free (MvInTotoStatement *s)
{
  if (s == NULL)
    return;
  g_free (s->type);
  g_free (s->predicate_type);
  g_clear_pointer (&s->subjects, g_ptr_array_unref);
  g_free (s);
}

MvInTotoStatement *
mv_sigstore_parse_statement (const char *data, gsize len, GError **error)
{
  const Where top = { "in-toto statement", "" };
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (MvInTotoStatement) st = g_new0 (MvInTotoStatement, 1);
  JsonObject *o;
  JsonNode *n;
  JsonArray *subjects;
  const char *type, *predicate_type;

  root = parse_object (data, len, "in-toto statement", MV_SIGSTORE_BUNDLE_MAX, error);
  if (root == NULL)
    return NULL;
  o = json_node_get_object (root);
  if (!get_string (o, &top, "_type", TRUE, &type, error)
      || !get_string (o, &top, "predicateType", TRUE, &predicate_type, error))
    return NULL;
  if (strcmp (type, STATEMENT_V1) != 0 && strcmp (type, STATEMENT_V01) != 0)
    {
      g_autofree char *shown = mv_escape_for_display (type, SHOWN_MAX);
      mv_throw (error, MV_ERROR_SIGNATURE, "in-toto statement: _type %s is not %s (or v0.1)", shown,
                STATEMENT_V1);
      return NULL;
    }
  st->type = g_strdup (type);
  st->predicate_type = g_strdup (predicate_type);
  n = json_object_get_member (o, "subject");
  if (n == NULL || !JSON_NODE_HOLDS_ARRAY (n))
    {
      fail_field (&top, "subject", n == NULL ? "is missing" : "is not an array", error);
      return NULL;
    }
  subjects = json_node_get_array (n);
  if (json_array_get_length (subjects) == 0
      || json_array_get_length (subjects) > MV_SIGSTORE_SUBJECTS_MAX)
    {
      mv_throw (error,
                json_array_get_length (subjects) == 0 ? MV_ERROR_SIGNATURE
                                                      : MV_ERROR_LIMIT_EXCEEDED,
                "in-toto statement: %u subjects (1 to %d)", json_array_get_length (subjects),
                MV_SIGSTORE_SUBJECTS_MAX);
      return NULL;
    }
  st->subjects = g_ptr_array_new_with_free_func ((GDestroyNotify)subject_free);
  for (guint i = 0; i < json_array_get_length (subjects); i++)
    {
      JsonNode *e = json_array_get_element (subjects, i);
      g_autofree char *path = g_strdup_printf ("subject[%u]", i);
      g_autofree char *dpath = g_strdup_printf ("subject[%u].digest", i);
      const Where sw = { "in-toto statement", path };
      const Where dw = { "in-toto statement", dpath };
      MvInTotoSubject *s;
      JsonObject *so, *digest;
      JsonObjectIter iter;
      const char *name, *alg;
      JsonNode *value;

      if (!JSON_NODE_HOLDS_OBJECT (e))
        {
          mv_throw (error, MV_ERROR_SIGNATURE, "in-toto statement: %s is not an object", path);
          return NULL;
        }
      so = json_node_get_object (e);
      if (!get_string (so, &sw, "name", FALSE, &name, error)
          || (digest = get_object (so, &sw, "digest", TRUE, error)) == NULL)
        return NULL;
      if (json_object_get_size (digest) > MV_SIGSTORE_SUBJECT_DIGESTS_MAX)
        {
          mv_throw (error, MV_ERROR_LIMIT_EXCEEDED,
                    "in-toto statement: %s has %u digests, above the limit of %d", path,
                    json_object_get_size (digest), MV_SIGSTORE_SUBJECT_DIGESTS_MAX);
          return NULL;
        }
      s = g_new0 (MvInTotoSubject, 1);
      g_ptr_array_add (st->subjects, s);
      s->name = name != NULL && *name != '\0' ? g_strdup (name) : NULL;
      s->digest = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
      json_object_iter_init (&iter, digest);
      while (json_object_iter_next (&iter, &alg, &value))
        {
          if (!JSON_NODE_HOLDS_VALUE (value) || json_node_get_value_type (value) != G_TYPE_STRING)
            {
              g_autofree char *shown = mv_escape_for_display (alg, SHOWN_MAX);
              fail_field (&dw, shown, "is not a string", error);
              return NULL;
            }
          g_hash_table_insert (s->digest, g_strdup (alg), g_strdup (json_node_get_string (value)));
        }
    }
  return g_steal_pointer (&st);
}

GBytes *
mv_sigstore_dsse_pae (const char *payload_type, GBytes *payload)
{
  gsize len;
  const void *data = g_bytes_get_data (payload, &len);
  GString *s = g_string_new (NULL);

  g_string_append_printf (s, "DSSEv1 %" G_GSIZE_FORMAT " %s %" G_GSIZE_FORMAT " ",
                          strlen (payload_type), payload_type, len);
  g_string_append_len (s, data, len);
  return g_string_free_to_bytes (s);
}

/* Facts */

void
mv_signature_facts_free (MvSignatureFacts *facts)
{
  if (facts == NULL)
    return;
  g_free (facts->format);
  g_free (facts->manifest_digest);
  g_free (facts->docker_reference);
  g_free (facts->key_fingerprint);
  g_free (facts->rekor_key_fingerprint);
  g_free (facts);
}

static MvSignatureFacts *
facts_new (const char *format, const char *digest, const char *reference, MvPublicKey *key,
           MvPublicKey *rekor_key, gint64 integrated_time)
{
  MvSignatureFacts *f = g_new0 (MvSignatureFacts, 1);

  f->format = g_strdup (format);
  f->manifest_digest = g_strdup (digest);
  f->docker_reference = g_strdup (reference);
  f->key_fingerprint = g_strdup (key->fingerprint);
  f->rekor_key_fingerprint = rekor_key != NULL ? g_strdup (rekor_key->fingerprint) : NULL;
  f->integrated_time = rekor_key != NULL ? integrated_time : -1;
  return f;
}

/* Rekor */

/* The SET of @e verifies with the policy's Rekor key its logID names. */
static MvPublicKey *
check_set (const MvRekorEntry *e, MvPublicKey *const *rekor_keys, guint n_rekor, const char *what,
           GError **error)
{
  g_autofree char *canonical = NULL;
  MvPublicKey *rk = NULL;

  if (e->signed_entry_timestamp == NULL)
    {
      mv_throw (error, MV_ERROR_SIGNATURE,
                "%s has no signed entry timestamp (inclusion promise), and the policy needs one",
                what);
      return NULL;
    }
  for (guint i = 0; i < n_rekor && rk == NULL; i++)
    if (strcmp (key_hex (rekor_keys[i]), e->log_id) == 0)
      rk = rekor_keys[i];
  if (rk == NULL)
    {
      mv_throw (error, MV_ERROR_SIGNATURE, "%s: logID %s is none of the policy's Rekor keys", what,
                e->log_id);
      return NULL;
    }
  /* As cosign and sigstore-go: the log signs with ECDSA over SHA-256, whatever the curve. */
  if (rk->kind != KEY_EC_P256 && rk->kind != KEY_EC_P384 && rk->kind != KEY_EC_P521)
    {
      mv_throw (error, MV_ERROR_SIGNATURE, "%s: Rekor key %s is not an ECDSA key", what,
                rk->fingerprint);
      return NULL;
    }
  canonical = mv_sigstore_rekor_entry_canonical_payload (e);
  if (!verify_with_md (rk, EVP_sha256 (), canonical, strlen (canonical), e->signed_entry_timestamp))
    {
      mv_throw (error, MV_ERROR_SIGNATURE, "%s: the SET does not verify with Rekor key %s", what,
                rk->fingerprint);
      return NULL;
    }
  return rk;
}

/* A PEM from a Rekor body names the same key as @key. */
static gboolean
same_key (GBytes *pem, MvPublicKey *key, const char *what, GError **error)
{
  g_autofree char *label = NULL;
  g_autoptr (GBytes) der = NULL;
  g_autoptr (EVP_PKEY) other = NULL;
  gsize len;
  const unsigned char *p;

  if (!pem_decode (pem, what, &label, &der, error))
    return FALSE;
  if (strcmp (label, "PUBLIC KEY") != 0)
    {
      g_autofree char *shown = mv_escape_for_display (label, SHOWN_MAX);
      return mv_throw (error, MV_ERROR_SIGNATURE, "%s is a PEM %s, not the signing key", what,
                       shown);
    }
  p = g_bytes_get_data (der, &len);
  other = len <= G_MAXINT ? d2i_PUBKEY (NULL, &p, (long)len) : NULL;
  if (other == NULL || EVP_PKEY_eq (key->pkey, other) != 1)
    {
      ERR_clear_error ();
      return mv_throw (error, MV_ERROR_SIGNATURE, "%s is not key %s", what, key->fingerprint);
    }
  return TRUE;
}

/* The body of @e (trusted once its SET verified) logs @sig by @key over @hash_hex
 * (sha256). */
static gboolean
check_body (const MvRekorEntry *e, const char *want_kind, GBytes *sig, MvPublicKey *key,
            const char *hash_hex, const char *what, GError **error)
{
  g_autoptr (MvRekorBody) body = NULL;
  g_autofree char *key_what = g_strdup_printf ("%s: the logged public key", what);
  guint i;

  body = mv_sigstore_parse_rekor_body (g_bytes_get_data (e->body, NULL), g_bytes_get_size (e->body),
                                       error);
  if (body == NULL)
    return mv_prefix_error (error, "%s", what);
  if (strcmp (body->kind, want_kind) != 0)
    return mv_throw (error, MV_ERROR_UNSUPPORTED, "%s is a %s entry; this signature needs %s", what,
                     body->kind, want_kind);
  if (e->kind != NULL
      && (strcmp (e->kind, body->kind) != 0 || strcmp (e->version, body->api_version) != 0))
    return mv_throw (error, MV_ERROR_SIGNATURE, "%s: kindVersion does not match the body (%s %s)",
                     what, body->kind, body->api_version);
  for (i = 0; i < body->signatures->len; i++)
    if (bytes_equal (body->signatures->pdata[i], sig))
      break;
  if (i == body->signatures->len)
    return mv_throw (error, MV_ERROR_SIGNATURE, "%s logs another signature", what);
  if (!same_key (body->verifiers->pdata[i], key, key_what, error))
    return FALSE;
  if (strcmp (body->hash_algorithm, "sha256") != 0 || strcmp (body->hash_value, hash_hex) != 0)
    {
      g_autofree char *alg = mv_escape_for_display (body->hash_algorithm, SHOWN_MAX);
      g_autofree char *val = mv_escape_for_display (body->hash_value, SHOWN_MAX);
      return mv_throw (error, MV_ERROR_SIGNATURE, "%s logs hash %s:%s, not sha256:%s", what, alg,
                       val, hash_hex);
    }
  return TRUE;
}

static gboolean
check_keys_given (guint n_keys, const char *expected_digest, const char **out_hex, GError **error)
{
  g_autoptr (GError) local_error = NULL;

  if (n_keys == 0)
    return mv_throw (error, MV_ERROR_SIGNATURE, "no public key to verify signatures with");
  if (!mv_digest_validate (expected_digest, NULL, out_hex, &local_error))
    return mv_throw (error, MV_ERROR_SIGNATURE, "%s", local_error->message);
  return TRUE;
}

/* Simple signing */

gboolean
mv_sigstore_verify_simple_signing (GBytes *payload, const char *signature_b64, const char *set_json,
                                   MvPublicKey *const *keys, guint n_keys,
                                   MvPublicKey *const *rekor_keys, guint n_rekor,
                                   const char *expected_digest, MvSignatureFacts **out_facts,
                                   GError **error)
{
  gsize len;
  const char *data = g_bytes_get_data (payload, &len);
  g_autoptr (GBytes) sig = NULL;
  g_autoptr (MvSigstorePayload) p = NULL;
  g_autoptr (MvRekorEntry) set = NULL;
  g_autofree char *payload_digest = NULL;
  MvPublicKey *key, *rekor_key = NULL;
  const char *hex;

  if (!check_keys_given (n_keys, expected_digest, &hex, error))
    return FALSE;
  if (len > MV_SIGSTORE_PAYLOAD_MAX)
    return mv_throw (error, MV_ERROR_LIMIT_EXCEEDED,
                     "signature payload is %" G_GSIZE_FORMAT " bytes, above the limit of %d bytes",
                     len, MV_SIGSTORE_PAYLOAD_MAX);
  if (signature_b64 == NULL)
    return mv_throw (error, MV_ERROR_SIGNATURE, "no %s annotation",
                     MV_SIGSTORE_SIGNATURE_ANNOTATION);
  sig = mv_base64_decode_strict (signature_b64, strlen (signature_b64));
  if (sig == NULL || g_bytes_get_size (sig) == 0)
    return mv_throw (error, MV_ERROR_SIGNATURE, "bad base64 in %s",
                     MV_SIGSTORE_SIGNATURE_ANNOTATION);

  /* The signature first: nothing of the payload is read before it is known to be signed. */
  key = find_verifying_key (keys, n_keys, data, len, sig);
  if (key == NULL)
    {
      g_autofree char *which = describe_keys (keys, n_keys);
      return mv_throw (error, MV_ERROR_SIGNATURE,
                       "signature payload: signature does not verify with %s", which);
    }
  p = mv_sigstore_parse_payload (data, len, error);
  if (p == NULL)
    return FALSE;
  if (strcmp (p->docker_manifest_digest, expected_digest) != 0)
    {
      g_autofree char *shown = mv_escape_for_display (p->docker_manifest_digest, SHOWN_MAX);
      return mv_throw (error, MV_ERROR_SIGNATURE,
                       "signature payload: critical.image.docker-manifest-digest is %s not %s",
                       shown, expected_digest);
    }

  if (n_rekor > 0)
    {
      if (set_json == NULL)
        return mv_throw (error, MV_ERROR_SIGNATURE,
                         "no Rekor SET (annotation %s), and the policy needs one",
                         MV_SIGSTORE_SET_ANNOTATION);
      set = mv_sigstore_parse_set (set_json, strlen (set_json), error);
      if (set == NULL)
        return FALSE;
      rekor_key = check_set (set, rekor_keys, n_rekor, "Rekor SET", error);
      if (rekor_key == NULL)
        return FALSE;
      payload_digest = mv_digest_bytes (data, len);
      if (!check_body (set, "hashedrekord", sig, key, payload_digest + strlen ("sha256:"),
                       "Rekor SET", error))
        return FALSE;
    }

  *out_facts = facts_new ("simple-signing", expected_digest, p->docker_reference, key, rekor_key,
                          set != NULL ? set->integrated_time : -1);
  return TRUE;
}

/* Bundles */

/* The subject of @st that is @expected_digest: its name (NULL: none) in @out_name. */
static gboolean
find_subject (MvInTotoStatement *st, const char *expected_digest, const char **out_name,
              GError **error)
{
  const char *colon = strchr (expected_digest, ':');
  g_autofree char *alg = g_strndup (expected_digest, colon - expected_digest);
  gboolean found = FALSE;
  const char *name = NULL;

  for (guint i = 0; i < st->subjects->len; i++)
    {
      MvInTotoSubject *s = st->subjects->pdata[i];
      const char *hex = g_hash_table_lookup (s->digest, alg);

      if (hex == NULL || strcmp (hex, colon + 1) != 0)
        continue;
      /* Two names for one digest: which identity was signed would be the reader's pick. */
      if (found && g_strcmp0 (name, s->name) != 0)
        return mv_throw (error, MV_ERROR_SIGNATURE,
                         "bundle: the statement names %s under more than one name",
                         expected_digest);
      found = TRUE;
      name = s->name;
    }
  if (!found)
    return mv_throw (error, MV_ERROR_SIGNATURE, "bundle: no subject of the statement has digest %s",
                     expected_digest);
  *out_name = name;
  return TRUE;
}

/* One tlog entry of @b, from one of the policy's Rekor keys, logs this signature. */
static MvPublicKey *
check_bundle_tlog (MvSigstoreBundle *b, MvPublicKey *key, MvPublicKey *const *rekor_keys,
                   guint n_rekor, gint64 *out_time, GError **error)
{
  const char *want_kind = b->content == MV_SIGSTORE_BUNDLE_DSSE ? "dsse" : "hashedrekord";
  g_autoptr (GError) first = NULL;
  g_autofree char *hash_hex = NULL;
  guint n = b->tlog_entries != NULL ? json_array_get_length (b->tlog_entries) : 0;

  if (n == 0)
    {
      mv_throw (error, MV_ERROR_SIGNATURE,
                "bundle: no tlog entry, and the policy needs one from its Rekor keys");
      return NULL;
    }
  if (b->content == MV_SIGSTORE_BUNDLE_DSSE)
    {
      g_autofree char *d
          = mv_digest_bytes (g_bytes_get_data (b->payload, NULL), g_bytes_get_size (b->payload));
      hash_hex = g_strdup (d + strlen ("sha256:"));
    }
  else
    {
      hash_hex = hex_encode (g_bytes_get_data (b->message_digest, NULL), 32);
    }

  for (guint i = 0; i < n; i++)
    {
      g_autoptr (GError) local_error = NULL;
      g_autoptr (MvRekorEntry) e = NULL;
      g_autofree char *what = g_strdup_printf ("bundle: tlog entry %u", i);
      MvPublicKey *rk = NULL;

      e = mv_sigstore_parse_tlog_entry (json_array_get_element (b->tlog_entries, i), i,
                                        &local_error);
      if (e != NULL && (strcmp (e->kind, want_kind) != 0 || strcmp (e->version, "0.0.1") != 0))
        {
          g_autofree char *k = mv_escape_for_display (e->kind, SHOWN_MAX);
          g_autofree char *v = mv_escape_for_display (e->version, SHOWN_MAX);
          mv_throw (&local_error, MV_ERROR_UNSUPPORTED,
                    "%s is of kind %s %s; only %s 0.0.1 entries (Rekor v1) can be checked "
                    "offline",
                    what, k, v, want_kind);
        }
      else if (e != NULL)
        rk = check_set (e, rekor_keys, n_rekor, what, &local_error);
      if (rk != NULL && check_body (e, want_kind, b->signature, key, hash_hex, what, &local_error))
        {
          *out_time = e->integrated_time;
          return rk;
        }
      if (first == NULL)
        first = g_steal_pointer (&local_error);
    }
  g_propagate_error (error, g_steal_pointer (&first));
  return NULL;
}

gboolean
mv_sigstore_verify_bundle (GBytes *bundle, MvPublicKey *const *keys, guint n_keys,
                           MvPublicKey *const *rekor_keys, guint n_rekor,
                           const char *expected_digest, MvSignatureFacts **out_facts,
                           GError **error)
{
  gsize len;
  const char *data = g_bytes_get_data (bundle, &len);
  g_autoptr (MvSigstoreBundle) b = NULL;
  g_autoptr (MvInTotoStatement) st = NULL;
  MvPublicKey *key = NULL, *rekor_key = NULL;
  const char *name = NULL;
  const char *hex;
  gint64 integrated_time = -1;

  if (!check_keys_given (n_keys, expected_digest, &hex, error))
    return FALSE;
  b = mv_sigstore_parse_bundle (data, len, error);
  if (b == NULL)
    return FALSE;

  if (b->content == MV_SIGSTORE_BUNDLE_DSSE)
    {
      g_autoptr (GBytes) pae = NULL;

      if (strcmp (b->payload_type, MV_SIGSTORE_INTOTO_PAYLOAD_TYPE) != 0)
        {
          g_autofree char *shown = mv_escape_for_display (b->payload_type, SHOWN_MAX);
          return mv_throw (error, MV_ERROR_SIGNATURE, "bundle: DSSE payloadType %s is not %s",
                           shown, MV_SIGSTORE_INTOTO_PAYLOAD_TYPE);
        }
      pae = mv_sigstore_dsse_pae (b->payload_type, b->payload);
      key = find_verifying_key (keys, n_keys, g_bytes_get_data (pae, NULL), g_bytes_get_size (pae),
                                b->signature);
      if (key == NULL)
        {
          g_autofree char *which = describe_keys (keys, n_keys);
          return mv_throw (error, MV_ERROR_SIGNATURE,
                           "bundle: DSSE signature does not verify with %s", which);
        }
      st = mv_sigstore_parse_statement (g_bytes_get_data (b->payload, NULL),
                                        g_bytes_get_size (b->payload), error);
      if (st == NULL)
        return mv_prefix_error (error, "bundle");
      if (strcmp (st->predicate_type, MV_SIGSTORE_COSIGN_PREDICATE) != 0)
        {
          g_autofree char *shown = mv_escape_for_display (st->predicate_type, SHOWN_MAX);
          return mv_throw (error, MV_ERROR_SIGNATURE,
                           "bundle: predicateType %s is not a cosign signature (%s)", shown,
                           MV_SIGSTORE_COSIGN_PREDICATE);
        }
      if (!find_subject (st, expected_digest, &name, error))
        return FALSE;
    }
  else
    {
      g_autofree char *hex_got = hex_encode (g_bytes_get_data (b->message_digest, NULL), 32);

      if (!g_str_has_prefix (expected_digest, "sha256:") || strcmp (hex_got, hex) != 0)
        return mv_throw (error, MV_ERROR_SIGNATURE,
                         "bundle: the message signature is of sha256:%s not %s", hex_got,
                         expected_digest);
      for (guint i = 0; i < n_keys && key == NULL; i++)
        if (key_verify_sha256_digest (keys[i], b->message_digest, b->signature))
          key = keys[i];
      if (key == NULL)
        {
          g_autofree char *which = describe_keys (keys, n_keys);
          return mv_throw (error, MV_ERROR_SIGNATURE,
                           "bundle: message signature does not verify with %s (an Ed25519 "
                           "signature cannot be checked from a digest)",
                           which);
        }
    }

  if (n_rekor > 0)
    {
      rekor_key = check_bundle_tlog (b, key, rekor_keys, n_rekor, &integrated_time, error);
      if (rekor_key == NULL)
        return FALSE;
    }

  *out_facts = facts_new ("bundle", expected_digest, name, key, rekor_key, integrated_time);
  return TRUE;
}
