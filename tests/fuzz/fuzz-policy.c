/* fuzz-policy: the input as a containers-policy.json (mv_policy_parse) and, if it parses, the
 * scope lookup and every signedIdentity of what it finds, for a few references and for the
 * input itself taken as a reference; then the same input as one registries.d file
 * (mv_registries_d_parse_for_fuzzing; JSON is YAML too). Both readers are strict and meant for
 * files from outside: whatever the input, an error or an answer, never a crash or a leak.
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <string.h>

#include "fuzz-common.h"
#include "mv-error-private.h"
#include "mv-policy-private.h"
#include "mv-reference-private.h"
#include "mv-verdict-private.h"

#define HEX64 "1234567890abcdef1234567890abcdef1234567890abcdef1234567890abcdef"
#define SHORT_MAX 300 /* the input is tried as a reference when it is no longer than this */

static const char *const references[] = {
  "docker.io/library/busybox:latest",
  "quay.io/org/model:v1",
  "quay.io/org/model@sha256:" HEX64,
  "quay.io/org/model:v1@sha256:" HEX64,
  "registry.example.com:5000/a/b/c:v1",
  "x.sub.example.com/m:v1",
  "localhost/m",
  "[::1]:5000/m:v1",
  "mirror.local/ns/m:v1",
  "not a reference",
};

/* A tagged or digested reference is always its own identity under these rules. */
static gboolean
is_self_matching (MvSignedIdentityKind kind)
{
  return kind == MV_IDENTITY_MATCH_REPO_DIGEST_OR_EXACT || kind == MV_IDENTITY_MATCH_EXACT
         || kind == MV_IDENTITY_MATCH_REPOSITORY;
}

static void
check_requirement (const MvPolicyRequirement *req, const char *reference, const char *input)
{
  g_assert_nonnull (req->type);
  switch (req->kind)
    {
      case MV_POLICY_ACCEPT_ANYTHING:
      case MV_POLICY_REJECT:
        break;
      case MV_POLICY_SIGSTORE_SIGNED:
        g_assert_cmpuint (req->keys->len, >=, 1);
        g_assert_cmpuint (req->keys->len, <=, MV_POLICY_KEYS_MAX);
        break;
      case MV_POLICY_UNSUPPORTED:
        g_assert_nonnull (req->unsupported_why);
        break;
      default:
        g_assert_not_reached ();
    }
  for (guint i = 0; i < req->keys->len; i++)
    {
      g_autofree char *fp = mv_policy_key_fingerprint (req->keys->pdata[i]);
      g_assert_cmpuint (g_bytes_get_size (req->keys->pdata[i]), <=, MV_POLICY_KEY_MAX);
      g_assert_true (fp == NULL || strlen (fp) == strlen ("SHA256:") + 64);
    }
  for (guint i = 0; i < G_N_ELEMENTS (references) + 1; i++)
    {
      const char *signed_reference = i < G_N_ELEMENTS (references) ? references[i] : input;
      g_autoptr (GError) error = NULL;
      gboolean ok;

      if (signed_reference == NULL)
        continue;
      ok = mv_policy_identity_matches (&req->identity, reference, signed_reference, &error);
      g_assert_true (ok == (error == NULL));
      g_clear_error (&error);
      ok = mv_verdict_identity_matches (&req->identity, reference, signed_reference, &error);
      g_assert_true (ok == (error == NULL));
    }
  {
    g_autoptr (GError) error = NULL;
    gboolean ok = mv_verdict_identity_matches (&req->identity, reference, NULL, &error);
    g_assert_true (ok == (error == NULL));
  }
  if (is_self_matching (req->identity.kind))
    {
      g_autoptr (MvReference) ref
          = mv_reference_parse (reference, MV_REFERENCE_NO_DEFAULT_TAG, NULL);
      g_autoptr (GError) error = NULL;
      if (ref != NULL && (ref->tag != NULL || ref->digest != NULL)
          && !mv_policy_identity_matches (&req->identity, reference, reference, &error))
        g_error ("%s does not match itself: %s", reference, error->message);
    }
}

static void
check_policy (MvPolicy *policy, const char *input)
{
  for (guint i = 0; i < G_N_ELEMENTS (references) + 1; i++)
    {
      const char *reference = i < G_N_ELEMENTS (references) ? references[i] : input;
      g_autoptr (GError) error = NULL;
      const char *scope = NULL;
      GPtrArray *reqs;

      if (reference == NULL)
        continue;
      reqs = mv_policy_lookup (policy, reference, &scope);
      g_assert_nonnull (reqs);
      g_assert_cmpuint (reqs->len, >=, 1);
      g_assert_true (reqs == mv_policy_lookup (policy, reference, NULL));
      for (guint j = 0; j < reqs->len; j++)
        check_requirement (reqs->pdata[j], reference, input);
      /* No stored verdict: met only by requirements that need no signature. */
      if (!mv_verdict_satisfies (NULL, policy, "/fuzz/policy.json", reference, &error))
        g_assert_error (error, MV_ERROR, MV_ERROR_SIGNATURE);
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree char *input = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (MvPolicy) policy = NULL;

  mv_fuzz_init ();
  if (size <= SHORT_MAX)
    input = mv_fuzz_strndup (data, size);

  policy = mv_policy_parse ((const char *)data, size, "/fuzz/policy.json", &error);
  if (policy == NULL)
    {
      g_assert (error != NULL);
      g_assert (strchr (error->message, '\n') == NULL);
    }
  else
    {
      g_assert_no_error (error);
      check_policy (policy, input);
    }
  g_clear_error (&error);

  if (!mv_registries_d_parse_for_fuzzing ((const char *)data, size, &error))
    {
      g_assert (error != NULL);
      g_assert (error->domain == MV_ERROR);
    }
  else
    g_assert_no_error (error);
  return 0;
}
