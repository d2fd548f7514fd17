/* modelvol.h: the public C API of libmodelvol.
 *
 * libmodelvol recognizes ModelPack OCI artifacts, imports them into a node's deduplicated
 * libostree store and hands out shared read-only checkouts of model trees.
 *
 * Every function that can fail takes a `GError **error` last and returns FALSE, NULL or -1
 * on failure. Errors from this library are in the MV_ERROR domain (see MvError) or
 * G_IO_ERROR for operating-system errors (the message names the path and the errno text);
 * option and configuration errors name the file and key. An error message is one line meant
 * for people; branch on the domain and code, never on the text. `error` may be NULL.
 *
 * Ownership: `(transfer full)` results belong to the caller (free strings and string arrays
 * with g_free() and g_strfreev(), arrays with g_ptr_array_unref(), the structs with their
 * *_free()); `(transfer none)` results belong to the store and live as long as it does.
 * Out parameters are written only on success.
 *
 * Threads: the library keeps no global state a caller must set up (no init call). An
 * #MvStore handle may be used by one thread at a time; use one handle per thread to work in
 * parallel (the library's own worker threads are internal). Several processes may open the
 * same store at once: operations take the store's lock (`<root>/lock`, shared for imports,
 * pulls, checkouts and mounts, exclusive for remove and prune) and wait for it, polling
 * @cancellable. The `[limits]` of modelvol.conf ($MODELVOL_CONFIG, else
 * /etc/modelvol/modelvol.conf) are read once per process, at the first mv_store_open().
 *
 * Privileges: the store root is created 0700 and everything in it belongs to the caller, so a
 * store is used by one user (on a node: root). Opening, importing, pulling, listing, checking
 * out, removing, pruning, fsck and df need no privilege beyond access to the root. Mounting
 * (mv_store_mount(), mv_store_umount(), mv_store_mount_in_container()) needs CAP_SYS_ADMIN in
 * the initial user namespace (in practice: root), and mv_store_mount_in_container() also needs
 * to open a pidfd of the container's process and enter its mount namespace.
 * mv_store_write_cdi_spec() needs write access to the spec directory (/var/run/cdi: root).
 * Tar layers are unpacked by a sandboxed helper (`modelvol-unpack`, in libexecdir/modelvol)
 * that drops to nobody when started as root.
 *
 * The ABI is versioned with symbol versions (MODELVOL_0.1 ...) and soname libmodelvol.so.0;
 * a symbol once exported keeps its meaning. MvStore is opaque; the public structs
 * (MvModelInfo, MvPruneStats, MvFsckProblem, MvDfStats) are part of the ABI and only ever
 * grow under a new version node. See docs/integrator-guide.md.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#pragma once

#include <gio/gio.h>

#include "modelvol-version.h" /* MV_CHECK_VERSION, MV_*_VERSION (generated) */

G_BEGIN_DECLS

#define MV_PUBLIC __attribute__ ((visibility ("default")))

/**
 * MV_ERROR:
 *
 * The error domain of libmodelvol.
 */
#define MV_ERROR (mv_error_quark ())

/**
 * mv_error_quark:
 *
 * Thread-safe; never fails.
 *
 * Returns: the quark of the MV_ERROR domain
 */
MV_PUBLIC GQuark mv_error_quark (void);

/**
 * MvError:
 * @MV_ERROR_FAILED: a failure with no more specific code
 * @MV_ERROR_INVALID_REFERENCE: an image reference does not parse or is not allowed
 * @MV_ERROR_NOT_MODELPACK: the artifact is not a ModelPack model
 * @MV_ERROR_INVALID_MANIFEST: a manifest, index, config or layout is malformed
 * @MV_ERROR_DIGEST_MISMATCH: bytes do not hash to, or do not have the size of, their descriptor
 * @MV_ERROR_UNSAFE_PATH: a path in a layer or annotation is unsafe (escape, link, device ...)
 * @MV_ERROR_LIMIT_EXCEEDED: a configured size, count or time limit was exceeded
 * @MV_ERROR_AUTH: authentication with a registry failed
 * @MV_ERROR_NOT_FOUND: a model, name, blob or layout entry does not exist
 * @MV_ERROR_BUSY: the model or mount target is in use (a model a container uses, a target
 *   that already has a model mounted)
 * @MV_ERROR_AMBIGUOUS: a model digest prefix matches more than one model
 * @MV_ERROR_CORRUPTED: stored data fails its integrity check
 * @MV_ERROR_UNSUPPORTED: a format or media type modelvol does not handle
 * @MV_ERROR_SIGNATURE: the signature policy refuses the model: a requirement is "reject",
 *   no signature verifies with the keys it names, or the signed identity does not match
 *   (since 0.2)
 */
