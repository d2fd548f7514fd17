/* mv-sigstore: offline verification of cosign signatures of a manifest digest, with public
 * keys (no keyless, no network). The bytes (attachment layers, bundles) are fetched and
 * digest-checked by the caller; this module checks signatures, what they sign, and (when the
 * policy names Rekor keys) the Rekor signed entry timestamps that vouch for them.
 *
 * Two forms:
 *  - simple signing: a layer of the attachment at tag sha256-<hex>.sig, its payload
 *    (application/vnd.dev.cosign.simplesigning.v1+json), the base64 signature of the payload in
 *    annotation dev.cosignproject.cosign/signature and an optional Rekor SET in
 *    dev.sigstore.cosign/bundle;
 *  - a sigstore bundle (v0.1 to v0.3) as cosign v3 writes it: a DSSE envelope of an in-toto
 *    statement whose subject is the manifest (predicate https://sigstore.dev/cosign/sign/v1),
 *    or a message signature over the manifest's SHA-256.
 *
 * Signature algorithms, per key: ECDSA P-256 with SHA-256; P-384 with SHA-384 (what cosign and
 * sigstore-go sign with by default) or SHA-256 (what containers/image and `cosign verify
 * --key` use); P-521 with SHA-512 or SHA-256; Ed25519 (pure); RSA (2048 to 8192 bits)
 * PKCS#1 v1.5 with SHA-256. Rekor keys are ECDSA and sign SHA-256.
 *
 * Without Rekor keys (n_rekor == 0) Rekor data (the SET annotation, a bundle's tlogEntries)
 * is not looked at, not even parsed: the policy trusts the signing keys alone.
 * SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "modelvol.h"
#include "mv-policy-private.h" /* mv_base64_decode_strict() */

G_BEGIN_DECLS

#define MV_SIGSTORE_PAYLOAD_MAX (4 * 1024 * 1024) /* a simple-signing payload */
#define MV_SIGSTORE_BUNDLE_MAX (4 * 1024 * 1024)  /* a bundle */
#define MV_SIGSTORE_SET_MAX (1024 * 1024)         /* a SET annotation, a Rekor entry body */
#define MV_SIGSTORE_PEM_MAX (64 * 1024)           /* a PEM public key */
#define MV_SIGSTORE_SUBJECTS_MAX 1024             /* subjects of a statement (as sigstore-go) */
#define MV_SIGSTORE_SUBJECT_DIGESTS_MAX 32        /* digests of one subject (as sigstore-go) */
#define MV_SIGSTORE_TLOG_ENTRIES_MAX 32           /* tlog entries of a bundle (as sigstore-go) */
#define MV_SIGSTORE_REKOR_SIGNATURES_MAX 16       /* signatures listed in a Rekor dsse entry */

#define MV_SIGSTORE_SIGNATURE_ANNOTATION "dev.cosignproject.cosign/signature"
#define MV_SIGSTORE_SET_ANNOTATION "dev.sigstore.cosign/bundle"
#define MV_SIGSTORE_SIGNATURE_TYPE "cosign container image signature"
#define MV_SIGSTORE_COSIGN_PREDICATE "https://sigstore.dev/cosign/sign/v1"
#define MV_SIGSTORE_INTOTO_PAYLOAD_TYPE "application/vnd.in-toto+json"

/* Keys */

/** MvPublicKey: a verified-usable public key and its fingerprint. */
typedef struct MvPublicKey MvPublicKey;

/**
 * mv_public_key_new:
 * @pem: one PEM "PUBLIC KEY" block (a DER SubjectPublicKeyInfo), nothing else around it but
 *   white space
 * @what: what the key is, for messages ("key /etc/keys/a.pub")
 *
 * Accepts ECDSA on P-256, P-384 or P-521 (named curves only), Ed25519 and RSA of 2048 to 8192
 * bits. The DER must be canonical (it re-encodes to the same bytes), so the fingerprint is
 * the SHA-256 of the base64-decoded PEM body.
 * Returns: (transfer full) (nullable): the key, or NULL with MV_ERROR_SIGNATURE naming @what
 *   (MV_ERROR_UNSUPPORTED for a key type or size not accepted)
 */
MvPublicKey *mv_public_key_new (GBytes *pem, const char *what, GError **error);

