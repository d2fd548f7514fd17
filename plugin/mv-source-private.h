/* mv-source: where a model's manifest and blobs come from. An OCI image layout on disk now;
 * a registry (libcurl) implements the same interface.
 * SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <gio/gio.h>

#include "mv-manifest-private.h"

typedef struct MvSource MvSource;

/* The forms of cosign signature a source may carry for a manifest. */
typedef enum
{
  MV_SIGNATURE_SIMPLE_SIGNING, /* a layer of the attachment at tag sha256-<hex>.sig */
  MV_SIGNATURE_BUNDLE,         /* a sigstore bundle: a referrer (or the sha256-<hex> tag) */
} MvSignatureForm;

/* One signature found for a manifest, its bytes digest-checked against their descriptors but
 * not yet verified (mv-sigstore does that). */
typedef struct
{
  MvSignatureForm form;
  char *where;         /* for messages: "sha256-<hex>.sig layer 0", "referrer sha256:..." */
  GBytes *payload;     /* simple signing: the payload blob */
  char *signature_b64; /* simple signing: dev.cosignproject.cosign/signature (nullable) */
  char *set_json;      /* simple signing: dev.sigstore.cosign/bundle, a Rekor SET (nullable) */
  GBytes *bundle;      /* bundle: the bundle blob */
} MvSignatureCandidate;

void mv_signature_candidate_free (MvSignatureCandidate *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MvSignatureCandidate, mv_signature_candidate_free)

typedef struct
{
  /* The manifest (or index) the source was opened on: its descriptor, and its ref name. */
  MvDescriptor *(*get_root) (MvSource *self, char **out_ref_name, GCancellable *cancellable,
                             GError **error);
  /* A whole small blob (a manifest or index when @manifest, else a config), at most
   * @max_size bytes. Callers go through mv_source_fetch_verified(). */
  GBytes *(*fetch_bytes) (MvSource *self, const char *digest, gint64 size, gsize max_size,
                          gboolean manifest, GCancellable *cancellable, GError **error);
  /* A layer blob as a stream; the caller verifies digest and size as it reads. */
  GInputStream *(*open_blob) (MvSource *self, const MvDescriptor *desc, GCancellable *cancellable,
                              GError **error);
  /* Optional (NULL: the source needs no such proof). Before a layer already in the store is
   * used for this import: does the source, asked with this import's own credentials, say it
   * would serve the blob? @out_confirmed FALSE means the caller must fetch the blob and check
   * its digest instead. Only cancellation is an error. */
  gboolean (*check_blob) (MvSource *self, const MvDescriptor *desc, gboolean *out_confirmed,
                          GCancellable *cancellable, GError **error);
  /* Optional (NULL: the source carries no signatures). The cosign signatures attached to
   * manifest @digest, both forms: a missing attachment is none found, not an error; every
   * other failure (a transport error, a cap exceeded, a malformed attachment) is an error, so
   * that a policy that needs a signature fails closed. */
  GPtrArray *(*fetch_signatures) (MvSource *self, const char *digest, GCancellable *cancellable,
                                  GError **error);
  /* What to call the source in messages: "oci:/path:entry". */
  const char *(*describe) (MvSource *self);
  void (*free) (MvSource *self);
} MvSourceClass;

struct MvSource
{
  const MvSourceClass *klass;
  guint64 bytes_read; /* layer blob bytes read whole and verified (atomic; for the metrics) */
};

void mv_source_free (MvSource *self);

/**
 * mv_source_fetch_verified:
 * fetch_bytes() with the checks every source needs: a declared size above @max_size is
 * refused before any request, and the bytes must have the declared size (unless < 0) and
 * hash to @digest.
 */
GBytes *mv_source_fetch_verified (MvSource *self, const char *digest, gint64 size, gsize max_size,
                                  gboolean manifest, GCancellable *cancellable, GError **error);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MvSource, mv_source_free)

/**
 * mv_layout_source_new:
 * @dir: an OCI image layout directory
 * @entry: (nullable): a ref name in index.json, "@sha256:..." for a manifest digest, or NULL
 *   for the only entry
 * Returns: (transfer full) (nullable): a source, or NULL if the layout is not usable
 */
MvSource *mv_layout_source_new (const char *dir, const char *entry, GError **error);

