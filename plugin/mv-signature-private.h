/* mv-signature: the signature check of a pull, between resolving the reference and fetching
 * any layer: the policy's requirements for the reference (mv-policy), the signatures the
 * source carries (MvSourceClass.fetch_signatures), their verification (mv-sigstore), and the
 * verdict kept with the model (mv-verdict).
 * SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "mv-source-private.h"
#include "mv-verdict-private.h"
#include "modelvol.h"

typedef struct MvSignatureSettings
{
  char *policy;       /* the policy file */
  char *registries_d; /* the registries.d directory */
  MvSignatureMode mode;
} MvSignatureSettings;

void mv_signature_settings_clear (MvSignatureSettings *s);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (MvSignatureSettings, mv_signature_settings_clear)

/**
 * mv_signature_settings_get:
 * The settings in force for pulls through @store: mv_store_set_signature_options(), else
 * modelvol.conf's [signatures] (policy, registries-d, mode), else /etc/containers/policy.json,
 * /etc/containers/registries.d and enforce. A bad [signatures] value is an error naming it.
 */
gboolean mv_signature_settings_get (MvStore *store, MvSignatureSettings *out, GError **error);

/**
 * mv_signature_verify_source:
 * @reference: the reference pulled (normalized): the policy scope and the signed identity are
 *   looked up and checked for it, whichever mirror serves it
 * @signed_digest: the digest the reference resolved to, once (an index or a manifest)
 * @out_verdict: (out) (transfer full): the verdict to keep with the model
 *
 * Checks @source's signatures for @signed_digest against every requirement of the policy
 * scope of @reference. In audit mode a refusal is only recorded (accepted FALSE, its reason).
 * Returns: TRUE to go on; FALSE with one MV_ERROR_SIGNATURE line naming the reference, the
 *   policy file, the scope and why (or the error that kept the check from running: the
 *   policy unreadable, the signatures unreachable)
 */
gboolean mv_signature_verify_source (MvSource *source, const MvSignatureSettings *settings,
                                     const char *reference, const char *signed_digest,
                                     MvVerdict **out_verdict, GCancellable *cancellable,
                                     GError **error);
