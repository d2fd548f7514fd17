/* mv-registry: the parts of the registry client that parse what a registry sends before any
 * request is made from it, for the fuzz targets (tests/fuzz/) and unit tests.
 * SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/**
 * mv_registry_challenge_param:
 * @challenge: a WWW-Authenticate header value from a registry ('Bearer realm="...",...')
 * @key: a parameter name ("realm", "service", "scope")
 * Returns: (transfer full) (nullable): the quoted value of @key, or NULL when it is absent or
 *   its quote is not closed
 */
char *mv_registry_challenge_param (const char *challenge, const char *key);

/**
 * mv_registry_token_url:
 * @challenge: a Bearer WWW-Authenticate header value
 * @scope: the scope to ask for: the challenge's own, else ours ("repository:PATH:pull"); ""
 *   for none (a login)
 * @reference: the reference being pulled, for messages
 * @insecure: the registry is insecure: an http realm on @host itself is allowed
 * @host: where requests go ("host[:port]")
 * Returns: (transfer full) (nullable): the token server URL with scope and service, or NULL
 *   with MV_ERROR_AUTH when the challenge has no realm or the realm is not an https URL with
 *   a host and no space or control character
 */
char *mv_registry_token_url (const char *challenge, const char *scope, const char *reference,
                             gboolean insecure, const char *host, GError **error);

G_END_DECLS