typedef enum
{
  MV_ERROR_FAILED,
  MV_ERROR_INVALID_REFERENCE,
  MV_ERROR_NOT_MODELPACK,
  MV_ERROR_INVALID_MANIFEST,
  MV_ERROR_DIGEST_MISMATCH,
  MV_ERROR_UNSAFE_PATH,
  MV_ERROR_LIMIT_EXCEEDED,
  MV_ERROR_AUTH,
  MV_ERROR_NOT_FOUND,
  MV_ERROR_BUSY,
  MV_ERROR_AMBIGUOUS,
  MV_ERROR_CORRUPTED,
  MV_ERROR_UNSUPPORTED,
  MV_ERROR_SIGNATURE,
} MvError;

/**
 * mv_version:
 *
 * Thread-safe; never fails. Compare it with the version of the header you built against
 * when you need a feature of a later release (the symbol versions already guarantee that
 * every function you call exists).
 *
 * Returns: (transfer none): the library version, e.g. "0.1.0"
 */
MV_PUBLIC const char *mv_version (void);

/**
 * MvStore:
 *
 * An opaque handle on a node's model store: a root directory holding a libostree
 * repository (`repo/`), shared checkouts (`checkouts/`) and scratch space (`tmp/`). A handle
 * may be used from one thread at a time; several processes may open the same store at once.
 * Free it with mv_store_free() (or g_autoptr(MvStore)).
 */
typedef struct MvStore MvStore;

/**
 * MvStoreOpenFlags:
 * @MV_STORE_OPEN_NONE: open an existing store, failing with MV_ERROR_NOT_FOUND if absent
 * @MV_STORE_OPEN_CREATE: create the store (mode 0700) if it does not exist
 */
typedef enum
{
  MV_STORE_OPEN_NONE = 0,
  MV_STORE_OPEN_CREATE = 1 << 0,
} MvStoreOpenFlags;

/**
 * mv_store_open:
 * @root: (nullable): the store root; NULL means $MODELVOL_ROOT, else /var/lib/modelvol
 * @flags: #MvStoreOpenFlags
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Opens (and with MV_STORE_OPEN_CREATE creates) a store. Leftovers of interrupted
 * operations in `tmp/` are swept when no other process uses the store. With
 * MV_STORE_OPEN_CREATE the root is created (with its parents) and set to mode 0700. The
 * first call in a process also reads the `[limits]` of modelvol.conf.
 *
 * Errors: %MV_ERROR_NOT_FOUND when there is no store at @root and MV_STORE_OPEN_CREATE is
 * not given; %MV_ERROR_CORRUPTED when `repo/` is not a bare-user-only repository;
 * %MV_ERROR_FAILED for a bad value in modelvol.conf's `[limits]` (the file and key are
 * named); G_IO_ERROR for files that cannot be made or opened.
 *
 * Needs no privilege beyond access to @root. The handle holds open directory fds and no
 * lock.
 *
 * Returns: (transfer full) (nullable): the store, or NULL with @error set
 */
MV_PUBLIC MvStore *mv_store_open (const char *root, MvStoreOpenFlags flags,
                                  GCancellable *cancellable, GError **error);

/**
 * mv_store_free:
 * @store: (nullable) (transfer full): a store
 *
 * Closes the store and frees the handle. Checkouts and mounts made through it stay (mounts
 * are released with mv_store_umount() or mv_store_release_container()).
 */
MV_PUBLIC void mv_store_free (MvStore *store);

/**
 * mv_store_get_root:
 * @store: a store
 *
 * Never fails.
 *
 * Returns: (transfer none): the absolute path of the store root (canonical: a relative
 *   @root given to mv_store_open() is made absolute)
 */
MV_PUBLIC const char *mv_store_get_root (MvStore *store);

