/* mv-policy: containers-policy.json (containers-policy.json(5)) for the docker transport, read
 * strictly, and registries.d's use-sigstore-attachments (containers-registries.d(5)). No
 * crypto (keys are kept as PEM bytes; mv-sigstore parses them) and no network.
 *
 * The file: {"default": [...], "transports": {"<transport>": {"<scope>": [...]}}}. Every
 * object is read strictly: an unknown member, a duplicate member, a value of the wrong JSON
 * type, an empty requirement list or a requirement that does not validate refuses the whole
 * file, with one line naming the file and the place ("transports.docker[\"quay.io\"][0]").
 * Transports other than docker are validated (their requirement lists) and otherwise
 * ignored: modelvol pulls only docker references.
 *
 * Requirements: insecureAcceptAnything, reject, sigstoreSigned (keyPath | keyPaths | keyData |
 * keyDatas, optional rekorPublicKeyPath | rekorPublicKeyPaths | rekorPublicKeyData |
 * rekorPublicKeyDatas, signedIdentity). signedBy (GPG), and sigstoreSigned with fulcio or pki
 * (keyless), are valid in the file and read as MV_POLICY_UNSUPPORTED: they refuse whatever
 * they apply to (fail closed), saying why.
 *
 * Scopes of the docker transport, most specific first (as containers/image looks them up):
 * the reference itself (host/path:tag or host/path@digest), the repository host/path, each
 * parent namespace of it down to host[:port], then *.domain wildcards of the host without its
 * port (registry.example.com gives *.example.com, *.com); then transports.docker[""]; then
 * default.
 * SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <gio/gio.h>

#define MV_POLICY_MAX (4 * 1024 * 1024) /* policy.json */
#define MV_POLICY_KEY_MAX (64 * 1024)   /* one key file or keyData */
#define MV_POLICY_KEYS_MAX 64           /* keys of one requirement */
#define MV_REGISTRIES_D_FILE_MAX (1024 * 1024)
#define MV_REGISTRIES_D_FILES_MAX 1024

typedef enum
{
  MV_POLICY_ACCEPT_ANYTHING,
  MV_POLICY_REJECT,
  MV_POLICY_SIGSTORE_SIGNED,
  MV_POLICY_UNSUPPORTED,
} MvPolicyKind;

typedef enum
{
  MV_IDENTITY_MATCH_REPO_DIGEST_OR_EXACT, /* the default */
  MV_IDENTITY_MATCH_EXACT,
  MV_IDENTITY_MATCH_REPOSITORY,
  MV_IDENTITY_EXACT_REFERENCE,
  MV_IDENTITY_EXACT_REPOSITORY,
  MV_IDENTITY_REMAP_IDENTITY,
} MvSignedIdentityKind;

typedef struct
{
  MvSignedIdentityKind kind;
  char *docker_reference;  /* exactReference: normalized, tagged or digested */
  char *docker_repository; /* exactRepository: normalized repository name */
  char *prefix;            /* remapIdentity: host[:port] or host[:port]/namespace[/...] */
  char *signed_prefix;     /* remapIdentity: the same forms */
} MvSignedIdentity;

typedef struct
{
  MvPolicyKind kind;
  char *type;                /* as written: "insecureAcceptAnything", "signedBy" ... */
  GPtrArray *keys;           /* (element-type GBytes): PEM of each key, sigstoreSigned */
  GPtrArray *rekor_keys;     /* (element-type GBytes): PEM of each Rekor key, maybe empty */
  MvSignedIdentity identity; /* sigstoreSigned */
  char *unsupported_why;     /* MV_POLICY_UNSUPPORTED: "signedBy (GPG) is not supported" */
} MvPolicyRequirement;

typedef struct MvPolicy MvPolicy;

/**
 * mv_policy_parse:
 * @data: (array length=len): a policy.json
 * @path: the file, for messages (and the directory relative keyPath values are refused in)
 *
 * keyPath and rekorPublicKeyPath files are read here (absolute paths only, each at most
 * MV_POLICY_KEY_MAX bytes); keyData is base64 of the PEM, strictly decoded. The PEM is kept
 * as bytes: whether it is a usable key is checked when a signature is verified.
 * Returns: (transfer full) (nullable): the policy, or NULL with MV_ERROR_SIGNATURE (invalid:
 *   one line naming @path and the member), MV_ERROR_LIMIT_EXCEEDED or an I/O error naming a key
 *   file
 */