/** mv_public_key_free: (skip) frees @key; NULL is a no-op */
void mv_public_key_free (MvPublicKey *key);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MvPublicKey, mv_public_key_free)

/**
 * mv_public_key_fingerprint:
 * Returns: (transfer none): "SHA256:<64 lowercase hex>" of the key's DER SubjectPublicKeyInfo
 */
const char *mv_public_key_fingerprint (MvPublicKey *key);

/* Verification */

/** MvSignatureFacts: what a verified signature says, for the verdict. */
typedef struct
{
  char *format;                /* "simple-signing" or "bundle" */
  char *manifest_digest;       /* what it signs */
  char *docker_reference;      /* the signed identity (simple signing), a bundle subject's name, or
                                * NULL (a bundle subject without a name) */
  char *key_fingerprint;       /* of the key that verified */
  char *rekor_key_fingerprint; /* NULL: no SET was checked */
  gint64 integrated_time;      /* of the SET; -1 without */
} MvSignatureFacts;

/** mv_signature_facts_free: (skip) frees @facts; NULL is a no-op */
void mv_signature_facts_free (MvSignatureFacts *facts);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MvSignatureFacts, mv_signature_facts_free)

/**
 * mv_sigstore_verify_simple_signing:
 * @payload: the payload blob (digest-checked by the caller)
 * @signature_b64: (nullable): annotation dev.cosignproject.cosign/signature
 * @set_json: (nullable): annotation dev.sigstore.cosign/bundle (a Rekor SET); only read when
 *   @n_rekor > 0, and then required
 * @keys: (array length=n_keys): the keys any one of which must verify the signature
 * @rekor_keys: (array length=n_rekor): when not empty, a SET signed by one of these (its
 *   logID the SHA-256 of that key's DER) must log this signature, payload hash and key
 * @expected_digest: the manifest digest the payload must name
 * @out_facts: (out) (transfer full): what was verified
 *
 * Checks the signature over the payload bytes first (with the hashes of the module comment),
 * then parses the payload (mv_sigstore_parse_payload()) and compares its digest, then the SET.
 * Returns: TRUE if accepted; else FALSE with one line: MV_ERROR_SIGNATURE (no key verifies,
 *   malformed, other digest, no or bad SET), MV_ERROR_LIMIT_EXCEEDED (the payload is over
 *   MV_SIGSTORE_PAYLOAD_MAX) or MV_ERROR_UNSUPPORTED (a Rekor entry kind not handled)
 */
gboolean mv_sigstore_verify_simple_signing (GBytes *payload, const char *signature_b64,
                                            const char *set_json, MvPublicKey *const *keys,
                                            guint n_keys, MvPublicKey *const *rekor_keys,
                                            guint n_rekor, const char *expected_digest,
                                            MvSignatureFacts **out_facts, GError **error);

/**
 * mv_sigstore_verify_bundle:
 * @bundle: a sigstore bundle blob (digest-checked by the caller)
 * @keys: (array length=n_keys): the keys any one of which must verify the signature
 * @rekor_keys: (array length=n_rekor): when not empty, a tlog entry of the bundle with a SET
 *   signed by one of these must log this signature (kind dsse 0.0.1 for an envelope,
 *   hashedrekord 0.0.1 for a message signature: what Rekor v1 records for cosign)
 * @expected_digest: the manifest digest that must be the statement's subject
 * @out_facts: (out) (transfer full): what was verified
 *
 * A DSSE envelope: payloadType application/vnd.in-toto+json, exactly one signature (as the
 * bundle spec and sigstore-go require), verified over the DSSE PAE; then an in-toto
 * Statement v1 (or v0.1) with predicateType https://sigstore.dev/cosign/sign/v1 and a subject
 * whose digest is @expected_digest. A message signature: its messageDigest (SHA2_256) must be
 * @expected_digest and the signature verify over that digest (not with Ed25519: pure Ed25519
 * needs the message). An X.509 certificate (keyless) is refused; the publicKey hint is not
 * used for trust.
 * Returns: TRUE if accepted; else FALSE with one line: MV_ERROR_SIGNATURE,
 *   MV_ERROR_LIMIT_EXCEEDED (over MV_SIGSTORE_BUNDLE_MAX) or MV_ERROR_UNSUPPORTED (keyless,
 *   another media type, predicate or content, a tlog entry kind not handled)
 */