/**
 * mv_store_import_layout:
 * @store: a store
 * @layout_dir: path of an OCI image layout directory (CRI-O's artifact store, skopeo's oci:)
 * @entry: (nullable): a `org.opencontainers.image.ref.name` of the layout's index, or
 *   `@sha256:...` for a manifest digest; NULL picks the only entry
 * @name: (nullable): a reference to name the model by; NULL uses the entry's ref name when it
 *   is a full reference; "" gives the model no name (it is then kept only while used, or
 *   until another import or pull names it)
 * @out_digest: (out) (optional) (transfer full): the manifest digest of the imported model
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Imports a ModelPack artifact from an OCI image layout. Layers already in the store are not
 * read. Every blob is checked against its digest and size as it is read; on any failure no
 * part of the model becomes visible. A stored model that is damaged (marked by
 * mv_store_fsck(), or whose checkout no longer matches its objects) is repaired: its
 * damaged objects and the layers that hold them are read again and its checkout is made
 * anew.
 *
 * Tar, tar+gzip and tar+zstd layers are parsed by the sandboxed `modelvol-unpack` child
 * (installed in libexecdir/modelvol); raw layers are copied in-process. Layers are imported
 * several at a time ($MODELVOL_JOBS, default 4). Takes the store's shared lock.
 *
 * Errors: %MV_ERROR_NOT_FOUND (no such layout entry; several entries and @entry NULL; a
 * missing blob), %MV_ERROR_INVALID_MANIFEST (malformed layout, index, manifest or config),
 * %MV_ERROR_NOT_MODELPACK, %MV_ERROR_DIGEST_MISMATCH,
 * %MV_ERROR_UNSAFE_PATH (the offending name is in the message), %MV_ERROR_LIMIT_EXCEEDED
 * (the limit is named), %MV_ERROR_UNSUPPORTED, %MV_ERROR_INVALID_REFERENCE (@name),
 * G_IO_ERROR_CANCELLED, other G_IO_ERROR codes (for example ENOSPC while writing).
 *
 * Needs read access to @layout_dir and no privilege beyond access to the store.
 *
 * Returns: TRUE on success
 */
MV_PUBLIC gboolean mv_store_import_layout (MvStore *store, const char *layout_dir,
                                           const char *entry, const char *name, char **out_digest,
                                           GCancellable *cancellable, GError **error);

/**
 * MvPullFlags:
 * @MV_PULL_NONE: verify TLS, https only
 * @MV_PULL_TLS_NO_VERIFY: an insecure registry: no certificate check, and plain HTTP when the
 *   registry does not speak TLS
 */
typedef enum
{
  MV_PULL_NONE = 0,
  MV_PULL_TLS_NO_VERIFY = 1 << 0,
} MvPullFlags;

/**
 * mv_store_pull:
 * @store: a store
 * @reference: an image reference, "registry.example.com/org/model:v1" or "...@sha256:..."
 * @flags: #MvPullFlags
 * @authfile: (nullable): credentials file; NULL: the containers-auth.json search order
 * @out_digest: (out) (optional) (transfer full): the manifest digest of the model
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Pulls a ModelPack model from a registry (OCI distribution API; anonymous, Basic or Bearer
 * token auth; per-host CAs and client certificates from /etc/containers/certs.d) and names it
 * by @reference. Layers already in the store are not downloaded; every byte is checked
 * against its digest as it arrives, and nothing is visible unless the whole model checks out.
 * A damaged model is repaired as by mv_store_import_layout().
 *
 * Registry configuration is read as CRI-O and podman read it: registries.conf(5)
 * ($CONTAINERS_REGISTRIES_CONF, else /etc/containers/registries.conf, with its `.d/`
 * drop-ins: prefix, location, blocked, insecure, mirrors tried in order). Timeouts come from
 * $MODELVOL_TIMEOUT, $MODELVOL_LOW_SPEED_TIME, $MODELVOL_LOW_SPEED_LIMIT and
 * $MODELVOL_RETRY_AFTER_MAX (see modelvol(1)); a bad value is an error naming the variable.
 * The network work runs in internal threads; the call blocks until the model is stored or
 * the pull failed. Takes the store's shared lock while layers are committed.
 *
 * Errors: %MV_ERROR_INVALID_REFERENCE (also a reference blocked by registries.conf),
 * %MV_ERROR_AUTH (401/403 after the credentials and one fresh token), %MV_ERROR_NOT_FOUND
 * (no such manifest or blob), %MV_ERROR_LIMIT_EXCEEDED (a size cap, or the deadline of
 * $MODELVOL_TIMEOUT), %MV_ERROR_DIGEST_MISMATCH, and every error of
 * mv_store_import_layout() for the artifact itself; %MV_ERROR_FAILED for network failures
 * after the retries; G_IO_ERROR_CANCELLED.
 *
 * Needs network access and no privilege beyond access to the store and @authfile.
 *
 * Returns: TRUE on success
 */
