/* mv-hook-plan: reading the OCI state, config.json and annotations, and planning the mounts.
 * SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "mv-json-private.h"

#define MV_HOOK_ANNOTATION_MOUNTS "modelvol.io/mounts"
#define MV_HOOK_ANNOTATION_CRIO_VOLUMES "io.kubernetes.cri-o.Volumes"

/* /etc/modelvol/modelvol.conf as the hook uses it. */
typedef struct
{
  char *store_root;
  char *run_dir;
  char *artifacts_dir; /* <graphroot>/artifacts */
  gboolean annotation_pulls;
  char **pull_allowlist;
  gboolean noexec;
  gboolean signature_audit; /* [signatures] mode = audit: a stored model's failed check warns */
  guint import_wait_s;      /* [hook] import-wait: how long to wait for another's import */
  char *registries_conf;    /* nullable: the containers default */
  char *auth_file;          /* nullable: the containers-auth.json search order */
  char *pull_limits[4];     /* nullable: [registries] keys of pull_limit_keys, checked */
} MvHookConfig;

void mv_hook_config_clear (MvHookConfig *c);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (MvHookConfig, mv_hook_config_clear)

/* One mount to make: a model from CRI-O's artifact store (layout + manifest digest) or from a
 * reference, a sub-tree of it, and the destination in the container. */
typedef struct
{
  char *layout;   /* image volume: CRI-O's artifact store */
  char *manifest; /* image volume: "sha256:<hex>" */
  char *ref;      /* annotation: the reference */
  char *subpath;  /* nullable */
  char *dest;     /* absolute, validated */
} MvHookAction;

void mv_hook_action_free (MvHookAction *a);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MvHookAction, mv_hook_action_free)

/**
 * mv_hook_parse_json:
 * @what: the document, for messages ("the OCI state")
 * @wide_ints: let integers beyond gint64 pass (config.json: uint64 rlimits, never read)
 * mv_json_parse() of an object, at most JSON_DEPTH_MAX deep.
 * Returns: (transfer full) (nullable): the root node, an object; NULL with an error otherwise
 */
JsonNode *mv_hook_parse_json (GBytes *bytes, const char *what, gboolean wide_ints, GError **error);

/**
 * mv_hook_wants:
 * @annotations: (nullable): the OCI state's annotations
 * Returns: whether the container may be ours: it has the modelvol.io/mounts annotation, or
 *   CRI-O volumes that mention our artifact store. FALSE: nothing to do.
 */
gboolean mv_hook_wants (const MvHookConfig *c, JsonObject *annotations);

/**
 * mv_hook_plan:
 * @state_annotations: (nullable): the OCI state's annotations; config.json's take precedence
 * @config: the bundle's config.json
 * @actions: (element-type MvHookAction): where the planned mounts are added
 * Plans the image volumes (reading each artifact's manifest from CRI-O's store) and the
 * annotation's mounts, every destination and sub-path validated.
 * Returns: FALSE with an error naming the volume or the annotation entry
 */
gboolean mv_hook_plan (const MvHookConfig *c, JsonObject *state_annotations, JsonObject *config,
                       GPtrArray *actions, GError **error);

/** mv_hook_state_pid: the state's "pid" if an integer, else 0 */
gint64 mv_hook_state_pid (JsonObject *state);

/**
 * mv_hook_rootfs:
 * Returns: (transfer full) (nullable): config.json's root.path, made absolute against @bundle;
 *   NULL with an error when there is none
 */
char *mv_hook_rootfs (JsonObject *config, const char *bundle, GError **error);

/**
 * mv_hook_pull_allowed:
 * Returns: whether an allowlist entry ("host[:port]" or "host[:port]/path") matches the
 *   normalized reference at a component boundary
 */
gboolean mv_hook_pull_allowed (const MvHookConfig *c, const char *normalized);
