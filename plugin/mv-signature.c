/* mv-signature: the signature check of a pull. See mv-signature-private.h.
 * SPDX-License-Identifier: Apache-2.0 */
#include "config.h"

#include <string.h>

#include "mv-error-private.h"
#include "mv-limits-private.h"
#include "mv-path-private.h"
#include "mv-reference-private.h"
#include "mv-repo-private.h"
#include "mv-signature-private.h"
#include "mv-sigstore-private.h"
#include "mv-store-private.h"

#define DEFAULT_REGISTRIES_D "/etc/containers/registries.d"

static const char *const modes[] = { "enforce", "audit" };

void
mv_signature_settings_clear (MvSignatureSettings *s)
{
  g_clear_pointer (&s->policy, g_free);
  g_clear_pointer (&s->registries_d, g_free);
}

gboolean
mv_signature_settings_get (MvStore *store, MvSignatureSettings *out, GError **error)
{
  g_autoptr (GKeyFile) kf = g_key_file_new ();
  g_autofree char *policy = NULL;
  g_autofree char *registries_d = NULL;
  g_autofree char *mode = NULL;
  const char *path = mv_config_path (NULL);
  MvSignatureMode m = MV_SIGNATURE_ENFORCE;

  if (!mv_config_load (kf, error))
    return FALSE;
  policy = g_key_file_get_string (kf, "signatures", "policy", NULL);
  registries_d = g_key_file_get_string (kf, "signatures", "registries-d", NULL);
  mode = g_key_file_get_string (kf, "signatures", "mode", NULL);
  if (policy != NULL && !g_path_is_absolute (g_strstrip (policy)))
    return mv_throw (error, MV_ERROR_FAILED,
                     "config '%s': [signatures] policy must be an absolute path", path);
  if (registries_d != NULL && !g_path_is_absolute (g_strstrip (registries_d)))
    return mv_throw (error, MV_ERROR_FAILED,
                     "config '%s': [signatures] registries-d must be an absolute path", path);
  if (mode != NULL)
    {
      g_strstrip (mode);
      if (g_str_equal (mode, modes[MV_SIGNATURE_AUDIT]))
        m = MV_SIGNATURE_AUDIT;
      else if (!g_str_equal (mode, modes[MV_SIGNATURE_ENFORCE]))
        return mv_throw (error, MV_ERROR_FAILED,
                         "config '%s': [signatures] mode must be enforce or audit", path);
    }
  out->policy = g_strdup (store->signature_policy ? store->signature_policy
                          : policy                ? policy
                                                  : mv_policy_default_path ());
  out->registries_d = g_strdup (store->signature_registries_d ? store->signature_registries_d
                                : registries_d                ? registries_d
                                                              : DEFAULT_REGISTRIES_D);
  out->mode = store->signature_mode > 0 ? (MvSignatureMode)(store->signature_mode - 1) : m;
  return TRUE;
}

gboolean
mv_store_set_signature_options (MvStore *store, const char *policy_path, const char *registries_d,
                                MvSignatureMode mode, GError **error)
{
  if ((guint)mode >= G_N_ELEMENTS (modes))
    return mv_throw (error, MV_ERROR_FAILED, "%d is not a signature mode", (int)mode);
  if (policy_path != NULL)
    {
      g_autoptr (MvPolicy) policy = mv_policy_load (policy_path, error);
      if (policy == NULL)
        return mv_prefix_error (error, "signature policy");
    }
  g_free (store->signature_policy);
  store->signature_policy = g_strdup (policy_path);
  g_free (store->signature_registries_d);
  store->signature_registries_d = g_strdup (registries_d);
  store->signature_mode = (int)mode + 1;
  return TRUE;
}

/* What one pull needs to check its requirements: the signatures are fetched once, only when a
 * requirement needs them. */
typedef struct
{
  MvSource *source;
  const MvSignatureSettings *settings;
  const char *reference;
  const char *digest;
  GPtrArray *candidates; /* NULL until fetched */
  GCancellable *cancellable;
} Check;

static gboolean
load_keys (GPtrArray *pems, const char *what, GPtrArray *out, GError **error)
{
  for (guint i = 0; i < pems->len; i++)
    {
      g_autofree char *name = g_strdup_printf ("%s %u", what, i + 1);
      MvPublicKey *key = mv_public_key_new (pems->pdata[i], name, error);
      if (key == NULL)
        return FALSE;
      g_ptr_array_add (out, key);
    }
  return TRUE;
}