MV_PUBLIC gboolean mv_store_pull (MvStore *store, const char *reference, MvPullFlags flags,
                                  const char *authfile, char **out_digest,
                                  GCancellable *cancellable, GError **error);

/**
 * mv_store_resolve:
 * @store: a store
 * @model: a model name (reference), a full manifest digest, or a unique digest prefix
 *   (with or without "sha256:") of at least 4 hex digits
 * @out_digest: (out) (transfer full): the manifest digest, "sha256:<hex>"
 * @error: return location for a #GError
 *
 * Looks a model up without touching its data (no lock, no checkout).
 *
 * Errors: %MV_ERROR_NOT_FOUND (also when @model is neither a digest, a prefix nor a valid
 * reference: the message says why), %MV_ERROR_AMBIGUOUS (a prefix matching several models).
 *
 * Returns: TRUE if @model names exactly one stored model
 */
MV_PUBLIC gboolean mv_store_resolve (MvStore *store, const char *model, char **out_digest,
                                     GError **error);

/**
 * MvModelInfo:
 * @digest: manifest digest, "sha256:<hex>"
 * @names: (array zero-terminated=1): the names (references) pointing at this model
 * @n_files: number of regular files in the model tree
 * @logical_bytes: total size of the model's regular files
 * @n_layers: number of layers
 * @artifact_type: the manifest's artifactType (or config media type)
 * @manifest_json: the manifest, byte for byte as stored
 * @config_json: the ModelPack config, byte for byte as stored
 *
 * A stored model, a snapshot taken when it was read. Free with mv_model_info_free() (or
 * g_autoptr(MvModelInfo)); every member belongs to the struct. Callers only read it.
 */
typedef struct
{
  char *digest;
  char **names;
  guint64 n_files;
  guint64 logical_bytes;
  guint n_layers;
  char *artifact_type;
  char *manifest_json;
  char *config_json;
} MvModelInfo;

/**
 * mv_model_info_free:
 * @info: (nullable) (transfer full): a model info
 *
 * Frees @info and all its members. NULL is allowed.
 */
MV_PUBLIC void mv_model_info_free (MvModelInfo *info);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MvModelInfo, mv_model_info_free)

/**
 * mv_store_list_models:
 * @store: a store
 * @error: return location for a #GError
 *
 * Lists every stored model, named and unnamed (an unnamed model has an empty @names).
 * The array frees its elements (g_ptr_array_unref() is enough).
 *
 * Errors: G_IO_ERROR or %MV_ERROR_CORRUPTED when the repository cannot be read.
 *
 * Returns: (transfer full) (element-type MvModelInfo): the stored models, sorted by first
 *   name then digest; NULL on error
 */
MV_PUBLIC GPtrArray *mv_store_list_models (MvStore *store, GError **error);

/**
 * mv_store_get_model:
 * @store: a store
 * @model: as for mv_store_resolve()
 * @error: return location for a #GError
 *
 * Errors: as mv_store_resolve().
 *
 * Returns: (transfer full) (nullable): the model, or NULL with @error set
 */
MV_PUBLIC MvModelInfo *mv_store_get_model (MvStore *store, const char *model, GError **error);

/**
 * mv_store_checkout:
 * @store: a store
 * @model: as for mv_store_resolve()
 * @out_path: (out) (transfer full): absolute path of the shared read-only checkout
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Returns the shared checkout of a model, creating it if needed. The tree is made of
 * hardlinks into the store: callers must never write to it (mount it read-only). A model
 * mv_store_fsck() marked damaged, or whose checkout no longer matches what it was made of,
 * is refused with MV_ERROR_CORRUPTED until a pull or import repairs it. The path is
 * `<root>/checkouts/<hex>` and stays the same for the model's life (a repair swaps the tree
 * in place). A checkout is not a use: a model without a name can be pruned while a caller
 * holds its path; mount it with mv_store_mount() or mv_store_mount_in_container() to keep it.
 * Takes the store's shared lock.
 *
 * Errors: as mv_store_resolve(); %MV_ERROR_CORRUPTED (damaged model); G_IO_ERROR while
 * building the tree.
 *
 * Returns: TRUE on success
 */
