/* fuzz-sigstore: the parsers of plugin/mv-sigstore (what a registry or a bundle author
 * controls before any signature is checked), chosen by the first byte of the input, the rest
 * being the document:
 *   0 simple-signing payload   1 Rekor SET annotation   2 Rekor entry body
 *   3 sigstore bundle (and its tlog entries)            4 in-toto statement
 *   5 strict base64            6 PEM public key
 * (the byte modulo 7). Each result is checked against what its parser promises.
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <string.h>

#include "fuzz-common.h"
#include "mv-error-private.h"
#include "mv-sigstore-private.h"

static void
check_error (GError *error)
{
  g_assert (error != NULL && error->domain == MV_ERROR && error->message[0] != '\0');
  g_assert (strchr (error->message, '\n') == NULL); /* one line */
}

static void
fuzz_payload (const char *data, size_t size)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (MvSigstorePayload) p = mv_sigstore_parse_payload (data, size, &error);

  if (p == NULL)
    {
      check_error (error);
      return;
    }
  g_assert (g_str_has_prefix (p->docker_manifest_digest, "sha256:")
            || g_str_has_prefix (p->docker_manifest_digest, "sha512:"));
  g_assert (p->docker_reference != NULL);
}

static void
check_entry (MvRekorEntry *e)
{
  g_autofree char *canonical = mv_sigstore_rekor_entry_canonical_payload (e);
  g_autoptr (GBytes) again = NULL;

  g_assert (strlen (e->log_id) == 64);
  g_assert (e->log_index >= 0 && e->integrated_time >= 0);
  g_assert (canonical[0] == '{');
  /* The body as kept is the one encoding of the decoded bytes. */
  again = mv_base64_decode_strict (e->body_b64, strlen (e->body_b64));
  g_assert (again != NULL && g_bytes_equal (again, e->body));
}

static void
fuzz_set (const char *data, size_t size)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (MvRekorEntry) e = mv_sigstore_parse_set (data, size, &error);

  if (e == NULL)
    {
      check_error (error);
      return;
    }
  g_assert (e->kind == NULL && e->signed_entry_timestamp != NULL);
  check_entry (e);
}

static void
fuzz_rekor_body (const char *data, size_t size)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (MvRekorBody) b = mv_sigstore_parse_rekor_body (data, size, &error);

  if (b == NULL)
    {
      check_error (error);
      return;
    }
  g_assert (strcmp (b->kind, "hashedrekord") == 0 || strcmp (b->kind, "dsse") == 0);
  g_assert (b->signatures->len == b->verifiers->len && b->signatures->len > 0);
  g_assert (b->hash_algorithm != NULL && b->hash_value != NULL);
}

static void
fuzz_bundle (const char *data, size_t size)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (MvSigstoreBundle) b = mv_sigstore_parse_bundle (data, size, &error);
  guint n;

  if (b == NULL)
    {
      check_error (error);
      return;
    }
  g_assert (b->signature != NULL && b->media_type != NULL);
  if (b->content == MV_SIGSTORE_BUNDLE_DSSE)
    {
      g_autoptr (GBytes) pae = mv_sigstore_dsse_pae (b->payload_type, b->payload);
      g_autoptr (GError) st_error = NULL;
      g_autoptr (MvInTotoStatement) st = mv_sigstore_parse_statement (
          g_bytes_get_data (b->payload, NULL), g_bytes_get_size (b->payload), &st_error);

      g_assert (g_bytes_get_size (pae) > g_bytes_get_size (b->payload));
      if (st == NULL)
        check_error (st_error);
    }
  else
    g_assert (g_bytes_get_size (b->message_digest) == 32);
  n = b->tlog_entries != NULL ? json_array_get_length (b->tlog_entries) : 0;
  g_assert (n <= MV_SIGSTORE_TLOG_ENTRIES_MAX);
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (GError) e_error = NULL;
      g_autoptr (MvRekorEntry) e
          = mv_sigstore_parse_tlog_entry (json_array_get_element (b->tlog_entries, i), i, &e_error);

      if (e == NULL)
        {
          check_error (e_error);
          continue;
        }
      g_assert (e->kind != NULL && e->version != NULL);
      check_entry (e);
      /* What a verifier would do next with the body. */
      {
        g_autoptr (GError) b_error = NULL;
        g_autoptr (MvRekorBody) body = mv_sigstore_parse_rekor_body (
            g_bytes_get_data (e->body, NULL), g_bytes_get_size (e->body), &b_error);
        if (body == NULL)
          check_error (b_error);
      }
    }
}

static void
fuzz_statement (const char *data, size_t size)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (MvInTotoStatement) st = mv_sigstore_parse_statement (data, size, &error);

  if (st == NULL)
    {
      check_error (error);
      return;
    }
  g_assert (st->subjects->len >= 1 && st->subjects->len <= MV_SIGSTORE_SUBJECTS_MAX);
  for (guint i = 0; i < st->subjects->len; i++)
    {
      MvInTotoSubject *s = st->subjects->pdata[i];
      g_assert (s->name == NULL || s->name[0] != '\0');
      g_assert (g_hash_table_size (s->digest) <= MV_SIGSTORE_SUBJECT_DIGESTS_MAX);
    }
}

static void
fuzz_base64 (const char *data, size_t size)
{
  g_autoptr (GBytes) b = mv_base64_decode_strict (data, size);
  g_autofree char *again = NULL;

  if (b == NULL)
    return;
  /* One encoding per byte string: re-encoding gives the input back. */
  again = g_base64_encode (g_bytes_get_data (b, NULL), g_bytes_get_size (b));
  g_assert (strlen (again) == size && memcmp (again, data, size) == 0);
}

static void
fuzz_key (const char *data, size_t size)
{
  g_autoptr (GBytes) pem = g_bytes_new (data, size);
  g_autoptr (GError) error = NULL;
  g_autoptr (MvPublicKey) key = mv_public_key_new (pem, "fuzz key", &error);
  const char *fp;

  if (key == NULL)
    {
      check_error (error);
      return;
    }
  fp = mv_public_key_fingerprint (key);
  g_assert (g_str_has_prefix (fp, "SHA256:") && strlen (fp) == 7 + 64);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  const char *doc;
  size_t len;

  mv_fuzz_init ();
  if (size == 0)
    return 0;
  doc = (const char *)data + 1;
  len = size - 1;
  switch (data[0] % 7)
    {
      case 0:
        fuzz_payload (doc, len);
        break;
      case 1:
        fuzz_set (doc, len);
        break;
      case 2:
        fuzz_rekor_body (doc, len);
        break;
      case 3:
        fuzz_bundle (doc, len);
        break;
      case 4:
        fuzz_statement (doc, len);
        break;
      case 5:
        fuzz_base64 (doc, len);
        break;
      default:
        fuzz_key (doc, len);
        break;
    }
  return 0;
}