/* One sigstoreSigned requirement: some signature attached to the digest verifies with one of
 * its keys (with a SET from one of its Rekor keys, if it names any) for an identity that
 * matches the reference. */
static gboolean
check_sigstore (Check *c, const MvPolicyRequirement *req, MvVerdictRequirement **out_met,
                GError **error)
{
  g_autoptr (GPtrArray) keys = g_ptr_array_new_with_free_func ((GDestroyNotify)mv_public_key_free);
  g_autoptr (GPtrArray) rekor = g_ptr_array_new_with_free_func ((GDestroyNotify)mv_public_key_free);
  g_autoptr (GError) first = NULL;
  gboolean use = FALSE;
  g_autofree char *decided_by = NULL;

  if (!load_keys (req->keys, "policy key", keys, error)
      || !load_keys (req->rekor_keys, "policy Rekor key", rekor, error))
    return FALSE;
  if (!mv_registries_d_use_sigstore_attachments (c->settings->registries_d, c->reference, &use,
                                                 &decided_by, error))
    return FALSE;
  if (!use)
    return mv_throw (error, MV_ERROR_SIGNATURE,
                     "a signature is needed, and %s does not turn on use-sigstore-attachments for "
                     "it",
                     c->settings->registries_d);
  if (c->candidates == NULL)
    {
      if (c->source->klass->fetch_signatures == NULL)
        return mv_throw (error, MV_ERROR_SIGNATURE, "a signature is needed, and %s carries none",
                         c->source->klass->describe (c->source));
      g_autoptr (GError) fetch_error = NULL;

      c->candidates
          = c->source->klass->fetch_signatures (c->source, c->digest, c->cancellable, &fetch_error);
      if (c->candidates == NULL)
        {
          /* What the registry serves is unusable as a signature (too large, malformed, not what
           * its digest says): a verdict, the policy is not met. Anything else (cancelled,
           * unreachable, unauthorized) means the check could not run. */
          if (fetch_error->domain == MV_ERROR
              && (fetch_error->code == MV_ERROR_LIMIT_EXCEEDED
                  || fetch_error->code == MV_ERROR_INVALID_MANIFEST
                  || fetch_error->code == MV_ERROR_DIGEST_MISMATCH
                  || fetch_error->code == MV_ERROR_UNSUPPORTED))
            return mv_throw (error, MV_ERROR_SIGNATURE, "%s", fetch_error->message);
          g_propagate_error (error, g_steal_pointer (&fetch_error));
          return FALSE;
        }
    }
  if (c->candidates->len == 0)
    return mv_throw (error, MV_ERROR_SIGNATURE,
                     "no cosign signature is attached to %s (tag sha256-%s.sig, referrers)",
                     c->digest, strchr (c->digest, ':') + 1);

  for (guint i = 0; i < c->candidates->len; i++)
    {
      const MvSignatureCandidate *cand = c->candidates->pdata[i];
      g_autoptr (MvSignatureFacts) facts = NULL;
      g_autoptr (GError) local_error = NULL;
      gboolean ok;

      if (cand->form == MV_SIGNATURE_SIMPLE_SIGNING)
        ok = mv_sigstore_verify_simple_signing (cand->payload, cand->signature_b64, cand->set_json,
                                                (MvPublicKey *const *)keys->pdata, keys->len,
                                                (MvPublicKey *const *)rekor->pdata, rekor->len,
                                                c->digest, &facts, &local_error);
      else
        ok = mv_sigstore_verify_bundle (cand->bundle, (MvPublicKey *const *)keys->pdata, keys->len,
                                        (MvPublicKey *const *)rekor->pdata, rekor->len, c->digest,
                                        &facts, &local_error);
      if (ok)
        ok = mv_verdict_identity_matches (&req->identity, c->reference, facts->docker_reference,
                                          &local_error);
      if (ok)
        {
          MvVerdictRequirement *r = g_new0 (MvVerdictRequirement, 1);
          r->type = g_strdup (req->type);
          r->format = g_strdup (facts->format);
          r->key = g_strdup (facts->key_fingerprint);
          r->signed_identity = g_strdup (facts->docker_reference);
          r->rekor_key = g_strdup (facts->rekor_key_fingerprint);
          r->integrated_time = facts->integrated_time;
          r->where = g_strdup (cand->where);
          *out_met = r;
          return TRUE;
        }
      g_debug ("%s: signature %s: %s", c->reference, cand->where, local_error->message);
      if (first == NULL)
        {
          first = g_steal_pointer (&local_error);
          g_prefix_error (&first, "%s: ", cand->where);
        }
    }
  if (c->candidates->len == 1)
    return mv_throw (error, MV_ERROR_SIGNATURE, "%s", first->message);
  return mv_throw (error, MV_ERROR_SIGNATURE, "none of %u signatures is accepted; the first: %s",
                   c->candidates->len, first->message);
}