typedef struct
{
  gboolean tls_verify;         /* FALSE: an insecure registry (no TLS check, plain HTTP fallback) */
  const char *authfile;        /* nullable: else the containers-auth.json search order */
  const char *certs_dir;       /* nullable: else /etc/containers/certs.d */
  const char *registries_conf; /* nullable: else $CONTAINERS_REGISTRIES_CONF or the default */
  int timeout;         /* s: a blob's (or request's) deadline; 0: $MODELVOL_TIMEOUT; < 0: none */
  int low_speed_time;  /* s below @low_speed_limit before a transfer is dropped; 0: env or 60 */
  int low_speed_limit; /* bytes/s; 0: $MODELVOL_LOW_SPEED_LIMIT or 1024 */
} MvRegistryOptions;

/**
 * mv_registry_source_new:
 * @reference: a normalized reference ("host/path:tag" or "host/path@sha256:...")
 * A registry as a source: OCI distribution API, anonymous, Basic or Bearer token auth with
 * credentials from auth.json, TLS 1.2+ with per-host CAs and client certs from certs.d.
 */
MvSource *mv_registry_source_new (const char *reference, const MvRegistryOptions *opts,
                                  GError **error);

/**
 * mv_import_from_source:
 * @name: (nullable): normalized reference to name the model by; NULL: the source's ref name
 *   when it is a full reference, else no name
 * Resolves the source's root to a ModelPack manifest (following an index), checks it, imports
 * missing layers, commits the model and sets its name, all under the store's shared lock.
 */
gboolean mv_import_from_source (MvStore *store, MvSource *source, const char *name,
                                char **out_digest, GCancellable *cancellable, GError **error);

struct MvSignatureSettings; /* mv-signature-private.h */

/**
 * mv_import_from_source_checked:
 * @signatures: (nullable): check the signatures of what @source resolves to against this
 *   policy before any layer is fetched (mv-signature-private.h), and keep the verdict with the
 *   model; NULL: no check (layouts)
 * @reference: (nullable): with @signatures, the reference pulled (normalized): whichever
 *   mirror @source is, the policy scope and signed identity are those of @reference
 * mv_import_from_source() with a signature check.
 */
gboolean mv_import_from_source_checked (MvStore *store, MvSource *source, const char *name,
                                        const struct MvSignatureSettings *signatures,
                                        const char *reference, char **out_digest,
                                        GCancellable *cancellable, GError **error);

/** mv_import_jobs: layers imported at once: $MODELVOL_JOBS (1-64), else 4 */
guint mv_import_jobs (void);
/** mv_import_set_jobs: the CLI's --jobs (0: back to the default) */
void mv_import_set_jobs (guint jobs);

/**
 * mv_pull_with_options:
 * @name: (nullable): name the model REF instead of by @reference
 * mv_store_pull() with every registry option (the CLI's --cert-dir).
 */
gboolean mv_pull_with_options (MvStore *store, const char *reference, const MvRegistryOptions *opts,
                               const char *name, char **out_digest, GCancellable *cancellable,
                               GError **error);

/**
 * mv_registry_login:
 * Checks USER and PASSWORD against REGISTRY (host[:port]): GET /v2/, answering its Basic or
 * Bearer challenge. Returns: TRUE if the registry accepts them; MV_ERROR_AUTH otherwise
 */
gboolean mv_registry_login (const char *registry, const char *user, const char *password,
                            const MvRegistryOptions *opts, GCancellable *cancellable,
                            GError **error);

/** mv_registry_auth_key: (transfer full): the auth.json "auths" key for a registry host */
char *mv_registry_auth_key (const char *registry);

/** mv_auth_file_default: (transfer full): where login writes: $REGISTRY_AUTH_FILE, else
 * /run/containers/UID/auth.json */
char *mv_auth_file_default (void);

/**
 * mv_auth_file_set:
 * Sets (or with @user_pass NULL removes) the "auths" entry @key of an auth.json, keeping every
 * other entry; the file is replaced atomically with mode 0600.
 */
gboolean mv_auth_file_set (const char *path, const char *key, const char *user_pass,
                           GError **error);

typedef enum
{
  MV_PROGRESS_START,  /* a layer starts downloading (or reading) */
  MV_PROGRESS_BYTES,  /* @done of @size bytes read */
  MV_PROGRESS_DONE,   /* the layer is stored */
  MV_PROGRESS_CACHED, /* the layer was already stored: nothing to read */
} MvProgressState;

/* Called from layer threads: implementations lock what they share. */
typedef void (*MvProgressFunc) (const char *digest, MvProgressState state, guint64 done,
                                guint64 size, gpointer user_data);

/** mv_import_set_progress: where import and pull report layer progress (NULL: nowhere) */
void mv_import_set_progress (MvProgressFunc func, gpointer user_data);
