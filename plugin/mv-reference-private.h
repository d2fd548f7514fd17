/* mv-reference: image references host[:port]/path[:tag][@digest].
 * SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <gio/gio.h>

typedef struct
{
  char *domain; /* "docker.io", "localhost:5000", "[::1]:5000" */
  char *path;   /* "library/busybox", "org/model" */
  char *tag;    /* nullable */
  char *digest; /* nullable, validated */
} MvReference;

void mv_reference_free (MvReference *ref);

/**
 * mv_reference_check_domain:
 * @domain: a registry host as distribution/reference has it: a domain name or "[IPv6]", then
 *   an optional ":port"
 *
 * Returns: (nullable): why @domain is not one (a static string), or NULL if it is
 */
const char *mv_reference_check_domain (const char *domain);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MvReference, mv_reference_free)

/**
 * mv_reference_parse:
 * Parses and normalizes like containers/image and the docker CLI: no domain (the first
 * component has no '.' or ':' and is not "localhost") means docker.io; a one-component path
 * on docker.io gets "library/"; "index.docker.io" becomes "docker.io". Repository path
 * components are lowercase [a-z0-9] with the separators [._-] / "__"; tags are
 * [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}; the whole name at most 255 bytes. No tag and no digest
 * means tag "latest" unless @flags say otherwise.
 * Returns: (transfer full) (nullable): the reference, or NULL with MV_ERROR_INVALID_REFERENCE
 *   naming the input (escaped) and what is wrong with it
 */
typedef enum
{
  MV_REFERENCE_NONE = 0,
  MV_REFERENCE_NO_DEFAULT_TAG = 1 << 0, /* leave tag NULL when absent */
} MvReferenceFlags;

MvReference *mv_reference_parse (const char *s, MvReferenceFlags flags, GError **error);

/** mv_reference_to_string: (transfer full): "domain/path[:tag][@digest]" */
char *mv_reference_to_string (const MvReference *ref);
/** mv_reference_repository: (transfer full): "domain/path" */
char *mv_reference_repository (const MvReference *ref);