gboolean
mv_signature_verify_source (MvSource *source, const MvSignatureSettings *settings,
                            const char *reference, const char *signed_digest,
                            MvVerdict **out_verdict, GCancellable *cancellable, GError **error)
{
  g_autoptr (MvPolicy) policy = NULL;
  g_autoptr (MvVerdict) v = mv_verdict_new ();
  g_autoptr (GError) refusal = NULL;
  g_autofree char *shown = mv_escape_for_display (reference, 300);
  g_autofree char *shown_scope = NULL;
  Check c = { .source = source,
              .settings = settings,
              .reference = reference,
              .digest = signed_digest,
              .cancellable = cancellable };
  const char *scope = NULL;
  GPtrArray *reqs;

  policy = mv_policy_load (settings->policy, error);
  if (policy == NULL)
    return mv_prefix_error (error, "%s: signature policy", shown);
  reqs = mv_policy_lookup (policy, reference, &scope);
  shown_scope = mv_escape_for_display (scope ? scope : "default", 300);
  v->reference = g_strdup (reference);
  v->signed_digest = g_strdup (signed_digest);
  v->policy = g_strdup (settings->policy);
  v->scope = g_strdup (scope ? scope : "default");
  v->audit = settings->mode == MV_SIGNATURE_AUDIT;
  v->verified_at = g_get_real_time () / G_USEC_PER_SEC;

  for (guint i = 0; i < reqs->len && refusal == NULL; i++)
    {
      const MvPolicyRequirement *req = reqs->pdata[i];
      MvVerdictRequirement *met = NULL;
      g_autoptr (GError) local_error = NULL;

      switch (req->kind)
        {
          case MV_POLICY_ACCEPT_ANYTHING:
            met = g_new0 (MvVerdictRequirement, 1);
            met->type = g_strdup (req->type);
            met->integrated_time = -1;
            break;
          case MV_POLICY_REJECT:
            mv_throw (&local_error, MV_ERROR_SIGNATURE, "the scope rejects it");
            break;
          case MV_POLICY_UNSUPPORTED:
            mv_throw (&local_error, MV_ERROR_SIGNATURE, "%s", req->unsupported_why);
            break;
          case MV_POLICY_SIGSTORE_SIGNED:
            if (!check_sigstore (&c, req, &met, &local_error)
                && !g_error_matches (local_error, MV_ERROR, MV_ERROR_SIGNATURE))
              {
                /* Not a verdict: the check itself could not run (cancelled, unreachable). */
                g_propagate_error (error, g_steal_pointer (&local_error));
                if (c.candidates)
                  g_ptr_array_unref (c.candidates);
                return mv_prefix_error (error, "%s: signatures", shown);
              }
            break;
        }
      if (met != NULL)
        g_ptr_array_add (v->requirements, met);
      else
        refusal = g_steal_pointer (&local_error);
    }
  if (c.candidates)
    g_ptr_array_unref (c.candidates);

  if (refusal != NULL)
    {
      g_autofree char *why = g_strdup_printf ("policy %s (scope %s): %s", settings->policy,
                                              shown_scope, refusal->message);
      if (!v->audit)
        return mv_throw (error, MV_ERROR_SIGNATURE, "%s: refused by signature %s", shown, why);
      v->accepted = FALSE;
      v->reason = g_steal_pointer (&why);
      g_ptr_array_set_size (v->requirements, 0);
    }
  else
    v->accepted = TRUE;
  *out_verdict = g_steal_pointer (&v);
  return TRUE;
}
