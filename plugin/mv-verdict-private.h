/* mv-verdict: what a pull decided about a model's signatures, kept with the model
 * (mv_store_set_signature()), and the check of that verdict against the policy in force now.
 * No crypto and no libostree: the hook's light path links it.
 * SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <gio/gio.h>

#include "mv-policy-private.h"

/* One requirement of the scope that applied, and how the pull met it. */
typedef struct
{
  char *type;             /* as in policy.json: "insecureAcceptAnything", "sigstoreSigned" */
  char *format;           /* sigstoreSigned: "simple-signing" or "bundle" */
  char *key;              /* sigstoreSigned: "SHA256:<hex>" of the key that verified */
  char *signed_identity;  /* sigstoreSigned: the docker-reference signed (nullable) */
  char *rekor_key;        /* sigstoreSigned: the Rekor key that signed the SET (nullable) */
  gint64 integrated_time; /* the SET's, -1 without */
  char *where;            /* the attachment: "sha256-<hex>.sig layer 0" */
} MvVerdictRequirement;

typedef struct
{
  char *reference;         /* the reference pulled, normalized: identities are checked against it */
  char *signed_digest;     /* what the reference resolved to (an index, or the model manifest) */
  char *policy;            /* the policy file */
  char *scope;             /* the scope that applied: "default", transports.docker[""], a scope */
  gboolean audit;          /* pulled in audit mode */
  gboolean accepted;       /* FALSE only in audit mode: the pull went on anyway */
  char *reason;            /* why it was not accepted (nullable) */
  GPtrArray *requirements; /* (element-type MvVerdictRequirement): met, in policy order */
  gint64 verified_at;      /* Unix seconds */
} MvVerdict;

MvVerdict *mv_verdict_new (void);
void mv_verdict_free (MvVerdict *v);
void mv_verdict_requirement_free (MvVerdictRequirement *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MvVerdict, mv_verdict_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MvVerdictRequirement, mv_verdict_requirement_free)

/** mv_verdict_to_json: (transfer full): the verdict as the JSON object the store keeps */
GBytes *mv_verdict_to_json (const MvVerdict *v);

/**
 * mv_verdict_parse:
 * Returns: (transfer full) (nullable): the verdict of mv_verdict_to_json(), or NULL with
 *   MV_ERROR_CORRUPTED
 */
MvVerdict *mv_verdict_parse (GBytes *json, GError **error);

/**
 * mv_verdict_satisfies:
 * @verdict: (nullable): the model's stored verdict; NULL when it has none
 * @policy: the policy in force now
 * @policy_path: its file, for messages
 * @reference: the reference the model is used by now (normalized; a name or name@digest)
 *
 * Without the network or any signature crypto: whether the stored verdict meets every
 * requirement of the scope that applies to @reference now. insecureAcceptAnything is met by
 * anything; reject by nothing; sigstoreSigned by a verdict accepted (not only audited) whose
 * signature was verified with one of the keys the requirement names now (and, if it names
 * Rekor keys, with a SET from one of them), for an identity that matches @reference under
 * its signedIdentity.
 * Returns: TRUE if satisfied, else FALSE with one MV_ERROR_SIGNATURE line naming the
 *   reference, the policy file, the scope and why
 */
gboolean mv_verdict_satisfies (const MvVerdict *verdict, MvPolicy *policy, const char *policy_path,
                               const char *reference, GError **error);

/**
 * mv_verdict_identity_matches:
 * @signed_reference: (nullable): the reference a signature names; NULL for a sigstore bundle,
 *   whose in-toto subject has no name (cosign v3's)
 * mv_policy_identity_matches(), and the rule for signatures that name no reference: they
 * prove only the digest, so they are accepted only for a reference pinned by digest under
 * matchRepoDigestOrExact (the user named the content itself: nothing can be substituted).
 * Returns: TRUE, or FALSE with MV_ERROR_SIGNATURE saying why
 */
gboolean mv_verdict_identity_matches (const MvSignedIdentity *identity, const char *reference,
                                      const char *signed_reference, GError **error);

/**
 * mv_verdict_describe:
 * Returns: (transfer full): one line for people: "accepted: sigstoreSigned (simple-signing,
 *   key SHA256:ab12..., identity host/repo:tag)", "audit: would be refused: ..."
 */
char *mv_verdict_describe (const MvVerdict *v);