MV_PUBLIC gboolean mv_store_checkout (MvStore *store, const char *model, char **out_path,
                                      GCancellable *cancellable, GError **error);

/**
 * mv_store_remove:
 * @store: a store
 * @model: a name removes that name; a digest (or prefix) removes the model and all its names
 * @error: return location for a #GError
 *
 * Removes a name or a model. A model left with no name stays listed until mv_store_prune()
 * removes it (unless a container uses it); a model in use cannot be removed by digest.
 * Takes the store's exclusive lock.
 *
 * Errors: as mv_store_resolve(); %MV_ERROR_BUSY for a digest whose model has live use
 * records (stale ones are reclaimed first).
 *
 * Returns: TRUE on success
 */
MV_PUBLIC gboolean mv_store_remove (MvStore *store, const char *model, GError **error);

/**
 * MvPruneStats:
 * @models_removed: unnamed, unused models removed
 * @layers_removed: layers no remaining model lists
 * @objects_removed: store objects deleted
 * @bytes_freed: bytes of objects deleted
 * @checkouts_removed: checkouts of removed models deleted
 */
typedef struct
{
  guint models_removed;
  guint layers_removed;
  guint objects_removed;
  guint64 bytes_freed;
  guint checkouts_removed;
} MvPruneStats;

/**
 * mv_store_prune:
 * @store: a store
 * @dry_run: only count what would be removed
 * @out_stats: (out caller-allocates): what was (or would be) removed
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Removes models without a name and without users, then layers no model lists, then
 * unreachable objects and orphan checkouts. Nothing a named or used model needs is removed.
 * Takes the store's exclusive lock (waits for running imports, pulls and checkouts). Stale
 * use records (dead container processes, vanished mounts) are reclaimed first.
 *
 * Errors: G_IO_ERROR (including G_IO_ERROR_CANCELLED).
 *
 * Returns: TRUE on success
 */
MV_PUBLIC gboolean mv_store_prune (MvStore *store, gboolean dry_run, MvPruneStats *out_stats,
                                   GCancellable *cancellable, GError **error);

/**
 * MvFsckProblem:
 * @model: manifest digest of an affected model
 * @names: (array zero-terminated=1): its names
 * @path: (nullable): path inside the model of the bad file, if a file object is bad
 * @object: the bad object's checksum and type ("<sha256>.file")
 * @message: what is wrong
 *
 * One damaged object of one model (see mv_store_fsck()). Free with mv_fsck_problem_free().
 */
typedef struct
{
  char *model;
  char **names;
  char *path;
  char *object;
  char *message;
} MvFsckProblem;

/**
 * mv_fsck_problem_free:
 * @problem: (nullable) (transfer full): a problem
 *
 * Frees @problem and all its members. NULL is allowed.
 */
MV_PUBLIC void mv_fsck_problem_free (MvFsckProblem *problem);

/**
 * mv_store_fsck:
 * @store: a store
 * @out_problems: (out) (transfer full) (element-type MvFsckProblem): one entry per damaged
 *   object and model it belongs to; empty when the store is clean
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Verifies every object reachable from every model and layer against its checksum, and
 * each model's checkout against the store's objects. Marks every damaged model and layer
 * (mounts refuse a marked model; the next import or pull of it repairs it) and unmarks
 * those found intact. Reads every stored byte: on a large store it runs for minutes
 * (cancel it through @cancellable). The problems array frees its elements.
 *
 * Errors: G_IO_ERROR when the store cannot be read (a damaged object is a problem, not an
 * error), G_IO_ERROR_CANCELLED.
 *
 * Returns: TRUE if the check ran (whatever it found); FALSE on error
 */
MV_PUBLIC gboolean mv_store_fsck (MvStore *store, GPtrArray **out_problems,
                                  GCancellable *cancellable, GError **error);

/**
 * MvDfStats:
 * @n_models: models in the store
 * @n_layers: layers in the store
 * @logical_bytes: sum of every model's file sizes, as if each were stored alone
 * @stored_bytes: bytes of the distinct file objects those models need
 * @disk_bytes: bytes the repository uses on disk (allocated blocks)
 *
 * The store's size figures (see mv_store_df()); the dedup ratio is
 * @logical_bytes / @stored_bytes.
 */