gboolean mv_sigstore_verify_bundle (GBytes *bundle, MvPublicKey *const *keys, guint n_keys,
                                    MvPublicKey *const *rekor_keys, guint n_rekor,
                                    const char *expected_digest, MvSignatureFacts **out_facts,
                                    GError **error);

/* The parsers: pure, for the verifiers above, the fuzz target and the unit tests. None
 * checks a signature. */

/** MvSigstorePayload: a simple-signing payload, not yet trusted. */
typedef struct
{
  char *docker_manifest_digest; /* critical.image.docker-manifest-digest, as written */
  char *docker_reference;       /* critical.identity.docker-reference */
} MvSigstorePayload;

void mv_sigstore_payload_free (MvSigstorePayload *p);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MvSigstorePayload, mv_sigstore_payload_free)

/**
 * mv_sigstore_parse_payload:
 * @data: (array length=len): a payload
 *
 * containers/image's rules: the top level holds `critical` and optionally `optional`
 * (an object or null) and nothing else; `critical` exactly `identity` {docker-reference},
 * `image` {docker-manifest-digest} (a valid digest) and `type` "cosign container image
 * signature"; strict JSON (no duplicate keys); at most MV_SIGSTORE_PAYLOAD_MAX bytes.
 * Returns: (transfer full) (nullable): the payload, or NULL with MV_ERROR_SIGNATURE (or
 *   MV_ERROR_LIMIT_EXCEEDED)
 */
MvSigstorePayload *mv_sigstore_parse_payload (const char *data, gsize len, GError **error);

/** MvRekorEntry: a Rekor v1 log entry and its SET, not yet trusted. */
typedef struct
{
  char *kind;                     /* a bundle's kindVersion; NULL in a SET annotation */
  char *version;                  /* likewise */
  char *body_b64;                 /* the entry body, canonical base64 (what the SET signs) */
  GBytes *body;                   /* decoded */
  gint64 integrated_time;         /* 0 when the bundle has none */
  gint64 log_index;               /* >= 0 */
  char *log_id;                   /* lowercase hex: the SHA-256 of the log's key */
  GBytes *signed_entry_timestamp; /* the SET (ASN.1 ECDSA); NULL: the entry has none */
} MvRekorEntry;

void mv_rekor_entry_free (MvRekorEntry *e);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MvRekorEntry, mv_rekor_entry_free)

/**
 * mv_sigstore_parse_set:
 * @data: (array length=len): annotation dev.sigstore.cosign/bundle
 *
 * Exactly {"SignedEntryTimestamp": base64, "Payload": {"body": base64, "integratedTime": int,
 * "logIndex": int, "logID": 64 hex}} (as containers/image reads it), integers from 0 to 2^53,
 * strict base64, at most MV_SIGSTORE_SET_MAX bytes.
 * Returns: (transfer full) (nullable): the entry (kind and version NULL), or NULL with
 *   MV_ERROR_SIGNATURE (or MV_ERROR_LIMIT_EXCEEDED)
 */
MvRekorEntry *mv_sigstore_parse_set (const char *data, gsize len, GError **error);

/**
 * mv_sigstore_rekor_entry_canonical_payload:
 * Returns: (transfer full): the bytes the SET of @e signs (their SHA-256, with ECDSA): the
 *   RFC 8785 form {"body":...,"integratedTime":...,"logID":...,"logIndex":...}
 */
char *mv_sigstore_rekor_entry_canonical_payload (const MvRekorEntry *e);

/** MvRekorBody: the body of a hashedrekord 0.0.1 or dsse 0.0.1 entry, not yet trusted. */
typedef struct
{
  char *kind;            /* "hashedrekord" or "dsse" */
  char *api_version;     /* "0.0.1" */
  GPtrArray *signatures; /* GBytes: hashedrekord's signature, or each of dsse's */
  GPtrArray *verifiers;  /* GBytes: the PEM (key or certificate) of each signature */
  char *hash_algorithm;  /* hashedrekord data.hash, dsse payloadHash: "sha256" ... */
  char *hash_value;      /* its lowercase hex */
} MvRekorBody;

void mv_rekor_body_free (MvRekorBody *b);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MvRekorBody, mv_rekor_body_free)

