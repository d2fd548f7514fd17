/* modelvol.h: the public C API of libmodelvol.
 *
 * libmodelvol recognizes ModelPack OCI artifacts, imports them into a node's deduplicated
 * libostree store and hands out shared read-only checkouts of model trees.
 *
 * Every function that can fail takes a `GError **error` last and returns FALSE, NULL or -1
 * on failure. Errors from this library are in the MV_ERROR domain (see MvError) or
 * G_IO_ERROR for operating-system errors. The ABI is versioned with symbol versions
 * (MODELVOL_0.1 ...); a symbol once exported keeps its meaning.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#pragma once

#include <gio/gio.h>

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
 * @MV_ERROR_BUSY: the store is locked by another operation
 * @MV_ERROR_AMBIGUOUS: a model digest prefix matches more than one model
 * @MV_ERROR_CORRUPTED: stored data fails its integrity check
 * @MV_ERROR_UNSUPPORTED: a format or media type modelvol does not handle
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
} MvError;

/**
 * mv_version:
 *
 * Returns: (transfer none): the library version, e.g. "0.1.0"
 */
MV_PUBLIC const char *mv_version (void);

/**
 * MvStore:
 *
 * A handle on a node's model store: a root directory holding a libostree repository
 * (`repo/`), shared checkouts (`checkouts/`) and scratch space (`tmp/`). A handle may be
 * used from one thread at a time; several processes may open the same store at once.
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
 * operations in `tmp/` are swept when no other process uses the store.
 *
 * Returns: (transfer full) (nullable): the store, or NULL with @error set
 */
MV_PUBLIC MvStore *mv_store_open (const char *root, MvStoreOpenFlags flags,
                                  GCancellable *cancellable, GError **error);

/**
 * mv_store_free:
 * @store: (nullable) (transfer full): a store
 *
 * Closes the store and frees the handle.
 */
MV_PUBLIC void mv_store_free (MvStore *store);

/**
 * mv_store_get_root:
 * @store: a store
 *
 * Returns: (transfer none): the absolute path of the store root
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
 * A stored model. Free with mv_model_info_free().
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
 */
MV_PUBLIC void mv_model_info_free (MvModelInfo *info);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MvModelInfo, mv_model_info_free)

/**
 * mv_store_list_models:
 * @store: a store
 * @error: return location for a #GError
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
 * is refused with MV_ERROR_CORRUPTED until a pull or import repairs it.
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
 * Takes the store's exclusive lock.
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
 * those found intact.
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
 * that is not a modelvol mount of this store.
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
 * namespace.
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
 * marked damaged gets no device until a pull or import repairs it.
 *
 * Returns: TRUE on success
 */
MV_PUBLIC gboolean mv_store_write_cdi_spec (MvStore *store, const char *spec_dir,
                                            const char *mount_dir, char ***out_devices,
                                            GCancellable *cancellable, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MvStore, mv_store_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MvFsckProblem, mv_fsck_problem_free)

G_END_DECLS