typedef struct
{
  guint n_models;
  guint n_layers;
  guint64 logical_bytes;
  guint64 stored_bytes;
  guint64 disk_bytes;
} MvDfStats;

/**
 * mv_store_df:
 * @store: a store
 * @out_stats: (out caller-allocates): the figures
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Counts the models and layers and sums their bytes (reads metadata only, no file data).
 *
 * Errors: G_IO_ERROR when the store cannot be read.
 *
 * Returns: TRUE on success
 */
MV_PUBLIC gboolean mv_store_df (MvStore *store, MvDfStats *out_stats, GCancellable *cancellable,
                                GError **error);

/**
 * mv_reference_normalize:
 * @reference: an image reference, "quay.io/org/model:v1", "org/model", "...@sha256:..."
 * @error: return location for a #GError
 *
 * Validates and normalizes a reference the way pulls and names do: docker.io for a missing
 * registry, library/ only where Docker Hub uses it, ":latest" when neither tag nor digest.
 * Needs no store; thread-safe.
 *
 * Errors: %MV_ERROR_INVALID_REFERENCE, with what is wrong.
 *
 * Returns: (transfer full) (nullable): "registry/path:tag[@digest]", or NULL with @error set
 */
MV_PUBLIC char *mv_reference_normalize (const char *reference, GError **error);

/**
 * MvMountFlags:
 * @MV_MOUNT_NONE: read-only, nosuid, nodev, private propagation (always)
 * @MV_MOUNT_NOEXEC: also noexec
 */
typedef enum
{
  MV_MOUNT_NONE = 0,
  MV_MOUNT_NOEXEC = 1 << 0,
} MvMountFlags;

/**
 * mv_store_mount:
 * @store: a store
 * @model: as for mv_store_resolve()
 * @subpath: (nullable): a directory inside the model to mount instead of its root
 * @target: an existing directory on the host
 * @flags: #MvMountFlags
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Mounts the model's shared checkout (or @subpath of it) read-only, nosuid and nodev at
 * @target in the caller's mount namespace, with private propagation, and records the use so
 * that prune and rm leave the model alone until mv_store_umount(). A damaged model (see
 * mv_store_fsck(); and a checkout whose files no longer have the inode, mode, size and
 * mtime they had when it was made) is refused with %MV_ERROR_CORRUPTED.
 *
 * Uses open_tree(2), mount_setattr(2) and move_mount(2), or a bind mount and a read-only
 * remount where the kernel lacks them. Takes the store's shared lock while it checks the
 * model out and records the use.
 *
 * Errors: as mv_store_resolve(); %MV_ERROR_CORRUPTED (damaged model); %MV_ERROR_BUSY
 * (@target already has a model mounted); %MV_ERROR_UNSAFE_PATH (@subpath is absolute or
 * has `..`); %MV_ERROR_FAILED (@target is not a directory); G_IO_ERROR (@subpath missing in
 * the model; the mount calls: EPERM without privilege). On failure nothing is mounted and no
 * record is left.
 *
 * Needs CAP_SYS_ADMIN (root).
 *
 * Returns: TRUE on success
 */
MV_PUBLIC gboolean mv_store_mount (MvStore *store, const char *model, const char *subpath,
                                   const char *target, MvMountFlags flags,
                                   GCancellable *cancellable, GError **error);

/**
 * mv_store_umount:
 * @store: a store
 * @target: a directory where mv_store_mount() mounted a model
 * @error: return location for a #GError
 *
 * Unmounts a model mounted by mv_store_mount() and drops its use record. Refuses a target
 * that is not a modelvol mount of this store. A target that is no longer mounted (unmounted
 * behind the library's back) only loses its record.
 *
 * Errors: %MV_ERROR_NOT_FOUND (not a modelvol mount of this store), G_IO_ERROR (umount2(2)).
 *
 * Needs CAP_SYS_ADMIN (root).
 *
 * Returns: TRUE on success
 */
MV_PUBLIC gboolean mv_store_umount (MvStore *store, const char *target, GError **error);