/**
 * mv_sigstore_parse_rekor_body:
 * @data: (array length=len): a decoded Rekor entry body
 * Returns: (transfer full) (nullable): the body, or NULL with MV_ERROR_SIGNATURE, or
 *   MV_ERROR_UNSUPPORTED for another kind or version
 */
MvRekorBody *mv_sigstore_parse_rekor_body (const char *data, gsize len, GError **error);

typedef enum
{
  MV_SIGSTORE_BUNDLE_DSSE,
  MV_SIGSTORE_BUNDLE_MESSAGE_SIGNATURE,
} MvSigstoreBundleContent;

/** MvSigstoreBundle: a sigstore bundle, not yet trusted. */
typedef struct
{
  char *media_type;
  MvSigstoreBundleContent content;
  char *payload_type;      /* DSSE */
  GBytes *payload;         /* DSSE: the statement */
  GBytes *signature;       /* DSSE: its one signature; else the message signature */
  GBytes *message_digest;  /* message signature: the SHA-256 it signs */
  JsonNode *root;          /* the document, which owns tlog_entries */
  JsonArray *tlog_entries; /* (transfer none) (nullable): verificationMaterial.tlogEntries,
                            * at most MV_SIGSTORE_TLOG_ENTRIES_MAX objects, parsed on use */
} MvSigstoreBundle;

void mv_sigstore_bundle_free (MvSigstoreBundle *b);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MvSigstoreBundle, mv_sigstore_bundle_free)

/**
 * mv_sigstore_parse_bundle:
 * @data: (array length=len): a bundle
 *
 * Strict JSON, at most MV_SIGSTORE_BUNDLE_MAX bytes, protobuf-JSON names (camelCase; a
 * snake_case spelling of a field this reads is refused; an unknown field of the bundle or of
 * its verificationMaterial is refused, as protojson does; deeper ones are let pass),
 * bytes as strict standard base64, int64 as a decimal string or an integer.
 * Returns: (transfer full) (nullable): the bundle, or NULL with MV_ERROR_SIGNATURE,
 *   MV_ERROR_LIMIT_EXCEEDED or MV_ERROR_UNSUPPORTED (media type, keyless, no content)
 */
MvSigstoreBundle *mv_sigstore_parse_bundle (const char *data, gsize len, GError **error);

/**
 * mv_sigstore_parse_tlog_entry:
 * @entry: an element of #MvSigstoreBundle.tlog_entries
 * @index: its position, for messages
 * Returns: (transfer full) (nullable): the entry (signed_entry_timestamp NULL without an
 *   inclusionPromise), or NULL with MV_ERROR_SIGNATURE
 */
MvRekorEntry *mv_sigstore_parse_tlog_entry (JsonNode *entry, guint index, GError **error);

/** MvInTotoSubject: one subject of a statement. */
typedef struct
{
  char *name;         /* NULL when absent or empty */
  GHashTable *digest; /* algorithm -> hex, both strings */
} MvInTotoSubject;

/** MvInTotoStatement: an in-toto statement, not yet trusted. */
typedef struct
{
  char *type;           /* _type */
  char *predicate_type; /* predicateType */
  GPtrArray *subjects;  /* MvInTotoSubject, at most MV_SIGSTORE_SUBJECTS_MAX */
} MvInTotoStatement;

void mv_intoto_statement_free (MvInTotoStatement *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MvInTotoStatement, mv_intoto_statement_free)

/**
 * mv_sigstore_parse_statement:
 * @data: (array length=len): a DSSE payload
 *
 * _type https://in-toto.io/Statement/v1 or /v0.1, a non-empty subject list (each with a
 * digest object of strings, a name string if any), predicateType a string.
 * Returns: (transfer full) (nullable): the statement, or NULL with MV_ERROR_SIGNATURE (or
 *   MV_ERROR_LIMIT_EXCEEDED)
 */
MvInTotoStatement *mv_sigstore_parse_statement (const char *data, gsize len, GError **error);

/**
 * mv_sigstore_dsse_pae:
 * Returns: (transfer full): the DSSE v1 pre-authentication encoding of @payload_type and
 *   @payload: "DSSEv1 <len> <type> <len> <payload>", lengths in bytes, in decimal
 */
GBytes *mv_sigstore_dsse_pae (const char *payload_type, GBytes *payload);

G_END_DECLS