MvPolicy *mv_policy_parse (const char *data, gsize len, const char *path, GError **error);

/**
 * mv_policy_load:
 * Reads @path (at most MV_POLICY_MAX bytes) and mv_policy_parse()s it. A missing file is an
 * error (G_IO_ERROR_NOT_FOUND, naming it): no policy is not "accept anything".
 */
MvPolicy *mv_policy_load (const char *path, GError **error);

void mv_policy_free (MvPolicy *policy);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MvPolicy, mv_policy_free)

/** mv_policy_default_path: "/etc/containers/policy.json" */
const char *mv_policy_default_path (void);

/**
 * mv_policy_lookup:
 * @reference: a normalized docker reference ("host/path:tag", "host/path@sha256:...", or both)
 * @out_scope: (out) (transfer none) (optional): the scope that applied, as written in the
 *   file; NULL when it was "default"; "" for transports.docker[""]
 * Returns: (transfer none) (element-type MvPolicyRequirement): the requirements of the most
 *   specific scope, never empty
 */
GPtrArray *mv_policy_lookup (MvPolicy *policy, const char *reference, const char **out_scope);

/**
 * mv_policy_identity_matches:
 * @reference: the reference pulled, normalized
 * @signed_reference: the docker-reference a signature names (normalized here, as
 *   containers/image's ParseNormalizedNamed does)
 *
 * containers/image's rules (policy_reference_match.go): matchExact and exactReference need
 * tagged or digested names on both sides and the same string; matchRepoDigestOrExact compares
 * repositories when @reference has a digest and otherwise exactly; matchRepository and
 * exactRepository compare repositories; remapIdentity rewrites a @reference under prefix to
 * signedPrefix (at a component boundary) and then matches as matchRepoDigestOrExact.
 * Returns: TRUE if the signed identity is accepted for @reference, else FALSE with one
 *   MV_ERROR_SIGNATURE line saying which rule refused which names
 */
gboolean mv_policy_identity_matches (const MvSignedIdentity *identity, const char *reference,
                                     const char *signed_reference, GError **error);

/**
 * mv_policy_key_fingerprint:
 * @pem: PEM bytes of a requirement's key
 * Returns: (transfer full) (nullable): "SHA256:<64 lowercase hex>" of the DER the first PEM
 *   block holds (what mv_public_key_fingerprint() gives for the same key), or NULL if @pem is
 *   not PEM
 */
char *mv_policy_key_fingerprint (GBytes *pem);

/**
 * mv_registries_d_use_sigstore_attachments:
 * @dir: a registries.d directory; missing means no configuration (use is FALSE)
 * @reference: a normalized docker reference
 * @out_use: (out): the use-sigstore-attachments in force for @reference
 * @out_source: (out) (transfer full) (optional): "FILE docker[\"scope\"]", "FILE
 *   default-docker", or NULL when nothing configured it
 *
 * Every *.yaml file of @dir (not its subdirectories), in name order, each at most
 * MV_REGISTRIES_D_FILE_MAX bytes: top-level keys default-docker and docker; a scope (the
 * same forms and lookup as policy scopes) or default-docker defined in two files is an error,
 * as in containers/image. Within a scope only the most specific entry counts.
 * Returns: TRUE, or FALSE with one line naming the file at fault
 */
gboolean mv_registries_d_use_sigstore_attachments (const char *dir, const char *reference,
                                                   gboolean *out_use, char **out_source,
                                                   GError **error);

/**
 * mv_registries_d_parse_for_fuzzing:
 * @data: (array length=len): the contents of one registries.d file
 *
 * Reads @data as mv_registries_d_use_sigstore_attachments() reads each file of its directory,
 * and forgets it: for tests/fuzz/fuzz-policy.c.
 * Returns: TRUE, or FALSE with the error that file would give
 */
gboolean mv_registries_d_parse_for_fuzzing (const char *data, gsize len, GError **error);

/**
 * mv_base64_decode_strict:
 * @s: (array length=len): standard base64 (RFC 4648 section 4), padded
 *
 * Unlike g_base64_decode(), refuses anything not in the alphabet (white space included), a
 * length not a multiple of 4, misplaced padding and non-zero trailing bits, so that one byte
 * string has one encoding. Here rather than in mv-sigstore.c: the policy reader (keyData)
 * links no crypto.
 * Returns: (transfer full) (nullable): the bytes, or NULL if @s is not such base64
 */
GBytes *mv_base64_decode_strict (const char *s, gsize len);