/**
 * mv_store_mount_in_container:
 * @store: a store
 * @model: as for mv_store_resolve()
 * @subpath: (nullable): a directory inside the model to mount instead of its root
 * @container_id: the container's id (1-255 of `[A-Za-z0-9_.+-]`), for the use record
 * @pid: a process of the container (the OCI state's pid), whose mount namespace is entered
 * @rootfs: the container's root filesystem path as seen in that mount namespace
 * @dest: the absolute destination inside the container
 * @flags: #MvMountFlags
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * For OCI runtime hooks (createRuntime): records the container's use of the model, then
 * attaches a read-only, nosuid, nodev clone of its checkout at @dest inside @rootfs in the
 * mount namespace of @pid (entered through a pidfd, from a short-lived child process).
 * @dest is resolved as if @rootfs were "/" (symlinks and ".." never leave it) and missing
 * directories are created inside @rootfs only. Nothing of the container is executed or
 * loaded, and no fd of the caller reaches it. On failure nothing is mounted. A damaged model
 * is refused as by mv_store_mount().
 *
 * The process must have a mount namespace of its own (a process that shares the caller's is
 * refused). Records are per container and model: mounting one model twice into a container
 * keeps one record.
 * Because setns(2) needs a single-threaded caller, the work in the namespace is done by a
 * forked child, which is killed after 30 s.
 *
 * Errors: as mv_store_mount(); %MV_ERROR_NOT_FOUND (the process is gone, or its pid was
 * reused); %MV_ERROR_UNSAFE_PATH (@dest not absolute and normalized, "/", or under /proc,
 * /sys or /dev); %MV_ERROR_FAILED (invalid @container_id, a process without a mount
 * namespace of its own, a failure inside the namespace, reported in one line).
 *
 * Needs CAP_SYS_ADMIN and CAP_SYS_CHROOT for setns(2) into the container's mount namespace
 * (root, as OCI hooks run).
 *
 * Returns: TRUE on success
 */
MV_PUBLIC gboolean mv_store_mount_in_container (MvStore *store, const char *model,
                                                const char *subpath, const char *container_id,
                                                int pid, const char *rootfs, const char *dest,
                                                MvMountFlags flags, GCancellable *cancellable,
                                                GError **error);

/**
 * mv_store_release_container:
 * @store: a store
 * @container_id: as given to mv_store_mount_in_container()
 * @out_released: (out) (optional): how many use records were dropped
 * @error: return location for a #GError
 *
 * Drops every use record of a container (OCI poststop). Its mounts went with its mount
 * namespace. A container without records is not an error (@out_released is then 0);
 * calling it twice is harmless.
 *
 * Errors: %MV_ERROR_FAILED for an invalid @container_id; G_IO_ERROR when the records cannot
 * be read.
 *
 * Returns: TRUE on success
 */
MV_PUBLIC gboolean mv_store_release_container (MvStore *store, const char *container_id,
                                               guint *out_released, GError **error);

/**
 * mv_store_list_container_uses:
 * @store: a store
 * @container_id: as given to mv_store_mount_in_container()
 * @error: return location for a #GError
 *
 * Lists the models a container uses (what mv_store_release_container() would release).
 * Free the result with g_strfreev().
 *
 * Errors: %MV_ERROR_FAILED for an invalid @container_id.
 *
 * Returns: (transfer full) (array zero-terminated=1) (nullable): the digests of the models the
 *   container has use records for (empty if none), or NULL with @error set
 */
MV_PUBLIC char **mv_store_list_container_uses (MvStore *store, const char *container_id,
                                               GError **error);

/**
 * mv_store_write_cdi_spec:
 * @store: a store
 * @spec_dir: the directory to write `modelvol.io-model.json` into (created if missing);
 *   NULL: `/var/run/cdi`
 * @mount_dir: (nullable): where each model appears in a container; NULL: `/models`
 * @out_devices: (out) (optional) (transfer full): the device names written
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Writes a CDI spec (kind `modelvol.io/model`) with one device per model name: the name
 * sanitized to `[A-Za-z0-9_.-]` (other characters become `_`), whose container edits
 * bind-mount the model's checkout read-only, nosuid and nodev at `<mount_dir>/<device>`.
 * Checkouts are created as needed; the file is replaced atomically. A model mv_store_fsck()
 * marked damaged gets no device until a pull or import repairs it. A device name that two
 * model names would share gets `_<digest prefix>`. CDI mounts carry no use records: keep a
 * model's name while containers use it. Free @out_devices with g_strfreev().
 *
 * Errors: G_IO_ERROR (the spec directory cannot be made or written: needs root for
 * /var/run/cdi), errors of mv_store_checkout().
 *
 * Returns: TRUE on success
 */
MV_PUBLIC gboolean mv_store_write_cdi_spec (MvStore *store, const char *spec_dir,
                                            const char *mount_dir, char ***out_devices,
                                            GCancellable *cancellable, GError **error);

/**
 * MvSignatureMode:
 * @MV_SIGNATURE_ENFORCE: a model the signature policy refuses is not stored: the pull fails
 *   with %MV_ERROR_SIGNATURE before any layer is fetched (the default)
 * @MV_SIGNATURE_AUDIT: for rollout: the refusal is recorded in the model's verdict (and the
 *   CLI and hook log it), and the pull goes on
 *
 * Since: 0.2
 */
typedef enum
{
  MV_SIGNATURE_ENFORCE,
  MV_SIGNATURE_AUDIT,
} MvSignatureMode;

/**
 * mv_store_set_signature_options:
 * @store: a store
 * @policy_path: (nullable): a containers-policy.json(5) file; NULL: modelvol.conf's
 *   [signatures] policy, else /etc/containers/policy.json
 * @registries_d: (nullable): a containers-registries.d(5) directory, whose
 *   use-sigstore-attachments says where cosign signatures are looked for; NULL: [signatures]
 *   registries-d, else /etc/containers/registries.d
 * @mode: enforce or audit
 * @error: return location for a #GError
 *
 * Sets how every later pull through @store (mv_store_pull(), the hook's annotation pulls)
 * checks signatures: the tag is resolved to a digest once, the signatures attached to that
 * digest are verified against the policy's requirements for the reference before any layer is
 * fetched, and the verdict is kept with the model. The policy file is read at each pull; a
 * missing or invalid one fails the pull (it is not taken for "accept anything"). A
 * @policy_path given here is also read at once, so that a bad file is named before any pull.
 *
 * Returns: %TRUE; %FALSE with %MV_ERROR_FAILED if @mode is not a #MvSignatureMode, or with
 *   the error that reading @policy_path gave (one line naming the file and the field)
 * Since: 0.2
 */
MV_PUBLIC gboolean mv_store_set_signature_options (MvStore *store, const char *policy_path,
                                                   const char *registries_d, MvSignatureMode mode,
                                                   GError **error);

/**
 * mv_store_get_signature_verdict:
 * @store: a store
 * @model: a model digest (or unique prefix) or name
 * @out_json: (out) (transfer full) (nullable): the verdict of the model's last pull, a JSON
 *   object (reference, signed-digest, policy, scope, mode, accepted, reason, verified-at,
 *   requirements: type, format, key, signed-identity, rekor-key, integrated-time), or %NULL
 *   when the model has none (imported from a layout)
 * @error: return location for a #GError
 *
 * Returns: %TRUE on success (with or without a verdict); %FALSE with %MV_ERROR_NOT_FOUND or
 *   %MV_ERROR_AMBIGUOUS for @model
 * Since: 0.2
 */
MV_PUBLIC gboolean mv_store_get_signature_verdict (MvStore *store, const char *model,
                                                   char **out_json, GError **error);

/**
 * mv_store_check_signature:
 * @store: a store
 * @model: a model digest (or unique prefix) or name
 * @reference: (nullable): the reference the model is to be used by (its identity is checked
 *   under the policy's signedIdentity); NULL: @model itself when it is a name
 * @error: return location for a #GError
 *
 * Without the network: does the model's stored verdict satisfy the signature policy in force
 * now (mv_store_set_signature_options())? A policy that accepts anything for @reference is
 * satisfied by any model; one that needs a signature, only by a model whose pull verified one
 * with a key (and Rekor key) the policy names now, for an identity that matches. The hook
 * runs this check before it mounts a stored model by annotation (and, in audit mode, only
 * logs a failure): the mode is the caller's to apply, this reports the check either way.
 *
 * Returns: %TRUE if the model may be used; %FALSE with %MV_ERROR_SIGNATURE (one line naming
 *   the reference, the policy file, the scope and why) or another error
 * Since: 0.2
 */
MV_PUBLIC gboolean mv_store_check_signature (MvStore *store, const char *model,
                                             const char *reference, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MvStore, mv_store_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MvFsckProblem, mv_fsck_problem_free)

G_END_DECLS
